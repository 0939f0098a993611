package ikev2

import "testing"

// TestDeletePayload covers the Delete payload of RFC 7296 section 3.11.
func TestDeletePayload(t *testing.T) {
	tests := []struct {
		name string
		d    *Delete
		wire string
	}{
		{"3.11 the IKE SA", &Delete{Protocol: ProtocolIKE}, "00000008 01 00 0000"},
		{"3.11 two ESP SPIs", &Delete{Protocol: ProtocolESP, SPISize: 4, SPIs: [][]byte{h("c0ffee01"), h("c0ffee02")}},
			"00000010 03 04 0002 c0ffee01 c0ffee02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.d, h(tc.wire)) })
	}
	checkMalformed(t, PayloadDelete, []malformedCase{
		{"3.11 body shorter than 4", "00000007 030400"},
		{"3.11 fewer SPI octets than counted", "0000000f 03 04 0002 c0ffee01 c0ffee"},
		{"3.11 more SPI octets than counted", "00000010 03 04 0001 c0ffee01 c0ffee02"},
		{"3.11 SPIs of size zero", "00000008 01 00 ffff"},
	})
	checkAppendError(t, &Delete{Protocol: ProtocolESP, SPISize: 4, SPIs: [][]byte{h("c0ffee")}})
	checkAppendError(t, &Delete{Protocol: ProtocolIKE, SPIs: [][]byte{nil}})
	checkAppendError(t, &Delete{SPISize: 1, SPIs: make([][]byte, 0x10000)})
}
