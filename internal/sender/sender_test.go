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

// FuzzKey: any address's sender holds it (unmapped, without its zone),
// is an IPv4 address alone or an IPv6 /64, and every address of it is
// the same sender.
func FuzzKey(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "::ffff:192.0.2.1", "2001:db8:1:2::1", "fe80::1%eth0", "::", "::1"} {
		a := netip.MustParseAddr(s)
		b, _ := a.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a netip.Addr
		if a.UnmarshalBinary(b) != nil || !a.IsValid() {
			return
		}
		p := Key(a)
		plain := a.Unmap().WithZone("")
		if !p.IsValid() || !p.Contains(plain) || p != p.Masked() || (plain.Is4() && p.Bits() != 32) || (plain.Is6() && p.Bits() != 64) {
			t.Fatalf("Key(%s) = %s", a, p)
		}
		// The last address of the prefix is the same sender (but in ::/64,
		// whose IPv4-mapped addresses are IPv4 senders).
		last := plain.As16()
		if plain.Is6() {
			for i := 8; i < 16; i++ {
				last[i] = ^last[i]
			}
			if q := Key(netip.AddrFrom16(last)); q != p && !netip.AddrFrom16(last).Is4In6() {
				t.Fatalf("Key(%s) = %s, Key(%s) = %s", a, p, netip.AddrFrom16(last), q)
			}
		}
		if q := Key(p.Addr()); q != p {
			t.Fatalf("Key(%s) = %s, Key of its first address %s", a, p, q)
		}
	})
}
