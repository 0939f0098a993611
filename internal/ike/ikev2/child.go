package ikev2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// childState is the state of a child SA pair.
type childState uint8

const (
	childActive   childState = iota // installed
	childRekeying                   // our rekey of it is outstanding
	childRekeyed                    // replaced; the peer deletes it
	childDeleting                   // our Delete of it is outstanding
)

// maxChildren bounds the child SA pairs the peer can create under one IKE
// SA: those that carry traffic (live), as many as a connection's prefix
// pairs may be (rules.MaxPrefixPairs). A pair replaced by a rekey, still
// there until its Delete, does not count: it goes at the peer's Delete
// or after a grace time (replacedByPeer), and maxReplaced bounds them.
const maxChildren = 256

// maxReplaced bounds the pairs a peer's rekeys replaced that wait for its
// Delete under one IKE SA: beyond it the peer's rekey is refused until
// some go, as each goes within giveUpAfter (replacedByPeer).
const maxReplaced = maxChildren

// live tells whether ch carries its traffic: it is not replaced by a
// rekey or being deleted.
func (ch *child) live() bool { return ch.state == childActive || ch.state == childRekeying }

// child is one child SA pair in the data path (or being negotiated).
type child struct {
	cfgIndex      int // into PeerConfig.Children
	inSPI, outSPI uint32
	suite         suite.Suite
	// proposedLocal and proposedRemote are what this side proposed as
	// initiator; localTS and remoteTS the narrowed result.
	proposedLocal, proposedRemote []selector
	localTS, remoteTS             []selector
	state                         childState
	installed                     time.Time
	rekeyAt, expireAt             time.Time
	// limits are the byte and packet lifetimes its SAs were installed
	// with (PeerConfig.ChildLimits then).
	limits  esp.Limits
	rekeyed bool // it replaced an older pair
	// standby tells that this side answered the CREATE_CHILD_SA that
	// made the pair (ipsec.Child.Standby).
	standby bool
	// peerRekey is the pair the peer made by rekeying this one while our
	// rekey of it was outstanding, and peerNonces the nonces of that
	// exchange (RFC 7296 §2.8.1).
	peerRekey  *child
	peerNonces [2][]byte
	// asked: this side initiated the CREATE_CHILD_SA that made the pair.
	asked bool
	// unconfirmed: this side answered the CREATE_CHILD_SA that made the
	// pair, and the peer has not yet shown that it got the response and
	// installed the pair (ikeSA.confirmChildren).
	unconfirmed bool
}

// unconfirmedChild is a pair this side answered in CREATE_CHILD_SA, and
// the message ID from which a request of the peer's shows that it
// installed the pair: the peer sends its next request only once it has
// the response to the last (RFC 7296 §2.3, a window of one).
type unconfirmedChild struct {
	ch *child
	id uint32
}

// ipsec returns the pair as the data path takes it, with the endpoints of
// sa and keys, of which initiated tells which half is ours.
func (ch *child) ipsec(sa *ikeSA, k suite.ChildKeys, initiated bool) ipsec.Child {
	// RFC 7296 §2.17: the first keys protect what the initiator of the
	// exchange sends.
	outE, outA, inE, inA := k.EI, k.AI, k.ER, k.AR
	if !initiated {
		outE, outA, inE, inA = inE, inA, outE, outA
	}
	return ipsec.Child{
		Tunnel: sa.c.name,
		Local:  sa.local, Remote: sa.remote,
		Encap:    sa.encap(),
		LocalTS:  prefixes(ch.localTS),
		RemoteTS: prefixes(ch.remoteTS),
		In:       ch.espConfig(ch.inSPI, inE, inA, sa, sa.cfg().NoReplayCheck),
		Out:      ch.espConfig(ch.outSPI, outE, outA, sa, false),
		Standby:  ch.standby,
	}
}

// espConfig is one direction of the pair; noReplay turns anti-replay off
// (an inbound SA's).
func (ch *child) espConfig(spi uint32, encr, integ []byte, sa *ikeSA, noReplay bool) esp.Config {
	return esp.Config{
		SPI:           spi,
		Cipher:        esp.Cipher(ch.suite.Encr),
		Integrity:     esp.Integrity(ch.suite.Integ),
		Keys:          esp.NewKeys(encr, integ),
		ESN:           ch.suite.ESN,
		NoReplayCheck: noReplay,
		Limits:        sa.cfg().ChildLimits,
	}
}

