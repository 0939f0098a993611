package suite

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// sigKeys are the keys the signature tests share: generating RSA keys is slow.
var sigKeys = sync.OnceValue(func() (k struct {
	p256, p384, p521 *ecdsa.PrivateKey
	rsa              *rsa.PrivateKey
}) {
	var err error
	for _, e := range []struct {
		key   **ecdsa.PrivateKey
		curve elliptic.Curve
	}{{&k.p256, elliptic.P256()}, {&k.p384, elliptic.P384()}, {&k.p521, elliptic.P521()}} {
		if *e.key, err = ecdsa.GenerateKey(e.curve, rand.Reader); err != nil {
			panic(err)
		}
	}
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	return k
})

// sigHex decodes hex with spaces.
func sigHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// der returns a DER TLV with a short-form length.
func der(tag byte, content ...[]byte) []byte {
	c := bytes.Join(content, nil)
	return append([]byte{tag, byte(len(c))}, c...)
}

var sigOctets = []byte("InitiatorSignedOctets: RealMessage1 | NonceRData | MACedIDForI")

// TestSigSignatureHashes covers the SIGNATURE_HASH_ALGORITHMS notify data
// (RFC 7427 §4).
func TestSigSignatureHashes(t *testing.T) {
	hs := SignatureHashes()
	if want := []SignatureHash{HashSHA256, HashSHA384, HashSHA512}; !slices.Equal(hs, want) {
		t.Fatalf("SignatureHashes() = %v, want %v", hs, want)
	}
	data := AppendSignatureHashes([]byte{0xff}, hs)
	if want := sigHex(t, "ff 0002 0003 0004"); !bytes.Equal(data, want) {
		t.Fatalf("AppendSignatureHashes = %x, want %x", data, want)
	}
	got, err := ParseSignatureHashes(data[1:])
	if err != nil || !slices.Equal(got, hs) {
		t.Fatalf("ParseSignatureHashes = %v, %v; want %v", got, err, hs)
	}
	// The strongSwan IKE_SA_INIT of ../../wire/ikev2 announces 2 to 5;
	// unknown identifiers are kept.
	got, err = ParseSignatureHashes(sigHex(t, "0002 0003 0004 0005 ffff"))
	if want := []SignatureHash{2, 3, 4, 5, 0xffff}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseSignatureHashes = %v, %v; want %v", got, err, want)
	}
	if got, err := ParseSignatureHashes(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseSignatureHashes(nil) = %v, %v", got, err)
	}
	if _, err := ParseSignatureHashes(sigHex(t, "0002 00")); err == nil {
		t.Error("ParseSignatureHashes of an odd length succeeded")
	}
	if got, err := ParseSignatureHashes(make([]byte, 2*1000)); err != nil || len(got) != maxSignatureHashes {
		t.Errorf("ParseSignatureHashes of 1000 ids kept %d, %v; want %d", len(got), err, maxSignatureHashes)
	}
	for h, want := range map[SignatureHash]string{HashSHA1: "SHA1", HashSHA256: "SHA2_256", HashSHA384: "SHA2_384", HashSHA512: "SHA2_512", 5: "SignatureHash(5)"} {
		if h.String() != want {
			t.Errorf("%d.String() = %q, want %q", uint16(h), h.String(), want)
		}
	}
	for m, want := range map[ikev2.AuthMethod]string{ikev2.AuthECDSA256: "ECDSA_SHA256_P256", ikev2.AuthECDSA384: "ECDSA_SHA384_P384", ikev2.AuthECDSA521: "ECDSA_SHA512_P521"} {
		if m.String() != want {
			t.Errorf("AuthMethod(%d).String() = %q, want %q", uint8(m), m.String(), want)
		}
	}
}

