package ikev2

import "testing"

// TestEncryptedPayload covers the SK payload of RFC 7296 section 3.14.
func TestEncryptedPayload(t *testing.T) {
	checkPayload(t, &Encrypted{NextPayload: PayloadIDi, Body: h("0011223344")}, h("23000009 0011223344"))
	checkPayload(t, &Encrypted{}, h("00000004"))
	checkAppendError(t, &Encrypted{Body: make([]byte, 0xfffc)})
}

// TestEncryptedFragmentPayload covers the SKF payload of RFC 7383 section
// 2.5.
func TestEncryptedFragmentPayload(t *testing.T) {
	checkPayload(t, &EncryptedFragment{NextPayload: PayloadIDi, Number: 1, Total: 3, Body: h("aabb")},
		h("2300000a 0001 0003 aabb"))
	checkPayload(t, &EncryptedFragment{Number: 3, Total: 3, Body: h("cc")}, h("00000009 0003 0003 cc"))
	checkMalformed(t, PayloadSKF, []malformedCase{
		{"2.5 body shorter than number and total", "00000007 000100"},
		{"2.5 fragment number zero", "00000008 0000 0001"},
		{"2.5 total fragments zero", "00000008 0001 0000"},
		{"2.5 fragment number beyond total", "00000008 0003 0002"},
	})
	checkAppendError(t, &EncryptedFragment{Number: 2, Total: 1})
	checkAppendError(t, &EncryptedFragment{Number: 1, Total: 1, Body: make([]byte, 0xfff8)})
}
