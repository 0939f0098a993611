package dataplane

import (
	"context"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestTUNHostDownCounted (root): packets routed to a TUN host whose device
// is down (ip link set ... down in its namespace) are counted as dropped,
// undeliverable, in the VNet's counters and metrics, also after the host
// is removed, and logged on the engine's tick as the other drops are: a
// line "packets dropped" with reason undeliverable, the VNet, the host,
// its device, the count and the last packet's addresses, once a minute at
// most, what the minute held logged as the host is removed, so that the
// lines count what the counters do. They were counted as forwarded, and
// lost without a trace; then logged as they came, once a minute, so that
// those after a line were logged only if more came after the minute.
func TestTUNHostDownCounted(t *testing.T) {
	netnstest.Require(t, "ip")
	ns := netnstest.New(t, "down")
	var log logbuf.Buffer
	e := New(Options{Logger: slog.New(slog.NewJSONHandler(&log, nil)), dropLog: 50 * time.Millisecond})
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
	ping := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if _, err := h.Ping(ctx, vm); err == nil {
			t.Fatal("a ping to the host whose device is down was answered")
		}
	}
	// lines returns the lines of the host's drops so far.
	lines := func() []map[string]any {
		t.Helper()
		ms, err := logbuf.JSONLines(log.String())
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for _, m := range ms {
			if m["msg"] == "packets dropped" && m["reason"] == "undeliverable" {
				out = append(out, m)
			}
		}
		return out
	}
	ping()
	for deadline := time.Now().Add(20 * time.Second); len(lines()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no line of the drop within 20 s in:\n%s", log.String())
		}
	}
	first := lines()[0]
	for k, v := range map[string]any{"level": "WARN", "vnet": "v", "host": "vm", "dev": dev, "src": "10.1.0.4", "dst": "10.1.0.5"} {
		if first[k] != v {
			t.Errorf("the line of the drops has %s %v, want %v: %v", k, first[k], v, first)
		}
	}
	const pings = 3
	for range pings - 1 {
		ping()
	}
	if n := e.Status().VNets["v"].Undeliverable; n < pings {
		t.Errorf("%d packets counted as undeliverable, want %d at least", n, pings)
	}
	time.Sleep(200 * time.Millisecond) // ticks of the drop log
	if l := lines(); len(l) != 1 {
		t.Errorf("%d lines of the drops within the minute, want 1: %v", len(l), l)
	}
	var m strings.Builder
	if err := e.WriteMetrics(&m); err != nil {
		t.Fatal(err)
	}
	want := `vnetgw_vnet_dropped_packets_total{vnet="v",reason="undeliverable"} `
	if !strings.Contains(m.String(), want) || strings.Contains(m.String(), want+"0\n") {
		t.Errorf("no %s with a count in:\n%s", want, m.String())
	}

	// The host removed: what it dropped stays counted, and what the
	// minute held is logged.
	before := e.Status().VNets["v"].Undeliverable
	cfg.VNets[0].Hosts = []Host{webHost}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if n := e.Status().VNets["v"].Undeliverable; n != before {
		t.Errorf("after the host's removal %d packets counted as undeliverable, want %d", n, before)
	}
	l := lines()
	if len(l) != 2 {
		t.Fatalf("%d lines of the drops after the host's removal, want 2: %v", len(l), l)
	}
	if logged := uint64(l[0]["count"].(float64) + l[1]["count"].(float64)); logged != before {
		t.Errorf("the lines count %d packets dropped, the counters %d: %v", logged, before, l)
	}
}

// TestTUNHostNamespaceGone (root): a TUN host whose namespace is deleted
// while it runs (ip netns del) shows as failed, naming the namespace, and
// gets no route; once a namespace of that name is made again, Retry puts
// the device in it and the host answers. The host went on showing
// Running, its device in the deleted namespace, which it kept alive out
// of reach (answering pings there), and stayed there after the namespace
// was made again: nothing in the new namespace reached the VNet.
func TestTUNHostNamespaceGone(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	ns := netnstest.New(t, "gone")
	e, web, ping := startPingedTUNHost(t, ns)

	if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v: %s", err, out)
	}
	e.Retry()
	if s := e.Status().Hosts["vm"]; s.Running || !strings.Contains(s.Error, ns.Name) {
		t.Errorf("host status with its namespace deleted %+v, want not running, its error naming %s", s, ns.Name)
	}

	// Made again (the test's cleanup deletes it).
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	ns.Run("ip", "link", "set", "lo", "up")
	for deadline := time.Now().Add(2*RetryInterval + 5*time.Second); ; time.Sleep(100 * time.Millisecond) {
		e.Retry()
		out, err := ns.Try("ping", "-c", "1", "-W", "1", web.String())
		if err == nil && e.Status().Hosts["vm"].Running && ping() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host in the namespace made again: status %+v, ping from it: %v\n%s\naddresses:\n%s", e.Status().Hosts["vm"], err, out, ns.Run("ip", "addr"))
		}
	}
}

// TestTUNHostDeviceDeleted (root): a TUN host whose device is deleted
// while it runs (ip link del in its namespace) is started again by Retry,
// a new device in its namespace, and answers again. The host went on
// showing Running with no device, nothing reached it again, and its read
// loop spun on a core, every read of the deleted device failing at once.
func TestTUNHostDeviceDeleted(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	ns := netnstest.New(t, "devdel")
	e, web, ping := startPingedTUNHost(t, ns)
	var dev string
	for l := range strings.Lines(ns.Run("ip", "-o", "link", "show")) {
		if f := strings.Fields(l); len(f) > 1 && f[1] != "lo:" {
			dev = strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":")
		}
	}
	ns.Run("ip", "link", "del", dev)

	e.Retry()
	if s := e.Status().Hosts["vm"]; !s.Running {
		t.Fatalf("host status after Retry %+v, want running on a new device", s)
	}
	if err := ping(); err != nil {
		t.Fatalf("ping to the host whose device was deleted, after Retry: %v\naddresses:\n%s", err, ns.Run("ip", "addr"))
	}
	if out, err := ns.Try("ping", "-c", "1", "-W", "2", web.String()); err != nil {
		t.Fatalf("ping from the namespace after Retry: %v\n%s", err, out)
	}
}

// startPingedTUNHost starts an engine with a netstack host web and a TUN host vm in ns, checks that web pings vm, and returns that ping.
func startPingedTUNHost(t *testing.T, ns *netnstest.NS) (e *Engine, web netip.Addr, ping func() error) {
	t.Helper()
	e = New(Options{})
	t.Cleanup(func() { e.Close() })
	web, vm := netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr("10.1.0.5")
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"), Hosts: []Host{
		{ID: "web", Name: "web", Addr: web, Kind: HostNetstack},
		{ID: "vm", Name: "vm", Addr: vm, Kind: HostTUN, NetNS: ns.Name},
	}}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	h, _ := e.NetstackHost("web")
	ping = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := h.Ping(ctx, vm)
		return err
	}
	if err := ping(); err != nil {
		t.Fatalf("ping to the host before: %v", err)
	}
	return e, web, ping
}
