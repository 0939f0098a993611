package fabric

import (
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/sparselog"
)

// dropLines returns the "packets dropped" lines logged into buf since the
// last call, each as its JSON fields, and fails the test on any but the
// keys a drop line may have: the addresses, no bytes of the packet.
func dropLines(t *testing.T, buf *logbuf.Buffer, seen *int) map[string]map[string]any {
	t.Helper()
	text := buf.Since(seen)
	ms, err := logbuf.JSONLines(text)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	allowed := []string{"time", "level", "msg", "vnet", "reason", "count", "src", "dst", "len"}
	for _, m := range ms {
		if m["msg"] != "packets dropped" {
			continue
		}
		for k := range m {
			if !slices.Contains(allowed, k) {
				t.Errorf("line %v has %q", m, k)
			}
		}
		reason, _ := m["reason"].(string)
		if out[reason] != nil {
			t.Fatalf("two lines for %q: %q", reason, text)
		}
		out[reason] = m
	}
	return out
}

// TestDropLog: a VNet's router logs what it drops, not only counts it
// (bad input gets a counted and logged drop): a host of subnet a that
// pings an address with no route and one of the VNet without a host, a
// site's address behind the gateway with TTL 1, and sends a packet that
// is not one gets a line per reason with the VNet, the count and the last
// packet's addresses (its length when malformed, no bytes of it); the
// next drops are counted in the line a minute later, none before. What
// it sends to its own link (mDNS) is logged at Debug only.
func TestDropLog(t *testing.T) {
	r := twoSubnets()
	a := newHost(t, "a", "10.1.1.4", r.Ingress("a"))
	gw := &recorder{} // the gateway's port, to a site's 192.168.0.0/16
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.0/16"), nil}, {netip.MustParsePrefix("192.168.0.0/16"), gw},
		{netip.MustParsePrefix("10.1.1.4/32"), a}})
	buf := &logbuf.Buffer{}
	log := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("vnet", "v1")
	seen := 0

	for i, dst := range []string{"10.9.9.9", "10.1.2.99"} { // no route; the VNet's, no host
		pingTTL(t, a, netip.MustParseAddr(dst), 64)
		waitFor(t, "the drop of the ping to "+dst, func() bool { return r.Stats().NoRoute == uint64(i+1) })
	}
	pingTTL(t, a, netip.MustParseAddr("192.168.1.1"), 1)
	r.Ingress("a").Forward([]byte{0x45, 0, 0, 20}) // shorter than its header
	// What a host sends to its own link (mDNS) the metrics count as
	// no_route, but the log only at Debug: hosts send it all the time.
	r.Ingress("a").Forward(ipv4Packet("224.0.0.251", 255))
	waitFor(t, "the drops counted", func() bool { s := r.Stats(); return s.NoRoute == 3 && s.TTLExpired == 1 && s.Malformed == 1 })

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.LogDrops(now, log)
	lines := dropLines(t, buf, &seen)
	for reason, want := range map[string]map[string]any{
		"no_route":    {"vnet": "v1", "level": "INFO", "count": 2.0, "src": "10.1.1.4", "dst": "10.1.2.99"},
		"ttl_expired": {"vnet": "v1", "level": "INFO", "count": 1.0, "src": "10.1.1.4", "dst": "192.168.1.1"},
		"malformed":   {"vnet": "v1", "level": "WARN", "count": 1.0, "len": 4.0},
		"link_local":  {"vnet": "v1", "level": "DEBUG", "count": 1.0, "src": "10.1.0.4", "dst": "224.0.0.251"},
	} {
		l := lines[reason]
		if l == nil {
			t.Fatalf("no line for %s: %v", reason, lines)
		}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("line for %s: %s is %v, want %v (%v)", reason, k, l[k], v, l)
			}
		}
	}
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4: %v", len(lines), lines)
	}

	r.LogDrops(now.Add(10*time.Second), log)
	if lines := dropLines(t, buf, &seen); len(lines) != 0 {
		t.Fatalf("lines with no drop since: %v", lines)
	}
	pingTTL(t, a, netip.MustParseAddr("10.9.9.9"), 64)
	waitFor(t, "the third drop counted", func() bool { return r.Stats().NoRoute == 4 })
	r.LogDrops(now.Add(30*time.Second), log)
	if lines := dropLines(t, buf, &seen); len(lines) != 0 {
		t.Fatalf("lines within a minute of the last: %v", lines)
	}
	r.LogDrops(now.Add(sparselog.Every), log)
	lines = dropLines(t, buf, &seen)
	if l := lines["no_route"]; len(lines) != 1 || l == nil || l["count"] != 1.0 || l["dst"] != "10.9.9.9" {
		t.Fatalf("a minute later: %v, want a line no_route of 1 to 10.9.9.9", lines)
	}

	// As the VNet goes, what no line counted yet, within the minute.
	pingTTL(t, a, netip.MustParseAddr("10.1.2.99"), 64)
	waitFor(t, "the fourth drop counted", func() bool { return r.Stats().NoRoute == 5 })
	r.LogDrops(now.Add(sparselog.Every+time.Second), log)
	if lines := dropLines(t, buf, &seen); len(lines) != 0 {
		t.Fatalf("lines within a minute of the last: %v", lines)
	}
	r.LogRest(log)
	lines = dropLines(t, buf, &seen)
	if l := lines["no_route"]; len(lines) != 1 || l == nil || l["count"] != 1.0 || l["dst"] != "10.1.2.99" {
		t.Fatalf("the rest: %v, want a line no_route of 1 to 10.1.2.99", lines)
	}
	r.LogRest(log)
	if lines := dropLines(t, buf, &seen); len(lines) != 0 {
		t.Fatalf("the rest again: %v", lines)
	}
}

