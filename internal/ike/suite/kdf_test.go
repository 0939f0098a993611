package suite

import (
	"bytes"
	"crypto/hmac"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestSKEYSEED checks SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 §2.14) and
// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) (RFC 7296 §2.18).
func TestSKEYSEED(t *testing.T) {
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16)
	gir := Key(bytes.Repeat([]byte{3}, 256))
	skd := Key(bytes.Repeat([]byte{4}, 48))
	for _, prf := range []ikev2.PRFID{ikev2.PRFHMACSHA1, ikev2.PRFHMACSHA256, ikev2.PRFHMACSHA384, ikev2.PRFHMACSHA512} {
		got, err := SKEYSEED(prf, ni, nr, gir)
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(hashOf[prf], append(bytes.Clone(ni), nr...))
		m.Write(gir)
		if want := m.Sum(nil); !bytes.Equal(got, want) {
			t.Errorf("%v: SKEYSEED = %x, want %x", prf, []byte(got), want)
		}
		got, err = RekeySKEYSEED(prf, skd, gir, ni, nr)
		if err != nil {
			t.Fatal(err)
		}
		m = hmac.New(hashOf[prf], skd)
		m.Write(gir)
		m.Write(ni)
		m.Write(nr)
		if want := m.Sum(nil); !bytes.Equal(got, want) {
			t.Errorf("%v: rekey SKEYSEED = %x, want %x", prf, []byte(got), want)
		}
	}
	bad := []struct {
		name   string
		prf    ikev2.PRFID
		ni, nr []byte
		gir    Key
	}{
		{"short Ni", ikev2.PRFHMACSHA1, ni[:15], nr, gir},
		{"short Nr", ikev2.PRFHMACSHA1, ni, nil, gir},
		{"long Nr", ikev2.PRFHMACSHA1, ni, make([]byte, 257), gir},
		{"no g^ir", ikev2.PRFHMACSHA1, ni, nr, nil},
		{"unsupported PRF", ikev2.PRFID(4), ni, nr, gir},
	}
	for _, tt := range bad {
		if _, err := SKEYSEED(tt.prf, tt.ni, tt.nr, tt.gir); err == nil {
			t.Errorf("SKEYSEED %s: no error", tt.name)
		}
		if _, err := RekeySKEYSEED(tt.prf, skd, tt.gir, tt.ni, tt.nr); err == nil {
			t.Errorf("RekeySKEYSEED %s: no error", tt.name)
		}
	}
}

// TestIKEKeys checks the lengths and the order of the seven keys (RFC 7296
// §2.14; RFC 5282 §7 for AEAD).
func TestIKEKeys(t *testing.T) {
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	skeyseed := Key(bytes.Repeat([]byte{9}, 32))
	tests := []struct {
		proposal  string
		prf, a, e int
	}{
		{"aes256gcm16-prfsha256-ecp256", 32, 0, 36},
		{"aes128gcm16-prfsha512-x25519", 64, 0, 20},
		{"aes192gcm16-prfsha1-modp2048", 20, 0, 28},
		{"aes256-sha256-modp2048", 32, 32, 32},
		{"aes128-sha1-modp2048s256", 20, 20, 16},
		{"aes192-sha512-prfsha384-ecp384", 48, 64, 24},
		{"aes128-sha384-ecp256", 48, 48, 16},
	}
	for _, tt := range tests {
		t.Run(tt.proposal, func(t *testing.T) {
			p, err := ParseProposal(ikev2.ProtocolIKE, tt.proposal)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := p.Select(p.Transforms)
			if !ok {
				t.Fatal("no suite")
			}
			k, err := s.IKEKeys(skeyseed, ni, nr, 0x0102030405060708, 0x1112131415161718)
			if err != nil {
				t.Fatal(err)
			}
			seed := append(append(bytes.Clone(ni), nr...), 1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18)
			km, err := PRFPlus(s.PRF, skeyseed, seed, 3*tt.prf+2*tt.a+2*tt.e)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name string
				key  Key
				n    int
			}{{"SK_d", k.D, tt.prf}, {"SK_ai", k.AI, tt.a}, {"SK_ar", k.AR, tt.a}, {"SK_ei", k.EI, tt.e},
				{"SK_er", k.ER, tt.e}, {"SK_pi", k.PI, tt.prf}, {"SK_pr", k.PR, tt.prf}} {
				if !bytes.Equal(f.key, km[:f.n]) {
					t.Errorf("%s = %x, want %x", f.name, []byte(f.key), []byte(km[:f.n]))
				}
				km = km[f.n:]
			}
		})
	}
	esp := Suite{Protocol: ikev2.ProtocolESP, Encr: ikev2.EncrAESGCM16, KeyLen: 128}
	if _, err := esp.IKEKeys(skeyseed, ni, nr, 1, 2); err == nil {
		t.Error("IKEKeys with an ESP suite succeeded")
	}
	ike := Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 128, PRF: ikev2.PRFHMACSHA1, DH: ikev2.DHECP256}
	if _, err := ike.IKEKeys(skeyseed, ni[:8], nr, 1, 2); err == nil {
		t.Error("IKEKeys with a short nonce succeeded")
	}
}

