package tunnel

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/tun"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
	"github.com/vnetgw/vnetgw/internal/udp"
	"github.com/vnetgw/vnetgw/internal/udp/udptest"
)

var (
	_ Inner          = (*tun.Device)(nil)
	_ Inner          = (*tuntest.Device)(nil)
	_ Outer          = (*udp.Transport)(nil)
	_ Outer          = (*udptest.Outer)(nil)
	_ udp.ESPHandler = (*Engine)(nil)
	_ ipsec.Events   = (*events)(nil)

	// The inner side's virtio-net header fits in front of inbound packets.
	_ [innerOffset - tun.WriteOffset]struct{}
)

// suite is an ESP algorithm choice for tests.
type suite struct {
	name      string
	cipher    esp.Cipher
	integrity esp.Integrity
	encLen    int
	intLen    int
}

var (
	gcm256 = suite{name: "aes-gcm-256", cipher: esp.AESGCM16, encLen: 36}
	cbc256 = suite{name: "aes-256-cbc-sha256", cipher: esp.AESCBC, integrity: esp.HMACSHA256, encLen: 32, intLen: 32}
	suites = []suite{gcm256, cbc256}
)

// config returns an SA config with random keys.
func (s suite) config(spi uint32) esp.Config {
	enc, integ := make([]byte, s.encLen), make([]byte, s.intLen)
	rand.Read(enc)
	rand.Read(integ)
	return esp.Config{SPI: spi, Cipher: s.cipher, Integrity: s.integrity, Keys: esp.NewKeys(enc, integ)}
}

var (
	addrA = netip.MustParseAddrPort("192.0.2.1:4500")
	addrB = netip.MustParseAddrPort("192.0.2.2:4500")
	anyTS = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
)

// childPair returns the two ends of one child SA pair between A and B:
// A's inbound is B's outbound and the other way round.
func childPair(s suite, tunnel string, spiA, spiB uint32) (a, b ipsec.Child) {
	toA, toB := s.config(spiA), s.config(spiB)
	a = ipsec.Child{Tunnel: tunnel, In: toA, Out: toB, Local: addrA, Remote: addrB, Encap: true, LocalTS: anyTS, RemoteTS: anyTS}
	b = ipsec.Child{Tunnel: tunnel, In: toB, Out: toA, Local: addrB, Remote: addrA, Encap: true, LocalTS: anyTS, RemoteTS: anyTS}
	return a, b
}

// events records what an engine reports.
type events struct {
	mu       sync.Mutex // guards soft, hard, acquires and moves
	soft     []string
	hard     []string
	acquires []string
	moves    []string
}

func (ev *events) SoftExpired(tunnel string, spi uint32) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.soft = append(ev.soft, fmt.Sprintf("%s/%08x", tunnel, spi))
}

func (ev *events) HardExpired(tunnel string, spi uint32) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.hard = append(ev.hard, fmt.Sprintf("%s/%08x", tunnel, spi))
}

func (ev *events) hardExpired() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]string(nil), ev.hard...)
}

func (ev *events) Acquire(tunnel string, src, dst netip.Addr) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.acquires = append(ev.acquires, fmt.Sprintf("%s %v->%v", tunnel, src, dst))
}

func (ev *events) PeerMoved(tunnel string, spi uint32, remote netip.AddrPort) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.moves = append(ev.moves, fmt.Sprintf("%s/%08x %v", tunnel, spi, remote))
}

func (ev *events) moved() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]string(nil), ev.moves...)
}

func (ev *events) get() (soft, acquires []string) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]string(nil), ev.soft...), append([]string(nil), ev.acquires...)
}

// clock is a time source that tests move by hand.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// side is one engine with its in-memory inner and outer sides.
type side struct {
	e     *Engine
	inner *tuntest.Device
	outer *udptest.Outer
	ev    *events
}

func newSide(t testing.TB, n *udptest.Network, addr netip.AddrPort, inner *tuntest.Device, cfg Config) *side {
	t.Helper()
	s := &side{inner: inner, outer: n.Outer(), ev: &events{}}
	e, err := New(Options{Inner: s.inner, Outer: s.outer, Events: s.ev})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	n.Attach(addr, e)
	s.e = e
	return s
}

