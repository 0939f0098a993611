package ikev2

import (
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestHardExpiryRFC4301Section4_4_2_1: a child SA whose data path reached
// a hard limit (its rekey failed) is deleted, the peer told with an
// INFORMATIONAL Delete (RFC 7296 §1.4.1); the tunnel has no child and says
// why, and a new child comes up in its place.
func TestHardExpiryRFC4301Section4_4_2_1(t *testing.T) {
	adj := func(p *PeerConfig) { p.RetransmitTimeout = 200 * time.Millisecond }
	n, a, b := pair(t, adj, adj)
	waitUp(t, a, b, 1)
	old := onlyChild(t, a)
	var block atomic.Bool
	block.Store(true)
	n.setPolicy(func(from, to netip.AddrPort, m []byte) []time.Duration {
		h, _, err := wire.ParseHeader(m)
		if err == nil && block.Load() && from.Addr() == addrA && h.Exchange == wire.CreateChildSA {
			return nil // the new child waits
		}
		return []time.Duration{0}
	})
	a.m.HardExpired(a.peer.Name, old.InSPI)
	waitFor(t, 10*time.Second, "the expired child deleted on both sides", func() bool {
		b.dp.mu.Lock()
		defer b.dp.mu.Unlock()
		return a.dp.count() == 0 && slices.Contains(b.dp.removes, old.OutSPI)
	})
	st := a.status()
	if len(a.established()) != 1 || len(a.established()[0].Children) != 0 || st.LastError != "child SA expired: rekey failed" {
		t.Fatalf("after the hard expiry: %+v", st)
	}
	block.Store(false)
	waitUp(t, a, b, 1)
	if c := onlyChild(t, a); c.InSPI == old.InSPI {
		t.Fatalf("the expired child %08x is back", c.InSPI)
	}
	checkKeys(t, a, b)
}
