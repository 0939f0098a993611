package netns

import (
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

// TestNATOverlappingSites: two on-premises sites with one address space
// (10.77.0.0/24, a host at 10.77.0.2 in each) connect to one gateway; the
// gateway's IngressSnat NAT rules show them to the VNet as 172.31.1.0/24
// and 172.31.2.0/24. A VNet host reaches each site's host by its
// translated address, through that site's tunnel only; a site's host
// reaches the VNet host (whose answers go to the translated address).
// Two sites shown to the VNet in one space are refused (R35).
func TestNATOverlappingSites(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("nat", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := r.tunHost(vnet, "web")
	// The rules, as az's vnet-gateway nat-rule add makes them.
	for i, external := range []string{"172.31.1.0/24", "172.31.2.0/24"} {
		r.natRule("nat", "hub-gw", fmt.Sprintf("site%d", i+1), "IngressSnat", "10.77.0.0/24", external)
	}
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)

	var sites []*site
	var conns []arm.ID
	for i := 1; i <= 2; i++ {
		s := newSite(t, r, i, pool, "10.77.0.2/24")
		s.charon(gwAddr, s2sKey, "10.77.0.0/24", "10.1.0.0/16")
		lgw := r.localGateway("nat", "westeurope", "site"+string(rune('0'+i)), s.addr, "10.77.0.0/24")
		name := "to-site" + string(rune('0'+i))
		if i == 2 {
			// The first site's rule would show both sites in one space:
			// R35 refuses it.
			c := arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
			c.Properties.ConnectionType, c.Properties.SharedKey = arm.ConnectionIPsec, s2sKey
			c.Properties.VirtualNetworkGateway1, c.Properties.LocalNetworkGateway2 = arm.Ref(gw.String()), arm.Ref(lgw.String())
			c.Properties.IngressNatRules = []arm.SubResource{{ID: g.Properties.NatRules[0].ID}}
			if _, err := r.c.Put(t.Context(), arm.NetworkID(sub, "nat", "connections", name), c, nil); err == nil || !strings.Contains(err.Error(), "AddressSpaceOverlap") {
				t.Fatalf("two sites translated into one space: %v", err)
			}
		}
		if out, err := r.cli("vpn-connection", "create", "-g", "nat", "-n", name, "--vnet-gateway1", "hub-gw", "--local-gateway2", lgw.Name(),
			"--shared-key", s2sKey, "--ingress-nat-rule", fmt.Sprintf("site%d", i)); err != nil {
			t.Fatalf("vpn-connection create --ingress-nat-rule: %v\n%s", err, out)
		}
		conns = append(conns, arm.NetworkID(sub, "nat", "connections", name))
		sites = append(sites, s)
	}
	for _, c := range conns {
		r.waitConnection(c, 30*time.Second, "Connected", connected)
	}

	for i, s := range sites {
		translated := netip.MustParseAddr([]string{"172.31.1.2", "172.31.2.2"}[i])
		before, _ := r.metric("vnetgw_tunnel_ingress_packets_total", "connection", strings.ToLower(conns[i].String()))
		other, _ := r.metric("vnetgw_tunnel_ingress_packets_total", "connection", strings.ToLower(conns[1-i].String()))
		ping(t, host, translated, 15*time.Second)
		after, _ := r.metric("vnetgw_tunnel_ingress_packets_total", "connection", strings.ToLower(conns[i].String()))
		otherAfter, _ := r.metric("vnetgw_tunnel_ingress_packets_total", "connection", strings.ToLower(conns[1-i].String()))
		if after <= before || otherAfter != other {
			t.Errorf("a ping to %v came back through site %d's tunnel %d times and the other's %d times", translated, i+1, after-before, otherAfter-other)
		}
		// The site's host answers from its own address; the VNet host
		// sees the translated one, and reaches the site host by it.
		if out, err := s.lan.Try("ping", "-c", "2", "-W", "2", "-I", "10.77.0.2", hostAddr.String()); err != nil {
			t.Errorf("site %d's host to the VNet host: %v\n%s", i+1, err, out)
		}
	}
	// The connection's capture shows the site's own addresses.
	capArgs := []string{"-g", "nat", "-n", "to-site2"}
	if out, err := r.cli(append([]string{"vpn-connection", "packet-capture", "start"}, capArgs...)...); err != nil {
		t.Fatalf("packet-capture start: %v\n%s", err, out)
	}
	host.Run("ping", "-c", "1", "172.31.2.2")
	file := filepath.Join(t.TempDir(), "nat.pcap")
	if out, err := r.cli(append([]string{"vpn-connection", "packet-capture", "stop", "--output-file", file}, capArgs...)...); err != nil {
		t.Fatalf("packet-capture stop: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(file); err != nil {
		t.Fatal(err)
	} else if dump := tcpdump(t, b); !strings.Contains(dump, hostAddr.String()+" > 10.77.0.2: ICMP echo request") ||
		!strings.Contains(dump, "10.77.0.2 > "+hostAddr.String()+": ICMP echo reply") {
		t.Errorf("the connection's capture:\n%s", dump)
	}

	// TCP across the translation (its segments one way, its ACKs the
	// other): the rewritten checksums hold.
	mbps, _ := iperfVia(t, host, sites[1].lan, netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("172.31.2.2"), 2)
	t.Logf("iperf3 TCP 2 s through the NAT, VNet host -> site 2 host: %.0f Mbit/s", mbps)
}

// TestNATSiteOnTheVNetsRange: a site that uses the VNet's own range
// (10.1.0.0/24, its host at 10.1.0.2 beside the VNet's host at 10.1.0.4)
// connects with both kinds of rules: IngressSnat shows the site to the
// VNet as 172.31.9.0/24, EgressSnat shows the VNet's 10.1.0.0/24 to the
// site as 100.65.0.0/24, which is what the site's strongSwan is told.
func TestNATSiteOnTheVNetsRange(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("nat", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	_, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, _ := r.tunHost(vnet, "web")
	r.natRule("nat", "hub-gw", "site", "IngressSnat", "10.1.0.0/24", "172.31.9.0/24")
	r.natRule("nat", "hub-gw", "vnet", "EgressSnat", "10.1.0.0/24", "100.65.0.0/24")
	s := newSite(t, r, 1, pool, "10.1.0.2/24")
	lgw := r.localGateway("nat", "westeurope", "branch", s.addr, "10.1.0.0/24")
	if out, err := r.cli("vpn-connection", "create", "-g", "nat", "-n", "to-branch", "--vnet-gateway1", "hub-gw", "--local-gateway2", lgw.Name(),
		"--shared-key", s2sKey, "--ingress-nat-rule", "site", "--egress-nat-rule", "vnet"); err != nil {
		t.Fatalf("vpn-connection create: %v\n%s", err, out)
	}
	conn := arm.NetworkID(sub, "nat", "connections", "to-branch")
	// The site's configuration, as the device script writes it: the VNet
	// is 100.65.0.0/24 and the rest of 10.1.0.0/16, untranslated.
	script, err := r.c.DeviceScript(t.Context(), conn, arm.VPNDeviceScriptParameters{})
	if err != nil || !strings.Contains(script, "remote_ts = 100.65.0.0/24,") {
		t.Fatalf("device script: %v\n%s", err, script)
	}
	s.charon(gwAddr, s2sKey, "10.1.0.0/24", "100.65.0.0/24")
	r.waitConnection(conn, 30*time.Second, "Connected", connected)

	ping(t, host, netip.MustParseAddr("172.31.9.2"), 15*time.Second)
	if out, err := s.lan.Try("ping", "-c", "2", "-W", "2", "-I", "10.1.0.2", "100.65.0.4"); err != nil {
		t.Errorf("the site's host to the VNet host at 100.65.0.4: %v\n%s", err, out)
	}
	// The site's host sees the VNet host as 100.65.0.4: a capture at
	// the site's LAN shows it.
	dump := s.lan.Start("tcpdump", "-nn", "-i", "any", "-c", "2", "icmp")
	time.Sleep(500 * time.Millisecond)
	host.Run("ping", "-c", "2", "172.31.9.2")
	if !dump.Wait(5 * time.Second) {
		dump.Kill()
	}
	if out := dump.Output(); !strings.Contains(out, "100.65.0.4 > 10.1.0.2: ICMP echo request") {
		t.Errorf("the site's host saw:\n%s", out)
	}
	mbps, _ := iperfVia(t, host, s.lan, netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("172.31.9.2"), 2)
	t.Logf("iperf3 TCP 2 s through both translations, VNet host -> site host: %.0f Mbit/s", mbps)
}

// TestNATWithBGP: BGP route translation. A site on 10.77.0.0/24 whose BGP
// speaker (BIRD at 10.77.0.1) is known by its address after the
// IngressSnat rule (172.31.1.1); the VNet's 10.1.0.0/24 is 100.65.0.0/24
// to the site (EgressSnat). The gateway learns the site's range as
// 172.31.1.0/24 and a range outside the rules as it is; BIRD learns the
// VNet's range as the site sees it; traffic follows the learned routes
// through both translations.
func TestNATWithBGP(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("natbgp", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr, gwBGP := r.bgpGateway(vnet, "hub-gw")
	host, _ := r.tunHost(vnet, "web")
	r.natRule("natbgp", "hub-gw", "site", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24")
	r.natRule("natbgp", "hub-gw", "vnet", "EgressSnat", "10.1.0.0/24", "100.65.0.0/24")
	s := newSite(t, r, 1, pool, "10.77.0.2/24")
	siteBGP, siteBGPAfterNAT := netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("172.31.1.1")
	lgw := r.bgpLocalGateway("natbgp", "branch", s.addr, 65010, siteBGPAfterNAT.String())
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	withNAT := func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2, p.EnableBGP = arm.Ref(lgw.String()), true
		p.IngressNatRules = []arm.SubResource{{ID: g.Properties.NatRules[0].ID}}
		p.EgressNatRules = []arm.SubResource{{ID: g.Properties.NatRules[1].ID}}
	}
	// Without route translation on the gateway, NAT and BGP are refused.
	c := arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	c.Properties.ConnectionType, c.Properties.SharedKey, c.Properties.VirtualNetworkGateway1 = arm.ConnectionIPsec, s2sKey, arm.Ref(gw.String())
	withNAT(&c.Properties)
	if _, err := r.c.Put(t.Context(), arm.NetworkID(sub, "natbgp", "connections", "to-branch"), c, nil); err == nil || !strings.Contains(err.Error(), "enableBgpRouteTranslationForNat") {
		t.Fatalf("NAT with BGP without route translation: %v", err)
	}
	g.Properties.EnableBGPRouteTranslationForNat = true
	r.put(gw, g, &g)

	s.charon(gwAddr, s2sKey, "10.77.0.0/24,192.168.1.0/24", "100.65.0.0/24,10.1.255.0/27")
	bird := startBIRD(t, s.gw, hostIf(t, s.gw, siteBGP), siteBGP, 65010, gwBGP, 65515)
	conn := r.putConnection(gw, "to-branch", s2sKey, arm.ConnectionIPsec, withNAT)
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	waitBGP(t, r, gw, 60*time.Second, "the session Connected and the site's routes learned, translated", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "172.31.1.0/24", "EBgp", "65010") &&
			hasRoute(routes, "192.168.1.0/24", "EBgp", "65010") && !slices.ContainsFunc(routes, func(r arm.GatewayRoute) bool { return r.Network == "10.77.0.0/24" })
	})
	bird.waitRoute(t, "100.65.0.0/24", "65515")
	if out := bird.ctl("show", "route"); strings.Contains(out, "10.1.0.0/16") || strings.Contains(out, "10.1.0.0/24") {
		t.Errorf("BIRD learned the VNet's range untranslated:\n%s", out)
	}
	ping(t, host, netip.MustParseAddr("172.31.1.2"), 15*time.Second)
	ping(t, host, s.host, 10*time.Second)
	if out, err := s.lan.Try("ping", "-c", "2", "-W", "2", "-I", "10.77.0.2", "100.65.0.4"); err != nil {
		t.Errorf("the site's host to the VNet host at its translated address: %v\n%s", err, out)
	}
}

// TestNATWithBGPDeviceScript: the site of TestNATWithBGP, which names no
// ranges, only its BGP speaker (BIRD at 10.77.0.1, 172.31.1.1 after the
// IngressSnat rule), runs its device script as it is: the script's
// selectors hold the speaker at its own address, so the session comes up
// and the site's range is learned, translated. The script had an empty
// local_ts, and strongSwan never carried the session.
func TestNATWithBGPDeviceScript(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("natbgps", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _, gwBGP := r.bgpGateway(vnet, "hub-gw")
	r.natRule("natbgps", "hub-gw", "site", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24")
	r.natRule("natbgps", "hub-gw", "vnet", "EgressSnat", "10.1.0.0/24", "100.65.0.0/24")
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.EnableBGPRouteTranslationForNat = true
	r.put(gw, g, &g)
	s := newSite(t, r, 1, pool, "10.77.0.2/24")
	siteBGP := netip.MustParseAddr("10.77.0.1")
	lgw := r.bgpLocalGateway("natbgps", "branch", s.addr, 65010, "172.31.1.1")
	conn := r.putConnection(gw, "to-branch", "", arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2, p.EnableBGP = arm.Ref(lgw.String()), true
		p.IngressNatRules = []arm.SubResource{{ID: g.Properties.NatRules[0].ID}}
		p.EgressNatRules = []arm.SubResource{{ID: g.Properties.NatRules[1].ID}}
		p.ConnectionMode = arm.ModeResponderOnly
	})
	s.runDeviceScript(r, conn)
	startBIRD(t, s.gw, hostIf(t, s.gw, siteBGP), siteBGP, 65010, gwBGP, 65515)
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	waitBGP(t, r, gw, 45*time.Second, "the session with the site behind NAT rules Connected, its range learned translated", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "172.31.1.0/24", "EBgp", "65010")
	})
}

// TestNATWithBGPOverIKEv1: an IKEv1 site on 192.168.1.0/24 whose BGP
// speaker (BIRD at 10.77.0.1) is outside that range and known by its
// address after an IngressSnat rule (172.31.1.1). A quick mode names one
// subnet a side, so the session needs a child SA of its own, between the
// gateway's BGP address and the speaker at its own address (the
// selectors' space); an end behind a NAT rule was taken as held by the
// ranges, no child carried the session, and it never came up. strongSwan
// runs the device script as it is.
func TestNATWithBGPOverIKEv1(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("natbgp1", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _, gwBGP := r.bgpGateway(vnet, "hub-gw")
	host, _ := r.tunHost(vnet, "web")
	r.natRule("natbgp1", "hub-gw", "speaker", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24")
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.EnableBGPRouteTranslationForNat = true
	r.put(gw, g, &g)
	s := newSite(t, r, 1, pool, "10.77.0.2/24")
	siteBGP := netip.MustParseAddr("10.77.0.1")
	lgw := r.bgpLocalGateway("natbgp1", "branch", s.addr, 65010, "172.31.1.1", s.lanTS)
	conn := r.putConnection(gw, "to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2, p.EnableBGP = arm.Ref(lgw.String()), true
		p.IngressNatRules = []arm.SubResource{{ID: g.Properties.NatRules[0].ID}}
		p.ConnectionProtocol = arm.IKEv1
	})
	s.runDeviceScript(r, conn)
	startBIRD(t, s.gw, hostIf(t, s.gw, siteBGP), siteBGP, 65010, gwBGP, 65515)
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	waitBGP(t, r, gw, 45*time.Second, "the session over IKEv1 Connected, the speaker's range learned translated", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "172.31.1.0/24", "EBgp", "65010")
	})
	ping(t, host, s.host, 10*time.Second)
}

