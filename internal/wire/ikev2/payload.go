package ikev2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// GenericHeaderLen is the length of the generic payload header (RFC 7296
// section 3.2).
const GenericHeaderLen = 4

// maxPayloadLen is the largest value of the 16-bit Payload Length field.
const maxPayloadLen = 0xffff

// PayloadType identifies a payload in the Next Payload fields (RFC 7296
// section 3.2).
type PayloadType uint8

// Payload types (RFC 7296 section 3.2; SKF from RFC 7383 section 2.5).
const (
	PayloadNone     PayloadType = 0 // no next payload
	PayloadSA       PayloadType = 33
	PayloadKE       PayloadType = 34
	PayloadIDi      PayloadType = 35
	PayloadIDr      PayloadType = 36
	PayloadCERT     PayloadType = 37
	PayloadCERTREQ  PayloadType = 38
	PayloadAUTH     PayloadType = 39
	PayloadNonce    PayloadType = 40
	PayloadNotify   PayloadType = 41
	PayloadDelete   PayloadType = 42
	PayloadVendorID PayloadType = 43
	PayloadTSi      PayloadType = 44
	PayloadTSr      PayloadType = 45
	PayloadSK       PayloadType = 46
	PayloadCP       PayloadType = 47
	PayloadEAP      PayloadType = 48
	PayloadSKF      PayloadType = 53
)

// String returns the payload's notation from RFC 7296 section 3.2.
func (t PayloadType) String() string {
	switch t {
	case PayloadNone:
		return "NONE"
	case PayloadSA:
		return "SA"
	case PayloadKE:
		return "KE"
	case PayloadIDi:
		return "IDi"
	case PayloadIDr:
		return "IDr"
	case PayloadCERT:
		return "CERT"
	case PayloadCERTREQ:
		return "CERTREQ"
	case PayloadAUTH:
		return "AUTH"
	case PayloadNonce:
		return "Nonce"
	case PayloadNotify:
		return "N"
	case PayloadDelete:
		return "D"
	case PayloadVendorID:
		return "V"
	case PayloadTSi:
		return "TSi"
	case PayloadTSr:
		return "TSr"
	case PayloadSK:
		return "SK"
	case PayloadCP:
		return "CP"
	case PayloadEAP:
		return "EAP"
	case PayloadSKF:
		return "SKF"
	}
	return "PayloadType(" + strconv.Itoa(int(t)) + ")"
}

// Generic holds what a payload carries of its generic payload header (RFC
// 7296 section 3.2) besides Next Payload and Payload Length, which are
// derived when encoding.
type Generic struct {
	// Critical asks a receiver that does not recognize the payload type
	// to reject the message. It is ignored for recognized types and
	// MUST be zero for the types of RFC 7296.
	Critical bool
	// Reserved holds the seven reserved bits of the second octet, kept
	// so that re-encoding is exact; zero when sending.
	Reserved uint8
}

// append appends a generic payload header for a payload of total length n
// whose Next Payload field is next.
func (g Generic) append(b []byte, next PayloadType, n int) ([]byte, error) {
	if n > maxPayloadLen {
		return b, malformed("payload length %d exceeds %d", n, maxPayloadLen)
	}
	if g.Reserved > 0x7f {
		return b, malformed("reserved bits 0x%x do not fit in 7 bits", g.Reserved)
	}
	flags := g.Reserved
	if g.Critical {
		flags |= 0x80
	}
	return append(b, byte(next), flags, byte(n>>8), byte(n)), nil
}

// Payload is one payload of an IKE message. The concrete types are
// pointers: *SA, *KE, *ID, *Cert, *CertReq, *Auth, *Nonce, *Notify,
// *Delete, *VendorID, *TrafficSelectors, *Encrypted, *EncryptedFragment,
// *CP, *EAP and *Unknown.
type Payload interface {
	// Type returns the payload type.
	Type() PayloadType
	// Len returns the encoded length, generic payload header included.
	Len() int
	// Append appends the payload with its generic header to b. The Next
	// Payload field is left zero (for SK and SKF it is the type of the
	// first inner payload); AppendPayloads fills it in when chaining.
	// On error b is returned unchanged.
	Append(b []byte) ([]byte, error)
}

// Compile-time checks that every payload implements Payload.
var (
	_ Payload = (*SA)(nil)
	_ Payload = (*KE)(nil)
	_ Payload = (*ID)(nil)
	_ Payload = (*Cert)(nil)
	_ Payload = (*CertReq)(nil)
	_ Payload = (*Auth)(nil)
	_ Payload = (*Nonce)(nil)
	_ Payload = (*Notify)(nil)
	_ Payload = (*Delete)(nil)
	_ Payload = (*VendorID)(nil)
	_ Payload = (*TrafficSelectors)(nil)
	_ Payload = (*Encrypted)(nil)
	_ Payload = (*EncryptedFragment)(nil)
	_ Payload = (*CP)(nil)
	_ Payload = (*EAP)(nil)
	_ Payload = (*Unknown)(nil)
)

// Unknown is a payload of a type this package does not recognize whose
// critical bit is clear: the receiver skips it (RFC 7296 section 2.5). It is
// kept, body unparsed, so that re-encoding a message is exact.
type Unknown struct {
	Generic
	PayloadType PayloadType
	Body        []byte // after the generic header; aliases the parsed input
}

// Type returns u.PayloadType.
func (u *Unknown) Type() PayloadType { return u.PayloadType }

// Len returns the encoded length.
func (u *Unknown) Len() int { return GenericHeaderLen + len(u.Body) }

