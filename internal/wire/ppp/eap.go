package ppp

import (
	"encoding/binary"
)

// EAP codes (RFC 3748 §4).
const (
	EAPRequest  = 1 // RFC 3748 §4.1
	EAPResponse = 2 // §4.1
	EAPSuccess  = 3 // §4.2
	EAPFailure  = 4 // §4.2
)

// EAP method types (RFC 3748 §5; EAP-TLS, RFC 5216).
const (
	TypeIdentity     = 1  // RFC 3748 §5.1
	TypeNotification = 2  // §5.2
	TypeNak          = 3  // Legacy Nak, §5.3.1, in Responses only
	TypeMD5          = 4  // MD5-Challenge, §5.4
	TypeTLS          = 13 // EAP-TLS, RFC 5216
)

// EAPHeaderLen is the length of an EAP packet's Code, Identifier and
// Length fields (RFC 3748 §4); a Success or Failure is only that.
const EAPHeaderLen = 4

// EAP is an EAP packet (RFC 3748 §4).
type EAP struct {
	Code, ID uint8
	// Type is the method of a Request or Response (RFC 3748 §4.1), and
	// zero for a Success or Failure.
	Type uint8
	// Data is the Type-Data of a Request or Response; a Success or
	// Failure has none.
	Data []byte
}

// ParseEAP parses an EAP packet, the Information field of a frame of
// protocol ProtoEAP. Data is a slice of b. Octets beyond the Length field
// are padding and ignored.
func ParseEAP(b []byte) (EAP, error) {
	if len(b) < EAPHeaderLen {
		return EAP{}, malformed("EAP packet of %d octets, shorter than its %d-octet header", len(b), EAPHeaderLen)
	}
	e := EAP{Code: b[0], ID: b[1]}
	n := int(binary.BigEndian.Uint16(b[2:]))
	// RFC 3748 §4: a Length beyond the octets received MUST be silently
	// discarded; octets beyond the Length MUST be ignored.
	if n < EAPHeaderLen || n > len(b) {
		return EAP{}, malformed("EAP code %d says %d octets, %d arrived", e.Code, n, len(b))
	}
	switch e.Code {
	case EAPRequest, EAPResponse:
		// RFC 3748 §4.1: a Request or Response carries a Type octet.
		if n < EAPHeaderLen+1 {
			return EAP{}, malformed("EAP code %d of %d octets has no Type", e.Code, n)
		}
		e.Type, e.Data = b[EAPHeaderLen], b[EAPHeaderLen+1:n]
	case EAPSuccess, EAPFailure:
		// RFC 3748 §4.2: a Success or Failure is 4 octets long.
		if n != EAPHeaderLen {
			return EAP{}, malformed("EAP code %d of %d octets, want %d", e.Code, n, EAPHeaderLen)
		}
	default:
		// RFC 3748 §4: codes other than 1 to 4 MUST be silently discarded.
		return EAP{}, malformed("unknown EAP code %d", e.Code)
	}
	return e, nil
}

// Len returns the length of the encoded packet.
func (e EAP) Len() int {
	n := EAPHeaderLen + len(e.Data)
	if e.Code == EAPRequest || e.Code == EAPResponse {
		n++
	}
	return n
}

// Append appends the packet to b: the Type only for a Request or
// Response, then Data (which a Success or Failure leaves empty). It
// panics if the packet is longer than the Length field can say.
func (e EAP) Append(b []byte) []byte {
	b = append(b, e.Code, e.ID)
	b = binary.BigEndian.AppendUint16(b, checkLen(e.Len()))
	if e.Code == EAPRequest || e.Code == EAPResponse {
		b = append(b, e.Type)
	}
	return append(b, e.Data...)
}

// EAP-TLS flags (RFC 5216 §3.1).
const (
	FlagLength = 0x80 // L: the TLS Message Length field is present
	FlagMore   = 0x40 // M: more fragments follow
	FlagStart  = 0x20 // S: EAP-TLS start, in the server's first Request
)

// TLSData is the Type-Data of an EAP-TLS Request or Response (RFC 5216
// §3.1, §3.2).
type TLSData struct {
	// Flags holds FlagLength, FlagMore and FlagStart; the reserved bits
	// are kept as received.
	Flags uint8
	// MessageLength is the total length of the TLS message being sent in
	// fragments, present iff Flags has FlagLength. It is the peer's
	// claim: whoever reassembles bounds it.
	MessageLength uint32
	// Data is this packet's fragment of TLS records.
	Data []byte
}

// ParseTLSData parses the Type-Data of an EAP-TLS packet, the Data of an
// EAP packet of type TypeTLS. Data is a slice of b.
func ParseTLSData(b []byte) (TLSData, error) {
	if len(b) < 1 {
		return TLSData{}, malformed("EAP-TLS packet without Flags")
	}
	d := TLSData{Flags: b[0]}
	if d.Flags&FlagLength == 0 {
		d.Data = b[1:]
		return d, nil
	}
	// RFC 5216 §3.1: the four-octet TLS Message Length is present iff L is set.
	if len(b) < 5 {
		return TLSData{}, malformed("EAP-TLS packet with the L flag of %d octets, too short for the TLS Message Length", len(b))
	}
	d.MessageLength = binary.BigEndian.Uint32(b[1:])
	d.Data = b[5:]
	if uint64(len(d.Data)) > uint64(d.MessageLength) {
		return TLSData{}, malformed("EAP-TLS fragment of %d octets in a TLS message of %d", len(d.Data), d.MessageLength)
	}
	return d, nil
}

// Append appends the Type-Data to b, the TLS Message Length iff Flags has
// FlagLength.
func (d TLSData) Append(b []byte) []byte {
	b = append(b, d.Flags)
	if d.Flags&FlagLength != 0 {
		b = binary.BigEndian.AppendUint32(b, d.MessageLength)
	}
	return append(b, d.Data...)
}
