package tunnel

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/pcap"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
	"github.com/vnetgw/vnetgw/internal/udp"
	"github.com/vnetgw/vnetgw/internal/udp/udptest"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// TestRoundTripRFC4303 sends packets both ways through two engines, for
// each cipher and IP version, and checks that they arrive unchanged and are
// counted.
func TestRoundTripRFC4303(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			a, b := pair(t, s)
			pkts := [][]byte{
				packet("10.1.0.5", "10.2.0.7", 1372),
				packet("10.1.0.5", "10.2.0.7", 0),
				packet("2001:db8:1::5", "2001:db8:2::7", 1200),
			}
			var sent uint64
			for _, p := range pkts {
				a.inner.Send(p)
				sent += uint64(len(p))
				got, ok := b.inner.Next(5 * time.Second)
				if !ok || !bytes.Equal(got, p) {
					t.Fatalf("B got %x, want %x", got, p)
				}
			}
			reply := packet("10.2.0.7", "10.1.0.5", 100)
			b.inner.Send(reply)
			if got, ok := a.inner.Next(5 * time.Second); !ok || !bytes.Equal(got, reply) {
				t.Fatalf("A got %x, want %x", got, reply)
			}
			// A packet is counted once the inner side took it: just
			// after it arrived there.
			eventually(t, "the counters", func() bool {
				return status(t, a.e, "t").PacketsIn == 1 && status(t, b.e, "t").PacketsIn == 3
			})
			sa, sb := status(t, a.e, "t"), status(t, b.e, "t")
			if sa.PacketsOut != 3 || sa.BytesOut != sent || sb.PacketsIn != 3 || sb.BytesIn != sent {
				t.Errorf("counters A out %d/%d, B in %d/%d; want 3/%d", sa.PacketsOut, sa.BytesOut, sb.PacketsIn, sb.BytesIn, sent)
			}
			if sa.PacketsIn != 1 || sa.LastInbound.IsZero() || sb.LastInbound.IsZero() {
				t.Errorf("A in %d, last inbound A %v B %v", sa.PacketsIn, sa.LastInbound, sb.LastInbound)
			}
			if c := sb.Children[0]; c.In.PacketsIn != 3 || c.InSPI != 0xb0000001 || c.OutSPI != 0xa0000001 || c.LastInbound.IsZero() {
				t.Errorf("B child %+v", c)
			}
			// What IKE reads as proof that the peer is alive.
			if got, want := b.e.LastInbound("t"), sb.Children[0].LastInbound; !got.Equal(want) {
				t.Errorf("LastInbound of B %v, want its child's %v", got, want)
			}
			if got := b.e.LastInbound("none"); !got.IsZero() {
				t.Errorf("LastInbound of no tunnel %v, want zero", got)
			}
		})
	}
}

// TestProtocol50RFC4303 checks that a child without UDP encapsulation
// sends its ESP from and to the bare addresses (port 0), where the outer
// side binds its raw IP protocol 50 endpoints, whatever ports IKE used.
func TestProtocol50RFC4303(t *testing.T) {
	n := udptest.NewNetwork()
	rawA, rawB := netip.AddrPortFrom(addrA.Addr(), 0), netip.AddrPortFrom(addrB.Addr(), 0)
	a := newSide(t, n, rawA, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16")}}})
	b := newSide(t, n, rawB, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.1.0.0/16")}}})
	ca, cb := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
	ca.Encap, cb.Encap = false, false
	if err := a.e.AddChild(ca); err != nil {
		t.Fatal(err)
	}
	if err := b.e.AddChild(cb); err != nil {
		t.Fatal(err)
	}
	p := packet("10.1.0.5", "10.2.0.7", 1000)
	a.inner.Send(p)
	if got, ok := b.inner.Next(5 * time.Second); !ok || !bytes.Equal(got, p) {
		t.Fatalf("B got %x, want %x", got, p)
	}
	reply := packet("10.2.0.7", "10.1.0.5", 100)
	b.inner.Send(reply)
	if got, ok := a.inner.Next(5 * time.Second); !ok || !bytes.Equal(got, reply) {
		t.Fatalf("A got %x, want %x", got, reply)
	}
	if n.Lost() != 0 {
		t.Fatalf("%d packets went to an address without an endpoint", n.Lost())
	}
}

// TestRoutesLongestPrefix checks the choice of tunnel by destination and the
// drop of what no tunnel routes.
func TestRoutesLongestPrefix(t *testing.T) {
	n := udptest.NewNetwork()
	a := newSide(t, n, addrA, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{
		{Name: "wide", Routes: prefixes("10.2.0.0/16")},
		{Name: "narrow", Routes: prefixes("10.2.3.0/24")},
		{Name: "default6", Routes: prefixes("::/0")},
	}})
	for i, name := range []string{"wide", "narrow", "default6"} {
		c, _ := childPair(gcm256, name, 0xa0000001+uint32(i), 0xb0000001+uint32(i))
		if err := a.e.AddChild(c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		dst  string
		want string // tunnel, or "" for no route
	}{
		{"10.2.3.4", "narrow"},
		{"10.2.4.4", "wide"},
		{"10.2.255.255", "wide"},
		{"2001:db8::1", "default6"},
		{"10.3.0.1", ""},
	}
	for _, tt := range tests {
		before := a.e.Status()
		src := "10.1.0.1"
		if netip.MustParseAddr(tt.dst).Is6() {
			src = "2001:db8:1::1"
		}
		a.inner.Send(packet(src, tt.dst, 10))
		eventually(t, "the packet", func() bool {
			after := a.e.Status()
			return after.Drops.NoRoute > before.Drops.NoRoute || sumOut(after) > sumOut(before)
		})
		after := a.e.Status()
		for i, ts := range after.Tunnels {
			moved := ts.PacketsOut - before.Tunnels[i].PacketsOut
			if (ts.Name == tt.want) != (moved == 1) {
				t.Errorf("to %s: tunnel %s sent %d", tt.dst, ts.Name, moved)
			}
		}
		if noRoute := after.Drops.NoRoute - before.Drops.NoRoute; (tt.want == "") != (noRoute == 1) {
			t.Errorf("to %s: %d no-route drops", tt.dst, noRoute)
		}
	}
	// Not an IP packet.
	a.inner.Send([]byte{0x00, 1, 2, 3})
	eventually(t, "the not-IP drop", func() bool { return a.e.Status().Drops.NotIP == 1 })
}

// TestStandbyTunnels: a route may also be in standby tunnels (an
// active-active gateway's tunnels to the peer's other instances). The
// tunnel it belongs to carries it while that has a child SA; else the
// first standby by name that has one; a second owner is refused.
func TestStandbyTunnels(t *testing.T) {
	n := udptest.NewNetwork()
	a := newSide(t, n, addrA, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{
		{Name: "to-b1", Routes: prefixes("10.2.0.0/16"), Standby: true},
		{Name: "to-b0", Routes: prefixes("10.2.0.0/16")},
		{Name: "to-b2", Routes: prefixes("10.2.0.0/16"), Standby: true},
	}})
	children := map[string]uint32{}
	for i, name := range []string{"to-b0", "to-b1", "to-b2"} {
		c, _ := childPair(gcm256, name, 0xa0000001+uint32(i), 0xb0000001+uint32(i))
		if err := a.e.AddChild(c); err != nil {
			t.Fatal(err)
		}
		children[name] = c.In.SPI
	}
	sent := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, ts := range a.e.Status().Tunnels {
			out[ts.Name] = ts.PacketsOut
		}
		return out
	}
	for _, want := range []string{"to-b0", "to-b1", "to-b2", ""} {
		before := sent()
		a.inner.Send(packet("10.1.0.1", "10.2.0.7", 10))
		if want == "" {
			eventually(t, "the drop", func() bool { return status(t, a.e, "to-b0").Drops.NoSA == 1 })
		} else {
			eventually(t, "the packet through "+want, func() bool { return sent()[want] == before[want]+1 })
			a.e.RemoveChild(want, children[want]) // its peer went away: the next one takes over
		}
		if c := a.e.Carries(netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.2.0.7")); c != (want != "to-b2" && want != "") {
			t.Errorf("after %q lost its child SA, Carries = %v", want, c)
		}
	}
	if err := a.e.Reconfig(Config{Tunnels: []Tunnel{{Name: "x", Routes: prefixes("10.2.0.0/16")}, {Name: "y", Routes: prefixes("10.2.0.0/16")}}}); err == nil {
		t.Error("a route that belongs to two tunnels was accepted")
	}
}

