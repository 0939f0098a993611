package bgp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestConnectionsPerPeerBounded: a peer (or whatever reaches the speaker
// from its address) holds two connections at most, its session and one
// in collision with it (RFC 4271 §6.8); a third is told so (Cease,
// Connection Rejected, RFC 4486 §4) and closed, not given an OPEN and
// kept waiting for one. Once one of the two ends, the next connection is
// taken again, and the session goes on.
func TestConnectionsPerPeerBounded(t *testing.T) {
	n, addr, port := rawSpeaker(t, "127.144.1")
	dial := func() *rawPeer {
		t.Helper()
		c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, port)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return &rawPeer{t: t, c: c}
	}
	first, second := dial(), dial()
	first.expect(wire.TypeOpen)
	second.expect(wire.TypeOpen)
	for range 3 {
		dial().expectNotification(wire.CodeCease, wire.SubRejected)
	}

	// The first goes: the next connection is answered.
	first.c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n.s.mu.Lock()
		left := len(n.s.peers[addr].conns)
		n.s.mu.Unlock()
		if left == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed connection is not let go: %d open", left)
		}
	}
	dial().expect(wire.TypeOpen)

	// The second becomes the session.
	second.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: addr}.Append(nil))
	second.send(wire.TypeKeepalive, nil)
	second.expect(wire.TypeKeepalive)
	second.expect(wire.TypeUpdate) // the speaker's network
	if ps := n.s.Peers(); len(ps) != 1 || ps[0].State != "Established" {
		t.Errorf("peer after the rejected connections: %+v", ps)
	}
}
