package suite

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// ikeSuites returns an IKE suite for every encryption and integrity
// combination the Cipher supports.
func ikeSuites() []Suite {
	var ss []Suite
	for _, bits := range []int{128, 192, 256} {
		for _, integ := range []ikev2.IntegID{ikev2.IntegHMACSHA1_96, ikev2.IntegHMACSHA256_128, ikev2.IntegHMACSHA384_192, ikev2.IntegHMACSHA512_256} {
			ss = append(ss, Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: bits, PRF: ikev2.PRFHMACSHA256, Integ: integ, DH: ikev2.DHECP256})
		}
		ss = append(ss, Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: bits, PRF: ikev2.PRFHMACSHA256, DH: ikev2.DHECP256})
	}
	return ss
}

// cipherPair returns two ciphers of s with the same keys: a sender's and a
// receiver's. A nil seed picks random keys.
func cipherPair(t testing.TB, s Suite, seed []byte) (seal, open Cipher) {
	t.Helper()
	ek, ak := make(Key, s.encrKeyLen()), make(Key, integKeyLen(s.Integ))
	if seed == nil {
		rand.Read(ek)
		rand.Read(ak)
	} else {
		for i := range ek {
			ek[i] = seed[i%len(seed)] + byte(i)
		}
		for i := range ak {
			ak[i] = seed[i%len(seed)] ^ byte(i)
		}
	}
	seal, err := NewCipher(s, ek, ak)
	if err != nil {
		t.Fatal(err)
	}
	open, err = NewCipher(s, ek, ak)
	if err != nil {
		t.Fatal(err)
	}
	return seal, open
}

// sealRaw encrypts pt exactly as c would but adds no padding and no Pad
// Length octet, so that tests can choose them. For AES-CBC pt must be a whole
// number of blocks.
func sealRaw(t testing.TB, c Cipher, aad, pt []byte) []byte {
	t.Helper()
	switch c := c.(type) {
	case *cbcHMAC:
		if len(pt)%aes.BlockSize != 0 {
			t.Fatalf("sealRaw: %d octets", len(pt))
		}
		body := make([]byte, aes.BlockSize, aes.BlockSize+len(pt)+c.icvLen)
		rand.Read(body)
		ct := make([]byte, len(pt))
		cipher.NewCBCEncrypter(c.block, body).CryptBlocks(ct, pt)
		body = append(body, ct...)
		m := hmac.New(c.hash, c.key)
		m.Write(aad)
		m.Write(body)
		return append(body, m.Sum(nil)[:c.icvLen]...)
	case *gcm:
		iv := binary.BigEndian.AppendUint64(nil, c.ctr.Add(1))
		nonce := c.nonce(iv)
		return c.aead.Seal(iv, nonce[:], pt, aad)
	}
	t.Fatalf("sealRaw: %T", c)
	return nil
}

// TestSealOpen round-trips payloads of many sizes through every cipher (RFC
// 7296 §3.14, RFC 5282 §3).
func TestSealOpen(t *testing.T) {
	for _, s := range ikeSuites() {
		t.Run(s.String(), func(t *testing.T) {
			seal, open := cipherPair(t, s, nil)
			aad := []byte("IKE header and SK payload header")
			for _, n := range []int{0, 1, 14, 15, 16, 17, 31, 32, 100, 500, 1400} {
				pt := make([]byte, n)
				rand.Read(pt)
				prefix := []byte("prefix")
				sealed, err := seal.Seal(bytes.Clone(prefix), aad, pt)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(sealed, prefix) {
					t.Fatalf("Seal changed dst")
				}
				body := sealed[len(prefix):]
				if len(body) != seal.SealedLen(n) {
					t.Errorf("Seal(%d) gave %d octets, SealedLen says %d", n, len(body), seal.SealedLen(n))
				}
				if _, ok := seal.(*cbcHMAC); ok && (len(body)-integICVLen(s.Integ))%aes.BlockSize != 0 {
					t.Errorf("CBC body of %d octets is not whole blocks", len(body))
				}
				got, err := open.Open([]byte("dst"), aad, body)
				if err != nil {
					t.Fatalf("Open(Seal(%d octets)): %v", n, err)
				}
				if !bytes.Equal(got, append([]byte("dst"), pt...)) {
					t.Errorf("Open(Seal(%x)) = %x", pt, got)
				}
			}
		})
	}
}

