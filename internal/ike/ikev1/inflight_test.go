package ikev1

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// manyPairs gives both sides of twoManagers n prefix pairs (R18: one VNet
// range and n site ranges), a quick mode each, and a responder that does
// not send message 2 again on its own meanwhile.
func manyPairs(n int) func(pi, pr *ikev2.PeerConfig) {
	return func(pi, pr *ikev2.PeerConfig) {
		local := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}
		var remote []netip.Prefix
		for i := range n {
			remote = append(remote, netip.MustParsePrefix(fmt.Sprintf("10.2.%d.0/24", i)))
		}
		pi.Children = []ikev2.ChildConfig{{LocalTS: local, RemoteTS: remote}}
		pr.Children = []ikev2.ChildConfig{{LocalTS: remote, RemoteTS: local}}
		pr.RetransmitTimeout = time.Minute
	}
}

// holdQuickModes keeps p's own quick modes for its pairs from starting
// before until (the zero time: no longer).
func holdQuickModes(p *peer, until time.Time) {
	for _, pr := range p.pairs {
		p.waits[pr] = quickWait{after: until}
	}
}

func childCount(r *recorder) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.children)
}

// TestManyQuickModesHASH3Lost: a policy-based connection of 20 prefix
// pairs (R8, R18) sets up 20 children, quick mode after quick mode, and
// the HASH(3)s of the first two are lost. The responder's message 2 sent
// again once all 20 are done still gets HASH(3) again, and the responder
// installs those children too. At most 16 answers were kept, the oldest
// pushed out, so that message 2 sent again was dropped as stale: the
// responder never installed the first children, into which the
// initiator sent.
func TestManyQuickModesHASH3Lost(t *testing.T) {
	const pairs, lost = 20, 2
	mi, mr, ri, rr := twoManagers(t, manyPairs(pairs))
	qm2 := map[uint32][]byte{}                  // the responder's message 2s, by message ID
	var order []uint32                          // their message IDs, in order
	hash3 := map[uint32][]byte{}                // the HASH(3)s lost
	var from, to netip.AddrPort                 // of the responder's messages
	deadline := time.Now().Add(2 * time.Minute) // one quick mode a tick at least; generous for a slow machine
	for childCount(ri) < pairs || childCount(rr) < pairs-lost {
		if time.Now().After(deadline) {
			t.Fatalf("children after 2 minutes: initiator %d, responder %d, want %d and %d", childCount(ri), childCount(rr), pairs, pairs-lost)
		}
		time.Sleep(20 * time.Millisecond)
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			if mid := binary.BigEndian.Uint32(a[i][20:]); a[i][18] == wire.ExchangeQuick && qm2[mid] != nil && len(hash3) < lost {
				hash3[mid] = a[i] // lost on the way
				continue
			}
			mr.handle(at[i], af[i], a[i])
		}
		for i := range b {
			if mid := binary.BigEndian.Uint32(b[i][20:]); b[i][18] == wire.ExchangeQuick && qm2[mid] == nil {
				qm2[mid], from, to = b[i], bf[i], bt[i]
				order = append(order, mid)
			}
			mi.handle(bt[i], bf[i], b[i])
		}
	}
	if len(order) < pairs || len(hash3) != lost {
		t.Fatalf("%d quick modes seen, %d HASH(3)s lost", len(order), len(hash3))
	}
	ri.take()
	// The responder sends its message 2s whose HASH(3) never came again.
	for _, mid := range order[:lost] {
		mi.handle(to, from, qm2[mid])
		again, f, tt := sent(t, ri)
		if !bytes.Equal(again, hash3[mid]) {
			t.Errorf("message 2 of quick mode %08x sent again after %d others: answered with %x, want HASH(3) again", mid, pairs-1, again)
			continue
		}
		mr.handle(tt, f, again)
	}
	if n := childCount(rr); n != pairs {
		t.Errorf("the responder has %d children, want %d: those whose HASH(3) was lost are missing", n, pairs)
	}
}

