package esp

import "errors"

// Port is the UDP port that carries UDP-encapsulated ESP, IKE with a
// non-ESP marker, and NAT-keepalives (RFC 3948 §2, RFC 7296 §2.23).
const Port = 4500

// NonESPMarkerLen is the length of the non-ESP marker: four zero bytes in
// front of an IKE message on port 4500 (RFC 3948 §2.2).
const NonESPMarkerLen = 4

// Keepalive is the only byte of a NAT-keepalive packet (RFC 3948 §2.3).
const Keepalive = 0xFF

// ErrKind means a port 4500 payload is neither ESP, IKE nor a NAT-keepalive.
var ErrKind = errors.New("esp: udp payload is not esp, ike or keepalive")

// Kind is what a UDP payload on port 4500 carries.
type Kind uint8

// Kinds of port 4500 payloads (RFC 3948 §2).
const (
	// KindESP is an ESP packet: it starts with a non-zero SPI.
	KindESP Kind = iota + 1
	// KindIKE is an IKE message after a non-ESP marker.
	KindIKE
	// KindKeepalive is a NAT-keepalive, which the receiver ignores.
	KindKeepalive
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindESP:
		return "esp"
	case KindIKE:
		return "ike"
	case KindKeepalive:
		return "keepalive"
	}
	return "invalid"
}

// Classify says what the UDP payload b, received on port 4500, carries. For
// KindIKE the IKE message is b[NonESPMarkerLen:]; for KindESP the ESP packet
// is all of b and is at least HeaderLen long.
func Classify(b []byte) (Kind, error) {
	// RFC 3948 §2.3: a NAT-keepalive is a single 0xFF byte.
	if len(b) == 1 {
		if b[0] != Keepalive {
			return 0, ErrKind
		}
		return KindKeepalive, nil
	}
	if len(b) < NonESPMarkerLen {
		return 0, ErrShort
	}
	// RFC 3948 §2.2: four zero bytes (where an SPI, which is never zero,
	// would be) mark a non-ESP (IKE) message.
	if b[0]|b[1]|b[2]|b[3] == 0 {
		if len(b) == NonESPMarkerLen {
			return 0, ErrShort
		}
		return KindIKE, nil
	}
	// RFC 3948 §2.1: otherwise it is ESP, SPI and sequence number first.
	if len(b) < HeaderLen {
		return 0, ErrShort
	}
	return KindESP, nil
}

// AppendNonESPMarker appends the non-ESP marker to b; the caller appends the
// IKE message after it (RFC 3948 §2.2).
func AppendNonESPMarker(b []byte) []byte {
	return append(b, 0, 0, 0, 0)
}
