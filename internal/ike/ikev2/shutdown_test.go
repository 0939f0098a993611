package ikev2

import (
	"net/netip"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// startDPD starts a liveness check on the node's established IKE SA and
// returns its message ID: a request of ours is outstanding.
func (nd *node) startDPD(t testing.TB) uint32 {
	t.Helper()
	var id uint32
	started := false
	nd.onLoop(func(c *conn) {
		sa := c.established()
		if sa == nil || sa.pend != nil {
			return
		}
		id = sa.nextID
		sa.enqueue(task{kind: taskDPD})
		sa.kick()
		started = sa.pend != nil && sa.pend.id == id
	})
	if !started {
		t.Fatal("no liveness check started")
	}
	return id
}

// requestsFrom returns the message IDs of the requests of exch sent from
// addr, in the order they were sent (retransmissions included), with the
// index of each in n.datagrams().
func requestsFrom(n *fakeNet, addr netip.Addr, exch wire.ExchangeType) (ids []uint32, at []int) {
	for i, d := range n.datagrams() {
		h, _, err := wire.ParseHeader(d.data)
		if err == nil && d.from.Addr() == addr && h.Exchange == exch && h.Flags&wire.FlagResponse == 0 {
			ids, at = append(ids, h.MessageID), append(at, i)
		}
	}
	return ids, at
}

// TestCloseWaitsForOutstandingRequest covers RFC 7296 §2.3 at shutdown:
// with a request of ours outstanding (a liveness check the network holds
// up), Close sends its Delete only once that request is answered, and the
// peer, which takes requests in order, deletes the SA. Sent at once, the
// Delete overtook the check, and the peer dropped it as out of order: it
// kept the SA and its child SAs until its own liveness checks failed.
func TestCloseWaitsForOutstandingRequest(t *testing.T) {
	n, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	var dpd uint32
	n.setPolicy(func(from, _ netip.AddrPort, b []byte) []time.Duration {
		h, _, err := wire.ParseHeader(b)
		if err == nil && from.Addr() == addrA && h.Exchange == wire.Informational && h.Flags&wire.FlagResponse == 0 && h.MessageID == dpd {
			return []time.Duration{300 * time.Millisecond}
		}
		return []time.Duration{0}
	})
	a.onLoop(func(c *conn) { dpd = c.established().nextID })
	if got := a.startDPD(t); got != dpd {
		t.Fatalf("liveness check with message ID %d, want %d", got, dpd)
	}
	done := make(chan struct{})
	go func() { a.m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs")
	}
	if a.dp.count() != 0 {
		t.Errorf("%d child SAs left after Close", a.dp.count())
	}
	waitFor(t, 10*time.Second, "b to take a's Delete", func() bool { return b.status().State == "down" && b.dp.count() == 0 })
	ids, at := requestsFrom(n, addrA, wire.Informational)
	answered := -1
	for i, d := range n.datagrams() {
		h, _, err := wire.ParseHeader(d.data)
		if err == nil && d.from.Addr() == addrB && h.Exchange == wire.Informational && h.Flags&wire.FlagResponse != 0 && h.MessageID == dpd {
			answered = i
			break
		}
	}
	for i, id := range ids {
		if id > dpd && (answered < 0 || at[i] < answered) {
			t.Errorf("request %d sent before the response to request %d (window of one, RFC 7296 §2.3)", id, dpd)
		}
	}
}

// TestCloseWithSilentPeer: when the outstanding request is never
// answered, Close still returns soon, takes the child SAs out of the data
// path and sends no further request (RFC 7296 §2.3): the peer is not
// told, as it would not be of a Delete it could not take.
func TestCloseWithSilentPeer(t *testing.T) {
	n, a, b := pair(t, func(p *PeerConfig) { p.RetransmitTries = 10 }, nil)
	waitUp(t, a, b, 1)
	n.setPolicy(func(from, _ netip.AddrPort, _ []byte) []time.Duration {
		if from.Addr() == addrB {
			return nil // b's answers are lost
		}
		return []time.Duration{0}
	})
	dpd := a.startDPD(t)
	done := make(chan struct{})
	go func() { a.m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs while the peer is silent")
	}
	if a.dp.count() != 0 {
		t.Errorf("%d child SAs left after Close", a.dp.count())
	}
	ids, _ := requestsFrom(n, addrA, wire.Informational)
	for _, id := range ids {
		if id != dpd {
			t.Errorf("request %d sent while request %d was unanswered (window of one, RFC 7296 §2.3)", id, dpd)
		}
	}
}

// TestCloseDuringRekeyWithSilentPeer: a peer that stops answering in the
// middle of a rekey holds Close no longer than shutdownWait, not for the
// rekey's retransmissions (about a minute here), and no request but the
// rekey's goes to it meanwhile (RFC 7296 §2.3: a window of one). With the
// Delete of the IKE SA a rekey replaced unanswered, Close does not wait:
// that SA's Delete is out already, the new SA's goes at once, and the
// peer takes it (it waited shutdownWait for the answer to the old one's).
func TestCloseDuringRekeyWithSilentPeer(t *testing.T) {
	for _, tc := range []struct {
		name string
		// rekey makes a's request go unanswered; it returns once it is
		// outstanding.
		rekey func(t *testing.T, n *fakeNet, a *node)
		// told: b takes a Delete of a's at Close.
		told bool
	}{
		{"child SA rekey", func(t *testing.T, n *fakeNet, a *node) {
			n.detach(addrB)
			a.m.SoftExpired(a.peer.Name, a.established()[0].Children[0].InSPI)
			waitFor(t, 10*time.Second, "the rekey request", func() bool { return n.requests(wire.CreateChildSA) > 0 })
		}, false},
		{"IKE SA rekey", func(t *testing.T, n *fakeNet, a *node) {
			n.detach(addrB)
			rekeyIKE(a)
			waitFor(t, 10*time.Second, "the rekey request", func() bool { return n.requests(wire.CreateChildSA) > 0 })
		}, false},
		{"the old IKE SA's Delete", func(t *testing.T, n *fakeNet, a *node) {
			n.setPolicy(func(from, _ netip.AddrPort, b []byte) []time.Duration {
				h, _, err := wire.ParseHeader(b)
				if err == nil && from.Addr() == addrB && h.Exchange == wire.Informational {
					return nil // b's answers to Informational requests are lost
				}
				return []time.Duration{0}
			})
			old := a.established()[0]
			rekeyIKE(a)
			waitFor(t, 10*time.Second, "the rekey done and the old IKE SA deleting", func() bool {
				st := a.status().IKESAs
				return len(st) == 2 && st[0].State == "established" && st[0].SPIi != old.SPIi && st[1].State == "rekeyed"
			})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, a, b := pair(t, func(p *PeerConfig) {
				p.RetransmitTimeout = time.Second
				p.RetransmitTries = 5 // given up after 63 s
			}, nil)
			waitUp(t, a, b, 1)
			tc.rekey(t, n, a)
			mark := len(n.datagrams())
			start := time.Now()
			a.m.Close()
			took := time.Since(start)
			if took > 30*time.Second {
				t.Errorf("Close took %v with the peer silent", took)
			}
			if tc.told && took >= shutdownWait {
				t.Errorf("Close took %v: it waited for the answer to a Delete it had sent", took)
			}
			if a.dp.count() != 0 {
				t.Errorf("%d child SAs left after Close", a.dp.count())
			}
			if tc.told {
				waitFor(t, 10*time.Second, "b to take a's Delete", func() bool { return b.status().State == "down" && b.dp.count() == 0 })
			}
			for _, d := range n.datagrams()[mark:] {
				h, _, err := wire.ParseHeader(d.data)
				if err == nil && d.from.Addr() == addrA && h.Exchange == wire.CreateChildSA && h.Flags&wire.FlagResponse == 0 {
					continue // the rekey's retransmissions
				}
				if !tc.told && err == nil && d.from.Addr() == addrA {
					t.Errorf("%v request %d sent while the rekey was unanswered (window of one, RFC 7296 §2.3)", h.Exchange, h.MessageID)
				}
			}
		})
	}
}

// TestReconfigLeavesTheDeleteToWait: a peer removed by Reconfig (or
// started again by it, or by Reset) while a request of ours to it is
// unanswered has its child SAs out of the data path when Reconfig
// returns, and its Delete waits for the answer (RFC 7296 §2.3) after
// Reconfig has returned, not in it: a gateway's reconfiguration, which
// the data plane runs for one gateway after another under its lock,
// waited up to shutdownWait for each such peer. The network holds the
// request until Reconfig has returned; the peer still takes the Delete
// then, and a peer started again at once does not collide with its
// stopping self.
func TestReconfigLeavesTheDeleteToWait(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, a *node)
		// again: the peer is configured again and connects anew.
		again bool
	}{
		{"removed", func(t *testing.T, a *node) {
			if err := a.m.Reconfig(nil); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"removed and added again at once", func(t *testing.T, a *node) {
			if err := a.m.Reconfig(nil); err != nil {
				t.Fatal(err)
			}
			if err := a.m.Reconfig([]PeerConfig{a.peer}); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"reset", func(t *testing.T, a *node) {
			if !a.m.Reset(a.peer.Name) {
				t.Fatal("Reset of a configured peer reported none")
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, a, b := pair(t, nil, nil)
			waitUp(t, a, b, 1)
			old := a.established()[0]
			n.pause()
			dpd := a.startDPD(t)
			tc.stop(t, a)
			if a.dp.count() != 0 {
				t.Errorf("%d child SAs left in the data path after the stop", a.dp.count())
			}
			ids, _ := requestsFrom(n, addrA, wire.Informational)
			for _, id := range ids {
				if id != dpd {
					t.Errorf("request %d sent while request %d was unanswered (window of one, RFC 7296 §2.3)", id, dpd)
				}
			}
			n.resume()
			if !tc.again {
				waitFor(t, 10*time.Second, "b to take a's Delete", func() bool { return b.status().State == "down" && b.dp.count() == 0 })
				return
			}
			waitFor(t, 10*time.Second, "one new IKE SA on both sides", func() bool {
				ea, eb := a.established(), b.established()
				return len(ea) == 1 && len(eb) == 1 && ea[0].SPIi != old.SPIi && eb[0].SPIi == ea[0].SPIi &&
					len(b.status().IKESAs) == 1 && a.dp.count() == 1 && b.dp.count() == 1
			})
			checkKeys(t, a, b)
		})
	}
}
