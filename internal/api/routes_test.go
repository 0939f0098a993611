package api

import (
	"encoding/json"
	"slices"
	"testing"
)

type effectiveRoute struct {
	Source        string
	AddressPrefix []string
	NextHopType   string
}

func effectiveRoutes(t *testing.T, e *env, nicPath string) []effectiveRoute {
	t.Helper()
	r := e.must("POST", nicPath+"/effectiveRouteTable", nil)
	var l struct{ Value []effectiveRoute }
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatal(err)
	}
	return l.Value
}

func hasRoute(routes []effectiveRoute, prefix, hop string) bool {
	return slices.ContainsFunc(routes, func(r effectiveRoute) bool {
		return r.NextHopType == hop && slices.Contains(r.AddressPrefix, prefix)
	})
}

// mustHaveRoutes fails t unless routes hold each of want's prefix, next
// hop type pairs.
func mustHaveRoutes(t *testing.T, routes []effectiveRoute, want []string) {
	t.Helper()
	for i := 0; i+1 < len(want); i += 2 {
		if !hasRoute(routes, want[i], want[i+1]) {
			t.Fatalf("no route %s -> %s in %+v", want[i], want[i+1], routes)
		}
	}
}

// forceTunnel makes site l the default site of a's gateway (R25).
func forceTunnel(e *env, a site, l string) {
	g := gateway(loc, a.gwSubnet, a.pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["gatewayDefaultSite"] = obj{"id": l}
	e.must("PUT", a.gw, g)
}

// TestR43R25EffectiveRoutes: traffic inside the VNet stays there, the
// connected ranges go to the gateway (R24), the rest is dropped unless
// forced tunneling sends it to the default site (R25).
func TestR43R25EffectiveRoutes(t *testing.T) {
	e := newEnv(t)
	a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	b := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
	l := e.lng(a, "onprem", "203.0.113.1", "192.168.0.0/16", "172.16.0.0/12")
	e.must("PUT", netPath(subA, "rg", "connections", "s2s"), s2s(loc, a.gw, l))
	e.must("PUT", netPath(subA, "rg", "connections", "v2v"), v2v(loc, a.gw, b.gw))
	n := netPath(subA, "rg", "networkInterfaces", "n")
	e.must("PUT", n, nic(loc, a.defaultSubnet, ""))

	mustHaveRoutes(t, effectiveRoutes(t, e, n), []string{
		"10.1.0.0/16", "VnetLocal",
		"192.168.0.0/16", "VirtualNetworkGateway",
		"172.16.0.0/12", "VirtualNetworkGateway",
		"10.2.0.0/16", "VirtualNetworkGateway",
		"0.0.0.0/0", "None",
	})
	forceTunnel(e, a, l)
	routes := effectiveRoutes(t, e, n)
	if !hasRoute(routes, "0.0.0.0/0", "VirtualNetworkGateway") || hasRoute(routes, "0.0.0.0/0", "None") {
		t.Fatalf("with forced tunneling, 0.0.0.0/0 should go to the gateway: %+v", routes)
	}
	if r := e.do("GET", n+"/effectiveRouteTable", nil); r.status != 405 {
		t.Fatalf("GET of effectiveRouteTable: %d", r.status)
	}
}

// TestR43EffectiveRoutesToTheInternet: with serve --internet-egress the
// rest goes to the Internet, but for the private ranges and the shared
// address space (dropped, as in Azure), and forced tunneling still takes
// 0.0.0.0/0 to the default site.
func TestR43EffectiveRoutesToTheInternet(t *testing.T) {
	e := newEnv(t, envOptions{internet: true})
	a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l := e.lng(a, "onprem", "203.0.113.1", "192.168.0.0/16")
	e.must("PUT", netPath(subA, "rg", "connections", "s2s"), s2s(loc, a.gw, l))
	n := netPath(subA, "rg", "networkInterfaces", "n")
	e.must("PUT", n, nic(loc, a.defaultSubnet, ""))
	mustHaveRoutes(t, effectiveRoutes(t, e, n), []string{
		"10.1.0.0/16", "VnetLocal",
		"192.168.0.0/16", "VirtualNetworkGateway",
		"0.0.0.0/0", "Internet",
		"10.0.0.0/8", "None",
		"172.16.0.0/12", "None",
		"100.64.0.0/10", "None",
	})
	// The site's range is the site's alone: not also listed Active to
	// None.
	if routes := effectiveRoutes(t, e, n); hasRoute(routes, "192.168.0.0/16", "None") {
		t.Errorf("the site's 192.168.0.0/16 is listed to None beside its gateway: %+v", routes)
	}
	forceTunnel(e, a, l)
	routes := effectiveRoutes(t, e, n)
	if !hasRoute(routes, "0.0.0.0/0", "VirtualNetworkGateway") || hasRoute(routes, "0.0.0.0/0", "Internet") {
		t.Fatalf("with forced tunneling, 0.0.0.0/0 should go to the gateway, not the Internet: %+v", routes)
	}
	// As the data plane does: with no way to the Internet in the
	// table, nothing is refused at it; the private ranges go with the
	// default route to the site.
	if hasRoute(routes, "10.0.0.0/8", "None") {
		t.Errorf("with forced tunneling, 10.0.0.0/8 is listed to None, while the default route takes it to the site: %+v", routes)
	}
}

// TestEffectiveRoutesPrivateRangesFollowUserDefaultRoute: with serve
// --internet-egress, a subnet whose route table sends 0.0.0.0/0 to an
// appliance sends the private ranges there too (the data plane refuses
// them only at its way to the Internet, which the user route bypasses),
// so its interfaces do not list them to None, as with forced tunneling;
// a user route of 0.0.0.0/0 to the Internet leaves them refused, and
// listed. They were listed Active to None while their packets went to
// the appliance.
func TestEffectiveRoutesPrivateRangesFollowUserDefaultRoute(t *testing.T) {
	e := newEnv(t, envOptions{internet: true})
	a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	rt := netPath(subA, "rg", "routeTables", "rt")
	defaultTo := func(hop, ip string) obj {
		p := obj{"addressPrefix": "0.0.0.0/0", "nextHopType": hop}
		if ip != "" {
			p["nextHopIpAddress"] = ip
		}
		return obj{"location": loc, "properties": obj{"routes": []obj{{"name": "default", "properties": p}}}}
	}
	e.must("PUT", rt, defaultTo("VirtualAppliance", "10.1.1.4"))
	e.must("PUT", a.vnet+"/subnets/spoke", obj{"properties": obj{"addressPrefix": "10.1.2.0/24", "routeTable": obj{"id": rt}}})
	n := netPath(subA, "rg", "networkInterfaces", "n")
	e.must("PUT", n, nic(loc, a.vnet+"/subnets/spoke", ""))
	routes := effectiveRoutes(t, e, n)
	mustHaveRoutes(t, routes, []string{"0.0.0.0/0", "VirtualAppliance"})
	for _, p := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"} {
		if hasRoute(routes, p, "None") {
			t.Errorf("%s is listed to None while the user route takes it to the appliance: %+v", p, routes)
		}
	}
	e.must("PUT", rt, defaultTo("Internet", ""))
	mustHaveRoutes(t, effectiveRoutes(t, e, n), []string{
		"0.0.0.0/0", "Internet",
		"10.0.0.0/8", "None",
		"172.16.0.0/12", "None",
	})
}

