package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Changes of one resource that would break another that names it are
// refused; read-modify-write round trips hold.

// roundTrip GETs a resource and PUTs the same body back: must succeed.
func (e *env) roundTrip(t *testing.T, path string) resp {
	t.Helper()
	g := e.must("GET", path, nil)
	var body any
	json.Unmarshal(g.body, &body)
	return e.do("PUT", path, body)
}

// TestNICTwoDynamicConfigs: a network interface with two Dynamic IP
// configurations in one subnet gets two addresses, at creation and when
// the second is added.
func TestNICTwoDynamicConfigs(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	n := obj{"location": loc, "properties": obj{"ipConfigurations": []obj{
		{"name": "a", "properties": obj{"subnet": obj{"id": s.defaultSubnet}}},
		{"name": "b", "properties": obj{"subnet": obj{"id": s.defaultSubnet}}},
	}}}
	r := e.do("PUT", netPath(subA, "rg", "networkInterfaces", "n"), n)
	if r.status >= 300 {
		t.Errorf("create NIC with two dynamic configs: %d %s", r.status, r.body)
	}
	// Adding a second Dynamic configuration to an existing NIC.
	p := netPath(subA, "rg", "networkInterfaces", "m")
	e.must("PUT", p, nic(loc, s.defaultSubnet, ""))
	g := e.must("GET", p, nil)
	var body map[string]any
	json.Unmarshal(g.body, &body)
	cfgs := body["properties"].(map[string]any)["ipConfigurations"].([]any)
	body["properties"].(map[string]any)["ipConfigurations"] = append(cfgs, obj{"name": "second", "properties": obj{"subnet": obj{"id": s.defaultSubnet}}})
	if r := e.do("PUT", p, body); r.status >= 300 {
		t.Errorf("add a second dynamic config: %d %s", r.status, r.body)
	}
}

// TestNICUnnamedConfigKeepsItsAddress: an IP configuration left without a
// name (named ipconfigN, N its place) keeps its Dynamic address when the
// interface is PUT again, and a new Dynamic configuration before it is not
// given that address too (which refused the PUT with
// PrivateIPAddressInUse, an address "given to two IP configurations").
func TestNICUnnamedConfigKeepsItsAddress(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	p := netPath(subA, "rg", "networkInterfaces", "n")
	body := func(first obj) obj {
		return obj{"location": loc, "properties": obj{"ipConfigurations": []obj{
			first, {"properties": obj{"subnet": obj{"id": s.defaultSubnet}}},
		}}}
	}
	r := e.must("PUT", p, body(obj{"name": "web", "properties": obj{"subnet": obj{"id": s.defaultSubnet},
		"privateIPAllocationMethod": "Static", "privateIPAddress": "10.1.0.10"}}))
	kept := r.str("properties.ipConfigurations.1.properties.privateIPAddress")
	if kept != "10.1.0.4" {
		t.Fatalf("unnamed Dynamic configuration: %q, want 10.1.0.4", kept)
	}
	// The first configuration is replaced by a new Dynamic one.
	next := body(obj{"name": "app", "properties": obj{"subnet": obj{"id": s.defaultSubnet}}})
	r = e.do("PUT", p, next)
	if r.status != 200 {
		t.Fatalf("replace the first configuration: %d %s", r.status, r.body)
	}
	if got := r.str("properties.ipConfigurations.1.properties.privateIPAddress"); got != kept {
		t.Errorf("unnamed configuration moved from %s to %s", kept, got)
	}
	app := r.str("properties.ipConfigurations.0.properties.privateIPAddress")
	if app == "" || app == kept {
		t.Errorf("new configuration got %q beside %s", app, kept)
	}
	// The same body again changes no address.
	r = e.must("PUT", p, next)
	if a, b := r.str("properties.ipConfigurations.0.properties.privateIPAddress"), r.str("properties.ipConfigurations.1.properties.privateIPAddress"); a != app || b != kept {
		t.Errorf("re-PUT moved the addresses from %s, %s to %s, %s", app, kept, a, b)
	}
}

