package ikev1

import (
	"bytes"
	"errors"
	"math"
	"net/netip"
	"reflect"
	"testing"
)

func sample() []byte {
	sa := SA{DOI: DOIIPsec, Situation: SitIdentityOnly, Proposals: []Proposal{{Number: 1, Protocol: ProtocolISAKMP, Transforms: []Transform{
		{Number: 1, ID: TransformKeyIKE, Attrs: []Attr{{AttrEncryption, EncrAESCBC}, {AttrKeyLength, 256}, {AttrHash, Hash256}, {AttrAuthMethod, AuthPSK}, {AttrGroup, 14}, {AttrLifeType, LifeSeconds}, {AttrLifeValue, 28800}}},
		{Number: 2, ID: TransformKeyIKE, Attrs: []Attr{{AttrEncryption, EncrAESCBC}, {AttrKeyLength, 128}, {AttrHash, Hash1}, {AttrAuthMethod, AuthPSK}, {AttrGroup, 14}, {AttrLifeValue, 86400}}},
	}}}}
	body, first := AppendPayloads(nil, []Payload{{PayloadSA, sa.Append(nil)}, {PayloadVendorID, []byte("0123456789abcdef")}})
	h := Header{ICookie: 0x1122334455667788, Next: first, Exchange: ExchangeMain, Length: uint32(HeaderLen + len(body))}
	return append(h.Append(nil), body...)
}

