package ikev2

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// suites are the proposals of the requirements, IKE and ESP alike (the ESP
// group gives PFS to CREATE_CHILD_SA).
var suites = []struct{ ike, esp string }{
	{"aes256gcm16-prfsha256-ecp256", "aes256gcm16-ecp256"},
	{"aes128gcm16-prfsha384-ecp384", "aes128gcm16-ecp384"},
	{"aes256-sha256-modp2048", "aes256-sha256-modp2048"},
	{"aes128-sha1-modp2048", "aes128-sha1-modp2048"},
	{"aes256gcm16-prfsha256-x25519", "aes256gcm16-x25519"},
}

// withSuite configures the proposals of a suite.
func withSuite(t testing.TB, ike, esp string) func(*PeerConfig) {
	return func(p *PeerConfig) {
		p.IKEProposals = mustProposals(t, wire.ProtocolIKE, ike)
		p.ESPProposals = mustProposals(t, wire.ProtocolESP, esp)
	}
}

// onlyChild returns the only child SA of a node's established IKE SA.
func onlyChild(t testing.TB, nd *node) ChildStatus {
	t.Helper()
	sas := nd.established()
	if len(sas) != 1 || len(sas[0].Children) != 1 {
		t.Fatalf("want one IKE SA with one child SA, have %+v", nd.status())
	}
	return sas[0].Children[0]
}

// TestEstablish covers IKE_SA_INIT and IKE_AUTH (RFC 7296 §1.2) with each
// suite: both sides end with the same IKE SA and child SA keys that match
// (§2.14, §2.17); the child SA of IKE_AUTH has no PFS group (§1.2).
func TestEstablish(t *testing.T) {
	for _, s := range suites {
		t.Run("1.2 "+s.ike, func(t *testing.T) {
			adj := withSuite(t, s.ike, s.esp)
			_, a, b := pair(t, adj, adj)
			waitUp(t, a, b, 1)
			checkKeys(t, a, b)
			sa := a.established()[0]
			if sa.Proposal != s.ike {
				t.Errorf("proposal %q, want %q", sa.Proposal, s.ike)
			}
			if !sa.Initiator || b.established()[0].Initiator {
				t.Errorf("initiator flags %v and %v", sa.Initiator, b.established()[0].Initiator)
			}
			if sa.NATLocal || sa.NATRemote || sa.Children[0].Encap || sa.Local.Port() != 500 {
				t.Errorf("NAT traversal without a NAT: %+v", sa)
			}
			if got, want := sa.Children[0].Proposal, s.esp[:strings.LastIndex(s.esp, "-")]; got != want {
				t.Errorf("child proposal %q, want %q", got, want)
			}
			if st := a.status(); st.State != "established" || st.LastError != "" {
				t.Errorf("status %+v", st)
			}
			if a.dp.list()[0].Standby || b.dp.list()[0].Standby {
				t.Error("a pair of IKE_AUTH is on standby: it has no older pair to send on")
			}
		})
	}
}

// TestRekeyChild covers child SA rekeying (RFC 7296 §1.3.3) with and
// without PFS, started by either side through ipsec.Events.SoftExpired:
// the new pair replaces the old one on both sides, with new keys (§2.17).
func TestRekeyChild(t *testing.T) {
	for _, tc := range []struct {
		name, esp string
		byB       bool
	}{
		{"1.3.3 PFS by initiator", "aes256gcm16-ecp256", false},
		{"1.3.3 no PFS by initiator", "aes256gcm16", false},
		{"1.3.3 PFS by responder", "aes128-sha256-x25519", true},
		{"1.3.3 no PFS by responder", "aes128-sha1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adj := withSuite(t, "aes256gcm16-prfsha256-x25519", tc.esp)
			_, a, b := pair(t, adj, adj)
			waitUp(t, a, b, 1)
			old := onlyChild(t, a)
			by := a
			if tc.byB {
				by = b
			}
			in := onlyChild(t, by).InSPI
			by.m.SoftExpired(by.peer.Name, in)
			waitFor(t, 5*time.Second, "the rekeyed pair alone on both sides", func() bool {
				ea, eb := a.established(), b.established()
				return len(ea) == 1 && len(eb) == 1 && len(ea[0].Children) == 1 && len(eb[0].Children) == 1 &&
					ea[0].Children[0].Rekeyed && eb[0].Children[0].Rekeyed && a.dp.count() == 1 && b.dp.count() == 1
			})
			checkKeys(t, a, b)
			got := onlyChild(t, a)
			if got.InSPI == old.InSPI || got.OutSPI == old.OutSPI {
				t.Errorf("SPIs unchanged: %+v", got)
			}
			if got.Proposal != tc.esp {
				t.Errorf("rekeyed pair %q, want %q (PFS group kept)", got.Proposal, tc.esp)
			}
			if !a.dp.ended(old.InSPI) || !b.dp.ended(old.OutSPI) {
				t.Errorf("old pair not removed: %v %v", a.dp.removes, b.dp.removes)
			}
			// RFC 7296 §2.8: the side that answered installs the new pair
			// before the side that asked has the answer.
			for _, nd := range []*node{a, b} {
				if got, want := nd.dp.list()[0].Standby, nd != by; got != want {
					t.Errorf("%s's new pair on standby %v, want %v", nd.peer.Name, got, want)
				}
			}
		})
	}
}

// rekeyIKE asks the node to rekey its established IKE SA.
func rekeyIKE(nd *node) {
	nd.onLoop(func(c *conn) {
		if sa := c.established(); sa != nil {
			sa.enqueue(task{kind: taskRekeyIKE})
			sa.kick()
		}
	})
}

// TestRekeyIKE covers IKE SA rekeying (RFC 7296 §1.3.2, §2.18) by either
// side: the child SAs move to the new IKE SA, the old one is deleted, and
// the new one works (a child rekey under it succeeds).
func TestRekeyIKE(t *testing.T) {
	for _, byB := range []bool{false, true} {
		name := "2.18 by initiator"
		if byB {
			name = "2.18 by responder"
		}
		t.Run(name, func(t *testing.T) {
			adj := withSuite(t, "aes256-sha256-modp2048", "aes256-sha256")
			_, a, b := pair(t, adj, adj)
			waitUp(t, a, b, 1)
			first := a.established()[0]
			by := a
			if byB {
				by = b
			}
			rekeyIKE(by)
			waitFor(t, 5*time.Second, "one rekeyed IKE SA on both sides", func() bool {
				sa, sb := a.status().IKESAs, b.status().IKESAs
				return len(sa) == 1 && len(sb) == 1 && sa[0].SPIi != first.SPIi && sa[0].SPIi == sb[0].SPIi &&
					sa[0].State == "established" && sb[0].State == "established" && !sa[0].LastRekey.IsZero()
			})
			waitUp(t, a, b, 1)
			sa := a.established()[0]
			if sa.Children[0].InSPI != first.Children[0].InSPI {
				t.Errorf("child SA changed: %+v", sa.Children[0])
			}
			if sa.Initiator == byB {
				t.Errorf("the rekey initiator is the new IKE SA's initiator (§2.18): %+v", sa)
			}
			checkKeys(t, a, b)
			a.m.SoftExpired(a.peer.Name, sa.Children[0].InSPI)
			waitFor(t, 5*time.Second, "a child rekey under the new IKE SA", func() bool {
				e := a.established()
				return len(e) == 1 && len(e[0].Children) == 1 && e[0].Children[0].Rekeyed && b.dp.count() == 1
			})
			checkKeys(t, a, b)
		})
	}
}

// TestRekeyCollision covers simultaneous rekeying (RFC 7296 §2.8.1 for
// child SAs, §2.8.2 for IKE SAs): both sides rekey at once; the SA made
// with the lowest nonce is deleted by its creator and one pair (one IKE
// SA) remains on both sides with matching keys. Several rounds cover both
// outcomes of the nonce comparison.
func TestRekeyCollision(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		reorder bool
	}{{"2.8.1 child SA", false}, {"2.8.2 IKE SA", false}, {"2.8.1 child SA reordered", true}, {"2.8.2 IKE SA reordered", true}} {
		kind := strings.TrimSuffix(tc.kind, " reordered")
		t.Run(tc.kind, func(t *testing.T) {
			adj := withSuite(t, "aes256gcm16-prfsha256-x25519", "aes256gcm16-x25519")
			n, a, b := pair(t, adj, adj)
			waitUp(t, a, b, 1)
			if tc.reorder {
				n.setPolicy(lossy(uint64(time.Now().UnixNano()), 0, 0.1, 20*time.Millisecond))
			}
			for round := range 6 {
				before := a.established()[0]
				n.pause()
				mark := len(n.datagrams()) // what is sent from here on is held
				if kind == "2.8.1 child SA" {
					a.m.SoftExpired(a.peer.Name, before.Children[0].InSPI)
					b.m.SoftExpired(b.peer.Name, before.Children[0].OutSPI)
				} else {
					rekeyIKE(a)
					rekeyIKE(b)
				}
				n.waitBothRequests(t, mark)
				n.resume()
				waitFor(t, 5*time.Second, "one pair under one IKE SA on both sides", func() bool {
					sa, sb := a.status().IKESAs, b.status().IKESAs
					if len(sa) != 1 || len(sb) != 1 || sa[0].SPIi != sb[0].SPIi || len(sa[0].Children) != 1 || len(sb[0].Children) != 1 {
						return false
					}
					ca, cb := sa[0].Children[0], sb[0].Children[0]
					changed := ca.InSPI != before.Children[0].InSPI
					if kind == "2.8.2 IKE SA" {
						changed = sa[0].SPIi != before.SPIi
					}
					return changed && ca.InSPI == cb.OutSPI && a.dp.count() == 1 && b.dp.count() == 1
				})
				checkKeys(t, a, b)
				t.Logf("round %d: %s", round, a.established()[0].Proposal)
			}
		})
	}
}

// TestRedundantIKESANotDeletedByPeer: after an IKE SA rekey collision
// (RFC 7296 §2.8.2) whose loser's Delete of the redundant SA it made never
// arrives, the winner deletes that SA itself once a request would have been
// given up, as it does an SA the peer rekeyed and did not delete. It stayed
// established beside the new one, with no child SA, until its lifetime.
func TestRedundantIKESANotDeletedByPeer(t *testing.T) {
	adj := func(p *PeerConfig) {
		p.RetransmitTimeout = 200 * time.Millisecond
		p.RetransmitTries = 2
	}
	n, a, b := pair(t, adj, adj)
	waitUp(t, a, b, 1)
	before := a.established()[0]
	n.setPolicy(func(_, _ netip.AddrPort, d []byte) []time.Duration {
		h, _, err := wire.ParseHeader(d)
		switch {
		case err != nil:
		case h.Exchange == wire.Informational && h.Flags&wire.FlagResponse == 0 && h.SPIi != before.SPIi:
			// Only the Deletes of the old SA get through: the winner's of
			// the SA replaced; not the loser's of the redundant SA,
			// whoever wins.
			return nil
		case h.Exchange == wire.CreateChildSA && h.Flags&wire.FlagResponse != 0:
			// Each side has the other's request before its response.
			return []time.Duration{300 * time.Millisecond}
		}
		return []time.Duration{0}
	})
	n.pause()
	rekeyIKE(a)
	rekeyIKE(b)
	n.waitBothRequests(t, 0)
	n.resume()
	waitFor(t, 30*time.Second, "one new IKE SA with the child SA on both sides", func() bool {
		sa, sb := a.status().IKESAs, b.status().IKESAs
		return len(sa) == 1 && len(sb) == 1 && sa[0].SPIi != before.SPIi && sa[0].SPIi == sb[0].SPIi &&
			sa[0].State == "established" && sb[0].State == "established" &&
			len(sa[0].Children) == 1 && len(sb[0].Children) == 1 && a.dp.count() == 1 && b.dp.count() == 1
	})
	checkKeys(t, a, b)
	// The winner kept the SA of its own rekey and told the peer of the
	// redundant one.
	winner, final := a, a.established()[0]
	if !final.Initiator {
		winner = b
	}
	deletes := 0
	for _, d := range n.datagrams() {
		h, _, err := wire.ParseHeader(d.data)
		if err == nil && d.from.Addr() == winner.addr && h.Exchange == wire.Informational &&
			h.Flags&wire.FlagResponse == 0 && h.SPIi != before.SPIi && h.SPIi != final.SPIi {
			deletes++
		}
	}
	if deletes == 0 {
		t.Errorf("the winner (%v) removed the redundant IKE SA without a Delete", winner.addr)
	}
}

