package netns

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestR41BGPOverTunnel: a site whose local network gateway names no
// ranges, only its BGP speaker (BIRD, ASN 65010, at its LAN address). The
// gateway peers with it through the tunnel from its address in the
// GatewaySubnet: the API shows the session Connected and the site's
// ranges learned; BIRD learns the VNet's range with the gateway's ASN;
// hosts on both sides ping each other by those routes alone. When BIRD
// ends the session the routes go, and the VNet host no longer reaches the
// site's extra range; when it comes back, so do they.
func TestR41BGPOverTunnel(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--metrics-interval", "1s"}})
	vnet := r.vnet("bgp", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr, gwBGP := r.bgpGateway(vnet, "hub-gw")
	host, hostAddr := r.tunHost(vnet, "web")
	site := newSite(t, r, 1, pool, "10.99.0.2/24")
	siteBGP := netip.MustParseAddr("192.168.1.1")

	lgw, bird := r.bgpBranch(t, "bgp", "branch", site, gwAddr, gwBGP, "10.1.0.0/16", 9)
	conn := r.putConnection(gw, "hub-to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.EnableBGP = true
	})
	put := time.Now()
	r.waitConnection(conn, 30*time.Second, "Connected", connected)

	peers := waitBGP(t, r, gw, 60*time.Second, "the session with BIRD Connected and its routes learned", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "10.99.0.0/24", "EBgp", "65010") && hasRoute(routes, "192.168.1.0/24", "EBgp", "65010")
	})
	t.Logf("connection PUT -> BGP session Connected with routes learned: %s", time.Since(put).Round(time.Millisecond))
	if p := peers[0]; p.Neighbor != siteBGP.String() || p.ASN != 65010 || p.LocalAddress != gwBGP.String() || p.RoutesReceived != 2 || p.ConnectedDuration == "" {
		t.Errorf("getBgpPeerStatus: %+v", p)
	}
	var adv arm.List[arm.GatewayRoute]
	if _, err := r.c.Do(context.Background(), "POST", gw.String()+"/getAdvertisedRoutes?peer="+siteBGP.String(), nil, &adv); err != nil {
		t.Fatal(err)
	}
	if !hasRoute(adv.Value, "10.1.0.0/16", "EBgp", "65515") || len(adv.Value) != 1 {
		t.Errorf("getAdvertisedRoutes: %+v", adv.Value)
	}
	bird.waitRoute(t, "10.1.0.0/16", "65515")
	nic := arm.NetworkID(sub, "bgp", "networkInterfaces", "web")
	if hop := r.routeTo(nic, "10.99.0.0/24"); hop != "VirtualNetworkGateway "+gwAddr.String() {
		t.Errorf("the VNet host's effective route to 10.99.0.0/24: %q", hop)
	}

	// The routes carry traffic: no static range of the site holds these.
	ping(t, host, netip.MustParseAddr("10.99.0.2"), 15*time.Second)
	ping(t, host, site.host, 10*time.Second)
	ping(t, site.lan, hostAddr, 10*time.Second)

	// The scrape says so too (Azure's BGP Peer Status, BGP Routes Learned).
	peerLabels := []string{"gateway", strings.ToLower(gw.String()), "peer", siteBGP.String()}
	if up, _ := r.metric("vnetgw_bgp_peer_up", peerLabels...); up != 1 {
		t.Errorf("vnetgw_bgp_peer_up = %d with the session up", up)
	}
	if n, _ := r.metric("vnetgw_bgp_routes_learned", peerLabels...); n != 2 {
		t.Errorf("vnetgw_bgp_routes_learned = %d, want 2", n)
	}
	// And Azure Monitor's metrics, by BgpPeerAddress, in the last second
	// sampled: the session up, 2 routes learned, 1 advertised.
	time.Sleep(1500 * time.Millisecond)
	m := r.monitor(gw.String(), "--metric", "BgpPeerStatus,BgpRoutesLearned,BgpRoutesAdvertised", "--interval", "PT1S", "--filter", "BgpPeerAddress eq '*'")
	for i, want := range []float64{1, 2, 1} {
		if ts := m.Value[i].Timeseries; len(ts) != 1 || ts[0].Metadata[0].Value != siteBGP.String() || latest(ts[0]) != want {
			t.Errorf("Azure Monitor's %s: %+v, want the latest %v for %v", m.Value[i].Name.Value, ts, want, siteBGP)
		}
	}

	bird.ctl("disable", "vnetgw")
	waitBGP(t, r, gw, 15*time.Second, "the routes withdrawn with the session", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State != "Connected" && !hasRoute(routes, "10.99.0.0/24", "EBgp", "65010")
	})
	if up, ok := r.metric("vnetgw_bgp_peer_up", peerLabels...); up != 0 || !ok {
		t.Errorf("vnetgw_bgp_peer_up = %d (found %v) with the session down", up, ok)
	}
	noPing(t, host, netip.MustParseAddr("10.99.0.2"))
	if hop := r.routeTo(nic, "10.99.0.0/24"); hop != "" {
		t.Errorf("after the withdrawal, the effective route to 10.99.0.0/24 is still %q", hop)
	}

	bird.ctl("enable", "vnetgw")
	waitBGP(t, r, gw, 30*time.Second, "the session back", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "10.99.0.0/24", "EBgp", "65010")
	})
	ping(t, host, netip.MustParseAddr("10.99.0.2"), 15*time.Second)
}

