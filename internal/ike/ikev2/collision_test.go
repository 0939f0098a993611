package ikev2

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestPeerUsesItsRekeyedIKESAInCollision: both sides rekey the IKE SA at
// once (RFC 7296 §2.8.2), and b's rekey completes before a's request
// reaches it, so that b sees no collision: the new IKE SA of its rekey is
// b's, and b's child SA work, queued during its rekey, goes out on it at
// once. a, whose own rekey is still unanswered, has that SA too (it
// answered b's rekey) and finds there the child SA that b rekeys. It
// answered CHILD_SA_NOT_FOUND (RFC 7296 §2.25), whereupon b dropped the
// pair without a Delete and made a new one, and a was left with a pair
// the peer no longer had, in its data path beside the new one.
func TestPeerUsesItsRekeyedIKESAInCollision(t *testing.T) {
	n, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	before := a.established()[0]
	n.setPolicy(func(from, _ netip.AddrPort, d []byte) []time.Duration {
		h, _, err := wire.ParseHeader(d)
		switch {
		case err != nil || h.Flags&wire.FlagResponse != 0 || h.SPIi != before.SPIi:
		case from.Addr() == addrA && h.Exchange == wire.CreateChildSA:
			// a's rekey reaches b after b's own rekey has completed.
			return []time.Duration{300 * time.Millisecond}
		case from.Addr() == addrB && h.Exchange == wire.Informational:
			// b's Delete of the old SA comes after its work on the
			// new one (sent at once; the Delete may be lost once).
			return []time.Duration{100 * time.Millisecond}
		}
		return []time.Duration{0}
	})
	n.pause()
	rekeyIKE(a)
	b.onLoop(func(c *conn) {
		sa := c.established()
		sa.enqueue(task{kind: taskRekeyIKE})
		sa.kick()
		sa.queueRekeyChild(sa.children[0]) // waits behind the IKE SA rekey
	})
	n.waitBothRequests(t, 0)
	n.resume()
	waitFor(t, 10*time.Second, "one IKE SA with one rekeyed pair on both sides", func() bool {
		sa, sb := a.status().IKESAs, b.status().IKESAs
		if len(sa) != 1 || len(sb) != 1 || sa[0].SPIi == before.SPIi || sa[0].SPIi != sb[0].SPIi ||
			len(sa[0].Children) != 1 || len(sb[0].Children) != 1 {
			return false
		}
		ca, cb := sa[0].Children[0], sb[0].Children[0]
		return ca.InSPI != before.Children[0].InSPI && ca.InSPI == cb.OutSPI && a.dp.count() == 1 && b.dp.count() == 1
	})
	checkKeys(t, a, b)
}

// TestPeerRekeysChildWeDelete: the peer's rekey of a child SA pair whose
// Delete of ours is on its way (the pair reached a hard limit and left the
// data path at once) is answered TEMPORARY_FAILURE, as RFC 7296 §2.25.1
// has a rekey of a pair being closed answered. It was answered
// CHILD_SA_NOT_FOUND, which has the peer make a new pair from scratch
// (§2.25; strongSwan forces it) while this side makes one in place of the
// expired pair too: when the two requests crossed, both ends were left
// with two pairs for the same selectors, each rekeyed on schedule for as
// long as the IKE SA lived.
func TestPeerRekeysChildWeDelete(t *testing.T) {
	adj := func(p *PeerConfig) { p.RetransmitTimeout = 2 * time.Second }
	n, a, b := pair(t, adj, adj)
	waitUp(t, a, b, 1)
	old := onlyChild(t, a)
	var fromB atomic.Int32
	n.setPolicy(func(from, _ netip.AddrPort, d []byte) []time.Duration {
		h, _, err := wire.ParseHeader(d)
		switch {
		case err != nil || h.Flags&wire.FlagResponse != 0:
		case from.Addr() == addrA && h.Exchange == wire.Informational:
			// a's Delete of the expired pair arrives after b's rekey of it.
			return []time.Duration{100 * time.Millisecond}
		case from.Addr() == addrB && h.Exchange == wire.CreateChildSA && fromB.Add(1) > 1:
			// A new pair b asks for after its rekey crosses a's.
			return []time.Duration{300 * time.Millisecond}
		}
		return []time.Duration{0}
	})
	a.m.HardExpired(a.peer.Name, old.InSPI)
	waitFor(t, 5*time.Second, "the expired pair out of a's data path", func() bool { return a.dp.count() == 0 })
	b.onLoop(func(c *conn) {
		sa := c.established()
		sa.queueRekeyChild(sa.children[0])
		sa.kick()
	})
	waitUp(t, a, b, 1)
	// Settled: no second pair comes.
	time.Sleep(time.Second)
	waitUp(t, a, b, 1)
	if c := onlyChild(t, a); c.InSPI == old.InSPI {
		t.Fatalf("the expired child %08x is back", c.InSPI)
	}
	checkKeys(t, a, b)
}

