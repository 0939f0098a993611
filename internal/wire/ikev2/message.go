package ikev2

import (
	"fmt"
	"math"
)

// Message is an IKE message: the header and the payload chain (RFC 7296
// section 3).
type Message struct {
	Header   Header
	Payloads []Payload
}

// ParseMessage decodes an IKE message that fills b exactly, as a UDP
// datagram does (after the non-ESP marker on port 4500). An SK or SKF
// payload, if present, is the last one and keeps its content opaque; the
// octets of b before its Body are the associated data of an AEAD cipher.
//
// Errors: *InvalidMajorVersionError for a version other than 2;
// *UnsupportedCriticalPayloadError for an unrecognized critical payload;
// otherwise errors wrapping ErrMalformed. When the header decodes but the
// payloads do not, the returned Message carries the header so that the
// caller can answer. The payloads alias b.
func ParseMessage(b []byte) (Message, error) {
	h, n, err := ParseHeader(b)
	if err != nil {
		return Message{}, err
	}
	if int(h.Length) != len(b) {
		return Message{}, fmt.Errorf("ikev2: %w", malformed("header length %d, message has %d octets", h.Length, len(b)))
	}
	ps, err := ParsePayloads(h.NextPayload, b[n:])
	if err != nil {
		return Message{Header: h}, err
	}
	return Message{Header: h, Payloads: ps}, nil
}

// Len returns the encoded length of the message.
func (m Message) Len() int { return HeaderLen + payloadsLen(m.Payloads) }

// Append appends the encoded message to b. The header's Next Payload and
// Length fields are set from the payloads; the rest of m.Header is written
// as it is. On error b is returned unchanged.
func (m Message) Append(b []byte) ([]byte, error) {
	h := m.Header
	h.NextPayload = PayloadNone
	if len(m.Payloads) > 0 {
		h.NextPayload = m.Payloads[0].Type()
	}
	n := m.Len()
	if uint64(n) > math.MaxUint32 {
		return b, fmt.Errorf("ikev2: %w", malformed("message length %d exceeds 2^32-1", n))
	}
	h.Length = uint32(n)
	start := len(b)
	b, err := h.Append(b)
	if err != nil {
		return b[:start], fmt.Errorf("ikev2: %w", err)
	}
	if b, err = AppendPayloads(b, m.Payloads); err != nil {
		return b[:start], err
	}
	return b, nil
}

// AppendEncryptedHeader appends an IKE header and the generic header of an
// SK payload whose body (IV, ciphertext with padding and pad length, ICV;
// RFC 7296 section 3.14) will be bodyLen octets, with every length final.
// The caller appends the body; the returned bytes from the header on are the
// associated data of an AEAD cipher (RFC 5282 section 5.1) and the start of
// the integrity-checked data otherwise. inner is the type of the first
// payload inside; h.NextPayload and h.Length are overwritten.
func AppendEncryptedHeader(b []byte, h Header, inner PayloadType, bodyLen int) ([]byte, error) {
	if bodyLen < 0 || GenericHeaderLen+bodyLen > maxPayloadLen {
		return b, fmt.Errorf("ikev2: %w", malformed("SK body length %d out of range", bodyLen))
	}
	h.NextPayload = PayloadSK
	h.Length = uint32(HeaderLen + GenericHeaderLen + bodyLen)
	start := len(b)
	b, err := h.Append(b)
	if err != nil {
		return b[:start], fmt.Errorf("ikev2: %w", err)
	}
	return Generic{}.append(b, inner, GenericHeaderLen+bodyLen)
}

// AppendFragmentHeader is AppendEncryptedHeader for fragment number of total
// of a fragmented message (RFC 7383 section 2.5): it appends the IKE header
// and the SKF payload up to and including Total Fragments, which is the
// associated data. inner, the type of the first inner payload, goes in
// fragment 1 only; the others carry zero.
func AppendFragmentHeader(b []byte, h Header, inner PayloadType, number, total uint16, bodyLen int) ([]byte, error) {
	if err := checkFragment(number, total); err != nil {
		return b, fmt.Errorf("ikev2: %w", err)
	}
	if bodyLen < 0 || fragmentHeaderLen+bodyLen > maxPayloadLen {
		return b, fmt.Errorf("ikev2: %w", malformed("SKF body length %d out of range", bodyLen))
	}
	if number != 1 {
		inner = PayloadNone
	}
	f := EncryptedFragment{NextPayload: inner, Number: number, Total: total}
	h.NextPayload = PayloadSKF
	h.Length = uint32(HeaderLen + fragmentHeaderLen + bodyLen)
	start := len(b)
	b, err := h.Append(b)
	if err != nil {
		return b[:start], fmt.Errorf("ikev2: %w", err)
	}
	return f.appendHeader(b, fragmentHeaderLen+bodyLen)
}
