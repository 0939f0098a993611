package reconcile

import (
	"net/netip"
	"testing"

	"github.com/vnetgw/vnetgw/internal/bgp"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestRouteASPathShowsSets: the asPath of getLearnedRoutes and
// getAdvertisedRoutes shows an AS_SET (a route aggregated behind a site,
// RFC 4271 §5.1.2) as one step in braces, as BIRD and routers show it:
// route selection counts it as one AS (§9.1.2.2 (a)), and its ASes are
// no sequence the route went through.
func TestRouteASPathShowsSets(t *testing.T) {
	for _, c := range []struct {
		path []wire.Segment
		want string
	}{
		{[]wire.Segment{{ASNs: []uint32{65010, 65020}}}, "65010-65020"},
		{[]wire.Segment{{ASNs: []uint32{65010}}, {Set: true, ASNs: []uint32{65020, 4200000001}}}, "65010-{65020,4200000001}"},
		{[]wire.Segment{{ASNs: []uint32{65515, 65010}}, {Set: true, ASNs: []uint32{65030}}, {ASNs: []uint32{65040}}}, "65515-65010-{65030}-65040"},
	} {
		r := bgp.Route{Prefix: netip.MustParsePrefix("10.60.0.0/16"), PeerAddr: netip.MustParseAddr("192.168.1.1"), NextHop: netip.MustParseAddr("192.168.1.1"), ASPath: c.path}
		if got := gatewayRoute(netip.MustParseAddr("10.1.255.30"), r, "EBgp").ASPath; got != c.want {
			t.Errorf("path %v: asPath %q, want %q", c.path, got, c.want)
		}
	}
}
