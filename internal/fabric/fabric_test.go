package fabric

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

func newHost(t testing.TB, name, addr string, r Forwarder) *NetstackHost {
	t.Helper()
	h, err := NewNetstackHost(name, netip.MustParseAddr(addr), 0, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestHostsInOneVNet covers R42 inside a VNet: hosts reach each other by
// private address with ping, TCP echo and HTTP.
func TestHostsInOneVNet(t *testing.T) {
	r := NewRouter()
	a := newHost(t, "web", "10.1.0.4", r)
	b := newHost(t, "db", "10.1.0.5", r)
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.4/32"), a}, {netip.MustParsePrefix("10.1.0.5/32"), b}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, b.Addr()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ping(ctx, a.Addr()); err != nil {
		t.Fatal(err)
	}
	body, err := a.HTTPGet(ctx, b.Addr())
	if err != nil || !strings.Contains(body, "hello from db") {
		t.Fatalf("HTTP from web to db: %q, %v", body, err)
	}
	c, err := b.Dial(ctx, netip.AddrPortFrom(a.Addr(), EchoPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := strings.Repeat("echo through the vnet ", 1000)
	go c.Write([]byte(msg))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("TCP echo: %v", err)
	}
	if s := r.Stats(); s.Forwarded == 0 {
		t.Fatalf("router counted nothing: %+v", s)
	}
}

// TestUnroutedTrafficIsDroppedAndCounted covers R43: traffic to an address
// that is neither a host of the VNet nor a connected range goes nowhere.
func TestUnroutedTrafficIsDroppedAndCounted(t *testing.T) {
	r := NewRouter()
	a := newHost(t, "web", "10.1.0.4", r)
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.4/32"), a}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := a.Ping(ctx, netip.MustParseAddr("8.8.8.8")); err == nil {
		t.Fatal("a ping to the Internet was answered")
	}
	if s := r.Stats(); s.NoRoute == 0 {
		t.Fatalf("the drop was not counted: %+v", s)
	}
}

// recorder is a Port that keeps what it is given.
type recorder struct{ pkts [][]byte }

func (r *recorder) Deliver(p []byte) { r.pkts = append(r.pkts, append([]byte(nil), p...)) }

func ipv4Packet(dst string, ttl byte) []byte {
	p := make([]byte, 20)
	p[0], p[3], p[8], p[9] = 0x45, 20, ttl, 17
	copy(p[12:16], netip.MustParseAddr("10.1.0.4").AsSlice())
	copy(p[16:20], netip.MustParseAddr(dst).AsSlice())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(p[i])<<8 | uint32(p[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	cs := ^uint16(sum)
	p[10], p[11] = byte(cs>>8), byte(cs)
	return p
}

// rechecksum sets the header checksum of IPv4 packet p to match its
// header.
func rechecksum(p []byte) []byte {
	hl := int(p[0]&0x0f) * 4
	binary.BigEndian.PutUint16(p[10:12], 0)
	binary.BigEndian.PutUint16(p[10:12], ^checksum.Checksum(p[:hl], 0))
	return p
}

func checksumOK(p []byte) bool {
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(p[i])<<8 | uint32(p[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

func TestLongestPrefixAndTTL(t *testing.T) {
	r := NewRouter()
	site, gw, other := &recorder{}, &recorder{}, &recorder{}
	r.SetRoutes([]Route{
		{netip.MustParsePrefix("0.0.0.0/0"), gw},         // forced tunneling (R25)
		{netip.MustParsePrefix("192.168.0.0/16"), site},  // a connected site
		{netip.MustParsePrefix("192.168.7.0/24"), other}, // a longer prefix wins
		{netip.MustParsePrefix("fd00::/64"), other},
	})
	tests := []struct {
		dst  string
		want *recorder
	}{
		{"192.168.1.1", site},
		{"192.168.7.9", other},
		{"1.1.1.1", gw},
	}
	for _, tc := range tests {
		before := len(tc.want.pkts)
		r.Forward(ipv4Packet(tc.dst, 64))
		if len(tc.want.pkts) != before+1 {
			t.Fatalf("%s did not reach its port", tc.dst)
		}
		p := tc.want.pkts[len(tc.want.pkts)-1]
		if p[8] != 63 || !checksumOK(p) {
			t.Fatalf("%s: TTL %d, checksum ok=%v after forwarding", tc.dst, p[8], checksumOK(p))
		}
	}
	r.Forward(ipv4Packet("192.168.1.1", 1))
	r.Forward([]byte{0x45, 0})
	if s := r.Stats(); s.TTLExpired != 1 || s.Malformed != 1 {
		t.Fatalf("drops: %+v", s)
	}
}

// TestIPv4HeaderLengths: an IPv4 packet whose header length is under 20
// bytes or whose total length does not hold its header is dropped and
// counted as malformed, and answered with no ICMP error (RFC 1812 §5.2.2);
// one whose total length holds the header is routed.
func TestIPv4HeaderLengths(t *testing.T) {
	withLengths := func(ihl byte, total uint16, ttl byte) []byte {
		p := ipv4With("10.1.1.4", "192.168.1.4", 17, ttl, filled(8))
		p[0] = 0x40 | ihl
		binary.BigEndian.PutUint16(p[2:4], total)
		return rechecksum(p)
	}
	tests := []struct {
		name      string
		pkt       []byte
		malformed bool
	}{
		{"total length 0", withLengths(5, 0, 64), true},
		{"total length 19", withLengths(5, 19, 64), true},
		{"total length 10, TTL 1", withLengths(5, 10, 1), true},
		{"total length 20, header 24", withLengths(6, 20, 64), true},
		{"header 16", withLengths(4, 28, 64), true},
		{"total length 20", withLengths(5, 20, 64), false},
		{"total length 28", withLengths(5, 28, 64), false},
		{"total length 24, header 24", withLengths(6, 24, 64), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := twoSubnets()
			host, gw := &recorder{}, &recorder{}
			r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.1.4/32"), host}, {netip.MustParsePrefix("192.168.0.0/16"), gw}})
			r.Ingress("a").Forward(tc.pkt)
			if s := r.Stats(); (s.Malformed == 1) != tc.malformed || (len(gw.pkts) == 0) != tc.malformed {
				t.Fatalf("malformed %v, routed %d; counters %+v", tc.malformed, len(gw.pkts), s)
			}
			if len(host.pkts) != 0 {
				t.Fatalf("the sender got %d packets, want none", len(host.pkts))
			}
		})
	}
}

// TestIPv4HeaderChecksum: an IPv4 packet whose header checksum does not
// hold is dropped and counted as malformed, whether it goes to a site, to
// another host or nowhere, or its TTL runs out, and answered with no ICMP
// error (RFC 1812 §5.2.2); with its checksum right, it is routed.
func TestIPv4HeaderChecksum(t *testing.T) {
	corrupt := func(p []byte, i int) []byte {
		p[i] ^= 0x10
		return p
	}
	tests := []struct {
		name      string
		pkt       []byte
		malformed bool
	}{
		{"to a site", ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(8)), false},
		{"to a site, its checksum wrong", corrupt(ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(8)), 11), true},
		{"to a site, its destination changed", corrupt(ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(8)), 19), true},
		{"to a site, TTL 1, its checksum wrong", corrupt(ipv4With("10.1.1.4", "192.168.1.4", 17, 1, filled(8)), 10), true},
		{"to a host, its checksum wrong", corrupt(ipv4With("10.1.1.4", "10.1.2.4", 17, 64, filled(8)), 10), true},
		{"no route, its checksum wrong", corrupt(ipv4With("10.1.1.4", "198.51.100.7", 17, 64, filled(8)), 10), true},
		{"with options, one changed", corrupt(withOptions(ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(8))), 22), true},
		{"with options", withOptions(ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(8))), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := twoSubnets()
			host, other, gw := &recorder{}, &recorder{}, &recorder{}
			r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.1.4/32"), host}, {netip.MustParsePrefix("10.1.2.4/32"), other},
				{netip.MustParsePrefix("192.168.0.0/16"), gw}})
			r.Ingress("a").Forward(bytes.Clone(tc.pkt))
			r.Ingress("a").ForwardBatch([][]byte{append(make([]byte, 16), tc.pkt...)}, 16)
			routed := len(gw.pkts) + len(other.pkts)
			if s := r.Stats(); (s.Malformed == 2) != tc.malformed || (routed == 0) != tc.malformed {
				t.Fatalf("malformed %v, routed %d; counters %+v", tc.malformed, routed, s)
			}
			if len(host.pkts) != 0 {
				t.Fatalf("the sender got %d packets, want none", len(host.pkts))
			}
		})
	}
}

