package bgp

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestIPv6IdentifierStartsNoSession: a speaker given an IPv6 identifier
// (4 octets are needed, RFC 4271 §4.2) starts no session, and does not
// crash when a peer's connection opens.
func TestIPv6IdentifierStartsNoSession(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			time.Sleep(time.Second)
			c.Close()
		}
	}()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	sp := New(Options{Port: port, ConnectRetry: time.Second, Dial: func(ctx context.Context, _ netip.Addr, dst netip.AddrPort) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", dst.String())
	}})
	defer sp.Close()
	sp.Reconfig(Config{AS: 65010, ID: netip.MustParseAddr("::1"), Peers: []Peer{{Name: "v6", Addr: netip.MustParseAddr("::1"), AS: 65020}}})
	time.Sleep(500 * time.Millisecond)
	if ps := sp.Peers(); len(ps) != 0 {
		t.Errorf("peers %+v with an IPv6 identifier", ps)
	}
}
