package bgp

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestIPv6LocalRefused: a peer whose local address (the next hop of what
// it is sent) is an IPv6 address has no session: an IPv4 route's
// NEXT_HOP is an IPv4 address (RFC 4271 §5.1.3). Its connection is
// refused (Cease, Connection Rejected: RFC 4486 §4), it is listed with
// the reason, and the speaker, its other peers and its networks go on.
func TestIPv6LocalRefused(t *testing.T) {
	a, b, c := netip.MustParseAddr("127.82.3.1"), netip.MustParseAddr("127.82.3.2"), netip.MustParseAddr("127.82.3.3")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{
		{Name: "v6", Addr: b, AS: 65002, Local: netip.MustParseAddr("fd00::1")},
		{Name: "v4", Addr: c, AS: 65003},
	}})
	conn, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// All a session needs, at once: the speaker, had it answered, would
	// send its networks with fd00::1 as their next hop.
	conn.Write(append(mustAppend(wire.AppendMessage(nil, wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: b}.Append(nil))),
		mustAppend(wire.AppendMessage(nil, wire.TypeKeepalive, nil))...))
	(&rawPeer{t: t, c: conn}).expectNotification(wire.CodeCease, wire.SubRejected)
	ps := n.s.Peers()
	if len(ps) != 2 || ps[0].Name != "v6" || ps[0].State != "Idle" || !strings.Contains(ps[0].LastError, "fd00::1") {
		t.Errorf("peers: %+v", ps)
	}
	if adv := n.s.Advertised(b); len(adv) != 0 {
		t.Errorf("advertised to a peer that has no session: %+v", adv)
	}
	p := dialRawAS(t, n, c, port, 65003)
	u, err := wire.ParseUpdate(p.expect(wire.TypeUpdate), true)
	if err != nil || len(u.NLRI) != 1 || u.NextHop != a {
		t.Errorf("the IPv4 peer's announcement: %+v, %v", u, err)
	}
}

// TestUnencodableUpdateEndsSession: should a route the speaker cannot
// put in an UPDATE reach a session's sender (here a next hop that is no
// IPv4 address, which newPeer keeps from a session), the session ends
// and the log says why; the node goes on (the codec panicked).
func TestUnencodableUpdateEndsSession(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.87.3.1"), netip.MustParseAddr("127.87.3.2")
	port := freePort(t, a)
	n := startNode(t, a.String(), port, 0)
	n.s.log = slog.New(slog.NewTextHandler(&log, nil))
	n.s.opts.ConnectRetry = time.Hour
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "b", Addr: b, AS: 65002}}})
	p := dialRaw(t, n, b, port)
	p.expect(wire.TypeUpdate)
	n.s.mu.Lock()
	n.s.peers[b].cfg.Local = netip.MustParseAddr("fd00::1")
	n.s.mu.Unlock()
	p.send(wire.TypeRouteRefresh, []byte{0, 1, 0, 1}) // everything again
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := wire.ReadMessage(p.c, &p.buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the session goes on")
		}
		if err != nil {
			break
		}
	}
	if !strings.Contains(log.String(), "fd00::1 is no IPv4 address") {
		t.Errorf("the log does not say why the session ended:\n%s", log.String())
	}
	for deadline := time.Now().Add(10 * time.Second); n.s.Peers()[0].State == "Established"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the session stays: %+v", n.s.Peers())
		}
	}
	if ps := n.s.Peers(); !strings.Contains(ps[0].LastError, "fd00::1 is no IPv4 address") {
		t.Errorf("the peer's last error: %q", ps[0].LastError)
	}
}

// TestConnectionToOtherAddressRefused: a peer that peers with one of the
// speaker's addresses (an APIPA address) and connects to another of them
// (the speaker's identifier) has that connection refused with a Cease,
// Connection Rejected, and its status says why; its connection to the
// address it peers with opens the session.
func TestConnectionToOtherAddressRefused(t *testing.T) {
	var log logbuf.Buffer
	a, apipa, b := netip.MustParseAddr("127.82.9.1"), netip.MustParseAddr("127.82.9.21"), netip.MustParseAddr("127.82.9.2")
	port := freePort(t, a, apipa)
	n := &node{addr: a, s: New(Options{Port: port, ConnectRetry: time.Hour, Logger: slog.New(slog.NewTextHandler(&log, nil))})}
	t.Cleanup(n.s.Close)
	for _, at := range []netip.Addr{a, apipa} {
		l, err := net.Listen("tcp", netip.AddrPortFrom(at, port).String())
		if err != nil {
			t.Fatal(err)
		}
		n.s.Serve(l)
	}
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "b", Addr: b, AS: 65002, Local: apipa}}})
	waitDialFailed(t, n)
	conn, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(mustAppend(wire.AppendMessage(nil, wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: b}.Append(nil))))
	(&rawPeer{t: t, c: conn}).expectNotification(wire.CodeCease, wire.SubRejected)
	if ps := n.s.Peers(); len(ps) != 1 || ps[0].State == "Established" || !strings.Contains(ps[0].LastError, "peers with "+apipa.String()) {
		t.Errorf("peer after its connection to %v: %+v", a, ps)
	}
	if !strings.Contains(log.String(), "does not peer with") {
		t.Errorf("the refusal is not logged:\n%s", log.String())
	}
	n.addr = apipa
	p := dialRaw(t, n, b, port)
	u, err := wire.ParseUpdate(p.expect(wire.TypeUpdate), true)
	if err != nil || len(u.NLRI) != 1 || u.NextHop != apipa {
		t.Errorf("the announcement at %v: %+v, %v", apipa, u, err)
	}
}
