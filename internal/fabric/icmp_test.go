package fabric

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// twoSubnets is a VNet of two subnets, a (10.1.1.0/24, fd00:1:1::/64)
// and b (10.1.2.0/24, fd00:1:2::/64), whose router's addresses are
// 10.1.1.1 and 10.1.2.1 (fd00:1:1::1, fd00:1:2::1).
func twoSubnets() *Router {
	r := NewRouter()
	r.SetSubnets(map[string][]netip.Prefix{
		"a": {netip.MustParsePrefix("10.1.1.0/24"), netip.MustParsePrefix("fd00:1:1::/64")},
		"b": {netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("fd00:1:2::/64")},
	})
	return r
}

// tee is a Port that keeps a copy of what it is given and passes it on.
type tee struct {
	mu   sync.Mutex // guards pkts
	pkts [][]byte
	next Port
}

func (t *tee) Deliver(p []byte) {
	t.mu.Lock()
	t.pkts = append(t.pkts, bytes.Clone(p))
	t.mu.Unlock()
	t.next.Deliver(p)
}

// icmpFrom returns the ICMP messages of type typ that t saw from src.
func (t *tee) icmpFrom(src netip.Addr, typ byte) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.pkts {
		if p[0]>>4 == 4 && p[9] == 1 && netip.AddrFrom4([4]byte(p[12:16])) == src && p[20] == typ {
			n++
		}
	}
	return n
}

// pingTTL sends one ICMP echo request from h to dst with TTL (or hop
// limit) ttl, and waits for no answer.
func pingTTL(t *testing.T, h *NetstackHost, dst netip.Addr, ttl int) {
	t.Helper()
	var wq waiter.Queue
	ep, terr := h.stack.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		t.Fatal(terr)
	}
	defer ep.Close()
	if terr := ep.SetSockOptInt(tcpip.IPv4TTLOption, ttl); terr != nil {
		t.Fatal(terr)
	}
	req := make([]byte, 8+16)
	req[0] = byte(header.ICMPv4Echo)
	to := tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(dst.AsSlice())}
	if _, terr := ep.Write(bytes.NewReader(req), tcpip.WriteOptions{To: &to}); terr != nil {
		t.Fatal(terr)
	}
}

// waitFor waits up to 20 s for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
	}
}

// TestICMPErrorsToNetstackHost: a built-in host of subnet a that pings a
// host of subnet b with TTL 1 gets its answer (the VNet is no hop between
// its hosts); one that pings a site's address behind the gateway with TTL
// 1 gets Time Exceeded (RFC 792) from the router's address in its own
// subnet, 10.1.1.1, and one that pings an address with no route gets
// Destination Unreachable; its stack takes both as valid ICMP. Both drops
// are still counted.
func TestICMPErrorsToNetstackHost(t *testing.T) {
	r := twoSubnets()
	a := newHost(t, "a", "10.1.1.4", r.Ingress("a"))
	b := newHost(t, "b", "10.1.2.4", r.Ingress("b"))
	gw := &recorder{} // the gateway's port, to a site's 192.168.0.0/16
	routes := func(toA Port) []Route {
		return []Route{{netip.MustParsePrefix("10.1.0.0/16"), nil}, {netip.MustParsePrefix("192.168.0.0/16"), gw},
			{netip.MustParsePrefix("10.1.1.4/32"), toA}, {netip.MustParsePrefix("10.1.2.4/32"), b}}
	}
	r.SetRoutes(routes(a))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, b.Addr()); err != nil { // each knows the way
		t.Fatal(err)
	}
	received := a.stack.Stats().ICMP.V4.PacketsReceived
	replies := received.EchoReply.Value()
	pingTTL(t, a, b.Addr(), 1)
	waitFor(t, "the answer to TTL 1 at host a", func() bool { return received.EchoReply.Value() == replies+1 })

	toA := &tee{next: a} // sees the errors; a is no longer one of the VNet's hosts to the router
	r.SetRoutes(routes(toA))
	router := netip.MustParseAddr("10.1.1.1")
	pingTTL(t, a, netip.MustParseAddr("192.168.1.1"), 1)
	waitFor(t, "Time Exceeded at host a", func() bool { return received.TimeExceeded.Value() == 1 })
	if n := toA.icmpFrom(router, 11); n != 1 {
		t.Fatalf("%d Time Exceeded from %s to host a, want 1", n, router)
	}
	if len(gw.pkts) != 0 {
		t.Fatalf("the gateway got %d packets, want none", len(gw.pkts))
	}

	for _, dst := range []string{"10.9.9.9", "10.1.2.99"} { // no route; the VNet's, no host
		pingTTL(t, a, netip.MustParseAddr(dst), 64)
	}
	waitFor(t, "Destination Unreachable at host a", func() bool { return received.DstUnreachable.Value() == 2 })
	if n := toA.icmpFrom(router, 3); n != 2 {
		t.Fatalf("%d Destination Unreachable from %s to host a, want 2", n, router)
	}
	if got := received.Invalid.Value(); got != 0 {
		t.Fatalf("host a found %d ICMP messages invalid", got)
	}
	if s := r.Stats(); s.TTLExpired != 1 || s.NoRoute != 2 {
		t.Fatalf("counters %+v, want 1 TTL expired and 2 without a route", s)
	}
}

