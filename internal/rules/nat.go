package rules

import "net/netip"

// NATMapping is one static VPN NAT rule as it applies to a site: the
// site's Internal addresses appear as External to the VNet and the other
// sites (IngressSnat), host part for host part.
type NATMapping struct{ Internal, External netip.Prefix }

// TranslatePrefixes returns prefixes as the VNet sees them: each prefix
// inside a mapping's internal space moved into its external space; the
// others as they are.
func TranslatePrefixes(prefixes []netip.Prefix, maps []NATMapping) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		for _, m := range maps {
			if m.Internal.Bits() <= p.Bits() && m.Internal.Contains(p.Addr()) {
				p = netip.PrefixFrom(TranslateAddr(p.Addr(), m.Internal, m.External), p.Bits())
				break
			}
		}
		out = append(out, p)
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
