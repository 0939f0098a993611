package ikev1

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
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
	mi.mu.Lock()
	if len(mi.sas) != 1 {
		mi.mu.Unlock()
		t.Fatalf("%d ISAKMP SAs after the first exchange, want 1", len(mi.sas))
	}
	var old *isakmpSA
	for _, sa := range mi.sas {
		old = sa
	}
	old.expires = time.Now() // phase 1 renewal at the next tick
	mi.mu.Unlock()

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