// TestRedundantChildNotDeletedByPeer: after a child SA rekey collision
// (RFC 7296 §2.8.1) whose loser's Delete of the redundant pair it made
// never arrives, the winner deletes that pair itself once a request would
// have been given up (giveUpAfter, 3.5 s here), as it does a pair the peer
// rekeyed and did not delete, with a Delete. It stayed in the data path
// beside the new pair until its lifetime, rekeyed on schedule.
func TestRedundantChildNotDeletedByPeer(t *testing.T) {
	adj := func(p *PeerConfig) {
		p.RetransmitTimeout = 500 * time.Millisecond
		p.RetransmitTries = 2
	}
	n, a, b := pair(t, adj, adj)
	waitUp(t, a, b, 1)
	before := a.established()[0]
	oldA, oldB := before.Children[0].InSPI, before.Children[0].OutSPI
	// What each node receives under the IKE SA, opened as it would.
	opener := map[netip.Addr]suite.Cipher{}
	for _, nd := range []*node{a, b} {
		nd.onLoop(func(c *conn) {
			sa := c.established()
			_, in, err := sa.keys.Ciphers(sa.suite, sa.initiator)
			if err != nil {
				t.Error(err)
			}
			opener[nd.addr] = in
		})
	}
	// deleted returns the SPI of the child SA pair a Delete in d names.
	deleted := func(to netip.Addr, d []byte) (uint32, bool) {
		msg, err := wire.ParseMessage(d)
		if err != nil || len(msg.Payloads) == 0 {
			return 0, false
		}
		sk, ok := msg.Payloads[len(msg.Payloads)-1].(*wire.Encrypted)
		if !ok {
			return 0, false
		}
		plain, err := opener[to].Open(nil, d[:len(d)-len(sk.Body)], sk.Body)
		if err != nil {
			return 0, false
		}
		ps, _ := wire.ParsePayloads(sk.NextPayload, plain)
		for _, p := range ps {
			if del, ok := p.(*wire.Delete); ok && del.Protocol == wire.ProtocolESP && len(del.SPIs) == 1 {
				return binary.BigEndian.Uint32(del.SPIs[0]), true
			}
		}
		return 0, false
	}
	var mu sync.Mutex // guards loser and winnerDeletes
	var loser netip.Addr
	winnerDeletes := 0
	n.setPolicy(func(from, to netip.AddrPort, d []byte) []time.Duration {
		h, _, err := wire.ParseHeader(d)
		switch {
		case err != nil:
		case h.Exchange == wire.CreateChildSA && h.Flags&wire.FlagResponse != 0:
			// Each side has the other's request before its response.
			return []time.Duration{300 * time.Millisecond}
		case h.Exchange == wire.Informational && h.Flags&wire.FlagResponse == 0:
			spi, ok := deleted(to.Addr(), d)
			if !ok || spi == oldA || spi == oldB {
				break // the winner's Delete of the old pair gets through
			}
			mu.Lock()
			defer mu.Unlock()
			// The first Delete of a new pair is the loser's, of the
			// redundant pair it made: lost, whenever sent.
			if !loser.IsValid() {
				loser = from.Addr()
			}
			if from.Addr() == loser {
				return nil
			}
			winnerDeletes++
		}
		return []time.Duration{0}
	})
	n.pause()
	a.m.SoftExpired(a.peer.Name, oldA)
	b.m.SoftExpired(b.peer.Name, oldB)
	n.waitBothRequests(t, 0)
	n.resume()
	var lost *node
	waitFor(t, 30*time.Second, "the loser's Delete of the redundant pair", func() bool {
		mu.Lock()
		defer mu.Unlock()
		switch loser {
		case addrA:
			lost = a
		case addrB:
			lost = b
		}
		return lost != nil
	})
	// The loser waits for the answer to its Delete past the test, as a
	// peer that never sent one would not give up on us.
	lost.onLoop(func(c *conn) {
		if p := c.established().pend; p != nil && p.exchange == wire.Informational {
			p.retryAt = time.Now().Add(time.Hour)
		}
	})
	waitFor(t, 30*time.Second, "one new pair on both sides", func() bool {
		sa, sb := a.status().IKESAs, b.status().IKESAs
		if len(sa) != 1 || len(sb) != 1 || len(sa[0].Children) != 1 || len(sb[0].Children) != 1 {
			return false
		}
		ca, cb := sa[0].Children[0], sb[0].Children[0]
		return ca.InSPI != oldA && ca.InSPI == cb.OutSPI && a.dp.count() == 1 && b.dp.count() == 1
	})
	checkKeys(t, a, b)
	mu.Lock()
	defer mu.Unlock()
	if winnerDeletes == 0 {
		t.Errorf("the winner removed the redundant pair without a Delete (the loser was %v)", loser)
	}
}

// TestDPD covers liveness checks (RFC 7296 §1.4, §2.4): when the peer stops
// answering, the empty INFORMATIONAL requests time out after the
// retransmissions (§2.1) and the IKE SA and its child SAs are deleted; an
// initiating side then connects again, and its INITIAL_CONTACT makes the
// peer drop the stale SA.
func TestDPD(t *testing.T) {
	n, a, b := pair(t, func(p *PeerConfig) {
		p.DPDInterval = 100 * time.Millisecond
		p.RetransmitTimeout = 50 * time.Millisecond
		p.RetransmitTries = 2
	}, nil)
	waitUp(t, a, b, 1)
	stale := b.established()[0]
	// Liveness checks are answered while b lives.
	time.Sleep(400 * time.Millisecond)
	if len(a.established()) != 1 || a.established()[0].SPIi != stale.SPIi {
		t.Fatalf("IKE SA lost while the peer answers: %+v", a.status())
	}
	n.detach(addrB)
	waitFor(t, 5*time.Second, "a to give up on b", func() bool {
		return len(a.established()) == 0 && a.dp.count() == 0
	})
	if st := a.status(); !strings.HasPrefix(st.LastError, "the peer did not answer the liveness check (DPD) for 350ms (message ID ") {
		t.Errorf("last error %q", st.LastError)
	}
	n.attach(addrB, b.m)
	waitFor(t, 5*time.Second, "a new IKE SA replacing b's stale one", func() bool {
		sb := b.status().IKESAs
		return len(sb) == 1 && sb[0].SPIi != stale.SPIi && sb[0].State == "established" && b.dp.count() == 1
	})
	waitUp(t, a, b, 1)
	checkKeys(t, a, b)
}

// TestDPDAfterSilence: ESP from the peer proves it alive (RFC 7296 §2.4:
// liveness is checked when there was only outgoing traffic), so while it
// flows no liveness check goes out, however long the peer sends no IKE
// message; once it stops, the check goes out after DPDInterval, and a peer
// that answers neither is found dead as before.
func TestDPDAfterSilence(t *testing.T) {
	n, a, b := pair(t, func(p *PeerConfig) {
		p.DPDInterval = 100 * time.Millisecond
		p.RetransmitTimeout = 50 * time.Millisecond
		p.RetransmitTries = 2
	}, nil)
	a.dp.espFlow(true)
	waitUp(t, a, b, 1)
	checks := func() (k int) {
		for _, d := range n.datagrams() {
			if h, _, err := wire.ParseHeader(d.data); err == nil && d.from.Addr() == addrA && h.Exchange == wire.Informational && h.Flags&wire.FlagResponse == 0 {
				k++
			}
		}
		return k
	}
	// Ten intervals of ESP and no IKE message from b.
	time.Sleep(time.Second)
	if k, c := checks(), a.m.Stats().LivenessChecks; k != 0 || c != 0 {
		t.Fatalf("%d liveness checks sent while ESP from the peer flowed, %d counted", k, c)
	}
	a.dp.espFlow(false)
	waitFor(t, 5*time.Second, "a liveness check once ESP stopped", func() bool { return checks() > 0 })
	if c := a.m.Stats().LivenessChecks; c == 0 {
		t.Error("the liveness check sent once ESP stopped was not counted")
	}
	if len(a.established()) != 1 {
		t.Fatalf("IKE SA lost while the peer answers: %+v", a.status())
	}
	n.detach(addrB)
	waitFor(t, 5*time.Second, "a to give up on b", func() bool {
		return len(a.established()) == 0 && a.dp.count() == 0
	})
	if st := a.status(); !strings.Contains(st.LastError, "liveness check (DPD)") {
		t.Errorf("last error %q", st.LastError)
	}
}

// TestDPDByMode: when the liveness checks (RFC 7296 §1.4, §2.4) of a
// connection in each mode go unanswered after the retransmissions, the IKE
// SA and all its child SAs go and the status says why; a Default or
// InitiatorOnly connection then initiates again, after its reconnect
// delay, and a ResponderOnly one waits for the peer.
func TestDPDByMode(t *testing.T) {
	pfx := netip.MustParsePrefix
	here, there := []netip.Prefix{pfx("10.1.0.0/16")}, []netip.Prefix{pfx("10.2.0.0/16"), pfx("10.4.0.0/16")}
	for _, mode := range []ConnectionMode{ModeDefault, ModeInitiatorOnly, ModeResponderOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			dpd := func(p *PeerConfig) {
				p.DPDInterval = 100 * time.Millisecond
				p.RetransmitTimeout = 50 * time.Millisecond
				p.RetransmitTries = 2
			}
			// a initiates the IKE SA; the side that checks liveness, in
			// mode, is a unless mode is ResponderOnly.
			adjA := func(p *PeerConfig) { p.Children = PolicyBased(here, there) }
			adjB := func(p *PeerConfig) { p.Children = PolicyBased(there, here) }
			if mode == ModeResponderOnly {
				adjB = func(p *PeerConfig) { p.Children = PolicyBased(there, here); dpd(p) }
			} else {
				adjA = func(p *PeerConfig) { p.Children = PolicyBased(here, there); dpd(p); p.Mode = mode }
			}
			n, a, b := pair(t, adjA, adjB)
			waitUp(t, a, b, 2)
			checker, other := a, b
			if mode == ModeResponderOnly {
				checker, other = b, a
			}
			n.detach(other.addr)
			waitFor(t, 10*time.Second, "the IKE SA and its child SAs gone", func() bool {
				return len(checker.status().IKESAs) == 0 && checker.dp.count() == 0
			})
			if st := checker.status(); !strings.Contains(st.LastError, "the peer did not answer the liveness check (DPD) for ") {
				t.Errorf("status reason %q", st.LastError)
			}
			lastCheck := time.Time{}
			for _, d := range n.datagrams() {
				if h, _, err := wire.ParseHeader(d.data); err == nil && d.from.Addr() == checker.addr && h.Exchange == wire.Informational {
					lastCheck = d.at
				}
			}
			n.attach(other.addr, other.m)
			if mode == ModeResponderOnly {
				// Ten reconnect delays without an IKE_SA_INIT of its own.
				deadline := time.Now().Add(10 * checker.peer.ReconnectDelay)
				for time.Now().Before(deadline) {
					if k := n.requests(wire.IKESAInit); k != 1 {
						t.Fatalf("a ResponderOnly connection initiated after its peer went silent: %d IKE_SA_INIT requests", k)
					}
					time.Sleep(20 * time.Millisecond)
				}
				return
			}
			var again time.Time
			waitFor(t, 10*time.Second, "a new IKE_SA_INIT", func() bool {
				for _, d := range n.datagrams() {
					if h, _, err := wire.ParseHeader(d.data); err == nil && h.Exchange == wire.IKESAInit && d.at.After(lastCheck) && d.from.Addr() == checker.addr {
						again = d.at
						return true
					}
				}
				return false
			})
			if wait := again.Sub(lastCheck); wait < checker.peer.ReconnectDelay {
				t.Errorf("initiated %v after the last liveness check, before the reconnect delay %v", wait, checker.peer.ReconnectDelay)
			}
			waitFor(t, 10*time.Second, "the new IKE SA replacing the peer's stale one", func() bool {
				so := other.status().IKESAs
				return len(so) == 1 && so[0].State == "established" && other.dp.count() == 2 && checker.dp.count() == 2
			})
			waitUp(t, a, b, 2)
		})
	}
}

// TestUnansweredRequestNamed: a request other than a liveness check that
// goes unanswered after the retransmissions (RFC 7296 §2.4) ends the IKE
// SA as a dead peer does, and the status names in words what was asked:
// the rekey of which child SA, the creation of a child SA for which pair,
// the rekey of the IKE SA, not a liveness check nor only the exchange.
func TestUnansweredRequestNamed(t *testing.T) {
	pfx := netip.MustParsePrefix
	here, there := []netip.Prefix{pfx("10.1.0.0/16")}, []netip.Prefix{pfx("10.2.0.0/16"), pfx("10.4.0.0/16")}
	for _, tc := range []struct {
		name string
		// ask makes a send its request to the silent b and returns what
		// the status should name.
		ask func(t *testing.T, a *node) string
	}{
		{"child SA rekey", func(t *testing.T, a *node) string {
			ch := a.established()[0].Children[0]
			a.m.SoftExpired(a.peer.Name, ch.InSPI)
			return fmt.Sprintf("the rekey of child SA 0x%08x", ch.InSPI)
		}},
		{"new child SA", func(t *testing.T, a *node) string {
			// The pair 10.1.0.0/16 <-> 10.4.0.0/16 went and comes again.
			a.onLoop(func(c *conn) {
				sa := c.established()
				for _, ch := range slices.Clone(sa.children) {
					if ch.cfgIndex == 1 {
						sa.removeChild(ch)
					}
				}
				sa.queueCreateChild(1)
				sa.kick()
			})
			return "the creation of a child SA (10.1.0.0/16 <-> 10.4.0.0/16)"
		}},
		{"IKE SA rekey", func(t *testing.T, a *node) string {
			rekeyIKE(a)
			return "the rekey of the IKE SA"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, a, b := pair(t, func(p *PeerConfig) {
				p.Children = PolicyBased(here, there)
				p.RetransmitTimeout = 50 * time.Millisecond
				p.RetransmitTries = 2
			}, func(p *PeerConfig) { p.Children = PolicyBased(there, here) })
			waitUp(t, a, b, 2)
			n.detach(addrB)
			want := "the peer did not answer " + tc.ask(t, a) + " for 350ms (message ID "
			waitFor(t, 10*time.Second, "a to give up on b", func() bool {
				return len(a.status().IKESAs) == 0 && a.dp.count() == 0
			})
			if st := a.status(); !strings.HasPrefix(st.LastError, want) {
				t.Errorf("status reason %q, want %q...", st.LastError, want)
			}
		})
	}
}

