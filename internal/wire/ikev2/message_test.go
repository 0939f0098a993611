package ikev2

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// everyPayload returns a message holding one payload of each type, to
// exercise every decoder at once. No real exchange looks like it.
func everyPayload() Message {
	return Message{
		Header: Header{SPIi: 0x1111, SPIr: 0x2222, MajorVersion: 2, Exchange: IKEAuth, Flags: FlagInitiator, MessageID: 1},
		Payloads: []Payload{
			&SA{Proposals: []Proposal{{Number: 1, Protocol: ProtocolESP, SPI: h("c0ffee01"), Transforms: []Transform{
				{Type: TransformENCR, ID: uint16(EncrAESCBC), Attributes: []Attribute{{Type: AttributeKeyLength, Value: 256}}},
				{Type: TransformINTEG, ID: uint16(IntegHMACSHA256_128)},
				{Type: TransformESN, ID: uint16(NoESN)},
			}}}},
			&KE{Group: DHECP256, Data: h("0102030405060708")},
			&ID{IDType: IDFQDN, Data: []byte("gw-a.example")},
			&ID{Responder: true, IDType: IDIPv4Addr, Data: h("0a000002")},
			&Cert{Encoding: CertX509Signature, Data: h("308201")},
			&CertReq{Encoding: CertX509Signature, Data: h("0011223344556677889900112233445566778899")},
			&Auth{Method: AuthSharedKeyMIC, Data: h("aabbccdd")},
			&Nonce{Data: h("000102030405060708090a0b0c0d0e0f")},
			&Notify{Protocol: ProtocolESP, SPI: h("c0ffee01"), NotifyType: RekeySA},
			&Delete{Protocol: ProtocolESP, SPISize: 4, SPIs: [][]byte{h("c0ffee02")}},
			&VendorID{Data: []byte("vnetgw")},
			&TrafficSelectors{Selectors: []TrafficSelector{{Type: TSIPv4AddrRange, EndPort: 65535,
				StartAddr: netip.MustParseAddr("10.1.0.0"), EndAddr: netip.MustParseAddr("10.1.255.255")}}},
			&TrafficSelectors{Responder: true, Selectors: []TrafficSelector{{Type: TSIPv6AddrRange, EndPort: 65535,
				StartAddr: netip.MustParseAddr("2001:db8::"), EndAddr: netip.MustParseAddr("2001:db8::ffff")}}},
			&CP{CFGType: CFGRequest, Attributes: []CPAttribute{{Type: InternalIP4Address}, {Type: InternalIP4DNS}}},
			&EAP{Data: h("0101000501")},
			&Unknown{PayloadType: 49, Body: h("0102")},
			&Encrypted{NextPayload: PayloadNone, Body: h("000102030405060708090a0b0c0d0e0f")},
		},
	}
}

// TestMessage covers the message layout of RFC 7296 section 3: header,
// chained payloads, Next Payload and Length filled in when encoding.
func TestMessage(t *testing.T) {
	m := everyPayload()
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != m.Len() {
		t.Errorf("Append wrote %d octets, Len() = %d", len(b), m.Len())
	}
	got, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	want := m
	want.Header.NextPayload, want.Header.Length = PayloadSA, uint32(len(b))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseMessage = %+v\nwant %+v", got, want)
	}
	again, err := got.Append(nil)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("re-encoded %x, %v\nwant %x", again, err, b)
	}
	empty := Message{Header: Header{MajorVersion: 2, Exchange: Informational}}
	if b, err := empty.Append(nil); err != nil || len(b) != HeaderLen || b[16] != 0 {
		t.Errorf("empty message = %x, %v", b, err)
	}
}

