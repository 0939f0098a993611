package ikev2

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// newChildRequest returns a CREATE_CHILD_SA request for a new child SA
// for any IPv4 traffic.
func newChildRequest(t *testing.T) []wire.Payload {
	t.Helper()
	spi := make([]byte, 4)
	_, _ = rand.Read(spi)
	spi[0] |= 0x10
	ni, err := suite.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	return []wire.Payload{saPayload(mustProposals(t, wire.ProtocolESP, "aes256gcm16"), spi, false),
		&wire.Nonce{Data: ni}, tsPayload(false, any4), tsPayload(true, any4)}
}

// addressRequest is a client's CFG_REQUEST for an address.
func addressRequest() []wire.Payload {
	return []wire.Payload{&wire.CP{CFGType: wire.CFGRequest, Attributes: []wire.CPAttribute{{Type: wire.InternalIP4Address}}}}
}

// TestClientNoAddressKeepsIKESA: a client authenticated while the pool
// is used up gets its IKE SA all the same (RFC 7296 §3.15.4): the
// IKE_AUTH response holds the gateway's AUTH and INTERNAL_ADDRESS_FAILURE,
// and no child SA. The client asks again with a CFG_REQUEST in an
// INFORMATIONAL exchange and, once another client has left, gets the
// freed address, its tunnel and then its child SA, narrowed to that
// address. Before that, no child SA is given to it. Before, the gateway
// ended the IKE SA with its answer, which had no AUTH: the client saw an
// authentication failure and had to start over.
func TestClientNoAddressKeepsIKESA(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	if err := g.m.SetClients(pki.clients(g.hooks, netip.MustParsePrefix("10.9.0.0/30"), 10)); err != nil {
		t.Fatal(err)
	}
	var first *p2sClient
	for i := 1; i <= 2; i++ {
		cl := newP2SClient(t, g, clientAt(i))
		if _, addr := cl.connect(pkitest.Issue(t, fmt.Sprintf("client%d", i), false, pki.root)); addr != netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}) {
			t.Fatalf("client %d got %v", i, addr)
		}
		if i == 1 {
			first = cl
		}
	}

	late := newP2SClient(t, g, clientAt(3))
	ps, addr := late.connect(pki.client)
	if addr.IsValid() || notify(ps, wire.InternalAddressFailure) == nil {
		t.Fatalf("a client beyond the pool got %v: %v", addr, ps)
	}
	if _, ok := find[*wire.Auth](ps); !ok {
		t.Fatalf("the IKE_AUTH response without an address has no AUTH (no IKE SA): %v", ps)
	}
	if _, ok := find[*wire.SA](ps); ok {
		t.Fatalf("a child SA without an address: %v", ps)
	}
	if e := errorNotify(late.request(wire.Informational, nil)); e != nil {
		t.Fatalf("the liveness check of the IKE SA answered %v", e.NotifyType)
	}
	if n := errorNotify(late.request(wire.CreateChildSA, newChildRequest(t))); n == nil || n.NotifyType != wire.TSUnacceptable {
		t.Fatalf("a child SA asked for without an address answered %v, want TS_UNACCEPTABLE", n)
	}
	if ps := late.request(wire.Informational, addressRequest()); notify(ps, wire.InternalAddressFailure) == nil {
		t.Fatalf("a CFG_REQUEST with the pool still used up answered %v", ps)
	}
	if attached, _ := g.hooks.state(); len(attached) != 2 || g.dp.count() != 2 {
		t.Fatalf("%d clients attached, %d child SAs, want 2 and 2", len(attached), g.dp.count())
	}

	first.request(wire.Informational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}})
	waitFor(t, 5*time.Second, "the first client to be gone", func() bool { return len(g.m.Clients()) == 1 })
	want := netip.MustParseAddr("10.9.0.1")
	if got := cpAddr(late.request(wire.Informational, addressRequest())); got != want {
		t.Fatalf("the CFG_REQUEST after an address was freed got %v, want %v", got, want)
	}
	if got := g.clientAddrs(); len(got) != 2 || got[0] != want {
		t.Fatalf("clients at %v", got)
	}
	if attached, _ := g.hooks.state(); len(attached) != 2 {
		t.Fatalf("%d clients attached, want 2", len(attached))
	}
	ps = late.request(wire.CreateChildSA, newChildRequest(t))
	if e := errorNotify(ps); e != nil {
		t.Fatalf("the child SA after the address answered %v", e.NotifyType)
	}
	if tsi, _ := findTS(ps); tsi == nil || len(tsi.Selectors) != 1 || tsi.Selectors[0].StartAddr != want || tsi.Selectors[0].EndAddr != want {
		t.Fatalf("the child SA is not narrowed to %v: %v", want, tsi)
	}
}

// TestClientNoAddressBounded: a client that got no address keeps its IKE
// SA for clientAddrWait, not longer: the gateway then deletes it (with a
// Delete), and the client's connection is gone. The loop's clock is
// stepped.
func TestClientNoAddressBounded(t *testing.T) {
	pki, g, _ := connectedClient(t, 1)
	late := newP2SClient(t, g, clientAt(2))
	if ps, addr := late.connect(pkitest.Issue(t, "bob", false, pki.root)); addr.IsValid() || notify(ps, wire.InternalAddressFailure) == nil {
		t.Fatalf("a client beyond MaxClients got %v: %v", addr, ps)
	}
	g.m.mu.Lock()
	c := g.m.clients[clientKey(clientAt(2))]
	g.m.mu.Unlock()
	if c == nil {
		t.Fatal("the client without an address has no connection")
	}
	c.do(func() {
		at := c.client.addrBy
		if wait := time.Until(at); wait <= clientAddrWait-5*time.Second || wait > clientAddrWait {
			t.Errorf("the IKE SA without an address is deleted in %v, want %v", wait, clientAddrWait)
		}
		for _, sa := range c.sas {
			sa.tick(at)
		}
		c.reap()
	})
	if !late.deletedByGW() {
		t.Fatal("no Delete after clientAddrWait")
	}
	waitFor(t, 5*time.Second, "the connection to be gone", func() bool { return g.clientConns() == 1 })
}
