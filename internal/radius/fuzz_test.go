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
		if p, ok := check(b, req, []byte("secret"), false); ok && p.Code == CodeAccessAccept {
			// Forging the Response Authenticator and the
			// Message-Authenticator means breaking MD5 and HMAC-MD5 with
			// an unknown secret: the fuzzer does not.
			t.Fatalf("%x was believed", b)
		}
	})
}

// FuzzEAPOutcome: a server's answer of any attributes (after its
// authenticators checked out) is read without a panic; an MSK comes only
// from an Access-Accept with both MPPE keys.
func FuzzEAPOutcome(f *testing.F) {
	f.Add(byte(CodeAccessChallenge), []byte{AttrEAPMessage, 6, 1, 2, 0, 4}, []byte{AttrState, 4, 9, 9})
	f.Add(byte(CodeAccessAccept), []byte{AttrVendorSpecific, 24, 0, 0, 1, 55, msMPPERecvKey, 18, 0x80, 1}, []byte{})
	f.Fuzz(func(t *testing.T, code byte, a, b []byte) {
		p := Packet{Code: code}
		for _, raw := range [][]byte{a, b} {
			if len(raw) >= 2 {
				p.Attrs = append(p.Attrs, Attr{Type: raw[0], Value: raw[2:]})
			}
		}
		o, err := (&EAP{}).outcome(p, []byte("secret"))
		if err == nil && o.MSK != nil && code != CodeAccessAccept {
			t.Fatalf("an MSK from code %d", code)
		}
	})
}

// FuzzMSCHAPv2Answer: a server's answer of any attributes to an
// MS-CHAP-V2 request is read without a panic; it is an acceptance only
// from an Access-Accept with MS-CHAP2-Success and both MPPE keys.
func FuzzMSCHAPv2Answer(f *testing.F) {
	success := append([]byte{AttrVendorSpecific, 50, 0, 0, 1, 55, msCHAP2Success, 44, 7}, "S=407A5589115FD0D6209F510FE9C04566932CDA56"...)
	f.Add(byte(CodeAccessAccept), success, []byte{AttrVendorSpecific, 24, 0, 0, 1, 55, msMPPERecvKey, 18, 0x80, 1})
	f.Add(byte(CodeAccessReject), append([]byte{AttrVendorSpecific, 19, 0, 0, 1, 55, msCHAPError, 13, 7}, "E=691 R=0"...), []byte{})
	f.Fuzz(func(t *testing.T, code byte, a, b []byte) {
		p := Packet{Code: code}
		for _, raw := range [][]byte{a, b} {
			if len(raw) >= 2 {
				p.Attrs = append(p.Attrs, Attr{Type: raw[0], Value: raw[2:]})
			}
		}
		ans, err := mschapAnswer(p, []byte("secret"))
		if ans.Accept && (err != nil || code != CodeAccessAccept || ans.Recv == nil || ans.Send == nil) {
			t.Fatalf("accepted: code %d, %+v, %v", code, ans, err)
		}
	})
}
