package tunnel

import (
	"bytes"
	"encoding/binary"
	"maps"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
	"github.com/vnetgw/vnetgw/internal/udp"
)

// udpPair is engines A and B joined by one AES-GCM child SA pair of
// tunnel "t" over real UDP sockets on loopback (ESP in UDP), at localA and
// localB. A routes 10.2.0.0/16 and 2001:db8:2::/48 into the tunnel, B
// 10.1.0.0/16 and 2001:db8:1::/48.
type udpPair struct {
	ea, eb         *Engine
	innerA, innerB *tuntest.Device
	localA, localB netip.AddrPort
}

// newUDPPair starts a pair, A with optsA (its Inner and Outer set here),
// at the loopback addresses a and b. Each sends to via if it is valid (a
// router between them), else to the other.
func newUDPPair(t *testing.T, optsA Options, a, b string, via netip.AddrPort) *udpPair {
	t.Helper()
	p := &udpPair{innerA: tuntest.NewRecorder(64), innerB: tuntest.NewRecorder(64)}
	trA, trB := udp.New(udp.Config{}), udp.New(udp.Config{})
	t.Cleanup(func() { trA.Close(); trB.Close() })
	optsA.Inner, optsA.Outer = p.innerA, trA
	var err error
	if p.ea, err = New(optsA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.ea.Close() })
	if p.eb, err = New(Options{Inner: p.innerB, Outer: trB}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.eb.Close() })
	if p.localA, err = trA.ListenNATT(netip.MustParseAddrPort(a), p.ea); err != nil {
		t.Fatal(err)
	}
	if p.localB, err = trB.ListenNATT(netip.MustParseAddrPort(b), p.eb); err != nil {
		t.Fatal(err)
	}
	p.ea.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16", "2001:db8:2::/48")}}})
	p.eb.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.1.0.0/16", "2001:db8:1::/48")}}})
	ca, cb := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
	ca.Local, ca.Remote = p.localA, p.localB
	cb.Local, cb.Remote = p.localB, p.localA
	if via.IsValid() {
		ca.Remote, cb.Remote = via, via
	}
	if err := p.ea.AddChild(ca); err != nil {
		t.Fatal(err)
	}
	if err := p.eb.AddChild(cb); err != nil {
		t.Fatal(err)
	}
	return p
}

// pmtuEngines are a udpPair at a and b whose A answers from 10.1.255.4 and
// fd00:1:ff::4, with an outer MTU of mtu.
func pmtuEngines(t *testing.T, mtu int, a, b string) (ea *Engine, innerA, innerB *tuntest.Device) {
	t.Helper()
	p := newUDPPair(t, Options{MTU: mtu, ICMPFrom: []netip.Addr{netip.MustParseAddr("10.1.255.4"), netip.MustParseAddr("fd00:1:ff::4")}}, a, b, netip.AddrPort{})
	return p.ea, p.innerA, p.innerB
}

// sized returns an IPv4 or IPv6 UDP packet of n bytes in all from src to
// dst, an IPv4 one with Don't Fragment if df, its header checksum right.
func sized(src, dst string, n int, df bool) []byte {
	hdr := 28
	if netip.MustParseAddr(src).Is6() {
		hdr = 48
	}
	pkt := packet(src, dst, n-hdr)
	if df && pkt[0]>>4 == 4 {
		pkt[6] = 0x40
	}
	return withTOS(pkt, 0)
}

