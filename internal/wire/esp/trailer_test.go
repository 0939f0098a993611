package esp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestTrailerRFC4303Section2_4 checks pad length, next header and the
// default padding check of RFC 4303 §2.4–2.6.
func TestTrailerRFC4303Section2_4(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Trailer
		wantN   int
		wantErr error
	}{
		{name: "2.4 no padding", in: "450000000004", want: Trailer{0, NextHeaderIPv4}, wantN: 2},
		{name: "2.4 two bytes", in: "6000010202" + "29", want: Trailer{2, NextHeaderIPv6}, wantN: 4},
		{name: "2.4 padding only", in: "010203040404", want: Trailer{4, 4}, wantN: 6},
		{name: "2.6 dummy packet", in: "00" + "3b", want: Trailer{0, NextHeaderNone}, wantN: 2},
		{name: "2.4 wrong padding byte", in: "aa01030204", wantErr: ErrPadding},
		{name: "2.4 padding starts at zero", in: "aa00010204", wantErr: ErrPadding},
		{name: "2.5 pad length beyond payload", in: "0102030404", wantErr: ErrPadLen},
		{name: "2.5 pad length 255 in tiny packet", in: "ff04", wantErr: ErrPadLen},
		{name: "one byte", in: "04", wantErr: ErrShort},
		{name: "empty", in: "", wantErr: ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tt.in)
			tr, n, err := ParseTrailer(in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseTrailer err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if tr != tt.want || n != tt.wantN || tr.Len() != n {
				t.Fatalf("ParseTrailer = %+v, %d; want %+v, %d", tr, n, tt.want, tt.wantN)
			}
			if out := tr.Append(nil); !bytes.Equal(out, in[len(in)-n:]) {
				t.Fatalf("Append = %x, want %x", out, in[len(in)-n:])
			}
		})
	}
}

// TestTrailerMaxPadding round-trips the longest padding, 255 bytes.
func TestTrailerMaxPadding(t *testing.T) {
	b := Trailer{PadLen: 255, NextHeader: NextHeaderIPv4}.Append([]byte{0x45})
	tr, n, err := ParseTrailer(b)
	if err != nil || n != 257 || tr.PadLen != 255 {
		t.Fatalf("ParseTrailer = %+v, %d, %v", tr, n, err)
	}
}

// TestTrailerTruncated cuts a valid payload at every length from the front
// (as a lying pad length would): it never panics and never misparses.
func TestTrailerTruncated(t *testing.T) {
	full := Trailer{PadLen: 6, NextHeader: 4}.Append([]byte{0x45, 0, 0, 1})
	for i := range len(full) + 1 {
		tr, n, err := ParseTrailer(full[i:])
		switch {
		case len(full)-i >= 8:
			if err != nil || tr.PadLen != 6 || n != 8 {
				t.Errorf("from %d: %+v, %d, %v", i, tr, n, err)
			}
		case err == nil:
			t.Errorf("from %d: parsed %+v from %x", i, tr, full[i:])
		}
	}
}

// TestPaddingAlignment checks RFC 4303 §2.4: payload, padding and the two
// trailer bytes end on the alignment, with the least padding that does so.
func TestPaddingAlignment(t *testing.T) {
	for _, align := range []int{4, 8, 16} {
		for n := range 100 {
			p := Padding(n, align)
			if (n+p+TrailerLen)%align != 0 || p < 0 || p >= align {
				t.Fatalf("Padding(%d, %d) = %d", n, align, p)
			}
		}
	}
}

func FuzzParseTrailer(f *testing.F) {
	f.Add(Trailer{PadLen: 2, NextHeader: 4}.Append([]byte{0x45, 0}))
	f.Add(Trailer{PadLen: 0, NextHeader: 59}.Append(nil))
	f.Add(Trailer{PadLen: 15, NextHeader: 41}.Append([]byte{0x60}))
	f.Add([]byte{0xff, 0x04})
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, n, err := ParseTrailer(b)
		if err != nil {
			return
		}
		if n != tr.Len() || n > len(b) {
			t.Fatalf("n = %d, Len = %d, input %d bytes", n, tr.Len(), len(b))
		}
		if out := tr.Append(nil); !bytes.Equal(out, b[len(b)-n:]) {
			t.Fatalf("re-encoded %x, parsed from %x", out, b[len(b)-n:])
		}
	})
}

func BenchmarkParseTrailer(b *testing.B) {
	pkt := Trailer{PadLen: 14, NextHeader: 4}.Append(make([]byte, 1400))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, err := ParseTrailer(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
