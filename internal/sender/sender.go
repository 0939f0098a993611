// Package sender says which source addresses count as one sender where
// unauthenticated connections are bounded by where they come from.
package sender

import "net/netip"

// Key returns the prefix that a's sender holds: an IPv4 address alone
// (an IPv4-mapped IPv6 address as its IPv4 address), or an IPv6
// address's /64, which one host or site is given whole (RFC 4291 §2.5.1:
// its interface identifier is the low 64 bits) and may take any address
// of. An invalid address gives the zero Prefix.
func Key(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64) // cannot fail: 64 bits of an IPv6 address
	return p
}
