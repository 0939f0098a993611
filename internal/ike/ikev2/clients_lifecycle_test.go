package ikev2

import (
	"crypto/sha1"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestMovedClientFollowsConfiguration: a connected client that moves
// (MOBIKE) to an endpoint where another connection (here a half-open
// one) is held is still one of the gateway's clients: revoking its
// certificate disconnects it, and closing the gateway ends it.
func TestMovedClientFollowsConfiguration(t *testing.T) {
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, p2sPool, 10)
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	cl := newP2SClient(t, g, clientAt(1))
	cl.init()
	if a := cpAddr(cl.request(wire.IKEAuth, append(cl.auth(pki.client), &wire.Notify{NotifyType: wire.MOBIKESupported}))); a != poolAddr(1) {
		t.Fatalf("got %v", a)
	}
	// Another connection at the endpoint the client moves to: a
	// half-open SA (the same client, or a spoofed IKE_SA_INIT).
	x2 := clientAt(2)
	newP2SClient(t, g, x2).init()
	cl.addr = x2
	cl.request(wire.Informational, []wire.Payload{&wire.Notify{NotifyType: wire.UpdateSAAddresses}})

	// The client's certificate is revoked.
	sum := sha1.Sum(pki.client.Raw)
	revoked := *cfg
	revoked.Revoked = []string{hex.EncodeToString(sum[:])}
	if err := g.m.SetClients(&revoked); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if c := g.m.Clients(); len(c) != 0 {
		t.Errorf("after revocation (a changed configuration) clients still connected: %+v", c)
	}
	if !cl.deletedByGW() {
		t.Error("the revoked client was sent no Delete")
	}
	// Manager.Close must not hang on the client's loop.
	done := make(chan struct{})
	go func() { g.m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Errorf("Manager.Close hangs: the moved client's loop was never told to stop")
		g.m.DisconnectClient(poolAddr(1)) // let the test end
		<-done
	}
}

// fullPool returns a gateway whose pool's two addresses (a /30; more
// clients allowed) pki's client a, at clientAt(1), and bob hold.
func fullPool(t *testing.T) (pki p2sPKI, g *p2sGateway, a *p2sClient) {
	t.Helper()
	pki = newPKI(t)
	g = newP2SGateway(t, Config{})
	if err := g.m.SetClients(pki.clients(g.hooks, netip.MustParsePrefix("10.9.0.0/30"), 10)); err != nil {
		t.Fatal(err)
	}
	a = newP2SClient(t, g, clientAt(1))
	if _, addr := a.connect(pki.client); !addr.IsValid() {
		t.Fatal("a got no address")
	}
	if _, addr := newP2SClient(t, g, clientAt(2)).connect(pkitest.Issue(t, "bob", false, pki.root)); !addr.IsValid() {
		t.Fatal("bob got no address")
	}
	return pki, g, a
}

// reconnect has pki's client connect to g again from another port at
// clientAt(1), with INITIAL_CONTACT, and fails the test unless it gets an
// address.
func reconnect(t *testing.T, g *p2sGateway, pki p2sPKI) {
	t.Helper()
	again := newP2SClient(t, g, netip.AddrPortFrom(clientAt(1).Addr(), 4500))
	if ps, addr := again.connect(pki.client); !addr.IsValid() {
		t.Errorf("the client reconnecting with INITIAL_CONTACT was refused: INTERNAL_ADDRESS_FAILURE=%v", notify(ps, wire.InternalAddressFailure) != nil)
	}
}

// TestReconnectWhenPoolFull: a client that connects again from a new
// port with INITIAL_CONTACT when its stale connection holds the pool's
// last address gets one: the stale connection is deleted first and gives
// its address back.
func TestReconnectWhenPoolFull(t *testing.T) {
	pki, g, a := fullPool(t)
	reconnect(t, g, pki)
	time.Sleep(100 * time.Millisecond)
	if !a.deletedByGW() {
		t.Error("the stale connection was sent no Delete")
	}
}

// TestClientRekeysOnSoftExpiry: the data path's soft expiry of a
// client's child SA (its byte or packet lifetime) reaches the client's
// connection, which rekeys the child SA.
func TestClientRekeysOnSoftExpiry(t *testing.T) {
	_, g, cl := connectedClient(t, 10)
	chs := g.dp.list()
	if len(chs) != 1 {
		t.Fatalf("%d children", len(chs))
	}
	name := chs[0].Tunnel
	if c := g.m.conn(name); c == nil {
		t.Errorf("Manager.conn(%q) = nil: SoftExpired/Acquire for a client's tunnel are dropped", name)
	}
	seen := len(cl.fromGW(wire.CreateChildSA, 0, false))
	g.m.SoftExpired(name, chs[0].In.SPI)
	time.Sleep(200 * time.Millisecond)
	if n := len(cl.fromGW(wire.CreateChildSA, 0, false)); n == seen {
		t.Errorf("no CREATE_CHILD_SA rekey after SoftExpired of the client's child SA")
	}
}

