package api

import (
	"encoding/json"
	"maps"
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

// TestNetworkSettingsKeptOrRefused: the settings of Azure's VNets,
// subnets and network interfaces that ask for what vnetgw does not do
// (peering, packet filtering) are refused naming the field, and nothing
// is stored; their empty values are taken, so that a resource as Azure's
// GET shows it can be PUT back.
func TestNetworkSettingsKeptOrRefused(t *testing.T) {
	vnetPath := netPath(subA, "rg", "virtualNetworks", "v")
	subnetPath := vnetPath + "/subnets/s"
	nicPath := netPath(subA, "rg", "networkInterfaces", "n")
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
		// Subnets, inline and as child resources.
		refused("a subnet's networkSecurityGroup in its VNet is refused", vnetPath, "properties.subnets[0].properties.networkSecurityGroup",
			vnetWith(nil, obj{"networkSecurityGroup": nsg})),
		refused("a subnet's networkSecurityGroup is refused", subnetPath, "properties.networkSecurityGroup",
			subnetWith(obj{"networkSecurityGroup": nsg})),
		{name: "a subnet without one is taken", status: 200,
			req: subnetWith(obj{"networkSecurityGroup": nil})},
		// Network interfaces.
		refused("a network interface's networkSecurityGroup is refused", nicPath, "properties.networkSecurityGroup",
			nicWith(obj{"networkSecurityGroup": nsg})),
		{name: "a network interface without one is taken", status: 201, req: nicWith(obj{"networkSecurityGroup": nil})},
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
