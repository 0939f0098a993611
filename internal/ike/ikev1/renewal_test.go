package ikev1

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// carry passes the messages of two managers to each other for d, or
// until done (when not nil) tells that the wanted state is reached.
// onI, when set, sees each message the initiator sends first.
func carry(mi, mr *Manager, ri, rr *recorder, d time.Duration, done func() bool, onI func(msg []byte)) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			if onI != nil {
				onI(a[i])
			}
			mr.handle(at[i], af[i], a[i])
		}
		for i := range b {
			mi.handle(bt[i], bf[i], b[i])
		}
		if done != nil && done() {
			return
		}
	}
}

// TestReplacedSAGetsNoDPD: after a phase 1 renewal the old ISAKMP SA
// lingers while children are still on it. A peer that quietly dropped it
// (strongSwan sends no DPD on a rekeyed IKEv1 SA, and may keep no state
// for it) does not answer R-U-THERE there: the old SA is sent none, and
// the children under the new, working SA stay.
func TestReplacedSAGetsNoDPD(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		for _, p := range []*ikev2.PeerConfig{pi, pr} {
			p.DPDInterval, p.RetransmitTimeout, p.RetransmitTries = 500*time.Millisecond, 200*time.Millisecond, 2
			p.ReconnectDelay = 100 * time.Millisecond
		}
	})
	shuttle(mi, mr, ri, rr, nil)
	old := renewSoon(t, mi)
	carry(mi, mr, ri, rr, 10*time.Second, func() bool { return established(mi) == 2 && established(mr) == 2 }, nil)
	dueNow(mi)

	// The new SA comes up and the children move to it by quick mode
	// rekeys; the old SA stays while the replaced children linger on it.
	var current []uint32 // the initiator's children on the new SA
	renewed := func() bool {
		mi.mu.Lock()
		defer mi.mu.Unlock()
		mr.mu.Lock()
		defer mr.mu.Unlock()
		est := 0
		for _, m := range []*Manager{mi, mr} {
			for _, sa := range m.sas {
				if sa.state == stEstablished {
					est++
				}
				if len(sa.qms) > 0 {
					return false
				}
			}
		}
		if est != 4 || mi.sas[old.ic] != old {
			return false
		}
		current = current[:0]
		for _, c := range mi.peers["i"].children {
			if c.retired() {
				continue
			}
			if c.sa == old {
				return false
			}
			current = append(current, c.inSPI)
		}
		return len(current) > 0
	}
	carry(mi, mr, ri, rr, 5*time.Second, renewed, nil)
	if !renewed() {
		t.Fatalf("phase 1 renewal not carried: %+v / %+v", mi.Status(), mr.Status())
	}

	// The peer forgets the old SA without a word.
	mr.mu.Lock()
	mr.dropSA(mr.sas[old.ic])
	mr.mu.Unlock()

	// Several DPD periods; the new SA answers.
	onOld := 0
	carry(mi, mr, ri, rr, 4*time.Second, nil, func(msg []byte) {
		if binary.BigEndian.Uint64(msg) == old.ic && msg[18] == wire.ExchangeInfo {
			onOld++
		}
	})
	ri.mu.Lock()
	var lost []uint32
	for _, spi := range current {
		if slices.Contains(ri.removed, spi) {
			lost = append(lost, spi)
		}
	}
	ri.mu.Unlock()
	st := mi.Status()
	if onOld != 0 || len(lost) != 0 || len(st) != 1 || st[0].State != "established" || st[0].IKESAs[0].State != "established" || len(st[0].IKESAs[0].Children) == 0 {
		t.Errorf("the peer dropped the replaced SA: %d informational messages sent on it, children of the new SA removed %08x; status %+v",
			onOld, lost, st)
	}

	// Should the replaced SA die some other way, it goes alone.
	mi.mu.Lock()
	if mi.sas[old.ic] != old {
		mi.mu.Unlock()
		t.Fatal("the replaced SA went before its children")
	}
	old.dead("a test")
	n, lastErr := len(mi.peers["i"].children), mi.peers["i"].lastErr
	mi.mu.Unlock()
	ri.mu.Lock()
	lost = lost[:0]
	for _, spi := range current {
		if slices.Contains(ri.removed, spi) {
			lost = append(lost, spi)
		}
	}
	ri.mu.Unlock()
	if n == 0 || len(lost) != 0 || lastErr != "" {
		t.Errorf("the replaced SA died: %d children left, children of the new SA removed %08x, last error %q", n, lost, lastErr)
	}
}

