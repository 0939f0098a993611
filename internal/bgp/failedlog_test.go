package bgp

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
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
	port := freePort(t, a)
	n := &node{addr: a}
	n.s = New(Options{Port: port, ConnectRetry: time.Hour, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	t.Cleanup(n.s.Close)
	l, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
	if err != nil {
		t.Fatal(err)
	}
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "raw", Addr: b, AS: 65009}}})
	n.s.Serve(l)
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
	want := "the peer says AS 65002, configured is 65009"
	var lines []string
	for deadline := time.Now().Add(10 * time.Second); len(lines) == 0; time.Sleep(10 * time.Millisecond) {
		for line := range strings.Lines(log.String()) {
			if strings.Contains(line, "BGP session not established") {
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