func sumOut(s Status) (n uint64) {
	for _, t := range s.Tunnels {
		n += t.PacketsOut
	}
	return n
}

// TestPolicyBasedSelection checks that a policy-based tunnel picks the
// child whose selectors hold source and destination, and drops (as a
// selector mismatch) and acquires when none does.
func TestPolicyBasedSelection(t *testing.T) {
	n := udptest.NewNetwork()
	a := newSide(t, n, addrA, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "p", Routes: prefixes("10.2.0.0/16"), PolicyBased: true}}})
	c1, _ := childPair(gcm256, "p", 0xa0000001, 0xb0000001)
	c1.LocalTS, c1.RemoteTS = prefixes("10.1.1.0/24"), prefixes("10.2.0.0/16")
	c2, _ := childPair(gcm256, "p", 0xa0000002, 0xb0000002)
	c2.LocalTS, c2.RemoteTS = prefixes("10.1.2.0/24"), prefixes("10.2.5.0/24")
	for _, c := range []ipsec.Child{c1, c2} {
		if err := a.e.AddChild(c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		src, dst string
		wantSPI  uint32 // the outbound SPI, 0 for none
	}{
		{"10.1.1.9", "10.2.0.1", 0xb0000001},
		{"10.1.2.9", "10.2.5.1", 0xb0000002},
		{"10.1.2.9", "10.2.6.1", 0}, // c2 does not cover the destination
		{"10.1.3.9", "10.2.0.1", 0}, // nor anyone the source
	}
	for _, tt := range tests {
		before := status(t, a.e, "p")
		a.inner.Send(packet(tt.src, tt.dst, 10))
		eventually(t, "the packet", func() bool {
			after := status(t, a.e, "p")
			return after.PacketsOut+after.Drops.NoSelector > before.PacketsOut+before.Drops.NoSelector
		})
		if d := status(t, a.e, "p").Drops; d.NoSA != 0 {
			t.Errorf("%v dropped as without child SA (%d), not as outside the children's selectors", tt, d.NoSA)
		}
		for _, c := range status(t, a.e, "p").Children {
			var was uint64
			for _, b := range before.Children {
				if b.OutSPI == c.OutSPI {
					was = b.Out.PacketsOut
				}
			}
			if used := c.Out.PacketsOut - was; (c.OutSPI == tt.wantSPI) != (used == 1) {
				t.Errorf("%s->%s: SA %08x sealed %d", tt.src, tt.dst, c.OutSPI, used)
			}
		}
	}
	if _, acq := a.ev.get(); len(acq) != 1 || acq[0] != "p 10.1.2.9->10.2.6.1" {
		t.Errorf("acquires %q, want one for the first packet without an SA", acq)
	}
}

// TestAcquireRateLimit checks that packets without an SA make at most one
// acquire a second per tunnel.
func TestAcquireRateLimit(t *testing.T) {
	n := udptest.NewNetwork()
	a := newSide(t, n, addrA, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{
		{Name: "p", Routes: prefixes("10.2.0.0/16"), PolicyBased: true},
		{Name: "q", Routes: prefixes("10.3.0.0/16"), PolicyBased: true},
		{Name: "r", Routes: prefixes("10.4.0.0/16")}, // route-based: no acquire
	}})
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	a.e.now = clk.now
	b := newOutBatch(8)
	send := func(dst string, count int) {
		for i := range count {
			copy(b.bufs[i][esp.Headroom:], packet("10.1.0.1", dst, 10))
			b.sizes[i] = 38
		}
		a.e.outbound(b, count)
	}
	steps := []struct {
		advance time.Duration
		dst     string
		count   int
		want    int // acquires so far
	}{
		{0, "10.2.0.1", 5, 1},
		{0, "10.3.0.1", 2, 2}, // another tunnel has its own limit
		{0, "10.4.0.1", 3, 2},
		{500 * time.Millisecond, "10.2.0.1", 3, 2},
		{600 * time.Millisecond, "10.2.0.1", 3, 3},
		{10 * time.Millisecond, "10.2.0.1", 1, 3},
	}
	for i, st := range steps {
		clk.advance(st.advance)
		send(st.dst, st.count)
		if _, acq := a.ev.get(); len(acq) != st.want {
			t.Fatalf("step %d: %d acquires %q, want %d", i, len(acq), acq, st.want)
		}
	}
	if d := status(t, a.e, "p").Drops.NoSA; d != 12 {
		t.Errorf("tunnel p dropped %d packets without an SA, want 12", d)
	}
}