// renewSoon returns m's one ISAKMP SA, made to expire: its phase 1
// renewal starts at m's next tick.
func renewSoon(t *testing.T, m *Manager) *isakmpSA {
	t.Helper()
	sa := onlySA(t, m)
	m.mu.Lock()
	sa.expires = time.Now()
	m.mu.Unlock()
	return sa
}

// passAllButQuick hands each manager what the other sent, but for its
// quick mode messages, which are lost.
func passAllButQuick(mi, mr *Manager, ri, rr *recorder) {
	a, af, at := ri.take()
	b, bf, bt := rr.take()
	for i := range a {
		if a[i][18] != wire.ExchangeQuick {
			mr.handle(at[i], af[i], a[i])
		}
	}
	for i := range b {
		if b[i][18] != wire.ExchangeQuick {
			mi.handle(bt[i], bf[i], b[i])
		}
	}
}

// established counts m's established ISAKMP SAs.
func established(m *Manager) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, sa := range m.sas {
		if sa.state == stEstablished {
			n++
		}
	}
	return n
}

// dueNow makes the rekeys of m's children due, as their soft expiry
// does (SoftExpired).
func dueNow(m *Manager) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.peers {
		for _, c := range p.children {
			c.rekeyAt = time.Now()
		}
	}
}

// TestRenewalRekeysNoChild: a phase 1 renewal, by either side, leaves
// the children to their own rekey times (RFC 2409 §5.5: a phase 2 SA
// has its own lifetime, not the phase 1 SA's that made it; strongSwan
// moves them to the new SA as they are): no quick mode follows it, the child carries
// on, and it moves to the new SA when its own rekey comes. Every child
// was rekeyed at once, each renewal a burst of quick modes.
func TestRenewalRekeysNoChild(t *testing.T) {
	for _, byI := range []bool{true, false} {
		t.Run(fmt.Sprintf("renewed by the initiator %v", byI), func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, func(pi, _ *ikev2.PeerConfig) {
				pi.Mode = ikev2.ModeDefault // it answers the responder's renewal
			})
			shuttle(mi, mr, ri, rr, nil)
			before := activeChildren(ri)
			if len(before) != 1 {
				t.Fatalf("children before the renewal: %d, want 1", len(before))
			}
			if byI {
				renewSoon(t, mi)
			} else {
				renewSoon(t, mr)
			}
			quick := 0
			count := func(msg []byte) {
				if msg[18] == wire.ExchangeQuick {
					quick++
				}
			}
			for deadline := time.Now().Add(20 * time.Second); established(mi) < 2 || established(mr) < 2; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no phase 1 renewal: %+v / %+v", mi.Status(), mr.Status())
				}
				carry(mi, mr, ri, rr, 20*time.Millisecond, nil, nil)
			}
			// A while on: a rekey would have started at the next tick.
			carry(mi, mr, ri, rr, time.Second, nil, count)
			mr.mu.Lock()
			for _, sa := range mr.sas {
				for _, q := range sa.qms {
					if q.initiator {
						quick++
					}
				}
			}
			mr.mu.Unlock()
			after := activeChildren(ri)
			if quick != 0 || len(after) != 1 || after[0].In.SPI != before[0].In.SPI {
				t.Errorf("after the renewal: %d quick modes, the initiator's children %v; want none, and the child %v as it was", quick, spiPairs(after), spiPairs(before))
			}
			// Its own rekey moves it to the new SA, and the old SA goes.
			dueNow(mi)
			carry(mi, mr, ri, rr, 20*time.Second, func() bool { return established(mi) == 1 && established(mr) == 1 }, nil)
			if established(mi) != 1 || established(mr) != 1 {
				t.Errorf("after the child's rekey: %d and %d ISAKMP SAs, want the new one each; %+v", established(mi), established(mr), mi.Status())
			}
		})
	}
}

