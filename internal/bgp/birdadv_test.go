package bgp

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestBIRDReceivesWhatIsAdvertised: what Advertised lists for a peer
// (getAdvertisedRoutes) is what BIRD there receives, prefix by prefix and
// AS path by AS path, an AS_SET kept a set: not BIRD's own route, not a
// route whose path holds BIRD's AS, not a route whose path is too long to
// be sent with this speaker's AS in front (an UPDATE is 4096 bytes at
// most, RFC 4271 §4).
func TestBIRDReceivesWhatIsAdvertised(t *testing.T) {
	r := newBIRDRig(t, "bgp9", "where source = RTS_STATIC", "10.99.0.0/24")
	birdc, n, birdAddr, raw := r.birdc, r.n, r.bird, r.raw
	n.s.Reconfig(Config{AS: 65515, ID: r.local, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "site", Addr: birdAddr, AS: 65010}, {Name: "raw", Addr: raw, AS: 65020}}})
	p := r.openRaw(t)
	p.send(wire.TypeOpen, wire.Open{AS: 65020, HoldTime: 90, ID: raw}.Append(nil))
	p.expect(wire.TypeOpen)
	p.send(wire.TypeKeepalive, nil)
	p.expect(wire.TypeKeepalive)
	announce := func(pfx string, path ...wire.Segment) {
		p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: path, NextHop: raw, NLRI: pfxs(pfx)}.Append(nil, true)))
	}
	announce("10.60.0.0/16", wire.Segment{ASNs: []uint32{65020}})
	announce("10.61.0.0/16", wire.Segment{ASNs: []uint32{65020}}, wire.Segment{Set: true, ASNs: []uint32{65040, 65050}})
	announce("10.62.0.0/16", wire.Segment{ASNs: []uint32{65020, 65010}})
	// A path that fills an UPDATE of the raw peer's: with 65515 in front,
	// it would not fit in one.
	long := []wire.Segment{{ASNs: []uint32{65020}}}
	for i := range 3 {
		long = append(long, wire.Segment{ASNs: make([]uint32, 255)})
		for j := range 255 {
			long[i+1].ASNs[j] = 4200000000 + uint32(255*i+j)
		}
	}
	long = append(long, wire.Segment{ASNs: slices.Repeat([]uint32{4200001000}, 245)})
	body := mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: long, NextHop: raw, NLRI: pfxs("10.63.0.0/16")}.Append(nil, true))
	if l := wire.HeaderLen + len(body); l < wire.MaxLen-3 || l > wire.MaxLen {
		t.Fatalf("the long path's UPDATE is %d bytes", l)
	}
	p.send(wire.TypeUpdate, body)
	waitRoutes(t, n, map[string]string{"10.60.0.0/16": "65020", "10.61.0.0/16": "65020 65040 65050", "10.62.0.0/16": "65020 65010", "10.63.0.0/16": pathString(long),
		"10.99.0.0/24": "65010"})

	adv := map[string]string{}
	for _, r := range n.s.Advertised(birdAddr) {
		adv[r.Prefix.String()] = birdPath(r.ASPath)
	}
	// BIRD's lines: the prefix, then its attributes, BGP.as_path among them.
	re := regexp.MustCompile(`(?m)^(\d+\.\d+\.\d+\.\d+/\d+)[^\n]*\n(?:\t[^\n]*\n)*?\tBGP\.as_path: ([^\n]*)\n`)
	var got map[string]string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out := birdc("show", "route", "protocol", "vnetgw", "all")
		got = map[string]string{}
		for _, m := range re.FindAllStringSubmatch(out, -1) {
			got[m[1]] = strings.TrimSpace(m[2])
		}
		if maps.Equal(got, adv) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIRD received %v,\nthe speaker lists %v\n%s", got, adv, out)
		}
	}
}

// birdPath is an AS path as BIRD shows it: an AS_SET in braces.
func birdPath(p []wire.Segment) string {
	var parts []string
	for _, s := range p {
		for i, as := range s.ASNs {
			a := fmt.Sprint(as)
			if s.Set && i == 0 {
				a = "{" + a
			}
			if s.Set && i == len(s.ASNs)-1 {
				a += "}"
			}
			parts = append(parts, a)
		}
	}
	return strings.Join(parts, " ")
}