// withOptions gives an IPv4 packet a 4-byte option (a No Operation and
// an End of Option List, RFC 791), its lengths and checksum to match.
func withOptions(p []byte) []byte {
	q := append(append(bytes.Clone(p[:20]), 1, 0, 0, 0), p[20:]...)
	q[0]++
	binary.BigEndian.PutUint16(q[2:4], uint16(len(q)))
	return rechecksum(q)
}

// TestIPLengths: a packet shorter than its IP length (IPv4 total length,
// RFC 1812 §5.2.2; IPv6 40 bytes and its payload length, RFC 8200 §3) is
// truncated: it is dropped and counted as malformed, and answered with no
// ICMP error. One longer than its IP length is cut there: what follows is
// no part of it, and is neither forwarded nor quoted in an ICMP error.
func TestIPLengths(t *testing.T) {
	with := func(p []byte, trailer int) []byte { return append(p, bytes.Repeat([]byte{0xee}, trailer)...) }
	truncate := func(p []byte, by int) []byte { return p[:len(p)-by] }
	tests := []struct {
		name      string
		pkt       []byte
		ttlByte   int
		malformed bool
		length    int // forwarded, or quoted in an ICMP error
		icmp      bool
	}{
		{"IPv4", ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(100)), 8, false, 120, false},
		{"IPv4, truncated by 1", truncate(ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(100)), 1), 8, true, 0, false},
		{"IPv4, its header alone", ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(100))[:20], 8, true, 0, false},
		{"IPv4 to a host, truncated", truncate(ipv4With("10.1.1.4", "10.1.2.4", 17, 64, filled(100)), 30), 8, true, 0, false},
		{"IPv4, TTL 1, truncated", truncate(ipv4With("10.1.1.4", "192.168.1.4", 17, 1, filled(100)), 1), 8, true, 0, false},
		{"IPv4, 1 byte after", with(ipv4With("10.1.1.4", "192.168.1.4", 17, 64, filled(100)), 1), 8, false, 120, false},
		{"IPv4 to a host, 300 bytes after", with(ipv4With("10.1.1.4", "10.1.2.4", 17, 64, filled(100)), 300), 8, false, 120, false},
		{"IPv4, TTL 1, 30 bytes after", with(ipv4With("10.1.1.4", "192.168.1.4", 17, 1, filled(100)), 30), 8, false, 120, true},
		{"IPv4, no route, 30 bytes after", with(ipv4With("10.1.1.4", "198.51.100.7", 17, 64, filled(100)), 30), 8, false, 120, true},
		{"IPv6", ipv6With("fd00:1:1::4", "fd00:99::4", 17, 64, filled(100)), 7, false, 140, false},
		{"IPv6, truncated by 1", truncate(ipv6With("fd00:1:1::4", "fd00:99::4", 17, 64, filled(100)), 1), 7, true, 0, false},
		{"IPv6, its header alone", ipv6With("fd00:1:1::4", "fd00:99::4", 17, 64, filled(100))[:40], 7, true, 0, false},
		{"IPv6, hop limit 1, truncated", truncate(ipv6With("fd00:1:1::4", "fd00:99::4", 17, 1, filled(100)), 1), 7, true, 0, false},
		{"IPv6, 1 byte after", with(ipv6With("fd00:1:1::4", "fd00:99::4", 17, 64, filled(100)), 1), 7, false, 140, false},
		{"IPv6 to a host, 300 bytes after", with(ipv6With("fd00:1:1::4", "fd00:1:2::4", 17, 64, filled(100)), 300), 7, false, 140, false},
		{"IPv6, no route, 30 bytes after", with(ipv6With("fd00:1:1::4", "fd00:9::9", 17, 64, filled(100)), 30), 7, false, 140, true},
		{"IPv6, no payload, 8 bytes after", with(ipv6With("fd00:1:1::4", "fd00:99::4", 59, 64, nil), 8), 7, false, 40, false},
		{"IPv6, a jumbogram's payload length", ipv6With("fd00:1:1::4", "fd00:99::4", 0, 64, nil), 7, true, 0, false},
	}
	for _, tc := range tests {
		for _, batch := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/batch=%v", tc.name, batch), func(t *testing.T) {
				v := newFuzzVNet()
				in := bytes.Clone(tc.pkt)
				if batch {
					v.r.Ingress("a").ForwardBatch([][]byte{append(make([]byte, 16), in...)}, 16)
				} else {
					v.r.Ingress("a").Forward(in)
				}
				s := v.r.Stats()
				if (s.Malformed == 1) != tc.malformed {
					t.Fatalf("malformed %v; counters %+v", tc.malformed, s)
				}
				var got [][]byte
				for _, rec := range []*recorder{v.a, v.b, v.gw} {
					got = append(got, rec.pkts...)
				}
				switch {
				case tc.malformed:
					if len(got) != 0 {
						t.Fatalf("%d packets delivered for a malformed one", len(got))
					}
				case tc.icmp:
					if len(v.a.pkts) != 1 || len(got) != 1 {
						t.Fatalf("the sender got %d packets of %d, want one ICMP error", len(v.a.pkts), len(got))
					}
					e := v.a.pkts[0]
					quoted := e[28:]
					if e[0]>>4 == 6 {
						quoted = e[48:]
					}
					if !bytes.Equal(quoted, tc.pkt[:tc.length]) {
						t.Fatalf("the ICMP error quotes %d bytes, want the packet's %d", len(quoted), tc.length)
					}
				default:
					if len(got) != 1 {
						t.Fatalf("%d packets delivered, want 1", len(got))
					}
					want := bytes.Clone(tc.pkt[:tc.length])
					copy(want[tc.ttlByte:], got[0][tc.ttlByte:tc.ttlByte+1])
					if tc.ttlByte == 8 {
						copy(want[10:12], got[0][10:12])
					}
					if !bytes.Equal(got[0], want) {
						t.Fatalf("forwarded %d bytes, want the packet's %d: % x", len(got[0]), tc.length, got[0][min(len(got[0]), tc.length):])
					}
				}
			})
		}
	}
}

