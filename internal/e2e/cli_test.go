package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestCLIWalkthrough runs the README's walk-through with the real CLI
// against a real serve, and the refusals it promises.
func TestCLIWalkthrough(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir)
	run := mustCLI(t, dir)
	refuse := func(code string, args ...string) {
		t.Helper()
		out, err := cli(t, dir, args...)
		if err == nil || !strings.Contains(out, code) {
			t.Fatalf("vnetgw %s: want a refusal with %s, got err=%v\n%s", strings.Join(args, " "), code, err, out)
		}
	}
	run("group", "create", "-n", "demo", "-l", "westeurope")
	run("vnet", "create", "-g", "demo", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default", "-o", "table")
	out := run("vnet", "subnet", "create", "-g", "demo", "--vnet-name", "hub", "-n", "GatewaySubnet", "--address-prefixes", "10.1.255.0/29")
	if !strings.Contains(out, "WARNING") || !strings.Contains(out, "/28") {
		t.Fatalf("no warning for a /29 GatewaySubnet (R23):\n%s", out)
	}
	run("public-ip", "create", "-g", "demo", "-n", "hub-gw-ip")
	if out := run("public-ip", "show", "-g", "demo", "-n", "hub-gw-ip"); strings.Contains(out, `"ipAddress"`) {
		t.Fatalf("R20: the public IP has an address before its gateway:\n%s", out)
	}
	run("vnet-gateway", "create", "-g", "demo", "-n", "hub-gw", "--vnet", "hub", "--public-ip-addresses", "hub-gw-ip", "--sku", "VpnGw1")
	out = run("public-ip", "show", "-g", "demo", "-n", "hub-gw-ip", "-o", "table")
	m := regexp.MustCompile(`127\.10\.\d+\.\d+`).FindString(out)
	if _, err := netip.ParseAddr(m); err != nil {
		t.Fatalf("R20: no pool address after the gateway was created:\n%s", out)
	}
	run("local-gateway", "create", "-g", "demo", "-n", "branch", "--gateway-ip-address", "127.0.0.50", "--local-address-prefixes", "192.168.0.0/16")
	run("vpn-connection", "create", "-g", "demo", "-n", "hub-to-branch", "--vnet-gateway1", "hub-gw", "--local-gateway2", "branch")
	key := run("vpn-connection", "shared-key", "show", "-g", "demo", "--connection-name", "hub-to-branch", "-o", "table")
	if !regexp.MustCompile(`\n[A-Za-z0-9]{32}\n`).MatchString(key) {
		t.Fatalf("R21: no generated 32-character key:\n%s", key)
	}
	run("vpn-connection", "shared-key", "reset", "-g", "demo", "--connection-name", "hub-to-branch", "--key-length", "64")
	key = run("vpn-connection", "shared-key", "show", "-g", "demo", "--connection-name", "hub-to-branch", "-o", "table")
	if !regexp.MustCompile(`\n[A-Za-z0-9]{64}\n`).MatchString(key) {
		t.Fatalf("R21: after reset, no 64-character key:\n%s", key)
	}
	key64 := regexp.MustCompile(`[A-Za-z0-9]{64}`).FindString(key)
	out = run("vpn-connection", "show-device-config-script", "-g", "demo", "-n", "hub-to-branch", "-o", "table")
	for _, want := range []string{"local_addrs = 127.0.0.50", "remote_addrs = " + m, "local_ts = 192.168.0.0/16", "remote_ts = 10.1.0.0/16", `secret = "` + key64 + `"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("the device configuration lacks %q:\n%s", want, out)
		}
	}
	refuse("UnsupportedVpnDevice", "vpn-connection", "show-device-config-script", "-g", "demo", "-n", "hub-to-branch", "--vendor", "Cisco")
	var sas []map[string]any
	if out := run("vpn-connection", "list-ike-sas", "-g", "demo", "-n", "hub-to-branch"); json.Unmarshal([]byte(out), &sas) != nil {
		t.Fatalf("list-ike-sas does not print a JSON array:\n%s", out)
	}
	if out := run("vpn-connection", "reset", "-g", "demo", "-n", "hub-to-branch"); strings.TrimSpace(out) != "" {
		t.Fatalf("reset printed %q", out)
	}
	if out := run("vnet-gateway", "reset", "-g", "demo", "-n", "hub-gw", "-o", "table"); !strings.Contains(out, "hub-gw") {
		t.Fatalf("vnet-gateway reset:\n%s", out)
	}
	// A route table (R26) with a route, on a subnet.
	run("route-table", "create", "-g", "demo", "-n", "to-nva")
	run("route-table", "route", "create", "-g", "demo", "--route-table-name", "to-nva", "-n", "back", "--address-prefix", "10.1.2.0/24",
		"--next-hop-type", "VirtualAppliance", "--next-hop-ip-address", "10.1.0.9")
	run("route-table", "route", "create", "-g", "demo", "--route-table-name", "to-nva", "-n", "lab", "--address-prefix", "10.66.0.0/16", "--next-hop-type", "None")
	if out := run("route-table", "route", "list", "-g", "demo", "--route-table-name", "to-nva", "-o", "table"); !strings.Contains(out, "back") || !strings.Contains(out, "10.66.0.0/16") {
		t.Fatalf("route-table route list:\n%s", out)
	}
	run("route-table", "route", "delete", "-g", "demo", "--route-table-name", "to-nva", "-n", "lab")
	refuse("NotFound", "route-table", "route", "show", "-g", "demo", "--route-table-name", "to-nva", "-n", "lab")
	if out := run("route-table", "route", "show", "-g", "demo", "--route-table-name", "to-nva", "-n", "back"); !strings.Contains(out, `"nextHopIpAddress": "10.1.0.9"`) {
		t.Fatalf("route-table route show:\n%s", out)
	}
	run("route-table", "create", "-g", "demo", "-n", "to-nva") // again: the route stays
	run("vnet", "subnet", "create", "-g", "demo", "--vnet-name", "hub", "-n", "front", "--address-prefixes", "10.1.5.0/24", "--route-table", "to-nva")
	if out := run("route-table", "show", "-g", "demo", "-n", "to-nva"); !strings.Contains(out, `"nextHopIpAddress": "10.1.0.9"`) || !strings.Contains(out, "/subnets/front") {
		t.Fatalf("route-table show:\n%s", out)
	}
	refuse("InUseRouteTableCannotBeDeleted", "route-table", "delete", "-g", "demo", "-n", "to-nva")
	run("vnet", "subnet", "create", "-g", "demo", "--vnet-name", "hub", "-n", "front", "--route-table", "") // the table off the subnet
	run("route-table", "delete", "-g", "demo", "-n", "to-nva")

	// Two public addresses make an active-active gateway, as with az.
	run("vnet", "create", "-g", "demo", "-n", "spoke", "--address-prefixes", "10.7.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.7.255.0/27")
	run("public-ip", "create", "-g", "demo", "-n", "aa-1")
	run("public-ip", "create", "-g", "demo", "-n", "aa-2")
	if out := run("vnet-gateway", "create", "-g", "demo", "-n", "aa-gw", "--vnet", "spoke", "--public-ip-addresses", "aa-1,aa-2", "--sku", "VpnGw2",
		"--enable-bgp-route-translation-for-nat"); !strings.Contains(out, `"activeActive": true`) || !strings.Contains(out, `"enableBgpRouteTranslationForNat": true`) {
		t.Fatalf("two public addresses did not make an active-active gateway:\n%s", out)
	}
	// A NAT rule of the second instance names its IP configuration.
	if out := run("vnet-gateway", "nat-rule", "add", "-g", "demo", "--gateway-name", "aa-gw", "-n", "second", "--ip-config-id", "ipconfig2",
		"--internal-mappings", "192.168.7.0/24", "--external-mappings", "172.31.7.0/24", "-o", "json"); !strings.Contains(out, "/virtualNetworkGateways/aa-gw/ipConfigurations/ipconfig2") {
		t.Fatalf("a NAT rule of the second instance:\n%s", out)
	}
	refuse("names no IP configuration", "vnet-gateway", "nat-rule", "add", "-g", "demo", "--gateway-name", "aa-gw", "-n", "third", "--ip-config-id", "ipconfig3",
		"--internal-mappings", "192.168.8.0/24", "--external-mappings", "172.31.8.0/24")
	// Point-to-site (R12): a client pool and SSTP, then a root certificate
	// uploaded from a PEM file, a revoked client, and the root removed.
	refuse("no point-to-site configuration", "vnet-gateway", "root-cert", "create", "-g", "demo", "--gateway-name", "hub-gw", "-n", "r", "--public-cert-data", "/dev/null")
	rootPEM, _ := pkitest.Issue(t, "alice root", true, nil).WritePEM(t, dir, "alice-root")
	run("vnet-gateway", "create", "-g", "demo", "-n", "hub-gw", "--vnet", "hub", "--public-ip-addresses", "hub-gw-ip", "--sku", "VpnGw1",
		"--address-prefixes", "172.16.201.0/24", "--client-protocol", "SSTP")
	if out := run("vnet-gateway", "root-cert", "create", "-g", "demo", "--gateway-name", "hub-gw", "-n", "alice-root", "--public-cert-data", rootPEM); !strings.Contains(out, `"name": "alice-root"`) {
		t.Fatalf("root-cert create:\n%s", out)
	}
	// A thumbprint as openssl or Windows' certificate dialog gives it
	// (colons, a left-to-right mark) is kept as its digits; one that is
	// none is refused.
	if out := run("vnet-gateway", "revoked-cert", "create", "-g", "demo", "--gateway-name", "hub-gw", "-n", "lost-laptop", "--thumbprint", "\u200ea1:b2:c3:d4:e5:f6:07:18:29:3a:4b:5c:6d:7e:8f:90:a1:b2:c3:d4"); !strings.Contains(out, `"thumbprint": "A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4"`) {
		t.Fatalf("revoked-cert create:\n%s", out)
	}
	refuse("SHA-1 thumbprint", "vnet-gateway", "revoked-cert", "create", "-g", "demo", "--gateway-name", "hub-gw", "-n", "typo", "--thumbprint", "A1B2C3")
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o644)
	refuse("InvalidVpnClientRootCertificate", "vnet-gateway", "root-cert", "create", "-g", "demo", "--gateway-name", "hub-gw", "-n", "junk", "--public-cert-data", junk)
	run("vnet-gateway", "root-cert", "delete", "-g", "demo", "--gateway-name", "hub-gw", "-n", "alice-root")
	refuse("no root certificate", "vnet-gateway", "root-cert", "delete", "-g", "demo", "--gateway-name", "hub-gw", "-n", "alice-root")

	// BGP (R41): a gateway with its own ASN, a site known by its BGP
	// speaker alone; the gateway's speaker runs and lists them.
	run("vnet", "create", "-g", "demo", "-n", "bgpnet", "--address-prefixes", "10.8.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.8.255.0/27")
	run("public-ip", "create", "-g", "demo", "-n", "bgp-ip")
	run("vnet-gateway", "create", "-g", "demo", "-n", "bgp-gw", "--vnet", "bgpnet", "--public-ip-addresses", "bgp-ip", "--asn", "65020")
	run("local-gateway", "create", "-g", "demo", "-n", "bgp-site", "--gateway-ip-address", "127.0.0.52", "--asn", "65010", "--bgp-peering-address", "192.168.50.1")
	run("vpn-connection", "create", "-g", "demo", "-n", "bgp-conn", "--vnet-gateway1", "bgp-gw", "--local-gateway2", "bgp-site", "--enable-bgp")
	if out := run("vnet-gateway", "list-bgp-peer-status", "-g", "demo", "-n", "bgp-gw", "-o", "table"); !regexp.MustCompile(`192\.168\.50\.1\s+65010\s+(Connecting|Idle)`).MatchString(out) {
		t.Fatalf("list-bgp-peer-status:\n%s", out)
	}
	if out := run("vnet-gateway", "list-learned-routes", "-g", "demo", "-n", "bgp-gw", "-o", "table"); !regexp.MustCompile(`10\.8\.0\.0/16\s+.*Network`).MatchString(out) {
		t.Fatalf("list-learned-routes:\n%s", out)
	}
	if out := run("vnet-gateway", "list-advertised-routes", "-g", "demo", "-n", "bgp-gw", "--peer", "192.168.50.1"); !strings.Contains(out, `"asPath": "65020"`) || !strings.Contains(out, `"network": "10.8.0.0/16"`) {
		t.Fatalf("list-advertised-routes:\n%s", out)
	}
	refuse("required flag", "vnet-gateway", "list-advertised-routes", "-g", "demo", "-n", "bgp-gw")
	// An address that is no peer of the gateway is refused, naming it and
	// the peers there are, not answered with nothing.
	refuse("InvalidParameter", "vnet-gateway", "list-advertised-routes", "-g", "demo", "-n", "bgp-gw", "--peer", "192.168.50.9")
	refuse("192.168.50.9 is no BGP peer of virtual network gateway bgp-gw (its peers: 192.168.50.1)", "vnet-gateway", "list-bgp-peer-status", "-g", "demo", "-n", "bgp-gw", "--peer", "192.168.50.9")
	refuse("BgpNotEnabled", "vnet-gateway", "list-learned-routes", "-g", "demo", "-n", "hub-gw")

	out = run("nic", "create", "-g", "demo", "-n", "web", "--vnet-name", "hub", "--subnet", "default", "-o", "table")
	if !strings.Contains(out, "10.1.0.4") {
		t.Fatalf("R42: the first host did not get 10.1.0.4:\n%s", out)
	}
	if out := run("vnet", "check-ip-address", "-g", "demo", "-n", "hub", "--ip-address", "10.1.0.4", "-o", "table"); !regexp.MustCompile(`false +10\.1\.0\.5,10\.1\.0\.6`).MatchString(out) {
		t.Fatalf("vnet check-ip-address of the host's address:\n%s", out)
	}
	if out := run("vnet", "check-ip-address", "-g", "demo", "-n", "hub", "--ip-address", "10.1.0.9"); !strings.Contains(out, `"available": true`) {
		t.Fatalf("vnet check-ip-address of a free address:\n%s", out)
	}
	refuse("required flag", "vnet", "check-ip-address", "-g", "demo", "-n", "hub")
	out = run("nic", "show-effective-route-table", "-g", "demo", "-n", "web", "-o", "table")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`Default +Active +10\.1\.0\.0/16 +VnetLocal`),
		regexp.MustCompile(`VirtualNetworkGateway +Active +192\.168\.0\.0/16 +VirtualNetworkGateway +` + regexp.QuoteMeta(m)),
		regexp.MustCompile(`Default +Active +0\.0\.0\.0/0 +None`),
	} {
		if !want.MatchString(out) {
			t.Fatalf("nic show-effective-route-table lacks %s:\n%s", want, out)
		}
	}
	out = run("vpn-connection", "list", "-g", "demo", "-o", "table")
	if !strings.Contains(out, "hub-to-branch") || !strings.Contains(out, "IPsec") {
		t.Fatalf("connection list:\n%s", out)
	}
	// az's update changes what its flags give; -o tsv is the table's rows
	// without the header, for a script; a missing resource exits 3.
	run("vpn-connection", "update", "-g", "demo", "-n", "hub-to-branch", "--routing-weight", "5", "--tags", "site=branch")
	if out := run("vpn-connection", "show", "-g", "demo", "-n", "hub-to-branch"); !strings.Contains(out, `"routingWeight": 5`) || !strings.Contains(out, `"site": "branch"`) ||
		!strings.Contains(out, "/localNetworkGateways/branch") {
		t.Fatalf("vpn-connection update --routing-weight 5 --tags site=branch:\n%s", out)
	}
	if out := run("vpn-connection", "list", "-g", "demo", "-o", "tsv"); !regexp.MustCompile(`(?m)^hub-to-branch\tdemo\tIPsec\t`).MatchString(out) || strings.Contains(out, "Name") {
		t.Fatalf("vpn-connection list -o tsv:\n%s", out)
	}
	var exit *exec.ExitError
	if out, err := cli(t, dir, "vpn-connection", "update", "-g", "demo", "-n", "nope", "--routing-weight", "5"); !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(out, "ResourceNotFound") {
		t.Fatalf("vpn-connection update of a missing connection: %v, want exit 3 and ResourceNotFound\n%s", err, out)
	}

	refuse("DuplicateConnection", "vpn-connection", "create", "-g", "demo", "-n", "again", "--vnet-gateway1", "hub-gw", "--local-gateway2", "branch")
	run("local-gateway", "create", "-g", "demo", "-n", "overlap", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "10.1.128.0/17")
	refuse("AddressSpaceOverlap", "vpn-connection", "create", "-g", "demo", "-n", "bad", "--vnet-gateway1", "hub-gw", "--local-gateway2", "overlap")
	refuse("NetworkInterfaceInGatewaySubnet", "nic", "create", "-g", "demo", "-n", "bad", "--vnet-name", "hub", "--subnet", "GatewaySubnet")
	refuse("InUseVirtualNetworkCannotBeDeleted", "vnet", "delete", "-g", "demo", "-n", "hub")
	refuse("InvalidSharedKey", "vpn-connection", "shared-key", "update", "-g", "demo", "--connection-name", "hub-to-branch", "--value", "has-dash")
	refuse(`required flag(s) "value" not set`, "vpn-connection", "shared-key", "update", "-g", "demo", "--connection-name", "hub-to-branch")
	run("group", "delete", "-n", "demo")
	if out := run("vnet", "list", "-o", "table"); strings.Contains(out, "hub") {
		t.Fatalf("the group was deleted but its VNet is listed:\n%s", out)
	}
}

// TestCLIWithoutServer fails with a message that says what to do.
func TestCLIWithoutServer(t *testing.T) {
	out, err := cli(t, t.TempDir(), "vnet", "list")
	if err == nil || !strings.Contains(out, "vnetgw serve") {
		t.Fatalf("without a server: err=%v\n%s", err, out)
	}
}

// TestCLIFromEnvironment: the CLI finds the endpoint, the token and the CA
// through $VNETGW_ENDPOINT, $VNETGW_TOKEN and $VNETGW_CA alone, with a data
// directory that is empty or absent; a wrong token gets a clear 401.
func TestCLIFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir)
	empty, absent := t.TempDir(), filepath.Join(t.TempDir(), "absent")
	env := []string{
		client.EnvEndpoint + "=" + s.url,
		client.EnvToken + "=" + s.token(),
		client.EnvCA + "=" + filepath.Join(dir, datadir.CA),
	}
	for _, d := range []string{empty, absent} {
		out, stderr, err := cliEnv(t, env, "--data-dir", d, "group", "create", "-n", "from-env", "-l", "westeurope")
		if err != nil || !strings.Contains(out, `"from-env"`) {
			t.Fatalf("data directory %s, all from the environment: %v\n%s%s", d, err, out, stderr)
		}
	}
	if _, err := os.Stat(absent); err == nil {
		t.Fatalf("the CLI made the data directory %s", absent)
	}
	// The CA came from $VNETGW_CA only: without it, the server's
	// certificate cannot be verified.
	_, stderr, err := cliEnv(t, env[:2], "--data-dir", empty, "group", "list")
	if err == nil || !strings.Contains(stderr, "certificate") {
		t.Fatalf("without %s: err=%v\n%s", client.EnvCA, err, stderr)
	}
	// A wrong token is refused with a message that says where it came from.
	wrong := append([]string{client.EnvToken + "=not-the-token"}, env[0], env[2])
	out, stderr, err := cliEnv(t, wrong, "--data-dir", empty, "group", "list")
	if err == nil || out != "" {
		t.Fatalf("a wrong token was accepted: err=%v\n%s", err, out)
	}
	for _, want := range []string{"AuthenticationFailed", "HTTP 401", "$" + client.EnvToken, s.url} {
		if !strings.Contains(stderr, want) {
			t.Fatalf("the 401 message does not say %q:\n%s", want, stderr)
		}
	}
	// The token from the data directory is named as such.
	if err := os.WriteFile(filepath.Join(empty, datadir.Token), []byte("stale\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, _ = cliEnv(t, []string{env[0], env[2]}, "--data-dir", empty, "group", "list")
	if !strings.Contains(stderr, "HTTP 401") || !strings.Contains(stderr, filepath.Join(empty, datadir.Token)) {
		t.Fatalf("the 401 message does not name the token file:\n%s", stderr)
	}
}

// TestCLIJSONAndVerbs: -o json prints JSON, and show, list and delete work
// for gateways, local gateways, network interfaces, subnets and groups.
func TestCLIJSONAndVerbs(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir)
	run := func(args ...string) string {
		t.Helper()
		out, stderr, err := cliEnv(t, nil, append([]string{"--data-dir", dir}, args...)...)
		if err != nil {
			t.Fatalf("vnetgw %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return out
	}
	object := func(args ...string) map[string]any {
		t.Helper()
		var v map[string]any
		out := run(append(args, "-o", "json")...)
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("vnetgw %s -o json is not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	array := func(args ...string) []string {
		t.Helper()
		var v []map[string]any
		out := run(append(args, "-o", "json")...)
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("vnetgw %s -o json is not a JSON array: %v\n%s", strings.Join(args, " "), err, out)
		}
		var names []string
		for _, r := range v {
			names = append(names, fmt.Sprint(r["name"]))
		}
		slices.Sort(names)
		return names
	}
	gone := func(code string, args ...string) {
		t.Helper()
		_, stderr, err := cliEnv(t, nil, append([]string{"--data-dir", dir}, args...)...)
		if err == nil || !strings.Contains(stderr, code) {
			t.Fatalf("vnetgw %s after delete: err=%v, want %s\n%s", strings.Join(args, " "), err, code, stderr)
		}
	}

	object("group", "create", "-n", "rg", "-l", "westeurope")
	object("vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default")
	object("vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "spare", "--address-prefixes", "10.1.1.0/24")
	object("vnet", "subnet", "create", "-g", "rg", "--vnet-name", "hub", "-n", "GatewaySubnet", "--address-prefixes", "10.1.255.0/27")
	object("public-ip", "create", "-g", "rg", "-n", "ip")
	object("vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "ip")
	object("local-gateway", "create", "-g", "rg", "-n", "site", "--gateway-ip-address", "127.0.0.60", "--local-address-prefixes", "192.168.0.0/16")
	object("nic", "create", "-g", "rg", "-n", "host", "--vnet-name", "hub", "--subnet", "default")

	for _, k := range []struct{ verb, name string }{{"vnet-gateway", "gw"}, {"local-gateway", "site"}, {"nic", "host"}} {
		if v := object(k.verb, "show", "-g", "rg", "-n", k.name); v["name"] != k.name || v["id"] == nil {
			t.Fatalf("%s show: %v", k.verb, v)
		}
		if got := array(k.verb, "list", "-g", "rg"); !slices.Equal(got, []string{k.name}) {
			t.Fatalf("%s list -g rg: %v", k.verb, got)
		}
		if got := array(k.verb, "list"); !slices.Equal(got, []string{k.name}) {
			t.Fatalf("%s list (subscription): %v", k.verb, got)
		}
	}
	if v := object("vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "spare"); v["name"] != "spare" {
		t.Fatalf("subnet show: %v", v)
	}
	if got := array("vnet", "subnet", "list", "-g", "rg", "--vnet-name", "hub"); !slices.Equal(got, []string{"GatewaySubnet", "default", "spare"}) {
		t.Fatalf("subnet list: %v", got)
	}
	if v := object("group", "show", "-n", "rg"); v["name"] != "rg" {
		t.Fatalf("group show: %v", v)
	}
	if got := array("group", "list"); !slices.Equal(got, []string{"rg"}) {
		t.Fatalf("group list: %v", got)
	}

	run("nic", "delete", "-g", "rg", "-n", "host")
	gone("ResourceNotFound", "nic", "show", "-g", "rg", "-n", "host")
	run("vnet", "subnet", "delete", "-g", "rg", "--vnet-name", "hub", "-n", "spare")
	gone("ResourceNotFound", "vnet", "subnet", "show", "-g", "rg", "--vnet-name", "hub", "-n", "spare")
	if got := array("vnet", "subnet", "list", "-g", "rg", "--vnet-name", "hub"); !slices.Equal(got, []string{"GatewaySubnet", "default"}) {
		t.Fatalf("subnet list after delete: %v", got)
	}
	run("vnet-gateway", "delete", "-g", "rg", "-n", "gw")
	gone("ResourceNotFound", "vnet-gateway", "show", "-g", "rg", "-n", "gw")
	run("local-gateway", "delete", "-g", "rg", "-n", "site")
	gone("ResourceNotFound", "local-gateway", "show", "-g", "rg", "-n", "site")
	if got := array("local-gateway", "list", "-g", "rg"); len(got) != 0 {
		t.Fatalf("local-gateway list after delete: %v", got)
	}
	run("group", "delete", "-n", "rg")
	gone("ResourceGroupNotFound", "group", "show", "-n", "rg")
	if got := array("group", "list"); len(got) != 0 {
		t.Fatalf("group list after delete: %v", got)
	}
}
