package ikev1

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Vendor IDs: RFC 3947 NAT traversal (MD5 of "RFC 3947") and RFC 3706
// dead peer detection.
var (
	vidNATT = []byte{0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f}
	vidDPD  = []byte{0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00}
)

// natDrafts are the vendor IDs (MD5 of each name) of the drafts of NAT
// traversal that peers from before RFC 3947 speak, by name. vnetgw does
// NAT traversal with none of them: they number NAT-D and NAT-OA payloads
// and the UDP encapsulation modes otherwise (private-use numbers); a peer
// that names one and not the RFC is only told of (isakmpSA.establish).
var natDrafts = []struct {
	name string
	vid  []byte
}{
	{"draft-ietf-ipsec-nat-t-ike-03", []byte{0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f, 0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d, 0x56}},
	{"draft-ietf-ipsec-nat-t-ike-02", []byte{0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8, 0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4, 0x48}},
	// The same draft's name with a newline, as some peers hashed it.
	{`draft-ietf-ipsec-nat-t-ike-02\n`, []byte{0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f}},
}

// natDraft returns the name of the first NAT traversal draft whose vendor
// ID is among ps, "" for none.
func natDraft(ps []wire.Payload) string {
	for _, d := range natDrafts {
		if hasVendorID(ps, d.vid) {
			return d.name
		}
	}
	return ""
}

// ISAKMP SA states.
const (
	stMM1 = iota + 1 // initiator: sent message 1
	stMM2            // responder: sent message 2
	stMM3            // initiator: sent message 3
	stMM4            // responder: sent message 4
	stMM5            // initiator: sent message 5
	stEstablished
	stDead
)

// isakmpSA is a phase 1 SA and the exchanges under it.
type isakmpSA struct {
	m         *Manager
	p         *peer
	initiator bool
	ic, rc    uint64
	state     int
	created   time.Time

	local, remote       netip.AddrPort
	natLocal, natRemote bool   // a NAT (or, for natLocal, a pretended one) in front of us, of the peer
	behindNAT           bool   // a real NAT in front of us: we send NAT-keepalives (RFC 3948 §4)
	peerDPD             bool   // the peer sent the DPD vendor ID: it answers R-U-THERE (RFC 3706 §5.1)
	peerNATT            bool   // the peer sent the RFC 3947 vendor ID: NAT-D payloads go both ways (RFC 3947 §3.1)
	peerNATTDraft       string // the NAT traversal draft the peer's vendor IDs name (natDraft), "" for none

	s                  p1Suite
	dh                 *suite.PrivateKey
	ni, nr, gxi, gxr   []byte
	saiB               []byte
	skeyid, skeyidD    []byte
	skeyidA, encKey    []byte
	iv, p1iv           []byte
	established        time.Time
	expires            time.Time
	lastIn             time.Time
	dpdSeq             uint32      // the sequence number of our last R-U-THERE (establish: random at first)
	dpdFirst           uint32      // the sequence number of the first R-U-THERE in flight
	dpd                outstanding // the R-U-THERE in flight: msg is nil when none
	peerSeq            uint32      // the sequence number of the peer's last R-U-THERE
	peerSeqSeen        bool        // peerSeq is set
	qms                map[uint32]*quick
	out                outstanding // our last request, until answered
	lastReq, lastReply []byte      // the peer's last message that we answered, and the answer, for its retransmissions
	// answered holds the quick mode messages of the peer's that we
	// answered lately, by message ID, with the answers: a retransmission
	// of one gets its answer again, whatever came between.
	answered map[uint32]answer
	// dpdAck is the peer's last R-U-THERE, with message ID dpdAckMID, and
	// our R-U-THERE-ACK, for its retransmission. It is kept apart from
	// answered, whose quick mode answers a busy SA's dead peer detection
	// would otherwise push out; one is enough, as an R-U-THERE older than
	// the last is not answered (RFC 3706 §7).
	dpdAck    answer
	dpdAckMID uint32
	// peerMIDs are the message IDs of the exchanges the peer started on
	// this SA, each added once its first message checked out (one that
	// did not, anyone can send: it must not push out the IDs kept): one
	// that comes again is a replay, once its answer is no longer kept.
	// ourMIDs are those of the quick modes this side started: a message
	// with one, once the exchange is over, is a late answer.
	peerMIDs, ourMIDs midRing
	// told is why the Main Mode did not go on with a message of the
	// peer's (tell), at state toldIn: the reason if it fails there.
	told   string
	toldIn int
	// authFailed: a responder's message 5 did not authenticate (the
	// pre-shared keys differ, say); the Main Mode may make room for a
	// new one (respondMM1).
	authFailed bool
	// from is where the phase 2 or informational message being handled
	// came to and from: local, remote (checkedOut).
	from [2]netip.AddrPort
}

// answer is a message of the peer's and our answer to it.
type answer struct {
	req, reply []byte
	at         time.Time
	// hash3: reply is our HASH(3), which the peer waits for (sending
	// message 2 again) while answerLife has not passed.
	hash3 bool
}

// maxAnswered bounds an ISAKMP SA's quick modes in flight: ours under
// way, the peer's waiting for HASH(3), and ours whose HASH(3) the peer
// may still ask for again. Each keeps its answer (the other answers kept
// go first, when more come); beyond it, the peer's message 1 is dropped,
// to be sent again, and ours wait (Manager.timers).
const maxAnswered = 256

// answerTo returns the answer kept for the peer's message with header
// h: a quick mode message, or the last R-U-THERE.
func (sa *isakmpSA) answerTo(h wire.Header) (answer, bool) {
	switch {
	case h.Exchange == wire.ExchangeQuick:
		a, ok := sa.answered[h.MessageID]
		return a, ok
	case h.Exchange == wire.ExchangeInfo && sa.dpdAck.req != nil && h.MessageID == sa.dpdAckMID:
		return sa.dpdAck, true
	}
	return answer{}, false
}

// open tells whether answer a, to the peer's message with message ID
// mid, may still be asked for while its exchange is not over at the
// peer: our message 2 while we wait for HASH(3), our HASH(3).
func (sa *isakmpSA) open(mid uint32, a answer) bool {
	_, waiting := sa.qms[mid]
	return waiting || a.hash3
}

// inFlight counts sa's quick modes in flight (maxAnswered).
func (sa *isakmpSA) inFlight() int {
	n := len(sa.qms)
	for _, a := range sa.answered {
		if a.hash3 {
			n++
		}
	}
	return n
}

