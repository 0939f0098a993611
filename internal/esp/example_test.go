package esp_test

import (
	"fmt"

	"github.com/vnetgw/vnetgw/internal/esp"
	espwire "github.com/vnetgw/vnetgw/internal/wire/esp"
)

// Example seals an inner IPv4 packet with one SA and opens it with its
// peer, showing the buffer convention: the packet goes at Headroom, Tailroom
// follows it, and the outer headers go in front of the ESP packet.
func Example() {
	keys := make([]byte, 32+4) // AES-256 key and salt, from KEYMAT in real life
	cfg := esp.Config{SPI: 0xc0ffee01, Cipher: esp.AESGCM16, Keys: esp.NewKeys(keys, nil)}
	out, err := esp.New(cfg)
	if err != nil {
		panic(err)
	}
	in, err := esp.New(cfg) // the peer's inbound SA
	if err != nil {
		panic(err)
	}
	cfg.Keys.Wipe()

	inner := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	buf := make([]byte, esp.Headroom+len(inner)+esp.Tailroom)
	copy(buf[esp.Headroom:], inner)
	pkt, err := out.Seal(buf, len(inner), espwire.NextHeaderIPv4)
	if err != nil {
		panic(err)
	}
	outer := buf[:esp.Headroom-out.HeaderLen()] // room for IP and UDP headers
	fmt.Println(len(pkt), len(outer) >= esp.OuterRoom)

	got, nextHeader, err := in.Open(pkt)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x %d\n", got[12:20], nextHeader)
	fmt.Println(in.Stats().PacketsIn, out.Stats().PacketsOut)
	// Output:
	// 56 true
	// 0a0000010a000002 4
	// 1 1
}
