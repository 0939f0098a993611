package ikev2

import (
	"encoding/binary"
	"strconv"
)

// ProtocolID names the protocol of a proposal, notification or deletion
// (RFC 7296 sections 3.3.1, 3.10 and 3.11).
type ProtocolID uint8

// Protocol IDs (RFC 7296 section 3.3.1).
const (
	ProtocolIKE ProtocolID = 1
	ProtocolAH  ProtocolID = 2
	ProtocolESP ProtocolID = 3
)

func (p ProtocolID) String() string {
	switch p {
	case 0:
		return "NONE"
	case ProtocolIKE:
		return "IKE"
	case ProtocolAH:
		return "AH"
	case ProtocolESP:
		return "ESP"
	}
	return "ProtocolID(" + strconv.Itoa(int(p)) + ")"
}

// TransformType is the Transform Type field (RFC 7296 section 3.3.2).
type TransformType uint8

// Transform types (RFC 7296 section 3.3.2).
const (
	TransformENCR  TransformType = 1 // encryption algorithm
	TransformPRF   TransformType = 2 // pseudorandom function
	TransformINTEG TransformType = 3 // integrity algorithm
	TransformDH    TransformType = 4 // Diffie-Hellman group
	TransformESN   TransformType = 5 // extended sequence numbers
)

func (t TransformType) String() string {
	switch t {
	case TransformENCR:
		return "ENCR"
	case TransformPRF:
		return "PRF"
	case TransformINTEG:
		return "INTEG"
	case TransformDH:
		return "DH"
	case TransformESN:
		return "ESN"
	}
	return "TransformType(" + strconv.Itoa(int(t)) + ")"
}

// EncrID is the Transform ID of an ENCR transform (RFC 7296 section 3.3.2;
// GCM from RFC 5282).
type EncrID uint16

// Encryption algorithms.
const (
	EncrAESCBC   EncrID = 12 // key length in the Key Length attribute
	EncrAESGCM8  EncrID = 18 // 8-octet ICV (RFC 5282)
	EncrAESGCM12 EncrID = 19 // 12-octet ICV (RFC 5282)
	EncrAESGCM16 EncrID = 20 // 16-octet ICV (RFC 5282)
)

// AEAD reports whether the algorithm authenticates by itself, so that a
// proposal with it carries no INTEG transform (RFC 5282 section 8).
func (id EncrID) AEAD() bool {
	return id == EncrAESGCM8 || id == EncrAESGCM12 || id == EncrAESGCM16
}

func (id EncrID) String() string {
	switch id {
	case EncrAESCBC:
		return "ENCR_AES_CBC"
	case EncrAESGCM8:
		return "ENCR_AES_GCM_8"
	case EncrAESGCM12:
		return "ENCR_AES_GCM_12"
	case EncrAESGCM16:
		return "ENCR_AES_GCM_16"
	}
	return "ENCR(" + strconv.Itoa(int(id)) + ")"
}

// PRFID is the Transform ID of a PRF transform (RFC 7296 section 3.3.2;
// SHA-2 from RFC 4868).
type PRFID uint16

// Pseudorandom functions.
const (
	PRFHMACSHA1   PRFID = 2
	PRFHMACSHA256 PRFID = 5
	PRFHMACSHA384 PRFID = 6
	PRFHMACSHA512 PRFID = 7
)

func (id PRFID) String() string {
	switch id {
	case PRFHMACSHA1:
		return "PRF_HMAC_SHA1"
	case PRFHMACSHA256:
		return "PRF_HMAC_SHA2_256"
	case PRFHMACSHA384:
		return "PRF_HMAC_SHA2_384"
	case PRFHMACSHA512:
		return "PRF_HMAC_SHA2_512"
	}
	return "PRF(" + strconv.Itoa(int(id)) + ")"
}

// IntegID is the Transform ID of an INTEG transform (RFC 7296 section
// 3.3.2; SHA-2 from RFC 4868). The suffix is the ICV length in bits.
type IntegID uint16

// Integrity algorithms.
const (
	// IntegNone is the NONE value: no integrity transform, as with an
	// AEAD algorithm (RFC 5282 section 8).
	IntegNone           IntegID = 0
	IntegHMACSHA1_96    IntegID = 2
	IntegHMACSHA256_128 IntegID = 12
	IntegHMACSHA384_192 IntegID = 13
	IntegHMACSHA512_256 IntegID = 14
)

