package ikev2_test

import (
	"fmt"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Building an encrypted INFORMATIONAL request in one pass: the inner
// payloads, then the headers with final lengths (the AEAD associated data),
// then IV, ciphertext and ICV appended by the crypto layer.
func ExampleAppendEncryptedHeader() {
	inner, err := ikev2.AppendPayloads(nil, []ikev2.Payload{
		&ikev2.Delete{Protocol: ikev2.ProtocolESP, SPISize: 4, SPIs: [][]byte{{0xc0, 0xff, 0xee, 0x01}}},
	})
	if err != nil {
		panic(err)
	}
	const ivLen, icvLen = 8, 16                // AES-GCM-16 (RFC 5282)
	bodyLen := ivLen + len(inner) + 1 + icvLen // no padding, one Pad Length octet
	h := ikev2.Header{SPIi: 1, SPIr: 2, MajorVersion: ikev2.MajorVersion,
		Exchange: ikev2.Informational, Flags: ikev2.FlagInitiator, MessageID: 5}
	msg, err := ikev2.AppendEncryptedHeader(nil, h, ikev2.PayloadDelete, bodyLen)
	if err != nil {
		panic(err)
	}
	aad := msg
	// The crypto layer appends IV || Seal(inner || pad length) here,
	// authenticating aad.
	msg = append(msg, make([]byte, bodyLen)...)
	fmt.Printf("associated data %d octets, message %d octets\n", len(aad), len(msg))

	m, err := ikev2.ParseMessage(msg)
	if err != nil {
		panic(err)
	}
	sk := m.Payloads[0].(*ikev2.Encrypted)
	fmt.Println(m.Header.Exchange, m.Header.Flags, sk.Type(), "first inner:", sk.NextPayload, len(sk.Body))
	// Output:
	// associated data 32 octets, message 69 octets
	// INFORMATIONAL I SK first inner: D 37
}

// Reassembling a fragmented message (RFC 7383) from the decrypted contents
// of its SKF payloads, in whatever order they arrive.
func ExampleReassembler() {
	var r ikev2.Reassembler
	fragments := []struct {
		f       ikev2.EncryptedFragment
		content string
	}{
		{ikev2.EncryptedFragment{Number: 2, Total: 2}, "world"},
		{ikev2.EncryptedFragment{NextPayload: ikev2.PayloadIDi, Number: 1, Total: 2}, "hello, "},
	}
	for _, x := range fragments {
		done, err := r.Add(1, &x.f, []byte(x.content))
		if err != nil {
			panic(err)
		}
		fmt.Println("fragment", x.f.Number, "complete:", done)
	}
	first, inner, err := r.Reassemble(nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v %q\n", first, inner)
	// Output:
	// fragment 2 complete: false
	// fragment 1 complete: true
	// IDi "hello, world"
}
