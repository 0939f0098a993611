package dataplane

import (
	"net/netip"
	"testing"

	"github.com/vnetgw/vnetgw/internal/fabric"
)

// TestUserRoutesKeepLongerSingleAddresses: a subnet's user route takes
// over the routes of the VNet's hosts it holds, and no other single
// address: a connected site's /32 beats a user route 0.0.0.0/0 to an
// appliance, and a GatewaySubnet's route of the VNet's range through a
// firewall leaves the gateway's own BGP speaker (its /32) where it is:
// the longest prefix wins (R26).
func TestUserRoutesKeepLongerSingleAddresses(t *testing.T) {
	nva, gwp, speaker, web := nopPort{"nva"}, nopPort{"gw"}, nopPort{"bgp"}, nopPort{"web"}
	e := &Engine{gateways: map[string]*gw{"g": {cfg: Gateway{PrivateAddr: netip.MustParseAddr("10.1.255.30")}}}}
	v := &vnet{hosts: map[string]*host{
		"nva": {cfg: Host{Addr: netip.MustParseAddr("10.1.1.4")}, port: nva},
		"web": {cfg: Host{Addr: netip.MustParseAddr("10.1.2.5")}, port: web},
	}}
	vc := VNet{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	system := []fabric.Route{
		{Prefix: netip.MustParsePrefix("10.1.0.0/16")},
		{Prefix: netip.MustParsePrefix("10.1.1.4/32"), Port: nva},
		{Prefix: netip.MustParsePrefix("10.1.2.5/32"), Port: web},
		{Prefix: netip.MustParsePrefix("10.1.255.30/32"), Port: speaker},
		{Prefix: netip.MustParsePrefix("192.168.5.7/32"), Port: gwp},
	}
	toNVA := func(p string) UserRoute {
		return UserRoute{Prefix: netip.MustParsePrefix(p), NextHop: "VirtualAppliance", Appliance: netip.MustParseAddr("10.1.1.4")}
	}
	for _, tc := range []struct {
		name string
		urs  []UserRoute
		want map[string]string // destination: port name
	}{
		{"default route to the appliance", []UserRoute{toNVA("0.0.0.0/0")},
			map[string]string{"192.168.5.7": "gw", "10.1.2.5": "web", "8.8.8.8": "nva"}},
		{"the VNet's range to the appliance", []UserRoute{toNVA("10.1.0.0/16")},
			map[string]string{"10.1.255.30": "bgp", "10.1.2.5": "nva", "10.1.1.4": "nva"}},
	} {
		r := fabric.NewRouter()
		r.SetRoutes(e.userRoutes(v, vc, system, tc.urs))
		for dst, want := range tc.want {
			got := ""
			if p, ok := r.Lookup(netip.MustParseAddr(dst)).(nopPort); ok {
				got = p.name
			}
			if got != want {
				t.Errorf("%s: %s goes to %q, want %q", tc.name, dst, got, want)
			}
		}
	}
}

// TestRoutesWithoutGatewayRoutes: the table of a subnet whose route table
// does not propagate the gateways' routes (disableBgpRoutePropagation)
// holds the VNet's own routes and none its gateway brings: a connected
// site's range, forced tunneling's default route, what the gateway
// learned over BGP, its IKEv2 clients' pool (R26).
func TestRoutesWithoutGatewayRoutes(t *testing.T) {
	g := &gw{cfg: Gateway{ID: "g", VNet: "v", P2S: &GatewayP2S{IKEv2Pool: netip.MustParsePrefix("172.16.0.0/24")}},
		port: fabric.NewGatewayPort(fabric.NewRouter()), ikev2Clients: true,
		bgp:     &speaker{cfg: GatewayBGP{Addr: netip.MustParseAddr("10.1.255.30")}},
		learned: []netip.Prefix{netip.MustParsePrefix("192.168.9.0/24")}}
	e := &Engine{gateways: map[string]*gw{"g": g}}
	v := &vnet{hosts: map[string]*host{"web": {cfg: Host{Addr: netip.MustParseAddr("10.1.0.4")}, port: nopPort{"web"}}}}
	vc := VNet{ID: "v", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		Routes: []Route{{Prefix: netip.MustParsePrefix("192.168.1.0/24"), Gateway: "g"}, {Prefix: netip.MustParsePrefix("0.0.0.0/0"), Gateway: "g"}}}
	prefixes := func(rs []fabric.Route) map[string]bool {
		m := map[string]bool{}
		for _, r := range rs {
			m[r.Prefix.String()] = true
		}
		return m
	}
	gatewayRoutes := []string{"192.168.1.0/24", "0.0.0.0/0", "192.168.9.0/24", "172.16.0.0/24"}
	with, without := prefixes(e.routes(v, vc, true)), prefixes(e.routes(v, vc, false))
	for _, p := range gatewayRoutes {
		if !with[p] {
			t.Errorf("the VNet's table lacks %s", p)
		}
		if without[p] {
			t.Errorf("the table without gateway routes holds %s", p)
		}
	}
	for _, p := range []string{"10.1.0.0/16", "10.1.0.4/32", "10.1.255.30/32"} {
		if !without[p] {
			t.Errorf("the table without gateway routes lacks the VNet's own %s", p)
		}
	}
}