// activeChildren returns the children r's data path still sends with
// (installed, not removed, nor drained).
func activeChildren(r *recorder) []ipsec.Child {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ipsec.Child
	for _, c := range r.children {
		if !slices.Contains(r.removed, c.In.SPI) && !slices.Contains(r.drained, c.In.SPI) {
			out = append(out, c)
		}
	}
	return out
}

// TestSimultaneousRekeyAfterRenewal: after a phase 1 renewal both sides
// move the children to the new ISAKMP SA, each with a quick mode of its
// own, started at once (their rekeys came due together). Once the replaced pairs are gone (and their
// Deletes carried), each side has one pair for the traffic, the same
// pair: not two each, nor each side keeping the pair the other deleted.
func TestSimultaneousRekeyAfterRenewal(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	renewSoon(t, mi)

	// Quick mode messages 1 wait until each side sent one: the two
	// rekeys cross on the way.
	var held [][]byte
	var heldFrom, heldTo []netip.AddrPort
	var heldI []bool
	qm1 := map[bool]bool{}
	due := false
	deliver := func(fromI bool, msg []byte, from, to netip.AddrPort) {
		if fromI {
			mr.handle(to, from, msg)
		} else {
			mi.handle(to, from, msg)
		}
	}
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end) && !(qm1[true] && qm1[false]); time.Sleep(20 * time.Millisecond) {
		if !due && established(mi) == 2 && established(mr) == 2 {
			dueNow(mi)
			dueNow(mr)
			due = true
		}
		for _, side := range []struct {
			fromI bool
			r     *recorder
		}{{true, ri}, {false, rr}} {
			msgs, f, to := side.r.take()
			for i, msg := range msgs {
				if msg[18] == wire.ExchangeQuick {
					qm1[side.fromI] = true
					held, heldFrom, heldTo, heldI = append(held, msg), append(heldFrom, f[i]), append(heldTo, to[i]), append(heldI, side.fromI)
					continue
				}
				deliver(side.fromI, msg, f[i], to[i])
			}
		}
	}
	if !qm1[true] || !qm1[false] {
		t.Fatalf("after the renewal, quick modes started: initiator %v, responder %v; %+v / %+v", qm1[true], qm1[false], mi.Status(), mr.Status())
	}
	for i := range held {
		deliver(heldI[i], held[i], heldFrom[i], heldTo[i])
	}
	quiet := func() bool {
		for _, m := range []*Manager{mi, mr} {
			m.mu.Lock()
			for _, sa := range m.sas {
				if len(sa.qms) > 0 {
					m.mu.Unlock()
					return false
				}
			}
			m.mu.Unlock()
		}
		return true
	}
	carry(mi, mr, ri, rr, 3*time.Second, quiet, nil)
	// The replaced pairs' time is up: they go, with Deletes.
	for range 2 {
		for _, m := range []*Manager{mi, mr} {
			m.mu.Lock()
			m.timers(time.Now().Add(time.Minute))
			m.mu.Unlock()
		}
		carry(mi, mr, ri, rr, time.Second, nil, nil)
	}

	ci, cr := activeChildren(ri), activeChildren(rr)
	ri.mu.Lock()
	rr.mu.Lock()
	ni, nr := len(ri.children), len(rr.children)
	rr.mu.Unlock()
	ri.mu.Unlock()
	// The first pair, and one of the two rekeys' on each side: the pair
	// kept carries on, no third negotiation was needed.
	if ni != 3 || nr != 3 {
		t.Errorf("%d pairs installed by the initiator, %d by the responder; want 3 each: the first, then the pairs of the two rekeys", ni, nr)
	}
	if len(ci) != 1 || len(cr) != 1 || ci[0].Out.SPI != cr[0].In.SPI || ci[0].In.SPI != cr[0].Out.SPI {
		t.Errorf("after a simultaneous rekey: the initiator's data path has %d pairs %v, the responder's %d %v; want one each, the same", len(ci), spiPairs(ci), len(cr), spiPairs(cr))
	}
	for _, m := range []*Manager{mi, mr} {
		if st := m.Status(); len(st) != 1 || st[0].State != "established" || len(st[0].IKESAs[0].Children) != 1 {
			t.Errorf("status after a simultaneous rekey: %+v", st)
		}
	}
}

