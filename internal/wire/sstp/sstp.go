// Package sstp encodes and decodes the packets of the Secure Socket
// Tunneling Protocol ([MS-SSTP] §2.2): the 4-byte packet header with its
// control bit (§2.2.1), data packets carrying PPP frames (§2.2.3), control
// packets with their message type and attribute list (§2.2.2, §2.2.4), and
// the attributes themselves: Encapsulated Protocol ID (§2.2.5), Crypto
// Binding Request (§2.2.6), Crypto Binding (§2.2.7) and Status Info
// (§2.2.8). ZeroMAC prepares a Call Connected message (§2.2.11) for the
// Compound MAC computation of §3.2.5.2.
//
// The HTTPS exchange that precedes SSTP (§3.2.4.1) is not here. Nor are
// keys or state: the package only parses and builds bytes, with the
// standard library only. A packet is at most 4,095 bytes (a 12-bit length),
// every length is checked against its container before slicing, and the
// number of attributes is bounded, so nothing it parses allocates more than
// a few kilobytes. A parse error is an *Error that carries the Status Info
// the peer is answered with (§2.2.8).
package sstp

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Packet sizes ([MS-SSTP] §2.2.1).
const (
	// Version is SSTP 1.0: major version 1 in the upper nibble, minor 0.
	Version = 0x10
	// HeaderLen is the length of the packet header.
	HeaderLen = 4
	// MaxPacket is the largest packet the 12-bit Length field can
	// describe, header included.
	MaxPacket = 0x0fff
	// MaxData is the largest payload of a data packet or body of a
	// control packet.
	MaxData = MaxPacket - HeaderLen
)

// controlBit is the C bit of the header's second byte (§2.2.1).
const controlBit = 0x01

// lengthMask keeps the 12-bit Length of a LengthPacket field; the upper 4
// bits (R) are reserved (§2.2.1, §2.2.4).
const lengthMask = 0x0fff

// Status values of the Status Info attribute ([MS-SSTP] §2.2.8).
const (
	StatusNoError                     = 0x00000000
	StatusDuplicateAttribute          = 0x00000001
	StatusUnrecognizedAttribute       = 0x00000002
	StatusInvalidAttribValueLength    = 0x00000003
	StatusValueNotSupported           = 0x00000004
	StatusUnacceptedFrameReceived     = 0x00000005
	StatusRetryCountExceeded          = 0x00000006
	StatusInvalidFrameReceived        = 0x00000007
	StatusNegotiationTimeout          = 0x00000008
	StatusAttribNotSupportedInMsg     = 0x00000009
	StatusRequiredAttributeMissing    = 0x0000000a
	StatusStatusInfoNotSupportedInMsg = 0x0000000b
)

// Error is a malformed packet or attribute: what is wrong, and the Status
// Info attribute (§2.2.8) that tells the peer so in a Call Abort or a Call
// Connect NAK.
type Error struct {
	// AttribID is the attribute at fault, or AttribNoError when the
	// packet as a whole is.
	AttribID uint8
	// Status is one of the Status… values.
	Status uint32
	Reason string
}

func (e *Error) Error() string {
	return "sstp: " + e.Reason
}

// StatusInfo returns the Status Info attribute that reports the error.
func (e *Error) StatusInfo() StatusInfo {
	return StatusInfo{AttribID: e.AttribID, Status: e.Status}
}

func errorf(attr uint8, status uint32, format string, args ...any) *Error {
	return &Error{AttribID: attr, Status: status, Reason: fmt.Sprintf(format, args...)}
}

// ReadPacket reads exactly one packet from r into buf and returns whether
// it is a control packet and its body (a slice of buf): the PPP frame of
// a data packet, or the message of a control packet for ParseControl. The
// reserved bits of the header are ignored. An I/O error is returned as it
// is: io.EOF before the first byte, io.ErrUnexpectedEOF inside a packet.
func ReadPacket(r io.Reader, buf *[MaxPacket]byte) (control bool, body []byte, err error) {
	if _, err := io.ReadFull(r, buf[:HeaderLen]); err != nil {
		return false, nil, err
	}
	// §2.2.1: the Version field MUST be 0x10.
	if buf[0] != Version {
		return false, nil, errorf(AttribNoError, StatusInvalidFrameReceived, "version 0x%02x, want 0x%02x", buf[0], Version)
	}
	control = buf[1]&controlBit != 0
	n := int(binary.BigEndian.Uint16(buf[2:4]) & lengthMask)
	// §2.2.1: Length MUST count the whole packet, its 4-byte header included.
	if n < HeaderLen {
		return false, nil, errorf(AttribNoError, StatusInvalidFrameReceived, "packet length %d is shorter than the %d-byte header", n, HeaderLen)
	}
	if _, err := io.ReadFull(r, buf[HeaderLen:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return false, nil, err
	}
	return control, buf[HeaderLen:n], nil
}

// appendHeader appends a packet header for a body of n bytes.
func appendHeader(b []byte, control bool, n int) []byte {
	if n > MaxData {
		panic(fmt.Sprintf("sstp: a body of %d bytes does not fit in a packet (at most %d)", n, MaxData))
	}
	var c byte
	if control {
		c = controlBit
	}
	// §2.2.1: the reserved bits MUST be zero when sent.
	b = append(b, Version, c)
	return binary.BigEndian.AppendUint16(b, uint16(HeaderLen+n))
}

// AppendData appends a data packet (§2.2.3) carrying payload, a PPP frame,
// to b. It panics if payload is longer than MaxData.
func AppendData(b []byte, payload []byte) []byte {
	return append(appendHeader(b, false, len(payload)), payload...)
}
