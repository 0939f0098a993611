package ikev2

import "testing"

// TestAuthPayload covers the Authentication payload of RFC 7296 section 3.8.
func TestAuthPayload(t *testing.T) {
	tests := []struct {
		name string
		auth *Auth
		wire string
	}{
		{"3.8 shared key MIC", &Auth{Method: AuthSharedKeyMIC, Data: h("deadbeef")}, "0000000c 02 000000 deadbeef"},
		{"3.8 digital signature, reserved kept", &Auth{Method: AuthDigitalSignature, Reserved: [3]byte{0, 1, 0}, Data: h("01")}, "00000009 0e 000100 01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.auth, h(tc.wire)) })
	}
	checkMalformed(t, PayloadAUTH, []malformedCase{{"3.8 body shorter than 4", "00000006 0200"}})
	checkAppendError(t, &Auth{Data: make([]byte, 0xffff)})
}