// ipv4With returns an IPv4 packet from src to dst of protocol proto, TTL
// ttl, with payload.
func ipv4With(src, dst string, proto, ttl byte, payload []byte) []byte {
	p := make([]byte, 20, 20+len(payload))
	p[0], p[8], p[9] = 0x45, ttl, proto
	binary.BigEndian.PutUint16(p[2:4], uint16(20+len(payload)))
	copy(p[12:16], netip.MustParseAddr(src).AsSlice())
	copy(p[16:20], netip.MustParseAddr(dst).AsSlice())
	binary.BigEndian.PutUint16(p[10:12], ^checksum.Checksum(p, 0))
	return append(p, payload...)
}

// ipv6With returns an IPv6 packet from src to dst, hop limit hops, whose
// first header is next, with payload.
func ipv6With(src, dst string, next, hops byte, payload []byte) []byte {
	p := make([]byte, 40, 40+len(payload))
	p[0], p[6], p[7] = 0x60, next, hops
	binary.BigEndian.PutUint16(p[4:6], uint16(len(payload)))
	copy(p[8:24], netip.MustParseAddr(src).AsSlice())
	copy(p[24:40], netip.MustParseAddr(dst).AsSlice())
	return append(p, payload...)
}

func filled(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestICMPErrorQuotes: an ICMP error quotes the packet as it came in,
// unchanged (its TTL not decremented): an IPv4 one as much as fits in 576
// bytes (RFC 1812 §4.3.2.3), an IPv6 one as much as fits in 1280 (RFC 4443
// §2.4(c)), a short one whole; it comes from the router's address in the
// ingress's subnet (for an IPv6 sender, its IPv6 one), goes to the sender
// by the router's table, and its checksums hold.
func TestICMPErrorQuotes(t *testing.T) {
	tests := []struct {
		name      string
		pkt       []byte
		from      string
		typ, code byte
		quoted    int
	}{
		{"TTL 1 to a site, 1000 bytes", ipv4With("10.1.1.4", "192.168.1.4", 17, 1, filled(980)), "10.1.1.1", 11, 0, 576 - 28},
		{"no route, 1000 bytes", ipv4With("10.1.1.4", "10.9.9.9", 17, 64, filled(980)), "10.1.1.1", 3, 0, 576 - 28},
		{"no route, 28 bytes", ipv4With("10.1.1.4", "10.9.9.9", 17, 64, filled(8)), "10.1.1.1", 3, 0, 28},
		{"hop limit 1 to a site, 1400 bytes", ipv6With("fd00:1:1::4", "fd00:99::4", 17, 1, filled(1360)), "fd00:1:1::1", 3, 0, 1280 - 48},
		{"no route, IPv6, 1400 bytes", ipv6With("fd00:1:1::4", "fd00:9::9", 17, 64, filled(1360)), "fd00:1:1::1", 1, 0, 1280 - 48},
		{"no route, IPv6, 48 bytes", ipv6With("fd00:1:1::4", "fd00:9::9", 17, 64, filled(8)), "fd00:1:1::1", 1, 0, 48},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := twoSubnets()
			sender, gw := &recorder{}, &recorder{} // gw: the gateway's port, to a site
			r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.1.4/32"), sender}, {netip.MustParsePrefix("192.168.0.0/16"), gw},
				{netip.MustParsePrefix("fd00:1:1::4/128"), sender}, {netip.MustParsePrefix("fd00:99::/64"), gw}})
			in := bytes.Clone(tc.pkt)
			r.Ingress("a").Forward(in)
			if len(gw.pkts) != 0 || len(sender.pkts) != 1 {
				t.Fatalf("%d packets to the gateway, %d to the sender; want 0 and 1", len(gw.pkts), len(sender.pkts))
			}
			e := sender.pkts[0]
			var src, dst netip.Addr
			var icmp []byte
			if e[0]>>4 == 4 {
				h := header.IPv4(e)
				if !h.IsValid(len(e)) || !h.IsChecksumValid() || h.Protocol() != 1 || h.TTL() == 0 {
					t.Fatalf("IPv4 header not valid: % x", e[:20])
				}
				src, dst, icmp = netip.AddrFrom4(h.SourceAddress().As4()), netip.AddrFrom4(h.DestinationAddress().As4()), h.Payload()
				if checksum.Checksum(icmp, 0) != 0xffff {
					t.Fatal("ICMP checksum does not hold")
				}
			} else {
				h := header.IPv6(e)
				if !h.IsValid(len(e)) || h.NextHeader() != 58 || h.HopLimit() == 0 {
					t.Fatalf("IPv6 header not valid: % x", e[:40])
				}
				src, dst, icmp = netip.AddrFrom16(h.SourceAddress().As16()), netip.AddrFrom16(h.DestinationAddress().As16()), h.Payload()
				sum := header.ICMPv6Checksum(header.ICMPv6ChecksumParams{Header: header.ICMPv6(icmp), Src: h.SourceAddress(), Dst: h.DestinationAddress()})
				if sum != binary.BigEndian.Uint16(icmp[2:4]) {
					t.Fatalf("ICMPv6 checksum %#x, want %#x", binary.BigEndian.Uint16(icmp[2:4]), sum)
				}
			}
			sent := netip.AddrFrom4([4]byte(tc.pkt[12:16]))
			if dst.Is6() {
				sent = netip.AddrFrom16([16]byte(tc.pkt[8:24]))
			}
			if src != netip.MustParseAddr(tc.from) || dst != sent {
				t.Fatalf("from %s to %s, want from %s to %s", src, dst, tc.from, sent)
			}
			if icmp[0] != tc.typ || icmp[1] != tc.code {
				t.Fatalf("type %d code %d, want %d %d", icmp[0], icmp[1], tc.typ, tc.code)
			}
			if q := icmp[8:]; len(q) != tc.quoted || !bytes.Equal(q, tc.pkt[:tc.quoted]) {
				t.Fatalf("quoted %d bytes (% x...), want the packet's first %d as it came", len(q), q[:min(len(q), 12)], tc.quoted)
			}
		})
	}
}

