package region

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// Pool is a contiguous range of public addresses, First to Last inclusive.
type Pool struct {
	First, Last netip.Addr
}

// DefaultPublicIPPool is inside 127.0.0.0/8, so that gateways can bind their
// addresses on any Linux machine without privileges.
const DefaultPublicIPPool = "127.10.0.0/16"

// ParsePool parses a CIDR prefix ("127.10.0.0/16": its network and
// broadcast addresses excluded when it has more than two) or a range
// ("192.0.2.10-192.0.2.20").
func ParsePool(s string) (Pool, error) {
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(first))
		b, err2 := netip.ParseAddr(strings.TrimSpace(last))
		if err1 != nil || err2 != nil || a.BitLen() != b.BitLen() || b.Less(a) {
			return Pool{}, fmt.Errorf("public IP pool %q: want FIRST-LAST with FIRST <= LAST of one family", s)
		}
		return Pool{First: a, Last: b}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return Pool{}, fmt.Errorf("public IP pool %q: want a CIDR prefix or a range FIRST-LAST", s)
	}
	p = p.Masked()
	first, last := p.Addr(), lastAddr(p)
	if p.Addr().Is4() && p.Bits() < 31 {
		first, last = first.Next(), last.Prev()
	}
	return Pool{First: first, Last: last}, nil
}

func (p Pool) String() string { return p.First.String() + "-" + p.Last.String() }

// Contains reports whether a is one of the pool's addresses.
func (p Pool) Contains(a netip.Addr) bool {
	return a.BitLen() == p.First.BitLen() && !a.Less(p.First) && !p.Last.Less(a)
}

// lastAddr returns the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// allocatePublicIP takes the next free address of the pool after the last
// one handed out (next fit), so that an address just released is not given
// again at once (R20: a gateway created again gets a different address).
func (r *Region) allocatePublicIP(tx *txn) (netip.Addr, error) {
	used := map[netip.Addr]bool{}
	for _, p := range list[arm.PublicIPAddress](tx, arm.TypePublicIPAddress) {
		if a, err := netip.ParseAddr(p.Properties.IPAddress); err == nil {
			used[a] = true
		}
	}
	start := tx.publicIPCursor()
	if !r.pool.Contains(start) {
		start = r.pool.Last
	}
	a := start
	for {
		a = a.Next()
		if !a.IsValid() || !r.pool.Contains(a) {
			a = r.pool.First
		}
		if !used[a] {
			tx.cursor = &a
			return a, nil
		}
		if a == start {
			return netip.Addr{}, arm.Errorf(arm.CodePublicIPPoolExhausted, "every address of the public IP pool %s is in use", r.pool)
		}
	}
}

// Private addresses. As in Azure, the first four addresses of a subnet and
// its last are reserved (network, gateway, two for DNS, broadcast).
const reservedLow = 4

// privateRange returns the usable addresses of a subnet (of an IPv6 one
// all but its first four); ok is false when it has none (an IPv4 subnet
// smaller than /29, whose reserved addresses are all it has).
func privateRange(p netip.Prefix) (first, last netip.Addr, ok bool) {
	first = p.Masked().Addr()
	for range reservedLow {
		first = first.Next() // past 255.255.255.255: the zero Addr, which p does not contain
	}
	last = lastAddr(p)
	if p.Addr().Is4() {
		last = last.Prev()
	}
	return first, last, p.Contains(first) && !last.Less(first)
}

// reservedPrivate explains why a is not assignable in p, or returns "".
func reservedPrivate(p netip.Prefix, a netip.Addr) string {
	if !p.Contains(a) {
		return "outside"
	}
	first, last, ok := privateRange(p)
	if !ok || a.Less(first) || last.Less(a) {
		return "reserved"
	}
	return ""
}

// allocatePrivateIP returns the lowest free address of a subnet prefix.
func allocatePrivateIP(p netip.Prefix, used map[netip.Addr]bool) (netip.Addr, bool) {
	first, last, ok := privateRange(p)
	for a := first; ok && a.IsValid() && !last.Less(a); a = a.Next() {
		if !used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// NewGUID returns a random RFC 4122 version 4 UUID, as ARM gives its ids
// (resourceGuid, etags, request ids).
func NewGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newEtag() string { return `W/"` + NewGUID() + `"` }

// sharedKeyAlphabet is what generated shared keys are made of (R38).
const sharedKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newSharedKey returns n characters drawn uniformly from crypto/rand (R21),
// by rejection sampling so that no character is more likely than another.
// The first is a letter: devices read prefixes such as 0x and 0s (hex,
// base64) into a key, and a generated key must work as it is everywhere.
func newSharedKey(n int) string {
	const limit = 256 - 256%len(sharedKeyAlphabet)
	const letters = 52 // sharedKeyAlphabet's first
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, c := range buf {
			if int(c) >= limit || len(out) == n {
				continue
			}
			if k := int(c) % len(sharedKeyAlphabet); len(out) > 0 || k < letters {
				out = append(out, sharedKeyAlphabet[k])
			}
		}
	}
	return string(out)
}