// runDeviceScript has strongSwan at the site run conn's device script as it is, logging the script and its SAs if the test fails.
func (s *site) runDeviceScript(r *region, conn arm.ID) {
	t := s.t
	t.Helper()
	script, err := r.c.DeviceScript(t.Context(), conn, arm.VPNDeviceScriptParameters{})
	if err != nil {
		t.Fatal(err)
	}
	s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: script})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the device script:\n%s\nstrongSwan's SAs:\n%s", script, s.ch.SAs())
		}
	})
}

// TestNATDynamic: the VNet's 10.1.0.0/16 leaves for a site as the one
// address 100.65.0.1 (an EgressSnat Dynamic rule). Two VNet hosts reach
// the site's host, which sees both as 100.65.0.1; TCP passes the
// translation; the site starts no flow to 100.65.0.1, and the gateway
// counts what it dropped, also in Azure Monitor's TunnelNatPacketDrop.
func TestNATDynamic(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--metrics-interval", "1s"}})
	vnet := r.vnet("dnat", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	_, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	web, _ := r.tunHost(vnet, "web")
	app, _ := r.tunHost(vnet, "app")
	r.natRule("dnat", "hub-gw", "vnet", "EgressSnat", "10.1.0.0/16", "100.65.0.1/32", "--type", "Dynamic")
	s := newSite(t, r, 1, pool, "10.77.0.2/24")
	lgw := r.localGateway("dnat", "westeurope", "branch", s.addr, "10.77.0.0/24")
	if out, err := r.cli("vpn-connection", "create", "-g", "dnat", "-n", "to-branch", "--vnet-gateway1", "hub-gw", "--local-gateway2", lgw.Name(),
		"--shared-key", s2sKey, "--egress-nat-rule", "vnet"); err != nil {
		t.Fatalf("vpn-connection create: %v\n%s", err, out)
	}
	conn := arm.NetworkID(sub, "dnat", "connections", "to-branch")
	s.charon(gwAddr, s2sKey, "10.77.0.0/24", "100.65.0.1/32")
	r.waitConnection(conn, 30*time.Second, "Connected", connected)

	siteHost := netip.MustParseAddr("10.77.0.2")
	dump := s.lan.Start("tcpdump", "-nn", "-i", "any", "-c", "4", "icmp[icmptype] == icmp-echo")
	time.Sleep(500 * time.Millisecond)
	ping(t, web, siteHost, 15*time.Second)
	ping(t, app, siteHost, 15*time.Second)
	if !dump.Wait(5 * time.Second) {
		dump.Kill()
	}
	if out := dump.Output(); strings.Count(out, "100.65.0.1 > 10.77.0.2: ICMP echo request") < 2 || strings.Contains(out, "10.1.") {
		t.Errorf("the site's host saw:\n%s", out)
	}
	label := strings.ToLower(conn.String())
	if n, _ := r.metric("vnetgw_tunnel_nat_flows", "connection", label); n < 2 {
		t.Errorf("%d NAT flows after two hosts pinged", n)
	}
	before, _ := r.metric("vnetgw_tunnel_dropped_packets_total", "connection", label, "reason", "nat_no_flow")
	if out, err := s.lan.Try("ping", "-c", "2", "-i", "0.2", "-W", "1", "-I", siteHost.String(), "100.65.0.1"); err == nil {
		t.Errorf("the site's host pinged the translated address and got an answer:\n%s", out)
	}
	if after, _ := r.metric("vnetgw_tunnel_dropped_packets_total", "connection", label, "reason", "nat_no_flow"); after < before+2 {
		t.Errorf("the site's pings to the translated address were not counted as dropped (%d, then %d)", before, after)
	}
	time.Sleep(2500 * time.Millisecond) // two samples after the drops
	out := r.monitor(arm.NetworkID(sub, "dnat", "virtualNetworkGateways", "hub-gw").String(), "--metric", "TunnelNatPacketDrop,TunnelNatFlowCount", "--interval", "PT1S")
	drops, _ := sum(out.Value[0])
	if flows := peak(out.Value[1]); drops < 2 || flows < 2 {
		t.Errorf("Azure Monitor: TunnelNatPacketDrop %v, TunnelNatFlowCount at most %v; want at least 2 of each", drops, flows)
	}
	mbps, _ := iperfVia(t, web, s.lan, siteHost, siteHost, 2)
	t.Logf("iperf3 TCP 2 s through the Dynamic NAT, VNet host -> site host: %.0f Mbit/s", mbps)
}

// natRule adds a NAT rule to gateway gw of group rg, as az's vnet-gateway
// nat-rule add does (Static unless flags say otherwise).
func (r *region) natRule(rg, gw, name, mode, internal, external string, flags ...string) {
	r.t.Helper()
	if out, err := r.cli(append([]string{"vnet-gateway", "nat-rule", "add", "-g", rg, "--gateway-name", gw, "-n", name, "--mode", mode,
		"--internal-mappings", internal, "--external-mappings", external}, flags...)...); err != nil {
		r.t.Fatalf("nat-rule add: %v\n%s", err, out)
	}
}
