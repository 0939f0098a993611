package ikev2

import "testing"

// TestKEPayload covers the Key Exchange payload of RFC 7296 section 3.4.
func TestKEPayload(t *testing.T) {
	tests := []struct {
		name string
		ke   *KE
		wire string
	}{
		{"3.4 curve25519 public value", &KE{Group: DHCurve25519, Data: h("0102030405")}, "0000000d 001f 0000 0102030405"},
		{"3.4 reserved octets kept", &KE{Group: DHMODP2048, Reserved: 0xbeef, Data: h("ff")}, "00000009 000e beef ff"},
		{"3.4 empty data", &KE{Group: DHECP256}, "00000008 0013 0000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.ke, h(tc.wire)) })
	}
	checkMalformed(t, PayloadKE, []malformedCase{
		{"3.4 body shorter than group and reserved", "00000007 001f00"},
	})
	checkAppendError(t, &KE{Data: make([]byte, 0xffff)})
}
