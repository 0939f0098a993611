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

// TestClientConnectsAgainAtOnce: a client that deletes its IKE SA and at
// once starts a new one from the same endpoint, as strongSwan's
// break-before-make reauthentication does (its Delete and the new
// IKE_SA_INIT back to back) and a user's disconnect and connect may, is
// answered at once and gets its address. The IKE_SA_INIT reached the
// connection whose last IKE SA the Delete ends, queued behind the Delete,
// and was left unread when that connection's loop ended: the client
// waited for its retransmission (strongSwan: 4 s; 3 of 13 reauthentications
// with strongSwan 5.9 on loopback). The loop is held busy here while both
// arrive.
func TestClientConnectsAgainAtOnce(t *testing.T) {
	pki, g, cl := connectedClient(t, 10)
	c := g.clientConn(t, clientAt(1))
	entered, busy := make(chan struct{}), make(chan struct{})
	c.post(false, func() { close(entered); <-busy })
	<-entered
	g.m.HandlePacket(p2sGW, cl.addr, cl.seal(wire.Informational, cl.nextID, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}}))
	again := newP2SClient(t, g, clientAt(1))
	seen := again.sendInit()
	close(busy)
	deadline := time.Now().Add(2 * time.Second)
	for len(again.fromGW(wire.IKESAInit, 0, true)) == seen {
		if time.Now().After(deadline) {
			t.Fatal("the IKE_SA_INIT that came behind the client's Delete was not answered")
		}
		time.Sleep(time.Millisecond)
	}
	again.initDone(again.fromGW(wire.IKESAInit, 0, true)[seen])
	if a := cpAddr(again.request(wire.IKEAuth, again.auth(pki.client))); a != poolAddr(1) {
		t.Errorf("the client connecting again got %v, want %v", a, poolAddr(1))
	}
}