// TestChildKeys checks KEYMAT = prf+(SK_d, [g^ir (new)] | Ni | Nr) and its
// split: encryption then integrity, initiator to responder first (RFC 7296
// §2.17; RFC 4106 §8.1 for the GCM salt).
func TestChildKeys(t *testing.T) {
	ni, nr := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 20)
	skd := Key(bytes.Repeat([]byte{5}, 32))
	tests := []struct {
		proposal string
		pfs      bool
		e, a     int
	}{
		{"aes256gcm16", false, 36, 0},
		{"aes128gcm16-modp2048", true, 20, 0},
		{"aes256-sha256", false, 32, 32},
		{"aes128-sha1-ecp256", true, 16, 20},
		{"aes192-sha384-esn", false, 24, 48},
		{"aes256-sha512-x25519", true, 32, 64},
	}
	for _, tt := range tests {
		t.Run(tt.proposal, func(t *testing.T) {
			p, err := ParseProposal(ikev2.ProtocolESP, tt.proposal)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := p.Select(p.Transforms)
			if !ok {
				t.Fatal("no suite")
			}
			var gir Key
			if tt.pfs {
				gir = Key(bytes.Repeat([]byte{3}, 32))
			}
			k, err := s.ChildKeys(ikev2.PRFHMACSHA256, skd, gir, ni, nr)
			if err != nil {
				t.Fatal(err)
			}
			seed := append(append(append([]byte{}, gir...), ni...), nr...)
			km, err := PRFPlus(ikev2.PRFHMACSHA256, skd, seed, 2*tt.e+2*tt.a)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				name string
				key  Key
				n    int
			}{{"encr i", k.EI, tt.e}, {"integ i", k.AI, tt.a}, {"encr r", k.ER, tt.e}, {"integ r", k.AR, tt.a}} {
				if !bytes.Equal(f.key, km[:f.n]) {
					t.Errorf("%s = %x, want %x", f.name, []byte(f.key), []byte(km[:f.n]))
				}
				km = km[f.n:]
			}
		})
	}
	ike := Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 128, PRF: ikev2.PRFHMACSHA1, DH: ikev2.DHECP256}
	if _, err := ike.ChildKeys(ikev2.PRFHMACSHA1, skd, nil, ni, nr); err == nil {
		t.Error("ChildKeys with an IKE suite succeeded")
	}
	esp := Suite{Protocol: ikev2.ProtocolESP, Encr: ikev2.EncrAESGCM16, KeyLen: 128}
	if _, err := esp.ChildKeys(ikev2.PRFID(99), skd, nil, ni, nr); err == nil {
		t.Error("ChildKeys with an unsupported PRF succeeded")
	}
	if _, err := esp.ChildKeys(ikev2.PRFHMACSHA1, skd, nil, ni, nr[:1]); err == nil {
		t.Error("ChildKeys with a short nonce succeeded")
	}
}