// TestSigAlgorithmIdentifier checks the DER AlgorithmIdentifiers SignAuth
// sends against RFC 7427 appendix A: no parameters for ECDSA, NULL ones for
// RSA.
func TestSigAlgorithmIdentifier(t *testing.T) {
	for _, tc := range []struct {
		key  keyType
		hash SignatureHash
		want string
	}{
		{keyECDSA, HashSHA256, "30 0a 06 08 2a 86 48 ce 3d 04 03 02"},
		{keyECDSA, HashSHA384, "30 0a 06 08 2a 86 48 ce 3d 04 03 03"},
		{keyECDSA, HashSHA512, "30 0a 06 08 2a 86 48 ce 3d 04 03 04"},
		{keyRSA, HashSHA256, "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00"},
		{keyRSA, HashSHA384, "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0c 05 00"},
		{keyRSA, HashSHA512, "30 0d 06 09 2a 86 48 86 f7 0d 01 01 0d 05 00"},
	} {
		got, err := algorithmIdentifier(tc.key, tc.hash)
		if want := sigHex(t, tc.want); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%v with %v: %x, %v; want %x", tc.key, tc.hash, got, err, want)
		}
	}
	if _, err := algorithmIdentifier(keyRSA, 5); !errors.Is(err, ErrUnsupported) {
		t.Errorf("RSA with hash 5: %v, want ErrUnsupported", err)
	}
	k := sigKeys()
	for _, tc := range []struct {
		key  crypto.Signer
		want string
	}{
		{k.p256, "0c 30 0a 06 08 2a 86 48 ce 3d 04 03 02"},
		{k.rsa, "0f 30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00"},
	} {
		method, data, err := SignAuth(tc.key, sigOctets, SignatureHashes())
		if want := sigHex(t, tc.want); err != nil || method != ikev2.AuthDigitalSignature || !bytes.HasPrefix(data, want) {
			t.Errorf("SignAuth with %T: %v %x, %v; want %v %x…", tc.key, method, data, err, ikev2.AuthDigitalSignature, want)
		}
	}
}

// TestSignAuth signs with every key type, with and without the peer's
// SIGNATURE_HASH_ALGORITHMS, checks the method and algorithm chosen, and
// that VerifyAuth accepts the result and refuses it altered.
func TestSignAuth(t *testing.T) {
	k := sigKeys()
	for _, tc := range []struct {
		name   string
		key    crypto.Signer
		peer   []SignatureHash
		method ikev2.AuthMethod
		alg    string // method 14: the AlgorithmIdentifier, hex
		len    int    // methods 9 to 11: the length of r||s
	}{
		{"P-256 legacy", k.p256, nil, ikev2.AuthECDSA256, "", 64},
		{"P-384 legacy", k.p384, nil, ikev2.AuthECDSA384, "", 96},
		{"P-521 legacy", k.p521, nil, ikev2.AuthECDSA521, "", 132},
		{"RSA legacy", k.rsa, nil, ikev2.AuthRSASignature, "", 0},
		{"P-256 SHA-1 only", k.p256, []SignatureHash{HashSHA1}, ikev2.AuthECDSA256, "", 64},
		{"RSA unknown only", k.rsa, []SignatureHash{5, 0xffff}, ikev2.AuthRSASignature, "", 0},
		{"P-256 ours", k.p256, SignatureHashes(), ikev2.AuthDigitalSignature, "300a06082a8648ce3d040302", 0},
		{"P-384 ours", k.p384, SignatureHashes(), ikev2.AuthDigitalSignature, "300a06082a8648ce3d040303", 0},
		{"P-521 ours", k.p521, SignatureHashes(), ikev2.AuthDigitalSignature, "300a06082a8648ce3d040304", 0},
		{"P-384 SHA-256 only", k.p384, []SignatureHash{HashSHA1, HashSHA256}, ikev2.AuthDigitalSignature, "300a06082a8648ce3d040302", 0},
		{"P-256 SHA-384 and SHA-512", k.p256, []SignatureHash{HashSHA384, HashSHA512}, ikev2.AuthDigitalSignature, "300a06082a8648ce3d040304", 0},
		{"RSA ours", k.rsa, SignatureHashes(), ikev2.AuthDigitalSignature, "300d06092a864886f70d01010b0500", 0},
		{"RSA SHA-384 and SHA-512", k.rsa, []SignatureHash{HashSHA384, HashSHA512, HashSHA1}, ikev2.AuthDigitalSignature, "300d06092a864886f70d01010d0500", 0},
		{"RSA SHA-384", k.rsa, []SignatureHash{HashSHA384}, ikev2.AuthDigitalSignature, "300d06092a864886f70d01010c0500", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, data, err := SignAuth(tc.key, sigOctets, tc.peer)
			if err != nil {
				t.Fatal(err)
			}
			if method != tc.method {
				t.Fatalf("method %v, want %v", method, tc.method)
			}
			switch {
			case tc.alg != "":
				ai := sigHex(t, tc.alg)
				if !bytes.HasPrefix(data, append([]byte{byte(len(ai))}, ai...)) {
					t.Fatalf("AUTH data %x, want the AlgorithmIdentifier %x", data, ai)
				}
			case tc.len != 0 && len(data) != tc.len:
				t.Fatalf("AUTH data of %d octets, want %d", len(data), tc.len)
			}
			pub := tc.key.Public()
			if err := VerifyAuth(pub, method, data, sigOctets); err != nil {
				t.Fatal(err)
			}
			changed := bytes.Clone(sigOctets)
			changed[len(changed)-1] ^= 1
			if err := VerifyAuth(pub, method, data, changed); err == nil {
				t.Error("verifies over changed octets")
			}
			for _, i := range []int{len(data) - 1, len(data) / 2, 0} {
				bad := bytes.Clone(data)
				bad[i] ^= 0x10
				if err := VerifyAuth(pub, method, bad, sigOctets); err == nil {
					t.Errorf("verifies with octet %d changed", i)
				}
			}
			if err := VerifyAuth(pub, method, data[:len(data)-1], sigOctets); err == nil {
				t.Error("verifies cut short")
			}
			if err := VerifyAuth(pub, method, append(bytes.Clone(data), 0), sigOctets); err == nil {
				t.Error("verifies with an octet appended")
			}
		})
	}
}

