package api

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// TestR26RouteTables covers routeTables (R26): their routes are checked,
// a subnet names one that exists in its location, the table shows the
// subnets that use it, it cannot be deleted while one does, and the
// effective routes of an interface in such a subnet show its routes.
func TestR26RouteTables(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "udr", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	rt := netPath(subA, "udr", "routeTables", "rt")
	route := func(name, prefix, hop, ip string) obj {
		p := obj{"addressPrefix": prefix, "nextHopType": hop}
		if ip != "" {
			p["nextHopIpAddress"] = ip
		}
		return obj{"name": name, "properties": p}
	}
	table := func(routes ...obj) obj { return obj{"location": loc, "properties": obj{"routes": routes}} }
	for _, tc := range []struct {
		name string
		body obj
		code string
	}{
		{"bad prefix", table(route("r", "10.1.2.0/33", "None", "")), "InvalidAddressPrefix"},
		{"appliance without address", table(route("r", "10.1.2.0/24", "VirtualAppliance", "")), "InvalidParameter"},
		{"address for another next hop", table(route("r", "10.1.2.0/24", "VnetLocal", "10.1.1.4")), "InvalidParameter"},
		{"unknown next hop", table(route("r", "10.1.2.0/24", "Elsewhere", "")), "InvalidParameter"},
		{"no next hop", table(route("r", "10.1.2.0/24", "", "")), "InvalidParameter"},
		{"a name twice", table(route("r", "10.1.2.0/24", "None", ""), route("R", "10.1.3.0/24", "None", "")), "InvalidParameter"},
	} {
		if r := e.do("PUT", rt, tc.body); r.status != http.StatusBadRequest || r.code() != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, r.status, r.body, tc.code)
		}
	}
	r := e.must("PUT", rt, table(route("to-nva", "10.1.2.0/24", "virtualappliance", "10.1.1.4"), route("drop", "10.9.0.0/16", "None", "")))
	if r.str("properties.routes.0.properties.nextHopType") != "VirtualAppliance" || r.str("properties.routes.0.id") != rt+"/routes/to-nva" {
		t.Errorf("the route as stored: %s", r.body)
	}

	sub := s.vnet + "/subnets/default"
	withTable := func(id string) obj {
		return obj{"properties": obj{"addressPrefix": "10.1.0.0/24", "routeTable": obj{"id": id}}}
	}
	if r := e.do("PUT", sub, withTable(netPath(subA, "udr", "routeTables", "nope"))); r.status != http.StatusBadRequest || r.code() != "InvalidResourceReference" {
		t.Errorf("a subnet naming a missing route table: %d %s", r.status, r.body)
	}
	far := netPath(subA, "udr", "routeTables", "far")
	e.must("PUT", far, obj{"location": "eastus", "properties": obj{}})
	if r := e.do("PUT", sub, withTable(far)); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" {
		t.Errorf("a subnet naming a route table of another location: %d %s", r.status, r.body)
	}
	e.must("PUT", sub, withTable(rt))
	if got := e.must("GET", rt, nil).str("properties.subnets.0.id"); got != sub {
		t.Errorf("the table's subnets: %q, want %q", got, sub)
	}
	if r := e.do("DELETE", rt, nil); r.status != http.StatusConflict || r.code() != "InUseRouteTableCannotBeDeleted" {
		t.Errorf("deleting a table in use: %d %s", r.status, r.body)
	}
	nicPath := netPath(subA, "udr", "networkInterfaces", "a")
	e.must("PUT", nicPath, nic(loc, sub, ""))
	routes := e.must("POST", nicPath+"/effectiveRouteTable", nil)
	found := false
	for i := 0; routes.field("value."+strconv.Itoa(i)) != nil; i++ {
		p := "value." + strconv.Itoa(i) + "."
		if routes.str(p+"source") == "User" && routes.str(p+"nextHopType") == "VirtualAppliance" && routes.str(p+"addressPrefix.0") == "10.1.2.0/24" {
			found = true
		}
	}
	if !found {
		t.Errorf("no user route in the effective routes: %s", routes.body)
	}
	e.must("PUT", sub, obj{"properties": obj{"addressPrefix": "10.1.0.0/24"}})
	e.must("DELETE", rt, nil)
}

