package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/server"
)

// startRegion runs a vnetgw region in the test, as `vnetgw serve` does, on
// a temporary data directory, and points the commands the test runs at it
// (as $VNETGW_DATA_DIR, none of the test's own $VNETGW_ variables).
func startRegion(t *testing.T) {
	t.Helper()
	startRegionIn(t, "127.22.0.0/24")
}

// startRegionIn is startRegion with the public addresses of pool (a test's
// own loopback range).
func startRegionIn(t *testing.T, pool string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, Listen: "127.0.0.1:0", PublicIPPool: pool,
		IKEPort: freePort(t, "udp"), NATTPort: freePort(t, "udp"), SSTPPort: freePort(t, "tcp"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	for _, v := range []string{"VNETGW_ENDPOINT", "VNETGW_TOKEN", "VNETGW_CA", "VNETGW_SUBSCRIPTION"} {
		t.Setenv(v, "")
	}
	t.Setenv("VNETGW_DATA_DIR", dir)
}

// freePort returns a port on the loopback that no socket of network
// ("udp" or "tcp") uses now: the gateways of two test binaries that run at
// once (go test runs packages side by side) do not take each other's.
func freePort(t *testing.T, network string) uint16 {
	t.Helper()
	var addr net.Addr
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.22.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		addr = c.LocalAddr()
	} else {
		l, err := net.Listen("tcp", "127.22.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addr = l.Addr()
	}
	return uint16(netip.MustParseAddrPort(addr.String()).Port())
}

// vnetgw runs a command line as cmd/vnetgw does: its exit code, what it
// printed on standard output and on standard error.
func vnetgw(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// must runs a command line that must succeed and returns its output.
func must(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := vnetgw(t, args...)
	if code != 0 {
		t.Fatalf("vnetgw %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mustJSON runs a command line that must succeed and decodes its JSON
// output into v.
func mustJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := must(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("vnetgw %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