// TestR41BGPWithAPIPA: a site whose BGP speaker (BIRD) has an APIPA
// address, 169.254.21.1, as many devices do; the gateway has the custom
// APIPA addresses 169.254.21.6 and 169.254.21.2
// (bgpPeeringAddresses[].customBgpIpAddresses), the connection chooses
// 169.254.21.2 (gatewayCustomBgpIpAddresses), and the gateway peers from
// it through the tunnel, as Azure does: the session comes up between the
// two APIPA addresses, routes flow both ways and carry traffic, and the
// device script puts the gateway's APIPA address in the site's traffic
// selectors.
func TestR41BGPWithAPIPA(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("apipa", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr, _ := r.bgpGateway(vnet, "hub-gw")
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	gwAPIPA, siteAPIPA := netip.MustParseAddr("169.254.21.2"), netip.MustParseAddr("169.254.21.1")
	g.Properties.BGPSettings.BGPPeeringAddresses = []arm.IPConfigurationBGPPeering{{IPConfigurationID: g.Properties.IPConfigurations[0].ID, CustomBGPIPAddresses: []string{"169.254.21.6", gwAPIPA.String()}}}
	r.put(gw, g, &g)
	host, _ := r.tunHost(vnet, "web")
	site := newSite(t, r, 1, pool, "10.99.0.2/24")
	lan := hostIf(t, site.gw, netip.MustParseAddr("192.168.1.1"))
	site.gw.Run("ip", "addr", "add", siteAPIPA.String()+"/32", "dev", lan)

	lgw := r.bgpLocalGateway("apipa", "branch", site.addr, 65010, siteAPIPA.String())
	conn := r.putConnection(gw, "hub-to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.EnableBGP = true
		p.GatewayCustomBgpIPAddresses = []arm.GatewayCustomBgpIPAddress{{IPConfigurationID: g.Properties.IPConfigurations[0].Name, CustomBgpIPAddress: gwAPIPA.String()}}
	})
	script, err := r.c.DeviceScript(t.Context(), conn, arm.VPNDeviceScriptParameters{})
	if err != nil || !strings.Contains(script, gwAPIPA.String()+"/32") {
		t.Fatalf("the device script does not name the gateway's APIPA address: %v\n%s", err, script)
	}
	site.charon(gwAddr, s2sKey, "10.99.0.0/24,"+siteAPIPA.String()+"/32", "10.1.0.0/16,"+gwAPIPA.String()+"/32")
	bird := startBIRD(t, site.gw, lan, siteAPIPA, 65010, gwAPIPA, 65515)
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	peers := waitBGP(t, r, gw, 60*time.Second, "the session between the APIPA addresses Connected, the site's range learned", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "10.99.0.0/24", "EBgp", "65010")
	})
	if p := peers[0]; p.Neighbor != siteAPIPA.String() || p.LocalAddress != gwAPIPA.String() {
		t.Errorf("getBgpPeerStatus: %+v, want %v with %v", p, siteAPIPA, gwAPIPA)
	}
	bird.waitRoute(t, "10.1.0.0/16", "65515")
	if out := bird.ctl("show", "route", "10.1.0.0/16", "all"); !strings.Contains(out, gwAPIPA.String()) {
		t.Errorf("BIRD's route to the VNet does not go to the gateway's APIPA address:\n%s", out)
	}
	ping(t, host, netip.MustParseAddr("10.99.0.2"), 15*time.Second)
}

