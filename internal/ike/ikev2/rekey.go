package ikev2

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// ikeRekey is our outstanding rekey of an IKE SA.
type ikeRekey struct {
	spi uint64
	ni  []byte
	dh  *suite.PrivateKey
}

// startRekeyIKE sends the CREATE_CHILD_SA request that rekeys the IKE SA
// (RFC 7296 §1.3.2): a new SPI, nonce and key exchange.
func (sa *ikeSA) startRekeyIKE(t task) {
	if sa.state != stateEstablished {
		return
	}
	g := t.group
	if g == wire.DHNone {
		g = sa.suite.DH
	}
	dh, err := suite.GenerateKey(g)
	if err != nil {
		sa.log.Error("generating key exchange", sa.logAttrs(), "group", g, "err", err)
		return
	}
	ni, err := suite.NewNonce()
	if err != nil {
		return
	}
	r := &ikeRekey{spi: sa.c.m.newIKESPI(sa.c), ni: ni, dh: dh}
	sa.rekey = r
	sa.pendingSPI = r.spi
	sa.peerRekeyed = nil
	ps := []wire.Payload{
		saPayload(sa.cfg().IKEProposals, spi8(r.spi), true),
		&wire.Nonce{Data: ni},
		&wire.KE{Group: g, Data: dh.PublicKey()},
	}
	sa.log.Debug("rekeying IKE SA", sa.logAttrs())
	sa.request(wire.CreateChildSA, "the rekey of the IKE SA", ps, func(resp []wire.Payload) { sa.rekeyIKEResponse(resp, t) })
}

// rekeyIKEResponse processes the response to our IKE SA rekey.
func (sa *ikeSA) rekeyIKEResponse(ps []wire.Payload, t task) {
	r := sa.rekey
	sa.rekey = nil
	sa.pendingSPI = 0
	if sa.deletedByPeer {
		defer sa.kill("deleted by peer")
	}
	abandon := func(reason string) {
		sa.c.m.releaseSPIs(r.spi)
		if n := sa.peerRekeyed; n != nil {
			// The peer rekeyed this SA meanwhile: its new SA takes over.
			sa.handOver(n)
			return
		}
		sa.log.Warn("IKE SA rekey failed", sa.logAttrs(), "err", reason)
		sa.rekeyAt = time.Now().Add(retryDelay)
	}
	if n := errorNotify(ps); n != nil {
		if g, ok := wantedGroup(n); ok && n.NotifyType == wire.InvalidKEPayload && t.tries < 2 &&
			g != r.dh.Group() && offersGroup(sa.cfg().IKEProposals, g) && sa.peerRekeyed == nil && !sa.deletedByPeer {
			sa.c.m.releaseSPIs(r.spi)
			t.group, t.tries = g, t.tries+1
			sa.queue = append([]task{t}, sa.queue...)
			return
		}
		abandon("peer answered " + n.NotifyType.String())
		return
	}
	saP, ok1 := find[*wire.SA](ps)
	nonce, ok2 := find[*wire.Nonce](ps)
	ke, ok3 := find[*wire.KE](ps)
	if !ok1 || !ok2 || !ok3 {
		abandon("incomplete response")
		return
	}
	s, spi, err := accepted(sa.cfg().IKEProposals, saP, wire.ProtocolIKE, 8)
	if err != nil || ke.Group != r.dh.Group() || s.DH != ke.Group {
		abandon("unacceptable proposal or key exchange")
		return
	}
	gir, err := r.dh.SharedSecret(ke.Data)
	if err != nil {
		abandon(err.Error())
		return
	}
	// RFC 7296 §2.18: the rekey initiator is the initiator of the new SA.
	n := sa.successorSA(true, r.spi, binary.BigEndian.Uint64(spi), s, r.ni, bytes.Clone(nonce.Data))
	if err := n.rekeyKeys(sa, gir); err != nil {
		abandon(err.Error())
		return
	}
	sa.c.sas = append([]*ikeSA{n}, sa.c.sas...)
	switch other := sa.peerRekeyed; {
	case sa.retired:
		// The SA duplicates the peer's, which stays: the new SA, and the
		// peer's own rekey of it if one crossed ours, are redundant too.
		sa.log.Info("IKE SA rekeyed while being deleted as a duplicate; deleting the new one", sa.logAttrs())
		for _, x := range []*ikeSA{n, other} {
			if x != nil {
				x.enqueue(task{kind: taskDeleteIKE})
				x.kick()
			}
		}
	case sa.successor != nil || other != nil && redundantIsOurs([2][]byte{r.ni, n.nr}, sa.peerNonces, sa.initiator):
		// RFC 7296 §2.8.2: the SA made with the lowest nonce is redundant;
		// its creator deletes it. The peer deletes the old one.
		sa.log.Info("IKE SA rekey collision lost", sa.logAttrs())
		sa.handOver(other)
		n.enqueue(task{kind: taskDeleteIKE})
		n.kick()
	default:
		sa.log.Info("IKE SA rekeyed", sa.logAttrs(), n.logAs("new"))
		sa.handOver(n)
		if other != nil {
			// RFC 7296 §2.8.2: the peer's SA is the redundant one, which
			// the peer deletes; it waits for that Delete as a replaced SA
			// does, and goes with ours if none came.
			other.handOver(n)
		}
		if !sa.deletedByPeer {
			sa.enqueue(task{kind: taskDeleteIKE})
		}
	}
}

