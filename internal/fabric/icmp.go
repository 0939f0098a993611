package fabric

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// The ICMP errors a router sends: Time Exceeded for a packet whose TTL
// (hop limit) ran out, Destination Unreachable for one with no route, or
// too long for the next hop with Don't Fragment set (FragmentationNeeded).
// They come from the router's address in the sender's subnet (its first
// address after the network's, x.x.x.1, which Azure reserves for the
// subnet's gateway), are rate-limited, and quote the packet as it came.

type icmpKind int

const (
	timeExceeded icmpKind = iota
	unreachable
	fragmentationNeeded
)

// ICMP error rate: a token bucket per router, refilled at icmpRate a
// second up to icmpBurst, so that a flood of expiring or unroutable packets
// makes the router send no more than that.
const (
	icmpRate  = 100
	icmpBurst = 50
)

// The most an ICMP error may be: RFC 1812 §4.3.2.3 for IPv4, the IPv6
// minimum MTU (RFC 4443 §2.4(c)).
const (
	icmp4Max = 576
	icmp6Max = 1280
)

// SetSubnets gives the router the prefixes of its VNet's subnets, by
// ingress key (subnet ID). Its ICMP errors come from its address in the
// subnet of the ingress the packet came by; without one, in a subnet that
// holds the sender, or else the first of the sender's family. A router
// without subnets sends no ICMP errors.
func (r *Router) SetSubnets(bySubnet map[string][]netip.Prefix) {
	s := &subnets{byKey: map[string][]netip.Prefix{}}
	for key, ps := range bySubnet {
		for _, p := range ps {
			if p = p.Masked(); p.IsValid() && p.Addr().Next().IsValid() {
				s.byKey[key] = append(s.byKey[key], p)
				s.all = append(s.all, p)
			}
		}
	}
	// The fallback does not change with the map's order.
	slices.SortFunc(s.all, netip.Prefix.Compare)
	r.subnets.Store(s)
}

// subnets are a router's subnets, replaced as a whole.
type subnets struct {
	byKey map[string][]netip.Prefix
	all   []netip.Prefix // sorted
}

// source returns the router's address to answer to from ingress key.
func (s *subnets) source(key string, to netip.Addr) (netip.Addr, bool) {
	for _, ps := range [][]netip.Prefix{s.byKey[key], s.all} {
		var first netip.Prefix
		for _, p := range ps {
			if p.Addr().Is4() != to.Is4() {
				continue
			}
			if p.Contains(to) {
				return p.Addr().Next(), true
			}
			if !first.IsValid() {
				first = p
			}
		}
		if first.IsValid() {
			return first.Addr().Next(), true
		}
	}
	return netip.Addr{}, false
}

// broadcast tells whether a is a subnet's broadcast address (all ones) or
// its network's (all zeros, RFC 1812 §5.3.5.1's old broadcast).
func (s *subnets) broadcast(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	for _, p := range s.all {
		if p.Addr().Is4() && p.Bits() < 31 && p.Contains(a) {
			if a == p.Addr() || a == lastAddr(p) {
				return true
			}
		}
	}
	return false
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := ^uint32(0) >> p.Bits()
	binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(b[:])|host)
	return netip.AddrFrom4(b)
}

// bucket is a token bucket (RFC 4443 §2.4(f)).
type bucket struct {
	mu     sync.Mutex // guards tokens and last
	tokens float64
	last   time.Time
	now    func() time.Time
}

