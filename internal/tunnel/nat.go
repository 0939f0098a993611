package tunnel

import (
	"encoding/binary"
	"net/netip"
)

// NAT is one translation (VPN NAT): with IngressSnat (Egress false) the
// far side's own addresses in Internal are the ones in External to the
// near side; with EgressSnat (Egress true) the near side's addresses in
// Internal are the ones in External to the far side. A static one maps
// host part for host part, both ways, and its prefixes have one length;
// a Dynamic one (natdyn.go) maps flows that Internal starts to addresses
// and ports of External. IPv4 only.
type NAT struct {
	Internal, External netip.Prefix
	Egress             bool
	Dynamic            bool
}

// natDir says which maps a packet's source and destination go through.
type natDir struct{ srcEgress, srcToExternal, dstEgress, dstToExternal bool }

var (
	natDirIn  = natDir{srcEgress: false, srcToExternal: true, dstEgress: true, dstToExternal: false}
	natDirOut = natDir{srcEgress: true, srcToExternal: true, dstEgress: false, dstToExternal: false}
)

// natApply rewrites an IPv4 packet by static maps: one that came through
// the tunnel (natDirIn) has its source moved from a far side's Internal
// address to the External one (IngressSnat), its destination from
// External back to the near side's Internal (EgressSnat); one going into
// the tunnel (natDirOut) the reverse. The IPv4 header checksum and a TCP
// or UDP checksum follow (RFC 1624); the datagram inside an ICMP error is
// translated too (RFC 5508 §4.2). It reports whether it changed the
// packet.
func natApply(pkt []byte, maps []NAT, d natDir) bool {
	s := natRewrite(pkt, 12, maps, d.srcEgress, d.srcToExternal)
	t := natRewrite(pkt, 16, maps, d.dstEgress, d.dstToExternal)
	e := natEmbedded(pkt, maps, d)
	return s || t || e
}

// natEmbedded translates the datagram an ICMP error quotes: it went the
// other way, so its destination takes the maps of the error's source and
// its source those of the error's destination. The ICMP checksum, which
// covers it, is computed again (errors are rare and short).
func natEmbedded(pkt []byte, maps []NAT, d natDir) bool {
	if len(pkt) < 20 || pkt[0]>>4 != 4 || pkt[9] != 1 || binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 {
		return false
	}
	ihl, total := int(pkt[0]&0x0f)*4, int(binary.BigEndian.Uint16(pkt[2:4]))
	if ihl < 20 || total > len(pkt) || total < ihl+8+20 {
		return false
	}
	icmp := pkt[ihl:total]
	switch icmp[0] {
	case 3, 4, 5, 11, 12: // unreachable, source quench, redirect, time exceeded, parameter problem
	default:
		return false
	}
	inner := icmp[8:]
	a := natRewrite(inner, 16, maps, d.srcEgress, d.srcToExternal)
	b := natRewrite(inner, 12, maps, d.dstEgress, d.dstToExternal)
	if !a && !b {
		return false
	}
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[2:], checksum(0, icmp))
	return true
}

// checksum is the Internet checksum (RFC 1071) of b, starting from the
// partial sum sum (a pseudo-header's).
func checksum(sum uint32, b []byte) uint16 {
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(binary.BigEndian.Uint16(b))
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// natRewrite moves the address at pkt[off:] by the first of the maps of
// the given direction that holds it.
func natRewrite(pkt []byte, off int, maps []NAT, egress, toExternal bool) bool {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return false
	}
	a := netip.AddrFrom4([4]byte(pkt[off : off+4]))
	for _, m := range maps {
		if m.Egress != egress {
			continue
		}
		from, to := m.External, m.Internal
		if toExternal {
			from, to = m.Internal, m.External
		}
		if !from.Contains(a) {
			continue
		}
		mask := ^uint32(0) << (32 - from.Bits())
		if from.Bits() == 0 {
			mask = 0
		}
		t := to.Addr().As4()
		v := binary.BigEndian.Uint32(t[:])&mask | binary.BigEndian.Uint32(pkt[off:])&^mask
		var nw [4]byte
		binary.BigEndian.PutUint32(nw[:], v)
		setAddr(pkt, off, nw)
		return true
	}
	return false
}

// setAddr writes address nw at pkt[off:] (12: the source, 16: the
// destination) of an IPv4 packet; the header checksum and a TCP or UDP
// checksum, whose pseudo-header holds the addresses, follow.
func setAddr(pkt []byte, off int, nw [4]byte) {
	old := [4]byte(pkt[off : off+4])
	copy(pkt[off:], nw[:])
	binary.BigEndian.PutUint16(pkt[10:], checksumUpdate(binary.BigEndian.Uint16(pkt[10:]), old[:], nw[:]))
	ihl := int(pkt[0]&0x0f) * 4
	if binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 || len(pkt) < ihl {
		return // a later fragment holds no transport header
	}
	l4 := pkt[ihl:]
	if at := l4ChecksumAt(pkt[9], l4); at >= 0 && pkt[9] != 1 {
		l4Update(pkt[9], l4, at, old[:], nw[:])
	}
}

// l4ChecksumAt returns where the checksum of a TCP, UDP or ICMP header l4
// is, or -1: none, it is cut off, or (UDP, RFC 768) it is 0, not used.
func l4ChecksumAt(proto byte, l4 []byte) int {
	switch {
	case proto == 6 && len(l4) >= 18:
		return 16
	case proto == 17 && len(l4) >= 8 && binary.BigEndian.Uint16(l4[6:]) != 0:
		return 6
	case proto == 1 && len(l4) >= 4:
		return 2
	}
	return -1
}

// l4Update moves the checksum at l4[at:] for covered bytes that changed
// from old to nw; a UDP checksum never becomes 0 (RFC 768).
func l4Update(proto byte, l4 []byte, at int, old, nw []byte) {
	c := checksumUpdate(binary.BigEndian.Uint16(l4[at:]), old, nw)
	if c == 0 && proto == 17 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[at:], c)
}

// checksumUpdate returns an Internet checksum after bytes it covers (an
// even number, at an even offset) changed from old to nw (RFC 1624, eqn.
// 3: HC' = ~(~HC + ~m + m')).
func checksumUpdate(sum uint16, old, nw []byte) uint16 {
	s := uint32(^sum)
	for i := 0; i+1 < len(old); i += 2 {
		s += uint32(^binary.BigEndian.Uint16(old[i:]))
		s += uint32(binary.BigEndian.Uint16(nw[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