// TestReset: Manager.Reset deletes the peer's IKE SA, so the peer drops it
// too (RFC 7296 §1.4.1), and the initiating side negotiates a new one.
func TestReset(t *testing.T) {
	_, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	old := a.established()[0]
	if !a.m.Reset(a.peer.Name) {
		t.Fatal("Reset of a configured peer reported none")
	}
	waitFor(t, 5*time.Second, "one new IKE SA on both sides", func() bool {
		ea, eb := a.established(), b.established()
		return len(ea) == 1 && len(eb) == 1 && ea[0].SPIi != old.SPIi && eb[0].SPIi == ea[0].SPIi && a.dp.count() == 1 && b.dp.count() == 1
	})
	checkKeys(t, a, b)
	// The peer sends with the old child SA no more; it opens what still
	// arrives with it for drainWait.
	if !b.dp.ended(old.Children[0].OutSPI) {
		t.Errorf("the peer kept the old child SA %08x", old.Children[0].OutSPI)
	}
	if a.m.Reset("no-such-peer") {
		t.Error("Reset of an unknown peer reported one")
	}
}

// TestRetransmission covers retransmission (RFC 7296 §2.1) and the message
// ID window (§2.2, §2.3) on a network that drops, duplicates and reorders
// datagrams: establishing, rekeying a child SA and rekeying the IKE SA all
// complete, retransmitted requests are answered from the response cache.
func TestRetransmission(t *testing.T) {
	adj := func(p *PeerConfig) { p.RetransmitTries = 7 }
	n, a, b := pair(t, adj, adj)
	n.setPolicy(lossy(7, 0.2, 0.2, 30*time.Millisecond))
	waitUp(t, a, b, 1)
	a.m.SoftExpired(a.peer.Name, onlyChild(t, a).InSPI)
	waitFor(t, 10*time.Second, "the rekeyed child", func() bool {
		e := a.established()
		return len(e) == 1 && len(e[0].Children) == 1 && e[0].Children[0].Rekeyed && b.dp.count() == 1 && a.dp.count() == 1
	})
	spi := a.established()[0].SPIi
	rekeyIKE(b)
	waitFor(t, 10*time.Second, "the rekeyed IKE SA", func() bool {
		sa, sb := a.status().IKESAs, b.status().IKESAs
		return len(sa) == 1 && len(sb) == 1 && sa[0].SPIi != spi && sa[0].SPIi == sb[0].SPIi && sa[0].State == "established"
	})
	n.setPolicy(nil)
	waitUp(t, a, b, 1)
	checkKeys(t, a, b)
	sa, sb := a.m.Stats(), b.m.Stats()
	if sa.Retransmits+sb.Retransmits == 0 {
		t.Errorf("no retransmissions on a lossy network: %+v %+v", sa, sb)
	}
	t.Logf("a: %+v", sa)
	t.Logf("b: %+v", sb)
}

// TestRetransmissionBackoff: an unanswered request is sent again after
// RetransmitTimeout, then after twice as long each time (RFC 7296 §2.4),
// RetransmitTries times, and then the peer counts as dead.
func TestRetransmissionBackoff(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	pa := basePeer("to-b", addrA, addrB)
	pa.Mode = ModeResponderOnly // initiates only when told
	a := newNode(t, n, "a", addrA, Config{}, pa)
	a.onLoop(func(c *conn) { c.initiate() })
	waitFor(t, 5*time.Second, "the request and its retransmissions to end", func() bool {
		return len(n.datagrams()) == 1+pa.RetransmitTries && a.status().LastError != ""
	})
	d := n.datagrams()
	for i := 1; i < len(d); i++ {
		if !bytes.Equal(d[i].data, d[0].data) {
			t.Fatalf("datagram %d is not the same request", i)
		}
		gap, want := d[i].at.Sub(d[i-1].at), pa.RetransmitTimeout<<(i-1)
		// Timers never fire early (but for their granularity); a busy
		// machine may make them late.
		if gap < want*9/10 || gap > 2*want+500*time.Millisecond {
			t.Errorf("retransmission %d after %v, want %v", i, gap, want)
		}
	}
}

// TestRetransmissionCapped: the wait between retransmissions doubles
// (RFC 7296 §2.4) up to MaxRetransmitTimeout and stays there, so that the
// most tries a configuration allows (20, of 2 s) declare a silent peer
// dead within hours, not after weeks. The loop's clock is stepped from
// one retransmission to the next.
func TestRetransmissionCapped(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	pa := basePeer("to-b", addrA, addrB)
	pa.Mode = ModeResponderOnly // initiates only when told
	pa.RetransmitTimeout, pa.RetransmitTries = 2*time.Second, 20
	a := newNode(t, n, "a", addrA, Config{}, pa)
	var waits []time.Duration
	a.onLoop(func(c *conn) {
		c.initiate()
		sa := c.sas[0]
		at := sa.pend.retryAt.Add(-sa.pend.timeout) // the request left
		for sa.state != stateDead && len(waits) <= pa.RetransmitTries {
			next := sa.pend.retryAt
			waits = append(waits, next.Sub(at))
			at = next
			sa.tick(next)
		}
	})
	if len(waits) != 1+pa.RetransmitTries {
		t.Fatalf("%d waits before the peer was dead, want %d", len(waits), 1+pa.RetransmitTries)
	}
	var total time.Duration
	for i, w := range waits {
		if want := min(pa.RetransmitTimeout<<i, MaxRetransmitTimeout); w != want {
			t.Errorf("wait %d: %v, want %v", i, w, want)
		}
		total += w
	}
	if total > 12*time.Hour {
		t.Errorf("the peer was dead %v after the request", total)
	}
	if d := len(n.datagrams()); d != 1+pa.RetransmitTries {
		t.Errorf("%d datagrams sent, want the request and %d retransmissions", d, pa.RetransmitTries)
	}
}

// TestInvalidMajorVersion covers RFC 7296 §2.5 and §1.5: a request of a
// higher major version is dropped and answered with an unauthenticated
// INVALID_MAJOR_VERSION of version 2.0 that copies its SPIs, exchange
// type and message ID, with the Response flag; a response, a lower
// version, a request shorter than the answer (which would amplify a
// spoofed flood) and one whose length field is not its length are not
// answered.
func TestInvalidMajorVersion(t *testing.T) {
	// raw is an IKE header of version major.0 with a body of size octets.
	raw := func(major uint8, exch wire.ExchangeType, flags wire.Flags, id uint32, size int) []byte {
		b := binary.BigEndian.AppendUint64(nil, 0x0102030405060708)
		b = binary.BigEndian.AppendUint64(b, 0x1112131415161718)
		b = append(b, 33, major<<4, byte(exch), byte(flags))
		b = binary.BigEndian.AppendUint32(b, id)
		b = binary.BigEndian.AppendUint32(b, uint32(wire.HeaderLen+size))
		return append(b, make([]byte, size)...)
	}
	for _, tc := range []struct {
		name     string
		msg      []byte
		answered bool
	}{
		{"2.5 version 3 IKE_SA_INIT", raw(3, wire.IKESAInit, wire.FlagInitiator, 0, 200), true},
		{"2.5 version 15 INFORMATIONAL", raw(15, wire.Informational, 0, 7, 60), true},
		{"1.5 a response", raw(3, wire.IKESAInit, wire.FlagResponse, 0, 200), false},
		{"2.5 a lower version", raw(0, wire.IKESAInit, wire.FlagInitiator, 0, 200), false},
		{"shorter than the answer", raw(3, wire.IKESAInit, wire.FlagInitiator, 0, 4), false},
		{"length field of another length", append(raw(3, wire.IKESAInit, wire.FlagInitiator, 0, 200), 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLeaks(t)
			n := newFakeNet(t)
			pa := basePeer("to-b", addrA, addrB)
			pa.Mode = ModeResponderOnly // sends nothing of its own
			a := newNode(t, n, "a", addrA, Config{}, pa)
			local, from := netip.AddrPortFrom(addrA, 500), netip.MustParseAddrPort("203.0.113.7:500")
			a.m.HandlePacket(local, from, tc.msg)
			d := n.datagrams()
			if !tc.answered {
				if len(d) != 0 {
					t.Fatalf("answered with %x", d[0].data)
				}
				return
			}
			if len(d) != 1 || d[0].from != local || d[0].to != from {
				t.Fatalf("sent %+v, want one answer from %v to %v", d, local, from)
			}
			if len(d[0].data) > len(tc.msg) {
				t.Errorf("an answer of %d octets to a request of %d", len(d[0].data), len(tc.msg))
			}
			resp, err := wire.ParseMessage(d[0].data)
			if err != nil {
				t.Fatal(err)
			}
			req := wire.Header{SPIi: binary.BigEndian.Uint64(tc.msg[0:8]), SPIr: binary.BigEndian.Uint64(tc.msg[8:16]),
				Exchange: wire.ExchangeType(tc.msg[18]), MessageID: binary.BigEndian.Uint32(tc.msg[20:24])}
			h := resp.Header
			if h.MajorVersion != 2 || h.MinorVersion != 0 || h.Flags != wire.FlagResponse || h.SPIi != req.SPIi || h.SPIr != req.SPIr ||
				h.Exchange != req.Exchange || h.MessageID != req.MessageID {
				t.Errorf("answer header %+v to request %+v", h, req)
			}
			if nt := notify(resp.Payloads, wire.InvalidMajorVersion); nt == nil || len(resp.Payloads) != 1 || len(nt.Data) != 0 {
				t.Errorf("answer payloads %v, want INVALID_MAJOR_VERSION alone, without data", resp.Payloads)
			}
		})
	}
}

// TestCookie covers the cookie exchange (RFC 7296 §2.6): a responder that
// demands cookies answers the first IKE_SA_INIT with one, keeps no state,
// and accepts the retry that carries it.
func TestCookie(t *testing.T) {
	t.Run("2.6 always", func(t *testing.T) { testCookie(t, -1, 0) })
	t.Run("2.6 threshold reached", func(t *testing.T) { testCookie(t, 3, 3) })
	t.Run("2.6 below threshold", func(t *testing.T) { testCookie(t, 3, 2) })
}

// testCookie runs a handshake against a responder with the cookie
// threshold given and that many half-open SAs already.
func testCookie(t *testing.T, threshold int, halfOpen int64) {
	checkLeaks(t)
	n := newFakeNet(t)
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	pa.Mode, pb.Mode = ModeResponderOnly, ModeResponderOnly
	b := newNode(t, n, "b", addrB, Config{CookieThreshold: threshold}, pb)
	a := newNode(t, n, "a", addrA, Config{}, pa)
	b.m.halfOpen.Add(halfOpen)
	a.onLoop(func(c *conn) { c.initiate() })
	waitUp(t, a, b, 1)
	b.m.halfOpen.Add(-halfOpen)
	want := 1
	if threshold > 0 && halfOpen < int64(threshold) {
		want = 0
	}
	checkKeys(t, a, b)
	if got := b.m.Stats().CookiesSent; got != uint64(want) {
		t.Errorf("%d cookies sent, want %d", got, want)
	}
	// The retry starts with the COOKIE notification.
	var retries int
	for _, d := range n.datagrams() {
		m, err := wire.ParseMessage(d.data)
		if err != nil || m.Header.Exchange != wire.IKESAInit || m.Header.Flags&wire.FlagResponse != 0 {
			continue
		}
		if nt, ok := m.Payloads[0].(*wire.Notify); ok && nt.NotifyType == wire.Cookie {
			retries++
		}
	}
	if retries != want {
		t.Errorf("%d IKE_SA_INIT requests with a cookie, want %d", retries, want)
	}
}

// TestKEGroupTaken: a responder that accepts the group of the initiator's
// KE payload takes it, even when it prefers another, instead of asking for
// that other with INVALID_KE_PAYLOAD (RFC 7296 §1.2): one IKE_SA_INIT.
func TestKEGroupTaken(t *testing.T) {
	n, a, b := pair(t,
		withSuite(t, "aes256gcm16-prfsha256-modp2048-ecp256", "aes256gcm16"),
		withSuite(t, "aes256gcm16-prfsha256-ecp256-modp2048", "aes256gcm16"))
	waitUp(t, a, b, 1)
	if got := a.established()[0].Proposal; got != "aes256gcm16-prfsha256-modp2048" {
		t.Errorf("IKE SA %q, want the group of the KE payload", got)
	}
	if inits := n.distinctRequests(wire.IKESAInit); inits != 1 {
		t.Errorf("%d IKE_SA_INIT requests, want 1", inits)
	}
}

