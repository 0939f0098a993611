package ikev2

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Both ends of a connection that initiate (connectionMode Default on both
// sides) may start an IKE SA at the same moment, each answering the
// other's IKE_SA_INIT while its own is on its way: two IKE SAs, each with
// its child SAs, come up. RFC 7296 says nothing of it; vnetgw settles it
// as §2.8.1 settles a rekey collision. Of the two SAs, the one made with
// the lowest of the four nonces is redundant, and the end that initiated
// it deletes it; both ends hold the same nonces, so both pick the same
// one. The other end waits for that Delete and deletes nothing. The
// deleting end first waits for the peer to answer on the SA kept (the
// peer may never have got our IKE_AUTH response), and its child SAs
// leave its data path one selector at a time, as the kept SA gets child
// SAs for them.
//
// Only a peer that says it does the same (duplicateVendorID in its
// IKE_SA_INIT message) is settled with: another implementation, such as
// strongSwan with its uniqueness policy, may delete a duplicate by rules
// of its own, and the two ends together must never delete both SAs.

// duplicateVendorID is the Vendor ID payload's data (RFC 7296 §3.12) by
// which vnetgw tells the peer, in IKE_SA_INIT, that it settles IKE SAs
// initiated by both ends at once as described above.
var duplicateVendorID = func() []byte {
	h := sha256.Sum256([]byte("vnetgw: simultaneous IKE SAs settled by the lowest nonce (RFC 7296 section 2.8.1)"))
	return h[:16]
}()

// settlesDuplicates reports whether the peer's IKE_SA_INIT message, whose
// payloads are ps, announces duplicateVendorID.
func settlesDuplicates(ps []wire.Payload) bool {
	return slices.ContainsFunc(ps, func(p wire.Payload) bool {
		v, ok := p.(*wire.VendorID)
		return ok && bytes.Equal(v.Data, duplicateVendorID)
	})
}

// lineage is what settles which of two IKE SAs both ends initiated at
// once is redundant: whether this end initiated the IKE SA an SA
// descends from by rekeys, and that SA's nonces and initiator SPI. An SA
// a rekey made takes it over from the one it replaces, so that both ends
// decide as they would have before the rekey, whichever of them saw it
// first.
type lineage struct {
	initiator bool
	ni, nr    []byte
	spiI      uint64
}

// origin returns the lineage of sa: its own unless a rekey made it.
func (sa *ikeSA) origin() lineage {
	if sa.line != nil {
		return *sa.line
	}
	return lineage{initiator: sa.initiator, ni: sa.ni, nr: sa.nr, spiI: sa.spiI}
}

// inherit makes n, which rekeys sa, stand for sa in the settling of
// duplicates: its lineage, and what the peer said of it. The peer holds
// n if our rekey request made it (its response came); if the peer's did,
// our response may be lost.
func (n *ikeSA) inherit(sa *ikeSA) {
	o := sa.origin()
	n.line = &o
	n.peerSettles, n.peerRetires = sa.peerSettles, sa.peerRetires
	n.peerHolds = n.initiator
}

// settleDuplicates deletes an established IKE SA of ours that duplicates
// one the peer initiated at the same moment and that the nonces make the
// redundant one. The loop calls it after every datagram: both SAs are up
// from the moment the later of the two is authenticated.
//
// Ours goes only once the peer has shown that it holds its own: we
// establish the peer's SA when we send our IKE_AUTH response, which may
// be lost, and a peer that never got it would be left with neither SA.
// An empty INFORMATIONAL request on the peer's SA asks; its answer, or
// any other authenticated message from the peer on that SA, settles it.
func (c *conn) settleDuplicates() {
	if c.client != nil || c.stopping {
		return
	}
	var ours, theirs *ikeSA
	for _, sa := range slices.Clone(c.sas) {
		if sa.retired && sa.keptSA != nil {
			sa.settle()
		}
		if sa.state != stateEstablished || !sa.peerSettles || !sa.closeBy.IsZero() {
			continue
		}
		// Who initiated it decides, not who rekeyed it since.
		switch initiated := sa.origin().initiator; {
		case initiated && ours == nil:
			ours = sa
		case !initiated && theirs == nil:
			theirs = sa
		}
	}
	if ours == nil || theirs == nil {
		return
	}
	// Random nonces of at least 16 octets (RFC 7296 §2.10) all but never
	// tie; if they did, the SA with the lower initiator SPI would be the
	// redundant one, which both ends again agree on.
	o, t := ours.origin(), theirs.origin()
	if !redundantIsOurs([2][]byte{o.ni, o.nr}, [2][]byte{t.ni, t.nr}, o.spiI > t.spiI) {
		ours.log.Info("the peer initiated an IKE SA at the same moment; the peer deletes its own", ours.logAttrs(),
			theirs.logAs("peer_ike_sa"))
		// Once: the peer's SA no longer counts as a duplicate. Its
		// child SAs drain when the peer deletes it.
		theirs.peerSettles = false
		theirs.peerRetires = true
		if slices.ContainsFunc(ours.children, func(ch *child) bool { return ch.asked }) {
			// A request of ours on the SA kept shows the peer that we
			// have installed the child SAs it answered there
			// (confirmChildren); it deletes its own only once we have.
			ours.enqueue(task{kind: taskDPD})
			ours.kick()
		}
		return
	}
	if !theirs.peerHolds {
		if theirs.pend == nil {
			// RFC 7296 §1.4: an empty INFORMATIONAL request, answered
			// only by a peer that has the SA established.
			theirs.log.Debug("asking the peer whether it holds its IKE SA before deleting ours", theirs.logAttrs())
			theirs.enqueue(task{kind: taskDPD})
			theirs.kick()
		}
		return
	}
	ours.log.Info("the peer initiated an IKE SA at the same moment; deleting ours, the redundant one", ours.logAttrs(),
		theirs.logAs("kept"))
	ours.retire(theirs)
}

// retire deletes sa, an IKE SA of ours that duplicates the peer's SA kept:
// it starts nothing new, and a Delete tells the peer (RFC 7296 §1.4.1)
// once kept has a child SA for every selector sa has one for (settle).
func (sa *ikeSA) retire(kept *ikeSA) {
	sa.selectors = nil
	for _, ch := range sa.children {
		sa.selectors = append(sa.selectors, ch.cfgIndex)
	}
	if ch := sa.pendingChild; ch != nil {
		// Its answer is not taken (childResponse), but the peer
		// installs the pair until our Delete.
		sa.selectors = append(sa.selectors, ch.cfgIndex)
	}
	sa.childRetry = nil
	sa.retired = true
	sa.keptSA = kept
	sa.state = stateRekeyed
	sa.rekeyAt = time.Time{}
	// The peer creates the kept SA's other child SAs; one it has to ask
	// for again comes after childRetryDelay.
	sa.expireAt = time.Now().Add(childRetryDelay + sa.giveUpAfter())
	sa.queue = nil
	sa.settle()
}

// settle takes out of the data path each child SA of sa, a retired SA,
// whose selectors the kept SA has a child SA for, so that traffic goes on
// over that one, and queues the Delete of sa once the kept SA has one for
// every selector sa had or was creating (which the peer takes out of its
// data path with sa): after the response to our outstanding request if
// there is one. The SA ends when the peer answers, or as one a rekey
// replaced does if it never does.
func (sa *ikeSA) settle() {
	kept := sa.keptSA.home()
	// Only a pair the peer has shown it installed covers: else our Delete
	// could overtake our response that made it, and the peer be left
	// without a pair for the selectors until that came.
	covered := func(i int) bool { return kept.state != stateEstablished || kept.hasConfirmedChild(i) }
	missing := func(i int) bool { return !covered(i) }
	for _, ch := range slices.Clone(sa.children) {
		if covered(ch.cfgIndex) {
			sa.drainChild(ch)
		}
	}
	if len(sa.children) > 0 || slices.ContainsFunc(sa.selectors, missing) {
		return
	}
	sa.keptSA, sa.selectors = nil, nil
	sa.expireAt = time.Now().Add(sa.giveUpAfter())
	sa.queue = []task{{kind: taskDeleteIKE}}
	sa.kick()
}