// TestRekeyOverlap checks RFC 7296 §2.8 rekeying on the data path: the
// newest child sends, every child receives until it is removed.
func TestRekeyOverlap(t *testing.T) {
	n := udptest.NewNetwork()
	cap := &capture{}
	innerA := tuntest.NewRecorder(64)
	ea, err := New(Options{Inner: innerA, Outer: cap})
	if err != nil {
		t.Fatal(err)
	}
	defer ea.Close()
	cfg := Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.0.0.0/8")}}}
	ea.Reconfig(cfg)
	b := newSide(t, n, addrB, tuntest.NewRecorder(64), cfg)

	old1, old2 := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
	new1, new2 := childPair(gcm256, "t", 0xa0000002, 0xb0000002)
	if err := ea.AddChild(old1); err != nil {
		t.Fatal(err)
	}
	b.e.AddChild(old2)
	p := packet("10.1.0.1", "10.2.0.1", 50)
	innerA.Send(p)
	innerA.Send(p)
	cap.wait(t, 2)
	ea.AddChild(new1)
	b.e.AddChild(new2)
	innerA.Send(p)
	sent := cap.wait(t, 3)
	for i, want := range []uint32{0xb0000001, 0xb0000001, 0xb0000002} {
		if spi := binary.BigEndian.Uint32(sent[i]); spi != want {
			t.Fatalf("datagram %d has SPI %08x, want %08x", i, spi, want)
		}
	}
	// The new SA's packet overtakes one of the old SA's: both arrive.
	b.e.HandleESP(addrB, datagrams(sent[2], sent[0]))
	for range 2 {
		if got, ok := b.inner.Next(5 * time.Second); !ok || !bytes.Equal(got, p) {
			t.Fatalf("B got %x", got)
		}
	}
	b.e.RemoveChild("t", 0xb0000001)
	b.e.HandleESP(addrB, datagrams(sent[1]))
	if s := b.e.Status(); s.Drops.UnknownSPI != 1 || len(s.Tunnels[0].Children) != 1 || s.Tunnels[0].PacketsIn != 2 {
		t.Fatalf("after removing the old child: %+v", s)
	}
}

// TestDrainChildRFC7296Section1_4_1: a drained child sends nothing more,
// the tunnel's traffic going over its other child, even one on standby,
// or nowhere without one; it no longer counts for Up or Status, and its
// inbound SA opens what the peer sent with it until it is removed (the
// end that deletes an SA keeps receiving until the peer has closed its
// half).
func TestDrainChildRFC7296Section1_4_1(t *testing.T) {
	for _, tc := range []struct {
		name    string
		other   bool // A has another child
		standby bool // on standby
	}{
		{"older child takes over", true, false},
		{"child on standby takes over", true, true},
		{"no other child", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.0.0.0/8")}}}
			mk := func(inner *tuntest.Device, out *capture) *Engine {
				e, err := New(Options{Inner: inner, Outer: out})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { e.Close() })
				e.Reconfig(cfg)
				return e
			}
			innerA, innerB, capA, capB := tuntest.NewRecorder(64), tuntest.NewRecorder(64), &capture{}, &capture{}
			a, b := mk(innerA, capA), mk(innerB, capB)
			other, _ := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
			other.Standby = tc.standby
			drained, peer := childPair(gcm256, "t", 0xa0000002, 0xb0000002)
			if tc.other {
				if err := a.AddChild(other); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.AddChild(drained); err != nil {
				t.Fatal(err)
			}
			if err := b.AddChild(peer); err != nil {
				t.Fatal(err)
			}
			// B seals a packet with the pair before A drains it; it
			// arrives after.
			innerB.Send(packet("10.2.0.1", "10.1.0.1", 50))
			late := capB.wait(t, 1)[0]

			a.DrainChild("t", 0xa0000002)
			want := 0
			if tc.other {
				want = 1
			}
			if st := status(t, a, "t"); len(st.Children) != want || a.Up("t") != tc.other {
				t.Errorf("after the drain: up %v, children %+v; want %d children", a.Up("t"), st.Children, want)
			}
			innerA.Send(packet("10.1.0.1", "10.2.0.1", 50))
			if tc.other {
				if spi := binary.BigEndian.Uint32(capA.wait(t, 1)[0]); spi != 0xb0000001 {
					t.Fatalf("A sealed with %08x after the drain, want the other child's b0000001", spi)
				}
			} else {
				eventually(t, "the packet dropped without a child", func() bool { return status(t, a, "t").Drops.NoSA == 1 })
				if sent := len(capA.wait(t, 0)); sent != 0 {
					t.Fatalf("A sent %d datagrams with only a drained child", sent)
				}
			}
			a.HandleESP(addrA, datagrams(late))
			if _, ok := innerA.Next(5 * time.Second); !ok {
				t.Fatal("A did not open what B sent with the drained child")
			}
			a.RemoveChild("t", 0xa0000002)
			a.HandleESP(addrA, datagrams(late))
			if d := a.Status().Drops.UnknownSPI; d != 1 {
				t.Errorf("after the removal: %d packets of an unknown SPI, want 1", d)
			}
		})
	}
}

// TestStandbyChildRFC7296Section2_8 checks that a pair this side answered
// in CREATE_CHILD_SA carries outbound traffic only once the peer has shown
// it installed it (a packet arrived on it), or once the older pair is gone.
func TestStandbyChildRFC7296Section2_8(t *testing.T) {
	for _, tc := range []struct {
		name     string
		activate func(t *testing.T, a, b *side, capB *capture)
	}{
		{"packet from the peer", func(t *testing.T, a, b *side, capB *capture) {
			b.inner.Send(packet("10.2.0.1", "10.1.0.1", 50))
			a.e.HandleESP(addrA, datagrams(capB.wait(t, 1)[0]))
			if _, ok := a.inner.Next(5 * time.Second); !ok {
				t.Fatal("A got nothing from B")
			}
		}},
		{"old pair removed", func(_ *testing.T, a, _ *side, _ *capture) { a.e.RemoveChild("t", 0xa0000001) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capA, capB := &capture{}, &capture{}
			mk := func(c *capture, routes string) *side {
				s := &side{inner: tuntest.NewRecorder(64)}
				e, err := New(Options{Inner: s.inner, Outer: c})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { e.Close() })
				e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes(routes)}}})
				s.e = e
				return s
			}
			a, b := mk(capA, "10.2.0.0/16"), mk(capB, "10.1.0.0/16")
			old1, old2 := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
			new1, new2 := childPair(gcm256, "t", 0xa0000002, 0xb0000002)
			new1.Standby = true // A answered B's rekey
			a.add(t, old1, new1)
			b.add(t, old2, new2)
			p := packet("10.1.0.1", "10.2.0.1", 50)
			a.inner.Send(p)
			if spi := binary.BigEndian.Uint32(capA.wait(t, 1)[0]); spi != 0xb0000001 {
				t.Fatalf("A sealed with %08x before B used the new pair, want the old 0xb0000001", spi)
			}
			tc.activate(t, a, b, capB)
			a.inner.Send(p)
			if spi := binary.BigEndian.Uint32(capA.wait(t, 2)[1]); spi != 0xb0000002 {
				t.Fatalf("A sealed with %08x afterwards, want the new 0xb0000002", spi)
			}
		})
	}
}