// TestKEGroupTakenInCreateChildSA: the responder of a CREATE_CHILD_SA that
// rekeys a child SA with PFS, or the IKE SA, takes the group of the
// request's KE payload when it accepts it, instead of asking for the one it
// prefers with INVALID_KE_PAYLOAD (RFC 7296 §1.3): one request each.
func TestKEGroupTakenInCreateChildSA(t *testing.T) {
	n, a, b := pair(t,
		withSuite(t, "aes256gcm16-prfsha256-modp2048-ecp256", "aes256gcm16-modp2048-ecp256"),
		withSuite(t, "aes256gcm16-prfsha256-ecp256-modp2048", "aes256gcm16-ecp256-modp2048"))
	waitUp(t, a, b, 1)
	old := onlyChild(t, a)
	a.m.SoftExpired(a.peer.Name, old.InSPI)
	waitFor(t, 5*time.Second, "the rekeyed child SA", func() bool {
		ea := a.established()
		return len(ea) == 1 && len(ea[0].Children) == 1 && ea[0].Children[0].InSPI != old.InSPI && a.dp.count() == 1 && b.dp.count() == 1
	})
	if got := onlyChild(t, a).Proposal; got != "aes256gcm16-modp2048" {
		t.Errorf("child SA %q, want the group of the KE payload", got)
	}
	if k := n.distinctRequests(wire.CreateChildSA); k != 1 {
		t.Errorf("%d CREATE_CHILD_SA requests for one child SA rekey, want 1", k)
	}
	before := a.established()[0].SPIi
	rekeyIKE(a)
	waitFor(t, 5*time.Second, "the rekeyed IKE SA", func() bool {
		ea, eb := a.established(), b.established()
		return len(ea) == 1 && len(eb) == 1 && ea[0].SPIi != before && eb[0].SPIi == ea[0].SPIi
	})
	if got := a.established()[0].Proposal; got != "aes256gcm16-prfsha256-modp2048" {
		t.Errorf("IKE SA %q, want the group of the KE payload", got)
	}
	if k := n.distinctRequests(wire.CreateChildSA); k != 2 {
		t.Errorf("%d CREATE_CHILD_SA requests after an IKE SA rekey, want 2", k)
	}
	checkKeys(t, a, b)
}

// TestCookieUnderFlood: a flood of IKE_SA_INIT requests spoofed from a
// configured peer's own address makes the responder ask for cookies
// (RFC 7296 §2.6) before that peer's half-open slots are full, so the real
// peer, which can answer a cookie, still gets its IKE SA.
func TestCookieUnderFlood(t *testing.T) {
	checkLeaks(t)
	// A genuine IKE_SA_INIT from a's address, captured on a network of its
	// own where nobody answers.
	void := newFakeNet(t)
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	pa.Mode, pb.Mode = ModeResponderOnly, ModeResponderOnly
	ghost := newNode(t, void, "ghost", addrA, Config{}, pa)
	ghost.onLoop(func(c *conn) { c.initiate() })
	waitFor(t, 5*time.Second, "an IKE_SA_INIT to copy", func() bool { return len(void.datagrams()) > 0 })
	template := void.datagrams()[0].data

	n := newFakeNet(t)
	b := newNode(t, n, "b", addrB, Config{}, pb)
	a := newNode(t, n, "a", addrA, Config{}, pa)
	n.detach(addrA) // the answers to the spoofed requests go nowhere
	spoof := n.endpoint()
	for i := range 64 {
		m := bytes.Clone(template)
		binary.BigEndian.PutUint64(m[:8], 0xf100d00000000000|uint64(i))
		spoof.SendIKE(netip.AddrPortFrom(addrA, 500), netip.AddrPortFrom(addrB, 500), m)
	}
	waitFor(t, 5*time.Second, "the flood to be answered", func() bool { return b.m.Stats().Sent >= 64 })
	if st := b.m.Stats(); st.CookiesSent < 64-uint64(b.m.cfg.MaxHalfOpen) || st.QueueFull != 0 {
		t.Errorf("%d of 64 spoofed requests got a cookie, %d were dropped", st.CookiesSent, st.QueueFull)
	}
	n.attach(addrA, a.m)
	a.onLoop(func(c *conn) { c.initiate() })
	waitUp(t, a, b, 1)
	checkKeys(t, a, b)
}

// TestInvalidKE covers INVALID_KE_PAYLOAD (RFC 7296 §1.2 for IKE_SA_INIT,
// §1.3 for CREATE_CHILD_SA): the initiator guesses a group the responder
// does not take and retries with the one it asks for.
func TestInvalidKE(t *testing.T) {
	_, a, b := pair(t,
		withSuite(t, "aes256gcm16-prfsha256-ecp256-x25519", "aes256gcm16-ecp256-x25519"),
		withSuite(t, "aes256gcm16-prfsha256-x25519", "aes256gcm16-x25519"))
	waitUp(t, a, b, 1)
	if got := a.established()[0].Proposal; got != "aes256gcm16-prfsha256-x25519" {
		t.Errorf("IKE SA %q", got)
	}
	a.m.SoftExpired(a.peer.Name, onlyChild(t, a).InSPI)
	waitFor(t, 5*time.Second, "the rekeyed pair with PFS", func() bool {
		e := a.established()
		return len(e) == 1 && len(e[0].Children) == 1 && e[0].Children[0].Rekeyed && b.dp.count() == 1
	})
	if got := onlyChild(t, a).Proposal; got != "aes256gcm16-x25519" {
		t.Errorf("child SA %q", got)
	}
	checkKeys(t, a, b)
}

// TestRefusedInitForgotten: an IKE_SA_INIT response that would end the
// exchange but is followed by an acceptable one (RFC 7296 §2.21.1: it is
// not authenticated) is forgotten once that one is taken. A second
// INVALID_KE_PAYLOAD for the group already retried with (the answer to a
// copy of the first request, §1.2), or a forged error, was remembered:
// the IKE SA came up, and the first request of it that had to be sent
// again (here a liveness check whose answer is lost once) ended it as a
// failed IKE_SA_INIT, its child SA with it, with that refusal as the
// connection's status reason.
func TestRefusedInitForgotten(t *testing.T) {
	for _, tc := range []struct {
		name string
		adjA func(*PeerConfig)
		dup  bool // the responder's INVALID_KE_PAYLOAD arrives twice
		// forged, if set, answers each IKE_SA_INIT request of the
		// initiator first, from someone on the path.
		forged wire.NotifyType
	}{
		{name: "1.2 INVALID_KE_PAYLOAD answered twice", adjA: withSuite(t, "aes256gcm16-prfsha256-ecp256-x25519", "aes256gcm16"), dup: true},
		{name: "2.21.1 forged error", forged: wire.NoProposalChosen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, a, b := pair(t, func(p *PeerConfig) {
				p.Mode = ModeResponderOnly // initiates only when told, below
				if tc.adjA != nil {
					tc.adjA(p)
				}
			}, withSuite(t, "aes256gcm16-prfsha256-x25519", "aes256gcm16"))
			var mu sync.Mutex // guards lost
			lost := 0
			n.setPolicy(func(from, to netip.AddrPort, msg []byte) []time.Duration {
				h, _, err := wire.ParseHeader(msg)
				switch {
				case err != nil:
				case from.Addr() == addrA && h.Exchange == wire.IKESAInit && tc.forged != 0:
					forged, err := errorResponse(wire.Header{SPIi: h.SPIi, Exchange: wire.IKESAInit}, &wire.Notify{NotifyType: tc.forged})
					if err != nil {
						t.Error(err)
					}
					a.m.HandlePacket(from, to, forged)
				case from.Addr() == addrB && h.Exchange == wire.IKESAInit && h.SPIr == 0:
					if tc.dup {
						return []time.Duration{0, 0}
					}
				case from.Addr() == addrB && h.Exchange == wire.IKESAInit:
					// The responder's answer comes after the refusals.
					return []time.Duration{50 * time.Millisecond}
				case from.Addr() == addrB && h.Exchange == wire.Informational && h.Flags&wire.FlagResponse != 0:
					mu.Lock()
					defer mu.Unlock()
					if lost++; lost == 1 {
						return nil
					}
				}
				return []time.Duration{0}
			})
			a.onLoop(func(c *conn) { c.initiate() })
			waitUp(t, a, b, 1)
			before := a.established()[0]
			a.onLoop(func(c *conn) {
				sa := c.established()
				sa.enqueue(task{kind: taskDPD})
				sa.kick()
			})
			waitFor(t, 5*time.Second, "the liveness check sent again and answered, or the IKE SA gone", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return lost >= 2 || len(a.established()) == 0
			})
			time.Sleep(100 * time.Millisecond)
			st := a.status()
			if len(st.IKESAs) != 1 || st.IKESAs[0].SPIi != before.SPIi || st.IKESAs[0].State != "established" || a.dp.count() != 1 {
				t.Errorf("IKE SA %016x_i and its child SA not kept after a retransmission: %+v, %d child SAs (reason %q)",
					before.SPIi, st.IKESAs, a.dp.count(), st.LastError)
			}
			if st.LastError != "" {
				t.Errorf("status reason %q", st.LastError)
			}
		})
	}
}

// TestFragmentation covers IKE fragmentation (RFC 7383): with a small
// fragment size, IKE_AUTH and the CREATE_CHILD_SA exchanges travel as SKF
// fragments no larger than that size, both ways, also when some are lost.
func TestFragmentation(t *testing.T) {
	const size = 200
	adj := func(p *PeerConfig) {
		p.FragmentSize = size
		p.RetransmitTries = 7
		p.IKEProposals = mustProposals(t, wire.ProtocolIKE, "aes256-sha256-modp2048")
		p.ESPProposals = mustProposals(t, wire.ProtocolESP, "aes256-sha256-modp2048")
	}
	n, a, b := pair(t, adj, adj)
	n.setPolicy(lossy(3, 0.1, 0, 0))
	waitUp(t, a, b, 1)
	b.m.SoftExpired(b.peer.Name, onlyChild(t, b).InSPI)
	waitFor(t, 10*time.Second, "the rekeyed pair", func() bool {
		e := a.established()
		return len(e) == 1 && len(e[0].Children) == 1 && e[0].Children[0].Rekeyed && b.dp.count() == 1 && a.dp.count() == 1
	})
	n.setPolicy(nil)
	checkKeys(t, a, b)
	frags := map[netip.Addr]int{}
	for _, d := range n.datagrams() {
		h, _, err := wire.ParseHeader(d.data)
		if err != nil || h.Exchange == wire.IKESAInit {
			continue
		}
		if len(d.data) > size {
			t.Errorf("%v message of %d octets exceeds the fragment size", h.Exchange, len(d.data))
		}
		if h.NextPayload == wire.PayloadSKF {
			frags[d.from.Addr()]++
		}
	}
	if frags[addrA] == 0 || frags[addrB] == 0 {
		t.Errorf("fragments sent: %v, want some from both sides", frags)
	}
}

// TestNarrowing covers traffic selector narrowing by the responder (RFC 7296
// §2.9) and TS_UNACCEPTABLE when nothing is left.
func TestNarrowing(t *testing.T) {
	pfx := netip.MustParsePrefix
	t.Run("2.9 narrowed to the responder's selectors", func(t *testing.T) {
		_, a, b := pair(t, func(p *PeerConfig) {
			p.Children = []ChildConfig{{LocalTS: []netip.Prefix{pfx("10.0.0.0/8")}, RemoteTS: []netip.Prefix{pfx("0.0.0.0/0")}}}
		}, func(p *PeerConfig) {
			p.Children = []ChildConfig{{LocalTS: []netip.Prefix{pfx("192.168.1.0/24")}, RemoteTS: []netip.Prefix{pfx("10.1.0.0/16")}}}
		})
		waitUp(t, a, b, 1)
		checkKeys(t, a, b)
		ca, cb := onlyChild(t, a), onlyChild(t, b)
		if !slices.Equal(ca.LocalTS, []netip.Prefix{pfx("10.1.0.0/16")}) || !slices.Equal(ca.RemoteTS, []netip.Prefix{pfx("192.168.1.0/24")}) {
			t.Errorf("initiator's selectors %v <-> %v", ca.LocalTS, ca.RemoteTS)
		}
		if !slices.Equal(cb.LocalTS, ca.RemoteTS) || !slices.Equal(cb.RemoteTS, ca.LocalTS) {
			t.Errorf("responder's selectors %v <-> %v", cb.LocalTS, cb.RemoteTS)
		}
		for _, c := range a.dp.list() {
			if !slices.Equal(c.LocalTS, ca.LocalTS) || !slices.Equal(c.RemoteTS, ca.RemoteTS) {
				t.Errorf("data path got %v <-> %v", c.LocalTS, c.RemoteTS)
			}
		}
	})
	t.Run("2.9 TS_UNACCEPTABLE", func(t *testing.T) {
		_, a, b := pair(t, func(p *PeerConfig) {
			p.Children = []ChildConfig{{LocalTS: []netip.Prefix{pfx("10.0.0.0/8")}, RemoteTS: []netip.Prefix{pfx("0.0.0.0/0")}}}
		}, func(p *PeerConfig) {
			p.Children = []ChildConfig{{LocalTS: []netip.Prefix{pfx("192.168.1.0/24")}, RemoteTS: []netip.Prefix{pfx("172.16.0.0/12")}}}
		})
		waitFor(t, 5*time.Second, "the IKE SA without a child", func() bool {
			return len(a.established()) == 1 && len(b.established()) == 1 && strings.Contains(a.status().LastError, "TS_UNACCEPTABLE")
		})
		if a.dp.count() != 0 || b.dp.count() != 0 {
			t.Errorf("child SAs installed")
		}
	})
}