// bgpConnection makes a gateway (ASN 65020) and a site (65010) joined by
// a BGP connection, and returns their bodies and paths.
func bgpConnection(t *testing.T) (e *env, s site, g, l obj, lp, cp string) {
	t.Helper()
	e = newEnv(t)
	s = e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	g = gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["enableBgp"] = true
	g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020}
	e.must("PUT", s.gw, g)
	l = localGateway(loc, "203.0.113.1", "192.168.0.0/24")
	l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "192.168.0.1"}
	lp = netPath(subA, "rg", "localNetworkGateways", "l")
	e.must("PUT", lp, l)
	cp = netPath(subA, "rg", "connections", "c")
	c := s2s(loc, s.gw, lp)
	c["properties"].(obj)["enableBgp"] = true
	e.must("PUT", cp, c)
	return e, s, g, l, lp, cp
}

// TestGatewayBGPOffUnderConnection: a gateway or site change that its
// connection would not take (BGP off under a BGP connection, the site's
// BGP settings gone) is refused, not left for the connection's next PUT to
// fail.
func TestGatewayBGPOffUnderConnection(t *testing.T) {
	e, s, g, l, lp, cp := bgpConnection(t)

	g["properties"].(obj)["enableBgp"] = false
	if r := e.do("PUT", s.gw, g); r.status < 300 {
		t.Errorf("gateway: BGP turned off under a BGP connection accepted: %d", r.status)
		if r := e.roundTrip(t, cp); r.status >= 300 {
			t.Errorf("  then connection GET→PUT: %d %s", r.status, r.body)
		}
	}
	// The site's BGP settings removed under the BGP connection.
	g["properties"].(obj)["enableBgp"] = true
	e.must("PUT", s.gw, g)
	delete(l["properties"].(obj), "bgpSettings")
	if r := e.do("PUT", lp, l); r.status < 300 {
		t.Errorf("site: bgpSettings removed under a BGP connection accepted: %d", r.status)
		if r := e.roundTrip(t, cp); r.status >= 300 {
			t.Errorf("  then connection GET→PUT: %d %s", r.status, r.body)
		}
	}
}

// TestActiveActiveOffUnderCustomBgp: the gateway's custom APIPA addresses
// a connection names cannot go from under it.
func TestActiveActiveOffUnderCustomBgp(t *testing.T) {
	e, s, g, _ := twoIPConfigGateway(t)
	p := g["properties"].(obj)
	p["activeActive"] = true
	p["enableBgp"] = true
	p["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddresses": []obj{
		{"ipconfigurationId": s.gw + "/ipConfigurations/ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2"}},
		{"ipconfigurationId": s.gw + "/ipConfigurations/ipconfig2", "customBgpIpAddresses": []string{"169.254.22.2"}}}}
	e.must("PUT", s.gw, g)
	l := localGateway(loc, "203.0.113.1")
	l["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "169.254.21.1"}
	lp := netPath(subA, "aa", "localNetworkGateways", "l")
	e.must("PUT", lp, l)
	cp := netPath(subA, "aa", "connections", "c")
	c := s2s(loc, s.gw, lp)
	c["properties"].(obj)["enableBgp"] = true
	c["properties"].(obj)["gatewayCustomBgpIpAddresses"] = []obj{
		{"ipConfigurationId": "ipconfig1", "customBgpIpAddress": "169.254.21.2"},
		{"ipConfigurationId": "ipconfig2", "customBgpIpAddress": "169.254.22.2"}}
	e.must("PUT", cp, c)
	// Drop the custom APIPA addresses from the gateway.
	p["bgpSettings"] = obj{"asn": 65020}
	if r := e.do("PUT", s.gw, g); r.status < 300 {
		t.Errorf("gateway: custom APIPA addresses a connection uses removed, accepted")
		if r := e.roundTrip(t, cp); r.status >= 300 {
			t.Errorf("  then connection GET→PUT: %d %s", r.status, r.body)
		}
	}
}