// TestSpentChildYieldsToStandby: once the outbound SA of the child in use
// can seal no more (out of sequence numbers, RFC 4303 §3.3.3, or past a
// hard limit) while the peer's rekey waits on standby, traffic goes on
// with the standby child instead of being dropped until the peer uses it.
func TestSpentChildYieldsToStandby(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits esp.Limits
	}{
		// HardPackets stands for the 2^32-1 sequence numbers without ESN.
		{"no sequence numbers left", esp.Limits{HardPackets: 2}},
		{"hard byte limit", esp.Limits{HardBytes: 150}}, // two 100-byte packets
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := udptest.NewNetwork()
			a := newSide(t, n, addrA, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16")}}})
			b := newSide(t, n, addrB, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.1.0.0/16")}}})
			old1, old2 := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
			old1.Out.Limits = tc.limits
			new1, new2 := childPair(gcm256, "t", 0xa0000002, 0xb0000002)
			new1.Standby = true // A answered B's rekey; B has not used it yet
			a.add(t, old1, new1)
			b.add(t, old2, new2)
			for i := range 4 {
				a.inner.Send(packet("10.1.0.1", "10.2.0.1", 72))
				if _, ok := b.inner.Next(5 * time.Second); !ok {
					t.Fatalf("packet %d did not arrive: A dropped %+v", i+1, status(t, a.e, "t").Drops)
				}
			}
			for _, c := range status(t, b.e, "t").Children {
				if c.In.PacketsIn != 2 {
					t.Errorf("B opened %d packets with 0x%08x, want 2", c.In.PacketsIn, c.InSPI)
				}
			}
		})
	}
}

// TestSelectorsRFC4301Section5_2 checks that a packet outside the SA's
// selectors is dropped and counted after it was opened.
func TestSelectorsRFC4301Section5_2(t *testing.T) {
	a, b := pair(t, gcm256)
	// B narrows its child: only 10.1.0.0/16 -> 10.2.0.0/24 may come in.
	_, cb := childPair(gcm256, "t", 0xa0000009, 0xb0000009)
	cb.LocalTS, cb.RemoteTS = prefixes("10.2.0.0/24"), prefixes("10.1.0.0/16")
	ca := ipsec.Child{Tunnel: "t", In: cb.Out, Out: cb.In, Local: addrA, Remote: addrB, Encap: true, LocalTS: anyTS, RemoteTS: anyTS}
	if err := a.e.AddChild(ca); err != nil {
		t.Fatal(err)
	}
	if err := b.e.AddChild(cb); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		src, dst string
		pass     bool
	}{
		{"inside", "10.1.0.5", "10.2.0.5", true},
		{"source outside", "10.9.0.5", "10.2.0.5", false},
		{"destination outside", "10.1.0.5", "10.2.1.5", false},
		{"ipv6 against ipv4 selectors", "2001:db8:1::5", "2001:db8:2::5", false},
	}
	drops := uint64(0)
	for _, tt := range tests {
		p := packet(tt.src, tt.dst, 20)
		a.inner.Send(p)
		if tt.pass {
			if got, ok := b.inner.Next(5 * time.Second); !ok || !bytes.Equal(got, p) {
				t.Fatalf("%s: B got %x", tt.name, got)
			}
			continue
		}
		drops++
		eventually(t, tt.name+" dropped", func() bool { return status(t, b.e, "t").Drops.Selector == drops })
		if c := status(t, b.e, "t").Children[1]; c.SelectorDrops != drops {
			t.Fatalf("%s: child counted %d selector drops, want %d", tt.name, c.SelectorDrops, drops)
		}
	}
	if _, ok := b.inner.Next(50 * time.Millisecond); ok {
		t.Fatal("a packet outside the selectors reached the inner side")
	}
}

// sealInner seals inner, of next header next, with sealer: what a peer
// sends, valid inner packet or not.
func sealInner(t *testing.T, sealer *esp.SA, inner []byte, next uint8) []byte {
	t.Helper()
	buf := make([]byte, esp.Headroom+len(inner)+esp.Tailroom)
	copy(buf[esp.Headroom:], inner)
	pkt, err := sealer.Seal(buf, len(inner), next)
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// TestDummyAndMalformedRFC4303Section2_6 seals what is not a valid inner
// packet with B's inbound SA and checks how B drops it.
func TestDummyAndMalformedRFC4303Section2_6(t *testing.T) {
	tests := []struct {
		name  string
		inner []byte
		next  uint8
		check func(TunnelDrops) bool
	}{
		{"dummy", []byte{1, 2, 3}, espwire.NextHeaderNone, func(d TunnelDrops) bool { return d.Dummy == 1 }},
		{"not ip", []byte{0, 1, 2, 3}, espwire.NextHeaderIPv4, func(d TunnelDrops) bool { return d.Malformed == 1 }},
		{"ipv6 said to be ipv4", packet("2001:db8:1::1", "2001:db8:2::1", 4), espwire.NextHeaderIPv4, func(d TunnelDrops) bool { return d.Malformed == 1 }},
		{"truncated ipv4", packet("10.1.0.1", "10.2.0.1", 40)[:30], espwire.NextHeaderIPv4, func(d TunnelDrops) bool { return d.Malformed == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := udptest.NewNetwork()
			b := newSide(t, n, addrB, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t"}}})
			_, cb := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
			if err := b.e.AddChild(cb); err != nil {
				t.Fatal(err)
			}
			sealer, err := esp.New(cb.In)
			if err != nil {
				t.Fatal(err)
			}
			pkt := sealInner(t, sealer, tt.inner, tt.next)
			b.e.HandleESP(addrB, datagrams(pkt, pkt[:espwire.HeaderLen-1]))
			if d := status(t, b.e, "t").Drops; !tt.check(d) {
				t.Fatalf("drops %+v", d)
			}
			if s := b.e.Status().Drops; s.Short != 1 {
				t.Fatalf("short drops %d, want 1", s.Short)
			}
		})
	}
}

// TestDroppedESPProvesPeerAliveRFC7296Section2_4: ESP that authenticated
// and is no replay proves the peer alive (RFC 7296 §2.4, a cryptographically
// protected message), though the data plane drops what it carries: a dummy
// packet (RFC 4303 §2.6, Next Header 59), one outside the child's
// selectors, one whose Next Header is not its inner packet's or one whose
// padding is wrong (RFC 4303 §2.4, found after the integrity check) moves
// LastInbound, which dead peer detection reads, each time one comes. It
// did not: a peer sending only dummies, or only packets whose padding was
// wrong, was asked whether it was alive every interval. A forged packet,
// or a replay, moves nothing.
func TestDroppedESPProvesPeerAliveRFC7296Section2_4(t *testing.T) {
	tests := []struct {
		name  string
		inner []byte
		next  uint8
		// plaintext, when set, is sealed as it is, trailer and all, in
		// place of inner with the trailer Seal makes.
		plaintext []byte
		dropped   func(TunnelDrops) uint64
	}{
		{"dummy", []byte{1, 2, 3}, espwire.NextHeaderNone, nil, func(d TunnelDrops) uint64 { return d.Dummy }},
		{"outside the selectors", packet("10.9.0.5", "10.2.0.5", 20), espwire.NextHeaderIPv4, nil, func(d TunnelDrops) uint64 { return d.Selector }},
		{"next header not the inner packet's", packet("2001:db8:1::1", "2001:db8:2::1", 4), espwire.NextHeaderIPv4, nil, func(d TunnelDrops) uint64 { return d.Malformed }},
		// Pad length 2, padding 7, 7 instead of 1, 2.
		{"bad padding", nil, 0, []byte{0x45, 0, 0, 0, 7, 7, 2, espwire.NextHeaderIPv4}, func(d TunnelDrops) uint64 { return d.Padding }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := udptest.NewNetwork()
			b := newSide(t, n, addrB, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t"}}})
			clk := &clock{}
			clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			b.e.now = clk.now
			_, cb := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
			cb.LocalTS, cb.RemoteTS = prefixes("10.2.0.0/24"), prefixes("10.1.0.0/16")
			key := make([]byte, 36) // AES-256 and the salt (RFC 4106 §8.1)
			rand.Read(key)
			cb.In.Keys = esp.NewKeys(key, nil)
			if err := b.e.AddChild(cb); err != nil {
				t.Fatal(err)
			}
			sealer, err := esp.New(cb.In)
			if err != nil {
				t.Fatal(err)
			}
			var seq uint32
			seal := func() []byte {
				if tt.plaintext == nil {
					return sealInner(t, sealer, tt.inner, tt.next)
				}
				seq++
				return sealGCM(t, key, cb.In.SPI, seq, tt.plaintext)
			}
			const count = 3
			var last []byte
			for i := range count {
				last = seal()
				b.e.HandleESP(addrB, datagrams(bytes.Clone(last)))
				if got, want := b.e.LastInbound("t"), clk.now(); !got.Equal(want) {
					t.Fatalf("packet %d, dropped, came at %v: LastInbound %v; want when it came", i+1, want, got)
				}
				clk.advance(time.Minute)
			}
			forged := seal()
			forged[len(forged)-1] ^= 1
			b.e.HandleESP(addrB, datagrams(forged, last))
			if got, want := b.e.LastInbound("t"), clk.now().Add(-time.Minute); !got.Equal(want) {
				t.Errorf("after a forged packet and a replay: LastInbound %v; want %v, the last authentic packet's", got, want)
			}
			d := status(t, b.e, "t").Drops
			if got := tt.dropped(d); got != count || d.Integrity != 1 || d.Replay != 1 {
				t.Errorf("drops %+v; want %d of the packets sent, the forged one as integrity, the replay as replay", d, count)
			}
		})
	}
}

// sealGCM seals plaintext, its ESP trailer included, as packet seq of
// SPI spi with AES-GCM key material key (RFC 4106: the key, then a
// 4-byte salt; the sequence number as IV): what a peer that holds the
// keys sends, its trailer right or not, which esp.SA.Seal cannot make.
func sealGCM(t *testing.T, key []byte, spi, seq uint32, plaintext []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key[:len(key)-4])
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	hdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, spi), seq)
	iv := binary.BigEndian.AppendUint64(nil, uint64(seq))
	nonce := append(bytes.Clone(key[len(key)-4:]), iv...)
	return g.Seal(append(bytes.Clone(hdr), iv...), nonce, plaintext, hdr)
}