// TestInitialContact covers INITIAL_CONTACT (RFC 7296 §2.4): a peer that
// restarts without telling sends it with its new IKE SA, and the old IKE SA
// and its child SAs are removed.
func TestInitialContact(t *testing.T) {
	n, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	stale := b.established()[0]
	// a crashes: nothing it sends any more arrives.
	n.setPolicy(func(from, _ netip.AddrPort, _ []byte) []time.Duration {
		if from.Addr() == addrA {
			return nil
		}
		return []time.Duration{0}
	})
	n.detach(addrA)
	a.m.Close()
	n.setPolicy(nil)
	a2 := newNode(t, n, "a2", addrA, Config{}, a.peer)
	waitFor(t, 5*time.Second, "b to keep only the new IKE SA", func() bool {
		sb := b.status().IKESAs
		return len(sb) == 1 && sb[0].SPIi != stale.SPIi && sb[0].State == "established" && b.dp.count() == 1
	})
	waitUp(t, a2, b, 1)
	checkKeys(t, a2, b)
	if !slices.Contains(b.dp.removes, stale.Children[0].InSPI) {
		t.Errorf("stale child SA %08x not removed", stale.Children[0].InSPI)
	}
}

// TestDelete covers deletes (RFC 7296 §1.4.1): of one child SA pair, whose
// response deletes the peer's half, and of the IKE SA when a peer is
// removed from the configuration, which takes the child SAs along.
func TestDelete(t *testing.T) {
	pfx := netip.MustParsePrefix
	policy := func(p *PeerConfig) {
		p.Children = PolicyBased([]netip.Prefix{pfx("10.1.0.0/16")}, []netip.Prefix{pfx("10.2.0.0/16"), pfx("10.4.0.0/16")})
	}
	_, a, b := pair(t, policy, func(p *PeerConfig) {
		p.Children = PolicyBased([]netip.Prefix{pfx("10.2.0.0/16"), pfx("10.4.0.0/16")}, []netip.Prefix{pfx("10.1.0.0/16")})
	})
	waitUp(t, a, b, 2)
	checkKeys(t, a, b)
	gone := a.established()[0].Children[1]
	a.onLoop(func(c *conn) {
		sa := c.established()
		sa.enqueue(task{kind: taskDeleteChild, child: sa.childByIn(gone.InSPI)})
		sa.kick()
	})
	waitFor(t, 5*time.Second, "one pair left on both sides", func() bool { return a.dp.count() == 1 && b.dp.count() == 1 })
	checkKeys(t, a, b)
	if !b.dp.ended(gone.OutSPI) {
		t.Errorf("b did not remove %08x", gone.OutSPI)
	}
	// Both ends stop sending with the pair at once, and open what still
	// arrives with it for drainWait: ESP sealed before the Delete may be
	// read after it.
	waitFor(t, drainWait+5*time.Second, "the deleted pair's inbound SAs removed after draining", func() bool {
		a.dp.mu.Lock()
		defer a.dp.mu.Unlock()
		b.dp.mu.Lock()
		defer b.dp.mu.Unlock()
		return slices.Contains(a.dp.removes, gone.InSPI) && slices.Contains(b.dp.removes, gone.OutSPI)
	})
	if !a.dp.drainedOnce(gone.InSPI) || !b.dp.drainedOnce(gone.OutSPI) {
		t.Errorf("the deleted pair was removed without draining first")
	}
	// Acquire brings the deleted pair back.
	a.m.Acquire(a.peer.Name, netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.4.5.6"))
	waitUp(t, a, b, 2)
	checkKeys(t, a, b)
	if err := a.m.Reconfig(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "b to drop the deleted IKE SA", func() bool {
		return b.status().State == "down" && b.dp.count() == 0
	})
	if len(a.m.Status()) != 0 || a.dp.count() != 0 {
		t.Errorf("a still has %+v and %d child SAs", a.m.Status(), a.dp.count())
	}
}

// TestAuthenticationFailed covers a wrong pre-shared key (RFC 7296 §2.15,
// §2.21.2): the responder answers AUTHENTICATION_FAILED and neither side
// keeps an SA; both sides' status reasons name the pre-shared key (the
// initiator's said only "peer answered AUTHENTICATION_FAILED", so that of
// two gateways whose keys differ one told why and the other did not).
func TestAuthenticationFailed(t *testing.T) {
	_, a, b := pair(t, nil, func(p *PeerConfig) { p.PSK = PSK("another-psk-0123456789") })
	waitFor(t, 5*time.Second, "both sides to report the failure", func() bool {
		return strings.Contains(a.status().LastError, "AUTHENTICATION_FAILED") &&
			strings.Contains(b.status().LastError, "pre-shared key")
	})
	if why := a.status().LastError; !strings.Contains(why, "pre-shared key") {
		t.Errorf("the initiator's reason %q does not name the pre-shared key", why)
	}
	if len(a.established())+len(b.established()) != 0 || a.dp.count()+b.dp.count() != 0 {
		t.Errorf("SAs despite the wrong key: %+v %+v", a.status(), b.status())
	}
}

// TestNoProposalChosen covers NO_PROPOSAL_CHOSEN (RFC 7296 §2.7): for the
// IKE SA, which then does not come up, and for the child SA, whose IKE SA
// stays. The responder's status reason names what the peer offered.
func TestNoProposalChosen(t *testing.T) {
	t.Run("2.7 IKE", func(t *testing.T) {
		_, a, b := pair(t, withSuite(t, "aes128-sha1-modp2048", "aes128-sha1"),
			withSuite(t, "aes256gcm16-prfsha256-ecp256", "aes128-sha1"))
		waitFor(t, 5*time.Second, "the initiator to hear NO_PROPOSAL_CHOSEN", func() bool {
			return strings.Contains(a.status().LastError, "NO_PROPOSAL_CHOSEN")
		})
		if len(b.status().IKESAs) != 0 {
			t.Errorf("responder kept state: %+v", b.status())
		}
		if want := "no proposal chosen for the peer's IKE_SA_INIT (the peer offered aes128-sha1-modp2048)"; b.status().LastError != want {
			t.Errorf("responder's reason %q, want %q", b.status().LastError, want)
		}
	})
	t.Run("2.7 ESP", func(t *testing.T) {
		_, a, b := pair(t, withSuite(t, "aes256gcm16-prfsha256-ecp256", "aes128-sha1"),
			withSuite(t, "aes256gcm16-prfsha256-ecp256", "aes256gcm16"))
		waitFor(t, 5*time.Second, "the IKE SA without a child", func() bool {
			return len(a.established()) == 1 && len(b.established()) == 1 && strings.Contains(a.status().LastError, "NO_PROPOSAL_CHOSEN")
		})
		if a.dp.count()+b.dp.count() != 0 {
			t.Errorf("child SAs installed")
		}
		if want := "child SA: no acceptable ESP proposal (the peer offered aes128-sha1)"; b.status().LastError != want {
			t.Errorf("responder's reason %q, want %q", b.status().LastError, want)
		}
	})
}

// TestInitErrorUnauthenticated covers RFC 7296 §2.21.1: an error in the
// IKE_SA_INIT response is unauthenticated. A NO_PROPOSAL_CHOSEN forged by
// someone who saw the request, arriving before the responder's answer,
// does not end the exchange: the answer that follows is taken and the IKE
// SA comes up on the first request. A genuine error still ends the
// attempt after a retransmission timeout, without retransmitting the
// request, and the next attempt is a new request.
func TestInitErrorUnauthenticated(t *testing.T) {
	t.Run("2.21.1 forged error, then the answer", func(t *testing.T) {
		n, a, b := pair(t, func(p *PeerConfig) {
			p.Mode = ModeResponderOnly // initiates only when told, below
			p.RetransmitTimeout = 3 * time.Second
		}, nil)
		n.setPolicy(func(from, to netip.AddrPort, msg []byte) []time.Duration {
			h, _, err := wire.ParseHeader(msg)
			if err == nil && from.Addr() == addrA && h.Exchange == wire.IKESAInit && h.Flags&wire.FlagResponse == 0 {
				// Someone on the path answers first.
				forged, err := errorResponse(wire.Header{SPIi: h.SPIi, Exchange: wire.IKESAInit}, &wire.Notify{NotifyType: wire.NoProposalChosen})
				if err != nil {
					t.Error(err)
				}
				a.m.HandlePacket(from, to, forged)
			}
			if from.Addr() == addrB {
				return []time.Duration{50 * time.Millisecond}
			}
			return []time.Duration{0}
		})
		a.onLoop(func(c *conn) { c.initiate() })
		waitUp(t, a, b, 1)
		if k := n.requests(wire.IKESAInit); k != 1 {
			t.Errorf("%d IKE_SA_INIT requests, want the first one answered", k)
		}
	})
	t.Run("2.21.1 genuine error", func(t *testing.T) {
		n, a, _ := pair(t, withSuite(t, "aes128-sha1-modp2048", "aes128-sha1"), withSuite(t, "aes256gcm16-prfsha256-ecp256", "aes128-sha1"))
		waitFor(t, 10*time.Second, "a second attempt", func() bool { return n.requests(wire.IKESAInit) >= 2 })
		if e := a.status().LastError; !strings.Contains(e, "NO_PROPOSAL_CHOSEN") {
			t.Errorf("last error %q", e)
		}
		spis := map[uint64]int{}
		for _, d := range n.datagrams() {
			if h, _, err := wire.ParseHeader(d.data); err == nil && d.from.Addr() == addrA && h.Exchange == wire.IKESAInit && h.Flags&wire.FlagResponse == 0 {
				spis[h.SPIi]++
			}
		}
		for spi, k := range spis {
			if k != 1 {
				t.Errorf("the request of IKE SA %016x was sent %d times after NO_PROPOSAL_CHOSEN", spi, k)
			}
		}
	})
}

// TestNAT covers NAT detection and traversal (RFC 7296 §2.23, RFC 3948): a
// NAT in front of the initiator is detected by both sides, IKE floats to
// port 4500, and the child SAs are UDP-encapsulated between the translated
// endpoints.
func TestNAT(t *testing.T) {
	checkLeaks(t)
	n, public, a, b := behindNAT(t)
	waitUp(t, a, b, 1)
	checkKeys(t, a, b)
	sa, sb := a.established()[0], b.established()[0]
	if !sa.NATLocal || sa.NATRemote || sb.NATLocal || !sb.NATRemote {
		t.Errorf("NAT flags: a %v/%v, b %v/%v", sa.NATLocal, sa.NATRemote, sb.NATLocal, sb.NATRemote)
	}
	if sa.Local.Port() != 4500 || sa.Remote.Port() != 4500 || sb.Local.Port() != 4500 || sb.Remote.Addr() != public {
		t.Errorf("endpoints a %v-%v, b %v-%v", sa.Local, sa.Remote, sb.Local, sb.Remote)
	}
	for _, c := range append(a.dp.list(), b.dp.list()...) {
		if !c.Encap || c.Local.Port() != 4500 {
			t.Errorf("child SA %v-%v encap %v", c.Local, c.Remote, c.Encap)
		}
	}
	// The NAT forgets its mapping; a's next request comes from another
	// port, and b moves the IKE SA and its child SAs there (§2.23), without
	// installing them again: new SAs would repeat sequence numbers, the
	// AES-GCM IVs, under the same keys.
	b.dp.mu.Lock()
	installs := b.dp.installs
	b.dp.mu.Unlock()
	n.mu.Lock()
	clear(n.nat.ports)
	n.mu.Unlock()
	a.onLoop(func(c *conn) {
		sa := c.established()
		sa.enqueue(task{kind: taskDPD})
		sa.kick()
	})
	waitFor(t, 5*time.Second, "b to follow the new mapping", func() bool {
		e := b.established()
		return len(e) == 1 && e[0].Remote != sb.Remote
	})
	moved := b.established()[0].Remote
	for _, c := range b.dp.list() {
		if c.Remote != moved {
			t.Errorf("child SA still sends to %v, not %v", c.Remote, moved)
		}
	}
	b.dp.mu.Lock()
	if b.dp.installs != installs || b.dp.moves == 0 {
		t.Errorf("the move installed %d child SAs anew and moved %d; want 0 and at least 1", b.dp.installs-installs, b.dp.moves)
	}
	b.dp.mu.Unlock()
	checkKeys(t, a, b)
}

// TestReconfig covers the configuration diff: no change, a change of
// timers that keeps the SAs, a new key that re-establishes them, and an
// invalid configuration that changes nothing.
func TestReconfig(t *testing.T) {
	_, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	first := a.established()[0]
	if err := a.m.Reconfig([]PeerConfig{a.peer}); !errors.Is(err, ErrNoChanges) {
		t.Errorf("same configuration: %v, want ErrNoChanges", err)
	}
	p := a.peer
	p.DPDInterval = time.Hour
	if err := a.m.Reconfig([]PeerConfig{p}); err != nil {
		t.Fatal(err)
	}
	if got := a.established(); len(got) != 1 || got[0].SPIi != first.SPIi {
		t.Errorf("timer change re-established: %+v", a.status())
	}
	bad := p
	bad.PSK = nil
	if err := a.m.Reconfig([]PeerConfig{bad}); err == nil || errors.Is(err, ErrNoChanges) {
		t.Errorf("configuration without a key accepted: %v", err)
	}
	if got := a.established(); len(got) != 1 || got[0].SPIi != first.SPIi {
		t.Errorf("an invalid configuration tore the running peer down: %+v", a.status())
	}
	// An invalid peer does not keep a valid one from starting.
	other := basePeer("to-c", addrA, netip.MustParseAddr("192.0.2.99"))
	other.Mode = ModeResponderOnly
	dup := basePeer("to-b-again", addrA, addrB)
	if err := a.m.Reconfig([]PeerConfig{p, dup, other}); err == nil || !strings.Contains(err.Error(), "to-b-again") {
		t.Errorf("a second peer on the same remote: %v", err)
	}
	if names := peerNames(a.m); !slices.Equal(names, []string{"to-b", "to-c"}) {
		t.Errorf("peers %v, want to-b and to-c", names)
	}
	for _, st := range a.m.Status() {
		if st.Name == "to-b" && (len(st.IKESAs) != 1 || st.IKESAs[0].SPIi != first.SPIi) {
			t.Errorf("adding peers re-established to-b: %+v", st)
		}
	}
	if err := a.m.Reconfig([]PeerConfig{p}); err != nil {
		t.Fatal(err)
	}
	p.PSK, b.peer.PSK = PSK("new-psk-0123456789"), PSK("new-psk-0123456789")
	if err := b.m.Reconfig([]PeerConfig{b.peer}); err != nil {
		t.Fatal(err)
	}
	if err := a.m.Reconfig([]PeerConfig{p}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a new IKE SA with the new key", func() bool {
		ea, eb := a.established(), b.established()
		return len(ea) == 1 && len(eb) == 1 && ea[0].SPIi != first.SPIi && ea[0].SPIi == eb[0].SPIi &&
			a.dp.count() == 1 && b.dp.count() == 1
	})
	checkKeys(t, a, b)
}

