package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// Every update takes az's generic update arguments, --set, --add, --remove
// and --force-string, on the paths show prints (and az's, without
// "properties."): they were refused as unknown flags, so that a script
// written for az stopped at its first --set.
func TestGenericUpdateArguments(t *testing.T) {
	gw, showGateway := gatewayToCreate(t)
	must(t, append(gw, "--asn", "65001")...)

	// A nested field, by az's path and by show's.
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--set", "bgpSettings.asn=65010")
	if p := showGateway().Properties; p.BGPSettings == nil || p.BGPSettings.ASN != 65010 {
		t.Errorf("--set bgpSettings.asn=65010: %+v", p.BGPSettings)
	}
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--set", "properties.bgpSettings.asn=65011")
	if p := showGateway().Properties; p.BGPSettings == nil || p.BGPSettings.ASN != 65011 {
		t.Errorf("--set properties.bgpSettings.asn=65011: %+v", p.BGPSettings)
	}

	// Add to lists (a string, and an object as JSON), remove by index.
	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--add", "properties.addressSpace.addressPrefixes", "10.2.0.0/16",
		"--add", "subnets", `{"name": "web", "properties": {"addressPrefix": "10.2.1.0/24"}}`)
	showVnet := func() arm.VirtualNetwork {
		var v arm.VirtualNetwork
		mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", "hub")
		return v
	}
	v := showVnet()
	if got := v.Properties.AddressSpace.AddressPrefixes; !slices.Equal(got, []string{"10.1.0.0/16", "10.2.0.0/16"}) ||
		len(v.Properties.Subnets) != 2 || v.Properties.Subnets[1].Name != "web" || v.Properties.Subnets[1].Properties.AddressPrefix != "10.2.1.0/24" {
		t.Errorf("--add: address space %v, subnets %+v; want 10.2.0.0/16 and web added", got, v.Properties.Subnets)
	}
	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--remove", "properties.subnets", "1")
	if v := showVnet(); len(v.Properties.Subnets) != 1 || v.Properties.Subnets[0].Name != "GatewaySubnet" {
		t.Errorf("--remove properties.subnets 1: %+v; want GatewaySubnet alone", v.Properties.Subnets)
	}

	// Tags: --force-string keeps "true" a string, which a tag must be;
	// remove by key.
	if code, _, errOut := vnetgw(t, "vnet", "update", "-g", "rg", "-n", "hub", "--set", "tags.flag=true"); code != 1 || !strings.Contains(errOut, "--set tags.flag: the value does not fit: it takes a string, not true or false") {
		t.Errorf("--set tags.flag=true (a JSON boolean): exit %d, %q; want 1, the value does not fit", code, errOut)
	}
	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--set", "tags.flag=true", "tags.env=prod", "--force-string")
	if tags := showVnet().Tags; tags["flag"] != "true" || tags["env"] != "prod" {
		t.Errorf("--set tags.flag=true tags.env=prod --force-string: tags %v", tags)
	}
	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--remove", "tags.env")
	if tags := showVnet().Tags; len(tags) != 1 || tags["flag"] != "true" {
		t.Errorf("--remove tags.env: tags %v; want flag=true alone", tags)
	}

	// A bad path, an index out of range, a value that is no JSON where
	// one is needed: exit 1 saying so, and nothing written.
	gwBefore := must(t, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	vnetBefore := must(t, "vnet", "show", "-g", "rg", "-n", "hub")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--set", "properties.bgpSettings.asnn=65012"},
			"--set properties.bgpSettings.asnn: couldn't find 'asnn' in 'properties.bgpSettings'; it has asn, bgpPeeringAddress"},
		{[]string{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--set", "bgpSetings.asn=65012"}, "couldn't find 'bgpSetings' in the top level"},
		{[]string{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--sku", "VpnGw2", "--remove", "properties.nope"}, "--remove properties.nope: couldn't find 'nope' in 'properties'"},
		{[]string{"vnet", "update", "-g", "rg", "-n", "hub", "--remove", "properties.subnets", "5"},
			"--remove properties.subnets 5: index 5 doesn't exist on 'properties.subnets', which has 1 item"},
		{[]string{"vnet", "update", "-g", "rg", "-n", "hub", "--set", "properties.subnets[3].name=x"}, "index 3 doesn't exist on 'properties.subnets'"},
		{[]string{"vnet", "update", "-g", "rg", "-n", "hub", "--add", "properties.subnets", `{"name": "web"`}, "the value is not valid JSON"},
		{[]string{"vnet", "update", "-g", "rg", "-n", "hub", "--set", "properties.addressSpace=10.3.0.0/16"},
			"'properties.addressSpace' is an object: give its value as JSON"},
	} {
		code, _, errOut := vnetgw(t, tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("vnetgw %s: exit %d, %q; want 1 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
	if after := must(t, "vnet-gateway", "show", "-g", "rg", "-n", "gw"); after != gwBefore {
		t.Errorf("a refused update changed the gateway:\n%s\nnow\n%s", gwBefore, after)
	}
	if after := must(t, "vnet", "show", "-g", "rg", "-n", "hub"); after != vnetBefore {
		t.Errorf("a refused update changed the network:\n%s\nnow\n%s", vnetBefore, after)
	}
}

// The generic update arguments on each of the other update commands, each
// by az's path (without "properties.").
func TestGenericUpdateOnEveryUpdate(t *testing.T) {
	gw, _ := gatewayToCreate(t)
	must(t, gw...)
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "default", "--address-prefixes", "10.1.0.0/24")
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "spare", "--address-prefixes", "10.1.1.0/24")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	must(t, "route-table", "route", "create", "-g", "rg", "--route-table-name", "rt", "-n", "r", "--address-prefix", "10.9.0.0/16", "--next-hop-type", "None")
	must(t, "local-gateway", "create", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24")
	must(t, "vpn-connection", "create", "-g", "rg", "-n", "to-branch", "--vnet-gateway1", "gw", "--local-gateway2", "branch", "--shared-key", "Abc123")
	must(t, "nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "hub", "--subnet", "default")
	for _, tc := range []struct {
		update, show []string
		path         string
		want         any
	}{
		{[]string{"vnet", "subnet", "update", "-g", "rg", "--vnet-name", "hub", "-n", "spare", "--set", "addressPrefix=10.1.1.0/25"},
			[]string{"vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "spare"}, "properties.addressPrefix", "10.1.1.0/25"},
		{[]string{"route-table", "route", "update", "-g", "rg", "--route-table-name", "rt", "-n", "r", "--set", "addressPrefix=10.8.0.0/16"},
			[]string{"route-table", "route", "show", "-g", "rg", "--route-table-name", "rt", "-n", "r"}, "properties.addressPrefix", "10.8.0.0/16"},
		{[]string{"route-table", "update", "-g", "rg", "-n", "rt", "--set", "disableBgpRoutePropagation=true"},
			[]string{"route-table", "show", "-g", "rg", "-n", "rt"}, "properties.disableBgpRoutePropagation", true},
		{[]string{"public-ip", "update", "-g", "rg", "-n", "gw-ip", "--set", "idleTimeoutInMinutes=10"},
			[]string{"public-ip", "show", "-g", "rg", "-n", "gw-ip"}, "properties.idleTimeoutInMinutes", float64(10)},
		{[]string{"local-gateway", "update", "-g", "rg", "-n", "branch", "--add", "localNetworkAddressSpace.addressPrefixes", "192.168.2.0/24"},
			[]string{"local-gateway", "show", "-g", "rg", "-n", "branch"}, "properties.localNetworkAddressSpace.addressPrefixes", []any{"192.168.1.0/24", "192.168.2.0/24"}},
		{[]string{"vpn-connection", "update", "-g", "rg", "-n", "to-branch", "--set", "routingWeight=5"},
			[]string{"vpn-connection", "show", "-g", "rg", "-n", "to-branch"}, "properties.routingWeight", float64(5)},
		{[]string{"vpn-connection", "shared-key", "update", "-g", "rg", "--connection-name", "to-branch", "--value", "Abc000", "--set", "value=Xyz789"},
			[]string{"vpn-connection", "shared-key", "show", "-g", "rg", "--connection-name", "to-branch"}, "value", "Xyz789"},
		{[]string{"nic", "update", "-g", "rg", "-n", "web", "--set", "enableIPForwarding=true"},
			[]string{"nic", "show", "-g", "rg", "-n", "web"}, "properties.enableIPForwarding", true},
		{[]string{"nic", "ip-config", "update", "-g", "rg", "--nic-name", "web", "-n", "ipconfig1", "--set", "privateIPAddress=10.1.0.30", "privateIPAllocationMethod=Static"},
			[]string{"nic", "show", "-g", "rg", "-n", "web"}, "properties.ipConfigurations.0.properties.privateIPAddress", "10.1.0.30"},
		{[]string{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--set", "sku.name=VpnGw2", "sku.tier=VpnGw2"},
			[]string{"vnet-gateway", "show", "-g", "rg", "-n", "gw"}, "properties.sku.name", "VpnGw2"},
	} {
		must(t, tc.update...)
		var v any
		mustJSON(t, &v, tc.show...)
		for _, p := range strings.Split(tc.path, ".") {
			switch n := v.(type) {
			case map[string]any:
				v = n[p]
			case []any:
				v = n[0]
			}
		}
		if got, _ := json.Marshal(v); string(got) != mustMarshal(t, tc.want) {
			t.Errorf("vnetgw %s: %s is %s, want %s", strings.Join(tc.update, " "), tc.path, got, mustMarshal(t, tc.want))
		}
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