// remember keeps reply as the answer to req, the peer's message with
// message ID mid; hash3 tells that reply is our HASH(3). When
// maxAnswered are kept, the oldest whose exchange is over at the peer
// goes: while inFlight is within maxAnswered, there is one.
func (sa *isakmpSA) remember(mid uint32, req, reply []byte, hash3 bool) {
	if sa.answered == nil {
		sa.answered = map[uint32]answer{}
	}
	if _, ok := sa.answered[mid]; !ok && len(sa.answered) >= maxAnswered {
		var oldest uint32
		found := false
		for k, a := range sa.answered {
			if !sa.open(k, a) && (!found || a.at.Before(sa.answered[oldest].at)) {
				oldest, found = k, true
			}
		}
		if found {
			delete(sa.answered, oldest)
		}
	}
	sa.answered[mid] = answer{req: bytes.Clone(req), reply: reply, at: time.Now(), hash3: hash3}
}

// outstanding is a message sent and retransmitted until its answer comes.
type outstanding struct {
	msg     []byte
	sentAt  time.Time
	timeout time.Duration
	tries   int
}

func (o *outstanding) set(msg []byte, t0 time.Duration) {
	*o = outstanding{msg: msg, sentAt: time.Now(), timeout: t0}
}

// backoff is the wait before the next retransmission after one of d:
// twice as long, up to ikev2.MaxRetransmitTimeout, as the IKEv2 daemon's
// (IKEv1's RFCs leave retransmission to the implementation).
func backoff(d time.Duration) time.Duration { return min(2*d, ikev2.MaxRetransmitTimeout) }

func (sa *isakmpSA) cookies() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, sa.ic), sa.rc)
}

func (sa *isakmpSA) encap() bool { return sa.natLocal || sa.natRemote }

func (sa *isakmpSA) send(b []byte) { sa.m.send(sa.local, sa.remote, b) }

// initiate starts Main Mode with p: to the configured address, or, to
// renew ISAKMP SA old, between old's ends. After NAT traversal those are
// port 4500 of each side, the peer's as its NAT maps it, as strongSwan
// renews: a NAT in front of the peer forgets its port 500 within minutes
// of the last Main Mode message there (the NAT-keepalives and ESP keep
// 4500 mapped), and a renewal sent there would never arrive. m.mu is held.
func (m *Manager) initiate(p *peer, old *isakmpSA) {
	if len(p.p1) == 0 {
		p.lastErr = "no IKE proposal vnetgw can offer in IKEv1 (AES-CBC with SHA-1 or SHA-2 only)"
		p.nextTry = time.Now().Add(p.cfg.ReconnectDelay)
		return
	}
	sa := &isakmpSA{m: m, p: p, initiator: true, ic: randUint64(), state: stMM1, created: time.Now(),
		local: p.cfg.Local, remote: p.cfg.Remote, qms: map[uint32]*quick{}}
	if old != nil {
		sa.local, sa.remote = old.local, old.remote
	}
	prop := wire.Proposal{Number: 1, Protocol: wire.ProtocolISAKMP}
	for i, s := range p.p1 {
		prop.Transforms = append(prop.Transforms, s.transform(uint8(i+1)))
	}
	sa.saiB = wire.SA{DOI: wire.DOIIPsec, Situation: wire.SitIdentityOnly, Proposals: []wire.Proposal{prop}}.Append(nil)
	msg := sa.plain(wire.ExchangeMain, []wire.Payload{{Type: wire.PayloadSA, Body: sa.saiB}, {Type: wire.PayloadVendorID, Body: vidNATT}, {Type: wire.PayloadVendorID, Body: vidDPD}})
	m.sas[sa.ic] = sa
	sa.out.set(msg, p.cfg.RetransmitTimeout)
	sa.send(msg)
	sa.mm1Sent(sa.out.sentAt)
	p.nextTry = time.Now().Add(p.cfg.ReconnectDelay)
	m.log.Info("IKEv1 main mode started", "conn", p.cfg.Name, "remote", sa.remote)
}

// mm1Sent counts a Main Mode message 1 sent, or sent again, at now: a
// peer that answers none is told of in the status, unless it refused it
// (told) or an ISAKMP SA with it is up.
func (sa *isakmpSA) mm1Sent(now time.Time) {
	sa.p.silence.Sent(now, sa.remote, "main mode message 1", sa.told == "" && sa.m.newest(sa.p) == nil, &sa.p.lastErr)
}

// mm1Answered notes that the peer answered a Main Mode message 1 of ours,
// or an ISAKMP SA came up: what mm1Sent said is over.
func (p *peer) mm1Answered() { p.silence.Answered(&p.lastErr) }

// plain builds an unencrypted message.
func (sa *isakmpSA) plain(exchange uint8, ps []wire.Payload) []byte {
	body, first := wire.AppendPayloads(nil, ps)
	h := wire.Header{ICookie: sa.ic, RCookie: sa.rc, Next: first, Exchange: exchange, Length: uint32(wire.HeaderLen + len(body))}
	return append(h.Append(nil), body...)
}

