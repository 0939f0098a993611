package bgp

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
)

// Path attribute type codes (RFC 4271 §5, RFC 6793).
const (
	attrOrigin    = 1
	attrASPath    = 2
	attrNextHop   = 3
	attrMED       = 4
	attrLocPref   = 5
	attrAtomic    = 6
	attrAggr      = 7
	attrMPReach   = 14 // RFC 4760 §3
	attrMPUnreach = 15 // RFC 4760 §4
	attrAS4Path   = 17 // RFC 6793 §3
	attrAS4Aggr   = 18 // RFC 6793 §3
)

// AFI and SAFI of IPv4 unicast, the only routes a session carries.
const (
	afiIPv4     = 1
	safiUnicast = 1
)

// Attribute flags (RFC 4271 §4.3).
const (
	flagOptional   = 0x80
	flagTransitive = 0x40
	flagPartial    = 0x20
	flagExtLength  = 0x10
	flagsUnused    = 0x0f // ignored when received, zero when sent
)

// ORIGIN values.
const (
	OriginIGP        = 0
	OriginEGP        = 1
	OriginIncomplete = 2
)

// MaxPrefixesPerUpdate keeps an UPDATE that Append builds, with the
// attributes it writes, within MaxLen.
const MaxPrefixesPerUpdate = 500

// Segment is one AS_PATH segment: an ordered AS_SEQUENCE or an unordered
// AS_SET.
type Segment struct {
	Set  bool
	ASNs []uint32
}

// Update is an UPDATE message with IPv4 prefixes (RFC 4271 §4.3). Path
// attributes other than ORIGIN, AS_PATH, NEXT_HOP, MULTI_EXIT_DISC and
// AGGREGATOR are checked for form and otherwise left out, but for the
// unrecognised optional transitive ones.
type Update struct {
	Withdrawn []netip.Prefix
	Origin    uint8
	ASPath    []Segment
	NextHop   netip.Addr
	NLRI      []netip.Prefix
	// MED is the MULTI_EXIT_DISC (RFC 4271 §5.1.4), 0 when the UPDATE
	// has none: route selection takes a route without one for the lowest
	// (§9.1.2.2 (c)). Append does not write it: a MED received from a
	// neighbouring AS MUST NOT go to another (§5.1.4), and every peer is
	// external.
	MED uint32
	// Aggregator is the AGGREGATOR (RFC 4271 §5.1.7), its AS 0 when the
	// UPDATE has none: from a two-octet session, with the AS of
	// AS4_AGGREGATOR (RFC 6793 §4.2.3). Append writes it, and
	// AS4_AGGREGATOR with it for a two-octet session when its AS needs
	// four octets (§4.2.2).
	Aggregator Aggregator
	// Transitive are the attributes passed on with the routes, whole
	// (flags, type, length, value), in ascending order of type, as
	// ParseUpdate returns them: ATOMIC_AGGREGATE (RFC 4271 §5.1.6), and
	// the optional transitive attributes ParseUpdate does not recognise
	// (communities, say), their Partial bit set (§9). Append writes them
	// as they are.
	Transitive string
}

// Aggregator is an AGGREGATOR attribute: the AS and the BGP identifier
// of the speaker that formed the route by aggregation (RFC 4271 §5.1.7).
type Aggregator struct {
	AS   uint32
	Addr netip.Addr
	// Partial is its Partial bit: a speaker on the way did not know the
	// attribute. Once set, it MUST NOT be set back to 0 (RFC 4271 §5).
	Partial bool
}

// parseAggregator reads the value of an AGGREGATOR or AS4_AGGREGATOR
// with flags, its AS of four octets or of two. One of another length,
// or with AS 0, is malformed, and is discarded (RFC 7606 §7.7, RFC 7607
// §2, RFC 6793 §6): the zero Aggregator.
func parseAggregator(flags byte, val []byte, fourOctet bool) Aggregator {
	var a Aggregator
	switch {
	case fourOctet && len(val) == 8:
		a.AS = binary.BigEndian.Uint32(val)
	case !fourOctet && len(val) == 6:
		a.AS = uint32(binary.BigEndian.Uint16(val))
	default:
		return Aggregator{}
	}
	if a.AS == 0 {
		return Aggregator{}
	}
	a.Addr = netip.AddrFrom4([4]byte(val[len(val)-4:]))
	a.Partial = flags&flagPartial != 0
	return a
}

