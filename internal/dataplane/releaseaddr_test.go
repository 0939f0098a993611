package dataplane

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestReleaseAddrLogsFailure: a gateway's public address that cannot be
// removed from the public interface (here: the interface is gone) is
// logged with what ip said; one removed, or already gone, is not.
func TestReleaseAddrLogsFailure(t *testing.T) {
	netnstest.Require(t, "ip")
	ns, peer := netnstest.New(t, "ra"), netnstest.New(t, "rb")
	pub, _ := netnstest.Link(t, ns, "10.9.1.1/24", peer, "10.9.1.2/24")
	ns.Run("ip", "addr", "add", "10.9.1.5/32", "dev", pub)
	var logs bytes.Buffer
	e := New(Options{PublicInterface: pub, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer e.Close()
	release := func(addr string) {
		t.Helper()
		g := &gw{cfg: Gateway{ID: "gw", PublicAddr: netip.MustParseAddr(addr)}, addrAdded: true}
		if err := ns.Do(func() error { e.releaseAddr(g); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	release("10.9.1.5")
	if out := ns.Run("ip", "-o", "addr", "show", "dev", pub); strings.Contains(out, "10.9.1.5") {
		t.Fatalf("the address is still there: %s", out)
	}
	release("10.9.1.5") // already gone
	if logs.Len() != 0 {
		t.Fatalf("logged for an address removed or already gone: %s", logs.String())
	}
	ns.Run("ip", "link", "del", pub)
	release("10.9.1.6")
	if l := logs.String(); !strings.Contains(l, "remove a gateway's public address") || !strings.Contains(l, "10.9.1.6") || !strings.Contains(l, pub) {
		t.Fatalf("a failed removal is not logged with ip's answer: %q", l)
	}
}

// TestIPv6PublicAddressUsableAtOnce: a gateway with an IPv6 public
// address on the public interface runs as its address is added. The
// kernel held the address tentative for its duplicate address detection
// (RFC 4862 §5.4, a second or so), the gateway's sockets could not bind
// it (EADDRNOTAVAIL), and the gateway started only at the Retry
// RetryInterval later, after an error in the log: every IPv6 gateway
// that started, or that a node took over from one that died, did.
func TestIPv6PublicAddressUsableAtOnce(t *testing.T) {
	netnstest.Require(t, "ip")
	ns, peer := netnstest.New(t, "r6a"), netnstest.New(t, "r6b")
	pub, _ := netnstest.Link(t, ns, "", peer, "")
	e := New(Options{PublicInterface: pub})
	defer e.Close()
	addr := netip.MustParseAddr("fd00:9:1::5")
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", PublicAddr: addr,
			Connections: []Connection{{ID: "c", Remote: netip.MustParseAddr("fd00:9:1::9"), PSK: Secret("k"), Mode: "ResponderOnly",
				LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.2.0.0/16"), Routes: prefixes("10.2.0.0/16")}}}}}
	if err := ns.Do(func() error { _, err := e.Reconfig(cfg); return err }); err != nil {
		t.Fatal(err)
	}
	if ts := e.Status().Connections["c"].Tunnels; len(ts) != 1 || strings.HasPrefix(ts[0].Reason, "the gateway is not running") {
		t.Fatalf("the gateway did not start on its IPv6 address: %+v (%s)", ts, ns.Run("ip", "-o", "addr", "show", "dev", pub))
	}
}