// TestSignAuthErrors covers keys SignAuth cannot use.
func TestSignAuthErrors(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{
		{"P-224", p224},
		{"no key", nil},
		{"other key type", otherSigner{}},
	} {
		if _, _, err := SignAuth(tc.key, sigOctets, nil); err == nil || !strings.HasPrefix(err.Error(), "suite: sign AUTH: ") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, _, err := SignAuth(failingSigner{sigKeys().p256}, sigOctets, nil); err == nil {
		t.Error("a failing signer succeeded")
	}
}

type otherSigner struct{}

func (otherSigner) Public() crypto.PublicKey { return "key" }
func (otherSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("not reached")
}

type failingSigner struct{ *ecdsa.PrivateKey }

func (failingSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("token removed")
}

// TestVerifyAuthRFC4754 verifies the test vectors of RFC 4754 §8 (with
// erratum 4748): the key w signs "abc" with methods 9, 10 and 11.
func TestVerifyAuthRFC4754(t *testing.T) {
	for _, tc := range []struct {
		method ikev2.AuthMethod
		curve  elliptic.Curve
		w, rs  string
	}{
		{ikev2.AuthECDSA256, elliptic.P256(),
			"DC51D386 6A15BACD E33D96F9 92FCA99D A7E6EF09 34E70975 59C27F16 14C88A7F",
			"CB28E099 9B9C7715 FD0A80D8 E47A7707 9716CBBF 917DD72E 97566EA1 C066957C 86FA3BB4 E26CAD5B F90B7F81 899256CE 7594BB1E A0C89212 748BFF3B 3D5B0315"},
		{ikev2.AuthECDSA384, elliptic.P384(),
			"0BEB6466 34BA8773 5D77AE48 09A0EBEA 865535DE 4C1E1DCB 692E8470 8E81A5AF 62E528C3 8B2A81B3 5309668D 73524D9F",
			"FB017B91 4E291494 32D8BAC2 9A514640 B46F53DD AB2C6994 8084E293 0F1C8F7E 08E07C9C 63F2D21A 07DCB56A 6AF56EB3 " +
				"B263A130 5E057F98 4D38726A 1B468741 09F417BC A112674C 528262A4 0A629AF1 CBB9F516 CE0FA7D2 FF630863 A00E8B9F"},
		{ikev2.AuthECDSA521, elliptic.P521(),
			"0065FDA3 409451DC AB0A0EAD 45495112 A3D813C1 7BFD34BD F8C1209D 7DF58491 20597779 060A7FF9 D704ADF7 8B570FFA " +
				"D6F062E9 5C7E0C5D 5481C5B1 53B48B37 5FA1",
			"0154FD38 36AF92D0 DCA57DD5 341D3053 988534FD E8318FC6 AAAAB68E 2E6F4339 B19F2F28 1A7E0B22 C269D93C F8794A92 " +
				"78880ED7 DBB8D936 2CAEACEE 54432055 22510177 05A70302 90D1CEB6 05A9A1BB 03FF9CDD 521E87A6 96EC926C 8C10C836 " +
				"2DF49753 67101F67 D1CF9BCC BF2F3D23 9534FA50 9E70AAC8 51AE01AA C68D62F8 66472660"},
	} {
		key, err := ecdsa.ParseRawPrivateKey(tc.curve, sigHex(t, tc.w))
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyAuth(&key.PublicKey, tc.method, sigHex(t, tc.rs), []byte("abc")); err != nil {
			t.Errorf("%v: %v", tc.method, err)
		}
		if err := VerifyAuth(&key.PublicKey, tc.method, sigHex(t, tc.rs), []byte("abd")); err == nil {
			t.Errorf("%v: verifies over other octets", tc.method)
		}
	}
}

// digitalAuth returns method 14 AUTH data with AlgorithmIdentifier ai.
func digitalAuth(ai, sig []byte) []byte {
	return append(append([]byte{byte(len(ai))}, ai...), sig...)
}

// TestVerifyAuthMismatch checks that a signature is refused with a key of
// the wrong type or curve, and method 14 algorithms that are refused.
func TestVerifyAuthMismatch(t *testing.T) {
	k := sigKeys()
	sign := func(key crypto.Signer, peer []SignatureHash) (ikev2.AuthMethod, []byte) {
		t.Helper()
		m, d, err := SignAuth(key, sigOctets, peer)
		if err != nil {
			t.Fatal(err)
		}
		return m, d
	}
	m256, d256 := sign(k.p256, nil)
	m384, d384 := sign(k.p384, nil)
	mRSA, dRSA := sign(k.rsa, nil)
	mDS, dDS := sign(k.p256, SignatureHashes())
	mDSRSA, dDSRSA := sign(k.rsa, SignatureHashes())

	digest := sha256.Sum256(sigOctets)
	sigRSA256, err := rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sigECDSA256, err := ecdsa.SignASN1(rand.Reader, k.p256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	digest1 := sha1.Sum(sigOctets)
	sigRSA1, err := rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA1, digest1[:])
	if err != nil {
		t.Fatal(err)
	}
	sigECDSA1, err := ecdsa.SignASN1(rand.Reader, k.p256, digest1[:])
	if err != nil {
		t.Fatal(err)
	}
	oidRSA256 := der(0x06, sigHex(t, "2a864886f70d01010b"))
	oidECDSA256 := der(0x06, sigHex(t, "2a8648ce3d040302"))

	for _, tc := range []struct {
		name   string
		pub    crypto.PublicKey
		method ikev2.AuthMethod
		data   []byte
		want   string // in the error
		unsup  bool   // errors.Is(err, ErrUnsupported)
	}{
		{"method 9 with a P-384 key", &k.p384.PublicKey, m256, d256, "key is on P-384", false},
		{"method 10 with a P-256 key", &k.p256.PublicKey, m384, d384, "key is on P-256", false},
		{"method 9 with an RSA key", &k.rsa.PublicKey, m256, d256, "needs an ECDSA key, have an RSA key", false},
		{"method 1 with an ECDSA key", &k.p256.PublicKey, mRSA, dRSA, "needs an RSA key, have an ECDSA key on P-256", false},
		{"method 14 ECDSA with an RSA key", &k.rsa.PublicKey, mDS, dDS, "ecdsa-with-SHA256: needs an ECDSA key, have an RSA key", false},
		{"method 14 ECDSA with a P-384 key", &k.p384.PublicKey, mDS, dDS, "ecdsa-with-SHA256: signature does not verify", false},
		{"method 14 RSA with an ECDSA key", &k.p256.PublicKey, mDSRSA, dDSRSA, "sha256WithRSAEncryption: needs an RSA key, have an ECDSA key on P-256", false},
		{"method 1 with a string key", "key", mRSA, dRSA, "needs an RSA key, have a string key", false},
		{"method 14 with no key", nil, mDS, dDS, "needs an ECDSA key, have no key", false},
		{"method 14 sha1WithRSAEncryption", &k.rsa.PublicKey, ikev2.AuthDigitalSignature,
			digitalAuth(sigHex(t, "300d06092a864886f70d0101050500"), sigRSA1), "sha1WithRSAEncryption: SHA-1 refused", true},
		{"method 14 ecdsa-with-SHA1", &k.p256.PublicKey, ikev2.AuthDigitalSignature,
			digitalAuth(sigHex(t, "300906072a8648ce3d0401"), sigECDSA1), "ecdsa-with-SHA1: SHA-1 refused", true},
		{"method 14 ecdsa-with-SHA256 with NULL", &k.p256.PublicKey, ikev2.AuthDigitalSignature,
			digitalAuth(der(0x30, oidECDSA256, der(0x05)), sigECDSA256), "ecdsa-with-SHA256: parameters present", false},
		{"method 14 RSA with INTEGER parameters", &k.rsa.PublicKey, ikev2.AuthDigitalSignature,
			digitalAuth(der(0x30, oidRSA256, der(0x02, []byte{0})), sigRSA256), "parameters neither NULL nor absent", false},
		{"method 14 unknown algorithm", &k.rsa.PublicKey, ikev2.AuthDigitalSignature,
			digitalAuth(der(0x30, der(0x06, sigHex(t, "2b6570"))), make([]byte, 64)), "algorithm 1.3.101.112", true},
		{"method 2", &k.rsa.PublicKey, ikev2.AuthSharedKeyMIC, dRSA, "SHARED_KEY_MIC: not a signature method", true},
		{"method 14 empty", &k.rsa.PublicKey, ikev2.AuthDigitalSignature, nil, "no ASN.1 length", false},
		{"method 14 length 0", &k.rsa.PublicKey, ikev2.AuthDigitalSignature, []byte{0, 1, 2}, "ASN.1 length 0", false},
		{"method 14 length past the end", &k.rsa.PublicKey, ikev2.AuthDigitalSignature, []byte{16, 0x30, 0}, "ASN.1 length 16 with 2 octets", false},
		{"method 14 no signature", &k.rsa.PublicKey, ikev2.AuthDigitalSignature,
			digitalAuth(der(0x30, oidRSA256, der(0x05)), nil), "no signature", false},
		{"method 14 octets after the AlgorithmIdentifier", &k.rsa.PublicKey, ikev2.AuthDigitalSignature,
			digitalAuth(append(der(0x30, oidRSA256, der(0x05)), 0), sigRSA256), "trailing data (1 octets)", false},
		{"method 14 not DER", &k.rsa.PublicKey, ikev2.AuthDigitalSignature,
			digitalAuth([]byte{0x31, 0}, sigRSA256), "AlgorithmIdentifier: ", false},
	} {
		err := VerifyAuth(tc.pub, tc.method, tc.data, sigOctets)
		switch {
		case err == nil:
			t.Errorf("%s: verifies", tc.name)
		case !strings.HasPrefix(err.Error(), "suite: verify AUTH: "+tc.method.String()+": ") || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error %q, want it to contain %q", tc.name, err, tc.want)
		case errors.Is(err, ErrUnsupported) != tc.unsup:
			t.Errorf("%s: errors.Is(%q, ErrUnsupported) = %v", tc.name, err, !tc.unsup)
		}
	}

	// RFC 4055 §5: RSA signature algorithms without parameters are accepted.
	if err := VerifyAuth(&k.rsa.PublicKey, ikev2.AuthDigitalSignature, digitalAuth(der(0x30, oidRSA256), sigRSA256), sigOctets); err != nil {
		t.Errorf("sha256WithRSAEncryption without parameters: %v", err)
	}
}

// pssAlgorithmIdentifier returns an RSASSA-PSS AlgorithmIdentifier (RFC 4055
// §3.1) whose hash and MGF1 hash are the SHA-2 hashes with the given last
// octets of their identifiers (1 SHA-256, 2 SHA-384, 3 SHA-512), with NULL
// parameters, and whose salt length and trailer field are the INTEGERs with
// contents salt and trailer, left out when nil.
func pssAlgorithmIdentifier(hash, mgfHash byte, salt, trailer []byte) []byte {
	hashAI := func(b byte) []byte {
		return der(0x30, der(0x06, []byte{0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, b}), der(0x05))
	}
	params := [][]byte{
		der(0xa0, hashAI(hash)),
		der(0xa1, der(0x30, der(0x06, []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08}), hashAI(mgfHash))),
	}
	if salt != nil {
		params = append(params, der(0xa2, der(0x02, salt)))
	}
	if trailer != nil {
		params = append(params, der(0xa3, der(0x02, trailer)))
	}
	return der(0x30, der(0x06, []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a}), der(0x30, params...))
}

