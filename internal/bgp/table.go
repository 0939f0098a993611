package bgp

import (
	"cmp"
	"net/netip"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// The speaker's tables, kept up to date route by route so that an UPDATE
// costs what it changes, not the size of the tables: every peer's route to
// each prefix (cands), the best of them (bestTab), and, per established
// session, the prefixes whose best route changed since the session was
// last sent its announcements (conn.dirty), which the session's sender
// sends. All are guarded by s.mu.

// setRoute makes r peer p's route to n (the prefix as the peer announced
// it), or withdraws it when r is nil, and brings the best route to the
// prefix up to date.
func (s *Speaker) setRoute(p *peer, n netip.Prefix, r *Route) {
	if old, ok := p.rib[n]; ok {
		delete(p.rib, n)
		if m := s.cands[old.Prefix]; m != nil {
			delete(m, cand{p, n})
			if len(m) == 0 {
				delete(s.cands, old.Prefix)
			}
		}
		s.rebest(old.Prefix)
	}
	if r == nil {
		return
	}
	p.rib[n] = *r
	m := s.cands[r.Prefix]
	if m == nil {
		m = map[cand]Route{}
		s.cands[r.Prefix] = m
	}
	m[cand{p, n}] = *r
	s.rebest(r.Prefix)
}

// cand is one route of a peer's to a prefix: the prefix as the peer
// announced it names it, since two of them may be imported as one (NAT).
type cand struct {
	p *peer
	n netip.Prefix
}

// dropRoutes withdraws all of peer p's routes: its session ended, or it
// was removed.
func (s *Speaker) dropRoutes(p *peer) {
	for n := range p.rib {
		s.setRoute(p, n, nil)
	}
}

// rebest recomputes the best route to pfx among the peers' (pick) and
// marks pfx for the sessions when it changed.
func (s *Speaker) rebest(pfx netip.Prefix) {
	best, found := pick(s.cands[pfx])
	cur, had := s.bestTab[pfx]
	switch {
	case !found && !had:
		return
	case !found:
		delete(s.bestTab, pfx)
	case had && cur.PeerAddr == best.PeerAddr && pathKey(cur) == pathKey(best):
		return
	default:
		s.bestTab[pfx] = best
	}
	for _, q := range s.peers {
		if c := q.established; c != nil && !c.full {
			c.dirty[pfx] = true
		}
	}
}

// pick returns the best of routes as RFC 4271 §9.1.2.2 chooses among
// external peers' (nothing of (d) and (e) applies): of those with the
// shortest AS path (a) and then the lowest ORIGIN (b), a route is out if
// another from the same neighbouring AS has a lower MED (c); of the rest,
// the route of the peer with the lowest BGP identifier (f), then with the
// lowest address (g). MED ranks only the routes of one AS against each
// other, so it rules routes out rather than ordering them all.
func pick(routes map[cand]Route) (Route, bool) {
	var first Route // one of the shortest paths of the lowest ORIGIN
	found := false
	for _, r := range routes {
		if !found || rank(r, first) < 0 {
			first, found = r, true
		}
	}
	var best Route
	found = false
	for _, r := range routes {
		if rank(r, first) != 0 {
			continue
		}
		out := false
		for _, q := range routes {
			if q.MED < r.MED && rank(q, first) == 0 && neighborAS(q) == neighborAS(r) {
				out = true
				break
			}
		}
		if !out && (!found || tieBreak(r, best)) {
			best, found = r, true
		}
	}
	return best, found
}

// rank orders routes by steps (a) and (b) of RFC 4271 §9.1.2.2: the
// shorter AS path, then the lower ORIGIN, first.
func rank(a, b Route) int {
	return cmp.Or(cmp.Compare(wire.PathLen(a.ASPath), wire.PathLen(b.ASPath)), cmp.Compare(a.Origin, b.Origin))
}

// neighborAS is the AS a route came from, the first of its path (RFC
// 4271 §9.1.2.2 (c)): every route taken begins with its peer's (apply).
func neighborAS(r Route) uint32 {
	return r.ASPath[0].ASNs[0]
}

// tieBreak reports whether a is preferred to b, two routes left after
// RFC 4271 §9.1.2.2 (c): the route of the speaker with the lowest BGP
// identifier (f), then that from the lowest peer address (g).
func tieBreak(a, b Route) bool {
	if a.peerID != b.peerID {
		return a.peerID.Less(b.peerID)
	}
	if a.PeerAddr != b.PeerAddr {
		return a.PeerAddr.Less(b.PeerAddr)
	}
	// Two routes of one peer imported as one prefix: any fixed order,
	// so that the best does not flip between equals.
	return pathKey(a) < pathKey(b)
}

// exportOne is what p is sent for pfx, if anything: the network, or the
// best route of another peer (transit) with this AS in front and this
// speaker's address on the session as the next hop (RFC 4271 §5.1.2,
// §5.1.3), and the optional transitive attributes it came with, its
// AGGREGATOR among them (§9); not its MED (§5.1.4). s.mu is held;
// networks are p's (exportNetworks).
func (s *Speaker) exportOne(p *peer, pfx netip.Prefix, networks map[netip.Prefix]bool) (Route, bool) {
	if !pfx.Addr().Is4() {
		return Route{}, false
	}
	if networks[pfx] {
		return Route{Prefix: pfx, PeerAddr: p.cfg.Addr, NextHop: p.cfg.local(s.cfg.ID), ASPath: []wire.Segment{{ASNs: []uint32{s.cfg.AS}}}, Origin: wire.OriginIGP}, true
	}
	r, ok := s.bestTab[pfx]
	// Not back to where it came from, nor to an AS already on its path:
	// the peer would drop it as a loop.
	if !ok || r.PeerAddr == p.cfg.Addr || wire.HasAS(r.ASPath, p.cfg.AS) {
		return Route{}, false
	}
	out := Route{Prefix: pfx, PeerAddr: p.cfg.Addr, NextHop: p.cfg.local(s.cfg.ID), ASPath: wire.Prepend(r.ASPath, s.cfg.AS), Origin: r.Origin, Aggregator: r.Aggregator, Transitive: r.Transitive}
	// Nor a route whose UPDATE, with this AS in front (and AS4_PATH for
	// a two-octet session), is longer than a message may be (RFC 4271
	// §4): it cannot be sent, and Advertised does not list it.
	fourOctet := true
	if c := p.established; c != nil {
		fourOctet = c.fourOctet
	}
	if wire.HeaderLen+out.update([]netip.Prefix{pfx}).Len(fourOctet) > wire.MaxLen {
		return Route{}, false
	}
	return out, true
}

// exportNetworks are the networks p is sent: its own (the ranges as it
// sees them through NAT) or the speaker's. s.mu is held.
func (s *Speaker) exportNetworks(p *peer) map[netip.Prefix]bool {
	networks := s.cfg.Networks
	if p.cfg.Networks != nil {
		networks = p.cfg.Networks
	}
	out := map[netip.Prefix]bool{}
	for _, pfx := range networks {
		out[pfx.Masked()] = true
	}
	return out
}

// exportTo computes everything p is sent. s.mu is held.
func (s *Speaker) exportTo(p *peer) map[netip.Prefix]Route {
	networks := s.exportNetworks(p)
	out := map[netip.Prefix]Route{}
	for pfx := range s.bestTab {
		if r, ok := s.exportOne(p, pfx, networks); ok {
			out[pfx] = r
		}
	}
	for pfx := range networks {
		if r, ok := s.exportOne(p, pfx, networks); ok {
			out[pfx] = r
		}
	}
	return out
}
