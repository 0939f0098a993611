package cli

import (
	"context"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// az's update verbs change a resource that exists: what the flags give
// changes, the rest stays, and the flags that only name what a new one
// is made of (vnet-gateway --vnet, vpn-connection --vnet-gateway1 and
// --local-gateway2, nic --vnet-name and --subnet) are not needed. They
// were refused as unknown commands ("unknown command \"update\""), so
// that a script written for az stopped at its first change.
func TestUpdateChangesWhatItsFlagsGive(t *testing.T) {
	gw, showGateway := gatewayToCreate(t)
	must(t, gw...)
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "default", "--address-prefixes", "10.1.0.0/24")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	must(t, "local-gateway", "create", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24")
	must(t, "vpn-connection", "create", "-g", "rg", "-n", "to-branch", "--vnet-gateway1", "gw", "--local-gateway2", "branch", "--shared-key", "Abc123")
	must(t, "nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "hub", "--subnet", "default", "--private-ip-address", "10.1.0.10")

	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "10.2.0.0/16")
	var v arm.VirtualNetwork
	mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", "hub")
	if got := v.Properties.AddressSpace.AddressPrefixes; !slices.Equal(got, []string{"10.1.0.0/16", "10.2.0.0/16"}) || len(v.Properties.Subnets) != 2 {
		t.Errorf("vnet update --address-prefixes: %v with %d subnets, want 10.1.0.0/16,10.2.0.0/16 and both subnets kept", got, len(v.Properties.Subnets))
	}

	must(t, "vnet", "subnet", "update", "-g", "rg", "--vnet-name", "hub", "-n", "default", "--route-table", "rt")
	var s arm.Subnet
	mustJSON(t, &s, "vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "default")
	if s.Properties.AddressPrefix != "10.1.0.0/24" || !strings.HasSuffix(s.Properties.RouteTable.RefID(), "/rt") {
		t.Errorf("vnet subnet update --route-table: %q, table %q; want 10.1.0.0/24 kept and rt", s.Properties.AddressPrefix, s.Properties.RouteTable.RefID())
	}

	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--sku", "VpnGw2", "--asn", "65020")
	p := showGateway().Properties
	if p.SKU == nil || p.SKU.Name != "VpnGw2" || !p.EnableBGP || p.BGPSettings == nil || p.BGPSettings.ASN != 65020 ||
		len(p.IPConfigurations) != 1 || !strings.HasSuffix(p.IPConfigurations[0].Properties.PublicIPAddress.RefID(), "/gw-ip") ||
		!strings.Contains(p.IPConfigurations[0].Properties.Subnet.RefID(), "/virtualNetworks/hub/") {
		t.Errorf("vnet-gateway update --sku --asn: SKU %+v, BGP %v %+v, IP configurations %+v; want VpnGw2, ASN 65020, gw-ip in hub kept", p.SKU, p.EnableBGP, p.BGPSettings, p.IPConfigurations)
	}

	must(t, "local-gateway", "update", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.0.0.52")
	var l arm.LocalNetworkGateway
	mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "branch")
	if l.Properties.GatewayIPAddress != "127.0.0.52" || l.Properties.LocalNetworkAddressSpace == nil || !slices.Equal(l.Properties.LocalNetworkAddressSpace.AddressPrefixes, []string{"192.168.1.0/24"}) {
		t.Errorf("local-gateway update --gateway-ip-address: %q %+v; want 127.0.0.52 and 192.168.1.0/24 kept", l.Properties.GatewayIPAddress, l.Properties.LocalNetworkAddressSpace)
	}

	must(t, "vpn-connection", "update", "-g", "rg", "-n", "to-branch", "--connection-mode", "ResponderOnly")
	var c arm.Connection
	mustJSON(t, &c, "vpn-connection", "show", "-g", "rg", "-n", "to-branch")
	if c.Properties.ConnectionMode != "ResponderOnly" || !strings.HasSuffix(c.Properties.LocalNetworkGateway2.RefID(), "/branch") || !strings.HasSuffix(c.Properties.VirtualNetworkGateway1.RefID(), "/gw") {
		t.Errorf("vpn-connection update --connection-mode: %q between %q and %q; want ResponderOnly, gw and branch kept", c.Properties.ConnectionMode, c.Properties.VirtualNetworkGateway1.RefID(), c.Properties.LocalNetworkGateway2.RefID())
	}
	if out := must(t, "vpn-connection", "shared-key", "show", "-g", "rg", "--connection-name", "to-branch"); !strings.Contains(out, "Abc123") {
		t.Errorf("vpn-connection update changed the key:\n%s", out)
	}

	must(t, "nic", "update", "-g", "rg", "-n", "web", "--private-ip-address", "10.1.0.20")
	var n arm.NetworkInterface
	mustJSON(t, &n, "nic", "show", "-g", "rg", "-n", "web")
	if ip := n.Properties.IPConfigurations[0].Properties; ip.PrivateIPAddress != "10.1.0.20" || !strings.HasSuffix(ip.Subnet.RefID(), "/subnets/default") {
		t.Errorf("nic update --private-ip-address: %s in %q; want 10.1.0.20 in default", ip.PrivateIPAddress, ip.Subnet.RefID())
	}

	must(t, "public-ip", "create", "-g", "rg", "-n", "spare")
	must(t, "public-ip", "update", "-g", "rg", "-n", "spare", "--sku", "Standard")
	var ip arm.PublicIPAddress
	mustJSON(t, &ip, "public-ip", "show", "-g", "rg", "-n", "spare")
	if ip.SKU == nil || ip.SKU.Name != "Standard" {
		t.Errorf("public-ip update --sku Standard: SKU %+v", ip.SKU)
	}

	must(t, "route-table", "update", "-g", "rg", "-n", "rt", "--disable-bgp-route-propagation")
	var rt arm.RouteTable
	mustJSON(t, &rt, "route-table", "show", "-g", "rg", "-n", "rt")
	if !rt.Properties.DisableBGPRoutePropagation || len(rt.Properties.Subnets) != 1 {
		t.Errorf("route-table update --disable-bgp-route-propagation: %v with subnets %+v; want true, default kept", rt.Properties.DisableBGPRoutePropagation, rt.Properties.Subnets)
	}

	route := []string{"-g", "rg", "--route-table-name", "rt", "-n", "via-nva"}
	must(t, append([]string{"route-table", "route", "create", "--address-prefix", "10.9.0.0/16", "--next-hop-type", "VirtualAppliance", "--next-hop-ip-address", "10.1.0.4"}, route...)...)
	must(t, append([]string{"route-table", "route", "update", "--address-prefix", "10.8.0.0/16"}, route...)...)
	var r arm.Route
	mustJSON(t, &r, append([]string{"route-table", "route", "show"}, route...)...)
	if r.Properties.AddressPrefix != "10.8.0.0/16" || r.Properties.NextHopType != "VirtualAppliance" || r.Properties.NextHopIPAddress != "10.1.0.4" {
		t.Errorf("route-table route update --address-prefix: %+v; want 10.8.0.0/16, the appliance 10.1.0.4 kept", r.Properties)
	}
	must(t, append([]string{"route-table", "route", "update", "--next-hop-type", "VirtualNetworkGateway"}, route...)...)
	r = arm.Route{}
	mustJSON(t, &r, append([]string{"route-table", "route", "show"}, route...)...)
	if r.Properties.AddressPrefix != "10.8.0.0/16" || r.Properties.NextHopType != "VirtualNetworkGateway" || r.Properties.NextHopIPAddress != "" {
		t.Errorf("route-table route update --next-hop-type VirtualNetworkGateway: %+v; want 10.8.0.0/16 kept, no next hop address", r.Properties)
	}
}

// update of a resource that does not exist exits 3, as show does, and
// makes nothing: it is not create.
func TestUpdateMissingExitsThree(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	for _, tc := range []struct{ update, show []string }{
		{[]string{"vnet", "update", "-g", "rg", "-n", "nope", "--dns-servers", "10.1.0.53"}, []string{"vnet", "show", "-g", "rg", "-n", "nope"}},
		{[]string{"vnet", "subnet", "update", "-g", "rg", "--vnet-name", "hub", "-n", "nope", "--address-prefixes", "10.1.1.0/24"},
			[]string{"vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "nope"}},
		{[]string{"local-gateway", "update", "-g", "rg", "-n", "nope", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24"},
			[]string{"local-gateway", "show", "-g", "rg", "-n", "nope"}},
		{[]string{"route-table", "update", "-g", "rg", "-n", "nope"}, []string{"route-table", "show", "-g", "rg", "-n", "nope"}},
		{[]string{"route-table", "route", "update", "-g", "rg", "--route-table-name", "rt", "-n", "nope", "--address-prefix", "10.9.0.0/16", "--next-hop-type", "None"},
			[]string{"route-table", "route", "show", "-g", "rg", "--route-table-name", "rt", "-n", "nope"}},
	} {
		code, out, errOut := vnetgw(t, tc.update...)
		if code != 3 || !strings.Contains(errOut, "ResourceNotFound") {
			t.Errorf("vnetgw %s: exit %d, want 3 and ResourceNotFound\n%s%s", strings.Join(tc.update, " "), code, out, errOut)
		}
		if code, _, _ := vnetgw(t, tc.show...); code != 3 {
			t.Errorf("vnetgw %s: exit %d, want 3: update made it", strings.Join(tc.show, " "), code)
		}
	}
	// A subnet of a network, or a route of a table, that is not there:
	// the error names the network or the table ("subnets default was not
	// found", it said).
	for _, tc := range []struct {
		update []string
		want   string
	}{
		{[]string{"vnet", "subnet", "update", "-g", "rg", "--vnet-name", "nope", "-n", "default", "--address-prefixes", "10.1.1.0/24"}, "virtualNetworks/nope'"},
		{[]string{"route-table", "route", "update", "-g", "rg", "--route-table-name", "nope", "-n", "r", "--address-prefix", "10.9.0.0/16"}, "routeTables/nope'"},
	} {
		code, out, errOut := vnetgw(t, tc.update...)
		if code != 3 || !strings.Contains(errOut, "ResourceNotFound") || !strings.Contains(errOut, tc.want) {
			t.Errorf("vnetgw %s: exit %d, want 3, ResourceNotFound and %s\n%s%s", strings.Join(tc.update, " "), code, tc.want, out, errOut)
		}
	}
	if code, _, errOut := vnetgw(t, "vnet", "update", "-g", "rg", "-n", "hub", "-l", "eastus"); code != 2 || !strings.Contains(errOut, "unknown shorthand flag: 'l'") {
		t.Errorf("vnet update -l: exit %d, want 2 and -l refused (a location does not change)\n%s", code, errOut)
	}
}

// update writes what it read with If-Match: a write that came between
// its read and its write is not undone; the update is made again on what
// that write left.
func TestUpdateKeepsAConcurrentWrite(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16")
	g := &globals{dataDir: os.Getenv("VNETGW_DATA_DIR"), subscription: DefaultSubscription, output: "json", stdout: io.Discard, stderr: io.Discard}
	c, err := g.client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := arm.NetworkID(DefaultSubscription, "rg", "virtualNetworks", "hub")
	builds := 0
	err = g.write(ctx, c, id, nil, true, nil, func() (any, error) {
		builds++
		var v arm.VirtualNetwork
		if err := c.Get(ctx, id, &v); err != nil {
			return nil, err
		}
		if builds == 1 {
			// Another writer, between this read and the write.
			other := v
			other.Properties.DHCPOptions = &arm.DHCPOptions{DNSServers: []string{"10.1.0.53"}}
			if _, err := c.Put(ctx, id, other, nil); err != nil {
				return nil, err
			}
		}
		v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.1.0.0/16", "10.2.0.0/16"}}
		return ifMatch{v, v.Etag}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var v arm.VirtualNetwork
	if err := c.Get(ctx, id, &v); err != nil {
		t.Fatal(err)
	}
	if builds != 2 || v.Properties.DHCPOptions == nil || !slices.Equal(v.Properties.DHCPOptions.DNSServers, []string{"10.1.0.53"}) || len(v.Properties.AddressSpace.AddressPrefixes) != 2 {
		t.Errorf("after %d builds: DNS %+v, space %v; want 2 builds, the other's 10.1.0.53 and both prefixes", builds, v.Properties.DHCPOptions, v.Properties.AddressSpace.AddressPrefixes)
	}
}

// update has not the flags that say what a new resource is made of and
// cannot change after, as az's update has not: vnet-gateway update's
// help listed --vnet and vpn-connection update's --vnet-gateway1,
// --local-gateway2 and --vnet-gateway2, which at best named what the
// resource had (the API refuses a move). They are left out of its help
// and refused with why; create still has them.
func TestUpdateHasNoCreateOnlyFlags(t *testing.T) {
	startRegion(t)
	for _, tc := range []struct {
		kind, flag, why string
	}{
		{"vnet-gateway", "vnet", "stays in the virtual network it was made in"},
		{"vpn-connection", "vnet-gateway1", "ends do not change"},
		{"vpn-connection", "local-gateway2", "ends do not change"},
		{"vpn-connection", "vnet-gateway2", "ends do not change"},
	} {
		listed := regexp.MustCompile(`(?m)^ +--` + tc.flag + ` `)
		if help := must(t, tc.kind, "update", "--help"); listed.MatchString(help) {
			t.Errorf("%s update --help lists --%s:\n%s", tc.kind, tc.flag, help)
		}
		if help := must(t, tc.kind, "create", "--help"); !listed.MatchString(help) {
			t.Errorf("%s create --help lists no --%s:\n%s", tc.kind, tc.flag, help)
		}
		code, out, errOut := vnetgw(t, tc.kind, "update", "-g", "rg", "-n", "x", "--"+tc.flag, "y")
		if want := "error: " + tc.kind + " update takes no --" + tc.flag + ": "; code != 1 || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, tc.why) {
			t.Errorf("%s update --%s: exit %d, want 1 and %q ... %q\n%s%s", tc.kind, tc.flag, code, want, tc.why, out, errOut)
		}
	}
}

// Every command the API answers 404 exits 3, as az's do (a 404 is its
// ResourceNotFoundError, whatever the command): a list of a group, a
// child written under a parent, or a question asked of a resource that is
// not there. They exited 1, as any failure, where a script written for az
// takes 3 for "not there". Another failure still exits 1.
func TestNotFoundExitsThree(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16")
	for _, args := range [][]string{
		{"vnet", "list", "-g", "nope"},
		{"vnet", "subnet", "list", "-g", "rg", "--vnet-name", "nope"},
		{"vnet", "subnet", "create", "-g", "rg", "--vnet-name", "nope", "-n", "s", "--address-prefixes", "10.1.1.0/24"},
		{"vnet-gateway", "list-bgp-peer-status", "-g", "rg", "-n", "nope"},
		{"vnet-gateway", "vpn-client", "show-url", "-g", "rg", "-n", "nope"},
		{"vpn-connection", "list-ike-sas", "-g", "rg", "-n", "nope"},
	} {
		if code, out, errOut := vnetgw(t, args...); code != 3 || !strings.Contains(errOut, "NotFound") {
			t.Errorf("vnetgw %s: exit %d, want 3 and NotFound, as az\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if code, out, errOut := vnetgw(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "s", "--address-prefixes", "10.2.0.0/24"); code != 1 {
		t.Errorf("vnet subnet create outside the network's space: exit %d, want 1 (not a 404)\n%s%s", code, out, errOut)
	}
}

// A delete of a resource that is not there prints nothing and exits 0,
// as az's do (ARM answers 204), with every delete verb; one whose
// resource group is not there fails with ResourceGroupNotFound, as ARM
// answers it, and so does group delete of a group that is not there:
// exit 3, as az's for every answer of 404.
func TestDeleteOfMissingIsQuiet(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	for _, args := range [][]string{
		{"vnet", "delete", "-g", "rg", "-n", "nope"},
		{"vnet", "subnet", "delete", "-g", "rg", "--vnet-name", "hub", "-n", "nope"},
		{"public-ip", "delete", "-g", "rg", "-n", "nope"},
		{"vnet-gateway", "delete", "-g", "rg", "-n", "nope"},
		{"local-gateway", "delete", "-g", "rg", "-n", "nope"},
		{"vpn-connection", "delete", "-g", "rg", "-n", "nope", "--no-wait"},
		{"nic", "delete", "-g", "rg", "-n", "nope"},
		{"route-table", "delete", "-g", "rg", "-n", "nope", "-o", "table"},
		{"route-table", "route", "delete", "-g", "rg", "--route-table-name", "rt", "-n", "nope"},
	} {
		if code, out, errOut := vnetgw(t, args...); code != 0 || out != "" || errOut != "" {
			t.Errorf("vnetgw %s: exit %d, want 0 and nothing printed\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"group", "delete", "-n", "nope", "--yes"},
		{"vnet", "delete", "-g", "nope", "-n", "hub"},
	} {
		if code, out, errOut := vnetgw(t, args...); code != 3 || out != "" || !strings.Contains(errOut, "ResourceGroupNotFound") {
			t.Errorf("vnetgw %s: exit %d, want 3 and ResourceGroupNotFound\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}
