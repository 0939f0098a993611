package ikev1

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestRefusedQuickMode2EndsIt: a quick mode message 2 that checks out
// (its HASH(2) is right) but is refused, for traffic outside what was
// proposed or for a missing KE with PFS, ends the initiator's quick mode
// at once, and the peer is told with a notification (INVALID-ID-
// INFORMATION, INVALID-KEY-INFORMATION) that names its SPI (RFC 2408
// §3.14), which message 2 sent again gets too. The quick mode was left
// to retransmit message 1 until its tries ran out, and the peer, told
// nothing, waited for a HASH(3) that would not come.
func TestRefusedQuickMode2EndsIt(t *testing.T) {
	pfs, err := suite.ParseProposal(v2.ProtocolESP, "aes256-sha256-modp2048")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		tweak func(pi, pr *ikev2.PeerConfig)
		edit  func([]wire.Payload) []wire.Payload
		typ   uint16
		why   string
	}{
		{"traffic outside the proposal", func(pi, pr *ikev2.PeerConfig) {
			pi.Children = []ikev2.ChildConfig{{LocalTS: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, RemoteTS: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}}}
		}, func(ps []wire.Payload) []wire.Payload {
			for i := range ps {
				if ps[i].Type == wire.PayloadID {
					ps[i].Body = wire.PrefixID(netip.MustParsePrefix("10.9.0.0/16")).Append(nil)
				}
			}
			return ps
		}, wire.NotifyInvalidIDInfo, "outside the proposed"},
		{"no KE with PFS", func(pi, pr *ikev2.PeerConfig) {
			pi.ESPProposals, pr.ESPProposals = []suite.Proposal{pfs}, []suite.Proposal{pfs}
		}, func(ps []wire.Payload) []wire.Payload {
			var out []wire.Payload
			for _, p := range ps {
				if p.Type != wire.PayloadKE {
					out = append(out, p)
				}
			}
			return out
		}, wire.NotifyInvalidKeyInfo, "without KE"},
		// RFC 2407 §4.6.2: the responder's IDs name the traffic of one
		// protocol and port, narrower than proposed; vnetgw's children
		// carry all protocols and ports.
		{"traffic of one protocol and port", nil, withIDProtocolPort(17, 1701), wire.NotifyInvalidIDInfo, "traffic selector names protocol 17 port 1701; vnetgw's child SAs carry all protocols and ports"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, c.tweak)
			done := false
			shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
				if done || fromI || msg[18] != wire.ExchangeQuick {
					return false
				}
				done = true
				// The responder's message 2, its payloads edited.
				edited, sa := resealQuick2(t, mi, msg, c.edit)
				if edited == nil {
					t.Fatal("the responder's quick mode message answers no quick mode of the initiator's")
				}
				peerSPI := onlyQuick(t, mr).spiIn
				ri.take()
				mi.handle(to, from, edited)
				mi.mu.Lock()
				left := len(sa.qms)
				mi.mu.Unlock()
				if left != 0 {
					t.Errorf("the initiator's quick mode is still under way after its message 2 was refused")
				}
				if n := sentNotify(t, mi, sa, ri); n.Type != c.typ || n.Protocol != wire.ProtocolESP || len(n.SPI) != 4 || binary.BigEndian.Uint32(n.SPI) != peerSPI {
					t.Errorf("the peer was told %+v, want notification %d naming its SPI %08x", n, c.typ, peerSPI)
				}
				// Message 2 again (the peer's retransmission) gets the same.
				mi.handle(to, from, edited)
				if n := sentNotify(t, mi, sa, ri); n.Type != c.typ {
					t.Errorf("message 2 sent again got %+v, want notification %d", n, c.typ)
				}
				if st := mi.Status(); !strings.Contains(st[0].LastError, c.why) {
					t.Errorf("the initiator's status: %q, want %q", st[0].LastError, c.why)
				}
				return true
			})
			if !done {
				t.Fatal("no quick mode message 2")
			}
		})
	}
}

