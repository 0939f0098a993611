package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestDevGatewayTUNDeleted (root): `vnetgw dev gateway` whose TUN device
// is deleted (ip link del) stops, exit 1, saying which device went, in
// an Error line and its error. It ran on with no device, the tunnels
// carrying nothing, its engine reading the deleted device again at once
// after every failure, logged at Debug: a core spent for as long as it
// ran.
func TestDevGatewayTUNDeleted(t *testing.T) {
	netnstest.Require(t, "ip")
	ns := netnstest.New(t, "devgw")
	config := filepath.Join(t.TempDir(), "gw.json")
	if err := os.WriteFile(config, []byte(`{"local": "127.0.0.1", "tun": {"name": "vgdev0"},
		"connections": [{"name": "site-b", "remote": "127.0.0.2", "psk": "secret", "routes": ["10.2.0.0/16"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The deadline is for the old code, which ran on.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errb logbuf.Buffer
	code := make(chan int, 1)
	go func() {
		// The device and the sockets are made in the namespace.
		ns.Do(func() error {
			code <- Execute(ctx, []string{"dev", "gateway", "--config", config, "--status-interval", "1h"}, &out, &errb)
			return nil
		})
	}()
	for !strings.Contains(out.String(), "up on vgdev0") {
		select {
		case c := <-code:
			t.Fatalf("dev gateway ended, exit %d:\n%s%s", c, out.String(), errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	ns.Run("ip", "link", "del", "vgdev0")
	c := <-code
	if c != 1 || !strings.Contains(errb.String(), "error: the gateway's TUN device is gone: tun: vgdev0: the interface was deleted") {
		t.Errorf("dev gateway with its device deleted: exit %d, want 1 and an error naming vgdev0:\n%s%s", c, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "level=ERROR") {
		t.Errorf("no Error line:\n%s", errb.String())
	}
}
