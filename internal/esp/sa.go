package esp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// Buffer layout for Seal.
const (
	// OuterRoom is the room Seal leaves in front of the ESP packet at the
	// least: an outer IPv6 header (40) and a UDP header (8, RFC 3948).
	OuterRoom = 40 + 8
	// Headroom is where the caller puts the inner packet: OuterRoom, the
	// ESP header and the longest IV (AES-CBC's 16 bytes).
	Headroom = OuterRoom + espwire.HeaderLen + aes.BlockSize
	// Tailroom is the most Seal writes after the inner packet: padding to
	// the AES block, pad length and next header, and the longest ICV
	// (HMAC-SHA2-512-256's 32 bytes).
	Tailroom = aes.BlockSize - 1 + espwire.TrailerLen + 32
)

const (
	saltLen     = 4  // RFC 4106 §4
	gcmIVLen    = 8  // RFC 4106 §3.1
	gcmICVLen   = 16 // ENCR_AES_GCM_16
	gcmAlign    = 4  // RFC 4303 §2.4: the trailer ends on a 4-byte boundary
	esnAADLen   = 12 // RFC 4106 §5: SPI, high and low sequence number
	maxSeq32    = math.MaxUint32
	maxSeqESN   = math.MaxUint64 - math.MaxUint32 - 1 // see NextSeq
	seqSoftPart = 16                                  // signal rekey with 1/16 of the sequence space left
)

// Limits are an SA's lifetimes in bytes and packets; zero means none. Bytes
// count inner packets (the plaintext). Each direction is counted on its own:
// an SA is used either to seal or to open. Lifetimes in seconds belong to the
// IKE layer; see Created.
type Limits struct {
	// SoftBytes and SoftPackets, once reached, are told to OnExpiry's
	// function, so that the IKE layer rekeys.
	SoftBytes, SoftPackets uint64
	// HardBytes and HardPackets make Seal and Open fail with ErrExpired once
	// reached, and are told to OnExpiry's function. A packet that starts
	// while the SA is under its limit is finished, so concurrent Opens may
	// pass a limit by a few packets.
	HardBytes, HardPackets uint64
}

// Config describes one SA: one direction of an IKEv2 Child SA.
type Config struct {
	// SPI is the SPI in the packets: the peer's for an outbound SA, ours for
	// an inbound one. It must not be zero (RFC 4303 §2.1).
	SPI       uint32
	Cipher    Cipher
	Integrity Integrity
	Keys      Keys
	// ESN turns on 64-bit extended sequence numbers (RFC 4303 §2.2.1).
	ESN bool
	// ReplayWindow is the anti-replay window in packets, a power of two
	// between MinReplayWindow and MaxReplayWindow; 0 means
	// DefaultReplayWindow.
	ReplayWindow int
	// NoReplayCheck turns anti-replay off for an inbound SA (RFC 4303
	// §3.4.3, a receiver's choice): Open takes a duplicate or a packet
	// older than the window (with ESN, only one within it: the window
	// still gives the high bits, RFC 4303 Appendix A2.2). Newest then
	// reports nothing as newest: a replay could come from anywhere.
	NoReplayCheck bool
	Limits        Limits
}

// SA is one direction of a Child SA in tunnel mode. An outbound SA seals,
// an inbound SA opens; all methods are safe for concurrent use.
type SA struct {
	spi       uint32
	esn       bool
	cipher    Cipher
	integrity Integrity
	keyBits   int
	created   time.Time

	aead   cipher.AEAD // AES-GCM; nil for AES-CBC, whose state is in work
	salt   [saltLen]byte
	ivLen  int
	icvLen int
	align  int
	work   sync.Pool // of *work

	lastSeq   uint64 // the last sequence number NextSeq gives out
	seqErr    Error  // what NextSeq returns past lastSeq
	softSeq   uint64 // NextSeq signals the soft limit from here
	limits    Limits // zero limits replaced by math.MaxUint64
	replay    *window
	noReplay  bool            // Config.NoReplayCheck
	expired   func(hard bool) // OnExpiry's
	softFired atomic.Bool
	hardFired atomic.Bool
	drops     [errorCount]atomic.Uint64

	// The counters every packet writes sit on cache lines of their own, one
	// for each direction, so that sealing goroutines do not keep taking the
	// read-mostly fields above away from each other.
	_          [64]byte
	seq        atomic.Uint64 // last outbound sequence number taken
	packetsOut atomic.Uint64
	bytesOut   atomic.Uint64
	_          [64 - 3*8]byte
	packetsIn  atomic.Uint64
	bytesIn    atomic.Uint64
}

