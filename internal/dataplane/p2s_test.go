package dataplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"strings"
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
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "gwsubnet", PublicAddr: pub, PrivateAddr: netip.MustParseAddr("10.1.255.4"), P2S: p}}}
	if g := reconfigGateway(t, e, cfg); g == nil || g.p2s == nil {
		t.Fatal("the point-to-site server did not start")
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
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