func (id IntegID) String() string {
	switch id {
	case IntegNone:
		return "NONE"
	case IntegHMACSHA1_96:
		return "AUTH_HMAC_SHA1_96"
	case IntegHMACSHA256_128:
		return "AUTH_HMAC_SHA2_256_128"
	case IntegHMACSHA384_192:
		return "AUTH_HMAC_SHA2_384_192"
	case IntegHMACSHA512_256:
		return "AUTH_HMAC_SHA2_512_256"
	}
	return "INTEG(" + strconv.Itoa(int(id)) + ")"
}

// DHGroup is the Transform ID of a DH transform and the group of a KE
// payload (RFC 7296 section 3.3.2; groups from RFC 3526, 5114, 5903, 8031).
type DHGroup uint16

// Diffie-Hellman groups.
const (
	// DHNone is the NONE value: no key exchange, as for a child SA
	// without perfect forward secrecy (RFC 7296 section 3.3.2).
	DHNone DHGroup = 0
	// DHInsecureMODP1024 is the 1024-bit MODP group; RFC 8247 section
	// 2.4 says SHOULD NOT.
	DHInsecureMODP1024 DHGroup = 2
	DHMODP2048         DHGroup = 14 // RFC 3526
	DHECP256           DHGroup = 19 // RFC 5903
	DHECP384           DHGroup = 20 // RFC 5903
	// DHInsecureMODP2048S256 is the 2048-bit MODP group with a 256-bit
	// prime order subgroup of RFC 5114; RFC 8247 section 2.4 says SHOULD
	// NOT.
	DHInsecureMODP2048S256 DHGroup = 24
	DHCurve25519           DHGroup = 31 // RFC 8031
)

func (g DHGroup) String() string {
	switch g {
	case DHNone:
		return "NONE"
	case DHInsecureMODP1024:
		return "MODP_1024"
	case DHMODP2048:
		return "MODP_2048"
	case DHECP256:
		return "ECP_256"
	case DHECP384:
		return "ECP_384"
	case DHInsecureMODP2048S256:
		return "MODP_2048_256"
	case DHCurve25519:
		return "CURVE_25519"
	}
	return "DH(" + strconv.Itoa(int(g)) + ")"
}

// ESNID is the Transform ID of an ESN transform (RFC 7296 section 3.3.2).
type ESNID uint16

// Extended sequence number modes.
const (
	NoESN   ESNID = 0
	WithESN ESNID = 1
)

func (id ESNID) String() string {
	switch id {
	case NoESN:
		return "NO_ESN"
	case WithESN:
		return "ESN"
	}
	return "ESN(" + strconv.Itoa(int(id)) + ")"
}

// AttributeType is the type of a transform attribute (RFC 7296 section
// 3.3.5), without the format bit.
type AttributeType uint16

// AttributeKeyLength is the key length in bits of an encryption algorithm
// with variable-length keys; it uses the TV format (RFC 7296 section 3.3.5).
const AttributeKeyLength AttributeType = 14

func (t AttributeType) String() string {
	if t == AttributeKeyLength {
		return "KEY_LENGTH"
	}
	return "AttributeType(" + strconv.Itoa(int(t)) + ")"
}

// Attribute is a transform attribute (RFC 7296 section 3.3.5).
type Attribute struct {
	Type AttributeType // 15 bits
	// TLV selects the variable-length format (the AF bit clear): the
	// value is Data. Otherwise the value is the two octets of Value.
	TLV   bool
	Value uint16
	Data  []byte // aliases the parsed input
}

// Len returns the encoded length.
func (a *Attribute) Len() int {
	if a.TLV {
		return 4 + len(a.Data)
	}
	return 4
}

// Append appends the attribute to b.
func (a *Attribute) Append(b []byte) ([]byte, error) {
	if a.Type > 0x7fff {
		return b, malformed("attribute type %d does not fit in 15 bits", a.Type)
	}
	if !a.TLV {
		b = binary.BigEndian.AppendUint16(b, 0x8000|uint16(a.Type))
		return binary.BigEndian.AppendUint16(b, a.Value), nil
	}
	if len(a.Data) > 0xffff {
		return b, malformed("attribute length %d exceeds 65535", len(a.Data))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(a.Type))
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Data)))
	return append(b, a.Data...), nil
}

// parseAttribute decodes the attribute at the start of b.
func parseAttribute(b []byte) (Attribute, int, error) {
	if len(b) < 4 {
		return Attribute{}, 0, malformed("attribute: %d octets, need 4", len(b))
	}
	t := binary.BigEndian.Uint16(b[0:2])
	v := binary.BigEndian.Uint16(b[2:4])
	a := Attribute{Type: AttributeType(t & 0x7fff)}
	if t&0x8000 != 0 {
		a.Value = v
		return a, 4, nil
	}
	if int(v) > len(b)-4 {
		return Attribute{}, 0, malformed("attribute: length %d, %d octets left", v, len(b)-4)
	}
	a.TLV = true
	a.Data = sub(b, 4, 4+int(v))
	return a, 4 + int(v), nil
}

