package api

import (
	"strings"
	"testing"
)

// TestDeviceScriptPerInstance: on an active-active gateway whose instances
// translate the VNet each by its own EgressSnat rule, each of the device's
// two tunnels names the VNet as that instance shows it.
func TestDeviceScriptPerInstance(t *testing.T) {
	e := newEnv(t)
	aa, ag := e.activeActive()
	ap := ag["properties"].(obj)
	one, two := natRule("vnet1", "Dynamic", "EgressSnat", "10.5.0.0/16", "100.66.0.1/32"), natRule("vnet2", "Dynamic", "EgressSnat", "10.5.0.0/16", "100.66.0.2/32")
	one["properties"].(obj)["ipConfigurationId"], two["properties"].(obj)["ipConfigurationId"] = "ipconfig1", "ipconfig2"
	ap["natRules"] = []obj{one, two}
	e.must("PUT", aa.gw, ag)
	c := s2s(loc, aa.gw, e.lng(aa, "branch", "203.0.113.50", "192.168.50.0/24"))
	c["properties"].(obj)["egressNatRules"] = []obj{{"id": aa.gw + "/natRules/vnet1"}, {"id": aa.gw + "/natRules/vnet2"}}
	cp := netPath(subA, "aa", "connections", "c")
	e.must("PUT", cp, c)
	script := e.script(cp, obj{})
	first, second, _ := strings.Cut(script, "aa-c-2 {")
	if !strings.Contains(first, "remote_ts = 100.66.0.1/32") || strings.Contains(first, "100.66.0.2") || !strings.Contains(second, "remote_ts = 100.66.0.2/32") {
		t.Errorf("the tunnels to instances 1 and 2 should name the VNet as 100.66.0.1/32 and 100.66.0.2/32:\n%s", script)
	}
}

// TestDeviceScriptBGPSpeakers: a BGP site known by its speaker alone (no
// address space): the device's selectors hold its speaker and the
// gateway's, whose session the gateway routes through the tunnel.
func TestDeviceScriptBGPSpeakers(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["enableBgp"] = true
	g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020}
	e.must("PUT", s.gw, g)
	l := localGateway(loc, "203.0.113.1")
	l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "192.168.0.1"}
	lp := netPath(subA, "rg", "localNetworkGateways", "l")
	e.must("PUT", lp, l)
	cp := netPath(subA, "rg", "connections", "c")
	c := s2s(loc, s.gw, lp)
	c["properties"].(obj)["enableBgp"] = true
	e.must("PUT", cp, c)
	lines(t, e.script(cp, obj{}), "local_ts = 192.168.0.1/32", "remote_ts = 10.1.0.0/16")
}

// activeActive makes the site "aa" (10.5.0.0/16, VpnGw2) with a second
// public address, and returns it with the body of an active-active
// gateway of two IP configurations, not yet PUT.
func (e *env) activeActive() (site, obj) {
	aa := e.site(subA, "aa", loc, "10.5.0.0/16", "RouteBased", "VpnGw2")
	pip2 := netPath(subA, "aa", "publicIPAddresses", "pip2")
	e.must("PUT", pip2, publicIP(loc, "Dynamic"))
	ag := gateway(loc, aa.gwSubnet, aa.pip, "RouteBased", "VpnGw2")
	ap := ag["properties"].(obj)
	ap["activeActive"] = true
	ap["ipConfigurations"] = append(ap["ipConfigurations"].([]obj), obj{"name": "ipconfig2", "properties": obj{"subnet": obj{"id": aa.gwSubnet}, "publicIPAddress": obj{"id": pip2}}})
	return aa, ag
}

// TestDeviceScriptDefaultSiteDualStack: a dual-stack site that is the
// gateway's default site (forced tunneling, R25) takes everything of IPv4
// and keeps its IPv6 ranges, to which the gateway routes the VNet's IPv6
// traffic: the device's selectors name both.
func TestDeviceScriptDefaultSiteDualStack(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("PUT", s.vnet, vnet(loc, []string{"10.1.0.0/16", "fd00:1::/48"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27")))
	branch := e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24", "fd00:2::/64")
	g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["gatewayDefaultSite"] = obj{"id": branch}
	e.must("PUT", s.gw, g)
	cp := netPath(subA, "rg", "connections", "c")
	e.must("PUT", cp, s2s(loc, s.gw, branch))
	lines(t, e.script(cp, obj{}), "local_ts = 0.0.0.0/0, fd00:2::/64", "remote_ts = 10.1.0.0/16, fd00:1::/48")
}
