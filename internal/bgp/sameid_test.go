package bgp

import (
	"net"
	"net/netip"
	"testing"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestSameIdentifierExternalPeerRFC6286: an external peer whose BGP
// identifier is the speaker's own (identifiers need be unique within an
// AS only, RFC 6286 §2.2) has its session; when its connection and the
// speaker's collide, the one opened by the speaker of the larger AS stays
// (§2.3): here the speaker's, AS 65515 against 65002.
func TestSameIdentifierExternalPeerRFC6286(t *testing.T) {
	a, b := netip.MustParseAddr("127.144.8.1"), netip.MustParseAddr("127.144.8.2")
	// The speaker's connection, the peer saying the speaker's identifier.
	n, first, port := acceptedRaw(t, a, b, a)

	// The peer's own, with the same identifier: the speaker's AS is the
	// larger, so its connection stays and the peer's goes.
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	second := &rawPeer{t: t, c: c}
	second.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: a}.Append(nil))
	second.expect(wire.TypeOpen)
	second.expectNotification(wire.CodeCease, wire.SubCollision)

	first.send(wire.TypeKeepalive, nil)
	first.expect(wire.TypeUpdate) // the speaker's network: the session is up
	if ps := n.s.Peers(); ps[0].State != "Established" {
		t.Errorf("the peer with the speaker's identifier: %+v", ps[0])
	}
}
