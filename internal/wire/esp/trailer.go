package esp

// TrailerLen is the length of the fixed part of the ESP trailer: Pad Length
// and Next Header (RFC 4303 §2.5, §2.6).
const TrailerLen = 2

// Next Header values that a tunnel-mode SA carries (RFC 4303 §2.6).
const (
	NextHeaderIPv4 = 4
	NextHeaderIPv6 = 41
	// NextHeaderNone marks a dummy packet (RFC 4303 §2.6): the receiver
	// MUST discard it.
	NextHeaderNone = 59
)

// Trailer is the end of the decrypted ESP payload: PadLen padding bytes, the
// Pad Length itself and the Next Header (RFC 4303 §2.4–2.6).
type Trailer struct {
	PadLen     uint8
	NextHeader uint8
}

// Len returns the encoded length of t: the padding plus TrailerLen.
func (t Trailer) Len() int { return int(t.PadLen) + TrailerLen }

// Append appends the padding, the pad length and the next header to b. The
// padding is the default of RFC 4303 §2.4: the bytes 1, 2, 3, ... Unlike the
// other codecs it returns no error: every Trailer value is valid.
func (t Trailer) Append(b []byte) []byte {
	// RFC 4303 §2.4: the first padding byte is 1, then monotonically increasing.
	for i := 1; i <= int(t.PadLen); i++ {
		b = append(b, byte(i))
	}
	return append(b, t.PadLen, t.NextHeader)
}

// ParseTrailer parses the trailer at the end of b, a decrypted ESP payload
// (payload data, padding, pad length, next header). It returns the trailer
// and its length n; the payload data is b[:len(b)-n].
//
// RFC 4303 §2.4 says a receiver SHOULD inspect the padding when the default
// padding is used; ParseTrailer does, and rejects anything but 1, 2, 3, ...
func ParseTrailer(b []byte) (Trailer, int, error) {
	if len(b) < TrailerLen {
		return Trailer{}, 0, ErrShort
	}
	t := Trailer{PadLen: b[len(b)-2], NextHeader: b[len(b)-1]}
	n := t.Len()
	// RFC 4303 §2.5: the pad length counts bytes immediately preceding it.
	if n > len(b) {
		return Trailer{}, 0, ErrPadLen
	}
	pad := b[len(b)-n : len(b)-TrailerLen]
	for i, v := range pad {
		if v != byte(i+1) {
			return Trailer{}, 0, ErrPadding
		}
	}
	return t, n, nil
}

// Padding returns how many padding bytes follow n bytes of payload data so
// that the payload, the padding and the fixed trailer end on a multiple of
// align (RFC 4303 §2.4: the block size of the cipher, and at least 4).
// align must be positive.
func Padding(n, align int) int {
	return (align - (n+TrailerLen)%align) % align
}