func peerNames(m *Manager) []string {
	var names []string
	for _, st := range m.Status() {
		names = append(names, st.Name)
	}
	slices.Sort(names)
	return names
}

// TestPolicyBased covers a policy-based connection: one child SA per pair
// of prefixes, the first in IKE_AUTH and the others with CREATE_CHILD_SA
// (RFC 7296 §1.3.1).
func TestPolicyBased(t *testing.T) {
	pfx := netip.MustParsePrefix
	l, r := []netip.Prefix{pfx("10.1.0.0/16"), pfx("10.3.0.0/16")}, []netip.Prefix{pfx("10.2.0.0/16"), pfx("10.4.0.0/16")}
	_, a, b := pair(t, func(p *PeerConfig) { p.Children = PolicyBased(l, r) },
		func(p *PeerConfig) { p.Children = PolicyBased(r, l) })
	waitUp(t, a, b, 4)
	checkKeys(t, a, b)
	seen := map[[2]netip.Prefix]bool{}
	for _, c := range a.dp.list() {
		seen[[2]netip.Prefix{c.LocalTS[0], c.RemoteTS[0]}] = true
	}
	if len(seen) != 4 {
		t.Errorf("pairs of selectors %v, want the 4 combinations", seen)
	}
}

// TestPolicyChangeKeepsIKESA: a policy-based connection whose site
// prefixes change (10.2.0.0/16 replaced by 10.6.0.0/16) keeps its IKE SA
// and the child SA of the pair it still has (10.4.0.0/16, now its first);
// the pair gone is deleted at both ends, and the new one made with
// CREATE_CHILD_SA.
func TestPolicyChangeKeepsIKESA(t *testing.T) {
	pfx := netip.MustParsePrefix
	l, r := []netip.Prefix{pfx("10.1.0.0/16")}, []netip.Prefix{pfx("10.2.0.0/16"), pfx("10.4.0.0/16")}
	_, a, b := pair(t, func(p *PeerConfig) { p.Children = PolicyBased(l, r) },
		func(p *PeerConfig) { p.Children = PolicyBased(r, l) })
	waitUp(t, a, b, 2)
	first := a.established()[0]
	var kept, gone ipsec.Child
	for _, c := range a.dp.list() {
		if c.RemoteTS[0] == pfx("10.4.0.0/16") {
			kept = c
		} else {
			gone = c
		}
	}
	r = []netip.Prefix{pfx("10.4.0.0/16"), pfx("10.6.0.0/16")}
	// The responder first: it deletes the pair gone, and a, not yet
	// told, plans to make it again; then a, which makes the new pair
	// instead.
	b.peer.Children = PolicyBased(r, l)
	if err := b.m.Reconfig([]PeerConfig{b.peer}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "b to delete the pair gone", func() bool { return a.dp.ended(gone.In.SPI) })
	a.peer.Children = PolicyBased(l, r)
	if err := a.m.Reconfig([]PeerConfig{a.peer}); err != nil {
		t.Fatal(err)
	}
	remotes := func(nd *node, local bool) []netip.Prefix {
		var out []netip.Prefix
		for _, c := range nd.dp.list() {
			if local {
				out = append(out, c.LocalTS...)
			} else {
				out = append(out, c.RemoteTS...)
			}
		}
		slices.SortFunc(out, netip.Prefix.Compare)
		return out
	}
	waitFor(t, 5*time.Second, "the pairs of 10.4.0.0/16 and 10.6.0.0/16 at both ends", func() bool {
		return slices.Equal(remotes(a, false), r) && slices.Equal(remotes(b, true), r)
	})
	checkKeys(t, a, b)
	if got := a.established(); len(got) != 1 || got[0].SPIi != first.SPIi {
		t.Errorf("IKE SAs %+v, want the first, %016x, kept", got, first.SPIi)
	}
	if !slices.ContainsFunc(a.dp.list(), func(c ipsec.Child) bool { return c.In.SPI == kept.In.SPI }) {
		t.Errorf("the pair of 10.4.0.0/16 (SPI %08x) was made again: %+v", kept.In.SPI, a.dp.list())
	}
	if n := a.dp.count(); n != 2 {
		t.Errorf("a has %d pairs, want 2", n)
	}
}

// TestPolicyChangeWhileRekeyingRestarts: a policy-based connection
// whose prefixes change while a child SA of a pair that goes is being
// rekeyed starts again, a new IKE SA with the new pairs, rather than
// settle a rekey of a pair no longer configured.
func TestPolicyChangeWhileRekeyingRestarts(t *testing.T) {
	pfx := netip.MustParsePrefix
	l, r := []netip.Prefix{pfx("10.1.0.0/16")}, []netip.Prefix{pfx("10.2.0.0/16"), pfx("10.4.0.0/16")}
	n, a, b := pair(t, func(p *PeerConfig) { p.Children = PolicyBased(l, r) },
		func(p *PeerConfig) { p.Children = PolicyBased(r, l) })
	waitUp(t, a, b, 2)
	first := a.established()[0]
	n.pause()
	rekeying := false
	a.onLoop(func(c *conn) {
		sa := c.established()
		for _, ch := range sa.children {
			if ch.remoteTS[0].start == netip.MustParseAddr("10.2.0.0") {
				sa.queueRekeyChild(ch)
			}
		}
		sa.kick()
		rekeying = sa.pendingChild != nil
	})
	if !rekeying {
		t.Fatal("the rekey of the pair of 10.2.0.0/16 did not start")
	}
	r = []netip.Prefix{pfx("10.4.0.0/16"), pfx("10.6.0.0/16")}
	b.peer.Children, a.peer.Children = PolicyBased(r, l), PolicyBased(l, r)
	if err := b.m.Reconfig([]PeerConfig{b.peer}); err != nil {
		t.Fatal(err)
	}
	if err := a.m.Reconfig([]PeerConfig{a.peer}); err != nil {
		t.Fatal(err)
	}
	n.resume()
	waitFor(t, 10*time.Second, "a new IKE SA with the pairs of 10.4.0.0/16 and 10.6.0.0/16", func() bool {
		got := a.established()
		if len(got) != 1 || got[0].SPIi == first.SPIi || len(got[0].Children) != 2 {
			return false
		}
		var remotes []netip.Prefix
		for _, c := range got[0].Children {
			remotes = append(remotes, c.RemoteTS...)
		}
		slices.SortFunc(remotes, netip.Prefix.Compare)
		return slices.Equal(remotes, r)
	})
	waitUp(t, a, b, 2)
	checkKeys(t, a, b)
}

// TestPolicyBasedDualStack: a dual-stack policy-based connection pairs
// IPv4 prefixes with IPv4 ones and IPv6 with IPv6, a child SA each; an
// IPv4 range with an IPv6 one carries nothing and is not negotiated
// (RFC 7296 §2.9: a peer without such a policy answers TS_UNACCEPTABLE).
func TestPolicyBasedDualStack(t *testing.T) {
	pfx := netip.MustParsePrefix
	l := []netip.Prefix{pfx("10.1.0.0/16"), pfx("fd00:1::/64")}
	r := []netip.Prefix{pfx("10.2.0.0/16"), pfx("fd00:2::/64"), pfx("fd00:4::/64")}
	_, a, b := pair(t, func(p *PeerConfig) { p.Children = PolicyBased(l, r) },
		func(p *PeerConfig) { p.Children = PolicyBased(r, l) })
	waitUp(t, a, b, 3)
	checkKeys(t, a, b)
	seen := map[[2]netip.Prefix]bool{}
	for _, c := range a.dp.list() {
		if c.LocalTS[0].Addr().Is4() != c.RemoteTS[0].Addr().Is4() {
			t.Errorf("a child SA of %s and %s", c.LocalTS[0], c.RemoteTS[0])
		}
		seen[[2]netip.Prefix{c.LocalTS[0], c.RemoteTS[0]}] = true
	}
	if len(seen) != 3 {
		t.Errorf("pairs of selectors %v, want the 3 of one IP version", seen)
	}
}

// TestNewChildWhileRekeyedLingers: a policy-based connection of as many
// prefix pairs as one may have (R18: rules.MaxPrefixPairs, 256), a child
// each, one of them rekeyed and its replaced pair still there until its
// Delete is answered. The peer deletes another pair and creates it again:
// it is taken, as the pairs that carry traffic are within maxChildren.
// The replaced pair counted, and the peer's CREATE_CHILD_SA was refused
// with NO_ADDITIONAL_SAS (RFC 7296 §3.10.1) until it went.
func TestNewChildWhileRekeyedLingers(t *testing.T) {
	var l, r []netip.Prefix
	for i := range 16 {
		l = append(l, netip.MustParsePrefix(fmt.Sprintf("10.1.%d.0/24", i)))
		r = append(r, netip.MustParsePrefix(fmt.Sprintf("10.2.%d.0/24", i)))
	}
	n, a, b := pair(t, func(p *PeerConfig) { p.Children = PolicyBased(l, r) },
		func(p *PeerConfig) {
			p.Children = PolicyBased(r, l)
			p.RetransmitTimeout = time.Minute // b's Delete, unanswered, is not given up meanwhile
		})
	const pairs = 256
	waitFor(t, 2*time.Minute, "256 child SAs on both sides", func() bool { return a.dp.count() == pairs && b.dp.count() == pairs })

	// b rekeys the first pair; a's answer to b's Delete of the replaced
	// pair is lost, which stays at b meanwhile.
	n.setPolicy(func(from, _ netip.AddrPort, d []byte) []time.Duration {
		if h, _, err := wire.ParseHeader(d); err == nil && from.Addr() == addrA && h.Exchange == wire.Informational && h.Flags&wire.FlagResponse != 0 {
			return nil
		}
		return []time.Duration{0}
	})
	b.onLoop(func(c *conn) {
		sa := c.established()
		sa.queueRekeyChild(sa.children[slices.IndexFunc(sa.children, func(ch *child) bool { return ch.cfgIndex == 0 })])
		sa.kick()
	})
	lingering := func() (live, replaced int) {
		b.onLoop(func(c *conn) {
			for _, ch := range c.established().children {
				if ch.live() {
					live++
				} else {
					replaced++
				}
			}
		})
		return live, replaced
	}
	waitFor(t, time.Minute, "b's rekey of the first pair, the replaced pair lingering", func() bool {
		live, replaced := lingering()
		return live == pairs && replaced == 1
	})

	// a deletes the second pair and creates it again.
	var gone uint32
	a.onLoop(func(c *conn) {
		sa := c.established()
		ch := sa.children[slices.IndexFunc(sa.children, func(ch *child) bool { return ch.cfgIndex == 1 })]
		gone = ch.inSPI
		sa.enqueue(task{kind: taskDeleteChild, child: ch})
		sa.queueCreateChild(1)
		sa.kick()
	})
	waitFor(t, time.Minute, "the second pair deleted and created again", func() bool {
		if st := a.status(); strings.Contains(st.LastError, "NO_ADDITIONAL_SAS") {
			live, replaced := lingering()
			t.Fatalf("the second pair created again with %d pairs live and %d replaced at the responder: %s", live, replaced, st.LastError)
		}
		var again bool
		a.onLoop(func(c *conn) {
			again = slices.ContainsFunc(c.established().children, func(ch *child) bool { return ch.cfgIndex == 1 && ch.inSPI != gone })
		})
		live, replaced := lingering()
		return again && live == pairs && replaced == 1
	})
}