// TestDropsZeroAllocs: a batch of packets the router drops, for each
// reason, allocates nothing (STYLE.md, data path).
func TestDropsZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	r := twoSubnets()
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.0/16"), nil}, {netip.MustParsePrefix("192.168.0.0/16"), &recorder{}}})
	orig := [][]byte{
		ipv4Packet("10.9.9.9", 64),    // no route
		ipv4Packet("224.0.0.251", 64), // mDNS: not routable
		ipv4Packet("192.168.1.1", 1),  // TTL
		{0x45, 0, 0, 20},              // malformed
	}
	bufs := make([][]byte, len(orig))
	run := func() {
		for i, p := range orig {
			bufs[i] = append(bufs[i][:0], p...)
		}
		r.ForwardBatch(bufs, 0)
	}
	run()
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
}

// TestDropLogEgress: what a VNet's way to the Internet refuses (R43: a
// ping, neither TCP nor UDP; UDP to a private address no route of the
// VNet's holds) is in its router's no_route line, as in the metrics, with
// the last one's addresses.
func TestDropLogEgress(t *testing.T) {
	r := NewRouter()
	eg, err := NewEgress(r, EgressOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eg.Close()
	eg.SetSources([]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")})
	r.SetRoutes([]Route{{netip.MustParsePrefix("0.0.0.0/0"), eg}})
	r.Forward(ipv4With("10.1.0.4", "8.8.8.8", 1, 64, filled(16)))
	r.Forward(ipv4With("10.1.0.4", "10.9.9.9", 17, 64, filled(16)))
	if s, es := r.Stats(), eg.Stats(); s.NoRoute != 0 || es.Refused != 2 {
		t.Fatalf("router counted %d without a route, the egress refused %d; want 0 and 2", s.NoRoute, es.Refused)
	}
	buf := &logbuf.Buffer{}
	seen := 0
	r.LogDrops(time.Now(), slog.New(slog.NewJSONHandler(buf, nil)))
	lines := dropLines(t, buf, &seen)
	if l := lines["no_route"]; len(lines) != 1 || l == nil || l["count"] != 2.0 || l["src"] != "10.1.0.4" || l["dst"] != "10.9.9.9" {
		t.Fatalf("lines %v, want a line no_route of 2 from 10.1.0.4 to 10.9.9.9", lines)
	}
}
