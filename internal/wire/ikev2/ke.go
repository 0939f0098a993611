package ikev2

import "encoding/binary"

// KE is the Key Exchange payload (RFC 7296 section 3.4).
type KE struct {
	Generic
	Group DHGroup
	// Data is the public value; it aliases the parsed input.
	Data []byte
	// Reserved holds the two reserved octets, kept so that re-encoding
	// is exact; zero when sending.
	Reserved uint16
}

// Type returns PayloadKE.
func (k *KE) Type() PayloadType { return PayloadKE }

// Len returns the encoded length.
func (k *KE) Len() int { return GenericHeaderLen + 4 + len(k.Data) }

// Append appends the payload to b.
func (k *KE) Append(b []byte) ([]byte, error) {
	b, err := k.Generic.append(b, PayloadNone, k.Len())
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint16(b, uint16(k.Group))
	b = binary.BigEndian.AppendUint16(b, k.Reserved)
	return append(b, k.Data...), nil
}

func parseKE(g Generic, body []byte) (*KE, error) {
	if len(body) < 4 {
		return nil, malformed("%d octets, need 4", len(body))
	}
	return &KE{
		Generic:  g,
		Group:    DHGroup(binary.BigEndian.Uint16(body[0:2])),
		Reserved: binary.BigEndian.Uint16(body[2:4]),
		Data:     sub(body, 4, len(body)),
	}, nil
}

// KeyExchangeLen returns the length of the Key Exchange Data of a KE
// payload for group g: the length of the prime for a MODP group (RFC 7296
// section 3.4), the two coordinates x | y for an ECP group (RFC 5903
// section 7) and 32 octets for Curve25519 (RFC 8031 section 2). It returns
// zero for DHNone and for groups this package does not name.
func (g DHGroup) KeyExchangeLen() int {
	switch g {
	case DHInsecureMODP1024:
		return 128
	case DHMODP2048, DHInsecureMODP2048S256:
		return 256
	case DHECP256:
		return 64
	case DHECP384:
		return 96
	case DHCurve25519:
		return 32
	}
	return 0
}
