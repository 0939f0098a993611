package p2s

import (
	"bytes"
	"encoding/binary"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// reassemble checks that frags are pkt cut for mtu by RFC 791 §3.2: each
// at most mtu, its checksum holding, the fixed header's fields but
// length, flags, offset and checksum as pkt's, the first with pkt's
// options, the others with those of copied, each's data but the last's a
// multiple of 8 and following on from the one before, More Fragments on
// all but the last, which has pkt's own; and that their data is pkt's.
func reassemble(t *testing.T, pkt []byte, mtu int, copied []byte, frags [][]byte) {
	t.Helper()
	in := header.IPv4(pkt)
	if len(frags) < 2 {
		t.Fatalf("%d fragments of a packet of %d bytes for an MTU of %d", len(frags), len(pkt), mtu)
	}
	var data []byte
	offset := int(in.FragmentOffset())
	for i, f := range frags {
		h := header.IPv4(f)
		last := i == len(frags)-1
		switch {
		case len(f) > mtu || len(f) < header.IPv4MinimumSize || int(h.TotalLength()) != len(f):
			t.Fatalf("fragment %d: %d bytes, total length %d; want at most %d", i, len(f), h.TotalLength(), mtu)
		case !h.IsChecksumValid():
			t.Errorf("fragment %d: the header checksum does not hold", i)
		case h.ID() != in.ID() || h.TTL() != in.TTL() || h.Protocol() != in.Protocol() || h.SourceAddress() != in.SourceAddress() || h.DestinationAddress() != in.DestinationAddress():
			t.Errorf("fragment %d: % x; want the fixed header of % x", i, f[:20], pkt[:20])
		case int(h.FragmentOffset()) != offset:
			t.Errorf("fragment %d at offset %d, want %d", i, h.FragmentOffset(), offset)
		case h.More() != (!last || in.More()):
			t.Errorf("fragment %d of %d: More Fragments %v", i, len(frags), h.More())
		case !last && len(h.Payload())%8 != 0:
			t.Errorf("fragment %d carries %d octets, not a multiple of 8", i, len(h.Payload()))
		}
		wantOpts := copied
		if i == 0 {
			wantOpts = pkt[20:in.HeaderLength()]
		}
		if got := f[20:h.HeaderLength()]; !bytes.Equal(got, wantOpts) {
			t.Errorf("fragment %d has options % x, want % x", i, got, wantOpts)
		}
		data = append(data, h.Payload()...)
		offset += len(h.Payload())
	}
	if !bytes.Equal(data, in.Payload()) {
		t.Errorf("the fragments carry %d octets, not the packet's %d", len(data), len(in.Payload()))
	}
}

// ipv4 is an IPv4 UDP packet of n bytes with options opts (a multiple of
// 4 octets), flags and fragment offset as given, its data numbered.
func ipv4(n int, opts []byte, flags uint8, offset uint16) []byte {
	pkt := make([]byte, n)
	for i := range pkt {
		pkt[i] = byte(i)
	}
	h := header.IPv4(pkt)
	h.Encode(&header.IPv4Fields{TotalLength: uint16(n), ID: 0x4242, Flags: flags, FragmentOffset: offset, TTL: 63, Protocol: 17,
		SrcAddr: header.IPv4Any, DstAddr: header.IPv4Broadcast, Options: header.IPv4OptionsSerializer{}})
	copy(pkt[20:], opts)
	h.SetHeaderLength(uint8(20 + len(opts)))
	h.SetChecksum(0)
	h.SetChecksum(^h.CalculateChecksum())
	return pkt
}

// TestFragment4RFC791: a packet without Don't Fragment, longer than the
// MTU, is cut as RFC 791 §3.2 says; one with DF, or whose header leaves
// no room for 8 octets of data, is not.
func TestFragment4RFC791(t *testing.T) {
	routerAlert := []byte{0x94, 4, 0, 0}          // copied (RFC 2113)
	recordRoute := []byte{7, 7, 4, 0, 0, 0, 0, 0} // not copied, End of Option List after
	for _, tc := range []struct {
		name   string
		pkt    []byte
		mtu    int
		copied []byte
	}{
		{"1600 bytes for 1500", ipv4(1600, nil, 0, 0), 1500, nil},
		{"4000 bytes for 576", ipv4(4000, nil, 0, 0), 576, nil},
		{"options copied and not", ipv4(1600, append(append([]byte(nil), routerAlert...), recordRoute...), 0, 0), 1500, routerAlert},
		{"a fragment cut again", ipv4(1600, nil, header.IPv4FlagMoreFragments, 800), 1000, nil},
		{"the last fragment cut again", ipv4(1600, nil, 0, 800), 1000, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frags [][]byte
			if !fragment4(tc.pkt, tc.mtu, func(f []byte) { frags = append(frags, append([]byte(nil), f...)) }) {
				t.Fatal("not cut")
			}
			reassemble(t, tc.pkt, tc.mtu, tc.copied, frags)
		})
	}
	sent := func([]byte) { t.Error("a fragment sent") }
	df := ipv4(1600, nil, header.IPv4FlagDontFragment, 0)
	if fragment4(df, 1500, sent) {
		t.Error("a packet with Don't Fragment was cut")
	}
	if fragment4(ipv4(200, nil, 0, 0), 27, sent) {
		t.Error("a packet was cut for an MTU with room for 7 octets of data")
	}
	bad := ipv4(1600, []byte{0x94, 9, 0, 0}, 0, 0) // an option longer than the header
	if fragment4(bad, 1500, sent) {
		t.Error("a packet whose options do not parse was cut")
	}
	short := ipv4(1600, nil, 0, 0)
	binary.BigEndian.PutUint16(short[2:4], 1700)
	if fragment4(short, 1500, sent) {
		t.Error("a packet shorter than its total length was cut")
	}
}
