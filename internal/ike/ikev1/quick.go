package ikev1

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// newNonce and generateKey make nonces and Diffie-Hellman keys: suite's,
// which tests replace to make them fail.
var (
	newNonce    = suite.NewNonce
	generateKey = suite.GenerateKey
)

// quick is a Quick Mode exchange (RFC 2409 §5.5).
type quick struct {
	mid       uint32
	initiator bool
	started   time.Time
	iv        []byte
	ni, nr    []byte
	spiIn     uint32
	spiOut    uint32
	s         p2Suite
	dh        *suite.PrivateKey
	gqm       []byte // the PFS exchange's shared secret
	pair      pair
	rekey     *child // the child this one replaces (respondQuick: the responder's guess)
	out       outstanding
	done      bool // responder: waiting for HASH(3)
	// standby: the responder's pair of a rekey is in the data path on
	// standby since message 2 (respondQuick), and goes with the exchange
	// if HASH(3) does not come. (The initiator's pair of a rekey goes on
	// standby when it is installed, after HASH(3): install.)
	standby bool
	// told is the last error notification of the peer's that came while
	// this quick mode of ours was under way and ended none (of a message
	// the peer could not read, say): why, if no answer comes.
	told string
	// asked is the pair a quick mode of ours proposed: the peer may
	// answer with a narrower one (pair), and a failure makes asked wait
	// (endQuick), the pair Manager.timers starts quick modes for.
	asked pair
	// limits are the byte lifetimes the pair went to the data path with
	// (dataChild).
	limits esp.Limits
}

// newMID returns a message ID for an exchange of ours: none of ours
// under way or started before, none the peer used.
func (sa *isakmpSA) newMID() uint32 {
	for {
		mid := uint32(randUint64())
		if _, used := sa.qms[mid]; mid != 0 && !used && !sa.peerMIDs.has(mid) && !sa.ourMIDs.has(mid) {
			return mid
		}
	}
}

// maxMIDs bounds the message IDs an ISAKMP SA remembers of each side
// (4 KiB): the peer's exchanges over an SA of the default 8 hours with
// DPD every 30 s.
const maxMIDs = 1024

// midRing holds the last maxMIDs message IDs added; the oldest goes
// first.
type midRing struct {
	ids  []uint32
	next int // where the next goes, once ids is full
}

func (r *midRing) has(mid uint32) bool { return slices.Contains(r.ids, mid) }

func (r *midRing) add(mid uint32) {
	if len(r.ids) < maxMIDs {
		r.ids = append(r.ids, mid)
		return
	}
	r.ids[r.next] = mid
	r.next = (r.next + 1) % maxMIDs
}

// encrypted builds an encrypted phase 2 message whose first payload is a
// HASH over M-ID, prefix and the payloads after it (RFC 2409 §5.5, §5.7),
// and returns it with the next IV.
func (sa *isakmpSA) encrypted(exchange uint8, mid uint32, iv, prefix []byte, ps []wire.Payload) (msg, next []byte) {
	rest, first := wire.AppendPayloads(nil, ps)
	h := sa.s.Hash.prf(sa.skeyidA, binary.BigEndian.AppendUint32(nil, mid), prefix, rest)
	pl := append([]byte{byte(first), 0}, binary.BigEndian.AppendUint16(nil, uint16(4+len(h)))...)
	pl = append(append(pl, h...), rest...)
	return seal(sa.encKey, iv, sa.header(exchange, mid, wire.PayloadHash), pl)
}

// errUnverified marks a message refused before anything in it checked
// out (a phase 2 message whose HASH does not, a message of an exchange
// vnetgw does not implement): anyone who saw the cookies can send one,
// so that it is counted as Integrity and logged at Debug only
// (Manager.handle).
var errUnverified = errors.New("a message that does not check out")

// decrypt opens a phase 2 message and checks that its first payload is a
// HASH equal to prf(SKEYID_a, M-ID | prefix | the rest). It returns the
// payloads after the HASH and the next IV; its errors are errUnverified.
func (sa *isakmpSA) decrypt(h wire.Header, msg, iv, prefix []byte) (ps []wire.Payload, next []byte, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w: %w", errUnverified, err)
		}
	}()
	if h.Flags&wire.FlagEncryption == 0 {
		return nil, nil, errors.New("a phase 2 message that is not encrypted")
	}
	pt, next, err := open(sa.encKey, iv, msg[wire.HeaderLen:])
	if err != nil {
		return nil, nil, err
	}
	if h.Next != wire.PayloadHash || len(pt) < 4 {
		return nil, nil, errors.New("a phase 2 message must start with a HASH payload")
	}
	hl := int(binary.BigEndian.Uint16(pt[2:]))
	if hl < 4 || hl > len(pt) {
		return nil, nil, errors.New("a phase 2 HASH payload overruns the message")
	}
	ps, err = wire.ParsePayloads(wire.PayloadType(pt[0]), pt[hl:])
	if err != nil {
		return nil, nil, err
	}
	// The hash covers the payloads up to the padding: their summed length.
	n := hl
	for _, p := range ps {
		n += 4 + len(p.Body)
	}
	want := sa.s.Hash.prf(sa.skeyidA, binary.BigEndian.AppendUint32(nil, h.MessageID), prefix, pt[hl:n])
	if !hmac.Equal(want, pt[4:hl]) {
		return nil, nil, errors.New("the phase 2 HASH does not match")
	}
	return ps, next, nil
}

