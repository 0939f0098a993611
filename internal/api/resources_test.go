package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"testing"
)

// names returns the names of the resources of a list answer.
func names(r resp) []string {
	var out []string
	items, _ := r.field("value").([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			s, _ := m["name"].(string)
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// TestSubnetsAsChildResources reads, lists and deletes one subnet through
// .../virtualNetworks/{n}/subnets/{n}, as the SDK's SubnetsClient does.
func TestSubnetsAsChildResources(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	v := netPath(subA, "rg", "virtualNetworks", "v")
	e.must("PUT", v, vnet(loc, []string{"10.0.0.0/16"}, subnet("a", "10.0.1.0/24"), subnet("b", "10.0.2.0/24")))

	r := e.must("GET", v+"/subnets/a", nil)
	if r.str("name") != "a" || r.str("properties.addressPrefix") != "10.0.1.0/24" || r.str("id") != v+"/subnets/a" ||
		r.str("type") != "Microsoft.Network/virtualNetworks/subnets" {
		t.Fatalf("GET of one subnet: %s", r.body)
	}
	if got := names(e.must("GET", v+"/subnets", nil)); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("subnets listed: %v, want a and b", got)
	}
	if r := e.do("DELETE", v+"/subnets/a", nil); r.status != 200 {
		t.Fatalf("DELETE of a subnet: %d %s", r.status, r.body)
	}
	if r := e.do("GET", v+"/subnets/a", nil); r.status != 404 || r.code() != "ResourceNotFound" {
		t.Fatalf("GET of the deleted subnet: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", v+"/subnets/a", nil); r.status != 204 {
		t.Fatalf("DELETE of a subnet that is gone: %d %s, want 204", r.status, r.body)
	}
	if got := names(e.must("GET", v+"/subnets", nil)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("subnets listed after the delete: %v, want b", got)
	}
	// The VNet itself shows the same.
	if n := len(e.must("GET", v, nil).field("properties.subnets").([]any)); n != 1 {
		t.Fatalf("the VNet has %d subnets after the delete, want 1", n)
	}
}

// TestListPerSubscription lists a type over a whole subscription: the
// resources of every group of the subscription, and none of another.
func TestListPerSubscription(t *testing.T) {
	e := newEnv(t)
	for _, g := range []struct{ sub, rg, name, space string }{
		{subA, "rg1", "one", "10.1.0.0/16"},
		{subA, "rg2", "two", "10.2.0.0/16"},
		{subB, "rg3", "elsewhere", "10.3.0.0/16"},
	} {
		e.must("PUT", rgPath(g.sub, g.rg), group(loc))
		e.must("PUT", netPath(g.sub, g.rg, "virtualNetworks", g.name), vnet(loc, []string{g.space}))
	}
	if got := names(e.must("GET", "/subscriptions/"+subA+"/providers/Microsoft.Network/virtualNetworks", nil)); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("VNets of subscription A: %v, want one and two", got)
	}
	if got := names(e.must("GET", rgPath(subA, "rg2")+"/providers/Microsoft.Network/virtualNetworks", nil)); !slices.Equal(got, []string{"two"}) {
		t.Fatalf("VNets of rg2: %v, want two", got)
	}
	if got := names(e.must("GET", "/subscriptions/"+subB+"/providers/Microsoft.Network/virtualNetworks", nil)); !slices.Equal(got, []string{"elsewhere"}) {
		t.Fatalf("VNets of subscription B: %v, want elsewhere", got)
	}
}

// TestDeleteInMissingGroup: ARM answers a DELETE in a resource group that
// does not exist with 404 ResourceGroupNotFound, not with 204.
func TestDeleteInMissingGroup(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "a VNet in a missing group", status: 404, code: "ResourceGroupNotFound",
			req: func(*env) (string, string, any) {
				return "DELETE", netPath(subA, "nogroup", "virtualNetworks", "v"), nil
			}},
		{name: "a connection in a missing group", status: 404, code: "ResourceGroupNotFound",
			req: func(*env) (string, string, any) {
				return "DELETE", netPath(subA, "nogroup", "connections", "c"), nil
			}},
		{name: "a subnet in a missing group", status: 404, code: "ResourceGroupNotFound",
			req: func(*env) (string, string, any) {
				return "DELETE", netPath(subA, "nogroup", "virtualNetworks", "v") + "/subnets/s", nil
			}},
		{name: "a missing resource in an existing group is 204", status: 204,
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				return "DELETE", netPath(subA, "rg", "virtualNetworks", "v"), nil
			}},
	})
}