// Append appends the payload to b.
func (u *Unknown) Append(b []byte) ([]byte, error) {
	b, err := u.Generic.append(b, PayloadNone, u.Len())
	if err != nil {
		return b, err
	}
	return append(b, u.Body...), nil
}

// ParsePayloads decodes a chain of payloads whose first type is first and
// which fills b exactly: the payloads of a message after its header, or the
// decrypted content of an SK payload (without padding) with first taken
// from the SK payload's Next Payload field. An SK or SKF payload ends the
// chain and must be the last payload (RFC 7296 section 3.14).
//
// An unrecognized payload type with the critical bit set makes it return an
// *UnsupportedCriticalPayloadError. The payloads alias b.
func ParsePayloads(first PayloadType, b []byte) ([]Payload, error) {
	var ps []Payload
	next, off := first, 0
	for next != PayloadNone {
		if len(b)-off < GenericHeaderLen {
			return nil, fmt.Errorf("ikev2: %v payload at offset %d: %w", next, off,
				malformed("%d octets left, need a %d-octet generic header", len(b)-off, GenericHeaderLen))
		}
		n := int(binary.BigEndian.Uint16(b[off+2 : off+4]))
		if n < GenericHeaderLen || n > len(b)-off {
			return nil, fmt.Errorf("ikev2: %v payload at offset %d: %w", next, off,
				malformed("payload length %d, %d octets left", n, len(b)-off))
		}
		g := Generic{Critical: b[off+1]&0x80 != 0, Reserved: b[off+1] & 0x7f}
		inner := PayloadType(b[off])
		body := b[off+GenericHeaderLen : off+n]
		p, err := decode(next, inner, g, body)
		if err != nil {
			if ce := (*UnsupportedCriticalPayloadError)(nil); errors.As(err, &ce) {
				return nil, err
			}
			return nil, fmt.Errorf("ikev2: %v payload at offset %d: %w", next, off, err)
		}
		ps = append(ps, p)
		off += n
		next = inner
		if t := p.Type(); t == PayloadSK || t == PayloadSKF {
			// §3.14: the Next Payload field of SK names the first
			// inner payload; SK MUST be the last payload.
			if off != len(b) {
				return nil, fmt.Errorf("ikev2: %v payload at offset %d: %w", t, off-n,
					malformed("%d octets follow it; it must be the last payload", len(b)-off))
			}
			return ps, nil
		}
	}
	if off != len(b) {
		return nil, fmt.Errorf("ikev2: %w", malformed("%d octets after the last payload", len(b)-off))
	}
	return ps, nil
}

// decode decodes the body of one payload of type t. next is the Next Payload
// field of its generic header, which SK and SKF keep.
func decode(t, next PayloadType, g Generic, body []byte) (Payload, error) {
	switch t {
	case PayloadSA:
		return parseSA(g, body)
	case PayloadKE:
		return parseKE(g, body)
	case PayloadIDi, PayloadIDr:
		return parseID(g, t == PayloadIDr, body)
	case PayloadCERT:
		return parseCert(g, body)
	case PayloadCERTREQ:
		return parseCertReq(g, body)
	case PayloadAUTH:
		return parseAuth(g, body)
	case PayloadNonce:
		return parseNonce(g, body)
	case PayloadNotify:
		return parseNotify(g, body)
	case PayloadDelete:
		return parseDelete(g, body)
	case PayloadVendorID:
		return &VendorID{Generic: g, Data: sub(body, 0, len(body))}, nil
	case PayloadTSi, PayloadTSr:
		return parseTrafficSelectors(g, t == PayloadTSr, body)
	case PayloadSK:
		return &Encrypted{Generic: g, NextPayload: next, Body: sub(body, 0, len(body))}, nil
	case PayloadSKF:
		return parseEncryptedFragment(g, next, body)
	case PayloadCP:
		return parseCP(g, body)
	case PayloadEAP:
		return &EAP{Generic: g, Data: sub(body, 0, len(body))}, nil
	}
	// §2.5: skip an unrecognized payload unless its critical bit is set.
	if g.Critical {
		return nil, &UnsupportedCriticalPayloadError{Type: t}
	}
	return &Unknown{Generic: g, PayloadType: t, Body: sub(body, 0, len(body))}, nil
}

// sub returns b[lo:hi] for a decoded field: nil when empty, and with its
// capacity capped so that appending to it cannot overwrite the input that
// follows.
func sub(b []byte, lo, hi int) []byte {
	if lo == hi {
		return nil
	}
	return b[lo:hi:hi]
}

// AppendPayloads appends the payloads to b as a chain, filling in each Next
// Payload field with the type of the payload that follows. The caller puts
// the type of the first payload in whatever precedes the chain. An SK or SKF
// payload must be the last (RFC 7296 section 3.14). On error b is returned
// unchanged.
func AppendPayloads(b []byte, ps []Payload) ([]byte, error) {
	start, prev := len(b), -1
	for i, p := range ps {
		if t := p.Type(); (t == PayloadSK || t == PayloadSKF) && i != len(ps)-1 {
			return b[:start], fmt.Errorf("ikev2: %v payload %d of %d: %w", t, i+1, len(ps),
				malformed("it must be the last payload"))
		}
		at := len(b)
		var err error
		if b, err = p.Append(b); err != nil {
			return b[:start], fmt.Errorf("ikev2: encoding %v payload: %w", p.Type(), err)
		}
		if prev >= 0 {
			b[prev] = byte(p.Type())
		}
		prev = at
	}
	return b, nil
}

// payloadsLen returns the encoded length of a payload chain.
func payloadsLen(ps []Payload) int {
	n := 0
	for _, p := range ps {
		n += p.Len()
	}
	return n
}
