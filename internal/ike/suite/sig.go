package suite

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// SignatureHash is an IKEv2 hash algorithm identifier, as carried in the
// SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4 and §7, IANA "IKEv2 Hash
// Algorithms").
type SignatureHash uint16

// Hash algorithms of signatures (RFC 7427 §7).
const (
	HashSHA1   SignatureHash = 1
	HashSHA256 SignatureHash = 2
	HashSHA384 SignatureHash = 3
	HashSHA512 SignatureHash = 4
)

// String returns the IANA name of h.
func (h SignatureHash) String() string {
	switch h {
	case HashSHA1:
		return "SHA1"
	case HashSHA256:
		return "SHA2_256"
	case HashSHA384:
		return "SHA2_384"
	case HashSHA512:
		return "SHA2_512"
	}
	return "SignatureHash(" + strconv.Itoa(int(h)) + ")"
}

// hashFunc returns the hash function of h, or zero when this package does
// not implement it.
func (h SignatureHash) hashFunc() crypto.Hash {
	switch h {
	case HashSHA1:
		return crypto.SHA1
	case HashSHA256:
		return crypto.SHA256
	case HashSHA384:
		return crypto.SHA384
	case HashSHA512:
		return crypto.SHA512
	}
	return 0
}

// digest returns the hash under h of msg; h must be one hashFunc knows.
func (h SignatureHash) digest(msg []byte) []byte {
	d := h.hashFunc().New()
	d.Write(msg)
	return d.Sum(nil)
}

// maxSignatureHashes bounds the identifiers ParseSignatureHashes keeps; the
// IANA registry has fewer than ten.
const maxSignatureHashes = 64

// SignatureHashes returns the hash algorithms vnetgw announces in its
// SIGNATURE_HASH_ALGORITHMS notify: SHA2-256, SHA2-384 and SHA2-512. SHA-1 is
// left out, so peers do not sign with it (RFC 8247 §3.2: MUST NOT).
func SignatureHashes() []SignatureHash {
	return []SignatureHash{HashSHA256, HashSHA384, HashSHA512}
}

// AppendSignatureHashes appends the Notification Data of a
// SIGNATURE_HASH_ALGORITHMS notify listing hs to b: 2-octet identifiers
// without padding (RFC 7427 §4).
func AppendSignatureHashes(b []byte, hs []SignatureHash) []byte {
	for _, h := range hs {
		b = binary.BigEndian.AppendUint16(b, uint16(h))
	}
	return b
}

// ParseSignatureHashes decodes the Notification Data of a
// SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4). Unknown identifiers are
// kept; identifiers after the first 64 are dropped. An odd length is an
// error.
func ParseSignatureHashes(data []byte) ([]SignatureHash, error) {
	if len(data)%2 != 0 {
		return nil, fmt.Errorf("suite: SIGNATURE_HASH_ALGORITHMS data of %d octets: not a list of 2-octet identifiers", len(data))
	}
	hs := make([]SignatureHash, min(len(data)/2, maxSignatureHashes))
	for i := range hs {
		hs[i] = SignatureHash(binary.BigEndian.Uint16(data[2*i:]))
	}
	return hs, nil
}

// pickHash returns the hash to sign with under method 14 given what the peer
// announced: preferred if announced, else the strongest announced SHA-2
// hash. It reports false when the peer announced none of them, and then the
// peer cannot verify a method 14 signature of ours (RFC 7427 §4).
func pickHash(preferred SignatureHash, peer []SignatureHash) (SignatureHash, bool) {
	have := func(h SignatureHash) bool {
		for _, p := range peer {
			if p == h {
				return true
			}
		}
		return false
	}
	if have(preferred) {
		return preferred, true
	}
	for _, h := range []SignatureHash{HashSHA512, HashSHA384, HashSHA256} {
		if have(h) {
			return h, true
		}
	}
	return 0, false
}

// keyType is the kind of public key a signature algorithm needs.
type keyType uint8

const (
	keyECDSA keyType = iota + 1
	keyRSA
)

