package bgp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestUnsupportedCapabilityDataRFC5492Section5: a peer whose OPEN offers
// multiprotocol routes of another family only (IPv6 unicast), not IPv4
// unicast, is refused with Unsupported Capability, and the NOTIFICATION
// names the capability it lacks, as an OPEN carries it (RFC 5492 §5:
// multiprotocol, AFI 1, SAFI 1), so that the peer's log says what to
// enable.
func TestUnsupportedCapabilityDataRFC5492Section5(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.144.3")
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	a := addr.As4()
	// Version 4, AS 65002, hold time 30, its identifier; capabilities:
	// multiprotocol, AFI 2 (IPv6), SAFI 1.
	open := append([]byte{4, 0xfd, 0xea, 0, 30}, a[:]...)
	open = append(open, 8, 2, 6, 1, 4, 0, 2, 0, 1)
	p.send(wire.TypeOpen, open)
	p.expect(wire.TypeOpen)
	got := p.expectNotification(wire.CodeOpen, wire.SubUnsupportedCap)
	if want := []byte{1, 4, 0, 1, 0, 1}; !bytes.Equal(got.Data, want) {
		t.Errorf("Unsupported Capability data % x, want the IPv4 unicast capability % x", got.Data, want)
	}
}