// TestRemoveChildStopsTraffic checks that without children nothing passes
// either way and both ends count it.
func TestRemoveChildStopsTraffic(t *testing.T) {
	a, b := pair(t, cbc256)
	p := packet("10.1.0.5", "10.2.0.7", 100)
	a.inner.Send(p)
	if _, ok := b.inner.Next(5 * time.Second); !ok {
		t.Fatal("no traffic before removal")
	}
	a.e.RemoveChild("t", 0xa0000001)
	a.e.RemoveChild("t", 0xa0000001) // twice is harmless
	a.e.RemoveChild("nope", 1)
	a.inner.Send(p)
	eventually(t, "the drop without SA", func() bool { return status(t, a.e, "t").Drops.NoSA == 1 })
	b.e.RemoveChild("t", 0xb0000001)
	b.inner.Send(packet("10.2.0.7", "10.1.0.5", 100))
	eventually(t, "B's drop without SA", func() bool { return status(t, b.e, "t").Drops.NoSA == 1 })
	if _, ok := a.inner.Next(50 * time.Millisecond); ok {
		t.Fatal("traffic passed after the children were removed")
	}
}

// TestMoveChildKeepsSequence: a child moved to new outer endpoints goes on
// with its sequence numbers (so the peer's replay window takes its packets
// and no AES-GCM IV repeats) and sends to the new endpoint.
func TestMoveChildKeepsSequence(t *testing.T) {
	a, b := pair(t, gcm256)
	p := packet("10.1.0.5", "10.2.0.7", 100)
	for range 3 {
		a.inner.Send(p)
		if _, ok := b.inner.Next(5 * time.Second); !ok {
			t.Fatal("no traffic before the move")
		}
	}
	c := status(t, a.e, "t").Children[0]
	if err := a.e.MoveChild("t", 0xa0000001, c.Local, c.Remote, true); err != nil {
		t.Fatal(err)
	}
	a.inner.Send(p)
	if _, ok := b.inner.Next(5 * time.Second); !ok {
		t.Fatalf("the peer refused the moved child's packet: %+v", status(t, b.e, "t").Drops)
	}
	if out := status(t, a.e, "t").Children[0].Out; out.PacketsOut != 4 {
		t.Errorf("outbound SA sent %d packets, want 4 on one sequence", out.PacketsOut)
	}
	elsewhere := netip.AddrPortFrom(c.Remote.Addr(), c.Remote.Port()+1)
	if err := a.e.MoveChild("t", 0xa0000001, c.Local, elsewhere, true); err != nil {
		t.Fatal(err)
	}
	if got := status(t, a.e, "t").Children[0].Remote; got != elsewhere {
		t.Errorf("moved child sends to %v, want %v", got, elsewhere)
	}
	for _, bad := range []error{
		a.e.MoveChild("t", 0x12345678, c.Local, c.Remote, true),
		a.e.MoveChild("nope", 0xa0000001, c.Local, c.Remote, true),
		a.e.MoveChild("t", 0xa0000001, c.Local, netip.AddrPortFrom(c.Remote.Addr(), 0), true),
	} {
		if bad == nil {
			t.Error("a bad move was accepted")
		}
	}
}

