package netns

import (
	"encoding/base64"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// clientPKI writes a client certificate of a new root, and its key, to
// dir and returns the root's DER.
func clientPKI(t *testing.T, dir, cn string) (rootDER []byte, certFile, keyFile string) {
	t.Helper()
	root := pkitest.Issue(t, cn+" root", true, nil)
	certFile, keyFile = pkitest.Issue(t, cn, false, root).WritePEM(t, dir, cn)
	return root.Raw, certFile, keyFile
}

// TestPointToSiteSSTP: a gateway with a client pool, SSTP and an uploaded
// root (R12) serves point-to-site on its public address (R13, --sstp-port).
// vnetgw's own client (R10, `vnetgw p2s connect`) with a certificate of
// that root puts a TUN device with a pool address into a namespace, and
// the programs there ping the VNet's host and are pinged back; a client
// whose certificate chains to another root is refused.
func TestPointToSiteSSTP(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := r.tunHost(vnet, "web")
	dir := t.TempDir()
	rootDER, certFile, keyFile := clientPKI(t, dir, "alice")
	_, strangerCert, strangerKey := clientPKI(t, dir, "mallory")

	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.VPNClientConfiguration = &arm.VPNClientConfiguration{
		VPNClientAddressPool: &arm.AddressSpace{AddressPrefixes: []string{"172.16.201.0/24"}}, VPNClientProtocols: []string{"SSTP"},
		VPNClientRootCertificates: []arm.VPNClientRootCertificate{{Name: "alice-root", Properties: arm.VPNClientRootCertificateProperties{
			PublicCertData: base64.StdEncoding.EncodeToString(rootDER)}}}}
	r.put(gw, g, nil)

	connect := func(ns *netnstest.NS, cert, key string) *netnstest.Process {
		return r.ns.Start(vnetgwBinary(t), "p2s", "connect", "--gateway", gwAddr.String()+":8443", "--ca", filepath.Join(r.dir, "ca.pem"),
			"--cert", cert, "--key", key, "--netns", ns.Name, "--route", "10.1.0.0/16")
	}
	laptop := netnstest.New(t, "lap")
	var p *netnstest.Process
	deadline := time.Now().Add(20 * time.Second)
	for {
		p = connect(laptop, certFile, keyFile)
		for i := 0; i < 50 && !strings.Contains(p.Output(), "connected to") && !p.Wait(0); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if strings.Contains(p.Output(), "connected to") {
			break
		}
		p.Kill()
		if time.Now().After(deadline) {
			t.Fatalf("the client did not connect:\n%s", p.Output())
		}
		time.Sleep(500 * time.Millisecond) // the gateway's server starts with the change
	}
	defer p.Kill()
	if !strings.Contains(p.Output(), "address 172.16.201.") {
		t.Errorf("the client's address is not of the pool:\n%s", p.Output())
	}
	ping(t, laptop, hostAddr, 10*time.Second)
	clientAddr := strings.Fields(p.Output()[strings.Index(p.Output(), "address ")+len("address "):])[0]
	ping(t, host, mustAddr(t, clientAddr), 10*time.Second)
	up, _ := iperf(t, laptop, host, hostAddr, 3)
	down, _ := iperf(t, host, laptop, mustAddr(t, clientAddr), 3)
	t.Logf("iperf3 TCP 3 s through SSTP: client -> VNet host %.0f Mbit/s, VNet host -> client %.0f Mbit/s", up, down)
	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "table"); err != nil ||
		!strings.Contains(out, "alice") || !strings.Contains(out, clientAddr) {
		t.Errorf("vpn-client show-health: %v\n%s", err, out)
	}

	other := netnstest.New(t, "lap")
	q := connect(other, strangerCert, strangerKey)
	if !q.Wait(15 * time.Second) {
		q.Kill()
		t.Fatalf("a client of another root was not refused:\n%s", q.Output())
	}
	if out := q.Output(); !strings.Contains(out, "refused the client certificate") {
		t.Errorf("the refused client says:\n%s", out)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return a
}

// TestR16ClientOnTwoVNets: one laptop connects to the gateways of two VNets
// at once, each with its own client pool (R16: neither the spaces nor the
// pools overlap); the programs in its namespace reach a host in each.
func TestR16ClientOnTwoVNets(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	dir := t.TempDir()
	rootDER, certFile, keyFile := clientPKI(t, dir, "alice")
	laptop := netnstest.New(t, "lap")
	for i, v := range []struct{ name, space, pool string }{{"hub", "10.1.0.0/16", "172.16.201.0/24"}, {"spoke", "10.2.0.0/16", "172.16.202.0/24"}} {
		vnet := r.vnet("r16", "westeurope", v.name, []string{v.space}, strings.Replace(v.space, ".0.0/16", ".255.0/27", 1))
		gw, gwAddr := r.gateway(vnet, v.name+"-gw", arm.RouteBased)
		_, hostAddr := r.tunHost(vnet, v.name+"-web")
		var g arm.VirtualNetworkGateway
		r.get(gw, &g)
		g.Properties.VPNClientConfiguration = &arm.VPNClientConfiguration{
			VPNClientAddressPool: &arm.AddressSpace{AddressPrefixes: []string{v.pool}}, VPNClientProtocols: []string{"SSTP"},
			VPNClientRootCertificates: []arm.VPNClientRootCertificate{{Name: "root", Properties: arm.VPNClientRootCertificateProperties{
				PublicCertData: base64.StdEncoding.EncodeToString(rootDER)}}}}
		r.put(gw, g, nil)
		var p *netnstest.Process
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			p = r.ns.Start(vnetgwBinary(t), "p2s", "connect", "--gateway", gwAddr.String()+":8443", "--ca", filepath.Join(r.dir, "ca.pem"),
				"--cert", certFile, "--key", keyFile, "--netns", laptop.Name, "--route", v.space)
			for i := 0; i < 50 && !strings.Contains(p.Output(), "connected to") && !p.Wait(0); i++ {
				time.Sleep(100 * time.Millisecond)
			}
			if strings.Contains(p.Output(), "connected to") {
				break
			}
			p.Kill()
			if time.Now().After(deadline) {
				t.Fatalf("client %d did not connect:\n%s", i, p.Output())
			}
		}
		t.Cleanup(p.Kill)
		if !strings.Contains(p.Output(), "address "+strings.TrimSuffix(v.pool, "0/24")) {
			t.Errorf("the address from %s is not of its pool %s:\n%s", v.name, v.pool, p.Output())
		}
		ping(t, laptop, hostAddr, 10*time.Second)
	}
	// Both at once: the first connection still carries traffic.
	ping(t, laptop, netip.MustParseAddr("10.1.0.4"), 10*time.Second)
}
