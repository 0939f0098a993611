package ikev1

import (
	"slices"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// TestHardExpiryRFC4301Section4_4_2_1: a child whose data path reached a
// hard limit (its rekey failed) is deleted and the peer told with a
// Delete; the connection has no child and says why, and a new quick mode
// brings one up in its place.
func TestHardExpiryRFC4301Section4_4_2_1(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	shuttle(mi, mr, ri, rr, nil)
	ri.mu.Lock()
	if len(ri.children) != 1 {
		ri.mu.Unlock()
		t.Fatalf("initiator has %d children, want 1", len(ri.children))
	}
	old, oldOut := ri.children[0].In.SPI, ri.children[0].Out.SPI
	ri.mu.Unlock()

	mi.HardExpired("i", old)
	mi.mu.Lock()
	mi.timers(time.Now())
	mi.mu.Unlock()
	children := func(m *Manager) int {
		n := 0
		for _, p := range m.Status() {
			for _, sa := range p.IKESAs {
				n += len(sa.Children)
			}
		}
		return n
	}
	ri.mu.Lock()
	removed := slices.Contains(ri.removed, old)
	ri.mu.Unlock()
	if st := mi.Status(); !removed || children(mi) != 0 || len(st) != 1 || st[0].LastError != "child SA expired: rekey failed" {
		t.Fatalf("after the hard expiry: removed %v, status %+v", removed, st)
	}
	// The Delete reaches the peer, and a new pair comes up.
	deleted := false
	for end := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no new child: the peer deleted the old one %v; status %+v / %+v", deleted, mi.Status(), mr.Status())
		}
		a, af, at := ri.take()
		for i := range a {
			deleted = deleted || a[i][18] == wire.ExchangeInfo
			mr.handle(at[i], af[i], a[i])
		}
		b, bf, bt := rr.take()
		for i := range b {
			mi.handle(bt[i], bf[i], b[i])
		}
		rr.mu.Lock()
		gone := slices.Contains(rr.removed, oldOut)
		rr.mu.Unlock()
		ri.mu.Lock()
		fresh := len(ri.children) == 2 && ri.children[1].In.SPI != old
		ri.mu.Unlock()
		if gone && fresh && children(mi) == 1 && children(mr) == 1 {
			break
		}
	}
	if st := mi.Status(); st[0].LastError != "" {
		t.Errorf("the new child is up, and the status says %q", st[0].LastError)
	}
}
