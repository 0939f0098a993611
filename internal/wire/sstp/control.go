package sstp

import (
	"encoding/binary"
	"fmt"
)

// Message types of control packets ([MS-SSTP] §2.2.2).
const (
	MsgCallConnectRequest = 0x0001 // §2.2.9
	MsgCallConnectAck     = 0x0002 // §2.2.10
	MsgCallConnectNak     = 0x0003 // §2.2.12
	MsgCallConnected      = 0x0004 // §2.2.11
	MsgCallAbort          = 0x0005 // §2.2.13
	MsgCallDisconnect     = 0x0006 // §2.2.14
	MsgCallDisconnectAck  = 0x0007 // §2.2.15
	MsgEchoRequest        = 0x0008 // §2.2.15
	MsgEchoResponse       = 0x0009 // §2.2.15
)

// Attribute IDs ([MS-SSTP] §2.2.4); AttribNoError appears only as the
// AttribID of a Status Info attribute (§2.2.8).
const (
	AttribNoError                = 0x00
	AttribEncapsulatedProtocolID = 0x01 // §2.2.5
	AttribStatusInfo             = 0x02 // §2.2.8
	AttribCryptoBinding          = 0x03 // §2.2.7
	AttribCryptoBindingReq       = 0x04 // §2.2.6
)

// AttrHeaderLen is the length of an attribute's header (§2.2.4).
const AttrHeaderLen = 4

// ControlHeaderLen is the length of the Message Type and Num Attributes
// fields that start a control packet's body (§2.2.2).
const ControlHeaderLen = 4

// MaxAttrs bounds the number of attributes ParseControl accepts in one
// message. SSTP 1.0 sends one, or one Status Info per refused attribute in
// a Call Connect NAK.
const MaxAttrs = 64

// Control is the body of a control packet (§2.2.2).
type Control struct {
	// Type is one of the Msg… values. ParseControl accepts any value:
	// an unknown type is for the caller to abort with
	// StatusInvalidFrameReceived.
	Type  uint16
	Attrs []Attr
}

// Attr is one attribute (§2.2.4): its ID and its value, without the
// 4-byte attribute header. ParseControl keeps attributes of unknown IDs,
// for the caller to answer with StatusUnrecognizedAttribute.
type Attr struct {
	ID    uint8
	Value []byte
}

// Find returns the first attribute with the given ID.
func (c Control) Find(id uint8) (Attr, bool) {
	for _, a := range c.Attrs {
		if a.ID == id {
			return a, true
		}
	}
	return Attr{}, false
}

// ParseControl parses the body of a control packet, as ReadPacket returns
// it. The attribute values are slices of body. The attributes must fill
// the body exactly; the reserved fields are ignored.
func ParseControl(body []byte) (Control, error) {
	if len(body) < ControlHeaderLen {
		return Control{}, errorf(AttribNoError, StatusInvalidFrameReceived, "control message of %d bytes, shorter than its %d-byte header", len(body), ControlHeaderLen)
	}
	c := Control{Type: binary.BigEndian.Uint16(body)}
	num := int(binary.BigEndian.Uint16(body[2:]))
	rest := body[ControlHeaderLen:]
	if num > MaxAttrs {
		return Control{}, errorf(AttribNoError, StatusInvalidFrameReceived, "message type %d says %d attributes, more than the %d accepted", c.Type, num, MaxAttrs)
	}
	if num*AttrHeaderLen > len(rest) {
		return Control{}, errorf(AttribNoError, StatusInvalidFrameReceived, "message type %d says %d attributes, %d bytes cannot hold them", c.Type, num, len(rest))
	}
	if num > 0 {
		c.Attrs = make([]Attr, 0, num)
	}
	for i := range num {
		if len(rest) < AttrHeaderLen {
			return Control{}, errorf(AttribNoError, StatusInvalidFrameReceived, "attribute %d of %d is cut short: %d bytes left", i+1, num, len(rest))
		}
		id := rest[1]
		n := int(binary.BigEndian.Uint16(rest[2:]) & lengthMask)
		// §2.2.4: Length MUST count the whole attribute, its 4-byte header included.
		if n < AttrHeaderLen || n > len(rest) {
			return Control{}, errorf(id, StatusInvalidAttribValueLength, "attribute %d (ID %d) of %d bytes, %d left in the message", i+1, id, n, len(rest))
		}
		c.Attrs = append(c.Attrs, Attr{ID: id, Value: rest[AttrHeaderLen:n]})
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return Control{}, errorf(AttribNoError, StatusInvalidFrameReceived, "%d bytes after the last of %d attributes", len(rest), num)
	}
	return c, nil
}

// Len returns the length of the control packet that AppendControl writes
// for c, header included.
func (c Control) Len() int {
	n := HeaderLen + ControlHeaderLen
	for _, a := range c.Attrs {
		n += AttrHeaderLen + len(a.Value)
	}
	return n
}

// AppendControl appends a control packet (§2.2.2) carrying c to b, with
// every reserved field zero. It panics if the packet would be longer than
// MaxPacket; the messages of SSTP 1.0 are at most a few hundred bytes.
func AppendControl(b []byte, c Control) []byte {
	n := c.Len()
	if n > MaxPacket {
		panic(fmt.Sprintf("sstp: control message type %d of %d bytes does not fit in a packet (at most %d)", c.Type, n, MaxPacket))
	}
	b = appendHeader(b, true, n-HeaderLen)
	b = binary.BigEndian.AppendUint16(b, c.Type)
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.Attrs)))
	for _, a := range c.Attrs {
		b = append(b, 0, a.ID)
		b = binary.BigEndian.AppendUint16(b, uint16(AttrHeaderLen+len(a.Value)))
		b = append(b, a.Value...)
	}
	return b
}
