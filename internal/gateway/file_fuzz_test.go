package gateway_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/gateway"
)

// FuzzReadFile reads arbitrary bytes as the JSON file of `vnetgw dev
// gateway --config`, a file a user may have copied from anywhere: no
// panic; a file refused is refused with an error that names the file; a
// file read gives connections, or an error, and each connection's peer
// either passes the check Reconfig makes or fails it, never panics.
func FuzzReadFile(f *testing.F) {
	for _, s := range []string{
		`{"local": "127.128.1.1", "ikePort": 1500, "nattPort": 4500, "connections": [{"name": "c", "remote": "127.128.1.3", "remoteID": "127.128.1.2",
			"psk": "Key2026", "mode": "InitiatorOnly", "routes": ["10.128.2.0/24"], "disableIPSecReplayProtection": true}]}`,
		`{"local": "192.0.2.1", "rawESP": true, "tun": {"name": "vgw0", "mtu": 1400}, "connections": [{"name": "p", "remote": "198.51.100.1",
			"psk": "k", "localID": "gw.example.com", "ike": ["aes256-sha256-modp2048"], "esp": ["aes256gcm16"], "mode": "ResponderOnly",
			"routes": ["10.2.0.0/16"], "policyBased": true, "localTS": ["10.1.0.0/16"], "remoteTS": ["10.2.0.0/16", "10.3.0.0/16"],
			"ikeLifetime": "8h", "childLifetime": "1h", "childLifeBytes": 102400000, "dpdInterval": "30s", "ikev1": true}]}`,
		"{\"local\": \"127.0.0.1\",\n \"connections\": [{\"psk\": Zq9secret}]}",
		`{"connections": [{"psk": 8675309}]}`,
		`{"connections": [{"psk": "Zq9secret"`,
		`{"local": "127.0.0.1", "bogus": 1}`,
		`{"local": "::1", "connections": [{"name": "x", "remote": "127.0.0.1", "psk": "k", "ikeLifetime": "-1h", "dpdInterval": "-1s"}]}`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "gw.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := gateway.ReadFile(path)
		if err != nil {
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		local, lerr := file.LocalAddr()
		conns, err := file.GatewayConnections()
		if err != nil {
			return
		}
		if len(conns) != len(file.Connections) {
			t.Fatalf("%d connections from %d in the file", len(conns), len(file.Connections))
		}
		for _, c := range conns {
			for _, r := range c.Routes {
				if !r.IsValid() || r != r.Masked() {
					t.Fatalf("route %v", r)
				}
			}
			p := c.Peer
			if lerr == nil {
				p.Local = netip.AddrPortFrom(local, 0)
			}
			p.Validate()
		}
	})
}