// append appends a as attribute code (AGGREGATOR or AS4_AGGREGATOR),
// with its AS in four octets, or in two (AS_TRANS for one that needs
// four, RFC 6793 §4.2.2).
func (a Aggregator) append(b []byte, code byte, fourOctet bool) []byte {
	flags := byte(flagOptional | flagTransitive)
	if a.Partial {
		flags |= flagPartial
	}
	if fourOctet {
		b = binary.BigEndian.AppendUint32(append(b, flags, code, 8), a.AS)
	} else {
		b = binary.BigEndian.AppendUint16(append(b, flags, code, 6), uint16(twoOctet(a.AS)))
	}
	addr := a.Addr.As4()
	return append(b, addr[:]...)
}

// twoOctet is AS as a two-octet speaker sees it: AS_TRANS for one that
// needs four octets (RFC 6793 §4.2.2).
func twoOctet(as uint32) uint32 {
	if as > 0xffff {
		return ASTrans
	}
	return as
}

// PathLen is the AS path's length as route selection counts it: each AS of
// a sequence, one for a set (RFC 4271 §9.1.2.2).
func PathLen(p []Segment) int {
	n := 0
	for _, s := range p {
		if s.Set {
			n++
		} else {
			n += len(s.ASNs)
		}
	}
	return n
}

// HasAS tells whether as appears in the path (a loop, RFC 4271 §9.1.2).
func HasAS(p []Segment, as uint32) bool {
	for _, s := range p {
		if slices.Contains(s.ASNs, as) {
			return true
		}
	}
	return false
}

// Prepend returns p with as in front, as a speaker sends a route to an
// external peer (RFC 4271 §5.1.2).
func Prepend(p []Segment, as uint32) []Segment {
	if len(p) > 0 && !p[0].Set && len(p[0].ASNs) < 255 {
		out := slices.Clone(p)
		out[0] = Segment{ASNs: append([]uint32{as}, p[0].ASNs...)}
		return out
	}
	return append([]Segment{{ASNs: []uint32{as}}}, p...)
}