// TestPeerMovedRFC7296Section2_23: when the peer's NAT maps it to a new
// port (after a reboot, say), ESP that authenticates and is newer than
// any before it, from there, is reported to the IKE daemon, which decides
// whether to follow (this side must not be behind a NAT). Forged, replayed
// and older packets, which anyone could send from anywhere, are not, and
// reports are limited to one a second per child.
func TestPeerMovedRFC7296Section2_23(t *testing.T) {
	capA, innerA := &capture{}, tuntest.NewRecorder(64)
	ea, err := New(Options{Inner: innerA, Outer: capA})
	if err != nil {
		t.Fatal(err)
	}
	defer ea.Close()
	ev, innerB := &events{}, tuntest.NewRecorder(64)
	eb, err := New(Options{Inner: innerB, Outer: &capture{}, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	defer eb.Close()
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	eb.now = clk.now
	connectEngines(t, ea, eb, nil)
	for range 7 {
		innerA.Send(packet("10.1.0.1", "10.2.0.1", 50))
	}
	pkts := capA.wait(t, 7) // sequence numbers 1 to 7

	natOld := netip.MustParseAddrPort("198.51.100.7:61000")
	natNew := netip.MustParseAddrPort("198.51.100.7:62000")
	steps := []struct {
		name    string
		seq     int
		from    netip.AddrPort
		forged  bool
		advance time.Duration
		opens   bool
		moves   []string
	}{
		{"from the child's endpoint", 1, addrA, false, 0, true, nil},
		{"newest, from a new mapping", 3, natOld, false, 0, true, []string{"t/b0000001 " + natOld.String()}},
		// A second later, when a report could be made again:
		{"older than the newest", 2, natNew, false, time.Second, true, nil},
		{"forged", 4, natNew, true, 0, false, nil},
		{"replayed", 3, natNew, false, 0, false, nil},
		{"newest, from another mapping", 4, natNew, false, 0, true, []string{"t/b0000001 " + natNew.String()}},
		{"within a second of the last report", 5, natOld, false, 500 * time.Millisecond, true, nil},
		{"a second after the last report", 6, natOld, false, 500 * time.Millisecond, true, []string{"t/b0000001 " + natOld.String()}},
		// The same packet copied into raw ESP (port 0) by someone on the
		// path: it opens, but a peer using UDP is not moved to port 0.
		{"newest, as raw ESP", 7, netip.AddrPortFrom(natNew.Addr(), 0), false, time.Second, true, nil},
	}
	var want []string
	for _, st := range steps {
		clk.advance(st.advance)
		msgs := datagrams(pkts[st.seq-1])
		msgs[0].Addr = st.from
		if st.forged {
			msgs[0].Buf[msgs[0].N-1] ^= 1
		}
		eb.HandleESP(addrB, msgs)
		if _, ok := innerB.Next(100 * time.Millisecond); ok != st.opens {
			t.Fatalf("%s: opened %v, want %v", st.name, ok, st.opens)
		}
		want = append(want, st.moves...)
		if got := ev.moved(); !slices.Equal(got, want) {
			t.Fatalf("%s: reported %q, want %q", st.name, got, want)
		}
	}
	// The IKE daemon moves the child (MoveChild); the engine only tells.
	if got := status(t, eb, "t").Children[0].Remote; got != addrA {
		t.Errorf("the engine moved the child to %v on its own", got)
	}
}

// TestSoftExpiry checks that a soft limit of either SA is reported once,
// with the child's inbound SPI.
func TestSoftExpiry(t *testing.T) {
	n := udptest.NewNetwork()
	a := newSide(t, n, addrA, tuntest.NewRecorder(64), Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16")}}})
	c, _ := childPair(gcm256, "t", 0xa0000001, 0xb0000001)
	c.Out.Limits = esp.Limits{SoftPackets: 3, HardPackets: 5}
	if err := a.e.AddChild(c); err != nil {
		t.Fatal(err)
	}
	// The soft limit first, then the hard one: a hard expiry reported
	// before the soft one leaves it unreported, as a rekey is then moot.
	for range 3 {
		a.inner.Send(packet("10.1.0.1", "10.2.0.1", 10))
	}
	eventually(t, "the soft expiry", func() bool { soft, _ := a.ev.get(); return len(soft) == 1 })
	for range 3 {
		a.inner.Send(packet("10.1.0.1", "10.2.0.1", 10))
	}
	eventually(t, "all packets", func() bool { s := status(t, a.e, "t"); return s.PacketsOut+s.Drops.Seal == 6 })
	if soft, _ := a.ev.get(); soft[0] != "t/a0000001" {
		t.Fatalf("soft expiries %q", soft)
	}
	if s := status(t, a.e, "t"); s.PacketsOut != 5 || s.Drops.Seal != 1 || s.Children[0].Out.Drops.Expired != 1 {
		t.Fatalf("past the hard limit: %+v", s)
	}
	// RFC 4301 §4.4.2.1: the IKE daemon deletes the child at its hard limit.
	eventually(t, "the hard expiry", func() bool { return len(a.ev.hardExpired()) == 1 })
	if hard := a.ev.hardExpired(); hard[0] != "t/a0000001" {
		t.Fatalf("hard expiries %q", hard)
	}
}

func TestReconfig(t *testing.T) {
	a, _ := pair(t, gcm256)
	cfg := Config{Tunnels: []Tunnel{{Name: "t", Routes: prefixes("10.2.0.0/16", "2001:db8:2::/48")}}}
	if err := a.e.Reconfig(cfg); !errors.Is(err, ErrNoChanges) {
		t.Fatalf("same config: %v, want ErrNoChanges", err)
	}
	bad := []Config{
		{Tunnels: []Tunnel{{Name: ""}}},
		{Tunnels: []Tunnel{{Name: "x"}, {Name: "x"}}},
		{Tunnels: []Tunnel{{Name: "x", Routes: prefixes("10.0.0.0/8")}, {Name: "y", Routes: prefixes("10.0.0.0/8")}}},
		{Tunnels: []Tunnel{{Name: "x", Routes: []netip.Prefix{{}}}}},
	}
	for _, c := range bad {
		if err := a.e.Reconfig(c); err == nil || errors.Is(err, ErrNoChanges) {
			t.Errorf("Reconfig(%+v) = %v, want an error", c, err)
		}
	}
	// Changing the mode keeps children and counters.
	a.inner.Send(packet("10.1.0.1", "10.2.0.1", 10))
	eventually(t, "the packet", func() bool { return status(t, a.e, "t").PacketsOut == 1 })
	cfg.Tunnels[0].PolicyBased = true
	if err := a.e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if s := status(t, a.e, "t"); !s.PolicyBased || s.PacketsOut != 1 || len(s.Children) != 1 {
		t.Fatalf("after mode change: %+v", s)
	}
	// Removing the tunnel removes its children and frees their SPIs.
	if err := a.e.Reconfig(Config{Tunnels: []Tunnel{{Name: "other"}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.e.spis.Lookup(0xa0000001); ok {
		t.Fatal("the SPI of a removed tunnel's child is still in the table")
	}
	if s := a.e.Status(); len(s.Tunnels) != 1 || s.Tunnels[0].Name != "other" {
		t.Fatalf("tunnels %+v", s.Tunnels)
	}
}

func TestAddChildErrors(t *testing.T) {
	a, _ := pair(t, gcm256)
	good, _ := childPair(gcm256, "t", 0xa0000002, 0xb0000002)
	tests := []struct {
		name   string
		change func(*ipsec.Child)
	}{
		{"unknown tunnel", func(c *ipsec.Child) { c.Tunnel = "nope" }},
		{"protocol 50 without a remote address", func(c *ipsec.Child) { c.Encap, c.Remote = false, netip.AddrPort{} }},
		{"no local selector", func(c *ipsec.Child) { c.LocalTS = nil }},
		{"invalid selector", func(c *ipsec.Child) { c.RemoteTS = []netip.Prefix{{}} }},
		{"no remote port", func(c *ipsec.Child) { c.Remote = netip.AddrPortFrom(c.Remote.Addr(), 0) }},
		{"spi in use", func(c *ipsec.Child) { c.In.SPI = 0xa0000001 }},
		{"bad inbound keys", func(c *ipsec.Child) { c.In.Keys = esp.NewKeys(make([]byte, 5), nil) }},
		{"bad outbound keys", func(c *ipsec.Child) { c.Out.Keys = esp.NewKeys(make([]byte, 5), nil) }},
	}
	for _, tt := range tests {
		c := good
		tt.change(&c)
		if err := a.e.AddChild(c); err == nil {
			t.Errorf("%s: AddChild succeeded", tt.name)
		}
	}
	if err := a.e.AddChild(good); err != nil {
		t.Fatalf("the good child: %v", err)
	}
}

// TestCloseStopsEverything checks that Close stops every goroutine, closes
// the inner side and refuses what comes after.
func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	n := udptest.NewNetwork()
	inner := tuntest.NewRecorder(64)
	e, err := New(Options{Inner: inner, Outer: n.Outer(), Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	e.Reconfig(Config{Tunnels: []Tunnel{{Name: "t"}}})
	c, _ := childPair(gcm256, "t", 1, 2)
	e.AddChild(c)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := inner.Read(make([][]byte, 1), make([]int, 1), 0); err == nil {
		t.Fatal("inner side still open")
	}
	if err := e.AddChild(c); err == nil {
		t.Fatal("AddChild after Close succeeded")
	}
	if err := e.Reconfig(Config{}); err == nil {
		t.Fatal("Reconfig after Close succeeded")
	}
	e.HandleESP(addrA, datagrams([]byte{0, 0, 0, 1, 0, 0, 0, 1}))
	eventually(t, "goroutines to stop", func() bool { return runtime.NumGoroutine() <= before })
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without sides succeeded")
	}
}

// TestCarries: a destination is carried while a route holds it and its
// tunnel has a child SA pair, as an active-active gateway's fabric asks.
func TestCarries(t *testing.T) {
	a, _ := pair(t, gcm256)
	src, in, out := netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("10.2.3.4"), netip.MustParseAddr("10.9.0.1")
	if !a.e.Carries(src, in) || a.e.Carries(src, out) {
		t.Fatalf("Carries(%v) = %v, Carries(%v) = %v; want true, false", in, a.e.Carries(src, in), out, a.e.Carries(src, out))
	}
	a.e.RemoveChild("t", 0xa0000001)
	if a.e.Carries(src, in) {
		t.Fatal("a tunnel without a child SA pair carries")
	}
}

// A tunnel's capture records its inner packets both ways, as they were
// before sealing and after opening, until it is taken off.
func TestTunnelCapture(t *testing.T) {
	a, b := pair(t, suites[0])
	if a.e.SetCapture("nope", pcap.Start(pcap.Config{})) {
		t.Fatal("a capture was set on a tunnel that does not exist")
	}
	c := pcap.Start(pcap.Config{})
	if !a.e.SetCapture("t", c) {
		t.Fatal("the capture was not set")
	}
	out, back := packet("10.1.0.5", "10.2.0.7", 200), packet("10.2.0.7", "10.1.0.5", 100)
	a.inner.Send(out)
	if got, ok := b.inner.Next(5 * time.Second); !ok || !bytes.Equal(got, out) {
		t.Fatal("B did not get the packet")
	}
	b.inner.Send(back)
	if _, ok := a.inner.Next(5 * time.Second); !ok {
		t.Fatal("A did not get the answer")
	}
	a.e.SetCapture("t", nil)
	a.inner.Send(out)
	if _, ok := b.inner.Next(5 * time.Second); !ok {
		t.Fatal("B did not get the packet after the capture")
	}
	file, n, _ := c.Stop()
	// Two records, each a 16-byte header and the packet as it was.
	if n != 2 || !bytes.Equal(file[24+16:24+16+len(out)], out) || !bytes.Equal(file[24+16+len(out)+16:], back) {
		t.Fatalf("the capture holds %d packets: % x", n, file[24:])
	}
}

// espCounter is an ESP handler that counts what arrives.
type espCounter struct{ n atomic.Int64 }

func (c *espCounter) HandleESP(_ netip.AddrPort, msgs []udp.Message) { c.n.Add(int64(len(msgs))) }

// TestFailedSendsCountAsDrops: a tunnel's egress counters count what
// left, and what the socket did not send counts as a drop of the tunnel it
// belongs to, even in a batch it shares with tunnels whose packets went:
// here one tunnel's peer is an IPv6 address the IPv4 socket cannot reach,
// another's endpoint is gone.
func TestFailedSendsCountAsDrops(t *testing.T) {
	tr := udp.New(udp.Config{})
	defer tr.Close()
	local, err := tr.ListenNATT(netip.MustParseAddrPort("127.0.0.1:0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	peer := &espCounter{}
	remote, err := tr.ListenNATT(netip.MustParseAddrPort("127.0.0.1:0"), peer)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Inner: tuntest.NewRecorder(64), Outer: tr})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.Reconfig(Config{Tunnels: []Tunnel{
		{Name: "ok", Routes: prefixes("10.2.0.0/16")},
		{Name: "v6", Routes: prefixes("10.3.0.0/16")},
		{Name: "gone", Routes: prefixes("10.4.0.0/16")},
	}})
	for i, c := range []struct {
		tunnel        string
		local, remote netip.AddrPort
	}{
		{"ok", local, remote},
		{"v6", local, netip.MustParseAddrPort("[::1]:4500")},
		{"gone", netip.MustParseAddrPort("127.0.0.1:1"), remote},
	} {
		ch, _ := childPair(gcm256, c.tunnel, 0xa0000001+uint32(i), 0xb0000001+uint32(i))
		ch.Local, ch.Remote = c.local, c.remote
		if err := e.AddChild(ch); err != nil {
			t.Fatal(err)
		}
	}
	dsts := []string{"10.2.0.1", "10.3.0.1", "10.2.0.2", "10.4.0.1", "10.3.0.2", "10.2.0.3"}
	b := newOutBatch(len(dsts))
	for i, dst := range dsts {
		b.sizes[i] = copy(b.bufs[i][esp.Headroom:], packet("10.1.0.1", dst, 72))
	}
	e.outbound(b, len(dsts))

	eventually(t, "the peer to get 3 datagrams", func() bool { return peer.n.Load() == 3 })
	for _, want := range []struct {
		name                   string
		packets, bytes, failed uint64
	}{
		{"ok", 3, 3 * 100, 0},
		{"v6", 0, 0, 2},
		{"gone", 0, 0, 1},
	} {
		ts := status(t, e, want.name)
		if ts.PacketsOut != want.packets || ts.BytesOut != want.bytes || ts.Drops.Send != want.failed {
			t.Errorf("tunnel %s: %d packets, %d bytes out, %d not sent; want %d, %d, %d",
				want.name, ts.PacketsOut, ts.BytesOut, ts.Drops.Send, want.packets, want.bytes, want.failed)
		}
	}
	if e.Drops().SendErrors == 0 {
		t.Error("no failed batch counted")
	}
}

// TestShortESPInUDPRFC3948Section2_1: on the NAT-T port, a datagram that
// is neither a NAT-keepalive nor after a non-ESP marker is ESP (RFC 3948
// §2.1), and one shorter than the ESP header counts in the engine's Short,
// which the gateway's metrics show, as it does when ESP comes as IP
// protocol 50. A keepalive is taken, not counted as a drop.
func TestShortESPInUDPRFC3948Section2_1(t *testing.T) {
	tr := udp.New(udp.Config{})
	defer tr.Close()
	e, err := New(Options{Inner: tuntest.NewRecorder(64), Outer: tr})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	local, err := tr.ListenNATT(netip.MustParseAddrPort("127.0.0.1:0"), e)
	if err != nil {
		t.Fatal(err)
	}
	src, err := udp.Listen(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var msgs []udp.Message
	for _, b := range [][]byte{{0xa0, 0, 0, 1, 0, 0}, {0xfe}, {0xa0, 0, 0}, {espwire.Keepalive}} {
		msgs = append(msgs, udp.Message{Buf: b, Addr: local})
	}
	if err := src.WriteBatch(msgs); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the short datagrams and the keepalive", func() bool {
		return e.Drops().Short+tr.Stats().Drops.Malformed == 3 && tr.Stats().Keepalives == 1
	})
	if d, td := e.Drops(), tr.Stats().Drops; d.Short != 3 || td != (udp.Drops{}) {
		t.Fatalf("engine's short %d, transport's drops %+v; want 3 and none", d.Short, td)
	}
}

// TestInnerWriteFailureCountsAsDrop: packets that opened but that the
// inner side did not take (its device is gone) are not counted as come
// in, nor do they move the tunnel's LastInbound, but count as dropped.
func TestInnerWriteFailureCountsAsDrop(t *testing.T) {
	c := newCaptured(t, nil)
	for range 4 {
		c.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
	}
	msgs := datagrams(c.sentA.wait(t, 4)...)
	c.innerB.Close() // the device went away under the engine
	c.eb.HandleESP(addrB, msgs)
	ts := status(t, c.eb, "t")
	if ts.PacketsIn != 0 || ts.BytesIn != 0 || ts.Drops.InnerWrite != 4 {
		t.Errorf("%d packets, %d bytes in, %d not written; want 0, 0, 4", ts.PacketsIn, ts.BytesIn, ts.Drops.InnerWrite)
	}
	if in := ts.Children[0].In; in.PacketsIn != 4 {
		t.Errorf("the inbound SA opened %d packets, want 4", in.PacketsIn)
	}
	// Nothing passed to the inner side: the tunnel's last inbound is not
	// moved, the child's is (the peer seals with it).
	if !ts.LastInbound.IsZero() || ts.Children[0].LastInbound.IsZero() {
		t.Errorf("last inbound of the tunnel %v, of the child %v; want zero, not zero", ts.LastInbound, ts.Children[0].LastInbound)
	}
	// The peer sealed them: it is alive, whatever became of them here.
	if got := c.eb.LastInbound("t"); got.IsZero() {
		t.Error("LastInbound zero after ESP opened")
	}
}

// TestRefusalsOutliveRekeyRFC4303Section3_4: why the inbound SA refused
// packets (a replay, RFC 4303 §3.4.3; an ICV that does not verify,
// §3.4.4, as with the wrong keys) stays counted on the tunnel once the
// child is replaced by a rekey and removed, where its esp.Stats went.
func TestRefusalsOutliveRekeyRFC4303Section3_4(t *testing.T) {
	c := newCaptured(t, nil)
	for range 3 {
		c.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
	}
	sent := c.sentA.wait(t, 3)
	forged := slices.Clone(sent[2])
	forged[len(forged)-1] ^= 1
	// The first packet, the first again (a replay), the third forged.
	c.eb.HandleESP(addrB, datagrams(sent[0], sent[0], forged))
	check := func(when string) {
		t.Helper()
		d := status(t, c.eb, "t").Drops
		if d.Replay != 1 || d.Integrity != 1 || d.Open != 2 || d.Padding+d.Length+d.Expired != 0 {
			t.Errorf("%s: drops %+v, want 1 replay and 1 integrity of 2 refused", when, d)
		}
	}
	check("before the rekey")
	_, cb := childPair(gcm256, "t", 0xa0000002, 0xb0000002)
	if err := c.eb.AddChild(cb); err != nil {
		t.Fatal(err)
	}
	c.eb.RemoveChild("t", 0xb0000001)
	if ch := status(t, c.eb, "t").Children; len(ch) != 1 || ch[0].In.Drops.Total() != 0 {
		t.Fatalf("children after the rekey %+v, want the new one alone", ch)
	}
	check("after the rekey")
}

// TestNoReplayCheckRFC4303Section3_4_3: a child whose inbound SA has
// anti-replay off (a gateway's disableIPSecReplayProtection) delivers a
// replayed packet to the inner side and counts no replay; with it on, the
// replay is dropped and counted as one.
func TestNoReplayCheckRFC4303Section3_4_3(t *testing.T) {
	for _, off := range []bool{false, true} {
		t.Run(fmt.Sprintf("off=%v", off), func(t *testing.T) {
			c := newCaptured(t, func(b *ipsec.Child) { b.In.NoReplayCheck = off })
			c.innerA.Send(packet("10.1.0.1", "10.2.0.1", 72))
			sent := c.sentA.wait(t, 1)
			c.eb.HandleESP(addrB, datagrams(sent[0], sent[0]))
			want := uint64(1)
			if off {
				want = 2
			}
			for range want {
				if _, ok := c.innerB.Next(30 * time.Second); !ok {
					t.Fatal("a packet was not delivered")
				}
			}
			if d := status(t, c.eb, "t").Drops; d.Replay != 2-want {
				t.Fatalf("drops %+v, want %d replay", d, 2-want)
			}
			if _, ok := c.innerB.Next(100 * time.Millisecond); ok {
				t.Fatal("the replay was delivered with anti-replay on")
			}
		})
	}
}