// cbcMode is a CBC mode whose IV can be reset between packets. crypto/cipher's
// CBC modes have SetIV (crypto/tls relies on it too), which lets one mode
// serve many packets without allocating.
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

// work is per-call scratch. It holds the buffers that go through crypto
// interfaces (which would otherwise escape to the heap on every call) and the
// HMAC and CBC states, which are not safe for concurrent use. An SA keeps
// them in a sync.Pool, so there are about as many as goroutines using it.
type work struct {
	nonce [saltLen + gcmIVLen]byte
	aad   [esnAADLen]byte
	sum   [sha512.Size]byte
	mac   hash.Hash
	enc   cbcMode
	dec   cbcMode
}

// New creates an SA from cfg. It copies the key material, so cfg.Keys may be
// wiped afterwards.
func New(cfg Config) (*SA, error) {
	if cfg.SPI == 0 {
		return nil, errors.New("esp: new sa: spi is zero")
	}
	size := cfg.ReplayWindow
	if size == 0 {
		size = DefaultReplayWindow
	}
	if size < MinReplayWindow || size > MaxReplayWindow || size&(size-1) != 0 {
		return nil, fmt.Errorf("esp: new sa: replay window %d is not a power of two in [%d, %d]", size, MinReplayWindow, MaxReplayWindow)
	}
	limits, err := cfg.Limits.normalize()
	if err != nil {
		return nil, fmt.Errorf("esp: new sa: %w", err)
	}
	s := &SA{
		spi:       cfg.SPI,
		esn:       cfg.ESN,
		cipher:    cfg.Cipher,
		integrity: cfg.Integrity,
		created:   time.Now(),
		limits:    limits,
		replay:    newWindow(uint64(size), cfg.ESN),
		noReplay:  cfg.NoReplayCheck,
	}
	s.lastSeq, s.seqErr = maxSeq32, ErrSeqExhausted
	if cfg.ESN {
		s.lastSeq = maxSeqESN
	}
	s.softSeq = min(limits.SoftPackets, s.lastSeq-s.lastSeq/seqSoftPart)
	if limits.HardPackets < s.lastSeq {
		s.lastSeq, s.seqErr = limits.HardPackets, ErrExpired
	}
	switch cfg.Cipher {
	case AESGCM16:
		err = s.initGCM(cfg)
	case AESCBC:
		err = s.initCBC(cfg)
	default:
		err = fmt.Errorf("unsupported cipher %v", cfg.Cipher)
	}
	if err != nil {
		return nil, fmt.Errorf("esp: new sa 0x%08x: %w", cfg.SPI, err)
	}
	return s, nil
}

// Lower reports whether any of l's limits is lower than o's, a zero
// meaning none. An SA's limits are fixed when it is made: an IKE daemon
// whose configuration lowered them rekeys the SA so that they hold.
func (l Limits) Lower(o Limits) bool {
	most := func(v uint64) uint64 {
		if v == 0 {
			return math.MaxUint64
		}
		return v
	}
	below := func(a, b uint64) bool { return most(a) < most(b) }
	return below(l.SoftBytes, o.SoftBytes) || below(l.SoftPackets, o.SoftPackets) ||
		below(l.HardBytes, o.HardBytes) || below(l.HardPackets, o.HardPackets)
}

