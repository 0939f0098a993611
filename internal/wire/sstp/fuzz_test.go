package sstp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzReadPacket feeds arbitrary bytes to ReadPacket and, for control
// packets, to ParseControl and the attribute parsers: no panic, errors of
// the documented kinds only, and what parses re-encodes to what parses the
// same.
func FuzzReadPacket(f *testing.F) {
	for _, p := range validPackets(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf [MaxPacket]byte
		control, body, err := ReadPacket(bytes.NewReader(data), &buf)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(body) > MaxData {
			t.Fatalf("body of %d bytes", len(body))
		}
		if !control {
			again := AppendData(nil, body)
			if len(again) != HeaderLen+len(body) || !bytes.Equal(again[:2], []byte{Version, 0}) || !bytes.Equal(again[HeaderLen:], data[HeaderLen:HeaderLen+len(body)]) {
				t.Fatalf("data packet re-encoded as % x", again)
			}
			return
		}
		checkControl(t, body)
		if _, err := ZeroMAC(data[:HeaderLen+len(body)]); err == nil {
			if len(body) != CallConnectedLen-HeaderLen {
				t.Fatalf("ZeroMAC accepted a packet of %d bytes", HeaderLen+len(body))
			}
		}
	})
}

// FuzzParseControl does the same for control message bodies alone, which
// reaches the attribute parsers more often.
func FuzzParseControl(f *testing.F) {
	for _, p := range validPackets(f) {
		if p[1]&controlBit != 0 {
			f.Add(p[HeaderLen:])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkControl(t, body)
	})
}

func checkControl(t *testing.T, body []byte) {
	c, err := ParseControl(body)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is not an *Error", err)
		}
		return
	}
	if len(c.Attrs) > MaxAttrs {
		t.Fatalf("%d attributes", len(c.Attrs))
	}
	if len(body) > MaxData {
		return // more than one packet can carry: AppendControl would panic
	}
	pkt := AppendControl(nil, c)
	if len(pkt) != HeaderLen+len(body) || c.Len() != len(pkt) {
		t.Fatalf("%d-byte body re-encoded in %d bytes (Len %d)", len(body), len(pkt), c.Len())
	}
	var buf [MaxPacket]byte
	control, body2, err := ReadPacket(bytes.NewReader(pkt), &buf)
	if err != nil || !control {
		t.Fatalf("re-encoded packet does not read: %v", err)
	}
	again, err := ParseControl(body2)
	if err != nil || !reflect.DeepEqual(norm(again), norm(c)) {
		t.Fatalf("%+v re-parsed as %+v, %v", c, again, err)
	}
	for _, a := range c.Attrs {
		checkAttr(t, a)
	}
}

// norm makes empty values nil so that DeepEqual compares contents.
func norm(c Control) Control {
	for i := range c.Attrs {
		if len(c.Attrs[i].Value) == 0 {
			c.Attrs[i].Value = nil
		}
	}
	return c
}

func checkAttr(t *testing.T, a Attr) {
	var err error
	switch a.ID {
	case AttribEncapsulatedProtocolID:
		var p uint16
		if p, err = EncapsulatedProtocol(a.Value); err == nil && (len(a.Value) != 2 || p != uint16(a.Value[0])<<8|uint16(a.Value[1])) {
			t.Fatalf("protocol %d from % x", p, a.Value)
		}
	case AttribCryptoBindingReq:
		var r CryptoBindingReq
		if r, err = ParseCryptoBindingReq(a.Value); err == nil {
			if again, err := ParseCryptoBindingReq(r.Append(nil)); err != nil || again != r {
				t.Fatalf("%+v re-parsed as %+v, %v", r, again, err)
			}
		}
	case AttribCryptoBinding:
		var cb CryptoBinding
		if cb, err = ParseCryptoBinding(a.Value); err == nil {
			v := cb.Append(nil)
			if again, err := ParseCryptoBinding(v); err != nil || again != cb {
				t.Fatalf("%+v re-parsed as %+v, %v", cb, again, err)
			}
			if !bytes.Equal(v[:4], []byte{0, 0, 0, cb.HashProtocol}) || !bytes.Equal(v[4:36], a.Value[4:36]) {
				t.Fatalf("re-encoded % x from % x", v, a.Value)
			}
		}
	case AttribStatusInfo:
		var s StatusInfo
		if s, err = ParseStatusInfo(a.Value); err == nil {
			v := s.Append(nil)
			if !bytes.Equal(v[4:], a.Value[4:]) {
				t.Fatalf("re-encoded % x from % x", v, a.Value)
			}
			if again, err := ParseStatusInfo(v); err != nil || !reflect.DeepEqual(again, s) {
				t.Fatalf("%+v re-parsed as %+v, %v", s, again, err)
			}
		}
	}
	var e *Error
	if err != nil && (!errors.As(err, &e) || e.AttribID != a.ID) {
		t.Fatalf("attribute %d: error %v does not name it", a.ID, err)
	}
}