// TestSealInPlace seals a plaintext that the codec wrote into the spare
// capacity of dst, right after the header or after room for the IV.
func TestSealInPlace(t *testing.T) {
	for _, s := range ikeSuites() {
		seal, open := cipherPair(t, s, nil)
		for _, off := range []int{0, 8, 16} {
			t.Run(fmt.Sprintf("%v/%d", s, off), func(t *testing.T) {
				const header = 32
				pt := make([]byte, 123)
				rand.Read(pt)
				buf := make([]byte, header+off+len(pt)+200)
				rand.Read(buf[:header])
				copy(buf[header+off:], pt)
				msg, err := seal.Seal(buf[:header], buf[:header], buf[header+off:header+off+len(pt)])
				if err != nil {
					t.Fatal(err)
				}
				if &msg[0] != &buf[0] {
					t.Error("Seal reallocated though dst had room")
				}
				got, err := open.Open(nil, msg[:header], msg[header:])
				if err != nil || !bytes.Equal(got, pt) {
					t.Errorf("Open = %x, %v; want %x", got, err, pt)
				}
			})
		}
	}
}

// TestOpenTamper changes every octet of the authenticated data and of the
// body: each change must fail the integrity check (RFC 7296 §3.14: the ICV
// covers the message from the IKE header through the encrypted data).
func TestOpenTamper(t *testing.T) {
	for _, s := range ikeSuites() {
		t.Run(s.String(), func(t *testing.T) {
			seal, open := cipherPair(t, s, nil)
			aad := []byte("0123456789abcdef0123456789abcdef")
			body, err := seal.Seal(nil, aad, []byte("inner payloads"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range aad {
				a := bytes.Clone(aad)
				a[i] ^= 0x01
				if _, err := open.Open(nil, a, body); !errors.Is(err, ErrIntegrity) {
					t.Fatalf("aad octet %d changed: %v", i, err)
				}
			}
			for i := range body {
				b := bytes.Clone(body)
				b[i] ^= 0x80
				if _, err := open.Open(nil, aad, b); !errors.Is(err, ErrIntegrity) {
					t.Fatalf("body octet %d changed: %v", i, err)
				}
			}
			other, _ := cipherPair(t, s, nil)
			if _, err := other.Open(nil, aad, body); !errors.Is(err, ErrIntegrity) {
				t.Fatalf("other key: %v", err)
			}
		})
	}
}

// TestOpenTruncated opens every prefix of a valid body and a few extended
// ones: all must fail cleanly.
func TestOpenTruncated(t *testing.T) {
	for _, s := range ikeSuites() {
		t.Run(s.String(), func(t *testing.T) {
			seal, open := cipherPair(t, s, nil)
			body, err := seal.Seal(nil, nil, make([]byte, 40))
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; n < len(body); n++ {
				_, err := open.Open(nil, nil, body[:n])
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIntegrity) {
					t.Fatalf("Open of %d octets: %v", n, err)
				}
			}
			for _, extra := range []int{1, 16} {
				_, err := open.Open(nil, nil, append(bytes.Clone(body), make([]byte, extra)...))
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIntegrity) {
					t.Fatalf("Open with %d more octets: %v", extra, err)
				}
			}
		})
	}
}

// TestOpenPadding covers the Padding and Pad Length fields of RFC 7296
// §3.14: padding may hold any value, up to 255 octets, and a pad length
// beyond the decrypted data is an error.
func TestOpenPadding(t *testing.T) {
	for _, s := range ikeSuites() {
		t.Run(s.String(), func(t *testing.T) {
			seal, open := cipherPair(t, s, nil)
			tests := []struct {
				name string
				raw  []byte // decrypted body: payloads | padding | pad length
				want []byte // nil: ErrMalformed
			}{
				{"no padding", append(bytes.Repeat([]byte{'p'}, 31), 0), bytes.Repeat([]byte{'p'}, 31)},
				{"random padding", append([]byte("payloads"), 0xde, 0xad, 0xbe, 0xef, 0x55, 0xaa, 0x11, 7), []byte("payloads")},
				{"only padding", append(bytes.Repeat([]byte{0xee}, 15), 15), []byte{}},
				{"255 octets of padding", append(bytes.Repeat([]byte{0xee}, 255), 255), []byte{}},
				{"pad length too large", append(bytes.Repeat([]byte{0xee}, 15), 16), nil},
				{"pad length 255 in 16 octets", append(bytes.Repeat([]byte{0xee}, 15), 255), nil},
			}
			for _, tt := range tests {
				got, err := open.Open(nil, nil, sealRaw(t, seal, nil, tt.raw))
				switch {
				case tt.want == nil && !errors.Is(err, ErrMalformed):
					t.Errorf("%s: Open = %x, %v; want ErrMalformed", tt.name, got, err)
				case tt.want != nil && (err != nil || !bytes.Equal(got, tt.want)):
					t.Errorf("%s: Open = %x, %v; want %x", tt.name, got, err, tt.want)
				}
			}
		})
	}
	// AES-GCM has no block alignment: a single Pad Length octet is a body.
	s := Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 128, PRF: ikev2.PRFHMACSHA1, DH: ikev2.DHECP256}
	seal, open := cipherPair(t, s, nil)
	for _, raw := range [][]byte{{0}, {1}, {}} {
		got, err := open.Open(nil, nil, sealRaw(t, seal, nil, raw))
		if (len(raw) == 1 && raw[0] == 0) != (err == nil && len(got) == 0) {
			t.Errorf("GCM body %x: Open = %x, %v", raw, got, err)
		}
	}
}

