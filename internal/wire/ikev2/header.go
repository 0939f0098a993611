package ikev2

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// HeaderLen is the length of the IKE header (RFC 7296 section 3.1).
const HeaderLen = 28

// MajorVersion is the IKE major version this package speaks.
const MajorVersion = 2

// ExchangeType is the Exchange Type field of the IKE header (RFC 7296
// section 3.1).
type ExchangeType uint8

// Exchange types (RFC 7296 section 3.1).
const (
	IKESAInit     ExchangeType = 34
	IKEAuth       ExchangeType = 35
	CreateChildSA ExchangeType = 36
	Informational ExchangeType = 37
)

func (t ExchangeType) String() string {
	switch t {
	case IKESAInit:
		return "IKE_SA_INIT"
	case IKEAuth:
		return "IKE_AUTH"
	case CreateChildSA:
		return "CREATE_CHILD_SA"
	case Informational:
		return "INFORMATIONAL"
	}
	return "ExchangeType(" + strconv.Itoa(int(t)) + ")"
}

// Flags is the Flags field of the IKE header (RFC 7296 section 3.1).
type Flags uint8

// Header flags (RFC 7296 section 3.1). The other bits are reserved: sent as
// zero, ignored on receipt.
const (
	// FlagInitiator is set in messages sent by the original initiator of
	// the IKE SA.
	FlagInitiator Flags = 1 << 3
	// FlagVersion is set when the sender can speak a higher major version.
	FlagVersion Flags = 1 << 4
	// FlagResponse is set in responses.
	FlagResponse Flags = 1 << 5
)

func (f Flags) String() string {
	var parts []string
	for _, x := range []struct {
		f    Flags
		name string
	}{{FlagInitiator, "I"}, {FlagVersion, "V"}, {FlagResponse, "R"}} {
		if f&x.f != 0 {
			parts = append(parts, x.name)
			f &^= x.f
		}
	}
	if f != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(f), 16))
	}
	return strings.Join(parts, "|")
}

// Header is the fixed IKE header (RFC 7296 section 3.1).
type Header struct {
	SPIi, SPIr   uint64
	NextPayload  PayloadType
	MajorVersion uint8 // 4 bits; 2 for IKEv2
	MinorVersion uint8 // 4 bits; 0
	Exchange     ExchangeType
	Flags        Flags
	MessageID    uint32
	// Length is the length of the whole message, header included.
	Length uint32
}

// ParseHeader decodes the IKE header at the start of b. It returns an
// *InvalidMajorVersionError if the major version is not 2, and an error if
// Length is shorter than the header or longer than b.
func ParseHeader(b []byte) (Header, int, error) {
	if len(b) < HeaderLen {
		return Header{}, 0, malformed("header: %d octets, need %d", len(b), HeaderLen)
	}
	h := Header{
		SPIi:         binary.BigEndian.Uint64(b[0:8]),
		SPIr:         binary.BigEndian.Uint64(b[8:16]),
		NextPayload:  PayloadType(b[16]),
		MajorVersion: b[17] >> 4,
		MinorVersion: b[17] & 0x0f,
		Exchange:     ExchangeType(b[18]),
		Flags:        Flags(b[19]),
		MessageID:    binary.BigEndian.Uint32(b[20:24]),
		Length:       binary.BigEndian.Uint32(b[24:28]),
	}
	// §2.5: a higher major version MUST be dropped; a lower one is IKEv1
	// or garbage and cannot be parsed as IKEv2 either.
	if h.MajorVersion != MajorVersion {
		return Header{}, 0, &InvalidMajorVersionError{Major: h.MajorVersion, Minor: h.MinorVersion}
	}
	if h.Length < HeaderLen || uint64(h.Length) > uint64(len(b)) {
		return Header{}, 0, malformed("header: length %d, have %d octets", h.Length, len(b))
	}
	return h, HeaderLen, nil
}

// Append appends the encoded header to b, with Length and NextPayload as
// they are in h.
func (h Header) Append(b []byte) ([]byte, error) {
	if h.MajorVersion > 0x0f || h.MinorVersion > 0x0f {
		return b, malformed("header: version %d.%d does not fit in 4 bits", h.MajorVersion, h.MinorVersion)
	}
	b = binary.BigEndian.AppendUint64(b, h.SPIi)
	b = binary.BigEndian.AppendUint64(b, h.SPIr)
	b = append(b, byte(h.NextPayload), h.MajorVersion<<4|h.MinorVersion, byte(h.Exchange), byte(h.Flags))
	b = binary.BigEndian.AppendUint32(b, h.MessageID)
	b = binary.BigEndian.AppendUint32(b, h.Length)
	return b, nil
}