// withIDProtocolPort returns an edit that gives the ID payloads among a
// quick mode message's payloads protocol proto and port port.
func withIDProtocolPort(proto uint8, port uint16) func([]wire.Payload) []wire.Payload {
	return func(ps []wire.Payload) []wire.Payload {
		for i, p := range ps {
			if p.Type != wire.PayloadID {
				continue
			}
			id, err := wire.ParseID(p.Body)
			if err != nil {
				panic(err)
			}
			id.Protocol, id.Port = proto, port
			ps[i].Body = id.Append(nil)
		}
		return ps
	}
}

// onlyQuick returns m's one quick mode under way.
func onlyQuick(t *testing.T, m *Manager) *quick {
	t.Helper()
	sa := onlySA(t, m)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range sa.qms {
		return q
	}
	t.Fatal("no quick mode under way")
	return nil
}

// sentNotify takes what m sent, among which must be one informational
// message on sa, and returns its notification.
func sentNotify(t *testing.T, m *Manager, sa *isakmpSA, r *recorder) wire.Notify {
	t.Helper()
	msgs, _, _ := r.take()
	msgs = slices.DeleteFunc(msgs, func(msg []byte) bool { return msg[18] != wire.ExchangeInfo })
	if len(msgs) != 1 {
		t.Fatalf("%d informational messages sent, want one", len(msgs))
	}
	h, _ := wire.ParseHeader(msgs[0])
	m.mu.Lock()
	ps, _, err := sa.decrypt(h, msgs[0], sa.s.Hash.phase2IV(sa.p1iv, h.MessageID), nil)
	m.mu.Unlock()
	if err != nil || len(ps) != 1 || ps[0].Type != wire.PayloadNotify {
		t.Fatalf("an informational message that does not open to one notification: %v", err)
	}
	n, err := wire.ParseNotify(ps[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRefusedQuickMode1Told: a quick mode message 1 that checks out (its
// HASH(1) is right) but is refused, for a missing SA, nonce, or KE with
// PFS, is answered with a notification (RFC 2408 §3.14) that names the
// initiator's SPI once the SA is read, the ISAKMP SA before: the
// initiator's quick mode ends at once, and message 1 sent again gets the
// same notification. The responder sent nothing, and, its message ID
// used, dropped the retransmissions as replays: the initiator tried
// until its tries ran out.
func TestRefusedQuickMode1Told(t *testing.T) {
	pfs, err := suite.ParseProposal(v2.ProtocolESP, "aes256-sha256-modp2048")
	if err != nil {
		t.Fatal(err)
	}
	without := func(typ wire.PayloadType) func([]wire.Payload) []wire.Payload {
		return func(ps []wire.Payload) []wire.Payload {
			return slices.DeleteFunc(ps, func(p wire.Payload) bool { return p.Type == typ })
		}
	}
	for _, c := range []struct {
		name    string
		tweak   func(pi, pr *ikev2.PeerConfig)
		edit    func([]wire.Payload) []wire.Payload
		typ     uint16
		namesSA bool // the notification names the initiator's SPI, not the ISAKMP SA
		why     string
	}{
		{"no SA", nil, without(wire.PayloadSA), wire.NotifyNoProposalChosen, false, "without SA"},
		{"no nonce", nil, without(wire.PayloadNonce), wire.NotifyInvalidPayloadType, true, "without a nonce"},
		{"no KE with PFS", func(pi, pr *ikev2.PeerConfig) {
			pi.ESPProposals, pr.ESPProposals = []suite.Proposal{pfs}, []suite.Proposal{pfs}
		}, without(wire.PayloadKE), wire.NotifyInvalidKeyInfo, true, "without KE"},
		// RFC 2407 §4.6.2: IDci and IDcr name the traffic of one protocol
		// and port (L2TP's, say); vnetgw's children carry all protocols
		// and ports, so it refuses rather than take more traffic than the
		// peer's.
		{"traffic of one protocol and port", nil, withIDProtocolPort(17, 1701), wire.NotifyInvalidIDInfo, true, "traffic selector names protocol 17 port 1701; vnetgw's child SAs carry all protocols and ports"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, c.tweak)
			done := false
			shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
				if done || !fromI || msg[18] != wire.ExchangeQuick {
					return false
				}
				done = true
				// The initiator's message 1, its payloads edited and
				// sealed again with the keys both SAs hold.
				h, err := wire.ParseHeader(msg)
				if err != nil {
					t.Fatal(err)
				}
				sr := onlySA(t, mr)
				mr.mu.Lock()
				iv := sr.s.Hash.phase2IV(sr.p1iv, h.MessageID)
				ps, _, err := sr.decrypt(h, msg, iv, nil)
				if err != nil {
					mr.mu.Unlock()
					t.Fatal(err)
				}
				edited, _ := sr.encrypted(wire.ExchangeQuick, h.MessageID, iv, nil, c.edit(ps))
				mr.mu.Unlock()
				ours := onlyQuick(t, mi).spiIn
				n := refuseMessage1(t, mi, mr, rr, sr, from, to, edited, func() { mr.handle(to, from, edited) }, c.typ, c.why)
				if named := n.Protocol == wire.ProtocolESP && len(n.SPI) == 4 && binary.BigEndian.Uint32(n.SPI) == ours; named != c.namesSA {
					t.Errorf("the notification %+v names the initiator's SPI %08x: %v, want %v", n, ours, named, c.namesSA)
				}
				return true
			})
			if !done {
				t.Fatal("no quick mode message 1")
			}
		})
	}
}

