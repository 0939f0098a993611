package bgp

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestRefusalNamed: a peer that refuses the speaker's OPEN (Bad Peer AS:
// it was told another ASN for the gateway) has the refusal named in the
// peer's last error, not only its numbers, so that the operator reads
// what to change.
func TestRefusalNamed(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.144.4")
	// Its one dial (the raw peer does not listen) fails first, so that
	// its error does not stand for the refusal's.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if ps := n.s.Peers(); len(ps) == 1 && ps[0].State == "Active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the speaker did not dial: %+v", n.s.Peers())
		}
	}
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.expect(wire.TypeOpen)
	p.send(wire.TypeNotification, wire.Notification{Code: wire.CodeOpen, Subcode: wire.SubBadPeerAS}.Append(nil))
	want := "the peer sent a NOTIFICATION: OPEN message error, subcode 2 (bad peer AS)"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ps := n.s.Peers()
		if len(ps) == 1 && strings.Contains(ps[0].LastError, "the peer sent") {
			if ps[0].LastError != want {
				t.Errorf("last error %q, want %q", ps[0].LastError, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refusal is not the peer's last error: %+v", ps)
		}
	}
}

// TestRefusalData: a peer that refuses the speaker's OPEN for a
// capability it lacks (Unsupported Capability, RFC 5492 §5) has the
// capability it names shown in the peer's last error, in hex: here
// multiprotocol IPv6 unicast.
func TestRefusalData(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.144.10")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if ps := n.s.Peers(); len(ps) == 1 && ps[0].State == "Active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the speaker did not dial: %+v", n.s.Peers())
		}
	}
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.expect(wire.TypeOpen)
	p.send(wire.TypeNotification, wire.Notification{Code: wire.CodeOpen, Subcode: wire.SubUnsupportedCap, Data: []byte{1, 4, 0, 2, 0, 1}}.Append(nil))
	want := "the peer sent a NOTIFICATION: OPEN message error, subcode 7 (unsupported capability), data 01 04 00 02 00 01"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ps := n.s.Peers()
		if len(ps) == 1 && strings.Contains(ps[0].LastError, "the peer sent") {
			if ps[0].LastError != want {
				t.Errorf("last error %q, want %q", ps[0].LastError, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refusal is not the peer's last error: %+v", ps)
		}
	}
}
