package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// TestIDsFlag: show, update, delete and wait take az's --ids, one or more full resource
// ids, space-separated, as scripts pass what a list printed
// (az network vnet delete --ids $(az network vnet list -g rg --query
// [].id -o tsv)); it was refused as an unknown flag. One id shows the
// resource, several a list; --ids with --name or --resource-group, an id
// that is a name, or the id of another type, are refused before anything
// is done.
func TestIDsFlag(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	var ids []string
	for i, name := range []string{"a", "b"} {
		must(t, "vnet", "create", "-g", "rg", "-n", name, "--address-prefixes", []string{"10.1.0.0/16", "10.2.0.0/16"}[i])
		var v arm.VirtualNetwork
		mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", name)
		ids = append(ids, v.ID)
	}

	var one arm.VirtualNetwork
	mustJSON(t, &one, "vnet", "show", "--ids", ids[0])
	if one.Name != "a" {
		t.Errorf("vnet show --ids %s: %q, want a", ids[0], one.Name)
	}
	var both []arm.VirtualNetwork
	mustJSON(t, &both, "vnet", "show", "--ids", ids[1], ids[0], "-o", "json")
	if len(both) != 2 || both[0].Name != "b" || both[1].Name != "a" {
		t.Errorf("vnet show --ids of b and a: %+v, want both, in that order", both)
	}
	if out := must(t, "vnet", "show", "--ids", ids[0], ids[1], "-o", "tsv"); strings.Count(out, "\n") != 2 {
		t.Errorf("vnet show --ids of two, -o tsv: %q, want a row each", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet", "show", "--ids", ids[0], "-g", "rg"}, "without --resource-group/-g and --name/-n"},
		{[]string{"vnet", "delete", "--ids", ids[0], "-n", "b"}, "without --resource-group/-g and --name/-n"},
		{[]string{"vnet", "delete", "--ids", ids[0], "b"}, `"b" is none`},
		{[]string{"public-ip", "delete", "--ids", ids[0]}, "is not a Microsoft.Network/publicIPAddresses id: it names a "},
	} {
		if code, out, errOut := vnetgw(t, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("vnetgw %s: exit %d, %s%s; want exit 2 and an error with %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
	mustJSON(t, &both, "vnet", "list", "-g", "rg")
	if len(both) != 2 {
		t.Fatalf("after the refused deletes, %d VNets, want 2", len(both))
	}

	// Their answers come as one list, as az prints them (they came as
	// two JSON documents, one after the other: no JSON).
	mustJSON(t, &both, "vnet", "update", "--ids", ids[0], ids[1], "--tags", "team=net")
	if len(both) != 2 || both[0].Tags["team"] != "net" || both[1].Tags["team"] != "net" {
		t.Errorf("vnet update --ids of both --tags team=net printed %+v, want both, tagged", both)
	}
	if _, out, _ := vnetgw(t, "vnet", "update", "--ids", ids[0], ids[1], "--tags", "team=net", "-o", "table"); strings.Count(out, "Name") != 1 {
		t.Errorf("vnet update --ids of both -o table: one table, one head, want\n%s", out)
	}
	mustJSON(t, &both, "vnet", "show", "--ids", ids[0], ids[1])
	for _, v := range both {
		if v.Tags["team"] != "net" || len(v.Properties.AddressSpace.AddressPrefixes) != 1 {
			t.Errorf("after vnet update --ids of both --tags team=net, %s: tags %v, address space %v; want the tag, the space kept", v.Name, v.Tags, v.Properties.AddressSpace.AddressPrefixes)
		}
	}
	must(t, "vnet", "wait", "--ids", ids[0], ids[1], "--created")
	must(t, "vnet", "delete", "--ids", ids[0], ids[1])
	must(t, "vnet", "wait", "--ids", ids[0], ids[1], "--deleted")
	for _, id := range ids {
		for _, verb := range []string{"show", "update"} {
			if code, _, errOut := vnetgw(t, "vnet", verb, "--ids", id); code != 3 {
				t.Errorf("vnet %s --ids %s after the delete: exit %d %s, want 3 (not found)", verb, id, code, errOut)
			}
		}
	}
}

// TestChildIDsFlag: subnet and route show, update and delete take az's
// --ids, full ids of the child resources (az network vnet subnet show
// --ids /subscriptions/.../virtualNetworks/v/subnets/s); they were refused
// as unknown flags. --ids with the parent's or the child's name is refused
// before anything is done.
func TestChildIDsFlag(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "v", "--address-prefixes", "10.1.0.0/16")
	var subnets []string
	for i, name := range []string{"s1", "s2"} {
		var s arm.Subnet
		mustJSON(t, &s, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "v", "-n", name, "--address-prefixes", []string{"10.1.1.0/24", "10.1.2.0/24"}[i])
		subnets = append(subnets, s.ID)
	}
	var one arm.Subnet
	mustJSON(t, &one, "vnet", "subnet", "show", "--ids", subnets[1])
	if one.Name != "s2" {
		t.Errorf("vnet subnet show --ids %s: %q, want s2", subnets[1], one.Name)
	}
	var both []arm.Subnet
	mustJSON(t, &both, "vnet", "subnet", "show", "--ids", subnets[0], subnets[1], "-o", "json")
	if len(both) != 2 || both[0].Name != "s1" || both[1].Name != "s2" {
		t.Errorf("vnet subnet show --ids of s1 and s2: %+v, want both, in that order", both)
	}

	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	var r arm.Route
	mustJSON(t, &r, "route-table", "route", "create", "-g", "rg", "--route-table-name", "rt", "-n", "r1", "--address-prefix", "10.9.0.0/16", "--next-hop-type", "VnetLocal")
	must(t, "route-table", "route", "update", "--ids", r.ID, "--address-prefix", "10.8.0.0/16")
	mustJSON(t, &r, "route-table", "route", "show", "--ids", r.ID)
	if r.Properties.AddressPrefix != "10.8.0.0/16" {
		t.Errorf("route update --ids: prefix %q, want 10.8.0.0/16", r.Properties.AddressPrefix)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet", "subnet", "show", "--ids", subnets[0], "--vnet-name", "v"}, "without --resource-group/-g, --vnet-name and --name/-n"},
		{[]string{"vnet", "subnet", "delete", "--ids", subnets[0], "-n", "s2"}, "without --resource-group/-g, --vnet-name and --name/-n"},
		{[]string{"vnet", "subnet", "delete", "--ids", subnets[0], "s2"}, `"s2" is none`},
		{[]string{"vnet", "subnet", "delete", "--ids", subnets[0] + "x", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"}, "is not a Microsoft.Network/virtualNetworks/subnets id: it names a "},
		{[]string{"route-table", "route", "delete", "--ids", subnets[0]}, "is not a Microsoft.Network/routeTables/routes id: it names a "},
		{[]string{"route-table", "route", "show", "--ids", r.ID, "--route-table-name", "rt"}, "without --resource-group/-g, --route-table-name and --name/-n"},
	} {
		if code, out, errOut := vnetgw(t, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("vnetgw %s: exit %d, %s%s; want exit 2 and an error with %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
	mustJSON(t, &both, "vnet", "subnet", "list", "-g", "rg", "--vnet-name", "v")
	if len(both) != 2 {
		t.Fatalf("after the refused deletes, %d subnets, want 2", len(both))
	}

	// vnet subnet wait, as az has it, by name or by --ids.
	must(t, "vnet", "subnet", "wait", "-g", "rg", "--vnet-name", "v", "-n", "s1", "--created")
	must(t, "vnet", "subnet", "wait", "--ids", subnets[0], subnets[1], "--exists")
	must(t, "vnet", "subnet", "delete", "--ids", subnets[0], subnets[1])
	must(t, "vnet", "subnet", "wait", "--ids", subnets[0], "--deleted")
	mustJSON(t, &both, "vnet", "subnet", "list", "-g", "rg", "--vnet-name", "v")
	if len(both) != 0 {
		t.Errorf("after subnet delete --ids of both, %d subnets, want none", len(both))
	}
	// nic ip-config update --ids: the configuration's full id, its own
	// group's subnet given by name.
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "v", "-n", "default", "--address-prefixes", "10.1.0.0/24")
	must(t, "nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "v", "--subnet", "default")
	var n arm.NetworkInterface
	mustJSON(t, &n, "nic", "show", "-g", "rg", "-n", "web")
	cfg := n.Properties.IPConfigurations[0].ID
	must(t, "nic", "ip-config", "update", "--ids", cfg, "--private-ip-address", "10.1.0.30")
	mustJSON(t, &n, "nic", "show", "-g", "rg", "-n", "web")
	if p := n.Properties.IPConfigurations[0].Properties; p.PrivateIPAddress != "10.1.0.30" || p.PrivateIPAllocationMethod != arm.Static {
		t.Errorf("nic ip-config update --ids %s --private-ip-address 10.1.0.30: %s %s", cfg, p.PrivateIPAddress, p.PrivateIPAllocationMethod)
	}
	if code, _, errOut := vnetgw(t, "nic", "ip-config", "update", "--ids", cfg, "--nic-name", "web", "--private-ip-address", "10.1.0.31"); code != 2 || !strings.Contains(errOut, "without --resource-group/-g, --nic-name and --name/-n") {
		t.Errorf("nic ip-config update --ids with --nic-name: exit %d, %s", code, errOut)
	}

	must(t, "route-table", "route", "delete", "--ids", r.ID)
	if code, _, _ := vnetgw(t, "route-table", "route", "show", "--ids", r.ID); code == 0 {
		t.Errorf("route show --ids after delete --ids: found")
	}
}

// The update of several children by --ids (vnet subnet update, route-table
// route update, nic ip-config update) prints their answers as one list, as
// the update of several resources does and az prints them: they came as
// one JSON document after another, which is no JSON, and as a table
// each with -o table.
func TestChildUpdateIDsPrintOneList(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "v", "--address-prefixes", "10.1.0.0/16")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	var subnets, routes, ipConfigs []string
	for i, name := range []string{"s1", "s2"} {
		var s arm.Subnet
		mustJSON(t, &s, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "v", "-n", name, "--address-prefixes", fmt.Sprintf("10.1.%d.0/24", i+1))
		subnets = append(subnets, s.ID)
		var r arm.Route
		mustJSON(t, &r, "route-table", "route", "create", "-g", "rg", "--route-table-name", "rt", "-n", "r"+name, "--address-prefix", fmt.Sprintf("10.%d.0.0/16", i+8), "--next-hop-type", "VnetLocal")
		routes = append(routes, r.ID)
		var n arm.NetworkInterface
		mustJSON(t, &n, "nic", "create", "-g", "rg", "-n", "nic"+name, "--vnet-name", "v", "--subnet", name)
		ipConfigs = append(ipConfigs, n.Properties.IPConfigurations[0].ID)
	}
	for _, c := range []struct {
		args []string
		ids  []string
	}{
		{[]string{"vnet", "subnet", "update", "--route-table", "rt"}, subnets},
		{[]string{"route-table", "route", "update", "--next-hop-type", "None"}, routes},
		{[]string{"nic", "ip-config", "update", "--private-ip-address", ""}, ipConfigs},
	} {
		args := append(append(slices.Clone(c.args), "--ids"), c.ids...)
		var got []struct {
			ID string `json:"id"`
		}
		out := must(t, args...)
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || got[0].ID != c.ids[0] || got[1].ID != c.ids[1] {
			t.Errorf("vnetgw %s: %v, want a list of both, in that order\n%s", strings.Join(args, " "), err, out)
		}
		if out := must(t, append(args, "-o", "table")...); strings.Count(out, "Name") != 1 || strings.Count(out, "\n") != 4 {
			t.Errorf("vnetgw %s -o table: want one table, its head and a row each\n%s", strings.Join(args, " "), out)
		}
	}
}

// TestPartWaits: az's wait on a table's routes, a gateway's NAT rules,
// root and revoked certificates and packet captures, and a connection's
// packet captures (they were unknown commands). A route's waits for the
// route (-g, --route-table-name and -n, or --ids of routes); those of a
// gateway's parts for the gateway, as az's do (-g and --gateway-name, or
// --ids of gateways); packet-capture wait for the gateway or the
// connection (-g and -n, or --ids). --ids of another type, or with the
// names, is refused.
func TestPartWaits(t *testing.T) {
	startRegionIn(t, "127.218.0.0/24")
	p2sGateway(t)
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	var r arm.Route
	mustJSON(t, &r, "route-table", "route", "create", "-g", "rg", "--route-table-name", "rt", "-n", "r1", "--address-prefix", "10.9.0.0/16", "--next-hop-type", "VnetLocal")
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	var conn arm.Connection
	mustJSON(t, &conn, "vpn-connection", "show", "-g", "rg", "-n", "conn")

	for _, args := range [][]string{
		{"route-table", "route", "wait", "-g", "rg", "--route-table-name", "rt", "-n", "r1", "--created"},
		{"route-table", "route", "wait", "--ids", r.ID, "--updated"},
		{"vnet-gateway", "nat-rule", "wait", "-g", "rg", "--gateway-name", "gw", "--created"},
		{"vnet-gateway", "root-cert", "wait", "-g", "rg", "--gateway-name", "gw", "--updated"},
		{"vnet-gateway", "revoked-cert", "wait", "--ids", gw.ID, "--exists"},
		{"vnet-gateway", "packet-capture", "wait", "-g", "rg", "-n", "gw", "--updated"},
		{"vnet-gateway", "packet-capture", "wait", "--ids", gw.ID, "--exists"},
		{"vpn-connection", "packet-capture", "wait", "-g", "rg", "-n", "conn", "--created"},
		{"vpn-connection", "packet-capture", "wait", "--ids", conn.ID, "--exists"},
		{"vnet-gateway", "wait", "-g", "rg", "-n", "gw", "--custom", "properties.provisioningState=='Succeeded' && name=='gw'"},
		{"vnet-gateway", "wait", "-g", "rg", "-n", "gw", "--custom", "provisioningState!='InProgress'"}, // az's path
	} {
		must(t, args...)
	}

	// Waiting for what is not so ends at --timeout, exit 1, naming it; a
	// wrong command line exits 2, as az's.
	for _, c := range []struct {
		args []string
		want string
		code int // 1: not as asked in time; 2: the command line is wrong
	}{
		{[]string{"route-table", "route", "wait", "--ids", r.ID, "--deleted", "--interval", "1", "--timeout", "1"}, "route r1 is not deleted (--deleted)", 1},
		{[]string{"vnet-gateway", "nat-rule", "wait", "-g", "rg", "--gateway-name", "gw", "--deleted", "--interval", "1", "--timeout", "1"}, "vnet-gateway gw is not deleted (--deleted)", 1},
		{[]string{"vnet-gateway", "nat-rule", "wait", "--ids", gw.ID, "--gateway-name", "gw", "--exists"}, "without --resource-group/-g and --gateway-name", 2},
		{[]string{"vnet-gateway", "root-cert", "wait", "--ids", r.ID, "--exists"}, "is not a Microsoft.Network/virtualNetworkGateways id: it names a ", 2},
		{[]string{"vnet-gateway", "revoked-cert", "wait", "-g", "rg", "--exists"}, "--gateway-name is required", 2},
		{[]string{"route-table", "route", "wait", "--ids", gw.ID, "--exists"}, "is not a Microsoft.Network/routeTables/routes id: it names a ", 2},
		{[]string{"route-table", "route", "wait", "--ids", r.ID, "-n", "r1", "--exists"}, "without --resource-group/-g, --route-table-name and --name/-n", 2},
		{[]string{"vpn-connection", "packet-capture", "wait", "--ids", gw.ID, "--exists"}, "is not a Microsoft.Network/connections id: it names a ", 2},
		// az's --custom, a JMESPath condition of the resource's JSON
		// (it was refused).
		{[]string{"vnet-gateway", "wait", "-g", "rg", "-n", "gw", "--custom", "properties.provisioningState=='Failed'", "--interval", "1", "--timeout", "1"},
			`vnet-gateway gw is not as asked (--custom "properties.provisioningState=='Failed'") after 1 s`, 1},
		{[]string{"vnet-gateway", "wait", "-g", "rg", "-n", "gw", "--custom", "properties.["}, `--custom "properties.[": not a JMESPath expression`, 2},
		{[]string{"vnet-gateway", "wait", "-g", "rg", "-n", "gw", "--custom", "name", "--exists"}, "--created, --updated, --exists, --deleted or --custom: give one", 2},
	} {
		if code, out, errOut := vnetgw(t, c.args...); code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("vnetgw %s: exit %d, %s%s; want exit %d and an error with %q", strings.Join(c.args, " "), code, out, errOut, c.code, c.want)
		}
	}

	must(t, "route-table", "route", "delete", "--ids", r.ID)
	must(t, "route-table", "route", "wait", "--ids", r.ID, "--deleted")
	must(t, "vpn-connection", "delete", "-g", "rg", "-n", "conn")
	must(t, "vpn-connection", "packet-capture", "wait", "--ids", conn.ID, "--deleted")
}

// The verbs that POST to a gateway or a connection (vnet-gateway reset,
// vpn-client show-health, list-learned-routes, vpn-connection
// list-ike-sas, ...) take az's --ids: each resource is asked in turn, and
// the answers of several are printed as az prints them, a list of them
// with -o json. It was an unknown flag. --ids with the names, or of
// another type, is refused before anything is done.
func TestPostIDs(t *testing.T) {
	gws := twoGateways(t, "127.218.3.0/24")
	var health [][]json.RawMessage
	mustJSON(t, &health, append([]string{"vnet-gateway", "vpn-client", "show-health", "-o", "json", "--ids"}, gws...)...)
	if len(health) != 2 || len(health[0]) != 0 || len(health[1]) != 0 {
		t.Errorf("vpn-client show-health --ids of two gateways without clients: %v, want two empty lists", health)
	}
	var one []json.RawMessage
	mustJSON(t, &one, "vnet-gateway", "vpn-client", "show-health", "--ids", gws[0])
	if len(one) != 0 {
		t.Errorf("vpn-client show-health --ids of one gateway without clients: %v, want its empty list", one)
	}
	must(t, append([]string{"vnet-gateway", "reset", "--ids"}, gws...)...)
	var conn arm.Connection
	mustJSON(t, &conn, "vpn-connection", "show", "-g", "rg", "-n", "conn")
	must(t, "vpn-connection", "list-ike-sas", "--ids", conn.ID)

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet-gateway", "reset", "--ids", gws[0], "-g", "rg"}, "without --resource-group/-g and --name/-n"},
		{[]string{"vpn-connection", "list-ike-sas", "--ids", gws[0]}, "is not a Microsoft.Network/connections id: it names a "},
	} {
		if code, out, errOut := vnetgw(t, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("vnetgw %s: exit %d, %s%s; want exit 2 and an error with %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
}

// vpn-client generate and show-url and disconnect-vpn-connections take
// az's --ids too (it was an unknown flag): each gateway is asked in turn,
// and the URLs of several are a list with -o json, one a line with -o
// table. --output-file or --output-dir with several, which would keep one
// package, and --ids with the names are refused before anything is done.
func TestVPNClientIDs(t *testing.T) {
	gws := twoGateways(t, "127.220.1.0/24")
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw2", "--address-prefixes", "172.16.202.0/24", "--client-protocol", "IkeV2")
	var made, shown []string
	mustJSON(t, &made, append([]string{"vnet-gateway", "vpn-client", "generate", "-o", "json", "--ids"}, gws...)...)
	if len(made) != 2 || made[0] == "" || made[0] == made[1] {
		t.Fatalf("vpn-client generate --ids of two gateways: %q, want two URLs", made)
	}
	mustJSON(t, &shown, append([]string{"vnet-gateway", "vpn-client", "show-url", "-o", "json", "--ids"}, gws...)...)
	if !slices.Equal(shown, made) {
		t.Errorf("vpn-client show-url --ids of two gateways after generate: %q, want their URLs %q", shown, made)
	}
	if out := must(t, append([]string{"vnet-gateway", "vpn-client", "show-url", "-o", "table", "--ids"}, gws...)...); out != made[0]+"\n"+made[1]+"\n" {
		t.Errorf("vpn-client show-url --ids of two gateways -o table: %q, want the URLs one a line", out)
	}
	var one string
	mustJSON(t, &one, "vnet-gateway", "vpn-client", "show-url", "--ids", gws[1])
	if one != made[1] {
		t.Errorf("vpn-client show-url --ids of one gateway: %q, want its URL %q", one, made[1])
	}
	must(t, append([]string{"vnet-gateway", "disconnect-vpn-connections", "--vpn-connections", "IKEv2_172.16.201.2", "--ids"}, gws...)...)

	for _, c := range []struct {
		args []string
		want string
	}{
		{append([]string{"vnet-gateway", "vpn-client", "generate", "--output-file", filepath.Join(t.TempDir(), "p.zip"), "--ids"}, gws...), "save one package"},
		{[]string{"vnet-gateway", "vpn-client", "show-url", "--ids", gws[0], "-n", "gw"}, "without --resource-group/-g and --name/-n"},
		{[]string{"vnet-gateway", "disconnect-vpn-connections", "--vpn-connections", "x", "--ids", gws[0], "-g", "rg"}, "without --resource-group/-g and --name/-n"},
	} {
		if code, out, errOut := vnetgw(t, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("vnetgw %s: exit %d, %s%s; want exit 2 and an error with %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
}

// TestIDsFlagGoesOnPastAFailure: with several --ids, one that fails does
// not stop the others, as az runs the command for each: a delete of three
// VNets, the first in use (a network interface in it), deletes the other
// two; a show of one that exists and one that does not prints the one and
// names the other. The command fails (exit 1, or 3 for show when one is
// not found), its error naming each id that failed.
func TestIDsFlagGoesOnPastAFailure(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	var ids []string
	for i, name := range []string{"a", "b", "c"} {
		var v arm.VirtualNetwork
		mustJSON(t, &v, "vnet", "create", "-g", "rg", "-n", name, "--address-prefixes", fmt.Sprintf("10.%d.0.0/16", i+1),
			"--subnet-name", "default", "--subnet-prefixes", fmt.Sprintf("10.%d.0.0/24", i+1))
		ids = append(ids, v.ID)
	}
	must(t, "nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "a", "--subnet", "default")

	code, out, errOut := vnetgw(t, append([]string{"vnet", "delete", "--ids"}, ids...)...)
	if code != 1 || !strings.Contains(errOut, ids[0]) || strings.Contains(errOut, ids[1]) || strings.Contains(errOut, ids[2]) {
		t.Errorf("vnet delete --ids a b c, a in use: exit %d, %s%s; want exit 1 and an error naming a alone", code, out, errOut)
	}
	var left []arm.VirtualNetwork
	mustJSON(t, &left, "vnet", "list", "-g", "rg")
	if len(left) != 1 || left[0].Name != "a" {
		t.Errorf("after the delete of a, b and c, a in use: %d VNets left (%v), want a alone", len(left), left)
	}

	code, out, errOut = vnetgw(t, "vnet", "show", "--ids", ids[1], ids[0])
	var shown []arm.VirtualNetwork
	if err := json.Unmarshal([]byte(out), &shown); err != nil || len(shown) != 1 || shown[0].Name != "a" {
		t.Errorf("vnet show --ids b a, b deleted: %q (%v), want a list of a", out, err)
	}
	if code != 3 || !strings.Contains(errOut, ids[1]) {
		t.Errorf("vnet show --ids b a, b deleted: exit %d, %s; want exit 3 and an error naming b", code, errOut)
	}
}

// TestNameWithASlash: a name with a '/' (or '?', '#') would be a path of
// its own in the URL, which the API answered with 404
// InvalidResourceType; it is refused before anything is sent, saying
// what a name cannot hold.
func TestNameWithASlash(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "v", "--address-prefixes", "10.1.0.0/16")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	for _, args := range [][]string{
		{"group", "create", "-n", "a/b", "-l", "westeurope"},
		{"group", "delete", "-n", "a/b"},
		{"vnet", "create", "-g", "rg", "-n", "a/b", "--address-prefixes", "10.2.0.0/16"},
		{"vnet", "show", "-g", "rg/x", "-n", "v"},
		{"vnet", "subnet", "create", "-g", "rg", "--vnet-name", "v", "-n", "s?1", "--address-prefixes", "10.1.1.0/24"},
		{"route-table", "route", "create", "-g", "rg", "--route-table-name", "rt", "-n", "r#1", "--address-prefix", "10.9.0.0/16", "--next-hop-type", "VnetLocal"},
	} {
		if code, out, errOut := vnetgw(t, args...); code != 1 || !strings.Contains(errOut, "a name holds no '/', '?' or '#'") {
			t.Errorf("vnetgw %s: exit %d, %s%s; want exit 1 and an error saying what a name cannot hold", strings.Join(args, " "), code, out, errOut)
		}
	}
	var vs []arm.VirtualNetwork
	if mustJSON(t, &vs, "vnet", "list", "-g", "rg"); len(vs) != 1 {
		t.Errorf("%d VNets after the refused commands, want 1", len(vs))
	}
}