// String names k for errors.
func (k keyType) String() string {
	if k == keyECDSA {
		return "ECDSA"
	}
	return "RSA"
}

// sigAlg is a signature algorithm of method 14 whose AlgorithmIdentifier has
// no parameters or NULL ones (RFC 7427 appendix A).
type sigAlg struct {
	name string
	oid  asn1.ObjectIdentifier
	key  keyType
	hash SignatureHash
}

// sigAlgs are the method 14 algorithms known by object identifier. The SHA-1
// ones are listed so that refusing them gives a precise error.
var sigAlgs = []sigAlg{
	{"ecdsa-with-SHA1", asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, keyECDSA, HashSHA1},
	{"ecdsa-with-SHA256", asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, keyECDSA, HashSHA256},
	{"ecdsa-with-SHA384", asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, keyECDSA, HashSHA384},
	{"ecdsa-with-SHA512", asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, keyECDSA, HashSHA512},
	{"sha1WithRSAEncryption", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}, keyRSA, HashSHA1},
	{"sha256WithRSAEncryption", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, keyRSA, HashSHA256},
	{"sha384WithRSAEncryption", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, keyRSA, HashSHA384},
	{"sha512WithRSAEncryption", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, keyRSA, HashSHA512},
}

// Object identifiers of RSASSA-PSS and its parameters (RFC 4055 §2.1, §3.1).
var (
	oidRSASSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	hashOIDs     = []struct {
		oid  asn1.ObjectIdentifier
		hash SignatureHash
	}{
		{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, HashSHA1},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, HashSHA256},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, HashSHA384},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, HashSHA512},
	}
)

// algorithmIdentifier returns the DER AlgorithmIdentifier of the method 14
// algorithm for key and hash: without parameters for ECDSA (RFC 5758 §3.2:
// MUST omit), with NULL ones for RSA (RFC 4055 §5: MUST be NULL).
func algorithmIdentifier(key keyType, hash SignatureHash) ([]byte, error) {
	for _, a := range sigAlgs {
		if a.key == key && a.hash == hash {
			ai := pkix.AlgorithmIdentifier{Algorithm: a.oid}
			if key == keyRSA {
				ai.Parameters = asn1.NullRawValue
			}
			return asn1.Marshal(ai)
		}
	}
	return nil, fmt.Errorf("%v with %v: %w", key, hash, ErrUnsupported)
}

// curveParams are the RFC 4754 parameters of an ECDSA curve.
type curveParams struct {
	name   string
	method ikev2.AuthMethod
	hash   SignatureHash
	size   int // octets of each of r and s (RFC 4754 §7)
}

// ecdsaCurve returns the parameters of the curve of pub, reporting false for
// curves other than P-256, P-384 and P-521.
func ecdsaCurve(pub *ecdsa.PublicKey) (curveParams, bool) {
	switch pub.Curve {
	case elliptic.P256():
		return curveParams{"P-256", ikev2.AuthECDSA256, HashSHA256, 32}, true
	case elliptic.P384():
		return curveParams{"P-384", ikev2.AuthECDSA384, HashSHA384, 48}, true
	case elliptic.P521():
		return curveParams{"P-521", ikev2.AuthECDSA521, HashSHA512, 66}, true
	}
	return curveParams{}, false
}

// SignAuth returns the Auth Method and Authentication Data of an AUTH payload
// signing octets, the signed octets SignedOctets returns (RFC 7296 §2.15).
// key's public key must be an *ecdsa.PublicKey on P-256, P-384 or P-521, or an
// *rsa.PublicKey.
//
// peerHashes is what the peer announced in its SIGNATURE_HASH_ALGORITHMS
// notify, nil if it sent none. When it includes a SHA-2 hash the method is 14,
// Digital Signature (RFC 7427), with ECDSA the hash that matches the curve or
// else the strongest announced, and with RSA RSASSA-PKCS1-v1_5 with SHA-256
// or else the strongest announced. Otherwise an ECDSA key signs with method
// 9, 10 or 11 by curve (RFC 4754) and an RSA key with method 1, RSASSA-PKCS1-v1_5
// with SHA-1 (RFC 7296 §3.8).
func SignAuth(key crypto.Signer, octets []byte, peerHashes []SignatureHash) (method ikev2.AuthMethod, data []byte, err error) {
	method, data, err = signAuth(key, octets, peerHashes)
	if err != nil {
		return 0, nil, fmt.Errorf("suite: sign AUTH: %w", err)
	}
	return method, data, nil
}

