package ikev1

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ID types (RFC 2407 §4.6.2.1).
const (
	IDIPv4       = 1
	IDFQDN       = 2
	IDIPv4Subnet = 4
	IDIPv6       = 5
	IDIPv6Subnet = 6
	IDIPv4Range  = 7
	IDIPv6Range  = 8
	IDKeyID      = 11
)

// ID is an identification payload of the IPsec DOI (RFC 2407 §4.6.2).
type ID struct {
	Type     uint8
	Protocol uint8
	Port     uint16
	Data     []byte
}

// ParseID parses an ID payload body.
func ParseID(b []byte) (ID, error) {
	if len(b) < 4 {
		return ID{}, ErrShort
	}
	return ID{Type: b[0], Protocol: b[1], Port: binary.BigEndian.Uint16(b[2:]), Data: b[4:]}, nil
}

// Append appends the body.
func (id ID) Append(b []byte) []byte {
	b = append(b, id.Type, id.Protocol)
	b = binary.BigEndian.AppendUint16(b, id.Port)
	return append(b, id.Data...)
}

// AddrID is the ID of an address, as phase 1 identifies a peer.
func AddrID(a netip.Addr) ID {
	if a.Is4() {
		return ID{Type: IDIPv4, Data: a.AsSlice()}
	}
	return ID{Type: IDIPv6, Data: a.AsSlice()}
}

// PrefixID is the ID of a subnet, as quick mode names traffic.
func PrefixID(p netip.Prefix) ID {
	a := p.Masked().Addr()
	mask := netip.PrefixFrom(a, p.Bits())
	m := make([]byte, a.BitLen()/8)
	for i := range mask.Bits() {
		m[i/8] |= 0x80 >> (i % 8)
	}
	typ := uint8(IDIPv4Subnet)
	if a.Is6() {
		typ = IDIPv6Subnet
	}
	return ID{Type: typ, Data: append(a.AsSlice(), m...)}
}

// Prefix returns the traffic an ID names, when it is an address, a subnet
// or a range that is exactly a prefix; the protocol and port must be any.
func (id ID) Prefix() (netip.Prefix, error) {
	if id.Protocol != 0 || id.Port != 0 {
		return netip.Prefix{}, fmt.Errorf("ikev1: ID with protocol %d port %d: only whole traffic is supported", id.Protocol, id.Port)
	}
	size := 4
	if id.Type == IDIPv6 || id.Type == IDIPv6Subnet || id.Type == IDIPv6Range {
		size = 16
	}
	switch id.Type {
	case IDIPv4, IDIPv6:
		if len(id.Data) != size {
			break
		}
		a, _ := netip.AddrFromSlice(id.Data)
		return netip.PrefixFrom(a, a.BitLen()), nil
	case IDIPv4Subnet, IDIPv6Subnet:
		if len(id.Data) != 2*size {
			break
		}
		a, _ := netip.AddrFromSlice(id.Data[:size])
		bits, ok := maskBits(id.Data[size:])
		if !ok {
			return netip.Prefix{}, fmt.Errorf("ikev1: ID subnet mask % x is not contiguous", id.Data[size:])
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	case IDIPv4Range, IDIPv6Range:
		if len(id.Data) != 2*size {
			break
		}
		lo, _ := netip.AddrFromSlice(id.Data[:size])
		hi, _ := netip.AddrFromSlice(id.Data[size:])
		for bits := 0; bits <= lo.BitLen(); bits++ {
			p := netip.PrefixFrom(lo, bits)
			if p.Masked().Addr() == lo && lastAddr(p) == hi {
				return p, nil
			}
		}
		return netip.Prefix{}, fmt.Errorf("ikev1: ID range %v-%v is not a prefix", lo, hi)
	default:
		return netip.Prefix{}, fmt.Errorf("ikev1: ID type %d does not name traffic", id.Type)
	}
	return netip.Prefix{}, fmt.Errorf("ikev1: ID of type %d with %d bytes", id.Type, len(id.Data))
}

func maskBits(m []byte) (int, bool) {
	bits, ended := 0, false
	for _, c := range m {
		for i := 7; i >= 0; i-- {
			set := c>>i&1 == 1
			switch {
			case set && ended:
				return 0, false
			case set:
				bits++
			default:
				ended = true
			}
		}
	}
	return bits, true
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Notify message types (RFC 2408 §3.14.1, RFC 3706).
const (
	NotifyInvalidPayloadType = 1
	NotifyInvalidSPI         = 11
	NotifyNoProposalChosen   = 14
	NotifyInvalidKeyInfo     = 17
	NotifyPayloadMalformed   = 16
	NotifyInvalidIDInfo      = 18
	NotifyInvalidHashInfo    = 23
	NotifyAuthFailed         = 24
	// NotifyResponderLifetime carries the responder's lifetimes of the
	// SA as an attribute list (RFC 2407 §4.6.3.1: ParseAttrs).
	NotifyResponderLifetime = 24576
	NotifyInitialContact    = 24578 // RFC 2407 §4.6.3.3
	NotifyRUThere           = 36136 // RFC 3706
	NotifyRUThereAck        = 36137
)

// Notify is a notification payload.
type Notify struct {
	DOI      uint32
	Protocol uint8
	SPI      []byte
	Type     uint16
	Data     []byte
}

// ParseNotify parses a notification body.
func ParseNotify(b []byte) (Notify, error) {
	if len(b) < 8 {
		return Notify{}, ErrShort
	}
	n := Notify{DOI: binary.BigEndian.Uint32(b), Protocol: b[4], Type: binary.BigEndian.Uint16(b[6:])}
	if len(b) < 8+int(b[5]) {
		return n, ErrLength
	}
	n.SPI, n.Data = b[8:8+int(b[5])], b[8+int(b[5]):]
	return n, nil
}

// Append appends the body.
func (n Notify) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, n.DOI)
	b = append(b, n.Protocol, byte(len(n.SPI)))
	b = binary.BigEndian.AppendUint16(b, n.Type)
	return append(append(b, n.SPI...), n.Data...)
}

// Delete is a delete payload (RFC 2408 §3.15).
type Delete struct {
	DOI      uint32
	Protocol uint8
	SPIs     [][]byte
}

// maxDeleteSPIs bounds the SPIs of one Delete: vnetgw's teardown names
// all of a connection's child SAs in one (up to 256 live ones, and those
// they replaced), more than maxPayloads.
const maxDeleteSPIs = 1024

// ParseDelete parses a delete body.
func ParseDelete(b []byte) (Delete, error) {
	if len(b) < 8 {
		return Delete{}, ErrShort
	}
	d := Delete{DOI: binary.BigEndian.Uint32(b), Protocol: b[4]}
	size, n := int(b[5]), int(binary.BigEndian.Uint16(b[6:]))
	b = b[8:]
	if size == 0 || len(b) != size*n || n > maxDeleteSPIs {
		return d, fmt.Errorf("%w: %d SPIs of %d bytes in %d", ErrLength, n, size, len(b))
	}
	for i := range n {
		d.SPIs = append(d.SPIs, b[i*size:(i+1)*size])
	}
	return d, nil
}

// Append appends the body; all SPIs have the length of the first.
func (d Delete) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, d.DOI)
	size := 0
	if len(d.SPIs) > 0 {
		size = len(d.SPIs[0])
	}
	b = append(b, d.Protocol, byte(size))
	b = binary.BigEndian.AppendUint16(b, uint16(len(d.SPIs)))
	for _, s := range d.SPIs {
		b = append(b, s...)
	}
	return b
}
