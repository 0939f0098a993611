package ikev2

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// TSType is the TS Type of a traffic selector (RFC 7296 section 3.13.1).
type TSType uint8

// Traffic selector types (RFC 7296 section 3.13.1).
const (
	TSIPv4AddrRange TSType = 7
	TSIPv6AddrRange TSType = 8
)

func (t TSType) String() string {
	switch t {
	case TSIPv4AddrRange:
		return "TS_IPV4_ADDR_RANGE"
	case TSIPv6AddrRange:
		return "TS_IPV6_ADDR_RANGE"
	}
	return "TSType(" + strconv.Itoa(int(t)) + ")"
}

// Selector lengths of the address range types (RFC 7296 section 3.13.1).
const (
	tsHeaderLen  = 4
	tsIPv4Len    = tsHeaderLen + 4 + 2*4
	tsIPv6Len    = tsHeaderLen + 4 + 2*16
	tsPayloadLen = 4 // Number of TSs and three reserved octets
)

// TrafficSelector is one traffic selector (RFC 7296 section 3.13.1).
type TrafficSelector struct {
	Type TSType
	// IPProtocol is the IP protocol ID, zero for any. For a selector
	// type this package does not know it holds the second octet as is.
	IPProtocol uint8
	// StartPort and EndPort bound the ports; 0 and 65535 mean any, and
	// StartPort 65535 with EndPort 0 means OPAQUE.
	StartPort, EndPort uint16
	// StartAddr and EndAddr bound the addresses, both IPv4 for
	// TSIPv4AddrRange and both IPv6 for TSIPv6AddrRange.
	StartAddr, EndAddr netip.Addr
	// Data holds, for a selector type this package does not know, what
	// follows the Selector Length field; it aliases the parsed input.
	Data []byte
}

// known reports whether the selector is an address range type.
func (ts TrafficSelector) known() bool {
	return ts.Type == TSIPv4AddrRange || ts.Type == TSIPv6AddrRange
}

// Len returns the encoded length.
func (ts TrafficSelector) Len() int {
	switch ts.Type {
	case TSIPv4AddrRange:
		return tsIPv4Len
	case TSIPv6AddrRange:
		return tsIPv6Len
	}
	return tsHeaderLen + len(ts.Data)
}

// String formats the selector as start-end[protocol/ports], e.g.
// "10.1.0.0-10.1.255.255[0/0-65535]".
func (ts TrafficSelector) String() string {
	if !ts.known() {
		return ts.Type.String()
	}
	return ts.StartAddr.String() + "-" + ts.EndAddr.String() +
		"[" + strconv.Itoa(int(ts.IPProtocol)) + "/" +
		strconv.Itoa(int(ts.StartPort)) + "-" + strconv.Itoa(int(ts.EndPort)) + "]"
}

// Append appends the selector to b.
func (ts TrafficSelector) Append(b []byte) ([]byte, error) {
	n := ts.Len()
	if n > 0xffff {
		return b, malformed("traffic selector length %d exceeds 65535", n)
	}
	switch ts.Type {
	case TSIPv4AddrRange:
		if !ts.StartAddr.Is4() || !ts.EndAddr.Is4() {
			return b, malformed("%v with addresses %v and %v", ts.Type, ts.StartAddr, ts.EndAddr)
		}
	case TSIPv6AddrRange:
		if !ts.StartAddr.Is6() || !ts.EndAddr.Is6() {
			return b, malformed("%v with addresses %v and %v", ts.Type, ts.StartAddr, ts.EndAddr)
		}
	}
	b = append(b, byte(ts.Type), ts.IPProtocol, byte(n>>8), byte(n))
	if !ts.known() {
		return append(b, ts.Data...), nil
	}
	b = binary.BigEndian.AppendUint16(b, ts.StartPort)
	b = binary.BigEndian.AppendUint16(b, ts.EndPort)
	b = append(b, ts.StartAddr.AsSlice()...)
	return append(b, ts.EndAddr.AsSlice()...), nil
}

