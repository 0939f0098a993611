package ppp

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzFrame feeds arbitrary bytes to ParseFrame and the parsers of what
// frames carry: no panic, and what parses re-encodes to what parses the
// same.
func FuzzFrame(f *testing.F) {
	for _, fr := range validFrames(f) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		proto, info, err := ParseFrame(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again := AppendFrame(nil, proto, info)
		if !bytes.HasSuffix(data, info) || len(again) < len(data) {
			t.Fatalf("% x parsed as %#04x % x", data, proto, info)
		}
		p2, i2, err := ParseFrame(again)
		if err != nil || p2 != proto || !bytes.Equal(i2, info) {
			t.Fatalf("%#04x % x re-parsed as %#04x % x, %v", proto, info, p2, i2, err)
		}
		switch proto {
		case ProtoLCP, ProtoIPCP, ProtoCCP, ProtoIPv6CP:
			checkPacket(t, info)
		case ProtoEAP:
			checkEAP(t, info)
		case ProtoCHAP:
			checkCHAP(t, info)
		}
	})
}

// FuzzPacket checks ParsePacket and ParseOptions on control packets alone.
func FuzzPacket(f *testing.F) {
	for _, fr := range validFrames(f) {
		if proto, info, err := ParseFrame(fr); err == nil && (proto == ProtoLCP || proto == ProtoIPCP) {
			f.Add(info)
		}
	}
	f.Add(Packet{Code: ProtoRej, ID: 1, Data: []byte{0x80, 0x57, 1, 1, 0, 4}}.Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPacket(t, data)
	})
}

// FuzzEAP checks ParseEAP and ParseTLSData on EAP packets alone.
func FuzzEAP(f *testing.F) {
	for _, fr := range validFrames(f) {
		if proto, info, err := ParseFrame(fr); err == nil && proto == ProtoEAP {
			f.Add(info)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkEAP(t, data)
	})
}

// FuzzCHAP checks ParsePacket, ParseCHAPValue and
// ParseMSCHAPv2Response on CHAP packets alone.
func FuzzCHAP(f *testing.F) {
	resp := MSCHAPv2Response{PeerChallenge: [16]byte{1, 2}, NTResponse: [24]byte{3, 4}}.Append(nil)
	f.Add(Packet{Code: CHAPChallenge, ID: 1, Data: CHAPValue{Value: make([]byte, 16), Name: []byte("hub-gw")}.Append(nil)}.Append(nil))
	f.Add(Packet{Code: CHAPResponse, ID: 1, Data: CHAPValue{Value: resp, Name: []byte("alice")}.Append(nil)}.Append(nil))
	f.Add(Packet{Code: CHAPSuccess, ID: 1, Data: []byte("S=407A5589115FD0D6209F510FE9C04566932CDA56 M=hello")}.Append(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCHAP(t, data)
	})
}

func checkCHAP(t *testing.T, b []byte) {
	p, err := ParsePacket(b)
	if err != nil || (p.Code != CHAPChallenge && p.Code != CHAPResponse) {
		return
	}
	v, err := ParseCHAPValue(p.Data)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	if again := v.Append(nil); !bytes.Equal(again, p.Data) {
		t.Fatalf("CHAP value % x re-encoded as % x", p.Data, again)
	}
	r, err := ParseMSCHAPv2Response(v.Value)
	if (err == nil) != (len(v.Value) == MSCHAPv2ResponseLen) {
		t.Fatalf("MS-CHAP-V2 response of %d octets: %v", len(v.Value), err)
	}
	if err == nil {
		again := r.Append(nil)
		if !bytes.Equal(again[:16], v.Value[:16]) || !bytes.Equal(again[24:], v.Value[24:]) {
			t.Fatalf("MS-CHAP-V2 response % x re-encoded as % x", v.Value, again)
		}
	}
}

func checkPacket(t *testing.T, b []byte) {
	p, err := ParsePacket(b)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	// What re-encodes is b up to its Length field, the padding left out.
	again := p.Append(nil)
	if p.Len() != len(again) || !bytes.Equal(again, b[:len(again)]) {
		t.Fatalf("% x re-encoded as % x", b, again)
	}
	// Only Configure packets carry options, but any Data must parse or fail
	// cleanly.
	opts, err := ParseOptions(p.Data)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	if len(opts) > MaxOptions {
		t.Fatalf("%d options", len(opts))
	}
	if again := AppendOptions(nil, opts); !bytes.Equal(again, p.Data) {
		t.Fatalf("options % x re-encoded as % x", p.Data, again)
	}
	for _, o := range opts {
		// The typed readers accept exactly the lengths they say.
		if _, err := o.Uint16(); (err == nil) != (len(o.Value) == 2) {
			t.Fatalf("Uint16 of % x: %v", o.Value, err)
		}
		if _, err := o.Uint32(); (err == nil) != (len(o.Value) == 4) {
			t.Fatalf("Uint32 of % x: %v", o.Value, err)
		}
		if a, err := o.Addr(); (err == nil) != (len(o.Value) == 4) || (err == nil && !bytes.Equal(a.AsSlice(), o.Value)) {
			t.Fatalf("Addr of % x: %v %v", o.Value, a, err)
		}
	}
}

func checkEAP(t *testing.T, b []byte) {
	e, err := ParseEAP(b)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	again := e.Append(nil)
	if e.Len() != len(again) || !bytes.Equal(again, b[:len(again)]) {
		t.Fatalf("% x re-encoded as % x", b, again)
	}
	if e.Type != TypeTLS || (e.Code != EAPRequest && e.Code != EAPResponse) {
		return
	}
	d, err := ParseTLSData(e.Data)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	if d.Flags&FlagLength != 0 && uint64(len(d.Data)) > uint64(d.MessageLength) {
		t.Fatalf("fragment of %d in a message of %d", len(d.Data), d.MessageLength)
	}
	if again := d.Append(nil); !bytes.Equal(again, e.Data) {
		t.Fatalf("EAP-TLS % x re-encoded as % x", e.Data, again)
	}
}