// successorSA returns a new established IKE SA that rekeys sa, with the
// SPIs chosen by this side and the peer; initiator tells whether this side
// initiated the rekey.
func (sa *ikeSA) successorSA(initiator bool, ours, theirs uint64, s suite.Suite, ni, nr []byte) *ikeSA {
	n := newSA(sa.c, initiator)
	n.spiI, n.spiR = ours, theirs
	if !initiator {
		n.spiI, n.spiR = theirs, ours
	}
	n.suite, n.ni, n.nr = s, ni, nr
	n.local, n.remote = sa.local, sa.remote
	n.natLocal, n.natRemote, n.behindNAT, n.fragments, n.mobike = sa.natLocal, sa.natRemote, sa.behindNAT, sa.fragments, sa.mobike
	n.closeBy = sa.closeBy // being shut down, it is deleted too
	n.inherit(sa)
	now := time.Now()
	n.state = stateEstablished
	n.established, n.lastRekey = now, now
	n.scheduleRekey(now)
	return n
}

// rekeyKeys derives the keys of n, which rekeys old (RFC 7296 §2.18):
// SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr).
func (n *ikeSA) rekeyKeys(old *ikeSA, gir suite.Key) error {
	defer clear(gir)
	skeyseed, err := suite.RekeySKEYSEED(old.suite.PRF, old.keys.D, gir, n.ni, n.nr)
	if err != nil {
		return err
	}
	defer clear(skeyseed)
	return n.setKeys(skeyseed)
}

// handOver moves the child SAs and queued child work of sa to n, which
// replaces it, leaves sa waiting for its Delete, and starts n's work.
func (sa *ikeSA) handOver(n *ikeSA) {
	if sa.moveWork(n) {
		n.kick()
	}
}

// moveWork is handOver without starting n's work, for a rekey that this
// side answers: the peer has no n until it has the response, which goes
// after this (RFC 7296 §2.18); handle starts it then. It tells whether
// it moved anything (not when sa was handed over already).
func (sa *ikeSA) moveWork(n *ikeSA) bool {
	if sa.successor != nil || n == nil {
		return false
	}
	sa.successor = n
	sa.state = stateRekeyed
	// The SA waits for a Delete, ours or the peer's, at most as long as
	// a request waits for its response.
	sa.rekeyAt, sa.expireAt = time.Time{}, time.Now().Add(sa.giveUpAfter())
	n.children = append(n.children, sa.children...)
	sa.children = nil
	// A rekey exchange followed the requests that made them: the peer
	// installed them.
	sa.confirmChildren(math.MaxUint32)
	for i, at := range sa.childRetry {
		if n.childRetry == nil {
			n.childRetry = map[int]time.Time{}
		}
		n.childRetry[i] = at
	}
	sa.childRetry = nil
	var keep []task
	for _, t := range sa.queue {
		switch t.kind {
		case taskCreateChild, taskRekeyChild, taskDeleteChild:
			n.enqueue(t)
		case taskDeleteIKE:
			keep = append(keep, t)
		}
	}
	sa.queue = keep
	return true
}