// TestClientGoneWithHalfOpenSA: a client whose last authenticated IKE SA
// ends (its Delete here) is gone, even when a half-open IKE SA is left
// at its endpoint (a new IKE_SA_INIT from there, which anyone can send
// with a spoofed source): its address goes back to the pool, its tunnel
// is detached, and it is no longer listed. Else a sender of an
// IKE_SA_INIT every 30 s held the address, a MaxClients slot and the
// tunnel of every client that left, for good.
func TestClientGoneWithHalfOpenSA(t *testing.T) {
	pki, g, cl := connectedClient(t, 1)    // one client at most
	newP2SClient(t, g, clientAt(1)).init() // half-open, at the client's endpoint
	cl.request(wire.Informational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}})
	waitFor(t, 2*time.Second, "the client that left to be gone", func() bool {
		attached, _ := g.hooks.state()
		return len(g.m.Clients()) == 0 && len(attached) == 0
	})
	if _, a := newP2SClient(t, g, clientAt(2)).connect(pkitest.Issue(t, "bob", false, pki.root)); a != poolAddr(1) {
		t.Errorf("the next client got %v, want the address the one that left gave back, %v", a, poolAddr(1))
	}
}

// TestReconnectWhenPoolFullStaleBusy is TestReconnectWhenPoolFull with a
// request of the gateway's outstanding on the stale connection (a liveness
// check the gone device never answers), which holds its Delete back (RFC
// 7296 §2.3): the stale connection still gives its address back at once,
// and the client connecting again gets it.
func TestReconnectWhenPoolFullStaleBusy(t *testing.T) {
	pki, g, _ := fullPool(t)
	var stale *conn
	for _, s := range g.m.Clients() {
		if s.Remote == clientAt(1) {
			stale = g.m.conn(s.Name)
		}
	}
	started := false
	if stale != nil {
		stale.do(func() {
			if sa := stale.established(); sa != nil {
				sa.enqueue(task{kind: taskDPD})
				sa.kick()
				started = sa.pend != nil
			}
		})
	}
	if !started {
		t.Fatal("no liveness check started on the stale connection")
	}
	reconnect(t, g, pki)
}

// TestDisconnectClientWithRequestOutstanding: disconnecting a client
// whose connection has a request outstanding (a liveness check) returns
// once the client is gone, address and tunnel, and does not wait for the
// answer its Delete waits for (RFC 7296 §2.3): an administrator
// disconnecting gone clients, which answer nothing, waited 2 s for each.
// The Delete follows the answer.
func TestDisconnectClientWithRequestOutstanding(t *testing.T) {
	_, g, cl := connectedClient(t, 10)
	c := g.m.conn(g.m.Clients()[0].Name)
	var dpd uint32
	started := false
	c.do(func() {
		if sa := c.established(); sa != nil {
			dpd = sa.nextID
			sa.enqueue(task{kind: taskDPD})
			sa.kick()
			started = sa.pend != nil
		}
	})
	if !started {
		t.Fatal("no liveness check started")
	}
	if !g.m.DisconnectClient(poolAddr(1)) {
		t.Fatal("DisconnectClient found no client")
	}
	if attached, _ := g.hooks.state(); len(g.m.Clients()) != 0 || len(attached) != 0 {
		t.Errorf("after DisconnectClient: clients %v, tunnels %v", g.m.Clients(), attached)
	}
	// The client answers the liveness check now; the Delete follows.
	g.m.HandlePacket(p2sGW, cl.addr, cl.respond(wire.Informational, dpd, nil))
	waitFor(t, 10*time.Second, "the Delete after the answer", cl.deletedByGW)
}

// TestDisconnectClientReturnsOnceGone: DisconnectClient returns once the
// client is gone, its address free and its tunnel detached, also when
// the client's loop takes the disconnection in one go with what
// DisconnectClient waits on (both queued while the loop was busy), as
// TestClientAddresses found now and then.
func TestDisconnectClientReturnsOnceGone(t *testing.T) {
	pki := newPKI(t)
	g := pki.gateway(t)
	cl := newP2SClient(t, g, clientAt(1))
	_, addr := cl.connect(pki.client)
	g.m.mu.Lock()
	c := g.m.clientAddrs[addr]
	g.m.mu.Unlock()
	if c == nil {
		t.Fatal("no client connected")
	}
	entered, busy := make(chan struct{}), make(chan struct{})
	c.post(false, func() { close(entered); <-busy })
	<-entered
	done := make(chan bool)
	go func() { done <- g.m.DisconnectClient(addr) }()
	waitFor(t, 10*time.Second, "the disconnection to wait behind the busy loop", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.queue) == 2
	})
	// The loop is kept busy after that batch too: what DisconnectClient
	// leaves to the loop's end is not done by the time it returns.
	after := make(chan struct{})
	c.post(false, func() { <-after })
	close(busy)
	if !<-done {
		t.Fatal("DisconnectClient found no client")
	}
	if got := g.m.Clients(); len(got) != 0 {
		t.Errorf("DisconnectClient returned with the client still listed: %+v", got)
	}
	if attached, _ := g.hooks.state(); len(attached) != 0 {
		t.Errorf("DisconnectClient returned with the client's tunnel attached: %v", attached)
	}
	close(after)
}
