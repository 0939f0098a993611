package esp

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"testing"
)

// suite is one cipher, key size and integrity algorithm.
type suite struct {
	cipher    Cipher
	integrity Integrity
	keyLen    int // AES key bytes, without the GCM salt
}

func (s suite) String() string {
	if s.integrity == NoIntegrity {
		return fmt.Sprintf("%v-%d", s.cipher, 8*s.keyLen)
	}
	return fmt.Sprintf("%v-%d-%v", s.cipher, 8*s.keyLen, s.integrity)
}

// allSuites is every cipher × key size × integrity combination.
func allSuites() []suite {
	var out []suite
	for _, k := range []int{16, 24, 32} {
		out = append(out, suite{AESGCM16, NoIntegrity, k})
	}
	for _, k := range []int{16, 24, 32} {
		for _, i := range []Integrity{HMACSHA1, HMACSHA256, HMACSHA384, HMACSHA512} {
			out = append(out, suite{AESCBC, i, k})
		}
	}
	return out
}

// refHash is the test's own table of hashes and ICV lengths (RFC 2404,
// RFC 4868), independent of hmacParams.
func refHash(i Integrity) (func() hash.Hash, int, int) {
	switch i {
	case HMACSHA1:
		return sha1.New, 20, 12
	case HMACSHA256:
		return sha256.New, 32, 16
	case HMACSHA384:
		return sha512.New384, 48, 24
	case HMACSHA512:
		return sha512.New, 64, 32
	}
	panic("no hash")
}

// keysFor makes deterministic key material for s.
func keysFor(s suite, seed byte) Keys {
	enc := make([]byte, s.keyLen)
	if s.cipher == AESGCM16 {
		enc = make([]byte, s.keyLen+4)
	}
	for i := range enc {
		enc[i] = seed + byte(i)*7
	}
	var integ []byte
	if s.integrity != NoIntegrity {
		_, n, _ := refHash(s.integrity)
		integ = make([]byte, n)
		for i := range integ {
			integ[i] = seed ^ byte(i)*13
		}
	}
	return NewKeys(enc, integ)
}

func configFor(s suite, esn bool) Config {
	return Config{SPI: 0xc0ffee01, Cipher: s.cipher, Integrity: s.integrity, Keys: keysFor(s, 1), ESN: esn}
}

// pair returns an outbound and an inbound SA made from the same Config.
func pair(t testing.TB, cfg Config) (out, in *SA) {
	t.Helper()
	out, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out, in
}

// sealN returns n packets of 10 bytes sealed with out, in the order of
// their sequence numbers.
func sealN(t testing.TB, out *SA, n int) [][]byte {
	t.Helper()
	pkts := make([][]byte, n)
	for i := range pkts {
		pkt, err := out.Seal(packetBuf(innerPacket(10)), 10, 4)
		if err != nil {
			t.Fatal(err)
		}
		pkts[i] = bytes.Clone(pkt)
	}
	return pkts
}

// packetBuf returns a buffer holding inner at Headroom, with Tailroom after it.
func packetBuf(inner []byte) []byte {
	buf := make([]byte, Headroom+len(inner)+Tailroom)
	copy(buf[Headroom:], inner)
	return buf
}

// innerPacket returns n bytes that look like an IPv4 packet.
func innerPacket(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 31)
	}
	if n > 0 {
		p[0] = 0x45
	}
	return p
}

// ref is an independent ESP implementation built straight on crypto/cipher
// and crypto/hmac, from the RFCs, to check the SA against.
type ref struct {
	cfg Config
}

func (r ref) aead() (cipher.AEAD, []byte) {
	k := r.cfg.Keys.encryption
	block, err := aes.NewCipher(k[:len(k)-4])
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g, k[len(k)-4:]
}

// gcmAAD is RFC 4106 §5's additional data.
func (r ref) gcmAAD(seq uint64) []byte {
	aad := binary.BigEndian.AppendUint32(nil, r.cfg.SPI)
	if r.cfg.ESN {
		return binary.BigEndian.AppendUint64(aad, seq)
	}
	return binary.BigEndian.AppendUint32(aad, uint32(seq))
}

func (r ref) mac(authed []byte, seq uint64) []byte {
	h, _, icvLen := refHash(r.cfg.Integrity)
	m := hmac.New(h, r.cfg.Keys.integrity)
	m.Write(authed)
	if r.cfg.ESN {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(seq>>32)))
	}
	return m.Sum(nil)[:icvLen]
}

// seal builds an ESP packet around plaintext, which already holds the
// payload, padding and trailer. iv is the explicit IV (8 bytes for GCM, 16
// for CBC); nil means the sequence number (GCM) or random (CBC).
func (r ref) seal(seq uint64, plaintext, iv []byte) []byte {
	pkt := binary.BigEndian.AppendUint32(nil, r.cfg.SPI)
	pkt = binary.BigEndian.AppendUint32(pkt, uint32(seq))
	if r.cfg.Cipher == AESGCM16 {
		if iv == nil {
			iv = binary.BigEndian.AppendUint64(nil, seq)
		}
		g, salt := r.aead()
		pkt = append(pkt, iv...)
		return g.Seal(pkt, append(bytes.Clone(salt), iv...), plaintext, r.gcmAAD(seq))
	}
	if iv == nil {
		iv = make([]byte, 16)
		_, _ = rand.Read(iv)
	}
	block, err := aes.NewCipher(r.cfg.Keys.encryption)
	if err != nil {
		panic(err)
	}
	ct := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plaintext)
	pkt = append(append(pkt, iv...), ct...)
	return append(pkt, r.mac(pkt, seq)...)
}

// open verifies and decrypts pkt, given the full sequence number, and
// returns the plaintext with its trailer.
func (r ref) open(seq uint64, pkt []byte) ([]byte, bool) {
	if r.cfg.Cipher == AESGCM16 {
		if len(pkt) < 8+8+16 {
			return nil, false
		}
		g, salt := r.aead()
		pt, err := g.Open(nil, append(bytes.Clone(salt), pkt[8:16]...), pkt[16:], r.gcmAAD(seq))
		return pt, err == nil
	}
	_, _, icvLen := refHash(r.cfg.Integrity)
	if len(pkt) < 8+16+icvLen || (len(pkt)-8-16-icvLen)%16 != 0 {
		return nil, false
	}
	at := len(pkt) - icvLen
	if !hmac.Equal(r.mac(pkt[:at], seq), pkt[at:]) {
		return nil, false
	}
	block, err := aes.NewCipher(r.cfg.Keys.encryption)
	if err != nil {
		panic(err)
	}
	pt := make([]byte, at-24)
	cipher.NewCBCDecrypter(block, pkt[8:24]).CryptBlocks(pt, pkt[24:at])
	return pt, true
}

// withTrailer appends the default padding for align and the trailer.
func withTrailer(inner []byte, align int, nextHeader byte) []byte {
	p := append([]byte(nil), inner...)
	pad := (align - (len(p)+2)%align) % align
	for i := 1; i <= pad; i++ {
		p = append(p, byte(i))
	}
	return append(p, byte(pad), nextHeader)
}

func alignOf(c Cipher) int {
	if c == AESGCM16 {
		return 4
	}
	return 16
}
