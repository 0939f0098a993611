package ikev2

import (
	"testing"
)

// TestSAPayload covers the SA payload of RFC 7296 section 3.3: proposals
// (3.3.1), transforms (3.3.2) and attributes (3.3.5).
func TestSAPayload(t *testing.T) {
	tests := []struct {
		name string
		sa   *SA
		wire string
	}{
		{
			name: "3.3 IKE proposal AES-GCM-256 with key length TV attribute",
			sa: &SA{Proposals: []Proposal{{
				Number: 1, Protocol: ProtocolIKE,
				Transforms: []Transform{
					{Type: TransformENCR, ID: uint16(EncrAESGCM16), Attributes: []Attribute{{Type: AttributeKeyLength, Value: 256}}},
					{Type: TransformPRF, ID: uint16(PRFHMACSHA256)},
					{Type: TransformDH, ID: uint16(DHCurve25519)},
				},
			}}},
			wire: "00000028" +
				"00 00 0024 01 01 00 03" +
				"03 00 000c 01 00 0014 800e0100" +
				"03 00 0008 02 00 0005" +
				"00 00 0008 04 00 001f",
		},
		{
			name: "3.3.1 two ESP proposals with 4-octet SPIs, last substruc 2 then 0",
			sa: &SA{Proposals: []Proposal{
				{
					Number: 1, Protocol: ProtocolESP, SPI: h("c0ffee01"),
					Transforms: []Transform{
						{Type: TransformENCR, ID: uint16(EncrAESGCM16), Attributes: []Attribute{{Type: AttributeKeyLength, Value: 128}}},
						{Type: TransformESN, ID: uint16(NoESN)},
					},
				},
				{
					Number: 2, Protocol: ProtocolESP, SPI: h("c0ffee01"),
					Transforms: []Transform{
						{Type: TransformENCR, ID: uint16(EncrAESCBC), Attributes: []Attribute{{Type: AttributeKeyLength, Value: 256}}},
						{Type: TransformINTEG, ID: uint16(IntegHMACSHA256_128)},
						{Type: TransformESN, ID: uint16(NoESN)},
					},
				},
			}},
			wire: "0000004c" +
				"02 00 0020 01 03 04 02 c0ffee01" +
				"03 00 000c 01 00 0014 800e0080" +
				"00 00 0008 05 00 0000" +
				"00 00 0028 02 03 04 03 c0ffee01" +
				"03 00 000c 01 00 000c 800e0100" +
				"03 00 0008 03 00 000c" +
				"00 00 0008 05 00 0000",
		},
		{
			name: "3.3.5 TLV attribute and proposal without transforms",
			sa: &SA{Proposals: []Proposal{
				{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
					{Type: TransformENCR, ID: 99, Attributes: []Attribute{{Type: 17, TLV: true, Data: h("0102")}}},
				}},
				{Number: 2, Protocol: ProtocolIKE},
			}},
			wire: "00000022" +
				"02 00 0016 01 01 00 01" +
				"00 00 000e 01 00 0063 0011 0002 0102" +
				"00 00 0008 02 01 00 00",
		},
		{
			name: "3 reserved octets and bits kept",
			sa: &SA{
				Generic: Generic{Critical: true, Reserved: 0x7f},
				Proposals: []Proposal{{Number: 1, Protocol: ProtocolIKE, Reserved: 0xee,
					Transforms: []Transform{{Type: TransformDH, ID: 14, Reserved: [2]byte{0xdd, 0xcc}}}}},
			},
			wire: "00ff0014" +
				"00 ee 0010 01 01 00 01" +
				"00 dd 0008 04 cc 000e",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.sa, h(tc.wire)) })
	}
}

