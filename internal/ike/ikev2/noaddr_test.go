package ikev2

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"slices"
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

// clientConn returns the gateway's connection of the client at remote.
func (g *p2sGateway) clientConn(t *testing.T, remote netip.AddrPort) *conn {
	t.Helper()
	g.m.mu.Lock()
	c := g.m.clients[clientKey(remote)]
	g.m.mu.Unlock()
	if c == nil {
		t.Fatalf("no connection of the client at %v", remote)
	}
	return c
}

// expireChildless steps the loop of c to the deadline of its client's IKE
// SA without a child SA, after checking it is clientChildWait away.
func expireChildless(t *testing.T, c *conn) {
	t.Helper()
	c.do(func() {
		at := c.client.childBy
		if wait := time.Until(at); wait <= clientChildWait-5*time.Second || wait > clientChildWait {
			t.Errorf("the IKE SA without a child SA is deleted in %v, want %v", wait, clientChildWait)
		}
		for _, sa := range c.sas {
			sa.tick(at)
		}
		c.reap()
	})
}

// TestClientNoAddressBounded: a client that got no address keeps its IKE
// SA for clientChildWait, not longer: the gateway then deletes it (with a
// Delete), and the client's connection is gone. The loop's clock is
// stepped.
func TestClientNoAddressBounded(t *testing.T) {
	pki, g, _ := connectedClient(t, 1)
	late := newP2SClient(t, g, clientAt(2))
	if ps, addr := late.connect(pkitest.Issue(t, "bob", false, pki.root)); addr.IsValid() || notify(ps, wire.InternalAddressFailure) == nil {
		t.Fatalf("a client beyond MaxClients got %v: %v", addr, ps)
	}
	expireChildless(t, g.clientConn(t, clientAt(2)))
	if !late.deletedByGW() {
		t.Fatal("no Delete after clientChildWait")
	}
	waitFor(t, 5*time.Second, "the connection to be gone", func() bool { return g.clientConns() == 1 })
}

// TestClientWithoutChildSABounded: a client whose child SA the gateway
// refused in IKE_AUTH (its traffic selectors name IPv6 alone, say) is
// given its address and IKE SA, but not for good: with no child SA
// within clientChildWait the gateway deletes the IKE SA, and the address
// goes back to the pool. Likewise once the client deleted its last child
// SA. Before, such a client held its address, and its place among
// MaxClients, for as long as it answered liveness checks.
func TestClientWithoutChildSABounded(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	cl := newP2SClient(t, g, clientAt(1))
	cl.init()
	any6 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("::/0")})
	req := cl.auth(pki.client)
	req = append(req[:len(req)-2], tsPayload(false, any6), tsPayload(true, any6))
	ps := cl.request(wire.IKEAuth, req)
	if n := errorNotify(ps); cpAddr(ps) != poolAddr(1) || n == nil || n.NotifyType != wire.TSUnacceptable {
		t.Fatalf("IKE_AUTH with IPv6 selectors answered %v", ps)
	}
	expireChildless(t, g.clientConn(t, clientAt(1)))
	if !cl.deletedByGW() {
		t.Fatal("no Delete of the IKE SA without a child SA")
	}
	waitFor(t, 5*time.Second, "the address to go back", func() bool { return len(g.m.Clients()) == 0 })

	// A client that deletes its only child SA.
	cl = newP2SClient(t, g, clientAt(2))
	if _, addr := cl.connect(pki.client); addr != poolAddr(1) {
		t.Fatalf("the next client got %v", addr)
	}
	chs := g.dp.list()
	if len(chs) != 1 {
		t.Fatalf("%d child SAs", len(chs))
	}
	cl.request(wire.Informational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolESP, SPISize: 4, SPIs: [][]byte{spi4(chs[0].Out.SPI)}}})
	c := g.clientConn(t, clientAt(2))
	expireChildless(t, c)
	if !cl.deletedByGW() {
		t.Fatal("no Delete of the IKE SA whose child SA the client deleted")
	}
}

// TestClientWithoutCFGRequestKeepsIKESA: a client that asks for no
// address in IKE_AUTH (no CFG_REQUEST) is authenticated all the same: the
// response holds the gateway's AUTH and FAILED_CP_REQUIRED, which RFC 7296
// §2.19 has fail the child SA alone, not the IKE SA. The client may then
// ask with a CFG_REQUEST in an INFORMATIONAL exchange, gets an address,
// and its child SA with CREATE_CHILD_SA, narrowed to it. Before, the
// answer was FAILED_CP_REQUIRED alone, without AUTH, and the IKE SA was
// gone: strongSwan took it for a failed authentication (it sent
// AUTHENTICATION_FAILED back).
func TestClientWithoutCFGRequestKeepsIKESA(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	cl := newP2SClient(t, g, clientAt(1))
	cl.init()
	req := slices.DeleteFunc(cl.auth(pki.client), func(p wire.Payload) bool { return p.Type() == wire.PayloadCP })
	ps := cl.request(wire.IKEAuth, req)
	if notify(ps, wire.FailedCPRequired) == nil || cpAddr(ps).IsValid() {
		t.Fatalf("IKE_AUTH without CFG_REQUEST answered %v, want FAILED_CP_REQUIRED and no address", ps)
	}
	if _, ok := find[*wire.Auth](ps); !ok {
		t.Fatalf("the IKE_AUTH response without CFG_REQUEST has no AUTH (no IKE SA): %v", ps)
	}
	if _, ok := find[*wire.SA](ps); ok {
		t.Fatalf("a child SA without an address: %v", ps)
	}
	if e := errorNotify(cl.request(wire.Informational, nil)); e != nil {
		t.Fatalf("the liveness check of the IKE SA answered %v", e.NotifyType)
	}
	if attached, _ := g.hooks.state(); len(attached) != 0 || len(g.m.Clients()) != 0 {
		t.Fatalf("a client without an address attached %v, listed %v", attached, g.m.Clients())
	}
	if got := cpAddr(cl.request(wire.Informational, addressRequest())); got != poolAddr(1) {
		t.Fatalf("the CFG_REQUEST after IKE_AUTH got %v, want %v", got, poolAddr(1))
	}
	ps = cl.request(wire.CreateChildSA, newChildRequest(t))
	if e := errorNotify(ps); e != nil {
		t.Fatalf("the child SA after the address answered %v", e.NotifyType)
	}
	if tsi, _ := findTS(ps); tsi == nil || len(tsi.Selectors) != 1 || tsi.Selectors[0].StartAddr != poolAddr(1) || tsi.Selectors[0].EndAddr != poolAddr(1) {
		t.Fatalf("the child SA is not narrowed to %v: %v", poolAddr(1), tsi)
	}
}
