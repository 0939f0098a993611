package netns

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestActiveActiveFailover: an active-active gateway runs a tunnel of its
// connection from each of its two public addresses, and strongSwan,
// configured from the connection's device script, holds both. When the
// path to the first instance breaks, that tunnel goes down on DPD and the
// VNet's traffic moves to the second instance's tunnel with no API call:
// the hosts still reach each other and the connection stays Connected.
func TestActiveActiveFailover(t *testing.T) {
	require(t)
	netnstest.Require(t, "nft")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("aa", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, addrs := r.activeActive(vnet, "aa-gw")
	host, hostAddr := r.tunHost(vnet, "web")
	s := newSite(t, r, 1, pool)
	lgw := r.localGateway("aa", "westeurope", "branch", s.addr, s.lanTS)
	conn := r.putConnection(gw, "hub-to-branch", "", arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.DPDTimeoutSeconds = 9
	})
	script, err := r.c.DeviceScript(context.Background(), conn, arm.VPNDeviceScriptParameters{})
	if err != nil {
		t.Fatal(err)
	}
	// strongSwan gives up on a silent peer after about 5 s of liveness
	// checks, not its default 165 s.
	s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: script,
		CharonExtra: "  retransmit_timeout = 1\n  retransmit_tries = 2\n  retransmit_base = 1.5"})
	deadline := time.Now().Add(30 * time.Second)
	for sas := s.ch.SAs(); strings.Count(sas, "ESTABLISHED") != 2 || strings.Count(sas, "INSTALLED") != 2; sas = s.ch.SAs() {
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan does not hold a tunnel to each instance:\n%s\nthe script:\n%s", sas, script)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.waitConnection(conn, 30*time.Second, "both tunnels Connected", func(p arm.ConnectionProperties) bool {
		return p.ConnectionStatus == "Connected" && tunnel(p, addrs[0]) == "Connected" && tunnel(p, addrs[1]) == "Connected"
	})
	ping(t, host, s.host, 10*time.Second)
	ping(t, s.lan, hostAddr, 10*time.Second)

	// The path between the site and the first instance breaks.
	s.gw.Run("nft", fmt.Sprintf("add table inet aa; add chain inet aa out { type filter hook output priority 0; }; add rule inet aa out ip daddr %s drop; "+
		"add chain inet aa in { type filter hook input priority 0; }; add rule inet aa in ip saddr %s drop", addrs[0], addrs[0]))
	start := time.Now()
	r.waitConnection(conn, 40*time.Second, "the first tunnel down, the connection still Connected", func(p arm.ConnectionProperties) bool {
		return tunnel(p, addrs[0]) != "Connected" && tunnel(p, addrs[1]) == "Connected" && p.ConnectionStatus == "Connected"
	})
	t.Logf("the first instance's tunnel went down %s after the path broke", time.Since(start).Round(100*time.Millisecond))
	ping(t, host, s.host, 30*time.Second)
	ping(t, s.lan, hostAddr, 30*time.Second)
	t.Logf("traffic passed through the second instance %s after the path broke", time.Since(start).Round(100*time.Millisecond))
}

// activeActive makes an active-active gateway in vnet with two public
// addresses and returns its id and the addresses.
func (r *region) activeActive(vnet arm.ID, name string) (arm.ID, []netip.Addr) {
	r.t.Helper()
	gw := arm.NetworkID(vnet.Subscription, vnet.ResourceGroup, "virtualNetworkGateways", name)
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType, g.Properties.ActiveActive = arm.GatewayTypeVpn, arm.RouteBased, true
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw2", Tier: "VpnGw2"}
	var pips []arm.ID
	for i := range 2 {
		pip := arm.NetworkID(vnet.Subscription, vnet.ResourceGroup, "publicIPAddresses", fmt.Sprintf("%s-ip%d", name, i))
		r.put(pip, arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}, nil)
		pips = append(pips, pip)
		g.Properties.IPConfigurations = append(g.Properties.IPConfigurations, arm.VirtualNetworkGatewayIPConfiguration{
			Name: fmt.Sprintf("ipconfig%d", i+1), Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
				Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}})
	}
	r.put(gw, g, nil)
	var addrs []netip.Addr
	for _, pip := range pips {
		var got arm.PublicIPAddress
		r.get(pip, &got)
		addrs = append(addrs, netip.MustParseAddr(got.Properties.IPAddress))
	}
	return gw, addrs
}

// tunnel returns the status of the connection's tunnel from the gateway
// instance at a.
func tunnel(p arm.ConnectionProperties, a netip.Addr) string {
	for _, tc := range p.TunnelConnectionStatus {
		if strings.HasSuffix(tc.Tunnel, "-"+a.String()) {
			return tc.ConnectionStatus
		}
	}
	return ""
}

