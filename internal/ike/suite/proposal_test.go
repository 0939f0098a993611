package suite

import (
	"slices"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

func encr(id ikev2.EncrID, bits uint16) Transform {
	return Transform{Type: ikev2.TransformENCR, ID: uint16(id), KeyLen: bits}
}
func prfT(id ikev2.PRFID) Transform     { return Transform{Type: ikev2.TransformPRF, ID: uint16(id)} }
func integT(id ikev2.IntegID) Transform { return Transform{Type: ikev2.TransformINTEG, ID: uint16(id)} }
func dhT(g ikev2.DHGroup) Transform     { return Transform{Type: ikev2.TransformDH, ID: uint16(g)} }
func esnT(v uint16) Transform           { return Transform{Type: ikev2.TransformESN, ID: v} }

// TestParseProposal covers strongSwan's proposal syntax and its reverse.
func TestParseProposal(t *testing.T) {
	tests := []struct {
		name  string
		proto ikev2.ProtocolID
		in    string
		want  []Transform
		str   string // canonical form, when different from in
	}{
		{"IKE AEAD ECP-256", ikev2.ProtocolIKE, "aes256gcm16-prfsha256-ecp256",
			[]Transform{encr(ikev2.EncrAESGCM16, 256), prfT(ikev2.PRFHMACSHA256), dhT(ikev2.DHECP256)}, ""},
		{"IKE AEAD ECP-384", ikev2.ProtocolIKE, "aes128gcm16-prfsha384-ecp384",
			[]Transform{encr(ikev2.EncrAESGCM16, 128), prfT(ikev2.PRFHMACSHA384), dhT(ikev2.DHECP384)}, ""},
		{"IKE CBC implied PRF", ikev2.ProtocolIKE, "aes256-sha256-modp2048",
			[]Transform{encr(ikev2.EncrAESCBC, 256), prfT(ikev2.PRFHMACSHA256), integT(ikev2.IntegHMACSHA256_128), dhT(ikev2.DHMODP2048)}, ""},
		{"IKE CBC SHA1", ikev2.ProtocolIKE, "aes128-sha1-modp2048",
			[]Transform{encr(ikev2.EncrAESCBC, 128), prfT(ikev2.PRFHMACSHA1), integT(ikev2.IntegHMACSHA1_96), dhT(ikev2.DHMODP2048)}, ""},
		{"IKE X25519", ikev2.ProtocolIKE, "aes256gcm16-prfsha256-x25519",
			[]Transform{encr(ikev2.EncrAESGCM16, 256), prfT(ikev2.PRFHMACSHA256), dhT(ikev2.DHCurve25519)}, ""},
		{"IKE explicit PRF", ikev2.ProtocolIKE, "aes192-sha512-prfsha384-ecp384",
			[]Transform{encr(ikev2.EncrAESCBC, 192), prfT(ikev2.PRFHMACSHA384), integT(ikev2.IntegHMACSHA512_256), dhT(ikev2.DHECP384)}, ""},
		{"IKE lists", ikev2.ProtocolIKE, "aes256-aes128-sha384-sha1-modp2048s256-modp1024",
			[]Transform{encr(ikev2.EncrAESCBC, 256), encr(ikev2.EncrAESCBC, 128), prfT(ikev2.PRFHMACSHA384), prfT(ikev2.PRFHMACSHA1),
				integT(ikev2.IntegHMACSHA384_192), integT(ikev2.IntegHMACSHA1_96), dhT(ikev2.DHInsecureMODP2048S256), dhT(ikev2.DHInsecureMODP1024)}, ""},
		{"IKE aliases", ikev2.ProtocolIKE, "aes-sha2_256-curve25519",
			[]Transform{encr(ikev2.EncrAESCBC, 128), prfT(ikev2.PRFHMACSHA256), integT(ikev2.IntegHMACSHA256_128), dhT(ikev2.DHCurve25519)},
			"aes128-sha256-x25519"},
		{"IKE duplicates", ikev2.ProtocolIKE, "aes256gcm128-aes256gcm-prfsha512-ecp256-ecp256",
			[]Transform{encr(ikev2.EncrAESGCM16, 256), prfT(ikev2.PRFHMACSHA512), dhT(ikev2.DHECP256)},
			"aes256gcm16-prfsha512-ecp256"},
		{"ESP AEAD", ikev2.ProtocolESP, "aes256gcm16",
			[]Transform{encr(ikev2.EncrAESGCM16, 256), esnT(uint16(ikev2.NoESN))}, ""},
		{"ESP CBC", ikev2.ProtocolESP, "aes256-sha256",
			[]Transform{encr(ikev2.EncrAESCBC, 256), integT(ikev2.IntegHMACSHA256_128), esnT(uint16(ikev2.NoESN))}, ""},
		{"ESP PFS", ikev2.ProtocolESP, "aes128-sha1-modp2048",
			[]Transform{encr(ikev2.EncrAESCBC, 128), integT(ikev2.IntegHMACSHA1_96), dhT(ikev2.DHMODP2048), esnT(uint16(ikev2.NoESN))}, ""},
		{"ESP optional PFS and ESN", ikev2.ProtocolESP, "aes128gcm16-ecp256-none-esn-noesn",
			[]Transform{encr(ikev2.EncrAESGCM16, 128), dhT(ikev2.DHECP256), dhT(ikev2.DHNone), esnT(uint16(ikev2.WithESN)), esnT(uint16(ikev2.NoESN))}, ""},
		{"ESP explicit noesn", ikev2.ProtocolESP, "aes192gcm16-noesn",
			[]Transform{encr(ikev2.EncrAESGCM16, 192), esnT(uint16(ikev2.NoESN))}, "aes192gcm16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProposal(tt.proto, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Protocol != tt.proto || !slices.Equal(p.Transforms, tt.want) {
				t.Errorf("ParseProposal(%q) = %v %v, want %v", tt.in, p.Protocol, p.Transforms, tt.want)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			if got := p.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestParseProposalErrors(t *testing.T) {
	tests := []struct {
		name  string
		proto ikev2.ProtocolID
		in    string
	}{
		{"empty", ikev2.ProtocolIKE, ""},
		{"empty token", ikev2.ProtocolIKE, "aes256--sha256-modp2048"},
		{"unknown", ikev2.ProtocolIKE, "3des-sha1-modp2048"},
		{"unsupported ICV", ikev2.ProtocolESP, "aes128gcm8"},
		{"no encryption", ikev2.ProtocolIKE, "sha256-modp2048"},
		{"mixed AEAD", ikev2.ProtocolIKE, "aes256gcm16-aes256-sha256-prfsha256-modp2048"},
		{"AEAD with integrity", ikev2.ProtocolESP, "aes256gcm16-sha256"},
		{"no integrity", ikev2.ProtocolESP, "aes256"},
		{"IKE AEAD without PRF", ikev2.ProtocolIKE, "aes256gcm16-ecp256"},
		{"IKE without group", ikev2.ProtocolIKE, "aes256-sha256"},
		{"IKE with none", ikev2.ProtocolIKE, "aes256-sha256-modp2048-none"},
		{"IKE with ESN", ikev2.ProtocolIKE, "aes256-sha256-modp2048-esn"},
		{"ESP with PRF", ikev2.ProtocolESP, "aes256gcm16-prfsha256"},
		{"AH", ikev2.ProtocolID(2), "sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := ParseProposal(tt.proto, tt.in); err == nil {
				t.Errorf("ParseProposal(%q) = %v, want error", tt.in, p)
			}
		})
	}
}

func TestSuiteString(t *testing.T) {
	tests := []struct {
		s    Suite
		want string
	}{
		{Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 256, PRF: ikev2.PRFHMACSHA256, DH: ikev2.DHECP256}, "aes256gcm16-prfsha256-ecp256"},
		{Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: 256, PRF: ikev2.PRFHMACSHA256, Integ: ikev2.IntegHMACSHA256_128, DH: ikev2.DHMODP2048}, "aes256-sha256-modp2048"},
		{Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: 128, PRF: ikev2.PRFHMACSHA512, Integ: ikev2.IntegHMACSHA1_96, DH: ikev2.DHMODP2048}, "aes128-sha1-prfsha512-modp2048"},
		{Suite{Protocol: ikev2.ProtocolESP, Encr: ikev2.EncrAESCBC, KeyLen: 128, Integ: ikev2.IntegHMACSHA1_96, DH: ikev2.DHMODP2048}, "aes128-sha1-modp2048"},
		{Suite{Protocol: ikev2.ProtocolESP, Encr: ikev2.EncrAESGCM16, KeyLen: 128, ESN: true}, "aes128gcm16-esn"},
		{Suite{Protocol: ikev2.ProtocolESP, Encr: ikev2.EncrID(3), KeyLen: 0, Integ: ikev2.IntegID(1)}, "ENCR(3)-INTEG(1)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.s, got, tt.want)
		}
	}
}