// spiPairs shows children as in/out SPIs.
func spiPairs(cs []ipsec.Child) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%08x/%08x", c.In.SPI, c.Out.SPI))
	}
	return out
}

// TestReplacedSAExpires: an ISAKMP SA replaced by a phase 1 renewal whose
// quick mode rekeys fail (the peer does not answer them) keeps its
// children, and goes at the end of its lifetime as the newest would (RFC
// 2409 §4.5), without a Delete; the children stay, now under the new SA.
// It outlived its lifetime for as long as a child was on it.
func TestReplacedSAExpires(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	ri.mu.Lock()
	childSPI := ri.children[0].In.SPI
	ri.mu.Unlock()
	old := renewSoon(t, mi)
	// The renewal's main mode passes; every quick mode is lost.
	var renewed *isakmpSA
	for deadline := time.Now().Add(10 * time.Second); renewed == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		passAllButQuick(mi, mr, ri, rr)
		mi.mu.Lock()
		for _, sa := range mi.sas {
			if sa != old && sa.state == stEstablished {
				renewed = sa
			}
		}
		mi.mu.Unlock()
	}
	if renewed == nil {
		t.Fatalf("no phase 1 renewal: %+v", mi.Status())
	}
	ri.take()

	// The old SA's lifetime ends (as if it had run its 8 hours), the new
	// one's has just begun.
	mi.mu.Lock()
	old.established = old.established.Add(-old.s.Life)
	mi.timers(time.Now())
	_, kept := mi.sas[old.ic]
	c := mi.peers["i"].children[0]
	moved := c.sa == renewed && c.inSPI == childSPI
	mi.mu.Unlock()
	msgs, _, _ := ri.take()
	for _, msg := range msgs {
		if binary.BigEndian.Uint64(msg) == old.ic {
			t.Errorf("a message (exchange %d) sent on the expired SA", msg[18])
		}
	}
	if kept {
		t.Fatal("the replaced ISAKMP SA, with the child still on it, is kept past its lifetime")
	}
	ri.mu.Lock()
	removed := slices.Contains(ri.removed, childSPI)
	ri.mu.Unlock()
	st := mi.Status()[0]
	if removed || !moved || len(st.IKESAs) != 1 || len(st.IKESAs[0].Children) != 1 {
		t.Errorf("past the replaced SA's lifetime, its child: removed %v, under the new SA %v; status %+v", removed, moved, st)
	}
}