func signAuth(key crypto.Signer, octets []byte, peerHashes []SignatureHash) (ikev2.AuthMethod, []byte, error) {
	if key == nil {
		return 0, nil, errors.New("no private key")
	}
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		_, c, err := ecdsaKey(pub)
		if err != nil {
			return 0, nil, err
		}
		if h, ok := pickHash(c.hash, peerHashes); ok {
			return signDigital(key, keyECDSA, h, octets)
		}
		sig, err := sign(key, c.hash, octets)
		if err != nil {
			return 0, nil, fmt.Errorf("%v: %w", c.method, err)
		}
		rs, err := fixedECDSA(sig, c.size)
		if err != nil {
			return 0, nil, fmt.Errorf("%v: %w", c.method, err)
		}
		return c.method, rs, nil
	case *rsa.PublicKey:
		if _, err := rsaKey(pub); err != nil {
			return 0, nil, err
		}
		if h, ok := pickHash(HashSHA256, peerHashes); ok {
			return signDigital(key, keyRSA, h, octets)
		}
		sig, err := sign(key, HashSHA1, octets)
		if err != nil {
			return 0, nil, fmt.Errorf("%v: %w", ikev2.AuthRSASignature, err)
		}
		return ikev2.AuthRSASignature, sig, nil
	default:
		return 0, nil, fmt.Errorf("%T key: %w", pub, ErrUnsupported)
	}
}

// sign signs the digest under h of octets: with an ECDSA key the result is a
// DER Ecdsa-Sig-Value, with an RSA key an RSASSA-PKCS1-v1_5 signature.
func sign(key crypto.Signer, h SignatureHash, octets []byte) ([]byte, error) {
	sig, err := key.Sign(rand.Reader, h.digest(octets), h.hashFunc())
	if err != nil {
		return nil, fmt.Errorf("signing with %v: %w", h, err)
	}
	return sig, nil
}

// signDigital returns method 14 AUTH data (RFC 7427 §3): the length of the
// AlgorithmIdentifier in one octet, the AlgorithmIdentifier, the signature.
func signDigital(key crypto.Signer, kt keyType, h SignatureHash, octets []byte) (ikev2.AuthMethod, []byte, error) {
	ai, err := algorithmIdentifier(kt, h)
	if err != nil {
		return 0, nil, fmt.Errorf("%v: %w", ikev2.AuthDigitalSignature, err)
	}
	sig, err := sign(key, h, octets)
	if err != nil {
		return 0, nil, fmt.Errorf("%v: %w", ikev2.AuthDigitalSignature, err)
	}
	data := make([]byte, 0, 1+len(ai)+len(sig))
	data = append(append(append(data, byte(len(ai))), ai...), sig...)
	return ikev2.AuthDigitalSignature, data, nil
}

// ecdsaSig is the ASN.1 Ecdsa-Sig-Value (RFC 3279 §2.2.3).
type ecdsaSig struct {
	R, S *big.Int
}

// fixedECDSA converts a DER Ecdsa-Sig-Value into r and s as big-endian
// integers of size octets each, concatenated (RFC 4754 §7).
func fixedECDSA(der []byte, size int) ([]byte, error) {
	var sig ecdsaSig
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 {
		return nil, errors.New("signer returned no DER ECDSA-Sig-Value")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, errors.New("signer returned r or s out of range")
	}
	rs := make([]byte, 2*size)
	sig.R.FillBytes(rs[:size])
	sig.S.FillBytes(rs[size:])
	return rs, nil
}