// TestR41BGPWithAPIPAOverIKEv1: the session between APIPA addresses over
// an IKEv1 connection, whose quick modes name one subnet a side: the
// gateway negotiates a child SA for the session's two ends beside those of
// the VNet and the site's range, and the device script names it too.
// strongSwan, running the script as it is, and BIRD establish the session,
// each learns the other's ranges, and the hosts ping each other.
func TestR41BGPWithAPIPAOverIKEv1(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("apipa1", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _, _ := r.bgpGateway(vnet, "hub-gw")
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	gwAPIPA, siteAPIPA := netip.MustParseAddr("169.254.21.2"), netip.MustParseAddr("169.254.21.1")
	g.Properties.BGPSettings.BGPPeeringAddresses = []arm.IPConfigurationBGPPeering{{IPConfigurationID: g.Properties.IPConfigurations[0].ID, CustomBGPIPAddresses: []string{gwAPIPA.String()}}}
	r.put(gw, g, &g)
	host, hostAddr := r.tunHost(vnet, "web")
	site := newSite(t, r, 1, pool, "10.99.0.2/24")
	lan := hostIf(t, site.gw, netip.MustParseAddr("192.168.1.1"))
	site.gw.Run("ip", "addr", "add", siteAPIPA.String()+"/32", "dev", lan)

	lgw := r.bgpLocalGateway("apipa1", "branch", site.addr, 65010, siteAPIPA.String(), site.lanTS)
	conn, script := r.ikev1BGPConnection(gw, lgw)
	if !strings.Contains(script, "local_ts = "+siteAPIPA.String()+"/32\n        remote_ts = "+gwAPIPA.String()+"/32") {
		t.Errorf("the device script has no child SA for the BGP session's ends:\n%s", script)
	}
	site.ch = netnstest.StartCharon(t, site.gw, netnstest.CharonConfig{Swanctl: script})
	bird := startBIRD(t, site.gw, lan, siteAPIPA, 65010, gwAPIPA, 65515)
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	waitBGP(t, r, gw, 60*time.Second, "the session between the APIPA addresses Connected over IKEv1, the site's range learned", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "10.99.0.0/24", "EBgp", "65010")
	})
	bird.waitRoute(t, "10.1.0.0/16", "65515")
	ping(t, host, site.host, 15*time.Second)
	ping(t, site.lan, hostAddr, 15*time.Second)
}

// bgpGateway makes a route-based gateway with BGP in vnet (whose
// GatewaySubnet is 10.1.255.0/27) and returns it, its public address and
// its BGP address, which it checks: ASN 65515, in the GatewaySubnet.
func (r *region) bgpGateway(vnet arm.ID, name string) (arm.ID, netip.Addr, netip.Addr) {
	r.t.Helper()
	gw, gwAddr := r.gateway(vnet, name, arm.RouteBased)
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.EnableBGP = true
	r.put(gw, g, &g)
	gwBGP := netip.MustParseAddr(g.Properties.BGPSettings.BGPPeeringAddress)
	if g.Properties.BGPSettings.ASN != 65515 || !netip.MustParsePrefix("10.1.255.0/27").Contains(gwBGP) {
		r.t.Fatalf("the gateway's BGP settings: %+v", g.Properties.BGPSettings)
	}
	return gw, gwAddr, gwBGP
}

