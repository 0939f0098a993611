package tunnel

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// The checksum of RFC 1071's example (§3): its one's complement sum of
// 00 01 f2 03 f4 f5 f6 f7 is ddf2.
func TestChecksumRFC1071(t *testing.T) {
	if got := checksum(0, []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}); got != ^uint16(0xddf2) {
		t.Fatalf("checksum %04x, want %04x", got, ^uint16(0xddf2))
	}
}

// natIn and natOut translate pkt by static maps as a tunnel does.
func natIn(pkt []byte, maps []NAT) bool {
	changed, _ := newNATTable(maps).in(pkt, 0)
	return changed
}

func natOut(pkt []byte, maps []NAT) bool {
	changed, _ := newNATTable(maps).out(pkt, 0)
	return changed
}

// l4Checksum computes a TCP or UDP checksum of an IPv4 packet from scratch.
func l4Checksum(pkt []byte, at int) uint16 {
	ihl := int(pkt[0]&0x0f) * 4
	l4 := append([]byte(nil), pkt[ihl:]...)
	l4[at], l4[at+1] = 0, 0
	var pseudo uint32
	for i := 12; i < 20; i += 2 {
		pseudo += uint32(binary.BigEndian.Uint16(pkt[i:]))
	}
	pseudo += uint32(pkt[9]) + uint32(len(l4))
	return checksum(pseudo, l4)
}

// withChecksums is an IPv4 packet of protocol proto from src to dst with
// a correct header checksum and, for TCP and UDP, transport checksum.
func withChecksums(proto byte, src, dst string) []byte {
	pkt := make([]byte, 20+40)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(pkt[12:], s[:])
	copy(pkt[16:], d[:])
	for i := 20; i < len(pkt); i++ {
		pkt[i] = byte(i * 7)
	}
	binary.BigEndian.PutUint16(pkt[10:], checksum(0, pkt[:20]))
	switch proto {
	case 6:
		binary.BigEndian.PutUint16(pkt[20+16:], l4Checksum(pkt, 16))
	case 17:
		binary.BigEndian.PutUint16(pkt[20+4:], 40)
		binary.BigEndian.PutUint16(pkt[20+6:], l4Checksum(pkt, 6))
	}
	return pkt
}