// batchRecorder takes packets in runs, as a TUN host does.
type batchRecorder struct {
	recorder
	runs []int // the length of each run delivered
}

func (b *batchRecorder) DeliverBatch(bufs [][]byte, offset int) {
	b.runs = append(b.runs, len(bufs))
	for _, buf := range bufs {
		b.Deliver(buf[offset:])
	}
}

// TestForwardBatchRuns: a batch is routed packet by packet, in order; a
// port that takes batches gets each run of packets to it in one call, and
// a dropped packet or one to another port ends a run.
func TestForwardBatchRuns(t *testing.T) {
	r := NewRouter()
	tunHost, plain := &batchRecorder{}, &recorder{}
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.4/32"), tunHost}, {netip.MustParsePrefix("10.1.0.5/32"), plain}})
	const off = 16
	var bufs [][]byte
	for _, dst := range []string{"10.1.0.4", "10.1.0.4", "10.1.0.4", "10.9.9.9", "10.1.0.4", "10.1.0.5", "10.1.0.5", "10.1.0.4"} {
		bufs = append(bufs, append(make([]byte, off), ipv4Packet(dst, 64)...))
	}
	r.ForwardBatch(bufs, off)
	if want := []int{3, 1, 1}; !slices.Equal(tunHost.runs, want) {
		t.Fatalf("runs to the batch port %v, want %v", tunHost.runs, want)
	}
	if len(tunHost.pkts) != 5 || len(plain.pkts) != 2 {
		t.Fatalf("delivered %d and %d packets, want 5 and 2", len(tunHost.pkts), len(plain.pkts))
	}
	for _, p := range append(tunHost.pkts, plain.pkts...) {
		if p[8] != 63 || !checksumOK(p) {
			t.Fatalf("TTL %d, checksum ok=%v after forwarding", p[8], checksumOK(p))
		}
	}
	if s := r.Stats(); s.Forwarded != 7 || s.NoRoute != 1 {
		t.Fatalf("counters %+v", s)
	}
}

