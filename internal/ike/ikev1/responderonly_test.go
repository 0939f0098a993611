package ikev1

import (
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
)

// TestResponderOnlyLeavesRenewalToPeer: a ResponderOnly connection to a
// peer in the InitiatorOnly mode (two vnetgw gateways' VNet-to-VNet
// connection set so), both with the same lifetime. Hours later phase 1
// is due on both sides in one moment: the peer, whose Main Mode made the
// SA, renews it, and the ResponderOnly side starts no Main Mode of its
// own. It started one, as the SA's responder establishes it first (message
// 5 comes before message 6): the peer ignores every Main Mode, so that
// each renewal ended with the warning "IKEv1 peer dead" and the reason
// "the peer does not answer main mode message 1", while the peer's own
// renewal carried the connection.
func TestResponderOnlyLeavesRenewalToPeer(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		for _, p := range []*ikev2.PeerConfig{pi, pr} {
			p.RetransmitTimeout, p.RetransmitTries = 100*time.Millisecond, 2
			p.DPDInterval = -1
		}
	})
	shuttle(mi, mr, ri, rr, nil)
	first, ok := agreed(mi, mr)
	if !ok {
		t.Fatalf("not up: %+v / %+v", mi.Status(), mr.Status())
	}

	// Hours later: the SA's renewal by the peer is due, at the margin
	// before the end of its lifetime (the same on both sides).
	atOnce(func(m *Manager) {
		for _, sa := range m.sas {
			age := sa.s.Life - rekeyMargin(sa.p.cfg, sa.s.Life)
			sa.created, sa.established, sa.expires = sa.created.Add(-age), sa.established.Add(-age), sa.expires.Add(-age)
		}
		for _, p := range m.peers {
			p.nextTry = time.Time{}
		}
	}, mr, mi)
	mr.mu.Lock()
	for _, sa := range mr.sas {
		if sa.initiator {
			t.Errorf("the ResponderOnly side started a Main Mode (to %v) to renew the peer's SA", sa.remote)
		}
	}
	mr.mu.Unlock()

	// The peer's renewal comes up, and whatever of ours would have gone
	// unanswered has had its tries.
	carry(mi, mr, ri, rr, 3*time.Second, nil, nil)
	renewed, ok := agreed(mi, mr)
	if !ok || renewed == first {
		t.Errorf("after the peer's renewal: SA %x (before %x), agreed %v", renewed, first, ok)
	}
	for _, s := range mr.Status() {
		if s.LastError != "" {
			t.Errorf("the ResponderOnly side's reason after the peer renewed: %q, want none", s.LastError)
		}
	}
}
