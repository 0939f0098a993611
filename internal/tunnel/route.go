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
	// m holds the tunnels of a prefix: the one it belongs to first, then
	// the standby tunnels by name; none for a prefix dropped
	// (Config.Drop).
	m map[netip.Prefix][]*tunnel
}

func newRoutes(tunnels map[string]*tunnel, drop []netip.Prefix) *routes {
	r := &routes{v4: lpm{m: map[netip.Prefix][]*tunnel{}}, v6: lpm{m: map[netip.Prefix][]*tunnel{}}}
	for _, t := range tunnels {
		for _, p := range t.cfg.Routes {
			l := &r.v6
			if p.Addr().Is4() {
				l = &r.v4
			}
			l.m[p.Masked()] = append(l.m[p.Masked()], t)
			if !slices.Contains(l.bits, p.Bits()) {
				l.bits = append(l.bits, p.Bits())
			}
		}
	}
	for _, p := range drop {
		l := &r.v6
		if p.Addr().Is4() {
			l = &r.v4
		}
		if _, ok := l.m[p.Masked()]; !ok && p.IsValid() {
			l.m[p.Masked()] = nil
			if !slices.Contains(l.bits, p.Bits()) {
				l.bits = append(l.bits, p.Bits())
			}
		}
	}
	for _, l := range []*lpm{&r.v4, &r.v6} {
		slices.SortFunc(l.bits, func(a, b int) int { return cmp.Compare(b, a) })
		for _, ts := range l.m {
			slices.SortFunc(ts, func(a, b *tunnel) int {
				if a.cfg.Standby != b.cfg.Standby {
					if b.cfg.Standby {
						return -1
					}
					return 1
				}
				return cmp.Compare(a.name, b.name)
			})
		}
	}
	return r
}

// lookup returns the tunnel that routes dst, or nil: of the tunnels of the
// longest matching prefix, the first that has a child SA, or else the one
// the prefix belongs to; nil when that prefix is dropped.
func (r *routes) lookup(dst netip.Addr) *tunnel {
	l := &r.v6
	if dst.Is4() {
		l = &r.v4
	}
	for _, bits := range l.bits {
		p, _ := dst.Prefix(bits)
		if ts, ok := l.m[p]; ok {
			if len(ts) == 0 {
				return nil
			}
			if len(ts) > 1 {
				for _, t := range ts {
					if len(*t.children.Load()) > 0 {
						return t
					}
				}
			}
			return ts[0]
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