func (ch *child) snapshot(sa *ikeSA) ChildStatus {
	return ChildStatus{
		InSPI: ch.inSPI, OutSPI: ch.outSPI, Proposal: ch.suite.String(),
		LocalTS: prefixes(ch.localTS), RemoteTS: prefixes(ch.remoteTS),
		Encap: sa.encap(), Installed: ch.installed, Rekeyed: ch.rekeyed,
	}
}

// childByIn returns the child pair with our inbound SPI spi, looking in
// the IKE SA that owns the pairs of sa (RFC 7296 §1.4: control messages of
// a child SA may come under a rekeyed IKE SA).
func (sa *ikeSA) childByIn(spi uint32) *child {
	for _, ch := range sa.home().children {
		if ch.inSPI == spi {
			return ch
		}
	}
	return nil
}

// childByOut returns the child pair with the peer's inbound SPI spi.
func (sa *ikeSA) childByOut(spi uint32) *child {
	for _, ch := range sa.home().children {
		if ch.outSPI == spi {
			return ch
		}
	}
	return nil
}

// hasChild reports whether a usable pair of child configuration i exists.
func (sa *ikeSA) hasChild(i int) bool {
	for _, ch := range sa.children {
		if ch.cfgIndex == i && (ch.state == childActive || ch.state == childRekeying) {
			return true
		}
	}
	return false
}

// hasConfirmedChild reports whether a usable pair of child configuration i
// exists that the peer is known to have installed.
func (sa *ikeSA) hasConfirmedChild(i int) bool {
	return slices.ContainsFunc(sa.children, func(ch *child) bool { return ch.cfgIndex == i && ch.live() && !ch.unconfirmed })
}

// confirmChildren notes, on a request of the peer's with message ID id,
// that the peer has installed the pairs it asked for before it.
func (sa *ikeSA) confirmChildren(id uint32) {
	sa.unconfirmed = slices.DeleteFunc(sa.unconfirmed, func(u unconfirmedChild) bool {
		if id < u.id {
			return false
		}
		u.ch.unconfirmed = false
		return true
	})
}

// carries reports whether an IKE SA of the connection other than sa has a
// pair that carries traffic.
func (c *conn) carries(sa *ikeSA) bool {
	return slices.ContainsFunc(c.sas, func(o *ikeSA) bool {
		return o != sa && o.state != stateDead && slices.ContainsFunc(o.children, (*child).live)
	})
}

// home returns the IKE SA that owns what this one had: itself, or the SA it
// was rekeyed into.
func (sa *ikeSA) home() *ikeSA {
	for sa.successor != nil {
		sa = sa.successor
	}
	return sa
}

// install puts a negotiated pair into the data path, which keeps copies of
// its keys, wipes keys and schedules the pair's rekey. initiated tells
// whether this side initiated the exchange.
func (sa *ikeSA) install(ch *child, keys suite.ChildKeys, initiated bool) error {
	c := ch.ipsec(sa, keys, initiated)
	for _, k := range []suite.Key{keys.EI, keys.AI, keys.ER, keys.AR} {
		clear(k)
	}
	if err := sa.c.m.cfg.Dataplane.InstallChild(c); err != nil {
		return fmt.Errorf("installing child SA: %w", err)
	}
	home := sa.home()
	now := time.Now()
	ch.installed, ch.limits = now, c.In.Limits
	home.scheduleChild(ch, now)
	home.children = append(home.children, ch)
	if st := sa.c.client; st != nil {
		st.childBy = time.Time{}
	}
	// Every child the connection wants is up: a child's error (a refusal
	// of the peer's, say) says nothing any more, as an IKE SA
	// established clears one of its own.
	missing := false
	for i := range sa.cfg().Children {
		missing = missing || !home.hasChild(i)
	}
	if !missing {
		sa.c.lastError = ""
	}
	sa.log.Info("child SA installed", sa.logAttrs(), "spi_in", spiString(ch.inSPI), "spi_out", spiString(ch.outSPI),
		"proposal", ch.suite, "local_ts", prefixes(ch.localTS), "remote_ts", prefixes(ch.remoteTS),
		"encap", sa.encap())
	return nil
}

func (sa *ikeSA) scheduleChild(ch *child, t time.Time) {
	ch.rekeyAt, ch.expireAt = sa.lifetimes(t, sa.cfg().ChildLifetime)
}

