package ikev2

import (
	"net/netip"
	"testing"
)

// TestTrafficSelectorsPayload covers the TSi and TSr payloads of RFC 7296
// section 3.13.
func TestTrafficSelectorsPayload(t *testing.T) {
	v4 := TrafficSelector{
		Type: TSIPv4AddrRange, EndPort: 65535,
		StartAddr: netip.MustParseAddr("10.1.0.0"), EndAddr: netip.MustParseAddr("10.1.255.255"),
	}
	v6 := TrafficSelector{
		Type: TSIPv6AddrRange, IPProtocol: 17, StartPort: 500, EndPort: 500,
		StartAddr: netip.MustParseAddr("2001:db8::"), EndAddr: netip.MustParseAddr("2001:db8::ffff"),
	}
	tests := []struct {
		name string
		ts   *TrafficSelectors
		wire string
	}{
		{"3.13.1 TSi IPv4 range, any protocol and port", &TrafficSelectors{Selectors: []TrafficSelector{v4}},
			"00000018 01 000000 | 07 00 0010 0000 ffff 0a010000 0a01ffff"},
		{"3.13.1 TSr IPv4 and IPv6 ranges", &TrafficSelectors{Responder: true, Selectors: []TrafficSelector{v4, v6}},
			"00000040 02 000000 | 07 00 0010 0000 ffff 0a010000 0a01ffff |" +
				"08 11 0028 01f4 01f4 20010db8000000000000000000000000 20010db800000000000000000000ffff"},
		{"3.13.1 unknown selector type kept raw", &TrafficSelectors{Selectors: []TrafficSelector{{Type: 10, IPProtocol: 0, Data: h("0102")}}},
			"0000000e 01 000000 | 0a 00 0006 0102"},
		{"3.13 no selectors, reserved octets kept", &TrafficSelectors{Reserved: [3]byte{9, 8, 7}}, "00000008 00 090807"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkPayload(t, tc.ts, h(tc.wire)) })
	}
	checkMalformed(t, PayloadTSi, []malformedCase{
		{"3.13 body shorter than 4", "00000007 010000"},
		{"3.13 fewer selectors than counted", "00000018 02 000000 | 07 00 0010 0000 ffff 0a010000 0a01ffff"},
		{"3.13 more selectors than counted", "00000010 00 000000 | 0a 00 0004 0a00 0004"},
		{"3.13.1 selector shorter than its header", "0000000b 01 000000 | 07 00 00"},
		{"3.13.1 selector length below 4", "0000000c 01 000000 | 0a 00 0003"},
		{"3.13.1 selector length beyond the payload", "0000000c 01 000000 | 0a 00 0005"},
		{"3.13.1 IPv4 range length not 16", "00000014 01 000000 | 07 00 000c 0000 ffff 0a010000"},
		{"3.13.1 IPv6 range length not 40", "00000018 01 000000 | 08 00 0010 0000 ffff 0a010000 0a01ffff"},
	})
	checkAppendError(t, &TrafficSelectors{Selectors: []TrafficSelector{{Type: TSIPv4AddrRange, StartAddr: v6.StartAddr, EndAddr: v4.EndAddr}}})
	checkAppendError(t, &TrafficSelectors{Selectors: []TrafficSelector{{Type: TSIPv6AddrRange, StartAddr: v6.StartAddr}}})
	checkAppendError(t, &TrafficSelectors{Selectors: make([]TrafficSelector, 256)})
	checkAppendError(t, &TrafficSelectors{Selectors: []TrafficSelector{{Type: 10, Data: make([]byte, 0xfffc)}}})
}

func TestTrafficSelectorString(t *testing.T) {
	ts := TrafficSelector{
		Type: TSIPv4AddrRange, IPProtocol: 6, StartPort: 80, EndPort: 443,
		StartAddr: netip.MustParseAddr("10.1.0.0"), EndAddr: netip.MustParseAddr("10.1.255.255"),
	}
	if got, want := ts.String(), "10.1.0.0-10.1.255.255[6/80-443]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := (TrafficSelector{Type: 10}).String(), "TSType(10)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
