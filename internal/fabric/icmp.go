package fabric

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"

	"github.com/vnetgw/vnetgw/internal/wire/icmp"
)

// The ICMP errors a router sends: Time Exceeded for a packet whose TTL
// (hop limit) ran out, Destination Unreachable for one with no route (Host
// or Address Unreachable for one to an address of the router's subnets
// that no host has), or too long for the next hop with Don't Fragment set
// (FragmentationNeeded).
// They come from the router's address in the sender's subnet (its first
// address after the network's, x.x.x.1, which Azure reserves for the
// subnet's gateway), are rate-limited, and quote the packet as it came.

type icmpKind int

const (
	timeExceeded icmpKind = iota
	unreachable
	hostUnreachable // to an address of one of the router's subnets that no host has
	fragmentationNeeded
)

// ICMP error rate: a token bucket per router, refilled at icmpRate a
// second up to icmpBurst, so that a flood of expiring or unroutable packets
// makes the router send no more than that.
const (
	icmpRate  = 100
	icmpBurst = 50
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

// holds tells whether a is in one of the subnets: a network the router
// is the last hop to.
func (s *subnets) holds(a netip.Addr) bool {
	for _, p := range s.all {
		if p.Contains(a) {
			return true
		}
	}
	return false
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

var icmpBufs = sync.Pool{New: func() any { return new([icmp.Max6]byte) }}

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
	var src netip.Addr
	if pkt[0]>>4 == 4 {
		src = netip.AddrFrom4([4]byte(pkt[12:16]))
		if !icmp.Answers4(pkt) || s.broadcast(src) || s.broadcast(netip.AddrFrom4([4]byte(pkt[16:20]))) {
			return
		}
	} else {
		src = netip.AddrFrom16([16]byte(pkt[8:24]))
		if !icmp.Answers6(pkt) {
			return
		}
	}
	from, ok := s.source(key, src)
	if !ok {
		return
	}
	port := r.table.Load().lookup(src)
	if _, internet := port.(*Egress); internet || port == nil || !r.icmp.Allow() {
		// The way to the Internet takes TCP and UDP only: it would refuse
		// the error and count it a second time as a drop.
		return
	}
	buf := icmpBufs.Get().(*[icmp.Max6]byte)
	defer icmpBufs.Put(buf)
	var msg []byte
	if src.Is4() {
		// RFC 792: Time Exceeded type 11 code 0 (TTL exceeded in transit);
		// RFC 1812 §5.2.7.1: no route at all MUST be Net Unreachable, type 3
		// code 0.
		typ, code, rest := byte(icmp.TypeTimeExceeded4), byte(0), uint32(0)
		switch kind {
		case unreachable:
			typ = icmp.TypeUnreachable4
		case hostUnreachable:
			// RFC 1812 §5.2.7.1: the last-hop router to a host that is not
			// there MUST send Host Unreachable, code 1.
			typ, code = icmp.TypeUnreachable4, 1
		case fragmentationNeeded:
			// RFC 1191 §4: type 3 code 4, the next-hop MTU in the low
			// 16 bits of the header's second word.
			typ, code, rest = icmp.TypeUnreachable4, icmp.CodeFragNeeded, uint32(mtu)
		}
		msg = icmp.Error4(buf[:icmp.Max4], typ, code, rest, from, src, pkt)
	} else {
		// RFC 4443 §3.3: Time Exceeded type 3 code 0 (hop limit exceeded in
		// transit); §3.1: Destination Unreachable type 1 code 0 (no route),
		// code 3 (address unreachable) to an address of a subnet that no
		// host has.
		typ, code := byte(icmp.TypeTimeExceeded6), byte(0)
		switch kind {
		case unreachable:
			typ = icmp.TypeUnreachable6
		case hostUnreachable:
			typ, code = icmp.TypeUnreachable6, 3
		}
		msg = icmp.Error6(buf[:], typ, code, 0, from, src, pkt)
	}
	port.Deliver(msg)
}