// TestActiveActiveVnet2Vnet: two active-active gateways joined VNet to
// VNet run a tunnel between their first instances and one between their
// second, each side's connection listing both. When the first pair's path
// breaks, DPD takes that tunnel down and the hosts reach each other
// through the second pair, with no API call.
func TestActiveActiveVnet2Vnet(t *testing.T) {
	require(t)
	netnstest.Require(t, "nft")
	r := newRegion(t, regionOptions{pool: pool})
	activeActiveVnet2Vnet(t, r, r)
}

// TestActiveActiveVnet2VnetAcrossRegions is TestActiveActiveVnet2Vnet
// with the gateways in two regions (R1), each finding the other's
// instances through its peer's API.
func TestActiveActiveVnet2VnetAcrossRegions(t *testing.T) {
	require(t)
	netnstest.Require(t, "nft")
	a, b, _ := peeredRegions(t)
	activeActiveVnet2Vnet(t, a, b)
}

func activeActiveVnet2Vnet(t *testing.T, r1, r2 *region) {
	t.Helper()
	v1 := r1.vnet("aa1", "westeurope", "one", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	v2 := r2.vnet("aa2", "westeurope", "two", []string{"10.2.0.0/16"}, "10.2.255.0/27")
	gw1, a1 := r1.activeActive(v1, "gw1")
	gw2, a2 := r2.activeActive(v2, "gw2")
	h1, h1Addr := r1.tunHost(v1, "h1")
	h2, h2Addr := r2.tunHost(v2, "h2")
	var conns []arm.ID
	for _, c := range []struct {
		r        *region
		name     string
		from, to arm.ID
	}{{r1, "one-to-two", gw1, gw2}, {r2, "two-to-one", gw2, gw1}} {
		conns = append(conns, c.r.putConnection(c.from, c.name, "AAVnet2VnetKey", arm.ConnectionVnet2Vnet, func(p *arm.ConnectionProperties) {
			p.VirtualNetworkGateway2 = arm.Ref(c.to.String())
			p.DPDTimeoutSeconds = 9
		}))
	}
	// Azure's full mesh: four tunnels, each instance to each.
	mesh := func(p arm.ConnectionProperties, mine, theirs []netip.Addr, except [2]netip.Addr) bool {
		if p.ConnectionStatus != "Connected" || len(p.TunnelConnectionStatus) != 4 {
			return false
		}
		for _, l := range mine {
			for _, r := range theirs {
				if up := meshTunnel(p, l, r) == "Connected"; up != ([2]netip.Addr{l, r} != except) {
					return false
				}
			}
		}
		return true
	}
	r1.waitConnection(conns[0], 30*time.Second, "a tunnel from each instance to each", func(p arm.ConnectionProperties) bool { return mesh(p, a1, a2, [2]netip.Addr{}) })
	r2.waitConnection(conns[1], 30*time.Second, "a tunnel from each instance to each", func(p arm.ConnectionProperties) bool { return mesh(p, a2, a1, [2]netip.Addr{}) })
	ping(t, h1, h2Addr, 10*time.Second)

	r1.ns.Run("nft", fmt.Sprintf("add table inet aa; add chain inet aa out { type filter hook output priority 0; }; add rule inet aa out ip saddr %s ip daddr %s drop; "+
		"add chain inet aa in { type filter hook input priority 0; }; add rule inet aa in ip saddr %s ip daddr %s drop", a1[0], a2[0], a2[0], a1[0]))
	start := time.Now()
	r1.waitConnection(conns[0], 40*time.Second, "the first instances' tunnel down, the other three up", func(p arm.ConnectionProperties) bool {
		return mesh(p, a1, a2, [2]netip.Addr{a1[0], a2[0]})
	})
	standby := func() uint64 {
		n, _ := r1.metric("vnetgw_tunnel_egress_packets_total", "connection", strings.ToLower(conns[0].String()), "gateway_instance", "0", "standby", "1")
		return n
	}
	before := standby()
	ping(t, h1, h2Addr, 30*time.Second)
	ping(t, h2, h1Addr, 30*time.Second)
	t.Logf("the first instances' path broke: traffic passes %s later (DPD 9 s)", time.Since(start).Round(100*time.Millisecond))
	// The first instance still carries the traffic, through its standby
	// tunnel to the second instance of the other gateway.
	if after := standby(); after <= before {
		t.Errorf("the first instance's standby tunnel sent %d packets during the pings", after-before)
	}
}

// meshTunnel is the state of the tunnel from local to remote in a
// connection between two active-active gateways.
func meshTunnel(p arm.ConnectionProperties, local, remote netip.Addr) string {
	for _, tc := range p.TunnelConnectionStatus {
		if strings.HasSuffix(tc.Tunnel, "-"+local.String()+"-"+remote.String()) {
			return tc.ConnectionStatus
		}
	}
	return ""
}