// TestManyQuickModesMessage2Lost: the peer starts 20 quick modes at once
// (20 prefix pairs), and the responder's message 2 of the first three is
// lost. Message 1 sent again gets message 2 again, and all 20 children
// come up on both sides. At most 16 answers were kept, those of open
// exchanges pushed out too: message 1 sent again was taken for HASH(3),
// refused and counted as an integrity failure. Beyond maxAnswered in
// flight, a message 1 is dropped, counted as QueueFull, and answered
// when sent again once there is room.
func TestManyQuickModesMessage2Lost(t *testing.T) {
	const pairs, lost = 20, 3
	mi, mr, ri, rr := twoManagers(t, manyPairs(pairs))
	mi.mu.Lock()
	holdQuickModes(mi.peers["i"], time.Now().Add(time.Hour)) // the test starts the quick modes
	mi.mu.Unlock()
	shuttle(mi, mr, ri, rr, nil)
	si := onlySA(t, mi)
	if established(mi) != 1 || established(mr) != 1 {
		t.Fatal("no ISAKMP SA")
	}
	ri.take()
	rr.take()
	mi.mu.Lock()
	for _, pr := range mi.peers["i"].pairs {
		si.startQuick(pr, nil)
	}
	mi.mu.Unlock()
	qm1, f1, t1 := ri.take()
	if len(qm1) != pairs {
		t.Fatalf("%d quick mode message 1s sent, want %d", len(qm1), pairs)
	}
	for i := range qm1 {
		mr.handle(t1[i], f1[i], qm1[i])
	}
	qm2, f2, t2 := rr.take()
	if len(qm2) != pairs {
		t.Fatalf("the responder answered %d message 1s of %d in flight", len(qm2), pairs)
	}
	for i := lost; i < pairs; i++ { // the first ones lost
		mi.handle(t2[i], f2[i], qm2[i])
	}
	hash3, f3, t3 := ri.take()
	for i := range hash3 {
		mr.handle(t3[i], f3[i], hash3[i])
	}
	before := mr.Stats()
	for i := range lost {
		mr.handle(t1[i], f1[i], qm1[i]) // the initiator's retransmission
		again, f, tt := sent(t, rr)
		if !bytes.Equal(again, qm2[i]) {
			t.Errorf("message 1 of quick mode %d sent again: answered with %x, want message 2 again", i, again)
			continue
		}
		mi.handle(tt, f, again)
		h3, f, tt := sent(t, ri)
		mr.handle(tt, f, h3)
	}
	if after := mr.Stats(); after.Integrity != before.Integrity {
		t.Errorf("message 1 sent again counted as %d integrity failures", after.Integrity-before.Integrity)
	}
	if ni, nr := childCount(ri), childCount(rr); ni != pairs || nr != pairs {
		t.Errorf("children: initiator %d, responder %d, want %d each", ni, nr, pairs)
	}

	// maxAnswered quick modes waiting for HASH(3) at the responder: the
	// next message 1 waits until one is done.
	ri.take()
	rr.take()
	mi.mu.Lock()
	for range maxAnswered + 1 {
		si.startQuick(mi.peers["i"].pairs[0], nil)
	}
	mi.mu.Unlock()
	qm1, f1, t1 = ri.take()
	mr.mu.Lock()
	room := maxAnswered - onlySAUnlocked(mr).inFlight()
	mr.mu.Unlock()
	for i := range qm1 {
		mr.handle(t1[i], f1[i], qm1[i])
	}
	qm2, f2, t2 = rr.take()
	if len(qm2) != room {
		t.Fatalf("the responder answered %d message 1s with room for %d", len(qm2), room)
	}
	full := mr.Stats().QueueFull
	next := len(qm2)
	mr.handle(t1[next], f1[next], qm1[next])
	if msg, _, _ := sent(t, rr); msg != nil || mr.Stats().QueueFull != full+1 {
		t.Fatalf("message 1 beyond %d in flight: answered %v, QueueFull %d (was %d); want dropped and counted", maxAnswered, msg != nil, mr.Stats().QueueFull, full)
	}
	mi.handle(t2[0], f2[0], qm2[0])
	h3, f, tt := sent(t, ri)
	mr.handle(tt, f, h3)
	mr.handle(t1[next], f1[next], qm1[next]) // sent again, once one is done
	if msg, _, _ := sent(t, rr); msg == nil || binary.BigEndian.Uint32(msg[20:]) != binary.BigEndian.Uint32(qm1[next][20:]) {
		t.Errorf("message 1 sent again once a quick mode was done: answered with %x, want message 2", msg)
	}
}

