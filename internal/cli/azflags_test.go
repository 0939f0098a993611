package cli

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// az's boolean flags take a value, and az's docs and scripts give one
// (vpn-connection update --enable-bgp true, route-table create
// --disable-bgp-route-propagation true, "yes" and "no" too): the word
// after the flag was refused as an unknown command.
func TestAzBooleanValues(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	show := func() bool {
		t.Helper()
		var rt arm.RouteTable
		mustJSON(t, &rt, "route-table", "show", "-g", "rg", "-n", "rt")
		return rt.Properties.DisableBGPRoutePropagation
	}
	for _, tc := range []struct {
		flags []string
		want  bool
	}{
		{[]string{"--disable-bgp-route-propagation", "true"}, true},
		{[]string{"--disable-bgp-route-propagation", "false"}, false},
		{[]string{"--disable-bgp-route-propagation", "yes", "-o", "table"}, true},
		{[]string{"--disable-bgp-route-propagation=no"}, false},
		{[]string{"--disable-bgp-route-propagation"}, true},
	} {
		args := append([]string{"route-table", "create", "-g", "rg", "-n", "rt"}, tc.flags...)
		if code, out, errOut := vnetgw(t, args...); code != 0 {
			t.Errorf("vnetgw %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
			continue
		}
		if got := show(); got != tc.want {
			t.Errorf("%s: disableBgpRoutePropagation %v, want %v", strings.Join(tc.flags, " "), got, tc.want)
		}
	}
	// Any other word after a boolean is still refused.
	code, _, errOut := vnetgw(t, "route-table", "update", "-g", "rg", "-n", "rt", "--disable-bgp-route-propagation", "maybe")
	if code == 0 || !strings.Contains(errOut, `unknown command "maybe"`) {
		t.Errorf("--disable-bgp-route-propagation maybe: exit %d, want the word refused\n%s", code, errOut)
	}
}

// vpn-connection create and update take az's --routing-weight, and
// vnet-gateway create and update az's --enable-bgp (true turns BGP on
// with its ASN, false off, whatever --asn says); both were unknown flags.
func TestAzConnectionAndGatewayFlags(t *testing.T) {
	gw, show := gatewayToCreate(t)
	must(t, gw...)
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--enable-bgp", "true")
	if p := show().Properties; !p.EnableBGP || p.BGPSettings == nil || p.BGPSettings.ASN != 65515 {
		t.Errorf("--enable-bgp true: %v %+v, want BGP on with ASN 65515", p.EnableBGP, p.BGPSettings)
	}
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--enable-bgp", "false", "--asn", "65020")
	if p := show().Properties; p.EnableBGP {
		t.Errorf("--enable-bgp false --asn 65020: BGP on %+v, want off", p.BGPSettings)
	}
	must(t, "local-gateway", "create", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24")
	must(t, "vpn-connection", "create", "-g", "rg", "-n", "to-branch", "--vnet-gateway1", "gw", "--local-gateway2", "branch", "--routing-weight", "10")
	must(t, "vpn-connection", "update", "-g", "rg", "-n", "to-branch", "--use-policy-based-traffic-selectors", "false")
	var c arm.Connection
	mustJSON(t, &c, "vpn-connection", "show", "-g", "rg", "-n", "to-branch")
	if c.Properties.RoutingWeight != 10 {
		t.Errorf("--routing-weight 10, then update without it: %d", c.Properties.RoutingWeight)
	}
	must(t, "vpn-connection", "update", "-g", "rg", "-n", "to-branch", "--routing-weight", "20")
	c = arm.Connection{}
	mustJSON(t, &c, "vpn-connection", "show", "-g", "rg", "-n", "to-branch")
	if c.Properties.RoutingWeight != 20 {
		t.Errorf("update --routing-weight 20: %d", c.Properties.RoutingWeight)
	}
}

// create and update take az's --tags (key[=value], space-separated;
// "" removes them); an update without it keeps them. It was an unknown
// flag, the first that many az scripts give.
func TestAzTags(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope", "--tags", "env=dev")
	var grp arm.ResourceGroup
	mustJSON(t, &grp, "group", "show", "-n", "rg")
	if !maps.Equal(grp.Tags, map[string]string{"env": "dev"}) {
		t.Errorf("group create --tags env=dev: %v", grp.Tags)
	}
	tags := func() map[string]string {
		t.Helper()
		var v arm.VirtualNetwork
		mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", "hub")
		return v.Tags
	}
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--tags", "env=dev", "owner=net", "shared")
	if got := tags(); !maps.Equal(got, map[string]string{"env": "dev", "owner": "net", "shared": ""}) {
		t.Errorf("vnet create --tags env=dev owner=net shared: %v", got)
	}
	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--dns-servers", "10.1.0.53")
	if got := tags(); len(got) != 3 {
		t.Errorf("vnet update without --tags: %v, want the three kept", got)
	}
	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--tags", "env=prod")
	if got := tags(); !maps.Equal(got, map[string]string{"env": "prod"}) {
		t.Errorf("vnet update --tags env=prod: %v, want only env=prod", got)
	}
	// A tag is split at its first "=" alone: a value may hold commas,
	// quotes and more "=" (they were cut at commas into tags of their
	// own, and quotes refused, as pflag reads a list as CSV).
	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--tags", "desc=hub, shared", `note="a b"`, "expr=x=1")
	if got := tags(); !maps.Equal(got, map[string]string{"desc": "hub, shared", "note": `"a b"`, "expr": "x=1"}) {
		t.Errorf(`vnet update --tags "desc=hub, shared" 'note="a b"' expr=x=1: %v`, got)
	}
	must(t, "group", "create", "-n", "rg", "-l", "westeurope", "--tags", "owner=a,b")
	var again arm.ResourceGroup
	mustJSON(t, &again, "group", "show", "-n", "rg")
	if !maps.Equal(again.Tags, map[string]string{"owner": "a,b"}) {
		t.Errorf("group create --tags owner=a,b: %v", again.Tags)
	}
	must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--tags", "")
	if got := tags(); len(got) != 0 {
		t.Errorf(`vnet update --tags "": %v, want none`, got)
	}
	if code, _, errOut := vnetgw(t, "vnet", "update", "-g", "rg", "-n", "hub", "--tags", "=x"); code != 2 || !strings.Contains(errOut, "key[=value]") {
		t.Errorf("--tags =x: exit %d, want 2\n%s", code, errOut)
	}
}

// vpn-client generate takes az's --authentication-method, which the API
// reads (EAPMSCHAPv2 for a gateway whose clients RADIUS authenticates,
// refused for one of certificates), and --processor-architecture, as
// Azure's walk-throughs write the command; both were unknown flags, and
// the CLI always asked for EAPTLS.
func TestVPNClientGenerateAzFlags(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	var u string
	mustJSON(t, &u, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw", "--authentication-method", "EAPTLS", "--processor-architecture", "Amd64")
	if !strings.HasPrefix(u, "https://") {
		t.Errorf("--authentication-method EAPTLS --processor-architecture Amd64: %q, want the package's URL", u)
	}
	code, _, errOut := vnetgw(t, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw", "--authentication-method", "EAPMSCHAPv2")
	if code == 0 || !strings.Contains(errOut, "authenticate with certificates") {
		t.Errorf("--authentication-method EAPMSCHAPv2 of a gateway of certificates: exit %d, want the API's refusal\n%s", code, errOut)
	}
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--vpn-auth-type", "Radius", "--radius-server", "10.1.0.10", "--radius-secret", "s3cret")
	mustJSON(t, &u, "vnet-gateway", "vpn-client", "generate", "-g", "rg", "-n", "gw", "--authentication-method", "EAPMSCHAPv2")
	if !strings.HasPrefix(u, "https://") {
		t.Errorf("--authentication-method EAPMSCHAPv2 of a RADIUS gateway: %q, want the package's URL", u)
	}
}

// vnet-gateway create and update take az's --peer-weight (it enables BGP,
// as az's create has it; the API takes 0 only) and --address-prefix, the
// singular of --address-prefixes; local-gateway create and update take
// az's --address-prefixes for --local-address-prefixes (az's own example
// of local-gateway update spells it so). All three were unknown flags.
func TestAzGatewayAndSiteSpellings(t *testing.T) {
	startRegionIn(t, "127.218.1.0/24")
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw-ip")
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-address", "gw-ip", "--peer-weight", "0")
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	if b := gw.Properties.BGPSettings; !gw.Properties.EnableBGP || b == nil || b.PeerWeight == nil || *b.PeerWeight != 0 {
		t.Errorf("vnet-gateway create --peer-weight 0: BGP %v %+v, want on with peerWeight 0", gw.Properties.EnableBGP, b)
	}
	if code, _, errOut := vnetgw(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--peer-weight", "5"); code == 0 || !strings.Contains(errOut, "peerWeight 5 is not available") {
		t.Errorf("vnet-gateway update --peer-weight 5: exit %d %s, want the API's refusal", code, errOut)
	}
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--address-prefix", "172.16.201.0/24", "--client-protocol", "IkeV2")
	gw = arm.VirtualNetworkGateway{}
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	if vc := gw.Properties.VPNClientConfiguration; vc == nil || vc.VPNClientAddressPool == nil || !slices.Equal(vc.VPNClientAddressPool.AddressPrefixes, []string{"172.16.201.0/24"}) {
		t.Errorf("vnet-gateway update --address-prefix 172.16.201.0/24: client configuration %+v", vc)
	}

	must(t, "local-gateway", "create", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.218.1.200", "--address-prefixes", "192.168.1.0/24", "192.168.2.0/24")
	var l arm.LocalNetworkGateway
	mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "branch")
	if got := l.Properties.LocalNetworkAddressSpace; got == nil || !slices.Equal(got.AddressPrefixes, []string{"192.168.1.0/24", "192.168.2.0/24"}) {
		t.Errorf("local-gateway create --address-prefixes 192.168.1.0/24 192.168.2.0/24: %+v", got)
	}
	must(t, "local-gateway", "update", "-g", "rg", "-n", "branch", "--address-prefixes", "192.168.3.0/24")
	l = arm.LocalNetworkGateway{}
	mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "branch")
	if got := l.Properties.LocalNetworkAddressSpace; got == nil || !slices.Equal(got.AddressPrefixes, []string{"192.168.3.0/24"}) {
		t.Errorf("local-gateway update --address-prefixes 192.168.3.0/24: %+v", got)
	}
}

// TestOnlyShowErrors: az's --only-show-errors leaves out the warnings a
// write is answered with (a GatewaySubnet smaller than recommended, R23);
// without it they are printed. It was an unknown flag, one that scripts
// written for az often give.
func TestOnlyShowErrors(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	small := []string{"vnet", "create", "-g", "rg", "-n", "v", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/29", "-o", "none"}
	if code, _, errOut := vnetgw(t, small...); code != 0 || !strings.Contains(errOut, "WARNING: GatewaySubnet 10.1.255.0/29 is smaller") {
		t.Errorf("vnetgw %s: exit %d, stderr %q; want 0 and the warning", strings.Join(small, " "), code, errOut)
	}
	if code, _, errOut := vnetgw(t, append(small, "--only-show-errors")...); code != 0 || errOut != "" {
		t.Errorf("with --only-show-errors: exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
}