// capture is a built-in host without a stack: the router takes it for a
// host of the VNet (no hop between two of them), and what it is given is
// kept.
func capture() (*NetstackHost, *recorder) {
	rec := &recorder{}
	ep := channel.New(1, DefaultMTU, "")
	ep.Attach(dispatcher{rec})
	return &NetstackHost{ep: ep}, rec
}

// dispatcher stands in for a host's stack: it keeps what the link gets.
type dispatcher struct{ rec *recorder }

func (d dispatcher) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	v := pkt.ToView()
	defer v.Release()
	d.rec.Deliver(v.AsSlice())
}

func (dispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// FuzzForward routes any packet through a VNet of two subnets (the
// router's addresses 10.1.1.1, 10.1.2.1, fd00:1:1::1, fd00:1:2::1), a
// host in each, a site behind a gateway and a range of the VNet with no
// host, by the router, by an ingress or in a batch: nothing panics, a
// packet forwarded is the one that came with its TTL decremented (kept
// between two hosts), and one dropped for its TTL or for want of a route
// is answered with at most one ICMP error, to its sender, well formed
// (RFC 792, RFC 4443 §2.1), no longer than 576 bytes (RFC 1812 §4.3.2.3)
// or 1280 (RFC 4443 §2.4(c)), quoting the packet as it came (its header
// and 8 bytes at least, as far as it has them), and none about an ICMP
// error or a later fragment (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e)).
func FuzzForward(f *testing.F) {
	echo4 := append([]byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0}, filled(8)...)
	echo6 := append([]byte{128, 0, 0, 0, 0, 0, 0, 0}, filled(8)...)
	hopByHop := func(next byte, payload []byte) []byte { return append([]byte{next, 0, 1, 4, 0, 0, 0, 0}, payload...) }
	fragment6 := func(offset uint16, next byte, payload []byte) []byte {
		h := []byte{next, 0, byte(offset >> 5), byte(offset << 3), 0, 0, 0, 1}
		if len(payload) > 8 {
			h[3] |= 1 // more fragments
		}
		return append(h, payload...)
	}
	fragment4 := func(p []byte, flags uint16) []byte {
		binary.BigEndian.PutUint16(p[6:8], flags)
		binary.BigEndian.PutUint16(p[10:12], 0)
		binary.BigEndian.PutUint16(p[10:12], ^checksum.Checksum(p[:20], 0))
		return p
	}
	for _, seed := range [][]byte{
		{0x45, 0},
		{0x60, 0, 0, 0, 0, 0, 0, 64},
		ipv4With("10.1.1.4", "192.168.1.4", 17, 1, filled(8)),     // TTL 1 toward the gateway: Time Exceeded
		ipv4With("192.168.1.4", "10.1.2.4", 1, 1, echo4),          // TTL 1 from the site
		ipv4With("10.1.1.4", "10.1.2.4", 17, 1, filled(8)),        // host to host: no hop
		ipv4With("10.1.1.4", "10.1.9.9", 1, 64, echo4),            // a range of the VNet with no host
		ipv4With("10.1.1.4", "198.51.100.7", 17, 64, filled(980)), // no route, quoted up to 576
		ipv4With("10.1.1.4", "172.16.0.1", 17, 64, filled(8)),     // dropped by subnet b's table
		ipv4With("10.1.1.4", "10.9.9.9", 1, 64, append([]byte{11, 0, 0, 0, 0, 0, 0, 0}, ipv4Packet("10.1.1.4", 1)...)),
		fragment4(ipv4With("10.1.1.4", "10.9.9.9", 17, 64, filled(16)), 0x2000), // first fragment
		fragment4(ipv4With("10.1.1.4", "10.9.9.9", 17, 64, filled(16)), 1),      // later fragment
		ipv6With("fd00:1:1::4", "fd00:99::4", 58, 1, echo6),
		ipv6With("fd00:99::4", "fd00:1:2::4", 17, 1, filled(8)),
		ipv6With("fd00:1:1::4", "fd00:1:2::4", 17, 1, filled(8)),
		ipv6With("fd00:1:1::4", "fd00:9::9", 17, 64, filled(1360)),
		ipv6With("fd00:1:1::4", "fd00:99::4", 0, 1, hopByHop(60, hopByHop(58, echo6))),
		ipv6With("fd00:1:1::4", "fd00:9::9", 0, 64, hopByHop(58, []byte{1, 0, 0, 0, 0, 0, 0, 0})),
		ipv6With("fd00:1:1::4", "fd00:99::4", 44, 1, fragment6(0, 17, filled(16))),
		ipv6With("fd00:1:1::4", "fd00:9::9", 44, 64, fragment6(2, 17, filled(8))),
	} {
		for via := range byte(6) {
			f.Add(via, seed)
		}
	}
	f.Fuzz(func(t *testing.T, via byte, p []byte) {
		v := newFuzzVNet()
		fwd := []Forwarder{v.r, v.r.Ingress("a"), v.r.Ingress("b")}[via%3]
		if via%6 < 3 {
			fwd.Forward(bytes.Clone(p))
		} else {
			fwd.ForwardBatch([][]byte{append(make([]byte, 4), p...)}, 4)
		}
		v.check(t, p, []string{"", "a", "b"}[via%3])
	})
}

