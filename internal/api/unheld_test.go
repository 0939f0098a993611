package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// refusedField checks a refusal naming target, a field of the request's
// body ("properties.subnets[0].properties.natGateway"), in its target and
// its message, and that a GET of path has no such field (a resource
// created by the refused request does not exist).
func refusedField(path, target string) func(t *testing.T, e *env, r resp) {
	return func(t *testing.T, e *env, r resp) {
		t.Helper()
		last := target[strings.LastIndex(target, ".")+1:]
		if r.str("error.target") != target || !strings.Contains(r.str("error.message"), last) {
			t.Fatalf("the refusal does not name %s: %s", target, r.body)
		}
		g := e.do("GET", path, nil)
		if g.status == 404 {
			return
		}
		if g.status != 200 {
			t.Fatalf("GET %s: %d %s", path, g.status, g.body)
		}
		if v := g.field(regexp.MustCompile(`\[(\d+)\]`).ReplaceAllString(target, ".$1")); v != nil {
			t.Fatalf("the refused %s was stored: %s", target, g.body)
		}
	}
}

// shownAt checks what a GET of path shows, by dotted paths.
func shownAt(path string, want map[string]any) func(t *testing.T, e *env, r resp) {
	return func(t *testing.T, e *env, r resp) {
		t.Helper()
		got := e.must("GET", path, nil)
		for f, w := range want {
			if v := got.field(f); !reflect.DeepEqual(v, w) {
				t.Errorf("%s = %#v, want %#v: %s", f, v, w, got.body)
			}
		}
	}
}