// VerifyAuth checks AUTH data of method 1, 9, 10, 11 or 14 over octets, the
// signed octets SignedOctets returns for the peer, against the peer's public
// key pub as crypto/x509 parses it: an *ecdsa.PublicKey on P-256, P-384 or
// P-521 or an *rsa.PublicKey.
//
// Method 14 (RFC 7427) accepts ecdsa-with-SHA256, -SHA384 and -SHA512 with an
// ECDSA key, and sha256WithRSAEncryption, sha384WithRSAEncryption,
// sha512WithRSAEncryption and RSASSA-PSS with SHA-256, SHA-384 or SHA-512 with
// an RSA key; SHA-1 is refused. Methods 9 to 11 need a key on the curve of the
// method (RFC 4754). The error says which method, algorithm and why.
func VerifyAuth(pub crypto.PublicKey, method ikev2.AuthMethod, data, octets []byte) error {
	if err := verifyAuth(pub, method, data, octets); err != nil {
		return fmt.Errorf("suite: verify AUTH: %v: %w", method, err)
	}
	return nil
}

func verifyAuth(pub crypto.PublicKey, method ikev2.AuthMethod, data, octets []byte) error {
	switch method {
	case ikev2.AuthRSASignature:
		k, err := rsaKey(pub)
		if err != nil {
			return err
		}
		// RFC 7296 §3.8: RSASSA-PKCS1-v1_5, with SHA-1 as no hash is
		// negotiated for method 1.
		return verifyPKCS1(k, HashSHA1, data, octets)
	case ikev2.AuthECDSA256, ikev2.AuthECDSA384, ikev2.AuthECDSA521:
		k, c, err := ecdsaKey(pub)
		if err != nil {
			return err
		}
		// RFC 4754 §4: each method fixes the curve and the hash.
		if c.method != method {
			return fmt.Errorf("key is on %s, the method needs another curve", c.name)
		}
		// RFC 4754 §7: r and s, each of the curve's size.
		if len(data) != 2*c.size {
			return fmt.Errorf("signature of %d octets, want %d", len(data), 2*c.size)
		}
		r := new(big.Int).SetBytes(data[:c.size])
		s := new(big.Int).SetBytes(data[c.size:])
		if !ecdsa.Verify(k, c.hash.digest(octets), r, s) {
			return errBadSignature
		}
		return nil
	case ikev2.AuthDigitalSignature:
		return verifyDigital(pub, data, octets)
	}
	return fmt.Errorf("not a signature method: %w", ErrUnsupported)
}

// errBadSignature reports a well-formed signature that does not verify.
var errBadSignature = errors.New("signature does not verify")

// rsaKey returns pub as a usable RSA public key.
func rsaKey(pub crypto.PublicKey) (*rsa.PublicKey, error) {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("needs an RSA key, have %s", keyName(pub))
	}
	if k == nil || k.N == nil {
		return nil, errors.New("empty RSA key")
	}
	return k, nil
}

// ecdsaKey returns pub as an ECDSA public key on a supported curve.
func ecdsaKey(pub crypto.PublicKey) (*ecdsa.PublicKey, curveParams, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, curveParams{}, fmt.Errorf("needs an ECDSA key, have %s", keyName(pub))
	}
	if k == nil {
		return nil, curveParams{}, errors.New("empty ECDSA key")
	}
	c, ok := ecdsaCurve(k)
	if !ok {
		return nil, curveParams{}, fmt.Errorf("ECDSA key on %s: %w", curveName(k), ErrUnsupported)
	}
	return k, c, nil
}

// keyName describes the type of a public key for errors.
func keyName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PublicKey:
		if k == nil {
			return "an ECDSA key"
		}
		return "an ECDSA key on " + curveName(k)
	case nil:
		return "no key"
	}
	return fmt.Sprintf("a %T key", pub)
}

// curveName returns the name of the curve of k.
func curveName(k *ecdsa.PublicKey) string {
	if k.Curve == nil || k.Curve.Params() == nil {
		return "no curve"
	}
	return k.Curve.Params().Name
}