// take reports whether a token was there, and takes it.
func (b *bucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if !b.last.IsZero() {
		b.tokens = min(icmpBurst, b.tokens+now.Sub(b.last).Seconds()*icmpRate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

var icmpBufs = sync.Pool{New: func() any { return new([icmp6Max]byte) }}

// FragmentationNeeded answers pkt, an IPv4 packet that a port (a
// point-to-site client) dropped for being longer than the mtu of its
// next hop, with ICMP Destination Unreachable, Fragmentation Needed and
// DF Set, whose next-hop MTU is mtu (RFC 1191 §4), to its sender, as the
// router's other errors go, when the packet has Don't Fragment set: the
// sender's path MTU discovery then sends smaller packets.
func (r *Router) FragmentationNeeded(pkt []byte, mtu int) { r.fragmentationNeeded("", pkt, mtu) }

// FragmentationNeeded is Router.FragmentationNeeded from the router's
// address in the ingress's subnet.
func (in *Ingress) FragmentationNeeded(pkt []byte, mtu int) {
	in.r.fragmentationNeeded(in.key, pkt, mtu)
}

func (r *Router) fragmentationNeeded(key string, pkt []byte, mtu int) {
	_, _, n := parse(pkt)
	if n == 0 || pkt[0]>>4 != 4 || pkt[6]&0x40 == 0 {
		return
	}
	r.icmpError(key, pkt[:n], fragmentationNeeded, mtu)
}

// icmpError answers pkt, dropped and cut at its IP length, with an ICMP error of kind to its
// sender, routed by the router's own table, unless the rules say not to or
// the rate limit is reached; mtu is a Fragmentation Needed error's.
func (r *Router) icmpError(key string, pkt []byte, kind icmpKind, mtu int) {
	s := r.subnets.Load()
	if len(s.all) == 0 {
		return
	}
	var src, dst netip.Addr
	if pkt[0]>>4 == 4 {
		src, dst = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
		if !answers4(pkt, src, dst) || s.broadcast(src) || s.broadcast(dst) {
			return
		}
	} else {
		src, dst = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
		if !answers6(pkt, src, dst) {
			return
		}
	}
	from, ok := s.source(key, src)
	if !ok {
		return
	}
	port := r.table.Load().lookup(src)
	if _, internet := port.(*Egress); internet || port == nil || !r.icmp.take() {
		// The way to the Internet takes TCP and UDP only: it would refuse
		// the error and count it a second time as a drop.
		return
	}
	buf := icmpBufs.Get().(*[icmp6Max]byte)
	defer icmpBufs.Put(buf)
	var msg []byte
	if src.Is4() {
		// RFC 792: Time Exceeded type 11 code 0 (TTL exceeded in transit);
		// RFC 1812 §5.2.7.1: no route at all MUST be Net Unreachable, type 3
		// code 0.
		typ, code, rest := byte(11), byte(0), uint32(0)
		switch kind {
		case unreachable:
			typ = 3
		case fragmentationNeeded:
			// RFC 1191 §4: type 3 code 4, the next-hop MTU in the low
			// 16 bits of the header's second word.
			typ, code, rest = 3, 4, uint32(mtu)
		}
		msg = icmp4(buf[:icmp4Max], typ, code, rest, from, src, pkt)
	} else {
		// RFC 4443 §3.3: Time Exceeded type 3 code 0 (hop limit exceeded in
		// transit); §3.1: Destination Unreachable type 1 code 0 (no route).
		typ := byte(3)
		if kind == unreachable {
			typ = 1
		}
		msg = icmp6(buf[:], typ, from, src, pkt)
	}
	port.Deliver(msg)
}

// answers4 applies RFC 1812 §4.3.2.7 (and RFC 1122 §3.2.2) to an IPv4
// packet: no ICMP error about an ICMP error, a packet to a broadcast or
// multicast address, a fragment other than the first, or from an address
// that is not one host's.
func answers4(pkt []byte, src, dst netip.Addr) bool {
	if binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 {
		return false
	}
	if dst.IsMulticast() || dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return false
	}
	s := src.As4()
	if s[0] == 0 || src.IsLoopback() || src.IsMulticast() || s[0] >= 240 {
		return false // zero network, loopback, multicast, class E, broadcast
	}
	if pkt[9] != 1 {
		return true
	}
	hl := int(pkt[0]&0x0f) * 4
	if len(pkt) <= hl {
		return false
	}
	// Only queries are answered; errors, and types unknown, are not.
	switch pkt[hl] {
	case 0, 8, 9, 10, 13, 14, 15, 16, 17, 18:
		return true
	}
	return false
}

// answers6 applies RFC 4443 §2.4(e) to an IPv6 packet: no ICMPv6 error
// about an ICMPv6 error or redirect, a packet to a multicast address, a
// fragment other than the first, or from an address that is not one
// node's.
func answers6(pkt []byte, src, dst netip.Addr) bool {
	if dst.IsMulticast() || src.IsUnspecified() || src.IsMulticast() || src.IsLoopback() {
		return false
	}
	next, off := pkt[6], 40
	for range 8 {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(pkt) < off+2 {
				return false
			}
			next, off = pkt[off], off+(int(pkt[off+1])+1)*8
		case 44: // fragment
			if len(pkt) < off+8 || binary.BigEndian.Uint16(pkt[off+2:off+4])>>3 != 0 {
				return false
			}
			next, off = pkt[off], off+8
		case 58:
			// RFC 4443 §2.1: types below 128 are errors; 137 is Redirect.
			return len(pkt) > off && pkt[off] >= 128 && pkt[off] != 137
		default:
			return true
		}
	}
	return false
}

// icmp4 writes into buf an IPv4 ICMP error of type typ and code, rest
// its header's second word, from src to dst, that quotes as much of pkt
// as buf holds (RFC 1812 §4.3.2.3: as much as fits in 576 bytes, the
// header and 8 bytes at least).
func icmp4(buf []byte, typ, code byte, rest uint32, src, dst netip.Addr, pkt []byte) []byte {
	n := 28 + copy(buf[28:], pkt)
	clear(buf[:28])
	buf[0] = 0x45
	binary.BigEndian.PutUint16(buf[2:4], uint16(n))
	buf[8], buf[9] = 64, 1
	s, d := src.As4(), dst.As4()
	copy(buf[12:16], s[:])
	copy(buf[16:20], d[:])
	binary.BigEndian.PutUint16(buf[10:12], ^sum16(0, buf[:20]))
	buf[20], buf[21] = typ, code
	binary.BigEndian.PutUint32(buf[24:28], rest)
	binary.BigEndian.PutUint16(buf[22:24], ^sum16(0, buf[20:n]))
	return buf[:n]
}

// icmp6 writes into buf an ICMPv6 error of type typ, code 0, from src to
// dst, that quotes as much of pkt as buf holds (RFC 4443 §2.4(c): as much
// as fits in the IPv6 minimum MTU).
func icmp6(buf []byte, typ byte, src, dst netip.Addr, pkt []byte) []byte {
	n := 48 + copy(buf[48:], pkt)
	clear(buf[:48])
	buf[0] = 0x60
	binary.BigEndian.PutUint16(buf[4:6], uint16(n-40))
	buf[6], buf[7] = 58, 64
	s, d := src.As16(), dst.As16()
	copy(buf[8:24], s[:])
	copy(buf[24:40], d[:])
	buf[40] = typ
	// RFC 4443 §2.3: the checksum covers the pseudo-header of RFC 8200 §8.1.
	sum := uint32(sum16(0, buf[8:40])) + uint32(n-40) + 58
	binary.BigEndian.PutUint16(buf[42:44], ^sum16(sum, buf[40:n]))
	return buf[:n]
}

// sum16 adds b to the one's complement sum sum (RFC 1071) and folds it.
func sum16(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}
