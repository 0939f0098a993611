package netns

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestForcedTunneling: a VNet host's packet to an Internet address is
// dropped and counted by the VNet's router while nothing routes it (R43:
// the VNet's packetCounters.droppedNoRoute grows); once the gateway names
// the strongSwan site as its gatewayDefaultSite, the same packet travels
// the tunnel and reaches a host with that address on the site's LAN,
// which answers (R25).
func TestForcedTunneling(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("forced", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, _ := r.tunHost(vnet, "web")
	nic := arm.NetworkID(sub, "forced", "networkInterfaces", "web")
	internet := netip.MustParseAddr("203.0.113.5")
	s := newSite(t, r, 1, pool, internet.String()+"/24")
	lgw := r.localGateway("forced", "westeurope", "branch", s.addr, s.lanTS)
	// The site sends everything from the VNet's side into the tunnel.
	s.charon(gwAddr, s2sKey, "0.0.0.0/0", "10.1.0.0/16")
	conn := r.connection(gw, lgw, "hub-to-branch", s2sKey)
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	ping(t, host, s.host, 10*time.Second) // the site itself is reachable

	// Without forced tunneling: no route, dropped and counted.
	if hop := r.defaultRoute(nic); hop != arm.NextHopNone {
		t.Fatalf("effective route 0.0.0.0/0 goes to %q, want %q", hop, arm.NextHopNone)
	}
	before := r.packetCounters(vnet)
	noPing(t, host, internet)
	after := r.waitPacketCounters(vnet, func(c arm.PacketCounters) bool { return c.DroppedNoRoute == before.DroppedNoRoute+2 })
	t.Logf("without forced tunneling: droppedNoRoute %d -> %d", before.DroppedNoRoute, after.DroppedNoRoute)

	// Forced tunneling to the site (R25).
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.GatewayDefaultSite = arm.Ref(lgw.String())
	r.put(gw, g, nil)
	if hop := r.defaultRoute(nic); hop != arm.NextHopGateway {
		t.Fatalf("with forced tunneling, effective route 0.0.0.0/0 goes to %q, want %q", hop, arm.NextHopGateway)
	}
	ping(t, host, internet, 10*time.Second)
	time.Sleep(3 * time.Second) // the counters are written every 2 s
	if c := r.packetCounters(vnet); c.DroppedNoRoute != after.DroppedNoRoute {
		t.Errorf("with forced tunneling droppedNoRoute still grows: %d -> %d", after.DroppedNoRoute, c.DroppedNoRoute)
	}
}

// defaultRoute returns the next hop type of 0.0.0.0/0 in the network
// interface's effective routes.
func (r *region) defaultRoute(nic arm.ID) string {
	r.t.Helper()
	var routes arm.List[arm.EffectiveRoute]
	if _, err := r.c.Do(context.Background(), http.MethodPost, nic.String()+"/effectiveRouteTable", nil, &routes); err != nil {
		r.t.Fatal(err)
	}
	for _, rt := range routes.Value {
		if slices.Contains(rt.AddressPrefix, "0.0.0.0/0") {
			return rt.NextHopType
		}
	}
	return ""
}

func (r *region) packetCounters(vnet arm.ID) arm.PacketCounters {
	r.t.Helper()
	var v arm.VirtualNetwork
	r.get(vnet, &v)
	if v.Properties.PacketCounters == nil {
		return arm.PacketCounters{}
	}
	return *v.Properties.PacketCounters
}

// waitPacketCounters waits until the VNet's counters, as the API shows
// them, satisfy ok.
func (r *region) waitPacketCounters(vnet arm.ID, ok func(arm.PacketCounters) bool) arm.PacketCounters {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := r.packetCounters(vnet)
		if ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("VNet counters after 10 s: %+v", c)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestForcedTunnelingDualStackDeviceScript: the device script of a
// dual-stack site that is the default site (R25), loaded as it is into
// strongSwan, negotiates a child SA that holds everything of IPv4 and the
// site's IPv6 range, to which the gateway routes the VNet's IPv6 traffic;
// it named 0.0.0.0/0 alone, which left IPv6 out of the tunnel.
func TestForcedTunnelingDualStackDeviceScript(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("forced6", "westeurope", "hub", []string{"10.1.0.0/16", "fd00:1::/48"}, "10.1.255.0/27")
	gw, _ := r.gateway(vnet, "hub-gw", arm.RouteBased)
	s := newSite(t, r, 1, pool)
	// The device's own address on its IPv6 LAN, where strongSwan routes
	// the VNet's IPv6 range from.
	s.gw.Run("ip", "addr", "add", "fd00:2::1/64", "dev", hostIf(t, s.gw, netip.MustParseAddr("192.168.1.1")), "nodad")
	lgw := r.localGateway("forced6", "westeurope", "branch", s.addr, s.lanTS, "fd00:2::/64")
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.GatewayDefaultSite = arm.Ref(lgw.String())
	r.put(gw, g, nil)
	conn := r.putConnection(gw, "hub-to-branch", "", arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.ConnectionMode = arm.ModeResponderOnly
	})
	script, err := r.c.DeviceScript(context.Background(), conn, arm.VPNDeviceScriptParameters{})
	if err != nil {
		t.Fatal(err)
	}
	s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: script})
	sas, err := s.ch.WaitSAs(30*time.Second, "ESTABLISHED", "INSTALLED")
	if err != nil {
		t.Fatalf("%v\nthe script:\n%s", err, script)
	}
	if !hasChild(sas, "0.0.0.0/0 fd00:2::/64", "10.1.0.0/16 fd00:1::/48") {
		t.Errorf("strongSwan's child SA does not join everything of IPv4 and the site's IPv6 range to the VNet's ranges:\n%s\nthe script:\n%s", sas, script)
	}
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
}
