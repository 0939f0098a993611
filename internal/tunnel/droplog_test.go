package tunnel

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/sparselog"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
	"github.com/vnetgw/vnetgw/internal/udp"
)

// audited is a tunnel "t" between engine a, whose ESP is kept in sentA
// for the test to send as it likes, and engine b, which reads ESP from a
// real UDP socket on loopback (local) and logs into log. peer is the
// socket the test sends from, where b's ESP goes.
type audited struct {
	a, b           *Engine
	innerA, innerB *tuntest.Device
	sentA          *capture
	peer           *udp.Conn
	local          netip.AddrPort
	log            *logbuf.Buffer
}

// newAudited builds it; edit, when not nil, changes b's child before it
// is added.
func newAudited(t *testing.T, edit func(b *ipsec.Child)) *audited {
	t.Helper()
	x := &audited{innerA: tuntest.NewRecorder(64), innerB: tuntest.NewRecorder(64), sentA: &capture{}, log: &logbuf.Buffer{}}
	tr := udp.New(udp.Config{})
	t.Cleanup(func() { tr.Close() })
	var err error
	if x.a, err = New(Options{Inner: x.innerA, Outer: x.sentA}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.a.Close() })
	logger := slog.New(slog.NewJSONHandler(x.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if x.b, err = New(Options{Inner: x.innerB, Outer: tr, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.b.Close() })
	if x.local, err = tr.ListenNATT(netip.MustParseAddrPort("127.174.0.2:0"), x.b); err != nil {
		t.Fatal(err)
	}
	if x.peer, err = udp.Listen(netip.MustParseAddrPort("127.174.0.1:0")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.peer.Close() })
	x.a.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16")}}})
	x.b.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.1.0.0/16")}}})
	ca, cb := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
	ca.Local, ca.Remote = x.peer.LocalAddr(), x.local
	cb.Local, cb.Remote = x.local, x.peer.LocalAddr()
	if edit != nil {
		edit(&cb)
	}
	if err := x.a.AddChild(ca); err != nil {
		t.Fatal(err)
	}
	if err := x.b.AddChild(cb); err != nil {
		t.Fatal(err)
	}
	return x
}

// send sends datagrams to b from the peer's socket.
func (x *audited) send(t *testing.T, pkts ...[]byte) {
	t.Helper()
	msgs := make([]udp.Message, len(pkts))
	for i, p := range pkts {
		msgs[i] = udp.Message{Buf: p, Addr: x.local}
	}
	if err := x.peer.WriteBatch(msgs); err != nil {
		t.Fatal(err)
	}
}

// lines returns the lines logged since the last call, each as its JSON
// fields, and fails the test on any but the keys a drop line may have:
// no key material, no payload.
func (x *audited) lines(t *testing.T, seen *int) []map[string]any {
	t.Helper()
	ms, err := logbuf.JSONLines(x.log.Since(seen))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	allowed := []string{"time", "level", "msg", "conn", "reason", "count", "spi", "seq", "peer", "local"}
	for _, m := range ms {
		if m["msg"] != "packets dropped" {
			continue
		}
		for k := range m {
			if !slices.Contains(allowed, k) {
				t.Errorf("line %v has %q", m, k)
			}
		}
		out = append(out, m)
	}
	return out
}

// find returns the line of reason, failing the test unless there is one.
func find(t *testing.T, lines []map[string]any, reason string) map[string]any {
	t.Helper()
	var found map[string]any
	for _, l := range lines {
		if l["reason"] == reason {
			if found != nil {
				t.Fatalf("two lines for %s: %v", reason, lines)
			}
			found = l
		}
	}
	if found == nil {
		t.Fatalf("no line for %s in %v", reason, lines)
	}
	return found
}

