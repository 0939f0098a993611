package dataplane

import (
	"net/netip"
	"testing"
)

// TestSpeakerWithRepeatedAPIPA: a custom APIPA address listed twice for
// an instance (the API takes the list as given) still lets the speaker
// start, on the address once; it did not start at all (the second
// AddAddress failed), leaving the instance without BGP.
func TestSpeakerWithRepeatedAPIPA(t *testing.T) {
	const ike, natt = 18990, 18991
	gwSite, _, _ := learningPair("127.181.77.1", "127.181.77.2")
	e := New(Options{IKEPort: ike, NATTPort: natt})
	t.Cleanup(func() { e.Close() })
	cfg := gwSite.config()
	x := netip.MustParseAddr("169.254.21.1")
	cfg.Gateways[0].BGP.APIPA = []netip.Addr{x, x}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if len(e.BGP("gw")) != 1 {
		t.Fatalf("no BGP speaker runs with custom APIPA addresses %v", cfg.Gateways[0].BGP.APIPA)
	}
}
