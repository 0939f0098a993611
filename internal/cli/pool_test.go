package cli

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/server"
)

// A second region on the machine with the first one's --public-ip-pool
// hands its gateway the same address, which cannot be bound: its serve
// says so once, as an error naming the pool and what to do, and the retries
// every 5 s that fail alike are logged at debug (each was an ERROR with
// the bare "bind: address already in use"). The connections say it too,
// in connectionStatusReason.
func TestSecondRegionWithTheSamePool(t *testing.T) {
	const pool = "127.194.7.0/24"
	ike, natt, sstp := freePort(t, "udp"), freePort(t, "udp"), freePort(t, "tcp")
	first, _ := regionLogged(t, pool, ike, natt, sstp)
	second, log := regionLogged(t, pool, ike, natt, sstp)
	for _, dir := range []string{first, second} {
		must(t, "--data-dir", dir, "group", "create", "-n", "rg", "-l", "westeurope")
		must(t, "--data-dir", dir, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.1.255.0/27")
		must(t, "--data-dir", dir, "public-ip", "create", "-g", "rg", "-n", "gw-ip")
		must(t, "--data-dir", dir, "vnet-gateway", "create", "-g", "rg", "-n", "gw", "--vnet", "hub", "--public-ip-addresses", "gw-ip")
	}
	// The second gateway's first start and a retry, which fails alike.
	again := `level=DEBUG msg="gateway not started, again"`
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(log.String(), again) {
		if time.Now().After(deadline) {
			t.Fatalf("no retry of the second region's gateway logged in a minute:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := `level=ERROR msg="gateway not started: another socket has its address and UDP port (` + strconv.Itoa(int(ike)) + " or " + strconv.Itoa(int(natt)) +
		`): another vnetgw serve on this machine with the same --public-ip-pool (give each region its own)`
	if n := strings.Count(log.String(), "level=ERROR"); n != 1 || !strings.Contains(log.String(), want) {
		t.Errorf("%d errors logged, want one: %s...\n%s", n, want, log)
	}
}

// regionLogged runs a region in a data directory of its own, which it
// returns with what the region logs at debug.
func regionLogged(t *testing.T, pool string, ike, natt, sstp uint16) (string, *syncWriter) {
	t.Helper()
	dir := t.TempDir()
	log := &syncWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, server.Config{DataDir: dir, Listen: "127.194.0.1:0", PublicIPPool: pool, IKEPort: ike, NATTPort: natt, SSTPPort: sstp,
		Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
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
	for _, v := range []string{"VNETGW_ENDPOINT", "VNETGW_TOKEN", "VNETGW_CA", "VNETGW_SUBSCRIPTION", "VNETGW_DATA_DIR"} {
		t.Setenv(v, "")
	}
	return dir, log
}
