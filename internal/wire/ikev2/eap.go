package ikev2

// EAP is the Extensible Authentication payload (RFC 7296 section 3.16). The
// EAP message is kept raw for the EAP layer.
type EAP struct {
	Generic
	// Data is the EAP message, header included; it aliases the parsed
	// input.
	Data []byte
}

// Type returns PayloadEAP.
func (e *EAP) Type() PayloadType { return PayloadEAP }

// Len returns the encoded length.
func (e *EAP) Len() int { return GenericHeaderLen + len(e.Data) }

// Append appends the payload to b.
func (e *EAP) Append(b []byte) ([]byte, error) {
	b, err := e.Generic.append(b, PayloadNone, e.Len())
	if err != nil {
		return b, err
	}
	return append(b, e.Data...), nil
}
