// Package icmp builds the ICMP and ICMPv6 errors a router sends about a
// packet it dropped (RFC 792, RFC 1812 §4.3, RFC 4443), tells which
// packets may be answered with one (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e)),
// and limits their rate (RFC 4443 §2.4(f)). The VNet routers and the
// tunnel engine share it.
package icmp

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// The most an ICMP error may be: RFC 1812 §4.3.2.3 for IPv4, the IPv6
// minimum MTU (RFC 4443 §2.4(c)).
const (
	Max4 = 576
	Max6 = 1280
)

// Types and codes of the errors sent here.
const (
	// RFC 792: Destination Unreachable, whose code 4 (RFC 1191 §4:
	// Fragmentation Needed and DF Set) carries the next-hop MTU in the
	// low 16 bits of the second word; Time Exceeded.
	TypeUnreachable4  = 3
	CodeFragNeeded    = 4
	TypeTimeExceeded4 = 11
	TypeUnreachable6  = 1 // RFC 4443 §3.1
	TypePacketTooBig6 = 2 // RFC 4443 §3.2: the MTU is the second word
	TypeTimeExceeded6 = 3 // RFC 4443 §3.3
)

// MinMTU is the least MTU a link of an IP version may have: 68 for IPv4
// (RFC 791), 1280 for IPv6 (RFC 8200 §5). A Fragmentation Needed or
// Packet Too Big tells of no less.
func MinMTU(ipv6 bool) int {
	if ipv6 {
		return 1280
	}
	return 68
}