// fuzzVNet is FuzzForward's VNet: hosts a (10.1.1.4, fd00:1:1::4) and b
// (10.1.2.4, fd00:1:2::4), a gateway to a site (192.168.0.0/16,
// fd00:99::/64), 10.1.0.0/16 and fd00:1::/48 with no other host; subnet
// b's table also drops 172.16.0.0/12.
type fuzzVNet struct {
	r        *Router
	hosts    map[Port]*recorder // a and b, and what each was given
	a, b, gw *recorder
}

func newFuzzVNet() *fuzzVNet {
	v := &fuzzVNet{r: twoSubnets(), gw: &recorder{}}
	a, recA := capture()
	b, recB := capture()
	v.a, v.b = recA, recB
	v.hosts = map[Port]*recorder{a: v.a, b: v.b}
	routes := []Route{
		{netip.MustParsePrefix("10.1.0.0/16"), nil}, {netip.MustParsePrefix("fd00:1::/48"), nil},
		{netip.MustParsePrefix("10.1.1.4/32"), a}, {netip.MustParsePrefix("fd00:1:1::4/128"), a},
		{netip.MustParsePrefix("10.1.2.4/32"), b}, {netip.MustParsePrefix("fd00:1:2::4/128"), b},
		{netip.MustParsePrefix("192.168.0.0/16"), v.gw}, {netip.MustParsePrefix("fd00:99::/64"), v.gw},
	}
	v.r.SetRoutes(routes)
	v.r.SetIngressRoutes(map[string][]Route{"b": append(slices.Clone(routes), Route{netip.MustParsePrefix("172.16.0.0/12"), nil})})
	return v
}

// recorderOf returns the recorder of the port the router's table gives
// addr to.
func (v *fuzzVNet) recorderOf(addr netip.Addr) *recorder {
	p := v.r.Lookup(addr)
	if p == Port(v.gw) {
		return v.gw
	}
	return v.hosts[p]
}

// check checks what the router did with in, which it was given by the
// ingress of subnet key (none: "").
func (v *fuzzVNet) check(t *testing.T, in []byte, key string) {
	s := v.r.Stats()
	var got [][]byte
	var to *recorder
	for _, rec := range []*recorder{v.a, v.b, v.gw} {
		if len(rec.pkts) > 0 {
			got, to = append(got, rec.pkts...), rec
		}
	}
	if len(got) > 1 {
		t.Fatalf("%d packets delivered for one", len(got))
	}
	switch {
	case s.Malformed == 1:
		if len(got) != 0 {
			t.Fatal("a malformed packet was delivered")
		}
	case s.Forwarded == 1:
		if len(got) != 1 {
			t.Fatal("a packet counted as forwarded was not delivered")
		}
		v.checkForwarded(t, in, got[0], to)
	case s.NoRoute+s.TTLExpired == 1:
		if len(got) == 1 {
			if to != v.recorderOf(source(in)) {
				t.Fatalf("an ICMP error about a packet from %s went to another port", source(in))
			}
			checkICMPError(t, in, got[0], s.NoRoute == 1, key)
		}
	default:
		t.Fatalf("counters %+v for one packet", s)
	}
}

// checkForwarded: out is in with its TTL decremented, unless it went
// between two hosts.
func (v *fuzzVNet) checkForwarded(t *testing.T, in, out []byte, to *recorder) {
	ttl := 8
	if in[0]>>4 == 6 {
		ttl = 7
	}
	n := 40 + int(binary.BigEndian.Uint16(in[4:6]))
	if in[0]>>4 == 4 {
		n = int(binary.BigEndian.Uint16(in[2:4]))
	}
	if n > len(in) {
		t.Fatalf("a packet of %d bytes, its IP length %d, was forwarded", len(in), n)
	}
	want := bytes.Clone(in[:n])
	if from := v.recorderOf(source(in)); from == nil || from == v.gw || to == v.gw {
		want[ttl]--
	}
	if in[0]>>4 == 4 {
		hl := int(in[0]&0x0f) * 4
		if int(binary.BigEndian.Uint16(in[2:4])) < hl {
			t.Fatalf("an IPv4 packet whose total length does not hold its header was forwarded: % x", in[:hl])
		}
		if checksum.Checksum(in[:hl], 0) != 0xffff {
			t.Fatalf("an IPv4 packet whose header checksum does not hold was forwarded: % x", in[:hl])
		}
		if checksum.Checksum(out[:hl], 0) != 0xffff {
			t.Fatal("the header checksum no longer holds after forwarding")
		}
		copy(want[10:12], out[10:12])
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("forwarded\n% x\nwant\n% x", out, want)
	}
}