// onlySAUnlocked returns m's one ISAKMP SA; m.mu is held.
func onlySAUnlocked(m *Manager) *isakmpSA {
	for _, sa := range m.sas {
		return sa
	}
	return nil
}

// TestQuickModesWaitForRoom: an initiator whose SA keeps maxAnswered
// HASH(3)s the peer may still ask for again starts no quick mode until
// one is past answerLife.
func TestQuickModesWaitForRoom(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, manyPairs(2))
	mi.mu.Lock()
	holdQuickModes(mi.peers["i"], time.Now().Add(time.Hour))
	mi.mu.Unlock()
	shuttle(mi, mr, ri, rr, nil)
	si := onlySA(t, mi)
	ri.take()
	mi.mu.Lock()
	holdQuickModes(mi.peers["i"], time.Time{})
	if si.answered == nil {
		si.answered = map[uint32]answer{}
	}
	for i := range maxAnswered {
		si.answered[uint32(1000+i)] = answer{req: []byte{1}, reply: []byte{2}, at: time.Now(), hash3: true}
	}
	mi.timers(time.Now())
	qms := len(si.qms)
	for mid, a := range si.answered {
		a.at = a.at.Add(-answerLife - time.Second)
		si.answered[mid] = a
	}
	mi.timers(time.Now())
	qms2 := len(si.qms)
	mi.mu.Unlock()
	if qms != 0 || qms2 != 1 {
		t.Errorf("quick modes under way: %d with %d HASH(3)s kept, %d once they went; want 0 and 1", qms, maxAnswered, qms2)
	}
}

// TestRefusedPairHoldsUpNoOther: a policy-based connection of three
// prefix pairs (R18) whose first pair the peer has no child for, and
// refuses (INVALID-ID-INFORMATION, as strongSwan does): the other two
// come up all the same, and the status names the pair refused. The first
// pair without a child was always the next quick mode, so that after
// each wait the refused pair was asked again, and no pair listed after
// it ever came up.
func TestRefusedPairHoldsUpNoOther(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		manyPairs(3)(pi, pr)
		pr.Children[0].LocalTS = pr.Children[0].LocalTS[1:] // the peer lacks 10.2.0.0/24
	})
	refused := 0
	deadline := time.Now().Add(45 * time.Second) // a few quick modes; generous for a slow machine
	for childCount(ri) < 2 || childCount(rr) < 2 || refused == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("children after 45 s: initiator %d, responder %d, want 2 each; %d refusals; status %+v", childCount(ri), childCount(rr), refused, mi.Status())
		}
		time.Sleep(20 * time.Millisecond)
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			mr.handle(at[i], af[i], a[i])
		}
		for i := range b {
			if b[i][18] == wire.ExchangeInfo {
				refused++
			}
			mi.handle(bt[i], bf[i], b[i])
		}
	}
	want := "10.1.0.0/16 <-> 10.2.0.0/24: the peer sent notification INVALID-ID-INFORMATION"
	if got := mi.Status()[0].LastError; !strings.Contains(got, want) {
		t.Errorf("status with a pair refused: %q, want it to say %q", got, want)
	}
}
