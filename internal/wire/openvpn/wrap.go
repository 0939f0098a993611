package openvpn

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
)

// Control channel wrapping with a static key shared by the server and its
// clients, as OpenVPN's manual and source describe it (crypto.c,
// ssl_pkt.c swap_hmac, tls_crypt.h): a packet that does not carry the
// key's HMAC is dropped before any TLS work is done for it.
//
//   - tls-auth: opcode, session id, HMAC, packet id and time, then the
//     control packet's rest in clear. The HMAC covers the packet id and
//     time, then the opcode and session id, then the rest.
//   - tls-crypt: opcode, session id, packet id and time, a tag (HMAC-
//     SHA256 of all that and the rest), then the rest encrypted with
//     AES-256-CTR under the tag's first 16 bytes as IV (a synthetic IV).
//
// A static key is two keys, 0 and 1, each a 64-byte cipher key and a
// 64-byte HMAC key, of which an algorithm takes the first bytes it needs.
// One side sends with key 0 and receives with key 1, the other the
// inverse ("key-direction 0" and "1"; tls-crypt's server is 0); without a
// key direction, tls-auth uses key 0 both ways.

// StaticKeyLen is the size of a static key (2048 bits).
const StaticKeyLen = 256

// StaticKey is an OpenVPN static key ("OpenVPN Static key V1").
type StaticKey [StaticKeyLen]byte

const (
	staticKeyBegin = "-----BEGIN OpenVPN Static key V1-----"
	staticKeyEnd   = "-----END OpenVPN Static key V1-----"
)

// PEM returns the key as OpenVPN writes it (openvpn --genkey): the
// armour around 16 lines of 16 bytes in hex.
func (k *StaticKey) PEM() []byte {
	var b bytes.Buffer
	b.WriteString(staticKeyBegin + "\n")
	for i := 0; i < StaticKeyLen; i += 16 {
		b.WriteString(hex.EncodeToString(k[i:i+16]) + "\n")
	}
	b.WriteString(staticKeyEnd + "\n")
	return b.Bytes()
}

// cipherKey and hmacKey are key n's halves.
func (k *StaticKey) cipherKey(n int) []byte { return k[n*128 : n*128+64] }
func (k *StaticKey) hmacKey(n int) []byte   { return k[n*128+64 : n*128+128] }

// WrapMode is how control packets are wrapped.
type WrapMode int

const (
	TLSCrypt WrapMode = iota
	TLSAuthSHA256
	TLSAuthSHA1
	TLSAuthSHA512
)

func (m WrapMode) String() string {
	switch m {
	case TLSCrypt:
		return "tls-crypt"
	case TLSAuthSHA256:
		return "tls-auth SHA256"
	case TLSAuthSHA1:
		return "tls-auth SHA1"
	case TLSAuthSHA512:
		return "tls-auth SHA512"
	}
	return fmt.Sprintf("wrap mode %d", int(m))
}

func (m WrapMode) digest() func() hash.Hash {
	switch m {
	case TLSAuthSHA1:
		return sha1.New
	case TLSAuthSHA512:
		return sha512.New
	}
	return sha256.New
}

// KeyDirection says which of a static key's keys a side sends with.
type KeyDirection int

const (
	// KeyDirectionNormal sends with key 0 and receives with key 1: a
	// server's ("key-direction 0").
	KeyDirectionNormal KeyDirection = iota
	// KeyDirectionInverse sends with key 1 and receives with key 0: a
	// client's ("key-direction 1").
	KeyDirectionInverse
	// KeyDirectionBoth sends and receives with key 0: tls-auth without a
	// key-direction.
	KeyDirectionBoth
)

func (d KeyDirection) keys() (out, in int) {
	switch d {
	case KeyDirectionInverse:
		return 1, 0
	case KeyDirectionBoth:
		return 0, 0
	}
	return 0, 1
}

// PacketID is a wrapped packet's replay protection: a counter from 1 and
// the sender's time (seconds) when it began counting.
type PacketID struct{ ID, Time uint32 }

const (
	packetIDLen     = 8
	cryptTagLen     = sha256.Size
	controlHeadLen  = 1 + SessionIDLen
	cryptOverhead   = packetIDLen + cryptTagLen
	tlsCryptKeySize = 32 // AES-256-CTR, HMAC-SHA256
)

// Wrapper wraps a side's outgoing control packets and unwraps the other
// side's. Wrap and Unwrap may run at the same time (they keep apart
// state), but neither concurrently with itself.
type Wrapper struct {
	mode             WrapMode
	sendMAC, recvMAC hash.Hash
	sendCTR, recvCTR cipher.Block // tls-crypt
	tagLen           int
	sendTag, recvTag []byte
	sendIV, recvIV   [aes.BlockSize]byte
}