// TestStatusListsChildOnce: while a phase 1 renewal's children have not
// moved to the new ISAKMP SA (here: every quick mode is lost), the status
// lists each child once, under the SA it is on, not under each
// established SA: a user saw every tunnel twice.
func TestStatusListsChildOnce(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	ri.mu.Lock()
	childSPI := ri.children[0].In.SPI
	ri.mu.Unlock()
	old := renewSoon(t, mi)
	for deadline := time.Now().Add(20 * time.Second); established(mi) < 2 || established(mr) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no phase 1 renewal: %+v / %+v", mi.Status(), mr.Status())
		}
		passAllButQuick(mi, mr, ri, rr)
	}
	for _, side := range []struct {
		name string
		m    *Manager
	}{{"initiator", mi}, {"responder", mr}} {
		st := side.m.Status()[0]
		var listed []string
		for _, sa := range st.IKESAs {
			for _, c := range sa.Children {
				listed = append(listed, fmt.Sprintf("%08x under %016x", c.InSPI, sa.SPIi))
			}
		}
		if len(st.IKESAs) != 2 || len(listed) != 1 {
			t.Errorf("%s: %d ISAKMP SAs, children listed: %v; want 2 SAs and the one child once, under the old SA", side.name, len(st.IKESAs), listed)
			continue
		}
		if side.m == mi && listed[0] != fmt.Sprintf("%08x under %016x", childSPI, old.ic) {
			t.Errorf("%s: child listed %v, want %08x under the old SA %016x", side.name, listed, childSPI, old.ic)
		}
	}
}

// TestSimultaneousRekeyReordered: both sides rekey a child at once, and
// one side's quick mode message 1 (b) reaches the other side (x) only
// after x's own rekey (a) is done: it was held back, or lost and sent
// again. x took b for a rekey of a's new pair, where b's side, which saw
// b and a cross, took the two for a collision and kept the pair of the
// higher nonce: with a's the higher, each side kept the pair the other
// retired, deleted the other's once the replaced pairs' 10 s were up,
// and neither had a pair left until a third quick mode. Both now keep
// the same pair, whichever nonce is the higher and whichever side x is.
func TestSimultaneousRekeyReordered(t *testing.T) {
	for _, c := range []struct {
		name string
		xI   bool // x, whose rekey is done first, is the initiator
		step int  // the nonce each new one takes after the last
	}{
		{"the initiator's done first, a's pair of the higher nonce", true, -1},
		{"the initiator's done first, a's pair of the lower nonce", true, 1},
		{"the responder's done first, a's pair of the higher nonce", false, -1},
		{"the responder's done first, a's pair of the lower nonce", false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, nil)
			shuttle(mi, mr, ri, rr, nil)
			// From here each nonce made is a repeated byte, of the last
			// one's value plus step: made in the order of the exchanges
			// below, they order a's and b's pairs.
			var n atomic.Int32
			n.Store(128)
			nonce := newNonce
			t.Cleanup(func() { newNonce = nonce })
			newNonce = func() ([]byte, error) {
				return bytes.Repeat([]byte{byte(n.Add(int32(c.step)))}, 32), nil
			}
			type side struct {
				m    *Manager
				r    *recorder
				name string
			}
			x, y := side{mi, ri, "i"}, side{mr, rr, "r"}
			if !c.xI {
				x, y = y, x
			}
			// quick returns the first quick mode message s sends with
			// message ID mid, or with any when mid is 0; others are lost.
			quick := func(s side, mid uint32) (msg []byte, from, to netip.AddrPort) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					msgs, f, tt := s.r.take()
					for i, m := range msgs {
						if m[18] == wire.ExchangeQuick && (mid == 0 || binary.BigEndian.Uint32(m[20:]) == mid) {
							return m, f[i], tt[i]
						}
					}
				}
				t.Fatalf("no quick mode message with message ID %08x", mid)
				return nil, netip.AddrPort{}, netip.AddrPort{}
			}
			mid := func(msg []byte) uint32 { return binary.BigEndian.Uint32(msg[20:]) }
			rekey := func(s side) {
				s.r.mu.Lock()
				in := s.r.children[0].In.SPI
				s.r.mu.Unlock()
				s.m.SoftExpired(s.name, in)
			}

			rekey(x)
			a1, a1f, a1t := quick(x, 0)
			rekey(y)
			b1, b1f, b1t := quick(y, 0)
			y.m.handle(a1t, a1f, a1) // a crosses b at y
			a2, a2f, a2t := quick(y, mid(a1))
			x.m.handle(a2t, a2f, a2) // x installs a's pair
			a3, a3f, a3t := quick(x, mid(a1))
			x.m.handle(b1t, b1f, b1) // b comes after a is done
			b2, b2f, b2t := quick(x, mid(b1))
			y.m.handle(a3t, a3f, a3)
			y.m.handle(b2t, b2f, b2)
			b3, b3f, b3t := quick(y, mid(b1))
			x.m.handle(b3t, b3f, b3)

			// The replaced pairs' time is up: they go, with Deletes.
			ri.take()
			rr.take()
			for range 2 {
				for _, m := range []*Manager{mi, mr} {
					m.mu.Lock()
					m.timers(time.Now().Add(time.Minute))
					m.mu.Unlock()
				}
				carry(mi, mr, ri, rr, time.Second, nil, nil)
			}
			ci, cr := activeChildren(ri), activeChildren(rr)
			ri.mu.Lock()
			rr.mu.Lock()
			ni, nr := len(ri.children), len(rr.children)
			rr.mu.Unlock()
			ri.mu.Unlock()
			// The first pair, then a's and b's: no fourth was needed.
			if ni != 3 || nr != 3 {
				t.Errorf("%d pairs installed by the initiator, %d by the responder; want 3 each: the first, then a's and b's", ni, nr)
			}
			if len(ci) != 1 || len(cr) != 1 || ci[0].Out.SPI != cr[0].In.SPI || ci[0].In.SPI != cr[0].Out.SPI {
				t.Errorf("after a reordered simultaneous rekey: the initiator's data path has %d pairs %v, the responder's %d %v; want one each, the same",
					len(ci), spiPairs(ci), len(cr), spiPairs(cr))
			}
		})
	}
}