// TestPeerDeletesIKESAWeRekey: the peer deletes the IKE SA while a rekey of
// ours under it, of the IKE SA or of a child SA, is unanswered, and our
// request reaches the peer only after it has ended the SA, so that no
// answer ever comes. RFC 7296 §2.25.2 has us answer the Delete and forget
// our rekey: the SA and its child SAs end at once, and the connection is
// negotiated again as after any Delete of the peer's, or, on demand (R8),
// waits for traffic. For the rekey of the IKE SA they stayed until the
// request's next retransmission was due (2 s here and by default, up to
// 32 s after some retransmissions): the child SA, which the peer no longer
// had, stayed in the data path, and an on-demand tunnel was negotiated
// again without traffic (the SA was not yet gone, deleted by the peer, when
// the reconnection was scheduled).
func TestPeerDeletesIKESAWeRekey(t *testing.T) {
	rekeys := []struct {
		name  string
		rekey func(*node)
	}{
		{"IKE SA rekey", rekeyIKE},
		{"child SA rekey", func(nd *node) {
			nd.onLoop(func(c *conn) {
				sa := c.established()
				sa.queueRekeyChild(sa.children[0])
				sa.kick()
			})
		}},
	}
	for _, tc := range rekeys {
		for _, onDemand := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, on demand %v", tc.name, onDemand), func(t *testing.T) {
				n, a, b := pair(t, func(p *PeerConfig) {
					p.RetransmitTimeout, p.OnDemand = 2*time.Second, onDemand
				}, func(p *PeerConfig) { p.RetransmitTimeout = 2 * time.Second })
				waitUp(t, a, b, 1)
				before := a.established()[0]
				n.setPolicy(func(from, _ netip.AddrPort, d []byte) []time.Duration {
					h, _, err := wire.ParseHeader(d)
					if err == nil && from.Addr() == addrA && h.SPIi == before.SPIi && isRequest(d, wire.CreateChildSA) {
						// a's rekey reaches b after b has ended the SA.
						return []time.Duration{300 * time.Millisecond}
					}
					return []time.Duration{0}
				})
				n.pause()
				tc.rekey(a)
				b.onLoop(func(c *conn) {
					sa := c.established()
					sa.enqueue(task{kind: taskDeleteIKE})
					sa.kick()
				})
				waitFor(t, 5*time.Second, "a's rekey and b's Delete sent", func() bool {
					var rekey, del bool
					for _, d := range n.datagrams() {
						rekey = rekey || d.from.Addr() == addrA && isRequest(d.data, wire.CreateChildSA)
						del = del || d.from.Addr() == addrB && isRequest(d.data, wire.Informational)
					}
					return rekey && del
				})
				mark := len(n.datagrams())
				initiated := func() bool {
					for _, d := range n.datagrams()[mark:] {
						if d.from.Addr() == addrA && isRequest(d.data, wire.IKESAInit) {
							return true
						}
					}
					return false
				}
				n.resume()
				start := time.Now()
				// Well under the rekey's retransmission time (2 s).
				old := before.Children[0].InSPI
				waitFor(t, time.Second, "a's child SA out of its data path", func() bool { return a.dp.ended(old) })
				if onDemand {
					waitFor(t, time.Second, "a to go idle", func() bool { return a.status().Idle })
					time.Sleep(5 * a.peer.ReconnectDelay)
					if initiated() || !a.status().Idle {
						t.Fatalf("the on-demand tunnel was negotiated again without traffic: %+v", a.status())
					}
					return
				}
				waitFor(t, time.Second-time.Since(start), "a to begin a new IKE SA", initiated)
				waitUp(t, a, b, 1)
				if e := a.established(); e[0].SPIi == before.SPIi {
					t.Fatalf("a kept the IKE SA the peer deleted: %+v", e)
				}
				checkKeys(t, a, b)
			})
		}
	}
}