// TestGatewayPrivateAddressReadOnly: a gateway's private addresses are
// allocated in its GatewaySubnet, whatever the body gives (read-only in
// ARM): an address of the subnet's hosts, another gateway's (a GET's body
// put again for another gateway) or no address at all were stored, and a
// VPN gateway's became its BGP peering address.
func TestGatewayPrivateAddressReadOnly(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	v := netPath(subA, "rg", "virtualNetworks", "v")
	e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27")))
	v2 := netPath(subA, "rg", "virtualNetworks", "v2")
	e.must("PUT", v2, vnet(loc, []string{"10.2.0.0/16"}, subnet("GatewaySubnet", "10.2.255.0/27")))
	ip := "properties.ipConfigurations.0.properties.privateIPAddress"
	hostAddr := e.must("PUT", netPath(subA, "rg", "networkInterfaces", "host"), nic(loc, v+"/subnets/default", "")).str(ip)
	seen := map[string]string{"host": hostAddr}
	for _, tc := range []struct {
		name, vnet, prefix, given string
		vpn                       bool
	}{
		{"vpn", v, "10.1.255.0/27", hostAddr, true},
		{"er", v, "10.1.255.0/27", "", false}, // given vpn's, below
		{"vpn2", v2, "10.2.255.0/27", "not-an-ip", true},
	} {
		if tc.name == "er" {
			tc.given = seen["vpn"]
		}
		var body obj
		if tc.vpn {
			pip := netPath(subA, "rg", "publicIPAddresses", tc.name)
			e.must("PUT", pip, publicIP(loc, "Static"))
			body = gateway(loc, tc.vnet+"/subnets/GatewaySubnet", pip, "RouteBased", "VpnGw1")
			body["properties"].(obj)["enableBgp"] = true
		} else {
			body = obj{"location": loc, "properties": obj{"gatewayType": "ExpressRoute", "sku": obj{"name": "Standard"},
				"ipConfigurations": []obj{{"name": "ipconfig1", "properties": obj{"subnet": obj{"id": tc.vnet + "/subnets/GatewaySubnet"}}}}}}
		}
		body["properties"].(obj)["ipConfigurations"].([]obj)[0]["properties"].(obj)["privateIPAddress"] = tc.given
		r := e.must("PUT", netPath(subA, "rg", "virtualNetworkGateways", tc.name), body)
		got := r.str(ip)
		a, err := netip.ParseAddr(got)
		if err != nil || !netip.MustParsePrefix(tc.prefix).Contains(a) {
			t.Errorf("%s, given %q, has private address %q; want one of its GatewaySubnet %s", tc.name, tc.given, got, tc.prefix)
		}
		for other, o := range seen {
			if o == got {
				t.Errorf("%s, given %q, has private address %s, %s's", tc.name, tc.given, got, other)
			}
		}
		if bgp := r.str("properties.bgpSettings.bgpPeeringAddress"); tc.vpn && bgp != got {
			t.Errorf("%s's BGP peering address is %q, its private address %q", tc.name, bgp, got)
		}
		seen[tc.name] = got
	}
}

