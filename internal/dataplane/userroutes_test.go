package dataplane

import (
	"context"
	"crypto/tls"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pkitest"
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

// TestUserRouteToGatewayReachesSSTPClients: a user route to
// VirtualNetworkGateway sends what it holds to the gateway, which reaches
// its point-to-site clients as it reaches its sites: a subnet whose route
// table takes no gateway routes (disableBgpRoutePropagation) and sends
// 0.0.0.0/0 to the gateway answers an SSTP client's ping, as one that
// takes them does. The route went to the gateway's tunnels alone, which
// do not hold the SSTP and OpenVPN clients' pool: the replies were
// dropped while the effective routes showed the route Active (R26).
func TestUserRouteToGatewayReachesSSTPClients(t *testing.T) {
	root := pkitest.Issue(t, "P2S root", true, nil)
	pub := netip.MustParseAddr("127.192.0.7")
	server := pkitest.Issue(t, "gateway", false, root, pub).TLS()
	e := New(Options{IKEPort: 15874, NATTPort: 15875, SSTPPort: 15876,
		GatewayCert: func(netip.Addr) (tls.Certificate, error) { return server, nil }})
	defer e.Close()
	web := netip.MustParseAddr("10.1.2.4")
	p := &GatewayP2S{Pool: netip.MustParsePrefix("172.16.203.0/24"), TCPPool: netip.MustParsePrefix("172.16.203.0/24"), SSTP: true,
		Roots: [][]byte{root.Certificate.Raw}, MaxClients: 128, Routes: prefixes("10.1.0.0/16")}
	for _, ur := range []UserRoute{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), NextHop: "VirtualNetworkGateway"},
		{Prefix: netip.MustParsePrefix("172.16.203.0/25"), NextHop: "VirtualNetworkGateway"},
	} {
		cfg, roots := startP2S(t, e, pub, p, root)
		cfg.VNets[0].Hosts = []Host{{ID: "web", Name: "web", Subnet: "spoke", Addr: web, Kind: HostNetstack}}
		cfg.VNets[0].UserRoutes = map[string][]UserRoute{"spoke": {ur}}
		cfg.VNets[0].NoGatewayRoutes = map[string]bool{"spoke": true}
		reconfigGateway(t, e, cfg)
		var host atomic.Pointer[fabric.NetstackHost]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := p2s.Dial(ctx, p2s.ClientConfig{Server: netip.AddrPortFrom(pub, 15876), ServerName: pub.String(), RootCAs: roots,
			Cert: pkitest.Issue(t, "alice", false, root).TLS(),
			OnIP: func(pkt []byte) {
				if h := host.Load(); h != nil {
					h.Deliver(pkt)
				}
			}})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		h, err := fabric.NewNetstackEndpoint("client", c.Addr(), 0, c)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		host.Store(h)
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		_, err = h.Ping(ctx, web)
		cancel()
		h.Close()
		c.Close()
		if err != nil {
			t.Errorf("user route %s to the gateway: the SSTP client %v gets no answer from the host: %v", ur.Prefix, c.Addr(), err)
		}
	}
	// A route between the route to the gateway and the pool takes the
	// pool: the longest prefix wins.
	vc := VNet{ID: "v", Prefixes: prefixes("10.1.0.0/16")}
	e.mu.Lock()
	v := e.vnets["v"]
	rs := e.userRoutes(v, vc, e.routes(v, vc, false), []UserRoute{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), NextHop: "VirtualNetworkGateway"},
		{Prefix: netip.MustParsePrefix("172.16.0.0/16"), NextHop: "None"},
	})
	e.mu.Unlock()
	r := fabric.NewRouter()
	r.SetRoutes(rs)
	if p := r.Lookup(netip.MustParseAddr("172.16.203.2")); p != nil {
		t.Errorf("a route of 172.16.0.0/16 to None under 0.0.0.0/0 to the gateway: the SSTP pool goes to %T", p)
	}
}
