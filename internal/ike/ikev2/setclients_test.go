package ikev2

import (
	"crypto/x509"
	"net/netip"
	"slices"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// connectClients connects n point-to-site clients of pki's client
// certificate to g, each from its own address.
func connectClients(tb testing.TB, g *p2sGateway, pki p2sPKI, n int) {
	tb.Helper()
	for i := range n {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)}), 4500)
		cl := newP2SClient(tb, g, addr)
		cl.init()
		// All clients share one certificate; without INITIAL_CONTACT none
		// replaces another.
		req := slices.DeleteFunc(cl.auth(pki.client), func(p wire.Payload) bool {
			n, ok := p.(*wire.Notify)
			return ok && n.NotifyType == wire.InitialContact
		})
		if a := cpAddr(cl.request(wire.IKEAuth, req)); !a.IsValid() {
			tb.Fatalf("client %d got no address", i)
		}
		g.tr.forget(addr)
	}
	if got := len(g.m.Clients()); got != n {
		tb.Fatalf("%d clients connected, want %d", got, n)
	}
}

// sameRootsAgain returns cfg as the data plane hands it again after a
// write that changed nothing of point-to-site: its roots parsed again
// (other values, the same certificates), other DNS servers.
func sameRootsAgain(tb testing.TB, cfg *Clients) *Clients {
	tb.Helper()
	c := *cfg
	c.Roots = nil
	for _, r := range cfg.Roots {
		again, err := x509.ParseCertificate(r.Raw)
		if err != nil {
			tb.Fatal(err)
		}
		c.Roots = append(c.Roots, again)
	}
	c.DNS = []netip.Addr{netip.MustParseAddr("10.1.0.54")}
	return &c
}

// TestSetClientsUnchangedTrust: a configuration with the same roots and
// revocations (a write elsewhere in the region, other DNS servers) does
// not check the connected clients' certificates again, in SetClients or
// in their loops: SetClients allocates less than one certificate check
// would for each client. The clients stay.
func TestSetClientsUnchangedTrust(t *testing.T) {
	const n = 40
	pki := newPKI(t)
	g := newP2SGateway(t, Config{})
	cfg := pki.clients(g.hooks, netip.MustParsePrefix("10.64.0.0/16"), n)
	if err := g.m.SetClients(cfg); err != nil {
		t.Fatal(err)
	}
	connectClients(t, g, pki, n)
	chain := []*x509.Certificate{pki.client.Certificate}
	check := testing.AllocsPerRun(10, func() {
		if err := chainsTo(chain, cfg.Roots, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	next := sameRootsAgain(t, cfg)
	allocs := testing.AllocsPerRun(5, func() {
		if err := g.m.SetClients(next); err != nil {
			t.Fatal(err)
		}
		// The loops took the configuration (and would have checked).
		for _, s := range g.m.Clients() {
			c := g.m.conn(s.Name)
			c.do(func() {})
		}
	})
	if allocs >= n*check {
		t.Errorf("SetClients with the same roots allocated %.0f times for %d clients, one certificate check %.0f: the certificates were checked again", allocs, n, check)
	}
	if got := len(g.m.Clients()); got != n {
		t.Errorf("%d clients connected after the same roots were set again, want %d", got, n)
	}
}

// BenchmarkSetClientsUnchanged times SetClients with 1,000 clients
// connected and the same roots and revocations as before, as every write
// in the region hands the gateway: no certificate is checked again.
func BenchmarkSetClientsUnchanged(b *testing.B) {
	const n = 1000
	pki := newPKI(b)
	g := newP2SGateway(b, Config{})
	cfg := pki.clients(g.hooks, netip.MustParsePrefix("10.64.0.0/16"), n)
	if err := g.m.SetClients(cfg); err != nil {
		b.Fatal(err)
	}
	connectClients(b, g, pki, n)
	next := sameRootsAgain(b, cfg)
	b.ReportAllocs()
	for b.Loop() {
		if err := g.m.SetClients(next); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got := len(g.m.Clients()); got != n {
		b.Fatalf("%d clients connected, want %d", got, n)
	}
}
