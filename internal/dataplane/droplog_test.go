package dataplane

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/tunnel"
)

// TestVNetDropLog: what a VNet's router drops is logged on the engine's
// tick, not only counted (bad input gets a counted and logged drop): a
// built-in host's ping to an address with no route (R43) gives a line
// "packets dropped" that names the VNet, the reason, the count and the
// packet's addresses.
func TestVNetDropLog(t *testing.T) {
	buf := &logbuf.Buffer{}
	e := New(Options{Logger: slog.New(slog.NewTextHandler(buf, nil)), dropLog: 50 * time.Millisecond})
	defer e.Close()
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"), Hosts: []Host{
		{ID: "web", Name: "web", Addr: netip.MustParseAddr("10.1.0.4"), Kind: HostNetstack},
	}}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	h, _ := e.NetstackHost("web")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := h.Ping(ctx, netip.MustParseAddr("10.9.9.9")); err == nil {
		t.Fatal("a ping to no route was answered")
	}
	want := "level=INFO msg=\"packets dropped\" vnet=v reason=no_route count=1 src=10.1.0.4 dst=10.9.9.9"
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(buf.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no line %q within 20 s in:\n%s", want, buf.String())
		}
	}

	// Within the minute, the next is counted; as the VNet is removed,
	// logged.
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := h.Ping(ctx, netip.MustParseAddr("10.9.9.8")); err == nil {
		t.Fatal("a ping to no route was answered")
	}
	if _, err := e.Reconfig(Config{}); err != nil {
		t.Fatal(err)
	}
	if want := "vnet=v reason=no_route count=1 src=10.1.0.4 dst=10.9.9.8"; !strings.Contains(buf.String(), want) {
		t.Fatalf("no line %q as the VNet went in:\n%s", want, buf.String())
	}
}

// stalledInner is a gateway's port whose reader, the gateway's tunnels,
// takes nothing until release is closed: an engine fallen behind.
type stalledInner struct {
	*fabric.GatewayPort
	release chan struct{}
}

func (s *stalledInner) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	<-s.release
	return s.GatewayPort.Read(bufs, sizes, offset)
}

// TestGatewayQueueFullDropLog: what a VNet sends its gateway while the
// gateway's tunnels take nothing (its queue full) is counted, as
// vnetgw_gateway_dropped_packets_total's queue_full, and logged on the
// engine's tick as the router's drops are: a line "packets dropped" that
// names the gateway, the reason, the count and the last packet's
// addresses, once a minute at most, what the minute held logged as the
// gateway stops, so that the lines count what the counter does. They
// were counted and never logged.
func TestGatewayQueueFullDropLog(t *testing.T) {
	buf := &logbuf.Buffer{}
	release := make(chan struct{})
	stopStall := sync.OnceFunc(func() { close(release) })
	var port atomic.Pointer[fabric.GatewayPort]
	e := New(Options{IKEPort: 18922, NATTPort: 18923, Logger: slog.New(slog.NewJSONHandler(buf, nil)), dropLog: 50 * time.Millisecond,
		inner: func(p *fabric.GatewayPort) tunnel.Inner {
			port.Store(p)
			return &stalledInner{GatewayPort: p, release: release}
		}})
	defer e.Close()
	defer stopStall() // before the Close: the gateway's stop waits for its reader
	src, dst := netip.MustParseAddr("10.1.0.4"), netip.MustParseAddrPort("10.2.0.9:9")
	cfg := Config{
		VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"),
			Hosts:  []Host{{ID: "h", Name: "h", Addr: src, Kind: HostNetstack}},
			Routes: []Route{{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Gateway: "gw"}}}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", PublicAddr: netip.MustParseAddr("127.182.2.1"),
			Connections: []Connection{{ID: "c", Remote: netip.MustParseAddr("127.182.2.2"), PSK: Secret("k"),
				LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.2.0.0/16"), Routes: prefixes("10.2.0.0/16")}}}},
	}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if port.Load() == nil {
		t.Fatalf("the gateway did not start: %v", e.Status())
	}
	// lines returns the lines of the gateway's queue_full drops so far.
	lines := func() []map[string]any {
		t.Helper()
		ms, err := logbuf.JSONLines(buf.String())
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		for _, m := range ms {
			if m["msg"] == "packets dropped" && m["reason"] == "queue_full" {
				out = append(out, m)
			}
		}
		return out
	}
	h, _ := e.NetstackHost("h")
	c, err := h.DialUDPFrom(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The queue holds 1024 packets: send until some are dropped, and the
	// tick has logged them.
	for deadline := time.Now().Add(20 * time.Second); len(lines()) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no line of the dropped packets within 20 s (%d dropped) in:\n%s", port.Load().Dropped(), buf.String())
		}
		for range 100 {
			c.Write([]byte("x")) // an error: the host's own queue is full
		}
		time.Sleep(10 * time.Millisecond)
	}
	first := lines()[0]
	for k, v := range map[string]any{"level": "WARN", "gateway": "gw", "src": src.String(), "dst": dst.Addr().String()} {
		if first[k] != v {
			t.Errorf("the line of the drops has %s %v, want %v: %v", k, first[k], v, first)
		}
	}
	for range 100 {
		c.Write([]byte("x"))
	}
	// The host's stack has sent what it queued when the count stays put
	// (the gateway takes nothing yet): nothing is dropped after the
	// gateway's last line.
	last := port.Load().Dropped()
	waitUntil(t, 20*time.Second, "the host's queue sent", func() bool {
		time.Sleep(100 * time.Millisecond)
		n := port.Load().Dropped()
		defer func() { last = n }()
		return n == last
	})
	stopStall()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var logged float64
	l := lines()
	for _, m := range l {
		logged += m["count"].(float64)
	}
	if n := port.Load().Dropped(); len(l) < 2 || uint64(logged) != n {
		t.Errorf("the lines count %v packets dropped, the counter %d: %v", logged, n, l)
	}
}
