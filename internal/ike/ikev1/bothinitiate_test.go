package ikev1

import (
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
)

// atOnce runs the timers of managers ms in one moment, edit first changing
// each under its lock (nil: nothing), so that what they start they start
// together.
func atOnce(edit func(*Manager), ms ...*Manager) {
	for _, m := range ms {
		m.mu.Lock()
		defer m.mu.Unlock()
	}
	now := time.Now()
	for _, m := range ms {
		if edit != nil {
			edit(m)
		}
		m.timers(now)
	}
}

// agreed returns the cookies of the ISAKMP SA that carries the connection
// of both mi and mr, when it is the same on both sides, each has a child
// that is not replaced, and neither names an error.
func agreed(mi, mr *Manager) (cookies [2]uint64, ok bool) {
	var got [][2]uint64
	for _, m := range []*Manager{mi, mr} {
		m.mu.Lock()
		for _, p := range m.peers {
			sa := m.newest(p)
			live := 0
			for _, c := range p.children {
				if !c.retired() {
					live++
				}
			}
			if sa != nil && live > 0 && p.lastErr == "" {
				got = append(got, [2]uint64{sa.ic, sa.rc})
			}
		}
		m.mu.Unlock()
	}
	if len(got) != 2 || got[0] != got[1] {
		return cookies, false
	}
	return got[0], true
}

// TestBothInitiateKeepOneSA: two gateways whose connection is in the
// Default mode (two vnetgw gateways' VNet-to-VNet connection) start their
// Main Modes at once, as at setup or on reconnecting, and later renew
// phase 1 at once, as both time the renewal from the SA's establishment:
// both sides keep the same ISAKMP SA, with a child, and no error. Each
// side establishes its own Main Mode last (message 6 comes after it
// answered the peer's message 5); kept by time, each kept its own and
// deleted the other's, so that both went: the connection was down (the
// peer deleted the ISAKMP SA), or its renewal undone.
func TestBothInitiateKeepOneSA(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		for _, p := range []*ikev2.PeerConfig{pi, pr} {
			p.Mode = ikev2.ModeDefault
			p.ReconnectDelay = time.Minute // down, it stays down for the test
		}
	})
	atOnce(nil, mi, mr)
	up := func() bool { _, ok := agreed(mi, mr); return ok }
	carry(mi, mr, ri, rr, 10*time.Second, up, nil)
	carry(mi, mr, ri, rr, time.Second, nil, nil) // the SA not kept goes meanwhile
	first, ok := agreed(mi, mr)
	if !ok {
		t.Fatalf("both sides started main mode at once: %+v / %+v", mi.Status(), mr.Status())
	}

	// Hours later: the SA's renewal is due, on both sides.
	atOnce(func(m *Manager) {
		for _, sa := range m.sas {
			sa.expires = time.Now()
		}
		for _, p := range m.peers {
			p.nextTry = time.Time{}
		}
	}, mi, mr)
	renewed := func() bool { c, ok := agreed(mi, mr); return ok && c != first }
	carry(mi, mr, ri, rr, 10*time.Second, renewed, nil)
	carry(mi, mr, ri, rr, time.Second, nil, nil)
	if !renewed() {
		t.Fatalf("both sides renewed phase 1 at once: %+v / %+v", mi.Status(), mr.Status())
	}
}
