package ikev1

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// TestSpoofedMainModesLetThePeerIn: eight Main Mode message 1s spoofed
// from the peer's address take every half-open slot of a responder-only
// connection; the real peer's Main Mode that follows (after
// mainModeGrace) still comes up,
// with a child SA, in place of the oldest spoofed one, and the
// replacement is logged with its count.
func TestSpoofedMainModesLetThePeerIn(t *testing.T) {
	var logged bytes.Buffer
	ri, rr := &recorder{}, &recorder{}
	mi := New(Config{Transport: ri, Dataplane: ri})
	mr := New(Config{Transport: rr, Dataplane: rr, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	defer mi.Close()
	mi.Reconfig([]ikev2.PeerConfig{fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)})
	mr.Reconfig([]ikev2.PeerConfig{fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)})
	mm1 := firstMessage(t)
	for i := range maxHalfOpenPerPeer {
		mr.handle(fuzzLocal, fuzzRemote, withCookie(mm1, uint64(i)+1))
	}
	rr.take() // the answers go to no one
	// A while later: the spoofed ones are past mainModeGrace.
	mr.mu.Lock()
	for _, sa := range mr.sas {
		sa.created = sa.created.Add(-mainModeGrace)
	}
	mr.mu.Unlock()
	shuttle(mi, mr, ri, rr, nil)
	mr.mu.Lock()
	n := len(mr.sas)
	mr.mu.Unlock()
	st := mr.Status()
	mr.Close()
	ri.mu.Lock()
	rr.mu.Lock()
	ci, cr := len(ri.children), len(rr.children)
	rr.mu.Unlock()
	ri.mu.Unlock()
	if ci != 1 || cr != 1 {
		t.Fatalf("after %d spoofed message 1s the peer's Main Mode brought children up on initiator %d, responder %d; responder status %+v",
			maxHalfOpenPerPeer, ci, cr, st)
	}
	if n > maxHalfOpenPerPeer {
		t.Errorf("the responder holds %d ISAKMP SAs, want at most %d", n, maxHalfOpenPerPeer)
	}
	if !strings.Contains(logged.String(), "dropped to make room") || !strings.Contains(logged.String(), "count=1") {
		t.Errorf("the replacement is not logged with its count:\n%s", logged.String())
	}
}

// TestMainModeFloodKeepsThePeersExchange: a flood of Main Mode message 1s
// spoofed from the peer's address, twice as many as the half-open slots,
// arrives between the responder's message 2 to the real peer and the
// peer's message 3: the peer's exchange, younger than mainModeGrace,
// keeps its slot, and its Main Mode and child SA come up. Before, each
// spoofed message 1 pushed out the oldest exchange at message 2, the
// peer's first, so that a flood of eight per round trip kept the peer out
// for good.
func TestMainModeFloodKeepsThePeersExchange(t *testing.T) {
	ri, rr := &recorder{}, &recorder{}
	mi := New(Config{Transport: ri, Dataplane: ri})
	mr := New(Config{Transport: rr, Dataplane: rr})
	defer mi.Close()
	defer mr.Close()
	mi.Reconfig([]ikev2.PeerConfig{fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)})
	mr.Reconfig([]ikev2.PeerConfig{fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)})
	mm1 := firstMessage(t)
	flooded := false
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, _, _ netip.AddrPort) bool {
		if h, err := wire.ParseHeader(msg); !fromI && !flooded && err == nil && h.Exchange == wire.ExchangeMain {
			flooded = true // the responder's message 2 is on its way
			for i := range 2 * maxHalfOpenPerPeer {
				mr.handle(fuzzLocal, fuzzRemote, withCookie(mm1, uint64(i)+1))
			}
		}
		return false
	})
	ri.mu.Lock()
	rr.mu.Lock()
	ci, cr := len(ri.children), len(rr.children)
	rr.mu.Unlock()
	ri.mu.Unlock()
	if !flooded || ci != 1 || cr != 1 {
		t.Fatalf("after a flood of message 1s the peer's Main Mode brought children up on initiator %d, responder %d (flooded %v); responder status %+v",
			ci, cr, flooded, mr.Status())
	}
	mr.mu.Lock()
	n := len(mr.sas)
	mr.mu.Unlock()
	if n > maxHalfOpenPerPeer {
		t.Errorf("the responder holds %d ISAKMP SAs, want at most %d", n, maxHalfOpenPerPeer)
	}
}

