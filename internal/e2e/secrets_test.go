package e2e

import (
	"strings"
	"testing"
)

// TestSharedKeysNeverLogged drives every path a shared key takes, and a
// RADIUS server's secret, with the server logging at debug level, and
// looks for them in its log (R21).
func TestSharedKeysNeverLogged(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir, "--log-level", "debug")
	run := func(args ...string) string {
		t.Helper()
		out, _ := cli(t, dir, args...)
		return out
	}
	run("group", "create", "-n", "g", "-l", "westeurope")
	run("vnet", "create", "-g", "g", "-n", "v", "--address-prefixes", "10.1.0.0/16")
	run("vnet", "subnet", "create", "-g", "g", "--vnet-name", "v", "-n", "GatewaySubnet", "--address-prefixes", "10.1.255.0/27")
	run("public-ip", "create", "-g", "g", "-n", "p")
	run("vnet-gateway", "create", "-g", "g", "-n", "gw", "--vnet", "v", "--public-ip-addresses", "p")
	run("local-gateway", "create", "-g", "g", "-n", "l", "--gateway-ip-address", "198.51.100.1", "--local-address-prefixes", "192.168.0.0/16")
	secrets := []string{"FirstSecretKey1", "SecondSecretKey2", "Bad-Secret-Key3"}
	run("vpn-connection", "create", "-g", "g", "-n", "c", "--vnet-gateway1", "gw", "--local-gateway2", "l", "--shared-key", secrets[0])
	run("vpn-connection", "shared-key", "update", "-g", "g", "--connection-name", "c", "--value", secrets[1])
	run("vpn-connection", "shared-key", "update", "-g", "g", "--connection-name", "c", "--value", secrets[2])
	reset := run("vpn-connection", "shared-key", "reset", "-g", "g", "--connection-name", "c")
	generated := strings.TrimSpace(strings.Split(run("vpn-connection", "shared-key", "show", "-g", "g", "--connection-name", "c", "-o", "table"), "\n")[2])
	if len(generated) != 32 {
		t.Fatalf("could not read the generated key (reset said %q)", reset)
	}
	// The RADIUS server's secret takes the gateway's way: set, shown by
	// listRadiusSecrets, handed to the data plane.
	radiusSecret := "RadiusSecret4x"
	run("vnet-gateway", "create", "-g", "g", "-n", "gw", "--address-prefixes", "172.16.201.0/24", "--client-protocol", "SSTP",
		"--vpn-auth-type", "Radius", "--radius-server", "127.206.0.9", "--radius-secret", radiusSecret)
	if listed := run("vnet-gateway", "list-radius-secrets", "-g", "g", "-n", "gw"); !strings.Contains(listed, radiusSecret) {
		t.Fatalf("list-radius-secrets does not show the secret set: %q", listed)
	}
	secrets = append(secrets, radiusSecret)
	s.stop()
	log := s.log()
	if !strings.Contains(log, "sharedkey") {
		t.Fatalf("the log does not show the shared-key requests at all; is debug logging on?\n%s", log)
	}
	for _, k := range append(secrets, generated, "Bad-Secret") {
		if strings.Contains(log, k) {
			t.Fatalf("a shared key appears in the log: %q", k)
		}
	}
}
