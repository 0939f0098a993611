package ikev2

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestNewChildRetriedAfterTemporaryFailure: a CREATE_CHILD_SA for a new
// pair answered TEMPORARY_FAILURE (RFC 7296 §2.25: the peer is busy, as
// strongSwan is while it rekeys its IKE SA) is tried again a little
// later: a route-based tunnel has no traffic to ask for it, and its IKE
// SA would stay up without a child.
func TestNewChildRetriedAfterTemporaryFailure(t *testing.T) {
	_, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	// b is busy (as strongSwan is while it rekeys its IKE SA): it answers
	// CREATE_CHILD_SA with TEMPORARY_FAILURE (RFC 7296 §2.25).
	b.onLoop(func(c *conn) { c.established().state = stateDeleting })
	// a lost its pair and creates a new one (the CHILD_SA_NOT_FOUND and
	// hard-expiry paths do exactly this).
	a.onLoop(func(c *conn) {
		sa := c.established()
		ch := sa.children[0]
		sa.removeChild(ch)
		sa.queueCreateChild(ch.cfgIndex)
		sa.kick()
	})
	time.Sleep(500 * time.Millisecond)
	b.onLoop(func(c *conn) {
		for _, sa := range c.sas {
			if sa.state == stateDeleting {
				sa.state = stateEstablished // b is fine again
			}
		}
	})
	wait := retryDelay + 10*time.Second
	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		var children, queued int
		a.onLoop(func(c *conn) {
			sa := c.established()
			children, queued = len(sa.children), len(sa.queue)
		})
		if children > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("IKE SA established with %d child SAs and %d queued tasks %v after TEMPORARY_FAILURE: not tried again", children, queued, wait)
		}
	}
}

// TestIKERekeyWaitsForChildExchange: the peer's rekey of the IKE SA while
// our rekey of a child is in flight on it (its first request lost) is
// answered TEMPORARY_FAILURE (RFC 7296 §2.25.2), so that our exchange is
// not lost with the old SA and the child is rekeyed, not left half way.
func TestIKERekeyWaitsForChildExchange(t *testing.T) {
	n, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	var dropped atomic.Bool
	n.setPolicy(func(from, to netip.AddrPort, m []byte) []time.Duration {
		h, _, err := wire.ParseHeader(m)
		if err == nil && from.Addr() == addrA && h.Exchange == wire.CreateChildSA &&
			h.Flags&wire.FlagResponse == 0 && dropped.CompareAndSwap(false, true) {
			return nil // a's child rekey request is lost once
		}
		return []time.Duration{0}
	})
	in := onlyChild(t, a).InSPI
	a.m.SoftExpired(a.peer.Name, in)
	waitFor(t, 2*time.Second, "a's request dropped", dropped.Load)
	rekeyIKE(b)
	waitFor(t, 5*time.Second, "one IKE SA each side", func() bool {
		return len(a.status().IKESAs) == 1 && len(b.status().IKESAs) == 1
	})
	time.Sleep(time.Second)
	var st childState
	a.onLoop(func(c *conn) { st = c.established().children[0].state })
	a.m.SoftExpired(a.peer.Name, in) // the data path asks again
	// Rekeyed: one IKE SA with one child, not the old one (two for a
	// moment while the old is deleted).
	rekeyed := func() bool {
		sas := a.established()
		return len(sas) == 1 && len(sas[0].Children) == 1 && sas[0].Children[0].InSPI != in
	}
	for deadline := time.Now().Add(10 * time.Second); !rekeyed(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("child %08x never rekeyed; state %d (childRekeying=%d); %+v", in, st, childRekeying, a.status())
		}
	}
}

// TestPeerIKERekeyAnsweredBeforeQueuedWork: child work queued on an IKE
// SA that the peer rekeys (a child's rekey waiting behind a liveness
// check) goes out on the new IKE SA only after the response that makes
// that SA at the peer (RFC 7296 §2.18): sent before it, on a link that
// keeps order, the peer drops it for an unknown SPI and it waits a
// retransmission.
func TestPeerIKERekeyAnsweredBeforeQueuedWork(t *testing.T) {
	n, a, b := pair(t, nil, func(p *PeerConfig) { p.RetransmitTimeout = 2 * time.Second })
	waitUp(t, a, b, 1)
	before := a.established()[0]
	n.setPolicy(func(from, _ netip.AddrPort, d []byte) []time.Duration {
		h, _, err := wire.ParseHeader(d)
		if err == nil && from.Addr() == addrA && h.SPIi == before.SPIi && h.Exchange == wire.Informational && h.Flags&wire.FlagResponse != 0 {
			// b's liveness check stays in flight until a deletes the
			// old SA, however late a's rekey comes on a loaded machine.
			return nil
		}
		return []time.Duration{0}
	})
	// The others arrive in the order they were sent.
	n.keepOrder(func(netip.AddrPort, netip.AddrPort, []byte) bool { return true })
	b.onLoop(func(c *conn) {
		sa := c.established()
		sa.enqueue(task{kind: taskDPD})
		sa.kick()
		sa.queueRekeyChild(sa.children[0]) // waits behind the liveness check
	})
	rekeyIKE(a)
	waitFor(t, 10*time.Second, "the child rekeyed under the new IKE SA", func() bool {
		e := a.established()
		return len(e) == 1 && e[0].SPIi != before.SPIi && len(e[0].Children) == 1 && e[0].Children[0].Rekeyed && b.dp.count() == 1
	})
	if u := a.m.Stats().UnknownSPI; u > 0 {
		t.Errorf("a dropped %d requests for an unknown IKE SA: b sent on the new SA before its rekey response", u)
	}
}
