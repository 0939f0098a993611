package fabric

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/sparselog"
)

// TestTUNHostSendsAfterLargeSegmentBatch (root): a TUN host whose TCP
// connection has a small MSS hands the device segment batches (TSO) of
// more segments than one read takes, which the device's read refuses
// with an error; the host goes on sending all the same: a ping from it
// is answered afterwards. Its pump stopped at the first such error, as
// it does when the device closes, and the host sent nothing more while
// it showed as running.
func TestTUNHostSendsAfterLargeSegmentBatch(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	r := NewRouter()
	ns := netnstest.New(t, "tso")
	addr := netip.MustParseAddr("10.1.0.4")
	a, err := NewTUNHost(ns.Name, addr, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := newHost(t, "b", "10.1.0.5", r)
	r.SetRoutes([]Route{{netip.PrefixFrom(addr, 32), a}, {netip.PrefixFrom(b.Addr(), 32), b}})
	if out, err := ns.Try("ping", "-c", "1", "-W", "5", b.Addr().String()); err != nil {
		t.Fatalf("ping before: %v\n%s", err, out)
	}

	// TCP_MAXSEG 88 (the least Linux takes): a 64 KiB batch is 745
	// segments, a read takes 128.
	var c net.Conn
	err = ns.Do(func() error {
		d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, 88) }); err != nil {
				return err
			}
			return serr
		}}
		var err error
		c, err = d.Dial("tcp", netip.AddrPortFrom(b.Addr(), EchoPort).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.Copy(io.Discard, c) // the echo
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1<<16)
	for sent := 0; sent < 4<<20; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			break // the host stopped sending: the ping says so
		}
	}
	c.Close()

	if out, err := ns.Try("ping", "-c", "1", "-W", "5", b.Addr().String()); err != nil {
		t.Fatalf("ping after the connection: %v\n%s", err, out)
	}
}

// TestTUNHostsShareANamespace (root): two TUN hosts in one namespace (the
// two network interfaces of one VM) each reach the VNet, and the one left
// when the other goes still does. Each device's default route replaced
// the one before it, so that the namespace had one default route, the
// last device's, and none at all once that device went: the host that
// stayed (its state Running) reached nothing.
func TestTUNHostsShareANamespace(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	r := NewRouter()
	ns := netnstest.New(t, "twonic")
	first, second := netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr("10.1.1.4")
	a, err := NewTUNHost(ns.Name, first, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewTUNHost(ns.Name, second, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newHost(t, "c", "10.1.2.4", r)
	r.SetRoutes([]Route{{netip.PrefixFrom(first, 32), a}, {netip.PrefixFrom(second, 32), b}, {netip.PrefixFrom(c.Addr(), 32), c}})
	ping := func(from netip.Addr) error {
		out, err := ns.Try("ping", "-c", "1", "-W", "5", "-I", from.String(), c.Addr().String())
		if err != nil {
			return fmt.Errorf("%v\n%s\nroutes:\n%s", err, out, ns.Run("ip", "route"))
		}
		return nil
	}
	for _, from := range []netip.Addr{first, second} {
		if err := ping(from); err != nil {
			t.Fatalf("ping from %v with both hosts: %v", from, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ping(first); err != nil {
		t.Fatalf("ping from %v once the other host went: %v", first, err)
	}
}

// TestTUNHostDropLog (root): a packet routed to a TUN host that its device
// cannot take (here one longer than any IP packet, from a port that does
// not cut it) is counted in Dropped and logged by LogDrops, "packets
// dropped" with reason undeliverable, its count and addresses, once a
// minute at most; what the minute held is logged as the host closes, and
// nothing after. Such a packet was neither counted nor logged.
func TestTUNHostDropLog(t *testing.T) {
	netnstest.Require(t, "ip")
	ns := netnstest.New(t, "droplog")
	var buf logbuf.Buffer
	h, err := NewTUNHost(ns.Name, netip.MustParseAddr("fd00::5"), NewRouter(), slog.New(slog.NewJSONHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	seen := 0
	lines := func() []map[string]any {
		t.Helper()
		out, err := logbuf.JSONLines(buf.Since(&seen))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	huge := ipv6With("fd00::4", "fd00::5", 17, 64, make([]byte, portBufSize))
	h.Deliver(huge)
	if n := h.Dropped(); n != 1 {
		t.Fatalf("Dropped = %d, want 1", n)
	}
	t0 := time.Now()
	h.LogDrops(t0)
	l := lines()
	want := map[string]any{"level": "WARN", "msg": "packets dropped", "reason": "undeliverable", "count": 1.0, "src": "fd00::4", "dst": "fd00::5", "dev": h.Name()}
	if len(l) != 1 {
		t.Fatalf("lines %v, want one", l)
	}
	for k, v := range want {
		if l[0][k] != v {
			t.Errorf("line %v has %s %v, want %v", l[0], k, l[0][k], v)
		}
	}
	h.Deliver(huge)
	h.Deliver(huge)
	h.LogDrops(t0.Add(time.Second))
	if l := lines(); len(l) != 0 {
		t.Fatalf("lines within the minute: %v", l)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if l := lines(); len(l) != 1 || l[0]["count"] != 2.0 || l[0]["reason"] != "undeliverable" {
		t.Fatalf("lines as the host closed %v, want undeliverable: 2", l)
	}
	h.LogDrops(t0.Add(2 * sparselog.Every))
	if l := lines(); len(l) != 0 {
		t.Fatalf("lines after the host closed: %v", l)
	}
}