// respondMM1 answers a peer's first Main Mode message. m.mu is held.
func (m *Manager) respondMM1(local, remote netip.AddrPort, h wire.Header, msg []byte) {
	var p *peer
	for _, q := range m.peers {
		if q.cfg.Remote.Addr() == remote.Addr() {
			p = q
		}
	}
	if p == nil || p.cfg.Mode == ikev2.ModeInitiatorOnly {
		m.stats.noPeer.Add(1)
		m.log.Debug("IKEv1 main mode from an address that is no IKEv1 peer (or one that only initiates) ignored", "from", remote)
		return
	}
	// Anyone can send this from the peer's address: the SAs it starts
	// that are not established yet are bounded, per peer. IKEv1 has no
	// cookie challenge before the responder keeps state (RFC 2408 §1.7.1:
	// absolute protection against denial of service is impossible;
	// §2.5.3 leaves how cookies are made to the implementation), so when
	// they are all taken the oldest still at message 2 makes room: one at
	// message 4 or beyond proved the peer read our answers, a spoofed one
	// never does. One younger than mainModeGrace stays, so that a flood
	// of message 1s cannot push out the peer's own before its message 3
	// comes back. One whose message 5 did not authenticate (a peer with
	// another key, trying again and again) makes room as well: else a few
	// such attempts kept the peer out for 30 s once its key was right.
	halfOpen := 0
	var oldest *isakmpSA
	now := time.Now()
	for _, o := range m.sasOf(p) {
		if !o.initiator && o.state != stEstablished {
			halfOpen++
			unanswered := o.state == stMM2 && now.Sub(o.created) >= mainModeGrace
			if (unanswered || o.state == stMM4 && o.authFailed) && (oldest == nil || o.created.Before(oldest.created)) {
				oldest = o
			}
		}
	}
	if halfOpen >= maxHalfOpenPerPeer && oldest == nil {
		m.stats.queueFull.Add(1)
		m.log.Debug("IKEv1 main mode message 1 dropped: too many half-open SAs of the peer", "conn", p.cfg.Name, "from", remote)
		return
	}
	ps, err := wire.ParsePayloads(h.Next, msg[wire.HeaderLen:])
	sap, ok := wire.Find(ps, wire.PayloadSA)
	if err != nil || !ok {
		m.stats.malformed.Add(1)
		m.log.Debug("IKEv1 main mode message 1 without a readable SA dropped", "from", remote, "err", err)
		return
	}
	sa := &isakmpSA{m: m, p: p, ic: h.ICookie, rc: randUint64(), state: stMM2, created: time.Now(), local: local, remote: remote, qms: map[uint32]*quick{},
		peerDPD: hasVendorID(ps, vidDPD), peerNATT: hasVendorID(ps, vidNATT), peerNATTDraft: natDraft(ps)}
	in, err := wire.ParseSA(sap.Body)
	if err != nil || len(in.Proposals) == 0 {
		m.stats.malformed.Add(1)
		m.log.Debug("IKEv1 main mode with a malformed SA refused", "conn", p.cfg.Name, "err", err)
		return
	}
	var chosen *wire.Transform
	for _, t := range in.Proposals[0].Transforms {
		if s, ok := p1FromTransform(t); ok {
			for _, mine := range p.p1 {
				if mine.matches(s) && chosen == nil {
					// The shorter lifetime holds here, and the initiator's
					// transform is answered as it came, as strongSwan's
					// responder does: RFC 2407 §4.6.3.1's RESPONDER-LIFETIME
					// is for IPsec SAs. This side renews the SA before its
					// own lifetime ends (Manager.timers).
					chosen, sa.s = &t, s
					sa.s.Life = min(s.Life, mine.Life)
				}
			}
		}
	}
	if chosen == nil {
		// Anyone can send it from the peer's address: logged above
		// Debug only when the reason changes.
		why := "no proposal chosen: the peer's IKEv1 proposals (" + describeP1(in.Proposals[0].Transforms) + ") match none of the connection's"
		level := slog.LevelWarn
		if p.lastErr == why {
			level = slog.LevelDebug
		}
		p.lastErr = why
		m.log.Log(context.Background(), level, "IKEv1 main mode: no proposal chosen", "conn", p.cfg.Name, "offered", describeP1(in.Proposals[0].Transforms))
		sa.sendNotifyPlain(local, remote, wire.NotifyNoProposalChosen)
		return
	}
	sa.saiB = bytes.Clone(sap.Body)
	prop := wire.Proposal{Number: in.Proposals[0].Number, Protocol: wire.ProtocolISAKMP, Transforms: []wire.Transform{*chosen}}
	reply := sa.plain(wire.ExchangeMain, []wire.Payload{
		{Type: wire.PayloadSA, Body: wire.SA{DOI: wire.DOIIPsec, Situation: wire.SitIdentityOnly, Proposals: []wire.Proposal{prop}}.Append(nil)},
		{Type: wire.PayloadVendorID, Body: vidNATT}, {Type: wire.PayloadVendorID, Body: vidDPD}})
	if halfOpen >= maxHalfOpenPerPeer {
		m.dropSA(oldest)
		m.evicted.Count(1)
		if n, due := m.evicted.Due(); due {
			m.log.Warn("IKEv1 half-open main modes (unanswered after message 2, or whose message 5 did not authenticate) dropped to make room for new ones (message 1s spoofed from the peer's address, or a peer with another key?)",
				"conn", p.cfg.Name, "from", remote, "count", n)
		}
	}
	m.sas[sa.ic] = sa
	sa.lastReq, sa.lastReply = bytes.Clone(msg), reply
	sa.send(reply)
}

// sendNotifyPlain sends error notification typ, unprotected, from local
// to remote: where the message it answers came from and to.
func (sa *isakmpSA) sendNotifyPlain(local, remote netip.AddrPort, typ uint16) {
	sa.m.send(local, remote, sa.plain(wire.ExchangeInfo, []wire.Payload{{Type: wire.PayloadNotify, Body: wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, Type: typ}.Append(nil)}}))
}

// handle takes a message for this SA. m.mu is held.
func (sa *isakmpSA) handle(local, remote netip.AddrPort, h wire.Header, msg []byte) error {
	if h.Exchange == wire.ExchangeInfo && h.Flags&wire.FlagEncryption == 0 {
		ps, err := wire.ParsePayloads(h.Next, msg[wire.HeaderLen:])
		if err == nil && sa.state != stEstablished {
			if np, ok := wire.Find(ps, wire.PayloadNotify); ok {
				if n, err := wire.ParseNotify(np.Body); err == nil && n.Type < 16384 { // an error (RFC 2408 §3.14.1)
					sa.refusedMain(n.Type)
				}
			}
		}
		return nil
	}
	switch h.Exchange {
	case wire.ExchangeMain:
		return sa.handleMain(local, remote, h, msg)
	case wire.ExchangeQuick:
		if sa.state != stEstablished {
			return errors.New("quick mode before main mode completed")
		}
		sa.from = [2]netip.AddrPort{local, remote}
		return sa.heard(sa.handleQuick(h, msg))
	case wire.ExchangeInfo:
		if sa.state != stEstablished {
			return nil
		}
		sa.from = [2]netip.AddrPort{local, remote}
		return sa.heard(sa.handleInfo(h, msg))
	}
	return fmt.Errorf("%w: exchange type %d is not supported", errUnverified, h.Exchange)
}

// refusedMain takes the peer's refusal, with error notification t, of
// the Main Mode under way: its reason is shown at once, and is the one
// the exchange ends with if it fails. It does not end the exchange: RFC
// 2408 §4.8, an Informational Exchange before the keying material is
// unprotected, so that anyone who saw the cookies could send it; the
// exchange goes on until its tries run out (isakmpSA.timers). After
// message 5, the first encrypted with keys derived from the pre-shared
// key (RFC 2409 §5.4), a peer whose key differs reads garbage or a
// HASH_I that does not match, and says so with one of these.
func (sa *isakmpSA) refusedMain(t uint16) {
	why := "the peer refused main mode with notification " + notifyName(t)
	switch t {
	case wire.NotifyAuthFailed, wire.NotifyInvalidHashInfo, wire.NotifyPayloadMalformed, wire.NotifyInvalidPayloadType:
		if sa.state == stMM5 {
			why += " after message 5: pre-shared key mismatch?"
		}
	}
	sa.tell(why, "IKEv1 main mode refused by the peer")
}