// pair builds two engines joined by an in-memory network: A routes
// 10.2.0.0/16 and 2001:db8:2::/48 into tunnel "t", B routes 10.1.0.0/16
// and 2001:db8:1::/48, and both have the child SA pair 0xa0000001 (A's
// inbound) and 0xb0000001 (B's inbound).
func pair(t testing.TB, s suite) (a, b *side) {
	t.Helper()
	n := udptest.NewNetwork()
	a = newSide(t, n, addrA, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16", "2001:db8:2::/48")}}})
	b = newSide(t, n, addrB, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.1.0.0/16", "2001:db8:1::/48")}}})
	ca, cb := childPair(s, "t", 0xa0000001, 0xb0000001)
	if err := a.e.AddChild(ca); err != nil {
		t.Fatal(err)
	}
	if err := b.e.AddChild(cb); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// packet builds an IPv4 or IPv6 UDP packet from src to dst with n bytes of
// payload. Checksums are left zero: the engine does not look at them.
func packet(src, dst string, n int) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	var p []byte
	if s.Is4() {
		p = make([]byte, 20+8+n)
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		p[8], p[9] = 64, 17
		copy(p[12:16], s.AsSlice())
		copy(p[16:20], d.AsSlice())
		binary.BigEndian.PutUint16(p[24:], uint16(8+n))
		fillPayload(p[28:])
		return p
	}
	p = make([]byte, 40+8+n)
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(8+n))
	p[6], p[7] = 17, 64
	copy(p[8:24], s.AsSlice())
	copy(p[24:40], d.AsSlice())
	binary.BigEndian.PutUint16(p[44:], uint16(8+n))
	fillPayload(p[48:])
	return p
}

func fillPayload(b []byte) {
	for i := range b {
		b[i] = byte(i * 7)
	}
}

// status returns the named tunnel's status.
func status(t testing.TB, e *Engine, name string) TunnelStatus {
	t.Helper()
	for _, ts := range e.Status().Tunnels {
		if ts.Name == name {
			return ts
		}
	}
	t.Fatalf("no tunnel %q in status", name)
	return TunnelStatus{}
}

// eventually polls cond for up to 5 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// capture is an Outer that keeps what is sent, for tests that deliver it
// later or tamper with it.
type capture struct {
	mu   sync.Mutex // guards sent
	sent [][]byte
}

func (c *capture) WriteBatch(_ netip.AddrPort, msgs []udp.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.sent = append(c.sent, append([]byte(nil), m.Buf...))
	}
	return nil
}

func (*capture) KernelPathMTU(netip.AddrPort, netip.AddrPort) (int, error) {
	return 0, errors.ErrUnsupported
}

func (c *capture) wait(t testing.TB, n int) [][]byte {
	t.Helper()
	eventually(t, fmt.Sprintf("%d datagrams", n), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.sent) >= n
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// datagrams wraps ESP packets as a udp read loop would hand them over.
func datagrams(pkts ...[]byte) []udp.Message {
	msgs := make([]udp.Message, len(pkts))
	for i, p := range pkts {
		msgs[i].Buf = make([]byte, udp.MaxDatagram)
		msgs[i].N = copy(msgs[i].Buf, p)
		msgs[i].Addr = addrA
	}
	return msgs
}

// connectEngines gives engines ea (10.1.0.0/16) and eb (10.2.0.0/16) a
// tunnel "t" to each other with one AES-GCM child SA pair (SPIs
// 0xa0000001 at ea, 0xb0000001 at eb). edit, when not nil, changes eb's
// child before it is added.
func connectEngines(t testing.TB, ea, eb *Engine, edit func(b *ipsec.Child)) {
	t.Helper()
	ea.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16")}}})
	eb.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.1.0.0/16")}}})
	ca, cb := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
	if edit != nil {
		edit(&cb)
	}
	if err := ea.AddChild(ca); err != nil {
		t.Fatal(err)
	}
	if err := eb.AddChild(cb); err != nil {
		t.Fatal(err)
	}
}

// captured is two engines joined by connectEngines whose datagrams reach
// no one: A's are kept in sentA, for the test to hand to B as it likes
// (replayed, tampered with, after B's inner side went away).
type captured struct {
	ea, eb         *Engine
	innerA, innerB *tuntest.Device
	sentA          *capture
}

// newCaptured builds the two engines, closed when the test ends; edit is
// as connectEngines's.
func newCaptured(t testing.TB, edit func(b *ipsec.Child)) *captured {
	t.Helper()
	c := &captured{innerA: tuntest.NewRecorder(64), innerB: tuntest.NewRecorder(64), sentA: &capture{}}
	var err error
	if c.ea, err = New(Options{Inner: c.innerA, Outer: c.sentA}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ea.Close() })
	if c.eb, err = New(Options{Inner: c.innerB, Outer: &capture{}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.eb.Close() })
	connectEngines(t, c.ea, c.eb, edit)
	return c
}

// add installs children at the side's engine, in order.
func (s *side) add(t testing.TB, children ...ipsec.Child) {
	t.Helper()
	for _, c := range children {
		if err := s.e.AddChild(c); err != nil {
			t.Fatal(err)
		}
	}
}
