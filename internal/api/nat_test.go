package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// natRule is a NAT rule of a gateway, inline.
func natRule(name, typ, mode, internal, external string) obj {
	return obj{"name": name, "properties": obj{"type": typ, "mode": mode,
		"internalMappings": []obj{{"addressSpace": internal}}, "externalMappings": []obj{{"addressSpace": external}}}}
}

// withNatRules is gateway s.gw as it is, with rules.
func (e *env) withNatRules(s site, rules ...obj) obj {
	e.t.Helper()
	var g obj
	if err := json.Unmarshal(e.must("GET", s.gw, nil).body, &g); err != nil {
		e.t.Fatal(err)
	}
	g["properties"].(obj)["natRules"] = rules
	return g
}

// VPN NAT: two sites with one address space connect to one gateway when
// IngressSnat rules give them different spaces in the VNet's view (R35
// applies to the translated spaces); what vnetgw does not implement is
// refused by name.
func TestNATRules(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw2")
	for _, c := range []struct {
		name string
		rule obj
		want string
	}{
		{"lengths", natRule("r", "Static", "IngressSnat", "10.77.0.0/24", "172.31.0.0/23"), "of one length"},
		{"not a prefix", natRule("r", "Static", "IngressSnat", "nope", "172.31.1.0/24"), "CIDR prefix"},
		{"mode", natRule("r", "Static", "Sideways", "10.77.0.0/24", "172.31.1.0/24"), "mode"},
	} {
		r := e.do("PUT", s.gw, e.withNatRules(s, c.rule))
		if r.status != 400 || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", c.name, r.status, r.body, c.want)
		}
	}
	g := e.must("PUT", s.gw, e.withNatRules(s, natRule("site1", "", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24"),
		natRule("site2", "Static", "ingresssnat", "10.77.0.0/24", "172.31.2.0/24"), natRule("vnet", "Static", "EgressSnat", "10.1.0.0/24", "100.65.0.0/24"),
		natRule("elsewhere", "Static", "EgressSnat", "10.9.0.0/24", "100.66.0.0/24")))
	if g.str("properties.natRules.0.id") != s.gw+"/natRules/site1" || g.str("properties.natRules.0.properties.type") != "Static" ||
		g.str("properties.natRules.1.properties.mode") != "IngressSnat" {
		t.Fatalf("the gateway's NAT rules: %s", g.body)
	}

	l1, l2 := e.lng(s, "one", "203.0.113.1", "10.77.0.0/24"), e.lng(s, "two", "203.0.113.2", "10.77.0.0/24")
	c1, c2 := netPath(subA, "rg", "connections", "c1"), netPath(subA, "rg", "connections", "c2")
	withRules := func(body obj, field string, ids ...string) obj {
		var refs []obj
		for _, id := range ids {
			refs = append(refs, obj{"id": id})
		}
		body["properties"].(obj)[field] = refs
		return body
	}
	e.must("PUT", c1, withRules(s2s(loc, s.gw, l1), "ingressNatRules", s.gw+"/natRules/site1"))
	// Both sites translated into one space overlap: R35 compares the
	// spaces as the VNet sees them.
	if r := e.do("PUT", c2, withRules(s2s(loc, s.gw, l2), "ingressNatRules", s.gw+"/natRules/site1")); r.status != 409 || r.code() != "AddressSpaceOverlap" {
		t.Errorf("two sites translated into one space: %d %s, want AddressSpaceOverlap", r.status, r.body)
	}
	for _, c := range []struct {
		name string
		body obj
		code string
	}{
		{"a rule of no gateway", withRules(s2s(loc, s.gw, l2), "ingressNatRules", s.gw+"/natRules/nope"), "InvalidResourceReference"},
		{"an IngressSnat rule as egress", withRules(s2s(loc, s.gw, l2), "egressNatRules", s.gw+"/natRules/site2"), "InvalidParameter"},
		{"an EgressSnat rule as ingress", withRules(s2s(loc, s.gw, l2), "ingressNatRules", s.gw+"/natRules/vnet"), "InvalidParameter"},
		{"a rule of none of the VNet's addresses", withRules(s2s(loc, s.gw, l2), "egressNatRules", s.gw+"/natRules/elsewhere"), "InvalidParameter"},
	} {
		if r := e.do("PUT", c2, c.body); r.status != 400 || r.code() != c.code {
			t.Errorf("%s: %d %s, want %s", c.name, r.status, r.body, c.code)
		}
	}
	e.must("PUT", c2, withRules(withRules(s2s(loc, s.gw, l2), "ingressNatRules", s.gw+"/natRules/site2"), "egressNatRules", s.gw+"/natRules/vnet"))
	// The site's device script names the VNet's range as the site sees it.
	script := string(e.must("POST", c2+"/vpndeviceconfigurationscript", obj{"vendor": "strongSwan", "deviceFamily": "swanctl", "firmwareVersion": "5.9"}).body)
	if !strings.Contains(script, "remote_ts = 100.65.0.0/24, 10.1.128.0/17,") || !strings.Contains(script, "local_ts = 10.77.0.0/24") {
		t.Errorf("the device script of a connection with EgressSnat:\n%s", script)
	}

	// The rules as child resources of the gateway, as the SDK's
	// VirtualNetworkGatewayNatRulesClient reads and writes them.
	child := s.gw + "/natRules/extra"
	if r := e.do("PUT", child, natRule("ignored", "Static", "IngressSnat", "10.88.0.0/24", "172.31.8.0/24")); r.status != 201 || r.str("name") != "extra" || r.str("id") != child {
		t.Fatalf("PUT a NAT rule: %d %s", r.status, r.body)
	}
	if r := e.must("GET", s.gw+"/natRules", nil); len(r.field("value").([]any)) != 5 {
		t.Errorf("list NAT rules: %s", r.body)
	}
	if r := e.must("GET", child, nil); r.str("properties.externalMappings.0.addressSpace") != "172.31.8.0/24" {
		t.Errorf("GET a NAT rule: %s", r.body)
	}
	bad := natRule("bad", "Dynamic", "IngressSnat", "10.88.0.0/24", "172.31.8.0/28")
	bad["properties"].(obj)["externalMappings"] = []obj{{"addressSpace": "172.31.8.0/28", "portRange": "1000-2000"}}
	if r := e.do("PUT", s.gw+"/natRules/bad", bad); r.status != 400 || !strings.Contains(string(r.body), "port ranges") {
		t.Errorf("PUT a rule with a port range: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", child, nil); r.status != 200 {
		t.Errorf("DELETE a NAT rule: %d %s", r.status, r.body)
	}
	if r := e.do("GET", child, nil); r.status != 404 {
		t.Errorf("GET a deleted NAT rule: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", s.gw+"/natRules/site1", nil); r.status != 409 || r.code() != "InUseNatRuleCannotBeDeleted" {
		t.Errorf("DELETE a NAT rule in use: %d %s", r.status, r.body)
	}

	// A rule a connection uses must still fit it when it changes.
	if r := e.do("PUT", s.gw+"/natRules/vnet", natRule("vnet", "Static", "EgressSnat", "10.9.0.0/24", "100.65.0.0/24")); r.status != 400 || !strings.Contains(string(r.body), "connection c2") {
		t.Errorf("moving an EgressSnat rule in use off the VNet: %d %s", r.status, r.body)
	}

	// So must the site's ranges and the VNet's address space when they
	// change; what stays is unchanged.
	l2Path := netPath(subA, "rg", "localNetworkGateways", "two")
	if r := e.do("PUT", l2Path, localGateway(loc, "203.0.113.2", "10.77.0.0/23")); r.status != 400 || r.str("error.target") != "properties.localNetworkAddressSpace.addressPrefixes" ||
		!strings.Contains(string(r.body), "connection c2") || !strings.Contains(string(r.body), "straddles") {
		t.Errorf("a site's range across the edge of its IngressSnat rule: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", s.vnet, vnet(loc, []string{"10.1.128.0/17"}, subnet("default", "10.1.128.0/24"), subnet("GatewaySubnet", "10.1.255.0/27"))); r.status != 400 ||
		r.str("error.target") != "properties.addressSpace.addressPrefixes" || !strings.Contains(string(r.body), "connection c2") {
		t.Errorf("a VNet address space without the space of an EgressSnat rule: %d %s", r.status, r.body)
	}
	if r := e.must("GET", l2Path, nil); r.str("properties.localNetworkAddressSpace.addressPrefixes.0") != "10.77.0.0/24" {
		t.Errorf("the refused change took: %s", r.body)
	}
	e.must("PUT", l2Path, localGateway(loc, "203.0.113.2", "10.77.0.0/25", "10.77.0.128/25")) // inside the rule: fits
	e.must("PUT", l2Path, localGateway(loc, "203.0.113.2", "10.77.0.0/24"))

	// A rule of one instance names its IP configuration (by name, as the
	// portal does, or id); the gateway keeps the id.
	bound := natRule("bound", "Static", "IngressSnat", "10.88.0.0/24", "172.31.8.0/24")
	bound["properties"].(obj)["ipConfigurationId"] = "ipconfig1"
	if r := e.must("PUT", s.gw+"/natRules/bound", bound); r.str("properties.ipConfigurationId") != s.gw+"/ipConfigurations/ipconfig1" {
		t.Errorf("a rule bound to an IP configuration: %s", r.body)
	}
	bound["properties"].(obj)["ipConfigurationId"] = "ipconfig2"
	if r := e.do("PUT", s.gw+"/natRules/bound", bound); r.status != 400 || !strings.Contains(string(r.body), "names no IP configuration") {
		t.Errorf("a rule bound to an IP configuration the gateway lacks: %d %s", r.status, r.body)
	}
	e.must("DELETE", s.gw+"/natRules/bound", nil)

	// NAT is for VpnGw2 and up: a gateway with rules does not shrink below.
	if r := e.do("PUT", s.gw, func() obj {
		g := e.withNatRules(s, natRule("site1", "Static", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24"),
			natRule("site2", "Static", "IngressSnat", "10.77.0.0/24", "172.31.2.0/24"), natRule("vnet", "Static", "EgressSnat", "10.1.0.0/24", "100.65.0.0/24"))
		g["properties"].(obj)["sku"] = obj{"name": "VpnGw1", "tier": "VpnGw1"}
		return g
	}()); r.status != 400 || !strings.Contains(string(r.body), "VpnGw2") {
		t.Errorf("a gateway with NAT rules shrunk to VpnGw1: %d %s", r.status, r.body)
	}
	small := e.site(subA, "rg-small", loc, "10.5.0.0/16", "RouteBased", "VpnGw1")
	if r := e.do("PUT", small.gw+"/natRules/r", natRule("r", "Static", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24")); r.status != 400 || !strings.Contains(string(r.body), "VpnGw2") {
		t.Errorf("a NAT rule on a VpnGw1 gateway: %d %s", r.status, r.body)
	}
	var many []obj
	for i := range 101 {
		many = append(many, natRule(fmt.Sprintf("r%d", i), "Static", "IngressSnat", fmt.Sprintf("10.%d.0.0/24", 100+i), fmt.Sprintf("172.%d.0.0/24", 100+i)))
	}
	big := e.site(subA, "rg-big", loc, "10.6.0.0/16", "RouteBased", "VpnGw3")
	if r := e.do("PUT", big.gw, e.withNatRules(big, many...)); r.status != 400 || !strings.Contains(string(r.body), "at most 100") {
		t.Errorf("101 NAT rules: %d %.300s", r.status, r.body)
	}

	// A rule a connection uses stays.
	if r := e.do("PUT", s.gw, e.withNatRules(s, natRule("site1", "Static", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24"))); r.status != 409 || r.code() != "InUseNatRuleCannotBeDeleted" {
		t.Errorf("dropping a rule in use: %d %s", r.status, r.body)
	}
	// The VNet's interfaces route the sites' translated spaces.
	n := netPath(subA, "rg", "networkInterfaces", "web")
	e.must("PUT", n, nic(loc, s.defaultSubnet, ""))
	routes := string(e.must("POST", n+"/effectiveRouteTable", nil).body)
	for _, want := range []string{"172.31.1.0/24", "172.31.2.0/24"} {
		if !strings.Contains(routes, want) {
			t.Errorf("effective routes lack %s: %s", want, routes)
		}
	}
	if strings.Contains(routes, "10.77.0.0/24") {
		t.Errorf("effective routes hold the sites' own space: %s", routes)
	}
}

// NAT rules on a BGP connection need the gateway's route translation, and
// no APIPA address at the site; turning the translation off under such a
// connection is refused.
func TestNATWithBGPRules(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw2")
	g := e.withNatRules(s, natRule("site", "Static", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24"))
	g["properties"].(obj)["enableBgp"] = true
	e.must("PUT", s.gw, g)
	site := func(name, bgpAddr string) string {
		l := localGateway(loc, "203.0.113.7")
		l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": bgpAddr}
		p := netPath(subA, "rg", "localNetworkGateways", name)
		e.must("PUT", p, l)
		return p
	}
	conn := func(lng string) obj {
		c := s2s(loc, s.gw, lng)
		c["properties"].(obj)["enableBgp"] = true
		c["properties"].(obj)["ingressNatRules"] = []obj{{"id": s.gw + "/natRules/site"}}
		return c
	}
	c1 := netPath(subA, "rg", "connections", "c1")
	if r := e.do("PUT", c1, conn(site("l1", "172.31.1.1"))); r.status != 400 || !strings.Contains(string(r.body), "enableBgpRouteTranslationForNat") {
		t.Errorf("NAT with BGP without route translation: %d %s", r.status, r.body)
	}
	g = e.withNatRules(s, natRule("site", "Static", "IngressSnat", "10.77.0.0/24", "172.31.1.0/24"))
	g["properties"].(obj)["enableBgpRouteTranslationForNat"] = true
	e.must("PUT", s.gw, g)
	if r := e.do("PUT", c1, conn(site("l2", "169.254.21.1"))); r.status != 400 || !strings.Contains(string(r.body), "APIPA") {
		t.Errorf("NAT with a BGP APIPA address: %d %s", r.status, r.body)
	}
	e.must("PUT", c1, conn(site("l1", "172.31.1.1")))
	g["properties"].(obj)["enableBgpRouteTranslationForNat"] = false
	if r := e.do("PUT", s.gw, g); r.status != 400 || !strings.Contains(string(r.body), "connection c1") {
		t.Errorf("route translation turned off under a BGP connection with NAT: %d %s", r.status, r.body)
	}
}

// Dynamic NAT rules: the VNet's /24 leaves for a site as one address
// (EgressSnat), a site's /24 enters the VNet from a /29 (IngressSnat).
// The site's device script and the VNet's routes name the external
// spaces; a Dynamic rule does not go on a BGP connection, and on an
// active-active gateway names its instance.
func TestDynamicNATRules(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw2")
	e.must("PUT", s.gw, e.withNatRules(s, natRule("vnet", "Dynamic", "EgressSnat", "10.1.0.0/16", "100.65.0.1/32"),
		natRule("site", "Dynamic", "IngressSnat", "10.77.0.0/24", "172.31.1.0/29")))
	l := e.lng(s, "branch", "203.0.113.1", "10.77.0.0/24")
	c := s2s(loc, s.gw, l)
	c["properties"].(obj)["egressNatRules"] = []obj{{"id": s.gw + "/natRules/vnet"}}
	c["properties"].(obj)["ingressNatRules"] = []obj{{"id": s.gw + "/natRules/site"}}
	conn := netPath(subA, "rg", "connections", "c")
	e.must("PUT", conn, c)
	script := string(e.must("POST", conn+"/vpndeviceconfigurationscript", obj{"vendor": "strongSwan", "deviceFamily": "swanctl", "firmwareVersion": "5.9"}).body)
	if !strings.Contains(script, "remote_ts = 100.65.0.1/32") || strings.Contains(script, "10.1.0.0/16") {
		t.Errorf("the device script of a connection with a Dynamic EgressSnat rule:\n%s", script)
	}
	n := netPath(subA, "rg", "networkInterfaces", "web")
	e.must("PUT", n, nic(loc, s.defaultSubnet, ""))
	routes := string(e.must("POST", n+"/effectiveRouteTable", nil).body)
	if !strings.Contains(routes, "172.31.1.0/29") || strings.Contains(routes, "10.77.0.0/24") {
		t.Errorf("effective routes with a Dynamic IngressSnat rule: %s", routes)
	}

	// BGP route translation is one to one: no Dynamic rule with it.
	g := e.withNatRules(s, natRule("vnet", "Dynamic", "EgressSnat", "10.1.0.0/16", "100.65.0.1/32"),
		natRule("site", "Dynamic", "IngressSnat", "10.77.0.0/24", "172.31.1.0/29"))
	g["properties"].(obj)["enableBgp"] = true
	g["properties"].(obj)["enableBgpRouteTranslationForNat"] = true
	e.must("PUT", s.gw, g)
	lb := localGateway(loc, "203.0.113.7")
	lb["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "172.31.1.1"}
	lbPath := netPath(subA, "rg", "localNetworkGateways", "bgp")
	e.must("PUT", lbPath, lb)
	cb := s2s(loc, s.gw, lbPath)
	cb["properties"].(obj)["enableBgp"] = true
	cb["properties"].(obj)["egressNatRules"] = []obj{{"id": s.gw + "/natRules/vnet"}}
	if r := e.do("PUT", netPath(subA, "rg", "connections", "cb"), cb); r.status != 400 || !strings.Contains(string(r.body), "Dynamic") {
		t.Errorf("a Dynamic rule on a BGP connection: %d %s", r.status, r.body)
	}

	// On an active-active gateway each instance has its own Dynamic rule.
	aa, ag := e.activeActive()
	ap := ag["properties"].(obj)
	ap["natRules"] = []obj{natRule("vnet", "Dynamic", "EgressSnat", "10.5.0.0/16", "100.66.0.1/32")}
	if r := e.do("PUT", aa.gw, ag); r.status != 400 || !strings.Contains(string(r.body), "ipConfigurationId") {
		t.Errorf("a Dynamic rule for both instances of an active-active gateway: %d %s", r.status, r.body)
	}
	one, two := natRule("vnet1", "Dynamic", "EgressSnat", "10.5.0.0/16", "100.66.0.1/32"), natRule("vnet2", "Dynamic", "EgressSnat", "10.5.0.0/16", "100.66.0.2/32")
	one["properties"].(obj)["ipConfigurationId"], two["properties"].(obj)["ipConfigurationId"] = "ipconfig1", "ipconfig2"
	ap["natRules"] = []obj{one, two}
	e.must("PUT", aa.gw, ag)
}

// TestNATRuleSpacesTrimmed: a NAT rule's address spaces with spaces around
// them (a line of a CRLF file ends in \r) are taken and stored without
// them, as every other prefix is; they were refused as no CIDR prefix.
func TestNATRuleSpacesTrimmed(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw2")
	g := e.must("PUT", s.gw, e.withNatRules(s, natRule("site1", "Static", "IngressSnat", " 10.77.0.0/24\r", "172.31.1.0/24 ")))
	if in, ex := g.str("properties.natRules.0.properties.internalMappings.0.addressSpace"), g.str("properties.natRules.0.properties.externalMappings.0.addressSpace"); in != "10.77.0.0/24" || ex != "172.31.1.0/24" {
		t.Errorf("the gateway's rule: internal %q, external %q", in, ex)
	}
	r := e.must("PUT", s.gw+"/natRules/site2", natRule("", "Static", "IngressSnat", "10.78.0.0/24\r\n", "\t172.31.2.0/24"))
	if in, ex := r.str("properties.internalMappings.0.addressSpace"), r.str("properties.externalMappings.0.addressSpace"); in != "10.78.0.0/24" || ex != "172.31.2.0/24" {
		t.Errorf("the rule PUT alone: internal %q, external %q", in, ex)
	}
}

// TestNATRuleHostBitsRefused: a NAT rule's address space with host bits
// set (10.77.0.1/24) is refused with 400 InvalidAddressPrefix naming the
// prefix, as every other prefix is, in a gateway's natRules and in a NAT
// rule PUT alone; it was masked without a word (stored as 10.77.0.1/24,
// translated as 10.77.0.0/24).
func TestNATRuleHostBitsRefused(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw2")
	for _, c := range []struct {
		name, path string
		body       obj
		want       string
	}{
		{"gateway, internal", s.gw, e.withNatRules(s, natRule("site1", "Static", "IngressSnat", "10.77.0.1/24", "172.31.1.0/24")), "10.77.0.0/24"},
		{"gateway, external", s.gw, e.withNatRules(s, natRule("site1", "Static", "IngressSnat", "10.77.0.0/24", "172.31.1.9/24")), "172.31.1.0/24"},
		{"rule alone", s.gw + "/natRules/site2", natRule("", "Static", "IngressSnat", "10.78.0.0/24", "172.31.2.1/24"), "172.31.2.0/24"},
	} {
		r := e.do("PUT", c.path, c.body)
		if r.status != http.StatusBadRequest || r.code() != "InvalidAddressPrefix" || !strings.Contains(r.str("error.message"), c.want) {
			t.Errorf("%s: %d %s, want 400 InvalidAddressPrefix naming %s", c.name, r.status, r.body, c.want)
		}
	}
	if r := e.do("GET", s.gw+"/natRules/site2", nil); r.status != http.StatusNotFound {
		t.Errorf("the refused rule was stored: %d %s", r.status, r.body)
	}
}

// Each instance of an active-active gateway keeps the flows of its own
// Dynamic rule: a connection that names one rule of each instance needs
// them at different external spaces, or the site, which sends to the
// external address by one tunnel, brings the answers to flows the other
// instance holds where no flow is (dropped, nat_no_flow). Such a pair is
// refused; one at different spaces, or two Static rules at one space
// (stateless), passes.
func TestDynamicNATRulesOfInstancesApart(t *testing.T) {
	e := newEnv(t)
	aa, ag := e.activeActive()
	rule := func(name, typ, ipconfig, external string) obj {
		r := natRule(name, typ, "EgressSnat", "10.5.0.0/16", external)
		r["properties"].(obj)["ipConfigurationId"] = ipconfig
		return r
	}
	ag["properties"].(obj)["natRules"] = []obj{
		rule("dyn1", "Dynamic", "ipconfig1", "100.66.0.1/32"), rule("dyn2", "Dynamic", "ipconfig2", "100.66.0.1/32"),
		rule("own2", "Dynamic", "ipconfig2", "100.66.0.2/32"),
		rule("st1", "Static", "ipconfig1", "100.67.0.0/16"), rule("st2", "Static", "ipconfig2", "100.67.0.0/16"),
	}
	e.must("PUT", aa.gw, ag)
	l := e.lng(aa, "branch", "203.0.113.1", "10.77.0.0/24")
	conn := netPath(subA, "aa", "connections", "c")
	with := func(names ...string) obj {
		c := s2s(loc, aa.gw, l)
		var refs []obj
		for _, n := range names {
			refs = append(refs, obj{"id": aa.gw + "/natRules/" + n})
		}
		c["properties"].(obj)["egressNatRules"] = refs
		return c
	}
	if r := e.do("PUT", conn, with("dyn1", "dyn2")); r.status != 400 || r.code() != "InvalidParameter" || !strings.Contains(string(r.body), "external") {
		t.Errorf("Dynamic rules of both instances at one external space: %d %s, want 400 naming the external space", r.status, r.body)
	}
	e.must("PUT", conn, with("dyn1", "own2"))
	e.must("PUT", conn, with("st1", "st2"))
}

// An EgressSnat rule shows the VNet to a site in its external space: one
// that overlaps the site's own ranges would show the VNet's hosts at the
// site's, which the site keeps on its own network and never sends into
// the tunnel (Azure: external mappings must not overlap the networks
// connected). The connection is refused, as is a site range moved onto
// it later; an external space beside the site's passes.
func TestNATEgressExternalOffTheSite(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw2")
	e.must("PUT", s.gw, e.withNatRules(s, natRule("over", "Static", "EgressSnat", "10.1.0.0/24", "10.77.0.0/24"),
		natRule("beside", "Static", "EgressSnat", "10.1.0.0/24", "100.65.0.0/24")))
	l := e.lng(s, "branch", "203.0.113.1", "10.77.0.0/24")
	conn := netPath(subA, "rg", "connections", "c")
	with := func(rule string) obj {
		c := s2s(loc, s.gw, l)
		c["properties"].(obj)["egressNatRules"] = []obj{{"id": s.gw + "/natRules/" + rule}}
		return c
	}
	if r := e.do("PUT", conn, with("over")); r.status != 400 || r.code() != "InvalidParameter" || !strings.Contains(string(r.body), "10.77.0.0/24") {
		t.Errorf("an EgressSnat rule onto the site's own range: %d %s, want 400 naming it", r.status, r.body)
	}
	e.must("PUT", conn, with("beside"))
	if r := e.do("PUT", l, localGateway(loc, "203.0.113.1", "10.77.0.0/24", "100.65.0.0/25")); r.status != 400 || !strings.Contains(string(r.body), "connection c") {
		t.Errorf("a site range moved onto the VNet's external space: %d %s", r.status, r.body)
	}
}
