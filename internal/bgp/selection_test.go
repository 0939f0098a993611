package bgp

import (
	"net"
	"net/netip"
	"testing"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestBestByIdentifierRFC4271Section9_1_2_2: of two routes equal in
// path length and origin, the one of the peer with the lower BGP
// identifier is the best (RFC 4271 §9.1.2.2 (f)), whatever the peers'
// addresses, which break the ties that remain (g): what a router at the
// site, which follows the RFC, chooses too.
func TestBestByIdentifierRFC4271Section9_1_2_2(t *testing.T) {
	a, b, c := netip.MustParseAddr("127.159.4.1"), netip.MustParseAddr("127.159.4.2"), netip.MustParseAddr("127.159.4.3")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a,
		Peers: []Peer{{Name: "b", Addr: b, AS: 65002}, {Name: "c", Addr: c, AS: 65003}}})
	// b has the lower address and the higher identifier, c the other
	// way round.
	dial := func(addr netip.Addr, as uint32, id string) *rawPeer {
		conn, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		p := &rawPeer{t: t, c: conn}
		p.send(wire.TypeOpen, wire.Open{AS: as, HoldTime: 30, ID: netip.MustParseAddr(id)}.Append(nil))
		p.expect(wire.TypeOpen)
		p.send(wire.TypeKeepalive, nil)
		p.expect(wire.TypeKeepalive)
		return p
	}
	pb, pc := dial(b, 65002, "10.0.0.9"), dial(c, 65003, "10.0.0.1")
	announce := func(p *rawPeer, as uint32, nextHop netip.Addr) {
		p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{as}}}, NextHop: nextHop, NLRI: pfxs("10.70.0.0/16")}.Append(nil, true)))
	}
	announce(pb, 65002, b)
	waitRoutes(t, n, map[string]string{"10.70.0.0/16": "65002"})
	announce(pc, 65003, c)
	waitRoutes(t, n, map[string]string{"10.70.0.0/16": "65003"})
	pc.send(wire.TypeUpdate, mustAppend(wire.Update{Withdrawn: pfxs("10.70.0.0/16")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{"10.70.0.0/16": "65002"})
}