// TestRoutesAsChildResources: a route table's routes are resources of
// their own too (routeTables/{t}/routes/{r}, the SDKs' RoutesClient): a
// PUT adds (201) or replaces (200) one and is checked as the table's
// routes are; GET, list and DELETE (200, then 204) see the table's; a
// route carries its table's etag, which If-Match checks; a route of a
// table that does not exist is 404.
func TestRoutesAsChildResources(t *testing.T) {
	e := newEnv(t)
	e.site(subA, "udr", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	rt := netPath(subA, "udr", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc, "properties": obj{"routes": []obj{{"name": "keep", "properties": obj{"addressPrefix": "10.8.0.0/16", "nextHopType": "None"}}}}})
	nva := obj{"properties": obj{"addressPrefix": "10.9.0.0/16", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.1.0.10"}}
	if r := e.do("PUT", rt+"/routes/nva", nva); r.status != http.StatusCreated || r.str("id") != rt+"/routes/nva" || r.str("properties.provisioningState") != "Succeeded" {
		t.Fatalf("PUT a new route: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", rt+"/routes/NVA", nva); r.status != http.StatusOK || r.str("name") != "nva" {
		t.Errorf("PUT the route again (another case): %d %s", r.status, r.body)
	}
	if r := e.must("GET", rt, nil); len(r.field("properties.routes").([]any)) != 2 {
		t.Errorf("the table after the PUT: %s", r.body)
	}
	got := e.must("GET", rt+"/routes/nva", nil)
	if got.str("properties.nextHopIpAddress") != "10.1.0.10" || got.str("etag") != e.must("GET", rt, nil).str("etag") {
		t.Errorf("GET the route (with its table's etag): %s", got.body)
	}
	if l := e.must("GET", rt+"/routes", nil); len(l.field("value").([]any)) != 2 {
		t.Errorf("list the routes: %s", l.body)
	}
	bad := obj{"properties": obj{"addressPrefix": "10.9.0.0/16", "nextHopType": "VirtualAppliance"}}
	if r := e.do("PUT", rt+"/routes/nva", bad); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" || r.str("error.target") != "properties.nextHopIpAddress" ||
		r.str("error.message") != "route nva to 10.9.0.0/16 has nextHopType VirtualAppliance: it needs nextHopIpAddress, the appliance's address" {
		t.Errorf("a route to an appliance without its address: %d %s", r.status, r.body)
	}
	if r := e.doHeader("PUT", rt+"/routes/nva", nva, http.Header{"If-Match": {`"stale"`}}); r.status != http.StatusPreconditionFailed {
		t.Errorf("If-Match with a stale etag: %d %s", r.status, r.body)
	}
	if r := e.do("PUT", netPath(subA, "udr", "routeTables", "nope")+"/routes/nva", nva); r.status != http.StatusNotFound {
		t.Errorf("a route of a table that does not exist: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", rt+"/routes/nva", obj{"tags": obj{"a": "b"}}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PATCH of a route: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", rt+"/routes/nva", nil); r.status != http.StatusOK {
		t.Errorf("DELETE the route: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", rt+"/routes/nva", nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE it again: %d %s", r.status, r.body)
	}
	if r := e.do("GET", rt+"/routes/nva", nil); r.status != http.StatusNotFound {
		t.Errorf("GET the deleted route: %d %s", r.status, r.body)
	}
	if r := e.must("GET", rt, nil); len(r.field("properties.routes").([]any)) != 1 || r.str("properties.routes.0.name") != "keep" {
		t.Errorf("the table after the DELETE: %s", r.body)
	}
}

// TestDisableBGPRoutePropagation: the interfaces of a subnet whose route
// table has disableBgpRoutePropagation ("Propagate gateway routes: No")
// show none of the routes the VNet's gateway brings (a connected site's
// ranges), and their user routes to the gateway still apply; another
// subnet's show the site's ranges. The table was refused (400), its
// subnets taking the gateway's routes whatever it said.
func TestDisableBGPRoutePropagation(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l := e.lng(s, "branch", "203.0.113.1", "192.168.1.0/24", "192.168.2.0/24")
	e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, l))
	rt := netPath(subA, "rg", "routeTables", "rt")
	r := e.must("PUT", rt, obj{"location": loc, "properties": obj{"disableBgpRoutePropagation": true,
		"routes": []obj{{"name": "branch-b", "properties": obj{"addressPrefix": "192.168.2.0/24", "nextHopType": "VirtualNetworkGateway"}}}}})
	if r.field("properties.disableBgpRoutePropagation") != true {
		t.Errorf("the table as stored: %s", r.body)
	}
	e.must("PUT", s.vnet+"/subnets/isolated", obj{"properties": obj{"addressPrefix": "10.1.1.0/24", "routeTable": obj{"id": rt}}})
	// gatewayRoutes returns the prefixes an interface's effective routes
	// send to the gateway, by source.
	gatewayRoutes := func(nicName, subnetID string) map[string][]string {
		t.Helper()
		n := netPath(subA, "rg", "networkInterfaces", nicName)
		e.must("PUT", n, nic(loc, subnetID, ""))
		routes := e.must("POST", n+"/effectiveRouteTable", nil)
		out := map[string][]string{}
		for i := 0; routes.field("value."+strconv.Itoa(i)) != nil; i++ {
			p := "value." + strconv.Itoa(i) + "."
			if routes.str(p+"nextHopType") == "VirtualNetworkGateway" {
				for j := 0; routes.field(p+"addressPrefix."+strconv.Itoa(j)) != nil; j++ {
					out[routes.str(p+"source")] = append(out[routes.str(p+"source")], routes.str(p+"addressPrefix."+strconv.Itoa(j)))
				}
			}
		}
		return out
	}
	if got := gatewayRoutes("a", s.defaultSubnet); !slices.Equal(got["VirtualNetworkGateway"], []string{"192.168.1.0/24", "192.168.2.0/24"}) {
		t.Errorf("an interface of another subnet: routes to the gateway %v, want the site's ranges", got)
	}
	got := gatewayRoutes("b", s.vnet+"/subnets/isolated")
	if len(got["VirtualNetworkGateway"]) != 0 || !slices.Equal(got["User"], []string{"192.168.2.0/24"}) {
		t.Errorf("an interface of the subnet that does not propagate: routes to the gateway %v, want only its user route 192.168.2.0/24", got)
	}
}

// TestRouteTableShowsPropagationFalse: a route table created without
// disableBgpRoutePropagation shows it as false, in its GET and in the
// list, as Azure's GET does (RouteTableGet.json); the field was left out.
func TestRouteTableShowsPropagationFalse(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	rt := netPath(subA, "rg", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc, "properties": obj{}})
	if r := e.must("GET", rt, nil); r.field("properties.disableBgpRoutePropagation") != false {
		t.Errorf("GET: %s, want disableBgpRoutePropagation false", r.body)
	}
	if r := e.must("GET", rgPath(subA, "rg")+"/providers/Microsoft.Network/routeTables", nil); r.field("value.0.properties.disableBgpRoutePropagation") != false {
		t.Errorf("list: %s, want disableBgpRoutePropagation false", r.body)
	}
}
