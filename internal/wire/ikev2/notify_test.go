package ikev2

import "testing"

// TestNotifyPayload covers the Notify payload of RFC 7296 section 3.10.
func TestNotifyPayload(t *testing.T) {
	tests := []struct {
		name string
		n    *Notify
		wire string
	}{
		{"3.10 status without SPI or data", &Notify{NotifyType: FragmentationSupported}, "00000008 00 00 402e"},
		{"3.10 NAT detection hash", &Notify{NotifyType: NATDetectionSourceIP, Data: h("0102030405060708090a0b0c0d0e0f1011121314")},
			"0000001c 00 00 4004 0102030405060708090a0b0c0d0e0f1011121314"},
		{"3.10 REKEY_SA with an ESP SPI", &Notify{Protocol: ProtocolESP, SPI: h("c0ffee01"), NotifyType: RekeySA}, "0000000c 03 04 4009 c0ffee01"},
		{"3.10 error with SPI and data", &Notify{Protocol: ProtocolIKE, SPI: h("0102030405060708"), NotifyType: InvalidKEPayload, Data: h("000e")},
			"00000012 01 08 0011 0102030405060708 000e"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.n, h(tc.wire)) })
	}
	checkMalformed(t, PayloadNotify, []malformedCase{
		{"3.10 body shorter than 4", "00000007 000040"},
		{"3.10 SPI size beyond the payload", "0000000b 03 04 4009 c0ffee"},
	})
	checkAppendError(t, &Notify{SPI: make([]byte, 256)})
	checkAppendError(t, &Notify{Data: make([]byte, 0xffff)})
}

// TestNotifyType covers the ranges of RFC 7296 section 3.10.1 and the names.
func TestNotifyType(t *testing.T) {
	tests := []struct {
		t     NotifyType
		name  string
		error bool
	}{
		{UnsupportedCriticalPayload, "UNSUPPORTED_CRITICAL_PAYLOAD", true},
		{NoProposalChosen, "NO_PROPOSAL_CHOSEN", true},
		{ChildSANotFound, "CHILD_SA_NOT_FOUND", true},
		{16383, "NotifyType(16383)", true},
		{InitialContact, "INITIAL_CONTACT", false},
		{FragmentationSupported, "IKEV2_FRAGMENTATION_SUPPORTED", false},
		{SignatureHashAlgorithms, "SIGNATURE_HASH_ALGORITHMS", false},
	}
	for _, tc := range tests {
		if got := tc.t.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", uint16(tc.t), got, tc.name)
		}
		if got := tc.t.IsError(); got != tc.error {
			t.Errorf("%v.IsError() = %v, want %v", tc.t, got, tc.error)
		}
	}
}
