package dataplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/radius"
)

// A change of the revoked certificates or of the RADIUS servers is
// applied to the running SSTP and OpenVPN server: reordering the
// revocations, writing one in another case, revoking a certificate no
// client uses or changing the RADIUS servers leaves the clients
// connected; revoking a client's certificate disconnects that client
// alone.
func TestP2SRevocationDisconnectsOnlyItsClient(t *testing.T) {
	root := pkitest.Issue(t, "P2S root", true, nil)
	pub := netip.MustParseAddr("127.93.0.1")
	server := pkitest.Issue(t, "gateway", false, root, pub).TLS()
	alice := pkitest.Issue(t, "alice", false, root).TLS()
	bob := pkitest.Issue(t, "bob", false, root).TLS()
	other := pkitest.Issue(t, "carol", false, root)
	thumb := func(c tls.Certificate) string {
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return eaptls.CertThumbprint(x)
	}
	carol := eaptls.CertThumbprint(other.Certificate)
	e := New(Options{IKEPort: 15714, NATTPort: 15715, SSTPPort: 15716,
		GatewayCert: func(netip.Addr) (tls.Certificate, error) { return server, nil }})
	defer e.Close()
	p := &GatewayP2S{Pool: netip.MustParsePrefix("172.16.201.0/24"), TCPPool: netip.MustParsePrefix("172.16.201.0/24"), SSTP: true,
		Roots: [][]byte{root.Certificate.Raw}, Revoked: []string{carol, "00112233445566778899AABBCCDDEEFF00112233"},
		Radius: []radius.Server{{Addr: netip.MustParseAddrPort("127.93.0.9:1812"), Secret: []byte("s1")}}}
	cfg, roots := startP2S(t, e, pub, p, root)
	dial := func(cert tls.Certificate) *p2s.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := p2s.Dial(ctx, p2s.ClientConfig{Server: netip.AddrPortFrom(pub, 15716), ServerName: pub.String(), RootCAs: roots, Cert: cert})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ca, cb := dial(alice), dial(bob)
	stays := func(what string) {
		t.Helper()
		for _, c := range []*p2s.Client{ca, cb} {
			select {
			case err := <-c.Done():
				t.Fatalf("%s: client %v disconnected: %v", what, c.Addr(), err)
			default:
			}
		}
		if n := len(e.P2SClients("gw")); n != 2 {
			t.Fatalf("%s: %d clients listed, want 2", what, n)
		}
	}
	changes := []struct {
		name   string
		change func(*GatewayP2S)
	}{
		{"the revocations reordered", func(p *GatewayP2S) { p.Revoked = []string{p.Revoked[1], p.Revoked[0]} }},
		{"a revocation in lower case, with colons", func(p *GatewayP2S) {
			var b strings.Builder
			for i, r := range strings.ToLower(carol) {
				if i > 0 && i%2 == 0 {
					b.WriteByte(':')
				}
				b.WriteRune(r)
			}
			p.Revoked = []string{p.Revoked[0], b.String()}
		}},
		{"a certificate no client uses revoked", func(p *GatewayP2S) { p.Revoked = append(p.Revoked, "FFEEDDCCBBAA99887766554433221100FFEEDDCC") }},
		{"another RADIUS server", func(p *GatewayP2S) {
			p.Radius = []radius.Server{{Addr: netip.MustParseAddrPort("127.93.0.10:1812"), Secret: []byte("s2")}, p.Radius[0]}
		}},
	}
	for _, c := range changes {
		q := *cfg.Gateways[0].P2S
		q.Revoked, q.Radius = append([]string(nil), q.Revoked...), append([]radius.Server(nil), q.Radius...)
		c.change(&q)
		cfg.Gateways[0].P2S = &q
		reconfigGateway(t, e, cfg)
		// A restart ends the connections before Reconfig returns: the
		// new server lists none.
		stays(c.name)
	}
	q := *cfg.Gateways[0].P2S
	q.Revoked = append(append([]string(nil), q.Revoked...), strings.ToLower(thumb(bob)))
	cfg.Gateways[0].P2S = &q
	reconfigGateway(t, e, cfg)
	select {
	case <-cb.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("bob's client stayed connected with its certificate revoked")
	}
	select {
	case err := <-ca.Done():
		t.Fatalf("alice's client disconnected by bob's revocation: %v", err)
	default:
	}
	// Bob's client may hear the end before the server has taken him off its
	// list: wait for the list to settle on alice.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		cs := e.P2SClients("gw")
		if len(cs) == 1 && cs[0].Identity == "alice" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients after bob's revocation: %+v, want alice alone", cs)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p2s.Dial(ctx, p2s.ClientConfig{Server: netip.AddrPortFrom(pub, 15716), ServerName: pub.String(), RootCAs: roots, Cert: bob}); err == nil {
		t.Fatal("bob connected again with his certificate revoked")
	}
}

