package cli

import (
	"context"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/pkitest"
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

// vnet create refuses --subnet-prefixes without --subnet-name, as az does:
// the network was made without the subnet, and the prefixes were ignored.
func TestVnetCreateSubnetPrefixesWithoutName(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	code, out, errOut := vnetgw(t, "vnet", "create", "-g", "rg", "-n", "v", "--address-prefixes", "10.5.0.0/16", "--subnet-prefixes", "10.5.1.0/24")
	if code == 0 || strings.TrimSpace(errOut) != "error: --subnet-prefixes needs --subnet-name: the subnet they are for" {
		t.Errorf("exit %d, want an error that names --subnet-name:\n%s%s", code, out, errOut)
	}
	if code, _, _ := vnetgw(t, "vnet", "show", "-g", "rg", "-n", "v"); code != 3 {
		t.Errorf("vnet show: exit %d, want 3: the network was made", code)
	}
}

// vnet create --subnet-name without --subnet-prefixes takes a subnet that
// fits the space: the whole of a space smaller than /24 (a /26 network got
// a /24 subnet outside it, which the API refused), and a /64 of an IPv6
// space (fd00:7::/48 got fd00:7::/24, not a prefix of it).
func TestVnetCreateDefaultSubnetFitsTheSpace(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	for _, tc := range []struct{ space, want string }{
		{"10.7.0.0/16", "10.7.0.0/24"},
		{"10.7.0.0/26", "10.7.0.0/26"},
		{"10.8.0.0/30", "10.8.0.0/30"},
		{"fd00:7::/48", "fd00:7::/64"},
	} {
		name := strings.NewReplacer(".", "-", ":", "-", "/", "-").Replace(tc.space)
		code, out, errOut := vnetgw(t, "vnet", "create", "-g", "rg", "-n", name, "--address-prefixes", tc.space, "--subnet-name", "default")
		if code != 0 {
			t.Errorf("vnet create %s --subnet-name default: exit %d\n%s%s", tc.space, code, out, errOut)
			continue
		}
		var v arm.VirtualNetwork
		mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", name)
		if len(v.Properties.Subnets) != 1 || v.Properties.Subnets[0].Properties.AddressPrefix != tc.want {
			t.Errorf("%s: subnets %+v, want default %s", tc.space, v.Properties.Subnets, tc.want)
		}
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

// vnet-gateway create without --public-ip-addresses names the flag (the
// API's answer named its field, properties.ipConfigurations[0].properties.
// publicIPAddress), and makes nothing; an ExpressRoute gateway needs none.
func TestGatewayCreateWithoutPublicIP(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
	code, out, errOut := vnetgw(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub")
	if want := "error: --public-ip-addresses is required"; code != 2 || !strings.HasPrefix(errOut, want) {
		t.Errorf("vnet-gateway create without a public IP: exit %d, want %q:\n%s%s", code, want, out, errOut)
	}
	if code, _, _ := vnetgw(t, "vnet-gateway", "show", "-g", "rg", "-n", "gw"); code != 3 {
		t.Errorf("the gateway was made (show: exit %d)", code)
	}
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "er", "--vnet", "hub", "--gateway-type", "ExpressRoute", "--sku", "Standard")
}

// vnet subnet create of a new subnet without --address-prefixes names the
// flag (the API's answer did not: subnet s2 needs an address prefix), and
// makes nothing; an existing subnet keeps its range without it.
func TestSubnetCreateWithoutPrefix(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default")
	code, out, errOut := vnetgw(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "s2")
	if want := "error: --address-prefixes is required: subnet s2's range, inside the address space of network hub"; code != 2 || strings.TrimSpace(errOut) != want {
		t.Errorf("vnet subnet create without a prefix: exit %d, want %q:\n%s%s", code, want, out, errOut)
	}
	if code, _, _ := vnetgw(t, "vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "s2"); code != 3 {
		t.Errorf("the subnet was made (show: exit %d)", code)
	}
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "default")
	// update of one that does not exist still says so (exit 3).
	if code, out, errOut := vnetgw(t, "vnet", "subnet", "update", "-g", "rg", "--vnet-name", "hub", "-n", "s2"); code != 3 {
		t.Errorf("vnet subnet update of a missing subnet: exit %d, want 3\n%s%s", code, out, errOut)
	}
}

// --radius-server and --radius-secret on a gateway whose point-to-site
// clients do not authenticate by RADIUS are refused, naming --vpn-auth-type
// Radius: the API drops the servers of a configuration without Radius, so
// that the command succeeded and the server the user gave was gone.
func TestRadiusFlagsWithoutRadiusAuth(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	for _, flags := range [][]string{
		{"--radius-server", "10.1.0.10", "--radius-secret", "s3cret"},
		{"--radius-secret", "s3cret"},
	} {
		args := append([]string{"vnet-gateway", "update", "-g", "rg", "-n", "gw"}, flags...)
		code, out, errOut := vnetgw(t, args...)
		if code != 2 || !strings.Contains(errOut, "--vpn-auth-type Radius") {
			t.Errorf("%s: exit %d, want an error that names --vpn-auth-type Radius:\n%s%s", strings.Join(flags, " "), code, out, errOut)
		}
	}
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--vpn-auth-type", "Radius", "--radius-server", "10.1.0.10", "--radius-secret", "s3cret")
	// Radius kept, a new server is taken without --vpn-auth-type.
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--radius-server", "10.1.0.11", "--radius-secret", "n3w")
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	if vc := gw.Properties.VPNClientConfiguration; vc == nil || vc.RadiusServerAddress != "10.1.0.11" {
		t.Errorf("point-to-site configuration %+v, want RADIUS server 10.1.0.11", vc)
	}
}

// vnet-gateway create on a gateway that exists ("Create or update")
// changes what its flags name and keeps the rest: run again to resize it
// (the README's way to a VpnGw2 for NAT rules), it dropped the root and
// revoked certificates, the client IPsec policy and the NAT rules that
// other commands had set (refused with InUseNatRuleCannotBeDeleted when a
// connection used one), and without --sku a VpnGw2 went back to VpnGw1.
func TestGatewayCreateKeepsWhatItsFlagsDoNotChange(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	root, _ := pkitest.Issue(t, "alice root", true, nil).WritePEM(t, t.TempDir(), "alice-root")
	must(t, "vnet-gateway", "root-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "alice-root", "--public-cert-data", root)
	must(t, "vnet-gateway", "revoked-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "lost", "--thumbprint", "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4")
	must(t, "vnet-gateway", "vpn-client", "ipsec-policy", "set", "-g", "rg", "--gateway-name", "gw",
		"--ike-encryption", "GCMAES256", "--ike-integrity", "SHA256", "--dh-group", "ECP256", "--ipsec-encryption", "GCMAES256", "--ipsec-integrity", "GCMAES256", "--pfs-group", "None")
	resize := []string{"vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "gw-ip", "--sku", "VpnGw2"}
	must(t, resize...)
	must(t, "vnet-gateway", "nat-rule", "add", "-g", "rg", "--gateway-name", "gw", "-n", "branch", "--internal-mappings", "192.168.1.0/24", "--external-mappings", "172.31.1.0/24")
	must(t, "local-gateway", "create", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24")
	must(t, "vpn-connection", "create", "-g", "rg", "-n", "to-branch", "--vnet-gateway1", "gw", "--local-gateway2", "branch", "--ingress-nat-rule", "branch")
	resize[len(resize)-1] = "VpnGw3"
	must(t, resize...)
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--custom-routes", "10.99.0.0/16")
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	p := gw.Properties
	if p.SKU == nil || p.SKU.Name != "VpnGw3" {
		t.Errorf("SKU %+v, want VpnGw3", p.SKU)
	}
	if p.CustomRoutes == nil || !slices.Equal(p.CustomRoutes.AddressPrefixes, []string{"10.99.0.0/16"}) {
		t.Errorf("custom routes %+v, want 10.99.0.0/16", p.CustomRoutes)
	}
	if len(p.IPConfigurations) != 1 || p.IPConfigurations[0].Properties.PublicIPAddress == nil ||
		!strings.HasSuffix(p.IPConfigurations[0].Properties.PublicIPAddress.ID, "/gw-ip") {
		t.Errorf("IP configurations %+v, want one with gw-ip", p.IPConfigurations)
	}
	if len(p.NatRules) != 1 || p.NatRules[0].Name != "branch" {
		t.Errorf("NAT rules %+v, want branch", p.NatRules)
	}
	vc := p.VPNClientConfiguration
	if vc == nil {
		t.Fatal("the point-to-site configuration is gone")
	}
	if vc.VPNClientAddressPool == nil || !slices.Equal(vc.VPNClientAddressPool.AddressPrefixes, []string{"172.16.201.0/24"}) || !slices.Equal(vc.VPNClientProtocols, []string{"IkeV2"}) {
		t.Errorf("client pool %+v, protocols %v, want 172.16.201.0/24 and IkeV2", vc.VPNClientAddressPool, vc.VPNClientProtocols)
	}
	if len(vc.VPNClientRootCertificates) != 1 || len(vc.VPNClientRevokedCertificates) != 1 || len(vc.VPNClientIPsecPolicies) != 1 {
		t.Errorf("root certificates %d, revoked %d, client IPsec policies %d, want 1 each",
			len(vc.VPNClientRootCertificates), len(vc.VPNClientRevokedCertificates), len(vc.VPNClientIPsecPolicies))
	}
}

// vnet-gateway update (and create run again) keeps the names of the
// gateway's IP configurations: they were made again as ipconfig1 and
// ipconfig2, so that a gateway made through the API, by az
// (vnetGatewayConfig0) or a template, could not be changed at all: its
// bgpSettings name its configuration, and the API refused the write
// (".../ipConfigurations/vnetGatewayConfig0 is none of the gateway's IP
// configurations").
func TestGatewayUpdateKeepsIPConfigurationNames(t *testing.T) {
	_, show := gatewayToCreate(t)
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw-ip2")
	cfg, err := client.Discover(os.Getenv("VNETGW_DATA_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ipConfig := func(name, pip string) arm.VirtualNetworkGatewayIPConfiguration {
		return arm.VirtualNetworkGatewayIPConfiguration{Name: name, Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
			Subnet:          arm.Ref(arm.NetworkID(DefaultSubscription, "rg", "virtualNetworks", "hub").Child("subnets", "GatewaySubnet").String()),
			PublicIPAddress: arm.Ref(arm.NetworkID(DefaultSubscription, "rg", "publicIPAddresses", pip).String())}}
	}
	gw := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}, Properties: arm.VirtualNetworkGatewayProperties{
		GatewayType: arm.GatewayTypeVpn, VPNType: arm.RouteBased, SKU: &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"},
		IPConfigurations: []arm.VirtualNetworkGatewayIPConfiguration{ipConfig("vnetGatewayConfig0", "gw-ip")}}}
	if _, err := c.Put(context.Background(), arm.NetworkID(DefaultSubscription, "rg", "virtualNetworkGateways", "gw"), gw, nil); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var out []string
		for _, c := range show().Properties.IPConfigurations {
			out = append(out, c.Name+" "+path.Base(c.Properties.PublicIPAddress.RefID()))
		}
		return out
	}
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--sku", "VpnGw2")
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--sku", "VpnGw2")
	if got := names(); !slices.Equal(got, []string{"vnetGatewayConfig0 gw-ip"}) || show().Properties.SKU.Name != "VpnGw2" {
		t.Errorf("after update --sku VpnGw2: IP configurations %v, SKU %+v; want vnetGatewayConfig0 of gw-ip kept, VpnGw2", got, show().Properties.SKU)
	}
	// A second address makes it active-active: the first keeps its
	// configuration, the second is given one of a name not taken.
	gw.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{ipConfig("ipconfig1", "gw-ip")}
	gw.Properties.SKU.Name = "VpnGw2"
	if _, err := c.Put(context.Background(), arm.NetworkID(DefaultSubscription, "rg", "virtualNetworkGateways", "gw"), gw, nil); err != nil {
		t.Fatal(err)
	}
	must(t, "vnet-gateway", "update", "-g", "rg", "-n", "gw", "--public-ip-addresses", "gw-ip2", "gw-ip")
	if got := names(); !slices.Equal(got, []string{"ipconfig2 gw-ip2", "ipconfig1 gw-ip"}) {
		t.Errorf("after update --public-ip-addresses gw-ip2 gw-ip: IP configurations %v; want gw-ip2's new (ipconfig2), gw-ip's ipconfig1 kept", got)
	}
}

// TestConnectionCreateKeepsWhatItsFlagsDoNotChange: vpn-connection create
// run again on a connection ("Create or update") changes what its flags
// say and keeps the rest: the custom IPsec policy ipsec-policy add set,
// its NAT rules, its key. It replaced the whole connection.
func TestConnectionCreateKeepsWhatItsFlagsDoNotChange(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--sku", "VpnGw2")
	must(t, "vnet-gateway", "nat-rule", "add", "-g", "rg", "--gateway-name", "gw", "-n", "branch", "--internal-mappings", "192.168.1.0/24", "--external-mappings", "172.31.1.0/24")
	must(t, "local-gateway", "create", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24")
	create := []string{"vpn-connection", "create", "-g", "rg", "-n", "to-branch", "--vnet-gateway1", "gw", "--local-gateway2", "branch"}
	must(t, append(create, "--ingress-nat-rule", "branch", "--shared-key", "Abc123")...)
	must(t, "vpn-connection", "ipsec-policy", "add", "-g", "rg", "--connection-name", "to-branch",
		"--ike-encryption", "AES256", "--ike-integrity", "SHA256", "--dh-group", "DHGroup14", "--ipsec-encryption", "AES256", "--ipsec-integrity", "SHA256", "--pfs-group", "PFS14")
	must(t, append(create, "--connection-protocol", "IKEv1")...)
	var c arm.Connection
	mustJSON(t, &c, "vpn-connection", "show", "-g", "rg", "-n", "to-branch")
	p := c.Properties
	if p.ConnectionProtocol != "IKEv1" {
		t.Errorf("protocol %q, want IKEv1", p.ConnectionProtocol)
	}
	if len(p.IPsecPolicies) != 1 || len(p.IngressNatRules) != 1 {
		t.Errorf("IPsec policies %+v, ingress NAT rules %+v; want one each", p.IPsecPolicies, p.IngressNatRules)
	}
	if out := must(t, "vpn-connection", "shared-key", "show", "-g", "rg", "--connection-name", "to-branch"); !strings.Contains(out, "Abc123") {
		t.Errorf("the key changed:\n%s", out)
	}
}

// -o table names the gateway or interface behind an IP configuration:
// public-ip's UsedBy and subnet's IPConfigurations said "ipconfig1" for
// every gateway and host.
func TestTablesNameWhoUsesIPConfigurations(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "default", "--address-prefixes", "10.1.0.0/24")
	must(t, "nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "hub", "--subnet", "default")
	if out := must(t, "public-ip", "show", "-g", "rg", "-n", "gw-ip", "-o", "table"); !regexp.MustCompile(`\sgw/ipconfig1\s`).MatchString(out) {
		t.Errorf("public-ip show -o table does not name gw/ipconfig1 as its user:\n%s", out)
	}
	out := must(t, "vnet", "subnet", "list", "-g", "rg", "--vnet-name", "hub", "-o", "table")
	for _, want := range []string{`GatewaySubnet\s+10\.1\.255\.0/27\s+gw/ipconfig1\s`, `default\s+10\.1\.0\.0/24\s+web/ipconfig1\s`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("vnet subnet list -o table does not match %s:\n%s", want, out)
		}
	}
	if out := must(t, "vnet", "list", "-g", "rg", "-o", "table"); !strings.Contains(out, "GatewaySubnet,default") {
		t.Errorf("vnet list -o table lost its subnets' names:\n%s", out)
	}
}

// A reserved static address is refused with a whole sentence (it ended
// "... of each subnet prefix are").
func TestReservedPrivateAddressMessage(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default")
	code, out, errOut := vnetgw(t, "nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "hub", "--subnet", "default", "--private-ip-address", "10.1.0.1")
	if code == 0 || !strings.HasSuffix(strings.TrimSpace(errOut), "the first four and the last address of each subnet prefix are reserved") {
		t.Errorf("exit %d, want PrivateIPAddressIsReserved that says the addresses are reserved:\n%s%s", code, out, errOut)
	}
}

// vnet subnet create on a subnet that exists ("Create or update") changes
// what its flags name and keeps the rest: run again to change its
// prefixes, it dropped the subnet's route table, so that its hosts'
// traffic went around the appliance the table sent it through (R26); and
// a route table could not be set without giving the prefixes again.
func TestSubnetCreateKeepsWhatItsFlagsDoNotChange(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16")
	must(t, "route-table", "create", "-g", "rg", "-n", "via-nva")
	subnet := []string{"vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "app"}
	must(t, append(subnet, "--address-prefixes", "10.1.1.0/24", "--route-table", "via-nva")...)
	show := func() arm.Subnet {
		t.Helper()
		var s arm.Subnet
		mustJSON(t, &s, "vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "app")
		return s
	}
	must(t, append(subnet, "--address-prefixes", "10.1.2.0/23")...)
	if s := show(); s.Properties.AddressPrefix != "10.1.2.0/23" || !strings.HasSuffix(s.Properties.RouteTable.RefID(), "/via-nva") {
		t.Errorf("--address-prefixes alone: prefix %q, route table %q; want 10.1.2.0/23 and via-nva kept", s.Properties.AddressPrefix, s.Properties.RouteTable.RefID())
	}
	must(t, append(subnet, "--route-table", "")...)
	if s := show(); s.Properties.AddressPrefix != "10.1.2.0/23" || s.Properties.RouteTable.RefID() != "" {
		t.Errorf("--route-table \"\": prefix %q, route table %q; want 10.1.2.0/23 and none", s.Properties.AddressPrefix, s.Properties.RouteTable.RefID())
	}
	must(t, append(subnet, "--route-table", "via-nva")...)
	if s := show(); s.Properties.AddressPrefix != "10.1.2.0/23" || !strings.HasSuffix(s.Properties.RouteTable.RefID(), "/via-nva") {
		t.Errorf("--route-table alone: prefix %q, route table %q; want 10.1.2.0/23 and via-nva", s.Properties.AddressPrefix, s.Properties.RouteTable.RefID())
	}
}

// nic create on an interface that exists ("Create or update") changes
// what its flags name and keeps the rest: run again to give its host
// another address, a TUN host in a namespace became a built-in one (the
// default of --attachment), and without --private-ip-address a static
// address became a dynamic one.
func TestNICCreateKeepsWhatItsFlagsDoNotChange(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default")
	nic := []string{"nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "hub", "--subnet", "default"}
	// A namespace that does not exist: the host fails, nothing is made.
	must(t, append(nic, "--attachment", "tun", "--netns", "vnetgw-cli-test-none", "--private-ip-address", "10.1.0.10")...)
	show := func() (arm.Attachment, arm.NetworkInterfaceIPConfigurationProperties) {
		t.Helper()
		var n arm.NetworkInterface
		mustJSON(t, &n, "nic", "show", "-g", "rg", "-n", "web")
		if n.Properties.Attachment == nil || len(n.Properties.IPConfigurations) != 1 {
			t.Fatalf("attachment %+v, IP configurations %+v", n.Properties.Attachment, n.Properties.IPConfigurations)
		}
		return *n.Properties.Attachment, n.Properties.IPConfigurations[0].Properties
	}
	must(t, append(nic, "--private-ip-address", "10.1.0.11")...)
	if a, ip := show(); a.Kind != "tun" || a.NetNS != "vnetgw-cli-test-none" || ip.PrivateIPAddress != "10.1.0.11" {
		t.Errorf("--private-ip-address alone: attachment %s in %q, address %s; want tun in vnetgw-cli-test-none, 10.1.0.11", a.Kind, a.NetNS, ip.PrivateIPAddress)
	}
	must(t, append(nic, "--attachment", "netstack")...)
	if a, ip := show(); a.Kind != "netstack" || a.NetNS != "" || ip.PrivateIPAddress != "10.1.0.11" || ip.PrivateIPAllocationMethod != arm.Static {
		t.Errorf("--attachment netstack: attachment %s in %q, address %s (%s); want netstack, 10.1.0.11 (Static)", a.Kind, a.NetNS, ip.PrivateIPAddress, ip.PrivateIPAllocationMethod)
	}
	must(t, append(nic, "--private-ip-address", "")...)
	if _, ip := show(); ip.PrivateIPAllocationMethod != arm.Dynamic {
		t.Errorf("--private-ip-address \"\": %s (%s); want a Dynamic address", ip.PrivateIPAddress, ip.PrivateIPAllocationMethod)
	}
}

// local-gateway create on a site that exists ("Create or update")
// changes what its flags name and keeps the rest: run again to give its
// device a new address, it lost the site's ranges (refused: a site needs
// ranges or BGP) and its BGP settings.
func TestLocalGatewayCreateKeepsWhatItsFlagsDoNotChange(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	site := []string{"local-gateway", "create", "-g", "rg", "-n", "branch"}
	must(t, append(site, "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24", "--asn", "65010", "--bgp-peering-address", "192.168.1.1")...)
	show := func() arm.LocalNetworkGatewayProperties {
		t.Helper()
		var l arm.LocalNetworkGateway
		mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "branch")
		return l.Properties
	}
	must(t, append(site, "--gateway-ip-address", "127.0.0.52")...)
	p := show()
	if p.GatewayIPAddress != "127.0.0.52" || p.LocalNetworkAddressSpace == nil || !slices.Equal(p.LocalNetworkAddressSpace.AddressPrefixes, []string{"192.168.1.0/24"}) ||
		p.BGPSettings == nil || p.BGPSettings.ASN != 65010 || p.BGPSettings.BGPPeeringAddress != "192.168.1.1" {
		t.Errorf("--gateway-ip-address alone: %+v %+v %+v; want 127.0.0.52, 192.168.1.0/24 and BGP 65010 at 192.168.1.1 kept", p.GatewayIPAddress, p.LocalNetworkAddressSpace, p.BGPSettings)
	}
	// No connection uses the site: its name is never looked up.
	must(t, append(site, "--fqdn", "branch.vnetgw.invalid", "--asn", "65011")...)
	if p := show(); p.GatewayIPAddress != "" || p.FQDN != "branch.vnetgw.invalid" || p.BGPSettings == nil || p.BGPSettings.ASN != 65011 || p.BGPSettings.BGPPeeringAddress != "192.168.1.1" {
		t.Errorf("--fqdn --asn: %q %q %+v; want only branch.vnetgw.invalid, BGP 65011 at 192.168.1.1", p.GatewayIPAddress, p.FQDN, p.BGPSettings)
	}
	must(t, append(site, "--asn", "0")...)
	if p := show(); p.BGPSettings != nil || p.FQDN != "branch.vnetgw.invalid" {
		t.Errorf("--asn 0: BGP %+v, fqdn %q; want no BGP, branch.vnetgw.invalid", p.BGPSettings, p.FQDN)
	}
}

// public-ip create on an address that exists ("Create or update") keeps
// what its flags do not change: run again without --sku, a Standard
// (Static) address not in use became a Basic Dynamic one (--sku's
// default) and gave its address back to the pool.
func TestPublicIPCreateKeepsWhatItsFlagsDoNotChange(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "public-ip", "create", "-g", "rg", "-n", "ip", "--sku", "Standard")
	show := func() arm.PublicIPAddress {
		t.Helper()
		var p arm.PublicIPAddress
		mustJSON(t, &p, "public-ip", "show", "-g", "rg", "-n", "ip")
		return p
	}
	before := show()
	if before.Properties.IPAddress == "" {
		t.Fatalf("a Standard address has no address: %+v", before.Properties)
	}
	must(t, "public-ip", "create", "-g", "rg", "-n", "ip")
	if p := show(); p.SKU == nil || p.SKU.Name != "Standard" || p.Properties.PublicIPAllocationMethod != arm.Static || p.Properties.IPAddress != before.Properties.IPAddress {
		t.Errorf("run again: SKU %+v, %s %q; want Standard, Static %s", p.SKU, p.Properties.PublicIPAllocationMethod, p.Properties.IPAddress, before.Properties.IPAddress)
	}
	// As Azure's, a Standard address is not downgraded: refused, it
	// keeps its address.
	if code, _, errOut := vnetgw(t, "public-ip", "create", "-g", "rg", "-n", "ip", "--sku", "Basic"); code != 1 || !strings.Contains(errOut, "PublicIPAddressSkuCannotBeDowngraded") {
		t.Errorf("--sku Basic on a Standard address: exit %d, %s; want exit 1, PublicIPAddressSkuCannotBeDowngraded", code, errOut)
	}
	if p := show(); p.SKU == nil || p.SKU.Name != "Standard" || p.Properties.IPAddress != before.Properties.IPAddress {
		t.Errorf("after --sku Basic was refused: SKU %+v, %q; want Standard, %s", p.SKU, p.Properties.IPAddress, before.Properties.IPAddress)
	}
}

// public-ip update and create run again keep the address's zones and its
// ddosSettings, which no flag of theirs names (--set gives them): the
// body was built from the flags alone, so that an update of the idle
// timeout dropped both.
func TestPublicIPUpdateKeepsZonesAndDDoSSettings(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "public-ip", "create", "-g", "rg", "-n", "ip", "--sku", "Standard")
	must(t, "public-ip", "update", "-g", "rg", "-n", "ip", "--set", `zones=["1","2","3"]`, "--set", "properties.ddosSettings.protectionMode=Disabled")
	for _, args := range [][]string{
		{"public-ip", "update", "-g", "rg", "-n", "ip", "--idle-timeout", "10"},
		{"public-ip", "create", "-g", "rg", "-n", "ip"},
	} {
		must(t, args...)
		var p arm.PublicIPAddress
		mustJSON(t, &p, "public-ip", "show", "-g", "rg", "-n", "ip")
		if !slices.Equal(p.Zones, []string{"1", "2", "3"}) || p.Properties.DDoSSettings == nil || p.Properties.DDoSSettings.ProtectionMode != "Disabled" {
			t.Errorf("vnetgw %s: zones %v, ddosSettings %+v; want 1,2,3 and Disabled kept", strings.Join(args, " "), p.Zones, p.Properties.DDoSSettings)
		}
	}
}

// route-table create on a table that exists ("Create or update") keeps
// its tags, as the other create verbs keep what their flags do not
// change: run again, the table lost the tags given it through the API
// (a PUT replaces them). Its routes stay too.
func TestRouteTableCreateKeepsTags(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	must(t, "route-table", "route", "create", "-g", "rg", "--route-table-name", "rt", "-n", "r", "--address-prefix", "10.9.0.0/16", "--next-hop-type", "None")
	cfg, err := client.Discover(os.Getenv("VNETGW_DATA_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := arm.NetworkID(DefaultSubscription, "rg", "routeTables", "rt")
	if _, err := c.Do(context.Background(), "PATCH", id.String(), map[string]any{"tags": map[string]string{"owner": "net"}}, nil); err != nil {
		t.Fatal(err)
	}
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	var rt arm.RouteTable
	mustJSON(t, &rt, "route-table", "show", "-g", "rg", "-n", "rt")
	if rt.Tags["owner"] != "net" || len(rt.Properties.Routes) != 1 {
		t.Errorf("run again: tags %v, routes %+v; want owner=net and route r kept", rt.Tags, rt.Properties.Routes)
	}
	// disableBgpRoutePropagation is set by its flag and kept without it.
	must(t, "route-table", "create", "-g", "rg", "-n", "rt", "--disable-bgp-route-propagation")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt")
	mustJSON(t, &rt, "route-table", "show", "-g", "rg", "-n", "rt")
	if !rt.Properties.DisableBGPRoutePropagation || rt.Tags["owner"] != "net" {
		t.Errorf("--disable-bgp-route-propagation, then run again: %v, tags %v; want true, owner=net", rt.Properties.DisableBGPRoutePropagation, rt.Tags)
	}
	must(t, "route-table", "create", "-g", "rg", "-n", "rt", "--disable-bgp-route-propagation=false")
	rt = arm.RouteTable{}
	mustJSON(t, &rt, "route-table", "show", "-g", "rg", "-n", "rt")
	if rt.Properties.DisableBGPRoutePropagation {
		t.Errorf("--disable-bgp-route-propagation=false: still true")
	}
}

// local-gateway create takes the device's address or its name, not both
// (the address was used and the name stored beside it, unused), and a new
// site without either says which flags it needs (the API's error named
// properties.gatewayIpAddress).
func TestLocalGatewayCreateAddressOrName(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	site := []string{"local-gateway", "create", "-g", "rg", "-n", "branch", "--local-address-prefixes", "192.168.1.0/24"}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--gateway-ip-address", "127.0.0.51", "--fqdn", "branch.vnetgw.invalid"}, "error: --gateway-ip-address and --fqdn both name the on-premises VPN device: give one"},
		{nil, "error: --gateway-ip-address or --fqdn is required: the on-premises VPN device's address or host name"},
	} {
		code, out, errOut := vnetgw(t, append(site, tc.flags...)...)
		if code == 0 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("local-gateway create %s: exit %d, want %s\n%s%s", strings.Join(tc.flags, " "), code, tc.want, out, errOut)
		}
	}
	if code, _, _ := vnetgw(t, "local-gateway", "show", "-g", "rg", "-n", "branch"); code == 0 {
		t.Error("the site was created")
	}
	// Changing from one to the other still works.
	must(t, append(site, "--gateway-ip-address", "127.0.0.51")...)
	must(t, "local-gateway", "create", "-g", "rg", "-n", "branch", "--fqdn", "branch.vnetgw.invalid")
	var l arm.LocalNetworkGateway
	mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "branch")
	if l.Properties.GatewayIPAddress != "" || l.Properties.FQDN != "branch.vnetgw.invalid" {
		t.Errorf("after --fqdn: %q %q, want only the name", l.Properties.GatewayIPAddress, l.Properties.FQDN)
	}
}

// local-gateway create and update of a site's BGP name the flag it lacks,
// --asn or --bgp-peering-address, and make nothing: without --asn the
// API's answer was "BGP ASN 0 is out of range 1-4294967294", of an ASN
// the user never gave. A site with BGP changes one without the other.
func TestLocalGatewayBGPNamesTheMissingFlag(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	site := []string{"local-gateway", "create", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24"}
	const (
		needASN  = "error: --asn is required for the site's BGP (--bgp-peering-address, --peer-weight): the AS number of its device"
		needAddr = "error: --bgp-peering-address is required for the site's BGP (--asn): the address its device speaks BGP from"
	)
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--bgp-peering-address", "192.168.1.1"}, needASN},
		{[]string{"--peer-weight", "0"}, needASN},
		{[]string{"--asn", "65010"}, needAddr},
	} {
		code, out, errOut := vnetgw(t, append(site, tc.flags...)...)
		if code != 2 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("local-gateway create %s: exit %d, want %s\n%s%s", strings.Join(tc.flags, " "), code, tc.want, out, errOut)
		}
	}
	if code, _, _ := vnetgw(t, "local-gateway", "show", "-g", "rg", "-n", "branch"); code != 3 {
		t.Errorf("the site was made (show: exit %d)", code)
	}
	// A site without BGP: update names the flag too.
	must(t, site...)
	if code, out, errOut := vnetgw(t, "local-gateway", "update", "-g", "rg", "-n", "branch", "--bgp-peering-address", "192.168.1.1"); code != 2 || strings.TrimSpace(errOut) != needASN {
		t.Errorf("local-gateway update --bgp-peering-address of a site without BGP: exit %d, want %s\n%s%s", code, needASN, out, errOut)
	}
	// With both, the site has BGP; then either changes alone.
	must(t, "local-gateway", "update", "-g", "rg", "-n", "branch", "--asn", "65010", "--bgp-peering-address", "192.168.1.1")
	must(t, "local-gateway", "update", "-g", "rg", "-n", "branch", "--bgp-peering-address", "192.168.1.2")
	must(t, "local-gateway", "update", "-g", "rg", "-n", "branch", "--asn", "65011")
	var l arm.LocalNetworkGateway
	mustJSON(t, &l, "local-gateway", "show", "-g", "rg", "-n", "branch")
	if b := l.Properties.BGPSettings; b == nil || b.ASN != 65011 || b.BGPPeeringAddress != "192.168.1.2" {
		t.Errorf("bgpSettings %+v, want ASN 65011 at 192.168.1.2", b)
	}
}

// Azure's walk-through of a VPN gateway runs as it is written: az's other
// names of flags (vnet create --address-prefix, --subnet-prefix, subnet
// create --address-prefix, vnet-gateway create --public-ip-address),
// --no-wait on creates and deletes, and group delete --yes were refused
// as unknown flags.
func TestAzWalkthroughFlags(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "TestRG1", "-l", "eastus")
	must(t, "vnet", "create", "-n", "VNet1", "-g", "TestRG1", "-l", "eastus", "--address-prefix", "10.1.0.0/16", "--subnet-name", "Frontend", "--subnet-prefix", "10.1.0.0/24")
	must(t, "vnet", "subnet", "create", "--vnet-name", "VNet1", "-n", "GatewaySubnet", "-g", "TestRG1", "--address-prefix", "10.1.255.0/27")
	must(t, "public-ip", "create", "-n", "VNet1GWIP", "-g", "TestRG1", "--allocation-method", "Dynamic")
	must(t, "vnet-gateway", "create", "-n", "VNet1GW", "-l", "eastus", "--public-ip-address", "VNet1GWIP", "-g", "TestRG1", "--vnet", "VNet1",
		"--gateway-type", "Vpn", "--sku", "VpnGw1", "--vpn-type", "RouteBased", "--no-wait")
	var v arm.VirtualNetwork
	mustJSON(t, &v, "vnet", "show", "-g", "TestRG1", "-n", "VNet1")
	var subnets []string
	for _, s := range v.Properties.Subnets {
		subnets = append(subnets, s.Name+" "+s.Properties.AddressPrefix)
	}
	if got := v.Properties.AddressSpace.AddressPrefixes; !slices.Equal(got, []string{"10.1.0.0/16"}) || !slices.Equal(subnets, []string{"Frontend 10.1.0.0/24", "GatewaySubnet 10.1.255.0/27"}) {
		t.Errorf("VNet1: %v %q, want 10.1.0.0/16 with Frontend 10.1.0.0/24 and GatewaySubnet 10.1.255.0/27", got, subnets)
	}
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "TestRG1", "-n", "VNet1GW")
	if c := gw.Properties.IPConfigurations; len(c) != 1 || c[0].Properties.PublicIPAddress == nil || !strings.HasSuffix(c[0].Properties.PublicIPAddress.ID, "/VNet1GWIP") {
		t.Errorf("VNet1GW's IP configurations %+v, want one with VNet1GWIP", c)
	}
	must(t, "vnet-gateway", "delete", "-g", "TestRG1", "-n", "VNet1GW", "--no-wait")
	must(t, "group", "delete", "-n", "TestRG1", "--yes", "--no-wait")
	if code, _, _ := vnetgw(t, "group", "show", "-n", "TestRG1"); code == 0 {
		t.Error("group delete --yes --no-wait left the group")
	}
}