// TestNoICMPErrorAbout: the router sends no ICMP error about an ICMP
// error (nor an ICMP type it does not know), a packet to a broadcast or
// multicast address, a fragment other than the first, or a packet from an
// address that is not one host's (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e));
// it does about an echo request and a first fragment. Each packet is
// still counted.
func TestNoICMPErrorAbout(t *testing.T) {
	icmpv4 := func(typ byte) []byte { return append([]byte{typ, 0, 0, 0, 0, 0, 0, 0}, filled(8)...) }
	icmpv6 := func(typ byte) []byte { return append([]byte{typ, 0, 0, 0, 0, 0, 0, 0}, filled(8)...) }
	fragment := func(offset uint16, next byte, payload []byte) []byte {
		h := []byte{next, 0, 0, 0, 0, 0, 0, 1}
		binary.BigEndian.PutUint16(h[2:4], offset<<3)
		return append(h, payload...)
	}
	later := ipv4With("10.1.1.4", "10.9.9.9", 17, 64, filled(16))
	later[7] = 1 // fragment offset 8
	first := ipv4With("10.1.1.4", "10.9.9.9", 17, 64, filled(16))
	first[6] = 0x20 // more fragments, offset 0
	for _, p := range [][]byte{later, first} {
		binary.BigEndian.PutUint16(p[10:12], 0)
		binary.BigEndian.PutUint16(p[10:12], ^checksum.Checksum(p[:20], 0))
	}
	tests := []struct {
		name string
		pkt  []byte
		sent bool
	}{
		{"echo request", ipv4With("10.1.1.4", "10.9.9.9", 1, 64, icmpv4(8)), true},
		{"echo request, TTL 1", ipv4With("10.1.1.4", "10.1.2.4", 1, 1, icmpv4(8)), true},
		{"UDP, first fragment", first, true},
		{"destination unreachable", ipv4With("10.1.1.4", "10.9.9.9", 1, 64, icmpv4(3)), false},
		{"time exceeded, TTL 1", ipv4With("10.1.1.4", "10.1.2.4", 1, 1, icmpv4(11)), false},
		{"redirect", ipv4With("10.1.1.4", "10.9.9.9", 1, 64, icmpv4(5)), false},
		{"unknown ICMP type", ipv4With("10.1.1.4", "10.9.9.9", 1, 64, icmpv4(200)), false},
		{"ICMP without its type", ipv4With("10.1.1.4", "10.9.9.9", 1, 64, nil), false},
		{"UDP, later fragment", later, false},
		{"to 255.255.255.255, TTL 1", ipv4With("10.1.1.4", "255.255.255.255", 17, 1, filled(8)), false},
		{"to multicast, TTL 1", ipv4With("10.1.1.4", "224.0.0.251", 17, 1, filled(8)), false},
		{"to the subnet's broadcast", ipv4With("10.1.1.4", "10.1.2.255", 17, 64, filled(8)), false},
		{"from 0.0.0.0", ipv4With("0.0.0.0", "10.9.9.9", 17, 64, filled(8)), false},
		{"from loopback", ipv4With("127.0.0.1", "10.9.9.9", 17, 64, filled(8)), false},
		{"from multicast", ipv4With("224.0.0.1", "10.9.9.9", 17, 64, filled(8)), false},
		{"from class E", ipv4With("240.0.0.1", "10.9.9.9", 17, 64, filled(8)), false},
		{"from the subnet's broadcast", ipv4With("10.1.1.255", "10.9.9.9", 17, 64, filled(8)), false},
		{"IPv6 echo request", ipv6With("fd00:1:1::4", "fd00:9::9", 58, 64, icmpv6(128)), true},
		{"IPv6 first fragment", ipv6With("fd00:1:1::4", "fd00:9::9", 44, 64, fragment(0, 17, filled(8))), true},
		{"IPv6 echo request behind hop-by-hop", ipv6With("fd00:1:1::4", "fd00:9::9", 0, 64, append([]byte{58, 0, 1, 4, 0, 0, 0, 0}, icmpv6(128)...)), true},
		{"ICMPv6 destination unreachable", ipv6With("fd00:1:1::4", "fd00:9::9", 58, 64, icmpv6(1)), false},
		{"ICMPv6 time exceeded, hop limit 1", ipv6With("fd00:1:1::4", "fd00:1:2::4", 58, 1, icmpv6(3)), false},
		{"ICMPv6 error behind hop-by-hop", ipv6With("fd00:1:1::4", "fd00:9::9", 0, 64, append([]byte{58, 0, 1, 4, 0, 0, 0, 0}, icmpv6(1)...)), false},
		{"ICMPv6 redirect", ipv6With("fd00:1:1::4", "fd00:9::9", 58, 64, icmpv6(137)), false},
		{"IPv6 later fragment", ipv6With("fd00:1:1::4", "fd00:9::9", 44, 64, fragment(1, 17, filled(8))), false},
		{"to IPv6 multicast, hop limit 1", ipv6With("fd00:1:1::4", "ff02::1", 17, 1, filled(8)), false},
		{"from ::", ipv6With("::", "fd00:9::9", 17, 64, filled(8)), false},
		{"from IPv6 multicast", ipv6With("ff02::1", "fd00:9::9", 17, 64, filled(8)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := twoSubnets()
			everyone := &recorder{} // a way back to every sender

			r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.1.0/24"), everyone}, {netip.MustParsePrefix("10.1.2.4/32"), everyone},
				{netip.MustParsePrefix("0.0.0.0/8"), everyone}, {netip.MustParsePrefix("127.0.0.0/8"), everyone},
				{netip.MustParsePrefix("224.0.0.0/3"), everyone}, {netip.MustParsePrefix("::/0"), everyone},
				{netip.MustParsePrefix("fd00:9::/32"), nil}})
			r.Ingress("a").Forward(bytes.Clone(tc.pkt))
			if sent := len(everyone.pkts) == 1; sent != tc.sent {
				t.Fatalf("an ICMP error sent: %v, want %v", sent, tc.sent)
			}
			if s := r.Stats(); s.TTLExpired+s.NoRoute != 1 {
				t.Fatalf("counters %+v, want the packet dropped", s)
			}
		})
	}
}