func (l Limits) normalize() (Limits, error) {
	if l.HardBytes != 0 && l.SoftBytes > l.HardBytes {
		return l, errors.New("soft byte limit above hard limit")
	}
	if l.HardPackets != 0 && l.SoftPackets > l.HardPackets {
		return l, errors.New("soft packet limit above hard limit")
	}
	for _, v := range []*uint64{&l.SoftBytes, &l.SoftPackets, &l.HardBytes, &l.HardPackets} {
		if *v == 0 {
			*v = math.MaxUint64
		}
	}
	return l, nil
}

func (s *SA) initGCM(cfg Config) error {
	if cfg.Integrity != NoIntegrity {
		return fmt.Errorf("%v takes no integrity algorithm, got %v", cfg.Cipher, cfg.Integrity)
	}
	k := cfg.Keys.encryption
	switch len(k) {
	case 16 + saltLen, 24 + saltLen, 32 + saltLen:
	default:
		return fmt.Errorf("%v key material is %d bytes, want 20, 28 or 36", cfg.Cipher, len(k))
	}
	if len(cfg.Keys.integrity) != 0 {
		return fmt.Errorf("%v takes no integrity key", cfg.Cipher)
	}
	block, err := aes.NewCipher(k[:len(k)-saltLen])
	if err != nil {
		return err
	}
	// RFC 4106 §8.1: the last four bytes of the key material are the salt.
	copy(s.salt[:], k[len(k)-saltLen:])
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	s.keyBits = 8 * (len(k) - saltLen)
	s.ivLen, s.icvLen, s.align = gcmIVLen, gcmICVLen, gcmAlign
	s.work.New = func() any { return new(work) }
	return nil
}

func (s *SA) initCBC(cfg Config) error {
	newHash, keyLen, icvLen, ok := cfg.Integrity.hmacParams()
	if !ok {
		return fmt.Errorf("%v needs an hmac integrity algorithm, got %v", cfg.Cipher, cfg.Integrity)
	}
	if n := len(cfg.Keys.integrity); n != keyLen {
		return fmt.Errorf("%v key is %d bytes, want %d", cfg.Integrity, n, keyLen)
	}
	k := cfg.Keys.encryption
	switch len(k) {
	case 16, 24, 32:
	default:
		return fmt.Errorf("%v key is %d bytes, want 16, 24 or 32", cfg.Cipher, len(k))
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return err
	}
	s.keyBits = 8 * len(k)
	// RFC 3602 §3: the IV is one cipher block; the payload is padded to
	// whole blocks, which also meets the 4-byte alignment of RFC 4303 §2.4.
	s.ivLen, s.icvLen, s.align = aes.BlockSize, icvLen, aes.BlockSize

	macKey := append([]byte(nil), cfg.Keys.integrity...)
	var zeroIV [aes.BlockSize]byte
	newWork := func() (*work, bool) {
		enc, ok1 := cipher.NewCBCEncrypter(block, zeroIV[:]).(cbcMode)
		dec, ok2 := cipher.NewCBCDecrypter(block, zeroIV[:]).(cbcMode)
		return &work{mac: hmac.New(newHash, macKey), enc: enc, dec: dec}, ok1 && ok2
	}
	// Build one now, so that a crypto/cipher without SetIV fails here and
	// not in the pool.
	w, ok := newWork()
	if !ok {
		return errors.New("crypto/cipher cbc mode cannot reset its iv")
	}
	s.work.New = func() any { w, _ := newWork(); return w }
	s.work.Put(w)
	return nil
}

// SPI returns the SA's SPI.
func (s *SA) SPI() uint32 { return s.spi }

// Created returns when the SA was made, for the IKE layer's lifetimes in
// seconds.
func (s *SA) Created() time.Time { return s.created }

