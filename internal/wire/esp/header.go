// Package esp encodes and decodes the cleartext parts of ESP packets: the
// header (RFC 4303 §2.1–2.2), the trailer inside the encrypted payload
// (RFC 4303 §2.4–2.6), and the classification of UDP port 4500 payloads into
// ESP, IKE and NAT-keepalive (RFC 3948 §2).
//
// It only parses and builds bytes: it holds no keys, does no I/O and imports
// only the standard library. Parsers return slices into their input and never
// allocate; their errors are fixed values so that a flood of bad packets costs
// no garbage.
package esp

import (
	"encoding/binary"
	"errors"
)

// HeaderLen is the length of the ESP header: SPI and sequence number
// (RFC 4303 §2).
const HeaderLen = 8

// Errors returned by the parsers. They are fixed values (no wrapping) because
// they are returned per packet on the data path.
var (
	// ErrShort means the input ends before the structure does.
	ErrShort = errors.New("esp: packet too short")
	// ErrSPIZero means the SPI is zero, which never appears on the wire.
	ErrSPIZero = errors.New("esp: spi is zero")
	// ErrPadLen means the pad length points before the start of the payload.
	ErrPadLen = errors.New("esp: pad length exceeds payload")
	// ErrPadding means the padding bytes are not 1, 2, 3, ...
	ErrPadding = errors.New("esp: padding bytes are not 1, 2, 3 and so on")
)

// Header is the ESP header (RFC 4303 §2.1, §2.2). Seq holds the low-order 32
// bits of the sequence number; with extended sequence numbers the high-order
// bits are never sent.
type Header struct {
	SPI uint32
	Seq uint32
}

// Len returns the encoded length of h, always HeaderLen.
func (h Header) Len() int { return HeaderLen }

// Append appends the encoded header to b.
func (h Header) Append(b []byte) ([]byte, error) {
	// RFC 4303 §2.1: SPI zero is reserved for local use and MUST NOT be sent.
	if h.SPI == 0 {
		return b, ErrSPIZero
	}
	b = binary.BigEndian.AppendUint32(b, h.SPI)
	return binary.BigEndian.AppendUint32(b, h.Seq), nil
}

// ParseHeader parses the ESP header at the start of b and returns it and the
// number of bytes it took.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) < HeaderLen {
		return Header{}, 0, ErrShort
	}
	h := Header{
		SPI: binary.BigEndian.Uint32(b[0:4]),
		Seq: binary.BigEndian.Uint32(b[4:8]),
	}
	// RFC 4303 §2.1: SPI zero MUST NOT be sent, so it cannot be ESP.
	if h.SPI == 0 {
		return Header{}, 0, ErrSPIZero
	}
	return h, HeaderLen, nil
}