// NewWrapper returns the wrapper of a side with key k in mode and
// direction. tls-crypt has no direction of its own: the server's is
// KeyDirectionNormal, the client's KeyDirectionInverse.
func NewWrapper(k *StaticKey, mode WrapMode, d KeyDirection) *Wrapper {
	out, in := d.keys()
	w := &Wrapper{mode: mode}
	h := mode.digest()
	size := h().Size()
	w.tagLen = size
	w.sendMAC = hmac.New(h, k.hmacKey(out)[:size])
	w.recvMAC = hmac.New(h, k.hmacKey(in)[:size])
	if mode == TLSCrypt {
		// The key sizes are fixed: NewCipher cannot fail.
		w.sendCTR, _ = aes.NewCipher(k.cipherKey(out)[:tlsCryptKeySize])
		w.recvCTR, _ = aes.NewCipher(k.cipherKey(in)[:tlsCryptKeySize])
	}
	w.sendTag = make([]byte, 0, size)
	w.recvTag = make([]byte, 0, size)
	return w
}

// Mode is what the wrapper was made with.
func (w *Wrapper) Mode() WrapMode { return w.mode }

// Wrap appends to dst the control packet pkt (as Control.Append makes
// it) wrapped with packet id pid.
func (w *Wrapper) Wrap(dst, pkt []byte, pid PacketID) []byte {
	if len(pkt) < controlHeadLen {
		panic("openvpn: Wrap of a packet without its opcode and session id")
	}
	var id [packetIDLen]byte
	binary.BigEndian.PutUint32(id[:], pid.ID)
	binary.BigEndian.PutUint32(id[4:], pid.Time)
	head, rest := pkt[:controlHeadLen], pkt[controlHeadLen:]
	w.sendMAC.Reset()
	if w.mode == TLSCrypt {
		w.sendMAC.Write(head)
		w.sendMAC.Write(id[:])
		w.sendMAC.Write(rest)
		tag := w.sendMAC.Sum(w.sendTag[:0])
		dst = append(append(append(dst, head...), id[:]...), tag...)
		copy(w.sendIV[:], tag)
		n := len(dst)
		dst = append(dst, rest...)
		cipher.NewCTR(w.sendCTR, w.sendIV[:]).XORKeyStream(dst[n:], dst[n:])
		return dst
	}
	w.sendMAC.Write(id[:])
	w.sendMAC.Write(head)
	w.sendMAC.Write(rest)
	tag := w.sendMAC.Sum(w.sendTag[:0])
	dst = append(append(append(dst, head...), tag...), id[:]...)
	return append(dst, rest...)
}

// Unwrap checks wrapped packet b and appends to dst the control packet
// it carries (as ParseControl reads it), returning it and its packet id.
// A packet that does not verify is an error wrapping ErrMalformed; the
// replay check of the packet id is the caller's.
func (w *Wrapper) Unwrap(dst, b []byte) ([]byte, PacketID, error) {
	if len(b) < controlHeadLen+packetIDLen+w.tagLen {
		return nil, PacketID{}, malformed("%s packet of %d bytes", w.mode, len(b))
	}
	head := b[:controlHeadLen]
	if !IsControl(Opcode(head[0])) {
		return nil, PacketID{}, malformed("%s: opcode %d is no control packet's", w.mode, Opcode(head[0]))
	}
	var id, tag, rest []byte
	if w.mode == TLSCrypt {
		id = b[controlHeadLen : controlHeadLen+packetIDLen]
		tag = b[controlHeadLen+packetIDLen : controlHeadLen+cryptOverhead]
		rest = b[controlHeadLen+cryptOverhead:]
	} else {
		tag = b[controlHeadLen : controlHeadLen+w.tagLen]
		id = b[controlHeadLen+w.tagLen : controlHeadLen+w.tagLen+packetIDLen]
		rest = b[controlHeadLen+w.tagLen+packetIDLen:]
	}
	start := len(dst)
	dst = append(dst, head...)
	w.recvMAC.Reset()
	if w.mode == TLSCrypt {
		n := len(dst)
		dst = append(dst, rest...)
		copy(w.recvIV[:], tag)
		cipher.NewCTR(w.recvCTR, w.recvIV[:]).XORKeyStream(dst[n:], dst[n:])
		w.recvMAC.Write(head)
		w.recvMAC.Write(id)
		w.recvMAC.Write(dst[n:])
	} else {
		dst = append(dst, rest...)
		w.recvMAC.Write(id)
		w.recvMAC.Write(head)
		w.recvMAC.Write(rest)
	}
	if !hmac.Equal(w.recvMAC.Sum(w.recvTag[:0]), tag) {
		return nil, PacketID{}, malformed("%s: the packet's HMAC does not verify", w.mode)
	}
	pid := PacketID{ID: binary.BigEndian.Uint32(id), Time: binary.BigEndian.Uint32(id[4:])}
	return dst[start:], pid, nil
}