// removeChild takes a pair out of the data path and forgets it.
func (sa *ikeSA) removeChild(ch *child) { sa.dropChild(ch, false) }

// deletedChild takes a pair a Delete ended, ours answered or the peer's,
// out of what the data path sends with, and forgets it; its inbound SA
// still opens what arrives with it for drainWait (conn.linger). Packets
// the peer sealed with it before it took its half out may be read after
// the IKE message that ended it: ESP and IKE are read apart, and a
// batch's IKE goes to the IKE loop before its ESP is opened.
func (sa *ikeSA) deletedChild(ch *child) { sa.dropChild(ch, true) }

func (sa *ikeSA) dropChild(ch *child, drain bool) {
	owner := sa.home()
	if !slices.Contains(owner.children, ch) {
		owner = sa
	}
	for i, x := range owner.children {
		if x == ch {
			owner.children = slices.Delete(owner.children, i, i+1)
			if drain {
				sa.c.m.cfg.Dataplane.DrainChild(sa.c.name, ch.inSPI)
				sa.c.linger(ch.inSPI)
			} else {
				sa.c.m.cfg.Dataplane.RemoveChild(sa.c.name, ch.inSPI)
				sa.c.m.releaseSPIs(0, ch.inSPI)
			}
			sa.log.Info("child SA removed", sa.logAttrs(), "spi_in", spiString(ch.inSPI), "spi_out", spiString(ch.outSPI))
			if sa.state == stateEstablished {
				sa.c.childless()
			}
			return
		}
	}
}

// drainChild takes ch, a pair of sa that another IKE SA's pair for the
// same selectors replaces, out of what the data path sends with, and
// keeps its inbound SA until sa ends and drainWait after (conn.linger):
// packets the peer sent with it before it took its own half out still
// arrive. RFC 7296 §1.4.1: the end that deletes an SA keeps receiving
// on it until the peer has answered.
func (sa *ikeSA) drainChild(ch *child) {
	owner := sa.home()
	if !slices.Contains(owner.children, ch) {
		owner = sa
	}
	i := slices.Index(owner.children, ch)
	if i < 0 {
		return
	}
	owner.children = slices.Delete(owner.children, i, i+1)
	sa.drained = append(sa.drained, ch)
	sa.c.m.cfg.Dataplane.DrainChild(sa.c.name, ch.inSPI)
	sa.log.Info("child SA drained: traffic goes over the kept IKE SA's", sa.logAttrs(), "spi_in", spiString(ch.inSPI), "spi_out", spiString(ch.outSPI))
}

// replacedByPeer marks old as replaced by the peer's rekey. The peer
// deletes it (RFC 7296 §2.8); if its Delete has not come within as long as
// a request waits for its response, old goes as at the end of its
// lifetime, our Delete with it, so that a peer that rekeys and never
// deletes does not pile up pairs until their lifetimes end.
func (sa *ikeSA) replacedByPeer(old *child) {
	old.state = childRekeyed
	old.rekeyAt = time.Time{}
	if by := time.Now().Add(sa.giveUpAfter()); old.expireAt.IsZero() || by.Before(old.expireAt) {
		old.expireAt = by
	}
}

// queueCreateChild asks for a pair of child configuration i.
func (sa *ikeSA) queueCreateChild(i int) { sa.enqueue(task{kind: taskCreateChild, index: i}) }

// queueRekeyChild asks for a rekey of ch.
func (sa *ikeSA) queueRekeyChild(ch *child) {
	if ch.state == childActive {
		sa.enqueue(task{kind: taskRekeyChild, child: ch})
	}
}

// pfsGroup returns the group of the KE payload to send with a
// CREATE_CHILD_SA request: the one INVALID_KE_PAYLOAD asked for, else the
// first of the ESP proposals; DHNone without PFS.
func (sa *ikeSA) pfsGroup(t task) wire.DHGroup {
	if t.group != wire.DHNone {
		return t.group
	}
	return firstGroup(sa.cfg().ESPProposals)
}

// startCreateChild sends a CREATE_CHILD_SA request for a new pair (RFC
// 7296 §1.3.1).
func (sa *ikeSA) startCreateChild(t task) {
	if t.index >= len(sa.cfg().Children) || sa.hasChild(t.index) {
		return
	}
	cc := sa.cfg().Children[t.index]
	ch := &child{cfgIndex: t.index, proposedLocal: prefixSelectors(cc.LocalTS), proposedRemote: prefixSelectors(cc.RemoteTS)}
	sa.sendChildRequest(t, ch, nil)
}

