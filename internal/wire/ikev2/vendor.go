package ikev2

// VendorID is the Vendor ID payload (RFC 7296 section 3.12).
type VendorID struct {
	Generic
	// Data identifies the vendor; it aliases the parsed input.
	Data []byte
}

// Type returns PayloadVendorID.
func (v *VendorID) Type() PayloadType { return PayloadVendorID }

// Len returns the encoded length.
func (v *VendorID) Len() int { return GenericHeaderLen + len(v.Data) }

// Append appends the payload to b.
func (v *VendorID) Append(b []byte) ([]byte, error) {
	b, err := v.Generic.append(b, PayloadNone, v.Len())
	if err != nil {
		return b, err
	}
	return append(b, v.Data...), nil
}
