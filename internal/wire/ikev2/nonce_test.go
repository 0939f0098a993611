package ikev2

import (
	"strings"
	"testing"
)

// TestNoncePayload covers the Nonce payload of RFC 7296 section 3.9.
func TestNoncePayload(t *testing.T) {
	n16 := strings.Repeat("ab", 16)
	n256 := strings.Repeat("cd", 256)
	checkPayload(t, &Nonce{Data: h(n16)}, h("00000014"+n16))
	checkPayload(t, &Nonce{Data: h(n256)}, h("00000104"+n256))
	checkMalformed(t, PayloadNonce, []malformedCase{
		{"3.9 MUST be at least 16 octets", "00000013" + strings.Repeat("ab", 15)},
		{"3.9 MUST be at most 256 octets", "00000105" + strings.Repeat("ab", 257)},
	})
	checkAppendError(t, &Nonce{Data: make([]byte, 15)})
	checkAppendError(t, &Nonce{Data: make([]byte, 257)})
	checkAppendError(t, &Nonce{Generic: Generic{Reserved: 0xff}, Data: make([]byte, 16)})
}