// ParseUpdate parses an UPDATE body. fourOctet tells whether both speakers
// announced four-octet AS numbers, which AS_PATH then holds (RFC 6793 §4).
//
// Errors follow RFC 7606, for an external peer: one that leaves the
// message unparsable (the withdrawn routes, the NLRI, the lengths of the
// attribute list, an unrecognised well-known attribute) ends the session;
// a malformed ORIGIN, AS_PATH, NEXT_HOP or MED, a flags error of a known
// attribute, a missing mandatory one, or an attribute whose length
// overruns the list in an UPDATE with routes (§4) is an *Error with
// Withdraw set and the Update parsed as far as it goes: its NLRI are to be
// withdrawn. An attribute that appears again is discarded (§3 (g)).
func ParseUpdate(body []byte, fourOctet bool) (Update, error) {
	var u Update
	if len(body) < 4 {
		return u, errorf(CodeUpdate, SubMalformedList, "UPDATE of %d bytes", len(body))
	}
	wl := int(binary.BigEndian.Uint16(body))
	if 2+wl+2 > len(body) {
		return u, errorf(CodeUpdate, SubMalformedList, "withdrawn routes length %d overruns the message", wl)
	}
	var err error
	if u.Withdrawn, err = parsePrefixes(body[2 : 2+wl]); err != nil {
		return u, err
	}
	rest := body[2+wl:]
	al := int(binary.BigEndian.Uint16(rest))
	if 2+al > len(rest) {
		return u, errorf(CodeUpdate, SubMalformedList, "path attributes length %d overruns the message", al)
	}
	attrs := rest[2 : 2+al]
	if u.NLRI, err = parsePrefixes(rest[2+al:]); err != nil {
		return u, err
	}
	var seen [256]bool
	var withdraw *Error    // the first error that withdraws the routes
	var nextHopErr *Error  // NEXT_HOP's, which the NLRI field's routes alone depend on
	var conflict *Error    // an attribute's length against the list's
	var as4 []Segment      // AS4_PATH, from a two-octet session
	var as4Aggr Aggregator // AS4_AGGREGATOR, likewise
	var mp mpRoutes        // IPv4 unicast in MP_REACH_NLRI and MP_UNREACH_NLRI
	var pass [][]byte      // unrecognised optional transitive attributes
	for len(attrs) > 0 {
		flags := attrs[0]
		hl := 3
		if flags&flagExtLength != 0 {
			hl = 4
		}
		if len(attrs) < hl {
			conflict = errorf(CodeUpdate, SubMalformedList, "path attribute header of %d bytes overruns the list", len(attrs))
			break
		}
		code, n := attrs[1], int(attrs[2])
		if hl == 4 {
			n = int(binary.BigEndian.Uint16(attrs[2:4]))
		}
		if len(attrs) < hl+n {
			conflict = errorf(CodeUpdate, SubAttrLength, "attribute %d of %d bytes overruns the list", code, n)
			// RFC 4271 §6.3: the data is the erroneous attribute, as
			// much of it as the list holds.
			conflict.Data = bytes.Clone(attrs)
			break
		}
		raw, val := attrs[:hl+n], attrs[hl:hl+n]
		attrs = attrs[hl+n:]
		// RFC 7606 §3 (g): all but the first of an attribute that
		// appears more than once are discarded; MP_REACH_NLRI or
		// MP_UNREACH_NLRI twice ends the session.
		if seen[code] {
			if code == attrMPReach || code == attrMPUnreach {
				return u, errorf(CodeUpdate, SubMalformedList, "attribute %d twice", code)
			}
			continue
		}
		seen[code] = true
		if code == attrMPReach || code == attrMPUnreach {
			// The multiprotocol capability (IPv4 unicast) was offered: a
			// peer may carry its routes here too (RFC 4760).
			if err := mp.take(code, flags, val); err != nil {
				// RFC 4271 §6.3: the data of a flags or optional
				// attribute error is the attribute.
				err.Data = bytes.Clone(raw)
				return u, err
			}
			continue
		}
		if code == attrAS4Path {
			// RFC 6793 §4.1: between four-octet speakers it is
			// discarded; §6: a malformed one too.
			if !fourOctet && flags&flagOptional != 0 {
				if p, err := parseASPath(val, true); err == nil {
					as4 = p
				}
			}
			continue
		}
		if code == attrAS4Aggr {
			// As AS4_PATH (RFC 6793 §4.1, §6).
			if !fourOctet && flags&(flagOptional|flagTransitive) == flagOptional|flagTransitive {
				as4Aggr = parseAggregator(flags, val, true)
			}
			continue
		}
		if code == attrAtomic {
			// RFC 4271 §5.1.6: it SHOULD NOT be removed when the route
			// is passed on; RFC 7606 §7.6: a malformed one is discarded.
			if flags&(flagOptional|flagTransitive) == flagTransitive && len(val) == 0 {
				pass = append(pass, []byte{flagTransitive, attrAtomic, 0})
			}
			continue
		}
		if flags&(flagOptional|flagTransitive) == flagOptional|flagTransitive && !recognised(code) {
			// RFC 4271 §9: an unrecognised optional transitive attribute
			// is retained for propagation, its Partial bit set to 1.
			// RFC 4271 §4.3: the unused low-order four bits MUST be zero
			// when sent.
			a := bytes.Clone(raw)
			a[0] = a[0]&^flagsUnused | flagPartial
			pass = append(pass, a)
			continue
		}
		if err := u.attribute(flags, code, val, fourOctet); err != nil {
			if err.Subcode != SubBadASPath {
				// RFC 4271 §6.3: the data MUST be the attribute (type,
				// length and value); Malformed AS_PATH has none.
				err.Data = bytes.Clone(raw)
			}
			if !err.Withdraw {
				return u, err
			}
			switch {
			case code == attrNextHop:
				nextHopErr = err // it applies to the NLRI field's routes alone
			case withdraw == nil:
				withdraw = err
			}
		}
	}
	if len(u.NLRI) > 0 {
		withdraw = cmp.Or(withdraw, nextHopErr)
	} else if nextHopErr != nil {
		// RFC 4760 §3: with routes in MP_REACH_NLRI alone, NEXT_HOP
		// SHOULD be ignored; malformed, it withdraws none of them.
		u.NextHop, seen[attrNextHop] = netip.Addr{}, false
	}
	u.Withdrawn = append(u.Withdrawn, mp.withdrawn...)
	if conflict != nil {
		// RFC 7606 §4: a length conflict MUST be treated as withdraw, the
		// NLRI field located by the Total Path Attribute Length. The
		// attributes after it are lost: an UPDATE without routes to
		// withdraw might have carried an MP_UNREACH_NLRI there, which
		// cannot be told, so it still ends the session.
		if len(u.NLRI) == 0 && len(mp.nlri) == 0 {
			return u, conflict
		}
		conflict.Withdraw = true
		withdraw = cmp.Or(withdraw, conflict)
	}
	if len(mp.nlri) > 0 {
		if len(u.NLRI) > 0 && seen[attrNextHop] && u.NextHop != mp.nextHop && withdraw == nil {
			// One next hop for all the routes of an UPDATE here.
			withdraw = errorf(CodeUpdate, SubBadNextHop, "NEXT_HOP %v and MP_REACH_NLRI's next hop %v", u.NextHop, mp.nextHop)
			withdraw.Withdraw = true
		}
		u.NextHop, seen[attrNextHop] = mp.nextHop, true
		u.NLRI = append(u.NLRI, mp.nlri...)
	}
	// RFC 4271 §6.3: ORIGIN, AS_PATH and NEXT_HOP are mandatory with NLRI;
	// RFC 7606 §3 (d): without one, the routes are withdrawn.
	if len(u.NLRI) > 0 && withdraw == nil {
		for _, c := range []byte{attrOrigin, attrASPath, attrNextHop} {
			if !seen[c] {
				withdraw = errorf(CodeUpdate, SubMissingAttr, "mandatory attribute %d is missing", c)
				// RFC 4271 §6.3: the data is the missing type code.
				withdraw.Withdraw, withdraw.Data = true, []byte{c}
				break
			}
		}
	}
	if withdraw != nil && len(u.NLRI) > 0 {
		return u, withdraw
	}
	if a := u.Aggregator.AS; !fourOctet && a != 0 && as4Aggr.AS != 0 {
		// RFC 6793 §4.2.3, with both AGGREGATOR and AS4_AGGREGATOR: one
		// of another AS than AS_TRANS is a two-octet speaker's that
		// aggregated the route since, and AS4_AGGREGATOR and AS4_PATH
		// SHALL be ignored; else AS4_AGGREGATOR has the aggregator.
		if a != ASTrans {
			as4 = nil
		} else {
			u.Aggregator.AS, u.Aggregator.Addr = as4Aggr.AS, as4Aggr.Addr
			u.Aggregator.Partial = u.Aggregator.Partial || as4Aggr.Partial
		}
	}
	if as4 != nil {
		u.ASPath = mergeAS4(u.ASPath, as4)
	}
	if len(u.NLRI) > 0 {
		slices.SortFunc(pass, func(a, b []byte) int { return cmp.Compare(a[1], b[1]) })
		u.Transitive = string(bytes.Join(pass, nil))
	}
	return u, nil
}

