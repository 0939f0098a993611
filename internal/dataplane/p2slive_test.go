package dataplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// What changes with the gateway's surroundings is applied to its running
// SSTP and OpenVPN server, its clients connected (R10–R14): a site
// connected (its ranges among the routes OpenVPN clients are pushed), a
// second root uploaded (a root rotated), the VNet's DNS servers changed,
// the SKU resized (the limits). The connected SSTP client stays and still
// reaches the VNet; a client that connects next gets the new DNS servers
// and may authenticate with the new root. Removing a root ends the
// clients whose certificate it issued, and no other.
func TestP2SClientsStayAcrossLiveChanges(t *testing.T) {
	root := pkitest.Issue(t, "P2S root", true, nil)
	root2 := pkitest.Issue(t, "P2S root 2", true, nil)
	pub := netip.MustParseAddr("127.192.0.1")
	server := pkitest.Issue(t, "gateway", false, root, pub).TLS()
	e := New(Options{IKEPort: 15814, NATTPort: 15815, SSTPPort: 15816,
		GatewayCert: func(netip.Addr) (tls.Certificate, error) { return server, nil }})
	defer e.Close()
	web := netip.MustParseAddr("10.1.0.4")
	p := &GatewayP2S{Pool: netip.MustParsePrefix("172.16.202.0/24"), TCPPool: netip.MustParsePrefix("172.16.202.0/24"), SSTP: true, OpenVPN: true,
		Roots: [][]byte{root.Certificate.Raw}, MaxClients: 128, OpenVPNMaxClients: 250, Routes: prefixes("10.1.0.0/16"),
		DNS: []netip.Addr{netip.MustParseAddr("10.1.0.53")}}
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"), Hosts: []Host{{ID: "web", Name: "web", Addr: web, Kind: HostNetstack}}}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "gwsubnet", PublicAddr: pub, PrivateAddr: netip.MustParseAddr("10.1.255.4"), P2S: p}}}
	g := reconfigGateway(t, e, cfg)
	if g == nil || g.p2s == nil {
		t.Fatal("the point-to-site server did not start")
	}
	started := g.p2s
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
	type client struct {
		*p2s.Client
		host *fabric.NetstackHost // on the client's address
	}
	dial := func(cert *pkitest.Cert) (client, error) {
		t.Helper()
		var host atomic.Pointer[fabric.NetstackHost]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := p2s.Dial(ctx, p2s.ClientConfig{Server: netip.AddrPortFrom(pub, 15816), ServerName: pub.String(), RootCAs: roots, Cert: cert.TLS(),
			OnIP: func(pkt []byte) {
				if h := host.Load(); h != nil {
					h.Deliver(pkt)
				}
			}})
		if err != nil {
			return client{}, err
		}
		t.Cleanup(func() { c.Close() })
		h, err := fabric.NewNetstackEndpoint("client", c.Addr(), 0, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		host.Store(h)
		return client{c, h}, nil
	}
	// The client pings: the gateway has taken its CALL_CONNECTED, sent
	// before, and answers it.
	reaches := func(c client, what string) {
		t.Helper()
		select {
		case err := <-c.Done():
			t.Fatalf("%s: client %v disconnected: %v", what, c.Addr(), err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.host.Ping(ctx, web); err != nil {
			t.Fatalf("%s: client %v does not reach the VNet: %v", what, c.Addr(), err)
		}
	}
	alice, err := dial(pkitest.Issue(t, "alice", false, root))
	if err != nil {
		t.Fatal(err)
	}
	reaches(alice, "connected")

	change := func(what string, f func(*GatewayP2S)) {
		t.Helper()
		q := *cfg.Gateways[0].P2S
		q.Roots, q.Routes, q.DNS = slices.Clone(q.Roots), slices.Clone(q.Routes), slices.Clone(q.DNS)
		f(&q)
		cfg.Gateways[0].P2S = &q
		if g := reconfigGateway(t, e, cfg); g.p2s != started {
			t.Fatalf("%s: the point-to-site server was restarted", what)
		}
		reaches(alice, what)
	}
	change("a site connected", func(q *GatewayP2S) { q.Routes = append(q.Routes, prefixes("192.168.10.0/24")...) })
	change("a second root uploaded", func(q *GatewayP2S) { q.Roots = append(q.Roots, root2.Certificate.Raw) })
	change("the VNet's DNS servers changed", func(q *GatewayP2S) { q.DNS = []netip.Addr{netip.MustParseAddr("10.1.0.54")} })
	change("the SKU resized", func(q *GatewayP2S) { q.MaxClients, q.OpenVPNMaxClients = 128, 500 })

	bob, err := dial(pkitest.Issue(t, "bob", false, root2))
	if err != nil {
		t.Fatalf("a client of the root uploaded: %v", err)
	}
	if got := bob.DNS(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.1.0.54")}) {
		t.Errorf("the next client got DNS servers %v, want the new 10.1.0.54", got)
	}
	reaches(bob, "bob connected")
	if got := alice.DNS(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.1.0.53")}) {
		t.Errorf("the connected client's DNS servers are %v, want those it was given, 10.1.0.53", got)
	}

	// The first root removed (rotated out): alice's client goes, bob's
	// stays.
	q := *cfg.Gateways[0].P2S
	q.Roots = [][]byte{root2.Certificate.Raw}
	cfg.Gateways[0].P2S = &q
	if g := reconfigGateway(t, e, cfg); g.p2s != started {
		t.Fatal("removing a root restarted the point-to-site server")
	}
	select {
	case <-alice.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("alice's client stayed connected with her root removed")
	}
	reaches(bob, "alice's root removed")
	if _, err := dial(pkitest.Issue(t, "carol", false, root)); err == nil {
		t.Error("a client of the removed root connected")
	}
}
