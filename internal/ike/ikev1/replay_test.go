package ikev1

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// onlySA returns m's one ISAKMP SA.
func onlySA(t *testing.T, m *Manager) *isakmpSA {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sas) != 1 {
		t.Fatalf("%d ISAKMP SAs, want 1", len(m.sas))
	}
	for _, sa := range m.sas {
		return sa
	}
	return nil
}

// ageAnswers makes the answers sa keeps for the peer's retransmissions
// older than they are kept, and lets m's timers drop them. m.mu is held.
func ageAnswers(t *testing.T, m *Manager, sa *isakmpSA) {
	t.Helper()
	for mid, a := range sa.answered {
		a.at = a.at.Add(-answerLife - time.Second)
		sa.answered[mid] = a
	}
	sa.dpdAck.at = sa.dpdAck.at.Add(-halfOpenTimeout - time.Second)
	m.timers(time.Now())
	if len(sa.answered) != 0 || sa.dpdAck.req != nil {
		t.Fatalf("%d answers kept past their time (and an R-U-THERE-ACK: %v)", len(sa.answered), sa.dpdAck.req != nil)
	}
}

// TestReplayedQuickMode1Dropped: a quick mode message 1 sent again once
// its answer is no longer kept (a replay: the exchange ended long ago) is
// dropped, not taken for a new exchange (RFC 2409 §5.5: a message ID is
// used once on an ISAKMP SA), and the peer does not count as heard from.
func TestReplayedQuickMode1Dropped(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	var qm1 []byte
	var from, to netip.AddrPort
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, f, tt netip.AddrPort) bool {
		if fromI && msg[18] == wire.ExchangeQuick && qm1 == nil {
			qm1, from, to = msg, f, tt
		}
		return false
	})
	rr.mu.Lock()
	children := len(rr.children)
	rr.mu.Unlock()
	if qm1 == nil || children != 1 {
		t.Fatalf("no child (%d) or no quick mode message 1 seen", children)
	}
	sr := onlySA(t, mr)
	mr.mu.Lock()
	ageAnswers(t, mr, sr)
	heard, spis := sr.lastIn, len(mr.spis)
	mr.mu.Unlock()
	rr.take()
	unexpected := mr.Stats().Unexpected
	time.Sleep(10 * time.Millisecond)

	mr.handle(to, from, qm1)
	msgs, _, _ := rr.take()
	mr.mu.Lock()
	qms, spis2, heard2 := len(sr.qms), len(mr.spis), sr.lastIn
	mr.mu.Unlock()
	if len(msgs) != 0 || qms != 0 || spis2 != spis {
		t.Errorf("a replayed quick mode message 1 was taken for a new exchange: %d messages sent, %d quick modes, %d SPIs reserved (was %d)", len(msgs), qms, spis2, spis)
	}
	if !heard2.Equal(heard) {
		t.Error("a replayed quick mode message 1 counted as the peer heard from")
	}
	if u := mr.Stats().Unexpected; u != unexpected+1 {
		t.Errorf("Unexpected %d after the replay, want %d", u, unexpected+1)
	}
}

