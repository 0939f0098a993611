package ikev2

import "testing"

// TestEAPPayload covers the EAP payload of RFC 7296 section 3.16.
func TestEAPPayload(t *testing.T) {
	// An EAP-Request/Identity (RFC 3748): code 1, identifier 7, length 5.
	checkPayload(t, &EAP{Data: h("0107000501")}, h("00000009 0107000501"))
	checkAppendError(t, &EAP{Data: make([]byte, 0xfffc)})
}