// refuseMessage1 has responder mr take the initiator's quick mode message
// 1 (msg, from to, on mr's ISAKMP SA sr) by refuse, and checks that its
// answer is a notification of type typ, that its status says why, that
// the initiator's quick mode ends once it has the answer, and that msg
// sent again (a retransmission) gets the same type. It returns the
// notification.
func refuseMessage1(t *testing.T, mi, mr *Manager, rr *recorder, sr *isakmpSA, from, to netip.AddrPort, msg []byte, refuse func(), typ uint16, why string) wire.Notify {
	t.Helper()
	rr.take()
	refuse()
	msgs, mf, mt := rr.take()
	rr.mu.Lock()
	rr.sent, rr.from, rr.to = msgs, mf, mt // for sentNotify, and handed to the initiator below
	rr.mu.Unlock()
	n := sentNotify(t, mr, sr, rr)
	if n.Type != typ {
		t.Errorf("the initiator was told %+v, want notification %d", n, typ)
	}
	if st := mr.Status(); !strings.Contains(st[0].LastError, why) {
		t.Errorf("the responder's status: %q, want %q", st[0].LastError, why)
	}
	for i := range msgs {
		mi.handle(mt[i], mf[i], msgs[i])
	}
	si := onlySA(t, mi)
	mi.mu.Lock()
	left := len(si.qms)
	mi.mu.Unlock()
	if left != 0 {
		t.Errorf("the initiator's quick mode is still under way after the responder refused its message 1")
	}
	mr.handle(to, from, msg)
	if n := sentNotify(t, mr, sr, rr); n.Type != typ {
		t.Errorf("message 1 sent again got %+v, want notification %d", n, typ)
	}
	return n
}

