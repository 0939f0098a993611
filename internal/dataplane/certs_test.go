package dataplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestGatewayCertRenewedWhileRunning: a gateway's certificate is issued
// again once two thirds of its life have passed, while the gateway runs:
// a handshake after that gets a new certificate, which ends later, a new
// client connects with it, and the client connected before stays. The
// certificate was issued once, when the gateway started, so that after a
// year clients stopped trusting a gateway that ran on. Here it lives for
// 15 s.
func TestGatewayCertRenewedWhileRunning(t *testing.T) {
	root := pkitest.Issue(t, "P2S root", true, nil)
	pub := netip.MustParseAddr("127.91.0.1")
	const life = 15 * time.Second
	var issued atomic.Int32
	issue := func(a netip.Addr) (tls.Certificate, error) {
		issued.Add(1)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		now := time.Now()
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: serial, NotBefore: now, NotAfter: now.Add(life),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{a.AsSlice()}},
			root.Certificate, &key.PublicKey, root.Key)
		if err != nil {
			return tls.Certificate{}, err
		}
		leaf, err := x509.ParseCertificate(der)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, err
	}
	e := New(Options{IKEPort: 18301, NATTPort: 18302, SSTPPort: 18303, GatewayCert: issue, certCheck: 100 * time.Millisecond})
	defer e.Close()
	p := &GatewayP2S{Pool: netip.MustParsePrefix("172.16.201.0/24"), TCPPool: netip.MustParsePrefix("172.16.201.0/25"),
		IKEv2Pool: netip.MustParsePrefix("172.16.201.128/25"), SSTP: true, IKEv2MaxClients: 10, Routes: prefixes("10.1.0.0/16"),
		Roots: [][]byte{root.Certificate.Raw}}
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "gwsubnet", PublicAddr: pub, PrivateAddr: netip.MustParseAddr("10.1.255.4"), P2S: p}}}
	if g := reconfigGateway(t, e, cfg); g == nil || g.p2s == nil || !g.ikev2Clients {
		t.Fatal("point-to-site (SSTP and IKEv2) did not start")
	}
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
	served := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", netip.AddrPortFrom(pub, 18303).String(), &tls.Config{RootCAs: roots, ServerName: pub.String()})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	dial := func(cn string) *p2s.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := p2s.Dial(ctx, p2s.ClientConfig{Server: netip.AddrPortFrom(pub, 18303), ServerName: pub.String(), RootCAs: roots,
			Cert: pkitest.Issue(t, cn, false, root).TLS()})
		if err != nil {
			t.Fatalf("%s: %v", cn, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first := served()
	alice := dial("alice")
	if n := issued.Load(); n != 1 {
		t.Fatalf("the certificate was issued %d times before the first client connected: the test tests nothing on a machine this slow", n)
	}
	for deadline := time.Now().Add(life + time.Minute); !served().NotAfter.After(first.NotAfter); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s after its start the gateway still serves its first certificate, until %s", time.Since(first.NotBefore).Round(time.Second), first.NotAfter)
		}
	}
	select {
	case err := <-alice.Done():
		t.Fatalf("the client connected before the renewal was disconnected: %v", err)
	default:
	}
	dial("bob")
	if cs := e.P2SClients("gw"); len(cs) != 2 {
		t.Fatalf("clients after the renewal: %+v, want alice and bob", cs)
	}
	e.mu.Lock()
	ikev2 := e.gateways["gw"].ikev2Clients
	e.mu.Unlock()
	if !ikev2 {
		t.Error("the gateway stopped serving IKEv2 clients at the renewal")
	}
}
