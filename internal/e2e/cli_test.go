package e2e

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// TestCLIWalkthrough runs the README's walk-through with the real CLI
// against a real serve, and the refusals it promises.
func TestCLIWalkthrough(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir)
	run := func(args ...string) string {
		t.Helper()
		out, err := cli(t, dir, args...)
		if err != nil {
			t.Fatalf("vnetgw %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
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
	out = run("nic", "create", "-g", "demo", "-n", "web", "--vnet-name", "hub", "--subnet", "default", "-o", "table")
	if !strings.Contains(out, "10.1.0.4") {
		t.Fatalf("R42: the first host did not get 10.1.0.4:\n%s", out)
	}
	out = run("vpn-connection", "list", "-g", "demo", "-o", "table")
	if !strings.Contains(out, "hub-to-branch") || !strings.Contains(out, "IPsec") {
		t.Fatalf("connection list:\n%s", out)
	}

	refuse("DuplicateConnection", "vpn-connection", "create", "-g", "demo", "-n", "again", "--vnet-gateway1", "hub-gw", "--local-gateway2", "branch")
	run("local-gateway", "create", "-g", "demo", "-n", "overlap", "--gateway-ip-address", "127.0.0.51", "--local-address-prefixes", "10.1.128.0/17")
	refuse("AddressSpaceOverlap", "vpn-connection", "create", "-g", "demo", "-n", "bad", "--vnet-gateway1", "hub-gw", "--local-gateway2", "overlap")
	refuse("NetworkInterfaceInGatewaySubnet", "nic", "create", "-g", "demo", "-n", "bad", "--vnet-name", "hub", "--subnet", "GatewaySubnet")
	refuse("InUseVirtualNetworkCannotBeDeleted", "vnet", "delete", "-g", "demo", "-n", "hub")
	refuse("InvalidSharedKey", "vpn-connection", "shared-key", "update", "-g", "demo", "--connection-name", "hub-to-branch", "--value", "has-dash")
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
