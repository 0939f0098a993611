package reconcile

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestPointToSiteThroughTheRegion: a gateway whose vpnClientConfiguration
// has a pool, SSTP and an uploaded root (R12) serves SSTP on its public
// address (R13); vnetgw's client (R10) with a certificate of that root
// gets an address of the pool and reaches a host in the VNet, and one in
// a VNet the gateway is connected to VNet-to-VNet with BGP, which learns
// the pool (R33); the data plane lists the client.
func TestPointToSiteThroughTheRegion(t *testing.T) {
	gwCA := pkitest.Issue(t, "gateway CA", true, nil)
	l, err := net.Listen("tcp", "127.10.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	ike, natt := freeUDPPorts(t)
	f := newFixtureWith(t, dataplane.Options{IKEPort: ike, NATTPort: natt, SSTPPort: port, GatewayCert: func(a netip.Addr) (tls.Certificate, error) {
		return pkitest.Issue(t, a.String(), false, gwCA, a).TLS(), nil
	}})
	root := pkitest.Issue(t, "P2S root", true, nil)
	alice := pkitest.Issue(t, "alice", false, root)

	ctx := context.Background()
	v := f.vnet(t, "p2s", "hub", "10.1.0.0/16",
		arm.Subnet{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: "10.1.0.0/24"}},
		arm.Subnet{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: "10.1.255.0/27"}})
	pip := arm.NetworkID(sub, "p2s", "publicIPAddresses", "gw-ip")
	if _, _, err := f.reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}); err != nil {
		t.Fatal(err)
	}
	gwID := arm.NetworkID(sub, "p2s", "virtualNetworkGateways", "gw")
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType, g.Properties.EnableBGP = arm.GatewayTypeVpn, arm.RouteBased, true
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip",
		Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(v.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	g.Properties.VPNClientConfiguration = &arm.VPNClientConfiguration{
		VPNClientAddressPool: &arm.AddressSpace{AddressPrefixes: []string{"172.16.201.0/24"}}, VPNClientProtocols: []string{"SSTP"},
		VPNClientRootCertificates: []arm.VPNClientRootCertificate{{Name: "root", Properties: arm.VPNClientRootCertificateProperties{PublicCertData: base64.StdEncoding.EncodeToString(root.Raw)}}}}
	if _, _, err := f.reg.PutGateway(ctx, gwID, g); err != nil {
		t.Fatal(err)
	}
	// Its BGP speaker advertises the pool with the VNet's range (R33, R41).
	if b := Build(f.reg.Snapshot(), nil).Gateways[0].BGP; b == nil || !slices.Contains(b.Networks, netip.MustParsePrefix("172.16.201.0/24")) ||
		!slices.Contains(b.Networks, netip.MustParsePrefix("10.1.0.0/16")) {
		t.Errorf("the BGP speaker's networks: %+v", b)
	}
	web, webAddr := f.nic(t, "p2s", "web", v.Child("subnets", "default"))
	f.waitHost(t, web)
	// A spoke VNet connected VNet-to-VNet, with BGP (R33).
	spokeV, spokeGW := f.gateway(t, "p2s", "spoke", "10.2.0.0/16", 65020, 1)
	f.connect(t, "p2s", gwID, spokeGW, true)
	f.connect(t, "p2s", spokeGW, gwID, true)
	spokeWeb, spokeAddr := f.nic(t, "p2s", "spoke-web", spokeV.Child("subnets", "default"))
	f.waitHost(t, spokeWeb)
	snap := f.reg.Snapshot()
	pubs := snap.PublicAddrs(snap.Gateway(gwID.String()))

	trust := x509.NewCertPool()
	trust.AddCert(gwCA.Certificate)
	var host atomic.Pointer[fabric.NetstackHost]
	var c *p2s.Client
	deadline := time.Now().Add(10 * time.Second)
	for {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err = p2s.Dial(dctx, p2s.ClientConfig{Server: netip.AddrPortFrom(pubs[0], port), ServerName: pubs[0].String(), RootCAs: trust,
			Cert: alice.TLS(),
			OnIP: func(p []byte) {
				if h := host.Load(); h != nil {
					h.Deliver(p)
				}
			}})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client could not connect: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the data plane starts the server
	}
	defer c.Close()
	if !netip.MustParsePrefix("172.16.201.0/24").Contains(c.Addr()) {
		t.Fatalf("client address %v is not of the pool", c.Addr())
	}
	h, err := fabric.NewNetstackEndpoint("alice", c.Addr(), 0, c)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	host.Store(h)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, err := h.HTTPGet(pctx, webAddr)
	if err != nil || !strings.Contains(body, "hello from web") {
		t.Fatalf("HTTP from the client to the VNet host: %q %v", body, err)
	}
	for {
		short, c2 := context.WithTimeout(pctx, time.Second)
		body, err = h.HTTPGet(short, spokeAddr)
		c2()
		if err == nil && strings.Contains(body, "hello from spoke-web") {
			break
		}
		if pctx.Err() != nil {
			t.Fatalf("HTTP from the client to the connected VNet's host: %q %v; the spoke learned %v", body, err, f.eng.LearnedPrefixes(spokeGW.Key()))
		}
	}
	cs := f.eng.P2SClients(gwID.Key())
	if len(cs) != 1 || cs[0].Identity != "alice" || cs[0].Addr != c.Addr() {
		t.Fatalf("the gateway's clients: %+v", cs)
	}
	// getVpnClientConnectionHealth shows the client's peak rate, once
	// sampled: some of the HTTP it did, never more than its traffic.
	var hd []arm.VPNClientConnectionHealthDetail
	for hd = (Live{Engine: f.eng}).VPNClients(gwID.String()); len(hd) == 1 && hd[0].MaxPacketsPerSecond == 0; hd = (Live{Engine: f.eng}).VPNClients(gwID.String()) {
		if pctx.Err() != nil {
			t.Fatalf("the client's peak rate never shown: %+v", hd)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(hd) != 1 || hd[0].MaxBandwidth == 0 || hd[0].MaxBandwidth > hd[0].IngressBytesTransferred+hd[0].EgressBytesTransferred ||
		hd[0].MaxPacketsPerSecond > hd[0].IngressPacketsTransferred+hd[0].EgressPacketsTransferred {
		t.Errorf("the client's health: %+v", hd)
	}
}
