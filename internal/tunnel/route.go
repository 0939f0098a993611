package tunnel

import (
	"cmp"
	"net/netip"
	"slices"
)

// routes is an immutable longest-prefix-match table from destination to
// tunnel. The engine replaces it whole; the data path reads it without a
// lock.
type routes struct{ v4, v6 lpm }

// lpm keeps one map per prefix length that is in use and tries the lengths
// longest first: a lookup costs one map access per length in use, a handful
// for a gateway's routes.
type lpm struct {
	bits []int // lengths in use, longest first
	m    map[netip.Prefix]*tunnel
}

func newRoutes(tunnels map[string]*tunnel) *routes {
	r := &routes{v4: lpm{m: map[netip.Prefix]*tunnel{}}, v6: lpm{m: map[netip.Prefix]*tunnel{}}}
	for _, t := range tunnels {
		for _, p := range t.cfg.Routes {
			l := &r.v6
			if p.Addr().Is4() {
				l = &r.v4
			}
			l.m[p.Masked()] = t
			if !slices.Contains(l.bits, p.Bits()) {
				l.bits = append(l.bits, p.Bits())
			}
		}
	}
	for _, l := range []*lpm{&r.v4, &r.v6} {
		slices.SortFunc(l.bits, func(a, b int) int { return cmp.Compare(b, a) })
	}
	return r
}

// lookup returns the tunnel that routes dst, or nil.
func (r *routes) lookup(dst netip.Addr) *tunnel {
	l := &r.v6
	if dst.Is4() {
		l = &r.v4
	}
	for _, bits := range l.bits {
		p, _ := dst.Prefix(bits)
		if t, ok := l.m[p]; ok {
			return t
		}
	}
	return nil
}

// contains reports whether any of ps holds a.
func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
