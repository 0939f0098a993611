package tunnel

import (
	"encoding/binary"
	"net/netip"
)

// NAT is one static translation (VPN NAT), host part for host part: with
// IngressSnat (Egress false) the far side's own addresses in Internal are
// the ones in External to the near side; with EgressSnat (Egress true) the
// near side's addresses in Internal are the ones in External to the far
// side. IPv4 only; the prefixes have one length.
type NAT struct {
	Internal, External netip.Prefix
	Egress             bool
}

// natIn rewrites an IPv4 packet that came through the tunnel: its source
// from a far side's Internal address to the External one (IngressSnat),
// its destination from External back to the near side's Internal
// (EgressSnat). natOut does the reverse to one going into the tunnel. The
// IPv4 header checksum and a TCP or UDP checksum follow (RFC 1624); the
// datagram inside an ICMP error is translated too (RFC 5508 §4.2). They
// report whether they changed the packet.
func natIn(pkt []byte, maps []NAT) bool { return natApply(pkt, maps, natDirIn) }

func natOut(pkt []byte, maps []NAT) bool { return natApply(pkt, maps, natDirOut) }

// natDir says which maps a packet's source and destination go through.
type natDir struct{ srcEgress, srcToExternal, dstEgress, dstToExternal bool }

var (
	natDirIn  = natDir{srcEgress: false, srcToExternal: true, dstEgress: true, dstToExternal: false}
	natDirOut = natDir{srcEgress: true, srcToExternal: true, dstEgress: false, dstToExternal: false}
)

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
	old := [4]byte(pkt[off : off+4])
	a := netip.AddrFrom4(old)
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
		v := binary.BigEndian.Uint32(t[:])&mask | binary.BigEndian.Uint32(old[:])&^mask
		var nw [4]byte
		binary.BigEndian.PutUint32(nw[:], v)
		copy(pkt[off:], nw[:])
		binary.BigEndian.PutUint16(pkt[10:], checksumUpdate(binary.BigEndian.Uint16(pkt[10:]), old, nw))
		ihl := int(pkt[0]&0x0f) * 4
		if binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 || len(pkt) < ihl {
			return true // a later fragment holds no transport header
		}
		// The pseudo-header of TCP and UDP holds the addresses.
		switch l4 := pkt[ihl:]; pkt[9] {
		case 6:
			if len(l4) >= 18 {
				binary.BigEndian.PutUint16(l4[16:], checksumUpdate(binary.BigEndian.Uint16(l4[16:]), old, nw))
			}
		case 17:
			if len(l4) >= 8 && binary.BigEndian.Uint16(l4[6:]) != 0 { // 0: no checksum (RFC 768)
				c := checksumUpdate(binary.BigEndian.Uint16(l4[6:]), old, nw)
				if c == 0 {
					c = 0xffff
				}
				binary.BigEndian.PutUint16(l4[6:], c)
			}
		}
		return true
	}
	return false
}

// checksumUpdate returns an Internet checksum after 4 bytes it covers
// changed from old to nw (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
func checksumUpdate(sum uint16, old, nw [4]byte) uint16 {
	s := uint32(^sum)
	for i := 0; i < 4; i += 2 {
		s += uint32(^binary.BigEndian.Uint16(old[i:]))
		s += uint32(binary.BigEndian.Uint16(nw[i:]))
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