// recognised reports whether ParseUpdate knows attribute code: it takes
// it, or leaves it out on purpose.
func recognised(code byte) bool {
	switch code {
	case attrOrigin, attrASPath, attrNextHop, attrMED, attrLocPref, attrAtomic, attrAggr, attrMPReach, attrMPUnreach, attrAS4Path, attrAS4Aggr:
		return true
	}
	return false
}

// mergeAS4 rebuilds the path a two-octet speaker passed on (RFC 6793
// §4.2.3): the ASes of AS_PATH that AS4_PATH does not cover (prepended
// by two-octet speakers since), then AS4_PATH, whose four-octet ASes
// AS_PATH holds as AS_TRANS. An AS4_PATH longer than AS_PATH is ignored.
func mergeAS4(path, as4 []Segment) []Segment {
	lead := PathLen(path) - PathLen(as4)
	if lead < 0 {
		return path
	}
	var out []Segment
	for _, s := range path {
		if lead == 0 {
			break
		}
		if s.Set {
			out = append(out, s)
			lead--
			continue
		}
		n := min(lead, len(s.ASNs))
		out = append(out, Segment{ASNs: slices.Clone(s.ASNs[:n])})
		lead -= n
	}
	return append(out, as4...)
}

// attribute takes one path attribute. A malformed ORIGIN, AS_PATH,
// NEXT_HOP or MED, or a known attribute with wrong flags, withdraws the
// UPDATE's routes (RFC 7606 §3 (c), §7.1-7.4); a malformed LOCAL_PREF or
// AGGREGATOR is discarded (§7.5, §7.7; ParseUpdate takes
// ATOMIC_AGGREGATE, §7.6); an unrecognised well-known attribute ends the
// session (RFC 4271 §6.3).
func (u *Update) attribute(flags, code byte, val []byte, fourOctet bool) *Error {
	withdraw := func(sub uint8, format string, args ...any) *Error {
		e := errorf(CodeUpdate, sub, format, args...)
		e.Withdraw = true
		return e
	}
	// Well-known attributes are transitive, not optional (RFC 4271
	// §6.3).
	wellKnown := flags&(flagOptional|flagTransitive) == flagTransitive
	switch code {
	case attrOrigin:
		switch {
		case !wellKnown:
			return withdraw(SubAttrFlags, "ORIGIN with flags %#x", flags)
		case len(val) != 1:
			return withdraw(SubAttrLength, "ORIGIN of %d bytes", len(val))
		case val[0] > OriginIncomplete:
			return withdraw(SubBadOrigin, "ORIGIN %d", val[0])
		}
		u.Origin = val[0]
	case attrASPath:
		if !wellKnown {
			return withdraw(SubAttrFlags, "AS_PATH with flags %#x", flags)
		}
		p, err := parseASPath(val, fourOctet)
		if err != nil {
			err.Withdraw = true
			return err
		}
		u.ASPath = p
	case attrNextHop:
		switch {
		case !wellKnown:
			return withdraw(SubAttrFlags, "NEXT_HOP with flags %#x", flags)
		case len(val) != 4:
			return withdraw(SubAttrLength, "NEXT_HOP of %d bytes", len(val))
		}
		u.NextHop = netip.AddrFrom4([4]byte(val))
		if u.NextHop.IsUnspecified() || u.NextHop.IsMulticast() {
			return withdraw(SubBadNextHop, "NEXT_HOP %v", u.NextHop)
		}
	case attrLocPref:
		// Every peer of vnetgw's is external: its LOCAL_PREF is ignored
		// (RFC 4271 §5.1.5), and a malformed one is discarded (RFC 7606
		// §7.5), not taken for a reason to withdraw the routes.
	case attrMED:
		switch {
		// RFC 7606 §3 (c): Optional or Transitive bits in conflict with
		// the attribute's (MED is optional non-transitive) MUST be
		// treated as malformed.
		case flags&(flagOptional|flagTransitive) != flagOptional:
			return withdraw(SubAttrFlags, "MULTI_EXIT_DISC with flags %#x", flags)
		case len(val) != 4:
			return withdraw(SubAttrLength, "MULTI_EXIT_DISC of %d bytes", len(val))
		}
		u.MED = binary.BigEndian.Uint32(val)
	case attrAggr:
		// RFC 7606 §3 (c): flags in conflict with an optional transitive
		// attribute's are treated as withdraw; §7.7 revises the handling
		// of its length only.
		if flags&(flagOptional|flagTransitive) != flagOptional|flagTransitive {
			return withdraw(SubAttrFlags, "AGGREGATOR with flags %#x", flags)
		}
		u.Aggregator = parseAggregator(flags, val, fourOctet)
	default:
		// RFC 4271 §6.3: an unrecognised well-known attribute is an error;
		// unrecognised optional ones are skipped.
		if flags&flagOptional == 0 {
			return errorf(CodeUpdate, SubUnknownWellKnown, "unrecognised well-known attribute %d", code)
		}
	}
	return nil
}

