package api

import (
	"fmt"
	"net/http"
	"testing"
)

// TestChildEtagsFollowParentTags: a NAT rule carries its gateway's etag,
// also after a PATCH of the gateway's tags gave it a new one: a PUT of
// the rule with If-Match of what a GET showed goes through.
func TestChildEtagsFollowParentTags(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw2")
	rule := s.gw + "/natRules/r1"
	e.must("PUT", rule, obj{"properties": obj{"type": "Static", "mode": "IngressSnat",
		"internalMappings": []obj{{"addressSpace": "10.77.0.0/24"}}, "externalMappings": []obj{{"addressSpace": "172.31.1.0/24"}}}})
	patched := e.must("PATCH", s.gw, obj{"tags": obj{"env": "prod"}})
	got := e.must("GET", rule, nil)
	if got.str("etag") != patched.str("etag") {
		t.Errorf("rule etag %s, gateway's %s", got.str("etag"), patched.str("etag"))
	}
	if r := e.doHeader("PUT", rule, obj{"properties": got.field("properties")}, http.Header{"If-Match": {got.str("etag")}}); r.status != http.StatusOK {
		t.Errorf("PUT of the rule with If-Match of its GET: %d %s", r.status, r.body)
	}
}

// TestPublicIPEtagOnAttach: a public IP's etag changes when a gateway
// takes it (it gets an address and an ipConfiguration) and when the
// gateway lets it go.
func TestPublicIPEtagOnAttach(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	pip2 := netPath(subA, "rg", "publicIPAddresses", "pip2")
	before := e.must("PUT", pip2, publicIP(loc, "Dynamic"))
	e.must("PUT", s.gw, gateway(loc, s.gwSubnet, pip2, "RouteBased", "VpnGw1"))
	taken := e.must("GET", pip2, nil)
	if taken.str("properties.ipAddress") == "" || taken.str("etag") == before.str("etag") {
		t.Errorf("taken by the gateway: address %q, etag %s before and after", taken.str("properties.ipAddress"), before.str("etag"))
	}
	e.must("PUT", s.gw, gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1"))
	if released := e.must("GET", pip2, nil); released.str("etag") == taken.str("etag") || released.str("properties.ipAddress") != "" {
		t.Errorf("released: address %q, etag unchanged %v", released.str("properties.ipAddress"), released.str("etag") == taken.str("etag"))
	}
}

// TestGatewayIPConfigNamesByCase: two IP configurations whose names
// differ only by case are refused: their ids would be one.
func TestGatewayIPConfigNamesByCase(t *testing.T) {
	e, s, g, _ := twoIPConfigGateway(t)
	p := g["properties"].(obj)
	p["activeActive"] = true
	p["ipConfigurations"].([]obj)[1]["name"] = "IPCONFIG1"
	e.expect("PUT", s.gw, g, http.StatusBadRequest, "InvalidParameter")
}

// TestRouteConflicts: one route per prefix in a table (ARM's
// RouteConflict), through the table and through the routes child; an
// appliance next hop of the other IP version, with a zone, or IPv4
// written as IPv6 is refused.
func TestRouteConflicts(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	rt := netPath(subA, "rg", "routeTables", "rt")
	e.expect("PUT", rt, obj{"location": loc, "properties": obj{"routes": []obj{
		{"name": "a", "properties": obj{"addressPrefix": "10.8.0.0/16", "nextHopType": "None"}},
		{"name": "b", "properties": obj{"addressPrefix": "10.8.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.1.0.4"}}}}},
		http.StatusBadRequest, "RouteConflict")
	e.must("PUT", rt, obj{"location": loc})
	e.must("PUT", rt+"/routes/a", obj{"properties": obj{"addressPrefix": "10.8.0.0/16", "nextHopType": "None"}})
	e.expect("PUT", rt+"/routes/b", obj{"properties": obj{"addressPrefix": "10.8.0.0/16", "nextHopType": "None"}}, http.StatusBadRequest, "RouteConflict")
	e.must("PUT", rt+"/routes/a", obj{"properties": obj{"addressPrefix": "10.8.0.0/16", "nextHopType": "Internet"}}) // a route replaces itself
	for _, ip := range []string{"::ffff:10.1.0.4", "2001:db8::1", "fe80::1%eth0"} {
		e.expect("PUT", rt+"/routes/x", obj{"properties": obj{"addressPrefix": "10.9.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": ip}},
			http.StatusBadRequest, "InvalidParameter")
	}
}

// TestPreconditionInMissingGroup: a conditional write in a resource
// group that does not exist is answered that the group does not exist.
func TestPreconditionInMissingGroup(t *testing.T) {
	e := newEnv(t)
	p := netPath(subA, "nogroup", "virtualNetworks", "v")
	if r := e.doHeader("PUT", p, vnet(loc, []string{"10.1.0.0/16"}), http.Header{"If-Match": {"*"}}); r.status != http.StatusNotFound || r.str("error.code") != "ResourceGroupNotFound" {
		t.Errorf("PUT If-Match: * in a missing group: %d %s", r.status, r.body)
	}
}

// TestWriteKeepsIDCase: a write through a differently cased id leaves
// the resource's id as it was created.
func TestWriteKeepsIDCase(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	rt := netPath(subA, "rg", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc})
	e.must("PUT", netPath(subA, "RG", "routeTables", "RT")+"/routes/x", obj{"properties": obj{"addressPrefix": "10.9.0.0/16", "nextHopType": "None"}})
	e.must("PUT", netPath(subA, "RG", "routeTables", "Rt"), obj{"location": loc})
	if g := e.must("GET", rt, nil); g.str("id") != rt || g.str("name") != "rt" {
		t.Errorf("table id %q, name %q after writes through other cases", g.str("id"), g.str("name"))
	}
}

// TestLongListsRefused: a list of more prefixes than one list takes, or
// more subnets than a virtual network has, is refused at once (their
// overlap checks hold every other write up).
func TestLongListsRefused(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	ps := make([]string, 1001)
	for i := range ps {
		ps[i] = fmt.Sprintf("10.%d.%d.0/24", i>>8, i&255)
	}
	e.expect("PUT", netPath(subA, "rg", "localNetworkGateways", "big"), localGateway(loc, "203.0.113.1", ps...), http.StatusBadRequest, "InvalidParameter")
	subnets := make([]obj, 3001)
	for i := range subnets {
		subnets[i] = subnet(fmt.Sprintf("s%d", i), fmt.Sprintf("10.%d.%d.0/28", i>>8, i&255))
	}
	e.expect("PUT", netPath(subA, "rg", "virtualNetworks", "big"), vnet(loc, []string{"10.0.0.0/8"}, subnets...), http.StatusBadRequest, "InvalidParameter")
}