// startQuick negotiates a child SA pair for pr, replacing old if set:
// old is rekeying from the moment the exchange starts until it ends
// without a new pair (endQuick, dropSA); with one, old is retired.
func (sa *isakmpSA) startQuick(pr pair, old *child) {
	p := sa.p
	if len(p.p2) == 0 {
		p.lastErr = "no ESP proposal vnetgw can offer in IKEv1"
		return
	}
	if old != nil {
		old.rekeying = true
	}
	q := &quick{mid: sa.newMID(), initiator: true, started: time.Now(), pair: pr, asked: pr, rekey: old}
	q.iv = sa.s.Hash.phase2IV(sa.p1iv, q.mid)
	// A failure of our own ends the exchange as a refusal does: the SPI
	// goes back, and a rekey of old starts again after a while.
	fail := func(err error) {
		sa.endQuick(q.mid, q)
		p.lastErr = fmt.Sprintf("quick mode: %v", err)
	}
	var err error
	if q.ni, err = newNonce(); err != nil {
		fail(err)
		return
	}
	q.spiIn = sa.m.newSPI()
	prop := wire.Proposal{Number: 1, Protocol: wire.ProtocolESP, SPI: binary.BigEndian.AppendUint32(nil, q.spiIn)}
	group := v2.DHNone
	for i, s := range p.p2 {
		if i == 0 {
			group = s.PFS
		}
		if s.PFS != group {
			continue // one KE payload: the first proposal's group for all
		}
		prop.Transforms = append(prop.Transforms, s.transform(uint8(i+1), sa.encap()))
	}
	ps := []wire.Payload{{Type: wire.PayloadSA, Body: wire.SA{DOI: wire.DOIIPsec, Situation: wire.SitIdentityOnly, Proposals: []wire.Proposal{prop}}.Append(nil)},
		{Type: wire.PayloadNonce, Body: q.ni}}
	if group != v2.DHNone {
		if q.dh, err = generateKey(group); err != nil {
			fail(err)
			return
		}
		ps = append(ps, wire.Payload{Type: wire.PayloadKE, Body: q.dh.PublicKey()})
	}
	ps = append(ps, wire.Payload{Type: wire.PayloadID, Body: wire.PrefixID(pr.local).Append(nil)}, wire.Payload{Type: wire.PayloadID, Body: wire.PrefixID(pr.remote).Append(nil)})
	msg, next := sa.encrypted(wire.ExchangeQuick, q.mid, q.iv, nil, ps)
	q.iv = next
	q.out.set(msg, p.cfg.RetransmitTimeout)
	sa.qms[q.mid] = q
	sa.ourMIDs.add(q.mid)
	sa.send(msg)
}

func (sa *isakmpSA) handleQuick(h wire.Header, msg []byte) error {
	q := sa.qms[h.MessageID]
	switch {
	case q == nil:
		// RFC 2408 §3.1, RFC 2409 §5.5: a message ID names one exchange of the SA.
		if sa.peerMIDs.has(h.MessageID) {
			return fmt.Errorf("%w: quick mode message 1 with message ID %08x, which the peer used already", errStale, h.MessageID)
		}
		// A message of a quick mode of ours that is over (message 2 sent
		// again, or late) is no message 1: it is encrypted on from our
		// message 1's last block, not with a first IV (RFC 2409 Appendix
		// B), and would not decrypt.
		if sa.ourMIDs.has(h.MessageID) {
			return fmt.Errorf("%w: quick mode message with message ID %08x, of a quick mode of ours that is over", errStale, h.MessageID)
		}
		// Each quick mode in flight keeps its answer: beyond maxAnswered,
		// message 1 waits for the peer to send it again.
		if sa.inFlight() >= maxAnswered {
			return fmt.Errorf("%w: quick mode message 1 with message ID %08x", errBusy, h.MessageID)
		}
		return sa.respondQuick(h, msg)
	case q.initiator && q.out.msg != nil:
		return sa.quickResponse(q, h, msg)
	case !q.initiator && q.done:
		return sa.quickFinal(q, h, msg)
	}
	return nil
}

