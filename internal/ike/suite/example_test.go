package suite_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/vnetgw/vnetgw/internal/ike/suite"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Example walks through the cryptography of an IKE SA: negotiation, key
// exchange, key derivation and SK payload protection, both ends in one
// process.
func Example() {
	// The responder's configuration and the transforms the initiator offered.
	ours, err := suite.ParseProposal(ikev2.ProtocolIKE, "aes256gcm16-prfsha256-ecp256-x25519")
	if err != nil {
		log.Fatal(err)
	}
	offered, err := suite.ParseProposal(ikev2.ProtocolIKE, "aes256gcm16-prfsha384-prfsha256-x25519")
	if err != nil {
		log.Fatal(err)
	}
	s, ok := ours.Select(offered.Transforms)
	fmt.Println(s, ok)

	// IKE_SA_INIT: each side's KE payload and nonce.
	ki, _ := suite.GenerateKey(s.DH)
	kr, _ := suite.GenerateKey(s.DH)
	ni, _ := suite.NewNonce()
	nr, _ := suite.NewNonce()
	giri, err := ki.SharedSecret(kr.PublicKey())
	if err != nil {
		log.Fatal(err)
	}
	girr, _ := kr.SharedSecret(ki.PublicKey())

	// Both sides derive the same keys.
	derive := func(gir suite.Key) suite.IKEKeys {
		skeyseed, err := suite.SKEYSEED(s.PRF, ni, nr, gir)
		if err != nil {
			log.Fatal(err)
		}
		keys, err := s.IKEKeys(skeyseed, ni, nr, 0x1111, 0x2222)
		if err != nil {
			log.Fatal(err)
		}
		return keys
	}
	initiator, responder := derive(giri), derive(girr)
	fmt.Println(initiator.D) // key material prints redacted

	// IKE_AUTH: the initiator seals, the responder opens.
	out, _, _ := initiator.Ciphers(s, true)
	_, in, _ := responder.Ciphers(s, false)
	header := bytes.Repeat([]byte{0}, 32) // IKE header and SK payload header
	msg, err := out.Seal(header, header, []byte("IDi AUTH SA TSi TSr"))
	if err != nil {
		log.Fatal(err)
	}
	inner, err := in.Open(nil, msg[:32], msg[32:])
	fmt.Printf("%s %v\n", inner, err)
	// Output:
	// aes256gcm16-prfsha256-x25519 true
	// [redacted 32 bytes]
	// IDi AUTH SA TSi TSr <nil>
}
