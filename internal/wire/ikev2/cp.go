package ikev2

import (
	"encoding/binary"
	"strconv"
)

// CFGType is the CFG Type of a Configuration payload (RFC 7296 section
// 3.15).
type CFGType uint8

// Configuration payload types (RFC 7296 section 3.15).
const (
	CFGRequest CFGType = 1
	CFGReply   CFGType = 2
	CFGSet     CFGType = 3
	CFGAck     CFGType = 4
)

func (t CFGType) String() string {
	switch t {
	case CFGRequest:
		return "CFG_REQUEST"
	case CFGReply:
		return "CFG_REPLY"
	case CFGSet:
		return "CFG_SET"
	case CFGAck:
		return "CFG_ACK"
	}
	return "CFGType(" + strconv.Itoa(int(t)) + ")"
}

// CPAttributeType is the type of a configuration attribute (RFC 7296
// section 3.15.1), without the reserved bit.
type CPAttributeType uint16

// Configuration attribute types (RFC 7296 section 3.15.1).
const (
	InternalIP4Address  CPAttributeType = 1  // 0 or 4 octets
	InternalIP4Netmask  CPAttributeType = 2  // 0 or 4 octets
	InternalIP4DNS      CPAttributeType = 3  // 0 or 4 octets
	InternalIP4NBNS     CPAttributeType = 4  // 0 or 4 octets
	InternalIP4DHCP     CPAttributeType = 6  // 0 or 4 octets
	ApplicationVersion  CPAttributeType = 7  // 0 or more octets
	InternalIP6Address  CPAttributeType = 8  // 0 or 17 octets
	InternalIP6DNS      CPAttributeType = 10 // 0 or 16 octets
	InternalIP6DHCP     CPAttributeType = 12 // 0 or 16 octets
	InternalIP4Subnet   CPAttributeType = 13 // 0 or 8 octets
	SupportedAttributes CPAttributeType = 14 // multiple of 2
	InternalIP6Subnet   CPAttributeType = 15 // 17 octets
)

func (t CPAttributeType) String() string {
	switch t {
	case InternalIP4Address:
		return "INTERNAL_IP4_ADDRESS"
	case InternalIP4Netmask:
		return "INTERNAL_IP4_NETMASK"
	case InternalIP4DNS:
		return "INTERNAL_IP4_DNS"
	case InternalIP4NBNS:
		return "INTERNAL_IP4_NBNS"
	case InternalIP4DHCP:
		return "INTERNAL_IP4_DHCP"
	case ApplicationVersion:
		return "APPLICATION_VERSION"
	case InternalIP6Address:
		return "INTERNAL_IP6_ADDRESS"
	case InternalIP6DNS:
		return "INTERNAL_IP6_DNS"
	case InternalIP6DHCP:
		return "INTERNAL_IP6_DHCP"
	case InternalIP4Subnet:
		return "INTERNAL_IP4_SUBNET"
	case SupportedAttributes:
		return "SUPPORTED_ATTRIBUTES"
	case InternalIP6Subnet:
		return "INTERNAL_IP6_SUBNET"
	}
	return "CPAttributeType(" + strconv.Itoa(int(t)) + ")"
}

// CPAttribute is a configuration attribute (RFC 7296 section 3.15.1). The
// value is kept raw: its layout depends on the type, and an empty value in a
// CFG_REQUEST asks for any.
type CPAttribute struct {
	Type  CPAttributeType // 15 bits
	Value []byte          // aliases the parsed input
	// Reserved is the reserved high bit, kept so that re-encoding is
	// exact; false when sending.
	Reserved bool
}

// Len returns the encoded length.
func (a *CPAttribute) Len() int { return 4 + len(a.Value) }

// Append appends the attribute to b.
func (a *CPAttribute) Append(b []byte) ([]byte, error) {
	if a.Type > 0x7fff {
		return b, malformed("configuration attribute type %d does not fit in 15 bits", a.Type)
	}
	if len(a.Value) > 0xffff {
		return b, malformed("configuration attribute of %d octets", len(a.Value))
	}
	t := uint16(a.Type)
	if a.Reserved {
		t |= 0x8000
	}
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Value)))
	return append(b, a.Value...), nil
}

// parseCPAttribute decodes the attribute at the start of b.
func parseCPAttribute(b []byte) (CPAttribute, int, error) {
	if len(b) < 4 {
		return CPAttribute{}, 0, malformed("configuration attribute: %d octets, need 4", len(b))
	}
	t := binary.BigEndian.Uint16(b[0:2])
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n > len(b)-4 {
		return CPAttribute{}, 0, malformed("configuration attribute: length %d, %d octets left", n, len(b)-4)
	}
	return CPAttribute{
		Type:     CPAttributeType(t & 0x7fff),
		Reserved: t&0x8000 != 0,
		Value:    sub(b, 4, 4+n),
	}, 4 + n, nil
}

// CP is the Configuration payload (RFC 7296 section 3.15).
type CP struct {
	Generic
	CFGType    CFGType
	Attributes []CPAttribute
	// Reserved holds the three reserved octets, kept so that re-encoding
	// is exact; zero when sending.
	Reserved [3]byte
}

// Type returns PayloadCP.
func (c *CP) Type() PayloadType { return PayloadCP }

// Len returns the encoded length.
func (c *CP) Len() int {
	n := GenericHeaderLen + 4
	for i := range c.Attributes {
		n += c.Attributes[i].Len()
	}
	return n
}

// Append appends the payload to b.
func (c *CP) Append(b []byte) ([]byte, error) {
	start := len(b)
	b, err := c.Generic.append(b, PayloadNone, c.Len())
	if err != nil {
		return b, err
	}
	b = append(b, byte(c.CFGType), c.Reserved[0], c.Reserved[1], c.Reserved[2])
	for i := range c.Attributes {
		if b, err = c.Attributes[i].Append(b); err != nil {
			return b[:start], err
		}
	}
	return b, nil
}

func parseCP(g Generic, body []byte) (*CP, error) {
	if len(body) < 4 {
		return nil, malformed("%d octets, need 4", len(body))
	}
	c := &CP{
		Generic:  g,
		CFGType:  CFGType(body[0]),
		Reserved: [3]byte{body[1], body[2], body[3]},
	}
	for off := 4; off < len(body); {
		a, n, err := parseCPAttribute(body[off:])
		if err != nil {
			return nil, err
		}
		c.Attributes = append(c.Attributes, a)
		off += n
	}
	return c, nil
}
