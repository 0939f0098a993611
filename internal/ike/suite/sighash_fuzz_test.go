package suite

import (
	"bytes"
	"testing"
)

// FuzzParseSignatureHashes reads the data of a peer's
// SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4): an odd length is
// refused, at most 64 identifiers are kept whatever the length, and what
// is kept encodes to the data's first octets.
func FuzzParseSignatureHashes(f *testing.F) {
	f.Add(AppendSignatureHashes(nil, SignatureHashes()))
	f.Add(AppendSignatureHashes(nil, []SignatureHash{1, 2, 3, 4, 5, 0xffff}))
	f.Add([]byte{0, 2, 0})
	f.Add(make([]byte, 2*200))
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := ParseSignatureHashes(data)
		if len(data)%2 != 0 {
			if err == nil {
				t.Fatalf("%d octets parsed", len(data))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) > maxSignatureHashes {
			t.Fatalf("%d identifiers kept", len(hs))
		}
		if b := AppendSignatureHashes(nil, hs); !bytes.Equal(b, data[:len(b)]) || len(hs) != min(len(data)/2, maxSignatureHashes) {
			t.Fatalf("% x parsed as %v, which encodes to % x", data, hs, b)
		}
	})
}