// TestNoICMPErrorToTheInternet: a packet from an Internet address (the
// egress's answer to a host that is gone) dropped for want of a route is
// not answered through the egress, which would refuse the error and count
// the one drop twice in droppedNoRoute.
func TestNoICMPErrorToTheInternet(t *testing.T) {
	r := twoSubnets()
	eg := &Egress{}
	r.SetRoutes([]Route{{netip.MustParsePrefix("0.0.0.0/0"), eg}, {netip.MustParsePrefix("10.1.0.0/16"), nil}})
	r.Forward(ipv4With("198.51.100.7", "10.1.2.99", 6, 60, filled(20)))
	if s, es := r.Stats(), eg.Stats(); s.NoRoute != 1 || es.Refused != 0 {
		t.Fatalf("router counted %d without a route, the egress refused %d; want 1 and 0", s.NoRoute, es.Refused)
	}
}

// TestICMPErrorRate: a flood of packets whose TTL runs out is answered with
// at most icmpBurst ICMP errors at once and icmpRate a second after (RFC
// 1812 §4.3.2.8, RFC 4443 §2.4(f)); every packet is counted.
func TestICMPErrorRate(t *testing.T) {
	r := twoSubnets()
	now := time.Unix(1e9, 0)
	r.icmp.Now = func() time.Time { return now }
	sender := &recorder{}
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.1.4/32"), sender}, {netip.MustParsePrefix("192.168.0.0/16"), &recorder{}}})
	flood := func() {
		for range 1000 {
			r.Ingress("a").Forward(ipv4With("10.1.1.4", "192.168.1.4", 17, 1, filled(8)))
		}
	}
	flood()
	if len(sender.pkts) != icmpBurst {
		t.Fatalf("%d ICMP errors for 1000 packets at once, want %d", len(sender.pkts), icmpBurst)
	}
	now = now.Add(100 * time.Millisecond)
	flood()
	if want := icmpBurst + icmpRate/10; len(sender.pkts) != want {
		t.Fatalf("%d ICMP errors after 100 ms more, want %d", len(sender.pkts), want)
	}
	now = now.Add(time.Hour)
	flood()
	if want := 2*icmpBurst + icmpRate/10; len(sender.pkts) != want {
		t.Fatalf("%d ICMP errors after an hour more, want %d (the bucket holds %d)", len(sender.pkts), want, icmpBurst)
	}
	if s := r.Stats(); s.TTLExpired != 3000 {
		t.Fatalf("counted %d with their TTL expired, want 3000", s.TTLExpired)
	}
}

