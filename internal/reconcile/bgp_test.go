package reconcile

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// freeUDPPorts returns two UDP ports free on 127.10.0.0/24's first
// addresses, for gateways that run without root.
func freeUDPPorts(t *testing.T) (uint16, uint16) {
	t.Helper()
	var ports []uint16
	for len(ports) < 2 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 10, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, uint16(c.LocalAddr().(*net.UDPAddr).Port))
		defer c.Close()
	}
	return ports[0], ports[1]
}

// TestBGPTransitAcrossVNets: three VNets in a chain, A - B - C, joined
// VNet to VNet with BGP on every gateway (R41), in one process on loopback.
// A's ranges say nothing of C's, yet A learns C's range from B, with B's
// and C's ASNs on the path, and a host in A reaches a host in C through B
// (transit, R37): only BGP can have told it the way.
func TestBGPTransitAcrossVNets(t *testing.T) {
	ike, natt := freeUDPPorts(t)
	f := newFixtureWith(t, dataplane.Options{IKEPort: ike, NATTPort: natt})
	ctx := context.Background()
	must := func(_ any, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	gw := func(name, space string, asn int64) (arm.ID, arm.ID) {
		v := f.vnet(t, "bgp", name, space,
			arm.Subnet{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0.0/16", ".0.0/24", 1)}},
			arm.Subnet{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0.0/16", ".255.0/27", 1)}})
		pip := arm.NetworkID(sub, "bgp", "publicIPAddresses", name+"-ip")
		must(f.reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}))
		id := arm.NetworkID(sub, "bgp", "virtualNetworkGateways", name+"-gw")
		g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
		g.Properties.GatewayType, g.Properties.VPNType, g.Properties.EnableBGP = arm.GatewayTypeVpn, arm.RouteBased, true
		g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
		g.Properties.BGPSettings = &arm.BGPSettings{ASN: asn}
		g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip",
			Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(v.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
		must(f.reg.PutGateway(ctx, id, g))
		return v, id
	}
	connect := func(from, to arm.ID) {
		c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
		c.Properties.ConnectionType, c.Properties.EnableBGP, c.Properties.SharedKey = arm.ConnectionVnet2Vnet, true, "TransitKey2026"
		c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(from.String()), arm.Ref(to.String())
		must(f.reg.PutConnection(ctx, arm.NetworkID(sub, "bgp", "connections", from.Name()+"-to-"+to.Name()), c))
	}
	va, ga := gw("a", "10.1.0.0/16", 65001)
	_, gb := gw("b", "10.2.0.0/16", 65002)
	vc, gc := gw("c", "10.3.0.0/16", 65003)
	connect(ga, gb)
	connect(gb, ga)
	connect(gb, gc)
	connect(gc, gb)
	ha, _ := f.nic(t, "bgp", "host-a", va.Child("subnets", "default"))
	hc, hcAddr := f.nic(t, "bgp", "host-c", vc.Child("subnets", "default"))
	f.waitHost(t, ha)
	f.waitHost(t, hc)

	deadline := time.Now().Add(30 * time.Second)
	for {
		var path string
		if ss := f.eng.BGP(ga.Key()); len(ss) == 1 {
			for _, r := range ss[0].Best() {
				if r.Prefix == netip.MustParsePrefix("10.3.0.0/16") {
					path = fmt.Sprint(r.ASPath)
				}
			}
		}
		if path == fmt.Sprint([]wire.Segment{{ASNs: []uint32{65002, 65003}}}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A did not learn C's range through B (path %q); A's peers %+v", path, f.eng.BGP(ga.Key())[0].Peers())
		}
		time.Sleep(50 * time.Millisecond)
	}
	h, _ := f.eng.NetstackHost(ha.Key())
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		short, c2 := context.WithTimeout(pctx, time.Second)
		_, err := h.Ping(short, hcAddr)
		c2()
		if err == nil {
			break
		}
		if pctx.Err() != nil {
			t.Fatalf("host A does not reach host C through B: %v; A's routes %v", err, f.eng.LearnedPrefixes(ga.Key()))
		}
	}
	body, err := h.HTTPGet(pctx, hcAddr)
	if err != nil || !strings.Contains(body, "hello from host-c") {
		t.Fatalf("HTTP A -> C through B: %q %v", body, err)
	}
}
