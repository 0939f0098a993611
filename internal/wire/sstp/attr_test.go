package sstp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"reflect"
	"testing"
)

// cmk derives the Compound MAC Key from the HLAK with the PRF+ of
// [MS-SSTP] §3.2.5.2.2 and §3.2.5.2.4: T(i) = HMAC(HLAK, T(i-1) | seed |
// LEN (16-bit little endian) | i).
func cmk(newHash func() hash.Hash, hlak []byte, n int) []byte {
	seed := []byte("SSTP inner method derived CMK")
	var out, prev []byte
	for i := byte(1); len(out) < n; i++ {
		m := hmac.New(newHash, hlak)
		m.Write(prev)
		m.Write(seed)
		m.Write(binary.LittleEndian.AppendUint16(nil, uint16(n)))
		m.Write([]byte{i})
		prev = m.Sum(nil)
		out = append(out, prev...)
	}
	return out[:n]
}

// [MS-SSTP] §4.7: with the example HLAKs, the HMAC over what ZeroMAC
// returns is the Compound MAC the example Call Connected messages carry
// (§3.2.5.2.1, §3.2.5.2.3).
func TestZeroMACSpecVectors(t *testing.T) {
	for _, tc := range []struct {
		name, pkt, hlak string
		newHash         func() hash.Hash
		n               int
	}{
		{"SHA256", specConnectedSHA256, specHLAKSHA256, sha256.New, 32},
		{"SHA1", specConnectedSHA1, specHLAKSHA1, sha1.New, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := unhex(t, tc.pkt)
			orig := bytes.Clone(pkt)
			z, err := ZeroMAC(pkt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pkt, orig) {
				t.Fatal("ZeroMAC changed its input")
			}
			if !bytes.Equal(z[:80], pkt[:80]) || !bytes.Equal(z[80:], make([]byte, 32)) {
				t.Fatalf("zeroed packet\n% x", z)
			}
			m := hmac.New(tc.newHash, cmk(tc.newHash, unhex(t, tc.hlak), tc.n))
			m.Write(z)
			cb, err := ParseCryptoBinding(pkt[12:])
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Sum(nil); !hmac.Equal(got, cb.CompoundMAC[:cb.HashLen()]) {
				t.Errorf("Compound MAC %x, the example says %x", got, cb.CompoundMAC[:cb.HashLen()])
			}
		})
	}
}

// With SHA1, the padding after the cert hash is zeroed too: §3.2.5.2.1
// names the Padding field as well as the Compound MAC.
func TestZeroMACPadding(t *testing.T) {
	pkt := unhex(t, specConnectedSHA1)
	for i := 68; i < 112; i++ {
		pkt[i] = 0xee
	}
	z, err := ZeroMAC(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(z[:68], pkt[:68]) || !bytes.Equal(z[68:], make([]byte, 44)) {
		t.Errorf("zeroed SHA1 packet\n% x", z)
	}
	// With SHA256 the whole 32-byte cert hash is kept.
	pkt = unhex(t, specConnectedSHA256)
	z, _ = ZeroMAC(pkt)
	if !bytes.Equal(z[:80], pkt[:80]) {
		t.Errorf("zeroed SHA256 packet\n% x", z)
	}
}

func TestZeroMACErrors(t *testing.T) {
	good := unhex(t, specConnectedSHA256)
	mod := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := []struct {
		name   string
		pkt    []byte
		attr   uint8
		status uint32
	}{
		{"short", good[:111], AttribNoError, StatusInvalidFrameReceived},
		{"long", append(bytes.Clone(good), 0), AttribNoError, StatusInvalidFrameReceived},
		{"version", mod(func(b []byte) []byte { b[0] = 0x20; return b }), AttribNoError, StatusInvalidFrameReceived},
		{"data packet", mod(func(b []byte) []byte { b[1] = 0; return b }), AttribNoError, StatusInvalidFrameReceived},
		{"length field", mod(func(b []byte) []byte { b[3] = 0x6f; return b }), AttribNoError, StatusInvalidFrameReceived},
		{"message type", mod(func(b []byte) []byte { b[5] = MsgCallConnectAck; return b }), AttribNoError, StatusInvalidFrameReceived},
		{"two attributes", mod(func(b []byte) []byte { b[7] = 2; return b }), AttribNoError, StatusAttribNotSupportedInMsg},
		{"status info", mod(func(b []byte) []byte { b[9] = AttribStatusInfo; return b }), AttribStatusInfo, StatusAttribNotSupportedInMsg},
		{"attribute length", mod(func(b []byte) []byte { b[11] = 0x60; return b }), AttribCryptoBinding, StatusInvalidAttribValueLength},
		{"hash protocol 3", mod(func(b []byte) []byte { b[15] = 3; return b }), AttribCryptoBinding, StatusValueNotSupported},
		{"hash protocol 0", mod(func(b []byte) []byte { b[15] = 0; return b }), AttribCryptoBinding, StatusValueNotSupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z, err := ZeroMAC(c.pkt)
			var e *Error
			if !errors.As(err, &e) || e.Status != c.status || e.AttribID != c.attr || z != nil {
				t.Errorf("%v, want attribute %d status %d", err, c.attr, c.status)
			}
		})
	}
	// The reserved bits are ignored.
	ok := mod(func(b []byte) []byte {
		b[1] |= 0xfe
		b[2] |= 0xf0
		b[8] = 0xff
		b[10] |= 0xf0
		b[12] = 0xff
		return b
	})
	if _, err := ZeroMAC(ok); err != nil {
		t.Errorf("reserved bits set: %v", err)
	}
}

