package ikev2

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestClientReauthAfterReplacingStaleAtSameEndpoint: a client behind a
// port-preserving NAT (its port 500 and 4500 seen as the NAT's 500 and
// 4500) connects again with INITIAL_CONTACT while its stale connection
// still holds the NAT's 4500, where the new IKE SA moves for IKE_AUTH.
// Once the stale connection is gone, the client's reauthentication from
// that endpoint (make-before-break: a new IKE SA without INITIAL_CONTACT)
// must reach the client's connection and keep its address, as it does
// for a client that never reconnected; it must not be taken for a new
// client given another address and another seat.
func TestClientReauthAfterReplacingStaleAtSameEndpoint(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	nat := netip.MustParseAddr("203.0.113.9")
	ike, natT := netip.AddrPortFrom(nat, 500), netip.AddrPortFrom(nat, 4500)

	connectVia := func() (*p2sClient, netip.Addr) {
		cl := newP2SClient(t, g, ike)
		cl.init()
		cl.addr = natT // RFC 7296 §2.23: IKE_AUTH from port 4500
		return cl, cpAddr(cl.request(wire.IKEAuth, cl.auth(pki.client)))
	}
	if _, a := connectVia(); a != poolAddr(1) {
		t.Fatalf("the client got %v, want %v", a, poolAddr(1))
	}
	// The laptop lost its network and connects again, its stale
	// connection still up.
	_, a := connectVia()
	if !a.IsValid() {
		t.Fatal("the client connecting again got no address")
	}
	waitFor(t, 5*time.Second, "the stale connection to be gone", func() bool {
		return slices.Equal(g.clientAddrs(), []netip.Addr{a})
	})

	// Make-before-break reauthentication from where its IKE SA is.
	re := newP2SClient(t, g, natT)
	re.init()
	ps := slices.DeleteFunc(re.auth(pki.client), func(p wire.Payload) bool {
		n, ok := p.(*wire.Notify)
		return ok && n.NotifyType == wire.InitialContact
	})
	if got := cpAddr(re.request(wire.IKEAuth, ps)); got != a {
		t.Errorf("the reauthenticating client got %v, want its address %v", got, a)
	}
	if got := g.clientAddrs(); !slices.Equal(got, []netip.Addr{a}) {
		t.Errorf("clients %v after the reauthentication, want one at %v", got, a)
	}
	g.m.mu.Lock()
	keyless := g.m.keyless
	g.m.mu.Unlock()
	if keyless != 0 {
		t.Errorf("%d client connections counted without an endpoint key, want 0", keyless)
	}
}