// startRekeyChild sends a CREATE_CHILD_SA request that rekeys a pair (RFC
// 7296 §1.3.3).
func (sa *ikeSA) startRekeyChild(t task) {
	old := t.child
	if old.state != childActive || sa.childByIn(old.inSPI) != old {
		return
	}
	old.state = childRekeying
	old.peerRekey = nil
	// RFC 7296 §2.8: the new pair keeps the selectors of the old one.
	ch := &child{cfgIndex: old.cfgIndex, proposedLocal: old.localTS, proposedRemote: old.remoteTS}
	sa.sendChildRequest(t, ch, old)
}

// sendChildRequest sends the CREATE_CHILD_SA request for ch, which
// replaces old if old is not nil.
func (sa *ikeSA) sendChildRequest(t task, ch, old *child) {
	ni, err := suite.NewNonce()
	if err != nil {
		return
	}
	var dh *suite.PrivateKey
	if g := sa.pfsGroup(t); g != wire.DHNone {
		if dh, err = suite.GenerateKey(g); err != nil {
			sa.log.Error("generating key exchange", sa.logAttrs(), "group", g, "err", err)
			return
		}
	}
	ch.inSPI = sa.c.m.newESPSPI(sa.c)
	sa.pendingChild = ch
	var ps []wire.Payload
	if old != nil {
		ps = append(ps, &wire.Notify{Protocol: wire.ProtocolESP, SPI: spi4(old.inSPI), NotifyType: wire.RekeySA})
	}
	ps = append(ps, saPayload(sa.cfg().ESPProposals, spi4(ch.inSPI), true), &wire.Nonce{Data: ni})
	if dh != nil {
		ps = append(ps, &wire.KE{Group: dh.Group(), Data: dh.PublicKey()})
	}
	ps = append(ps, tsPayload(false, ch.proposedLocal), tsPayload(true, ch.proposedRemote))
	what := "the creation of a child SA (" + sa.cfg().Children[ch.cfgIndex].String() + ")"
	if old != nil {
		what = fmt.Sprintf("the rekey of child SA 0x%s", spiString(old.inSPI))
	}
	sa.request(wire.CreateChildSA, what, ps, func(resp []wire.Payload) { sa.childResponse(resp, t, ch, old, ni, dh) })
}

