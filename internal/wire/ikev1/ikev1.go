// Package ikev1 encodes and decodes ISAKMP messages as IKEv1 uses them
// (RFC 2408, RFC 2409, the IPsec DOI of RFC 2407, NAT traversal of RFC
// 3947): the header, the generic payload chain, SA payloads with
// proposals, transforms and data attributes, and the ID, Notification and
// Delete payloads. KE, Nonce, Hash, Vendor ID and NAT-D payloads are
// opaque bodies.
//
// It only parses and builds bytes: no keys, no state, the standard library
// only. Every length is checked against its container; the number of
// payloads, proposals, transforms and attributes is bounded, so that no
// input allocates without bound.
package ikev1

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the length of the ISAKMP header (RFC 2408 §3.1).
const HeaderLen = 28

// Version is IKEv1's major and minor version, 1.0.
const Version = 0x10

// Exchange types (RFC 2408 §3.1, RFC 2409 §5.5).
const (
	ExchangeMain  = 2 // Identity Protection
	ExchangeAggr  = 4
	ExchangeInfo  = 5
	ExchangeQuick = 32
)

// Header flags (RFC 2408 §3.1).
const (
	FlagEncryption = 1
	FlagCommit     = 2
)

// PayloadType is a payload's type (RFC 2408 §3.1, RFC 3947).
type PayloadType uint8

// Payload types.
const (
	PayloadNone     PayloadType = 0
	PayloadSA       PayloadType = 1
	PayloadKE       PayloadType = 4
	PayloadID       PayloadType = 5
	PayloadCertReq  PayloadType = 7
	PayloadHash     PayloadType = 8
	PayloadNonce    PayloadType = 10
	PayloadNotify   PayloadType = 11
	PayloadDelete   PayloadType = 12
	PayloadVendorID PayloadType = 13
	PayloadNATD     PayloadType = 20
	PayloadNATOA    PayloadType = 21
)

// Bounds on what one message may hold.
const (
	maxPayloads   = 64
	maxProposals  = 16
	maxTransforms = 64
	maxAttributes = 32
)

// Errors.
var (
	ErrShort   = errors.New("ikev1: message too short")
	ErrLength  = errors.New("ikev1: a length overruns its container")
	ErrVersion = errors.New("ikev1: not ISAKMP version 1.0")
	ErrTooMany = errors.New("ikev1: too many payloads, proposals, transforms or attributes")
)

// Header is the ISAKMP header.
type Header struct {
	ICookie, RCookie uint64
	Next             PayloadType
	Version          uint8
	Exchange         uint8
	Flags            uint8
	MessageID        uint32
	Length           uint32
}

// ParseHeader parses the header of msg and checks that its length is
// msg's.
func ParseHeader(msg []byte) (Header, error) {
	if len(msg) < HeaderLen {
		return Header{}, ErrShort
	}
	h := Header{
		ICookie: binary.BigEndian.Uint64(msg), RCookie: binary.BigEndian.Uint64(msg[8:]),
		Next: PayloadType(msg[16]), Version: msg[17], Exchange: msg[18], Flags: msg[19],
		MessageID: binary.BigEndian.Uint32(msg[20:]), Length: binary.BigEndian.Uint32(msg[24:]),
	}
	if h.Version>>4 != 1 {
		return h, ErrVersion
	}
	if int(h.Length) != len(msg) {
		return h, fmt.Errorf("%w: header says %d bytes, %d arrived", ErrLength, h.Length, len(msg))
	}
	return h, nil
}

// Append appends the header.
func (h Header) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, h.ICookie)
	b = binary.BigEndian.AppendUint64(b, h.RCookie)
	b = append(b, byte(h.Next), Version, h.Exchange, h.Flags)
	b = binary.BigEndian.AppendUint32(b, h.MessageID)
	return binary.BigEndian.AppendUint32(b, h.Length)
}

// Payload is one payload: its type and body (without the generic header).
type Payload struct {
	Type PayloadType
	Body []byte
}

// ParsePayloads walks the payload chain that starts with a payload of
// type first. Bytes after the last payload (the padding of an encrypted
// message, RFC 2408 §3.5) are ignored.
func ParsePayloads(first PayloadType, b []byte) ([]Payload, error) {
	var out []Payload
	for t := first; t != PayloadNone; {
		if len(out) == maxPayloads {
			return nil, ErrTooMany
		}
		if len(b) < 4 {
			return nil, ErrShort
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			return nil, fmt.Errorf("%w: payload %d of %d bytes in %d", ErrLength, t, n, len(b))
		}
		out = append(out, Payload{Type: t, Body: b[4:n]})
		t, b = PayloadType(b[0]), b[n:]
	}
	return out, nil
}

// AppendPayloads appends ps as a chain and returns the type of the first.
func AppendPayloads(b []byte, ps []Payload) ([]byte, PayloadType) {
	for i, p := range ps {
		next := PayloadNone
		if i+1 < len(ps) {
			next = ps[i+1].Type
		}
		b = append(b, byte(next), 0)
		b = binary.BigEndian.AppendUint16(b, uint16(4+len(p.Body)))
		b = append(b, p.Body...)
	}
	if len(ps) == 0 {
		return b, PayloadNone
	}
	return b, ps[0].Type
}

// Find returns the first payload of type t.
func Find(ps []Payload, t PayloadType) (Payload, bool) {
	for _, p := range ps {
		if p.Type == t {
			return p, true
		}
	}
	return Payload{}, false
}
