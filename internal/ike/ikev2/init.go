package ikev2

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// maxIKESAs bounds the IKE SAs of one peer: a peer that authenticates can
// still not make the responder keep more.
const maxIKESAs = 32

// maxInitTries bounds the IKE_SA_INIT requests an initiator sends for one
// IKE SA after COOKIE and INVALID_KE_PAYLOAD answers.
const maxInitTries = 4

// initiate starts a new IKE SA as initiator (RFC 7296 §1.2).
func (c *conn) initiate() {
	ni, err := suite.NewNonce()
	if err != nil {
		c.log.Error("initiating", "err", err)
		return
	}
	sa := newSA(c, true)
	sa.spiI = c.m.newIKESPI(c)
	sa.local, sa.remote = c.cfg.Local, c.cfg.Remote
	sa.ni = ni
	sa.group = firstGroup(c.cfg.IKEProposals)
	c.sas = append([]*ikeSA{sa}, c.sas...)
	c.log.Info("initiating IKE SA", sa.logAttrs(), "remote", sa.remote)
	sa.sendInit()
}

// sendInit sends (or, after COOKIE or INVALID_KE_PAYLOAD, sends again) the
// IKE_SA_INIT request.
func (sa *ikeSA) sendInit() {
	if sa.dh == nil || sa.dh.Group() != sa.group {
		dh, err := suite.GenerateKey(sa.group)
		if err != nil {
			sa.log.Error("generating key exchange", sa.logAttrs(), "group", sa.group, "err", err)
			sa.kill("no key exchange")
			return
		}
		sa.dh = dh
	}
	var ps []wire.Payload
	if sa.cookie != nil {
		// RFC 7296 §2.6: the cookie is the first payload of the retry.
		ps = append(ps, &wire.Notify{NotifyType: wire.Cookie, Data: sa.cookie})
	}
	ps = append(ps,
		saPayload(sa.cfg().IKEProposals, nil, true),
		&wire.KE{Group: sa.group, Data: sa.dh.PublicKey()},
		&wire.Nonce{Data: sa.ni},
		&wire.Notify{NotifyType: wire.NATDetectionSourceIP, Data: sa.sourceHash(0, sa.local)},
		&wire.Notify{NotifyType: wire.NATDetectionDestinationIP, Data: natHash(sa.spiI, 0, sa.remote)},
		&wire.Notify{NotifyType: wire.FragmentationSupported},
		&wire.VendorID{Data: duplicateVendorID},
	)
	dgs, err := sa.encode(wire.IKESAInit, 0, false, ps)
	if err != nil {
		sa.log.Error("encoding IKE_SA_INIT", sa.logAttrs(), "err", err)
		sa.kill("encoding failed")
		return
	}
	sa.initReq = dgs[0]
	sa.initRefused = "" // a new request, a new answer
	sa.state = stateInitSent
	sa.nextID = 1
	sa.pend = &outstanding{
		id: 0, exchange: wire.IKESAInit, datagrams: dgs, what: "the opening of an IKE SA (IKE_SA_INIT)",
		timeout: sa.cfg().RetransmitTimeout, retryAt: time.Now().Add(sa.cfg().RetransmitTimeout),
	}
	sa.transmit(dgs)
	sa.initSent(time.Now())
}

// initSent counts an IKE_SA_INIT request sent, or sent again, at now: a
// peer that answers none is told of in the status, unless an IKE SA
// with it is up, whose reason tells of its pairs.
func (sa *ikeSA) initSent(now time.Time) {
	sa.c.silence.Sent(now, sa.remote, "IKE_SA_INIT", sa.c.established() == nil, &sa.c.lastError)
}

// initAnswered notes that the peer answered an IKE_SA_INIT request of
// ours, or authenticated an IKE SA: what initSent said is over.
func (c *conn) initAnswered() { c.silence.Answered(&c.lastError) }

