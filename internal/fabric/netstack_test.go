package fabric

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"
)

// TestCloseSendsWhatTheStackQueued: what a host's stack queued before the
// host closes (a BGP speaker's last message, a Cease, and its connection's
// FIN, written just before its endpoint is closed) reaches the peer. The
// packet pump was stopped first and what it had not moved yet was dropped:
// here the connection's end never came (the peer's read waited until its
// deadline), and a message still queued was lost with it.
func TestCloseSendsWhatTheStackQueued(t *testing.T) {
	r := NewRouter()
	peer := newHost(t, "peer", "10.1.0.5", r)
	l, err := peer.Listen(179)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	speakerAddr := netip.MustParseAddr("10.1.0.4")
	for i := range 50 {
		sp, err := NewNetstackEndpoint("speaker", speakerAddr, 0, r)
		if err != nil {
			t.Fatal(err)
		}
		r.SetRoutes([]Route{{netip.PrefixFrom(speakerAddr, 32), sp}, {netip.PrefixFrom(peer.Addr(), 32), peer}})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := sp.Dial(ctx, netip.AddrPortFrom(peer.Addr(), 179))
		cancel()
		if err != nil {
			sp.Close()
			t.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			sp.Close()
			t.Fatal(err)
		}
		msg := fmt.Sprintf("cease %d", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		sp.Close()
		s.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(s)
		s.Close()
		if string(got) != msg || err != nil {
			t.Fatalf("close %d: the peer read %q (%v), want %q and the connection's end", i, got, err, msg)
		}
	}
}