// TestP2SRestartDoesNotWaitForClients: a change that restarts the
// point-to-site server (its pool) returns without waiting for the old
// server's SSTP clients to answer their CALL_DISCONNECT, which may take
// seconds each while every other reconfiguration and status read waits:
// they are disconnected in the background. The new server listens at
// once, the silent client's connection ends within the disconnect timers,
// and Close leaves none of it behind.
func TestP2SRestartDoesNotWaitForClients(t *testing.T) {
	root := pkitest.Issue(t, "P2S root", true, nil)
	pub := netip.MustParseAddr("127.93.1.1")
	server := pkitest.Issue(t, "gateway", false, root, pub).TLS()
	e := New(Options{IKEPort: 15734, NATTPort: 15735, SSTPPort: 15736,
		GatewayCert: func(netip.Addr) (tls.Certificate, error) { return server, nil }})
	defer e.Close()
	p := &GatewayP2S{Pool: netip.MustParsePrefix("172.16.203.0/24"), TCPPool: netip.MustParsePrefix("172.16.203.0/24"), SSTP: true,
		Roots: [][]byte{root.Certificate.Raw}}
	cfg, roots := startP2S(t, e, pub, p, root)
	// The client connects through a relay that, once held, passes on
	// nothing more the gateway sends: the client never sees the
	// CALL_DISCONNECT, so never answers it. The relay notes when the
	// gateway ends the connection.
	relay, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	var hold atomic.Bool
	ended := make(chan struct{})
	go func() {
		c, err := relay.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s, err := net.Dial("tcp", netip.AddrPortFrom(pub, 15736).String())
		if err != nil {
			return
		}
		defer s.Close()
		go io.Copy(s, c)
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Read(buf)
			if err != nil {
				close(ended)
				return
			}
			if !hold.Load() {
				c.Write(buf[:n])
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p2s.Dial(ctx, p2s.ClientConfig{Server: netip.MustParseAddrPort(relay.Addr().String()), ServerName: pub.String(), RootCAs: roots,
		Cert: pkitest.Issue(t, "alice", false, root).TLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Admitted: the gateway lists it (it tells the clients it lists,
	// and closes the rest).
	for deadline := time.Now().Add(30 * time.Second); len(e.P2SClients("gw")) != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway lists %d clients, want 1", len(e.P2SClients("gw")))
		}
	}
	hold.Store(true)

	q := *p
	q.Pool, q.TCPPool = netip.MustParsePrefix("172.16.204.0/24"), netip.MustParsePrefix("172.16.204.0/24")
	cfg.Gateways[0].P2S = &q
	g := reconfigGateway(t, e, cfg)
	// Had Reconfig waited, the connection would have ended as it
	// returned: the relay would see it end at once, not seconds on.
	select {
	case <-ended:
		t.Fatal("the restart waited for the old server's silent client: its connection ended as Reconfig returned")
	case <-time.After(200 * time.Millisecond):
	}
	if g == nil || g.p2s == nil {
		t.Fatal("the point-to-site server did not start again")
	}
	c2, err := p2s.Dial(ctx, p2s.ClientConfig{Server: netip.AddrPortFrom(pub, 15736), ServerName: pub.String(), RootCAs: roots,
		Cert: pkitest.Issue(t, "bob", false, root).TLS()})
	if err != nil {
		t.Fatalf("a client of the new server: %v", err)
	}
	defer c2.Close()
	if a := c2.Addr(); !q.TCPPool.Contains(a) {
		t.Errorf("the new server's client has %v, not an address of the new pool %v", a, q.TCPPool)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the old server never ended its silent client's connection")
	}
}

// startP2S configures e with gateway "gw" at pub, in VNet "v"
// (10.1.0.0/16), serving p; it returns the configuration and the pool of
// root, which the gateway's certificate chains to.
func startP2S(t *testing.T, e *Engine, pub netip.Addr, p *GatewayP2S, root *pkitest.Cert) (Config, *x509.CertPool) {
	t.Helper()
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "gwsubnet", PublicAddr: pub, PrivateAddr: netip.MustParseAddr("10.1.255.4"), P2S: p}}}
	if g := reconfigGateway(t, e, cfg); g == nil || g.p2s == nil {
		t.Fatal("the point-to-site server did not start")
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
	return cfg, roots
}

// TestP2SRetriedAfterFailedStart: a point-to-site server that could not
// start (its port taken by another program) is started again by Retry,
// as a gateway that could not start is, once RetryInterval has passed
// and the port is free: clients connect without a change of the
// gateway's configuration. It was tried again only at the next one.
func TestP2SRetriedAfterFailedStart(t *testing.T) {
	root := pkitest.Issue(t, "P2S root", true, nil)
	pub := netip.MustParseAddr("127.93.2.1")
	server := pkitest.Issue(t, "gateway", false, root, pub).TLS()
	taken, err := net.Listen("tcp", netip.AddrPortFrom(pub, 15756).String())
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	e := New(Options{IKEPort: 15754, NATTPort: 15755, SSTPPort: 15756,
		GatewayCert: func(netip.Addr) (tls.Certificate, error) { return server, nil }})
	defer e.Close()
	p := &GatewayP2S{Pool: netip.MustParsePrefix("172.16.205.0/24"), TCPPool: netip.MustParsePrefix("172.16.205.0/24"), SSTP: true,
		Roots: [][]byte{root.Certificate.Raw}}
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "gwsubnet", PublicAddr: pub, PrivateAddr: netip.MustParseAddr("10.1.255.4"), P2S: p}}}
	if g := reconfigGateway(t, e, cfg); g == nil || g.gw == nil || g.p2s != nil {
		t.Fatalf("with its port taken: gateway %+v; want it running without its point-to-site server", g)
	}
	taken.Close()
	if e.Retry() {
		t.Fatal("Retry started the point-to-site server before RetryInterval")
	}
	e.mu.Lock()
	e.gateways["gw"].p2sFailedAt = time.Now().Add(-RetryInterval)
	e.mu.Unlock()
	if !e.Retry() {
		t.Fatal("Retry did not start the point-to-site server RetryInterval after it failed, its port free")
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p2s.Dial(ctx, p2s.ClientConfig{Server: netip.AddrPortFrom(pub, 15756), ServerName: pub.String(), RootCAs: roots,
		Cert: pkitest.Issue(t, "alice", false, root).TLS()})
	if err != nil {
		t.Fatalf("a client of the server Retry started: %v", err)
	}
	defer c.Close()
	if a := c.Addr(); !p.TCPPool.Contains(a) {
		t.Errorf("the client has %v, not an address of the pool %v", a, p.TCPPool)
	}
}