// handleInitResponse processes the IKE_SA_INIT response (RFC 7296 §1.2).
func (sa *ikeSA) handleInitResponse(p packet) {
	msg, err := wire.ParseMessage(p.data)
	if err != nil {
		sa.c.m.stats.malformed.Add(1)
		return
	}
	sa.c.initAnswered()
	ps := msg.Payloads
	// RFC 7296 §2.21.1: the response is not authenticated, and whoever
	// saw our request may forge one (a NO_PROPOSAL_CHOSEN, say). One that
	// ends the exchange ends it only when no acceptable response follows
	// within a retransmission timeout, during which the request is not
	// sent again; one that does follow is taken instead.
	fail := func(format string, args ...any) {
		if sa.initRefused != "" {
			return // the first such answer is the reason given
		}
		sa.initRefused = fmt.Sprintf(format, args...)
		sa.c.lastError = sa.initRefused
		sa.log.Debug("IKE_SA_INIT refused; waiting for another response", sa.logAttrs(), "err", sa.initRefused)
		sa.pend.retryAt = time.Now().Add(sa.pend.timeout)
	}
	if n := notify(ps, wire.Cookie); n != nil {
		if sa.cookie != nil && bytes.Equal(n.Data, sa.cookie) {
			// The answer to a copy of the request before our retry
			// with this cookie: the retry is outstanding already.
			sa.c.m.stats.unexpected.Add(1)
			return
		}
		// RFC 7296 §2.6: retry with the cookie, everything else unchanged.
		if len(n.Data) == 0 || len(n.Data) > 64 || sa.initTries >= maxInitTries {
			fail("unusable COOKIE")
			return
		}
		sa.initTries++
		sa.cookie = bytes.Clone(n.Data)
		sa.sendInit()
		return
	}
	if n := notify(ps, wire.InvalidKEPayload); n != nil {
		// RFC 7296 §1.2: retry with the group the responder wants, if we
		// offered it.
		g, ok := wantedGroup(n)
		if !ok || g == sa.group || !offersGroup(sa.cfg().IKEProposals, g) || sa.initTries >= maxInitTries {
			fail("INVALID_KE_PAYLOAD asking for %v", g)
			return
		}
		sa.initTries++
		sa.log.Debug("responder wants another group", sa.logAttrs(), "group", g)
		sa.group = g
		sa.sendInit()
		return
	}
	if n := errorNotify(ps); n != nil {
		fail("peer answered %v", n.NotifyType)
		return
	}
	saP, ok1 := find[*wire.SA](ps)
	ke, ok2 := find[*wire.KE](ps)
	nonce, ok3 := find[*wire.Nonce](ps)
	if !ok1 || !ok2 || !ok3 || p.header.SPIr == 0 {
		sa.c.m.stats.malformed.Add(1)
		return
	}
	s, _, err := accepted(sa.cfg().IKEProposals, saP, wire.ProtocolIKE, 0)
	if err != nil {
		fail("IKE_SA_INIT response: %v", err)
		return
	}
	// RFC 7296 §1.2: the responder's KE is of the group of ours.
	if s.DH != sa.group || ke.Group != sa.group {
		fail("IKE_SA_INIT response with group %v for our %v", ke.Group, sa.group)
		return
	}
	gir, err := sa.dh.SharedSecret(ke.Data)
	if err != nil {
		fail("responder's key exchange: %v", err)
		return
	}
	sa.spiR = p.header.SPIr
	sa.suite = s
	sa.nr = bytes.Clone(nonce.Data)
	sa.initResp = p.data
	if err := sa.deriveKeys(gir); err != nil {
		sa.failInit("deriving keys: " + err.Error())
		return
	}
	sa.detectNAT(ps, p.local, p.remote)
	sa.fragments = notify(ps, wire.FragmentationSupported) != nil
	sa.peerSettles = settlesDuplicates(ps)
	// The refusal that came before was not the answer (RFC 7296 §2.21.1):
	// it ends no later request of the SA.
	sa.initRefused = ""
	sa.pend = nil
	if sa.encap() {
		// RFC 7296 §2.23: with a NAT, the initiator moves to port 4500.
		port := sa.c.m.cfg.NATTPort
		sa.local = netip.AddrPortFrom(sa.local.Addr(), port)
		sa.remote = netip.AddrPortFrom(sa.remote.Addr(), port)
	}
	sa.sendAuth()
}

// failInit ends the IKE_SA_INIT exchange of an initiator for reason.
func (sa *ikeSA) failInit(reason string) {
	sa.c.lastError = reason
	sa.log.Warn("IKE_SA_INIT failed", sa.logAttrs(), "err", reason)
	sa.kill("IKE_SA_INIT failed")
}

// deriveKeys derives the keys of a new IKE SA from g^ir (RFC 7296 §2.14).
func (sa *ikeSA) deriveKeys(gir suite.Key) error {
	defer clear(gir)
	skeyseed, err := suite.SKEYSEED(sa.suite.PRF, sa.ni, sa.nr, gir)
	if err != nil {
		return err
	}
	defer clear(skeyseed)
	return sa.setKeys(skeyseed)
}