// quickFinal checks HASH(3) and installs the responder's child.
func (sa *isakmpSA) quickFinal(q *quick, h wire.Header, msg []byte) error {
	pt, _, err := open(sa.encKey, q.iv, msg[wire.HeaderLen:])
	if err != nil {
		return fmt.Errorf("%w: %w", errUnverified, err)
	}
	if h.Next != wire.PayloadHash || len(pt) < 4 {
		return fmt.Errorf("%w: quick mode message 3 without HASH(3)", errUnverified)
	}
	hl := int(binary.BigEndian.Uint16(pt[2:]))
	if hl < 4 || hl > len(pt) {
		return fmt.Errorf("%w: quick mode HASH(3) overruns the message", errUnverified)
	}
	want := sa.s.Hash.prf(sa.skeyidA, []byte{0}, binary.BigEndian.AppendUint32(nil, q.mid), q.ni, q.nr)
	if !hmac.Equal(want, pt[4:hl]) {
		return fmt.Errorf("%w: quick mode HASH(3) does not match", errUnverified)
	}
	sa.checkedOut()
	delete(sa.qms, q.mid)
	if err := sa.install(q); err != nil {
		sa.endQuick(q.mid, q)
		return err
	}
	return nil
}

// respondQuick answers a peer's quick mode message 1.
func (sa *isakmpSA) respondQuick(h wire.Header, msg []byte) error {
	p := sa.p
	iv := sa.s.Hash.phase2IV(sa.p1iv, h.MessageID)
	ps, next, err := sa.decrypt(h, msg, iv, nil)
	if err != nil {
		return err
	}
	sa.peerMIDs.add(h.MessageID)
	sa.checkedOut()
	q := &quick{mid: h.MessageID, started: time.Now(), iv: next}
	// From here a refusal is told to the peer (refuseQuick): its message
	// ID is used, so that its retransmissions would be dropped as replays.
	sap, ok := wire.Find(ps, wire.PayloadSA)
	if !ok {
		return sa.refuseQuick(q.mid, msg, wire.NotifyNoProposalChosen, nil, "quick mode message 1 without SA")
	}
	in, err := wire.ParseSA(sap.Body)
	if err != nil {
		return sa.refuseQuick(q.mid, msg, wire.NotifyNoProposalChosen, nil, fmt.Sprintf("quick mode message 1: unreadable SA payload: %v", err))
	}
	c, refusal := sa.chooseQuick(in)
	if refusal != nil {
		return sa.refuseQuick(q.mid, msg, refusal.typ, refusal.spi, refusal.why)
	}
	prop := c.prop
	q.s, q.spiOut = c.s, binary.BigEndian.Uint32(prop.SPI)
	// RFC 2409 §5: the nonce MUST be between 8 and 256 bytes inclusive.
	n, ok := wire.Find(ps, wire.PayloadNonce)
	if !ok || len(n.Body) < 8 || len(n.Body) > 256 {
		return sa.refuseQuick(q.mid, msg, wire.NotifyInvalidPayloadType, prop.SPI, "quick mode message 1 without a nonce of 8 to 256 bytes")
	}
	q.ni = bytes.Clone(n.Body)
	// The traffic: IDci and IDcr, or the two peers' addresses without them.
	var ids []wire.Payload
	for _, pl := range ps {
		if pl.Type == wire.PayloadID {
			ids = append(ids, pl)
		}
	}
	q.pair = pair{netip.PrefixFrom(sa.local.Addr(), sa.local.Addr().BitLen()), netip.PrefixFrom(sa.remote.Addr(), sa.remote.Addr().BitLen())}
	if len(ids) == 2 {
		rp, lp, why := traffic(ids[0], ids[1])
		if why != "" {
			return sa.refuseQuick(q.mid, msg, wire.NotifyInvalidIDInfo, prop.SPI, "quick mode message 1: "+why)
		}
		q.pair = pair{lp, rp}
	}
	if !sa.acceptable(q.pair) {
		return sa.refuseQuick(q.mid, msg, wire.NotifyInvalidIDInfo, prop.SPI, fmt.Sprintf("quick mode: the peer's traffic %v <-> %v is not the connection's", q.pair.remote, q.pair.local))
	}
	// A rekey of the peer's replaces the child of the same traffic:
	// IKEv1 does not say which, so the one in use as the exchange starts
	// (a pair of ours that comes while this runs is a collision, install).
	for _, o := range p.children {
		if o.pair == q.pair && !o.retired() {
			q.rekey = o
		}
	}
	// That one may be the pair of a rekey of ours on this SA just done,
	// whose replaced pair still lingers: the peer's rekey crossed ours
	// (its message 1 came late, or again) and replaces the same pair,
	// as the peer, which saw the two cross, takes it. The peer rekeys
	// a pair this young only if its rekeys come within rekeyedLinger.
	if o := q.rekey; o != nil && o.ours && o.sa == sa && o.replaces != nil && o.replaces.retired() && slices.Contains(p.children, o.replaces) {
		q.rekey = o.replaces
	}
	// Each of the peer's children is kept here and in the data path: a
	// peer that narrows its traffic anew each time (or names any, on a
	// route-based connection) would add children without end.
	live := 0
	for _, o := range p.children {
		if !o.retired() {
			live++
		}
	}
	if q.rekey == nil && live >= maxChildren {
		return sa.refuseQuick(q.mid, msg, wire.NotifyNoProposalChosen, prop.SPI, fmt.Sprintf("quick mode: the peer asks for a child SA beyond the %d a connection may have", maxChildren))
	}
	// A failure of our own is told too (its message ID is used: the
	// peer's retransmissions would be dropped as replays), with what
	// strongSwan's responder sends for its own: the peer authenticated
	// message 1, and learns nothing of the cause, which stays here.
	if q.nr, err = newNonce(); err != nil {
		return sa.refuseQuick(q.mid, msg, wire.NotifyNoProposalChosen, prop.SPI, fmt.Sprintf("quick mode message 1: %v", err))
	}
	var kePayload []wire.Payload
	if q.s.PFS != v2.DHNone {
		ke, ok := wire.Find(ps, wire.PayloadKE)
		if !ok {
			return sa.refuseQuick(q.mid, msg, wire.NotifyInvalidKeyInfo, prop.SPI, "quick mode message 1 without KE for PFS")
		}
		if q.dh, err = generateKey(q.s.PFS); err != nil {
			return sa.refuseQuick(q.mid, msg, wire.NotifyInvalidKeyInfo, prop.SPI, fmt.Sprintf("quick mode message 1: %v", err))
		}
		if q.gqm, err = q.dh.SharedSecret(ke.Body); err != nil {
			return sa.refuseQuick(q.mid, msg, wire.NotifyInvalidKeyInfo, prop.SPI, fmt.Sprintf("quick mode message 1: key exchange: %v", err))
		}
		kePayload = []wire.Payload{{Type: wire.PayloadKE, Body: q.dh.PublicKey()}}
	}
	// The inbound SPI is reserved once nothing can fail: from here it
	// goes with the exchange (endQuick) or with its child.
	q.spiIn = sa.m.newSPI()
	reply := []wire.Payload{{Type: wire.PayloadSA, Body: wire.SA{DOI: wire.DOIIPsec, Situation: wire.SitIdentityOnly,
		Proposals: []wire.Proposal{{Number: prop.Number, Protocol: wire.ProtocolESP, SPI: binary.BigEndian.AppendUint32(nil, q.spiIn), Transforms: []wire.Transform{c.t}}}}.Append(nil)},
		{Type: wire.PayloadNonce, Body: q.nr}}
	reply = append(append(reply, kePayload...), ids...)
	if q.s.Life != c.theirs.Life || q.s.LifeKB != c.theirs.LifeKB {
		// RFC 2407 §4.5.4, §4.6.3.1: ours are shorter than the
		// initiator offered; it is told, with our inbound SPI.
		reply = append(reply, wire.Payload{Type: wire.PayloadNotify, Body: wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP,
			SPI: binary.BigEndian.AppendUint32(nil, q.spiIn), Type: wire.NotifyResponderLifetime, Data: wire.AppendAttrs(nil, q.s.lifeAttrs())}.Append(nil)})
	}
	// The peer's rekey: the peer sends with the new pair as soon as it
	// has sent HASH(3), and its first packets come before HASH(3) is
	// read here. The pair goes to the data path now, on standby: it
	// opens them, and this side sends with it once they come (or the
	// pair it replaces goes). A new pair waits for HASH(3), as nothing
	// is lost meanwhile.
	if q.rekey != nil {
		if err := sa.m.cfg.Dataplane.InstallChild(sa.dataChild(q, true)); err != nil {
			sa.m.log.Warn("IKEv1 child SA not installed before HASH(3)", "conn", p.cfg.Name, "in", fmt.Sprintf("%08x", q.spiIn), "err", err)
		} else {
			q.standby = true
		}
	}
	out, next2 := sa.encrypted(wire.ExchangeQuick, q.mid, q.iv, q.ni, reply)
	q.iv, q.done = next2, true
	sa.qms[q.mid] = q
	sa.remember(q.mid, msg, out, false)
	// Sent again until HASH(3) comes, as an initiator's message is: a
	// three-message exchange's responder cannot know the last was lost,
	// and the initiator has installed its child already.
	q.out.set(out, p.cfg.RetransmitTimeout)
	sa.send(out)
	return nil
}

