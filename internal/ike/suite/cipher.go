package suite

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Cipher protects the body of an Encrypted (SK) or Encrypted Fragment (SKF)
// payload (RFC 7296 §3.14, RFC 7383 §2.5). A Cipher serves one direction of
// one IKE SA; it is safe for concurrent use.
//
// The plaintext of Seal may lie in the spare capacity of dst (sealing in
// place); otherwise neither plaintext nor aad may overlap that capacity.
// The body of Open must not overlap the spare capacity of dst.
type Cipher interface {
	// SealedLen returns the body length (IV + ciphertext with padding and
	// pad-length byte + ICV) for a plaintext (the inner payload chain) of n
	// bytes.
	SealedLen(n int) int
	// Seal appends IV||ciphertext||ICV to dst. aad is every byte of the
	// message from the start of the IKE header up to the end of the SK/SKF
	// payload header, with final lengths already set.
	Seal(dst, aad, plaintext []byte) ([]byte, error)
	// Open authenticates body (IV||ciphertext||ICV) with aad, decrypts it,
	// checks and strips the padding and returns the plaintext inner payload
	// chain appended to dst.
	Open(dst, aad, body []byte) ([]byte, error)
}

// AES-GCM in the Encrypted payload (RFC 5282 §3, §4).
const (
	gcmSaltLen = 4
	gcmIVLen   = 8
	gcmICVLen  = 16
)

// NewCipher returns the cipher of IKE suite s for one direction, keyed with
// SK_ei and SK_ai (messages from the initiator) or SK_er and SK_ar (from the
// responder). With AES-GCM integKey is empty and encrKey ends with the salt.
func NewCipher(s Suite, encrKey, integKey Key) (Cipher, error) {
	if err := s.check(ikev2.ProtocolIKE); err != nil {
		return nil, err
	}
	if len(encrKey) != s.encrKeyLen() || len(integKey) != integKeyLen(s.Integ) {
		return nil, fmt.Errorf("%v keys of %d and %d octets, want %d and %d", s,
			len(encrKey), len(integKey), s.encrKeyLen(), integKeyLen(s.Integ))
	}
	if s.Encr == ikev2.EncrAESGCM16 {
		n := len(encrKey) - gcmSaltLen
		block, err := aes.NewCipher(encrKey[:n])
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		c := &gcm{aead: aead}
		copy(c.salt[:], encrKey[n:])
		return c, nil
	}
	block, err := aes.NewCipher(encrKey)
	if err != nil {
		return nil, err
	}
	h, _ := integHash(s.Integ)
	return &cbcHMAC{block: block, hash: h, key: slices.Clone(integKey), icvLen: integICVLen(s.Integ)}, nil
}

// grow extends b by n bytes and returns the whole slice and the new tail.
func grow(b []byte, n int) (whole, tail []byte) {
	whole = slices.Grow(b, n)[:len(b)+n]
	return whole, whole[len(b):]
}

// unpad checks the Pad Length octet at the end of a decrypted body, which
// holds at least that octet, and returns the length of the inner payloads
// (RFC 7296 §3.14).
func unpad(pt []byte) (int, error) {
	pad := int(pt[len(pt)-1])
	if pad+1 > len(pt) {
		return 0, fmt.Errorf("pad length %d in %d octets: %w", pad, len(pt), ErrMalformed)
	}
	return len(pt) - pad - 1, nil
}

// Ciphers hold keys: printed or logged, they show what they are only.
func (c *cbcHMAC) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }
func (c *cbcHMAC) String() string             { return "AES-CBC with HMAC [keys redacted]" }
func (c *cbcHMAC) LogValue() slog.Value       { return slog.StringValue(c.String()) }
func (c *gcm) Format(f fmt.State, _ rune)     { _, _ = f.Write([]byte(c.String())) }
func (c *gcm) String() string                 { return "AES-GCM [key redacted]" }
func (c *gcm) LogValue() slog.Value           { return slog.StringValue(c.String()) }

// cbcHMAC is AES-CBC with an HMAC integrity algorithm.
type cbcHMAC struct {
	block  cipher.Block
	hash   func() hash.Hash
	key    []byte // integrity key
	icvLen int
}

func (c *cbcHMAC) SealedLen(n int) int {
	// RFC 7296 §3.14: payloads, padding and the Pad Length octet fill whole
	// blocks.
	return aes.BlockSize + (n+aes.BlockSize)/aes.BlockSize*aes.BlockSize + c.icvLen
}

func (c *cbcHMAC) Seal(dst, aad, plaintext []byte) ([]byte, error) {
	n := c.SealedLen(len(plaintext))
	whole, out := grow(dst, n)
	iv, ct := out[:aes.BlockSize], out[aes.BlockSize:n-c.icvLen]
	copy(ct, plaintext) // copy first: plaintext may lie where iv now is
	pad := len(ct) - len(plaintext) - 1
	clear(ct[len(plaintext) : len(ct)-1])
	ct[len(ct)-1] = byte(pad)
	// RFC 7296 §3.14: the IV MUST be chosen at random and be unpredictable.
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("reading IV: %w", err)
	}
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(ct, ct)
	// RFC 7296 §3.14: the checksum covers the message from the IKE header
	// through the encrypted data.
	m := hmac.New(c.hash, c.key)
	m.Write(aad)
	m.Write(out[:n-c.icvLen])
	var sum [sha512.Size]byte
	copy(out[n-c.icvLen:], m.Sum(sum[:0]))
	return whole, nil
}

