package ikev2

import "encoding/binary"

// Encrypted is the Encrypted and Authenticated payload, SK (RFC 7296
// section 3.14). The codec keeps its body opaque; the crypto layer splits it
// into IV, ciphertext and ICV, and after decryption the inner payloads are
// decoded with ParsePayloads(NextPayload, plaintext).
type Encrypted struct {
	Generic
	// NextPayload is the Next Payload field of the SK generic header:
	// the type of the first payload inside.
	NextPayload PayloadType
	// Body is IV || ciphertext || ICV; it aliases the parsed input.
	Body []byte
}

// Type returns PayloadSK.
func (e *Encrypted) Type() PayloadType { return PayloadSK }

// Len returns the encoded length.
func (e *Encrypted) Len() int { return GenericHeaderLen + len(e.Body) }

// Append appends the payload to b, with NextPayload in its generic header.
func (e *Encrypted) Append(b []byte) ([]byte, error) {
	b, err := e.Generic.append(b, e.NextPayload, e.Len())
	if err != nil {
		return b, err
	}
	return append(b, e.Body...), nil
}

// fragmentHeaderLen is the length of the SKF payload up to and including
// Total Fragments (RFC 7383 section 2.5).
const fragmentHeaderLen = GenericHeaderLen + 4

// EncryptedFragment is the Encrypted Fragment payload, SKF (RFC 7383
// section 2.5): one encrypted piece of a fragmented message.
type EncryptedFragment struct {
	Generic
	// NextPayload is the type of the first inner payload in fragment 1
	// and zero in the others.
	NextPayload PayloadType
	// Number counts from 1 to Total.
	Number, Total uint16
	// Body is IV || ciphertext || ICV; it aliases the parsed input.
	Body []byte
}

// Type returns PayloadSKF.
func (f *EncryptedFragment) Type() PayloadType { return PayloadSKF }

// Len returns the encoded length.
func (f *EncryptedFragment) Len() int { return fragmentHeaderLen + len(f.Body) }

// Append appends the payload to b, with NextPayload in its generic header.
func (f *EncryptedFragment) Append(b []byte) ([]byte, error) {
	if err := checkFragment(f.Number, f.Total); err != nil {
		return b, err
	}
	start := len(b)
	b, err := f.appendHeader(b, f.Len())
	if err != nil {
		return b[:start], err
	}
	return append(b, f.Body...), nil
}

// appendHeader appends the SKF payload up to Total Fragments for a payload
// of total length n.
func (f *EncryptedFragment) appendHeader(b []byte, n int) ([]byte, error) {
	b, err := f.Generic.append(b, f.NextPayload, n)
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint16(b, f.Number)
	return binary.BigEndian.AppendUint16(b, f.Total), nil
}

func parseEncryptedFragment(g Generic, next PayloadType, body []byte) (*EncryptedFragment, error) {
	if len(body) < fragmentHeaderLen-GenericHeaderLen {
		return nil, malformed("%d octets, need 4 for fragment number and total", len(body))
	}
	f := &EncryptedFragment{
		Generic:     g,
		NextPayload: next,
		Number:      binary.BigEndian.Uint16(body[0:2]),
		Total:       binary.BigEndian.Uint16(body[2:4]),
		Body:        sub(body, 4, len(body)),
	}
	if err := checkFragment(f.Number, f.Total); err != nil {
		return nil, err
	}
	return f, nil
}

// checkFragment checks the fragment numbering rules of RFC 7383 section 2.5.
func checkFragment(number, total uint16) error {
	// RFC 7383 §2.5: neither field may be zero and Number MUST NOT
	// exceed Total.
	if number == 0 || total == 0 || number > total {
		return malformed("fragment %d of %d", number, total)
	}
	return nil
}