// TestLateQuickMode2Dropped: the responder's quick mode message 2 that
// comes once the initiator's exchange is over (sent again after its
// HASH(3) answer is no longer kept, or late, after the initiator gave up
// on it) is dropped as stale. It was taken for the peer's message 1 of a
// new exchange and opened with a first IV (RFC 2409 Appendix B: the hash
// of phase 1's last block and the message ID), where message 2 is
// encrypted on from message 1's last block: its first block came out as
// garbage, and it was refused, counted as an integrity failure and logged
// as a warning ("a phase 2 HASH payload overruns the message", as seen
// under load).
func TestLateQuickMode2Dropped(t *testing.T) {
	for _, c := range []struct {
		name string
		// done holds message 2 back (or not) and ends the initiator's
		// quick mode.
		done func(t *testing.T, mi, mr *Manager, ri, rr *recorder, lose func(fromI bool, msg []byte, from, to netip.AddrPort) bool)
		// held: message 2 never reached the initiator before.
		held bool
	}{
		{"answered, the answer no longer kept", func(t *testing.T, mi, mr *Manager, ri, rr *recorder, lose func(bool, []byte, netip.AddrPort, netip.AddrPort) bool) {
			shuttle(mi, mr, ri, rr, lose)
			ri.mu.Lock()
			n := len(ri.children)
			ri.mu.Unlock()
			if n != 1 {
				t.Fatalf("the initiator has %d children, want 1", n)
			}
			si := onlySA(t, mi)
			mi.mu.Lock()
			ageAnswers(t, mi, si)
			mi.mu.Unlock()
		}, false},
		{"the initiator gave up", func(t *testing.T, mi, mr *Manager, ri, rr *recorder, lose func(bool, []byte, netip.AddrPort, netip.AddrPort) bool) {
			shuttle(mi, mr, ri, rr, lose)
			q, si := onlyQuick(t, mi), onlySA(t, mi)
			mi.mu.Lock()
			q.out.tries, q.out.sentAt = mi.peers["i"].cfg.RetransmitTries, time.Now().Add(-time.Hour)
			mi.timers(time.Now())
			n := len(si.qms)
			mi.mu.Unlock()
			if n != 0 {
				t.Fatalf("%d quick modes under way after the initiator's tries ran out", n)
			}
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, nil)
			var qm2 []byte
			var from, to netip.AddrPort
			c.done(t, mi, mr, ri, rr, func(fromI bool, msg []byte, f, tt netip.AddrPort) bool {
				if fromI || msg[18] != wire.ExchangeQuick {
					return false
				}
				if qm2 == nil {
					qm2, from, to = msg, f, tt
				}
				return c.held
			})
			if qm2 == nil {
				t.Fatal("no quick mode message 2 seen")
			}
			si := onlySA(t, mi)
			ri.take()
			before := mi.Stats()
			mi.mu.Lock()
			heard := si.lastIn
			mi.mu.Unlock()
			time.Sleep(10 * time.Millisecond) // lastIn would move

			mi.handle(to, from, qm2)
			msgs, _, _ := ri.take()
			after := mi.Stats()
			mi.mu.Lock()
			heard2, qms := si.lastIn, len(si.qms)
			mi.mu.Unlock()
			if after.Integrity != before.Integrity || after.Unexpected != before.Unexpected+1 {
				t.Errorf("a late message 2 counted as %d integrity failures, %d unexpected; want 0 and 1 (dropped as stale)",
					after.Integrity-before.Integrity, after.Unexpected-before.Unexpected)
			}
			if len(msgs) != 0 || qms != 0 || !heard2.Equal(heard) {
				t.Errorf("a late message 2: %d messages sent, %d quick modes under way, peer heard from %v; want none of them", len(msgs), qms, !heard2.Equal(heard))
			}
		})
	}
}

// TestQuickMode1AgainWhileWaiting: the initiator's quick mode message 1
// sent again while the responder still waits for HASH(3) (its message 2
// lost, and the initiator's tries longer than the responder's answers
// are otherwise kept) gets message 2 again. Its answer was dropped after
// 30 s like any other, and message 1 was then taken for HASH(3) and
// opened with HASH(3)'s IV: it was refused, counted as an integrity
// failure and logged as a warning (mostly "quick mode HASH(3) overruns the
// message"), and the initiator never got message 2.
func TestQuickMode1AgainWhileWaiting(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(_, pr *ikev2.PeerConfig) {
		pr.RetransmitTimeout = time.Minute // the responder's message 2 is not sent again meanwhile
	})
	shuttle(mi, mr, ri, rr, nil)
	si, sr := onlySA(t, mi), onlySA(t, mr)
	ri.take()
	rr.take()
	mi.mu.Lock()
	si.startQuick(mi.peers["i"].pairs[0], nil)
	mi.mu.Unlock()
	qm1, from, to := sent(t, ri)
	if qm1 == nil {
		t.Fatal("the initiator sent no quick mode message 1")
	}
	mid := binary.BigEndian.Uint32(qm1[20:])
	mr.handle(to, from, qm1)
	rr.take() // message 2: lost

	// The answer's time is up, but the exchange is under way.
	mr.mu.Lock()
	a, ok := sr.answered[mid]
	if ok {
		a.at = a.at.Add(-answerLife - time.Second)
		sr.answered[mid] = a
	}
	mr.timers(time.Now())
	mr.mu.Unlock()
	if !ok {
		t.Fatal("the responder keeps no answer to message 1")
	}
	rr.take()
	before := mr.Stats()

	mr.handle(to, from, qm1)
	msg, _, _ := sent(t, rr)
	after := mr.Stats()
	if msg == nil || msg[18] != wire.ExchangeQuick || binary.BigEndian.Uint32(msg[20:]) != mid {
		t.Errorf("message 1 sent again while the responder waits for HASH(3): answered with %x, want message 2 again", msg)
	}
	if after.Integrity != before.Integrity {
		t.Errorf("message 1 sent again counted as %d integrity failures", after.Integrity-before.Integrity)
	}
}

