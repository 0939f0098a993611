package radius

import (
	"bytes"
	"crypto/md5"
	"slices"
	"strings"
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

// FuzzCheck: an answer of any bytes to a request (an Access-Request, an
// Accounting-Request) is believed only when it checks out with the
// secret; no input panics.
func FuzzCheck(f *testing.F) {
	b, _ := Packet{Code: CodeAccessAccept, ID: 9}.Append(nil)
	f.Add(b)
	b, _ = Packet{Code: CodeAccountingResponse, ID: 9}.Append(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, code := range []byte{CodeAccessRequest, CodeAccountingRequest} {
			if _, err := check(b, Packet{Code: code, ID: 9}, []byte("secret"), false); err == nil {
				// Forging the Response Authenticator and the
				// Message-Authenticator means breaking MD5 and HMAC-MD5
				// with an unknown secret: the fuzzer does not.
				t.Fatalf("%x was believed as the answer to code %d", b, code)
			}
		}
	})
}

// FuzzEAPOutcome: a server's answer of any attributes (after its
// authenticators checked out) is read without a panic; an MSK comes only
// from an Access-Accept with both MPPE keys, and a session's limit
// (Session-Timeout) or what accounting is to say (Class,
// Acct-Interim-Interval) from an Access-Accept alone.
func FuzzEAPOutcome(f *testing.F) {
	f.Add(byte(CodeAccessChallenge), []byte{AttrEAPMessage, 6, 1, 2, 0, 4}, []byte{AttrState, 4, 9, 9})
	f.Add(byte(CodeAccessAccept), []byte{AttrVendorSpecific, 24, 0, 0, 1, 55, msMPPERecvKey, 18, 0x80, 1}, []byte{})
	f.Add(byte(CodeAccessAccept), []byte{AttrSessionTimeout, 6, 0, 0, 0, 12}, []byte{AttrServiceType, 6, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, code byte, a, b []byte) {
		p := Packet{Code: code}
		for _, raw := range [][]byte{a, b} {
			if len(raw) >= 2 {
				p.Attrs = append(p.Attrs, Attr{Type: raw[0], Value: raw[2:]})
			}
		}
		o, err := (&EAP{}).outcome(p, []byte("secret"))
		if err == nil && (o.MSK != nil || o.Limits != Limits{} || o.Class != nil || o.Interim != 0) && code != CodeAccessAccept {
			t.Fatalf("an MSK or a grant from code %d", code)
		}
	})
}

// FuzzMSCHAPv2Answer: a server's answer of any attributes to an
// MS-CHAP-V2 request is read without a panic; it is an acceptance only
// from an Access-Accept with MS-CHAP2-Success and both MPPE keys. The
// first seed is one (TestMSCHAPv2Answer).
func FuzzMSCHAPv2Answer(f *testing.F) {
	var reqAuth [16]byte
	accept := mschapAccept(reqAuth, []byte("secret"))
	raw := func(a Attr) []byte { return append([]byte{a.Type, byte(2 + len(a.Value))}, a.Value...) }
	f.Add(byte(CodeAccessAccept), raw(accept[0]), raw(accept[1]), raw(accept[2]))
	f.Add(byte(CodeAccessReject), raw(microsoft(msCHAPError, append([]byte{7}, "E=691 R=0"...))), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, code byte, a, b, c []byte) {
		p := Packet{Code: code, requestAuth: reqAuth}
		for _, raw := range [][]byte{a, b, c} {
			if len(raw) >= 2 {
				p.Attrs = append(p.Attrs, Attr{Type: raw[0], Value: raw[2:]})
			}
		}
		ans, err := mschapAnswer(p, []byte("secret"))
		if ans.Accept && (err != nil || code != CodeAccessAccept || ans.Recv == nil || ans.Send == nil || !strings.HasPrefix(ans.Success, "S=")) {
			t.Fatalf("accepted: code %d, %+v, %v", code, ans, err)
		}
	})
}

// mschapAccept is what an Access-Accept to an MS-CHAP-V2 request holds:
// MS-CHAP2-Success and the MPPE keys (receive key 0x11..., send key
// 0x22...), encrypted for the request authenticator reqAuth.
func mschapAccept(reqAuth [16]byte, secret []byte) []Attr {
	return []Attr{
		microsoft(msCHAP2Success, append([]byte{7}, "S=407A5589115FD0D6209F510FE9C04566932CDA56"...)),
		microsoft(msMPPERecvKey, encryptMPPE(bytes.Repeat([]byte{0x11}, 16), secret, reqAuth)),
		microsoft(msMPPESendKey, encryptMPPE(bytes.Repeat([]byte{0x22}, 16), secret, reqAuth)),
	}
}

// encryptMPPE is a server's side of decryptMPPE (RFC 2548 §2.4.2).
func encryptMPPE(key, secret []byte, reqAuth [16]byte) []byte {
	p := append([]byte{byte(len(key))}, key...)
	for len(p)%16 != 0 {
		p = append(p, 0)
	}
	salt := []byte{0x80, 0x01}
	out := slices.Clone(salt)
	prev := append(reqAuth[:], salt...)
	for i := 0; i < len(p); i += 16 {
		h := md5.Sum(append(slices.Clone(secret), prev...))
		for j := range 16 {
			p[i+j] ^= h[j]
		}
		out = append(out, p[i:i+16]...)
		prev = p[i : i+16]
	}
	return out
}

// TestMSCHAPv2Answer: an Access-Accept with MS-CHAP2-Success and both
// keys is an acceptance with the keys decrypted; without a key, or
// without the Success, it is an error; an Access-Reject carries the
// server's error message.
func TestMSCHAPv2Answer(t *testing.T) {
	var reqAuth [16]byte
	reqAuth[3] = 9
	secret := []byte("s3cr3t")
	attrs := mschapAccept(reqAuth, secret)
	a, err := mschapAnswer(Packet{Code: CodeAccessAccept, Attrs: attrs, requestAuth: reqAuth}, secret)
	if err != nil || !a.Accept || !bytes.Equal(a.Recv, bytes.Repeat([]byte{0x11}, 16)) || !bytes.Equal(a.Send, bytes.Repeat([]byte{0x22}, 16)) ||
		a.Success != "S=407A5589115FD0D6209F510FE9C04566932CDA56" {
		t.Fatalf("%+v, %v", a, err)
	}
	for name, attrs := range map[string][]Attr{"no send key": attrs[:2], "no success": attrs[1:]} {
		if a, err := mschapAnswer(Packet{Code: CodeAccessAccept, Attrs: attrs, requestAuth: reqAuth}, secret); err == nil || a.Accept {
			t.Errorf("%s: %+v", name, a)
		}
	}
	a, err = mschapAnswer(Packet{Code: CodeAccessReject, Attrs: []Attr{microsoft(msCHAPError, append([]byte{7}, "E=691 R=1"...))}}, secret)
	if err != nil || a.Accept || a.Error != "E=691 R=1" {
		t.Errorf("a rejection: %+v, %v", a, err)
	}
}