// mpRoutes are the IPv4 unicast routes of an UPDATE's MP_REACH_NLRI and
// MP_UNREACH_NLRI; those of other families (never negotiated) are
// ignored.
type mpRoutes struct {
	nextHop         netip.Addr
	nlri, withdrawn []netip.Prefix
}

// take reads attribute code (MP_REACH_NLRI or MP_UNREACH_NLRI). RFC 7606
// §7.11: a malformed one ends the session (its routes cannot be told).
func (m *mpRoutes) take(code, flags byte, val []byte) *Error {
	bad := func(format string, args ...any) *Error {
		return errorf(CodeUpdate, SubOptAttr, format, args...)
	}
	if flags&(flagOptional|flagTransitive) != flagOptional {
		return errorf(CodeUpdate, SubAttrFlags, "attribute %d with flags %#x", code, flags)
	}
	if len(val) < 3 {
		return bad("attribute %d of %d bytes", code, len(val))
	}
	ours := binary.BigEndian.Uint16(val) == afiIPv4 && val[2] == safiUnicast
	if code == attrMPUnreach {
		if !ours {
			return nil
		}
		ps, err := parsePrefixes(val[3:])
		if err != nil {
			return bad("MP_UNREACH_NLRI: %v", err)
		}
		m.withdrawn = ps
		return nil
	}
	// AFI, SAFI, the next hop's length and the next hop, a reserved
	// byte, the NLRI (RFC 4760 §3).
	if len(val) < 4 || len(val) < 5+int(val[3]) {
		return bad("MP_REACH_NLRI of %d bytes", len(val))
	}
	if !ours {
		return nil
	}
	if val[3] != 4 {
		return bad("MP_REACH_NLRI for IPv4 with a next hop of %d bytes", val[3])
	}
	m.nextHop = netip.AddrFrom4([4]byte(val[4:8]))
	if m.nextHop.IsUnspecified() || m.nextHop.IsMulticast() {
		return bad("MP_REACH_NLRI next hop %v", m.nextHop)
	}
	ps, err := parsePrefixes(val[9:])
	if err != nil {
		return bad("MP_REACH_NLRI: %v", err)
	}
	m.nlri = ps
	return nil
}

