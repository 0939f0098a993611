// Package openvpn encodes and decodes the packets of the OpenVPN protocol
// (version 2.4 and later, as OpenVPN's own source describes it in
// ssl_pkt.h, reliable.c and crypto.c): the TCP framing (a 2-byte length
// before each packet), the opcode and key id byte, control packets with
// their session ids, acknowledgements and packet id, ACKs, and the header
// of P_DATA_V2 data packets with their peer id. It also builds and reads
// the key method 2 messages exchanged inside TLS, and the strings of the
// control channel (PUSH_REQUEST, PUSH_REPLY).
//
// wrap.go wraps control packets with a static key (tls-auth, tls-crypt).
// The package holds no session state (a Wrapper holds a static key's
// halves and hashes), uses the standard library only, and checks every
// length against its container before slicing; nothing it parses
// allocates more than the packet it was given.
package openvpn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Opcodes (the upper 5 bits of a packet's first byte).
const (
	ControlHardResetClientV1 = 1
	ControlHardResetServerV1 = 2
	ControlSoftResetV1       = 3
	ControlV1                = 4
	AckV1                    = 5
	DataV1                   = 6
	ControlHardResetClientV2 = 7
	ControlHardResetServerV2 = 8
	DataV2                   = 9
	ControlHardResetClientV3 = 10
	ControlWKCV1             = 11
)

// Sizes.
const (
	SessionIDLen = 8
	// MaxAcks is the most packet ids one packet acknowledges
	// (RELIABLE_ACK_SIZE).
	MaxAcks = 8
	// DataV2HeaderLen is the opcode, key id and 3-byte peer id of a
	// P_DATA_V2 packet.
	DataV2HeaderLen = 4
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("openvpn: malformed packet")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// Opcode and KeyID split a packet's first byte.
func Opcode(b byte) int { return int(b >> 3) }
func KeyID(b byte) int  { return int(b & 7) }

// IsControl reports whether an opcode is one of the control channel's.
func IsControl(op int) bool {
	switch op {
	case ControlHardResetClientV1, ControlHardResetServerV1, ControlSoftResetV1, ControlV1, AckV1,
		ControlHardResetClientV2, ControlHardResetServerV2, ControlHardResetClientV3, ControlWKCV1:
		return true
	}
	return false
}

// Control is a control channel packet (or an ACK, which has no packet id
// or payload).
type Control struct {
	Opcode, KeyID int
	SessionID     uint64
	// Acks are the peer's packet ids this packet acknowledges, and
	// RemoteSessionID the peer's session, present with them.
	Acks            []uint32
	RemoteSessionID uint64
	PacketID        uint32
	Payload         []byte // aliases the parsed packet
}

// ParseControl parses a control packet or an ACK.
func ParseControl(b []byte) (Control, error) {
	if len(b) < 1+SessionIDLen+1 {
		return Control{}, malformed("control packet of %d bytes", len(b))
	}
	c := Control{Opcode: Opcode(b[0]), KeyID: KeyID(b[0])}
	if !IsControl(c.Opcode) {
		return Control{}, malformed("opcode %d is no control packet's", c.Opcode)
	}
	c.SessionID = binary.BigEndian.Uint64(b[1:9])
	n := int(b[9])
	b = b[10:]
	if n > MaxAcks {
		return Control{}, malformed("%d acknowledgements", n)
	}
	if n > 0 {
		if len(b) < 4*n+SessionIDLen {
			return Control{}, malformed("acknowledgements cut short")
		}
		c.Acks = make([]uint32, n)
		for i := range n {
			c.Acks[i] = binary.BigEndian.Uint32(b[4*i:])
		}
		c.RemoteSessionID = binary.BigEndian.Uint64(b[4*n:])
		b = b[4*n+SessionIDLen:]
	}
	if c.Opcode == AckV1 {
		if n == 0 {
			return Control{}, malformed("an ACK without acknowledgements")
		}
		return c, nil
	}
	if len(b) < 4 {
		return Control{}, malformed("control packet without its packet id")
	}
	c.PacketID = binary.BigEndian.Uint32(b)
	c.Payload = b[4:]
	return c, nil
}

// Append appends the packet (without TCP framing).
func (c Control) Append(b []byte) []byte {
	b = append(b, byte(c.Opcode<<3|c.KeyID&7))
	b = binary.BigEndian.AppendUint64(b, c.SessionID)
	b = append(b, byte(len(c.Acks)))
	for _, a := range c.Acks {
		b = binary.BigEndian.AppendUint32(b, a)
	}
	if len(c.Acks) > 0 {
		b = binary.BigEndian.AppendUint64(b, c.RemoteSessionID)
	}
	if c.Opcode == AckV1 {
		return b
	}
	b = binary.BigEndian.AppendUint32(b, c.PacketID)
	return append(b, c.Payload...)
}

// DataV2Header returns the first 4 bytes of a P_DATA_V2 packet: opcode,
// key id and the 24-bit peer id.
func DataV2Header(keyID int, peerID uint32) [4]byte {
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(DataV2<<3|keyID&7)<<24|peerID&0xffffff)
	return h
}

// ParseDataV2 splits a P_DATA_V2 packet into its key id, peer id and the
// rest (packet id, tag, ciphertext).
func ParseDataV2(b []byte) (keyID int, peerID uint32, rest []byte, err error) {
	if len(b) < DataV2HeaderLen || Opcode(b[0]) != DataV2 {
		return 0, 0, nil, malformed("no P_DATA_V2 packet")
	}
	return KeyID(b[0]), binary.BigEndian.Uint32(b) & 0xffffff, b[DataV2HeaderLen:], nil
}

// IV_PROTO bits of a client's peer info (ssl.h).
const (
	IVProtoDataV2       = 1 << 1
	IVProtoRequestPush  = 1 << 2
	IVProtoTLSKeyExport = 1 << 3
)

// KeyMethod2 is the first message inside TLS each way (ssl.c
// key_method_2_write): the client's with its pre-master secret, both
// with two randoms, the options string and, from the client, the peer
// info (IV_ lines).
type KeyMethod2 struct {
	PreMaster          [48]byte // the client's only
	Random1, Random2   [32]byte
	Options            string
	Username, Password string
	PeerInfo           string
}

// maxKMString bounds the strings of a key method 2 message: options are
// at most 512 bytes (TLS_OPTIONS_LEN), peer info a few kilobytes.
const maxKMString = 8 << 10

// ParseKeyMethod2 parses a key method 2 message, the client's when
// fromClient (with a pre-master secret).
func ParseKeyMethod2(b []byte, fromClient bool) (KeyMethod2, error) {
	var km KeyMethod2
	if len(b) < 5 || binary.BigEndian.Uint32(b) != 0 {
		return km, malformed("key method message of %d bytes without its 4 zero bytes", len(b))
	}
	if b[4]&0x0f != 2 {
		return km, malformed("key method %d; only key method 2 is served", b[4]&0x0f)
	}
	b = b[5:]
	if fromClient {
		if len(b) < 48 {
			return km, malformed("key method message cut short in its pre-master secret")
		}
		copy(km.PreMaster[:], b)
		b = b[48:]
	}
	if len(b) < 64 {
		return km, malformed("key method message cut short in its randoms")
	}
	copy(km.Random1[:], b)
	copy(km.Random2[:], b[32:])
	b = b[64:]
	var err error
	for _, f := range []*string{&km.Options, &km.Username, &km.Password, &km.PeerInfo} {
		if len(b) == 0 {
			break // the strings after the options are optional
		}
		if *f, b, err = readString(b); err != nil {
			return km, err
		}
	}
	return km, nil
}

// readString reads a string as OpenVPN writes it: a 2-byte length that
// counts the terminating NUL (0 for the empty string), the bytes, NUL.
func readString(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, malformed("string cut short in its length")
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n == 0 {
		return "", b, nil
	}
	if n > len(b) || n > maxKMString {
		return "", nil, malformed("string of %d bytes in %d", n, len(b))
	}
	s := b[:n]
	if s[n-1] != 0 {
		return "", nil, malformed("string without its terminating NUL")
	}
	return string(s[:n-1]), b[n:], nil
}

// appendString appends s as OpenVPN writes strings.
func appendString(b []byte, s string) []byte {
	if s == "" {
		return append(b, 0, 0)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)+1))
	return append(append(b, s...), 0)
}

// Append appends the message, the client's when fromClient.
func (km KeyMethod2) Append(b []byte, fromClient bool) []byte {
	b = append(b, 0, 0, 0, 0, 2)
	if fromClient {
		b = append(b, km.PreMaster[:]...)
	}
	b = append(b, km.Random1[:]...)
	b = append(b, km.Random2[:]...)
	for _, s := range []string{km.Options, km.Username, km.Password, km.PeerInfo} {
		b = appendString(b, s)
	}
	return b
}

// PeerInfoValue returns the value of key in a peer info string (lines of
// KEY=VALUE), or "".
func PeerInfoValue(info, key string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// PeerInfoProto returns the client's IV_PROTO bits.
func PeerInfoProto(info string) int {
	n, _ := strconv.Atoi(PeerInfoValue(info, "IV_PROTO"))
	return n
}

// PeerInfoHasCipher reports whether the client's IV_CIPHERS lists cipher.
func PeerInfoHasCipher(info, cipher string) bool {
	for c := range strings.SplitSeq(PeerInfoValue(info, "IV_CIPHERS"), ":") {
		if strings.EqualFold(c, cipher) {
			return true
		}
	}
	return false
}