// quickChoice is what respondQuick takes of the peer's SA payload: a
// proposal and its transform, with the peer's suite as offered (theirs)
// and as it holds here (s: the shorter lifetimes of the two).
type quickChoice struct {
	prop      wire.Proposal
	t         wire.Transform
	theirs, s p2Suite
}

// quickRefusal is why respondQuick takes none of the peer's proposals:
// the notification it answers with, naming spi (nil: the ISAKMP SA).
type quickRefusal struct {
	typ uint16
	spi []byte
	why string
}

// chooseQuick picks, from the SA payload of the peer's quick mode message
// 1, the first proposal vnetgw can take and its first transform that
// matches one of the connection's suites. A bundle (several protocols
// under one proposal number, RFC 2408 §4.2), a protocol other than ESP,
// an SPI that is not 4 bytes or a reserved one (RFC 4303 §2.1) is passed
// over. With none left, the refusal: INVALID-SPI for a reserved SPI,
// else NO-PROPOSAL-CHOSEN naming the first ESP proposal's SPI.
func (sa *isakmpSA) chooseQuick(in wire.SA) (quickChoice, *quickRefusal) {
	var offered []string
	var firstSPI, reserved []byte
	for _, pr := range in.Proposals {
		same := 0
		for _, o := range in.Proposals {
			if o.Number == pr.Number {
				same++
			}
		}
		if same > 1 || pr.Protocol != wire.ProtocolESP || len(pr.SPI) != 4 {
			continue
		}
		if firstSPI == nil {
			firstSPI = pr.SPI
		}
		offered = append(offered, describeP2(pr.Transforms))
		// RFC 4303 §2.1: SPIs 1 to 255 are reserved, and 0 is never sent.
		if binary.BigEndian.Uint32(pr.SPI) < 256 {
			if reserved == nil {
				reserved = pr.SPI
			}
			continue
		}
		for _, t := range pr.Transforms {
			s, ok := p2FromTransform(t)
			if !ok {
				continue
			}
			for i := range sa.p.p2 {
				if sa.p.p2[i].matches(s) {
					// RFC 2408 §4.2: the responder MUST answer with the proposal it selected (and SHOULD keep its number).
					return quickChoice{prop: pr, t: t, theirs: s, s: shorter(s, sa.p.p2[i])}, nil
				}
			}
		}
	}
	switch {
	case reserved != nil:
		return quickChoice{}, &quickRefusal{wire.NotifyInvalidSPI, reserved,
			fmt.Sprintf("quick mode: the peer's SPI %d is reserved (RFC 4303 §2.1)", binary.BigEndian.Uint32(reserved))}
	case firstSPI == nil:
		return quickChoice{}, &quickRefusal{wire.NotifyNoProposalChosen, nil,
			"quick mode message 1: no proposal of ESP alone with a 4-byte SPI (vnetgw negotiates neither AH nor bundles)"}
	}
	return quickChoice{}, &quickRefusal{wire.NotifyNoProposalChosen, firstSPI,
		"quick mode: the peer's ESP proposals (" + strings.Join(offered, ", ") + ") match none of the connection's"}
}

