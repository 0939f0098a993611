package ikev1

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// hashAlg is a phase 1 hash (RFC 2409 Appendix A); its HMAC is the PRF.
type hashAlg uint32

func (h hashAlg) new() func() hash.Hash {
	switch h {
	case wire.Hash1:
		return sha1.New
	case wire.Hash256:
		return sha256.New
	case wire.Hash384:
		return sha512.New384
	case wire.Hash512:
		return sha512.New
	}
	return nil
}

func (h hashAlg) String() string {
	switch h {
	case wire.Hash1:
		return "sha1"
	case wire.Hash256:
		return "sha256"
	case wire.Hash384:
		return "sha384"
	case wire.Hash512:
		return "sha512"
	}
	return "unknown"
}

// prf is HMAC with the negotiated hash (RFC 2409 §4).
func (h hashAlg) prf(key []byte, data ...[]byte) []byte {
	m := hmac.New(h.new(), key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// sum is the plain hash, for IVs and NAT-D.
func (h hashAlg) sum(data ...[]byte) []byte {
	m := h.new()()
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// expand lengthens key material as RFC 2409 Appendix B says: K1 =
// prf(K, 0), K2 = prf(K, K1), ... until n bytes.
func (h hashAlg) expand(k []byte, n int) []byte {
	if len(k) >= n {
		return k[:n]
	}
	var out, last []byte
	last = h.prf(k, []byte{0})
	for {
		out = append(out, last...)
		if len(out) >= n {
			return out[:n]
		}
		last = h.prf(k, last)
	}
}

// keymat derives a quick mode SA's key material (RFC 2409 §5.5):
// K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
// K2 = prf(SKEYID_d, K1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b), ...
func (h hashAlg) keymat(skeyidD, gqm []byte, spi uint32, ni, nr []byte, n int) []byte {
	seed := append(append([]byte{}, gqm...), wire.ProtocolESP)
	seed = binary.BigEndian.AppendUint32(seed, spi)
	seed = append(append(seed, ni...), nr...)
	var out, last []byte
	for len(out) < n {
		last = h.prf(skeyidD, last, seed)
		out = append(out, last...)
	}
	return out[:n]
}

const blockSize = aes.BlockSize

var errCiphertext = errors.New("ikev1: encrypted body is not a whole number of blocks")

// seal encrypts the payload chain of an encrypted message after h in CBC
// with iv, padding it with zeros to the block size (RFC 2408 §3.5), and
// returns the message and the IV of the next message (its last block).
func seal(key, iv []byte, h wire.Header, payloads []byte) (msg, next []byte) {
	pt := payloads
	if r := len(pt) % blockSize; r != 0 {
		pt = append(pt, make([]byte, blockSize-r)...)
	}
	c, _ := aes.NewCipher(key)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(c, iv).CryptBlocks(ct, pt)
	h.Flags |= wire.FlagEncryption
	h.Length = uint32(wire.HeaderLen + len(ct))
	return append(h.Append(nil), ct...), ct[len(ct)-blockSize:]
}

// open decrypts the body of an encrypted message with iv and returns the
// plaintext payload chain (with its padding) and the IV of the next
// message.
func open(key, iv, body []byte) (pt, next []byte, err error) {
	if len(body) == 0 || len(body)%blockSize != 0 {
		return nil, nil, errCiphertext
	}
	c, _ := aes.NewCipher(key)
	pt = make([]byte, len(body))
	cipher.NewCBCDecrypter(c, iv).CryptBlocks(pt, body)
	return pt, append([]byte{}, body[len(body)-blockSize:]...), nil
}

// phase2IV is the first IV of a quick mode or informational exchange:
// hash(last block of phase 1 | M-ID) (RFC 2409 Appendix B).
func (h hashAlg) phase2IV(p1iv []byte, mid uint32) []byte {
	return h.sum(p1iv, binary.BigEndian.AppendUint32(nil, mid))[:blockSize]
}