// tell takes why a Main Mode under way did not go on with a message of
// the peer's (refusedMain, Manager.handle): it is the reason shown, and
// the one the exchange ends with if it fails at this state, when its
// tries (or, for a responder, the half-open timeout) run out. Nothing
// the peer sends before the Main Mode completes is authenticated (RFC
// 2408 §4.8; messages 5 and 6 are encrypted with keys of an
// unauthenticated exchange, RFC 2409 §5): anyone who saw the cookies
// could send it, so that it ends nothing, and the peer's own message may
// still complete the exchange. Logged once per reason and state.
func (sa *isakmpSA) tell(why, msg string) {
	if sa.told == why && sa.toldIn == sa.state {
		sa.m.log.Debug(msg, "conn", sa.p.cfg.Name, "err", why)
		return
	}
	sa.told, sa.toldIn = why, sa.state
	sa.p.lastErr = why
	sa.m.log.Warn(msg+"; the exchange goes on until its tries run out", "conn", sa.p.cfg.Name, "err", why)
}

// errStale marks a message dropped as a replay, or as stale (a DPD
// message out of sequence): counted as Unexpected and logged at debug,
// not refused.
var errStale = errors.New("a replayed or stale message")

// errBusy marks a message dropped before it was read for want of room
// (maxAnswered): counted as QueueFull and logged at debug, as a datagram
// the queue had no room for.
var errBusy = errors.New("too many quick modes in flight")

// heard notes that the peer was heard from, when a message of it checked
// out (err is nil): one that does not decrypt or whose HASH does not
// match, which anyone who saw the cookies can send, keeps no DPD off.
func (sa *isakmpSA) heard(err error) error {
	if err == nil {
		sa.lastIn = time.Now()
	}
	return err
}

// checkedOut takes the peer's phase 2 or informational message being
// handled once it checked out (it decrypted, and its HASH matched), before
// it is answered. One from a new port of a peer behind a NAT (the NAT lost
// its mapping and made another) moves the SAs there, as strongSwan
// follows its IKEv1 peers and RFC 7296 §2.23 asks of IKEv2 (a side that is
// itself behind a NAT does not follow): the peer's R-U-THERE, say, is
// answered where the NAT now maps it, not where the answer is lost. A
// message that checks out is a new one (a replay is refused before, a
// retransmission answered before it is read: Manager.handle), so that a
// copy sent from elsewhere moves nothing.
func (sa *isakmpSA) checkedOut() {
	local, remote := sa.from[0], sa.from[1]
	if sa.state == stEstablished && remote.IsValid() && remote != sa.remote && local == sa.local && sa.encap() && !sa.behindNAT {
		old := sa.remote
		sa.remote = remote
		sa.m.follow(sa.p, old, remote)
	}
}

func (sa *isakmpSA) handleMain(local, remote netip.AddrPort, h wire.Header, msg []byte) error {
	body := msg[wire.HeaderLen:]
	switch {
	case sa.initiator && sa.state == stMM1 && h.Flags&wire.FlagEncryption == 0:
		sa.p.mm1Answered()
		ps, err := wire.ParsePayloads(h.Next, body)
		if err != nil {
			return err
		}
		sap, ok := wire.Find(ps, wire.PayloadSA)
		if !ok {
			return errors.New("main mode message 2 without an SA")
		}
		in, err := wire.ParseSA(sap.Body)
		if err != nil || len(in.Proposals) != 1 || len(in.Proposals[0].Transforms) != 1 {
			return fmt.Errorf("main mode message 2: the SA must hold one transform (%v)", err)
		}
		s, ok := p1FromTransform(in.Proposals[0].Transforms[0])
		i := slices.IndexFunc(sa.p.p1, func(mine p1Suite) bool { return ok && mine.matches(s) })
		if i < 0 {
			return errors.New("main mode message 2: the peer chose a transform that was not offered")
		}
		// The lifetime we offered holds, or the peer's where shorter: a
		// longer one would keep the SA past what this side allows.
		s.Life = min(s.Life, sa.p.p1[i].Life)
		sa.s, sa.rc = s, h.RCookie
		sa.peerDPD, sa.peerNATT, sa.peerNATTDraft = hasVendorID(ps, vidDPD), hasVendorID(ps, vidNATT), natDraft(ps)
		if sa.dh, err = generateKey(s.Group); err != nil {
			return err
		}
		if sa.ni, err = newNonce(); err != nil {
			return err
		}
		sa.gxi = sa.dh.PublicKey()
		msg3 := sa.plain(wire.ExchangeMain, append([]wire.Payload{{Type: wire.PayloadKE, Body: sa.gxi}, {Type: wire.PayloadNonce, Body: sa.ni}}, sa.natD()...))
		sa.state = stMM3
		sa.out.set(msg3, sa.p.cfg.RetransmitTimeout)
		sa.send(msg3)
		return nil

	case !sa.initiator && sa.state == stMM2 && h.Flags&wire.FlagEncryption == 0:
		ps, err := wire.ParsePayloads(h.Next, body)
		if err != nil {
			return err
		}
		ke, ok1 := wire.Find(ps, wire.PayloadKE)
		n, ok2 := wire.Find(ps, wire.PayloadNonce)
		if !ok1 || !ok2 || len(n.Body) < 8 || len(n.Body) > 256 {
			return errors.New("main mode message 3 without KE or a nonce of 8 to 256 bytes")
		}
		sa.gxi, sa.ni = bytes.Clone(ke.Body), bytes.Clone(n.Body)
		if sa.dh, err = generateKey(sa.s.Group); err != nil {
			return err
		}
		if sa.nr, err = newNonce(); err != nil {
			return err
		}
		sa.gxr = sa.dh.PublicKey()
		sa.detectNAT(ps)
		if err := sa.deriveKeys(); err != nil {
			return err
		}
		reply := sa.plain(wire.ExchangeMain, append([]wire.Payload{{Type: wire.PayloadKE, Body: sa.gxr}, {Type: wire.PayloadNonce, Body: sa.nr}}, sa.natD()...))
		sa.state = stMM4
		sa.lastReq, sa.lastReply = bytes.Clone(msg), reply
		sa.send(reply)
		return nil

	case sa.initiator && sa.state == stMM3 && h.Flags&wire.FlagEncryption == 0:
		ps, err := wire.ParsePayloads(h.Next, body)
		if err != nil {
			return err
		}
		ke, ok1 := wire.Find(ps, wire.PayloadKE)
		n, ok2 := wire.Find(ps, wire.PayloadNonce)
		if !ok1 || !ok2 || len(n.Body) < 8 || len(n.Body) > 256 {
			return errors.New("main mode message 4 without KE or a nonce of 8 to 256 bytes")
		}
		sa.gxr, sa.nr = bytes.Clone(ke.Body), bytes.Clone(n.Body)
		sa.detectNAT(ps)
		if err := sa.deriveKeys(); err != nil {
			return err
		}
		// RFC 3947 §4: after a NAT is detected, the initiator moves to port 4500.
		// A renewal that started there stays, with the peer's port as
		// the NAT maps it.
		if sa.encap() && sa.local.Port() != sa.m.cfg.NATTPort {
			sa.local = netip.AddrPortFrom(sa.local.Addr(), sa.m.cfg.NATTPort)
			sa.remote = netip.AddrPortFrom(sa.remote.Addr(), sa.m.cfg.NATTPort)
		}
		id := sa.localID().Append(nil)
		hashI := sa.s.Hash.prf(sa.skeyid, sa.gxi, sa.gxr, sa.cookies(), sa.saiB, id)
		ps5 := []wire.Payload{{Type: wire.PayloadID, Body: id}, {Type: wire.PayloadHash, Body: hashI}}
		if sa.firstContact() {
			// RFC 2407 §4.6.3.3: INITIAL-CONTACT tells the peer to drop the SAs
			// it still has with us (from before a restart, say).
			ps5 = append(ps5, wire.Payload{Type: wire.PayloadNotify, Body: wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP,
				SPI: sa.cookies(), Type: wire.NotifyInitialContact}.Append(nil)})
		}
		pl, _ := wire.AppendPayloads(nil, ps5)
		msg5, next := seal(sa.encKey, sa.iv, sa.header(wire.ExchangeMain, 0, wire.PayloadID), pl)
		sa.iv = next
		sa.state = stMM5
		sa.out.set(msg5, sa.p.cfg.RetransmitTimeout)
		sa.send(msg5)
		return nil

	case !sa.initiator && sa.state == stMM4 && h.Flags&wire.FlagEncryption != 0:
		ps, id, hp, next, err := sa.openAuth(h, body, 5)
		// RFC 2409 §5: HASH_I authenticates the initiator with the key.
		if err == nil && !hmac.Equal(sa.s.Hash.prf(sa.skeyid, sa.gxi, sa.gxr, sa.cookies(), sa.saiB, id.Body), hp.Body) {
			err = errors.New("authentication failed: the peer's HASH_I does not match, the pre-shared keys probably differ")
		}
		if err != nil {
			// The peer is told, as strongSwan's responder does, so that a
			// peer that reads it names the mismatch too.
			sa.sendNotifyPlain(local, remote, wire.NotifyAuthFailed)
			sa.authFailed = true
			return err
		}
		// HASH_I checked out: the peer holds the key, and is refused
		// only now if it names another identity than the configured one.
		if err := sa.checkPeerID(id.Body); err != nil {
			sa.sendNotifyPlain(local, remote, wire.NotifyInvalidIDInfo)
			sa.authFailed = true
			return err
		}
		sa.local, sa.remote = local, remote // the initiator may have moved to 4500
		sa.iv = next
		idr := sa.localID().Append(nil)
		hashR := sa.s.Hash.prf(sa.skeyid, sa.gxr, sa.gxi, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, sa.rc), sa.ic), sa.saiB, idr)
		pl, _ := wire.AppendPayloads(nil, []wire.Payload{{Type: wire.PayloadID, Body: idr}, {Type: wire.PayloadHash, Body: hashR}})
		reply, next := seal(sa.encKey, sa.iv, sa.header(wire.ExchangeMain, 0, wire.PayloadID), pl)
		sa.iv, sa.p1iv = next, next
		sa.lastReq, sa.lastReply = bytes.Clone(msg), reply
		sa.send(reply)
		sa.establish()
		if hasNotify(ps, wire.NotifyInitialContact) {
			sa.m.initialContact(sa)
		}
		return nil

	case sa.initiator && sa.state == stMM5 && h.Flags&wire.FlagEncryption != 0:
		_, id, hp, next, err := sa.openAuth(h, body, 6)
		if err == nil && !hmac.Equal(sa.s.Hash.prf(sa.skeyid, sa.gxr, sa.gxi, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, sa.rc), sa.ic), sa.saiB, id.Body), hp.Body) {
			return errors.New("authentication failed: the peer's HASH_R does not match, the pre-shared keys probably differ")
		}
		if err != nil {
			return err
		}
		sa.iv, sa.p1iv = next, next
		if err := sa.checkPeerID(id.Body); err != nil {
			sa.refusePeerID(err)
			return nil
		}
		sa.out = outstanding{}
		sa.establish()
		return nil
	}
	return nil // a late retransmission; ignored
}