// peerUsesRekeyed takes a request of the peer's, ps, under sa, the IKE SA
// the peer made by rekeying one whose rekey of ours is still unanswered
// (a collision not yet decided, RFC 7296 §2.8.2): the peer has its
// response and sends on sa, so sa stays (the peer won, or our request
// reached it too late to collide); the old SA hands its child SAs and
// work over to it now, not when our response comes, so that the request
// finds them. Not the peer's Delete of sa, the redundant SA of a
// collision the peer lost.
func (sa *ikeSA) peerUsesRekeyed(ps []wire.Payload) {
	if slices.ContainsFunc(ps, func(p wire.Payload) bool {
		d, ok := p.(*wire.Delete)
		return ok && d.Protocol == wire.ProtocolIKE
	}) {
		return
	}
	for _, o := range sa.c.sas {
		if o.peerRekeyed == sa && o.rekey != nil && o.state != stateDead && o.moveWork(sa) {
			o.log.Info("IKE SA rekeyed by peer", o.logAttrs(), sa.logAs("new"))
		}
	}
}

// acceptIKERekey answers the peer's rekey of this IKE SA (RFC 7296 §1.3.2,
// §2.18).
func (sa *ikeSA) acceptIKERekey(ps []wire.Payload, saP *wire.SA) []wire.Payload {
	// RFC 7296 §2.25.2: not while a child SA exchange of ours is under
	// way on this SA; its answer would be lost with the SA, and the
	// child left half rekeyed or half deleted. The peer tries again.
	// Nor of an SA being deleted as a duplicate (retire): the new SA
	// would stay beside the one kept.
	if sa.retired || sa.pendingChild != nil || slices.ContainsFunc(sa.children, func(c *child) bool { return c.state == childDeleting }) {
		return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
	}
	live := 0
	for _, x := range sa.c.sas {
		if x.state != stateDead {
			live++
		}
	}
	if live >= maxIKESAs {
		// RFC 7296 §3.10.1: a temporary condition. A peer that rekeys
		// and does not delete the SAs it replaced (RFC 7296 §2.8) gets no
		// more than maxIKESAs, as by IKE_SA_INIT; the peer tries again
		// once they are gone.
		sa.log.Warn("IKE SA rekey refused", sa.logAttrs(), "err", "too many IKE SAs", "ike_sas", live)
		return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
	}
	nonce, ok1 := find[*wire.Nonce](ps)
	ke, ok2 := find[*wire.KE](ps)
	if !ok1 || !ok2 {
		return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
	}
	s, number, theirSPI, ok := chooseForKE(sa.cfg().IKEProposals, saP, wire.ProtocolIKE, 8, ke)
	if !ok {
		sa.log.Warn("IKE SA rekey refused", sa.logAttrs(), "err", "no acceptable IKE proposal", "offered", offeredString(saP, wire.ProtocolIKE))
		return []wire.Payload{&wire.Notify{NotifyType: wire.NoProposalChosen}}
	}
	if ke.Group != s.DH {
		// RFC 7296 §1.3: ask for the chosen group.
		return []wire.Payload{invalidKE(s.DH)}
	}
	dh, err := suite.GenerateKey(s.DH)
	if err != nil {
		return []wire.Payload{&wire.Notify{NotifyType: wire.NoProposalChosen}}
	}
	gir, err := dh.SharedSecret(ke.Data)
	if err != nil {
		return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
	}
	nr, err := suite.NewNonce()
	if err != nil {
		return []wire.Payload{&wire.Notify{NotifyType: wire.TemporaryFailure}}
	}
	ours := sa.c.m.newIKESPI(sa.c)
	n := sa.successorSA(false, ours, binary.BigEndian.Uint64(theirSPI), s, bytes.Clone(nonce.Data), nr)
	if err := n.rekeyKeys(sa, gir); err != nil {
		sa.c.m.releaseSPIs(ours)
		return []wire.Payload{&wire.Notify{NotifyType: wire.NoProposalChosen}}
	}
	sa.c.sas = append([]*ikeSA{n}, sa.c.sas...)
	if sa.rekey != nil {
		// RFC 7296 §2.8.2: a collision; our own response decides.
		sa.peerRekeyed = n
		sa.peerNonces = [2][]byte{n.ni, n.nr}
	} else {
		sa.log.Info("IKE SA rekeyed by peer", sa.logAttrs(), n.logAs("new"))
		sa.moveWork(n)
	}
	return []wire.Payload{
		chosenPayload(number, s, spi8(ours)),
		&wire.Nonce{Data: nr},
		&wire.KE{Group: s.DH, Data: dh.PublicKey()},
	}
}