// endQuick ends quick mode exchange mid, q, without a child: its inbound
// SPI goes back, a rekey of q's child may start again, and our next
// exchange for the pair q proposed waits a while (doubling, up to
// maxQuickBackoff), so that a peer that refuses it is not asked every
// tick.
func (sa *isakmpSA) endQuick(mid uint32, q *quick) {
	delete(sa.qms, mid)
	sa.m.endedQuick(sa.p, q)
	if q.rekey != nil && q.initiator {
		q.rekey.rekeying = false
	}
	if q.initiator {
		w := sa.p.waits[q.asked]
		w.backoff = min(max(2*w.backoff, time.Second), maxQuickBackoff)
		w.after = time.Now().Add(w.backoff)
		sa.p.waits[q.asked] = w
	}
}

// acceptable tells whether a peer may have a child for pr: any traffic on
// a route-based connection (any-to-any children), else traffic inside one
// of the connection's pairs.
func (sa *isakmpSA) acceptable(pr pair) bool {
	for _, mine := range sa.p.pairs {
		if mine.local.Bits() == 0 && mine.remote.Bits() == 0 && mine.local.Addr().Is4() == pr.local.Addr().Is4() {
			return true
		}
		if pr.within(mine) {
			return true
		}
	}
	return false
}

// quickResponse takes the responder's message 2, answers with HASH(3) and
// installs the child. A message 2 whose HASH(2) checks out but that is
// refused ends the exchange (refuseQuick2).
func (sa *isakmpSA) quickResponse(q *quick, h wire.Header, msg []byte) error {
	ps, next, err := sa.decrypt(h, msg, q.iv, q.ni)
	if err != nil {
		return err // not the peer's, or not intact: the real one may follow
	}
	sa.checkedOut()
	ours := binary.BigEndian.AppendUint32(nil, q.spiIn)
	sap, ok1 := wire.Find(ps, wire.PayloadSA)
	n, ok2 := wire.Find(ps, wire.PayloadNonce)
	if !ok1 {
		return sa.refuseQuick2(q, msg, wire.NotifyNoProposalChosen, ours, "quick mode message 2 without SA")
	}
	// RFC 2409 §5: the nonce MUST be between 8 and 256 bytes inclusive.
	if !ok2 || len(n.Body) < 8 || len(n.Body) > 256 {
		return sa.refuseQuick2(q, msg, wire.NotifyInvalidPayloadType, ours, "quick mode message 2 without a nonce of 8 to 256 bytes")
	}
	in, err := wire.ParseSA(sap.Body)
	if err != nil || len(in.Proposals) != 1 || len(in.Proposals[0].Transforms) != 1 || len(in.Proposals[0].SPI) != 4 {
		return sa.refuseQuick2(q, msg, wire.NotifyNoProposalChosen, ours, fmt.Sprintf("quick mode message 2: one transform with a 4-byte SPI is needed (%v)", err))
	}
	theirs := in.Proposals[0].SPI
	s, ok := p2FromTransform(in.Proposals[0].Transforms[0])
	i := slices.IndexFunc(sa.p.p2, func(mine p2Suite) bool { return ok && mine.matches(s) })
	if i < 0 {
		return sa.refuseQuick2(q, msg, wire.NotifyNoProposalChosen, theirs, "quick mode message 2: the peer chose a transform that was not offered")
	}
	// What we proposed holds, and what the peer answered where shorter,
	// or told with a RESPONDER-LIFETIME (RFC 2407 §4.6.3.1).
	s = shorter(s, sa.p.p2[i])
	for _, pl := range ps {
		if pl.Type != wire.PayloadNotify {
			continue
		}
		if n, err := wire.ParseNotify(pl.Body); err == nil && n.Type == wire.NotifyResponderLifetime {
			attrs, _ := wire.ParseAttrs(n.Data) // the attributes before any malformed one
			life, kb := lifetimes(attrs)
			s = shorter(s, p2Suite{Life: cmp.Or(life, s.Life), LifeKB: kb})
		}
	}
	q.s, q.nr, q.spiOut = s, bytes.Clone(n.Body), binary.BigEndian.Uint32(theirs)
	// RFC 4303 §2.1: SPIs 1 to 255 are reserved, and 0 is never sent.
	if q.spiOut < 256 {
		return sa.refuseQuick2(q, msg, wire.NotifyInvalidSPI, theirs, fmt.Sprintf("quick mode: the peer's SPI %d is reserved (RFC 4303 §2.1)", q.spiOut))
	}
	// A responder may answer with narrower traffic than proposed (as
	// strongSwan does); wider or other traffic is refused.
	var ids []wire.Payload
	for _, pl := range ps {
		if pl.Type == wire.PayloadID {
			ids = append(ids, pl)
		}
	}
	if len(ids) == 2 {
		lp, rp, why := traffic(ids[0], ids[1])
		if why != "" {
			return sa.refuseQuick2(q, msg, wire.NotifyInvalidIDInfo, theirs, "quick mode message 2: "+why)
		}
		within := func(outer, inner netip.Prefix) bool {
			return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
		}
		if !within(q.pair.local, lp) || !within(q.pair.remote, rp) {
			return sa.refuseQuick2(q, msg, wire.NotifyInvalidIDInfo, theirs,
				fmt.Sprintf("quick mode message 2: the peer answered traffic %v <-> %v outside the proposed %v <-> %v", lp, rp, q.pair.local, q.pair.remote))
		}
		q.pair = pair{lp, rp}
	}
	if q.dh != nil {
		ke, ok := wire.Find(ps, wire.PayloadKE)
		if !ok {
			return sa.refuseQuick2(q, msg, wire.NotifyInvalidKeyInfo, theirs, "quick mode message 2 without KE for PFS")
		}
		if q.gqm, err = q.dh.SharedSecret(ke.Body); err != nil {
			return sa.refuseQuick2(q, msg, wire.NotifyInvalidKeyInfo, theirs, fmt.Sprintf("quick mode message 2: key exchange: %v", err))
		}
	}
	hash3 := sa.s.Hash.prf(sa.skeyidA, []byte{0}, binary.BigEndian.AppendUint32(nil, q.mid), q.ni, q.nr)
	pl := append([]byte{0, 0}, binary.BigEndian.AppendUint16(nil, uint16(4+len(hash3)))...)
	out, _ := seal(sa.encKey, next, sa.header(wire.ExchangeQuick, q.mid, wire.PayloadHash), append(pl, hash3...))
	delete(sa.qms, q.mid)
	// A peer that did not get HASH(3) sends message 2 again: it gets
	// HASH(3) again, as an answer to a retransmitted request does.
	sa.remember(q.mid, msg, out, true)
	sa.send(out)
	if err := sa.install(q); err != nil {
		sa.endQuick(q.mid, q)
		return err
	}
	return nil
}