// localID is the ID payload this side sends in Main Mode: the
// connection's LocalID, or its address when that is unset. IKEv1 and
// IKEv2 number the identity types ikev2.Identity takes alike (RFC 2407
// §4.6.2.1, RFC 7296 §3.5).
func (sa *isakmpSA) localID() wire.ID {
	id := sa.p.cfg.LocalID
	if id.IsZero() {
		return wire.AddrID(sa.local.Addr())
	}
	// RFC 2407 §4.6.2: during phase 1 the ID port and protocol fields MUST be zero or UDP port 500.
	return wire.ID{Type: uint8(id.Type), Data: id.Data}
}

// checkPeerID checks the body of the peer's Main Mode ID payload, whose
// HASH checked out: its protocol and port, and its identity against the
// connection's RemoteID. Unset, any identity goes, as before RemoteID was
// read: a peer behind a NAT names its own address, not the one it is seen
// from.
func (sa *isakmpSA) checkPeerID(body []byte) error {
	id, err := wire.ParseID(body)
	if err != nil {
		return fmt.Errorf("the peer's identity: %w", err)
	}
	// RFC 2407 §4.6.2: in phase 1 the protocol and port MUST be zero or UDP port 500, else the SA setup MUST be aborted.
	// UDP with port 0 or the NAT-T port (4500, or the one configured) is
	// taken too, as libreswan takes it: peers that floated to port 4500
	// (RFC 3947 §4) send it.
	const udp = 17
	natt := id.Port == ikev2.DefaultNATTPort || id.Port == sa.m.cfg.NATTPort
	ok := id.Protocol == 0 && id.Port == 0 || id.Protocol == udp && (id.Port == 0 || id.Port == 500 || natt)
	if !ok {
		return fmt.Errorf("the peer's ID payload names protocol %d port %d: in phase 1 they must be 0 or UDP port 500 (RFC 2407 §4.6.2)", id.Protocol, id.Port)
	}
	want := sa.p.cfg.RemoteID
	if want.IsZero() {
		return nil
	}
	if got := (ikev2.Identity{Type: v2.IDType(id.Type), Data: id.Data}); !got.Equal(want) {
		return fmt.Errorf("peer identity %v, want %v", got, want)
	}
	return nil
}

// refusePeerID ends our Main Mode, whose message 6 authenticated the
// responder (HASH_R) but whose ID payload checkPeerID refused (err):
// another identity than the connection's RemoteID, or a protocol and
// port phase 1 does not allow. The responder holds its SA established:
// it is told with INVALID-ID-INFORMATION and a Delete of it (strongSwan's
// initiator sends the Delete), encrypted with the SA's keys. The connection tries
// again after ReconnectDelay; the log says so above Debug once per reason.
func (sa *isakmpSA) refusePeerID(err error) {
	m, p := sa.m, sa.p
	sa.sendInfo(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(), Type: wire.NotifyInvalidIDInfo}.Append(nil))
	sa.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{sa.cookies()}}.Append(nil))
	m.stats.refused.Add(1)
	level := slog.LevelWarn
	if p.lastErr == err.Error() {
		level = slog.LevelDebug
	}
	p.lastErr = err.Error()
	m.log.Log(context.Background(), level, "IKEv1 main mode refused: the peer's ID payload", "conn", p.cfg.Name, "err", err)
	m.dropSA(sa)
	p.nextTry = time.Now().Add(p.cfg.ReconnectDelay)
}