func TestParseMessageErrors(t *testing.T) {
	valid, err := everyPayload().Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("3.1 octets beyond the header length", func(t *testing.T) {
		if _, err := ParseMessage(append(valid[:len(valid):len(valid)], 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseMessage = %v, want ErrMalformed", err)
		}
	})
	t.Run("2.5 unsupported critical payload returns the header", func(t *testing.T) {
		m := Message{
			Header:   Header{SPIi: 9, MajorVersion: 2, Exchange: IKESAInit, Flags: FlagInitiator},
			Payloads: []Payload{&Unknown{Generic: Generic{Critical: true}, PayloadType: 99}},
		}
		b, err := m.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseMessage(b)
		var ce *UnsupportedCriticalPayloadError
		if !errors.As(err, &ce) || ce.Type != 99 {
			t.Fatalf("ParseMessage error %v, want *UnsupportedCriticalPayloadError", err)
		}
		if got.Header.SPIi != 9 || got.Header.Exchange != IKESAInit {
			t.Errorf("header %+v, want the parsed header", got.Header)
		}
	})
	t.Run("encoding an invalid payload leaves b unchanged", func(t *testing.T) {
		bad := Message{Header: Header{MajorVersion: 2}, Payloads: []Payload{&Nonce{}}}
		if b, err := bad.Append([]byte{7}); err == nil || !bytes.Equal(b, []byte{7}) {
			t.Errorf("Append = %x, %v", b, err)
		}
		bad = Message{Header: Header{MajorVersion: 17}}
		if b, err := bad.Append([]byte{7}); err == nil || !bytes.Equal(b, []byte{7}) {
			t.Errorf("Append = %x, %v", b, err)
		}
	})
}

// validMessages returns every valid message the tests know: the strongSwan
// captures and a message holding each payload type.
func validMessages(t testing.TB) map[string][]byte {
	t.Helper()
	msgs := map[string][]byte{}
	for _, name := range strongSwanMessages {
		msgs[name] = fixture(t, name)
	}
	b, err := everyPayload().Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs["every payload"] = b
	return msgs
}

// TestTruncatedMessages cuts every valid message at every length, both as
// is and with the header's Length patched to match, and expects an error,
// never a panic. The patched form reaches the payload decoders.
func TestTruncatedMessages(t *testing.T) {
	for name, msg := range validMessages(t) {
		t.Run(name, func(t *testing.T) {
			for n := range len(msg) {
				cut := append([]byte(nil), msg[:n]...)
				if _, err := ParseMessage(cut); err == nil {
					t.Fatalf("ParseMessage of the first %d of %d octets succeeded", n, len(msg))
				}
				if n < HeaderLen {
					continue
				}
				cut[24], cut[25], cut[26], cut[27] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
				if _, err := ParseMessage(cut); err == nil {
					t.Fatalf("ParseMessage of the first %d of %d octets, length patched, succeeded", n, len(msg))
				}
			}
		})
	}
}

// TestTruncatedInnerPayloads cuts the decrypted inner chains of the
// strongSwan captures at every length.
func TestTruncatedInnerPayloads(t *testing.T) {
	for _, tc := range strongSwanInner {
		inner := fixture(t, tc.name)
		for n := range len(inner) {
			if _, err := ParsePayloads(tc.first, inner[:n:n]); err == nil {
				t.Fatalf("%s: ParsePayloads of the first %d of %d octets succeeded", tc.name, n, len(inner))
			}
		}
	}
}

// TestAppendEncryptedHeader covers the one-pass construction of an SK
// message (RFC 7296 section 3.14; associated data from RFC 5282 section
// 5.1).
func TestAppendEncryptedHeader(t *testing.T) {
	hdr := Header{SPIi: 1, SPIr: 2, MajorVersion: 2, Exchange: IKEAuth, Flags: FlagInitiator, MessageID: 1, Length: 999}
	body := h("00112233445566778899")
	aad, err := AppendEncryptedHeader(nil, hdr, PayloadIDi, len(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(aad) != HeaderLen+GenericHeaderLen {
		t.Fatalf("associated data of %d octets, want %d", len(aad), HeaderLen+GenericHeaderLen)
	}
	msg := append(aad, body...)
	m, err := ParseMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	sk := m.Payloads[0].(*Encrypted)
	if m.Header.NextPayload != PayloadSK || sk.NextPayload != PayloadIDi || !bytes.Equal(sk.Body, body) {
		t.Errorf("parsed %+v %+v", m.Header, sk)
	}
	if got := msg[:len(msg)-len(sk.Body)]; !bytes.Equal(got, aad) {
		t.Errorf("authenticated prefix %x, want %x", got, aad)
	}
	for _, n := range []int{-1, 0xfffc} {
		if b, err := AppendEncryptedHeader([]byte{5}, hdr, PayloadIDi, n); err == nil || !bytes.Equal(b, []byte{5}) {
			t.Errorf("body length %d: %x, %v; want an error", n, b, err)
		}
	}
	if _, err := AppendEncryptedHeader(nil, Header{MajorVersion: 16}, PayloadIDi, 0); err == nil {
		t.Error("bad header accepted")
	}
}

// TestAppendFragmentHeader covers the one-pass construction of an SKF
// message (RFC 7383 section 2.5).
func TestAppendFragmentHeader(t *testing.T) {
	hdr := Header{SPIi: 1, SPIr: 2, MajorVersion: 2, Exchange: IKEAuth, Flags: FlagInitiator, MessageID: 1}
	for _, tc := range []struct {
		number, total uint16
		wantNext      PayloadType
	}{{1, 2, PayloadIDi}, {2, 2, PayloadNone}} {
		body := h("aabbccdd")
		aad, err := AppendFragmentHeader(nil, hdr, PayloadIDi, tc.number, tc.total, len(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(aad) != HeaderLen+8 {
			t.Fatalf("associated data of %d octets, want %d", len(aad), HeaderLen+8)
		}
		m, err := ParseMessage(append(aad, body...))
		if err != nil {
			t.Fatal(err)
		}
		f := m.Payloads[0].(*EncryptedFragment)
		if f.NextPayload != tc.wantNext || f.Number != tc.number || f.Total != tc.total || !bytes.Equal(f.Body, body) {
			t.Errorf("fragment %d: parsed %+v", tc.number, f)
		}
	}
	for _, tc := range []struct {
		number, total uint16
		n             int
		hdr           Header
	}{{0, 1, 0, hdr}, {2, 1, 0, hdr}, {1, 1, -1, hdr}, {1, 1, 0xfff8, hdr}, {1, 1, 0, Header{MajorVersion: 16}}} {
		if b, err := AppendFragmentHeader([]byte{5}, tc.hdr, PayloadIDi, tc.number, tc.total, tc.n); err == nil || !bytes.Equal(b, []byte{5}) {
			t.Errorf("fragment %d of %d, body %d: %x, %v; want an error", tc.number, tc.total, tc.n, b, err)
		}
	}
}
