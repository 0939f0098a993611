package esp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestHeaderRFC4303Section2 checks the header layout of RFC 4303 §2.1–2.2:
// SPI then sequence number, both big-endian, SPI zero refused both ways.
func TestHeaderRFC4303Section2(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Header
		wantErr error
	}{
		{name: "ordinary", in: "0000a5f80000000a", want: Header{SPI: 0xa5f8, Seq: 10}},
		{name: "all ones", in: "ffffffffffffffff", want: Header{SPI: 0xffffffff, Seq: 0xffffffff}},
		{name: "seq zero is legal on the wire with ESN", in: "0000010000000000", want: Header{SPI: 0x100}},
		{name: "trailing payload is not consumed", in: "42f67e3f101010104e280000", want: Header{SPI: 0x42f67e3f, Seq: 0x10101010}},
		{name: "2.1 spi zero", in: "0000000000000001", wantErr: ErrSPIZero},
		{name: "short", in: "42f67e3f101010", wantErr: ErrShort},
		{name: "empty", in: "", wantErr: ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tt.in)
			h, n, err := ParseHeader(in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseHeader err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if h != tt.want || n != HeaderLen || h.Len() != HeaderLen {
				t.Fatalf("ParseHeader = %+v, %d; want %+v, %d", h, n, tt.want, HeaderLen)
			}
			out, err := h.Append(nil)
			if err != nil || !bytes.Equal(out, in[:HeaderLen]) {
				t.Fatalf("Append = %x, %v; want %x", out, err, in[:HeaderLen])
			}
		})
	}
}

func TestHeaderAppendSPIZero(t *testing.T) {
	b, err := Header{Seq: 1}.Append([]byte{0xaa})
	if !errors.Is(err, ErrSPIZero) || !bytes.Equal(b, []byte{0xaa}) {
		t.Fatalf("Append = %x, %v; want input unchanged and ErrSPIZero", b, err)
	}
}

// TestHeaderTruncated parses every prefix of a valid header: only the whole
// header parses, and nothing panics.
func TestHeaderTruncated(t *testing.T) {
	full, _ := Header{SPI: 0x01020304, Seq: 5}.Append(nil)
	for i := range len(full) {
		if _, _, err := ParseHeader(full[:i]); !errors.Is(err, ErrShort) {
			t.Errorf("ParseHeader(%d bytes) err = %v, want ErrShort", i, err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"0000a5f80000000a", "42f67e3f101010104e280000a2fca1a3", "0000000000000001", "01"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		if err != nil {
			return
		}
		out, err := h.Append(nil)
		if err != nil {
			t.Fatalf("Append of parsed header: %v", err)
		}
		if n != h.Len() || !bytes.Equal(out, b[:n]) {
			t.Fatalf("re-encoded %x, parsed from %x", out, b[:n])
		}
	})
}

func BenchmarkParseHeader(b *testing.B) {
	pkt, _ := hex.DecodeString("42f67e3f101010104e280000a2fca1a3")
	b.ReportAllocs()
	b.SetBytes(HeaderLen)
	for b.Loop() {
		if _, _, err := ParseHeader(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