// firstContact tells whether sa, our Main Mode, is the first contact with
// its peer, as strongSwan tells when to send INITIAL-CONTACT: the peer
// has no child SA here and no other ISAKMP SA that is established or in
// which it answered (a Main Mode of its own at message 4 or beyond; one
// at message 2 anyone could have started with a spoofed message 1). Any
// SAs the peer still has with us are then stale: this side lost them (it
// restarted, or took the peer for dead) without a Delete reaching the
// peer, which would send with them into the void until its own dead peer
// detection, if any, gave up on them.
func (sa *isakmpSA) firstContact() bool {
	if len(sa.p.children) > 0 {
		return false
	}
	return !slices.ContainsFunc(sa.m.sasOf(sa.p), func(o *isakmpSA) bool {
		return o != sa && (o.state == stEstablished || o.state == stMM4)
	})
}

// openAuth decrypts main mode message n (5 or 6) and finds its ID and
// HASH payloads. Keys derived from another pre-shared key (RFC 2409 §5)
// decrypt it to garbage.
func (sa *isakmpSA) openAuth(h wire.Header, body []byte, n int) (ps []wire.Payload, id, hash wire.Payload, next []byte, err error) {
	pt, next, err := open(sa.encKey, sa.iv, body)
	if err == nil {
		ps, err = wire.ParsePayloads(h.Next, pt)
	}
	id, ok1 := wire.Find(ps, wire.PayloadID)
	hash, ok2 := wire.Find(ps, wire.PayloadHash)
	if err == nil && (!ok1 || !ok2) {
		err = errors.New("no ID and HASH")
	}
	if err != nil {
		return nil, id, hash, nil, fmt.Errorf("authentication failed: main mode message %d does not decrypt to an ID and a HASH (%v), the pre-shared keys probably differ", n, err)
	}
	return ps, id, hash, next, nil
}

func hasVendorID(ps []wire.Payload, vid []byte) bool {
	return slices.ContainsFunc(ps, func(p wire.Payload) bool { return p.Type == wire.PayloadVendorID && bytes.Equal(p.Body, vid) })
}

func hasNotify(ps []wire.Payload, typ uint16) bool {
	for _, p := range ps {
		if p.Type == wire.PayloadNotify {
			if n, err := wire.ParseNotify(p.Body); err == nil && n.Type == typ {
				return true
			}
		}
	}
	return false
}

// establish completes phase 1; an older SA with the peer is deleted.
func (sa *isakmpSA) establish() {
	sa.state, sa.established, sa.lastIn = stEstablished, time.Now(), time.Now()
	// A ResponderOnly connection leaves the renewal to the peer, whose
	// Main Modes made the connection (one in the InitiatorOnly mode
	// ignores ours), and renews only when the peer has not by half the
	// margin before the end: its lifetime may be longer than this side's,
	// which answered its transform as it came (respondMM1).
	margin := rekeyMargin(sa.p.cfg, sa.s.Life)
	if sa.p.cfg.Mode == ikev2.ModeResponderOnly {
		margin /= 2
	}
	sa.expires = sa.established.Add(sa.s.Life - margin)
	sa.dh = nil
	sa.p.lastErr, sa.p.idle = "", false
	sa.p.mm1Answered()
	// RFC 3706 §7: the R-U-THEREs' sequence numbers start at a random
	// one, here from 1 to 2^31-1 (as strongSwan's and libreswan's): they
	// count up a long way before they wrap.
	sa.dpdSeq = uint32(randUint64() % (1<<31 - 1))
	// A new SA with a peer that has one (a phase 1 renewal, by either
	// side): the children keep their own rekey times, and move to it as
	// their rekeys go under it (RFC 2409 §5.5: a phase 2 SA has its own
	// lifetime; strongSwan moves them over as they are).
	// The old SA goes when none is left on it, or at the end of its
	// lifetime (Manager.timers).
	sa.m.dropSurplus(sa.p)
	sa.m.log.Info("IKEv1 SA established", "conn", sa.p.cfg.Name, "initiator", sa.initiator, "proposal", sa.s.String(), "local", sa.local, "remote", sa.remote, "encap", sa.encap(), "peer_dpd", sa.peerDPD, "peer_natt", sa.peerNATT)
	if !sa.peerNATT && sa.peerNATTDraft != "" {
		// Once per minute at most, per connection: a peer that renews
		// often would repeat it.
		sa.p.natDraft.Count(1)
		if n, due := sa.p.natDraft.Due(); due {
			sa.m.log.Warn("IKEv1 peer speaks only a draft of NAT traversal, not RFC 3947, the one vnetgw speaks: no NAT traversal with it (IKE stays on its port, ESP goes as IP protocol 50, which a NAT between the two does not pass)",
				"conn", sa.p.cfg.Name, "remote", sa.remote, "draft", sa.peerNATTDraft, "count", n)
		}
	}
	if sa.p.cfg.ForceEncap && !sa.peerNATT {
		sa.m.log.Warn("IKEv1 peer without NAT traversal (no RFC 3947 vendor ID): its ESP goes as IP protocol 50, not in UDP as configured (ForceEncap)", "conn", sa.p.cfg.Name, "remote", sa.remote)
	}
}

// dropSurplus drops p's established ISAKMP SAs beyond
// maxEstablishedPerPeer, as at the end of their lifetimes: without a
// Delete, which a peer might take for one of the children on them too
// (strongSwan's IKEv1 destroys an IKE_SA's children with it); the
// children move to the newest (Manager.timers). The newest two (the
// newest and the one it replaced) stay; of the others, those without a
// quick mode in flight (inFlight) go first, oldest first: a dropped SA
// takes its quick modes with it, so that a peer's waiting for HASH(3)
// would never install its child here while the peer has it.
func (m *Manager) dropSurplus(p *peer) {
	var est []*isakmpSA
	for _, o := range m.sasOf(p) {
		if o.state == stEstablished {
			est = append(est, o)
		}
	}
	surplus := len(est) - maxEstablishedPerPeer
	if surplus <= 0 {
		return
	}
	slices.SortFunc(est, func(a, b *isakmpSA) int { return a.established.Compare(b.established) })
	older := est[:len(est)-2]
	slices.SortStableFunc(older, func(a, b *isakmpSA) int { return cmp.Compare(min(a.inFlight(), 1), min(b.inFlight(), 1)) })
	for _, o := range older[:surplus] {
		lost := o.inFlight()
		m.dropSA(o)
		m.log.Info("IKEv1 SA dropped: the connection has more established ISAKMP SAs than it keeps",
			"conn", p.cfg.Name, "max", maxEstablishedPerPeer, "quick_modes_in_flight", lost)
	}
}