// OnExpiry has f called once when the SA reaches a soft limit (hard
// false: SoftBytes, SoftPackets, or 15/16 of its sequence numbers; the IKE
// layer should rekey then) and once when it reaches a hard limit (hard
// true: HardBytes or HardPackets, or its last sequence number given out;
// it seals or opens no more, and the IKE layer must delete it, RFC 4301
// §4.4.2.1). The Seal, Open or NextSeq that reached the limit calls f, on
// the packet path: f must not block. OnExpiry is called before the SA is
// shared with other goroutines.
func (s *SA) OnExpiry(f func(hard bool)) { s.expired = f }

// HeaderLen returns how many bytes Seal puts in front of the inner packet:
// the ESP header and the IV. The ESP packet starts at Headroom-HeaderLen().
func (s *SA) HeaderLen() int { return espwire.HeaderLen + s.ivLen }

// SealedLen returns the length of the ESP packet Seal makes from an n-byte
// inner packet.
func (s *SA) SealedLen(n int) int {
	return s.HeaderLen() + n + espwire.Padding(n, s.align) + espwire.TrailerLen + s.icvLen
}

// Seq is an outbound sequence number taken with NextSeq. Seal each Seq once:
// with AES-GCM it is also the IV, and an IV used twice breaks the cipher.
type Seq struct{ n uint64 }

// NextSeq takes the next outbound sequence number. It fails with
// ErrSeqExhausted when the counter would cycle (RFC 4303 §3.3.3): after
// 2^32-1 packets without ESN, and with ESN after 2^64-2^32-1 packets, which
// keeps an atomic increment from ever wrapping. It fails with ErrExpired past
// HardPackets.
func (s *SA) NextSeq() (Seq, error) {
	// RFC 4303 §3.3.3: the sender's counter MUST NOT cycle. Looking before
	// adding keeps failed calls from moving the counter on.
	if s.seq.Load() >= s.lastSeq {
		return Seq{}, s.drop(s.seqErr)
	}
	n := s.seq.Add(1)
	if n > s.lastSeq {
		return Seq{}, s.drop(s.seqErr)
	}
	if n >= s.softSeq {
		s.fire(false)
	}
	if n == s.lastSeq {
		s.fire(true)
	}
	return Seq{n}, nil
}

// Seq returns the SA's sequence number as an audit line names it (RFC 4303
// §4): for an outbound SA the last one NextSeq gave out, for an inbound SA
// the highest that passed its ICV check; 0 before the first.
func (s *SA) Seq() uint64 {
	if n := min(s.seq.Load(), s.lastSeq); n > 0 {
		return n
	}
	return s.replay.top.Load()
}

// Usable reports whether the SA can still seal: it has sequence numbers
// left and is under its hard limits. It is cheap enough to ask per packet.
func (s *SA) Usable() bool {
	return s.seq.Load() < s.lastSeq && s.bytesOut.Load() < s.limits.HardBytes
}

// Seal takes the next sequence number and seals the n-byte inner packet at
// buf[Headroom:] with it; see SealSeq.
func (s *SA) Seal(buf []byte, n int, nextHeader uint8) ([]byte, error) {
	q, err := s.NextSeq()
	if err != nil {
		return nil, err
	}
	return s.SealSeq(q, buf, n, nextHeader)
}

