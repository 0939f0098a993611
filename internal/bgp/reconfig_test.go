package bgp

import (
	"net/netip"
	"testing"
	"time"
)

// TestPeerTranslationChangesInPlace: what a peer is sent through NAT (its
// Networks) and how what it announces is taken (its Import) change with
// its session up: the VNet given a range, or a NAT rule changed, sends
// the peer the difference, not a Cease that takes every route of the
// site away until the session is back.
func TestPeerTranslationChangesInPlace(t *testing.T) {
	a, b := netip.MustParseAddr("127.82.5.1"), netip.MustParseAddr("127.82.5.2")
	port := freePort(t, a, b)
	na, nb := startNode(t, a.String(), port, 0), startNode(t, b.String(), port, 0)
	peer := Peer{Name: "to-b", Addr: b, AS: 65020, Networks: pfxs("100.65.0.0/24"),
		Import: []Mapping{{From: netip.MustParsePrefix("10.77.0.0/16"), To: netip.MustParsePrefix("172.31.0.0/16")}}}
	na.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{peer}})
	nb.s.Reconfig(Config{AS: 65020, ID: b, Networks: pfxs("10.77.3.0/24"), Peers: []Peer{{Name: "to-a", Addr: a, AS: 65515}}})
	waitRoutes(t, na, map[string]string{"172.31.3.0/24": "65020"})
	waitRoutes(t, nb, map[string]string{"100.65.0.0/24": "65515"})
	since, changes := na.s.Peers()[0].Since, na.changes.Load()

	peer.Networks = pfxs("100.65.0.0/24", "100.66.0.0/24")
	peer.Import = []Mapping{{From: netip.MustParsePrefix("10.77.0.0/16"), To: netip.MustParsePrefix("172.30.0.0/16")}}
	na.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16", "10.2.0.0/16"), Peers: []Peer{peer}})
	waitRoutes(t, nb, map[string]string{"100.65.0.0/24": "65515", "100.66.0.0/24": "65515"})
	waitRoutes(t, na, map[string]string{"172.30.3.0/24": "65020"})
	if ps := na.s.Peers(); ps[0].State != "Established" || !ps[0].Since.Equal(since) {
		t.Errorf("the session after its translation changed: %+v, established at %v before", ps[0], since.Format(time.StampMicro))
	}
	if na.changes.Load() == changes {
		t.Error("OnChange not called when the routes learned were taken again through the new Import")
	}
	if r := na.s.Learned(); len(r) != 1 || r[0].Prefix != netip.MustParsePrefix("172.30.3.0/24") {
		t.Errorf("learned after the Import changed: %+v", r)
	}
}