// TestIVs checks RFC 7296 §3.14 (random CBC IVs) and RFC 5282 §3.1 (a GCM IV
// never repeats under one key).
func TestIVs(t *testing.T) {
	for _, s := range ikeSuites() {
		seal, _ := cipherPair(t, s, nil)
		ivLen := aes.BlockSize
		if s.Encr.AEAD() {
			ivLen = gcmIVLen
		}
		seen := map[string]bool{}
		for i := range 100 {
			body, err := seal.Seal(nil, nil, []byte("same plaintext"))
			if err != nil {
				t.Fatal(err)
			}
			iv := string(body[:ivLen])
			if seen[iv] {
				t.Fatalf("%v: IV %x repeated", s, iv)
			}
			seen[iv] = true
			if s.Encr.AEAD() && binary.BigEndian.Uint64(body[:8]) != uint64(i+1) {
				t.Errorf("%v: GCM IV %x, want counter %d", s, iv, i+1)
			}
		}
	}
	// The counter must not wrap around to a used IV.
	s := Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 256, PRF: ikev2.PRFHMACSHA1, DH: ikev2.DHECP256}
	seal, _ := cipherPair(t, s, nil)
	seal.(*gcm).ctr.Store(^uint64(0) - 1)
	if _, err := seal.Seal(nil, nil, nil); err != nil {
		t.Fatalf("last IV: %v", err)
	}
	for range 2 {
		if _, err := seal.Seal(nil, nil, nil); err == nil {
			t.Fatal("Seal after the last IV succeeded")
		}
	}
}