// TestPingSeesTheRouter (root): the kernel's ping in a TUN host's namespace
// of subnet a, with TTL 1 to a host of subnet b, gets its answer (the VNet
// is no hop between its hosts, as in Azure); with TTL 1 to a site's
// address behind the gateway it prints "Time to live exceeded" from the
// router's address in subnet a, and to an address with no route
// "Destination Net Unreachable"; over IPv6 "Time exceeded: Hop limit" and
// "Destination unreachable: No route". The kernel checks the ICMP
// checksums and matches the quoted packet to its socket.
func TestPingSeesTheRouter(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	tests := []struct {
		host, far, site, unrouted, router string
		sites                             netip.Prefix
		exceeded, unreachable             string
	}{
		{"10.1.1.4", "10.1.2.4", "192.168.1.1", "10.9.9.9", "10.1.1.1", netip.MustParsePrefix("192.168.0.0/16"), "Time to live exceeded", "Destination Net Unreachable"},
		{"fd00:1:1::4", "fd00:1:2::4", "fd00:99::1", "fd00:9::9", "fd00:1:1::1", netip.MustParsePrefix("fd00:99::/64"), "Time exceeded: Hop limit", "Destination unreachable: No route"},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			r, ns, addr, a := pingingHost(t, tc.host)
			b := newHost(t, "b", tc.far, r.Ingress("b"))
			gw := &recorder{} // the gateway's port
			r.SetRoutes([]Route{{netip.PrefixFrom(addr, addr.BitLen()), a}, {netip.PrefixFrom(b.Addr(), b.Addr().BitLen()), b}, {tc.sites, gw}})
			// -w: a ping a second until one is answered, for 10 s (one lost
			// on a busy machine, CI run 127, is no failure of the router's).
			if out, err := ns.Try("ping", "-c", "1", "-w", "10", tc.far); err != nil {
				t.Fatalf("ping %s: %v\n%s", tc.far, err, out)
			}
			if out, err := ns.Try("ping", "-c", "1", "-w", "10", "-t", "1", tc.far); err != nil {
				t.Fatalf("ping -t 1 %s, a host of the VNet: %v\n%s", tc.far, err, out)
			}
			out, _ := ns.Try("ping", "-c", "1", "-W", "10", "-t", "1", tc.site)
			if want := "From " + tc.router + " icmp_seq=1 " + tc.exceeded; !strings.Contains(out, want) {
				t.Fatalf("ping -t 1 %s printed\n%s\nwant %q", tc.site, out, want)
			}
			out, _ = ns.Try("ping", "-c", "1", "-W", "10", tc.unrouted)
			if want := "From " + tc.router + " icmp_seq=1 " + tc.unreachable; !strings.Contains(out, want) {
				t.Fatalf("ping %s printed\n%s\nwant %q", tc.unrouted, out, want)
			}
		})
	}
}