// TestTooBigForTunnelRFC4301 sends inner packets of several lengths into a
// tunnel between two engines over real UDP sockets. The tunnel's MTU is
// the outer MTU, 1500, less IPv4, UDP and ESP with AES-GCM (8 bytes of
// header, 8 of IV, 2 of trailer, padding to 4 and 16 of ICV): 1438. RFC
// 4301 §8.2.1: an IPv4 packet with Don't Fragment or an IPv6 packet
// longer than that is dropped and its sender gets ICMP Fragmentation
// Needed (RFC 1191 §4) or Packet Too Big (RFC 4443 §3.2) with 1438, from
// the engine's address of its family, quoting it; one that fits, or an
// IPv4 one without Don't Fragment, reaches B whole. With an outer MTU of
// 1300, an IPv6 tunnel carries less than 1280 bytes: IPv6 packets up to
// 1280 bytes are still sealed (RFC 8200 §5), a longer one is told 1280.
func TestTooBigForTunnelRFC4301(t *testing.T) {
	ea, innerA, innerB := pmtuEngines(t, 0, "127.176.0.1:0", "127.176.0.2:0")
	small, smallA, smallB := pmtuEngines(t, 1300, "127.176.0.3:0", "127.176.0.4:0")
	for _, tc := range []struct {
		name string
		e    *Engine
		a, b *tuntest.Device
		pkt  []byte
		mtu  int // the MTU A answers with; 0: B gets the packet
	}{
		{"IPv4 DF 1500", ea, innerA, innerB, sized("10.1.0.5", "10.2.0.7", 1500, true), 1438},
		{"IPv4 DF 1439", ea, innerA, innerB, sized("10.1.0.5", "10.2.0.7", 1439, true), 1438},
		{"IPv4 DF 1438 fits", ea, innerA, innerB, sized("10.1.0.5", "10.2.0.7", 1438, true), 0},
		{"IPv4 without DF 1500 is sealed", ea, innerA, innerB, sized("10.1.0.5", "10.2.0.7", 1500, false), 0},
		{"IPv6 1500", ea, innerA, innerB, sized("2001:db8:1::5", "2001:db8:2::7", 1500, false), 1438},
		{"IPv6 1438 fits", ea, innerA, innerB, sized("2001:db8:1::5", "2001:db8:2::7", 1438, false), 0},
		{"IPv4 DF 1300 over MTU 1300", small, smallA, smallB, sized("10.1.0.5", "10.2.0.7", 1300, true), 1238},
		{"IPv6 1280 over MTU 1300 is sealed", small, smallA, smallB, sized("2001:db8:1::5", "2001:db8:2::7", 1280, false), 0},
		{"IPv6 1281 over MTU 1300", small, smallA, smallB, sized("2001:db8:1::5", "2001:db8:2::7", 1281, false), 1280},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drops := status(t, tc.e, "t").Drops.TooBig
			tc.a.Send(bytes.Clone(tc.pkt))
			if tc.mtu == 0 {
				got, ok := tc.b.Next(5 * time.Second)
				if !ok || !bytes.Equal(got, tc.pkt) {
					t.Fatalf("B delivered %d bytes (%v), want the %d-byte packet", len(got), ok, len(tc.pkt))
				}
				if d := status(t, tc.e, "t").Drops.TooBig; d != drops {
					t.Errorf("%d packets counted too big, want %d", d, drops)
				}
				return
			}
			answer, ok := tc.a.Next(5 * time.Second)
			if !ok {
				t.Fatal("A's inner side got no ICMP error")
			}
			checkTooBig(t, answer, tc.pkt, tc.mtu)
			if d := status(t, tc.e, "t").Drops.TooBig; d != drops+1 {
				t.Errorf("%d packets counted too big, want %d", d, drops+1)
			}
			if got, ok := tc.b.Next(50 * time.Millisecond); ok {
				t.Errorf("B delivered %d bytes; want the packet dropped", len(got))
			}
		})
	}
}

// checkTooBig checks that msg is the ICMP Fragmentation Needed (IPv4) or
// Packet Too Big (IPv6) that answers pkt with mtu, from A's address.
func checkTooBig(t *testing.T, msg, pkt []byte, mtu int) {
	t.Helper()
	if pkt[0]>>4 == 4 {
		if len(msg) != 576 || msg[0] != 0x45 || msg[9] != 1 || headerSum(msg[:20]) != 0xffff {
			t.Fatalf("answer % x is no IPv4 ICMP message of 576 bytes", msg[:min(len(msg), 28)])
		}
		if src, dst := netip.AddrFrom4([4]byte(msg[12:16])), netip.AddrFrom4([4]byte(msg[16:20])); src != netip.MustParseAddr("10.1.255.4") || dst != netip.AddrFrom4([4]byte(pkt[12:16])) {
			t.Errorf("answer from %v to %v", src, dst)
		}
		if msg[20] != 3 || msg[21] != 4 || binary.BigEndian.Uint16(msg[26:28]) != uint16(mtu) || headerSum(msg[20:]) != 0xffff {
			t.Errorf("ICMP % x, want type 3 code 4 with MTU %d and a right checksum", msg[20:28], mtu)
		}
		if !bytes.Equal(msg[28:], pkt[:548]) {
			t.Error("the answer does not quote the packet")
		}
		return
	}
	if len(msg) != 1280 || msg[0]>>4 != 6 || msg[6] != 58 || int(binary.BigEndian.Uint16(msg[4:6])) != 1240 {
		t.Fatalf("answer % x is no ICMPv6 message of 1280 bytes", msg[:min(len(msg), 48)])
	}
	if src, dst := netip.AddrFrom16([16]byte(msg[8:24])), netip.AddrFrom16([16]byte(msg[24:40])); src != netip.MustParseAddr("fd00:1:ff::4") || dst != netip.AddrFrom16([16]byte(pkt[8:24])) {
		t.Errorf("answer from %v to %v", src, dst)
	}
	// RFC 4443 §2.3: the pseudo-header, then the message.
	pseudo := append(append(bytes.Clone(msg[8:40]), 0, 0, byte(1240>>8), byte(1240&0xff), 0, 0, 0, 58), msg[40:]...)
	if msg[40] != 2 || msg[41] != 0 || binary.BigEndian.Uint32(msg[44:48]) != uint32(mtu) || headerSum(pseudo) != 0xffff {
		t.Errorf("ICMPv6 % x, want Packet Too Big with MTU %d and a right checksum", msg[40:48], mtu)
	}
	if !bytes.Equal(msg[48:], pkt[:1232]) {
		t.Error("the answer does not quote the packet")
	}
}

