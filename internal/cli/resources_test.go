package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// vnet create on a network that exists changes what its flags name and
// keeps the rest: without --address-prefixes its address space stays (it
// was renumbered to 10.0.0.0/16), and --subnet-name of a subnet it has
// updates that subnet (it was added a second time, which the API refuses,
// so that the README's own line failed when run again).
func TestVnetCreateUpdatesAnExistingNetwork(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	readme := []string{"vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default"}
	must(t, readme...)
	must(t, readme...)
	show := func() arm.VirtualNetwork {
		t.Helper()
		var v arm.VirtualNetwork
		mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", "hub")
		return v
	}
	subnets := func(v arm.VirtualNetwork) []string {
		var out []string
		for _, s := range v.Properties.Subnets {
			out = append(out, s.Name+" "+s.Properties.AddressPrefix+strings.Join(s.Properties.AddressPrefixes, ","))
		}
		return out
	}
	if got := subnets(show()); !slices.Equal(got, []string{"default 10.1.0.0/24"}) {
		t.Errorf("after the README's line twice, subnets %q, want [default 10.1.0.0/24]", got)
	}
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--dns-servers", "10.1.0.53")
	v := show()
	if got := v.Properties.AddressSpace.AddressPrefixes; !slices.Equal(got, []string{"10.1.0.0/16"}) {
		t.Errorf("--dns-servers alone changed the address space to %v", got)
	}
	if got := v.Properties.DHCPOptions; got == nil || !slices.Equal(got.DNSServers, []string{"10.1.0.53"}) {
		t.Errorf("DNS servers %+v, want 10.1.0.53", got)
	}
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--subnet-name", "app", "--subnet-prefixes", "10.1.1.0/24")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--subnet-name", "default", "--subnet-prefixes", "10.1.2.0/24")
	if got := subnets(show()); !slices.Equal(got, []string{"default 10.1.2.0/24", "app 10.1.1.0/24"}) {
		t.Errorf("subnets %q, want [default 10.1.2.0/24 app 10.1.1.0/24]", got)
	}
}

// An empty --address-prefixes is an error that says so (it panicked when
// a subnet was to be taken from the space).
func TestVnetCreateEmptyAddressPrefixes(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	code, out, errOut := vnetgw(t, "vnet", "create", "-g", "rg", "-n", "v", "--address-prefixes=", "--subnet-name", "s")
	if code == 0 || !strings.Contains(errOut, "--address-prefixes is empty") {
		t.Errorf("exit %d, want an error that names --address-prefixes:\n%s%s", code, out, errOut)
	}
}

// vnet-gateway create refuses point-to-site authentication flags without
// the point-to-site configuration they belong to (the gateway was made
// without them, silently).
func TestGatewayCreateAuthWithoutPointToSite(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw-ip")
	for _, flags := range [][]string{
		{"--vpn-auth-type", "Radius", "--radius-server", "10.1.0.10", "--radius-secret", "s3cret"},
		{"--radius-server", "10.1.0.10"},
	} {
		args := append([]string{"vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "gw-ip"}, flags...)
		code, out, errOut := vnetgw(t, args...)
		if code == 0 || !strings.Contains(errOut, "--address-prefixes") {
			t.Errorf("%s: exit %d, want an error that asks for --address-prefixes:\n%s%s", strings.Join(flags, " "), code, out, errOut)
		}
	}
	if code, _, _ := vnetgw(t, "vnet-gateway", "show", "-g", "rg", "-n", "gw"); code == 0 {
		t.Error("the gateway was made without its point-to-site configuration")
	}
}