// TestReplacedChildNotDeletedByPeer: the peer rekeys a pair and never
// deletes the one it replaced (RFC 7296 §2.8 has the rekey's initiator
// delete it; its Delete lost here). The replaced pair goes, our Delete
// with it, once a request would have been given up (giveUpAfter, 3.1 s
// here), and the new pair stays. It stayed until its lifetime ended
// (27,000 s by default), in the data path with its inbound SPI.
func TestReplacedChildNotDeletedByPeer(t *testing.T) {
	n, a, b := pair(t, func(p *PeerConfig) {
		p.RetransmitTimeout = time.Minute // a's Delete, dropped, is not given up meanwhile
	}, nil)
	waitUp(t, a, b, 1)
	var old uint32
	b.onLoop(func(c *conn) { old = c.established().children[0].inSPI })
	// a rekeys the pair; its Delete of the replaced one never reaches b.
	n.setPolicy(func(from, _ netip.AddrPort, d []byte) []time.Duration {
		if h, _, err := wire.ParseHeader(d); err == nil && from.Addr() == addrA && h.Exchange == wire.Informational && h.Flags&wire.FlagResponse == 0 {
			return nil
		}
		return []time.Duration{0}
	})
	a.onLoop(func(c *conn) {
		sa := c.established()
		sa.queueRekeyChild(sa.children[0])
		sa.kick()
	})
	waitFor(t, time.Minute, "a's rekey at b", func() bool { return b.dp.count() == 2 })
	waitFor(t, time.Minute, "the replaced pair gone at b", func() bool {
		chs := b.dp.list()
		return len(chs) == 1 && chs[0].In.SPI != old
	})
	if st := b.status(); st.State != "established" {
		t.Errorf("b's tunnel %s after the replaced pair went: %s", st.State, st.LastError)
	}
}

