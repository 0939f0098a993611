package suite

import (
	"bytes"
	"crypto/hmac"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestPSKAuth checks AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"),
// <SignedOctets>) and the signed octets of RFC 7296 §2.15.
func TestPSKAuth(t *testing.T) {
	msg := []byte("the IKE_SA_INIT message as sent")
	nonce := bytes.Repeat([]byte{0x4e}, 32)
	skp := Key(bytes.Repeat([]byte{0x50}, 32))
	id := append([]byte{2, 0, 0, 0}, "gw.example"...)
	psk := []byte("pre-shared key")
	for _, prf := range []ikev2.PRFID{ikev2.PRFHMACSHA1, ikev2.PRFHMACSHA256, ikev2.PRFHMACSHA384, ikev2.PRFHMACSHA512} {
		signed, err := SignedOctets(prf, msg, nonce, skp, id)
		if err != nil {
			t.Fatal(err)
		}
		m := hmac.New(hashOf[prf], skp)
		m.Write(id)
		want := append(append(bytes.Clone(msg), nonce...), m.Sum(nil)...)
		if !bytes.Equal(signed, want) {
			t.Errorf("%v: signed octets = %x, want %x", prf, signed, want)
		}
		auth, err := PSKAuth(prf, psk, signed)
		if err != nil {
			t.Fatal(err)
		}
		m = hmac.New(hashOf[prf], psk)
		m.Write([]byte("Key Pad for IKEv2"))
		m = hmac.New(hashOf[prf], m.Sum(nil))
		m.Write(signed)
		if want := m.Sum(nil); !bytes.Equal(auth, want) {
			t.Errorf("%v: AUTH = %x, want %x", prf, auth, want)
		}
		if !VerifyPSKAuth(prf, psk, signed, auth) {
			t.Errorf("%v: AUTH does not verify", prf)
		}
		for _, bad := range []struct {
			name              string
			psk, signed, auth []byte
		}{
			{"other key", []byte("pre-shared kez"), signed, auth},
			{"other octets", psk, signed[1:], auth},
			{"changed AUTH", psk, signed, append(bytes.Clone(auth[:len(auth)-1]), auth[len(auth)-1]^1)},
			{"short AUTH", psk, signed, auth[:len(auth)-1]},
			{"no AUTH", psk, signed, nil},
		} {
			if VerifyPSKAuth(prf, bad.psk, bad.signed, bad.auth) {
				t.Errorf("%v: %s verifies", prf, bad.name)
			}
		}
	}
	if _, err := SignedOctets(ikev2.PRFID(9), msg, nonce, skp, id); err == nil {
		t.Error("SignedOctets with an unsupported PRF succeeded")
	}
	if VerifyPSKAuth(ikev2.PRFID(9), psk, msg, nil) {
		t.Error("VerifyPSKAuth with an unsupported PRF succeeded")
	}
}
