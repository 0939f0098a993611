package bgp

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestConnectRetryAfterRefusal: a peer that refuses the session (here its
// AS is another) is dialled again after ConnectRetry, not at once, over
// and over.
func TestConnectRetryAfterRefusal(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.48.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				var buf [wire.MaxLen]byte
				if _, _, err := wire.ReadMessage(c, &buf); err != nil {
					return
				}
				// The peer is of another AS than configured: it says so.
				c.Write(mustAppend(wire.AppendMessage(nil, wire.TypeNotification, wire.Notification{Code: wire.CodeOpen, Subcode: wire.SubBadPeerAS}.Append(nil))))
			}()
		}
	}()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	sp := New(Options{Port: port, ConnectRetry: 5 * time.Second, Dial: func(ctx context.Context, _ netip.Addr, dst netip.AddrPort) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.48.1")}}
		return d.DialContext(ctx, "tcp", dst.String())
	}})
	defer sp.Close()
	sp.Reconfig(Config{AS: 65010, ID: netip.MustParseAddr("127.0.48.1"), Peers: []Peer{{Name: "p", Addr: netip.MustParseAddr("127.0.48.2"), AS: 65020}}})
	time.Sleep(3 * time.Second)
	if n := conns.Load(); n > 1 {
		t.Errorf("%d connections in 3 s with ConnectRetry 5 s", n)
	}
}

// TestConnectRetryAfterInboundRefusal: between two speakers that do not
// agree (one has the other's AS wrong), each refuses the other's
// connections. The speaker dials ConnectRetry (jittered, RFC 4271 §10)
// after the last connection with the peer ended, the peer's own connections too: one it refused is
// no reason to dial at once, which doubled the dials.
func TestConnectRetryAfterInboundRefusal(t *testing.T) {
	a, b := netip.MustParseAddr("127.87.2.1"), netip.MustParseAddr("127.87.2.2")
	port := freePort(t, a, b)
	na, nb := startNode(t, a.String(), port, 0), startNode(t, b.String(), port, 0)
	const retry = time.Second
	na.s.opts.ConnectRetry = retry
	nb.s.opts.ConnectRetry = 100 * time.Millisecond // b dials a often
	var mu sync.Mutex
	var dials []time.Time
	dial := na.s.opts.Dial
	na.s.opts.Dial = func(ctx context.Context, local netip.Addr, dst netip.AddrPort) (net.Conn, error) {
		mu.Lock()
		dials = append(dials, time.Now())
		mu.Unlock()
		return dial(ctx, local, dst)
	}
	na.s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "b", Addr: b, AS: 65009}}}) // b is AS 65002
	nb.s.Reconfig(Config{AS: 65002, ID: b, Peers: []Peer{{Name: "a", Addr: a, AS: 65515}}})
	const want = 4
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(dials)
		mu.Unlock()
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dials in 30 s with ConnectRetry %v", n, retry)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < want; i++ {
		if gap := dials[i].Sub(dials[i-1]); gap < retry*3/4 {
			t.Errorf("dial %d came %v after the one before, ConnectRetry is %v (jittered from 0.75 times)", i+1, gap.Round(time.Millisecond), retry)
		}
	}
}

// TestConnectRetryAfterSessionEnds: a peer that ends a session it opened
// is dialled ConnectRetry (jittered) after, not at once.
func TestConnectRetryAfterSessionEnds(t *testing.T) {
	a, b := netip.MustParseAddr("127.87.2.3"), netip.MustParseAddr("127.87.2.4")
	port := freePort(t, a, b) // nothing listens on b: the speaker's dials fail
	n := startNode(t, a.String(), port, 0)
	const retry = time.Second
	n.s.opts.ConnectRetry = retry
	dialed := make(chan time.Time, 100)
	dial := n.s.opts.Dial
	n.s.opts.Dial = func(ctx context.Context, local netip.Addr, dst netip.AddrPort) (net.Conn, error) {
		dialed <- time.Now()
		return dial(ctx, local, dst)
	}
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "b", Addr: b, AS: 65002}}})
	<-dialed
	p := dialRaw(t, n, b, port)
	p.expect(wire.TypeUpdate)
	ended := time.Now()
	p.c.Close()
	for {
		select {
		case at := <-dialed:
			if at.Before(ended) {
				continue // while the session was coming up
			}
			if gap := at.Sub(ended); gap < retry*3/4 {
				t.Errorf("dialled %v after the peer ended its session, ConnectRetry is %v (jittered from 0.75 times)", gap.Round(time.Millisecond), retry)
			}
			return
		case <-time.After(30 * time.Second):
			t.Fatalf("not dialled in 30 s after the peer ended its session: %+v", n.s.Peers())
		}
	}
}