func TestNewCipherErrors(t *testing.T) {
	cbc := Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: 128, PRF: ikev2.PRFHMACSHA1, Integ: ikev2.IntegHMACSHA1_96, DH: ikev2.DHMODP2048}
	gcm := Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 128, PRF: ikev2.PRFHMACSHA1, DH: ikev2.DHMODP2048}
	esp := Suite{Protocol: ikev2.ProtocolESP, Encr: ikev2.EncrAESGCM16, KeyLen: 128}
	tests := []struct {
		name       string
		s          Suite
		encr, auth int
	}{
		{"CBC short key", cbc, 15, 20},
		{"CBC long integrity key", cbc, 16, 21},
		{"CBC no integrity key", cbc, 16, 0},
		{"GCM without salt", gcm, 16, 0},
		{"GCM with integrity key", gcm, 20, 20},
		{"ESP suite", esp, 20, 0},
		{"bad key length", Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: 100, PRF: ikev2.PRFHMACSHA1, Integ: ikev2.IntegHMACSHA1_96, DH: ikev2.DHMODP2048}, 12, 20},
	}
	for _, tt := range tests {
		if _, err := NewCipher(tt.s, make(Key, tt.encr), make(Key, tt.auth)); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// TestCiphers checks the directions of IKEKeys.Ciphers (RFC 7296 §2.14:
// SK_ei and SK_ai protect the initiator's messages).
func TestCiphers(t *testing.T) {
	for _, s := range []Suite{ikeSuites()[1], ikeSuites()[4]} {
		skeyseed := Key(bytes.Repeat([]byte{7}, 32))
		keys, err := s.IKEKeys(skeyseed, make([]byte, 16), make([]byte, 16), 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		iOut, iIn, err := keys.Ciphers(s, true)
		if err != nil {
			t.Fatal(err)
		}
		rOut, rIn, err := keys.Ciphers(s, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name      string
			out, in   Cipher
			encr, mac Key
		}{{"initiator to responder", iOut, rIn, keys.EI, keys.AI}, {"responder to initiator", rOut, iIn, keys.ER, keys.AR}} {
			body, err := c.out.Seal(nil, nil, []byte(c.name))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := c.in.Open(nil, nil, body); err != nil || string(got) != c.name {
				t.Errorf("%v %s: Open = %q, %v", s, c.name, got, err)
			}
			direct, err := NewCipher(s, c.encr, c.mac)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := direct.Open(nil, nil, body); err != nil {
				t.Errorf("%v %s: not under the expected keys: %v", s, c.name, err)
			}
		}
		if _, _, err := (IKEKeys{}).Ciphers(s, true); err == nil {
			t.Errorf("%v: Ciphers without keys succeeded", s)
		}
		if _, _, err := (IKEKeys{EI: keys.EI, AI: keys.AI}).Ciphers(s, true); err == nil {
			t.Errorf("%v: Ciphers without the responder's keys succeeded", s)
		}
	}
}

// fuzzOpen opens arbitrary bodies (which must fail cleanly or round-trip)
// and decrypts arbitrary plaintexts (whose padding must be checked).
func fuzzOpen(f *testing.F, s Suite) {
	key := []byte("fuzz key seed")
	seal, open := cipherPair(f, s, key)
	aad := []byte("0123456789abcdef0123456789ab\x2e\x00\x00\x40")
	for _, n := range []int{0, 1, 15, 16, 64, 500} {
		body, err := seal.Seal(nil, aad, bytes.Repeat([]byte{byte(n)}, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(aad, body)
	}
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, aad, body []byte) {
		pt, err := open.Open(nil, aad, body)
		switch {
		case err == nil:
			again, err := seal.Seal(nil, aad, pt)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := open.Open(nil, aad, again); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("re-sealed %x opened as %x, %v", pt, got, err)
			}
		case !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIntegrity):
			t.Fatalf("unexpected error %v", err)
		}

		raw := body
		if !s.Encr.AEAD() {
			raw = raw[:len(raw)/aes.BlockSize*aes.BlockSize]
		}
		pt, err = open.Open(nil, aad, sealRaw(t, seal, aad, raw))
		if len(raw) == 0 || int(raw[len(raw)-1]) >= len(raw) {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decrypted body %x: Open = %x, %v; want ErrMalformed", raw, pt, err)
			}
			return
		}
		if want := raw[:len(raw)-1-int(raw[len(raw)-1])]; err != nil || !bytes.Equal(pt, want) {
			t.Fatalf("decrypted body %x: Open = %x, %v; want %x", raw, pt, err, want)
		}
	})
}

func FuzzOpenCBC(f *testing.F) {
	fuzzOpen(f, Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESCBC, KeyLen: 256, PRF: ikev2.PRFHMACSHA256, Integ: ikev2.IntegHMACSHA256_128, DH: ikev2.DHMODP2048})
}

func FuzzOpenGCM(f *testing.F) {
	fuzzOpen(f, Suite{Protocol: ikev2.ProtocolIKE, Encr: ikev2.EncrAESGCM16, KeyLen: 256, PRF: ikev2.PRFHMACSHA256, DH: ikev2.DHECP256})
}

// TestCipherNotPrinted: a cipher printed (any verb, alone or in a struct)
// or logged shows no key: not the integrity key's bytes, which it holds
// as they are.
func TestCipherNotPrinted(t *testing.T) {
	for _, s := range ikeSuites() {
		c, _ := cipherPair(t, s, []byte{0xAB})
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, nil)).Info("cipher", "c", c)
		fmt.Fprintf(&b, "%v %+v %#v %x %s\n", c, c, c, c, []Cipher{c})
		fmt.Fprintf(&b, "%+v\n", struct{ C Cipher }{c})
		// The integrity key starts 0xAB 0xAA: 171 170 as fmt prints bytes.
		if out := b.String(); strings.Contains(out, "171 170") || strings.Contains(out, "abaa") {
			t.Errorf("%s: a key shows:\n%s", s, b.String())
		}
		if !strings.Contains(b.String(), "redacted") {
			t.Errorf("%s: printed as:\n%s", s, b.String())
		}
	}
}
