package sstp

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ProtocolPPP is the only encapsulated protocol of SSTP 1.0 (§2.2.5).
const ProtocolPPP = 0x0001

// Hash protocols: bits of the Crypto Binding Request's Hash Protocol
// Bitmask (§2.2.6) and values of the Crypto Binding's Hash Protocol
// (§2.2.7).
const (
	HashSHA1   = 0x01 // CERT_HASH_PROTOCOL_SHA1
	HashSHA256 = 0x02 // CERT_HASH_PROTOCOL_SHA256
)

// Attribute value lengths, without the 4-byte attribute header.
const (
	encapsulatedProtocolLen = 6 - AttrHeaderLen   // §2.2.5
	cryptoBindingReqLen     = 40 - AttrHeaderLen  // §2.2.6
	cryptoBindingLen        = 104 - AttrHeaderLen // §2.2.7
	statusInfoMinLen        = 12 - AttrHeaderLen  // §2.2.8
	// MaxStatusValue is the longest AttribValue of a Status Info
	// attribute (§2.2.8).
	MaxStatusValue = 64
)

// CallConnectedLen is the length of a Call Connected message, header
// included (§2.2.11).
const CallConnectedLen = 112

// EncapsulatedProtocol returns the Protocol ID of an Encapsulated
// Protocol ID attribute's value (§2.2.5). Whether it is ProtocolPPP is for
// the caller to check.
func EncapsulatedProtocol(value []byte) (uint16, error) {
	// §2.2.5: the attribute's Length MUST be 6.
	if len(value) != encapsulatedProtocolLen {
		return 0, errorf(AttribEncapsulatedProtocolID, StatusInvalidAttribValueLength, "Encapsulated Protocol ID of %d bytes, want %d", AttrHeaderLen+len(value), AttrHeaderLen+encapsulatedProtocolLen)
	}
	return binary.BigEndian.Uint16(value), nil
}

// CryptoBindingReq is the value of a Crypto Binding Request attribute
// (§2.2.6), sent by the server in its Call Connect Acknowledge.
type CryptoBindingReq struct {
	// HashBitmask has HashSHA1, HashSHA256 or both set.
	HashBitmask uint8
	Nonce       [32]byte
}

// ParseCryptoBindingReq parses the value of a Crypto Binding Request
// attribute.
func ParseCryptoBindingReq(value []byte) (CryptoBindingReq, error) {
	// §2.2.6: the attribute's Length MUST be 40.
	if len(value) != cryptoBindingReqLen {
		return CryptoBindingReq{}, errorf(AttribCryptoBindingReq, StatusInvalidAttribValueLength, "Crypto Binding Request of %d bytes, want %d", AttrHeaderLen+len(value), AttrHeaderLen+cryptoBindingReqLen)
	}
	r := CryptoBindingReq{HashBitmask: value[3]}
	// §2.2.6: the server MUST select at least one hash protocol.
	if r.HashBitmask&(HashSHA1|HashSHA256) == 0 {
		return CryptoBindingReq{}, errorf(AttribCryptoBindingReq, StatusValueNotSupported, "Crypto Binding Request selects no hash protocol (bitmask 0x%02x)", r.HashBitmask)
	}
	copy(r.Nonce[:], value[4:])
	return r, nil
}

// Append appends the attribute value: 36 bytes, the attribute header not
// included.
func (r CryptoBindingReq) Append(b []byte) []byte {
	b = append(b, 0, 0, 0, r.HashBitmask)
	return append(b, r.Nonce[:]...)
}

// CryptoBinding is the value of a Crypto Binding attribute (§2.2.7), sent
// by the client in its Call Connected message. With HashSHA1 the hash and
// the MAC are 20 bytes, the rest of each array is zero padding.
type CryptoBinding struct {
	// HashProtocol is HashSHA1 or HashSHA256.
	HashProtocol uint8
	// Nonce echoes the server's Crypto Binding Request.
	Nonce [32]byte
	// CertHash is the hash of the server's certificate.
	CertHash [32]byte
	// CompoundMAC binds the PPP authentication to the TLS connection
	// (§3.2.5.2).
	CompoundMAC [32]byte
}

// HashLen returns the length of CertHash and CompoundMAC without their
// padding: 20 bytes for SHA1, 32 for SHA256.
func (c CryptoBinding) HashLen() int {
	if c.HashProtocol == HashSHA1 {
		return 20
	}
	return 32
}

