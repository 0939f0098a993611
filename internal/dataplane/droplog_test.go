package dataplane

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
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