// want checks fields of a line (JSON numbers are float64).
func want(t *testing.T, l map[string]any, fields map[string]any) {
	t.Helper()
	for k, v := range fields {
		if n, ok := v.(int); ok {
			v = float64(n)
		}
		if l[k] != v {
			t.Errorf("line %v: %s is %v, want %v", l, k, l[k], v)
		}
	}
}

// TestDropLogRFC4303Section4: replayed, forged, short and unknown-SPI ESP
// sent over loopback to a real tunnel are logged, one line per tunnel (or
// engine) and reason, naming the tunnel, the reason, the count, and the
// SPI, sequence number, peer and local address of the last packet (RFC
// 4303 §3.4.2, §3.4.3, §3.4.4: auditable events; §4: what their entry
// SHOULD say). More of them within a minute are counted into the next
// line, logged once the minute has passed, and nothing is logged when
// nothing was dropped.
func TestDropLogRFC4303Section4(t *testing.T) {
	x := newAudited(t, nil)
	for range 3 {
		x.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
	}
	sent := x.sentA.wait(t, 3)
	forged := slices.Clone(sent[2])
	forged[len(forged)-1] ^= 1
	unknown := slices.Clone(sent[1])
	binary.BigEndian.PutUint32(unknown, 0xdeadbeef)
	// The first, twice replayed; the third forged; one of no SA; one
	// shorter than an ESP header.
	x.send(t, sent[0], sent[0], sent[0], forged, unknown, []byte{0xa0, 0, 0})
	eventually(t, "the drops counted", func() bool {
		d := status(t, x.b, "t").Drops
		return d.Replay == 2 && d.Integrity == 1 && x.b.Drops().UnknownSPI == 1 && x.b.Drops().Short == 1
	})
	peer, local := x.peer.LocalAddr().String(), x.local.String()
	seen := 0
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	x.b.LogDrops(t0)
	lines := x.lines(t, &seen)
	if len(lines) != 4 {
		t.Fatalf("lines %v, want 4 (replay, integrity, unknown_spi, short)", lines)
	}
	want(t, find(t, lines, "replay"), map[string]any{"level": "WARN", "conn": "t", "count": 2, "spi": "0xb0000001", "seq": 1, "peer": peer, "local": local})
	want(t, find(t, lines, "integrity"), map[string]any{"level": "WARN", "conn": "t", "count": 1, "spi": "0xb0000001", "seq": 3, "peer": peer, "local": local})
	want(t, find(t, lines, "unknown_spi"), map[string]any{"level": "WARN", "count": 1, "spi": "0xdeadbeef", "seq": 2, "peer": peer, "local": local})
	want(t, find(t, lines, "short"), map[string]any{"level": "WARN", "count": 1, "peer": peer, "local": local})
	if _, ok := find(t, lines, "unknown_spi")["conn"]; ok {
		t.Error("the line of no SA names a tunnel")
	}

	// Within the minute: counted, not logged.
	x.send(t, sent[1], sent[1], sent[1])
	eventually(t, "the second round counted", func() bool { return status(t, x.b, "t").Drops.Replay == 4 })
	x.b.LogDrops(t0.Add(sparselog.Every - time.Second))
	if l := x.lines(t, &seen); len(l) != 0 {
		t.Fatalf("lines within the minute: %v", l)
	}
	// Once it has passed: one line with what was counted meanwhile.
	x.b.LogDrops(t0.Add(sparselog.Every))
	lines = x.lines(t, &seen)
	if len(lines) != 1 {
		t.Fatalf("lines after the minute %v, want the replays alone", lines)
	}
	want(t, lines[0], map[string]any{"reason": "replay", "count": 2, "seq": 2})
	x.b.LogDrops(t0.Add(3 * sparselog.Every))
	if l := x.lines(t, &seen); len(l) != 0 {
		t.Fatalf("lines with nothing dropped: %v", l)
	}
	// What went through was delivered, and no packet's bytes reached the
	// log.
	if _, ok := x.innerB.Next(5 * time.Second); !ok {
		t.Fatal("the first packet was not delivered")
	}
	if bytes.Contains([]byte(x.log.String()), sent[0][8:24]) {
		t.Fatal("a packet's bytes were logged")
	}
}

