package esp

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strconv"
)

// Cipher is an ESP encryption algorithm. Its values are the IKEv2 transform
// IDs (RFC 7296 §3.3.2, IANA "Transform Type 1"); the key size follows from
// the length of the key material.
type Cipher uint16

// Ciphers an SA can use.
const (
	// AESCBC is ENCR_AES_CBC (RFC 3602) with a 128, 192 or 256-bit key. It
	// needs an Integrity algorithm.
	AESCBC Cipher = 12
	// AESGCM16 is ENCR_AES_GCM_16 (RFC 4106): AES-GCM with a 16-byte ICV and
	// a 128, 192 or 256-bit key, followed by a 4-byte salt in the key
	// material. It takes no Integrity algorithm.
	AESGCM16 Cipher = 20
)

// String returns the algorithm's name as strongSwan spells it, without the
// key size.
func (c Cipher) String() string {
	switch c {
	case AESCBC:
		return "aes-cbc"
	case AESGCM16:
		return "aes-gcm16"
	}
	return "cipher(" + strconv.Itoa(int(c)) + ")"
}

// Integrity is an ESP integrity algorithm. Its values are the IKEv2
// transform IDs (RFC 7296 §3.3.2, IANA "Transform Type 3").
type Integrity uint16

// Integrity algorithms an SA can use with AESCBC.
const (
	// NoIntegrity goes with AESGCM16, which authenticates by itself.
	NoIntegrity Integrity = 0
	// HMACSHA1 is AUTH_HMAC_SHA1_96 (RFC 2404): a 20-byte key and a 12-byte
	// ICV. RFC 8221 keeps it as MUST- for interoperability only.
	HMACSHA1 Integrity = 2
	// HMACSHA256 is AUTH_HMAC_SHA2_256_128 (RFC 4868): a 32-byte key and a
	// 16-byte ICV.
	HMACSHA256 Integrity = 12
	// HMACSHA384 is AUTH_HMAC_SHA2_384_192 (RFC 4868): a 48-byte key and a
	// 24-byte ICV.
	HMACSHA384 Integrity = 13
	// HMACSHA512 is AUTH_HMAC_SHA2_512_256 (RFC 4868): a 64-byte key and a
	// 32-byte ICV.
	HMACSHA512 Integrity = 14
)

// String returns the algorithm's name as strongSwan spells it.
func (i Integrity) String() string {
	switch i {
	case NoIntegrity:
		return "none"
	case HMACSHA1:
		return "sha1"
	case HMACSHA256:
		return "sha256"
	case HMACSHA384:
		return "sha384"
	case HMACSHA512:
		return "sha512"
	}
	return "integrity(" + strconv.Itoa(int(i)) + ")"
}

// hmacParams returns the hash, key length and ICV length of an HMAC
// integrity algorithm (RFC 2404 §2, RFC 4868 §2.1, §2.6).
func (i Integrity) hmacParams() (h func() hash.Hash, keyLen, icvLen int, ok bool) {
	switch i {
	case HMACSHA1:
		return sha1.New, sha1.Size, 12, true
	case HMACSHA256:
		return sha256.New, sha256.Size, 16, true
	case HMACSHA384:
		return sha512.New384, sha512.Size384, 24, true
	case HMACSHA512:
		return sha512.New, sha512.Size, 32, true
	}
	return nil, 0, 0, false
}

// Keys is the key material of one SA, in the order RFC 7296 §2.17 takes it
// from KEYMAT: the encryption key (for AES-GCM the AES key followed by the
// 4-byte salt, RFC 4106 §8.1), then the integrity key (empty for AES-GCM).
//
// Keys never shows its bytes: it formats as "[redacted]" with every verb
// and logs only its lengths.
type Keys struct {
	encryption []byte
	integrity  []byte
}

// NewKeys copies the encryption and integrity keys into a Keys.
func NewKeys(encryption, integrity []byte) Keys {
	return Keys{encryption: bytes.Clone(encryption), integrity: bytes.Clone(integrity)}
}

// Wipe overwrites the key bytes with zeros. An SA made from k keeps its own
// copy, so k may be wiped as soon as New returns.
func (k Keys) Wipe() {
	clear(k.encryption)
	clear(k.integrity)
}

// String returns "[redacted]".
func (k Keys) String() string { return "[redacted]" }

// Format writes "[redacted]" whatever the verb, so that no format string
// prints key bytes.
func (k Keys) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue implements slog.LogValuer: the key lengths, never the bytes.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("encryption_len", len(k.encryption)),
		slog.Int("integrity_len", len(k.integrity)),
	)
}