// Error4 writes into buf an IPv4 ICMP error of type typ and code, rest its
// header's second word, from src to dst, that quotes as much of pkt as buf
// holds (RFC 1812 §4.3.2.3: as much as fits in 576 bytes, the header and 8
// bytes at least). buf should be Max4 bytes long.
func Error4(buf []byte, typ, code byte, rest uint32, src, dst netip.Addr, pkt []byte) []byte {
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

// Error6 writes into buf an ICMPv6 error of type typ and code, rest its
// header's second word (a Packet Too Big's MTU, RFC 4443 §3.2), from src
// to dst, that quotes as much of pkt as buf holds (RFC 4443 §2.4(c): as
// much as fits in the IPv6 minimum MTU). buf should be Max6 bytes long.
func Error6(buf []byte, typ, code byte, rest uint32, src, dst netip.Addr, pkt []byte) []byte {
	n := 48 + copy(buf[48:], pkt)
	clear(buf[:48])
	buf[0] = 0x60
	binary.BigEndian.PutUint16(buf[4:6], uint16(n-40))
	buf[6], buf[7] = 58, 64
	s, d := src.As16(), dst.As16()
	copy(buf[8:24], s[:])
	copy(buf[24:40], d[:])
	buf[40], buf[41] = typ, code
	binary.BigEndian.PutUint32(buf[44:48], rest)
	// RFC 4443 §2.3: the checksum covers the pseudo-header of RFC 8200 §8.1.
	sum := uint32(sum16(0, buf[8:40])) + uint32(n-40) + 58
	binary.BigEndian.PutUint16(buf[42:44], ^sum16(sum, buf[40:n]))
	return buf[:n]
}

// Answers4 applies RFC 1812 §4.3.2.7 (and RFC 1122 §3.2.2) to pkt, an
// IPv4 packet whose header is whole: no ICMP error about an ICMP error, a
// packet to a broadcast or multicast address, a fragment other than the
// first, or from an address that is not one host's. A subnet's broadcast
// addresses are the caller's to check.
func Answers4(pkt []byte) bool {
	src, dst := netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
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

// Answers6 applies RFC 4443 §2.4(e) to pkt, an IPv6 packet whose fixed
// header is whole: no ICMPv6 error about an ICMPv6 error or redirect, a
// packet to a multicast address, a fragment other than the first, or from
// an address that is not one node's. A Packet Too Big may answer a packet
// to a multicast address (§2.4(e.2)); the callers here send none for one.
func Answers6(pkt []byte) bool {
	src, dst := netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
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

// Limiter is a token bucket (RFC 4443 §2.4(f); RFC 1812 §4.3.2.8): Allow
// takes a token, Rate of them come back a second, up to Burst. It starts
// full. Set Rate, Burst and Now (nil: time.Now) before the first Allow.
type Limiter struct {
	Rate, Burst float64
	Now         func() time.Time

	mu     sync.Mutex // guards tokens and last
	tokens float64
	last   time.Time
}

// Allow reports whether a token was there, and takes it.
func (l *Limiter) Allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	t := now()
	if l.last.IsZero() {
		l.tokens = l.Burst
	} else {
		l.tokens = min(l.Burst, l.tokens+t.Sub(l.last).Seconds()*l.Rate)
	}
	l.last = t
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
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

// TooBig is what a Fragmentation Needed (RFC 1191 §4) or a Packet Too Big
// (RFC 4443 §3.2) tells of a UDP or ESP packet this host sent.
type TooBig struct {
	// Src and Dst are the quoted packet's addresses with, for UDP, its
	// ports; an ESP packet's (IP protocol 50) have port 0.
	Src, Dst netip.AddrPort
	// MTU is the most a packet on the path to Dst may have, less than the
	// quoted packet's length and no less than MinMTU.
	MTU int
}

// Quoted IP protocols ParseTooBig4 and ParseTooBig6 take.
const (
	protoUDP = 17
	protoESP = 50
)

// ParseTooBig4 reads msg, an ICMP message without its IP header (as a raw
// ICMP socket reads it), as a Fragmentation Needed and DF Set about a UDP
// or ESP packet, and reports whether it is one. It checks the checksum:
// the kernel hands raw sockets what it has not.
func ParseTooBig4(msg []byte) (TooBig, bool) {
	// The ICMP header, the quoted IP header and 8 bytes of what follows
	// (RFC 792; RFC 1812 §4.3.2.3 may quote more).
	if len(msg) < 8+20+8 || msg[0] != TypeUnreachable4 || msg[1] != CodeFragNeeded || sum16(0, msg) != 0xffff {
		return TooBig{}, false
	}
	q := msg[8:]
	hl := int(q[0]&0x0f) * 4
	if q[0]>>4 != 4 || hl < 20 || len(q) < hl+8 {
		return TooBig{}, false
	}
	// RFC 1191 §4: the next-hop MTU is the low 16 bits of the second
	// word; a router that predates it sends 0, which tells nothing here.
	mtu, length := int(binary.BigEndian.Uint16(msg[6:8])), int(binary.BigEndian.Uint16(q[2:4]))
	if mtu < MinMTU(false) || mtu >= length {
		return TooBig{}, false
	}
	src, dst := netip.AddrFrom4([4]byte(q[12:16])), netip.AddrFrom4([4]byte(q[16:20]))
	return tooBig(src, dst, q[9], q[hl:], mtu)
}

// ParseTooBig6 reads msg, an ICMPv6 message (as a raw ICMPv6 socket reads
// it, its checksum checked by the kernel), as a Packet Too Big about a UDP
// or ESP packet, and reports whether it is one.
func ParseTooBig6(msg []byte) (TooBig, bool) {
	if len(msg) < 8+40+8 || msg[0] != TypePacketTooBig6 || msg[1] != 0 {
		return TooBig{}, false
	}
	q := msg[8:]
	if q[0]>>4 != 6 {
		return TooBig{}, false
	}
	// RFC 8201 §4: a node MUST NOT reduce its estimate of the path MTU
	// below the IPv6 minimum link MTU.
	mtu, length := max(binary.BigEndian.Uint32(msg[4:8]), uint32(MinMTU(true))), 40+uint32(binary.BigEndian.Uint16(q[4:6]))
	if mtu >= length {
		return TooBig{}, false
	}
	src, dst := netip.AddrFrom16([16]byte(q[8:24])), netip.AddrFrom16([16]byte(q[24:40]))
	return tooBig(src, dst, q[6], q[40:], int(mtu))
}

// tooBig makes the TooBig of a quoted packet from src to dst of IP
// protocol proto, whose payload starts with next.
func tooBig(src, dst netip.Addr, proto byte, next []byte, mtu int) (TooBig, bool) {
	switch proto {
	case protoUDP:
		sp, dp := binary.BigEndian.Uint16(next[0:2]), binary.BigEndian.Uint16(next[2:4])
		if sp == 0 || dp == 0 {
			return TooBig{}, false
		}
		return TooBig{Src: netip.AddrPortFrom(src, sp), Dst: netip.AddrPortFrom(dst, dp), MTU: mtu}, true
	case protoESP:
		return TooBig{Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0), MTU: mtu}, true
	}
	return TooBig{}, false
}