// SealSeq turns the n-byte inner packet at buf[Headroom:] into an ESP
// packet with sequence number q, in place, and returns it. nextHeader is 4
// for IPv4, 41 for IPv6, or 59 for a dummy packet (the NextHeader constants
// of package wire/esp). buf must have room for the trailer after the packet
// (Tailroom is always enough); the bytes before the returned slice are free
// for the outer headers.
func (s *SA) SealSeq(q Seq, buf []byte, n int, nextHeader uint8) ([]byte, error) {
	if q.n == 0 {
		return nil, s.drop(ErrSeq)
	}
	if n < 0 || n > len(buf)-Headroom {
		return nil, s.drop(ErrNoRoom)
	}
	pad := espwire.Padding(n, s.align)
	ptEnd := Headroom + n + pad + espwire.TrailerLen
	if ptEnd+s.icvLen > len(buf) {
		return nil, s.drop(ErrNoRoom)
	}
	if s.bytesOut.Load() >= s.limits.HardBytes {
		return nil, s.drop(ErrExpired)
	}
	pkt := buf[Headroom-s.HeaderLen() : ptEnd+s.icvLen]
	binary.BigEndian.PutUint32(pkt[0:4], s.spi)
	// RFC 4303 §2.2.1: with ESN only the low-order 32 bits are sent.
	binary.BigEndian.PutUint32(pkt[4:8], uint32(q.n))
	espwire.Trailer{PadLen: uint8(pad), NextHeader: nextHeader}.Append(buf[Headroom+n : Headroom+n])
	plaintext := buf[Headroom:ptEnd]

	w := s.work.Get().(*work)
	if s.aead != nil {
		s.sealGCM(w, pkt, plaintext, q.n)
	} else {
		s.sealCBC(w, pkt, plaintext, q.n)
	}
	s.work.Put(w)

	s.packetsOut.Add(1)
	b := s.bytesOut.Add(uint64(n))
	if b >= s.limits.SoftBytes {
		s.fire(false)
	}
	if b >= s.limits.HardBytes {
		s.fire(true)
	}
	return pkt, nil
}

func (s *SA) sealGCM(w *work, pkt, plaintext []byte, seq uint64) {
	iv := pkt[espwire.HeaderLen : espwire.HeaderLen+gcmIVLen]
	// RFC 4106 §3.1: the IV MUST NOT repeat under one key. The sequence
	// number never does (NextSeq), so it is the IV.
	binary.BigEndian.PutUint64(iv, seq)
	s.nonce(w, iv)
	s.aead.Seal(plaintext[:0], w.nonce[:], plaintext, s.aad(w, pkt, seq))
}

func (s *SA) sealCBC(w *work, pkt, plaintext []byte, seq uint64) {
	iv := pkt[espwire.HeaderLen : espwire.HeaderLen+aes.BlockSize]
	// RFC 3602 §2.4: the IV MUST be random and unpredictable.
	_, _ = rand.Read(iv)
	w.enc.SetIV(iv)
	w.enc.CryptBlocks(plaintext, plaintext)
	// RFC 4303 §3.3.2: encrypt, then compute the ICV over the packet.
	icvAt := len(pkt) - s.icvLen
	copy(pkt[icvAt:], s.icv(w, pkt[:icvAt], seq))
}

// Open authenticates and decrypts the ESP packet pkt in place and returns
// the inner packet (a slice of pkt) and the Next Header: 4 for IPv4, 41 for
// IPv6, and 59 for a dummy packet, which the caller MUST drop (RFC 4303
// §2.6). The inner packet may end in TFC padding (RFC 4303 §2.7); the inner
// IP header's length says where the packet ends. On error pkt's contents are
// undefined.
//
// Open follows RFC 4303 §3.4: length, SPI, replay check, ICV check, then
// (and only then) the hard limits, the replay window update, decryption
// and the padding check. A forged packet counts as ErrAuth whatever the
// SA's limits.
func (s *SA) Open(pkt []byte) ([]byte, uint8, error) {
	hdrLen := s.HeaderLen()
	ctLen := len(pkt) - hdrLen - s.icvLen
	// RFC 4303 §2.4: the ciphertext holds at least the two trailer bytes,
	// padded to the block size (4 bytes at least).
	if ctLen < s.align || ctLen%s.align != 0 {
		return nil, 0, s.drop(ErrLength)
	}
	h, _, err := espwire.ParseHeader(pkt)
	if err != nil || h.SPI != s.spi {
		return nil, 0, s.drop(ErrSPI)
	}
	// RFC 4303 §3.4.3: the replay check comes before the ICV check; with
	// anti-replay off none is made (seq is 0 only when it could not be
	// reconstructed, and no ICV would verify with it).
	seq, ok := s.replay.check(h.Seq)
	if !ok && (!s.noReplay || seq == 0) {
		return nil, 0, s.drop(ErrReplay)
	}
	w := s.work.Get().(*work)
	var plaintext []byte
	if s.aead != nil {
		plaintext, ok = s.openGCM(w, pkt, seq)
	} else {
		plaintext, ok = s.openCBC(w, pkt, seq)
	}
	s.work.Put(w)
	if !ok {
		return nil, 0, s.drop(ErrAuth)
	}
	if s.packetsIn.Load() >= s.limits.HardPackets || s.bytesIn.Load() >= s.limits.HardBytes {
		return nil, 0, s.drop(ErrExpired)
	}
	// RFC 4303 §3.4.3: the window is updated only after the ICV verified.
	if !s.replay.update(seq) && !s.noReplay {
		return nil, 0, s.drop(ErrReplay)
	}
	t, n, err := espwire.ParseTrailer(plaintext)
	if err != nil {
		return nil, 0, s.drop(ErrPadding)
	}
	inner := plaintext[:len(plaintext)-n]
	packets, bytes := s.packetsIn.Add(1), s.bytesIn.Add(uint64(len(inner)))
	if packets >= s.limits.SoftPackets || bytes >= s.limits.SoftBytes {
		s.fire(false)
	}
	if packets >= s.limits.HardPackets || bytes >= s.limits.HardBytes {
		s.fire(true)
	}
	return inner, t.NextHeader, nil
}

