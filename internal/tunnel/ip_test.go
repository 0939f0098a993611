package tunnel

import (
	"encoding/binary"
	"testing"

	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// TestParseIP checks the header fields the engine reads (RFC 791 §3.1,
// RFC 8200 §3) and refuses what is cut short or lies about its length.
func TestParseIP(t *testing.T) {
	v4 := packet("10.1.0.1", "10.2.0.1", 12)
	v6 := packet("2001:db8:1::1", "2001:db8:2::1", 12)
	options := append([]byte(nil), v4...)
	options[0] = 0x46 // a 24-byte header
	tests := []struct {
		name     string
		in       []byte
		ok       bool
		length   int
		next     uint8
		src, dst string
	}{
		{name: "ipv4", in: v4, ok: true, length: 40, next: espwire.NextHeaderIPv4, src: "10.1.0.1", dst: "10.2.0.1"},
		{name: "ipv4 with tfc padding", in: append(append([]byte(nil), v4...), 0, 0, 0, 0), ok: true, length: 40, next: espwire.NextHeaderIPv4, src: "10.1.0.1", dst: "10.2.0.1"},
		{name: "ipv4 header with options", in: options, ok: true, length: 40, next: espwire.NextHeaderIPv4, src: "10.1.0.1", dst: "10.2.0.1"},
		{name: "ipv6", in: v6, ok: true, length: 60, next: espwire.NextHeaderIPv6, src: "2001:db8:1::1", dst: "2001:db8:2::1"},
		{name: "ipv4 total length past the end", in: v4[:39]},
		{name: "ipv4 header length under 20", in: append([]byte{0x44}, v4[1:]...)},
		{name: "ipv4 total length under header", in: func() []byte { p := append([]byte(nil), v4...); binary.BigEndian.PutUint16(p[2:], 19); return p }()},
		{name: "ipv6 payload length past the end", in: v6[:59]},
		{name: "short ipv4", in: v4[:19]},
		{name: "short ipv6", in: v6[:39]},
		{name: "version 5", in: append([]byte{0x55}, v4[1:]...)},
		{name: "empty", in: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := parseIP(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if h.length != tt.length || h.next != tt.next || h.src.String() != tt.src || h.dst.String() != tt.dst {
				t.Fatalf("parsed %+v", h)
			}
		})
	}
}

// FuzzParseIP checks that whatever parseIP accepts lies within its input
// and agrees with the version nibble.
func FuzzParseIP(f *testing.F) {
	f.Add(packet("10.1.0.1", "10.2.0.1", 12))
	f.Add(packet("2001:db8:1::1", "2001:db8:2::1", 0))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseIP(b)
		if !ok {
			return
		}
		if h.length > len(b) || h.length < 20 {
			t.Fatalf("length %d of %d bytes", h.length, len(b))
		}
		if v := b[0] >> 4; (v == 4) != (h.next == espwire.NextHeaderIPv4) || (v == 4) != h.src.Is4() || h.src.Is4() != h.dst.Is4() {
			t.Fatalf("version %d parsed as %+v", v, h)
		}
	})
}

func BenchmarkParseIP(b *testing.B) {
	p := packet("10.1.0.1", "10.2.0.1", 1372)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, ok := parseIP(p); !ok {
			b.Fatal("not parsed")
		}
	}
}
