package bgp

import (
	"net"
	"net/netip"
	"testing"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestRefusalNamed: a peer that refuses the speaker's OPEN (Bad Peer AS:
// it was told another ASN for the gateway) has the refusal named in the
// peer's last error, not only its numbers, so that the operator reads
// what to change.
func TestRefusalNamed(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.144.4")
	waitDialFailed(t, n)
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.expect(wire.TypeOpen)
	p.send(wire.TypeNotification, wire.Notification{Code: wire.CodeOpen, Subcode: wire.SubBadPeerAS}.Append(nil))
	want := "the peer sent a NOTIFICATION: OPEN message error, subcode 2 (bad peer AS)"
	if got := waitLastError(t, n, "the peer sent"); got != want {
		t.Errorf("last error %q, want %q", got, want)
	}
}

// TestRefusalData: a peer that refuses the speaker's OPEN for a
// capability it lacks (Unsupported Capability, RFC 5492 §5) has the
// capability it names shown in the peer's last error, in hex: here
// multiprotocol IPv6 unicast.
func TestRefusalData(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.144.10")
	waitDialFailed(t, n)
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.expect(wire.TypeOpen)
	p.send(wire.TypeNotification, wire.Notification{Code: wire.CodeOpen, Subcode: wire.SubUnsupportedCap, Data: []byte{1, 4, 0, 2, 0, 1}}.Append(nil))
	want := "the peer sent a NOTIFICATION: OPEN message error, subcode 7 (unsupported capability), data 01 04 00 02 00 01"
	if got := waitLastError(t, n, "the peer sent"); got != want {
		t.Errorf("last error %q, want %q", got, want)
	}
}