// TestHASH3AgainWhileThePeerRetransmits: the responder's quick mode
// message 2 sent again as late as strongSwan sends it by default (its
// fifth and last retransmission, 89 s after the first: its HASH(3)s were
// all lost) gets HASH(3) again, and the responder can install its child.
// The HASH(3) kept for it went after 30 s, and message 2 was then dropped
// as stale: the responder never got HASH(3) and had no child for the
// traffic the initiator sent it.
func TestHASH3AgainWhileThePeerRetransmits(t *testing.T) {
	const lastRetransmit = 89 * time.Second // strongSwan's: 4 s, then each wait 1.8 times the last
	mi, mr, ri, rr := twoManagers(t, func(_, pr *ikev2.PeerConfig) {
		pr.RetransmitTimeout = time.Minute // the responder's message 2 is not sent again meanwhile
	})
	var qm2, hash3 []byte
	var from, to netip.AddrPort
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, f, tt netip.AddrPort) bool {
		switch {
		case msg[18] != wire.ExchangeQuick:
		case !fromI && qm2 == nil:
			qm2, from, to = msg, f, tt
		case fromI && qm2 != nil && hash3 == nil:
			hash3 = msg
			return true // lost
		}
		return false
	})
	if qm2 == nil || hash3 == nil {
		t.Fatal("no quick mode message 2 and HASH(3) seen")
	}
	si := onlySA(t, mi)
	ri.take()
	mi.mu.Lock()
	for mid, a := range si.answered {
		a.at = a.at.Add(-lastRetransmit)
		si.answered[mid] = a
	}
	mi.timers(time.Now())
	mi.mu.Unlock()

	mi.handle(to, from, qm2)
	again, _, _ := sent(t, ri)
	if !bytes.Equal(again, hash3) {
		t.Fatalf("message 2 sent again %v after the first: answered with %x, want HASH(3) again", lastRetransmit, again)
	}
	mr.handle(from, to, again)
	rr.mu.Lock()
	children := len(rr.children)
	rr.mu.Unlock()
	if children != 1 {
		t.Errorf("the responder has %d children once HASH(3) came, want 1", children)
	}
}

// sent returns the one message r sent since it was last emptied, nil
// if none, with its addresses; more than one fails t.
func sent(t *testing.T, r *recorder) (msg []byte, from, to netip.AddrPort) {
	t.Helper()
	msgs, f, tt := r.take()
	switch len(msgs) {
	case 0:
		return nil, netip.AddrPort{}, netip.AddrPort{}
	case 1:
		return msgs[0], f[0], tt[0]
	}
	t.Fatalf("%d messages sent, want at most 1", len(msgs))
	return nil, netip.AddrPort{}, netip.AddrPort{}
}

// dpdNotify is a DPD notification of sa's with sequence number seq.
func dpdNotify(sa *isakmpSA, typ uint16, seq uint32) []byte {
	return wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: typ, Data: binary.BigEndian.AppendUint32(nil, seq)}.Append(nil)
}