// TestLocalFailureQuickMode1Told: a quick mode message 1 that checks out
// but that the responder cannot answer for a failure of its own (no
// nonce, no PFS key) is answered with a notification that names the
// initiator's SPI, as strongSwan's responder tells of its own (RFC 2408
// §3.14): NO-PROPOSAL-CHOSEN, INVALID-KEY-INFORMATION for the key. The
// initiator's quick mode ends at once, and message 1 sent again gets the
// same notification. The responder sent nothing, and, its message ID
// used, dropped the retransmissions as replays: the initiator tried
// until its tries ran out.
func TestLocalFailureQuickMode1Told(t *testing.T) {
	pfs, err := suite.ParseProposal(v2.ProtocolESP, "aes256-sha256-modp2048")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		tweak func(pi, pr *ikev2.PeerConfig)
		nonce bool // the nonce fails, else the key
		typ   uint16
	}{
		{"nonce", nil, true, wire.NotifyNoProposalChosen},
		{"PFS key", func(pi, pr *ikev2.PeerConfig) {
			pi.ESPProposals, pr.ESPProposals = []suite.Proposal{pfs}, []suite.Proposal{pfs}
		}, false, wire.NotifyInvalidKeyInfo},
	} {
		t.Run(c.name, func(t *testing.T) {
			// While fail is set, the responder's nonce or key fails.
			var fail atomic.Bool
			nonce, key := newNonce, generateKey
			t.Cleanup(func() { newNonce, generateKey = nonce, key })
			errLocal := errors.New("a test's failure")
			if c.nonce {
				newNonce = func() ([]byte, error) {
					if fail.Load() {
						return nil, errLocal
					}
					return nonce()
				}
			} else {
				generateKey = func(g v2.DHGroup) (*suite.PrivateKey, error) {
					if fail.Load() {
						return nil, errLocal
					}
					return key(g)
				}
			}
			mi, mr, ri, rr := twoManagers(t, c.tweak)
			done := false
			shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
				if done || !fromI || msg[18] != wire.ExchangeQuick {
					return false
				}
				done = true
				sr := onlySA(t, mr)
				ours := onlyQuick(t, mi).spiIn
				n := refuseMessage1(t, mi, mr, rr, sr, from, to, msg, func() {
					fail.Store(true)
					mr.handle(to, from, msg)
					fail.Store(false)
				}, c.typ, errLocal.Error())
				if n.Protocol != wire.ProtocolESP || len(n.SPI) != 4 || binary.BigEndian.Uint32(n.SPI) != ours {
					t.Errorf("the initiator was told %+v, want a notification naming its SPI %08x", n, ours)
				}
				return true
			})
			if !done {
				t.Fatal("no quick mode message 1")
			}
		})
	}
}

// TestLocalFailureRekeyTriedAgain: a rekey whose quick mode cannot start
// for a failure of the initiator's own (its nonce, or its PFS key, could
// not be made) is tried again once the failure is over, and the status
// says why meanwhile. The child was left marked as being rekeyed, with
// no exchange under way: it was never rekeyed again, and went at the end
// of its lifetime; with PFS the quick mode's inbound SPI stayed reserved.
func TestLocalFailureRekeyTriedAgain(t *testing.T) {
	pfs, err := suite.ParseProposal(v2.ProtocolESP, "aes256-sha256-modp2048")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		tweak func(pi, pr *ikev2.PeerConfig)
		nonce bool // the nonce fails, else the key
	}{
		{"nonce", nil, true},
		{"PFS key", func(pi, pr *ikev2.PeerConfig) {
			pi.ESPProposals, pr.ESPProposals = []suite.Proposal{pfs}, []suite.Proposal{pfs}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			// While fail is set, nonces or keys fail; failed counts them.
			var fail atomic.Bool
			var failed atomic.Int32
			nonce, key := newNonce, generateKey
			t.Cleanup(func() { newNonce, generateKey = nonce, key })
			errLocal := errors.New("a test's failure")
			if c.nonce {
				newNonce = func() ([]byte, error) {
					if fail.Load() {
						failed.Add(1)
						return nil, errLocal
					}
					return nonce()
				}
			} else {
				generateKey = func(g v2.DHGroup) (*suite.PrivateKey, error) {
					if fail.Load() {
						failed.Add(1)
						return nil, errLocal
					}
					return key(g)
				}
			}
			mi, mr, ri, rr := twoManagers(t, c.tweak)
			shuttle(mi, mr, ri, rr, nil)
			ri.mu.Lock()
			old := ri.children[0].In.SPI
			ri.mu.Unlock()
			fail.Store(true)
			mi.SoftExpired("i", old)
			for deadline := time.Now().Add(10 * time.Second); failed.Load() == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the rekey did not start")
				}
			}
			fail.Store(false)
			if st := mi.Status(); !strings.Contains(st[0].LastError, errLocal.Error()) {
				t.Errorf("the initiator's status after its rekey failed: %q, want %q", st[0].LastError, errLocal)
			}
			if l := leakedSPIs(mi); len(l) != 0 {
				t.Errorf("inbound SPIs %08x reserved for no child and no quick mode", l)
			}
			ri.take()
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				msgs, _, _ := ri.take()
				if slices.ContainsFunc(msgs, func(m []byte) bool { return m[18] == wire.ExchangeQuick }) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no quick mode tried again after the failure was over: the child is not rekeyed")
				}
			}
		})
	}
}