// routeTo returns the effective route of prefix at the network interface,
// as "NextHopType next-hop", or "" when there is none.
func (r *region) routeTo(nic arm.ID, prefix string) string {
	r.t.Helper()
	var routes arm.List[arm.EffectiveRoute]
	if _, err := r.c.Do(context.Background(), "POST", nic.String()+"/effectiveRouteTable", nil, &routes); err != nil {
		r.t.Fatal(err)
	}
	for _, rt := range routes.Value {
		if slices.Contains(rt.AddressPrefix, prefix) && rt.State == "Active" {
			return strings.TrimSpace(rt.NextHopType + " " + strings.Join(rt.NextHopIPAddress, ","))
		}
	}
	return ""
}

// waitBGP polls getBgpPeerStatus and getLearnedRoutes until ok.
func waitBGP(t *testing.T, r *region, gw arm.ID, d time.Duration, what string, ok func([]arm.BGPPeerStatus, []arm.GatewayRoute) bool) []arm.BGPPeerStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var ps arm.List[arm.BGPPeerStatus]
		var routes arm.List[arm.GatewayRoute]
		if _, err := r.c.Do(context.Background(), "POST", gw.String()+"/getBgpPeerStatus", nil, &ps); err != nil {
			t.Fatal(err)
		}
		if _, err := r.c.Do(context.Background(), "POST", gw.String()+"/getLearnedRoutes", nil, &routes); err != nil {
			t.Fatal(err)
		}
		if ok(ps.Value, routes.Value) {
			return ps.Value
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting %s for %s: peers %+v, routes %+v", d, what, ps.Value, routes.Value)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func hasRoute(rs []arm.GatewayRoute, network, origin, path string) bool {
	return slices.ContainsFunc(rs, func(r arm.GatewayRoute) bool {
		return r.Network == network && r.Origin == origin && r.ASPath == path
	})
}

// bgpBranch makes site a branch that speaks BGP: its local network
// gateway name in group (its address, and BIRD at 192.168.1.1 of AS 65010
// as its speaker), strongSwan there towards the gateway at gwAddr (the
// site's 192.168.1.0/24 and 10.99.0.0/24 to the VNet's vnetSpace), and
// BIRD, with a hold time of hold seconds, peering with the gateway's
// speaker at gwBGP (AS 65515). It returns the local network gateway and
// BIRD; the connection is the caller's to make.
func (r *region) bgpBranch(t *testing.T, group, name string, s *site, gwAddr, gwBGP netip.Addr, vnetSpace string, hold int) (arm.ID, *birdPeer) {
	t.Helper()
	siteBGP := netip.MustParseAddr("192.168.1.1")
	lgw := r.bgpLocalGateway(group, name, s.addr, 65010, siteBGP.String())
	s.charon(gwAddr, s2sKey, "192.168.1.0/24,10.99.0.0/24", vnetSpace)
	return lgw, startBIRDHold(t, s.gw, hostIf(t, s.gw, siteBGP), siteBGP, 65010, gwBGP, 65515, hold)
}

// birdPeer is BIRD in a namespace with one BGP session, "vnetgw".
type birdPeer struct {
	ns  *netnstest.NS
	dir string
}

// startBIRD runs BIRD in ns as AS localAS at local, exporting the
// prefixes of interface lan, peering with peer (AS peerAS) over several
// hops (the tunnel). It installs no routes in the kernel.
func startBIRD(t *testing.T, ns *netnstest.NS, lan string, local netip.Addr, localAS int, peer netip.Addr, peerAS int) *birdPeer {
	t.Helper()
	return startBIRDHold(t, ns, lan, local, localAS, peer, peerAS, 9)
}