// TestTooBigNotAnsweredRFC4443: an ICMP error too long for the tunnel is
// dropped without an answer (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e)), and
// the answers keep to the rate limit (RFC 4443 §2.4(f)): with the clock
// stopped, icmpBurst of them and no more, while every packet is dropped.
func TestTooBigNotAnsweredRFC4443(t *testing.T) {
	ea, innerA, innerB := pmtuEngines(t, 0, "127.176.0.5:0", "127.176.0.6:0")
	var clk clock
	clk.advance(time.Hour)
	ea.now = clk.now
	unreachable := sized("10.1.0.5", "10.2.0.7", 1500, true)
	unreachable[9], unreachable[20] = 1, 3 // ICMP Destination Unreachable
	innerA.Send(withTOS(unreachable, 0))
	eventually(t, "a drop", func() bool { return status(t, ea, "t").Drops.TooBig == 1 })
	if got, ok := innerA.Next(50 * time.Millisecond); ok {
		t.Fatalf("an ICMP error was answered with % x", got[:28])
	}
	for i := range icmpBurst + 10 {
		innerA.Send(sized("10.1.0.5", "10.2.0.7", 1500, true))
		if i < icmpBurst {
			if _, ok := innerA.Next(5 * time.Second); !ok {
				t.Fatalf("packet %d got no answer", i)
			}
		}
	}
	eventually(t, "the drops", func() bool { return status(t, ea, "t").Drops.TooBig == 1+icmpBurst+10 })
	if got, ok := innerA.Next(50 * time.Millisecond); ok {
		t.Fatalf("answer % x past the rate limit", got[:28])
	}
	if got, ok := innerB.Next(50 * time.Millisecond); ok {
		t.Fatalf("B delivered %d bytes", len(got))
	}
}

