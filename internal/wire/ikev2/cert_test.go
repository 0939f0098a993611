package ikev2

import "testing"

// TestCertPayloads covers the CERT and CERTREQ payloads of RFC 7296
// sections 3.6 and 3.7.
func TestCertPayloads(t *testing.T) {
	tests := []struct {
		name string
		p    Payload
		wire string
	}{
		{"3.6 X.509 certificate", &Cert{Encoding: CertX509Signature, Data: h("3082")}, "00000007 04 3082"},
		{"3.6 empty data", &Cert{Encoding: CertX509CRL}, "00000005 07"},
		{"3.7 CA key hash", &CertReq{Encoding: CertX509Signature, Data: h("00112233445566778899aabbccddeeff00112233")},
			"00000019 04 00112233445566778899aabbccddeeff00112233"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.p, h(tc.wire)) })
	}
	checkMalformed(t, PayloadCERT, []malformedCase{{"3.6 no encoding", "00000004"}})
	checkMalformed(t, PayloadCERTREQ, []malformedCase{{"3.7 no encoding", "00000004"}})
	checkAppendError(t, &Cert{Data: make([]byte, 0xffff)})
	checkAppendError(t, &CertReq{Data: make([]byte, 0xffff)})
}
