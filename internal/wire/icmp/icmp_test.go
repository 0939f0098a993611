package icmp

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// onesSum is the one's complement sum of b after sum: 0xffff over a whole
// header or message whose checksum is right (RFC 1071).
func onesSum(sum uint32, b []byte) uint16 {
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(binary.BigEndian.Uint16(b))
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// checkError4 checks that e is a whole IPv4 ICMP error of at most Max4
// bytes whose header and ICMP checksums verify and that quotes the start
// of pkt.
func checkError4(t *testing.T, e, pkt []byte) {
	t.Helper()
	if len(e) > Max4 || len(e) < 28 || int(binary.BigEndian.Uint16(e[2:4])) != len(e) {
		t.Fatalf("an error of %d bytes (total length %d), want 28 to %d", len(e), binary.BigEndian.Uint16(e[2:4]), Max4)
	}
	if onesSum(0, e[:20]) != 0xffff || onesSum(0, e[20:]) != 0xffff {
		t.Fatal("a checksum does not verify")
	}
	if q := e[28:]; string(q) != string(pkt[:len(q)]) {
		t.Fatal("the quote is not the packet's start")
	}
}

// checkError6 is checkError4 for ICMPv6, whose checksum covers the
// pseudo-header (RFC 4443 §2.3).
func checkError6(t *testing.T, e, pkt []byte) {
	t.Helper()
	if len(e) > Max6 || len(e) < 48 || int(binary.BigEndian.Uint16(e[4:6])) != len(e)-40 {
		t.Fatalf("an error of %d bytes, want 48 to %d", len(e), Max6)
	}
	if onesSum(uint32(onesSum(0, e[8:40]))+uint32(len(e)-40)+58, e[40:]) != 0xffff {
		t.Fatal("the checksum does not verify")
	}
	if q := e[48:]; string(q) != string(pkt[:len(q)]) {
		t.Fatal("the quote is not the packet's start")
	}
}

// TestTooBigErrors: a Fragmentation Needed and a Packet Too Big carry the
// MTU where RFC 1191 §4 and RFC 4443 §3.2 put it, quote what fits of a
// long packet, and verify.
func TestTooBigErrors(t *testing.T) {
	pkt := make([]byte, 1500)
	for i := range pkt {
		pkt[i] = byte(i)
	}
	e4 := Error4(make([]byte, Max4), TypeUnreachable4, CodeFragNeeded, 1438, netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr("10.1.1.5"), pkt)
	checkError4(t, e4, pkt)
	if len(e4) != Max4 || e4[20] != 3 || e4[21] != 4 || binary.BigEndian.Uint16(e4[26:28]) != 1438 {
		t.Errorf("Fragmentation Needed % x...: want 576 bytes, type 3 code 4, next-hop MTU 1438", e4[:28])
	}
	e6 := Error6(make([]byte, Max6), TypePacketTooBig6, 0, 1418, netip.MustParseAddr("fd00::4"), netip.MustParseAddr("fd00:1::5"), pkt)
	checkError6(t, e6, pkt)
	if len(e6) != Max6 || e6[40] != 2 || e6[41] != 0 || binary.BigEndian.Uint32(e6[44:48]) != 1418 {
		t.Errorf("Packet Too Big % x...: want 1280 bytes, type 2 code 0, MTU 1418", e6[40:48])
	}
}

// FuzzErrors: whatever a packet holds, deciding whether it is answered
// does not panic, and the error quoting it is whole, bounded and verifies.
func FuzzErrors(f *testing.F) {
	f.Add(make([]byte, 20))
	f.Add(append([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 1, 0, 4, 10, 1, 1, 5}, 8, 0, 0, 0, 0, 0, 0, 0))
	f.Add(append([]byte{0x46, 0, 0, 24, 0, 0, 0x20, 0, 64, 1, 0, 0, 10, 1, 0, 4, 224, 0, 0, 251}, 3))
	v6 := make([]byte, 48)
	v6[0], v6[6], v6[8], v6[24], v6[40] = 0x60, 0, 0xfd, 0xfd, 128
	f.Add(v6)
	v6[6] = 44 // a fragment header
	f.Add(v6)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		src, dst := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.4")
		if len(pkt) >= 20 {
			Answers4(pkt)
			checkError4(t, Error4(make([]byte, Max4), TypeUnreachable4, CodeFragNeeded, 1400, src, dst, pkt), pkt)
		}
		if len(pkt) >= 40 {
			Answers6(pkt)
			checkError6(t, Error6(make([]byte, Max6), TypePacketTooBig6, 0, 1400, netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::4"), pkt), pkt)
		}
	})
}

// quoted4 is the start of an IPv4 packet of length bytes in all, of IP
// protocol proto, from src to dst, with UDP ports when proto is 17.
func quoted4(length int, proto byte, src, dst netip.AddrPort) []byte {
	p := make([]byte, 28)
	p[0], p[8], p[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(p[2:4], uint16(length))
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(p[12:16], s[:])
	copy(p[16:20], d[:])
	binary.BigEndian.PutUint16(p[20:22], src.Port())
	binary.BigEndian.PutUint16(p[22:24], dst.Port())
	return p
}

// quoted6 is quoted4 for IPv6.
func quoted6(length int, proto byte, src, dst netip.AddrPort) []byte {
	p := make([]byte, 48)
	p[0], p[6], p[7] = 0x60, proto, 64
	binary.BigEndian.PutUint16(p[4:6], uint16(length-40))
	s, d := src.Addr().As16(), dst.Addr().As16()
	copy(p[8:24], s[:])
	copy(p[24:40], d[:])
	binary.BigEndian.PutUint16(p[40:42], src.Port())
	binary.BigEndian.PutUint16(p[42:44], dst.Port())
	return p
}

// TestParseTooBig: the Fragmentation Needed and Packet Too Big a router
// sends about an ESP packet in UDP, or as IP protocol 50, tell the path
// and the MTU; other errors, bad checksums, MTUs that say nothing (0, or
// no less than the packet) do not, and IPv6's MTU is never below 1280.
func TestParseTooBig(t *testing.T) {
	gw, site := netip.MustParseAddrPort("198.51.100.1:4500"), netip.MustParseAddrPort("100.65.1.2:4500")
	router := netip.MustParseAddr("100.64.1.2")
	msg4 := func(typ, code byte, mtu uint32, quote []byte) []byte {
		return Error4(make([]byte, Max4), typ, code, mtu, router, gw.Addr(), quote)[20:]
	}
	gw6, site6 := netip.MustParseAddrPort("[2001:db8::1]:4500"), netip.MustParseAddrPort("[2001:db8:1::2]:4500")
	msg6 := func(typ byte, mtu uint32, quote []byte) []byte {
		return Error6(make([]byte, Max6), typ, 0, mtu, netip.MustParseAddr("2001:db8:2::1"), gw6.Addr(), quote)[40:]
	}
	esp := func(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr(), 0) }
	badSum := msg4(TypeUnreachable4, CodeFragNeeded, 1400, quoted4(1462, 17, gw, site))
	badSum[30] ^= 1
	for _, c := range []struct {
		name string
		msg  []byte
		v6   bool
		want TooBig
		ok   bool
	}{
		{"udp", msg4(TypeUnreachable4, CodeFragNeeded, 1400, quoted4(1462, 17, gw, site)), false, TooBig{gw, site, 1400}, true},
		{"esp", msg4(TypeUnreachable4, CodeFragNeeded, 1400, quoted4(1462, 50, gw, site)), false, TooBig{esp(gw), esp(site), 1400}, true},
		{"port unreachable", msg4(TypeUnreachable4, 3, 1400, quoted4(1462, 17, gw, site)), false, TooBig{}, false},
		{"tcp", msg4(TypeUnreachable4, CodeFragNeeded, 1400, quoted4(1462, 6, gw, site)), false, TooBig{}, false},
		{"mtu 0", msg4(TypeUnreachable4, CodeFragNeeded, 0, quoted4(1462, 17, gw, site)), false, TooBig{}, false},
		{"mtu of the packet", msg4(TypeUnreachable4, CodeFragNeeded, 1462, quoted4(1462, 17, gw, site)), false, TooBig{}, false},
		{"bad checksum", badSum, false, TooBig{}, false},
		{"short", msg4(TypeUnreachable4, CodeFragNeeded, 1400, quoted4(1462, 17, gw, site)[:24]), false, TooBig{}, false},
		{"udp6", msg6(TypePacketTooBig6, 1400, quoted6(1482, 17, gw6, site6)), true, TooBig{gw6, site6, 1400}, true},
		{"esp6", msg6(TypePacketTooBig6, 1400, quoted6(1482, 50, gw6, site6)), true, TooBig{esp(gw6), esp(site6), 1400}, true},
		{"below 1280", msg6(TypePacketTooBig6, 1000, quoted6(1482, 17, gw6, site6)), true, TooBig{gw6, site6, 1280}, true},
		{"below 1280, packet of 1280", msg6(TypePacketTooBig6, 1000, quoted6(1280, 17, gw6, site6)), true, TooBig{}, false},
		{"unreachable6", msg6(TypeUnreachable6, 1400, quoted6(1482, 17, gw6, site6)), true, TooBig{}, false},
	} {
		parse := ParseTooBig4
		if c.v6 {
			parse = ParseTooBig6
		}
		if got, ok := parse(c.msg); got != c.want || ok != c.ok {
			t.Errorf("%s: %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// FuzzParseTooBig: whatever an ICMP message holds, reading it does not
// panic, and what it reads is a path of UDP or ESP with an MTU of at
// least the least a link has.
func FuzzParseTooBig(f *testing.F) {
	gw, site := netip.MustParseAddrPort("198.51.100.1:4500"), netip.MustParseAddrPort("100.65.1.2:4500")
	f.Add(Error4(make([]byte, Max4), TypeUnreachable4, CodeFragNeeded, 1400, site.Addr(), gw.Addr(), quoted4(1462, 17, gw, site))[20:])
	f.Add(Error4(make([]byte, Max4), TypeUnreachable4, CodeFragNeeded, 1400, site.Addr(), gw.Addr(), quoted4(1462, 50, gw, site))[20:])
	gw6, site6 := netip.MustParseAddrPort("[2001:db8::1]:4500"), netip.MustParseAddrPort("[2001:db8:1::2]:4500")
	f.Add(Error6(make([]byte, Max6), TypePacketTooBig6, 0, 1400, site6.Addr(), gw6.Addr(), quoted6(1482, 17, gw6, site6))[40:])
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, v6 := range []bool{false, true} {
			parse := ParseTooBig4
			if v6 {
				parse = ParseTooBig6
			}
			tb, ok := parse(msg)
			if !ok {
				continue
			}
			if !tb.Src.IsValid() || !tb.Dst.IsValid() || tb.Src.Addr().Is4() == v6 || tb.MTU < MinMTU(v6) || tb.MTU >= 40+1<<16 {
				t.Fatalf("ParseTooBig (IPv6 %v) of % x: %+v", v6, msg, tb)
			}
		}
	})
}
