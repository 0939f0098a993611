package suite

import (
	"slices"
	"testing"
)

func encr(id EncrID, bits uint16) Transform {
	return Transform{Type: TransformEncr, ID: uint16(id), KeyLen: bits}
}
func prfT(id PRFID) Transform     { return Transform{Type: TransformPRF, ID: uint16(id)} }
func integT(id IntegID) Transform { return Transform{Type: TransformInteg, ID: uint16(id)} }
func dhT(g DHGroup) Transform     { return Transform{Type: TransformDH, ID: uint16(g)} }
func esnT(v uint16) Transform     { return Transform{Type: TransformESN, ID: v} }

// TestParseProposal covers strongSwan's proposal syntax and its reverse.
func TestParseProposal(t *testing.T) {
	tests := []struct {
		name  string
		proto Protocol
		in    string
		want  []Transform
		str   string // canonical form, when different from in
	}{
		{"IKE AEAD ECP-256", ProtocolIKE, "aes256gcm16-prfsha256-ecp256",
			[]Transform{encr(EncrAESGCM16, 256), prfT(PRFHMACSHA2_256), dhT(ECP256)}, ""},
		{"IKE AEAD ECP-384", ProtocolIKE, "aes128gcm16-prfsha384-ecp384",
			[]Transform{encr(EncrAESGCM16, 128), prfT(PRFHMACSHA2_384), dhT(ECP384)}, ""},
		{"IKE CBC implied PRF", ProtocolIKE, "aes256-sha256-modp2048",
			[]Transform{encr(EncrAESCBC, 256), prfT(PRFHMACSHA2_256), integT(IntegHMACSHA2_256_128), dhT(MODP2048)}, ""},
		{"IKE CBC SHA1", ProtocolIKE, "aes128-sha1-modp2048",
			[]Transform{encr(EncrAESCBC, 128), prfT(PRFHMACSHA1), integT(IntegHMACSHA1_96), dhT(MODP2048)}, ""},
		{"IKE X25519", ProtocolIKE, "aes256gcm16-prfsha256-x25519",
			[]Transform{encr(EncrAESGCM16, 256), prfT(PRFHMACSHA2_256), dhT(Curve25519)}, ""},
		{"IKE explicit PRF", ProtocolIKE, "aes192-sha512-prfsha384-ecp384",
			[]Transform{encr(EncrAESCBC, 192), prfT(PRFHMACSHA2_384), integT(IntegHMACSHA2_512_256), dhT(ECP384)}, ""},
		{"IKE lists", ProtocolIKE, "aes256-aes128-sha384-sha1-modp2048s256-modp1024",
			[]Transform{encr(EncrAESCBC, 256), encr(EncrAESCBC, 128), prfT(PRFHMACSHA2_384), prfT(PRFHMACSHA1),
				integT(IntegHMACSHA2_384_192), integT(IntegHMACSHA1_96), dhT(MODP2048S256), dhT(InsecureMODP1024)}, ""},
		{"IKE aliases", ProtocolIKE, "aes-sha2_256-curve25519",
			[]Transform{encr(EncrAESCBC, 128), prfT(PRFHMACSHA2_256), integT(IntegHMACSHA2_256_128), dhT(Curve25519)},
			"aes128-sha256-x25519"},
		{"IKE duplicates", ProtocolIKE, "aes256gcm128-aes256gcm-prfsha512-ecp256-ecp256",
			[]Transform{encr(EncrAESGCM16, 256), prfT(PRFHMACSHA2_512), dhT(ECP256)},
			"aes256gcm16-prfsha512-ecp256"},
		{"ESP AEAD", ProtocolESP, "aes256gcm16",
			[]Transform{encr(EncrAESGCM16, 256), esnT(ESNNo)}, ""},
		{"ESP CBC", ProtocolESP, "aes256-sha256",
			[]Transform{encr(EncrAESCBC, 256), integT(IntegHMACSHA2_256_128), esnT(ESNNo)}, ""},
		{"ESP PFS", ProtocolESP, "aes128-sha1-modp2048",
			[]Transform{encr(EncrAESCBC, 128), integT(IntegHMACSHA1_96), dhT(MODP2048), esnT(ESNNo)}, ""},
		{"ESP optional PFS and ESN", ProtocolESP, "aes128gcm16-ecp256-none-esn-noesn",
			[]Transform{encr(EncrAESGCM16, 128), dhT(ECP256), dhT(DHNone), esnT(ESNYes), esnT(ESNNo)}, ""},
		{"ESP explicit noesn", ProtocolESP, "aes192gcm16-noesn",
			[]Transform{encr(EncrAESGCM16, 192), esnT(ESNNo)}, "aes192gcm16"},
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
		proto Protocol
		in    string
	}{
		{"empty", ProtocolIKE, ""},
		{"empty token", ProtocolIKE, "aes256--sha256-modp2048"},
		{"unknown", ProtocolIKE, "3des-sha1-modp2048"},
		{"unsupported ICV", ProtocolESP, "aes128gcm8"},
		{"no encryption", ProtocolIKE, "sha256-modp2048"},
		{"mixed AEAD", ProtocolIKE, "aes256gcm16-aes256-sha256-prfsha256-modp2048"},
		{"AEAD with integrity", ProtocolESP, "aes256gcm16-sha256"},
		{"no integrity", ProtocolESP, "aes256"},
		{"IKE AEAD without PRF", ProtocolIKE, "aes256gcm16-ecp256"},
		{"IKE without group", ProtocolIKE, "aes256-sha256"},
		{"IKE with none", ProtocolIKE, "aes256-sha256-modp2048-none"},
		{"IKE with ESN", ProtocolIKE, "aes256-sha256-modp2048-esn"},
		{"ESP with PRF", ProtocolESP, "aes256gcm16-prfsha256"},
		{"AH", Protocol(2), "sha256"},
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
		{Suite{Protocol: ProtocolIKE, Encr: EncrAESGCM16, KeyLen: 256, PRF: PRFHMACSHA2_256, DH: ECP256}, "aes256gcm16-prfsha256-ecp256"},
		{Suite{Protocol: ProtocolIKE, Encr: EncrAESCBC, KeyLen: 256, PRF: PRFHMACSHA2_256, Integ: IntegHMACSHA2_256_128, DH: MODP2048}, "aes256-sha256-modp2048"},
		{Suite{Protocol: ProtocolIKE, Encr: EncrAESCBC, KeyLen: 128, PRF: PRFHMACSHA2_512, Integ: IntegHMACSHA1_96, DH: MODP2048}, "aes128-sha1-prfsha512-modp2048"},
		{Suite{Protocol: ProtocolESP, Encr: EncrAESCBC, KeyLen: 128, Integ: IntegHMACSHA1_96, DH: MODP2048}, "aes128-sha1-modp2048"},
		{Suite{Protocol: ProtocolESP, Encr: EncrAESGCM16, KeyLen: 128, ESN: true}, "aes128gcm16-esn"},
		{Suite{Protocol: ProtocolESP, Encr: EncrID(3), KeyLen: 0, Integ: IntegID(1)}, "ENCR(3)-INTEG(1)"},
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
	ike := []Transform{encr(EncrAESCBC, 256), prfT(PRFHMACSHA2_256), integT(IntegHMACSHA2_256_128), dhT(MODP2048)}
	s, err := NewSuite(ProtocolIKE, ike)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Suite{Protocol: ProtocolIKE, Encr: EncrAESCBC, KeyLen: 256, PRF: PRFHMACSHA2_256, Integ: IntegHMACSHA2_256_128, DH: MODP2048}); s != want {
		t.Errorf("NewSuite = %#v, want %#v", s, want)
	}
	if !slices.Equal(s.Transforms(), ike) {
		t.Errorf("Transforms() = %v, want %v", s.Transforms(), ike)
	}
	esp := []Transform{encr(EncrAESGCM16, 128), dhT(ECP256), esnT(ESNYes)}
	s, err = NewSuite(ProtocolESP, esp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Transforms(), esp) || !s.ESN {
		t.Errorf("ESP Transforms() = %v, want %v", s.Transforms(), esp)
	}

	bad := []struct {
		name  string
		proto Protocol
		ts    []Transform
	}{
		{"two ENCR", ProtocolIKE, append(slices.Clone(ike), encr(EncrAESCBC, 128))},
		{"no ENCR", ProtocolIKE, ike[1:]},
		{"no PRF", ProtocolIKE, []Transform{ike[0], ike[2], ike[3]}},
		{"no DH for IKE", ProtocolIKE, ike[:3]},
		{"DH NONE for IKE", ProtocolIKE, []Transform{ike[0], ike[1], ike[2], dhT(DHNone)}},
		{"no INTEG with CBC", ProtocolIKE, []Transform{ike[0], ike[1], ike[3]}},
		{"INTEG with GCM", ProtocolESP, []Transform{encr(EncrAESGCM16, 128), integT(IntegHMACSHA1_96), esnT(ESNNo)}},
		{"bad key length", ProtocolIKE, []Transform{encr(EncrAESCBC, 64), ike[1], ike[2], ike[3]}},
		{"no key length", ProtocolIKE, []Transform{encr(EncrAESCBC, 0), ike[1], ike[2], ike[3]}},
		{"key length on PRF", ProtocolIKE, []Transform{ike[0], {Type: TransformPRF, ID: 5, KeyLen: 128}, ike[2], ike[3]}},
		{"unknown ENCR", ProtocolIKE, []Transform{encr(EncrID(3), 0), ike[1], ike[2], ike[3]}},
		{"unknown PRF", ProtocolIKE, []Transform{ike[0], prfT(PRFID(4)), ike[2], ike[3]}},
		{"unknown INTEG", ProtocolIKE, []Transform{ike[0], ike[1], integT(IntegID(5)), ike[3]}},
		{"unknown group", ProtocolIKE, []Transform{ike[0], ike[1], ike[2], dhT(DHGroup(21))}},
		{"unknown type", ProtocolIKE, append(slices.Clone(ike), Transform{Type: 6, ID: 1})},
		{"ESN for IKE", ProtocolIKE, append(slices.Clone(ike), esnT(ESNNo))},
		{"ESP without ESN", ProtocolESP, []Transform{encr(EncrAESGCM16, 128)}},
		{"ESP with PRF", ProtocolESP, []Transform{encr(EncrAESGCM16, 128), prfT(PRFHMACSHA1), esnT(ESNNo)}},
		{"bad ESN", ProtocolESP, []Transform{encr(EncrAESGCM16, 128), esnT(2)}},
		{"AH", Protocol(2), []Transform{integT(IntegHMACSHA1_96), esnT(ESNNo)}},
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
	mustParse := func(proto Protocol, s string) Proposal {
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
		{"our preference wins", mustParse(ProtocolIKE, "aes256-aes128-sha256-sha1-ecp256-modp2048"),
			mustParse(ProtocolIKE, "aes128-aes256-sha1-sha256-modp2048-ecp256").Transforms, "aes256-sha256-ecp256"},
		{"key length must match", mustParse(ProtocolIKE, "aes256gcm16-prfsha256-ecp256"),
			mustParse(ProtocolIKE, "aes128gcm16-prfsha256-ecp256").Transforms, ""},
		{"no common group", mustParse(ProtocolIKE, "aes256gcm16-prfsha256-ecp256"),
			mustParse(ProtocolIKE, "aes256gcm16-prfsha256-modp2048").Transforms, ""},
		{"no common PRF", mustParse(ProtocolIKE, "aes256gcm16-prfsha256-ecp256"),
			mustParse(ProtocolIKE, "aes256gcm16-prfsha384-ecp256").Transforms, ""},
		{"no common INTEG", mustParse(ProtocolESP, "aes256-sha256"),
			mustParse(ProtocolESP, "aes256-sha1").Transforms, ""},
		{"AEAD with INTEG NONE offered", mustParse(ProtocolESP, "aes256gcm16"),
			[]Transform{encr(EncrAESGCM16, 256), integT(IntegNone), esnT(ESNNo)}, "aes256gcm16"},
		{"AEAD with an INTEG offered", mustParse(ProtocolESP, "aes256gcm16"),
			[]Transform{encr(EncrAESGCM16, 256), integT(IntegHMACSHA1_96), esnT(ESNNo)}, ""},
		{"PFS required", mustParse(ProtocolESP, "aes256gcm16-ecp256"),
			mustParse(ProtocolESP, "aes256gcm16").Transforms, ""},
		{"PFS optional, peer without", mustParse(ProtocolESP, "aes256gcm16-ecp256-none"),
			mustParse(ProtocolESP, "aes256gcm16").Transforms, "aes256gcm16"},
		{"PFS optional, peer with", mustParse(ProtocolESP, "aes256gcm16-ecp256-none"),
			mustParse(ProtocolESP, "aes256gcm16-ecp256").Transforms, "aes256gcm16-ecp256"},
		{"no PFS, peer insists", mustParse(ProtocolESP, "aes256gcm16"),
			mustParse(ProtocolESP, "aes256gcm16-modp2048").Transforms, ""},
		{"ESN absent means no", mustParse(ProtocolESP, "aes256-sha256"),
			[]Transform{encr(EncrAESCBC, 256), integT(IntegHMACSHA2_256_128)}, "aes256-sha256"},
		{"ESN mismatch", mustParse(ProtocolESP, "aes256-sha256-esn"),
			mustParse(ProtocolESP, "aes256-sha256-noesn").Transforms, ""},
		{"unsupported offers skipped", mustParse(ProtocolIKE, "aes256-sha256-modp2048"),
			append([]Transform{encr(EncrID(3), 0), dhT(DHGroup(21))}, mustParse(ProtocolIKE, "aes256-sha256-modp2048").Transforms...),
			"aes256-sha256-modp2048"},
		{"nothing offered", mustParse(ProtocolIKE, "aes256-sha256-modp2048"), nil, ""},
		{"hand-made invalid proposal", Proposal{Protocol: ProtocolIKE, Transforms: []Transform{encr(EncrAESCBC, 64), prfT(PRFHMACSHA1), integT(IntegHMACSHA1_96), dhT(MODP2048)}},
			[]Transform{encr(EncrAESCBC, 64), prfT(PRFHMACSHA1), integT(IntegHMACSHA1_96), dhT(MODP2048)}, ""},
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
	for _, proto := range []Protocol{ProtocolIKE, ProtocolESP} {
		ps := DefaultProposals(proto)
		if len(ps) == 0 {
			t.Fatalf("no default %v proposals", proto)
		}
		for _, p := range ps {
			if slices.Contains(p.Transforms, dhT(InsecureMODP1024)) {
				t.Errorf("default %v proposal %q has %v", proto, p, InsecureMODP1024)
			}
			if _, ok := p.Select(p.Transforms); !ok {
				t.Errorf("default %v proposal %q does not select itself", proto, p)
			}
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{ProtocolIKE.String(), "IKE"}, {ProtocolESP.String(), "ESP"}, {Protocol(2).String(), "PROTOCOL(2)"},
		{TransformEncr.String(), "ENCR"}, {TransformPRF.String(), "PRF"}, {TransformInteg.String(), "INTEG"},
		{TransformDH.String(), "D-H"}, {TransformESN.String(), "ESN"}, {TransformType(9).String(), "TRANSFORM(9)"},
		{EncrAESCBC.String(), "ENCR_AES_CBC"}, {EncrAESGCM16.String(), "ENCR_AES_GCM_16"}, {EncrID(3).String(), "ENCR(3)"},
		{PRFHMACSHA1.String(), "PRF_HMAC_SHA1"}, {PRFHMACSHA2_256.String(), "PRF_HMAC_SHA2_256"},
		{PRFHMACSHA2_384.String(), "PRF_HMAC_SHA2_384"}, {PRFHMACSHA2_512.String(), "PRF_HMAC_SHA2_512"}, {PRFID(4).String(), "PRF(4)"},
		{IntegNone.String(), "NONE"}, {IntegHMACSHA1_96.String(), "AUTH_HMAC_SHA1_96"},
		{IntegHMACSHA2_256_128.String(), "AUTH_HMAC_SHA2_256_128"}, {IntegHMACSHA2_384_192.String(), "AUTH_HMAC_SHA2_384_192"},
		{IntegHMACSHA2_512_256.String(), "AUTH_HMAC_SHA2_512_256"}, {IntegID(5).String(), "INTEG(5)"},
		{DHNone.String(), "NONE"}, {InsecureMODP1024.String(), "MODP_1024"}, {MODP2048.String(), "MODP_2048"},
		{ECP256.String(), "ECP_256"}, {ECP384.String(), "ECP_384"}, {MODP2048S256.String(), "MODP_2048_256"},
		{Curve25519.String(), "CURVE_25519"}, {DHGroup(21).String(), "DH(21)"},
		{encr(EncrAESCBC, 256).String(), "ENCR_AES_CBC/256"}, {esnT(ESNYes).String(), "ESN(1)"},
		{Transform{Type: 9, ID: 3}.String(), "TRANSFORM(9):3"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
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
		f.Add(uint8(ProtocolIKE), s)
		f.Add(uint8(ProtocolESP), s)
	}
	f.Fuzz(func(t *testing.T, proto uint8, s string) {
		p, err := ParseProposal(Protocol(proto), s)
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