// gatewayToCreate starts a region with a group rg, a VNet hub with its
// GatewaySubnet and a public IP address gw-ip, and returns the command
// that creates (or changes) a gateway gw of both, to which flags are
// appended, and a function that shows gw.
func gatewayToCreate(t *testing.T) (create []string, show func() arm.VirtualNetworkGateway) {
	t.Helper()
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw-ip")
	create = []string{"vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "gw-ip"}
	return create, func() arm.VirtualNetworkGateway {
		t.Helper()
		var g arm.VirtualNetworkGateway
		mustJSON(t, &g, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
		return g
	}
}

// vnet-gateway create --asn 0 turns a gateway's BGP off, as local-gateway
// create --asn 0 takes a site's away; it was taken and ignored, and BGP
// could not be turned off from the CLI.
func TestGatewayCreateASNZeroTurnsBGPOff(t *testing.T) {
	gw, show := gatewayToCreate(t)
	bgp := func() bool { return show().Properties.EnableBGP }
	must(t, append(gw, "--asn", "65020")...)
	if !bgp() {
		t.Fatal("--asn 65020 did not enable BGP")
	}
	must(t, append(gw, "--sku", "VpnGw2")...)
	if !bgp() {
		t.Error("--sku alone turned BGP off")
	}
	must(t, append(gw, "--asn", "0")...)
	if bgp() {
		t.Error("--asn 0 left BGP on")
	}
}

// vnet-gateway create --gateway-default-site "" turns forced tunneling
// off, as subnet create --route-table "" takes a table off; it was taken
// and ignored, and the gateway kept sending Internet-bound traffic to the
// site.
func TestGatewayCreateDefaultSiteOff(t *testing.T) {
	gw, show := gatewayToCreate(t)
	must(t, "local-gateway", "create", "-g", "rg", "-n", "branch", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "192.168.1.0/24")
	site := func() *arm.SubResource { return show().Properties.GatewayDefaultSite }
	must(t, append(gw, "--gateway-default-site", "branch")...)
	if s := site(); s == nil || !strings.HasSuffix(s.ID, "/branch") {
		t.Fatalf("default site %+v, want branch", s)
	}
	must(t, append(gw, "--sku", "VpnGw2")...)
	if site() == nil {
		t.Error("--sku alone took the default site away")
	}
	must(t, append(gw, "--gateway-default-site", "")...)
	if s := site(); s != nil {
		t.Errorf(`--gateway-default-site "": default site %+v, want none`, s)
	}
}

// create run again without -l on a resource made in another location
// than its group's keeps the resource's location: it took the group's,
// and the API refused the change ("its location cannot change").
func TestCreateAgainKeepsLocation(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	for _, tc := range []struct{ first, again []string }{
		{[]string{"vnet", "create", "-g", "rg", "-n", "east", "-l", "eastus", "--address-prefixes", "10.70.0.0/16"},
			[]string{"vnet", "create", "-g", "rg", "-n", "east", "--dns-servers", "10.70.0.53"}},
		{[]string{"local-gateway", "create", "-g", "rg", "-n", "east", "-l", "eastus", "--gateway-ip-address", "127.0.0.70", "--local-address-prefixes", "192.168.70.0/24"},
			[]string{"local-gateway", "create", "-g", "rg", "-n", "east", "--local-address-prefixes", "192.168.71.0/24"}},
		{[]string{"public-ip", "create", "-g", "rg", "-n", "east", "-l", "eastus"},
			[]string{"public-ip", "create", "-g", "rg", "-n", "east", "--sku", "Standard"}},
		{[]string{"route-table", "create", "-g", "rg", "-n", "east", "-l", "eastus"},
			[]string{"route-table", "create", "-g", "rg", "-n", "east", "--disable-bgp-route-propagation"}},
	} {
		must(t, tc.first...)
		if code, out, errOut := vnetgw(t, tc.again...); code != 0 {
			t.Errorf("vnetgw %s: exit %d\n%s%s", strings.Join(tc.again, " "), code, out, errOut)
			continue
		}
		var r arm.Resource
		mustJSON(t, &r, tc.first[0], "show", "-g", "rg", "-n", "east")
		if r.Location != "eastus" {
			t.Errorf("%s: location %q after create again, want eastus", tc.first[0], r.Location)
		}
	}
	// A new one still takes its group's.
	must(t, "vnet", "create", "-g", "rg", "-n", "west", "--address-prefixes", "10.71.0.0/16")
	var r arm.Resource
	mustJSON(t, &r, "vnet", "show", "-g", "rg", "-n", "west")
	if r.Location != "westeurope" {
		t.Errorf("a new network's location %q, want the group's westeurope", r.Location)
	}
}

// vnet create and update on a network that exists keep its tags, as the
// other create verbs do: run again (or updated) to change its DNS
// servers, the network lost the tags given it through the API (the PUT
// carried none).
func TestVnetWriteKeepsTags(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16")
	cfg, err := client.Discover(os.Getenv("VNETGW_DATA_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := arm.NetworkID(DefaultSubscription, "rg", "virtualNetworks", "hub")
	if _, err := c.Do(context.Background(), "PATCH", id.String(), map[string]any{"tags": map[string]string{"owner": "net"}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"create", "update"} {
		must(t, "vnet", verb, "-g", "rg", "-n", "hub", "--dns-servers", "10.1.0.53")
		var v arm.VirtualNetwork
		mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", "hub")
		if v.Tags["owner"] != "net" {
			t.Errorf("vnet %s --dns-servers: tags %v, want owner=net kept", verb, v.Tags)
		}
	}
}

// getLearnedRoutes answers the routes of every BGP peer, and az's
// list-learned-routes has no --peer (R41): vnetgw's took one, sent it and
// listed every peer's routes all the same, so that a user who asked for one
// peer's routes read the others' as its. list-bgp-peer-status and
// list-advertised-routes keep theirs.
func TestListLearnedRoutesTakesNoPeer(t *testing.T) {
	code, out, errOut := vnetgw(t, "vnet-gateway", "list-learned-routes", "-g", "g", "-n", "gw", "--peer", "192.168.0.1", "--data-dir", t.TempDir())
	if code != 2 || strings.TrimSpace(errOut) != "error: unknown flag: --peer" {
		t.Errorf("list-learned-routes --peer: exit %d\n%s%s", code, out, errOut)
	}
	for _, verb := range []string{"list-bgp-peer-status", "list-advertised-routes"} {
		if out := must(t, "vnet-gateway", verb, "--help"); !strings.Contains(out, "--peer") {
			t.Errorf("vnet-gateway %s --help does not list --peer:\n%s", verb, out)
		}
	}
}

// create run again on a gateway, a connection or a network interface
// without the flags that name what it is in (--vnet; --vnet-gateway1 and
// --local-gateway2; --vnet-name and --subnet) keeps its own, as their help
// says of every flag ("an existing one keeps what the flags do not
// change"): the README's point-to-site step, vnet-gateway create -g -n
// --address-prefixes --client-protocol on the walk-through's gateway, failed
// with "--vnet is required", as did a connection's --connection-mode and an
// interface's --private-ip-address alone.
func TestCreateAgainKeepsWhatItIsIn(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "default", "--address-prefixes", "10.1.0.0/24")
	must(t, "nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "hub", "--subnet", "default")

	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--address-prefixes", "172.16.202.0/24", "--client-protocol", "SSTP")
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	if cfgs := gw.Properties.IPConfigurations; len(cfgs) != 1 || cfgs[0].Properties.Subnet == nil || !strings.HasSuffix(cfgs[0].Properties.Subnet.ID, "/virtualNetworks/hub/subnets/GatewaySubnet") ||
		cfgs[0].Properties.PublicIPAddress == nil || !strings.HasSuffix(cfgs[0].Properties.PublicIPAddress.ID, "/gw-ip") {
		t.Errorf("gateway's IP configurations %+v, want one in hub's GatewaySubnet with gw-ip", cfgs)
	}
	if vc := gw.Properties.VPNClientConfiguration; vc == nil || vc.VPNClientAddressPool == nil ||
		!slices.Equal(vc.VPNClientAddressPool.AddressPrefixes, []string{"172.16.202.0/24"}) || !slices.Equal(vc.VPNClientProtocols, []string{"SSTP"}) {
		t.Errorf("point-to-site configuration %+v, want 172.16.202.0/24 over SSTP", vc)
	}

	must(t, "vpn-connection", "create", "-g", "rg", "-n", "conn", "--connection-mode", "ResponderOnly")
	var cn arm.Connection
	mustJSON(t, &cn, "vpn-connection", "show", "-g", "rg", "-n", "conn")
	if p := cn.Properties; p.ConnectionMode != "ResponderOnly" || p.ConnectionType != arm.ConnectionIPsec || p.VirtualNetworkGateway1 == nil || !strings.HasSuffix(p.VirtualNetworkGateway1.ID, "/gw") ||
		p.LocalNetworkGateway2 == nil || !strings.HasSuffix(p.LocalNetworkGateway2.ID, "/site") || p.VirtualNetworkGateway2 != nil {
		t.Errorf("connection %+v, want ResponderOnly from gw to site", p)
	}

	must(t, "nic", "create", "-g", "rg", "-n", "web", "--private-ip-address", "10.1.0.10")
	var n arm.NetworkInterface
	mustJSON(t, &n, "nic", "show", "-g", "rg", "-n", "web")
	if cfgs := n.Properties.IPConfigurations; len(cfgs) != 1 || cfgs[0].Properties.PrivateIPAddress != "10.1.0.10" ||
		cfgs[0].Properties.Subnet == nil || !strings.HasSuffix(cfgs[0].Properties.Subnet.ID, "/virtualNetworks/hub/subnets/default") {
		t.Errorf("interface's IP configurations %+v, want 10.1.0.10 in hub's default", cfgs)
	}

	// A new one still needs them.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet-gateway", "create", "-g", "rg", "-n", "gw2"}, "error: --vnet is required"},
		{[]string{"vpn-connection", "create", "-g", "rg", "-n", "conn2"}, "error: --vnet-gateway1 is required"},
		{[]string{"vpn-connection", "create", "-g", "rg", "-n", "conn2", "--vnet-gateway1", "gw"}, "error: give exactly one of --local-gateway2 (site-to-site) and --vnet-gateway2 (VNet-to-VNet)"},
		{[]string{"nic", "create", "-g", "rg", "-n", "web2", "--vnet-name", "hub"}, "error: --subnet is required"},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code != 2 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
}

// az has --no-wait on every command that creates, updates, adds, deletes
// or removes, as the README says vnetgw takes it; vnetgw's subnet and route
// commands, root and revoked certificates, NAT rules and a connection's
// ipsec-policy add refused it as an unknown flag, so that an az script
// that gives it failed there.
func TestNoWaitOnEveryWrite(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	root, _ := pkitest.Issue(t, "alice root", true, nil).WritePEM(t, t.TempDir(), "alice-root")
	for _, args := range [][]string{
		{"vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "web", "--address-prefixes", "10.1.1.0/24"},
		{"vnet", "subnet", "update", "-g", "rg", "--vnet-name", "hub", "-n", "web", "--address-prefixes", "10.1.2.0/24"},
		{"vnet", "subnet", "delete", "-g", "rg", "--vnet-name", "hub", "-n", "web"},
		{"route-table", "create", "-g", "rg", "-n", "rt"},
		{"route-table", "route", "create", "-g", "rg", "--route-table-name", "rt", "-n", "r", "--address-prefix", "10.9.0.0/16", "--next-hop-type", "None"},
		{"route-table", "route", "update", "-g", "rg", "--route-table-name", "rt", "-n", "r", "--address-prefix", "10.8.0.0/16"},
		{"route-table", "route", "delete", "-g", "rg", "--route-table-name", "rt", "-n", "r"},
		{"vnet-gateway", "root-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "alice-root", "--public-cert-data", root},
		{"vnet-gateway", "root-cert", "delete", "-g", "rg", "--gateway-name", "gw", "-n", "alice-root"},
		{"vnet-gateway", "revoked-cert", "create", "-g", "rg", "--gateway-name", "gw", "-n", "lost", "--thumbprint", "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4"},
		{"vnet-gateway", "revoked-cert", "delete", "-g", "rg", "--gateway-name", "gw", "-n", "lost"},
		{"vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--sku", "VpnGw2"}, // NAT rules need VpnGw2
		{"vnet-gateway", "nat-rule", "add", "-g", "rg", "--gateway-name", "gw", "-n", "branch", "--internal-mappings", "192.168.1.0/24", "--external-mappings", "172.31.1.0/24"},
		{"vnet-gateway", "nat-rule", "remove", "-g", "rg", "--gateway-name", "gw", "-n", "branch"},
		{"vpn-connection", "ipsec-policy", "add", "-g", "rg", "--connection-name", "conn",
			"--ike-encryption", "GCMAES256", "--ike-integrity", "SHA256", "--dh-group", "ECP256", "--ipsec-encryption", "GCMAES256", "--ipsec-integrity", "GCMAES256", "--pfs-group", "None"},
	} {
		if out := must(t, append(args, "--no-wait")...); out != "" {
			t.Errorf("vnetgw %s --no-wait printed %q, want nothing, as az", strings.Join(args, " "), out)
		}
	}
}

// A write with --no-wait prints nothing, as az's does (its answer is not
// waited for: x=$(az ... --no-wait) is empty), in any -o; the write is
// made. vnetgw printed the resource written, as without --no-wait.
func TestNoWaitPrintsNothing(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	for _, args := range [][]string{
		{"vnet", "create", "-g", "rg", "-n", "hub", "--tags", "step=1"},
		{"vnet", "update", "-g", "rg", "-n", "hub", "--tags", "step=2", "-o", "tsv"},
		{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--tags", "step=2", "-o", "table"},
		{"vpn-connection", "create", "-g", "rg", "-n", "conn", "--vnet-gateway1", "gw", "--local-gateway2", "site", "--tags", "step=1"},
		{"vpn-connection", "update", "-g", "rg", "-n", "conn", "--tags", "step=2", "-o", "json"},
		{"public-ip", "create", "-g", "rg", "-n", "ip2"},
		{"public-ip", "delete", "-g", "rg", "-n", "ip2"},
		{"vnet-gateway", "packet-capture", "start", "-g", "rg", "-n", "gw"},
		{"vnet-gateway", "packet-capture", "stop", "-g", "rg", "-n", "gw"},
	} {
		if code, out, errOut := vnetgw(t, append(args, "--no-wait")...); code != 0 || out != "" {
			t.Errorf("vnetgw %s --no-wait: exit %d, printed %q%s; want 0 and nothing, as az", strings.Join(args, " "), code, out, errOut)
		}
	}
	var v arm.VirtualNetwork
	mustJSON(t, &v, "vnet", "show", "-g", "rg", "-n", "hub")
	var c arm.Connection
	mustJSON(t, &c, "vpn-connection", "show", "-g", "rg", "-n", "conn")
	if v.Tags["step"] != "2" || c.Tags["step"] != "2" {
		t.Errorf("after the updates with --no-wait, tags %v and %v, want step=2: the writes were not made", v.Tags, c.Tags)
	}
	if out := must(t, "vnet", "update", "-g", "rg", "-n", "hub", "--tags", "step=3", "--no-wait=false"); !strings.Contains(out, `"step": "3"`) {
		t.Errorf("vnet update --no-wait=false printed %q, want the network", out)
	}
}

// az's wait, which scripts call after a write with --no-wait, is there
// for every resource: --created, --updated and --exists return at once
// after the write, --deleted after the delete; one of a resource that is
// not as asked gives up after --timeout, saying so. It was "unknown
// command \"wait\"", and the script stopped there.
func TestWait(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	for _, args := range [][]string{
		{"vnet-gateway", "wait", "-g", "rg", "-n", "gw", "--created"},
		{"vnet-gateway", "wait", "-g", "rg", "-n", "gw", "--updated"},
		{"vpn-connection", "wait", "-g", "rg", "-n", "conn", "--exists"},
		{"local-gateway", "wait", "-g", "rg", "-n", "site", "--created", "--interval", "1", "--timeout", "600"},
	} {
		must(t, args...)
	}
	must(t, "vpn-connection", "delete", "-g", "rg", "-n", "conn", "--no-wait")
	must(t, "vpn-connection", "wait", "-g", "rg", "-n", "conn", "--deleted")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vpn-connection", "wait", "-g", "rg", "-n", "conn", "--created", "--interval", "1", "--timeout", "1"},
			"error: vpn-connection conn is not created (--created: there, provisioningState Succeeded) after 1 s (--timeout)"},
		{[]string{"vnet-gateway", "wait", "-g", "rg", "-n", "gw", "--deleted", "--interval", "1", "--timeout", "1"},
			"error: vnet-gateway gw is not deleted (--deleted) after 1 s (--timeout)"},
	} {
		if code, out, errOut := vnetgw(t, tc.args...); code != 1 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("vnetgw %s: exit %d, %s%s; want exit 1, %s", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
	// No condition to wait for: the command line is wrong, exit 2 as
	// az's.
	if code, out, errOut := vnetgw(t, "vnet-gateway", "wait", "-g", "rg", "-n", "gw"); code != 2 || strings.TrimSpace(errOut) != "error: --created, --updated, --exists, --deleted or --custom: give one, what to wait for" {
		t.Errorf("vnet-gateway wait without a condition: exit %d, %s%s; want exit 2 asking for one", code, out, errOut)
	}
	// With several --ids, as az's, one whose wait runs out does not stop
	// the others': each is looked at, and the error names those not as
	// asked, not one that is there.
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	gone, gone2 := gw.ID+"x", gw.ID+"y"
	args := []string{"vnet-gateway", "wait", "--ids", gone, gw.ID, gone2, "--exists", "--interval", "1", "--timeout", "1"}
	code, out, errOut := vnetgw(t, args...)
	want := []string{
		"error: " + gone + ": vnet-gateway gwx is not there (--exists) after 1 s (--timeout)",
		gone2 + ": vnet-gateway gwy is not there (--exists) after 1 s (--timeout)",
	}
	if code != 1 || strings.TrimSpace(errOut) != strings.Join(want, "\n") {
		t.Errorf("vnetgw %s: exit %d, %s%s; want exit 1 and\n%s", strings.Join(args, " "), code, out, errOut, strings.Join(want, "\n"))
	}
}

// public-ip create and update take az's --version and --idle-timeout,
// which the API keeps (publicIPAddressVersion, idleTimeoutInMinutes): both
// were refused as unknown flags. --version is the pool's, the only one
// serve has; the other is refused by the API, saying so.
func TestPublicIPVersionAndIdleTimeout(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	show := func() arm.PublicIPAddress {
		t.Helper()
		var p arm.PublicIPAddress
		mustJSON(t, &p, "public-ip", "show", "-g", "rg", "-n", "ip")
		return p
	}
	must(t, "public-ip", "create", "-g", "rg", "-n", "ip", "--version", "IPv4", "--idle-timeout", "10")
	if p := show().Properties; p.PublicIPAddressVersion != "IPv4" || p.IdleTimeoutInMinutes == nil || *p.IdleTimeoutInMinutes != 10 {
		t.Errorf("after create --version IPv4 --idle-timeout 10: version %q, idle timeout %v", p.PublicIPAddressVersion, p.IdleTimeoutInMinutes)
	}
	must(t, "public-ip", "update", "-g", "rg", "-n", "ip", "--idle-timeout", "30")
	must(t, "public-ip", "update", "-g", "rg", "-n", "ip", "--sku", "Standard")
	if p := show().Properties; p.IdleTimeoutInMinutes == nil || *p.IdleTimeoutInMinutes != 30 {
		t.Errorf("after update --idle-timeout 30 and --sku Standard: idle timeout %v, want 30", p.IdleTimeoutInMinutes)
	}
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--version", "IPv6"}, "does not match the public IP pool", 1}, // the API's answer
		{[]string{"--idle-timeout", "3"}, "--idle-timeout 3: Azure takes 4 to 30 minutes", 2},
		{[]string{"--idle-timeout", "31"}, "--idle-timeout 31: Azure takes 4 to 30 minutes", 2},
	} {
		args := append([]string{"public-ip", "create", "-g", "rg", "-n", "other"}, tc.args...)
		if code, out, errOut := vnetgw(t, args...); code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("vnetgw %s: exit %d, want %d and %q\n%s%s", strings.Join(args, " "), code, tc.code, tc.want, out, errOut)
		}
	}
}

// nic create and update take az's --ip-forwarding (enableIPForwarding,
// which the API keeps), as az's walk-throughs set it on an appliance's
// interface: it was refused as an unknown flag. An update without it
// keeps it.
func TestNICIPForwarding(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default")
	forwarding := func() bool {
		t.Helper()
		var n arm.NetworkInterface
		mustJSON(t, &n, "nic", "show", "-g", "rg", "-n", "nva")
		return n.Properties.EnableIPForwarding
	}
	must(t, "nic", "create", "-g", "rg", "-n", "nva", "--vnet-name", "hub", "--subnet", "default", "--ip-forwarding")
	if !forwarding() {
		t.Error("after nic create --ip-forwarding: enableIPForwarding false")
	}
	must(t, "nic", "update", "-g", "rg", "-n", "nva", "--private-ip-address", "10.1.0.9")
	if !forwarding() {
		t.Error("nic update without --ip-forwarding turned it off")
	}
	must(t, "nic", "update", "-g", "rg", "-n", "nva", "--ip-forwarding", "false")
	if forwarding() {
		t.Error("after nic update --ip-forwarding false: enableIPForwarding true")
	}
}

// TestNICCreateSubnetID: nic create takes its subnet by id, as az
// documents --subnet ("name or ID"): it asked for --vnet-name, and with
// one built a path of the id inside the network's.
func TestNICCreateSubnetID(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default")
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "app", "--address-prefixes", "10.1.1.0/24")
	var sn arm.Subnet
	mustJSON(t, &sn, "vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "app")
	var n arm.NetworkInterface
	mustJSON(t, &n, "nic", "create", "-g", "rg", "-n", "web", "--subnet", sn.ID)
	if got := n.Properties.IPConfigurations[0].Properties.Subnet.RefID(); !strings.EqualFold(got, sn.ID) {
		t.Errorf("nic create --subnet %s: in subnet %s", sn.ID, got)
	}
	if got := n.Properties.IPConfigurations[0].Properties.PrivateIPAddress; got != "10.1.1.4" {
		t.Errorf("nic create --subnet %s: address %s, want 10.1.1.4", sn.ID, got)
	}
}

// nic ip-config update is az's place for an interface's static address
// (az network nic ip-config update --private-ip-address), and for its
// subnet: it was an unknown command. "" makes the address dynamic, as in
// az; --subnet alone moves it within its network. A missing interface or
// configuration exits 3, as update does.
func TestNICIPConfigUpdate(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default")
	must(t, "vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "app", "--address-prefixes", "10.1.1.0/24")
	must(t, "nic", "create", "-g", "rg", "-n", "web", "--vnet-name", "hub", "--subnet", "default", "--tags", "tier=web")
	ipConfig := []string{"nic", "ip-config", "update", "-g", "rg", "--nic-name", "web", "-n", "ipconfig1"}
	for _, tc := range []struct {
		flags              []string
		addr, method, want string
	}{
		{[]string{"--private-ip-address", "10.1.0.10"}, "10.1.0.10", "Static", "/subnets/default"},
		{[]string{"--private-ip-address", ""}, "10.1.0.10", "Dynamic", "/subnets/default"},
		{[]string{"--subnet", "app"}, "10.1.1.4", "Dynamic", "/subnets/app"},
		{[]string{"--vnet-name", "hub", "--subnet", "default", "--private-ip-address", "10.1.0.20"}, "10.1.0.20", "Static", "/subnets/default"},
	} {
		var c arm.NetworkInterfaceIPConfiguration
		mustJSON(t, &c, append(ipConfig, tc.flags...)...)
		var n arm.NetworkInterface
		mustJSON(t, &n, "nic", "show", "-g", "rg", "-n", "web")
		got := n.Properties.IPConfigurations[0].Properties
		if c.Name != "ipconfig1" || c.Properties.PrivateIPAddress != tc.addr || got.PrivateIPAddress != tc.addr || got.PrivateIPAllocationMethod != tc.method ||
			!strings.HasSuffix(got.Subnet.RefID(), tc.want) || n.Tags["tier"] != "web" {
			t.Errorf("ip-config update %q: printed %s %s; the interface has %s %s in %s, tags %v; want %s %s in %s, tier=web kept",
				tc.flags, c.Name, c.Properties.PrivateIPAddress, got.PrivateIPAddress, got.PrivateIPAllocationMethod, got.Subnet.RefID(), n.Tags, tc.addr, tc.method, tc.want)
		}
	}
	for _, args := range [][]string{
		{"nic", "ip-config", "update", "-g", "rg", "--nic-name", "web", "-n", "nope", "--private-ip-address", "10.1.0.30"},
		{"nic", "ip-config", "update", "-g", "rg", "--nic-name", "nope", "-n", "ipconfig1", "--private-ip-address", "10.1.0.30"},
	} {
		if code, out, errOut := vnetgw(t, args...); code != 3 || !strings.Contains(errOut, "nope") {
			t.Errorf("vnetgw %s: exit %d, want 3 and an error naming nope\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// vnet-gateway create takes az's --vpn-gateway-generation (an unknown
// flag); the API refuses a generation that is not Azure's or not the
// SKU's with InvalidParameter (--set vpnGatewayGeneration=Gen9 was
// stored).
func TestGatewayGeneration(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw-ip")
	var gw arm.VirtualNetworkGateway
	mustJSON(t, &gw, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "gw-ip", "--sku", "VpnGw2", "--vpn-gateway-generation", "generation2")
	if got := gw.Properties.VPNGatewayGeneration; got != "Generation2" {
		t.Errorf("vpnGatewayGeneration %q, want Generation2", got)
	}
	for _, args := range [][]string{
		{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--set", "properties.vpnGatewayGeneration=Gen9"},
		{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--sku", "VpnGw1"},
		{"vnet-gateway", "update", "-g", "rg", "-n", "gw", "--sku", "VpnGw4", "--vpn-gateway-generation", "Generation1"},
	} {
		if code, out, errOut := vnetgw(t, args...); code != 1 || !strings.Contains(errOut, "InvalidParameter") || !strings.Contains(errOut, "vpnGatewayGeneration") && !strings.Contains(errOut, "Generation") {
			t.Errorf("vnetgw %s: exit %d, want InvalidParameter about the generation\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// local-gateway create takes az's --peer-weight (an unknown flag): 0 is
// stored, as Azure shows it; another is refused by the API, which keeps
// no weight (a learned route is chosen by its AS path).
func TestLocalGatewayPeerWeight(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	site := []string{"local-gateway", "create", "-g", "rg", "-n", "site", "--gateway-ip-address", "127.0.0.50", "--local-address-prefixes", "192.168.0.0/16", "--asn", "65010", "--bgp-peering-address", "192.168.0.1"}
	var l arm.LocalNetworkGateway
	mustJSON(t, &l, append(site, "--peer-weight", "0")...)
	if b := l.Properties.BGPSettings; b == nil || b.PeerWeight == nil || *b.PeerWeight != 0 {
		t.Errorf("bgpSettings %+v, want peerWeight 0", b)
	}
	if code, out, errOut := vnetgw(t, append(site, "--peer-weight", "10")...); code != 1 || !strings.Contains(errOut, "InvalidParameter") || !strings.Contains(errOut, "peerWeight 10 is not available") {
		t.Errorf("--peer-weight 10: exit %d, want InvalidParameter\n%s%s", code, out, errOut)
	}
}
