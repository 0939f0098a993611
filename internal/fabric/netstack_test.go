package fabric

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
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

// TestEchoKeepsAnActiveConnection: the built-in host's TCP echo keeps a
// connection that is in use past its idle time, and closes it once it
// has been idle that long. It closed every connection that long after it
// was opened, in use or not (a minute, the time here made shorter).
func TestEchoKeepsAnActiveConnection(t *testing.T) {
	old := echoIdle
	echoIdle = 2 * time.Second
	t.Cleanup(func() { echoIdle = old })
	r := NewRouter()
	hostAddr, clientAddr := netip.MustParseAddr("10.164.0.4"), netip.MustParseAddr("10.164.0.5")
	host, err := NewNetstackHost("host", hostAddr, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	client, err := NewNetstackEndpoint("client", clientAddr, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	r.SetRoutes([]Route{{netip.PrefixFrom(hostAddr, 32), host}, {netip.PrefixFrom(clientAddr, 32), client}})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, netip.AddrPortFrom(hostAddr, EchoPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// In use for more than twice the idle time: every echo comes back.
	got := make([]byte, 4)
	start := time.Now()
	for i := 0; time.Since(start) < 5*time.Second; i++ {
		msg := fmt.Sprintf("%04d", i%10000)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatalf("write %d after %v: %v", i, time.Since(start), err)
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo %d after %v: read %q (%v), want %q", i, time.Since(start), got, err, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Then idle: the echo closes it.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := c.Read(got); err != io.EOF {
		t.Fatalf("idle connection: read %q (%v), want the echo's close (EOF)", got[:n], err)
	}
}

// TestEchoLargeTransferFromLinux (root): a Linux client that sends
// 16 MiB to the built-in host's TCP echo, reading the echo as it goes,
// gets all of it back, five times over, through a VNet that loses one
// packet in 100 and delays each by 1 ms. The host's stack rounded its
// scaled window down to zero while the client had already sent into the
// window offered before (Linux fills a window to its edge), and then
// dropped each segment of the client whole, past that window, its
// acknowledgment too: the host never learned what the client had
// received, the echo's write waited for room for ever and it read no
// more, and the transfer stopped for good, the client retransmitting
// to a host that answered with a zero window (about one transfer in
// two).
func TestEchoLargeTransferFromLinux(t *testing.T) {
	netnstest.Require(t, "ip")
	r := NewRouter()
	ns := netnstest.New(t, "echo")
	hostAddr, clientAddr := netip.MustParseAddr("10.166.0.4"), netip.MustParseAddr("10.166.0.5")
	host, err := NewNetstackHost("host", hostAddr, 0, r)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	// A client whose device is as large as an OpenVPN client's.
	client, err := NewTUNHostMTU(ns.Name, clientAddr, 1500, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	r.SetRoutes([]Route{{netip.PrefixFrom(hostAddr, 32), lossy(t, host)}, {netip.PrefixFrom(clientAddr, 32), lossy(t, client)}})

	sent := make([]byte, 16<<20)
	rand.Read(sent)
	got := make([]byte, len(sent))
	for i := range 5 {
		var c net.Conn
		if err := ns.Do(func() error {
			var err error
			c, err = net.DialTimeout("tcp", netip.AddrPortFrom(hostAddr, EchoPort).String(), 10*time.Second)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		go c.Write(sent)
		for n := 0; n < len(got); {
			// A transfer that goes on brings something within
			// milliseconds; 10 s without is one that stopped.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			k, err := c.Read(got[n:])
			n += k
			if err != nil {
				c.Close()
				t.Fatalf("transfer %d: after %d of %d bytes echoed: %v", i, n, len(sent), err)
			}
		}
		c.Close()
		if !bytes.Equal(got, sent) {
			t.Fatalf("transfer %d: the echo is not what was sent", i)
		}
	}
}

// lossy is port p with one packet in 100 that it is delivered dropped,
// and the others held back 1 ms, in order.
func lossy(t *testing.T, p Port) Port {
	l := &lossyPort{p: p, q: make(chan heldPacket, 1<<16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pkt := range l.q {
			time.Sleep(time.Until(pkt.at))
			l.p.Deliver(pkt.b)
		}
	}()
	t.Cleanup(func() {
		close(l.q)
		<-done
	})
	return l
}

type lossyPort struct {
	p Port
	q chan heldPacket

	mu sync.Mutex // guards n
	n  int
}

type heldPacket struct {
	at time.Time
	b  []byte
}

func (l *lossyPort) Deliver(pkt []byte) {
	l.mu.Lock()
	l.n++
	drop := l.n%100 == 0
	l.mu.Unlock()
	if !drop {
		l.q <- heldPacket{time.Now().Add(time.Millisecond), bytes.Clone(pkt)}
	}
}