// renewLingering renews the initiator's ISAKMP SA and moves the child to
// the new one by a rekey whose replaced pair stays on the old SA (and
// holds it), as long as an hour; onI sees each message the initiator
// sends.
func renewLingering(mi, mr *Manager, ri, rr *recorder, onI func(msg []byte)) {
	mi.mu.Lock()
	newest := mi.newest(mi.peers["i"])
	newest.expires = time.Now()
	mi.mu.Unlock()
	carry(mi, mr, ri, rr, 20*time.Second, func() bool {
		mi.mu.Lock()
		defer mi.mu.Unlock()
		return mi.newest(mi.peers["i"]) != newest
	}, onI)
	dueNow(mi) // the child moves to the new SA, its old pair lingers on the old
	carry(mi, mr, ri, rr, 20*time.Second, func() bool {
		mi.mu.Lock()
		defer mi.mu.Unlock()
		p := mi.peers["i"]
		return slices.ContainsFunc(p.children, func(c *child) bool { return !c.retired() && c.sa == mi.newest(p) })
	}, onI)
	carry(mi, mr, ri, rr, 200*time.Millisecond, nil, onI) // HASH(3)
	for _, m := range []*Manager{mi, mr} {
		m.mu.Lock()
		for _, p := range m.peers {
			for _, c := range p.children {
				if c.retired() {
					c.retireAt = time.Now().Add(time.Hour)
				}
			}
		}
		m.mu.Unlock()
	}
}

