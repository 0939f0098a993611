package ikev2

import (
	"bytes"
	"testing"
)

// TestIDPayload covers the Identification payloads IDi and IDr of RFC 7296
// section 3.5.
func TestIDPayload(t *testing.T) {
	tests := []struct {
		name string
		id   *ID
		wire string
	}{
		{"3.5 IDi FQDN", &ID{IDType: IDFQDN, Data: []byte("gw-a.example")}, "00000014 02 000000 67772d612e6578616d706c65"},
		{"3.5 IDr IPv4 address", &ID{Responder: true, IDType: IDIPv4Addr, Data: h("0a000001")}, "0000000c 01 000000 0a000001"},
		{"3.5 reserved octets kept", &ID{IDType: IDKeyID, Reserved: [3]byte{1, 2, 3}, Data: h("aa")}, "00000009 0b 010203 aa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.id, h(tc.wire)) })
	}
	checkMalformed(t, PayloadIDi, []malformedCase{{"3.5 body shorter than 4", "00000007 020000"}})
	checkMalformed(t, PayloadIDr, []malformedCase{{"3.5 body empty", "00000004"}})
	checkAppendError(t, &ID{Data: make([]byte, 0xffff)})
}

// TestIDAppendBody checks RestOfInitIDPayload of RFC 7296 section 2.15: the
// ID payload without its generic header.
func TestIDAppendBody(t *testing.T) {
	id := &ID{IDType: IDFQDN, Reserved: [3]byte{0, 0, 7}, Data: []byte("gw")}
	if got, want := id.AppendBody([]byte{0xff}), h("ff 02 000007 6777"); !bytes.Equal(got, want) {
		t.Errorf("AppendBody = %x, want %x", got, want)
	}
}
