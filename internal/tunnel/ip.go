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
		}, true
	}
	return ipHeader{}, false
}