// childResponse processes the response to a CREATE_CHILD_SA request for
// a pair.
func (sa *ikeSA) childResponse(ps []wire.Payload, t task, ch, old *child, ni []byte, dh *suite.PrivateKey) {
	sa.pendingChild = nil
	if sa.retired {
		// The pair would go with the IKE SA, whose Delete follows: not
		// into the data path, where it would carry traffic until then.
		sa.c.m.releaseSPIs(0, ch.inSPI)
		return
	}
	abandon := func() {
		sa.c.m.releaseSPIs(0, ch.inSPI)
		if old == nil {
			// A new child: tried again later (sooner after a
			// TEMPORARY_FAILURE, below).
			sa.home().retryChild(ch.cfgIndex, childRetryDelay)
			return
		}
		if old.state != childRekeying {
			return
		}
		old.state = childActive
		// Try again later; the hard lifetime bounds the attempts.
		old.rekeyAt = time.Now().Add(retryDelay)
		if old.peerRekey != nil {
			// The peer rekeyed it meanwhile and deletes it.
			sa.replacedByPeer(old)
		}
	}
	if n := errorNotify(ps); n != nil {
		abandon()
		switch n.NotifyType {
		case wire.InvalidKEPayload:
			// RFC 7296 §1.3: retry with the group the responder wants.
			if g, ok := wantedGroup(n); ok && g != sa.pfsGroup(t) && offersGroup(sa.cfg().ESPProposals, g) && t.tries < 2 {
				t.group, t.tries = g, t.tries+1
				sa.queue = append([]task{t}, sa.queue...)
				delete(sa.home().childRetry, ch.cfgIndex) // tried again now
				return
			}
		case wire.TemporaryFailure:
			// RFC 7296 §2.25: try again a little later (abandon
			// scheduled it: a rekey, or a new child, sooner).
			if old == nil {
				sa.home().retryChild(ch.cfgIndex, retryDelay)
			}
			return
		case wire.ChildSANotFound:
			// RFC 7296 §2.25: the peer has no such pair. If it deleted it
			// after its own rekey, nothing is missing; if we still have
			// it, the peer lost it: start afresh.
			if old != nil && sa.home().childByIn(old.inSPI) == old {
				sa.home().removeChild(old)
				sa.home().queueCreateChild(old.cfgIndex)
			}
			return
		}
		sa.c.lastError = "child SA: peer answered " + n.NotifyType.String()
		sa.log.Warn("child SA not established", sa.logAttrs(), "notify", n.NotifyType)
		return
	}
	var gir suite.Key
	if dh != nil {
		if ke, ok := find[*wire.KE](ps); ok {
			var err error
			if ke.Group != dh.Group() {
				abandon()
				sa.log.Warn("child SA not established", sa.logAttrs(), "err", "KE of another group")
				return
			}
			if gir, err = dh.SharedSecret(ke.Data); err != nil {
				abandon()
				sa.log.Warn("child SA not established", sa.logAttrs(), "err", err)
				return
			}
		}
	}
	nonce, ok := find[*wire.Nonce](ps)
	if !ok {
		abandon()
		sa.log.Warn("child SA not established", sa.logAttrs(), "err", "no nonce")
		return
	}
	ch.asked = true
	if err := sa.completeChild(ps, ch, ni, nonce.Data, gir, false); err != nil {
		abandon()
		sa.c.lastError = "child SA: " + err.Error()
		sa.log.Warn("child SA not established", sa.logAttrs(), "err", err)
		return
	}
	if slices.ContainsFunc(sa.c.sas, func(o *ikeSA) bool { return o.peerRetires && o.state != stateDead }) {
		// The peer deletes the SA it duplicated once this one has a
		// pair for each of its selectors installed at both ends: a
		// request of ours, the next after the one answered, shows that
		// we have this one (confirmChildren).
		sa.home().enqueue(task{kind: taskDPD})
	}
	if old == nil {
		return
	}
	ch.rekeyed = true
	old.state = childRekeyed
	switch {
	case old.peerRekey != nil && redundantIsOurs([2][]byte{ni, nonce.Data}, old.peerNonces, sa.initiator):
		// RFC 7296 §2.8.1: the pair made with the lowest nonce is
		// redundant and its creator deletes it; the peer deletes old.
		sa.log.Info("child SA rekey collision lost", sa.logAttrs(), "spi_in", spiString(ch.inSPI))
		sa.replacedByPeer(old)
		sa.home().enqueue(task{kind: taskDeleteChild, child: ch})
	default:
		// No collision, or we won it: the old pair goes, unless the
		// peer deleted it meanwhile.
		if sa.childByIn(old.inSPI) == old {
			sa.home().enqueue(task{kind: taskDeleteChild, child: old})
		}
		if r := old.peerRekey; r != nil && sa.childByIn(r.inSPI) == r && r.live() {
			// RFC 7296 §2.8.1: the peer's pair is the redundant one and the
			// peer deletes it; it waits for that Delete as a pair the peer
			// replaced does, and goes with ours if none came.
			sa.replacedByPeer(r)
		}
	}
}

// completeChild finishes a pair from the SA and TS payloads of a response;
// gir is nil without PFS. inAuth marks the child of IKE_AUTH.
func (sa *ikeSA) completeChild(ps []wire.Payload, ch *child, ni, nr []byte, gir suite.Key, inAuth bool) error {
	defer clear(gir)
	saP, ok := find[*wire.SA](ps)
	tsi, tsr := findTS(ps)
	if !ok || tsi == nil || tsr == nil {
		if n := errorNotify(ps); n != nil {
			return fmt.Errorf("peer answered %v", n.NotifyType)
		}
		return errors.New("no SA or traffic selectors in the response")
	}
	ours := sa.cfg().ESPProposals
	if inAuth {
		ours = withoutDH(ours)
	}
	s, spi, err := accepted(ours, saP, wire.ProtocolESP, 4)
	if err != nil {
		return err
	}
	if (s.DH != wire.DHNone) != (gir != nil) {
		return fmt.Errorf("responder chose %v without the matching key exchange", s.DH)
	}
	var okL, okR bool
	// RFC 7296 §2.9: the responder may only narrow what was proposed.
	if ch.localTS, okL = within(tsi.Selectors, ch.proposedLocal); !okL {
		return errors.New("responder's TSi is not within ours")
	}
	if ch.remoteTS, okR = within(tsr.Selectors, ch.proposedRemote); !okR {
		return errors.New("responder's TSr is not within ours")
	}
	ch.outSPI = binary.BigEndian.Uint32(spi)
	// RFC 4303 §2.1: SPI 0 MUST NOT be sent, and 1 to 255 are reserved.
	if ch.outSPI < 256 {
		return fmt.Errorf("the responder's SPI %d is reserved (RFC 4303 §2.1)", ch.outSPI)
	}
	ch.suite = s
	keys, err := s.ChildKeys(sa.suite.PRF, sa.keys.D, gir, ni, nr)
	if err != nil {
		return err
	}
	return sa.install(ch, keys, true)
}

