package ikev1

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DOI and situation of the IPsec DOI (RFC 2407 §4.2).
const (
	DOIIPsec         = 1
	SitIdentityOnly  = 1
	ProtocolISAKMP   = 1
	ProtocolESP      = 3
	TransformKeyIKE  = 1 // KEY_IKE, the only phase 1 transform ID
	payloadProposal  = 2
	payloadTransform = 3
)

// Phase 1 attribute types (RFC 2409 Appendix A).
const (
	AttrEncryption = 1
	AttrHash       = 2
	AttrAuthMethod = 3
	AttrGroup      = 4
	AttrLifeType   = 11
	AttrLifeValue  = 12
	AttrKeyLength  = 14
)

// Phase 2 (ESP) attribute types (RFC 2407 §4.5).
const (
	AttrSALifeType  = 1
	AttrSALifeValue = 2
	AttrPFSGroup    = 3
	AttrEncapMode   = 4
	AttrAuthAlg     = 5
	AttrESPKeyLen   = 6
)

// Attribute values.
const (
	EncrAESCBC     = 7 // phase 1 encryption
	Hash1          = 2 // SHA
	Hash256        = 4
	Hash384        = 5
	Hash512        = 6
	AuthPSK        = 1
	LifeSeconds    = 1
	LifeKilobytes  = 2
	EncapTunnel    = 1
	EncapUDPTunnel = 3 // RFC 3947
	AuthHMACSHA1   = 2 // phase 2 authentication algorithms
	AuthHMACSHA256 = 5
	AuthHMACSHA384 = 6
	AuthHMACSHA512 = 7
	ESPAESCBC      = 12 // phase 2 transform IDs (RFC 2407 §4.4.4)
	ESPAESGCM16    = 20 // RFC 4106
)

// Attr is a data attribute (RFC 2408 §3.3): a basic one (two bytes) or
// a variable one, of any length (an SA Life Duration of eight bytes, RFC
// 2407 §4.5, or a private group's prime, RFC 2409 Appendix A). Value is
// its number; a variable value beyond 64 bits is kept as math.MaxUint64.
type Attr struct {
	Type  uint16
	Value uint64
}

// Transform is a transform payload.
type Transform struct {
	Number, ID uint8
	Attrs      []Attr
}

// Attr returns the value of attribute t and whether it is there.
func (t Transform) Attr(typ uint16) (uint64, bool) {
	for _, a := range t.Attrs {
		if a.Type == typ {
			return a.Value, true
		}
	}
	return 0, false
}

// Proposal is a proposal payload with its transforms.
type Proposal struct {
	Number, Protocol uint8
	SPI              []byte
	Transforms       []Transform
}

// SA is an SA payload of the IPsec DOI.
type SA struct {
	DOI, Situation uint32
	Proposals      []Proposal
}

// ParseSA parses an SA payload body.
func ParseSA(b []byte) (SA, error) {
	if len(b) < 8 {
		return SA{}, ErrShort
	}
	sa := SA{DOI: binary.BigEndian.Uint32(b), Situation: binary.BigEndian.Uint32(b[4:])}
	if sa.DOI != DOIIPsec {
		return sa, fmt.Errorf("ikev1: DOI %d, not IPsec", sa.DOI)
	}
	ps, err := ParsePayloads(payloadProposal, b[8:])
	if err != nil {
		return sa, err
	}
	if len(ps) > maxProposals {
		return sa, ErrTooMany
	}
	for _, p := range ps {
		if p.Type != payloadProposal {
			return sa, fmt.Errorf("ikev1: payload %d inside an SA", p.Type)
		}
		pr, err := parseProposal(p.Body)
		if err != nil {
			return sa, err
		}
		sa.Proposals = append(sa.Proposals, pr)
	}
	return sa, nil
}