func parseASPath(b []byte, fourOctet bool) ([]Segment, *Error) {
	size := 2
	if fourOctet {
		size = 4
	}
	var out []Segment
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errorf(CodeUpdate, SubBadASPath, "AS_PATH segment header overruns the attribute")
		}
		typ, n := b[0], int(b[1])
		// AS_SET 1 and AS_SEQUENCE 2; confederation segments (RFC 5065)
		// never come from an external peer.
		if (typ != 1 && typ != 2) || n == 0 || len(b) < 2+n*size {
			return nil, errorf(CodeUpdate, SubBadASPath, "AS_PATH segment of type %d and %d ASes in %d bytes", typ, n, len(b))
		}
		s := Segment{Set: typ == 1, ASNs: make([]uint32, n)}
		for i := range n {
			if fourOctet {
				s.ASNs[i] = binary.BigEndian.Uint32(b[2+4*i:])
			} else {
				s.ASNs[i] = uint32(binary.BigEndian.Uint16(b[2+2*i:]))
			}
			if s.ASNs[i] == 0 {
				// RFC 7607 §2: AS 0 in a path is malformed.
				return nil, errorf(CodeUpdate, SubBadASPath, "AS 0 in AS_PATH")
			}
		}
		out = append(out, s)
		b = b[2+n*size:]
	}
	return out, nil
}