// TestCustomBgpRoundTrip: the bgpPeeringAddresses a GET gives, one entry
// for each IP configuration, are taken back by a PUT of what it gave, the
// custom APIPA addresses kept.
func TestCustomBgpRoundTrip(t *testing.T) {
	e, s, g, _ := twoIPConfigGateway(t)
	p := g["properties"].(obj)
	p["activeActive"] = true
	p["enableBgp"] = true
	p["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddresses": []obj{
		{"ipconfigurationId": "ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2"}},
		{"ipconfigurationId": "ipconfig2", "customBgpIpAddresses": []string{"169.254.22.2"}}}}
	e.must("PUT", s.gw, g)
	r := e.roundTrip(t, s.gw)
	if r.status >= 300 || r.str("properties.bgpSettings.bgpPeeringAddresses.0.customBgpIpAddresses.0") != "169.254.21.2" ||
		r.str("properties.bgpSettings.bgpPeeringAddresses.1.customBgpIpAddresses.0") != "169.254.22.2" {
		t.Errorf("gateway GET→PUT: %d %s", r.status, r.body)
	}
}

// TestActiveActiveOffRoundTrip: an active-active BGP gateway made single
// by a GET→PUT of itself without its second IP configuration (as
// vnet-gateway update does) is taken: its GET names both configurations
// in bgpSettings.bgpPeeringAddresses, and the entry of the one taken away
// was refused as none of the gateway's. One that carries custom APIPA
// addresses is still refused, not dropped with them.
func TestActiveActiveOffRoundTrip(t *testing.T) {
	for _, custom := range []bool{false, true} {
		e, s, g, _ := twoIPConfigGateway(t)
		p := g["properties"].(obj)
		p["activeActive"] = true
		p["enableBgp"] = true
		second := obj{"ipconfigurationId": "ipconfig2"}
		if custom {
			second["customBgpIpAddresses"] = []string{"169.254.22.2"}
		}
		p["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddresses": []obj{
			{"ipconfigurationId": "ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2"}}, second}}
		e.must("PUT", s.gw, g)
		var got obj
		json.Unmarshal(e.must("GET", s.gw, nil).body, &got)
		gp := got["properties"].(obj)
		gp["activeActive"] = false
		gp["ipConfigurations"] = gp["ipConfigurations"].([]any)[:1]
		r := e.do("PUT", s.gw, got)
		switch {
		case !custom && (r.status >= 300 || r.str("properties.bgpSettings.bgpPeeringAddresses.0.customBgpIpAddresses.0") != "169.254.21.2" || r.str("properties.bgpSettings.bgpPeeringAddresses.1.ipconfigurationId") != ""):
			t.Errorf("active-active gateway GET→PUT without its second IP configuration: %d %s, want it single, its first configuration's custom address kept", r.status, r.body)
		case custom && (r.status != 400 || !strings.Contains(r.str("error.message"), "169.254.22.2")):
			t.Errorf("the same, the second configuration's entry with a custom address: %d %s, want 400 naming the address", r.status, r.body)
		}
	}
}

// TestSiteAddressOntoAnotherSite: a site may not move its device onto the
// address of another site connected to the same gateway (R34).
func TestSiteAddressOntoAnotherSite(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l1 := e.lng(s, "l1", "203.0.113.1", "192.168.1.0/24")
	l2 := e.lng(s, "l2", "203.0.113.2", "192.168.2.0/24")
	e.must("PUT", netPath(subA, "rg", "connections", "c1"), s2s(loc, s.gw, l1))
	c2 := netPath(subA, "rg", "connections", "c2")
	e.must("PUT", c2, s2s(loc, s.gw, l2))
	if r := e.do("PUT", l2, localGateway(loc, "203.0.113.1", "192.168.2.0/24")); r.status < 300 {
		t.Errorf("site: device address moved onto another connected site's, accepted")
		if r := e.roundTrip(t, c2); r.status >= 300 {
			t.Errorf("  then connection GET→PUT: %d %s", r.status, r.body)
		}
	}
}