func parseProposal(b []byte) (Proposal, error) {
	if len(b) < 4 {
		return Proposal{}, ErrShort
	}
	p := Proposal{Number: b[0], Protocol: b[1]}
	spiLen, n := int(b[2]), int(b[3])
	if len(b) < 4+spiLen {
		return p, ErrLength
	}
	p.SPI = b[4 : 4+spiLen]
	ts, err := ParsePayloads(payloadTransform, b[4+spiLen:])
	if err != nil {
		return p, err
	}
	if len(ts) != n || n > maxTransforms {
		return p, fmt.Errorf("ikev1: proposal says %d transforms, %d follow", n, len(ts))
	}
	for _, t := range ts {
		if t.Type != payloadTransform {
			return p, fmt.Errorf("ikev1: payload %d inside a proposal", t.Type)
		}
		tr, err := parseTransform(t.Body)
		if err != nil {
			return p, err
		}
		p.Transforms = append(p.Transforms, tr)
	}
	return p, nil
}

func parseTransform(b []byte) (Transform, error) {
	if len(b) < 4 {
		return Transform{}, ErrShort
	}
	t := Transform{Number: b[0], ID: b[1]}
	var err error
	t.Attrs, err = ParseAttrs(b[4:])
	return t, err
}

// ParseAttrs parses a list of data attributes (RFC 2408 §3.3): a
// transform's, or the Notification Data of a RESPONDER-LIFETIME.
func ParseAttrs(b []byte) ([]Attr, error) {
	var attrs []Attr
	for len(b) > 0 {
		if len(attrs) == maxAttributes {
			return attrs, ErrTooMany
		}
		if len(b) < 4 {
			return attrs, ErrShort
		}
		typ, v := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		if typ&0x8000 != 0 { // TV
			attrs = append(attrs, Attr{Type: typ &^ 0x8000, Value: uint64(v)})
			b = b[4:]
			continue
		}
		n := int(v)
		if len(b) < 4+n {
			return attrs, ErrLength
		}
		a := Attr{Type: typ}
		for _, c := range b[4 : 4+n] {
			if a.Value > math.MaxUint64>>8 {
				a.Value = math.MaxUint64 // a number beyond 64 bits
				break
			}
			a.Value = a.Value<<8 | uint64(c)
		}
		attrs = append(attrs, a)
		b = b[4+n:]
	}
	return attrs, nil
}

// AppendAttrs appends a list of data attributes.
func AppendAttrs(b []byte, attrs []Attr) []byte {
	for _, a := range attrs {
		b = a.append(b)
	}
	return b
}

// Append appends the SA payload body.
func (sa SA) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, sa.DOI)
	b = binary.BigEndian.AppendUint32(b, sa.Situation)
	var props []Payload
	for _, p := range sa.Proposals {
		body := []byte{p.Number, p.Protocol, byte(len(p.SPI)), byte(len(p.Transforms))}
		body = append(body, p.SPI...)
		var ts []Payload
		for _, t := range p.Transforms {
			tb := AppendAttrs([]byte{t.Number, t.ID, 0, 0}, t.Attrs)
			ts = append(ts, Payload{Type: payloadTransform, Body: tb})
		}
		body, _ = AppendPayloads(body, ts)
		props = append(props, Payload{Type: payloadProposal, Body: body})
	}
	b, _ = AppendPayloads(b, props)
	return b
}

// append appends the attribute: basic when its value fits in two bytes,
// else variable, in four bytes or eight.
func (a Attr) append(b []byte) []byte {
	switch {
	case a.Value <= 0xffff:
		b = binary.BigEndian.AppendUint16(b, a.Type|0x8000)
		return binary.BigEndian.AppendUint16(b, uint16(a.Value))
	case a.Value <= math.MaxUint32:
		b = binary.BigEndian.AppendUint16(b, a.Type)
		b = binary.BigEndian.AppendUint16(b, 4)
		return binary.BigEndian.AppendUint32(b, uint32(a.Value))
	}
	b = binary.BigEndian.AppendUint16(b, a.Type)
	b = binary.BigEndian.AppendUint16(b, 8)
	return binary.BigEndian.AppendUint64(b, a.Value)
}