// TestUnreadNotifyKeepsQuickMode: an error notification that names no
// SPI (RFC 2408 §3.14: it cannot be tied to an exchange) and tells of a
// message the peer could not read, as strongSwan sends for one that does
// not parse or check out, leaves our quick mode under way to its
// retransmissions: it was taken for a refusal of our one quick mode,
// which ended at once, whatever message the peer could not read. One
// that refuses a proposal (libreswan's, and vnetgw's before the SA is
// read) still ends it.
func TestUnreadNotifyKeepsQuickMode(t *testing.T) {
	for _, c := range []struct {
		name   string
		typ    uint16
		goesOn bool
	}{
		{"PAYLOAD-MALFORMED", wire.NotifyPayloadMalformed, true},
		{"INVALID-HASH-INFORMATION", wire.NotifyInvalidHashInfo, true},
		{"NO-PROPOSAL-CHOSEN", wire.NotifyNoProposalChosen, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := startQuickUnderWay(t)
			mi, mr, ri, rr := q.mi, q.mr, q.ri, q.rr
			qm1, from, to := q.qm1, q.from, q.to

			if goesOn := q.notify(t, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, Type: c.typ}) == 1; goesOn != c.goesOn {
				t.Fatalf("%s with no SPI: the quick mode under way goes on %v, want %v", c.name, goesOn, c.goesOn)
			}
			if !c.goesOn {
				return
			}
			// It completes once message 1 gets through.
			mr.handle(to, from, qm1)
			qm2, _, _ := sent(t, rr)
			mi.handle(from, to, qm2)
			hash3, _, _ := sent(t, ri)
			mr.handle(to, from, hash3)
			ri.mu.Lock()
			rr.mu.Lock()
			ci, cr := len(ri.children), len(rr.children)
			rr.mu.Unlock()
			ri.mu.Unlock()
			if ci != 2 || cr != 2 {
				t.Errorf("after the quick mode: %d and %d children, want 2 on each side", ci, cr)
			}
		})
	}
}

// TestZeroSPIRefusalEndsQuickMode: strongSwan refuses a quick mode whose
// traffic it has no child for with INVALID-ID-INFORMATION for protocol
// ESP and an SPI of 0, sent before it read the proposal's SPI. SPI 0
// names no SA (RFC 4303 §2.1), so the notification is taken as one that
// names none: it ends our one quick mode under way, whose pair the
// status names, where it was tied to no quick mode, which went on
// sending message 1 (strongSwan answering INVALID-HASH-INFORMATION) until
// its tries ran out. One of a message the peer could not read leaves the
// quick mode to its retransmissions, as with no SPI.
func TestZeroSPIRefusalEndsQuickMode(t *testing.T) {
	for _, c := range []struct {
		name   string
		typ    uint16
		goesOn bool
	}{
		{"INVALID-ID-INFORMATION", wire.NotifyInvalidIDInfo, false},
		{"PAYLOAD-MALFORMED", wire.NotifyPayloadMalformed, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := startQuickUnderWay(t)
			if goesOn := q.notify(t, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPI: []byte{0, 0, 0, 0}, Type: c.typ}) == 1; goesOn != c.goesOn {
				t.Fatalf("%s for ESP with SPI 0: the quick mode under way goes on %v, want %v", c.name, goesOn, c.goesOn)
			}
			if got, want := q.mi.Status()[0].LastError, "quick mode for "+q.pair.String(); !c.goesOn && !strings.Contains(got, want) {
				t.Errorf("status after the refusal: %q, want it to name the pair (%q)", got, want)
			}
		})
	}
}