// TestReplayedInfoDropped: an informational message sent again (a
// replay: the peer sends each with a new message ID) changes nothing: a
// replayed error notification does not end our quick mode under way, a
// replayed R-U-THERE or R-U-THERE-ACK does not count as the peer heard
// from (it would hold dead peer detection off). A retransmitted
// R-U-THERE is still answered, with the same R-U-THERE-ACK, while that
// is kept.
func TestReplayedInfoDropped(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	si, sr := onlySA(t, mi), onlySA(t, mr)
	ri.take()
	rr.take()
	pause := func() { time.Sleep(5 * time.Millisecond) } // lastIn moves

	// An error notification of the peer's that names no child SA (it
	// would end our one quick mode under way); then a quick mode of ours.
	mr.mu.Lock()
	sr.sendInfo(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sr.cookies(), Type: wire.NotifyInvalidIDInfo}.Append(nil))
	mr.mu.Unlock()
	notify, nf, nt := sent(t, rr)
	mi.handle(nt, nf, notify)
	mi.mu.Lock()
	si.startQuick(mi.peers["i"].pairs[0], nil)
	heard := si.lastIn
	mi.mu.Unlock()
	ri.take()
	unexpected := mi.Stats().Unexpected
	pause()
	mi.handle(nt, nf, notify)
	mi.mu.Lock()
	qms, heard2 := len(si.qms), si.lastIn
	mi.mu.Unlock()
	if qms != 1 || !heard2.Equal(heard) {
		t.Errorf("a replayed error notification: %d quick modes left of 1; heard from: %v", qms, !heard2.Equal(heard))
	}
	if u := mi.Stats().Unexpected; u != unexpected+1 {
		t.Errorf("Unexpected %d after the replayed notification, want %d", u, unexpected+1)
	}

	// R-U-THERE and its ACK.
	mi.mu.Lock()
	si.sendDPD()
	si.dpd.set([]byte{1}, time.Minute)
	mi.mu.Unlock()
	rut, rf, rt := sent(t, ri)
	mr.handle(rt, rf, rut)
	ack, af, at := sent(t, rr)
	if ack == nil {
		t.Fatal("R-U-THERE not answered")
	}
	mi.handle(at, af, ack)
	mi.mu.Lock()
	answered := si.dpd.msg == nil
	mi.mu.Unlock()
	if !answered {
		t.Fatal("the R-U-THERE-ACK did not answer the R-U-THERE")
	}

	// The R-U-THERE again, while its answer is kept: a retransmission,
	// answered as before; the peer does not count as heard from anew.
	mr.mu.Lock()
	heard = sr.lastIn
	mr.mu.Unlock()
	pause()
	mr.handle(rt, rf, rut)
	again, _, _ := sent(t, rr)
	mr.mu.Lock()
	heard2 = sr.lastIn
	mr.mu.Unlock()
	if !bytes.Equal(again, ack) || !heard2.Equal(heard) {
		t.Errorf("a retransmitted R-U-THERE: answered with the same ACK %v; heard from %v", bytes.Equal(again, ack), !heard2.Equal(heard))
	}
	// And later: dropped.
	mr.mu.Lock()
	ageAnswers(t, mr, sr)
	mr.mu.Unlock()
	rr.take()
	pause()
	mr.handle(rt, rf, rut)
	again, _, _ = sent(t, rr)
	mr.mu.Lock()
	heard2 = sr.lastIn
	mr.mu.Unlock()
	if again != nil || !heard2.Equal(heard) {
		t.Errorf("a replayed R-U-THERE: answered %v, heard from %v", again != nil, !heard2.Equal(heard))
	}

	// The R-U-THERE-ACK again.
	mi.mu.Lock()
	heard = si.lastIn
	mi.mu.Unlock()
	pause()
	mi.handle(at, af, ack)
	mi.mu.Lock()
	heard2 = si.lastIn
	mi.mu.Unlock()
	if !heard2.Equal(heard) {
		t.Error("a replayed R-U-THERE-ACK counted as the peer heard from")
	}
}

// TestDPDKeepsQuickModeAnswers: the R-U-THERE-ACKs kept for the peer's
// retransmissions do not push out the answer to a quick mode message.
// They were kept among the quick mode answers, at most maxAnswered, so
// that a busy SA's dead peer detection (here the peer's R-U-THERE just
// once more than that) dropped the HASH(3) kept for the responder's
// message 2: sent again, as when HASH(3) was lost, it got nothing, and
// the responder never installed its child.
func TestDPDKeepsQuickModeAnswers(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	var qm2, hash3 []byte
	var from, to netip.AddrPort
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, f, tt netip.AddrPort) bool {
		switch {
		case msg[18] != wire.ExchangeQuick:
		case !fromI && qm2 == nil:
			qm2, from, to = msg, f, tt
		case fromI && qm2 != nil && hash3 == nil:
			hash3 = msg
		}
		return false
	})
	if qm2 == nil || hash3 == nil {
		t.Fatal("no quick mode message 2 and HASH(3) seen")
	}
	si, sr := onlySA(t, mi), onlySA(t, mr)
	ri.take()
	rr.take()
	for seq := range uint32(maxAnswered + 1) {
		mr.mu.Lock()
		sr.sendInfo(wire.PayloadNotify, dpdNotify(sr, wire.NotifyRUThere, 1000+seq))
		mr.mu.Unlock()
		rut, rf, rt := sent(t, rr)
		mi.handle(rt, rf, rut)
		if ack, _, _ := sent(t, ri); ack == nil {
			t.Fatalf("R-U-THERE %d not answered", 1000+seq)
		}
	}
	mi.mu.Lock()
	kept := len(si.answered)
	mi.mu.Unlock()

	mi.handle(to, from, qm2)
	again, _, _ := sent(t, ri)
	if !bytes.Equal(again, hash3) {
		t.Errorf("message 2 sent again after %d R-U-THEREs: answered with %x, want HASH(3) again (%d answers kept)", maxAnswered+1, again, kept)
	}
}