// parseTrafficSelector decodes the selector at the start of b.
func parseTrafficSelector(b []byte) (TrafficSelector, int, error) {
	if len(b) < tsHeaderLen {
		return TrafficSelector{}, 0, malformed("traffic selector: %d octets, need %d", len(b), tsHeaderLen)
	}
	ts := TrafficSelector{Type: TSType(b[0]), IPProtocol: b[1]}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < tsHeaderLen || n > len(b) {
		return TrafficSelector{}, 0, malformed("traffic selector: length %d, %d octets left", n, len(b))
	}
	var alen int
	switch ts.Type {
	case TSIPv4AddrRange:
		alen = 4
	case TSIPv6AddrRange:
		alen = 16
	default:
		ts.Data = sub(b, tsHeaderLen, n)
		return ts, n, nil
	}
	// §3.13.1: the Selector Length of the range types is fixed.
	if want := tsHeaderLen + 4 + 2*alen; n != want {
		return TrafficSelector{}, 0, malformed("%v: selector length %d, want %d", ts.Type, n, want)
	}
	ts.StartPort = binary.BigEndian.Uint16(b[4:6])
	ts.EndPort = binary.BigEndian.Uint16(b[6:8])
	ts.StartAddr, _ = netip.AddrFromSlice(b[8 : 8+alen])
	ts.EndAddr, _ = netip.AddrFromSlice(b[8+alen : 8+2*alen])
	return ts, n, nil
}

// TrafficSelectors is the Traffic Selector payload, TSi or TSr (RFC 7296
// section 3.13).
type TrafficSelectors struct {
	Generic
	// Responder selects TSr; otherwise the payload is TSi.
	Responder bool
	Selectors []TrafficSelector
	// Reserved holds the three reserved octets, kept so that re-encoding
	// is exact; zero when sending.
	Reserved [3]byte
}

// Type returns PayloadTSi or PayloadTSr.
func (t *TrafficSelectors) Type() PayloadType {
	if t.Responder {
		return PayloadTSr
	}
	return PayloadTSi
}

// Len returns the encoded length.
func (t *TrafficSelectors) Len() int {
	n := GenericHeaderLen + tsPayloadLen
	for i := range t.Selectors {
		n += t.Selectors[i].Len()
	}
	return n
}

// Append appends the payload to b.
func (t *TrafficSelectors) Append(b []byte) ([]byte, error) {
	if len(t.Selectors) > 0xff {
		return b, malformed("%d traffic selectors", len(t.Selectors))
	}
	start := len(b)
	b, err := t.Generic.append(b, PayloadNone, t.Len())
	if err != nil {
		return b, err
	}
	b = append(b, byte(len(t.Selectors)), t.Reserved[0], t.Reserved[1], t.Reserved[2])
	for i := range t.Selectors {
		if b, err = t.Selectors[i].Append(b); err != nil {
			return b[:start], err
		}
	}
	return b, nil
}

func parseTrafficSelectors(g Generic, responder bool, body []byte) (*TrafficSelectors, error) {
	if len(body) < tsPayloadLen {
		return nil, malformed("%d octets, need %d", len(body), tsPayloadLen)
	}
	t := &TrafficSelectors{
		Generic:   g,
		Responder: responder,
		Reserved:  [3]byte{body[1], body[2], body[3]},
	}
	count := int(body[0])
	off := tsPayloadLen
	if count > 0 {
		t.Selectors = make([]TrafficSelector, 0, min(count, (len(body)-off)/tsHeaderLen))
	}
	for range count {
		ts, n, err := parseTrafficSelector(body[off:])
		if err != nil {
			return nil, err
		}
		t.Selectors = append(t.Selectors, ts)
		off += n
	}
	if off != len(body) {
		return nil, malformed("%d traffic selectors leave %d of %d octets", count, len(body)-off, len(body))
	}
	return t, nil
}