// TestTooBigQuotesUntranslated: in a tunnel that translates the far
// side's addresses, the ICMP error quotes the packet as its sender sent
// it, to the External address, not as NAT made it: the sender matches
// the quote to its own connection (RFC 1191 §4, RFC 1812 §4.3.2.3).
func TestTooBigQuotesUntranslated(t *testing.T) {
	ea, innerA, _ := pmtuEngines(t, 0, "127.176.0.7:0", "127.176.0.8:0")
	err := ea.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("172.31.2.0/24"),
		NAT: []NAT{{Internal: netip.MustParsePrefix("10.2.0.0/24"), External: netip.MustParsePrefix("172.31.2.0/24")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	pkt := sized("10.1.0.5", "172.31.2.7", 1500, true)
	innerA.Send(bytes.Clone(pkt))
	answer, ok := innerA.Next(5 * time.Second)
	if !ok {
		t.Fatal("A's inner side got no ICMP error")
	}
	checkTooBig(t, answer, pkt, 1438)
}

// TestTooBigZeroAllocs: a batch of packets too long for the tunnel, each
// dropped and some answered with ICMP errors written to the inner side,
// allocates nothing.
func TestTooBigZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	a, _ := sinkPair(t, gcm256)
	a.e.icmpFrom4 = netip.MustParseAddr("10.1.255.4")
	var clk clock
	a.e.now = clk.now
	batch := newOutBatch(64)
	pkt := sized("10.1.0.5", "10.2.0.7", 1500, true)
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 64 {
			batch.sizes[i] = copy(batch.bufs[i][esp.Headroom:], pkt)
		}
		clk.advance(time.Second)
		a.e.outbound(batch, 64)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
	if got, _, _ := a.inner.Written(); got < maxAnswers*100 {
		t.Errorf("A answered %d packets, want at least %d", got, maxAnswers*100)
	}
}

// TestPathMTULearnedRFC4301: once a router has said that the path of the
// tunnel's ESP carries 1400 bytes (PathMTU), the tunnel's MTU is 1400 less
// the 62 bytes of ESP in UDP over IPv4: an IPv4 packet with Don't
// Fragment, or an IPv6 one, longer than 1338 is dropped and its sender
// told 1338 (RFC 4301 §8.2.1); one of 1338, or longer without Don't
// Fragment, is sent. A larger MTU later, one of another path, or one no
// less than the outer MTU changes nothing; the same MTU again holds for
// pmtuLifetime from then, after which the outer MTU holds again (RFC 1191
// §6.3). An MTU below 552 is taken as 552. A
// child that moves to other outer ends forgets the path MTU learned.
func TestPathMTULearnedRFC4301(t *testing.T) {
	p := newUDPPair(t, Options{ICMPFrom: []netip.Addr{netip.MustParseAddr("10.1.255.4"), netip.MustParseAddr("fd00:1:ff::4")}},
		"127.176.0.9:0", "127.176.0.10:0", netip.AddrPort{})
	var clk clock
	clk.advance(time.Hour)
	p.ea.now = clk.now
	// send sends pkt from A's inner side and checks that B gets it
	// (mtu 0) or that A's sender is told mtu.
	send := func(what string, pkt []byte, mtu int) {
		t.Helper()
		p.innerA.Send(bytes.Clone(pkt))
		if mtu == 0 {
			if got, ok := p.innerB.Next(5 * time.Second); !ok || !bytes.Equal(got, pkt) {
				t.Fatalf("%s: B delivered %d bytes (%v), want the %d-byte packet", what, len(got), ok, len(pkt))
			}
			return
		}
		answer, ok := p.innerA.Next(5 * time.Second)
		if !ok {
			t.Fatalf("%s: A's inner side got no ICMP error", what)
		}
		checkTooBig(t, answer, pkt, mtu)
	}
	v4DF, v6 := sized("10.1.0.5", "10.2.0.7", 1438, true), sized("2001:db8:1::5", "2001:db8:2::7", 1438, false)
	send("before", v4DF, 0)

	p.ea.PathMTU(p.localA, netip.MustParseAddrPort("127.176.0.11:4500"), 1300) // another path
	p.ea.PathMTU(p.localA, p.localB, 1500)                                     // no less than the outer MTU
	send("after the MTUs of other paths", v4DF, 0)

	p.ea.PathMTU(p.localA, p.localB, 1400)
	p.ea.PathMTU(p.localA, p.localB, 1450) // late, or forged: not taken
	send("IPv4 with DF", v4DF, 1338)
	send("IPv6", v6, 1338)
	send("IPv4 with DF of the MTU", sized("10.1.0.5", "10.2.0.7", 1338, true), 0)
	send("IPv4 without DF", sized("10.1.0.5", "10.2.0.7", 1438, false), 0)
	if d := status(t, p.ea, "t").Drops.TooBig; d != 2 {
		t.Errorf("%d packets counted too big, want 2", d)
	}

	clk.advance(pmtuLifetime / 2)
	p.ea.PathMTU(p.localA, p.localB, 1400) // the same again (the kernel's, read again): it holds from now
	clk.advance(pmtuLifetime - time.Second)
	send("just before the path MTU expires", v4DF, 1338)
	clk.advance(time.Second)
	send("once it has expired", v4DF, 0)

	// No IPv4 path is taken to carry less than 552 bytes, as in Linux.
	p.ea.PathMTU(p.localA, p.localB, 300)
	send("after an MTU of 300", v4DF, 552-62)

	// What was learned goes with the path: the child moved away (a NAT's
	// new mapping, MOBIKE) and back forgets it.
	elsewhere := netip.AddrPortFrom(p.localB.Addr(), p.localB.Port()+1)
	for _, to := range []netip.AddrPort{elsewhere, p.localB} {
		if err := p.ea.MoveChild("t", 0xa0000001, p.localA, to, true); err != nil {
			t.Fatal(err)
		}
	}
	send("after the child moved", v4DF, 0)
}

// TestPathMTUIndexFollowsChildren: the index PathMTU looks tunnels up in
// holds each path while a child of the tunnel is on it, through a rekey's
// overlap and a move, and nothing once the children or the tunnel are
// gone: an MTU learned later for a path a tunnel left does not reach it.
func TestPathMTUIndexFollowsChildren(t *testing.T) {
	a, _ := pair(t, gcm256)
	e := a.e
	elsewhere := netip.AddrPortFrom(addrB.Addr(), addrB.Port()+1)
	index := func() map[outerEnds]int {
		e.mu.Lock()
		defer e.mu.Unlock()
		got := map[outerEnds]int{}
		for p, ts := range e.paths {
			for tn, n := range ts {
				if tn.name != "t" {
					t.Errorf("tunnel %q indexed", tn.name)
				}
				got[p] = n
			}
		}
		return got
	}
	check := func(what string, want map[outerEnds]int) {
		t.Helper()
		if got := index(); !maps.Equal(got, want) {
			t.Errorf("%s: index %v, want %v", what, got, want)
		}
	}
	home, away := outerEnds{addrA, addrB}, outerEnds{addrA, elsewhere}
	check("one child", map[outerEnds]int{home: 1})
	rekeyed, _ := childPair(gcm256, "t", 0xa0000002, 0xb0000002)
	if err := e.AddChild(rekeyed); err != nil {
		t.Fatal(err)
	}
	check("a rekey's overlap", map[outerEnds]int{home: 2})
	if err := e.MoveChild("t", 0xa0000002, addrA, elsewhere, true); err != nil {
		t.Fatal(err)
	}
	check("one child moved", map[outerEnds]int{home: 1, away: 1})
	e.RemoveChild("t", 0xa0000001)
	check("the old child removed", map[outerEnds]int{away: 1})
	e.PathMTU(addrA, addrB, 1400) // the path the tunnel left
	e.mu.Lock()
	tn := e.tunnels["t"]
	e.mu.Unlock()
	if v := tn.pmtu.Load(); v != 0 {
		t.Errorf("the tunnel took the MTU of a path it left: %#x", v)
	}
	if err := e.Reconfig(Config{Tunnels: []Tunnel{{Name: "other", Routes: prefixes("10.9.0.0/16")}}}); err != nil {
		t.Fatal(err)
	}
	check("the tunnel removed", map[outerEnds]int{})
}

// kernelReads is an Outer that keeps what is sent and counts the reads
// of the kernel's path MTU, by path.
type kernelReads struct {
	capture
	mu    sync.Mutex // guards reads
	reads map[outerEnds]int
}

func (k *kernelReads) KernelPathMTU(local, remote netip.AddrPort) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads[outerEnds{local, remote}]++
	return 1400, nil
}

