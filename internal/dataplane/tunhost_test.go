package dataplane

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestTUNHostDownCounted (root): packets routed to a TUN host whose device
// is down (ip link set ... down in its namespace) are counted as dropped,
// undeliverable, in the VNet's counters and metrics, also after the host
// is removed, and logged once, not once a packet. They were counted as
// forwarded, and lost without a trace.
func TestTUNHostDownCounted(t *testing.T) {
	netnstest.Require(t, "ip")
	ns := netnstest.New(t, "down")
	var log logbuf.Buffer
	e := New(Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	defer e.Close()
	web, vm := netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr("10.1.0.5")
	webHost := Host{ID: "web", Name: "web", Addr: web, Kind: HostNetstack}
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"), Hosts: []Host{
		webHost, {ID: "vm", Name: "vm", Addr: vm, Kind: HostTUN, NetNS: ns.Name},
	}}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if h := e.Status().Hosts["vm"]; !h.Running {
		t.Fatalf("vm host status %+v", h)
	}
	var dev string
	for l := range strings.Lines(ns.Run("ip", "-o", "link", "show")) {
		if f := strings.Fields(l); len(f) > 1 && f[1] != "lo:" {
			dev = strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":")
		}
	}
	ns.Run("ip", "link", "set", dev, "down")

	h, _ := e.NetstackHost("web")
	const pings = 3
	for range pings {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		if _, err := h.Ping(ctx, vm); err == nil {
			t.Fatal("a ping to the host whose device is down was answered")
		}
		cancel()
	}
	if n := e.Status().VNets["v"].Undeliverable; n < pings {
		t.Errorf("%d packets counted as undeliverable, want %d at least", n, pings)
	}
	var m strings.Builder
	if err := e.WriteMetrics(&m); err != nil {
		t.Fatal(err)
	}
	want := `vnetgw_vnet_dropped_packets_total{vnet="v",reason="undeliverable"} `
	if !strings.Contains(m.String(), want) || strings.Contains(m.String(), want+"0\n") {
		t.Errorf("no %s with a count in:\n%s", want, m.String())
	}
	if got := strings.Count(log.String(), "packets to a TUN host dropped"); got != 1 {
		t.Errorf("%d log lines of the drops, want 1:\n%s", got, log.String())
	}
	if !strings.Contains(log.String(), "host=vm") || !strings.Contains(log.String(), "dev="+dev) {
		t.Errorf("the log of the drops names neither the host nor its device %s:\n%s", dev, log.String())
	}

	// The host removed: what it dropped stays counted.
	before := e.Status().VNets["v"].Undeliverable
	cfg.VNets[0].Hosts = []Host{webHost}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if n := e.Status().VNets["v"].Undeliverable; n != before {
		t.Errorf("after the host's removal %d packets counted as undeliverable, want %d", n, before)
	}
}