// checkICMPError checks e, the ICMP error the router sent about in, which
// came by the ingress of subnet key (none: "").
func checkICMPError(t *testing.T, in, e []byte, noRoute bool, key string) {
	var src, dst, sender netip.Addr
	var msg []byte
	var hl, datagram, most int
	var typ byte
	if e[0]>>4 == 4 {
		h := header.IPv4(e)
		if len(e) > 576 || !h.IsValid(len(e)) || int(h.TotalLength()) != len(e) || !h.IsChecksumValid() || h.Protocol() != 1 {
			t.Fatalf("IPv4 ICMP error not valid (%d bytes): % x", len(e), e[:min(len(e), 28)])
		}
		src, dst, msg = netip.AddrFrom4(h.SourceAddress().As4()), netip.AddrFrom4(h.DestinationAddress().As4()), h.Payload()
		if checksum.Checksum(msg, 0) != 0xffff {
			t.Fatal("ICMP checksum does not hold")
		}
		// RFC 792: Time Exceeded 11, Destination Unreachable 3.
		typ, most = 11, 576-28
		if noRoute {
			typ = 3
		}
		sender = netip.AddrFrom4([4]byte(in[12:16]))
		hl, datagram = int(in[0]&0x0f)*4, int(binary.BigEndian.Uint16(in[2:4]))
		if in[9] == 1 && len(in) > hl && slices.Contains([]byte{3, 4, 5, 11, 12}, in[hl]) {
			t.Fatalf("an ICMP error about an ICMP error of type %d", in[hl])
		}
		if binary.BigEndian.Uint16(in[6:8])&0x1fff != 0 {
			t.Fatal("an ICMP error about a later fragment")
		}
	} else {
		h := header.IPv6(e)
		if len(e) > 1280 || !h.IsValid(len(e)) || int(h.PayloadLength())+40 != len(e) || h.NextHeader() != 58 {
			t.Fatalf("IPv6 ICMP error not valid (%d bytes): % x", len(e), e[:min(len(e), 48)])
		}
		src, dst, msg = netip.AddrFrom16(h.SourceAddress().As16()), netip.AddrFrom16(h.DestinationAddress().As16()), h.Payload()
		sum := header.ICMPv6Checksum(header.ICMPv6ChecksumParams{Header: header.ICMPv6(msg), Src: h.SourceAddress(), Dst: h.DestinationAddress()})
		if len(msg) < 8 || sum != binary.BigEndian.Uint16(msg[2:4]) {
			t.Fatalf("ICMPv6 checksum does not hold: % x", msg[:min(len(msg), 8)])
		}
		// RFC 4443 §3.3: Time Exceeded 3; §3.1: Destination Unreachable 1.
		typ, most = 3, 1280-48
		if noRoute {
			typ = 1
		}
		sender = netip.AddrFrom16([16]byte(in[8:24]))
		hl, datagram = 40, 40+int(binary.BigEndian.Uint16(in[4:6]))
		if in[6] == 58 && len(in) > 40 && (in[40] < 128 || in[40] == 137) {
			t.Fatalf("an ICMPv6 error about an ICMPv6 error or redirect, type %d", in[40])
		}
		if in[6] == 44 && len(in) >= 48 && binary.BigEndian.Uint16(in[42:44])>>3 != 0 {
			t.Fatal("an ICMPv6 error about a later fragment")
		}
	}
	// From the router's address in the ingress's subnet; without one, in
	// the sender's, or else in a's, the first.
	subnets := map[string]netip.Prefix{"a": netip.MustParsePrefix("10.1.1.0/24"), "b": netip.MustParsePrefix("10.1.2.0/24")}
	if sender.Is6() {
		subnets = map[string]netip.Prefix{"a": netip.MustParsePrefix("fd00:1:1::/64"), "b": netip.MustParsePrefix("fd00:1:2::/64")}
	}
	if key == "" {
		key = "a"
		if subnets["b"].Contains(sender) {
			key = "b"
		}
	}
	if dst != sender || src != subnets[key].Addr().Next() {
		t.Fatalf("ICMP error from %s to %s, about a packet from %s that came by subnet %q", src, dst, sender, key)
	}
	if len(msg) < 8 || msg[0] != typ || msg[1] != 0 {
		t.Fatalf("ICMP error of type %d code %d, want %d 0", msg[0], msg[1], typ)
	}
	q := msg[8:]
	if !bytes.HasPrefix(in, q) {
		t.Fatalf("the error quotes % x..., not the packet as it came", q[:min(len(q), 48)])
	}
	// As much as fits (RFC 1812 §4.3.2.3, RFC 4443 §2.4(c)), its IP header
	// at least (RFC 792: the header and 64 bits of the datagram).
	if len(q) != min(len(in), datagram, most) || len(q) < hl {
		t.Fatalf("the error quotes %d bytes of a packet of %d, its header %d bytes and its IP length %d", len(q), len(in), hl, datagram)
	}
}

