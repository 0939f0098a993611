package ikev2

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// natHash returns the data of a NAT_DETECTION_SOURCE_IP or
// NAT_DETECTION_DESTINATION_IP notification (RFC 7296 §2.23): SHA-1 of the
// SPIs, the address and the port.
func natHash(spiI, spiR uint64, ap netip.AddrPort) []byte {
	h := sha1.New()
	var b [8 + 8 + 16 + 2]byte
	binary.BigEndian.PutUint64(b[0:], spiI)
	binary.BigEndian.PutUint64(b[8:], spiR)
	n := 16
	if a := ap.Addr().Unmap(); a.Is4() {
		a4 := a.As4()
		n += copy(b[n:], a4[:])
	} else {
		a16 := a.As16()
		n += copy(b[n:], a16[:])
	}
	binary.BigEndian.PutUint16(b[n:], ap.Port())
	h.Write(b[:n+2])
	return h.Sum(nil)
}

// cookieRotation is how often the cookie secret changes (RFC 7296 §2.6: it
// SHOULD change periodically); cookies made with the previous secret stay
// valid for one more period.
const cookieRotation = 5 * time.Minute

// cookieLen is the length of our cookies: a 4-octet secret version and a
// SHA-256 digest (RFC 7296 §2.6 allows 1 to 64 octets).
const cookieLen = 4 + sha256.Size

// cookieJar makes and checks the stateless cookies of RFC 7296 §2.6:
//
//	Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
//
// with HMAC-SHA-256 keyed by the secret as the hash.
type cookieJar struct {
	mu      sync.Mutex // guards the fields below
	version uint32
	secret  [2][32]byte // by version parity: current and previous
	rotated time.Time
}

// rotate replaces the secret when it is older than cookieRotation; j.mu is
// held.
func (j *cookieJar) rotate(now time.Time) {
	if !j.rotated.IsZero() && now.Sub(j.rotated) < cookieRotation {
		return
	}
	j.version++
	_, _ = rand.Read(j.secret[j.version%2][:]) // crypto/rand does not fail
	j.rotated = now
}

func (j *cookieJar) compute(version uint32, ni []byte, ip netip.Addr, spiI uint64) []byte {
	m := hmac.New(sha256.New, j.secret[version%2][:])
	m.Write(ni)
	ip16 := ip.As16()
	m.Write(ip16[:])
	var spi [8]byte
	binary.BigEndian.PutUint64(spi[:], spiI)
	m.Write(spi[:])
	return m.Sum(binary.BigEndian.AppendUint32(make([]byte, 0, cookieLen), version))
}

// make returns a cookie for an initiator.
func (j *cookieJar) make(now time.Time, ni []byte, ip netip.Addr, spiI uint64) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rotate(now)
	return j.compute(j.version, ni, ip, spiI)
}

// check reports whether cookie is one j made for these values with the
// current or the previous secret.
func (j *cookieJar) check(now time.Time, cookie, ni []byte, ip netip.Addr, spiI uint64) bool {
	if len(cookie) != cookieLen {
		return false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rotate(now)
	v := binary.BigEndian.Uint32(cookie)
	// Version 0 is never made: its secret, the previous one of version 1,
	// was never drawn.
	if v != j.version && (v+1 != j.version || v == 0) {
		return false
	}
	return hmac.Equal(cookie, j.compute(v, ni, ip, spiI))
}
