// Package bgp encodes and decodes the BGP-4 messages a VPN gateway's
// speaker needs (RFC 4271): OPEN with capabilities (RFC 5492), among them
// multiprotocol IPv4 unicast (RFC 4760) and four-octet AS numbers (RFC
// 6793); UPDATE with IPv4 prefixes and the ORIGIN, AS_PATH and NEXT_HOP
// attributes; NOTIFICATION, KEEPALIVE and ROUTE-REFRESH (RFC 2918).
//
// It only parses and builds bytes: no I/O, no state, the standard library
// only. A message is at most 4,096 bytes, so nothing it parses allocates
// more than a few times that. A parse error is an *Error that carries the
// NOTIFICATION code and subcode the speaker answers with (RFC 4271 §6).
package bgp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"
)

// Message lengths (RFC 4271 §4.1).
const (
	HeaderLen = 19
	MaxLen    = 4096
)

// Type is a message type (RFC 4271 §4.1).
type Type uint8

// Message types.
const (
	TypeOpen         Type = 1
	TypeUpdate       Type = 2
	TypeNotification Type = 3
	TypeKeepalive    Type = 4
	TypeRouteRefresh Type = 5 // RFC 2918
)

func (t Type) String() string {
	switch t {
	case TypeOpen:
		return "OPEN"
	case TypeUpdate:
		return "UPDATE"
	case TypeNotification:
		return "NOTIFICATION"
	case TypeKeepalive:
		return "KEEPALIVE"
	case TypeRouteRefresh:
		return "ROUTE-REFRESH"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// NOTIFICATION error codes (RFC 4271 §4.5) and the subcodes vnetgw sends.
const (
	CodeHeader          = 1
	CodeOpen            = 2
	CodeUpdate          = 3
	CodeHoldExpired     = 4
	CodeFSM             = 5
	CodeCease           = 6
	SubNotSynced        = 1 // header: marker
	SubBadLength        = 2 // header: length
	SubBadType          = 3 // header: type
	SubBadVersion       = 1 // OPEN
	SubBadPeerAS        = 2 // OPEN
	SubBadID            = 3 // OPEN
	SubUnsupportedParam = 4 // OPEN: an optional parameter not recognised
	SubBadHoldTime      = 6 // OPEN
	SubUnsupportedCap   = 7 // OPEN: a capability required is missing (RFC 5492 §5)
	SubMalformedList    = 1 // UPDATE: attribute list
	SubUnknownWellKnown = 2 // UPDATE: unrecognised well-known attribute
	SubMissingAttr      = 3 // UPDATE: well-known attribute missing
	SubAttrFlags        = 4 // UPDATE
	SubAttrLength       = 5 // UPDATE
	SubBadOrigin        = 6 // UPDATE
	SubBadNextHop       = 8 // UPDATE
	SubOptAttr          = 9 // UPDATE: optional attribute error
	SubBadNetwork       = 10
	SubBadASPath        = 11
	SubMaxPrefixes      = 1 // Cease: maximum number of prefixes reached (RFC 4486)
	SubAdminShutdown    = 2 // Cease (RFC 4486)
	SubDeconfigured     = 3 // Cease: peer de-configured (RFC 4486)
	SubAdminReset       = 4 // Cease (RFC 4486)
	SubRejected         = 5 // Cease: connection rejected (RFC 4486)
	SubConfigChange     = 6 // Cease: other configuration change (RFC 4486)
	SubCollision        = 7 // Cease: connection collision resolution
)

// Error is a malformed message: what is wrong, and the NOTIFICATION that
// says so to the peer.
type Error struct {
	Code, Subcode uint8
	Reason        string
	// Withdraw: the UPDATE's routes are treated as withdrawn and the
	// session stays (RFC 7606 §2, "treat-as-withdraw"); no NOTIFICATION
	// is sent.
	Withdraw bool
	// Data is the NOTIFICATION's data field, where RFC 4271 §6 names one.
	Data []byte
}

func (e *Error) Error() string {
	return fmt.Sprintf("bgp: %s (notification %d/%d)", e.Reason, e.Code, e.Subcode)
}

func errorf(code, sub uint8, format string, args ...any) *Error {
	return &Error{Code: code, Subcode: sub, Reason: fmt.Sprintf(format, args...)}
}

// ReadMessage reads one message into buf and returns its type and body
// (a slice of buf). It checks the header as RFC 4271 §6.1 asks; an
// io error is returned as it is.
func ReadMessage(r io.Reader, buf *[MaxLen]byte) (Type, []byte, error) {
	if _, err := io.ReadFull(r, buf[:HeaderLen]); err != nil {
		return 0, nil, err
	}
	// RFC 4271 §4.1: the marker MUST be all ones.
	for _, b := range buf[:16] {
		if b != 0xff {
			return 0, nil, errorf(CodeHeader, SubNotSynced, "the marker is not all ones")
		}
	}
	n := int(binary.BigEndian.Uint16(buf[16:18]))
	t := Type(buf[18])
	// RFC 4271 §6.1: the data of a length or type error MUST be the
	// erroneous field.
	badLength := func(err *Error) *Error { err.Data = bytes.Clone(buf[16:18]); return err }
	if n < HeaderLen || n > MaxLen {
		return 0, nil, badLength(errorf(CodeHeader, SubBadLength, "message length %d is outside %d..%d", n, HeaderLen, MaxLen))
	}
	var min int
	switch t {
	case TypeOpen:
		min = 29
	case TypeUpdate:
		min = 23
	case TypeNotification:
		min = 21
	case TypeKeepalive:
		min = HeaderLen
	case TypeRouteRefresh:
		min = HeaderLen + 4 // AFI, reserved, SAFI (RFC 2918 §3)
	default:
		err := errorf(CodeHeader, SubBadType, "unknown message type %d", uint8(t))
		err.Data = []byte{uint8(t)}
		return 0, nil, err
	}
	// RFC 4271 §6.1: a KEEPALIVE of another length than 19 is an error.
	if n < min || (t == TypeKeepalive && n != HeaderLen) {
		return 0, nil, badLength(errorf(CodeHeader, SubBadLength, "%s of %d bytes", t, n))
	}
	if _, err := io.ReadFull(r, buf[HeaderLen:n]); err != nil {
		return 0, nil, err
	}
	return t, buf[HeaderLen:n], nil
}

// AppendMessage appends a message of type t with body to b. A message
// longer than MaxLen is an error, and b is returned as it was.
func AppendMessage(b []byte, t Type, body []byte) ([]byte, error) {
	start := len(b)
	return endMessage(append(appendHeader(b, t), body...), start)
}

// appendHeader appends the header of a message of type t, its length to
// be written by endMessage once its body follows.
func appendHeader(b []byte, t Type) []byte {
	for range 16 {
		b = append(b, 0xff)
	}
	return append(b, 0, 0, byte(t))
}

// endMessage writes the length of the message that begins at b[start:]
// and ends b into its header. RFC 4271 §4.1: the length MUST be no
// greater than 4096: a longer message is an error, and b is returned as
// it was before the message.
func endMessage(b []byte, start int) ([]byte, error) {
	n := len(b) - start
	if n > MaxLen {
		return b[:start], fmt.Errorf("bgp: %s of %d bytes, more than %d", Type(b[start+18]), n, MaxLen)
	}
	binary.BigEndian.PutUint16(b[start+16:], uint16(n))
	return b, nil
}

// Notification is a NOTIFICATION message (RFC 4271 §4.5).
type Notification struct {
	Code, Subcode uint8
	Data          []byte
}

// ParseNotification parses a NOTIFICATION body.
func ParseNotification(body []byte) (Notification, error) {
	if len(body) < 2 {
		return Notification{}, errorf(CodeHeader, SubBadLength, "NOTIFICATION of %d bytes", len(body))
	}
	return Notification{Code: body[0], Subcode: body[1], Data: body[2:]}, nil
}

// Append appends the body.
func (n Notification) Append(b []byte) []byte {
	return append(append(b, n.Code, n.Subcode), n.Data...)
}

func (n Notification) String() string {
	names := map[uint8]string{CodeHeader: "message header error", CodeOpen: "OPEN message error", CodeUpdate: "UPDATE message error",
		CodeHoldExpired: "hold timer expired", CodeFSM: "finite state machine error", CodeCease: "cease"}
	name, ok := names[n.Code]
	if !ok {
		name = fmt.Sprintf("error code %d", n.Code)
	}
	s := fmt.Sprintf("%s, subcode %d", name, n.Subcode)
	if sub, ok := subcodeNames[[2]uint8{n.Code, n.Subcode}]; ok {
		s += " (" + sub + ")"
	}
	switch {
	case len(n.Data) == 0:
	case n.Code == CodeCease && (n.Subcode == SubAdminShutdown || n.Subcode == SubAdminReset):
		s += shutdownCommunication(n.Data)
	case len(n.Data) > maxDataShown:
		s += fmt.Sprintf(", data % x ... (%d bytes)", n.Data[:maxDataShown], len(n.Data))
	default:
		// The erroneous field, attribute or capability (RFC 4271 §6,
		// RFC 5492 §5): what the peer refused, byte for byte.
		s += fmt.Sprintf(", data % x", n.Data)
	}
	return s
}

// maxDataShown is how much of a NOTIFICATION's data String shows: an
// attribute or a capability, not a whole message.
const maxDataShown = 64

// subcodeNames name the error subcodes by code and subcode (RFC 4271
// §4.5, RFC 4486 §4, RFC 5492 §5, RFC 6608 §3, RFC 8538 §3, RFC 9384 §3),
// so that a NOTIFICATION a peer sends says what it refused in words.
var subcodeNames = map[[2]uint8]string{
	{CodeHeader, SubNotSynced}:        "connection not synchronized",
	{CodeHeader, SubBadLength}:        "bad message length",
	{CodeHeader, SubBadType}:          "bad message type",
	{CodeOpen, SubBadVersion}:         "unsupported version number",
	{CodeOpen, SubBadPeerAS}:          "bad peer AS",
	{CodeOpen, SubBadID}:              "bad BGP identifier",
	{CodeOpen, SubUnsupportedParam}:   "unsupported optional parameter",
	{CodeOpen, SubBadHoldTime}:        "unacceptable hold time",
	{CodeOpen, SubUnsupportedCap}:     "unsupported capability",
	{CodeUpdate, SubMalformedList}:    "malformed attribute list",
	{CodeUpdate, SubUnknownWellKnown}: "unrecognized well-known attribute",
	{CodeUpdate, SubMissingAttr}:      "missing well-known attribute",
	{CodeUpdate, SubAttrFlags}:        "attribute flags error",
	{CodeUpdate, SubAttrLength}:       "attribute length error",
	{CodeUpdate, SubBadOrigin}:        "invalid ORIGIN attribute",
	{CodeUpdate, SubBadNextHop}:       "invalid NEXT_HOP attribute",
	{CodeUpdate, SubOptAttr}:          "optional attribute error",
	{CodeUpdate, SubBadNetwork}:       "invalid network field",
	{CodeUpdate, SubBadASPath}:        "malformed AS_PATH",
	{CodeFSM, 1}:                      "unexpected message in OpenSent",
	{CodeFSM, 2}:                      "unexpected message in OpenConfirm",
	{CodeFSM, 3}:                      "unexpected message in Established",
	{CodeCease, SubMaxPrefixes}:       "maximum number of prefixes reached",
	{CodeCease, SubAdminShutdown}:     "administrative shutdown",
	{CodeCease, SubDeconfigured}:      "peer de-configured",
	{CodeCease, SubAdminReset}:        "administrative reset",
	{CodeCease, SubRejected}:          "connection rejected",
	{CodeCease, SubConfigChange}:      "other configuration change",
	{CodeCease, SubCollision}:         "connection collision resolution",
	{CodeCease, 8}:                    "out of resources",
	{CodeCease, 9}:                    "hard reset",
	{CodeCease, 10}:                   "BFD down",
}

// shutdownCommunication is how String shows the data of a Cease,
// Administrative Shutdown or Reset: the operator's message of RFC 9003
// §2, a length octet and as many octets of UTF-8 (so at most 255),
// quoted with its control characters escaped, so that it never passes
// for lines of a log of its own. One whose length disagrees with the
// data, or that is not UTF-8, is said to be malformed and shown as hex
// (RFC 9003 §4).
func shutdownCommunication(data []byte) string {
	msg := data[1:]
	switch {
	// RFC 9003 §2: a receiver MUST NOT interpret invalid UTF-8.
	case int(data[0]) != len(msg) || !utf8.Valid(msg):
		return fmt.Sprintf(", a malformed shutdown communication: % x", data[:min(len(data), 256)])
	case len(msg) == 0:
		return ""
	}
	return fmt.Sprintf(", shutdown communication %q", msg)
}