func parsePrefixes(b []byte) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for len(b) > 0 {
		bits := int(b[0])
		n := (bits + 7) / 8
		if bits > 32 || len(b) < 1+n {
			return nil, errorf(CodeUpdate, SubBadNetwork, "prefix of %d bits in %d bytes", bits, len(b)-1)
		}
		var a [4]byte
		copy(a[:], b[1:1+n])
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(a), bits).Masked())
		b = b[1+n:]
	}
	return out, nil
}

// Append appends the UPDATE body, with AS numbers of four octets when
// fourOctet. Path attributes are written only when there is NLRI; the
// caller keeps the prefixes within MaxPrefixesPerUpdate. What an UPDATE
// cannot carry is an error, and b is returned as it was: a prefix that is
// not IPv4, a NEXT_HOP that is not an IPv4 address (RFC 4271 §4.3), an
// AS_PATH segment of no AS or of more than 255.
func (u Update) Append(b []byte, fourOctet bool) ([]byte, error) {
	if err := u.check(); err != nil {
		return b, err
	}
	b = appendLen16(b, func(b []byte) []byte { return appendPrefixes(b, u.Withdrawn) })
	b = appendLen16(b, func(b []byte) []byte {
		if len(u.NLRI) == 0 {
			return b
		}
		// RFC 4271 §5: the attributes in ascending order of type.
		b = append(b, flagTransitive, attrOrigin, 1, u.Origin)
		b = appendPath(b, flagTransitive, attrASPath, u.ASPath, fourOctet)
		nh := u.NextHop.As4()
		b = append(append(b, flagTransitive, attrNextHop, 4), nh[:]...)
		// The attributes of Transitive before code, those after kept
		// for later.
		rest := u.Transitive
		upTo := func(code byte) {
			n := 0
			for n < len(rest) && rest[n+1] < code {
				n += attrLen(rest[n:])
			}
			b = append(b, rest[:n]...)
			rest = rest[n:]
		}
		if u.Aggregator.AS != 0 {
			upTo(attrAggr)
			b = u.Aggregator.append(b, attrAggr, fourOctet)
		}
		// RFC 6793 §4.2.2: a two-octet peer is also given the path
		// with its four-octet ASes, in AS4_PATH, when it has one, and
		// the aggregator's four-octet AS in AS4_AGGREGATOR.
		if !fourOctet && hasFourOctetAS(u.ASPath) {
			upTo(attrAS4Path)
			b = appendPath(b, flagOptional|flagTransitive, attrAS4Path, u.ASPath, true)
		}
		if !fourOctet && u.Aggregator.AS > 0xffff {
			upTo(attrAS4Aggr)
			b = u.Aggregator.append(b, attrAS4Aggr, true)
		}
		return append(b, rest...)
	})
	return appendPrefixes(b, u.NLRI), nil
}

// Len is the length of the body Append writes with fourOctet, for an
// UPDATE Append takes: a speaker tells whether a route fits in a message
// (MaxLen) without writing it.
func (u Update) Len(fourOctet bool) int {
	n := 2 + prefixesLen(u.Withdrawn) + 2 + prefixesLen(u.NLRI)
	if len(u.NLRI) == 0 {
		return n
	}
	n += 4 + pathLen(u.ASPath, fourOctet) + 7 + len(u.Transitive)
	aggr := 3 + 6
	if fourOctet {
		aggr = 3 + 8
	}
	if u.Aggregator.AS != 0 {
		n += aggr
	}
	if !fourOctet && hasFourOctetAS(u.ASPath) {
		n += pathLen(u.ASPath, true)
	}
	if !fourOctet && u.Aggregator.AS > 0xffff {
		n += 3 + 8
	}
	return n
}

// AppendMessage appends the whole UPDATE message, its header and the
// body Append writes, to b: a buffer of messages needs no copy of the
// body. What Append refuses, or a message longer than MaxLen, is an
// error, and b is returned as it was.
func (u Update) AppendMessage(b []byte, fourOctet bool) ([]byte, error) {
	start := len(b)
	b, err := u.Append(appendHeader(b, TypeUpdate), fourOctet)
	if err != nil {
		return b[:start], err
	}
	return endMessage(b, start)
}