// startBIRDHold is startBIRD with a hold time of hold seconds.
func startBIRDHold(t *testing.T, ns *netnstest.NS, lan string, local netip.Addr, localAS int, peer netip.Addr, peerAS int, hold int) *birdPeer {
	t.Helper()
	b := &birdPeer{ns: ns, dir: t.TempDir()}
	conf := fmt.Sprintf(`router id %s;
log "%s/bird.log" all;
protocol device { }
protocol direct { ipv4; interface "%s"; }
protocol bgp vnetgw {
  local %s as %d;
  neighbor %s as %d;
  multihop;
  hold time %d;
  connect retry time 2;
  ipv4 { import all; export where source = RTS_DEVICE; };
}
`, local, b.dir, lan, local, localAS, peer, peerAS, hold)
	if err := os.WriteFile(filepath.Join(b.dir, "bird.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// In the foreground, so that the test ends it and waits for it before
	// its directory goes.
	ns.Start("bird", "-f", "-c", filepath.Join(b.dir, "bird.conf"), "-s", filepath.Join(b.dir, "bird.ctl"))
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(b.dir, "bird.log"))
			t.Logf("bird.log:\n%s", tail(string(log), 40))
		}
	})
	return b
}

func (b *birdPeer) ctl(args ...string) string {
	return b.ns.Run("birdc", append([]string{"-s", filepath.Join(b.dir, "bird.ctl")}, args...)...)
}

// waitRoute waits until BIRD has learned prefix from the gateway with path.
func (b *birdPeer) waitRoute(t *testing.T, prefix, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := b.ctl("show", "route", "protocol", "vnetgw", "all")
		if strings.Contains(out, prefix) && strings.Contains(out, "BGP.as_path: "+path) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIRD did not learn %s with path %s:\n%s\n%s", prefix, path, out, b.ctl("show", "protocols", "all", "vnetgw"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestR41BGPOnlySiteOverIKEv1: a site whose local network gateway names
// no ranges, only its BGP speaker (BIRD at 192.168.1.1), over IKEv1: the
// gateway proposes any-to-any and takes the device's narrowing, so the
// device script must narrow to selectors that hold the BGP session's ends.
// strongSwan runs the script as it is; the session comes up and the
// site's LAN is learned.
func TestR41BGPOnlySiteOverIKEv1(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("bgp1", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _, gwBGP := r.bgpGateway(vnet, "hub-gw")
	site := newSite(t, r, 1, pool)
	siteBGP := netip.MustParseAddr("192.168.1.1")
	lgw := r.bgpLocalGateway("bgp1", "branch", site.addr, 65010, siteBGP.String())
	conn, script := r.ikev1BGPConnection(gw, lgw)
	site.ch = netnstest.StartCharon(t, site.gw, netnstest.CharonConfig{Swanctl: script})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the device script:\n%s\nstrongSwan's SAs:\n%s", script, site.ch.SAs())
		}
	})
	startBIRD(t, site.gw, hostIf(t, site.gw, siteBGP), siteBGP, 65010, gwBGP, 65515)
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	waitBGP(t, r, gw, 45*time.Second, "the session with the BGP-only site Connected over IKEv1, its LAN learned", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "192.168.1.0/24", "EBgp", "65010")
	})
}

