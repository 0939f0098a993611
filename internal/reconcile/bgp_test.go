package reconcile

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/bgp"
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

// TestBGPActiveActiveMesh: VNet to VNet with BGP between an active-active
// gateway and another, in one process on loopback: each instance's
// speaker has an established session with each instance of the other
// gateway, and each hub instance learns the spoke's range over BGP.
func TestBGPActiveActiveMesh(t *testing.T) {
	ike, natt := freeUDPPorts(t)
	f := newFixtureWith(t, dataplane.Options{IKEPort: ike, NATTPort: natt})
	ctx := context.Background()
	must := func(_ any, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	gw := func(name, space string, asn int64, instances int) arm.ID {
		v := f.vnet(t, "mesh", name, space,
			arm.Subnet{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0.0/16", ".255.0/27", 1)}})
		id := arm.NetworkID(sub, "mesh", "virtualNetworkGateways", name+"-gw")
		g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
		g.Properties.GatewayType, g.Properties.VPNType, g.Properties.EnableBGP = arm.GatewayTypeVpn, arm.RouteBased, true
		g.Properties.ActiveActive = instances > 1
		g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw2"}
		g.Properties.BGPSettings = &arm.BGPSettings{ASN: asn}
		for i := range instances {
			pip := arm.NetworkID(sub, "mesh", "publicIPAddresses", fmt.Sprintf("%s-ip%d", name, i))
			must(f.reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}))
			g.Properties.IPConfigurations = append(g.Properties.IPConfigurations, arm.VirtualNetworkGatewayIPConfiguration{Name: fmt.Sprintf("ip%d", i),
				Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(v.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}})
		}
		must(f.reg.PutGateway(ctx, id, g))
		return id
	}
	hub, spoke := gw("hub", "10.1.0.0/16", 65010, 2), gw("spoke", "10.2.0.0/16", 65020, 1)
	for _, ends := range [][2]arm.ID{{hub, spoke}, {spoke, hub}} {
		c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
		c.Properties.ConnectionType, c.Properties.EnableBGP, c.Properties.SharedKey = arm.ConnectionVnet2Vnet, true, "MeshKey2026"
		c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(ends[0].String()), arm.Ref(ends[1].String())
		must(f.reg.PutConnection(ctx, arm.NetworkID(sub, "mesh", "connections", ends[0].Name()+"-to-"+ends[1].Name()), c))
	}
	sessions := func(id arm.ID) (up, all int) {
		for _, s := range f.eng.BGP(id.Key()) {
			for _, p := range s.Peers() {
				all++
				if p.State == "Established" {
					up++
				}
			}
		}
		return
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		hu, ha := sessions(hub)
		su, sa := sessions(spoke)
		if hu == 2 && ha == 2 && su == 2 && sa == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions established: hub %d of %d, spoke %d of %d (want 2 of 2 each)", hu, ha, su, sa)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, s := range f.eng.BGP(hub.Key()) {
		if !slices.ContainsFunc(s.Best(), func(r bgp.Route) bool { return r.Prefix == netip.MustParsePrefix("10.2.0.0/16") }) {
			t.Errorf("hub instance %d did not learn the spoke's range: %+v", i, s.Best())
		}
	}
}
