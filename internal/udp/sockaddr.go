package udp

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// parseSockaddr reads the address recvmmsg wrote into sa, an IPv4 or IPv6
// socket address.
func parseSockaddr(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(&sa4.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr).Unmap()
		return netip.AddrPortFrom(a, port(&sa.Port))
	}
	return netip.AddrPort{}
}

// port reads a port in network byte order.
func port(p *uint16) uint16 {
	return binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(p))[:])
}

// putSockaddr writes ap into sa as the socket's family wants it and returns
// its length; ok is false if the socket cannot send to ap. A raw ESP socket
// (esp) sends to port 0; a UDP socket cannot.
func putSockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort, v6, esp bool) (n uint32, ok bool) {
	a := ap.Addr()
	if !ap.IsValid() || (ap.Port() == 0) != esp {
		return 0, false
	}
	if !v6 {
		if !a.Unmap().Is4() {
			return 0, false
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Unmap().As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:], ap.Port())
		return unix.SizeofSockaddrInet4, true
	}
	if a.Is4() {
		// A socket bound to an IPv6 address cannot send to IPv4.
		return 0, false
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], ap.Port())
	return unix.SizeofSockaddrInet6, true
}

// parseCtrl returns the segment size of a UDP_GRO control message in ctrl
// (0 if there is none; the kernel writes it as an int) and the TOS of an
// IP_TOS (a byte) or IPV6_TCLASS (an int) one (0 if there is none).
func parseCtrl(ctrl []byte) (seg int, tos uint8) {
	for len(ctrl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(ctrl) {
			return seg, tos
		}
		data := ctrl[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			seg = int(*(*int32)(unsafe.Pointer(&data[0])))
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS && len(data) >= 1:
			tos = data[0]
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS && len(data) >= 4:
			tos = uint8(*(*int32)(unsafe.Pointer(&data[0])))
		}
		ctrl = ctrl[min(unix.CmsgSpace(l-unix.SizeofCmsghdr), len(ctrl)):]
	}
	return seg, tos
}

// putSegment writes a UDP_SEGMENT control message with the segment size
// seg into c, which is at least cmsgSpace long, and returns its length.
func putSegment(c []byte, seg uint16) int {
	clear(c[:cmsgSpace])
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = seg
	return unix.CmsgSpace(2)
}

// putTOS writes an IP_TOS (IPv4) or IPV6_TCLASS (IPv6) control message
// with tos, as an int, into c, which is at least cmsgSpace long, and
// returns its length.
func putTOS(c []byte, tos uint8, v6 bool) int {
	clear(c[:cmsgSpace])
	h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TOS
	if v6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_TCLASS
	}
	h.SetLen(unix.CmsgLen(4))
	*(*int32)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = int32(tos)
	return unix.CmsgSpace(4)
}

// ipv4Payload returns what follows the IPv4 header at the start of pkt, as
// a raw IPv4 socket reads it; ok is false if pkt does not start with one.
// RFC 791 §3.1: IHL counts 32-bit words and is at least 5.
func ipv4Payload(pkt []byte) (payload []byte, ok bool) {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return nil, false
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || ihl > len(pkt) {
		return nil, false
	}
	return pkt[ihl:], true
}