// TestNewSuite covers RFC 7296 §3.3.6: an accepted proposal has one
// transform of each type.
func TestNewSuite(t *testing.T) {
	ike := []Transform{encr(ikev2.EncrAESCBC, 256), prfT(ikev2.PRFHMACSHA256), integT(ikev2.IntegHMACSHA256_128), dhT(ikev2.DHMODP2048)}
	s, err := NewSuite(ikev2.ProtocolIKE, ike)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: 256, PRF: ikev2.PRFHMACSHA256, Integ: ikev2.IntegHMACSHA256_128, DH: ikev2.DHMODP2048}); s != want {
		t.Errorf("NewSuite = %#v, want %#v", s, want)
	}
	if !slices.Equal(s.Transforms(), ike) {
		t.Errorf("Transforms() = %v, want %v", s.Transforms(), ike)
	}
	esp := []Transform{encr(ikev2.EncrAESGCM16, 128), dhT(ikev2.DHECP256), esnT(uint16(ikev2.WithESN))}
	s, err = NewSuite(ikev2.ProtocolESP, esp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Transforms(), esp) || !s.ESN {
		t.Errorf("ESP Transforms() = %v, want %v", s.Transforms(), esp)
	}

	bad := []struct {
		name  string
		proto ikev2.ProtocolID
		ts    []Transform
	}{
		{"two ENCR", ikev2.ProtocolIKE, append(slices.Clone(ike), encr(ikev2.EncrAESCBC, 128))},
		{"no ENCR", ikev2.ProtocolIKE, ike[1:]},
		{"no PRF", ikev2.ProtocolIKE, []Transform{ike[0], ike[2], ike[3]}},
		{"no DH for IKE", ikev2.ProtocolIKE, ike[:3]},
		{"DH NONE for IKE", ikev2.ProtocolIKE, []Transform{ike[0], ike[1], ike[2], dhT(ikev2.DHNone)}},
		{"no INTEG with CBC", ikev2.ProtocolIKE, []Transform{ike[0], ike[1], ike[3]}},
		{"INTEG with GCM", ikev2.ProtocolESP, []Transform{encr(ikev2.EncrAESGCM16, 128), integT(ikev2.IntegHMACSHA1_96), esnT(uint16(ikev2.NoESN))}},
		{"bad key length", ikev2.ProtocolIKE, []Transform{encr(ikev2.EncrAESCBC, 64), ike[1], ike[2], ike[3]}},
		{"no key length", ikev2.ProtocolIKE, []Transform{encr(ikev2.EncrAESCBC, 0), ike[1], ike[2], ike[3]}},
		{"key length on PRF", ikev2.ProtocolIKE, []Transform{ike[0], {Type: ikev2.TransformPRF, ID: 5, KeyLen: 128}, ike[2], ike[3]}},
		{"unknown ENCR", ikev2.ProtocolIKE, []Transform{encr(ikev2.EncrID(3), 0), ike[1], ike[2], ike[3]}},
		{"unknown PRF", ikev2.ProtocolIKE, []Transform{ike[0], prfT(ikev2.PRFID(4)), ike[2], ike[3]}},
		{"unknown INTEG", ikev2.ProtocolIKE, []Transform{ike[0], ike[1], integT(ikev2.IntegID(5)), ike[3]}},
		{"unknown group", ikev2.ProtocolIKE, []Transform{ike[0], ike[1], ike[2], dhT(ikev2.DHGroup(21))}},
		{"unknown type", ikev2.ProtocolIKE, append(slices.Clone(ike), Transform{Type: 6, ID: 1})},
		{"ESN for IKE", ikev2.ProtocolIKE, append(slices.Clone(ike), esnT(uint16(ikev2.NoESN)))},
		{"ESP without ESN", ikev2.ProtocolESP, []Transform{encr(ikev2.EncrAESGCM16, 128)}},
		{"ESP with PRF", ikev2.ProtocolESP, []Transform{encr(ikev2.EncrAESGCM16, 128), prfT(ikev2.PRFHMACSHA1), esnT(uint16(ikev2.NoESN))}},
		{"bad ESN", ikev2.ProtocolESP, []Transform{encr(ikev2.EncrAESGCM16, 128), esnT(2)}},
		{"AH", ikev2.ProtocolID(2), []Transform{integT(ikev2.IntegHMACSHA1_96), esnT(uint16(ikev2.NoESN))}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := NewSuite(tt.proto, tt.ts); err == nil {
				t.Errorf("NewSuite(%v) = %v, want error", tt.ts, s)
			}
		})
	}
}