// TestR37BGPAdvertisesStaticSites: a gateway with three sites, A speaking
// BGP (BIRD), B with a static range alone (192.168.50.0/24) and C with a
// static range (192.168.60.0/24) and a BGP speaker of its own (B and C
// have no device: their ranges are configured all the same). As Azure's
// gateway does, it advertises to its BGP peers the address prefixes of
// every local network gateway connected, as routes of its own (its ASN
// alone on the path), so that A can reach B and C through it (transit,
// R37): BIRD learns both, and getAdvertisedRoutes for A lists them. C is
// not sent its own range back, but is sent B's.
func TestR37BGPAdvertisesStaticSites(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("bgps", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr, gwBGP := r.bgpGateway(vnet, "hub-gw")
	a := newSite(t, r, 1, pool, "10.99.0.2/24")
	lgwA, bird := r.bgpBranch(t, "bgps", "branch", a, gwAddr, gwBGP, "10.1.0.0/16", 9)
	connA := r.putConnection(gw, "hub-to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgwA.String())
		p.EnableBGP = true
	})
	b, c := newSite(t, r, 2, pool), newSite(t, r, 3, pool)
	r.connection(gw, r.localGateway("bgps", "westeurope", "static", b.addr, "192.168.50.0/24"), "hub-to-static", s2sKey)
	lgwC := r.bgpLocalGateway("bgps", "both", c.addr, 65020, "192.168.60.1", "192.168.60.0/24")
	r.putConnection(gw, "hub-to-both", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgwC.String())
		p.EnableBGP = true
	})
	r.waitConnection(connA, 30*time.Second, "Connected", connected)
	waitBGP(t, r, gw, 60*time.Second, "the session with BIRD Connected", func(ps []arm.BGPPeerStatus, _ []arm.GatewayRoute) bool {
		return slices.ContainsFunc(ps, func(p arm.BGPPeerStatus) bool { return p.Neighbor == "192.168.1.1" && p.State == "Connected" })
	})

	for _, prefix := range []string{"192.168.50.0/24", "192.168.60.0/24"} {
		deadline := time.Now().Add(20 * time.Second)
		for {
			out := bird.ctl("show", "route", "protocol", "vnetgw", "all")
			if birdPath(out, prefix) == "65515" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("BIRD did not learn %s with the path 65515 alone:\n%s", prefix, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	advertised := func(peer string) []arm.GatewayRoute {
		var adv arm.List[arm.GatewayRoute]
		if _, err := r.c.Do(context.Background(), "POST", gw.String()+"/getAdvertisedRoutes?peer="+peer, nil, &adv); err != nil {
			t.Fatal(err)
		}
		return adv.Value
	}
	if adv := advertised("192.168.1.1"); len(adv) != 3 || !hasRoute(adv, "10.1.0.0/16", "EBgp", "65515") ||
		!hasRoute(adv, "192.168.50.0/24", "EBgp", "65515") || !hasRoute(adv, "192.168.60.0/24", "EBgp", "65515") {
		t.Errorf("getAdvertisedRoutes for A: %+v", adv)
	}
	// C is sent A's routes too (transit), not its own range.
	if adv := advertised("192.168.60.1"); !hasRoute(adv, "10.1.0.0/16", "EBgp", "65515") || !hasRoute(adv, "192.168.50.0/24", "EBgp", "65515") ||
		slices.ContainsFunc(adv, func(r arm.GatewayRoute) bool { return r.Network == "192.168.60.0/24" }) {
		t.Errorf("getAdvertisedRoutes for C (not its own 192.168.60.0/24): %+v", adv)
	}
}

// birdPath returns the AS path of BIRD's route to prefix in out (birdc's
// show route all), "" when it has none.
func birdPath(out, prefix string) string {
	in := false
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			in = strings.HasPrefix(l, prefix+" ")
			continue
		}
		if path, ok := strings.CutPrefix(strings.TrimSpace(l), "BGP.as_path:"); in && ok {
			return strings.TrimSpace(path)
		}
	}
	return ""
}

// ikev1BGPConnection makes the IKEv1 connection "hub-to-branch" with BGP
// from gw to the site lgw and returns it and its device script.
func (r *region) ikev1BGPConnection(gw, lgw arm.ID) (arm.ID, string) {
	r.t.Helper()
	conn := r.putConnection(gw, "hub-to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.ConnectionProtocol = arm.IKEv1
		p.EnableBGP = true
	})
	script, err := r.c.DeviceScript(r.t.Context(), conn, arm.VPNDeviceScriptParameters{})
	if err != nil {
		r.t.Fatal(err)
	}
	return conn, script
}
