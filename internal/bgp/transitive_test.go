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
// §5.1.6); a route whose attributes alone change is sent again. The
// unused low-order bits of an attribute's flags are not passed on (RFC
// 4271 §4.3: they MUST be zero when sent).
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
		// The unused low-order four bits of its flags set: they are
		// sent as zero (RFC 4271 §4.3).
		{"community 3, unused flag bits", []byte{0xcf, 8, 4, 0xfd, 0xea, 0, 3}, []byte{0xe0, 8, 4, 0xfd, 0xea, 0, 3}},
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

// TestAggregatorPassedOnRFC4271Section5_1_7: a route's AGGREGATOR, an
// optional transitive attribute the speaker recognises, goes with it to
// the other peers (RFC 4271 §9): to a peer of four-octet ASes as it came,
// to one of two-octet ASes with AS_TRANS for a four-octet aggregator AS
// and the AS itself in AS4_AGGREGATOR (RFC 6793 §4.2.2), so that the
// site that summarised its networks is still named two ASes on.
func TestAggregatorPassedOnRFC4271Section5_1_7(t *testing.T) {
	a, b, c := netip.MustParseAddr("127.166.3.1"), netip.MustParseAddr("127.166.3.2"), netip.MustParseAddr("127.166.3.3")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"),
		Peers: []Peer{{Name: "b", Addr: b, AS: 4200000002}, {Name: "c", Addr: c, AS: 65003}}})
	pb := dialRawAS(t, n, b, port, 4200000002)
	// c has no four-octet AS capability: its OPEN offers IPv4 unicast
	// only.
	conn, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(c, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	pc := &rawPeer{t: t, c: conn}
	id := c.As4()
	caps := wire.IPv4UnicastCapability()
	pc.send(wire.TypeOpen, slices.Concat([]byte{4, 0xfd, 0xeb, 0, 30}, id[:], []byte{byte(2 + len(caps)), 2, byte(len(caps))}, caps))
	pc.expect(wire.TypeOpen)
	pc.send(wire.TypeKeepalive, nil)
	pc.expect(wire.TypeKeepalive)

	// b summarised 10.60.0.0/16 in AS 4200000001 behind it: AGGREGATOR
	// of that AS and 192.0.2.7.
	pb.send(wire.TypeUpdate, withAttr(mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{4200000002}}, {Set: true, ASNs: []uint32{4200000001}}},
		NextHop: b, NLRI: pfxs("10.60.0.0/16")}.Append(nil, true)), []byte{0xc0, 7, 8, 0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 7}))
	for {
		body := pc.expect(wire.TypeUpdate)
		if !bytes.HasSuffix(body, []byte{16, 10, 60}) {
			continue // the speaker's own network
		}
		// AGGREGATOR with AS_TRANS, AS4_AGGREGATOR with the AS.
		for _, want := range [][]byte{{0xc0, 7, 6, 0x5b, 0xa0, 192, 0, 2, 7}, {0xc0, 18, 8, 0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 7}} {
			if !bytes.Contains(body, want) {
				t.Errorf("the two-octet peer was sent % x, without % x", body, want)
			}
		}
		break
	}
	// A peer of four-octet ASes: as b sent it, on a route of b's that
	// reaches it through the speaker (b is sent c's).
	pc.send(wire.TypeUpdate, withAttr(mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65003}}}, NextHop: c,
		NLRI: pfxs("10.61.0.0/16")}.Append(nil, false)), []byte{0xc0, 7, 6, 0xfd, 0xeb, 127, 166, 3, 3}))
	for {
		body := pb.expect(wire.TypeUpdate)
		if !bytes.HasSuffix(body, []byte{16, 10, 61}) {
			continue
		}
		if want := []byte{0xc0, 7, 8, 0, 0, 0xfd, 0xeb, 127, 166, 3, 3}; !bytes.Contains(body, want) {
			t.Errorf("the four-octet peer was sent % x, without % x", body, want)
		}
		break
	}
}

// withAttr returns body, an UPDATE announcing one /16, with attr added
// to its attributes.
func withAttr(body, attr []byte) []byte {
	at := len(body) - 3 // the attributes end where the NLRI's 3 bytes begin
	body = slices.Concat(body[:at], attr, body[at:])
	body[3] += byte(len(attr))
	return body
}
