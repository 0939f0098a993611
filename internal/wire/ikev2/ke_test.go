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

// TestKeyExchangeLen covers the Key Exchange Data lengths of RFC 7296
// section 3.4 (MODP), RFC 5903 section 7 (ECP) and RFC 8031 section 2.
func TestKeyExchangeLen(t *testing.T) {
	tests := []struct {
		name  string
		group DHGroup
		want  int
	}{
		{"3.4 MODP 1024 prime length", DHInsecureMODP1024, 128},
		{"3.4 MODP 2048 prime length", DHMODP2048, 256},
		{"3.4 MODP 2048 with 256-bit subgroup", DHInsecureMODP2048S256, 256},
		{"RFC 5903 7 ECP 256 x and y", DHECP256, 64},
		{"RFC 5903 7 ECP 384 x and y", DHECP384, 96},
		{"RFC 8031 2 Curve25519", DHCurve25519, 32},
		{"3.3.2 NONE", DHNone, 0},
		{"unknown group", DHGroup(99), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.group.KeyExchangeLen(); got != tc.want {
				t.Errorf("%v.KeyExchangeLen() = %d, want %d", tc.group, got, tc.want)
			}
		})
	}
}