// TestRekeyAndNewPairTakeTurns: a policy-based connection (R18) whose
// one child is due for its rekey in the tick its other pair may start
// has one quick mode of ours under way, not two, so that strongSwan's
// refusal with SPI 0 (which names no quick mode: refusedQuick) ends it
// and the status names its pair. Both started in one tick, and the
// refusal, tied to neither, left the refused one sending message 1 until
// its tries ran out.
func TestRekeyAndNewPairTakeTurns(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		manyPairs(2)(pi, pr)
		pi.RetransmitTimeout = time.Minute // message 1 is not sent again meanwhile
	})
	mi.mu.Lock()
	p := mi.peers["i"]
	second := p.pairs[1]
	p.waits[second] = quickWait{after: time.Now().Add(time.Hour)} // the first pair alone comes up
	mi.mu.Unlock()
	shuttle(mi, mr, ri, rr, nil)
	if childCount(ri) != 1 || childCount(rr) != 1 {
		t.Fatalf("children of the first pair: initiator %d, responder %d, want 1 each; status %+v", childCount(ri), childCount(rr), mi.Status())
	}
	si, sr := onlySA(t, mi), onlySA(t, mr)
	ri.take()
	rr.take()

	// One tick: the second pair may start, and the first pair's child is
	// due for its rekey.
	mi.mu.Lock()
	delete(p.waits, second)
	for _, c := range p.children {
		c.rekeyAt = time.Now().Add(-time.Second)
	}
	mi.timers(time.Now())
	under := map[uint32]pair{}
	for mid, q := range si.qms {
		if q.initiator {
			under[mid] = q.pair
		}
	}
	mi.mu.Unlock()
	ri.take() // message 1: the peer refuses it
	if len(under) == 0 {
		t.Fatal("no quick mode started with a rekey due and a pair without a child")
	}

	mr.mu.Lock()
	sr.sendInfo(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPI: []byte{0, 0, 0, 0}, Type: wire.NotifyInvalidIDInfo}.Append(nil))
	mr.mu.Unlock()
	n, nf, nt := sent(t, rr)
	mi.handle(nt, nf, n)
	mi.mu.Lock()
	var left []pair
	for mid, pr := range under {
		if _, ok := si.qms[mid]; ok {
			left = append(left, pr)
		}
	}
	mi.mu.Unlock()
	if len(left) != 0 {
		t.Fatalf("after INVALID-ID-INFORMATION with SPI 0: %d of the %d quick modes started in the tick still under way (%v), want the one under way ended", len(left), len(under), left)
	}
	for _, pr := range under {
		if got, want := mi.Status()[0].LastError, "quick mode for "+pr.String(); !strings.Contains(got, want) {
			t.Errorf("status after the refusal: %q, want it to name the pair (%q)", got, want)
		}
	}
}

