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