// Substructure sizes (RFC 7296 sections 3.3.1 and 3.3.2).
const (
	proposalHeaderLen  = 8   // a proposal without SPI and transforms
	transformHeaderLen = 8   // a transform without attributes
	maxTransforms      = 255 // the Num Transforms field is one octet
)

// Last Substruc values (RFC 7296 sections 3.3.1 and 3.3.2).
const (
	lastSubstruc   = 0
	moreProposals  = 2
	moreTransforms = 3
)

// Transform is a transform substructure (RFC 7296 section 3.3.2).
type Transform struct {
	Type TransformType
	// ID is the Transform ID: an EncrID, PRFID, IntegID, DHGroup or
	// ESNID depending on Type.
	ID         uint16
	Attributes []Attribute
	// Reserved holds the reserved octets 1 and 5, kept so that
	// re-encoding is exact; zero when sending.
	Reserved [2]byte
}

// KeyLength returns the value of the Key Length attribute, if present.
func (t Transform) KeyLength() (uint16, bool) {
	for _, a := range t.Attributes {
		if a.Type == AttributeKeyLength && !a.TLV {
			return a.Value, true
		}
	}
	return 0, false
}

// String returns the transform's name, e.g. "ENCR_AES_GCM_16_256" or
// "PRF_HMAC_SHA2_256".
func (t Transform) String() string {
	var s string
	switch t.Type {
	case TransformENCR:
		s = EncrID(t.ID).String()
	case TransformPRF:
		s = PRFID(t.ID).String()
	case TransformINTEG:
		s = IntegID(t.ID).String()
	case TransformDH:
		s = DHGroup(t.ID).String()
	case TransformESN:
		s = ESNID(t.ID).String()
	default:
		s = t.Type.String() + "(" + strconv.Itoa(int(t.ID)) + ")"
	}
	if n, ok := t.KeyLength(); ok {
		s += "_" + strconv.Itoa(int(n))
	}
	return s
}

// Len returns the encoded length.
func (t Transform) Len() int {
	n := transformHeaderLen
	for i := range t.Attributes {
		n += t.Attributes[i].Len()
	}
	return n
}

// append appends the transform with the given Last Substruc value.
func (t Transform) append(b []byte, last byte) ([]byte, error) {
	n := t.Len()
	if n > 0xffff {
		return b, malformed("transform length %d exceeds 65535", n)
	}
	start := len(b)
	b = append(b, last, t.Reserved[0], byte(n>>8), byte(n), byte(t.Type), t.Reserved[1])
	b = binary.BigEndian.AppendUint16(b, t.ID)
	for i := range t.Attributes {
		var err error
		if b, err = t.Attributes[i].Append(b); err != nil {
			return b[:start], err
		}
	}
	return b, nil
}

