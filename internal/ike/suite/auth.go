package suite

import (
	"crypto/subtle"
	"fmt"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// keyPad is the string mixed into the shared secret (RFC 7296 §2.15).
const keyPad = "Key Pad for IKEv2"

// SignedOctets returns the octets an AUTH payload signs (RFC 7296 §2.15):
//
//	InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
//	MACedIDForI = prf(SK_pi, RestOfInitIDPayload)
//
// and the responder's analogously. message is the whole IKE_SA_INIT message
// the signer sent, as sent; nonce is the body of the other side's Nonce
// payload; skp is the signer's SK_pi or SK_pr; idBody is the body of the
// signer's ID payload after its generic header: ID type, three reserved
// octets and the identification data.
func SignedOctets(prf ikev2.PRFID, message, nonce []byte, skp Key, idBody []byte) ([]byte, error) {
	if prfSize(prf) == 0 {
		return nil, fmt.Errorf("%v: %w", prf, ErrUnsupported)
	}
	out := make([]byte, 0, len(message)+len(nonce)+prfSize(prf))
	out = append(append(out, message...), nonce...)
	return prfSum(prf, out, skp, idBody)
}

// PSKAuth returns the Authentication Data of an AUTH payload with method 2,
// shared key message integrity code (RFC 7296 §2.15):
//
//	AUTH = prf( prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
func PSKAuth(prf ikev2.PRFID, psk, signed []byte) ([]byte, error) {
	k, err := prfSum(prf, nil, psk, []byte(keyPad))
	if err != nil {
		return nil, err
	}
	defer clear(k)
	return prfSum(prf, nil, k, signed)
}

// VerifyPSKAuth reports whether auth is the AUTH value of signed under the
// pre-shared key psk, comparing in constant time.
func VerifyPSKAuth(prf ikev2.PRFID, psk, signed, auth []byte) bool {
	want, err := PSKAuth(prf, psk, signed)
	return err == nil && subtle.ConstantTimeCompare(want, auth) == 1
}