// TestSiteASNOntoGateways: a site's ASN may not become its gateway's under
// a BGP connection (R41).
func TestSiteASNOntoGateways(t *testing.T) {
	e, _, _, l, lp, cp := bgpConnection(t)
	l["properties"].(obj)["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddress": "192.168.0.1"}
	if r := e.do("PUT", lp, l); r.status < 300 {
		t.Errorf("site ASN set to the gateway's under a BGP connection, accepted")
		if r := e.roundTrip(t, cp); r.status >= 300 {
			t.Errorf("  then connection GET→PUT: %d %s", r.status, r.body)
		}
	}
}

// TestCustomAPIPAByConfigName: custom APIPA addresses name their IP
// configuration by id or by name (as NAT rules and connections do); one
// that names none is refused, not dropped.
func TestCustomAPIPAByConfigName(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["enableBgp"] = true
	g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddresses": []obj{{"ipconfigurationId": "ipconfig1", "customBgpIpAddresses": []string{"169.254.21.2"}}}}
	if r := e.do("PUT", s.gw, g); r.status >= 300 || r.str("properties.bgpSettings.bgpPeeringAddresses.0.customBgpIpAddresses.0") != "169.254.21.2" {
		t.Errorf("by name: %d %s", r.status, r.body)
	}
	g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddresses": []obj{{"ipconfigurationId": s.gw + "/ipConfigurations/nope", "customBgpIpAddresses": []string{"169.254.21.2"}}}}
	if r := e.do("PUT", s.gw, g); r.status != 400 || r.code() != "InvalidParameter" {
		t.Errorf("an IP configuration that is not the gateway's: %d %s", r.status, r.body)
	}
}

// TestLocalGatewayLocationFixed: a local network gateway's location does
// not change, as no resource's does.
func TestLocalGatewayLocationFixed(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l := e.lng(s, "l", "203.0.113.1", "192.168.1.0/24")
	e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, l))
	if r := e.do("PUT", l, localGateway("eastus", "203.0.113.1", "192.168.1.0/24")); r.status < 300 {
		t.Errorf("LNG moved from %s to eastus under a connection: %d", loc, r.status)
	}
}

// TestGatewayIPConfigRename: renaming a gateway's IP configuration keeps
// its public IP address (not "in use" by the gateway itself).
func TestGatewayIPConfigRename(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["ipConfigurations"].([]obj)[0]["name"] = "gwipconfig"
	if r := e.do("PUT", s.gw, g); r.code() == "PublicIPAddressInUse" {
		t.Errorf("rename: %d %s", r.status, r.body)
	}
}

