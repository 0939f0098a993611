package radius

import (
	"bytes"
	"testing"
)

// FuzzParse: no input panics; what parses encodes back to its Length's
// bytes.
func FuzzParse(f *testing.F) {
	b, _ := Packet{Code: CodeAccessReject, ID: 1, Attrs: []Attr{{AttrReplyMessage, []byte("no")}}}.Append(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		got, err := p.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := int(b[2])<<8 | int(b[3]); !bytes.Equal(got, b[:n]) {
			t.Fatalf("%x came back as %x", b[:n], got)
		}
	})
}

// FuzzCheck: an answer of any bytes to a request is believed only when
// it checks out with the secret; no input panics.
func FuzzCheck(f *testing.F) {
	req := Packet{Code: CodeAccessRequest, ID: 9}
	b, _ := Packet{Code: CodeAccessAccept, ID: 9}.Append(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, ok := check(b, req, []byte("secret")); ok && a.Accept {
			// Forging the Response Authenticator and the
			// Message-Authenticator means breaking MD5 and HMAC-MD5 with
			// an unknown secret: the fuzzer does not.
			t.Fatalf("%x was believed", b)
		}
	})
}