func TestGatewayPortQueuesAndForwards(t *testing.T) {
	r := NewRouter()
	host := &recorder{}
	p := NewGatewayPort(r)
	r.SetRoutes([]Route{{netip.MustParsePrefix("192.168.0.0/16"), p}, {netip.MustParsePrefix("10.1.0.4/32"), host}})
	// Toward the tunnel: routed to the port, read in one batch.
	for range 3 {
		r.Forward(ipv4Packet("192.168.1.1", 64))
	}
	bufs := make([][]byte, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	sizes := make([]int, 8)
	n, err := p.Read(bufs, sizes, 16)
	if err != nil || n != 3 || sizes[0] != 20 || bufs[0][16+8] != 63 {
		t.Fatalf("Read = %d, %v, sizes %v", n, err, sizes[:n])
	}
	// From the tunnel: written packets are forwarded to the host.
	in := ipv4Packet("10.1.0.4", 64)
	buf := append(make([]byte, 16), in...)
	if _, err := p.Write([][]byte{buf}, 16); err != nil || len(host.pkts) != 1 {
		t.Fatalf("Write: %v, host got %d", err, len(host.pkts))
	}
	// A full queue drops and counts.
	for range portQueue + 5 {
		p.Deliver(ipv4Packet("192.168.1.1", 64))
	}
	if p.Dropped() != 5 {
		t.Fatalf("dropped %d, want 5", p.Dropped())
	}
	p.Close()
	for {
		if _, err := p.Read(bufs, sizes, 0); err != nil {
			break
		}
	}
}

// TestIngressRoutes: the hosts of a subnet with user-defined routes (R26)
// send by their subnet's table, the others by the router's; a route with
// no port drops and counts what it matches.
func TestIngressRoutes(t *testing.T) {
	r := NewRouter()
	b, nva := &recorder{}, &recorder{}
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.2.4/32"), b}, {netip.MustParsePrefix("10.1.1.4/32"), nva}})
	r.SetIngressRoutes(map[string][]Route{"a": {{netip.MustParsePrefix("10.1.1.4/32"), nva},
		{netip.MustParsePrefix("10.1.2.0/24"), nva}, {netip.MustParsePrefix("10.9.0.0/16"), nil}}})
	r.Ingress("a").Forward(ipv4Packet("10.1.2.4", 64))
	r.Ingress("a").ForwardBatch([][]byte{append(make([]byte, 16), ipv4Packet("10.1.2.4", 64)...)}, 16)
	r.Ingress("other").Forward(ipv4Packet("10.1.2.4", 64))
	r.Forward(ipv4Packet("10.1.2.4", 64))
	r.Ingress("a").Forward(ipv4Packet("10.9.0.1", 64))
	if len(nva.pkts) != 2 || len(b.pkts) != 2 {
		t.Fatalf("%d packets through the appliance, %d straight to B; want 2 and 2", len(nva.pkts), len(b.pkts))
	}
	if s := r.Stats(); s.NoRoute != 1 || s.Forwarded != 4 {
		t.Fatalf("counters %+v", s)
	}
}

// TestNoHopWithinVNet: between two hosts of the VNet (built-in hosts,
// TUN hosts, a gateway's endpoint in its subnet) a packet keeps its TTL,
// also a TTL of 1, as in Azure, whose VNet is no hop (traceroute from one
// VM to another shows the other alone); what leaves the VNet for a
// gateway or the Internet, or comes in from them, has it decremented
// (RFC 1812 §5.3.1), and dropped at 1, once: what an appliance forwards
// from a site to a host keeps the TTL it left the appliance with.
// Routing allocates nothing.
func TestNoHopWithinVNet(t *testing.T) {
	r := NewRouter() // without subnets: no ICMP errors to the hosts, which are not running
	a, b, tunHost, endpoint := &NetstackHost{}, &NetstackHost{}, &TUNHost{}, &NetstackHost{own: true}
	gw, eg := NewGatewayPort(r), &Egress{}
	defer gw.Close()
	r.SetRoutes([]Route{
		{netip.MustParsePrefix("10.1.1.4/32"), a}, {netip.MustParsePrefix("10.1.2.4/32"), b},
		{netip.MustParsePrefix("10.1.2.5/32"), tunHost}, {netip.MustParsePrefix("10.1.255.4/32"), endpoint},
		{netip.MustParsePrefix("fd00:1:1::4/128"), a}, {netip.MustParsePrefix("fd00:1:2::4/128"), b},
		{netip.MustParsePrefix("192.168.0.0/16"), gw}, {netip.MustParsePrefix("fd00:99::/64"), gw},
		{netip.MustParsePrefix("0.0.0.0/0"), eg},
	})
	tests := []struct {
		name     string
		pkt      []byte
		fromHost bool // it came through a HostIngress
		to       Port
		ttl      byte // after routing; 0: dropped for its TTL
		ttlByte  int
	}{
		{"host to host", ipv4With("10.1.1.4", "10.1.2.4", 17, 64, filled(8)), true, b, 64, 8},
		{"host to host, TTL 1", ipv4With("10.1.1.4", "10.1.2.4", 17, 1, filled(8)), true, b, 1, 8},
		{"host to host, entry untold", ipv4With("10.1.1.4", "10.1.2.4", 17, 64, filled(8)), false, b, 64, 8},
		{"host to TUN host, TTL 1", ipv4With("10.1.1.4", "10.1.2.5", 17, 1, filled(8)), true, tunHost, 1, 8},
		{"TUN host to the gateway's endpoint, TTL 1", ipv4With("10.1.2.5", "10.1.255.4", 6, 1, filled(20)), true, endpoint, 1, 8},
		{"host to host, IPv6, hop limit 1", ipv6With("fd00:1:1::4", "fd00:1:2::4", 17, 1, filled(8)), true, b, 1, 7},
		{"host to a site", ipv4With("10.1.1.4", "192.168.1.1", 17, 64, filled(8)), true, gw, 63, 8},
		{"host to a site, TTL 1", ipv4With("10.1.1.4", "192.168.1.1", 17, 1, filled(8)), true, nil, 0, 8},
		{"host to a site, IPv6", ipv6With("fd00:1:1::4", "fd00:99::1", 17, 64, filled(8)), true, gw, 63, 7},
		{"site to host", ipv4With("192.168.1.1", "10.1.2.4", 17, 64, filled(8)), false, b, 63, 8},
		{"site to host, TTL 1", ipv4With("192.168.1.1", "10.1.2.4", 17, 1, filled(8)), false, nil, 0, 8},
		{"site to the gateway's endpoint, TTL 1", ipv4With("192.168.1.1", "10.1.255.4", 6, 1, filled(20)), false, endpoint, 1, 8},
		// An appliance that a gateway subnet's route sent a site's packet to
		// (R26) forwards it to a host: the gateway and the appliance were
		// the hops, the VNet is none.
		{"site to host through an appliance", ipv4With("192.168.1.1", "10.1.2.4", 17, 63, filled(8)), true, b, 63, 8},
		{"site to host through an appliance, TTL 1", ipv4With("192.168.1.1", "10.1.2.4", 17, 1, filled(8)), true, b, 1, 8},
		{"host to the Internet", ipv4With("10.1.1.4", "198.51.100.7", 17, 64, filled(8)), true, eg, 63, 8},
		{"the Internet to host", ipv4With("198.51.100.7", "10.1.2.4", 17, 64, filled(8)), false, b, 63, 8},
		{"a source of no host to host, entry untold", ipv4With("10.1.1.9", "10.1.2.4", 17, 64, filled(8)), false, b, 63, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := r.Stats().TTLExpired
			p := bytes.Clone(tc.pkt)
			got, _ := r.route(r.table.Load(), "a", tc.fromHost, p)
			if got != tc.to {
				t.Fatalf("routed to %T %p, want %T %p", got, got, tc.to, tc.to)
			}
			if tc.ttl == 0 {
				if r.Stats().TTLExpired != before+1 {
					t.Fatal("not counted as dropped for its TTL")
				}
				return
			}
			if p[tc.ttlByte] != tc.ttl || (p[0]>>4 == 4 && !checksumOK(p)) {
				t.Fatalf("TTL %d after routing (checksum ok %v), want %d", p[tc.ttlByte], checksumOK(p), tc.ttl)
			}
		})
	}

	if raceEnabled {
		return
	}
	within, out := ipv4With("10.1.1.4", "10.1.2.4", 17, 64, filled(8)), ipv4With("10.1.1.4", "192.168.1.1", 17, 64, filled(8))
	tbl := r.table.Load()
	if allocs := testing.AllocsPerRun(1000, func() {
		r.route(tbl, "a", true, within)
		out[8] = 64
		r.route(tbl, "a", true, out)
	}); allocs != 0 {
		t.Errorf("%v allocations per two packets routed, want 0", allocs)
	}
}