func TestSAPayloadMalformed(t *testing.T) {
	checkMalformed(t, PayloadSA, []malformedCase{
		{"3.3 no proposals", "00000004"},
		{"3.3.1 proposal shorter than its header", "0000000b 00 00 0007 01 01 00"},
		{"3.3.1 proposal length below 8", "0000000c 00 00 0007 01 01 00 00"},
		{"3.3.1 proposal length beyond the payload", "0000000c 00 00 0009 01 01 00 00"},
		{"3.3.1 SPI beyond the proposal", "0000000c 00 00 0008 01 03 04 00"},
		{"3.3.1 last proposal marked more", "0000000c 02 00 0008 01 01 00 00"},
		{"3.3.1 proposal marked last with more following", "00000014 00 00 0008 01 01 00 00 00 00 0008 02 01 00 00"},
		{"3.3.1 bad last substruc value", "0000000c 01 00 0008 01 01 00 00"},
		{"3.3.1 fewer transforms than counted", "00000014 00 00 0010 01 01 00 02 00 00 0008 04 00 000e"},
		{"3.3.1 more transforms than counted", "0000001c 00 00 0018 01 01 00 01 00 00 0008 04 00 000e 00 00 0008 04 00 000e"},
		{"3.3.2 transform length below 8", "00000014 00 00 0010 01 01 00 01 00 00 0007 04 00 000e"},
		{"3.3.2 transform shorter than its header", "00000013 00 00 000f 01 01 00 01 00 00 0007 04 00 00"},
		{"3.3.2 transform beyond the proposal", "00000014 00 00 0010 01 01 00 01 00 00 0009 04 00 000e"},
		{"3.3.2 last transform marked more", "00000014 00 00 0010 01 01 00 01 03 00 0008 04 00 000e"},
		{"3.3.2 earlier transform marked last", "0000001c 00 00 0018 01 01 00 02 00 00 0008 04 00 000e 00 00 0008 04 00 000e"},
		{"3.3.5 truncated attribute", "00000016 00 00 0012 01 01 00 01 00 00 000a 01 00 000c 800e"},
		{"3.3.5 TLV length beyond the transform", "00000018 00 00 0014 01 01 00 01 00 00 000c 01 00 000c 000e 0001"},
	})
}

func TestSAAppendErrors(t *testing.T) {
	long := make([]byte, 256)
	many := make([]Transform, 256)
	for _, sa := range []*SA{
		{},
		{Proposals: []Proposal{{SPI: long}}},
		{Proposals: []Proposal{{Transforms: many}}},
		{Proposals: []Proposal{{Transforms: []Transform{{Attributes: []Attribute{{Type: 0x8000}}}}}}},
		{Proposals: []Proposal{{Transforms: []Transform{{Attributes: []Attribute{{TLV: true, Data: make([]byte, 0x10000)}}}}}}},
		{Generic: Generic{Reserved: 0x80}, Proposals: []Proposal{{}}},
	} {
		checkAppendError(t, sa)
	}
}

func TestTransformString(t *testing.T) {
	tests := []struct {
		tr   Transform
		want string
	}{
		{Transform{Type: TransformENCR, ID: uint16(EncrAESGCM16), Attributes: []Attribute{{Type: AttributeKeyLength, Value: 256}}}, "ENCR_AES_GCM_16_256"},
		{Transform{Type: TransformENCR, ID: uint16(EncrAESCBC), Attributes: []Attribute{{Type: AttributeKeyLength, TLV: true, Data: h("0080")}}}, "ENCR_AES_CBC"},
		{Transform{Type: TransformPRF, ID: uint16(PRFHMACSHA384)}, "PRF_HMAC_SHA2_384"},
		{Transform{Type: TransformINTEG, ID: uint16(IntegHMACSHA512_256)}, "AUTH_HMAC_SHA2_512_256"},
		{Transform{Type: TransformDH, ID: uint16(DHInsecureMODP1024)}, "MODP_1024"},
		{Transform{Type: TransformESN, ID: uint16(WithESN)}, "ESN"},
		{Transform{Type: 9, ID: 3}, "TransformType(9)(3)"},
	}
	for _, tc := range tests {
		if got := tc.tr.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	if n, ok := tests[1].tr.KeyLength(); ok {
		t.Errorf("KeyLength of a TLV attribute = %d, true; want false", n)
	}
}

// TestEncrAEAD covers RFC 5282 section 8: the AES-GCM algorithms are AEAD
// and take no integrity transform; AES-CBC is not.
func TestEncrAEAD(t *testing.T) {
	tests := []struct {
		id   EncrID
		want bool
	}{
		{EncrAESCBC, false},
		{EncrAESGCM8, true},
		{EncrAESGCM12, true},
		{EncrAESGCM16, true},
		{EncrID(3), false},
	}
	for _, tc := range tests {
		t.Run("RFC 5282 8 "+tc.id.String(), func(t *testing.T) {
			if got := tc.id.AEAD(); got != tc.want {
				t.Errorf("%v.AEAD() = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}