// TestSealDropLogRFC4303Section3_3_3: an outbound SA that can seal no more
// (here its hard packet limit; a sequence number that would overflow takes
// the same path) is logged when it expires with its SPI and sequence
// number, and the packets it then refuses are logged as dropped with
// them (RFC 4303 §3.3.3, §4: an auditable event).
func TestSealDropLogRFC4303Section3_3_3(t *testing.T) {
	x := newAudited(t, func(b *ipsec.Child) { b.Out.Limits.HardPackets = 2 })
	for range 4 {
		x.innerB.Send(packet("10.2.0.1", "10.1.0.1", 72))
	}
	eventually(t, "the refusals counted", func() bool { return status(t, x.b, "t").Drops.Seal == 2 })
	eventually(t, "the hard expiry logged", func() bool { return strings.Contains(x.log.String(), "child hard expired") })
	var expired map[string]any
	for l := range strings.Lines(x.log.String()) {
		if strings.Contains(l, "child hard expired") {
			if err := json.Unmarshal([]byte(l), &expired); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, _ := expired["out"].(map[string]any)
	if out["spi"] != "0xa0000001" || out["seq"] != float64(2) || expired["peer"] != x.peer.LocalAddr().String() || expired["local"] != x.local.String() {
		t.Errorf("hard expiry %v, want the outbound spi 0xa0000001 at seq 2 and both addresses", expired)
	}
	seen := 0
	x.b.LogDrops(time.Now())
	lines := x.lines(t, &seen)
	if len(lines) != 1 {
		t.Fatalf("lines %v, want the seal drops alone", lines)
	}
	want(t, lines[0], map[string]any{"level": "WARN", "conn": "t", "reason": "seal", "count": 2, "spi": "0xa0000001", "seq": 2})
}

// TestDropsZeroAllocs: a batch of refused ESP (replays, forgeries, packets
// of no SA, short ones), whose drops are counted and kept for the log,
// allocates nothing.
func TestDropsZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	c := newCaptured(t, nil)
	c.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
	c.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
	sent := c.sentA.wait(t, 2)
	c.eb.HandleESP(addrB, datagrams(sent[0]))
	forged := slices.Clone(sent[1])
	forged[len(forged)-1] ^= 1
	unknown := slices.Clone(sent[0])
	binary.BigEndian.PutUint32(unknown, 0xdeadbeef)
	pkts := [][]byte{sent[0], sent[0], forged, unknown, {0xa0, 0, 0}}
	msgs := datagrams(pkts...)
	allocs := testing.AllocsPerRun(100, func() {
		for i, p := range pkts {
			msgs[i].N = copy(msgs[i].Buf, p)
		}
		c.eb.HandleESP(addrB, msgs)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
	if d := status(t, c.eb, "t").Drops; d.Replay < 200 || d.Integrity < 100 {
		t.Errorf("drops %+v, want the batches refused", d)
	}
}

// TestDropNamesComplete: every reason a tunnel drops a packet for has a
// name for its log line; a reason added without one logs reason="".
func TestDropNamesComplete(t *testing.T) {
	for r := dropNone + 1; r < dropCount; r++ {
		if dropNames[r] == "" {
			t.Errorf("drop reason %d has no name", r)
		}
	}
}

// TestDropLogOfRemovedTunnel: the drops of a tunnel that goes, removed by
// Reconfig or with the engine's Close, counted within the minute after
// its last line, are logged as it goes, a line per reason with their
// count and last packet, and not again.
func TestDropLogOfRemovedTunnel(t *testing.T) {
	for _, how := range []string{"reconfig", "close"} {
		t.Run(how, func(t *testing.T) {
			x := newAudited(t, nil)
			x.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
			x.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
			sent := x.sentA.wait(t, 2)
			x.send(t, sent[0], sent[0])
			eventually(t, "the first replay counted", func() bool { return status(t, x.b, "t").Drops.Replay == 1 })
			seen := 0
			t0 := time.Now()
			x.b.LogDrops(t0)
			want(t, find(t, x.lines(t, &seen), "replay"), map[string]any{"count": 1})
			x.send(t, sent[0], sent[1], sent[1], sent[1])
			eventually(t, "three more replays counted", func() bool { return status(t, x.b, "t").Drops.Replay == 4 })
			x.b.LogDrops(t0.Add(time.Second))
			if l := x.lines(t, &seen); len(l) != 0 {
				t.Fatalf("lines within the minute: %v", l)
			}
			if how == "reconfig" {
				if err := x.b.Reconfig(Config{}); err != nil {
					t.Fatal(err)
				}
			} else if err := x.b.Close(); err != nil {
				t.Fatal(err)
			}
			lines := x.lines(t, &seen)
			if len(lines) != 1 {
				t.Fatalf("lines as the tunnel went %v, want the replays alone", lines)
			}
			want(t, lines[0], map[string]any{"level": "WARN", "conn": "t", "reason": "replay", "count": 3, "spi": "0xb0000001", "seq": 2,
				"peer": x.peer.LocalAddr().String(), "local": x.local.String()})
			x.b.LogDrops(t0.Add(2 * sparselog.Every))
			if l := x.lines(t, &seen); len(l) != 0 {
				t.Fatalf("lines after the tunnel went: %v", l)
			}
		})
	}
}

// TestDropLogOfClosedEngine: the drops before a tunnel is known (here ESP
// of no SA and ESP shorter than its header) counted within the minute
// after their last line are logged as the engine closes, with their
// count and last packet, as a removed tunnel's are: the owner's tick,
// which would have logged them, stops with it.
func TestDropLogOfClosedEngine(t *testing.T) {
	x := newAudited(t, nil)
	x.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
	sent := x.sentA.wait(t, 1)
	unknown := slices.Clone(sent[0])
	binary.BigEndian.PutUint32(unknown, 0xdeadbeef)
	x.send(t, unknown, []byte{0xa0, 0, 0})
	eventually(t, "the first drops counted", func() bool { return x.b.Drops().UnknownSPI == 1 && x.b.Drops().Short == 1 })
	seen := 0
	t0 := time.Now()
	x.b.LogDrops(t0)
	if l := x.lines(t, &seen); len(l) != 2 {
		t.Fatalf("first lines %v, want unknown_spi and short", l)
	}
	binary.BigEndian.PutUint32(unknown[4:], 7)
	x.send(t, unknown, unknown, []byte{0xa0, 0, 0})
	eventually(t, "more drops counted", func() bool { return x.b.Drops().UnknownSPI == 3 && x.b.Drops().Short == 2 })
	x.b.LogDrops(t0.Add(time.Second))
	if l := x.lines(t, &seen); len(l) != 0 {
		t.Fatalf("lines within the minute: %v", l)
	}
	if err := x.b.Close(); err != nil {
		t.Fatal(err)
	}
	lines := x.lines(t, &seen)
	if len(lines) != 2 {
		t.Fatalf("lines as the engine closed %v, want unknown_spi and short", lines)
	}
	peer, local := x.peer.LocalAddr().String(), x.local.String()
	want(t, find(t, lines, "unknown_spi"), map[string]any{"level": "WARN", "count": 2, "spi": "0xdeadbeef", "seq": 7, "peer": peer, "local": local})
	want(t, find(t, lines, "short"), map[string]any{"level": "WARN", "count": 1, "peer": peer, "local": local})
	x.b.LogDrops(t0.Add(2 * sparselog.Every))
	if l := x.lines(t, &seen); len(l) != 0 {
		t.Fatalf("lines after the engine closed: %v", l)
	}
}
