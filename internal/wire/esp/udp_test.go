package esp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// TestClassifyRFC3948Section2 checks the demultiplexing of port 4500
// payloads: non-ESP marker (§2.2), NAT-keepalive (§2.3), ESP (§2.1).
func TestClassifyRFC3948Section2(t *testing.T) {
	ike := AppendNonESPMarker(nil)
	ike = append(ike, make([]byte, 28)...)
	tests := []struct {
		name    string
		in      []byte
		want    Kind
		wantErr error
	}{
		{name: "2.1 esp", in: hexBytes("42f67e3f101010104e280000a2fca1a3"), want: KindESP},
		{name: "2.1 esp header only", in: hexBytes("0000010000000001"), want: KindESP},
		{name: "2.2 ike after marker", in: ike, want: KindIKE},
		{name: "2.2 marker and one byte", in: hexBytes("0000000001"), want: KindIKE},
		{name: "2.3 keepalive", in: []byte{Keepalive}, want: KindKeepalive},
		{name: "2.2 marker alone", in: hexBytes("00000000"), wantErr: ErrShort},
		{name: "one byte not 0xff", in: []byte{0}, wantErr: ErrKind},
		{name: "two bytes", in: []byte{0xff, 0xff}, wantErr: ErrShort},
		{name: "esp shorter than its header", in: hexBytes("42f67e3f1010"), wantErr: ErrShort},
		{name: "empty", in: nil, wantErr: ErrShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Classify(tt.in)
			if !errors.Is(err, tt.wantErr) || k != tt.want {
				t.Fatalf("Classify = %v, %v; want %v, %v", k, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindESP: "esp", KindIKE: "ike", KindKeepalive: "keepalive", 0: "invalid"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

// FuzzClassify checks that whatever Classify accepts is what it claims: an
// ESP packet whose header parses, or an IKE message that re-encodes with its
// marker.
func FuzzClassify(f *testing.F) {
	f.Add(hexBytes("42f67e3f101010104e280000a2fca1a3"))
	f.Add(append(AppendNonESPMarker(nil), make([]byte, 28)...))
	f.Add([]byte{Keepalive})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := Classify(b)
		if err != nil {
			return
		}
		switch k {
		case KindESP:
			if _, _, err := ParseHeader(b); err != nil {
				t.Fatalf("classified as ESP but header: %v", err)
			}
		case KindIKE:
			out := append(AppendNonESPMarker(nil), b[NonESPMarkerLen:]...)
			if !bytes.Equal(out, b) || len(b) <= NonESPMarkerLen {
				t.Fatalf("re-encoded %x, parsed from %x", out, b)
			}
		case KindKeepalive:
			if !bytes.Equal(b, []byte{Keepalive}) {
				t.Fatalf("keepalive %x", b)
			}
		default:
			t.Fatalf("kind %v without error", k)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	pkt := make([]byte, 1400)
	pkt[3] = 1
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := Classify(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func hexBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
