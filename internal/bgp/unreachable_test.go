package bgp

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
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
	const retry = 200 * time.Millisecond
	n, accept, dials := dialledPeer(t, netip.MustParseAddr("127.181.2.1"), netip.MustParseAddr("127.181.2.2"), retry)
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

// TestRedialAfterUnreachable: a session that ended because the peer
// became unreachable does not hold back the next dial by ConnectRetry
// (here a minute), as one the peer ended would: once the peer can be
// reached again, it is dialled at once, though the old connection, its
// Cease unanswered, closes only later.
func TestRedialAfterUnreachable(t *testing.T) {
	n, accept, _ := dialledPeer(t, netip.MustParseAddr("127.181.2.7"), netip.MustParseAddr("127.181.2.8"), time.Minute)
	p := accept()
	n.s.SetUnreachable([]string{"conn"})
	p.expectNotification(wire.CodeCease, wire.SubAdminReset)
	n.s.SetUnreachable(nil)
	accept()
	if ps := n.s.Peers(); ps[0].State != "Established" {
		t.Errorf("status of the peer dialled again: %+v", ps[0])
	}
}

// dialledPeer starts a speaker at a whose peer "conn" at b (AS 65002)
// listens, the speaker dialling it every retry. accept takes the next
// connection the speaker dials, within 30 s, exchanges OPENs and
// announces 10.9.0.0/16; dials holds those not taken yet.
func dialledPeer(t *testing.T, a, b netip.Addr, retry time.Duration) (n *node, accept func() *rawPeer, dials chan net.Conn) {
	t.Helper()
	dials = make(chan net.Conn, 100)
	t.Cleanup(func() { // after the listener closed
		for len(dials) > 0 {
			(<-dials).Close()
		}
	})
	port, l := peerListener(t, a, b)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			dials <- c
		}
	}()
	n = startNode(t, a.String(), port, 90*time.Second)
	n.s.opts.ConnectRetry = retry
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "conn", Addr: b, AS: 65002}}})
	accept = func() *rawPeer {
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
	return n, accept, dials
}

// TestUnreachableFromTheStart: a peer configured while it cannot be
// reached (its connection's tunnel not up yet) is not dialled, and its
// status says why it has no session.
func TestUnreachableFromTheStart(t *testing.T) {
	a, b := netip.MustParseAddr("127.181.2.3"), netip.MustParseAddr("127.181.2.4")
	port, l := peerListener(t, a, b)
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

// TestDialEndsWhenUnreachable: a dial under way when the peer becomes
// unreachable (the tunnel it went into is down: its SYNs are lost, and
// the kernel would retry them for seconds) is ended, and the peer is
// dialled again as soon as it can be reached, not a ConnectRetry later or
// when the lost dial gives up. The ended dial is no failure in the status.
func TestDialEndsWhenUnreachable(t *testing.T) {
	a, b := netip.MustParseAddr("127.181.2.5"), netip.MustParseAddr("127.181.2.6")
	port, l := peerListener(t, a, b)
	n := startNode(t, a.String(), port, 90*time.Second)
	n.s.opts.ConnectRetry = time.Minute
	// The first dial goes into a tunnel that is down: nothing answers.
	lost := make(chan struct{})
	var dials atomic.Int32
	real := n.s.opts.Dial
	n.s.opts.Dial = func(ctx context.Context, local netip.Addr, dst netip.AddrPort) (net.Conn, error) {
		if dials.Add(1) == 1 {
			close(lost)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return real(ctx, local, dst)
	}
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "conn", Addr: b, AS: 65002}}})
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatalf("the speaker did not dial its peer: %+v", n.s.Peers())
	}
	n.s.SetUnreachable([]string{"conn"})
	if ps := n.s.Peers(); !strings.Contains(ps[0].LastError, "the tunnels of connection conn are down") {
		t.Errorf("status of the unreachable peer: %+v", ps[0])
	}
	n.s.SetUnreachable(nil)
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(20 * time.Second): // a third of ConnectRetry
		t.Fatalf("the peer reachable again was not dialled (dials: %d): %+v", dials.Load(), n.s.Peers())
	}
	if ps := n.s.Peers(); strings.Contains(ps[0].LastError, "context canceled") {
		t.Errorf("the dial ended by the tunnels going down is reported: %+v", ps[0])
	}
}

// TestUnreachableMidHandshake: a peer that becomes unreachable while its
// connection waits for the peer's OPEN (OpenSent) is Idle once that
// connection has closed, not OpenSent until the tunnel is back.
func TestUnreachableMidHandshake(t *testing.T) {
	a, b := netip.MustParseAddr("127.181.2.9"), netip.MustParseAddr("127.181.2.10")
	port, l := peerListener(t, a, b)
	n := startNode(t, a.String(), port, 90*time.Second)
	n.s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "conn", Addr: b, AS: 65002}}})
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	(&rawPeer{t: t, c: c}).expect(wire.TypeOpen) // and never answers
	n.s.SetUnreachable([]string{"conn"})
	for deadline := time.Now().Add(10 * time.Second); n.s.Peers()[0].State != "Idle"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("state of the unreachable peer, its connection closed: %+v", n.s.Peers()[0])
		}
	}
}

// peerListener listens at b on a port free at a and b too, for a speaker
// at a to dial; the listener closes when the test ends.
func peerListener(t *testing.T, a, b netip.Addr) (uint16, net.Listener) {
	t.Helper()
	port := freePort(t, a, b)
	l, err := net.Listen("tcp", netip.AddrPortFrom(b, port).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return port, l
}

// TestNoUpdateAfterUnreachable: an UPDATE the speaker reads after its
// owner made the peer unreachable (sent before the peer read the Cease,
// or already in the socket) takes no route in (RFC 4271 §8.2.2: the
// session is over). Its routes came back and outlived the connection:
// kept in the table of a peer shown Idle, sent on to the other peers.
func TestNoUpdateAfterUnreachable(t *testing.T) {
	a, b := netip.MustParseAddr("127.181.9.1"), netip.MustParseAddr("127.181.9.2")
	n, accept, _ := dialledPeer(t, a, b, time.Minute)
	p := accept()
	n.s.SetUnreachable([]string{"conn"})
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: b,
		NLRI: pfxs("10.8.0.0/16")}.Append(nil, true)))
	p.expectNotification(wire.CodeCease, wire.SubAdminReset)
	p.c.Close()
	time.Sleep(2 * time.Second) // past ceaseWait: the connection has ended
	if best, learned := n.s.Best(), n.s.Learned(); len(best)+len(learned) != 0 {
		t.Errorf("the routes of an UPDATE after SetUnreachable: best %+v, learned %+v; want none", best, learned)
	}
	if ps := n.s.Peers(); ps[0].RoutesReceived != 0 {
		t.Errorf("the unreachable peer: %+v; want no routes received", ps[0])
	}
}