// TestNarrowedFailureWaits: a quick mode of ours that the peer answered
// with narrower traffic than proposed (as strongSwan does) and that then
// fails (here the data path refuses the child) makes the pair it
// proposed wait, as any failed quick mode does, whether a new pair or
// the rekey of a child. The wait went to the narrower pair, which no
// quick mode of ours proposes: the pair, or the child's rekey, was tried
// again at the next tick, every 200 ms, for as long as the failure
// lasted.
func TestNarrowedFailureWaits(t *testing.T) {
	proposed := pair{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16")}
	for _, rekey := range []bool{false, true} {
		t.Run(map[bool]string{false: "new pair", true: "rekey"}[rekey], func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
				pi.Children = []ikev2.ChildConfig{{LocalTS: []netip.Prefix{proposed.local}, RemoteTS: []netip.Prefix{proposed.remote}}}
				pr.Children = []ikev2.ChildConfig{{LocalTS: []netip.Prefix{proposed.remote}, RemoteTS: []netip.Prefix{proposed.local}}}
			})
			errInstall := errors.New("the data path refuses the child")
			if rekey {
				shuttle(mi, mr, ri, rr, nil)
				ri.mu.Lock()
				old := ri.children[0].In.SPI
				ri.installErr = errInstall
				ri.mu.Unlock()
				mi.SoftExpired("i", old)
			} else {
				ri.mu.Lock()
				ri.installErr = errInstall
				ri.mu.Unlock()
			}
			// The responder's message 2 answers 10.1.1.0/24 <-> 10.2.0.0/16.
			var failed time.Time
			for deadline := time.Now().Add(20 * time.Second); failed.IsZero(); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no quick mode message 2")
				}
				a, af, at := ri.take()
				for i := range a {
					mr.handle(at[i], af[i], a[i])
				}
				b, bf, bt := rr.take()
				for i := range b {
					if b[i][18] == wire.ExchangeQuick && failed.IsZero() {
						narrowed, _ := resealQuick2(t, mi, b[i], func(ps []wire.Payload) []wire.Payload {
							if i := slices.IndexFunc(ps, func(p wire.Payload) bool { return p.Type == wire.PayloadID }); i >= 0 {
								ps[i].Body = wire.PrefixID(netip.MustParsePrefix("10.1.1.0/24")).Append(nil)
							}
							return ps
						})
						if narrowed != nil {
							failed = time.Now()
							mi.handle(bt[i], bf[i], narrowed)
							continue
						}
					}
					mi.handle(bt[i], bf[i], b[i])
				}
			}
			mi.mu.Lock()
			defer mi.mu.Unlock()
			p := mi.peers["i"]
			if w := p.waits[proposed]; !w.after.After(failed) {
				t.Errorf("after the quick mode for %v failed, that pair waits until %v, want after %v (waits %+v)", proposed, w.after, failed, p.waits)
			}
			for _, c := range p.children {
				if c.rekeying {
					t.Errorf("child %08x is still marked as being rekeyed", c.inSPI)
				}
			}
		})
	}
}

// quickUnderWay is a connection whose initiator has a quick mode of its
// first pair under way: its message 1 sent (held here, and not sent
// again meanwhile), not yet at the responder.
type quickUnderWay struct {
	mi, mr   *Manager
	ri, rr   *recorder
	si, sr   *isakmpSA
	pair     pair
	qm1      []byte
	from, to netip.AddrPort
}

func startQuickUnderWay(t *testing.T) *quickUnderWay {
	t.Helper()
	q := &quickUnderWay{}
	q.mi, q.mr, q.ri, q.rr = twoManagers(t, func(pi, _ *ikev2.PeerConfig) {
		pi.RetransmitTimeout = time.Minute // message 1 is not sent again meanwhile
	})
	shuttle(q.mi, q.mr, q.ri, q.rr, nil)
	q.si, q.sr = onlySA(t, q.mi), onlySA(t, q.mr)
	q.ri.take()
	q.rr.take()
	q.mi.mu.Lock()
	q.pair = q.mi.peers["i"].pairs[0]
	q.si.startQuick(q.pair, nil)
	q.mi.mu.Unlock()
	if q.qm1, q.from, q.to = sent(t, q.ri); q.qm1 == nil {
		t.Fatal("the initiator sent no quick mode message 1")
	}
	return q
}

// notify has the responder send n and the initiator read it, and returns
// how many quick modes the initiator's SA has under way then.
func (q *quickUnderWay) notify(t *testing.T, n wire.Notify) int {
	t.Helper()
	q.mr.mu.Lock()
	q.sr.sendInfo(wire.PayloadNotify, n.Append(nil))
	q.mr.mu.Unlock()
	msg, from, to := sent(t, q.rr)
	q.mi.handle(to, from, msg)
	q.mi.mu.Lock()
	defer q.mi.mu.Unlock()
	return len(q.si.qms)
}