// TestMultiPrefixSubnets covers subnets with several prefixes
// (addressPrefixes): addresses come from, and may be asked in, any of them.
func TestMultiPrefixSubnets(t *testing.T) {
	// 10.1.0.0/29 holds three usable addresses (.4-.6), then 10.1.1.0/24.
	twoPrefixes := func(e *env) string {
		e.must("PUT", rgPath(subA, "rg"), group(loc))
		v := netPath(subA, "rg", "virtualNetworks", "v")
		e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16", "fd00:1::/48"},
			obj{"name": "multi", "properties": obj{"addressPrefixes": []string{"10.1.0.0/29", "10.1.1.0/24", "fd00:1:0:1::/64"}}}))
		return v + "/subnets/multi"
	}
	nicPath := func(name string) string { return netPath(subA, "rg", "networkInterfaces", name) }
	ip := "properties.ipConfigurations.0.properties.privateIPAddress"
	runCases(t, []ruleCase{
		{name: "dynamic allocation goes on into the second prefix", status: 201,
			req: func(e *env) (string, string, any) {
				sn := twoPrefixes(e)
				for i, want := range []string{"10.1.0.4", "10.1.0.5", "10.1.0.6"} {
					if got := e.must("PUT", nicPath(string(rune('a'+i))), nic(loc, sn, "")).str(ip); got != want {
						e.t.Fatalf("interface %d got %s, want %s", i, got, want)
					}
				}
				return "PUT", nicPath("fourth"), nic(loc, sn, "")
			},
			check: func(t *testing.T, _ *env, r resp) {
				if got := r.str(ip); got != "10.1.1.4" {
					t.Fatalf("the fourth interface got %s, want 10.1.1.4 from the second prefix", got)
				}
			}},
		{name: "a static address in the second prefix is accepted", status: 201,
			req: func(e *env) (string, string, any) {
				return "PUT", nicPath("n"), nic(loc, twoPrefixes(e), "10.1.1.10")
			},
			check: func(t *testing.T, _ *env, r resp) {
				if got := r.str(ip); got != "10.1.1.10" {
					t.Fatalf("got %s, want 10.1.1.10", got)
				}
			}},
		{name: "a static address reserved in the second prefix is refused", status: 400, code: "PrivateIPAddressIsReserved",
			req: func(e *env) (string, string, any) {
				return "PUT", nicPath("n"), nic(loc, twoPrefixes(e), "10.1.1.1")
			}},
		{name: "a static address outside every prefix is refused", status: 400, code: "PrivateIPAddressNotInSubnet",
			req: func(e *env) (string, string, any) {
				return "PUT", nicPath("n"), nic(loc, twoPrefixes(e), "10.1.2.10")
			}},
		{name: "an IPv6 address is allocated from the IPv6 prefix when asked", status: 201,
			req: func(e *env) (string, string, any) {
				body := nic(loc, twoPrefixes(e), "")
				cfg := body["properties"].(obj)["ipConfigurations"].([]obj)[0]["properties"].(obj)
				cfg["privateIPAddressVersion"] = "IPv6"
				return "PUT", nicPath("n"), body
			},
			check: func(t *testing.T, _ *env, r resp) {
				if got, v := r.str(ip), r.str("properties.ipConfigurations.0.properties.privateIPAddressVersion"); got != "fd00:1:0:1::4" || v != "IPv6" {
					t.Fatalf("got %s (%s), want fd00:1:0:1::4 (IPv6)", got, v)
				}
			}},
		{name: "a subnet with both addressPrefix and addressPrefixes is refused in a VNet", status: 400, code: "InvalidRequestFormat",
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				return "PUT", netPath(subA, "rg", "virtualNetworks", "v"), vnet(loc, []string{"10.1.0.0/16"},
					obj{"name": "both", "properties": obj{"addressPrefix": "10.1.0.0/24", "addressPrefixes": []string{"10.1.1.0/24"}}})
			},
			check: func(t *testing.T, _ *env, r resp) {
				if got := r.str("error.target"); got != "properties.subnets[0].properties.addressPrefixes" {
					t.Fatalf("target %q", got)
				}
			}},
		{name: "a subnet with both addressPrefix and addressPrefixes is refused as a child resource", status: 400, code: "InvalidRequestFormat",
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				v := netPath(subA, "rg", "virtualNetworks", "v")
				e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16"}))
				return "PUT", v + "/subnets/both", obj{"properties": obj{"addressPrefix": "10.1.0.0/24", "addressPrefixes": []string{"10.1.0.0/24"}}}
			},
			check: func(t *testing.T, e *env, _ resp) {
				if r := e.do("GET", netPath(subA, "rg", "virtualNetworks", "v")+"/subnets/both", nil); r.status != 404 {
					t.Fatalf("the refused subnet exists: %d %s", r.status, r.body)
				}
			}},
		{name: "a BGP peering address in the second prefix of the GatewaySubnet is accepted (R41)", status: 201,
			req: func(e *env) (string, string, any) {
				e.must("PUT", rgPath(subA, "rg"), group(loc))
				v := netPath(subA, "rg", "virtualNetworks", "v")
				e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16"},
					obj{"name": "GatewaySubnet", "properties": obj{"addressPrefixes": []string{"10.1.255.0/27", "10.1.254.0/27"}}}))
				pip := netPath(subA, "rg", "publicIPAddresses", "pip")
				e.must("PUT", pip, publicIP(loc, "Dynamic"))
				body := gateway(loc, v+"/subnets/GatewaySubnet", pip, "RouteBased", "VpnGw1")
				body["properties"].(obj)["enableBgp"] = true
				body["properties"].(obj)["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": "10.1.254.10"}
				return "PUT", netPath(subA, "rg", "virtualNetworkGateways", "gw"), body
			}},
	})
}