// TestR43EffectiveRoutesIPv6: a dual-stack VNet's interfaces show IPv6's
// default route as Azure's do, ::/0 to Internet with serve
// --internet-egress, which carries IPv6 out too; without it, and with
// forced tunneling (which keeps IPv6 in, R25), ::/0 to None. A VNet of
// IPv4 alone shows none.
func TestR43EffectiveRoutesIPv6(t *testing.T) {
	for _, internet := range []bool{true, false} {
		e := newEnv(t, envOptions{internet: internet})
		a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		n := netPath(subA, "rg", "networkInterfaces", "n")
		e.must("PUT", n, nic(loc, a.defaultSubnet, ""))
		if routes := effectiveRoutes(t, e, n); slices.ContainsFunc(routes, func(r effectiveRoute) bool { return slices.Contains(r.AddressPrefix, "::/0") }) {
			t.Errorf("internet %v: an IPv4 VNet shows ::/0: %+v", internet, routes)
		}
		e.must("PUT", a.vnet, vnet(loc, []string{"10.1.0.0/16", "fd00:1::/48"},
			subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27")))
		want := "None"
		if internet {
			want = "Internet"
		}
		mustHaveRoutes(t, effectiveRoutes(t, e, n), []string{
			"fd00:1::/48", "VnetLocal",
			"::/0", want,
		})
		l := e.lng(a, "onprem", "203.0.113.1", "192.168.0.0/16")
		e.must("PUT", netPath(subA, "rg", "connections", "s2s"), s2s(loc, a.gw, l))
		forceTunnel(e, a, l)
		routes := effectiveRoutes(t, e, n)
		mustHaveRoutes(t, routes, []string{
			"0.0.0.0/0", "VirtualNetworkGateway",
			"::/0", "None",
		})
		if hasRoute(routes, "::/0", "Internet") {
			t.Errorf("with forced tunneling, ::/0 still goes to the Internet: %+v", routes)
		}
	}
}

// TestEffectiveRoutesPointToSitePool: the point-to-site clients' pool
// goes to the gateway, as the data plane routes it and Azure lists it;
// not for a subnet whose route table takes no gateway routes. It was
// missing, so the interfaces' routes did not say how clients are reached.
func TestEffectiveRoutesPointToSitePool(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientProtocols": []string{"SSTP"},
		"vpnAuthenticationTypes": []string{"Radius"}, "radiusServerAddress": "10.1.0.9", "radiusServerSecret": "s3cr3t-shared"}
	e.must("PUT", s.gw, g)
	n := netPath(subA, "rg", "networkInterfaces", "n")
	e.must("PUT", n, nic(loc, s.defaultSubnet, ""))
	mustHaveRoutes(t, effectiveRoutes(t, e, n), []string{"172.31.0.0/24", "VirtualNetworkGateway"})

	rt := netPath(subA, "rg", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc, "properties": obj{"disableBgpRoutePropagation": true}})
	e.must("PUT", s.vnet+"/subnets/isolated", obj{"properties": obj{"addressPrefix": "10.1.1.0/24", "routeTable": obj{"id": rt}}})
	m := netPath(subA, "rg", "networkInterfaces", "m")
	e.must("PUT", m, nic(loc, s.vnet+"/subnets/isolated", ""))
	if routes := effectiveRoutes(t, e, m); hasRoute(routes, "172.31.0.0/24", "VirtualNetworkGateway") {
		t.Errorf("a subnet that takes no gateway routes: %+v", routes)
	}
}