// TestLinkTrafficStaysOnTheLink: what a host sends to its link, or from
// an address that is no host's (an IPv6 router solicitation from its
// link-local address, neighbor discovery from the unspecified address, a
// multicast listener report, SSDP to 239.255.255.250, a DHCP discover to
// 255.255.255.255), and what is from or to a loopback address, goes to
// no port, not even with default routes to a
// gateway (forced tunneling, a default route learned over BGP), and is
// counted as having no route; a packet between a host and a site, or
// from a site to the gateway's BGP speaker at an APIPA address, is still
// routed. They went into the default site's tunnel.
func TestLinkTrafficStaysOnTheLink(t *testing.T) {
	r := NewRouter()
	gw, speaker := &recorder{}, &recorder{}
	r.SetRoutes([]Route{
		{netip.MustParsePrefix("0.0.0.0/0"), gw},
		{netip.MustParsePrefix("::/0"), gw},
		{netip.MustParsePrefix("169.254.21.1/32"), speaker},
	})
	rs := []byte{133, 0, 0, 0, 0, 0, 0, 0}
	for _, p := range [][]byte{
		ipv6With("fe80::1", "ff02::2", 58, 255, rs),
		ipv6With("::", "ff02::1:ff00:4", 58, 255, make([]byte, 24)),
		ipv6With("fe80::1", "ff02::16", 0, 1, make([]byte, 8)),
		ipv6With("fd00:1::4", "fe80::2", 17, 64, make([]byte, 8)),
		ipv4With("10.1.0.4", "239.255.255.250", 17, 4, make([]byte, 8)),
		ipv4With("0.0.0.0", "255.255.255.255", 17, 64, make([]byte, 8)),
		ipv4With("10.1.0.4", "255.255.255.255", 17, 64, make([]byte, 8)),
		// RFC 1812 §5.3.7, RFC 4291 §2.5.3: loopback, either way.
		ipv4With("10.1.0.4", "127.0.0.1", 17, 64, make([]byte, 8)),
		ipv4With("127.0.0.1", "10.1.0.4", 17, 64, make([]byte, 8)),
		ipv6With("fd00:1::4", "::1", 17, 64, make([]byte, 8)),
	} {
		r.Forward(p)
	}
	if len(gw.pkts) != 0 {
		t.Fatalf("the gateway got %d packets of the link", len(gw.pkts))
	}
	if s := r.Stats(); s.NoRoute != 10 || s.Forwarded != 0 {
		t.Fatalf("counters %+v, want 10 without a route", s)
	}
	r.Forward(ipv4With("10.1.0.4", "192.168.1.1", 17, 64, make([]byte, 8)))
	r.Forward(ipv6With("fd00:1::4", "fd00:99::1", 17, 64, make([]byte, 8)))
	r.Forward(ipv4With("169.254.21.2", "169.254.21.1", 6, 64, make([]byte, 20)))
	if len(gw.pkts) != 2 || len(speaker.pkts) != 1 {
		t.Fatalf("the gateway got %d packets, the speaker %d, want 2 and 1", len(gw.pkts), len(speaker.pkts))
	}
}