// TestEstablishedSAsBounded: a peer that completes Main Mode after Main
// Mode, each SA held by a child on it (here replaced pairs that linger),
// leaves a connection at most maxEstablishedPerPeer established ISAKMP
// SAs; the oldest go without a Delete and the child carrying traffic
// stays. There was no bound: one more SA kept for each.
func TestEstablishedSAsBounded(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, _ *ikev2.PeerConfig) {
		pi.ReconnectDelay = 100 * time.Millisecond // one renewal after the other
	})
	shuttle(mi, mr, ri, rr, nil)
	renewals, infos := 0, 0
	countInfo := func(msg []byte) {
		if msg[18] == wire.ExchangeInfo {
			infos++
		}
	}
	for range 2 * maxEstablishedPerPeer {
		renewLingering(mi, mr, ri, rr, countInfo)
		renewals++
	}
	if ni, nr := established(mi), established(mr); ni > maxEstablishedPerPeer || nr > maxEstablishedPerPeer {
		t.Errorf("after %d phase 1 renewals, each SA held by a child: %d established ISAKMP SAs on the initiator, %d on the responder; want at most %d",
			renewals, ni, nr, maxEstablishedPerPeer)
	}
	if infos != 0 {
		t.Errorf("%d informational messages (a Delete) sent by the initiator", infos)
	}
	for _, m := range []*Manager{mi, mr} {
		st := m.Status()
		n := 0
		for _, sa := range st[0].IKESAs {
			n += len(sa.Children)
		}
		if st[0].State != "established" || n != 1 {
			t.Errorf("status: %+v, want established with the one child", st)
		}
	}
	ci, cr := activeChildren(ri), activeChildren(rr)
	if len(ci) == 0 || len(cr) == 0 || ci[len(ci)-1].Out.SPI != cr[len(cr)-1].In.SPI {
		t.Errorf("the pair carrying traffic: initiator %v, responder %v; want the same, installed", spiPairs(ci), spiPairs(cr))
	}
}

// TestSurplusSAKeepsQuickMode: a Main Mode completed beyond
// maxEstablishedPerPeer drops an older ISAKMP SA without a quick mode in
// flight, not the oldest when the peer's quick mode on it waits for
// HASH(3): HASH(3) comes after the drop and the responder installs the
// child the initiator has. The oldest went, its quick mode with it, and
// HASH(3) found no SA.
func TestSurplusSAKeepsQuickMode(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, _ *ikev2.PeerConfig) {
		pi.ReconnectDelay = 100 * time.Millisecond // one renewal after the other
	})
	shuttle(mi, mr, ri, rr, nil)
	for range maxEstablishedPerPeer - 1 {
		renewLingering(mi, mr, ri, rr, nil)
	}
	if ni, nr := established(mi), established(mr); ni != maxEstablishedPerPeer || nr != maxEstablishedPerPeer {
		t.Fatalf("%d and %d established ISAKMP SAs, want %d each", ni, nr, maxEstablishedPerPeer)
	}
	oldest := func(m *Manager) *isakmpSA {
		var o *isakmpSA
		for _, sa := range m.sas {
			if sa.state == stEstablished && (o == nil || sa.established.Before(o.established)) {
				o = sa
			}
		}
		return o
	}
	// The initiator rekeys the child under its oldest SA.
	mi.mu.Lock()
	for _, c := range mi.peers["i"].children {
		if !c.retired() {
			oldest(mi).startQuick(c.pair, c)
		}
	}
	mi.mu.Unlock()
	waiting := func() bool { // the responder's quick mode waits for HASH(3)
		mr.mu.Lock()
		defer mr.mu.Unlock()
		for _, q := range oldest(mr).qms {
			if q.done {
				return true
			}
		}
		return false
	}
	// pass carries the messages until done, but the quick mode messages
	// hold says to hold (the initiator's are kept, the responder's lost).
	var held [][]byte
	var heldFrom, heldTo []netip.AddrPort
	pass := func(done func() bool, hold func(fromI bool) bool) {
		t.Helper()
		for end := time.Now().Add(20 * time.Second); !done(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("timed out")
			}
			a, af, at := ri.take()
			b, bf, bt := rr.take()
			for i := range a {
				if a[i][18] == wire.ExchangeQuick && hold(true) {
					held, heldFrom, heldTo = append(held, a[i]), append(heldFrom, af[i]), append(heldTo, at[i])
					continue
				}
				mr.handle(at[i], af[i], a[i])
			}
			for i := range b {
				if b[i][18] == wire.ExchangeQuick && hold(false) {
					continue
				}
				mi.handle(bt[i], bf[i], b[i])
			}
		}
	}
	pass(waiting, func(fromI bool) bool { return waiting() }) // message 1 only
	before := len(activeChildren(ri))
	pass(func() bool { return len(activeChildren(ri)) > before && len(held) > 0 }, func(fromI bool) bool { return fromI }) // message 2; HASH(3) held
	ci := activeChildren(ri)
	want := ci[len(ci)-1].Out.SPI // the initiator's new pair

	// A fifth Main Mode completes while HASH(3) is on its way.
	mi.mu.Lock()
	newest := mi.newest(mi.peers["i"])
	newest.expires = time.Now()
	mi.mu.Unlock()
	pass(func() bool { // on both sides
		mi.mu.Lock()
		n := mi.newest(mi.peers["i"])
		mi.mu.Unlock()
		mr.mu.Lock()
		defer mr.mu.Unlock()
		return n != newest && mr.sas[n.ic] != nil && mr.sas[n.ic].state == stEstablished
	}, func(bool) bool { return true })
	for i := range held {
		mr.handle(heldTo[i], heldFrom[i], held[i])
	}
	if !slices.ContainsFunc(activeChildren(rr), func(c ipsec.Child) bool { return c.In.SPI == want }) {
		t.Errorf("the responder has no pair for the initiator's %08x after a surplus ISAKMP SA was dropped: %v", want, spiPairs(activeChildren(rr)))
	}
	if ni, nr := established(mi), established(mr); ni > maxEstablishedPerPeer || nr > maxEstablishedPerPeer {
		t.Errorf("%d and %d established ISAKMP SAs, want at most %d", ni, nr, maxEstablishedPerPeer)
	}
}