func TestCryptoBindingRoundTrip(t *testing.T) {
	for _, h := range []uint8{HashSHA1, HashSHA256} {
		cb := CryptoBinding{HashProtocol: h}
		for i := range 32 {
			cb.Nonce[i] = byte(i)
			cb.CertHash[i] = byte(0x40 + i)
			cb.CompoundMAC[i] = byte(0x80 + i)
		}
		v := cb.Append(nil)
		if len(v) != 100 {
			t.Fatalf("hash %d: value of %d bytes", h, len(v))
		}
		got, err := ParseCryptoBinding(v)
		if err != nil {
			t.Fatal(err)
		}
		want := cb
		if h == HashSHA1 {
			// §2.2.7: the padding is sent as zero and ignored on receipt.
			clear(want.CertHash[20:])
			clear(want.CompoundMAC[20:])
			if !bytes.Equal(v[56:68], make([]byte, 12)) || !bytes.Equal(v[88:100], make([]byte, 12)) {
				t.Errorf("SHA1 padding not zero: % x", v)
			}
			v[60], v[99] = 1, 1
			if again, err := ParseCryptoBinding(v); err != nil || again != want {
				t.Errorf("padding not ignored: %+v %v", again, err)
			}
		}
		if got != want {
			t.Errorf("hash %d: got %+v\nwant %+v", h, got, want)
		}
	}
	if (CryptoBinding{HashProtocol: HashSHA1}).HashLen() != 20 || (CryptoBinding{HashProtocol: HashSHA256}).HashLen() != 32 {
		t.Error("HashLen")
	}
}

func TestCryptoBindingReqRoundTrip(t *testing.T) {
	for _, mask := range []uint8{HashSHA1, HashSHA256, HashSHA1 | HashSHA256, 0xff} {
		r := CryptoBindingReq{HashBitmask: mask, Nonce: [32]byte{1, 2, 3, 31: 0xff}}
		v := r.Append(nil)
		if len(v) != 36 || v[0] != 0 || v[3] != mask {
			t.Fatalf("% x", v)
		}
		got, err := ParseCryptoBindingReq(v)
		if err != nil || got != r {
			t.Errorf("bitmask %#x: %+v %v", mask, got, err)
		}
	}
}

func TestStatusInfoRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		in   StatusInfo
		want StatusInfo
	}{
		{"no error", StatusInfo{}, StatusInfo{}},
		{"empty value", StatusInfo{AttribID: 1, Status: StatusRequiredAttributeMissing, Value: []byte{}}, StatusInfo{AttribID: 1, Status: StatusRequiredAttributeMissing}},
		{"proposed value", StatusInfo{AttribID: 1, Status: StatusValueNotSupported, Value: []byte{0, 2}}, StatusInfo{AttribID: 1, Status: StatusValueNotSupported, Value: []byte{0, 2}}},
		{"value of 64", StatusInfo{AttribID: 3, Status: StatusInvalidAttribValueLength, Value: bytes.Repeat([]byte{7}, 64)}, StatusInfo{AttribID: 3, Status: StatusInvalidAttribValueLength, Value: bytes.Repeat([]byte{7}, 64)}},
		// §2.2.8: of a longer attribute only the first 64 bytes are sent back.
		{"value of 100", StatusInfo{AttribID: 3, Status: StatusInvalidAttribValueLength, Value: bytes.Repeat([]byte{7}, 100)}, StatusInfo{AttribID: 3, Status: StatusInvalidAttribValueLength, Value: bytes.Repeat([]byte{7}, 64)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := c.in.Append(nil)
			if len(v) != 8+len(c.want.Value) {
				t.Errorf("value of %d bytes", len(v))
			}
			got, err := ParseStatusInfo(v)
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("%+v %v, want %+v", got, err, c.want)
			}
		})
	}
	e := &Error{AttribID: 4, Status: StatusInvalidAttribValueLength, Reason: "x"}
	if !reflect.DeepEqual(e.StatusInfo(), StatusInfo{AttribID: 4, Status: StatusInvalidAttribValueLength}) {
		t.Errorf("%+v", e.StatusInfo())
	}
}