// verifyPKCS1 checks an RSASSA-PKCS1-v1_5 signature under hash h.
func verifyPKCS1(k *rsa.PublicKey, h SignatureHash, sig, octets []byte) error {
	if err := rsa.VerifyPKCS1v15(k, h.hashFunc(), h.digest(octets), sig); err != nil {
		if errors.Is(err, rsa.ErrVerification) {
			return errBadSignature
		}
		return err
	}
	return nil
}

// verifyDigital checks method 14 AUTH data (RFC 7427 §3).
func verifyDigital(pub crypto.PublicKey, data, octets []byte) error {
	if len(data) == 0 {
		return errors.New("no ASN.1 length")
	}
	n := int(data[0])
	if n == 0 || 1+n > len(data) {
		return fmt.Errorf("ASN.1 length %d with %d octets after it", n, len(data)-1)
	}
	var ai pkix.AlgorithmIdentifier
	if rest, err := asn1.Unmarshal(data[1:1+n], &ai); err != nil {
		return fmt.Errorf("AlgorithmIdentifier: %v", err)
	} else if len(rest) != 0 {
		return fmt.Errorf("AlgorithmIdentifier: trailing data (%d octets) within the ASN.1 length", len(rest))
	}
	sig := data[1+n:]
	if len(sig) == 0 {
		return errors.New("no signature after the AlgorithmIdentifier")
	}
	if ai.Algorithm.Equal(oidRSASSAPSS) {
		if err := verifyPSS(pub, ai.Parameters, sig, octets); err != nil {
			return fmt.Errorf("RSASSA-PSS: %w", err)
		}
		return nil
	}
	for _, a := range sigAlgs {
		if ai.Algorithm.Equal(a.oid) {
			if err := verifyAlg(pub, a, ai.Parameters, sig, octets); err != nil {
				return fmt.Errorf("%s: %w", a.name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("algorithm %v: %w", ai.Algorithm, ErrUnsupported)
}

// verifyAlg checks a method 14 signature with algorithm a.
func verifyAlg(pub crypto.PublicKey, a sigAlg, params asn1.RawValue, sig, octets []byte) error {
	// RFC 8247 §3.2: SHA-1 MUST NOT be used in method 14 signatures.
	if a.hash == HashSHA1 {
		return fmt.Errorf("SHA-1 refused: %w", ErrUnsupported)
	}
	if a.key == keyECDSA {
		// RFC 5758 §3.2: the parameters of ecdsa-with-SHA2 MUST be absent.
		if len(params.FullBytes) != 0 {
			return errors.New("parameters present")
		}
		k, _, err := ecdsaKey(pub)
		if err != nil {
			return err
		}
		// RFC 7427 §3: the signature is the DER Ecdsa-Sig-Value.
		if !ecdsa.VerifyASN1(k, a.hash.digest(octets), sig) {
			return errBadSignature
		}
		return nil
	}
	if !absentOrNull(params) {
		return errors.New("parameters neither NULL nor absent")
	}
	k, err := rsaKey(pub)
	if err != nil {
		return err
	}
	return verifyPKCS1(k, a.hash, sig, octets)
}

// absentOrNull reports whether the parameters of an AlgorithmIdentifier are
// absent or NULL.
func absentOrNull(params asn1.RawValue) bool {
	return len(params.FullBytes) == 0 ||
		params.Class == asn1.ClassUniversal && params.Tag == asn1.TagNull && !params.IsCompound && len(params.Bytes) == 0
}

// pssParams is RSASSA-PSS-params (RFC 4055 §3.1) with its defaults.
type pssParams struct {
	Hash       pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF        pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	SaltLength int                      `asn1:"optional,explicit,tag:2,default:20"`
	Trailer    int                      `asn1:"optional,explicit,tag:3,default:1"`
}

// pssHash returns the hash of a hashAlgorithm of RSASSA-PSS-params; an
// absent one is SHA-1 (RFC 4055 §3.1), and so is refused.
func pssHash(ai pkix.AlgorithmIdentifier) (SignatureHash, error) {
	if len(ai.Algorithm) == 0 {
		return 0, fmt.Errorf("hash absent, so SHA-1: %w", ErrUnsupported)
	}
	// RFC 4055 §2.1: parameters of the SHA-2 identifiers may be NULL or
	// absent.
	if !absentOrNull(ai.Parameters) {
		return 0, fmt.Errorf("hash %v with parameters", ai.Algorithm)
	}
	for _, h := range hashOIDs {
		if ai.Algorithm.Equal(h.oid) {
			// RFC 8247 §3.2: no SHA-1 in method 14 signatures.
			if h.hash == HashSHA1 {
				return 0, fmt.Errorf("SHA-1 refused: %w", ErrUnsupported)
			}
			return h.hash, nil
		}
	}
	return 0, fmt.Errorf("hash %v: %w", ai.Algorithm, ErrUnsupported)
}

// verifyPSS checks a method 14 RSASSA-PSS signature with the DER
// RSASSA-PSS-params in params (RFC 7427 appendix A.4, RFC 4055 §3.1).
func verifyPSS(pub crypto.PublicKey, params asn1.RawValue, sig, octets []byte) error {
	k, err := rsaKey(pub)
	if err != nil {
		return err
	}
	if len(params.FullBytes) == 0 {
		return fmt.Errorf("parameters absent, so SHA-1: %w", ErrUnsupported)
	}
	var p pssParams
	if rest, err := asn1.Unmarshal(params.FullBytes, &p); err != nil {
		return fmt.Errorf("parameters: %v", err)
	} else if len(rest) != 0 {
		return errors.New("parameters: trailing octets")
	}
	h, err := pssHash(p.Hash)
	if err != nil {
		return err
	}
	if !p.MGF.Algorithm.Equal(oidMGF1) {
		return fmt.Errorf("mask generation %v, want MGF1", p.MGF.Algorithm)
	}
	var mgfHash pkix.AlgorithmIdentifier
	if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil {
		return fmt.Errorf("MGF1 hash: %v", err)
	} else if len(rest) != 0 {
		return errors.New("MGF1 hash: trailing octets")
	}
	mh, err := pssHash(mgfHash)
	if err != nil {
		return fmt.Errorf("MGF1: %w", err)
	}
	// crypto/rsa hashes the mask with the message hash.
	if mh != h {
		return fmt.Errorf("MGF1 with %v, hash %v", mh, h)
	}
	// crypto/rsa reads a salt length of 0 as "detect", so any salt length
	// is accepted then; an empty salt is in it.
	if p.SaltLength < 0 || p.SaltLength > k.Size() {
		return fmt.Errorf("salt length %d", p.SaltLength)
	}
	// RFC 4055 §3.1 defines one trailer field, trailerFieldBC (1).
	if p.Trailer != 1 {
		return fmt.Errorf("trailer field %d, want 1", p.Trailer)
	}
	err = rsa.VerifyPSS(k, h.hashFunc(), h.digest(octets), sig, &rsa.PSSOptions{SaltLength: p.SaltLength})
	if errors.Is(err, rsa.ErrVerification) {
		return fmt.Errorf("with %v: %w", h, errBadSignature)
	}
	return err
}

// CertReqData returns the Certification Authority field of a CERTREQ payload
// with encoding X.509 Certificate - Signature (RFC 7296 §3.7): the SHA-1
// hashes of the SubjectPublicKeyInfo of each trusted CA, concatenated. CAs
// sharing a key appear once; nil certificates and certificates without a
// raw SubjectPublicKeyInfo are skipped.
func CertReqData(cas []*x509.Certificate) []byte {
	out := make([]byte, 0, sha1.Size*len(cas))
	for _, ca := range cas {
		if ca == nil || len(ca.RawSubjectPublicKeyInfo) == 0 {
			continue
		}
		sum := sha1.Sum(ca.RawSubjectPublicKeyInfo)
		if !hasHash(out, sum) {
			out = append(out, sum[:]...)
		}
	}
	return out
}

// hasHash reports whether the concatenated SHA-1 hashes in list include h.
func hasHash(list []byte, h [sha1.Size]byte) bool {
	for i := 0; i < len(list); i += sha1.Size {
		if [sha1.Size]byte(list[i:i+sha1.Size]) == h {
			return true
		}
	}
	return false
}
