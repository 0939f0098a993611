package bgp

import (
	"net/netip"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestCollisionLossLeavesNoError: when the peer's connection wins a
// collision over the speaker's own (RFC 4271 §6.8: the peer's BGP
// identifier is the higher), the losing connection is told so (Cease,
// connection collision resolution) and closed; the peer's status shows
// the session that stays, and no error for the one that lost.
func TestCollisionLossLeavesNoError(t *testing.T) {
	a, b := netip.MustParseAddr("127.87.1.1"), netip.MustParseAddr("127.87.1.2")
	// The speaker's connection gets the peer's OPEN first: it is the one
	// that waits for the peer's KEEPALIVE.
	n, first, port := acceptedRaw(t, a, b, b)

	// The peer's own connection: its identifier is the higher, so its
	// connection stays and the speaker's goes.
	dialRaw(t, n, b, port)
	first.expectNotification(wire.CodeCease, wire.SubCollision)

	deadline := time.Now().Add(10 * time.Second)
	for {
		n.s.mu.Lock()
		p := n.s.peers[b]
		gone := len(p.conns) == 1 && p.established != nil
		n.s.mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the losing connection is not let go: %+v", n.s.Peers())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ps := n.s.Peers(); ps[0].State != "Established" || ps[0].LastError != "" {
		t.Errorf("after a collision lost by the speaker's connection: state %s, last error %q", ps[0].State, ps[0].LastError)
	}
}
