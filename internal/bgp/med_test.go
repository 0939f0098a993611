package bgp

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestMEDRFC4271Section9_1_2_2: among routes from one neighbouring AS,
// the one with the lower MULTI_EXIT_DISC is the best (RFC 4271 §9.1.2.2
// (c)), before the BGP identifiers are looked at; routes from different
// ASes are not compared by it; a route whose MED alone changes is
// chosen again; and the MED goes to no other AS (§5.1.4). Two peers in
// one AS are a site's two devices (or an active-active gateway's two
// instances) telling which of them to send to.
func TestMEDRFC4271Section9_1_2_2(t *testing.T) {
	a := netip.MustParseAddr("127.166.2.1")
	// Their BGP identifiers are their addresses: b's the lowest, then
	// d's, then c's.
	b, c, d := netip.MustParseAddr("127.166.2.2"), netip.MustParseAddr("127.166.2.4"), netip.MustParseAddr("127.166.2.3")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a,
		Peers: []Peer{{Name: "b", Addr: b, AS: 65002}, {Name: "c", Addr: c, AS: 65002}, {Name: "d", Addr: d, AS: 65003}}})
	pb, pc, pd := dialRawAS(t, n, b, port, 65002), dialRawAS(t, n, c, port, 65002), dialRawAS(t, n, d, port, 65003)
	// Each path tells its sender apart, all of one length.
	announce := func(p *rawPeer, path []uint32, nextHop netip.Addr, med uint32) {
		body := mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: path}}, NextHop: nextHop, NLRI: pfxs("10.70.0.0/16")}.Append(nil, true))
		at := len(body) - 3 // the attributes end where the NLRI's 3 bytes begin
		attr := binary.BigEndian.AppendUint32([]byte{0x80, 4, 4}, med)
		body = slices.Concat(body[:at], attr, body[at:])
		body[3] += byte(len(attr))
		p.send(wire.TypeUpdate, body)
	}
	announce(pb, []uint32{65002, 64601}, b, 100)
	waitRoutes(t, n, map[string]string{"10.70.0.0/16": "65002 64601"})
	announce(pc, []uint32{65002, 64602}, c, 50)
	waitRoutes(t, n, map[string]string{"10.70.0.0/16": "65002 64602"})
	// d's MED, from another AS, is not compared: d's lower identifier
	// wins over c.
	announce(pd, []uint32{65003, 64603}, d, 500)
	waitRoutes(t, n, map[string]string{"10.70.0.0/16": "65003 64603"})
	// c's MED now higher than b's: b, whose identifier is the lowest.
	announce(pc, []uint32{65002, 64602}, c, 200)
	waitRoutes(t, n, map[string]string{"10.70.0.0/16": "65002 64601"})
	// d is sent b's route, without its MED.
	for {
		body := pd.expect(wire.TypeUpdate)
		u, err := wire.ParseUpdate(body, true)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(u.NLRI, netip.MustParsePrefix("10.70.0.0/16")) {
			continue
		}
		if pathString(u.ASPath) != "65515 65002 64601" {
			t.Fatalf("d was sent the path %s", pathString(u.ASPath))
		}
		if bytes.Contains(body, []byte{0x80, 4, 4}) { // MULTI_EXIT_DISC, 4 bytes
			t.Errorf("d was sent a MED: % x", body)
		}
		break
	}
}