// The addresses move host part for host part, and every checksum is what
// it would be computed anew (RFC 1624).
func TestNATRewriteKeepsChecksums(t *testing.T) {
	maps := []NAT{{Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.31.2.0/24")}}
	for _, proto := range []byte{1, 6, 17} {
		out := withChecksums(proto, "10.1.0.4", "172.31.2.9")
		if !natOut(out, maps) || netip.AddrFrom4([4]byte(out[16:20])) != netip.MustParseAddr("10.77.0.9") {
			t.Fatalf("proto %d: natOut gave destination %v", proto, netip.AddrFrom4([4]byte(out[16:20])))
		}
		in := withChecksums(proto, "10.77.0.9", "10.1.0.4")
		if !natIn(in, maps) || netip.AddrFrom4([4]byte(in[12:16])) != netip.MustParseAddr("172.31.2.9") {
			t.Fatalf("proto %d: natIn gave source %v", proto, netip.AddrFrom4([4]byte(in[12:16])))
		}
		for _, pkt := range [][]byte{out, in} {
			if c := checksum(0, pkt[:20]); c != 0 {
				t.Errorf("proto %d: the IPv4 header checksum is off", proto)
			}
			switch proto {
			case 6:
				if got, want := binary.BigEndian.Uint16(pkt[20+16:]), l4Checksum(pkt, 16); got != want {
					t.Errorf("TCP checksum %04x, want %04x", got, want)
				}
			case 17:
				if got, want := binary.BigEndian.Uint16(pkt[20+6:]), l4Checksum(pkt, 6); got != want {
					t.Errorf("UDP checksum %04x, want %04x", got, want)
				}
			}
		}
	}
	// EgressSnat: the near side's addresses as the far side sees them.
	egress := append(maps, NAT{Internal: netip.MustParsePrefix("10.1.0.0/24"), External: netip.MustParsePrefix("100.65.0.0/24"), Egress: true})
	for _, proto := range []byte{6, 17} {
		out := withChecksums(proto, "10.1.0.4", "172.31.2.9")
		if !natOut(out, egress) || netip.AddrFrom4([4]byte(out[12:16])) != netip.MustParseAddr("100.65.0.4") || netip.AddrFrom4([4]byte(out[16:20])) != netip.MustParseAddr("10.77.0.9") {
			t.Fatalf("proto %d: natOut with EgressSnat: % x", proto, out[12:20])
		}
		in := withChecksums(proto, "10.77.0.9", "100.65.0.4")
		if !natIn(in, egress) || netip.AddrFrom4([4]byte(in[12:16])) != netip.MustParseAddr("172.31.2.9") || netip.AddrFrom4([4]byte(in[16:20])) != netip.MustParseAddr("10.1.0.4") {
			t.Fatalf("proto %d: natIn with EgressSnat: % x", proto, in[12:20])
		}
		at := map[byte]int{6: 16, 17: 6}[proto]
		for _, pkt := range [][]byte{out, in} {
			if checksum(0, pkt[:20]) != 0 || binary.BigEndian.Uint16(pkt[20+at:]) != l4Checksum(pkt, at) {
				t.Errorf("proto %d: a checksum is off after both addresses moved", proto)
			}
		}
	}
	if other := withChecksums(17, "10.1.0.4", "192.168.9.9"); natOut(other, maps) {
		t.Error("a destination outside the external space was rewritten")
	}
	if natIn([]byte{0x60, 0, 0}, maps) {
		t.Error("a short or IPv6 packet was rewritten")
	}
}

// icmpError is an ICMP destination unreachable (fragmentation needed)
// from src to dst that quotes quoted, with correct checksums.
func icmpError(src, dst string, quoted []byte) []byte {
	outer := withChecksums(1, src, dst)[:20]
	icmp := append([]byte{3, 4, 0, 0, 0, 0, 0x05, 0xdc}, quoted...)
	binary.BigEndian.PutUint16(icmp[2:], checksum(0, icmp))
	pkt := append(outer, icmp...)
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[10], pkt[11] = 0, 0
	binary.BigEndian.PutUint16(pkt[10:], checksum(0, pkt[:20]))
	return pkt
}

// An ICMP error that crosses the NAT quotes the datagram as its receiver
// sent it (RFC 5508 §4.2), so that path MTU discovery and traceroute work
// through the translation; every checksum holds, the quoted ones too.
func TestNATTranslatesICMPErrors(t *testing.T) {
	maps := []NAT{
		{Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.31.2.0/24")},
		{Internal: netip.MustParsePrefix("10.1.0.0/24"), External: netip.MustParsePrefix("100.65.0.0/24"), Egress: true},
	}
	addr := func(b []byte, off int) string { return netip.AddrFrom4([4]byte(b[off : off+4])).String() }
	for _, c := range []struct {
		name                     string
		in                       bool
		src, dst, qSrc, qDst     string
		wSrc, wDst, wQSrc, wQDst string
	}{
		// A router at the site says the near host's packet was too big.
		{"from the site", true, "10.77.0.1", "100.65.0.4", "100.65.0.4", "10.77.0.9", "172.31.2.1", "10.1.0.4", "10.1.0.4", "172.31.2.9"},
		// The near host says the site's packet had no port.
		{"to the site", false, "10.1.0.4", "172.31.2.9", "172.31.2.9", "10.1.0.4", "100.65.0.4", "10.77.0.9", "10.77.0.9", "100.65.0.4"},
	} {
		pkt := icmpError(c.src, c.dst, withChecksums(17, c.qSrc, c.qDst))
		changed := natOut(pkt, maps)
		if c.in {
			changed = natIn(pkt, maps)
		}
		q := pkt[28:]
		if !changed || addr(pkt, 12) != c.wSrc || addr(pkt, 16) != c.wDst || addr(q, 12) != c.wQSrc || addr(q, 16) != c.wQDst {
			t.Fatalf("%s: %s > %s quoting %s > %s, want %s > %s quoting %s > %s", c.name,
				addr(pkt, 12), addr(pkt, 16), addr(q, 12), addr(q, 16), c.wSrc, c.wDst, c.wQSrc, c.wQDst)
		}
		if checksum(0, pkt[:20]) != 0 || checksum(0, pkt[20:]) != 0 || checksum(0, q[:20]) != 0 {
			t.Errorf("%s: the IPv4, ICMP or quoted IPv4 header checksum is off", c.name)
		}
		if got, want := binary.BigEndian.Uint16(q[20+6:]), l4Checksum(q, 6); got != want {
			t.Errorf("%s: quoted UDP checksum %04x, want %04x", c.name, got, want)
		}
	}
	// An echo request is not an error: what follows its header is data.
	echo := icmpError("10.1.0.4", "172.31.2.9", withChecksums(17, "172.31.2.9", "10.1.0.4"))
	echo[20] = 8
	natOut(echo, maps)
	if addr(echo[28:], 12) != "172.31.2.9" {
		t.Error("the data of an echo request was translated")
	}
}

func FuzzNATRewrite(f *testing.F) {
	f.Add(icmpError("10.77.0.1", "10.1.0.4", withChecksums(17, "10.1.0.4", "10.77.0.9")))
	f.Add(withChecksums(6, "10.77.0.9", "172.31.2.9"))
	f.Add([]byte{0x4f, 0, 0, 0})
	maps := []NAT{{Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.31.2.0/24")}}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		natIn(pkt, maps)
		natOut(pkt, maps)
	})
}
