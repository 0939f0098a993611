package bgp

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestSessionNotEstablishedLogged: a peer whose session cannot come up,
// for an OPEN the speaker refuses (it says another ASN than configured),
// has the reason in the node's log at once, as a warning, and again once
// a minute at most however often it connects: the operator reads why the
// peer stays Connecting, the peer's status in the API having no error to
// show.
func TestSessionNotEstablishedLogged(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.144.7.1"), netip.MustParseAddr("127.144.7.2")
	_, port := loggedRawSpeaker(t, a, b, 65009, &log, nil)
	for range 5 {
		c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
		if err != nil {
			t.Fatal(err)
		}
		p := &rawPeer{t: t, c: c}
		p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: b}.Append(nil))
		p.expectNotification(wire.CodeOpen, wire.SubBadPeerAS)
		c.Close()
	}
	// The speaker's own dial (nothing listens at the peer's address) is
	// logged apart.
	want := "the peer says AS 65002, configured is 65009"
	var lines []string
	for deadline := time.Now().Add(10 * time.Second); len(lines) == 0; time.Sleep(10 * time.Millisecond) {
		for line := range strings.Lines(log.String()) {
			if strings.Contains(line, "BGP session not established") && !strings.Contains(line, "connect: dial") {
				lines = append(lines, line)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused OPEN is not logged:\n%s", log.String())
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], want) {
		t.Errorf("5 refused OPENs logged as %q, want one warning naming %q", lines, want)
	}
}

// TestDialFailureLogged: a peer that nothing answers at its address (no
// BGP there, or the wrong address configured) has the speaker's failed
// dials in the node's log, a warning, once a minute at most.
func TestDialFailureLogged(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.144.9.1"), netip.MustParseAddr("127.144.9.2")
	port := freePort(t, a, b)
	var dials atomic.Int32
	s := New(Options{Port: port, ConnectRetry: 20 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Dial: func(ctx context.Context, _ netip.Addr, dst netip.AddrPort) (net.Conn, error) {
			defer dials.Add(1)
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0))}
			return d.DialContext(ctx, "tcp", dst.String())
		}})
	t.Cleanup(s.Close)
	s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "nobody", Addr: b, AS: 65002}}})
	// Five dials fail: one line.
	for deadline := time.Now().Add(30 * time.Second); dials.Load() < 6; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d dials in 30 s", dials.Load())
		}
	}
	var lines []string
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "BGP session not established") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "connect: dial tcp") || !strings.Contains(lines[0], "connection refused") {
		t.Errorf("failed dials logged as %q, want one warning saying the connection was refused", lines)
	}
}

// TestFailureAfterSessionLogged: a session that comes up ends the outage
// its failures were logged for: the first failure after it, within a
// minute of the last line, starts a new one and is logged at once, a
// warning counting itself alone, not held for the next minute's line (a
// debug line, which the node's log does not show) with the failures of
// before the session counted in.
func TestFailureAfterSessionLogged(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.144.11.1"), netip.MustParseAddr("127.144.11.2")
	n, port := loggedRawSpeaker(t, a, b, 65002, &log, nil)
	refused := func() {
		t.Helper()
		c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := &rawPeer{t: t, c: c}
		p.send(wire.TypeOpen, wire.Open{AS: 65009, HoldTime: 30, ID: b}.Append(nil))
		p.expectNotification(wire.CodeOpen, wire.SubBadPeerAS)
	}
	warnings := func() []string {
		var lines []string
		for line := range strings.Lines(log.String()) {
			// The speaker's own dial (nothing listens at the peer's
			// address) is logged apart.
			if strings.Contains(line, "BGP session not established") && strings.Contains(line, "level=WARN") && !strings.Contains(line, "connect: dial") {
				lines = append(lines, line)
			}
		}
		return lines
	}
	// An outage of two failures: one line, the second counted.
	refused()
	refused()
	waitLog(t, &log, "BGP session not established", "the peer says AS 65009")
	// The session comes up, and ends.
	p := dialRaw(t, n, b, port)
	p.expect(wire.TypeUpdate)
	p.c.Close()
	waitLog(t, &log, "BGP session down", "the peer closed the connection")
	waitDown(t, n)
	// The peer's next OPEN is refused: a new outage, logged at once.
	refused()
	for deadline := time.Now().Add(10 * time.Second); len(warnings()) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the failure after the session is not logged as a warning:\n%s", log.String())
		}
	}
	if lines := warnings(); len(lines) != 2 || !strings.Contains(lines[1], "failed=1 ") {
		t.Errorf("failures logged as %q, want a second warning counting one failure", lines)
	}
}
