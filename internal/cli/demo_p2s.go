package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/p2s"
)

// demoCert makes a certificate for cn signed by parent (self-signed, a
// root, when parent is nil).
func demoCert(cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// demoPointToSite gives the hub's gateway a client pool, SSTP and a root
// certificate, connects vnetgw's own client with a certificate of that
// root, and fetches the hub host's page through it (R10-R13).
func demoPointToSite(ctx context.Context, out io.Writer, c *client.Client, dir string, hub *demoSite, port uint16) error {
	root, rootKey, err := demoCert("demo root", nil, nil)
	if err != nil {
		return err
	}
	alice, aliceKey, err := demoCert("alice", root, rootKey)
	if err != nil {
		return err
	}
	var gw arm.VirtualNetworkGateway
	if err := c.Get(ctx, hub.gw, &gw); err != nil {
		return err
	}
	gw.Properties.VPNClientConfiguration = &arm.VPNClientConfiguration{
		VPNClientAddressPool: &arm.AddressSpace{AddressPrefixes: []string{"172.16.201.0/24"}}, VPNClientProtocols: []string{"SSTP"},
		VPNClientRootCertificates: []arm.VPNClientRootCertificate{{Name: "demo-root", Properties: arm.VPNClientRootCertificateProperties{
			PublicCertData: base64.StdEncoding.EncodeToString(root.Raw)}}}}
	if _, err := c.Put(ctx, hub.gw, gw, nil); err != nil {
		return err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, datadir.CA))
	if err != nil {
		return err
	}
	trust := x509.NewCertPool()
	trust.AppendCertsFromPEM(caPEM)
	addr := netip.MustParseAddr(hub.gwAddr)
	var host atomic.Pointer[fabric.NetstackHost]
	cfg := p2s.ClientConfig{Server: netip.AddrPortFrom(addr, port), ServerName: addr.String(), RootCAs: trust,
		Cert: tls.Certificate{Certificate: [][]byte{alice.Raw}, PrivateKey: aliceKey, Leaf: alice},
		OnIP: func(pkt []byte) {
			if h := host.Load(); h != nil {
				h.Deliver(pkt)
			}
		}}
	var cl *p2s.Client
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cl, err = p2s.Dial(dctx, cfg)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err // the gateway's server starts with the change; it did not
		}
	}
	defer cl.Close()
	h, err := fabric.NewNetstackEndpoint("alice", cl.Addr(), 0, cl)
	if err != nil {
		return err
	}
	defer h.Close()
	host.Store(h)
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := h.HTTPGet(hctx, hub.hostAddr)
	if err != nil {
		return fmt.Errorf("HTTP alice -> %s: %w", hub.host, err)
	}
	fmt.Fprintf(out, "%-6s %-12s -> %-6s %-12s over SSTP, HTTP %q\n", "alice", cl.Addr(), hub.host, hub.hostAddr, strings.TrimSpace(body))
	return nil
}