func TestMessageRoundTrip(t *testing.T) {
	msg := sample()
	h, err := ParseHeader(msg)
	if err != nil || h.ICookie != 0x1122334455667788 || h.Exchange != ExchangeMain || h.Next != PayloadSA {
		t.Fatalf("%+v %v", h, err)
	}
	ps, err := ParsePayloads(h.Next, msg[HeaderLen:])
	if err != nil || len(ps) != 2 || ps[1].Type != PayloadVendorID {
		t.Fatalf("%+v %v", ps, err)
	}
	sa, err := ParseSA(ps[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.Proposals) != 1 || len(sa.Proposals[0].Transforms) != 2 {
		t.Fatalf("%+v", sa)
	}
	if v, ok := sa.Proposals[0].Transforms[1].Attr(AttrLifeValue); !ok || v != 86400 {
		t.Errorf("a four-byte attribute: %d %v", v, ok)
	}
	if !bytes.Equal(sa.Append(nil), ps[0].Body) {
		t.Error("the SA re-encodes differently")
	}
}

// TestVariableAttributes: a variable attribute may be longer than four
// bytes (RFC 2408 §3.3; an SA Life Duration of eight, RFC 2407 §4.5): the
// SA payload parses, with the value's number, one beyond 64 bits as the
// largest, and re-encodes to the same values.
func TestVariableAttributes(t *testing.T) {
	tlv := func(typ byte, v ...byte) []byte { return append([]byte{0, typ, 0, byte(len(v))}, v...) }
	for _, c := range []struct {
		name  string
		attr  []byte
		value uint64
	}{
		{"8 bytes", tlv(AttrSALifeValue, 0, 0, 0, 0, 0, 0, 0x70, 0x80), 28800},
		{"8 bytes, beyond 32 bits", tlv(AttrSALifeValue, 0, 0, 1, 0, 0, 0, 0, 0), 1 << 40},
		{"12 bytes, leading zeros", tlv(AttrSALifeValue, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0e, 0x10), 3600},
		{"16 bytes, beyond 64 bits", tlv(AttrSALifeValue, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), math.MaxUint64},
		{"empty", tlv(AttrSALifeValue), 0},
	} {
		tr := append([]byte{1, ESPAESCBC, 0, 0, 0x80, AttrSALifeType, 0, LifeSeconds}, c.attr...)
		tr = append(tr, 0x80, AttrESPKeyLen, 0, 128)
		prop, _ := AppendPayloads([]byte{1, ProtocolESP, 4, 1, 1, 2, 3, 4}, []Payload{{Type: payloadTransform, Body: tr}})
		body, _ := AppendPayloads([]byte{0, 0, 0, DOIIPsec, 0, 0, 0, SitIdentityOnly}, []Payload{{Type: payloadProposal, Body: prop}})
		sa, err := ParseSA(body)
		if err != nil {
			t.Errorf("%s: the SA payload does not parse: %v", c.name, err)
			continue
		}
		got := sa.Proposals[0].Transforms[0]
		if v, ok := got.Attr(AttrSALifeValue); !ok || v != c.value || len(got.Attrs) != 3 {
			t.Errorf("%s: life duration %d (%v), want %d; attributes %+v", c.name, v, ok, c.value, got.Attrs)
		}
		again, err := ParseSA(sa.Append(nil))
		if err != nil || !reflect.DeepEqual(again, sa) {
			t.Errorf("%s: re-encoded, %+v (%v), want %+v", c.name, again, err, sa)
		}
	}
}

func TestErrors(t *testing.T) {
	msg := sample()
	if _, err := ParseHeader(msg[:20]); !errors.Is(err, ErrShort) {
		t.Errorf("short: %v", err)
	}
	if _, err := ParseHeader(append(bytes.Clone(msg), 0)); !errors.Is(err, ErrLength) {
		t.Errorf("length: %v", err)
	}
	bad := bytes.Clone(msg)
	bad[17] = 0x20
	if _, err := ParseHeader(bad); !errors.Is(err, ErrVersion) {
		t.Errorf("IKEv2 header: %v", err)
	}
	bad = bytes.Clone(msg)
	bad[HeaderLen+3] = 0xff // the SA payload's length
	if _, err := ParsePayloads(PayloadSA, bad[HeaderLen:]); !errors.Is(err, ErrLength) {
		t.Errorf("overrun: %v", err)
	}
}

func TestIDs(t *testing.T) {
	for _, s := range []string{"10.1.0.0/16", "0.0.0.0/0", "192.168.1.7/32", "fd00::/8"} {
		p := netip.MustParsePrefix(s)
		id, err := ParseID(PrefixID(p).Append(nil))
		if err != nil {
			t.Fatal(err)
		}
		got, err := id.Prefix()
		if err != nil || got != p {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	r := ID{Type: IDIPv4Range, Data: []byte{10, 0, 0, 0, 10, 0, 255, 255}}
	if p, err := r.Prefix(); err != nil || p != netip.MustParsePrefix("10.0.0.0/16") {
		t.Errorf("range: %v %v", p, err)
	}
	for _, id := range []ID{
		{Type: IDIPv4Subnet, Data: []byte{10, 0, 0, 0, 255, 0, 255, 0}},
		{Type: IDIPv4Range, Data: []byte{10, 0, 0, 1, 10, 0, 0, 9}},
		{Type: IDIPv4, Protocol: 6, Data: []byte{10, 0, 0, 1}},
		{Type: IDFQDN, Data: []byte("vpn.example")},
		{Type: IDIPv4, Data: []byte{10, 0, 0}},
	} {
		if p, err := id.Prefix(); err == nil {
			t.Errorf("%+v: %v, want an error", id, p)
		}
	}
	a := AddrID(netip.MustParseAddr("198.51.100.1"))
	if a.Type != IDIPv4 || !bytes.Equal(a.Data, []byte{198, 51, 100, 1}) {
		t.Errorf("%+v", a)
	}
}

func TestNotifyDelete(t *testing.T) {
	n := Notify{DOI: DOIIPsec, Protocol: ProtocolISAKMP, SPI: bytes.Repeat([]byte{7}, 16), Type: NotifyRUThere, Data: []byte{0, 0, 0, 9}}
	got, err := ParseNotify(n.Append(nil))
	if err != nil || !reflect.DeepEqual(got, n) {
		t.Errorf("%+v %v", got, err)
	}
	d := Delete{DOI: DOIIPsec, Protocol: ProtocolESP, SPIs: [][]byte{{1, 2, 3, 4}, {5, 6, 7, 8}}}
	gd, err := ParseDelete(d.Append(nil))
	if err != nil || !reflect.DeepEqual(gd, d) {
		t.Errorf("%+v %v", gd, err)
	}
	if _, err := ParseDelete([]byte{0, 0, 0, 1, 3, 4, 0, 2, 1, 2, 3}); err == nil {
		t.Error("a delete whose SPIs do not fill it parsed")
	}
}

// FuzzParse runs every parser over arbitrary bytes: no panic, and an SA
// that parses re-encodes to bytes that parse to the same.
func FuzzParse(f *testing.F) {
	f.Add(sample())
	f.Add(Notify{DOI: 1, Protocol: 1, SPI: make([]byte, 16), Type: NotifyRUThere, Data: []byte{0, 0, 0, 1}}.Append(nil))
	f.Add(PrefixID(netip.MustParsePrefix("10.1.0.0/16")).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := ParseHeader(b); err == nil {
			if ps, err := ParsePayloads(h.Next, b[HeaderLen:]); err == nil {
				for _, p := range ps {
					if p.Type == PayloadSA {
						if sa, err := ParseSA(p.Body); err == nil {
							again, err := ParseSA(sa.Append(nil))
							if err != nil || !reflect.DeepEqual(again.Proposals, sa.Proposals) && len(sa.Proposals) > 0 {
								t.Fatalf("SA %+v re-parsed as %+v, %v", sa, again, err)
							}
						}
					}
				}
			}
		}
		if sa, err := ParseSA(b); err == nil {
			if _, err := ParseSA(sa.Append(nil)); err != nil {
				t.Fatalf("SA %+v does not re-parse: %v", sa, err)
			}
		}
		if as, err := ParseAttrs(b); err == nil {
			if again, err := ParseAttrs(AppendAttrs(nil, as)); err != nil || !reflect.DeepEqual(again, as) {
				t.Fatalf("attributes %+v re-parsed as %+v, %v", as, again, err)
			}
		}
		if id, err := ParseID(b); err == nil {
			id.Prefix()
		}
		ParseNotify(b)
		ParseDelete(b)
	})
}