func (c *cbcHMAC) Open(dst, aad, body []byte) ([]byte, error) {
	if len(body) < 2*aes.BlockSize+c.icvLen || (len(body)-c.icvLen)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("AES-CBC body of %d octets: %w", len(body), ErrMalformed)
	}
	signed, icv := body[:len(body)-c.icvLen], body[len(body)-c.icvLen:]
	m := hmac.New(c.hash, c.key)
	m.Write(aad)
	m.Write(signed)
	var sum [sha512.Size]byte
	if !hmac.Equal(m.Sum(sum[:0])[:c.icvLen], icv) {
		return nil, ErrIntegrity
	}
	iv, ct := signed[:aes.BlockSize], signed[aes.BlockSize:]
	whole, out := grow(dst, len(ct))
	cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(out, ct)
	n, err := unpad(out)
	if err != nil {
		clear(out)
		return nil, err
	}
	return whole[:len(dst)+n], nil
}

// gcm is AES-GCM with a 16-octet ICV (RFC 5282).
type gcm struct {
	aead cipher.AEAD
	salt [gcmSaltLen]byte
	// ctr is the last IV used. RFC 5282 §3.1: the IV MUST NOT repeat for a
	// key; a counter guarantees that.
	ctr atomic.Uint64
}

func (c *gcm) SealedLen(n int) int {
	// No padding is needed: the Pad Length octet alone follows the payloads.
	return gcmIVLen + n + 1 + gcmICVLen
}

func (c *gcm) nonce(iv []byte) [gcmSaltLen + gcmIVLen]byte {
	// RFC 5282 §4: nonce = salt | IV.
	var nonce [gcmSaltLen + gcmIVLen]byte
	copy(nonce[:gcmSaltLen], c.salt[:])
	copy(nonce[gcmSaltLen:], iv)
	return nonce
}

func (c *gcm) Seal(dst, aad, plaintext []byte) ([]byte, error) {
	seq := c.ctr.Add(1)
	if seq == 0 {
		c.ctr.Store(^uint64(0))
		return nil, errors.New("AES-GCM IV space exhausted")
	}
	whole, out := grow(dst, c.SealedLen(len(plaintext)))
	pt := out[gcmIVLen : gcmIVLen+len(plaintext)+1]
	copy(pt, plaintext) // copy first: plaintext may lie where the IV now is
	pt[len(plaintext)] = 0
	binary.BigEndian.PutUint64(out[:gcmIVLen], seq)
	nonce := c.nonce(out[:gcmIVLen])
	// RFC 5282 §5.1: the associated data is the IKE header and the payloads
	// up to and including the Encrypted payload's generic header.
	c.aead.Seal(pt[:0], nonce[:], pt, aad)
	return whole, nil
}

func (c *gcm) Open(dst, aad, body []byte) ([]byte, error) {
	if len(body) < gcmIVLen+1+gcmICVLen {
		return nil, fmt.Errorf("AES-GCM body of %d octets: %w", len(body), ErrMalformed)
	}
	nonce := c.nonce(body[:gcmIVLen])
	whole, err := c.aead.Open(dst, nonce[:], body[gcmIVLen:], aad)
	if err != nil {
		return nil, ErrIntegrity
	}
	n, err := unpad(whole[len(dst):])
	if err != nil {
		clear(whole[len(dst):])
		return nil, err
	}
	return whole[:len(dst)+n], nil
}

// integHash returns the hash function of the HMAC behind i and its output
// length in octets, or nil and zero.
func integHash(i ikev2.IntegID) (func() hash.Hash, int) {
	switch i {
	case ikev2.IntegHMACSHA1_96:
		return sha1.New, sha1.Size
	case ikev2.IntegHMACSHA256_128:
		return sha256.New, sha256.Size
	case ikev2.IntegHMACSHA384_192:
		return sha512.New384, sha512.Size384
	case ikev2.IntegHMACSHA512_256:
		return sha512.New, sha512.Size
	}
	return nil, 0
}

// keyLen returns the key length of i in octets, the hash output length
// (RFC 2404 §3, RFC 4868 §2.1.1); zero for IntegNone.
func integKeyLen(i ikev2.IntegID) int {
	_, n := integHash(i)
	return n
}

// icvLen returns the length of the truncated ICV of i in octets: 96 bits
// for HMAC-SHA1-96 (RFC 2404 §2), half the hash output for HMAC-SHA2 (RFC
// 4868 §2.1.1).
func integICVLen(i ikev2.IntegID) int {
	if i == ikev2.IntegHMACSHA1_96 {
		return 12
	}
	return integKeyLen(i) / 2
}
