package suite

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Nonce lengths accepted by the key derivation (RFC 7296 §3.9: 16 to 256
// octets).
const (
	minNonceLen = 16
	maxNonceLen = 256
)

// NonceLen is the length of the nonces NewNonce makes: 256 bits, at least
// half the key size of every supported PRF (RFC 7296 §2.10).
const NonceLen = 32

// NewNonce returns a fresh random nonce of NonceLen octets (RFC 7296 §2.10).
func NewNonce() ([]byte, error) {
	n := make([]byte, NonceLen)
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("reading nonce: %w", err)
	}
	return n, nil
}

// prfHash returns the hash function of the HMAC behind p and its output
// length in octets, or nil and zero when p is not supported.
func prfHash(p ikev2.PRFID) (func() hash.Hash, int) {
	switch p {
	case ikev2.PRFHMACSHA1:
		return sha1.New, sha1.Size
	case ikev2.PRFHMACSHA256:
		return sha256.New, sha256.Size
	case ikev2.PRFHMACSHA384:
		return sha512.New384, sha512.Size384
	case ikev2.PRFHMACSHA512:
		return sha512.New, sha512.Size
	}
	return nil, 0
}

// prfSize returns the output length of p in octets, which for the HMAC PRFs
// is also their preferred key length (RFC 7296 §2.14, RFC 4868 §2.1.2);
// zero when p is not supported.
func prfSize(p ikev2.PRFID) int {
	_, n := prfHash(p)
	return n
}

// mac returns a keyed instance of p.
func prfMAC(p ikev2.PRFID, key []byte) (hash.Hash, error) {
	h, _ := prfHash(p)
	if h == nil {
		return nil, fmt.Errorf("%v: %w", p, ErrUnsupported)
	}
	return hmac.New(h, key), nil
}

// sum returns prf(key, data...) appended to dst.
func prfSum(p ikev2.PRFID, dst, key []byte, data ...[]byte) ([]byte, error) {
	m, err := prfMAC(p, key)
	if err != nil {
		return nil, err
	}
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(dst), nil
}

// PRFPlus returns the first n octets of prf+(key, seed) with PRF p (RFC 7296
// §2.13):
//
//	prf+ (K,S) = T1 | T2 | T3 | T4 | ...
//	T1 = prf (K, S | 0x01)
//	T2 = prf (K, T1 | S | 0x02)
//
// The counter is one octet, so at most 255 blocks can be produced; asking
// for more is an error.
func PRFPlus(p ikev2.PRFID, key, seed []byte, n int) (Key, error) {
	h, size := prfHash(p)
	if h == nil {
		return nil, fmt.Errorf("%v: %w", p, ErrUnsupported)
	}
	// RFC 7296 §2.13: the iteration counter is a single octet.
	if n < 0 || n > 255*size {
		return nil, fmt.Errorf("prf+ of %d octets with %v: more than 255 iterations", n, p)
	}
	m := hmac.New(h, key)
	blocks := (n + size - 1) / size
	out := make([]byte, 0, blocks*size)
	var prev []byte
	for i := 1; i <= blocks; i++ {
		m.Reset()
		m.Write(prev)
		m.Write(seed)
		m.Write([]byte{byte(i)})
		out = m.Sum(out)
		prev = out[len(out)-size:]
	}
	clear(out[n:])
	return Key(out[:n:n]), nil
}
