package suite

import "strconv"

// Protocol is a security protocol identifier of a proposal (RFC 7296 §3.3.1).
type Protocol uint8

// Security protocol identifiers (IANA "IKEv2 Security Protocol Identifiers").
const (
	ProtocolIKE Protocol = 1
	ProtocolESP Protocol = 3
)

// String returns the protocol name, "IKE" or "ESP".
func (p Protocol) String() string {
	switch p {
	case ProtocolIKE:
		return "IKE"
	case ProtocolESP:
		return "ESP"
	}
	return "PROTOCOL(" + strconv.Itoa(int(p)) + ")"
}

// TransformType is the type of a transform substructure (RFC 7296 §3.3.2).
type TransformType uint8

// Transform types (IANA "Transform Type Values").
const (
	TransformEncr  TransformType = 1 // encryption algorithm (ENCR)
	TransformPRF   TransformType = 2 // pseudorandom function (PRF)
	TransformInteg TransformType = 3 // integrity algorithm (INTEG)
	TransformDH    TransformType = 4 // Diffie-Hellman group (D-H)
	TransformESN   TransformType = 5 // extended sequence numbers (ESN)
)

// String returns the RFC 7296 abbreviation of the transform type.
func (t TransformType) String() string {
	switch t {
	case TransformEncr:
		return "ENCR"
	case TransformPRF:
		return "PRF"
	case TransformInteg:
		return "INTEG"
	case TransformDH:
		return "D-H"
	case TransformESN:
		return "ESN"
	}
	return "TRANSFORM(" + strconv.Itoa(int(t)) + ")"
}

// EncrID is a Transform Type 1 (encryption algorithm) identifier.
type EncrID uint16

// Encryption algorithms (IANA "Transform Type 1").
const (
	// EncrAESCBC is AES in CBC mode (RFC 3602); the key length attribute
	// selects 128, 192 or 256 bits.
	EncrAESCBC EncrID = 12
	// EncrAESGCM16 is AES-GCM with a 16-octet ICV (RFC 4106, RFC 5282); the
	// key length attribute selects 128, 192 or 256 bits.
	EncrAESGCM16 EncrID = 20
)

// String returns the IANA name of the algorithm.
func (e EncrID) String() string {
	switch e {
	case EncrAESCBC:
		return "ENCR_AES_CBC"
	case EncrAESGCM16:
		return "ENCR_AES_GCM_16"
	}
	return "ENCR(" + strconv.Itoa(int(e)) + ")"
}

// AEAD reports whether the algorithm provides integrity itself, so that a
// proposal with it has no integrity transform (RFC 5282 §8).
func (e EncrID) AEAD() bool { return e == EncrAESGCM16 }

// validKeyLen reports whether bits is a supported key length for e.
func (e EncrID) validKeyLen(bits int) bool {
	switch e {
	case EncrAESCBC, EncrAESGCM16:
		return bits == 128 || bits == 192 || bits == 256
	}
	return false
}

// PRFID is a Transform Type 2 (pseudorandom function) identifier.
type PRFID uint16

// Pseudorandom functions (IANA "Transform Type 2").
const (
	PRFHMACSHA1     PRFID = 2 // RFC 2104
	PRFHMACSHA2_256 PRFID = 5 // RFC 4868
	PRFHMACSHA2_384 PRFID = 6 // RFC 4868
	PRFHMACSHA2_512 PRFID = 7 // RFC 4868
)

// String returns the IANA name of the function.
func (p PRFID) String() string {
	switch p {
	case PRFHMACSHA1:
		return "PRF_HMAC_SHA1"
	case PRFHMACSHA2_256:
		return "PRF_HMAC_SHA2_256"
	case PRFHMACSHA2_384:
		return "PRF_HMAC_SHA2_384"
	case PRFHMACSHA2_512:
		return "PRF_HMAC_SHA2_512"
	}
	return "PRF(" + strconv.Itoa(int(p)) + ")"
}

// IntegID is a Transform Type 3 (integrity algorithm) identifier.
type IntegID uint16