// Newest reports whether pkt, a packet Open accepted, carries the highest
// sequence number the SA has accepted so far: it is no replay of an older
// packet, which may come from anywhere. Only such a packet may move the
// peer's address (RFC 7296 §2.23). Open must have returned without error.
func (s *SA) Newest(pkt []byte) bool {
	if s.noReplay {
		// A replay of the newest packet is taken too: nothing tells it
		// from the packet.
		return false
	}
	// Each sequence number is accepted once, and Open accepted pkt's
	// moments ago: if its low 32 bits (all that is sent) are top's, pkt
	// is the packet that raised top.
	return uint32(s.replay.top.Load()) == binary.BigEndian.Uint32(pkt[4:8])
}

func (s *SA) openGCM(w *work, pkt []byte, seq uint64) ([]byte, bool) {
	s.nonce(w, pkt[espwire.HeaderLen:espwire.HeaderLen+gcmIVLen])
	ciphertext := pkt[espwire.HeaderLen+gcmIVLen:]
	// crypto/cipher's GCM returns no plaintext unless the tag verifies.
	plaintext, err := s.aead.Open(ciphertext[:0], w.nonce[:], ciphertext, s.aad(w, pkt, seq))
	return plaintext, err == nil
}

func (s *SA) openCBC(w *work, pkt []byte, seq uint64) ([]byte, bool) {
	icvAt := len(pkt) - s.icvLen
	// RFC 4303 §3.4.4: verify the ICV before decrypting, in constant time.
	if !hmac.Equal(s.icv(w, pkt[:icvAt], seq), pkt[icvAt:]) {
		return nil, false
	}
	w.dec.SetIV(pkt[espwire.HeaderLen : espwire.HeaderLen+aes.BlockSize])
	ciphertext := pkt[espwire.HeaderLen+aes.BlockSize : icvAt]
	w.dec.CryptBlocks(ciphertext, ciphertext)
	return ciphertext, true
}

// nonce builds the AES-GCM nonce in w: salt, then the packet's IV
// (RFC 4106 §4).
func (s *SA) nonce(w *work, iv []byte) {
	copy(w.nonce[:saltLen], s.salt[:])
	copy(w.nonce[saltLen:], iv)
}

// aad returns the AES-GCM additional data: SPI and the 32-bit sequence
// number, which is the packet's own header, or with ESN the SPI and the
// high and low halves of the 64-bit one (RFC 4106 §5).
func (s *SA) aad(w *work, pkt []byte, seq uint64) []byte {
	if !s.esn {
		return pkt[:espwire.HeaderLen]
	}
	binary.BigEndian.PutUint32(w.aad[0:4], s.spi)
	binary.BigEndian.PutUint64(w.aad[4:12], seq)
	return w.aad[:]
}

