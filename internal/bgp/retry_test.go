package bgp

import (
	"context"
	"net"
	"net/netip"
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
				c.Write(wire.AppendMessage(nil, wire.TypeNotification, wire.Notification{Code: wire.CodeOpen, Subcode: wire.SubBadPeerAS}.Append(nil)))
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