// Integrity algorithms (IANA "Transform Type 3").
const (
	IntegNone             IntegID = 0  // no integrity transform (AEAD)
	IntegHMACSHA1_96      IntegID = 2  // RFC 2404
	IntegHMACSHA2_256_128 IntegID = 12 // RFC 4868
	IntegHMACSHA2_384_192 IntegID = 13 // RFC 4868
	IntegHMACSHA2_512_256 IntegID = 14 // RFC 4868
)

// String returns the IANA name of the algorithm.
func (i IntegID) String() string {
	switch i {
	case IntegNone:
		return "NONE"
	case IntegHMACSHA1_96:
		return "AUTH_HMAC_SHA1_96"
	case IntegHMACSHA2_256_128:
		return "AUTH_HMAC_SHA2_256_128"
	case IntegHMACSHA2_384_192:
		return "AUTH_HMAC_SHA2_384_192"
	case IntegHMACSHA2_512_256:
		return "AUTH_HMAC_SHA2_512_256"
	}
	return "INTEG(" + strconv.Itoa(int(i)) + ")"
}

// DHGroup is a Transform Type 4 (Diffie-Hellman group) identifier.
type DHGroup uint16

// Diffie-Hellman groups (IANA "Transform Type 4").
const (
	// DHNone is the NONE value: no key exchange (no PFS for a child SA).
	DHNone DHGroup = 0
	// InsecureMODP1024 is the 1024-bit MODP group (RFC 2409 §6.2). It is
	// too weak for new deployments and is never in a default proposal; it
	// exists for peers that insist on it.
	InsecureMODP1024 DHGroup = 2
	// MODP2048 is the 2048-bit MODP group (RFC 3526 §3).
	MODP2048 DHGroup = 14
	// ECP256 is the 256-bit random ECP group, NIST P-256 (RFC 5903).
	ECP256 DHGroup = 19
	// ECP384 is the 384-bit random ECP group, NIST P-384 (RFC 5903).
	ECP384 DHGroup = 20
	// MODP2048S256 is the 2048-bit MODP group with a 256-bit prime order
	// subgroup (RFC 5114 §2.3).
	MODP2048S256 DHGroup = 24
	// Curve25519 is X25519 (RFC 7748, RFC 8031).
	Curve25519 DHGroup = 31
)

// String returns the group's name.
func (g DHGroup) String() string {
	switch g {
	case DHNone:
		return "NONE"
	case InsecureMODP1024:
		return "MODP_1024"
	case MODP2048:
		return "MODP_2048"
	case ECP256:
		return "ECP_256"
	case ECP384:
		return "ECP_384"
	case MODP2048S256:
		return "MODP_2048_256"
	case Curve25519:
		return "CURVE_25519"
	}
	return "DH(" + strconv.Itoa(int(g)) + ")"
}

// Extended sequence number transform values (IANA "Transform Type 5").
const (
	ESNNo  uint16 = 0 // 32-bit sequence numbers
	ESNYes uint16 = 1 // 64-bit extended sequence numbers
)

// Transform is one transform of a proposal: its type, its identifier and the
// value of its Key Length attribute (RFC 7296 §3.3.5).
type Transform struct {
	Type TransformType
	ID   uint16
	// KeyLen is the key length attribute in bits; zero when the transform
	// carries no attribute.
	KeyLen uint16
}

// String returns the transform in the form "ENCR_AES_CBC/256".
func (t Transform) String() string {
	var s string
	switch t.Type {
	case TransformEncr:
		s = EncrID(t.ID).String()
	case TransformPRF:
		s = PRFID(t.ID).String()
	case TransformInteg:
		s = IntegID(t.ID).String()
	case TransformDH:
		s = DHGroup(t.ID).String()
	case TransformESN:
		s = "ESN(" + strconv.Itoa(int(t.ID)) + ")"
	default:
		s = t.Type.String() + ":" + strconv.Itoa(int(t.ID))
	}
	if t.KeyLen != 0 {
		s += "/" + strconv.Itoa(int(t.KeyLen))
	}
	return s
}