// initialContact drops the children and SAs a restarted peer forgot:
// those from before sa, the first SA of the peer's since (RFC 2407
// §4.6.3.3), which began with sa's Main Mode. What was established or
// begun since is the peer's too and stays: a child made on sa (the
// notification may come in an informational exchange of its own after
// a quick mode on sa), and an SA that completed meanwhile, with its
// children (both sides started a Main Mode at once, and sa's message 5
// with the notification was lost and came again after the other's was
// done: the peer holds that SA, and may carry the connection on it).
func (m *Manager) initialContact(sa *isakmpSA) {
	// RFC 2407 §4.6.3.3: the SAs the peer had before this first one are the stale ones.
	stale := func(o *isakmpSA) bool {
		if o.state == stEstablished {
			return o.established.Before(sa.created)
		}
		return o.created.Before(sa.created)
	}
	for _, o := range m.sasOf(sa.p) {
		if o != sa && stale(o) {
			m.dropSA(o)
		}
	}
	sa.p.children = slices.DeleteFunc(sa.p.children, func(c *child) bool {
		if !c.installed.Before(sa.created) {
			return false
		}
		m.removeChild(sa.p, c)
		return true
	})
}

func (sa *isakmpSA) header(exchange uint8, mid uint32, first wire.PayloadType) wire.Header {
	return wire.Header{ICookie: sa.ic, RCookie: sa.rc, Next: first, Exchange: exchange, MessageID: mid}
}

// natD returns our NAT-D payloads (RFC 3947 §3.2): the hash of the peer's
// address and port, then of ours. With ForceEncap, ours is made not to
// match, so that both sides put ESP in UDP. A peer that did not send the
// RFC 3947 vendor ID gets none: it may not know the payload type.
func (sa *isakmpSA) natD() []wire.Payload {
	// RFC 3947 §3.1: the vendor ID MUST be sent and received by both sides for NAT traversal to go on.
	if !sa.peerNATT {
		return nil
	}
	ck := sa.cookies()
	port := func(a netip.AddrPort) []byte { return binary.BigEndian.AppendUint16(nil, a.Port()) }
	remote := sa.s.Hash.sum(ck, sa.remote.Addr().AsSlice(), port(sa.remote))
	local := sa.s.Hash.sum(ck, sa.local.Addr().AsSlice(), port(sa.local))
	if sa.p.cfg.ForceEncap {
		local = sa.s.Hash.sum(ck, []byte("vnetgw: ESP in UDP"))
	}
	return []wire.Payload{{Type: wire.PayloadNATD, Body: remote}, {Type: wire.PayloadNATD, Body: local}}
}

// detectNAT compares the peer's NAT-D payloads with the addresses seen.
// Without NAT traversal (the peer sent no RFC 3947 vendor ID) there is
// none: IKE stays on its port and ESP is not put in UDP, which such a
// peer does not read, whatever its NAT-D payloads or ForceEncap say.
func (sa *isakmpSA) detectNAT(ps []wire.Payload) {
	if !sa.peerNATT {
		sa.natLocal, sa.natRemote, sa.behindNAT = false, false, false
		return
	}
	var ds [][]byte
	for _, p := range ps {
		if p.Type == wire.PayloadNATD {
			ds = append(ds, p.Body)
		}
	}
	if len(ds) < 2 {
		sa.natLocal = sa.p.cfg.ForceEncap
		return
	}
	ck := sa.cookies()
	port := func(a netip.AddrPort) []byte { return binary.BigEndian.AppendUint16(nil, a.Port()) }
	me := sa.s.Hash.sum(ck, sa.local.Addr().AsSlice(), port(sa.local))
	them := sa.s.Hash.sum(ck, sa.remote.Addr().AsSlice(), port(sa.remote))
	sa.behindNAT = !bytes.Equal(ds[0], me)
	sa.natLocal = sa.behindNAT || sa.p.cfg.ForceEncap
	sa.natRemote = true
	for _, d := range ds[1:] {
		if bytes.Equal(d, them) {
			sa.natRemote = false
		}
	}
}

// deriveKeys computes SKEYID and its children (RFC 2409 §5) and the
// first phase 1 IV (Appendix B).
func (sa *isakmpSA) deriveKeys() error {
	peerPub := sa.gxr
	if !sa.initiator {
		peerPub = sa.gxi
	}
	gxy, err := sa.dh.SharedSecret(peerPub)
	if err != nil {
		return fmt.Errorf("key exchange: %w", err)
	}
	h, ck := sa.s.Hash, sa.cookies()
	sa.skeyid = h.prf(sa.p.cfg.PSK, sa.ni, sa.nr)
	sa.skeyidD = h.prf(sa.skeyid, gxy, ck, []byte{0})
	sa.skeyidA = h.prf(sa.skeyid, sa.skeyidD, gxy, ck, []byte{1})
	skeyidE := h.prf(sa.skeyid, sa.skeyidA, gxy, ck, []byte{2})
	sa.encKey = h.expand(skeyidE, sa.s.KeyLen)
	sa.iv = h.sum(sa.gxi, sa.gxr)[:blockSize]
	return nil
}

