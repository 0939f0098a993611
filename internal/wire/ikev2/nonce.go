package ikev2

// Nonce data lengths allowed by RFC 7296 section 3.9.
const (
	MinNonceLen = 16
	MaxNonceLen = 256
)

// Nonce is the Nonce payload, Ni or Nr (RFC 7296 section 3.9).
type Nonce struct {
	Generic
	// Data is the nonce, 16 to 256 octets; it aliases the parsed input.
	Data []byte
}

// Type returns PayloadNonce.
func (n *Nonce) Type() PayloadType { return PayloadNonce }

// Len returns the encoded length.
func (n *Nonce) Len() int { return GenericHeaderLen + len(n.Data) }

// Append appends the payload to b.
func (n *Nonce) Append(b []byte) ([]byte, error) {
	if err := checkNonce(n.Data); err != nil {
		return b, err
	}
	b, err := n.Generic.append(b, PayloadNone, n.Len())
	if err != nil {
		return b, err
	}
	return append(b, n.Data...), nil
}

func checkNonce(data []byte) error {
	// §3.9: the size of the Nonce Data MUST be between 16 and 256
	// octets, inclusive.
	if len(data) < MinNonceLen || len(data) > MaxNonceLen {
		return malformed("nonce of %d octets, want %d..%d", len(data), MinNonceLen, MaxNonceLen)
	}
	return nil
}

func parseNonce(g Generic, body []byte) (*Nonce, error) {
	if err := checkNonce(body); err != nil {
		return nil, err
	}
	return &Nonce{Generic: g, Data: sub(body, 0, len(body))}, nil
}
