package bgp

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"testing"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestTransitiveAttributesPassedOnRFC4271Section9: a route's optional
// transitive attributes that the speaker does not recognise (COMMUNITIES
// here) go with it to the other peers, their Partial bit set (RFC 4271
// §9), and so does its ATOMIC_AGGREGATE (it SHOULD NOT be removed,
// §5.1.6); a route whose attributes alone change is sent again.
func TestAttributesPassedOnRFC4271Section9(t *testing.T) {
	a, b, c := netip.MustParseAddr("127.159.1.1"), netip.MustParseAddr("127.159.1.2"), netip.MustParseAddr("127.159.1.3")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"),
		Peers: []Peer{{Name: "b", Addr: b, AS: 65002}, {Name: "c", Addr: c, AS: 65003}}})
	pb, pc := dialRawAS(t, n, b, port, 65002), dialRawAS(t, n, c, port, 65003)
	announce := func(attr []byte) {
		body := mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: b, NLRI: pfxs("10.60.0.0/16")}.Append(nil, true))
		at := len(body) - 3 // the attributes end where the NLRI's 3 bytes begin
		body = slices.Concat(body[:at], attr, body[at:])
		body[3] += byte(len(attr))
		pb.send(wire.TypeUpdate, body)
	}
	for _, c := range []struct {
		name       string
		attr, want []byte
	}{
		// COMMUNITIES, optional transitive
		{"community 1", []byte{0xc0, 8, 4, 0xfd, 0xea, 0, 1}, []byte{0xe0, 8, 4, 0xfd, 0xea, 0, 1}},
		{"community 2", []byte{0xc0, 8, 4, 0xfd, 0xea, 0, 2}, []byte{0xe0, 8, 4, 0xfd, 0xea, 0, 2}},
		{"ATOMIC_AGGREGATE", []byte{0x40, 6, 0, 0xc0, 8, 4, 0xfd, 0xea, 0, 2}, []byte{0x40, 6, 0, 0xe0, 8, 4, 0xfd, 0xea, 0, 2}},
	} {
		announce(c.attr)
		for {
			body := pc.expect(wire.TypeUpdate)
			u, err := wire.ParseUpdate(body, true)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(u.NLRI, netip.MustParsePrefix("10.60.0.0/16")) {
				continue // the speaker's own network
			}
			if !bytes.Contains(body, c.want) {
				t.Fatalf("%s: the route came without % x: % x", c.name, c.want, body)
			}
			if !slices.Equal(u.ASPath[0].ASNs, []uint32{65515, 65002}) {
				t.Errorf("path %v", u.ASPath)
			}
			break
		}
	}
}