// TestReplacedChildrenBounded: a peer that rekeys its pair again and
// again, never deleting the pairs it replaced, has its rekey refused with
// TEMPORARY_FAILURE (RFC 7296 §3.10.1) once maxReplaced of them wait for
// its Delete. Each rekey was taken: the replaced pairs, each in the data
// path with an inbound SPI, grew for as long as the peer went on.
func TestReplacedChildrenBounded(t *testing.T) {
	_, g, cl := connectedClient(t, 1)
	chs := g.dp.list()
	if len(chs) != 1 {
		t.Fatalf("%d children", len(chs))
	}
	spi := spi4(chs[0].Out.SPI)
	any4 := prefixSelectors([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	rekey := func() []wire.Payload {
		t.Helper()
		next := make([]byte, 4)
		_, _ = rand.Read(next)
		next[0] |= 0x10
		ni, err := suite.NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		ps := cl.request(wire.CreateChildSA, []wire.Payload{
			&wire.Notify{NotifyType: wire.RekeySA, Protocol: wire.ProtocolESP, SPI: spi},
			saPayload(mustProposals(t, wire.ProtocolESP, "aes256gcm16"), next, false),
			&wire.Nonce{Data: ni}, tsPayload(false, any4), tsPayload(true, any4)})
		if errorNotify(ps) == nil {
			spi = next
		}
		return ps
	}
	for i := range maxReplaced {
		if n := errorNotify(rekey()); n != nil {
			t.Fatalf("rekey %d answered %v", i+1, n.NotifyType)
		}
	}
	if n := errorNotify(rekey()); n == nil || n.NotifyType != wire.TemporaryFailure {
		t.Fatalf("rekey %d with %d pairs replaced answered %v, want TEMPORARY_FAILURE", maxReplaced+1, maxReplaced, n)
	}
	if got := g.dp.count(); got != maxReplaced+1 {
		t.Errorf("%d child SAs in the data path, want %d", got, maxReplaced+1)
	}
}

// TestIKESAsBoundedOnRekey: a peer that rekeys its IKE SA again and
// again, each time under the SA just made, and never deletes the SAs it
// replaced (RFC 7296 §2.8), has its rekey refused with TEMPORARY_FAILURE
// once it has maxIKESAs, as many as IKE_SA_INIT may make. Each rekey was
// taken, and the replaced SAs, each waiting for its Delete, grew for as
// long as the peer went on.
func TestIKESAsBoundedOnRekey(t *testing.T) {
	_, g, cl := connectedClient(t, 1)
	rekey := func() []wire.Payload {
		t.Helper()
		ni, dh, spiI := newIKEOffer(t)
		ps := cl.request(wire.CreateChildSA, []wire.Payload{
			saPayload(mustProposals(t, wire.ProtocolIKE, clientIKE), binary.BigEndian.AppendUint64(nil, spiI), true),
			&wire.Nonce{Data: ni}, &wire.KE{Group: wire.DHCurve25519, Data: dh.PublicKey()}})
		if errorNotify(ps) != nil {
			return ps
		}
		// RFC 7296 §2.18: the keys of the new SA, which the client
		// initiated; the old one is left as it is.
		saP, ok1 := find[*wire.SA](ps)
		nonce, ok2 := find[*wire.Nonce](ps)
		ke, ok3 := find[*wire.KE](ps)
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("IKE SA rekey answered with %v", ps)
		}
		s, spiR, err := accepted(mustProposals(t, wire.ProtocolIKE, clientIKE), saP, wire.ProtocolIKE, 8)
		if err != nil {
			t.Fatal(err)
		}
		gir, err := dh.SharedSecret(ke.Data)
		if err != nil {
			t.Fatal(err)
		}
		skeyseed, err := suite.RekeySKEYSEED(cl.s.PRF, cl.keys.D, gir, ni, nonce.Data)
		if err != nil {
			t.Fatal(err)
		}
		cl.s, cl.spiI, cl.spiR, cl.nextID = s, spiI, binary.BigEndian.Uint64(spiR), 0
		cl.deriveKeys(skeyseed, ni, nonce.Data)
		return ps
	}
	for i := range maxIKESAs - 1 {
		if n := errorNotify(rekey()); n != nil {
			t.Fatalf("rekey %d answered %v", i+1, n.NotifyType)
		}
	}
	if n := errorNotify(rekey()); n == nil || n.NotifyType != wire.TemporaryFailure {
		t.Fatalf("rekey %d with %d IKE SAs answered %v, want TEMPORARY_FAILURE", maxIKESAs, maxIKESAs, n)
	}
	if st := g.m.Clients(); len(st) != 1 {
		t.Errorf("%d clients after the refused rekey, want the one", len(st))
	}
}

// TestClose covers Close: the peer is told (RFC 7296 §1.4.1), the child
// SAs leave the data path and every goroutine ends.
func TestClose(t *testing.T) {
	_, a, b := pair(t, nil, nil)
	waitUp(t, a, b, 1)
	if err := a.m.Close(); err != nil {
		t.Fatal(err)
	}
	if a.dp.count() != 0 {
		t.Errorf("%d child SAs left after Close", a.dp.count())
	}
	waitFor(t, 5*time.Second, "b to hear the Delete", func() bool { return b.status().State == "down" && b.dp.count() == 0 })
	if err := a.m.Reconfig([]PeerConfig{a.peer}); err == nil {
		t.Errorf("Reconfig after Close succeeded")
	}
}

// TestAlgorithms covers the rest of the supported transforms (RFC 7296
// §3.3.2): AES-CBC-192, HMAC-SHA2-384, the MODP groups 2 (only when named:
// it is in no default proposal) and 24, and extended sequence numbers on
// and off (RFC 4303 §2.2.1).
func TestAlgorithms(t *testing.T) {
	for _, tc := range []struct {
		ike, esp string
		esn      bool
	}{
		{"aes192-sha384-modp2048s256", "aes192-sha384-esn", true},
		{"aes128-sha1-modp1024", "aes128-sha1", false},
		{"aes256gcm16-prfsha384-ecp384", "aes256gcm16-esn", true},
		{"aes128-sha256-prfsha384-x25519", "aes256-sha1-noesn", false},
	} {
		t.Run("3.3.2 "+tc.ike+" "+tc.esp, func(t *testing.T) {
			adj := withSuite(t, tc.ike, tc.esp)
			_, a, b := pair(t, adj, adj)
			waitUp(t, a, b, 1)
			checkKeys(t, a, b)
			if got := a.established()[0].Proposal; got != tc.ike {
				t.Errorf("IKE SA %q, want %q", got, tc.ike)
			}
			for _, c := range append(a.dp.list(), b.dp.list()...) {
				if c.In.ESN != tc.esn || c.Out.ESN != tc.esn {
					t.Errorf("ESN %v/%v, want %v", c.In.ESN, c.Out.ESN, tc.esn)
				}
			}
		})
	}
	t.Run("3.3.2 MODP 1024 is not in the defaults", func(t *testing.T) {
		_, a, _ := pair(t, withSuite(t, "aes128-sha1-modp1024", "aes128-sha1"), nil)
		waitFor(t, 5*time.Second, "NO_PROPOSAL_CHOSEN", func() bool {
			return strings.Contains(a.status().LastError, "NO_PROPOSAL_CHOSEN")
		})
	})
	t.Run("3.3.2 ESN mismatch", func(t *testing.T) {
		_, a, b := pair(t, withSuite(t, "aes256gcm16-prfsha256-x25519", "aes256gcm16-esn"),
			withSuite(t, "aes256gcm16-prfsha256-x25519", "aes256gcm16-noesn"))
		waitFor(t, 5*time.Second, "the IKE SA without a child", func() bool {
			return len(a.established()) == 1 && len(b.established()) == 1 && strings.Contains(a.status().LastError, "NO_PROPOSAL_CHOSEN")
		})
	})
}

// TestForceEncap: without a NAT, a peer with ForceEncap makes both sides
// believe one is in front of it, float to port 4500 and carry ESP in UDP
// (RFC 7296 §2.23, RFC 3948); for either side setting it.
func TestForceEncap(t *testing.T) {
	for _, side := range []string{"initiator", "responder"} {
		t.Run(side, func(t *testing.T) {
			force := func(p *PeerConfig) { p.ForceEncap = true }
			adjA, adjB := force, (func(*PeerConfig))(nil)
			if side == "responder" {
				adjA, adjB = nil, force
			}
			_, a, b := pair(t, adjA, adjB)
			waitUp(t, a, b, 1)
			checkKeys(t, a, b)
			for _, nd := range []*node{a, b} {
				sa := nd.established()[0]
				if sa.Local.Port() != 4500 || sa.Remote.Port() != 4500 {
					t.Errorf("%s: endpoints %v-%v, want port 4500", nd.peer.Name, sa.Local, sa.Remote)
				}
				if sa.BehindNAT {
					t.Errorf("%s: reports a real NAT where ForceEncap only pretends one (no keepalives needed)", nd.peer.Name)
				}
				for _, c := range nd.dp.list() {
					if !c.Encap {
						t.Errorf("%s: child SA without UDP encapsulation", nd.peer.Name)
					}
				}
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		waitUp(t, a, b, 1)
		for _, c := range append(a.dp.list(), b.dp.list()...) {
			if c.Encap {
				t.Error("a child SA is encapsulated without a NAT and without ForceEncap")
			}
		}
	})
}

// TestIdle: a tunnel removed for idleness (R8) deletes its SAs at the
// peer, stays down although its mode initiates, and comes back as soon as
// traffic asks for it.
func TestIdle(t *testing.T) {
	_, a, b := pair(t, func(p *PeerConfig) { p.ReconnectDelay = 50 * time.Millisecond }, nil)
	waitUp(t, a, b, 1)
	a.m.Idle("to-b")
	waitFor(t, 5*time.Second, "both sides to remove the SAs", func() bool {
		return len(a.dp.list()) == 0 && len(b.dp.list()) == 0
	})
	time.Sleep(300 * time.Millisecond) // several reconnect delays
	if st := a.status(); st.State != "down" || !st.Idle || len(a.dp.list()) != 0 {
		t.Fatalf("an idle tunnel came back without traffic: %+v", st)
	}
	a.m.Acquire("to-b", netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.2.0.1"))
	waitUp(t, a, b, 1)
	if a.status().Idle {
		t.Fatal("still idle after traffic")
	}
}

// TestIdleAfterUnauthenticatedInit: an IKE_SA_INIT from the peer's
// address does not bring an idle tunnel back (R8), whether it is refused
// (no proposal chosen) or answered and never authenticated (anyone may
// send it from there); the tunnel stays idle, with no reconnection on its
// way, and comes back once the peer authenticates an IKE SA.
func TestIdleAfterUnauthenticatedInit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		proposal string // of the IKE_SA_INIT from the peer's address
		refused  bool
	}{
		{"2.7 refused", "aes128-sha1-modp1024", true},
		{"answered, never authenticated", "aes256gcm16-prfsha256-x25519", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, a, b := pair(t, func(p *PeerConfig) { p.ReconnectDelay = 50 * time.Millisecond }, nil)
			waitUp(t, a, b, 1)
			a.m.Idle("to-b")
			waitFor(t, 5*time.Second, "both sides to remove the SAs", func() bool {
				return len(a.status().IKESAs) == 0 && len(b.status().IKESAs) == 0 && a.dp.count()+b.dp.count() == 0
			})
			sent := len(n.datagrams())
			a.m.HandlePacket(netip.AddrPortFrom(addrA, 500), netip.AddrPortFrom(addrB, 500), junkInit(t, tc.proposal))
			if tc.refused {
				waitFor(t, 5*time.Second, "the request to be refused", func() bool {
					return strings.Contains(a.status().LastError, "no proposal chosen") && len(n.datagrams()) > sent
				})
			} else {
				waitFor(t, 5*time.Second, "the request to be answered", func() bool {
					s := a.status().IKESAs
					return len(s) == 1 && s[0].State == "half-open"
				})
				// Its IKE_AUTH never comes: the half-open SA times out.
				a.onLoop(func(c *conn) { c.sas[0].halfOpenUntil = time.Now() })
				waitFor(t, 5*time.Second, "the half-open SA to time out", func() bool { return len(a.status().IKESAs) == 0 })
			}
			a.onLoop(func(c *conn) {
				if !c.idle || !c.reconnectAt.IsZero() || c.connecting() {
					t.Errorf("after an unauthenticated IKE_SA_INIT: idle %v, reconnection at %v, %d IKE SAs",
						c.idle, c.reconnectAt, len(c.sas))
				}
			})
			if st := a.status(); !st.Idle || st.State != "down" {
				t.Errorf("status %+v, want idle and down", st)
			}

			// The peer initiates and authenticates: the tunnel is back.
			b.onLoop(func(c *conn) { c.initiate() })
			waitUp(t, a, b, 1)
			if a.status().Idle {
				t.Error("still idle with an IKE SA the peer initiated")
			}
		})
	}
}

// junkInit is an IKE_SA_INIT request offering proposal, with a KE of
// the proposal's group, as anyone could send.
func junkInit(t *testing.T, proposal string) []byte {
	t.Helper()
	props := mustProposals(t, wire.ProtocolIKE, proposal)
	group := firstGroup(props)
	dh, err := suite.GenerateKey(group)
	if err != nil {
		t.Fatal(err)
	}
	ni, err := suite.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	msg := wire.Message{
		Header: wire.Header{SPIi: 0x1234_5678_9abc_def1, MajorVersion: wire.MajorVersion, Exchange: wire.IKESAInit, Flags: wire.FlagInitiator},
		Payloads: []wire.Payload{
			saPayload(props, nil, true),
			&wire.KE{Group: group, Data: dh.PublicKey()},
			&wire.Nonce{Data: ni},
		},
	}
	b, err := msg.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConnectionModes covers Azure's connectionMode: a ResponderOnly peer
// never sends the first message, an InitiatorOnly peer answers no
// IKE_SA_INIT, and the two together come up.
func TestConnectionModes(t *testing.T) {
	start := func(t *testing.T, ma, mb ConnectionMode) (*fakeNet, *node, *node) {
		checkLeaks(t)
		n := newFakeNet(t)
		pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
		pa.Mode, pb.Mode = ma, mb
		return n, newNode(t, n, "a", addrA, Config{}, pa), newNode(t, n, "b", addrB, Config{}, pb)
	}
	t.Run("ResponderOnly on both ends", func(t *testing.T) {
		n, a, b := start(t, ModeResponderOnly, ModeResponderOnly)
		time.Sleep(time.Second)
		if d := n.datagrams(); len(d) != 0 || len(a.established())+len(b.established()) != 0 {
			t.Errorf("%d datagrams sent, %d and %d IKE SAs", len(d), len(a.established()), len(b.established()))
		}
	})
	t.Run("InitiatorOnly on both ends", func(t *testing.T) {
		n, a, b := start(t, ModeInitiatorOnly, ModeInitiatorOnly)
		waitFor(t, 5*time.Second, "both ends to initiate", func() bool { return len(n.datagrams()) >= 2 })
		time.Sleep(time.Second)
		for _, d := range n.datagrams() {
			if len(d.data) > 19 && d.data[19]&0x20 != 0 { // RFC 7296 §3.1: the Response flag
				t.Errorf("a response was sent: %v -> %v", d.from, d.to)
			}
		}
		if len(a.established())+len(b.established()) != 0 {
			t.Errorf("an InitiatorOnly end answered: %+v, %+v", a.status(), b.status())
		}
	})
	t.Run("InitiatorOnly to ResponderOnly", func(t *testing.T) {
		_, a, b := start(t, ModeInitiatorOnly, ModeResponderOnly)
		waitUp(t, a, b, 1)
		if !a.established()[0].Initiator {
			t.Errorf("the InitiatorOnly end did not initiate")
		}
	})
}

// TestOnDemandWaitsAfterPeerDelete: an always-on peer reconnects when the
// other side deletes its IKE SA; an on-demand one (a policy-based
// gateway's, R8) waits, idle, until traffic asks for it.
func TestOnDemandWaitsAfterPeerDelete(t *testing.T) {
	for _, onDemand := range []bool{false, true} {
		t.Run(fmt.Sprintf("on demand %v", onDemand), func(t *testing.T) {
			_, a, b := pair(t, func(p *PeerConfig) { p.OnDemand = onDemand }, nil)
			waitUp(t, a, b, 1)
			first := a.established()[0].SPIi
			b.onLoop(func(c *conn) {
				sa := c.established()
				sa.enqueue(task{kind: taskDeleteIKE})
				sa.kick()
			})
			if !onDemand {
				waitFor(t, 5*time.Second, "a to reconnect", func() bool {
					e := a.established()
					return len(e) == 1 && e[0].SPIi != first
				})
				return
			}
			waitFor(t, 5*time.Second, "a to go idle", func() bool { return a.status().Idle })
			time.Sleep(3 * a.peer.ReconnectDelay)
			if e := a.established(); len(e) != 0 || !a.status().Idle {
				t.Fatalf("the on-demand peer reconnected without traffic: %+v", a.status())
			}
			a.m.Acquire(a.peer.Name, netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.2.3.4"))
			waitUp(t, a, b, 1)
		})
	}
}

// TestNATMappingFromESP covers RFC 7296 §2.23's dynamic address update
// driven by ESP: the NAT in front of a reboots and maps it to a new port,
// and the data path reports authenticated ESP from there (PeerMoved). b,
// not behind a NAT, moves the IKE SA and its child SAs there at once,
// without waiting for an IKE message, and keeps their state; a, behind
// the NAT, does not follow a report, which a single packet could cause.
func TestNATMappingFromESP(t *testing.T) {
	checkLeaks(t)
	n, public, a, b := behindNAT(t)
	waitUp(t, a, b, 1)
	sa, sb := a.established()[0], b.established()[0]

	// The NAT reboots: a's port 4500 is now public:31000.
	moved := netip.AddrPortFrom(public, 31000)
	n.mu.Lock()
	clear(n.nat.ports)
	clear(n.nat.back)
	n.nat.ports[4500], n.nat.back[31000] = 31000, 4500
	n.mu.Unlock()
	b.dp.mu.Lock()
	installs := b.dp.installs
	b.dp.mu.Unlock()
	b.m.PeerMoved("to-a", b.dp.list()[0].In.SPI, moved)
	waitFor(t, 5*time.Second, "b to follow the ESP to the new mapping", func() bool {
		e := b.established()
		return len(e) == 1 && e[0].Remote == moved
	})
	for _, c := range b.dp.list() {
		if c.Remote != moved || !c.Encap {
			t.Errorf("b's child SA sends to %v (encap %v), want %v", c.Remote, c.Encap, moved)
		}
	}
	b.dp.mu.Lock()
	if b.dp.installs != installs {
		t.Errorf("the move installed %d child SAs anew; want them moved with their sequence numbers", b.dp.installs-installs)
	}
	b.dp.mu.Unlock()
	if e := b.established(); e[0].SPIi != sb.SPIi {
		t.Errorf("b's IKE SA was replaced")
	}

	// a is behind the NAT: ESP from elsewhere does not move it.
	a.m.PeerMoved("to-b", a.dp.list()[0].In.SPI, netip.MustParseAddrPort("203.0.113.9:4500"))
	a.onLoop(func(*conn) {}) // the report was handled before this
	if e := a.established(); len(e) != 1 || e[0].Remote != sa.Remote {
		t.Errorf("a, behind a NAT, moved to %v", e[0].Remote)
	}
	for _, c := range a.dp.list() {
		if c.Remote != sa.Remote {
			t.Errorf("a's child SA moved to %v", c.Remote)
		}
	}
	checkKeys(t, a, b)
}

// behindNAT starts node a behind a NAT (its public address public)
// initiating to node b, which only answers.
func behindNAT(t *testing.T) (n *fakeNet, public netip.Addr, a, b *node) {
	n = newFakeNet(t)
	public = netip.MustParseAddr("198.51.100.1")
	n.nat = &fakeNAT{inside: addrA, public: public, ports: map[uint16]uint16{}, back: map[uint16]uint16{}}
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, public)
	pb.Mode = ModeResponderOnly
	pb.RemoteID = IPIdentity(addrA) // the identity is not translated
	b = newNode(t, n, "b", addrB, Config{}, pb)
	n.attach(public, nil)
	a = newNode(t, n, "a", addrA, Config{}, pa)
	n.mu.Lock()
	n.nodes[addrA] = a.m
	n.mu.Unlock()
	return n, public, a, b
}

// TestChildErrorClearedOnceUp: a policy-based connection of two prefix
// pairs (R18) whose second child the peer refuses (TS_UNACCEPTABLE) says
// so in its status; once the peer takes the pair and the child comes up,
// every child the connection wants is up and the status says nothing.
// The child's error stayed until the next IKE SA, so that the
// connection's reason showed it whenever its children later went.
func TestChildErrorClearedOnceUp(t *testing.T) {
	pfx := netip.MustParsePrefix
	first := ChildConfig{LocalTS: []netip.Prefix{pfx("10.1.0.0/16")}, RemoteTS: []netip.Prefix{pfx("10.2.0.0/16")}}
	second := ChildConfig{LocalTS: []netip.Prefix{pfx("10.1.0.0/16")}, RemoteTS: []netip.Prefix{pfx("10.3.0.0/16")}}
	mirror := func(c ChildConfig) ChildConfig { return ChildConfig{LocalTS: c.RemoteTS, RemoteTS: c.LocalTS} }
	_, a, b := pair(t, func(p *PeerConfig) {
		p.Children = []ChildConfig{first, second}
	}, func(p *PeerConfig) {
		p.Children = []ChildConfig{mirror(first)}
	})
	waitFor(t, 20*time.Second, "the second child refused", func() bool {
		return a.dp.count() == 1 && b.dp.count() == 1 && strings.Contains(a.status().LastError, "TS_UNACCEPTABLE")
	})
	// The connection is up by its first pair: the status names the
	// second as down, for the gateway to show while Connected.
	if st := a.status(); st.Pairs != 2 || !slices.Equal(st.Down, []string{"10.1.0.0/16 <-> 10.3.0.0/16"}) {
		t.Errorf("status with the second pair refused: %d pairs, down %q; want 2, the second", st.Pairs, st.Down)
	}
	// The peer takes the second pair now, and it is tried again at once.
	b.onLoop(func(c *conn) { c.cfg.Children = append(c.cfg.Children, mirror(second)) })
	a.onLoop(func(c *conn) { c.established().retryChild(1, 0) })
	waitFor(t, 20*time.Second, "both children up", func() bool { return a.dp.count() == 2 && b.dp.count() == 2 })
	if ea, eb := a.status().LastError, b.status().LastError; ea != "" || eb != "" {
		t.Errorf("status with every child up: %q and the peer's %q, want none", ea, eb)
	}
	if d := a.status().Down; len(d) != 0 {
		t.Errorf("status with every child up names %q as down", d)
	}
}
