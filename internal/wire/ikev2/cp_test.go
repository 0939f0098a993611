package ikev2

import "testing"

// TestCPPayload covers the Configuration payload of RFC 7296 section 3.15.
func TestCPPayload(t *testing.T) {
	tests := []struct {
		name string
		cp   *CP
		wire string
	}{
		{"3.15 request for an address and a DNS server", &CP{CFGType: CFGRequest, Attributes: []CPAttribute{
			{Type: InternalIP4Address}, {Type: InternalIP4DNS}, {Type: InternalIP6Address},
		}}, "00000014 01 000000 | 0001 0000 | 0003 0000 | 0008 0000"},
		{"3.15 reply with address, netmask and subnet", &CP{CFGType: CFGReply, Attributes: []CPAttribute{
			{Type: InternalIP4Address, Value: h("c0a80002")},
			{Type: InternalIP4Netmask, Value: h("ffffff00")},
			{Type: InternalIP4Subnet, Value: h("0a000000 ffff0000")},
			{Type: InternalIP6Subnet, Value: h("20010db8000000000000000000000000 30")},
		}}, "00000039 02 000000 | 0001 0004 c0a80002 | 0002 0004 ffffff00 | 000d 0008 0a000000ffff0000 |" +
			"000f 0011 20010db8000000000000000000000000 30"},
		{"3.15.1 reserved bit and octets kept", &CP{CFGType: CFGAck, Reserved: [3]byte{1, 0, 0}, Attributes: []CPAttribute{
			{Type: ApplicationVersion, Reserved: true, Value: []byte("x")},
		}}, "0000000d 04 010000 | 8007 0001 78"},
		{"3.15 no attributes", &CP{CFGType: CFGSet}, "00000008 03 000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.cp, h(tc.wire)) })
	}
	checkMalformed(t, PayloadCP, []malformedCase{
		{"3.15 body shorter than 4", "00000007 010000"},
		{"3.15.1 attribute shorter than its header", "0000000a 01 000000 | 0001"},
		{"3.15.1 attribute length beyond the payload", "0000000c 01 000000 | 0001 0001"},
	})
	checkAppendError(t, &CP{Attributes: []CPAttribute{{Type: 0x8000}}})
	checkAppendError(t, &CP{Attributes: []CPAttribute{{Value: make([]byte, 0x10000)}}})
	checkAppendError(t, &CP{Attributes: []CPAttribute{{Value: make([]byte, 0xfff8)}}})
}
