package bgp

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestUnreachablePeer: a peer its owner says cannot be reached (the
// tunnels of its connection are down) has its session end at once, not
// when the hold timer expires: its routes are gone when SetUnreachable
// returns (RFC 4271 §8.2.2, AutomaticStop), it is sent a Cease
// (Administrative Reset), and the status says why. It is not dialled
// while it cannot be reached, and is again when it can.
func TestUnreachablePeer(t *testing.T) {
	a, b := netip.MustParseAddr("127.181.2.1"), netip.MustParseAddr("127.181.2.2")
	port := freePort(t, a, b)
	l, err := net.Listen("tcp", netip.AddrPortFrom(b, port).String())
	if err != nil {
		t.Fatal(err)
	}
	dials := make(chan net.Conn, 100)
	defer func() {
		l.Close()
		for len(dials) > 0 {
			(<-dials).Close()
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			dials <- c
		}
	}()
	n := startNode(t, a.String(), port, 90*time.Second)
	const retry = 200 * time.Millisecond
	n.s.opts.ConnectRetry = retry
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "conn", Addr: b, AS: 65002}}})
	accept := func() *rawPeer {
		t.Helper()
		select {
		case c := <-dials:
			t.Cleanup(func() { c.Close() })
			p := &rawPeer{t: t, c: c}
			p.expect(wire.TypeOpen)
			p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 90, ID: b}.Append(nil))
			p.send(wire.TypeKeepalive, nil)
			p.expect(wire.TypeKeepalive)
			p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: b,
				NLRI: pfxs("10.9.0.0/16")}.Append(nil, true)))
			waitRoutes(t, n, map[string]string{"10.9.0.0/16": "65002"})
			return p
		case <-time.After(30 * time.Second):
			t.Fatalf("the speaker did not dial its peer: %+v", n.s.Peers())
			return nil
		}
	}
	p := accept()

	n.s.SetUnreachable([]string{"conn"})
	if best := n.s.Best(); len(best) != 0 {
		t.Errorf("routes of the unreachable peer stay: %v", best)
	}
	ps := n.s.Peers()
	if ps[0].State == "Established" || !strings.Contains(ps[0].LastError, "the tunnels of connection conn are down") {
		t.Errorf("status of the unreachable peer: %+v", ps[0])
	}
	p.expectNotification(wire.CodeCease, wire.SubAdminReset)

	// ConnectRetry is 200 ms: in 2 s, a peer that can be reached would be
	// dialled several times.
	select {
	case <-dials:
		t.Fatalf("the unreachable peer was dialled: %+v", n.s.Peers())
	case <-time.After(10 * retry):
	}
	n.s.SetUnreachable(nil)
	accept()
}

// TestUnreachableFromTheStart: a peer configured while it cannot be
// reached (its connection's tunnel not up yet) is not dialled, and its
// status says why it has no session.
func TestUnreachableFromTheStart(t *testing.T) {
	a, b := netip.MustParseAddr("127.181.2.3"), netip.MustParseAddr("127.181.2.4")
	port := freePort(t, a, b)
	l, err := net.Listen("tcp", netip.AddrPortFrom(b, port).String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dialled := make(chan struct{}, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
			dialled <- struct{}{}
		}
	}()
	n := startNode(t, a.String(), port, 0)
	n.s.SetUnreachable([]string{"conn"})
	n.s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "conn", Addr: b, AS: 65002}}})
	// ConnectRetry is 200 ms.
	select {
	case <-dialled:
		t.Fatalf("the unreachable peer was dialled: %+v", n.s.Peers())
	case <-time.After(2 * time.Second):
	}
	if ps := n.s.Peers(); ps[0].State != "Idle" || ps[0].LastError != "the tunnels of connection conn are down" {
		t.Errorf("status of the peer: %+v", ps[0])
	}
}