// setKeys derives the IKE SA keys from SKEYSEED and makes the ciphers.
func (sa *ikeSA) setKeys(skeyseed suite.Key) error {
	keys, err := sa.suite.IKEKeys(skeyseed, sa.ni, sa.nr, sa.spiI, sa.spiR)
	if err != nil {
		return err
	}
	out, in, err := keys.Ciphers(sa.suite, sa.initiator)
	if err != nil {
		return err
	}
	sa.keys, sa.out, sa.in = keys, out, in
	return nil
}

// sourceHash is the data of our NAT_DETECTION_SOURCE_IP notification. With
// ForceEncap it hashes no real endpoint, so that the peer sees a NAT in
// front of us and both sides carry ESP in UDP (RFC 7296 §2.23 lets a peer
// pretend; strongSwan's encap=yes does the same).
func (sa *ikeSA) sourceHash(spiR uint64, local netip.AddrPort) []byte {
	if sa.cfg().ForceEncap {
		return natHash(sa.spiI, spiR, forcedSource)
	}
	return natHash(sa.spiI, spiR, local)
}

// forcedSource is the endpoint the NAT_DETECTION_SOURCE_IP of ForceEncap
// hashes: no host sends from it, so a peer that sends its hash forces
// encapsulation too and shows no NAT.
var forcedSource = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)

// detectNAT compares the NAT_DETECTION notifications of an IKE_SA_INIT
// message with the endpoints it travelled between (RFC 7296 §2.23). The
// hashes of a request have a zero SPIr.
func (sa *ikeSA) detectNAT(ps []wire.Payload, local, remote netip.AddrPort) {
	spiR := sa.spiR
	if !sa.initiator {
		spiR = 0 // the hashes of the request
	}
	sa.detectNATWith(ps, local, remote, spiR)
}

// detectNATWith is detectNAT with the responder SPI the hashes are
// computed with: zero in an IKE_SA_INIT request, the SA's in MOBIKE's
// UPDATE_SA_ADDRESSES (RFC 4555 §3.8).
func (sa *ikeSA) detectNATWith(ps []wire.Payload, local, remote netip.AddrPort, spiR uint64) {
	var src, dst bool
	srcMatch, dstMatch, srcForced := false, false, false
	wantSrc, wantDst := natHash(sa.spiI, spiR, remote), natHash(sa.spiI, spiR, local)
	forced := natHash(sa.spiI, spiR, forcedSource)
	for _, p := range ps {
		n, ok := p.(*wire.Notify)
		if !ok {
			continue
		}
		switch n.NotifyType {
		case wire.NATDetectionSourceIP:
			src = true
			srcMatch = srcMatch || bytes.Equal(n.Data, wantSrc)
			srcForced = srcForced || bytes.Equal(n.Data, forced)
		case wire.NATDetectionDestinationIP:
			dst = true
			dstMatch = dstMatch || bytes.Equal(n.Data, wantDst)
		}
	}
	if !src || !dst {
		return // the peer does not do NAT traversal
	}
	sa.natRemote = !srcMatch
	sa.behindNAT = !dstMatch
	sa.natLocal = sa.behindNAT || sa.cfg().ForceEncap
	if !sa.encap() {
		return
	}
	// Only a real NAT is news: ForceEncap, ours or the peer's, pretends
	// one on every connection attempt.
	if natRemote := sa.natRemote && !srcForced; sa.behindNAT || natRemote {
		sa.log.Info("NAT detected", sa.logAttrs(), "local", sa.behindNAT, "remote", natRemote)
		return
	}
	sa.log.Debug("UDP encapsulation forced", sa.logAttrs(), "local", sa.cfg().ForceEncap, "remote", srcForced)
}

// encap tells whether ESP goes in UDP: when a NAT was detected on either
// side, or encapsulation is forced (RFC 3948, RFC 7296 §2.23).
func (sa *ikeSA) encap() bool { return sa.natLocal || sa.natRemote }

