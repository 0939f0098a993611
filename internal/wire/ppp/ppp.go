// Package ppp encodes and decodes the Point-to-Point Protocol as an SSTP
// server speaks it: frames with their Address, Control and Protocol fields
// (RFC 1661 §2, §6.5, §6.6); the packet format shared by LCP, IPCP and CCP
// (RFC 1661 §5, RFC 1332 §2) and their Configuration Options (RFC 1661
// §6, RFC 1332 §3, RFC 1877 §1); EAP packets (RFC 3748 §4, §5); the
// Data of EAP-TLS packets with its L, M and S flags (RFC 5216 §3.1,
// §3.2); and CHAP's challenges and responses (RFC 1994 §4) with
// MS-CHAP-V2's response (RFC 2759 §4).
//
// It only parses and builds bytes: no state machine, no keys, the standard
// library only. Parsed values are slices of the input, every length is
// checked before slicing, and the number of options is bounded, so that no
// input allocates without bound. A parse error wraps ErrMalformed; RFC
// 1661 §5 and RFC 3748 §4 have a receiver silently discard such packets.
package ppp

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("ppp: malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Protocol field values (RFC 1661 §2 and IANA's PPP DLL protocol numbers).
const (
	ProtoIPv4   = 0x0021
	ProtoIPv6   = 0x0057
	ProtoIPCP   = 0x8021 // RFC 1332
	ProtoIPv6CP = 0x8057 // RFC 5072
	ProtoCCP    = 0x80fd // RFC 1962
	ProtoLCP    = 0xc021
	ProtoPAP    = 0xc023 // RFC 1334
	ProtoCHAP   = 0xc223 // RFC 1994
	ProtoEAP    = 0xc227 // RFC 3748
)

// The Address and Control fields of every frame (RFC 1662 §3.1): the
// All-Stations address and Unnumbered Information.
const (
	address = 0xff
	control = 0x03
)

// ParseFrame parses a PPP frame as SSTP carries it (no flags, no FCS):
// optional Address and Control fields 0xff 0x03 (absent when compressed,
// RFC 1661 §6.6), then a Protocol field of two octets, or of one when its
// first octet is odd (compressed, RFC 1661 §6.5). info is a slice of b.
//
// A two-octet Protocol value whose low octet is even breaks the rules of
// RFC 1661 §2 and is returned as it is: the receiver MUST treat it as an
// unrecognized protocol and answer with a Protocol-Reject, and none of the
// Proto… values matches it.
func ParseFrame(b []byte) (proto uint16, info []byte, err error) {
	// RFC 1661 §6.6: if the first two octets are 0xff 0x03 they are the
	// Address and Control fields; otherwise these were compressed.
	if len(b) >= 2 && b[0] == address && b[1] == control {
		b = b[2:]
	}
	switch {
	case len(b) == 0:
		return 0, nil, malformed("frame without a Protocol field")
	case b[0]&1 == 1:
		// RFC 1661 §6.5: an odd first octet ends the Protocol field.
		return uint16(b[0]), b[1:], nil
	case len(b) < 2:
		return 0, nil, malformed("frame ends inside its Protocol field (%#02x)", b[0])
	}
	return binary.BigEndian.Uint16(b), b[2:], nil
}

// AppendFrame appends a frame to b with uncompressed Address, Control and
// Protocol fields, as RFC 1661 §6.5 and §6.6 require for LCP and allow
// for everything else.
func AppendFrame(b []byte, proto uint16, info []byte) []byte {
	b = append(b, address, control)
	b = binary.BigEndian.AppendUint16(b, proto)
	return append(b, info...)
}
