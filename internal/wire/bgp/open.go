package bgp

import (
	"encoding/binary"
	"net/netip"
)

// ASTrans stands in a two-octet field for a four-octet AS (RFC 6793 §9).
const ASTrans = 23456

// Capability codes (RFC 5492 and the IANA registry).
const (
	capMultiprotocol = 1
	capRouteRefresh  = 2 // RFC 2918
	capFourOctetAS   = 65
	optCapabilities  = 2 // the optional parameter that holds capabilities
)

// Open is an OPEN message (RFC 4271 §4.2) with the capabilities vnetgw
// understands; others are skipped.
type Open struct {
	// AS is the speaker's AS: the four-octet one when it sends the
	// capability (RFC 6793), else the two-octet My Autonomous System.
	AS       uint32
	HoldTime uint16
	ID       netip.Addr // the BGP Identifier, an IPv4 address
	// FourOctetAS tells that the speaker handles four-octet AS numbers.
	FourOctetAS bool
	// IPv4Unicast tells that the speaker announced the multiprotocol
	// capability for IPv4 unicast. A speaker without any multiprotocol
	// capability does IPv4 unicast only (RFC 4760 §8).
	IPv4Unicast, Multiprotocol bool
}

// ParseOpen parses an OPEN body.
func ParseOpen(body []byte) (Open, error) {
	if len(body) < 10 {
		return Open{}, errorf(CodeHeader, SubBadLength, "OPEN of %d bytes", len(body))
	}
	// RFC 4271 §6.2: an unsupported version is answered with the
	// highest we support; we speak 4 only.
	if body[0] != 4 {
		err := errorf(CodeOpen, SubBadVersion, "version %d, not 4", body[0])
		err.Data = []byte{0, 4} // RFC 4271 §6.2: the version we support, 2 octets
		return Open{}, err
	}
	o := Open{AS: uint32(binary.BigEndian.Uint16(body[1:3])), HoldTime: binary.BigEndian.Uint16(body[3:5]),
		ID: netip.AddrFrom4([4]byte(body[5:9]))}
	// RFC 4271 §6.2: a hold time of 1 or 2 seconds MUST be refused.
	if o.HoldTime == 1 || o.HoldTime == 2 {
		return Open{}, errorf(CodeOpen, SubBadHoldTime, "hold time %d s", o.HoldTime)
	}
	if o.ID == netip.IPv4Unspecified() {
		return Open{}, errorf(CodeOpen, SubBadID, "BGP identifier 0.0.0.0")
	}
	params := body[10:]
	if int(body[9]) != len(params) {
		return Open{}, errorf(CodeOpen, 0, "optional parameters length %d, %d bytes follow", body[9], len(params))
	}
	for len(params) > 0 {
		if len(params) < 2 || len(params) < 2+int(params[1]) {
			return Open{}, errorf(CodeOpen, 0, "optional parameter overruns the message")
		}
		typ, val := params[0], params[2:2+int(params[1])]
		params = params[2+int(params[1]):]
		if typ != optCapabilities {
			// RFC 4271 §6.2: an unrecognised optional parameter MUST be
			// answered with Unsupported Optional Parameters. Speakers
			// announce what is new as capabilities (RFC 5492).
			return Open{}, errorf(CodeOpen, SubUnsupportedParam, "unsupported optional parameter %d", typ)
		}
		for len(val) > 0 {
			if len(val) < 2 || len(val) < 2+int(val[1]) {
				return Open{}, errorf(CodeOpen, 0, "capability overruns its parameter")
			}
			code, cv := val[0], val[2:2+int(val[1])]
			val = val[2+int(val[1]):]
			switch code {
			case capMultiprotocol:
				if len(cv) != 4 {
					return Open{}, errorf(CodeOpen, 0, "multiprotocol capability of %d bytes", len(cv))
				}
				o.Multiprotocol = true
				if binary.BigEndian.Uint16(cv) == 1 && cv[3] == 1 {
					o.IPv4Unicast = true
				}
			case capFourOctetAS:
				if len(cv) != 4 {
					return Open{}, errorf(CodeOpen, 0, "four-octet AS capability of %d bytes", len(cv))
				}
				o.FourOctetAS, o.AS = true, binary.BigEndian.Uint32(cv)
			}
		}
	}
	if !o.Multiprotocol {
		o.IPv4Unicast = true
	}
	// RFC 7607: AS 0 MUST NOT be used in OPEN.
	if o.AS == 0 {
		return Open{}, errorf(CodeOpen, SubBadPeerAS, "AS 0")
	}
	return o, nil
}

// Append appends the OPEN body. It announces IPv4 unicast, route refresh
// and four-octet AS numbers.
func (o Open) Append(b []byte) []byte {
	my := uint16(ASTrans)
	if o.AS <= 0xffff {
		my = uint16(o.AS)
	}
	b = append(b, 4)
	b = binary.BigEndian.AppendUint16(b, my)
	b = binary.BigEndian.AppendUint16(b, o.HoldTime)
	id := o.ID.As4()
	b = append(b, id[:]...)
	caps := append(IPv4UnicastCapability(), capRouteRefresh, 0, capFourOctetAS, 4)
	caps = binary.BigEndian.AppendUint32(caps, o.AS)
	b = append(b, byte(2+len(caps)), optCapabilities, byte(len(caps)))
	return append(b, caps...)
}

// IPv4UnicastCapability is the multiprotocol capability for IPv4 unicast
// as an OPEN carries it (RFC 4760 §8): code, length, AFI, a reserved
// octet, SAFI.
func IPv4UnicastCapability() []byte {
	return []byte{capMultiprotocol, 4, 0, afiIPv4, 0, safiUnicast}
}

// RefreshesIPv4Unicast tells whether a ROUTE-REFRESH body (at least four
// bytes, as ReadMessage gives it) asks for the IPv4 unicast routes: RFC
// 2918 §4 has a refresh of another AFI/SAFI, one vnetgw did not announce,
// ignored, and RFC 7313 §5 one of a subtype vnetgw did not negotiate
// (Enhanced Route Refresh's markers) too.
func RefreshesIPv4Unicast(body []byte) bool {
	return len(body) >= 4 && binary.BigEndian.Uint16(body) == afiIPv4 && body[2] == 0 && body[3] == safiUnicast
}