// TestEffectiveRoutesOfThePrimaryConfiguration: an interface's effective
// routes are those of its primary IP configuration's subnet, where its
// host is (the data plane's), not of its first configuration's.
func TestEffectiveRoutesOfThePrimaryConfiguration(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	rt := netPath(subA, "rg", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc, "properties": obj{"routes": []obj{
		{"name": "blackhole", "properties": obj{"addressPrefix": "192.0.2.0/24", "nextHopType": "None"}}}}})
	v := netPath(subA, "rg", "virtualNetworks", "v")
	b := subnet("b", "10.1.2.0/24")
	b["properties"].(obj)["routeTable"] = obj{"id": rt}
	e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16"}, subnet("a", "10.1.1.0/24"), b))
	n := netPath(subA, "rg", "networkInterfaces", "n")
	e.must("PUT", n, obj{"location": loc, "properties": obj{"ipConfigurations": []obj{
		{"name": "first", "properties": obj{"subnet": obj{"id": v + "/subnets/a"}}},
		{"name": "main", "properties": obj{"primary": true, "subnet": obj{"id": v + "/subnets/b"}}},
	}}})
	routes := effectiveRoutes(t, e, n)
	if !slices.ContainsFunc(routes, func(r effectiveRoute) bool {
		return r.Source == "User" && r.NextHopType == "None" && slices.Contains(r.AddressPrefix, "192.0.2.0/24")
	}) {
		t.Errorf("the routes of an interface whose primary configuration is in subnet b lack b's route table's: %+v", routes)
	}
}

// TestEffectiveRoutesPrivateRangesUnderForcedTunnelingUserInternet: with
// serve --internet-egress and forced tunneling, a subnet whose route
// table sends 0.0.0.0/0 to the Internet sends its packets to the way out
// of the node, which refuses the private ranges (the data plane's
// egress): its interfaces list them to None, as without forced
// tunneling. They were not listed at all, so that 10.5.0.1 showed to go
// out by the user route while its packets were dropped.
func TestEffectiveRoutesPrivateRangesUnderForcedTunnelingUserInternet(t *testing.T) {
	e := newEnv(t, envOptions{internet: true})
	a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l := e.lng(a, "onprem", "203.0.113.1", "192.168.0.0/16")
	e.must("PUT", netPath(subA, "rg", "connections", "s2s"), s2s(loc, a.gw, l))
	forceTunnel(e, a, l)
	rt := netPath(subA, "rg", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc, "properties": obj{"routes": []obj{
		{"name": "out", "properties": obj{"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}}}}})
	e.must("PUT", a.vnet+"/subnets/dmz", obj{"properties": obj{"addressPrefix": "10.1.2.0/24", "routeTable": obj{"id": rt}}})
	n := netPath(subA, "rg", "networkInterfaces", "n")
	e.must("PUT", n, nic(loc, a.vnet+"/subnets/dmz", ""))
	mustHaveRoutes(t, effectiveRoutes(t, e, n), []string{
		"0.0.0.0/0", "Internet",
		"0.0.0.0/0", "VirtualNetworkGateway",
		"192.168.0.0/16", "VirtualNetworkGateway",
		"10.0.0.0/8", "None",
		"172.16.0.0/12", "None",
		"100.64.0.0/10", "None",
	})
	// The default subnet keeps forced tunneling: the private ranges go
	// with it to the site.
	m := netPath(subA, "rg", "networkInterfaces", "m")
	e.must("PUT", m, nic(loc, a.defaultSubnet, ""))
	if routes := effectiveRoutes(t, e, m); hasRoute(routes, "10.0.0.0/8", "None") {
		t.Errorf("with forced tunneling, 10.0.0.0/8 is listed to None, while the default route takes it to the site: %+v", routes)
	}
}
