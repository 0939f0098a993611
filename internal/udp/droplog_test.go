package udp

import (
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/sparselog"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// TestDropLog: datagrams a NAT-T endpoint drops (malformed: empty, or a
// non-ESP marker alone, RFC 3948 §2; ESP with no handler) are logged, a
// line per endpoint and reason with the count and the last one's sender,
// once a minute at most, what comes within the minute counted into the
// next line; nothing of the datagrams' bytes.
func TestDropLog(t *testing.T) {
	var buf logbuf.Buffer
	tr := New(Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	defer tr.Close()
	local, err := tr.ListenNATT(netip.MustParseAddrPort("127.174.0.3:0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := Listen(netip.MustParseAddrPort("127.174.0.4:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	esp := append([]byte{0xa0, 0, 0, 1, 0, 0, 0, 1}, "payload-bytes"...)
	send := func(bufs ...[]byte) {
		t.Helper()
		for _, b := range bufs {
			if err := src.WriteBatch([]Message{{Buf: b, Addr: local}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	wait := func(malformed, noHandler uint64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if d := tr.Stats().Drops; d.Malformed == malformed && d.NoHandler == noHandler {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("drops %+v, want %d malformed and %d without handler", tr.Stats().Drops, malformed, noHandler)
			}
		}
	}
	seen := 0
	lines := func() map[string]map[string]any {
		t.Helper()
		all := buf.String()
		text := all[seen:]
		seen = len(all)
		out := map[string]map[string]any{}
		for l := range strings.Lines(text) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			for k := range m {
				if !strings.Contains(" time level msg local reason count peer ", " "+k+" ") {
					t.Errorf("line %q has %q", l, k)
				}
			}
			out[m["reason"].(string)] = m
		}
		return out
	}
	send([]byte{}, espwire.AppendNonESPMarker(nil), esp, esp, esp)
	wait(2, 3)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.LogDrops(t0)
	got := lines()
	peer := src.LocalAddr().String()
	if m := got["malformed"]; len(got) != 2 || m["msg"] != "datagrams dropped" || m["level"] != "WARN" || m["count"] != 2.0 || m["peer"] != peer || m["local"] != local.String() {
		t.Errorf("lines %v, want malformed: 2 from %s at %s", got, peer, local)
	}
	if m := got["no_handler"]; m["count"] != 3.0 || m["peer"] != peer || m["level"] != "INFO" {
		t.Errorf("lines %v, want no_handler: 3 from %s", got, peer)
	}
	send([]byte{})
	wait(3, 3)
	tr.LogDrops(t0.Add(sparselog.Every - time.Second))
	if got := lines(); len(got) != 0 {
		t.Fatalf("lines within the minute: %v", got)
	}
	tr.LogDrops(t0.Add(sparselog.Every))
	if got := lines(); len(got) != 1 || got["malformed"]["count"] != 1.0 {
		t.Fatalf("lines after the minute %v, want malformed: 1", got)
	}
	if strings.Contains(buf.String(), "payload-bytes") {
		t.Fatal("a datagram's bytes were logged")
	}
}

// TestDropLogOfClosedTransport: the datagrams an endpoint dropped within
// the minute after its last line are logged as the Transport closes (the
// gateway stops), a line per reason with the count and the last sender,
// and not again: the owner's tick, which would have logged them, stops
// with it.
func TestDropLogOfClosedTransport(t *testing.T) {
	var buf logbuf.Buffer
	tr := New(Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	defer tr.Close()
	local, err := tr.ListenNATT(netip.MustParseAddrPort("127.180.0.1:0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := Listen(netip.MustParseAddrPort("127.180.0.2:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	esp := append([]byte{0xa0, 0, 0, 1, 0, 0, 0, 1}, "payload-bytes"...)
	send := func(bufs ...[]byte) {
		t.Helper()
		for _, b := range bufs {
			if err := src.WriteBatch([]Message{{Buf: b, Addr: local}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	wait := func(malformed, noHandler uint64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if d := tr.Stats().Drops; d.Malformed == malformed && d.NoHandler == noHandler {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("drops %+v, want %d malformed and %d without handler", tr.Stats().Drops, malformed, noHandler)
			}
		}
	}
	seen := 0
	lines := func() map[string]map[string]any {
		t.Helper()
		all := buf.String()
		text := all[seen:]
		seen = len(all)
		out := map[string]map[string]any{}
		for l := range strings.Lines(text) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			out[m["reason"].(string)] = m
		}
		return out
	}
	send([]byte{}, esp)
	wait(1, 1)
	t0 := time.Now()
	tr.LogDrops(t0)
	if got := lines(); len(got) != 2 {
		t.Fatalf("first lines %v, want malformed and no_handler", got)
	}
	send([]byte{}, espwire.AppendNonESPMarker(nil), esp)
	wait(3, 2)
	tr.LogDrops(t0.Add(time.Second))
	if got := lines(); len(got) != 0 {
		t.Fatalf("lines within the minute: %v", got)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	got := lines()
	peer := src.LocalAddr().String()
	if m := got["malformed"]; len(got) != 2 || m["count"] != 2.0 || m["peer"] != peer || m["local"] != local.String() {
		t.Errorf("lines as the Transport closed %v, want malformed: 2 from %s at %s", got, peer, local)
	}
	if m := got["no_handler"]; m["count"] != 1.0 || m["peer"] != peer {
		t.Errorf("lines as the Transport closed %v, want no_handler: 1 from %s", got, peer)
	}
	tr.LogDrops(t0.Add(2 * sparselog.Every))
	if got := lines(); len(got) != 0 {
		t.Fatalf("lines after the Transport closed: %v", got)
	}
}