// parseTransform decodes the transform at the start of b and returns its
// Last Substruc value.
func parseTransform(b []byte) (Transform, byte, int, error) {
	if len(b) < transformHeaderLen {
		return Transform{}, 0, 0, malformed("transform: %d octets, need %d", len(b), transformHeaderLen)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < transformHeaderLen || n > len(b) {
		return Transform{}, 0, 0, malformed("transform: length %d, %d octets left", n, len(b))
	}
	t := Transform{
		Type:     TransformType(b[4]),
		ID:       binary.BigEndian.Uint16(b[6:8]),
		Reserved: [2]byte{b[1], b[5]},
	}
	for off := transformHeaderLen; off < n; {
		a, m, err := parseAttribute(b[off:n])
		if err != nil {
			return Transform{}, 0, 0, err
		}
		t.Attributes = append(t.Attributes, a)
		off += m
	}
	return t, b[0], n, nil
}

// Proposal is a proposal substructure (RFC 7296 section 3.3.1).
type Proposal struct {
	// Number is the Proposal Num: 1, 2, ... in an offer; in an answer,
	// the number of the accepted proposal.
	Number   uint8
	Protocol ProtocolID
	// SPI is empty in IKE_SA_INIT, 8 octets when rekeying an IKE SA and
	// 4 octets for ESP and AH. It aliases the parsed input.
	SPI        []byte
	Transforms []Transform
	// Reserved holds reserved octet 1, kept so that re-encoding is
	// exact; zero when sending.
	Reserved uint8
}

// Len returns the encoded length.
func (p *Proposal) Len() int {
	n := proposalHeaderLen + len(p.SPI)
	for i := range p.Transforms {
		n += p.Transforms[i].Len()
	}
	return n
}

// append appends the proposal with the given Last Substruc value.
func (p *Proposal) append(b []byte, last byte) ([]byte, error) {
	n := p.Len()
	switch {
	case n > 0xffff:
		return b, malformed("proposal length %d exceeds 65535", n)
	case len(p.SPI) > 0xff:
		return b, malformed("proposal SPI of %d octets", len(p.SPI))
	case len(p.Transforms) > maxTransforms:
		return b, malformed("%d transforms in a proposal", len(p.Transforms))
	}
	start := len(b)
	b = append(b, last, p.Reserved, byte(n>>8), byte(n),
		p.Number, byte(p.Protocol), byte(len(p.SPI)), byte(len(p.Transforms)))
	b = append(b, p.SPI...)
	for i := range p.Transforms {
		last := byte(moreTransforms)
		if i == len(p.Transforms)-1 {
			last = lastSubstruc
		}
		var err error
		if b, err = p.Transforms[i].append(b, last); err != nil {
			return b[:start], err
		}
	}
	return b, nil
}

// parseProposal decodes the proposal at the start of b and returns its
// Last Substruc value.
func parseProposal(b []byte) (Proposal, byte, int, error) {
	if len(b) < proposalHeaderLen {
		return Proposal{}, 0, 0, malformed("proposal: %d octets, need %d", len(b), proposalHeaderLen)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	spiLen := int(b[6])
	if n < proposalHeaderLen+spiLen || n > len(b) {
		return Proposal{}, 0, 0, malformed("proposal: length %d with a %d-octet SPI, %d octets left", n, spiLen, len(b))
	}
	p := Proposal{
		Number:   b[4],
		Protocol: ProtocolID(b[5]),
		SPI:      sub(b, proposalHeaderLen, proposalHeaderLen+spiLen),
		Reserved: b[1],
	}
	count := int(b[7])
	off := proposalHeaderLen + spiLen
	if count > 0 {
		p.Transforms = make([]Transform, 0, min(count, (n-off)/transformHeaderLen))
	}
	for i := range count {
		t, last, m, err := parseTransform(b[off:n])
		if err != nil {
			return Proposal{}, 0, 0, err
		}
		// §3.3.2: 0 if this was the last transform, 3 if more follow.
		want := byte(moreTransforms)
		if i == count-1 {
			want = lastSubstruc
		}
		if last != want {
			return Proposal{}, 0, 0, malformed("transform %d of %d: last substruc %d, want %d", i+1, count, last, want)
		}
		p.Transforms = append(p.Transforms, t)
		off += m
	}
	if off != n {
		return Proposal{}, 0, 0, malformed("proposal: %d transforms leave %d of %d octets", count, n-off, n)
	}
	return p, b[0], n, nil
}

// SA is the Security Association payload (RFC 7296 section 3.3): one or
// more proposals.
type SA struct {
	Generic
	Proposals []Proposal
}

// Type returns PayloadSA.
func (s *SA) Type() PayloadType { return PayloadSA }

// Len returns the encoded length.
func (s *SA) Len() int {
	n := GenericHeaderLen
	for i := range s.Proposals {
		n += s.Proposals[i].Len()
	}
	return n
}

// Append appends the payload to b.
func (s *SA) Append(b []byte) ([]byte, error) {
	if len(s.Proposals) == 0 {
		return b, malformed("SA without proposals")
	}
	start := len(b)
	b, err := s.Generic.append(b, PayloadNone, s.Len())
	if err != nil {
		return b, err
	}
	for i := range s.Proposals {
		last := byte(moreProposals)
		if i == len(s.Proposals)-1 {
			last = lastSubstruc
		}
		if b, err = s.Proposals[i].append(b, last); err != nil {
			return b[:start], err
		}
	}
	return b, nil
}

func parseSA(g Generic, body []byte) (*SA, error) {
	if len(body) == 0 {
		return nil, malformed("SA without proposals")
	}
	s := &SA{Generic: g}
	for off := 0; off < len(body); {
		p, last, n, err := parseProposal(body[off:])
		if err != nil {
			return nil, err
		}
		off += n
		// §3.3.1: 0 if this was the last proposal, 2 if more follow.
		want := byte(moreProposals)
		if off == len(body) {
			want = lastSubstruc
		}
		if last != want {
			return nil, malformed("proposal %d: last substruc %d, want %d", len(s.Proposals)+1, last, want)
		}
		s.Proposals = append(s.Proposals, p)
	}
	return s, nil
}