// handleInitRequest answers an IKE_SA_INIT request as responder (RFC 7296
// §1.2): a retransmission gets the same response, a new request a new
// half-open IKE SA. The initiator's retry of the request of a half-open
// SA with a cookie is that request too (RFC 7296 §2.1 looks SAs up by
// Ni): it gets the SA's response, and the initiator's AUTH signs the
// retry, the latest version of its request (§2.15). Another request with
// the SPI of a half-open SA replaces that SA: the initiator gave up on
// it. The Manager checked the cookie.
func (c *conn) handleInitRequest(p packet) {
	h := p.header
	halfOpen := 0
	for _, sa := range c.sas {
		if !sa.initiator && sa.spiI == h.SPIi && sa.remote.Addr() == p.remote.Addr() && sa.state != stateDead {
			if sa.state == stateHalfOpen && sa.peerID == 1 && bytes.Equal(sa.initReq, p.data) {
				c.m.stats.retransmitsAnswered.Add(1)
				c.m.send(p.local, p.remote, sa.initResp)
				return
			}
			if sa.state != stateHalfOpen || sa.peerID != 1 {
				return // RFC 7296 §2.1: its IKE_AUTH request came; ignored
			}
			// RFC 7296 §2.6: a retry MUST carry the COOKIE first, all else (the SPI too) unchanged.
			if retry, ok := sameRequest(sa.initReq, p.data); ok {
				if retry {
					sa.initReq = p.data
					c.m.rememberInit(sa) // its retransmissions are answered too
				}
				c.m.stats.retransmitsAnswered.Add(1)
				c.m.send(p.local, p.remote, sa.initResp)
				return
			}
			sa.kill("another IKE_SA_INIT request with its SPI")
			continue
		}
		if sa.state == stateHalfOpen {
			halfOpen++
		}
	}
	if !c.cfg.Mode.responds() {
		c.m.stats.noPeer.Add(1)
		return
	}
	if halfOpen >= c.m.cfg.MaxHalfOpen || len(c.sas) >= maxIKESAs {
		c.m.stats.queueFull.Add(1)
		return
	}
	msg, err := wire.ParseMessage(p.data)
	if err != nil {
		c.m.stats.malformed.Add(1)
		return
	}
	ps := msg.Payloads
	saP, ok1 := find[*wire.SA](ps)
	ke, ok2 := find[*wire.KE](ps)
	nonce, ok3 := find[*wire.Nonce](ps)
	if !ok1 || !ok2 || !ok3 {
		c.m.stats.malformed.Add(1)
		return
	}
	s, number, _, ok := chooseForKE(c.cfg.IKEProposals, saP, wire.ProtocolIKE, 0, ke)
	if !ok {
		theirs := offeredString(saP, wire.ProtocolIKE)
		why := "no proposal chosen for the peer's IKE_SA_INIT (the peer offered " + theirs + ")"
		// Anyone can send it from the peer's address: logged above Debug
		// only when the reason changes.
		level := slog.LevelWarn
		if c.lastError == why {
			level = slog.LevelDebug
		}
		c.lastError = why
		c.log.Log(context.Background(), level, "no acceptable IKE proposal", "remote", p.remote, "offered", theirs, "ours", proposalsString(c.cfg.IKEProposals))
		c.m.sendError(p.local, p.remote, h, &wire.Notify{NotifyType: wire.NoProposalChosen})
		return
	}
	if ke.Group != s.DH {
		// RFC 7296 §1.2: a KE of another group than the chosen one is
		// answered with INVALID_KE_PAYLOAD naming the chosen group.
		c.m.sendError(p.local, p.remote, h, invalidKE(s.DH))
		return
	}
	dh, err := suite.GenerateKey(s.DH)
	if err != nil {
		c.log.Error("generating key exchange", "group", s.DH, "err", err)
		return
	}
	gir, err := dh.SharedSecret(ke.Data)
	if err != nil {
		c.m.stats.malformed.Add(1)
		return
	}
	nr, err := suite.NewNonce()
	if err != nil {
		return
	}
	sa := newSA(c, false)
	sa.spiI, sa.spiR = h.SPIi, c.m.newIKESPI(c)
	sa.local, sa.remote = p.local, p.remote
	sa.suite, sa.ni, sa.nr = s, bytes.Clone(nonce.Data), nr
	sa.detectNAT(ps, p.local, p.remote)
	sa.fragments = notify(ps, wire.FragmentationSupported) != nil
	sa.peerSettles = settlesDuplicates(ps)
	resp := []wire.Payload{
		chosenPayload(number, s, nil),
		&wire.KE{Group: s.DH, Data: dh.PublicKey()},
		&wire.Nonce{Data: nr},
	}
	if notify(ps, wire.NATDetectionSourceIP) != nil {
		resp = append(resp,
			&wire.Notify{NotifyType: wire.NATDetectionSourceIP, Data: sa.sourceHash(sa.spiR, p.local)},
			&wire.Notify{NotifyType: wire.NATDetectionDestinationIP, Data: natHash(sa.spiI, sa.spiR, p.remote)})
	}
	if sa.fragments {
		resp = append(resp, &wire.Notify{NotifyType: wire.FragmentationSupported})
	}
	if sa.peerSettles {
		// Only to another vnetgw: a scanner or a client learns nothing
		// of what answers.
		resp = append(resp, &wire.VendorID{Data: duplicateVendorID})
	}
	if cl := c.clientsHere(); cl != nil {
		// RFC 7296 §3.7: name the roots clients' certificates chain to;
		// RFC 7427 §4: announce the hashes we verify signatures with. A
		// site's peer gets them too when clients are served: a client may
		// share the site's address (handToClient).
		resp = append(resp, &wire.CertReq{Encoding: wire.CertX509Signature, Data: suite.CertReqData(cl.Roots)},
			&wire.Notify{NotifyType: wire.SignatureHashAlgorithms, Data: suite.AppendSignatureHashes(nil, suite.SignatureHashes())})
		if n := notify(ps, wire.SignatureHashAlgorithms); n != nil {
			sa.peerHashes, _ = suite.ParseSignatureHashes(n.Data)
		}
	}
	dgs, err := sa.encode(wire.IKESAInit, 0, true, resp)
	if err == nil {
		err = sa.deriveKeys(gir)
	}
	if err != nil {
		c.log.Error("answering IKE_SA_INIT", "err", err)
		c.m.releaseSPIs(sa.spiR)
		return
	}
	sa.initReq, sa.initResp = p.data, dgs[0]
	sa.lastResp = dgs
	sa.peerID = 1
	sa.state = stateHalfOpen
	sa.halfOpenUntil = time.Now().Add(halfOpenTimeout)
	sa.countHalfOpen(true)
	c.sas = append([]*ikeSA{sa}, c.sas...)
	c.log.Debug("IKE_SA_INIT answered", sa.logAttrs(), "remote", p.remote, "proposal", s)
	sa.transmit(dgs)
}