// timers retransmits, checks liveness and drops stale exchanges.
// replaced tells that a newer established ISAKMP SA of the peer's took
// sa's place (Manager.newest).
func (sa *isakmpSA) timers(now time.Time, replaced bool) {
	cfg := sa.p.cfg
	if sa.state != stEstablished && now.Sub(sa.created) > halfOpenTimeout && (!sa.initiator || sa.out.msg == nil) {
		sa.m.dropSA(sa)
		return
	}
	if o := &sa.out; o.msg != nil && now.Sub(o.sentAt) > o.timeout {
		if o.tries >= cfg.RetransmitTries {
			// The Main Mode message unanswered is 1, 3 or 5, by state.
			why := fmt.Sprintf("the peer does not answer main mode message %d", map[int]int{stMM1: 1, stMM3: 3, stMM5: 5}[sa.state])
			switch {
			case sa.told != "" && sa.toldIn == sa.state:
				why = sa.told
			case sa.state == stMM5:
				// A responder whose key differs cannot read message 5:
				// vnetgw's refusal (AUTHENTICATION-FAILED) may be lost,
				// and a notification encrypted with the peer's keys is
				// not read here.
				why += ": pre-shared key mismatch?"
			}
			sa.dead(why)
			return
		}
		o.tries++
		o.sentAt, o.timeout = now, backoff(o.timeout)
		sa.m.stats.retransmits.Add(1)
		sa.send(o.msg)
		if sa.initiator && sa.state == stMM1 {
			sa.mm1Sent(now)
		}
	}
	if sa.dpdAck.req != nil && now.Sub(sa.dpdAck.at) > halfOpenTimeout {
		sa.dpdAck = answer{}
	}
	for mid, a := range sa.answered {
		// The answer to a quick mode message 1 of the peer's stays while
		// the exchange waits for HASH(3): message 1 sent again is no
		// HASH(3), and would not open with its IV. Any answer stays while
		// the peer may send its message again (HASH(3) lost, say: the
		// peer has no child until it gets one).
		if _, open := sa.qms[mid]; !open && now.Sub(a.at) > answerLife {
			delete(sa.answered, mid)
		}
	}
	for mid, q := range sa.qms {
		if q.out.msg != nil && now.Sub(q.out.sentAt) > q.out.timeout {
			if q.out.tries >= cfg.RetransmitTries {
				sa.endQuick(mid, q)
				// An error the peer told of meanwhile stays the reason.
				sa.p.lastErr = fmt.Sprintf("quick mode for %v: the peer does not answer", q.pair)
				if q.told != "" {
					sa.p.lastErr += ", and sent notification " + q.told
				}
				continue
			}
			q.out.tries++
			q.out.sentAt, q.out.timeout = now, backoff(q.out.timeout)
			sa.m.stats.retransmits.Add(1)
			sa.send(q.out.msg)
		} else if q.out.msg == nil && now.Sub(q.started) > halfOpenTimeout {
			sa.endQuick(mid, q)
		}
	}
	// RFC 3706 §5.1: DPD only with a peer that sent its vendor ID; one
	// that did not would leave R-U-THERE unanswered, and be taken for dead.
	if sa.state != stEstablished || cfg.DPDInterval <= 0 || !sa.peerDPD {
		return
	}
	// Only on the peer's newest SA: a replaced one lingers for the
	// children still on it, and a peer that quietly let it go (strongSwan
	// sends no DPD on a rekeyed IKEv1 SA) would leave R-U-THERE on it
	// unanswered, though alive on the new one.
	if replaced {
		sa.dpd = outstanding{}
		return
	}
	// RFC 3706 §5.5: R-U-THERE after silence, again with a new sequence
	// number while no ACK comes, and the peer is dead after the tries.
	d := &sa.dpd
	switch {
	case d.msg == nil && now.Sub(sa.lastIn) > cfg.DPDInterval:
		// RFC 3706 §5.5: ESP from the peer is traffic as well; only when
		// that too was silent for the interval is R-U-THERE sent.
		if esp := ikev2.LastInbound(sa.m.cfg.Dataplane, sa.p.cfg.Name); esp.After(sa.lastIn) {
			sa.lastIn = esp
			if now.Sub(sa.lastIn) <= cfg.DPDInterval {
				return
			}
		}
		sa.m.stats.livenessChecks.Add(1)
		sa.sendDPD()
		d.set([]byte{1}, cfg.RetransmitTimeout)
	case d.msg != nil && now.Sub(d.sentAt) > d.timeout:
		if d.tries >= cfg.RetransmitTries {
			sa.dead("dead peer detection: no answer to R-U-THERE")
			return
		}
		d.tries++
		d.sentAt, d.timeout = now, backoff(d.timeout)
		// A request sent again for want of an answer, as IKEv2's
		// INFORMATIONAL sent again counts; the check counted once above.
		sa.m.stats.retransmits.Add(1)
		sa.sendDPD()
	}
}

func (sa *isakmpSA) sendDPD() {
	sa.dpdSeq++
	if sa.dpd.msg == nil {
		sa.dpdFirst = sa.dpdSeq // a new round; retries follow it
	}
	sa.sendInfo(wire.PayloadNotify, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPI: sa.cookies(),
		Type: wire.NotifyRUThere, Data: binary.BigEndian.AppendUint32(nil, sa.dpdSeq)}.Append(nil))
}

// dead ends the SA, those it replaced and the peer's children: the peer
// is gone. A replaced SA (a newer established one of the peer's took its
// place) goes alone: the newer one carries the connection, and the
// children still on the old one move to it by their rekeys. So does a
// Main Mode of ours that failed while an SA is established: the peer
// answers there, and it is a renewal that failed.
func (sa *isakmpSA) dead(why string) {
	p := sa.p
	if sa.state == stEstablished && sa.m.newest(p) != sa {
		sa.m.log.Info("IKEv1 replaced SA lost", "conn", p.cfg.Name, "why", why)
		sa.m.dropSA(sa)
		return
	}
	if est := sa.m.newest(p); sa.state != stEstablished && est != nil {
		// A Main Mode of ours that failed beside an established SA (a
		// renewal, say): that SA still carries the connection, and its
		// own DPD tells whether the peer is alive. It is tried again
		// after ReconnectDelay while that SA lasts.
		sa.m.log.Warn("IKEv1 phase 1 renewal failed; the current ISAKMP SA carries the connection until it ends", "conn", p.cfg.Name, "why", why,
			"sa_ends_in", time.Until(est.established.Add(est.s.Life)).Round(time.Second))
		p.lastErr = why
		sa.m.dropSA(sa)
		p.nextTry = time.Now().Add(p.cfg.ReconnectDelay)
		return
	}
	sa.m.log.Warn("IKEv1 peer dead", "conn", p.cfg.Name, "why", why)
	p.lastErr = why
	wasEstablished := sa.state == stEstablished
	sa.m.dropSA(sa)
	if wasEstablished {
		// RFC 3706 §5.5: the peer is dead, not this SA alone; the ones
		// this one replaced, which check nothing, go with it.
		for _, o := range sa.m.sasOf(p) {
			if o.state == stEstablished {
				sa.m.dropSA(o)
			}
		}
	}
	if wasEstablished || !sa.m.up(p) {
		for _, c := range p.children {
			sa.m.removeChild(p, c)
		}
		p.children = nil
	}
	p.nextTry = time.Now().Add(p.cfg.ReconnectDelay)
}

func (sa *isakmpSA) status() ikev2.IKESAStatus {
	names := map[int]string{stMM1: "init-sent", stMM2: "half-open", stMM3: "init-sent", stMM4: "half-open", stMM5: "auth-sent", stEstablished: "established", stDead: "deleting"}
	return ikev2.IKESAStatus{SPIi: sa.ic, SPIr: sa.rc, Initiator: sa.initiator, State: names[sa.state], Proposal: sa.s.String() + " (IKEv1)",
		Local: sa.local, Remote: sa.remote, NATLocal: sa.natLocal, NATRemote: sa.natRemote,
		BehindNAT: sa.behindNAT, Established: sa.established}
}
