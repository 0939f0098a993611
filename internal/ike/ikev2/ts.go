package ikev2

import (
	"encoding/binary"
	"net/netip"
	"slices"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// selector is an address range traffic selector (RFC 7296 §3.13.1) with its
// protocol and ports.
type selector struct {
	proto              uint8
	startPort, endPort uint16
	start, end         netip.Addr
}

// maxSelectors bounds the selectors one side of a child SA may have after
// narrowing, so that a peer cannot make a child SA of unbounded size: as
// many as one TS payload holds (RFC 7296 §3.13: Number of TSs is one
// octet), so that an answer can always be sent and a point-to-site
// client that proposes that many routes is answered them all.
const maxSelectors = 255

// prefixSelector returns the selector of every address in p, any protocol
// and port.
func prefixSelector(p netip.Prefix) selector {
	p = p.Masked()
	return selector{endPort: 0xffff, start: p.Addr(), end: lastAddr(p)}
}

// lastAddr returns the highest address of p, which is masked: its host
// bits all set, with a mask per 64-bit half (a shift by the width or more
// gives 0 in Go, so /0 and full-length prefixes need no special case).
func lastAddr(p netip.Prefix) netip.Addr {
	bits := uint(p.Bits())
	if a := p.Addr(); a.Is4() {
		b := a.As4()
		binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(b[:])|(uint32(1)<<(32-bits)-1))
		return netip.AddrFrom4(b)
	}
	b := p.Addr().As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	if bits < 64 {
		hi, lo = hi|(uint64(1)<<(64-bits)-1), ^uint64(0)
	} else {
		lo |= uint64(1)<<(128-bits) - 1
	}
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

// wireSelector returns s as it goes into a TS payload.
func (s selector) wireSelector() wire.TrafficSelector {
	t := wire.TSIPv4AddrRange
	if s.start.Is6() {
		t = wire.TSIPv6AddrRange
	}
	return wire.TrafficSelector{Type: t, IPProtocol: s.proto, StartPort: s.startPort, EndPort: s.endPort,
		StartAddr: s.start, EndAddr: s.end}
}

// fromWire returns a received address range selector; it reports false for
// other types, which this package skips (RFC 7296 §3.13.1), and for empty
// ranges.
func fromWire(t wire.TrafficSelector) (selector, bool) {
	if t.Type != wire.TSIPv4AddrRange && t.Type != wire.TSIPv6AddrRange {
		return selector{}, false
	}
	s := selector{proto: t.IPProtocol, startPort: t.StartPort, endPort: t.EndPort, start: t.StartAddr, end: t.EndAddr}
	if s.start.Compare(s.end) > 0 || s.startPort > s.endPort {
		return selector{}, false
	}
	return s, true
}

// intersect returns the selector of the traffic both a and b match.
func intersect(a, b selector) (selector, bool) {
	if a.start.Is4() != b.start.Is4() {
		return selector{}, false
	}
	var s selector
	switch {
	case a.proto == b.proto || b.proto == 0:
		s.proto = a.proto
	case a.proto == 0:
		s.proto = b.proto
	default:
		return selector{}, false
	}
	s.startPort, s.endPort = max(a.startPort, b.startPort), min(a.endPort, b.endPort)
	s.start, s.end = maxAddr(a.start, b.start), minAddr(a.end, b.end)
	if s.startPort > s.endPort || s.start.Compare(s.end) > 0 {
		return selector{}, false
	}
	return s, true
}

func maxAddr(a, b netip.Addr) netip.Addr {
	if a.Compare(b) >= 0 {
		return a
	}
	return b
}

func minAddr(a, b netip.Addr) netip.Addr {
	if a.Compare(b) <= 0 {
		return a
	}
	return b
}

// contains reports whether every packet s matches is matched by outer.
func (s selector) within(outer selector) bool {
	got, ok := intersect(s, outer)
	return ok && got == s
}

// addressOnly reports whether s matches every protocol and port: the data
// path checks a child SA's packets by address alone, so a selector that
// names a protocol or ports would be agreed and not enforced (RFC 4301
// §5.2), and vnetgw does not agree to it.
func (s selector) addressOnly() bool {
	return s.proto == 0 && s.startPort == 0 && s.endPort == 0xffff
}

// narrow returns the parts of the peer's selectors that ours allow (RFC
// 7296 §2.9): every non-empty intersection of one of ours with one of
// theirs, at most maxSelectors of them. Theirs that name a protocol or
// ports are left out (such as the triggering packet's selector an
// initiator puts first): with nothing else, the answer is TS_UNACCEPTABLE.
func narrow(ours []netip.Prefix, theirs []wire.TrafficSelector) []selector {
	var out []selector
	for _, t := range theirs {
		ts, ok := fromWire(t)
		if !ok || !ts.addressOnly() {
			continue
		}
		for _, o := range ours {
			if s, ok := intersect(ts, prefixSelector(o)); ok && !slices.Contains(out, s) && len(out) < maxSelectors {
				out = append(out, s)
			}
		}
	}
	return out
}

// within reports whether every selector the responder chose lies within
// what was proposed (RFC 7296 §2.9: the responder may only narrow).
func within(chosen []wire.TrafficSelector, proposed []selector) ([]selector, bool) {
	var out []selector
	for _, t := range chosen {
		s, ok := fromWire(t)
		if !ok || !s.addressOnly() || len(out) == maxSelectors {
			return nil, false
		}
		if !slices.ContainsFunc(proposed, s.within) {
			return nil, false
		}
		out = append(out, s)
	}
	return out, len(out) > 0
}

// tsPayload returns the TSi or TSr payload of selectors.
func tsPayload(responder bool, ss []selector) *wire.TrafficSelectors {
	p := &wire.TrafficSelectors{Responder: responder, Selectors: make([]wire.TrafficSelector, len(ss))}
	for i, s := range ss {
		p.Selectors[i] = s.wireSelector()
	}
	return p
}

// prefixSelectors returns the selectors of prefixes.
func prefixSelectors(ps []netip.Prefix) []selector {
	ss := make([]selector, len(ps))
	for i, p := range ps {
		ss[i] = prefixSelector(p)
	}
	return ss
}

// prefixes returns the smallest set of prefixes that covers the address
// ranges of ss, which match every protocol and port (addressOnly).
func prefixes(ss []selector) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		for a := s.start; a.IsValid() && a.Compare(s.end) <= 0; {
			p := largestPrefix(a, s.end)
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
			a = lastAddr(p).Next()
		}
	}
	return out
}

// largestPrefix returns the largest prefix that starts at a and ends at or
// before end.
func largestPrefix(a, end netip.Addr) netip.Prefix {
	for bits := 0; bits < a.BitLen(); bits++ {
		p := netip.PrefixFrom(a, bits)
		if p.Masked().Addr() == a && lastAddr(p.Masked()).Compare(end) <= 0 {
			return p.Masked()
		}
	}
	return netip.PrefixFrom(a, a.BitLen())
}