// TestSelect covers the responder's choice of RFC 7296 §2.7.
func TestSelect(t *testing.T) {
	mustParse := func(proto ikev2.ProtocolID, s string) Proposal {
		p, err := ParseProposal(proto, s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		ours    Proposal
		offered []Transform
		want    string // "" when nothing matches
	}{
		{"our preference wins", mustParse(ikev2.ProtocolIKE, "aes256-aes128-sha256-sha1-ecp256-modp2048"),
			mustParse(ikev2.ProtocolIKE, "aes128-aes256-sha1-sha256-modp2048-ecp256").Transforms, "aes256-sha256-ecp256"},
		{"key length must match", mustParse(ikev2.ProtocolIKE, "aes256gcm16-prfsha256-ecp256"),
			mustParse(ikev2.ProtocolIKE, "aes128gcm16-prfsha256-ecp256").Transforms, ""},
		{"no common group", mustParse(ikev2.ProtocolIKE, "aes256gcm16-prfsha256-ecp256"),
			mustParse(ikev2.ProtocolIKE, "aes256gcm16-prfsha256-modp2048").Transforms, ""},
		{"no common PRF", mustParse(ikev2.ProtocolIKE, "aes256gcm16-prfsha256-ecp256"),
			mustParse(ikev2.ProtocolIKE, "aes256gcm16-prfsha384-ecp256").Transforms, ""},
		{"no common INTEG", mustParse(ikev2.ProtocolESP, "aes256-sha256"),
			mustParse(ikev2.ProtocolESP, "aes256-sha1").Transforms, ""},
		{"AEAD with INTEG NONE offered", mustParse(ikev2.ProtocolESP, "aes256gcm16"),
			[]Transform{encr(ikev2.EncrAESGCM16, 256), integT(ikev2.IntegNone), esnT(uint16(ikev2.NoESN))}, "aes256gcm16"},
		{"AEAD with an INTEG offered", mustParse(ikev2.ProtocolESP, "aes256gcm16"),
			[]Transform{encr(ikev2.EncrAESGCM16, 256), integT(ikev2.IntegHMACSHA1_96), esnT(uint16(ikev2.NoESN))}, ""},
		{"PFS required", mustParse(ikev2.ProtocolESP, "aes256gcm16-ecp256"),
			mustParse(ikev2.ProtocolESP, "aes256gcm16").Transforms, ""},
		{"PFS optional, peer without", mustParse(ikev2.ProtocolESP, "aes256gcm16-ecp256-none"),
			mustParse(ikev2.ProtocolESP, "aes256gcm16").Transforms, "aes256gcm16"},
		{"PFS optional, peer with", mustParse(ikev2.ProtocolESP, "aes256gcm16-ecp256-none"),
			mustParse(ikev2.ProtocolESP, "aes256gcm16-ecp256").Transforms, "aes256gcm16-ecp256"},
		{"no PFS, peer insists", mustParse(ikev2.ProtocolESP, "aes256gcm16"),
			mustParse(ikev2.ProtocolESP, "aes256gcm16-modp2048").Transforms, ""},
		{"ESN absent means no", mustParse(ikev2.ProtocolESP, "aes256-sha256"),
			[]Transform{encr(ikev2.EncrAESCBC, 256), integT(ikev2.IntegHMACSHA256_128)}, "aes256-sha256"},
		{"ESN mismatch", mustParse(ikev2.ProtocolESP, "aes256-sha256-esn"),
			mustParse(ikev2.ProtocolESP, "aes256-sha256-noesn").Transforms, ""},
		{"unsupported offers skipped", mustParse(ikev2.ProtocolIKE, "aes256-sha256-modp2048"),
			append([]Transform{encr(ikev2.EncrID(3), 0), dhT(ikev2.DHGroup(21))}, mustParse(ikev2.ProtocolIKE, "aes256-sha256-modp2048").Transforms...),
			"aes256-sha256-modp2048"},
		{"nothing offered", mustParse(ikev2.ProtocolIKE, "aes256-sha256-modp2048"), nil, ""},
		// RFC 7296 §3.3.6: a proposal with a Transform Type we do not
		// understand (here ADDKE1 of RFC 9370, type 6) is unacceptable.
		{"unknown transform type", mustParse(ikev2.ProtocolIKE, "aes256-sha256-modp2048"),
			append(mustParse(ikev2.ProtocolIKE, "aes256-sha256-modp2048").Transforms, Transform{Type: 6, ID: 35}), ""},
		{"unknown transform type in ESP", mustParse(ikev2.ProtocolESP, "aes256gcm16"),
			append(mustParse(ikev2.ProtocolESP, "aes256gcm16").Transforms, Transform{Type: 6, ID: 35}), ""},
		{"transform type zero", mustParse(ikev2.ProtocolESP, "aes256gcm16"),
			append(mustParse(ikev2.ProtocolESP, "aes256gcm16").Transforms, Transform{Type: 0, ID: 0}), ""},
		{"hand-made invalid proposal", Proposal{Protocol: ikev2.ProtocolIKE, Transforms: []Transform{encr(ikev2.EncrAESCBC, 64), prfT(ikev2.PRFHMACSHA1), integT(ikev2.IntegHMACSHA1_96), dhT(ikev2.DHMODP2048)}},
			[]Transform{encr(ikev2.EncrAESCBC, 64), prfT(ikev2.PRFHMACSHA1), integT(ikev2.IntegHMACSHA1_96), dhT(ikev2.DHMODP2048)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := tt.ours.Select(tt.offered)
			switch {
			case ok != (tt.want != ""):
				t.Fatalf("Select = %v, %v; want %q", s, ok, tt.want)
			case ok && s.String() != tt.want:
				t.Errorf("Select = %q, want %q", s, tt.want)
			}
		})
	}
}

// TestDefaultProposals checks that the defaults parse and leave out the weak
// 1024-bit MODP group.
func TestDefaultProposals(t *testing.T) {
	for _, proto := range []ikev2.ProtocolID{ikev2.ProtocolIKE, ikev2.ProtocolESP} {
		ps := DefaultProposals(proto)
		if len(ps) == 0 {
			t.Fatalf("no default %v proposals", proto)
		}
		for _, p := range ps {
			if slices.Contains(p.Transforms, dhT(ikev2.DHInsecureMODP1024)) {
				t.Errorf("default %v proposal %q has %v", proto, p, ikev2.DHInsecureMODP1024)
			}
			if _, ok := p.Select(p.Transforms); !ok {
				t.Errorf("default %v proposal %q does not select itself", proto, p)
			}
		}
	}
}

// TestTransformNames checks how a Transform prints; the names of the
// identifiers themselves are wire/ikev2's.
func TestTransformNames(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{encr(ikev2.EncrAESCBC, 256).String(), "ENCR_AES_CBC/256"},
		{prfT(ikev2.PRFHMACSHA256).String(), "PRF_HMAC_SHA2_256"},
		{integT(ikev2.IntegHMACSHA1_96).String(), "AUTH_HMAC_SHA1_96"},
		{dhT(ikev2.DHCurve25519).String(), "CURVE_25519"},
		{esnT(uint16(ikev2.WithESN)).String(), "ESN(1)"},
		{Transform{Type: 9, ID: 3}.String(), "TransformType(9):3"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestTransformWire covers the conversion to and from transform
// substructures: the Key Length attribute (RFC 7296 §3.3.5) and the
// rejection of transforms with attributes not understood (§3.3.6).
func TestTransformWire(t *testing.T) {
	for _, tr := range []Transform{
		encr(ikev2.EncrAESGCM16, 256), prfT(ikev2.PRFHMACSHA384), integT(ikev2.IntegHMACSHA256_128),
		dhT(ikev2.DHECP256), esnT(uint16(ikev2.NoESN)),
	} {
		w := tr.Wire()
		if n, ok := w.KeyLength(); ok != (tr.KeyLen != 0) || n != tr.KeyLen {
			t.Errorf("%v: key length attribute %d, %v", tr, n, ok)
		}
		back, ok := FromWire(w)
		if !ok || back != tr {
			t.Errorf("FromWire(%v.Wire()) = %v, %v", tr, back, ok)
		}
	}
	for _, tc := range []struct {
		name string
		w    ikev2.Transform
	}{
		{"3.3.6 unknown TV attribute", ikev2.Transform{Type: ikev2.TransformENCR, ID: 12,
			Attributes: []ikev2.Attribute{{Type: 15, Value: 1}}}},
		{"3.3.5 key length in TLV format", ikev2.Transform{Type: ikev2.TransformENCR, ID: 12,
			Attributes: []ikev2.Attribute{{Type: ikev2.AttributeKeyLength, TLV: true, Data: []byte{1, 0}}}}},
		{"3.3.5 zero key length", ikev2.Transform{Type: ikev2.TransformENCR, ID: 12,
			Attributes: []ikev2.Attribute{{Type: ikev2.AttributeKeyLength}}}},
		{"3.3.5 two attributes", ikev2.Transform{Type: ikev2.TransformENCR, ID: 12,
			Attributes: []ikev2.Attribute{{Type: ikev2.AttributeKeyLength, Value: 128}, {Type: ikev2.AttributeKeyLength, Value: 256}}}},
	} {
		if got, ok := FromWire(tc.w); ok {
			t.Errorf("%s: FromWire = %v, true; want false", tc.name, got)
		}
	}
}

// FuzzParseProposal checks that whatever parses prints in a form that
// parses back to the same proposal.
func FuzzParseProposal(f *testing.F) {
	for _, s := range []string{
		"aes256gcm16-prfsha256-ecp256", "aes128gcm16-prfsha384-ecp384", "aes256-sha256-modp2048",
		"aes128-sha1-modp2048", "aes256gcm16-prfsha256-x25519", "aes256gcm16", "aes256-sha256",
		"aes128-sha1-modp2048-none-esn", "aes-sha-sha2_512-prfsha1-modp1024-modp2048s256",
	} {
		f.Add(uint8(ikev2.ProtocolIKE), s)
		f.Add(uint8(ikev2.ProtocolESP), s)
	}
	f.Fuzz(func(t *testing.T, proto uint8, s string) {
		p, err := ParseProposal(ikev2.ProtocolID(proto), s)
		if err != nil {
			return
		}
		again, err := ParseProposal(p.Protocol, p.String())
		if err != nil {
			t.Fatalf("ParseProposal(%q) = %q, which does not parse: %v", s, p, err)
		}
		if !slices.Equal(again.Transforms, p.Transforms) {
			t.Fatalf("ParseProposal(%q) = %v, reparsed as %v", s, p.Transforms, again.Transforms)
		}
		chosen, ok := p.Select(p.Transforms)
		if !ok {
			t.Fatalf("%q does not select itself", p)
		}
		for _, x := range chosen.Transforms() {
			if !slices.Contains(p.Transforms, x) {
				t.Fatalf("%q selected %v, which it does not contain", p, x)
			}
		}
	})
}
