package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVPNClientPackageFollowsServe: the VPN client package that `vnet-gateway
// vpn-client generate` downloads from a real serve names the UDP ports of
// serve's --ike-port and --natt-port, which strongSwan must send to.
func TestVPNClientPackageFollowsServe(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir, "--ike-port", "25530", "--natt-port", "25531", "--public-ip-pool", "127.21.3.0/24")
	run := mustCLI(t, dir)
	run("group", "create", "-n", "p2s", "-l", "westeurope")
	run("vnet", "create", "-g", "p2s", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
	run("public-ip", "create", "-g", "p2s", "-n", "gw-ip")
	run("vnet-gateway", "create", "-g", "p2s", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "gw-ip",
		"--address-prefixes", "172.16.201.0/24", "--client-protocol", "IkeV2")
	pkg := filepath.Join(dir, "package")
	run("vnet-gateway", "vpn-client", "generate", "-g", "p2s", "-n", "gw", "--output-dir", pkg)
	for file, want := range map[string]string{
		"linux/swanctl.conf": "remote_port = 25531",
		"README.txt":         "IKEv2 on UDP ports 25530 and 25531",
	} {
		b, err := os.ReadFile(filepath.Join(pkg, file))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q (%v):\n%s", file, want, err, b)
		}
	}
}
