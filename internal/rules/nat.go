package rules

import (
	"net/netip"
	"slices"
)

// NATMapping is one VPN NAT rule as it applies to a site: the site's
// Internal addresses appear as External to the VNet and the other sites
// (IngressSnat), host part for host part; or, Dynamic, as addresses and
// ports of External that flows the Internal side starts are given.
type NATMapping struct {
	Internal, External netip.Prefix
	Dynamic            bool
	// IPConfiguration is the lower-case id of the gateway IP configuration
	// (the instance of an active-active gateway) the rule applies to; ""
	// means every one.
	IPConfiguration string
}

// AtIPConfiguration returns the mappings that apply at the instance of IP
// configuration ipconfig (lower-case id): its own and those of every
// instance.
func AtIPConfiguration(maps []NATMapping, ipconfig string) []NATMapping {
	var out []NATMapping
	for _, m := range maps {
		if m.IPConfiguration == "" || m.IPConfiguration == ipconfig {
			out = append(out, m)
		}
	}
	return out
}

// TranslatePrefixes returns prefixes as the VNet sees them: each prefix
// inside a mapping's internal space moved into its external space (a
// dynamic mapping's whole external space, once); the others as they are.
func TranslatePrefixes(prefixes []netip.Prefix, maps []NATMapping) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		for _, m := range maps {
			if m.Internal.Bits() <= p.Bits() && m.Internal.Contains(p.Addr()) {
				if m.Dynamic {
					p = m.External
				} else {
					p = netip.PrefixFrom(TranslateAddr(p.Addr(), m.Internal, m.External), p.Bits())
				}
				break
			}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// TranslateAddr moves a, inside from, to the address with the same host
// part in to (a prefix of from's length and family).
func TranslateAddr(a netip.Addr, from, to netip.Prefix) netip.Addr {
	ab, tb := a.AsSlice(), to.Masked().Addr().AsSlice()
	out := make([]byte, len(ab))
	for i := range ab {
		m := mask(from.Bits(), i)
		out[i] = tb[i]&m | ab[i]&^m
	}
	r, _ := netip.AddrFromSlice(out)
	return r
}

// mask returns byte i of a network mask of bits ones.
func mask(bits, i int) byte {
	switch n := bits - 8*i; {
	case n >= 8:
		return 0xff
	case n <= 0:
		return 0
	default:
		return ^byte(0xff >> n)
	}
}

// TranslateSpace is TranslatePrefixes for a space that may hold mapped
// spaces inside its prefixes (a VNet with an EgressSnat rule for one of
// its subnets): such a prefix becomes the external spaces of the mappings
// inside it and what remains of it, untranslated.
func TranslateSpace(prefixes []netip.Prefix, maps []NATMapping) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range prefixes {
		var inside []NATMapping
		for _, m := range maps {
			if p.Bits() < m.Internal.Bits() && p.Contains(m.Internal.Addr()) {
				inside = append(inside, m)
			}
		}
		if len(inside) == 0 {
			out = append(out, TranslatePrefixes([]netip.Prefix{p}, maps)...)
			continue
		}
		rest := []netip.Prefix{p}
		for _, m := range inside {
			out = append(out, m.External)
			var next []netip.Prefix
			for _, r := range rest {
				next = append(next, subtract(r, m.Internal)...)
			}
			rest = next
		}
		out = append(out, rest...)
	}
	return out
}

// subtract returns the prefixes that cover p without q.
func subtract(p, q netip.Prefix) []netip.Prefix {
	switch {
	case !p.Overlaps(q):
		return []netip.Prefix{p}
	case q.Bits() <= p.Bits():
		return nil // q covers p
	}
	var out []netip.Prefix
	for bits := p.Bits() + 1; bits <= q.Bits(); bits++ {
		// The half of the prefix of this length around q that q is not in.
		half := netip.PrefixFrom(q.Addr(), bits).Masked()
		sibling := netip.PrefixFrom(flipBit(half.Addr(), bits-1), bits)
		out = append(out, sibling)
	}
	return out
}

// flipBit returns a with bit i (from the left, from 0) flipped.
func flipBit(a netip.Addr, i int) netip.Addr {
	b := a.AsSlice()
	b[i/8] ^= 0x80 >> (i % 8)
	r, _ := netip.AddrFromSlice(b)
	return r
}
