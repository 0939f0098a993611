package ikev2

import (
	"bytes"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestIncompleteFragmentsDiscarded covers reassembly (RFC 7383 §2.6) of
// a request that does not complete: its fragments are discarded after a
// while (fragmentWait), and the peer's retransmission, all of its
// fragments, is reassembled anew. An INFORMATIONAL request of the initiator's, in SKF fragments,
// reaches the responder all but its last fragment; a minute later the
// last one alone completes nothing, and the whole message sent again is
// answered. Before, the fragments were held until the SA's next
// fragmented request, for as long as the SA lived, and the last fragment
// completed the message a minute on.
func TestIncompleteFragmentsDiscarded(t *testing.T) {
	adj := func(p *PeerConfig) { p.FragmentSize = 200 }
	n, a, b := pair(t, adj, adj)
	waitUp(t, a, b, 1)
	var frags, authReq [][]byte
	var from, to = a.peer.Local, a.peer.Remote
	a.onLoop(func(c *conn) {
		sa := c.sas[len(c.sas)-1]
		var err error
		frags, err = sa.encode(wire.Informational, sa.nextID, false, []wire.Payload{&wire.VendorID{Data: bytes.Repeat([]byte{0x76}, 600)}})
		if err != nil {
			t.Error(err)
		}
		from, to = sa.local, sa.remote
	})
	if len(frags) < 3 {
		t.Fatalf("the request went in %d fragments, want several", len(frags))
	}
	for _, d := range n.datagrams() {
		if h, _, err := wire.ParseHeader(d.data); err == nil && d.from.Addr() == addrA && h.Exchange == wire.IKEAuth && h.Flags&wire.FlagResponse == 0 {
			authReq = append(authReq, d.data)
		}
	}
	informational := func() int {
		k := 0
		for _, d := range n.datagrams() {
			if h, _, err := wire.ParseHeader(d.data); err == nil && d.from.Addr() == addrB && h.Exchange == wire.Informational && h.Flags&wire.FlagResponse != 0 {
				k++
			}
		}
		return k
	}
	// A retransmitted IKE_AUTH request is answered once what came before
	// it on the connection's queue was handled, unless that completed the
	// INFORMATIONAL request (which moves the message ID on).
	answered := b.m.Stats().RetransmitsAnswered
	handled := func() {
		t.Helper()
		b.m.HandlePacket(to, from, authReq[0])
		answered++
		waitFor(t, 5*time.Second, "the datagrams to be handled", func() bool {
			return b.m.Stats().RetransmitsAnswered >= answered || informational() > 0
		})
	}

	for _, d := range frags[:len(frags)-1] {
		b.m.HandlePacket(to, from, d)
	}
	handled()
	later := time.Now().Add(time.Minute)
	b.onLoop(func(c *conn) {
		for _, sa := range c.sas {
			sa.tick(later)
		}
	})
	b.m.HandlePacket(to, from, frags[len(frags)-1])
	handled()
	if k := informational(); k != 0 {
		t.Fatalf("the last fragment a minute after the others completed the request: %d INFORMATIONAL responses", k)
	}
	for _, d := range frags {
		b.m.HandlePacket(to, from, d)
	}
	waitFor(t, 5*time.Second, "the request sent again whole to be answered", func() bool { return informational() == 1 })
}