// TestR1ConnectionsToForPeers: .../virtualNetworkGateways/{n}/connectionsTo
// lists this region's connections that end at a gateway, with the address
// spaces joined at each one's own gateway (R35): what a peer region asks
// before it deletes that gateway or changes its VNet. The gateway and its
// group need not exist here.
func TestR1ConnectionsToForPeers(t *testing.T) {
	e := newEnv(t)
	a := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	b := e.site(subB, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
	e.must("PUT", netPath(subA, "rg", "connections", "site"), s2s(loc, a.gw, e.lng(a, "l", "203.0.113.1", "192.168.0.0/16")))
	conn := netPath(subA, "rg", "connections", "a-to-b")
	e.must("PUT", conn, v2v(loc, a.gw, b.gw))

	r := e.must("GET", b.gw+"/connectionsTo", nil)
	if got := r.str("value.0.connection"); got != conn {
		t.Fatalf("connection %q, want %s\n%s", got, conn, r.body)
	}
	if got := r.str("value.0.gateway"); got != a.gw {
		t.Fatalf("gateway %q, want %s", got, a.gw)
	}
	spaces := map[string]string{}
	for _, s := range r.field("value.0.addressSpaces").([]any) {
		m := s.(map[string]any)
		spaces[m["owner"].(string)] = fmt.Sprint(m["addressPrefixes"])
	}
	want := map[string]string{a.vnet: "[10.1.0.0/16]", netPath(subA, "rg", "localNetworkGateways", "l"): "[192.168.0.0/16]", b.vnet: "[10.2.0.0/16]"}
	if fmt.Sprint(spaces) != fmt.Sprint(want) {
		t.Fatalf("address spaces %v, want %v", spaces, want)
	}
	// A gateway no connection ends at, in a group that does not exist.
	ghost := netPath(subB, "nogroup", "virtualNetworkGateways", "ghost")
	if r := e.must("GET", ghost+"/connectionsTo", nil); len(r.field("value").([]any)) != 0 {
		t.Fatalf("connections to a gateway nothing names: %s", r.body)
	}
	if r := e.do("POST", ghost+"/connectionsTo", "{}"); r.status != 405 || r.code() != "MethodNotAllowed" {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
}

// twoIPConfigGateway makes a site in resource group aa and a second public
// IP address (pip2), and returns the body of a gateway with two IP
// configurations, not yet active-active nor put.
func twoIPConfigGateway(t *testing.T) (e *env, s site, g obj, pip2 string) {
	t.Helper()
	e = newEnv(t)
	s = e.site(subA, "aa", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	pip2 = netPath(subA, "aa", "publicIPAddresses", "pip2")
	e.must("PUT", pip2, publicIP(loc, "Dynamic"))
	g = gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	p := g["properties"].(obj)
	p["ipConfigurations"] = append(p["ipConfigurations"].([]obj), obj{"name": "ipconfig2", "properties": obj{"subnet": obj{"id": s.gwSubnet}, "publicIPAddress": obj{"id": pip2}}})
	return e, s, g, pip2
}

// TestActiveActive: an active-active gateway takes two IP configurations,
// each with its own private and public address; a gateway that is not
// active-active takes one, and a policy-based or Basic one cannot be; its
// instances peer over BGP from addresses of their own. The device
// configuration of its connection has a tunnel to each instance.
func TestActiveActive(t *testing.T) {
	e, s, g, pip2 := twoIPConfigGateway(t)
	p := g["properties"].(obj)
	if r := e.do("PUT", s.gw, g); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" || !strings.Contains(string(r.body), "exactly 1 IP configuration") {
		t.Fatalf("two IP configurations without activeActive: %d %s", r.status, r.body)
	}
	p["activeActive"] = true
	p["sku"] = obj{"name": "Basic", "tier": "Basic"}
	if r := e.do("PUT", s.gw, g); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" || !strings.Contains(string(r.body), "other than Basic") {
		t.Fatalf("a Basic active-active gateway: %d %s", r.status, r.body)
	}
	p["sku"] = obj{"name": "VpnGw1", "tier": "VpnGw1"}
	r := e.must("PUT", s.gw, g)
	priv0, priv1 := r.str("properties.ipConfigurations.0.properties.privateIPAddress"), r.str("properties.ipConfigurations.1.properties.privateIPAddress")
	pub0, pub1 := e.must("GET", s.pip, nil).str("properties.ipAddress"), e.must("GET", pip2, nil).str("properties.ipAddress")
	if priv0 == "" || priv0 == priv1 || pub0 == "" || pub1 == "" || pub0 == pub1 {
		t.Fatalf("instances' addresses: private %q %q, public %q %q", priv0, priv1, pub0, pub1)
	}
	// An instance cannot peer over BGP from the other's address, nor
	// both from one (R41): each peers, and asks RADIUS, from its own.
	p["enableBgp"] = true
	for _, addrs := range []string{priv1 + "," + priv0, "10.1.255.20,10.1.255.20"} {
		p["bgpSettings"] = obj{"asn": 65010, "bgpPeeringAddress": addrs}
		if r := e.do("PUT", s.gw, g); r.status != http.StatusBadRequest || r.code() != "InvalidBgpPeeringAddress" {
			t.Errorf("BGP peering addresses %s: %d %s", addrs, r.status, r.body)
		}
	}
	delete(p, "bgpSettings")
	p["enableBgp"] = false
	conn := netPath(subA, "aa", "connections", "c")
	e.must("PUT", conn, s2s(loc, s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")))
	lines(t, e.script(conn, obj{}), "aa-c-1 {", "aa-c-2 {", "remote_addrs = "+pub0, "remote_addrs = "+pub1, "id-gateway-0 = "+pub0, "id-gateway-1 = "+pub1)
	e.must("DELETE", conn, nil)
	e.must("DELETE", s.gw, nil)
	if a := e.must("GET", pip2, nil).str("properties.ipAddress"); a != "" {
		t.Fatalf("the deleted gateway's second address %s was not released (R20)", a)
	}
}

// TestPrefixesWithSpaces: a prefix with spaces around it (a line of a
// file written with CRLF ends in \r) is taken as the prefix it is, and
// stored and shown without them, so that the data plane takes it too: it
// was stored as given, and the tunnel (and the device's configuration,
// made from the same data-plane configuration) had no traffic selectors,
// the VNet's range and the site's being unreadable to it.
func TestPrefixesWithSpaces(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	v := netPath(subA, "rg", "virtualNetworks", "v")
	e.must("PUT", v, vnet(loc, []string{"10.1.0.0/16 "}, subnet("default", " 10.1.0.0/24"),
		obj{"name": "GatewaySubnet", "properties": obj{"addressPrefixes": []string{"10.1.255.0/27\r"}}}))
	pip := netPath(subA, "rg", "publicIPAddresses", "pip")
	e.must("PUT", pip, publicIP(loc, "Dynamic"))
	gw := netPath(subA, "rg", "virtualNetworkGateways", "gw")
	g := gateway(loc, v+"/subnets/GatewaySubnet", pip, "RouteBased", "VpnGw1")
	g["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{" 172.16.0.0/24"}}}
	g["properties"].(obj)["customRoutes"] = obj{"addressPrefixes": []string{"10.9.0.0/16\r\n"}}
	e.must("PUT", gw, g)
	l := netPath(subA, "rg", "localNetworkGateways", "l")
	e.must("PUT", l, localGateway(loc, "203.0.113.1", "192.168.0.0/24\r"))
	c := netPath(subA, "rg", "connections", "c")
	e.must("PUT", c, s2s(loc, gw, l))

	for _, f := range []struct{ path, field, want string }{
		{v, "properties.addressSpace.addressPrefixes.0", "10.1.0.0/16"},
		{v, "properties.subnets.0.properties.addressPrefix", "10.1.0.0/24"},
		{v + "/subnets/GatewaySubnet", "properties.addressPrefixes.0", "10.1.255.0/27"},
		{gw, "properties.vpnClientConfiguration.vpnClientAddressPool.addressPrefixes.0", "172.16.0.0/24"},
		{gw, "properties.customRoutes.addressPrefixes.0", "10.9.0.0/16"},
		{l, "properties.localNetworkAddressSpace.addressPrefixes.0", "192.168.0.0/24"},
	} {
		if got := e.must("GET", f.path, nil).str(f.field); got != f.want {
			t.Errorf("%s %s: %q, want %q", path.Base(f.path), f.field, got, f.want)
		}
	}
	var script string
	json.Unmarshal(e.must("POST", c+"/vpndeviceconfigurationscript", nil).body, &script)
	for _, want := range []string{"local_ts = 192.168.0.0/24\n", "remote_ts = 10.1.0.0/16, 172.16.0.0/24\n"} {
		if !strings.Contains(script, want) {
			t.Errorf("the device's configuration lacks %q: the tunnel's selectors are\n%s", want, grepLines(script, "_ts"))
		}
	}
	// A connection's own selectors.
	cb := s2s(loc, gw, l)
	cb["properties"].(obj)["usePolicyBasedTrafficSelectors"] = true
	cb["properties"].(obj)["ipsecPolicies"] = []obj{{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 1024000,
		"ipsecEncryption": "GCMAES256", "ipsecIntegrity": "GCMAES256", "ikeEncryption": "GCMAES256", "ikeIntegrity": "SHA256",
		"dhGroup": "ECP256", "pfsGroup": "None"}}
	cb["properties"].(obj)["trafficSelectorPolicies"] = []obj{{"localAddressRanges": []string{"10.1.0.0/24 "}, "remoteAddressRanges": []string{"\t192.168.0.0/25"}}}
	if got := e.must("PUT", c, cb).str("properties.trafficSelectorPolicies.0.remoteAddressRanges.0"); got != "192.168.0.0/25" {
		t.Errorf("connection: remote range %q, want 192.168.0.0/25", got)
	}
	json.Unmarshal(e.must("POST", c+"/vpndeviceconfigurationscript", nil).body, &script)
	for _, want := range []string{"local_ts = 192.168.0.0/25\n", "remote_ts = 10.1.0.0/24\n"} {
		if !strings.Contains(script, want) {
			t.Errorf("with trafficSelectorPolicies, the device's configuration lacks %q: the tunnel's selectors are\n%s", want, grepLines(script, "_ts"))
		}
	}
}

// grepLines returns the lines of s that hold sub.
func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// TestIPv4MappedPrefixRefused: a site's range written as an IPv4-mapped
// IPv6 prefix (::ffff:10.1.0.0/112, which is 10.1.0.0/16) is refused,
// naming the IPv4 prefix to give: the overlap checks compare it with IPv6
// ranges only, so that a site holding the VNet's own range was connected
// (R35 bypassed). So is a VNet's address space written so.
func TestIPv4MappedPrefixRefused(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	l := netPath(subA, "rg", "localNetworkGateways", "mapped")
	defer func() {
		if t.Failed() {
			// What the refusal prevents: a connection of the VNet to a
			// site of its own range.
			r := e.do("PUT", netPath(subA, "rg", "connections", "mapped"), s2s(loc, s.gw, l))
			t.Logf("a connection to the site: %d %s", r.status, r.body)
		}
	}()
	if r := e.do("PUT", l, localGateway(loc, "203.0.113.1", "::ffff:10.1.0.0/112")); r.status != http.StatusBadRequest || r.code() != "InvalidAddressPrefix" ||
		!strings.Contains(r.str("error.message"), "10.1.0.0/16") {
		t.Errorf("a site's range: %d %s, want 400 InvalidAddressPrefix naming 10.1.0.0/16", r.status, r.body)
	}
	v := netPath(subA, "rg", "virtualNetworks", "mapped")
	if r := e.do("PUT", v, vnet(loc, []string{"::ffff:10.2.0.0/112"})); r.status != http.StatusBadRequest || r.code() != "InvalidAddressPrefix" {
		t.Errorf("a VNet's address space: %d %s, want 400 InvalidAddressPrefix", r.status, r.body)
	}
}

// TestLocalGatewayFQDNChecked: a site's fqdn is checked as a host name,
// of at most 253 characters (RFC 1035 §2.3.4), also when a
// gatewayIpAddress comes with it, and refused with the error envelope
// naming it; a valid one beside the address is kept.
func TestLocalGatewayFQDNChecked(t *testing.T) {
	site := func(props obj) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			e.must("PUT", rgPath(subA, "rg"), group(loc))
			props["localNetworkAddressSpace"] = obj{"addressPrefixes": []string{"192.168.0.0/16"}}
			return "PUT", netPath(subA, "rg", "localNetworkGateways", "l"), obj{"location": loc, "properties": props}
		}
	}
	refused := func(fqdn string) func(*testing.T, *env, resp) {
		return func(t *testing.T, _ *env, r resp) {
			if r.str("error.target") != "properties.fqdn" || !strings.Contains(r.str("error.message"), fqdn) {
				t.Errorf("refusal %s, want it to name properties.fqdn and %q", r.body, fqdn)
			}
		}
	}
	runCases(t, []ruleCase{
		{name: "an invalid fqdn alone", status: 400, code: "InvalidParameter", req: site(obj{"fqdn": "bad name!"}), check: refused("bad name!")},
		{name: "an invalid fqdn beside an address", status: 400, code: "InvalidParameter",
			req: site(obj{"gatewayIpAddress": "203.0.113.1", "fqdn": "bad name!"}), check: refused("bad name!")},
		{name: "an fqdn of 254 characters", status: 400, code: "InvalidParameter",
			req: site(obj{"fqdn": strings.Repeat(strings.Repeat("a", 62)+".", 4) + "co"}), check: refused("254 characters")},
		{name: "an fqdn of 253 characters", status: 201, req: site(obj{"fqdn": strings.Repeat(strings.Repeat("a", 62)+".", 4) + "c"})},
		{name: "a valid fqdn beside an address", status: 201,
			req: site(obj{"gatewayIpAddress": "203.0.113.1", "fqdn": "branch.example.com"}),
			check: func(t *testing.T, _ *env, r resp) {
				if r.str("properties.gatewayIpAddress") != "203.0.113.1" || r.str("properties.fqdn") != "branch.example.com" {
					t.Errorf("the site: %s", r.body)
				}
			}},
	})
}

// TestLocalGatewayAddressUnicast: a site's gatewayIpAddress that no VPN
// device can have (unspecified, multicast, broadcast) is refused, naming
// the field: taken, its connection stayed Connecting for good.
func TestLocalGatewayAddressUnicast(t *testing.T) {
	site := func(addr string) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			e.must("PUT", rgPath(subA, "rg"), group(loc))
			return "PUT", netPath(subA, "rg", "localNetworkGateways", "l"), localGateway(loc, addr, "192.168.0.0/16")
		}
	}
	named := func(t *testing.T, _ *env, r resp) {
		if r.str("error.target") != "properties.gatewayIpAddress" {
			t.Errorf("refusal %s, want it to name properties.gatewayIpAddress", r.body)
		}
	}
	var cases []ruleCase
	for _, a := range []string{"0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255"} {
		cases = append(cases, ruleCase{name: a, status: 400, code: "InvalidParameter", req: site(a), check: named})
	}
	cases = append(cases, ruleCase{name: "a loopback address, as vnetgw's own gateways have", status: 201, req: site("127.0.0.7")})
	runCases(t, cases)
}

