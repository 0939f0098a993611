package sender

import (
	"net/netip"
	"testing"
)

// TestKey: IPv4 senders are told apart by address, IPv6 senders by /64,
// and an IPv4-mapped address is its IPv4 address's sender.
func TestKey(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
		same       bool
	}{
		{"IPv4 same address", "192.0.2.1", "192.0.2.1", true},
		{"IPv4 next address", "192.0.2.1", "192.0.2.2", false},
		{"IPv4-mapped", "::ffff:192.0.2.1", "192.0.2.1", true},
		{"IPv4-mapped, another address", "::ffff:192.0.2.1", "192.0.2.2", false},
		{"IPv6 one /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
		{"IPv6 next /64", "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"IPv6 zone", "fe80::1%eth0", "fe80::2", true},
		{"loopback", "::1", "::1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := Key(netip.MustParseAddr(tc.a)), Key(netip.MustParseAddr(tc.b))
			if !a.IsValid() || (a == b) != tc.same {
				t.Errorf("Key(%s) = %v, Key(%s) = %v, want the same: %v", tc.a, a, tc.b, b, tc.same)
			}
		})
	}
	if p := Key(netip.Addr{}); p.IsValid() {
		t.Errorf("Key of the zero Addr = %v, want the zero Prefix", p)
	}
}