// TestNetworkSettingsKeptOrRefused: the settings of Azure's VNets,
// subnets, network interfaces, public IP addresses and gateways that ask
// for what vnetgw does not do (peering, packet filtering, NAT gateways,
// Azure services, DNS names, public IP prefixes, a Global public IP,
// DDoS protection, managed identities, edge zones) are refused naming the
// field, and nothing is stored; their empty values are taken, so that a
// resource as Azure's GET shows it can be PUT back;
// enableAcceleratedNetworking and a public IP's ddosSettings, which change
// nothing vnetgw does, are kept and shown.
func TestNetworkSettingsKeptOrRefused(t *testing.T) {
	vnetPath := netPath(subA, "rg", "virtualNetworks", "v")
	subnetPath := vnetPath + "/subnets/s"
	nicPath := netPath(subA, "rg", "networkInterfaces", "n")
	pipPath := netPath(subA, "rg", "publicIPAddresses", "p")
	base := func(e *env) {
		e.must("PUT", rgPath(subA, "rg"), group(loc))
		e.must("PUT", vnetPath, vnet(loc, []string{"10.1.0.0/16"}, subnet("s", "10.1.0.0/24")))
	}
	withProps := func(body obj, set obj) obj {
		maps.Copy(body["properties"].(obj), set)
		return body
	}
	vnetWith := func(set, subnetSet obj) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			base(e)
			return "PUT", vnetPath, withProps(vnet(loc, []string{"10.1.0.0/16"}, withProps(subnet("s", "10.1.0.0/24"), subnetSet)), set)
		}
	}
	subnetWith := func(set obj) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			base(e)
			return "PUT", subnetPath, withProps(obj{"properties": obj{"addressPrefix": "10.1.0.0/24"}}, set)
		}
	}
	nicWith := func(set obj) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			base(e)
			return "PUT", nicPath, withProps(nic(loc, subnetPath, ""), set)
		}
	}
	pipWith := func(set obj) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			e.must("PUT", rgPath(subA, "rg"), group(loc))
			return "PUT", pipPath, withProps(publicIP(loc, "Static"), set)
		}
	}
	gwWith := func(top obj) func(e *env) (string, string, any) {
		return func(e *env) (string, string, any) {
			s := e.site(subA, "rg", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
			g := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
			maps.Copy(g, top)
			return "PUT", s.gw, g
		}
	}
	gwPath := netPath(subA, "rg", "virtualNetworkGateways", "gw")
	nsg := obj{"id": netPath(subA, "rg", "networkSecurityGroups", "nsg")}
	refused := func(name, path, target string, req func(e *env) (string, string, any)) ruleCase {
		return ruleCase{name: name, status: 400, code: "InvalidParameter", req: req, check: refusedField(path, target)}
	}
	runCases(t, []ruleCase{
		// Virtual networks.
		refused("virtualNetworkPeerings are refused", vnetPath, "properties.virtualNetworkPeerings",
			vnetWith(obj{"virtualNetworkPeerings": []obj{{"name": "to-hub", "properties": obj{
				"remoteVirtualNetwork": obj{"id": netPath(subA, "rg", "virtualNetworks", "hub")}, "allowForwardedTraffic": true}}}}, nil)),
		{name: "no virtualNetworkPeerings is taken", status: 200, req: vnetWith(obj{"virtualNetworkPeerings": []obj{}}, nil)},
		{name: "a peering as a child resource is no resource type served", status: 404, code: "InvalidResourceType",
			req: func(e *env) (string, string, any) {
				base(e)
				return "PUT", vnetPath + "/virtualNetworkPeerings/to-hub", obj{"properties": obj{
					"remoteVirtualNetwork": obj{"id": netPath(subA, "rg", "virtualNetworks", "hub")}}}
			},
			check: func(t *testing.T, e *env, r resp) {
				if !strings.Contains(r.str("error.message"), "virtualNetworkPeerings/to-hub") {
					t.Fatalf("the answer does not name the path: %s", r.body)
				}
			}},
		refused("an edge zone (extendedLocation) is refused", vnetPath, "extendedLocation", func(e *env) (string, string, any) {
			m, p, b := vnetWith(nil, nil)(e)
			b.(obj)["extendedLocation"] = obj{"name": "losangeles", "type": "EdgeZone"}
			return m, p, b
		}),
		// Subnets, inline and as child resources.
		refused("a subnet's networkSecurityGroup in its VNet is refused", vnetPath, "properties.subnets[0].properties.networkSecurityGroup",
			vnetWith(nil, obj{"networkSecurityGroup": nsg})),
		refused("a subnet's networkSecurityGroup is refused", subnetPath, "properties.networkSecurityGroup",
			subnetWith(obj{"networkSecurityGroup": nsg})),
		refused("a subnet's natGateway is refused", subnetPath, "properties.natGateway",
			subnetWith(obj{"natGateway": obj{"id": netPath(subA, "rg", "natGateways", "nat")}})),
		refused("a subnet's serviceEndpoints are refused", subnetPath, "properties.serviceEndpoints",
			subnetWith(obj{"serviceEndpoints": []obj{{"service": "Microsoft.Storage", "locations": []string{loc}}}})),
		refused("a subnet's delegations are refused", vnetPath, "properties.subnets[0].properties.delegations",
			vnetWith(nil, obj{"delegations": []obj{{"name": "web", "properties": obj{"serviceName": "Microsoft.Web/serverFarms"}}}})),
		{name: "a subnet as Azure shows one without them is taken", status: 200,
			req: subnetWith(obj{"networkSecurityGroup": nil, "natGateway": nil, "serviceEndpoints": []obj{}, "delegations": []obj{},
				"privateEndpointNetworkPolicies": "Disabled"})},
		// Network interfaces.
		refused("a network interface's networkSecurityGroup is refused", nicPath, "properties.networkSecurityGroup",
			nicWith(obj{"networkSecurityGroup": nsg})),
		refused("a network interface's DNS servers are refused", nicPath, "properties.dnsSettings.dnsServers",
			nicWith(obj{"dnsSettings": obj{"dnsServers": []string{"10.1.0.53"}}})),
		refused("a network interface's internal DNS name is refused", nicPath, "properties.dnsSettings.internalDnsNameLabel",
			nicWith(obj{"dnsSettings": obj{"internalDnsNameLabel": "web1"}})),
		{name: "a network interface as Azure shows one is taken, enableAcceleratedNetworking false", status: 201,
			req: nicWith(obj{"dnsSettings": obj{"dnsServers": []string{}, "appliedDnsServers": []string{},
				"internalDomainNameSuffix": "x.ax.internal.cloudapp.net"}, "networkSecurityGroup": nil}),
			check: shownAt(nicPath, map[string]any{"properties.enableAcceleratedNetworking": false, "properties.dnsSettings": nil})},
		{name: "enableAcceleratedNetworking is kept", status: 201, req: nicWith(obj{"enableAcceleratedNetworking": true}),
			check: shownAt(nicPath, map[string]any{"properties.enableAcceleratedNetworking": true})},
		// Public IP addresses.
		refused("a domainNameLabel is refused", pipPath, "properties.dnsSettings.domainNameLabel",
			pipWith(obj{"dnsSettings": obj{"domainNameLabel": "vpn-contoso"}})),
		refused("ipTags are refused", pipPath, "properties.ipTags",
			pipWith(obj{"ipTags": []obj{{"ipTagType": "RoutingPreference", "tag": "Internet"}}})),
		refused("a publicIPPrefix is refused", pipPath, "properties.publicIPPrefix",
			pipWith(obj{"publicIPPrefix": obj{"id": netPath(subA, "rg", "publicIPPrefixes", "pfx")}})),
		refused("DDoS protection Enabled is refused", pipPath, "properties.ddosSettings.protectionMode",
			pipWith(obj{"ddosSettings": obj{"protectionMode": "enabled"}})),
		refused("a DDoS protection plan is refused", pipPath, "properties.ddosSettings.ddosProtectionPlan",
			pipWith(obj{"ddosSettings": obj{"ddosProtectionPlan": obj{"id": netPath(subA, "rg", "ddosProtectionPlans", "d")}}})),
		{name: "ddosSettings Disabled is kept in its canonical case", status: 201, req: pipWith(obj{"ddosSettings": obj{"protectionMode": "disabled"}}),
			check: shownAt(pipPath, map[string]any{"properties.ddosSettings": map[string]any{"protectionMode": "Disabled"}})},
		{name: "a public IP as Azure shows one without them is taken", status: 201,
			req: pipWith(obj{"ipTags": []obj{}, "dnsSettings": obj{"fqdn": ""}, "ddosSettings": obj{"protectionMode": "VirtualNetworkInherited"}}),
			check: shownAt(pipPath, map[string]any{"properties.ddosSettings": map[string]any{"protectionMode": "VirtualNetworkInherited"},
				"properties.ipTags": nil, "properties.dnsSettings": nil})},
		refused("a Global tier is refused", pipPath, "sku.tier", func(e *env) (string, string, any) {
			m, p, b := pipWith(nil)(e)
			b.(obj)["sku"] = obj{"name": "Standard", "tier": "Global"}
			return m, p, b
		}),
		{name: "a tier that is neither Regional nor Global is refused", status: 400, code: "InvalidParameter",
			req: func(e *env) (string, string, any) {
				m, p, b := pipWith(nil)(e)
				b.(obj)["sku"] = obj{"name": "Standard", "tier": "Zonal"}
				return m, p, b
			}, check: refusedField(pipPath, "sku.tier")},
		{name: "a Regional tier is kept in its canonical case", status: 201,
			req: func(e *env) (string, string, any) {
				m, p, b := pipWith(nil)(e)
				b.(obj)["sku"] = obj{"name": "Standard", "tier": "regional"}
				return m, p, b
			}, check: shownAt(pipPath, map[string]any{"sku.tier": "Regional"})},
		// Gateways.
		refused("a gateway's managed identity is refused", gwPath, "identity",
			gwWith(obj{"identity": obj{"type": "UserAssigned", "userAssignedIdentities": obj{
				"/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/kv": obj{}}}})),
		refused("a gateway's extendedLocation is refused", gwPath, "extendedLocation",
			gwWith(obj{"extendedLocation": obj{"name": "losangeles", "type": "EdgeZone"}})),
		{name: "a gateway's identity None is taken", status: 200, req: gwWith(obj{"identity": obj{"type": "None"}}),
			check: shownAt(gwPath, map[string]any{"identity": nil})},
		{name: "a VNet as GET shows it is taken back", status: 200, req: func(e *env) (string, string, any) {
			base(e)
			var v obj
			if err := json.Unmarshal(e.must("GET", vnetPath, nil).body, &v); err != nil {
				t.Fatal(err)
			}
			return "PUT", vnetPath, v
		}},
	})
}