// TestRoutingWeightKeptAndBounded: a connection's routingWeight, which no
// route choice depends on (README), is kept as given within Azure's
// 0-32000 and refused outside it, naming the field.
func TestRoutingWeightKeptAndBounded(t *testing.T) {
	conn := func(weight int) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			c := s2s(loc, s.gw, e.lng(s, "l", "203.0.113.1", "192.168.0.0/16"))
			c["properties"].(obj)["routingWeight"] = weight
			return "PUT", netPath(subA, "rg", "connections", "c"), c
		}
	}
	target := func(t *testing.T, _ *env, r resp) {
		if r.str("error.target") != "properties.routingWeight" {
			t.Errorf("refusal %s, want it to name properties.routingWeight", r.body)
		}
	}
	runCases(t, []ruleCase{
		{name: "32000 is kept", status: 201, req: conn(32000), check: func(t *testing.T, _ *env, r resp) {
			if w, _ := r.field("properties.routingWeight").(float64); w != 32000 {
				t.Errorf("routingWeight %v, want 32000", r.field("properties.routingWeight"))
			}
		}},
		{name: "32001 is refused", status: 400, code: "InvalidParameter", req: conn(32001), check: target},
		{name: "-1 is refused", status: 400, code: "InvalidParameter", req: conn(-1), check: target},
	})
}
