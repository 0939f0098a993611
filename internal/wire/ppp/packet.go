package ppp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Codes of LCP packets (RFC 1661 §5). IPCP (RFC 1332 §2) and CCP (RFC
// 1962 §2) use codes 1 to 7 with the same meaning.
const (
	ConfReq    = 1  // Configure-Request, RFC 1661 §5.1
	ConfAck    = 2  // Configure-Ack, §5.2
	ConfNak    = 3  // Configure-Nak, §5.3
	ConfRej    = 4  // Configure-Reject, §5.4
	TermReq    = 5  // Terminate-Request, §5.5
	TermAck    = 6  // Terminate-Ack, §5.5
	CodeRej    = 7  // Code-Reject, §5.6
	ProtoRej   = 8  // Protocol-Reject, §5.7
	EchoReq    = 9  // Echo-Request, §5.8
	EchoReply  = 10 // Echo-Reply, §5.8
	DiscardReq = 11 // Discard-Request, §5.8
	// LCP's extensions of RFC 1570, which need no answer.
	Identification = 12 // Identification, RFC 1570 §1.1
	TimeRemaining  = 13 // Time-Remaining, RFC 1570 §1.2
)

// PacketHeaderLen is the length of the Code, Identifier and Length fields
// (RFC 1661 §5).
const PacketHeaderLen = 4

// Packet is an LCP, IPCP or CCP packet (RFC 1661 §5).
type Packet struct {
	Code, ID uint8
	// Data is what follows the header: the options of a Configure
	// packet, the Magic-Number and data of an Echo, the rejected packet
	// of a Code-Reject.
	Data []byte
}

// ParsePacket parses a packet, the Information field of a frame. Data is
// a slice of b. Octets beyond the Length field are padding and ignored.
// The Code is not checked: an unknown one is for the caller to answer
// with a Code-Reject (RFC 1661 §5.6).
func ParsePacket(b []byte) (Packet, error) {
	if len(b) < PacketHeaderLen {
		return Packet{}, malformed("packet of %d octets, shorter than its %d-octet header", len(b), PacketHeaderLen)
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	// RFC 1661 §5: Length counts the header; octets beyond it are padding.
	if n < PacketHeaderLen || n > len(b) {
		return Packet{}, malformed("packet code %d says %d octets, %d arrived", b[0], n, len(b))
	}
	return Packet{Code: b[0], ID: b[1], Data: b[PacketHeaderLen:n]}, nil
}

// Len returns the length of the encoded packet.
func (p Packet) Len() int {
	return PacketHeaderLen + len(p.Data)
}

// Append appends the packet to b. It panics if the packet is longer than
// the 16-bit Length field can say; a PPP link's MRU is far shorter.
func (p Packet) Append(b []byte) []byte {
	b = append(b, p.Code, p.ID)
	b = binary.BigEndian.AppendUint16(b, checkLen(p.Len()))
	return append(b, p.Data...)
}

func checkLen(n int) uint16 {
	if n > 0xffff {
		panic(fmt.Sprintf("ppp: a packet of %d octets is longer than its Length field can say", n))
	}
	return uint16(n)
}

// LCP Configuration Option types (RFC 1661 §6).
const (
	OptMRU       = 1 // Maximum-Receive-Unit, RFC 1661 §6.1
	OptACCM      = 2 // Async-Control-Character-Map, RFC 1662 §7.1
	OptAuthProto = 3 // Authentication-Protocol, RFC 1661 §6.2
	OptMagic     = 5 // Magic-Number, RFC 1661 §6.4
	OptPFC       = 7 // Protocol-Field-Compression, RFC 1661 §6.5
	OptACFC      = 8 // Address-and-Control-Field-Compression, RFC 1661 §6.6
)

// IPCP Configuration Option types.
const (
	OptIPAddress    = 3   // IP-Address, RFC 1332 §3.3
	OptPrimaryDNS   = 129 // Primary-DNS-Server-Address, RFC 1877 §1.1
	OptSecondaryDNS = 131 // Secondary-DNS-Server-Address, RFC 1877 §1.3
)

// OptionHeaderLen is the length of an option's Type and Length fields.
const OptionHeaderLen = 2

// MaxOptionValue is the longest Value an option can carry: its Length is
// one octet and counts the header.
const MaxOptionValue = 0xff - OptionHeaderLen

// MaxOptions bounds the number of options ParseOptions accepts in one
// packet. A Configure-Request carries a handful.
const MaxOptions = 64

// Option is a Configuration Option (RFC 1661 §6): its Type and its Value,
// without the Type and Length octets.
type Option struct {
	Type  uint8
	Value []byte
}

// ParseOptions parses the options of a Configure packet, its Data. The
// values are slices of b. The options must fill b exactly.
func ParseOptions(b []byte) ([]Option, error) {
	var opts []Option
	for len(b) > 0 {
		if len(opts) == MaxOptions {
			return nil, malformed("more than %d options", MaxOptions)
		}
		if len(b) < OptionHeaderLen {
			return nil, malformed("option %d cut short: %d octet left", len(opts)+1, len(b))
		}
		n := int(b[1])
		// RFC 1661 §6: Length counts the Type, Length and Data fields.
		if n < OptionHeaderLen || n > len(b) {
			return nil, malformed("option %d (type %d) of %d octets, %d left", len(opts)+1, b[0], n, len(b))
		}
		opts = append(opts, Option{Type: b[0], Value: b[OptionHeaderLen:n]})
		b = b[n:]
	}
	return opts, nil
}

// AppendOptions appends opts to b. It panics if a Value is longer than
// MaxOptionValue.
func AppendOptions(b []byte, opts []Option) []byte {
	for _, o := range opts {
		if len(o.Value) > MaxOptionValue {
			panic(fmt.Sprintf("ppp: option type %d with a value of %d octets (at most %d)", o.Type, len(o.Value), MaxOptionValue))
		}
		b = append(b, o.Type, byte(OptionHeaderLen+len(o.Value)))
		b = append(b, o.Value...)
	}
	return b
}

// Uint16 returns the value of a two-octet option: the MRU (RFC 1661
// §6.1), or an Authentication-Protocol without data such as EAP (§6.2).
func (o Option) Uint16() (uint16, error) {
	if len(o.Value) != 2 {
		return 0, malformed("option type %d has a value of %d octets, want 2", o.Type, len(o.Value))
	}
	return binary.BigEndian.Uint16(o.Value), nil
}

// Uint32 returns the value of a four-octet option: the ACCM (RFC 1662
// §7.1) or the Magic-Number (RFC 1661 §6.4).
func (o Option) Uint32() (uint32, error) {
	if len(o.Value) != 4 {
		return 0, malformed("option type %d has a value of %d octets, want 4", o.Type, len(o.Value))
	}
	return binary.BigEndian.Uint32(o.Value), nil
}

// Addr returns the IPv4 address of an IPCP address option (RFC 1332
// §3.3, RFC 1877 §1).
func (o Option) Addr() (netip.Addr, error) {
	if len(o.Value) != 4 {
		return netip.Addr{}, malformed("option type %d has a value of %d octets, want an IPv4 address", o.Type, len(o.Value))
	}
	return netip.AddrFrom4([4]byte(o.Value)), nil
}