// icv computes the truncated HMAC over b, followed with ESN by the
// high-order 32 bits of the sequence number, which are never sent
// (RFC 4303 §2.2.1, §3.3.2.2).
func (s *SA) icv(w *work, b []byte, seq uint64) []byte {
	w.mac.Reset()
	w.mac.Write(b)
	if s.esn {
		binary.BigEndian.PutUint32(w.aad[:4], uint32(seq>>32))
		w.mac.Write(w.aad[:4])
	}
	return w.mac.Sum(w.sum[:0])[:s.icvLen]
}

// fire tells OnExpiry's function, once, that the SA reached a soft or a
// hard limit.
func (s *SA) fire(hard bool) {
	fired := &s.softFired
	if hard {
		fired = &s.hardFired
	}
	if !fired.Load() && fired.CompareAndSwap(false, true) && s.expired != nil {
		s.expired(hard)
	}
}

func (s *SA) drop(e Error) error {
	s.drops[e].Add(1)
	return e
}

// Stats is a snapshot of an SA's counters. Bytes count inner packets.
// PacketsIn and BytesIn count what Open accepted, PacketsOut and BytesOut
// what Seal sealed, whether or not it was sent afterwards: the Limits
// count what the key protected.
type Stats struct {
	PacketsIn, BytesIn   uint64
	PacketsOut, BytesOut uint64
	Drops                Drops
}

// Drops counts refused packets by reason; each field counts one Error.
type Drops struct {
	Length, SPI, Replay, Auth, Padding uint64 // Open
	Expired                            uint64 // Seal and Open
	SeqExhausted, NoRoom, Seq          uint64 // Seal
}

// Total returns the number of packets refused for any reason.
func (d Drops) Total() uint64 {
	return d.Length + d.SPI + d.Replay + d.Auth + d.Padding + d.Expired + d.SeqExhausted + d.NoRoom + d.Seq
}

// Stats returns a snapshot of the SA's counters. Each counter is read
// atomically, but not all at one instant.
func (s *SA) Stats() Stats {
	d := func(e Error) uint64 { return s.drops[e].Load() }
	return Stats{
		PacketsIn:  s.packetsIn.Load(),
		BytesIn:    s.bytesIn.Load(),
		PacketsOut: s.packetsOut.Load(),
		BytesOut:   s.bytesOut.Load(),
		Drops: Drops{
			Length:       d(ErrLength),
			SPI:          d(ErrSPI),
			Replay:       d(ErrReplay),
			Auth:         d(ErrAuth),
			Padding:      d(ErrPadding),
			Expired:      d(ErrExpired),
			SeqExhausted: d(ErrSeqExhausted),
			NoRoom:       d(ErrNoRoom),
			Seq:          d(ErrSeq),
		},
	}
}

// String describes the SA without key material, e.g.
// "esp sa 0xc0ffee01 aes-gcm16-256 esn".
func (s *SA) String() string {
	str := fmt.Sprintf("esp sa 0x%08x %v-%d", s.spi, s.cipher, s.keyBits)
	if s.integrity != NoIntegrity {
		str += "-" + s.integrity.String()
	}
	if s.esn {
		str += " esn"
	}
	return str
}

// Format writes String whatever the verb, so that no format string reaches
// the key material inside the SA.
func (s *SA) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue implements slog.LogValuer without key material.
func (s *SA) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("spi", fmt.Sprintf("0x%08x", s.spi)),
		slog.String("cipher", s.cipher.String()),
		slog.Int("key_bits", s.keyBits),
		slog.String("integrity", s.integrity.String()),
		slog.Bool("esn", s.esn),
		slog.Uint64("seq", s.Seq()),
	)
}