// TestFailedMainModesMakeRoom: a peer with another pre-shared key tries
// Main Mode until every half-open slot of the connection holds one of its
// exchanges, each refused at message 5; once its key is right, its next
// Main Mode comes up at once, with a child SA, in place of a refused
// one. Before, the refused exchanges kept their slots for 30 s and the
// peer's message 1s went unanswered meanwhile.
func TestFailedMainModesMakeRoom(t *testing.T) {
	rr := &recorder{}
	mr := New(Config{Transport: rr, Dataplane: rr})
	defer mr.Close()
	mr.Reconfig([]ikev2.PeerConfig{fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)})
	initiator := func(key string) (*Manager, *recorder) {
		ri := &recorder{}
		mi := New(Config{Transport: ri, Dataplane: ri})
		p := fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)
		p.PSK = ikev2.PSK(key)
		mi.Reconfig([]ikev2.PeerConfig{p})
		return mi, ri
	}
	for range maxHalfOpenPerPeer {
		mi, ri := initiator("AnotherKey2026")
		shuttle(mi, mr, ri, rr, nil)
		mi.Close()
	}
	mr.mu.Lock()
	refused := 0
	for _, sa := range mr.sas {
		if sa.state == stMM4 {
			refused++
		}
	}
	mr.mu.Unlock()
	if refused != maxHalfOpenPerPeer {
		t.Fatalf("%d Main Modes refused at message 5 held, want %d", refused, maxHalfOpenPerPeer)
	}
	mi, ri := initiator("FuzzKey2026")
	defer mi.Close()
	shuttle(mi, mr, ri, rr, nil)
	ri.mu.Lock()
	rr.mu.Lock()
	ci, cr := len(ri.children), len(rr.children)
	rr.mu.Unlock()
	ri.mu.Unlock()
	if ci != 1 || cr != 1 {
		t.Fatalf("with the right key the peer's Main Mode brought children up on initiator %d, responder %d", ci, cr)
	}
}

// udpGateway is a responder on a real UDP socket at addr: what the
// socket reads goes to the manager, what the manager sends goes out of
// it.
type udpGateway struct {
	c  *net.UDPConn
	m  *Manager
	wg sync.WaitGroup
}

func (g *udpGateway) SendIKE(_, remote netip.AddrPort, msg []byte) error {
	_, err := g.c.WriteToUDPAddrPort(msg, remote)
	return err
}

// listenUDP opens a UDP socket on addr, port chosen by the kernel.
func listenUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFloodFromOneAddressLeavesRoom: while the manager is busy (its lock
// held, as during a key exchange), one address floods it with twice as
// many Main Mode message 1s as its queue holds, over real UDP; a peer's
// message 1 from another address that comes after them is still queued
// and answered with message 2. Before, the flood took every place in the
// queue, shared by all addresses, and the peer's message was dropped, as
// every other peer's was for as long as the flood went on.
func TestFloodFromOneAddressLeavesRoom(t *testing.T) {
	g := &udpGateway{c: listenUDP(t, "127.167.0.1")}
	g.m = New(Config{Transport: g, Dataplane: &recorder{}})
	gwAddr := g.c.LocalAddr().(*net.UDPAddr).AddrPort()
	peerConn, flooder := listenUDP(t, "127.167.0.2"), listenUDP(t, "127.167.0.3")
	peerAddr := peerConn.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := g.m.Reconfig([]ikev2.PeerConfig{fuzzPeer("r", gwAddr, peerAddr, ikev2.ModeResponderOnly)}); err != nil {
		t.Fatal(err)
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		buf := make([]byte, 65535)
		for {
			n, from, err := g.c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			g.m.HandlePacket(gwAddr, from, buf[:n])
		}
	}()
	t.Cleanup(func() {
		g.m.Close()
		g.c.Close()
		g.wg.Wait()
	})
	received := func(n uint64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); g.m.Stats().Received < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the gateway read %d datagrams, want %d", g.m.Stats().Received, n)
			}
		}
	}

	mm1 := firstMessage(t)
	g.m.mu.Lock()
	locked := true
	defer func() {
		if locked {
			g.m.mu.Unlock()
		}
	}()
	const flood = 2 * queueLen
	for i := range flood {
		// Paced by what the gateway read, so that the socket's buffer
		// drops none.
		if _, err := flooder.WriteToUDPAddrPort(withCookie(mm1, uint64(i)+1), gwAddr); err != nil {
			t.Fatal(err)
		}
		received(uint64(i) + 1)
	}
	const ours = 0x7065657200000001
	if _, err := peerConn.WriteToUDPAddrPort(withCookie(mm1, ours), gwAddr); err != nil {
		t.Fatal(err)
	}
	received(flood + 1)
	g.m.mu.Unlock()
	locked = false

	if err := peerConn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, _, err := peerConn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("the peer's message 1 after a flood from another address got no answer (%v); stats %+v", err, g.m.Stats())
	}
	h, err := wire.ParseHeader(buf[:n])
	if err != nil || h.ICookie != ours || h.RCookie == 0 || h.Exchange != wire.ExchangeMain {
		t.Fatalf("the peer got %+v (%v), want message 2 of its Main Mode", h, err)
	}
	if st := g.m.Stats(); st.QueueFull < flood-queueLen {
		t.Errorf("%d of the flood's datagrams counted as dropped, want at least %d", st.QueueFull, flood-queueLen)
	}
}