// TestMissingGroupCodes: a PATCH and a NAT rule PUT in a group that does
// not exist answer ResourceGroupNotFound, as GET, PUT and DELETE do; so
// does a PATCH of the missing group itself (it answered ResourceNotFound
// of a resource with an empty name).
func TestMissingGroupCodes(t *testing.T) {
	e := newEnv(t)
	if r := e.do("PATCH", netPath(subA, "nogroup", "virtualNetworks", "v"), obj{"tags": obj{"a": "b"}}); r.code() != "ResourceGroupNotFound" {
		t.Errorf("PATCH: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", rgPath(subA, "nogroup"), obj{"tags": obj{"a": "b"}}); r.status != http.StatusNotFound || r.code() != "ResourceGroupNotFound" {
		t.Errorf("PATCH of the group: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", netPath(subA, "nogroup", "virtualNetworkGateways", "g")+"/natRules/n", obj{"properties": obj{}}); r.code() != "ResourceGroupNotFound" {
		t.Errorf("PUT natRule: %d %s", r.status, r.body)
	}
}

// TestBGPPeeringAddressIPv4: a gateway's BGP peering address is IPv4 (it
// is its BGP identifier too), also in a dual-stack GatewaySubnet.
func TestBGPPeeringAddressIPv4(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	vp := netPath(subA, "rg", "virtualNetworks", "v")
	e.must("PUT", vp, obj{"location": loc, "properties": obj{"addressSpace": obj{"addressPrefixes": []string{"10.1.0.0/16", "fd00:1::/48"}},
		"subnets": []obj{{"name": "GatewaySubnet", "properties": obj{"addressPrefixes": []string{"10.1.255.0/27", "fd00:1:0:ff::/64"}}}}}})
	pip := netPath(subA, "rg", "publicIPAddresses", "pip")
	e.must("PUT", pip, publicIP(loc, "Dynamic"))
	g := gateway(loc, vp+"/subnets/GatewaySubnet", pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["enableBgp"] = true
	g["properties"].(obj)["bgpSettings"] = obj{"asn": 65020, "bgpPeeringAddress": "fd00:1:0:ff::10"}
	if r := e.do("PUT", netPath(subA, "rg", "virtualNetworkGateways", "gw"), g); r.status != 400 || r.code() != "InvalidBgpPeeringAddress" {
		t.Errorf("an IPv6 BGP peering address: %d %s", r.status, r.body)
	}
}

// TestMissingParentCode: a PUT of a subnet, a route or a NAT rule under a
// VNet, route table or gateway that does not exist answers 404
// ParentResourceNotFound, as ARM does; it answered ResourceNotFound, the
// code of a missing resource, which SDK callers tell apart.
func TestMissingParentCode(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	for _, tc := range []struct {
		name, path string
		body       obj
	}{
		{"subnet", netPath(subA, "rg", "virtualNetworks", "nope") + "/subnets/s", obj{"properties": obj{"addressPrefix": "10.1.0.0/24"}}},
		{"route", netPath(subA, "rg", "routeTables", "nope") + "/routes/r", obj{"properties": obj{"addressPrefix": "10.9.0.0/16", "nextHopType": "None"}}},
		{"NAT rule", netPath(subA, "rg", "virtualNetworkGateways", "nope") + "/natRules/n", obj{"properties": obj{"mode": "IngressSnat",
			"internalMappings": []obj{{"addressSpace": "10.9.0.0/24"}}, "externalMappings": []obj{{"addressSpace": "100.64.9.0/24"}}}}},
	} {
		if r := e.do("PUT", tc.path, tc.body); r.status != http.StatusNotFound || r.code() != "ParentResourceNotFound" || !strings.Contains(r.str("error.message"), "'nope'") {
			t.Errorf("%s: %d %s, want 404 ParentResourceNotFound", tc.name, r.status, r.body)
		}
	}
}

// TestGroupLocationConflict: a PUT of an existing resource group in
// another location answers 409 InvalidResourceGroupLocation, as ARM does
// (scripts that run `az group create` again look for it); it answered 400
// InvalidParameter. The same location again is fine.
func TestGroupLocationConflict(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	r := e.do("PUT", rgPath(subA, "rg"), group("northeurope"))
	if r.status != http.StatusConflict || r.code() != "InvalidResourceGroupLocation" || !strings.Contains(r.str("error.message"), "westeurope") {
		t.Errorf("another location: %d %s, want 409 InvalidResourceGroupLocation", r.status, r.body)
	}
	e.must("PUT", rgPath(subA, "rg"), group("West Europe"))
}

// TestResourceLocationConflict: a PUT of an existing resource in another
// location answers 409 InvalidResourceLocation, as ARM does for every
// resource ("The resource '…' already exists in location '…' in resource
// group '…'. A resource with the same name cannot be created in location
// '…'."); it answered 400 InvalidParameter (a connection: that it was not
// in its gateway's location; a network interface was moved). The same
// location, written otherwise, is fine; nothing moved.
func TestResourceLocationConflict(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	lp := e.lng(s, "l", "203.0.113.1", "192.168.1.0/24")
	cp := netPath(subA, "rg", "connections", "c")
	e.must("PUT", cp, s2s(loc, s.gw, lp))
	rt := netPath(subA, "rg", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc, "properties": obj{}})
	np := netPath(subA, "rg", "networkInterfaces", "n")
	e.must("PUT", np, nic(loc, s.defaultSubnet, ""))
	for _, c := range []struct {
		name, path string
		body       func(loc string) obj
	}{
		{"virtual network", s.vnet, func(l string) obj {
			return vnet(l, []string{"10.1.0.0/16"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27"))
		}},
		{"public IP address", s.pip, func(l string) obj { return publicIP(l, "Dynamic") }},
		{"virtual network gateway", s.gw, func(l string) obj { return gateway(l, s.gwSubnet, s.pip, "RouteBased", "VpnGw1") }},
		{"local network gateway", lp, func(l string) obj { return localGateway(l, "203.0.113.1", "192.168.1.0/24") }},
		{"connection", cp, func(l string) obj { return s2s(l, s.gw, lp) }},
		{"route table", rt, func(l string) obj { return obj{"location": l, "properties": obj{}} }},
		{"network interface", np, func(l string) obj { return nic(l, s.defaultSubnet, "") }},
	} {
		r := e.do("PUT", c.path, c.body("northeurope"))
		if r.status != http.StatusConflict || r.code() != "InvalidResourceLocation" ||
			!strings.Contains(r.str("error.message"), "already exists in location 'westeurope' in resource group 'rg'") {
			t.Errorf("%s in another location: %d %s, want 409 InvalidResourceLocation", c.name, r.status, r.body)
		}
		if r := e.do("GET", c.path, nil); r.str("location") != loc {
			t.Errorf("%s: location %q after the refused PUT, want %q", c.name, r.str("location"), loc)
		}
		e.must("PUT", c.path, c.body("West Europe"))
	}
}

// TestMissingParentDelete: a DELETE of a subnet, a route or a NAT rule
// under a VNet, route table or gateway that does not exist answers 404
// ParentResourceNotFound, as its PUT does and as ARM does; it answered
// 204, as if the child had been there to delete or was gone already.
// Under a parent that exists, a missing child is still 204.
func TestMissingParentDelete(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw2")
	rt := netPath(subA, "rg", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc, "properties": obj{}})
	for _, c := range []struct{ name, missing, present string }{
		{"subnet", netPath(subA, "rg", "virtualNetworks", "nope") + "/subnets/s", s.vnet + "/subnets/s"},
		{"route", netPath(subA, "rg", "routeTables", "nope") + "/routes/r", rt + "/routes/r"},
		{"NAT rule", netPath(subA, "rg", "virtualNetworkGateways", "nope") + "/natRules/n", s.gw + "/natRules/n"},
	} {
		if r := e.do("DELETE", c.missing, nil); r.status != http.StatusNotFound || r.code() != "ParentResourceNotFound" || !strings.Contains(r.str("error.message"), "'nope'") {
			t.Errorf("%s under a missing parent: %d %s, want 404 ParentResourceNotFound", c.name, r.status, r.body)
		}
		if r := e.do("DELETE", c.present, nil); r.status != http.StatusNoContent {
			t.Errorf("a missing %s under its parent: %d %s, want 204", c.name, r.status, r.body)
		}
	}
}

// TestInUseSubnetKeepsItsID: a VNet PUT that writes a subnet in use in
// another case keeps the subnet's name as it was, and its id with it:
// the id named the body's case while the name kept the stored one
// (name Web, id .../subnets/web), so that the subnet's id was not the one
// its interfaces name.
func TestInUseSubnetKeepsItsID(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	v := netPath(subA, "rg", "virtualNetworks", "v")
	e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16"}, subnet("Web", "10.1.1.0/24")))
	n := netPath(subA, "rg", "networkInterfaces", "n")
	e.must("PUT", n, nic(loc, v+"/subnets/Web", ""))
	r := e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16"}, subnet("web", "10.1.1.0/24")))
	ref := e.must("GET", n, nil).str("properties.ipConfigurations.0.properties.subnet.id")
	for what, s := range map[string]resp{"the PUT's answer": r, "a GET": e.must("GET", v, nil)} {
		if name, id := s.str("properties.subnets.0.name"), s.str("properties.subnets.0.id"); name != "Web" || id != v+"/subnets/Web" || id != ref {
			t.Errorf("%s: subnet %s, id %s; want Web, %s, the id its interface names (%s)", what, name, id, v+"/subnets/Web", ref)
		}
	}
}