// TestLearnPathMTUsReadsPathsThatSent: LearnPathMTUs reads the kernel's
// path MTU (two syscalls a path) only for the paths whose children sent
// ESP since it last looked; AddChild reads the child's path at once
// whatever it sends. Every path was read at each call (every 5 s): with
// 10,000 tunnels, 4,000 syscalls a second, mostly for idle paths.
func TestLearnPathMTUsReadsPathsThatSent(t *testing.T) {
	outer := &kernelReads{reads: map[outerEnds]int{}}
	inner := tuntest.NewRecorder(64)
	e, err := New(Options{Inner: inner, Outer: outer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Reconfig(Config{Tunnels: []Tunnel{{Name: "busy", Routes: prefixes("10.2.0.0/16")}, {Name: "idle", Routes: prefixes("10.3.0.0/16")}}}); err != nil {
		t.Fatal(err)
	}
	other := netip.MustParseAddrPort("192.0.2.3:4500")
	busy, _ := childPair(gcm256, "busy", 0xa0000001, 0xb0000001)
	idle, _ := childPair(gcm256, "idle", 0xa0000002, 0xb0000002)
	idle.Remote = other
	for _, c := range []ipsec.Child{busy, idle} {
		if err := e.AddChild(c); err != nil {
			t.Fatal(err)
		}
	}
	busyPath, idlePath := outerEnds{addrA, addrB}, outerEnds{addrA, other}
	sent := 0
	for _, step := range []struct {
		what string
		// to is where a packet goes before LearnPathMTUs; "": none.
		to string
		// The reads of each path in all since the start.
		busy, idle int
	}{
		{"the children added, nothing sent", "", 1, 1},
		{"the busy tunnel sent", "10.2.0.7", 2, 1},
		{"nothing sent since", "", 2, 1},
		{"the idle tunnel sent", "10.3.0.7", 2, 2},
	} {
		if step.to != "" {
			inner.Send(sized("10.1.0.5", step.to, 100, false))
			sent++
			outer.wait(t, sent)
		}
		e.LearnPathMTUs()
		outer.mu.Lock()
		busy, idle := outer.reads[busyPath], outer.reads[idlePath]
		outer.mu.Unlock()
		if busy != step.busy || idle != step.idle {
			t.Errorf("%s: the kernel's path MTU read %d times for the busy tunnel's path, %d for the idle one's; want %d and %d",
				step.what, busy, idle, step.busy, step.idle)
		}
	}
}