// handleCreateChildRequest answers a CREATE_CHILD_SA request: a new or
// rekeyed pair, or a rekey of the IKE SA.
func (sa *ikeSA) handleCreateChildRequest(ps []wire.Payload) []wire.Payload {
	saP, ok := find[*wire.SA](ps)
	if !ok || len(saP.Proposals) == 0 {
		return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
	}
	if sa.state != stateEstablished {
		// RFC 7296 §2.25.2: this SA is being rekeyed or deleted.
		return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
	}
	if saP.Proposals[0].Protocol == wire.ProtocolIKE {
		return sa.acceptIKERekey(ps, saP)
	}
	nonce, ok := find[*wire.Nonce](ps)
	if !ok {
		return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
	}
	nr, err := suite.NewNonce()
	if err != nil {
		return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
	}
	return sa.acceptChild(ps, nonce.Data, nr, false)
}

// acceptChild negotiates a pair the peer asked for, in IKE_AUTH (inAuth)
// or CREATE_CHILD_SA, and returns the payloads of the response.
func (sa *ikeSA) acceptChild(ps []wire.Payload, ni, nr []byte, inAuth bool) []wire.Payload {
	fail := func(t wire.NotifyType, format string, args ...any) []wire.Payload {
		sa.c.lastError = "child SA: " + fmt.Sprintf(format, args...)
		sa.log.Warn("child SA refused", sa.logAttrs(), "notify", t, "err", fmt.Sprintf(format, args...))
		return []wire.Payload{&wire.Notify{NotifyType: t}}
	}
	saP, _ := find[*wire.SA](ps)
	tsi, tsr := findTS(ps)
	if tsi == nil || tsr == nil {
		return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
	}
	var old *child
	n := notify(ps, wire.RekeySA)
	if n == nil {
		live := 0
		for _, ch := range sa.home().children {
			if ch.live() {
				live++
			}
		}
		if live >= maxChildren {
			// RFC 7296 §3.10.1: no more child SAs on this IKE SA.
			return fail(wire.NoAdditionalSAs, "%d child SAs already", live)
		}
	}
	if n != nil {
		if n.Protocol != wire.ProtocolESP || len(n.SPI) != 4 {
			return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
		}
		// The SPI is the peer's inbound one, our outbound.
		spi := binary.BigEndian.Uint32(n.SPI)
		if old = sa.childByOut(spi); old == nil {
			if sa.c.deletingChild(spi) {
				// RFC 7296 §2.25.1: a pair we are closing (gone from the
				// data path already, our Delete on its way).
				return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
			}
			// RFC 7296 §2.25: no such pair here.
			return []wire.Payload{&wire.Notify{NotifyType: wire.ChildSANotFound, Protocol: wire.ProtocolESP, SPI: n.SPI}}
		}
		if old.state == childRekeyed || old.state == childDeleting {
			// RFC 7296 §2.25.1: it is being replaced or deleted already.
			return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
		}
		replaced := 0
		for _, ch := range sa.home().children {
			if ch.state == childRekeyed {
				replaced++
			}
		}
		if replaced >= maxReplaced {
			// RFC 7296 §3.10.1: a temporary condition; the peer tries
			// again once it has deleted the pairs it replaced.
			return fail(wire.TemporaryFailure, "%d replaced child SAs wait for the peer's Delete", replaced)
		}
	}
	ours := sa.cfg().ESPProposals
	var s suite.Suite
	var number uint8
	var theirSPI []byte
	var ok bool
	ke, _ := find[*wire.KE](ps)
	if inAuth {
		// RFC 7296 §1.2: no Diffie-Hellman group in IKE_AUTH.
		s, number, theirSPI, ok = choose(withoutDH(ours), saP, wire.ProtocolESP, 4, true)
	} else {
		s, number, theirSPI, ok = chooseForKE(ours, saP, wire.ProtocolESP, 4, ke)
	}
	if !ok {
		return fail(wire.NoProposalChosen, "no acceptable ESP proposal (the peer offered %s)", offeredString(saP, wire.ProtocolESP))
	}
	// RFC 4303 §2.1: SPI 0 MUST NOT be sent, and 1 to 255 are reserved.
	if spi := binary.BigEndian.Uint32(theirSPI); spi < 256 {
		return fail(wire.NoProposalChosen, "the peer's SPI %d is reserved (RFC 4303 §2.1)", spi)
	}
	var gir suite.Key
	var ker *wire.KE
	if s.DH != wire.DHNone {
		if ke == nil || ke.Group != s.DH {
			// RFC 7296 §1.3: ask for the chosen group.
			return []wire.Payload{invalidKE(s.DH)}
		}
		dh, err := suite.GenerateKey(s.DH)
		if err != nil {
			return []wire.Payload{&wire.Notify{NotifyType: wire.NoProposalChosen}}
		}
		if gir, err = dh.SharedSecret(ke.Data); err != nil {
			return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
		}
		defer clear(gir)
		ker = &wire.KE{Group: s.DH, Data: dh.PublicKey()}
	}
	// A pair the peer installs only when our response arrives waits on
	// standby (RFC 7296 §2.8, make before break): one of IKE_AUTH too
	// when another IKE SA of the peer's has pairs that carry traffic
	// (both ends initiated at once).
	ch := &child{cfgIndex: -1, suite: s, outSPI: binary.BigEndian.Uint32(theirSPI), standby: !inAuth || sa.c.carries(sa)}
	// RFC 7296 §2.9: narrow the peer's selectors to a configured child,
	// the rekeyed one's first.
	order := make([]int, 0, len(sa.cfg().Children))
	if old != nil && old.cfgIndex < len(sa.cfg().Children) {
		order = append(order, old.cfgIndex)
	}
	for i := range sa.cfg().Children {
		if old == nil || i != old.cfgIndex {
			order = append(order, i)
		}
	}
	for _, i := range order {
		cc := sa.cfg().Children[i]
		remote, local := narrow(cc.RemoteTS, tsi.Selectors), narrow(cc.LocalTS, tsr.Selectors)
		if len(remote) > 0 && len(local) > 0 {
			ch.cfgIndex, ch.remoteTS, ch.localTS = i, remote, local
			break
		}
	}
	if ch.cfgIndex < 0 {
		return fail(wire.TSUnacceptable, "traffic selectors %v and %v match no child", tsi.Selectors, tsr.Selectors)
	}
	keys, err := s.ChildKeys(sa.suite.PRF, sa.keys.D, gir, ni, nr)
	if err != nil {
		return fail(wire.NoProposalChosen, "%v", err)
	}
	ch.inSPI = sa.c.m.newESPSPI(sa.c)
	if err := sa.install(ch, keys, false); err != nil {
		sa.c.m.releaseSPIs(0, ch.inSPI)
		sa.log.Error("child SA not installed", sa.logAttrs(), "err", err)
		return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
	}
	if !inAuth {
		// Its next request, which follows the one being answered,
		// shows that the peer has it (peerID is that one's already).
		ch.unconfirmed = true
		sa.unconfirmed = append(sa.unconfirmed, unconfirmedChild{ch: ch, id: sa.peerID})
	}
	if old != nil {
		ch.rekeyed = true
		if old.state == childRekeying {
			// RFC 7296 §2.8.1: a collision; our own response decides.
			old.peerRekey = ch
			old.peerNonces = [2][]byte{bytes.Clone(ni), bytes.Clone(nr)}
		} else {
			sa.replacedByPeer(old)
		}
	}
	resp := []wire.Payload{chosenPayload(number, s, spi4(ch.inSPI))}
	if !inAuth {
		resp = append(resp, &wire.Nonce{Data: nr})
	}
	if ker != nil {
		resp = append(resp, ker)
	}
	return append(resp, tsPayload(false, ch.remoteTS), tsPayload(true, ch.localTS))
}