// ParseCryptoBinding parses the value of a Crypto Binding attribute. The
// padding after a SHA1 hash and MAC is ignored: it reads as zeros.
func ParseCryptoBinding(value []byte) (CryptoBinding, error) {
	// §2.2.7: the attribute's Length MUST be 104.
	if len(value) != cryptoBindingLen {
		return CryptoBinding{}, errorf(AttribCryptoBinding, StatusInvalidAttribValueLength, "Crypto Binding of %d bytes, want %d", AttrHeaderLen+len(value), AttrHeaderLen+cryptoBindingLen)
	}
	c := CryptoBinding{HashProtocol: value[3]}
	// §2.2.7: Hash Protocol MUST be SHA1 (1) or SHA256 (2).
	if c.HashProtocol != HashSHA1 && c.HashProtocol != HashSHA256 {
		return CryptoBinding{}, errorf(AttribCryptoBinding, StatusValueNotSupported, "Crypto Binding with hash protocol %d", c.HashProtocol)
	}
	n := c.HashLen()
	copy(c.Nonce[:], value[4:36])
	// §2.2.7: the padding MUST be ignored on receipt.
	copy(c.CertHash[:n], value[36:68])
	copy(c.CompoundMAC[:n], value[68:100])
	return c, nil
}

// Append appends the attribute value: 100 bytes, the attribute header not
// included. The padding after a SHA1 hash and MAC is written as zeros,
// whatever the arrays hold there.
func (c CryptoBinding) Append(b []byte) []byte {
	n := c.HashLen()
	var pad [32]byte
	b = append(b, 0, 0, 0, c.HashProtocol)
	b = append(b, c.Nonce[:]...)
	// §2.2.7: the padding MUST be set to zero when sent.
	b = append(append(b, c.CertHash[:n]...), pad[n:]...)
	return append(append(b, c.CompoundMAC[:n]...), pad[n:]...)
}

// Offsets in a Call Connected message (§2.2.11): the header (4), message
// type and count (4), the Crypto Binding attribute's header (4), its
// reserved bytes and hash protocol (4), the nonce (32), the cert hash and
// its padding (32), the Compound MAC and its padding (32).
const (
	ccHashProtocol = 15
	ccCertHash     = 48
	ccCompoundMAC  = 80
)

// ZeroMAC returns a copy of a whole Call Connected packet, header
// included, with the Compound MAC and the padding zeroed: the input of the
// HMAC that computes or verifies the Compound MAC (§3.2.5.2.1,
// §3.2.5.2.3). The packet must be a well-formed Call Connected message of
// 112 bytes carrying one Crypto Binding attribute.
func ZeroMAC(callConnectedPacket []byte) ([]byte, error) {
	p := callConnectedPacket
	if len(p) != CallConnectedLen {
		return nil, errorf(AttribNoError, StatusInvalidFrameReceived, "Call Connected packet of %d bytes, want %d", len(p), CallConnectedLen)
	}
	if p[0] != Version || p[1]&controlBit == 0 {
		return nil, errorf(AttribNoError, StatusInvalidFrameReceived, "not an SSTP 1.0 control packet (% x)", p[:2])
	}
	// §2.2.11: Length MUST be 112, the message type 4, with one attribute.
	if n := binary.BigEndian.Uint16(p[2:]) & lengthMask; n != CallConnectedLen {
		return nil, errorf(AttribNoError, StatusInvalidFrameReceived, "Call Connected length field %d, want %d", n, CallConnectedLen)
	}
	if t := binary.BigEndian.Uint16(p[4:]); t != MsgCallConnected {
		return nil, errorf(AttribNoError, StatusInvalidFrameReceived, "message type %d, want Call Connected (%d)", t, MsgCallConnected)
	}
	if n := binary.BigEndian.Uint16(p[6:]); n != 1 {
		return nil, errorf(AttribNoError, StatusAttribNotSupportedInMsg, "Call Connected with %d attributes, want 1", n)
	}
	// §2.2.11: the attribute MUST be a Crypto Binding of 104 bytes.
	if p[9] != AttribCryptoBinding {
		return nil, errorf(p[9], StatusAttribNotSupportedInMsg, "Call Connected carries attribute %d, want Crypto Binding (%d)", p[9], AttribCryptoBinding)
	}
	if n := binary.BigEndian.Uint16(p[10:]) & lengthMask; n != AttrHeaderLen+cryptoBindingLen {
		return nil, errorf(AttribCryptoBinding, StatusInvalidAttribValueLength, "Crypto Binding of %d bytes, want %d", n, AttrHeaderLen+cryptoBindingLen)
	}
	h := p[ccHashProtocol]
	if h != HashSHA1 && h != HashSHA256 {
		return nil, errorf(AttribCryptoBinding, StatusValueNotSupported, "Crypto Binding with hash protocol %d", h)
	}
	out := bytes.Clone(p)
	// §3.2.5.2.1, §3.2.5.2.3: the Compound MAC and Padding fields MUST be
	// zeroed out; Padding1 after a SHA1 MAC is zero as sent and zeroed with it.
	clear(out[ccCompoundMAC:])
	if h == HashSHA1 {
		clear(out[ccCertHash+20 : ccCompoundMAC])
	}
	return out, nil
}