// sameRequest reports whether the IKE_SA_INIT requests prev and req are
// the same but for a COOKIE notification first (RFC 7296 §2.6), and
// whether req is then a retry of prev: a cookie first that prev lacks or
// has another of. A copy of an earlier version of prev, without its
// cookie, is the same request and no retry.
func sameRequest(prev, req []byte) (retry, ok bool) {
	a, err := wire.ParseMessage(prev)
	if err != nil {
		return false, false
	}
	b, err := wire.ParseMessage(req)
	if err != nil {
		return false, false
	}
	ca, _, pa := splitCookie(a.Payloads)
	cb, hasB, pb := splitCookie(b.Payloads)
	ea, err := wire.AppendPayloads(nil, pa)
	if err != nil {
		return false, false
	}
	eb, err := wire.AppendPayloads(nil, pb)
	if err != nil || !bytes.Equal(ea, eb) {
		return false, false
	}
	return hasB && !bytes.Equal(ca, cb), true
}

// splitCookie returns the data of the COOKIE notification that is the
// first of ps, whether there is one, and the payloads after it.
func splitCookie(ps []wire.Payload) ([]byte, bool, []wire.Payload) {
	if len(ps) > 0 {
		if n, ok := ps[0].(*wire.Notify); ok && n.NotifyType == wire.Cookie {
			return n.Data, true, ps[1:]
		}
	}
	return nil, false, ps
}

// chooseForKE is choose for a request with the key exchange ke: a suite
// with ke's group, when one is acceptable, is preferred to the first
// acceptable one, which saves the INVALID_KE_PAYLOAD round trip (RFC 7296
// §1.2, §1.3). ke may be nil.
func chooseForKE(ours []suite.Proposal, theirs *wire.SA, protocol wire.ProtocolID, spiLen int, ke *wire.KE) (suite.Suite, uint8, []byte, bool) {
	s, number, spi, ok := choose(ours, theirs, protocol, spiLen, false)
	if ok && ke != nil && s.DH != wire.DHNone && s.DH != ke.Group {
		if s2, n2, spi2, ok := choose(ours, withGroup(theirs, ke.Group), protocol, spiLen, false); ok && s2.DH == ke.Group {
			return s2, n2, spi2, true
		}
	}
	return s, number, spi, ok
}

// withGroup returns the proposals of sa with g as their only
// Diffie-Hellman group; those without g are left out.
func withGroup(sa *wire.SA, g wire.DHGroup) *wire.SA {
	out := &wire.SA{}
	for _, p := range sa.Proposals {
		q := p
		q.Transforms = nil
		has := false
		for _, t := range p.Transforms {
			if t.Type == wire.TransformDH {
				if wire.DHGroup(t.ID) != g {
					continue
				}
				has = true
			}
			q.Transforms = append(q.Transforms, t)
		}
		if has {
			out.Proposals = append(out.Proposals, q)
		}
	}
	return out
}