// check reports what of u an UPDATE cannot carry.
func (u Update) check() error {
	for _, ps := range [][]netip.Prefix{u.Withdrawn, u.NLRI} {
		for _, p := range ps {
			if !p.IsValid() || !p.Addr().Is4() {
				// IPv6 goes in MP_REACH_NLRI, which vnetgw does not send.
				return fmt.Errorf("bgp: prefix %v is no IPv4 prefix", p)
			}
		}
	}
	if len(u.NLRI) == 0 {
		return nil // no path attributes
	}
	if !u.NextHop.Is4() {
		return fmt.Errorf("bgp: NEXT_HOP %v is no IPv4 address", u.NextHop)
	}
	if u.Aggregator.AS != 0 && !u.Aggregator.Addr.Is4() {
		return fmt.Errorf("bgp: AGGREGATOR address %v is no IPv4 address", u.Aggregator.Addr)
	}
	for _, s := range u.ASPath {
		if len(s.ASNs) == 0 || len(s.ASNs) > 255 {
			return fmt.Errorf("bgp: AS_PATH segment of %d ASes", len(s.ASNs))
		}
	}
	return nil
}

// hasFourOctetAS reports whether an AS of path p needs four octets: a
// two-octet peer is also sent AS4_PATH (RFC 6793 §4.2.2).
func hasFourOctetAS(p []Segment) bool {
	return slices.ContainsFunc(p, func(s Segment) bool { return slices.ContainsFunc(s.ASNs, func(as uint32) bool { return as > 0xffff }) })
}

// pathLen is the length of the attribute appendPath writes.
func pathLen(p []Segment, fourOctet bool) int {
	size := 2
	if fourOctet {
		size = 4
	}
	n := 0
	for _, s := range p {
		n += 2 + size*len(s.ASNs)
	}
	if n > 255 {
		return 4 + n
	}
	return 3 + n
}

// appendPath appends an AS_PATH or AS4_PATH attribute (code) with flags:
// the path's segments with four-octet ASes, or with AS_TRANS in place of
// those that need four.
func appendPath(b []byte, flags, code byte, p []Segment, fourOctet bool) []byte {
	size := 2
	if fourOctet {
		size = 4
	}
	n := 0
	for _, s := range p {
		n += 2 + size*len(s.ASNs)
	}
	if n > 255 {
		b = append(b, flags|flagExtLength, code)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	} else {
		b = append(b, flags, code, byte(n))
	}
	for _, s := range p {
		typ := byte(2)
		if s.Set {
			typ = 1
		}
		b = append(b, typ, byte(len(s.ASNs)))
		for _, as := range s.ASNs {
			if fourOctet {
				b = binary.BigEndian.AppendUint32(b, as)
			} else {
				b = binary.BigEndian.AppendUint16(b, uint16(twoOctet(as)))
			}
		}
	}
	return b
}

// attrLen is the length of the whole attribute a begins with, one of
// the well-formed ones of Update.Transitive.
func attrLen(a string) int {
	if a[0]&flagExtLength != 0 {
		return 4 + (int(a[2])<<8 | int(a[3]))
	}
	return 3 + int(a[2])
}

func appendLen16(b []byte, f func([]byte) []byte) []byte {
	at := len(b)
	b = f(append(b, 0, 0))
	binary.BigEndian.PutUint16(b[at:], uint16(len(b)-at-2))
	return b
}

// prefixesLen is the length of what appendPrefixes writes.
func prefixesLen(ps []netip.Prefix) int {
	n := 0
	for _, p := range ps {
		n += 1 + (p.Bits()+7)/8
	}
	return n
}

func appendPrefixes(b []byte, ps []netip.Prefix) []byte {
	for _, p := range ps {
		a := p.Masked().Addr().As4()
		b = append(b, byte(p.Bits()))
		b = append(b, a[:(p.Bits()+7)/8]...)
	}
	return b
}
