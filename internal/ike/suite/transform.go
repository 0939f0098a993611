package suite

import (
	"strconv"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// validKeyLen reports whether bits is a supported key length for e.
func validKeyLen(e ikev2.EncrID, bits int) bool {
	switch e {
	case ikev2.EncrAESCBC, ikev2.EncrAESGCM16:
		return bits == 128 || bits == 192 || bits == 256
	}
	return false
}

// Transform is one transform of a proposal: its type, its identifier and the
// value of its Key Length attribute (RFC 7296 §3.3.5). Unlike
// ikev2.Transform it is comparable, which proposal matching relies on.
type Transform struct {
	Type ikev2.TransformType
	// ID is an ikev2.EncrID, PRFID, IntegID, DHGroup or ESNID depending on
	// Type.
	ID uint16
	// KeyLen is the key length attribute in bits; zero when the transform
	// carries no attribute.
	KeyLen uint16
}

// String returns the transform in the form "ENCR_AES_CBC/256".
func (t Transform) String() string {
	var s string
	switch t.Type {
	case ikev2.TransformENCR:
		s = ikev2.EncrID(t.ID).String()
	case ikev2.TransformPRF:
		s = ikev2.PRFID(t.ID).String()
	case ikev2.TransformINTEG:
		s = ikev2.IntegID(t.ID).String()
	case ikev2.TransformDH:
		s = ikev2.DHGroup(t.ID).String()
	case ikev2.TransformESN:
		s = "ESN(" + strconv.Itoa(int(t.ID)) + ")"
	default:
		s = t.Type.String() + ":" + strconv.Itoa(int(t.ID))
	}
	if t.KeyLen != 0 {
		s += "/" + strconv.Itoa(int(t.KeyLen))
	}
	return s
}

// Wire returns t as a transform substructure to send, with a Key Length
// attribute when KeyLen is set (RFC 7296 §3.3.5).
func (t Transform) Wire() ikev2.Transform {
	w := ikev2.Transform{Type: t.Type, ID: t.ID}
	if t.KeyLen != 0 {
		w.Attributes = []ikev2.Attribute{{Type: ikev2.AttributeKeyLength, Value: t.KeyLen}}
	}
	return w
}

// FromWire returns a received transform substructure as a Transform. It
// reports false for a transform with an attribute other than a single Key
// Length in TV format: RFC 7296 §3.3.6 has the responder reject a transform
// whose attributes it does not recognize.
func FromWire(w ikev2.Transform) (Transform, bool) {
	t := Transform{Type: w.Type, ID: w.ID}
	switch len(w.Attributes) {
	case 0:
		return t, true
	case 1:
		n, ok := w.KeyLength()
		if !ok || n == 0 {
			return Transform{}, false
		}
		t.KeyLen = n
		return t, true
	}
	return Transform{}, false
}
