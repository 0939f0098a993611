package fabric

import (
	"bytes"
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

// TestSingleHopPeerReachesGatewayEndpoint: a site's BGP peer that sends
// with TTL 1 (single-hop eBGP to the gateway's APIPA address over its
// tunnel interface, the default of BGP daemons) opens its session with
// the gateway's speaker. The router took the speaker for a host behind
// it, a hop away from the tunnel: it dropped the peer's SYN for its TTL
// and answered Time Exceeded, so that the session never came up.
func TestSingleHopPeerReachesGatewayEndpoint(t *testing.T) {
	r := NewRouter()
	speakerAddr, peerAddr := netip.MustParseAddr("169.254.21.1"), netip.MustParseAddr("169.254.21.2")
	sp, err := NewNetstackEndpoint("speaker", speakerAddr, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	// The peer is at the far end of a tunnel: it sends into the router as
	// the gateway does, with TTL 1, and gets what the router sends there.
	peer, err := NewNetstackEndpoint("peer", peerAddr, 0, ttlOne{r})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	r.SetRoutes([]Route{{netip.PrefixFrom(speakerAddr, 32), sp}, {netip.PrefixFrom(peerAddr, 32), tunnelTo{peer}}})
	l, err := sp.Listen(179)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := peer.Dial(ctx, netip.AddrPortFrom(speakerAddr, 179))
	if err != nil {
		t.Fatalf("the peer's session with TTL 1: %v (router: %+v)", err, r.Stats())
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := c.Write([]byte("open")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	s.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "open" {
		t.Fatalf("the speaker read %q (%v), want %q", got, err, "open")
	}
	if st := r.Stats(); st.TTLExpired != 0 {
		t.Errorf("router counted %d packets dropped for their TTL, want 0", st.TTLExpired)
	}
}

// ttlOne forwards what a host sends into a router with its TTL set to 1.
type ttlOne struct{ to Forwarder }

func (f ttlOne) Forward(pkt []byte) {
	p := bytes.Clone(pkt)
	if p[0]>>4 == 4 {
		p[8] = 1
		rechecksum(p)
	}
	f.to.Forward(p)
}

func (f ttlOne) ForwardBatch(bufs [][]byte, offset int) {
	for _, b := range bufs {
		f.Forward(b[offset:])
	}
}

// tunnelTo is a port of no host: the way to h through a gateway.
type tunnelTo struct{ h *NetstackHost }

func (p tunnelTo) Deliver(pkt []byte) { p.h.Deliver(pkt) }