// heardDuring reports whether handle, which gives m a message, counted
// sa's peer as heard from (moved its lastIn).
func heardDuring(m *Manager, sa *isakmpSA, handle func()) bool {
	m.mu.Lock()
	before := sa.lastIn
	m.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // lastIn moves visibly
	handle()
	m.mu.Lock()
	defer m.mu.Unlock()
	return !sa.lastIn.Equal(before)
}

// TestDPDSequenceNumbers: RFC 3706 §7. An R-U-THERE-ACK that does not
// carry the sequence number of an R-U-THERE of ours in flight answers
// nothing; an R-U-THERE older than the last one is not answered; one with
// the last sequence number again (strongSwan sends it again when our
// ACK was lost) or a newer one is.
func TestDPDSequenceNumbers(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	si, sr := onlySA(t, mi), onlySA(t, mr)
	ri.take()
	rr.take()

	mi.mu.Lock()
	si.dpdSeq = 100
	si.sendDPD() // 101
	si.dpd.set([]byte{1}, time.Minute)
	mi.mu.Unlock()
	rut, rf, rt := sent(t, ri)
	for _, seq := range []uint32{100, 102, 7} {
		mr.mu.Lock()
		sr.sendInfo(wire.PayloadNotify, dpdNotify(sr, wire.NotifyRUThereAck, seq))
		mr.mu.Unlock()
		ack, af, at := sent(t, rr)
		heard := heardDuring(mi, si, func() { mi.handle(at, af, ack) })
		mi.mu.Lock()
		open := si.dpd.msg != nil
		mi.mu.Unlock()
		if !open || heard {
			t.Errorf("an R-U-THERE-ACK of %d for our R-U-THERE of 101: R-U-THERE answered %v, heard from %v", seq, !open, heard)
		}
	}
	mr.handle(rt, rf, rut)
	ack, af, at := sent(t, rr)
	mi.handle(at, af, ack)
	mi.mu.Lock()
	open := si.dpd.msg != nil
	mi.mu.Unlock()
	if open {
		t.Fatal("the R-U-THERE-ACK of 101 did not answer the R-U-THERE of 101")
	}
	// With none in flight, an ACK of 101 again answers nothing.
	mr.mu.Lock()
	sr.sendInfo(wire.PayloadNotify, dpdNotify(sr, wire.NotifyRUThereAck, 101))
	mr.mu.Unlock()
	ack, af, at = sent(t, rr)
	if heardDuring(mi, si, func() { mi.handle(at, af, ack) }) {
		t.Error("an R-U-THERE-ACK with no R-U-THERE in flight counted as the peer heard from")
	}

	// The responder saw R-U-THERE 101: 99 is old, 101 and 102 are not.
	for _, c := range []struct {
		seq    uint32
		answer bool
	}{{99, false}, {101, true}, {102, true}, {101, false}} {
		mi.mu.Lock()
		si.sendInfo(wire.PayloadNotify, dpdNotify(si, wire.NotifyRUThere, c.seq))
		mi.mu.Unlock()
		rut, rf, rt := sent(t, ri)
		heard := heardDuring(mr, sr, func() { mr.handle(rt, rf, rut) })
		ack, _, _ := sent(t, rr)
		if (ack != nil) != c.answer || heard != c.answer {
			t.Errorf("R-U-THERE %d: answered %v, heard from %v; want %v", c.seq, ack != nil, heard, c.answer)
		}
	}
}

// TestDPDBetweenLivePeers: two live peers doing dead peer detection
// often, each answering the other, keep their SA.
func TestDPDBetweenLivePeers(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		for _, p := range []*ikev2.PeerConfig{pi, pr} {
			p.DPDInterval, p.RetransmitTimeout, p.RetransmitTries = 300*time.Millisecond, 200*time.Millisecond, 2
		}
	})
	shuttle(mi, mr, ri, rr, nil)
	infos := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			if a[i][18] == wire.ExchangeInfo {
				infos++
			}
			mr.handle(at[i], af[i], a[i])
		}
		for i := range b {
			if b[i][18] == wire.ExchangeInfo {
				infos++
			}
			mi.handle(bt[i], bf[i], b[i])
		}
	}
	for _, m := range []*Manager{mi, mr} {
		if st := m.Status(); len(st) != 1 || st[0].State != "established" || len(st[0].IKESAs) != 1 {
			t.Errorf("after 3 s of DPD every 300 ms: %+v", st)
		}
	}
	if infos < 4 {
		t.Errorf("%d informational messages in 3 s of DPD every 300 ms", infos)
	}
}
