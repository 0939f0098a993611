package tunnel

import (
	"encoding/binary"
	"net/netip"

	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// ipHeader is what the engine reads from an inner IP packet.
type ipHeader struct {
	src, dst netip.Addr
	length   int   // total length, which may be less than the buffer (TFC padding)
	next     uint8 // the ESP Next Header for the packet: 4 or 41
	tos      uint8 // IPv4 Type of Service, IPv6 Traffic Class: DSCP and ECN
}

// parseIP reads the header of the IPv4 or IPv6 packet at the start of p and
// checks that p holds all of it. IPv6 jumbograms are not IP packets here.
func parseIP(p []byte) (ipHeader, bool) {
	if len(p) == 0 {
		return ipHeader{}, false
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) < 20 {
			return ipHeader{}, false
		}
		ihl := int(p[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(p[2:4]))
		if ihl < 20 || total < ihl || total > len(p) {
			return ipHeader{}, false
		}
		return ipHeader{
			src:    netip.AddrFrom4([4]byte(p[12:16])),
			dst:    netip.AddrFrom4([4]byte(p[16:20])),
			length: total,
			next:   espwire.NextHeaderIPv4,
			tos:    p[1],
		}, true
	case 6:
		if len(p) < 40 {
			return ipHeader{}, false
		}
		total := 40 + int(binary.BigEndian.Uint16(p[4:6]))
		if total > len(p) {
			return ipHeader{}, false
		}
		return ipHeader{
			src:    netip.AddrFrom16([16]byte(p[8:24])),
			dst:    netip.AddrFrom16([16]byte(p[24:40])),
			length: total,
			next:   espwire.NextHeaderIPv6,
			tos:    p[0]<<4 | p[1]>>4,
		}, true
	}
	return ipHeader{}, false
}

// ECN codepoints, the low two bits of the TOS octet (RFC 3168 §5).
const (
	notECT = 0b00
	ect1   = 0b01
	ect0   = 0b10
	ce     = 0b11
)

// decapECN applies RFC 6040 §4.2 (normal mode) to pkt, the inner packet
// whose TOS octet is tos, which arrived in an outer header whose TOS
// octet is outer: the inner ECN field becomes what the table says, and
// the inner DSCP stays as it is (RFC 4301 §5.1.2.1). It returns false
// when the packet MUST be dropped: the outer header says CE and the inner
// packet is not ECN-capable.
func decapECN(pkt []byte, tos, outer uint8) bool {
	in, out := tos&3, outer&3
	switch {
	case out == ce && in == notECT:
		// RFC 6040 §4.2: the decapsulator MUST drop the packet.
		return false
	case out == ce && in != ce:
		setECN(pkt, ce)
	case out == ect1 && in == ect0:
		setECN(pkt, ect1)
	}
	return true
}

// setECN sets the ECN field of the IPv4 or IPv6 packet at the start of
// pkt, whose header parseIP checked; an IPv4 header's checksum is updated
// for the change (RFC 1624 §3).
func setECN(pkt []byte, ecn uint8) {
	if pkt[0]>>4 == 6 {
		pkt[1] = pkt[1]&^0x30 | ecn<<4
		return
	}
	old := binary.BigEndian.Uint16(pkt[0:2])
	pkt[1] = pkt[1]&^3 | ecn
	sum := uint32(^binary.BigEndian.Uint16(pkt[10:12])) + uint32(^old) + uint32(binary.BigEndian.Uint16(pkt[0:2]))
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(sum))
}
