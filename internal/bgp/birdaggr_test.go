package bgp

import (
	"slices"
	"strings"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestBIRDLearnsAggregator: a route that a site aggregated reaches BIRD
// through the speaker with its AGGREGATOR, which BIRD reads as the
// speaker wrote it (RFC 4271 §5.1.7, §9; a four-octet AS, RFC 6793).
func TestBIRDLearnsAggregator(t *testing.T) {
	r := newBIRDRig(t, "bgp8", "none")
	birdc, n, birdAddr, raw := r.birdc, r.n, r.bird, r.raw
	n.s.Reconfig(Config{AS: 65515, ID: r.local, Peers: []Peer{{Name: "site", Addr: birdAddr, AS: 65010}, {Name: "raw", Addr: raw, AS: 4200000002}}})
	p := r.openRaw(t)
	p.send(wire.TypeOpen, wire.Open{AS: 4200000002, HoldTime: 90, ID: raw}.Append(nil))
	p.expect(wire.TypeOpen)
	p.send(wire.TypeKeepalive, nil)
	p.expect(wire.TypeKeepalive)
	// The raw peer summarised 10.60.0.0/16 in AS 4200000001 behind it:
	// AGGREGATOR of that AS and 192.0.2.7.
	p.send(wire.TypeUpdate, withAttr(mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{4200000002}}, {Set: true, ASNs: []uint32{4200000001}}},
		NextHop: raw, NLRI: pfxs("10.60.0.0/16")}.Append(nil, true)), []byte{0xc0, 7, 8, 0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 7}))
	waitRoutes(t, n, map[string]string{"10.60.0.0/16": "4200000002 4200000001"})
	// BIRD is up (birdc has its socket) once its session is.
	for deadline := time.Now().Add(10 * time.Second); !slices.ContainsFunc(n.s.Peers(), func(p PeerStatus) bool { return p.Name == "site" && p.State == "Established" }); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no session with BIRD: %+v", n.s.Peers())
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out := birdc("show", "route", "protocol", "vnetgw", "all")
		if strings.Contains(out, "BGP.aggregator: 192.0.2.7 AS4200000001") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIRD has the route without its aggregator:\n%s\n%s", out, birdc("show", "protocols", "all", "vnetgw"))
		}
	}
}
