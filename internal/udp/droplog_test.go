package udp

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/sparselog"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// dropRig is a Transport logging as JSON, one NAT-T endpoint of it at
// local, and a socket at src that sends it datagrams.
type dropRig struct {
	t     *testing.T
	buf   logbuf.Buffer
	tr    *Transport
	local netip.AddrPort
	src   *Conn
	seen  int // how much of buf lines has read
}

func newDropRig(t *testing.T, local, src string) *dropRig {
	r := &dropRig{t: t}
	r.tr = New(Config{Logger: slog.New(slog.NewJSONHandler(&r.buf, nil))})
	t.Cleanup(func() { r.tr.Close() })
	var err error
	if r.local, err = r.tr.ListenNATT(netip.MustParseAddrPort(local), nil); err != nil {
		t.Fatal(err)
	}
	if r.src, err = Listen(netip.MustParseAddrPort(src)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.src.Close() })
	return r
}

// esp is an ESP datagram, which an endpoint without a handler drops.
var esp = append([]byte{0xa0, 0, 0, 1, 0, 0, 0, 1}, "payload-bytes"...)

func (r *dropRig) send(bufs ...[]byte) {
	r.t.Helper()
	for _, b := range bufs {
		if err := r.src.WriteBatch([]Message{{Buf: b, Addr: r.local}}); err != nil {
			r.t.Fatal(err)
		}
	}
}

// wait waits until the Transport has counted the drops.
func (r *dropRig) wait(malformed, noHandler uint64) {
	r.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if d := r.tr.Stats().Drops; d.Malformed == malformed && d.NoHandler == noHandler {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("drops %+v, want %d malformed and %d without handler", r.tr.Stats().Drops, malformed, noHandler)
		}
	}
}

// unloggedDrops has the endpoint drop a malformed datagram and one
// without a handler, logged at once (a first line of each reason), and
// then two and one more within the minute, which are not; it returns when
// the first lines were logged.
func (r *dropRig) unloggedDrops() time.Time {
	r.t.Helper()
	r.send([]byte{}, esp)
	r.wait(1, 1)
	t0 := time.Now()
	r.tr.LogDrops(t0)
	if got := r.lines(); len(got) != 2 {
		r.t.Fatalf("first lines %v, want malformed and no_handler", got)
	}
	r.send([]byte{}, espwire.AppendNonESPMarker(nil), esp)
	r.wait(3, 2)
	r.tr.LogDrops(t0.Add(time.Second))
	if got := r.lines(); len(got) != 0 {
		r.t.Fatalf("lines within the minute: %v", got)
	}
	return t0
}

// wantLastLines checks the lines logged as the endpoint went (how): those
// of unloggedDrops not yet logged, malformed: 2 and no_handler: 1, from the
// sender.
func (r *dropRig) wantLastLines(how string) {
	r.t.Helper()
	got := r.lines()
	peer := r.src.LocalAddr().String()
	if m := got["malformed"]; len(got) != 2 || m["count"] != 2.0 || m["peer"] != peer || m["local"] != r.local.String() {
		r.t.Errorf("lines as %s %v, want malformed: 2 from %s at %s", how, got, peer, r.local)
	}
	if m := got["no_handler"]; m["count"] != 1.0 || m["peer"] != peer {
		r.t.Errorf("lines as %s %v, want no_handler: 1 from %s", how, got, peer)
	}
}

// lines returns the lines logged since the last call, by reason, and
// fails on one with an attribute other than those a drop line has.
func (r *dropRig) lines() map[string]map[string]any {
	r.t.Helper()
	ms, err := logbuf.JSONLines(r.buf.Since(&r.seen))
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, m := range ms {
		for k := range m {
			if !strings.Contains(" time level msg local reason count peer ", " "+k+" ") {
				r.t.Errorf("line %v has %q", m, k)
			}
		}
		out[m["reason"].(string)] = m
	}
	return out
}

// TestDropLog: datagrams a NAT-T endpoint drops (malformed: empty, or a
// non-ESP marker alone, RFC 3948 §2; ESP with no handler) are logged, a
// line per endpoint and reason with the count and the last one's sender,
// once a minute at most, what comes within the minute counted into the
// next line; nothing of the datagrams' bytes.
func TestDropLog(t *testing.T) {
	r := newDropRig(t, "127.174.0.3:0", "127.174.0.4:0")
	tr, local, src, send, wait, lines := r.tr, r.local, r.src, r.send, r.wait, r.lines
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
	if strings.Contains(r.buf.String(), "payload-bytes") {
		t.Fatal("a datagram's bytes were logged")
	}
}

// TestDropLogOfClosedTransport: the datagrams an endpoint dropped within
// the minute after its last line are logged as the Transport closes (the
// gateway stops), a line per reason with the count and the last sender,
// and not again: the owner's tick, which would have logged them, stops
// with it.
func TestDropLogOfClosedTransport(t *testing.T) {
	r := newDropRig(t, "127.180.0.1:0", "127.180.0.2:0")
	t0 := r.unloggedDrops()
	if err := r.tr.Close(); err != nil {
		t.Fatal(err)
	}
	r.wantLastLines("the Transport closed")
	r.tr.LogDrops(t0.Add(2 * sparselog.Every))
	if got := r.lines(); len(got) != 0 {
		t.Fatalf("lines after the Transport closed: %v", got)
	}
}