// refuseQuick2 ends our quick mode q, whose message 2, msg, came from the
// peer (its HASH(2) checked out) but is refused for why: retransmitting
// message 1 would only get the same answer. The peer is told (refuseQuick)
// and the next quick mode waits a while (endQuick).
func (sa *isakmpSA) refuseQuick2(q *quick, msg []byte, typ uint16, spi []byte, why string) error {
	sa.endQuick(q.mid, q)
	return sa.refuseQuick(q.mid, msg, typ, spi, why)
}

// refuseQuick refuses the peer's quick mode message msg of exchange mid,
// whose HASH checked out, for why. The peer is told with a notification
// of type typ that names spi, the peer's SPI (RFC 2408 §3.14), or, before
// it is read, the ISAKMP SA, so that its quick mode ends at once; the
// same message sent again gets the same notification (Manager.handle),
// where it would be dropped as a replay.
func (sa *isakmpSA) refuseQuick(mid uint32, msg []byte, typ uint16, spi []byte, why string) error {
	n := wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPI: spi, Type: typ}
	if spi == nil {
		n.Protocol, n.SPI = wire.ProtocolISAKMP, sa.cookies()
	}
	sa.remember(mid, msg, sa.sendInfo(wire.PayloadNotify, n.Append(nil)), false)
	sa.p.lastErr = why
	return errors.New(why)
}

