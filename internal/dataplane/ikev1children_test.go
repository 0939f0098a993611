package dataplane

import (
	"slices"
	"testing"
)

// TestIKEv1ChildrenDefaultSiteDualStack: over IKEv1, the default site of
// forced tunneling (R25) of a dual-stack VNet has a child SA for the
// VNet's IPv4 ranges against 0.0.0.0/0 and one for its IPv6 ranges
// against the site's: the default route takes the place of the site's
// ranges of its own IP version only. It took every range's place, so the
// VNet's IPv6 traffic to the site, which the gateway routes into the
// tunnel, had no child SA to go in.
func TestIKEv1ChildrenDefaultSiteDualStack(t *testing.T) {
	c := Connection{ID: "site",
		LocalPrefixes:  prefixes("10.1.0.0/16", "fd00:1::/48"),
		RemotePrefixes: prefixes("192.168.1.0/24", "fd00:2::/64"),
		Routes:         prefixes("192.168.1.0/24", "fd00:2::/64", "0.0.0.0/0")}
	var got []string
	for _, ch := range IKEv1Children(Gateway{}, c) {
		got = append(got, ch.LocalTS[0].String()+" "+ch.RemoteTS[0].String())
	}
	want := []string{"10.1.0.0/16 0.0.0.0/0", "fd00:1::/48 fd00:2::/64"}
	if !slices.Equal(got, want) {
		t.Errorf("child SAs of a dual-stack default site: %q, want %q", got, want)
	}
}