// TestPingAddressWithoutHost (root): the kernel's ping in a TUN host's
// namespace to an address of another subnet of the VNet that no host has
// prints "Destination Host Unreachable" from the router's address in its
// own subnet (RFC 1812 §5.2.7.1: the router is the last hop, and the host
// is not there), over IPv6 "Destination unreachable: Address unreachable"
// (RFC 4443 §3.1, code 3); an address of no route still prints "Net
// Unreachable" ("No route"). The router answered every address it could
// not deliver to as of no route, as if it had no way to its own subnet.
func TestPingAddressWithoutHost(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	tests := []struct {
		host, space, empty, unrouted, router string
		noHost, noRoute                      string
	}{
		{"10.1.1.4", "10.1.0.0/16", "10.1.2.99", "10.9.9.9", "10.1.1.1", "Destination Host Unreachable", "Destination Net Unreachable"},
		{"fd00:1:1::4", "fd00:1::/48", "fd00:1:2::99", "fd00:9::9", "fd00:1:1::1", "Destination unreachable: Address unreachable", "Destination unreachable: No route"},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			r, ns, addr, a := pingingHost(t, tc.host)
			// The VNet's space, dropped where no host is, as the data
			// plane's table has it.
			r.SetRoutes([]Route{{netip.MustParsePrefix(tc.space), nil}, {netip.PrefixFrom(addr, addr.BitLen()), a}})
			out, _ := ns.Try("ping", "-c", "1", "-W", "10", tc.empty)
			if want := "From " + tc.router + " icmp_seq=1 " + tc.noHost; !strings.Contains(out, want) {
				t.Fatalf("ping %s, an address of subnet b without a host, printed\n%s\nwant %q", tc.empty, out, want)
			}
			out, _ = ns.Try("ping", "-c", "1", "-W", "10", tc.unrouted)
			if want := "From " + tc.router + " icmp_seq=1 " + tc.noRoute; !strings.Contains(out, want) {
				t.Fatalf("ping %s printed\n%s\nwant %q", tc.unrouted, out, want)
			}
		})
	}
}

// pingingHost starts a router of two subnets and, in a namespace of its
// own, a TUN host at host of its subnet a, for the kernel's ping.
func pingingHost(t *testing.T, host string) (*Router, *netnstest.NS, netip.Addr, *TUNHost) {
	t.Helper()
	r := twoSubnets()
	ns := netnstest.New(t, "icmp")
	addr := netip.MustParseAddr(host)
	a, err := NewTUNHost(ns.Name, addr, r.Ingress("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return r, ns, addr, a
}