// TestVerifyAuthPSS verifies method 14 RSASSA-PSS signatures made with
// crypto/rsa, with hand-encoded RSASSA-PSS-params.
func TestVerifyAuthPSS(t *testing.T) {
	k := sigKeys()
	pub := &k.rsa.PublicKey
	// RFC 7427 appendix A.4.3: RSASSA-PSS with SHA-256, MGF1 with SHA-256 and
	// a 32-octet salt.
	ai256 := sigHex(t, "3041 0609 2a86 4886 f70d 0101 0a30 34a0 0f30 0d06 0960 8648 0165 0304 0201 0500 "+
		"a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203 0201 20")
	if got := pssAlgorithmIdentifier(1, 1, []byte{32}, nil); !bytes.Equal(got, ai256) {
		t.Fatalf("pssAlgorithmIdentifier = %x, want %x", got, ai256)
	}
	signPSS := func(h crypto.Hash, salt int) []byte {
		t.Helper()
		d := h.New()
		d.Write(sigOctets)
		sig, err := rsa.SignPSS(rand.Reader, k.rsa, h, d.Sum(nil), &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	for _, tc := range []struct {
		name string
		h    crypto.Hash
		ai   []byte
	}{
		{"SHA-256", crypto.SHA256, ai256},
		{"SHA-384", crypto.SHA384, pssAlgorithmIdentifier(2, 2, []byte{48}, nil)},
		{"SHA-512", crypto.SHA512, pssAlgorithmIdentifier(3, 3, []byte{64}, []byte{1})},
	} {
		sig := signPSS(tc.h, tc.h.Size())
		data := digitalAuth(tc.ai, sig)
		if err := VerifyAuth(pub, ikev2.AuthDigitalSignature, data, sigOctets); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err := VerifyAuth(pub, ikev2.AuthDigitalSignature, data, sigOctets[1:]); err == nil {
			t.Errorf("%s: verifies over other octets", tc.name)
		}
		if err := VerifyAuth(&k.p256.PublicKey, ikev2.AuthDigitalSignature, data, sigOctets); err == nil || !strings.Contains(err.Error(), "RSASSA-PSS: needs an RSA key") {
			t.Errorf("%s with an ECDSA key: %v", tc.name, err)
		}
	}

	sig32 := signPSS(crypto.SHA256, 32)
	sig20 := signPSS(crypto.SHA256, 20)
	// The default salt length is 20 (RFC 4055 §3.1).
	if err := VerifyAuth(pub, ikev2.AuthDigitalSignature, digitalAuth(pssAlgorithmIdentifier(1, 1, nil, nil), sig20), sigOctets); err != nil {
		t.Errorf("default salt length: %v", err)
	}
	oidPSS := der(0x06, sigHex(t, "2a864886f70d01010a"))
	for _, tc := range []struct {
		name  string
		ai    []byte
		sig   []byte
		want  string
		unsup bool
	}{
		{"salt length 20 for 32", pssAlgorithmIdentifier(1, 1, []byte{20}, nil), sig32, "with SHA2_256: signature does not verify", false},
		{"default salt length for 32", pssAlgorithmIdentifier(1, 1, nil, nil), sig32, "signature does not verify", false},
		{"MGF1 with another hash", pssAlgorithmIdentifier(1, 2, []byte{32}, nil), sig32, "MGF1 with SHA2_384, hash SHA2_256", false},
		{"trailer field 2", pssAlgorithmIdentifier(1, 1, []byte{32}, []byte{2}), sig32, "trailer field 2", false},
		{"salt length past the key", pssAlgorithmIdentifier(1, 1, []byte{1, 1}, nil), sig32, "salt length 257", false},
		{"salt length negative", pssAlgorithmIdentifier(1, 1, []byte{0xe0}, nil), sig32, "salt length -32", false},
		{"salt length too large for an int", pssAlgorithmIdentifier(1, 1, bytes.Repeat([]byte{0x7f}, 9), nil), sig32, "parameters: ", false},
		{"parameters absent", der(0x30, oidPSS), sig32, "parameters absent, so SHA-1", true},
		{"hash absent", der(0x30, oidPSS, der(0x30)), sig32, "hash absent, so SHA-1", true},
		{"hash SHA-1", der(0x30, oidPSS, der(0x30, der(0xa0, der(0x30, der(0x06, sigHex(t, "2b0e03021a")), der(0x05))))), sig32, "SHA-1 refused", true},
		{"hash unknown", der(0x30, oidPSS, der(0x30, der(0xa0, der(0x30, der(0x06, sigHex(t, "608648016503040204")))))), sig32, "hash 2.16.840.1.101.3.4.2.4", true},
		{"MGF absent", der(0x30, oidPSS, der(0x30, der(0xa0, der(0x30, der(0x06, sigHex(t, "608648016503040201")))))), sig32, "want MGF1", false},
		{"parameters not a SEQUENCE", der(0x30, oidPSS, der(0x05)), sig32, "parameters: ", false},
	} {
		err := VerifyAuth(pub, ikev2.AuthDigitalSignature, digitalAuth(tc.ai, tc.sig), sigOctets)
		switch {
		case err == nil:
			t.Errorf("%s: verifies", tc.name)
		case !strings.HasPrefix(err.Error(), "suite: verify AUTH: DIGITAL_SIGNATURE: RSASSA-PSS: ") || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error %q, want it to contain %q", tc.name, err, tc.want)
		case errors.Is(err, ErrUnsupported) != tc.unsup:
			t.Errorf("%s: errors.Is(%q, ErrUnsupported) = %v", tc.name, err, !tc.unsup)
		}
	}
}

// TestVerifyAuthAllocBound checks that VerifyAuth allocates about as much
// for a megabyte of AUTH data as for a valid signature.
func TestVerifyAuthAllocBound(t *testing.T) {
	k := sigKeys()
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i)
	}
	data[0] = 0x0f
	copy(data[1:], sigHex(t, "300d06092a864886f70d01010b0500"))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, pub := range []crypto.PublicKey{&k.p256.PublicKey, &k.p521.PublicKey, &k.rsa.PublicKey} {
		for _, m := range []ikev2.AuthMethod{ikev2.AuthRSASignature, ikev2.AuthECDSA256, ikev2.AuthECDSA521, ikev2.AuthDigitalSignature} {
			if VerifyAuth(pub, m, data, sigOctets) == nil {
				t.Fatalf("%v verifies a megabyte", m)
			}
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
		t.Errorf("12 verifications of a megabyte allocated %d octets", n)
	}
}

// TestSigCertReqData checks the CERTREQ data of RFC 7296 §3.7: the SHA-1
// hashes of the SubjectPublicKeyInfo of each CA, each key once.
func TestSigCertReqData(t *testing.T) {
	k := sigKeys()
	var cas []*x509.Certificate
	for _, pub := range []crypto.PublicKey{&k.p256.PublicKey, &k.rsa.PublicKey, &k.p256.PublicKey} {
		spki, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, &x509.Certificate{RawSubjectPublicKeyInfo: spki}, nil)
	}
	a, b := sha1.Sum(cas[0].RawSubjectPublicKeyInfo), sha1.Sum(cas[2].RawSubjectPublicKeyInfo)
	if got, want := CertReqData(cas), append(a[:], b[:]...); !bytes.Equal(got, want) {
		t.Errorf("CertReqData = %x, want %x", got, want)
	}
	if got := CertReqData([]*x509.Certificate{nil, {}}); len(got) != 0 {
		t.Errorf("CertReqData of no keys = %x", got)
	}
}

// FuzzVerifyAuth checks that VerifyAuth never panics, whatever the method
// and data, with each kind of key. The seeds are valid AUTH data of every
// method.
func FuzzVerifyAuth(f *testing.F) {
	k := sigKeys()
	for _, key := range []crypto.Signer{k.p256, k.p384, k.p521, k.rsa} {
		for _, peer := range [][]SignatureHash{nil, SignatureHashes()} {
			m, data, err := SignAuth(key, sigOctets, peer)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(m), data)
		}
	}
	d := sha256.Sum256(sigOctets)
	sig, err := rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: 32})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(ikev2.AuthDigitalSignature), digitalAuth(pssAlgorithmIdentifier(1, 1, []byte{32}, []byte{1}), sig))
	pubs := []crypto.PublicKey{&k.p256.PublicKey, &k.p384.PublicKey, &k.p521.PublicKey, &k.rsa.PublicKey, nil}
	f.Fuzz(func(t *testing.T, method uint8, data []byte) {
		for _, pub := range pubs {
			if err := VerifyAuth(pub, ikev2.AuthMethod(method), data, sigOctets); err != nil && !strings.HasPrefix(err.Error(), "suite: verify AUTH: ") {
				t.Errorf("error %q", err)
			}
		}
	})
}