// TestFailedRenewalIsNoDeadPeer: a phase 1 renewal the peer does not
// answer (its configuration is being changed, its port 500 filtered)
// ends after its tries, while the SA it was to replace still carries
// the connection, its child and its DPD: the log says that the renewal
// failed, not that the peer is dead, and the connection stays up. It
// said "IKEv1 peer dead", at warning level, of a peer that answered
// all along.
func TestFailedRenewalIsNoDeadPeer(t *testing.T) {
	h := &records{}
	ri, rr := &recorder{}, &recorder{}
	mi, mr := New(Config{Transport: ri, Dataplane: ri, Logger: slog.New(h)}), New(Config{Transport: rr, Dataplane: rr})
	t.Cleanup(func() { mi.Close(); mr.Close() })
	pi := fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)
	pi.RetransmitTimeout, pi.RetransmitTries, pi.ReconnectDelay = 100*time.Millisecond, 2, time.Minute
	mustReconfig(t, mi, pi)
	mustReconfig(t, mr, fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly))
	shuttle(mi, mr, ri, rr, nil)
	old := renewSoon(t, mi)
	mi.mu.Lock()
	mi.peers["i"].nextTry = time.Time{} // hours after the Main Mode
	mi.mu.Unlock()

	// The peer's answers to the renewal are lost; all else gets through.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		a, af, at := ri.take()
		b, bf, bt := rr.take()
		for i := range a {
			mr.handle(at[i], af[i], a[i])
		}
		for i := range b {
			if b[i][18] != wire.ExchangeMain {
				mi.handle(bt[i], bf[i], b[i])
			}
		}
	}
	if got := h.find("dead"); len(got) > 0 {
		t.Errorf("a renewal the peer did not answer, the old SA working: logged %q %v", "IKEv1 peer dead", got)
	}
	if got := h.find("renewal"); len(got) == 0 {
		t.Errorf("the failed renewal was not logged")
	}
	mi.mu.Lock()
	kept := mi.sas[old.ic] == old && old.state == stEstablished
	mi.mu.Unlock()
	st := mi.Status()
	if !kept || len(st) != 1 || st[0].State != "established" || len(activeChildren(ri)) != 1 {
		t.Errorf("after the failed renewal: old SA kept %v, %+v", kept, st)
	}
}