func TestAttributeErrors(t *testing.T) {
	req := CryptoBindingReq{HashBitmask: HashSHA256}.Append(nil)
	cb := CryptoBinding{HashProtocol: HashSHA256}.Append(nil)
	si := StatusInfo{Status: 1}.Append(nil)
	mod := func(b []byte, f func([]byte)) []byte { b = bytes.Clone(b); f(b); return b }
	cases := []struct {
		name   string
		parse  func() error
		attr   uint8
		status uint32
	}{
		{"protocol ID of 1 byte", func() error { _, err := EncapsulatedProtocol([]byte{1}); return err }, AttribEncapsulatedProtocolID, StatusInvalidAttribValueLength},
		{"protocol ID of 3 bytes", func() error { _, err := EncapsulatedProtocol([]byte{0, 1, 0}); return err }, AttribEncapsulatedProtocolID, StatusInvalidAttribValueLength},
		{"request of 35 bytes", func() error { _, err := ParseCryptoBindingReq(req[:35]); return err }, AttribCryptoBindingReq, StatusInvalidAttribValueLength},
		{"request of 37 bytes", func() error { _, err := ParseCryptoBindingReq(append(req, 0)); return err }, AttribCryptoBindingReq, StatusInvalidAttribValueLength},
		{"request selecting no hash", func() error {
			_, err := ParseCryptoBindingReq(mod(req, func(b []byte) { b[3] = 0x04 }))
			return err
		}, AttribCryptoBindingReq, StatusValueNotSupported},
		{"binding of 99 bytes", func() error { _, err := ParseCryptoBinding(cb[:99]); return err }, AttribCryptoBinding, StatusInvalidAttribValueLength},
		{"binding of 101 bytes", func() error { _, err := ParseCryptoBinding(append(cb, 0)); return err }, AttribCryptoBinding, StatusInvalidAttribValueLength},
		{"binding with hash 3", func() error {
			_, err := ParseCryptoBinding(mod(cb, func(b []byte) { b[3] = HashSHA1 | HashSHA256 }))
			return err
		}, AttribCryptoBinding, StatusValueNotSupported},
		{"status info of 7 bytes", func() error { _, err := ParseStatusInfo(si[:7]); return err }, AttribStatusInfo, StatusInvalidAttribValueLength},
		{"status info value of 65", func() error { _, err := ParseStatusInfo(append(si, make([]byte, 65)...)); return err }, AttribStatusInfo, StatusInvalidAttribValueLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e *Error
			if err := c.parse(); !errors.As(err, &e) || e.AttribID != c.attr || e.Status != c.status {
				t.Errorf("%v, want attribute %d status %d", err, c.attr, c.status)
			}
		})
	}
	if p, err := EncapsulatedProtocol([]byte{0, 2}); err != nil || p != 2 {
		t.Errorf("protocol 2: %d %v (the caller refuses it, not the parser)", p, err)
	}
}

// TestStatusInfoString: a Status Info says its status and attribute in
// §2.2.8's and §2.2.4's words, and numbers those it has no name for.
func TestStatusInfoString(t *testing.T) {
	for _, tc := range []struct {
		in   StatusInfo
		want string
	}{
		{StatusInfo{Status: StatusNegotiationTimeout}, "NEGOTIATION_TIMEOUT"},
		{StatusInfo{AttribID: AttribCryptoBinding, Status: StatusInvalidAttribValueLength}, "INVALID_ATTRIB_VALUE_LENGTH of CRYPTO_BINDING"},
		{StatusInfo{AttribID: 9, Status: 77}, "status 77 of attribute 9"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.in, got, tc.want)
		}
	}
}