// traffic reads the prefixes that IDci and IDcr name (RFC 2409 §5.5);
// why says what is wrong with them when they name none. An ID that names
// a protocol or a port (RFC 2407 §4.6.2) reads well but is refused:
// vnetgw's child SAs carry all protocols and ports.
func traffic(idci, idcr wire.Payload) (ci, cr netip.Prefix, why string) {
	var ps [2]netip.Prefix
	var errs []error
	for i, pl := range []wire.Payload{idci, idcr} {
		id, err := wire.ParseID(pl.Body)
		if err == nil && (id.Protocol != 0 || id.Port != 0) {
			return netip.Prefix{}, netip.Prefix{}, fmt.Sprintf("traffic selector names protocol %d port %d; vnetgw's child SAs carry all protocols and ports", id.Protocol, id.Port)
		}
		if err == nil {
			ps[i], err = id.Prefix()
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return netip.Prefix{}, netip.Prefix{}, fmt.Sprintf("unreadable traffic selectors: %v", err)
	}
	return ps[0], ps[1], ""
}

// install hands the negotiated pair to the data path and retires the
// child it replaces.
func (sa *isakmpSA) install(q *quick) error {
	p := sa.p
	if !q.standby {
		// Our rekey: the peer has the new pair only once our HASH(3)
		// reaches it, and nothing tells us it did (RFC 2409 §5.5: no
		// answer to HASH(3)). Lost, the peer sends message 2 again, 4 s
		// later with strongSwan's defaults; sending with the new pair
		// meanwhile would send into nothing. So the pair waits on
		// standby: this side seals with the old pair until the peer
		// sends with the new one, or the old one goes.
		standby := q.initiator && q.rekey != nil
		if err := sa.m.cfg.Dataplane.InstallChild(sa.dataChild(q, standby)); err != nil {
			return fmt.Errorf("installing the child SA: %w", err)
		}
	}
	delete(p.waits, q.pair)
	delete(p.waits, q.asked)
	margin := rekeyMargin(p.cfg, q.s.Life)
	old := q.rekey
	ch := &child{sa: sa, inSPI: q.spiIn, outSPI: q.spiOut, s: q.s, pair: q.pair, encap: sa.encap(), installed: time.Now(), limits: q.limits,
		replaces: old, nonce: min(string(q.ni), string(q.nr)), rekeyed: old != nil, ours: q.initiator}
	if q.initiator {
		ch.rekeyAt = ch.installed.Add(q.s.Life - margin)
	} else {
		ch.rekeyAt = ch.installed.Add(q.s.Life - margin/2) // the initiator rekeys first
	}
	p.children = append(p.children, ch)
	p.idle = false // the peer set it up, or traffic asked for it
	// Every pair has its child: what failed before, no longer does.
	if !slices.ContainsFunc(p.pairs, func(pr pair) bool { return !p.served(pr) }) {
		p.lastErr = ""
	}
	if old != nil && slices.Contains(p.children, old) && !old.retired() {
		// The old pair still receives what the peer sends before it
		// switches, and goes later (Manager.timers), with a Delete. A
		// new pair on standby (ours, or the peer's installed before its
		// HASH(3)) sends once a packet came on it, or at the latest then.
		old.retireAt = time.Now().Add(rekeyedLinger)
	}
	if old != nil {
		old.replaces = nil // replaced, it is no one's sibling: no chain of children is kept
	}
	sa.m.log.Info("IKEv1 child SA installed", "conn", p.cfg.Name, "in", fmt.Sprintf("%08x", q.spiIn), "out", fmt.Sprintf("%08x", q.spiOut),
		"proposal", q.s.String(), "local", q.pair.local, "remote", q.pair.remote, "rekey", old != nil)
	// Both sides made a pair in place of the same one (or of none): they
	// rekeyed it at once, each with a quick mode of its own, and each
	// side installed both pairs, in its own order. IKEv1 says nothing of
	// this; as RFC 7296 §2.8.1 does for IKEv2, the pair made with the
	// lowest of the nonces goes, which both sides tell alike, so that they
	// keep the same pair (keeping each its newest, each would delete the
	// pair the other kept).
	for _, o := range p.children {
		if o == ch || o.retired() || o.pair != ch.pair || o.replaces != old {
			continue
		}
		lost := ch
		if o.nonce < ch.nonce {
			lost = o
		}
		lost.retireAt = time.Now().Add(rekeyedLinger)
		sa.m.log.Info("IKEv1 child SA rekey collision: the pair of the lowest nonce goes", "conn", p.cfg.Name, "in", fmt.Sprintf("%08x", lost.inSPI))
		break
	}
	return nil
}

// dataChild is the pair quick mode q negotiated, for the data path; on
// standby, it sends with an older pair of the same traffic until the peer
// sends with this one (ipsec.Child.Standby). It notes the pair's limits
// in q.
func (sa *isakmpSA) dataChild(q *quick, standby bool) ipsec.Child {
	p := sa.p
	enc, integ := q.s.keyLens()
	kmIn := sa.s.Hash.keymat(sa.skeyidD, q.gqm, q.spiIn, q.ni, q.nr, enc+integ)
	kmOut := sa.s.Hash.keymat(sa.skeyidD, q.gqm, q.spiOut, q.ni, q.nr, enc+integ)
	q.limits = q.s.limits(p.cfg.ChildLimits)
	c := ipsec.Child{Tunnel: p.cfg.Name, In: q.s.espConfig(q.spiIn, kmIn, q.limits), Out: q.s.espConfig(q.spiOut, kmOut, q.limits),
		Local: sa.local, Remote: sa.remote, Encap: sa.encap(), LocalTS: []netip.Prefix{q.pair.local}, RemoteTS: []netip.Prefix{q.pair.remote}, Standby: standby}
	c.In.NoReplayCheck = p.cfg.NoReplayCheck
	if !c.Encap {
		c.Local, c.Remote = netip.AddrPortFrom(sa.local.Addr(), 0), netip.AddrPortFrom(sa.remote.Addr(), 0)
	}
	return c
}

// retire removes child c of p, which a Delete ended. At a zero now it
// goes from the data path at once; otherwise the data path stops sending
// with it and still opens what the peer sent with it until drainWait
// after now (endLingering): the peer's ESP sealed before the Delete may
// be read after it.
func (m *Manager) retire(p *peer, c *child, now time.Time) {
	for i, o := range p.children {
		if o == c {
			p.children = append(p.children[:i], p.children[i+1:]...)
			if now.IsZero() {
				m.removeChild(p, c)
			} else {
				m.cfg.Dataplane.DrainChild(p.cfg.Name, c.inSPI)
				p.lingering = append(p.lingering, lingering{inSPI: c.inSPI, until: now.Add(drainWait)})
			}
			return
		}
	}
}