// StatusInfo is the value of a Status Info attribute (§2.2.8): the status
// of one attribute, with the start of the value the peer proposed for it.
type StatusInfo struct {
	// AttribID is the attribute the status is about, AttribNoError for
	// none.
	AttribID uint8
	// Status is one of the Status… values.
	Status uint32
	// Value is the attribute value the client proposed, in a Call
	// Connect NAK only; at most MaxStatusValue bytes are sent.
	Value []byte
}

// ParseStatusInfo parses the value of a Status Info attribute. Value is a
// slice of value.
func ParseStatusInfo(value []byte) (StatusInfo, error) {
	// §2.2.8: the attribute's Length MUST be 12 plus that of AttribValue.
	if len(value) < statusInfoMinLen {
		return StatusInfo{}, errorf(AttribStatusInfo, StatusInvalidAttribValueLength, "Status Info of %d bytes, want at least %d", AttrHeaderLen+len(value), AttrHeaderLen+statusInfoMinLen)
	}
	// §2.2.8: AttribValue MUST be at most 64 bytes.
	if n := len(value) - statusInfoMinLen; n > MaxStatusValue {
		return StatusInfo{}, errorf(AttribStatusInfo, StatusInvalidAttribValueLength, "Status Info carries a value of %d bytes, at most %d allowed", n, MaxStatusValue)
	}
	s := StatusInfo{AttribID: value[3], Status: binary.BigEndian.Uint32(value[4:]), Value: value[statusInfoMinLen:]}
	if len(s.Value) == 0 {
		s.Value = nil
	}
	return s, nil
}

// statusNames and attribNames are §2.2.8's names of the statuses and
// §2.2.4's of the attributes, without their common prefixes.
var (
	statusNames = [...]string{"NO_ERROR", "DUPLICATE_ATTRIBUTE", "UNRECOGNIZED_ATTRIBUTE", "INVALID_ATTRIB_VALUE_LENGTH", "VALUE_NOT_SUPPORTED",
		"UNACCEPTED_FRAME_RECEIVED", "RETRY_COUNT_EXCEEDED", "INVALID_FRAME_RECEIVED", "NEGOTIATION_TIMEOUT", "ATTRIB_NOT_SUPPORTED_IN_MSG",
		"REQUIRED_ATTRIBUTE_MISSING", "STATUS_INFO_NOT_SUPPORTED_IN_MSG"}
	attribNames = [...]string{"NO_ERROR", "ENCAPSULATED_PROTOCOL_ID", "STATUS_INFO", "CRYPTO_BINDING", "CRYPTO_BINDING_REQ"}
)

// String says the status in the specification's words, and the
// attribute it is about unless it is of the message as a whole:
// "VALUE_NOT_SUPPORTED of ENCAPSULATED_PROTOCOL_ID".
func (s StatusInfo) String() string {
	status := fmt.Sprintf("status %d", s.Status)
	if s.Status < uint32(len(statusNames)) {
		status = statusNames[s.Status]
	}
	switch {
	case s.AttribID == AttribNoError:
		return status
	case int(s.AttribID) < len(attribNames):
		return status + " of " + attribNames[s.AttribID]
	}
	return fmt.Sprintf("%s of attribute %d", status, s.AttribID)
}

// Append appends the attribute value, the attribute header not included.
// Only the first MaxStatusValue bytes of Value are written (§2.2.8).
func (s StatusInfo) Append(b []byte) []byte {
	b = append(b, 0, 0, 0, s.AttribID)
	b = binary.BigEndian.AppendUint32(b, s.Status)
	v := s.Value
	if len(v) > MaxStatusValue {
		v = v[:MaxStatusValue]
	}
	return append(b, v...)
}
