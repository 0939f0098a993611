package ikev2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/radius"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// saState is the state of an IKE SA.
type saState uint8

const (
	stateInitSent    saState = iota + 1 // initiator: IKE_SA_INIT request sent
	stateAuthSent                       // initiator: IKE_AUTH request sent
	stateHalfOpen                       // responder: IKE_SA_INIT answered
	stateEstablished                    // authenticated
	stateRekeyed                        // replaced by a rekey, waiting for a Delete
	stateDeleting                       // our Delete is outstanding
	stateDead                           // to be removed by the loop
)

func (s saState) String() string {
	switch s {
	case stateInitSent:
		return "init-sent"
	case stateAuthSent:
		return "auth-sent"
	case stateHalfOpen:
		return "half-open"
	case stateEstablished:
		return "established"
	case stateRekeyed:
		return "rekeyed"
	case stateDeleting:
		return "deleting"
	case stateDead:
		return "dead"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// halfOpenTimeout is how long a responder waits for IKE_AUTH.
const halfOpenTimeout = 30 * time.Second

// fragmentWait is how long the fragments of a message that is not
// complete are held (reassembly.since): a peer that retransmits the
// message sends all its fragments again, and reassembly starts over.
const fragmentWait = 30 * time.Second

// reassembly is the reassembly of the peer's fragmented messages of one
// kind, requests or responses (RFC 7383 §2.6), and when its first
// fragment held came.
type reassembly struct {
	wire.Reassembler
	since time.Time
}

// expire discards the fragments held once they have waited fragmentWait
// for the rest; else they stayed until the next fragmented message, for
// as long as the SA lived.
func (r *reassembly) expire(now time.Time) {
	if r.Held() > 0 && !now.Before(r.since.Add(fragmentWait)) {
		r.Reset()
	}
}

// shutdownWait is how long the Delete of an IKE SA being shut down waits
// for the response to a request of ours still outstanding (RFC 7296 §2.3)
// before the SA ends without it.
const shutdownWait = 2 * time.Second

// retryDelay is how long a rekey that failed for a transient reason
// (TEMPORARY_FAILURE, RFC 7296 §2.25) waits before it is tried again.
const retryDelay = 10 * time.Second

// childRetryDelay is how long a new child SA the peer refused for another
// reason (its proposals, its selectors) waits before it is asked again.
const childRetryDelay = time.Minute

// ikeSA is one IKE SA. It belongs to its conn's loop.
type ikeSA struct {
	c   *conn
	log *slog.Logger

	spiI, spiR uint64
	// initiator tells whether this side is the original initiator: the
	// one that sent IKE_SA_INIT or, for an SA made by a rekey, the rekey
	// request (RFC 7296 §2.18).
	initiator bool
	state     saState
	suite     suite.Suite
	keys      suite.IKEKeys
	out, in   suite.Cipher // nil until IKE_SA_INIT completes

	local, remote       netip.AddrPort
	natLocal, natRemote bool
	// behindNAT: the peer's hash showed a real NAT in front of us (natLocal
	// is also set by ForceEncap); only then are NAT-keepalives needed.
	behindNAT bool
	fragments bool // both sides announced RFC 7383 support
	// peerSettles: the peer's IKE_SA_INIT announced that it settles IKE
	// SAs both ends initiated at once (duplicateVendorID).
	peerSettles bool
	// retired: the SA duplicates one the peer initiated at the same
	// moment, and is being deleted (retire).
	retired bool
	// line, once set, stands for the IKE SA this one descends from by
	// rekeys (origin).
	line *lineage
	// peerRetires: the peer deletes this SA, the redundant one of two
	// both ends initiated at once (settleDuplicates).
	peerRetires bool
	// drained are child SA pairs of a retired SA, or of one the peer
	// retires, that no longer send but still open what the peer sent with
	// them, until the SA ends and drainWait after (conn.linger).
	drained []*child
	// unconfirmed are the child SA pairs this side answered in
	// CREATE_CHILD_SA under this SA that the peer has not yet shown it
	// installed (child.unconfirmed).
	unconfirmed []unconfirmedChild
	// keptSA, while set, is the peer's SA a retired one gives way to:
	// the Delete of the retired SA waits until keptSA has a child SA for
	// each of its selectors (settle).
	keptSA *ikeSA
	// selectors are the configured children (by index) a retired SA had
	// or was creating when it was retired.
	selectors []int
	// peerHolds: an authenticated message came from the peer after its
	// IKE_AUTH request, so the peer has the SA established. A responder
	// establishes the SA when it sends its IKE_AUTH response, which may
	// be lost.
	peerHolds bool
	// created is when the SA was started: our IKE_SA_INIT request sent,
	// the peer's answered, or the rekey made.
	created time.Time
	// peerHashes are the hashes the peer signs with (RFC 7427 §4), from
	// its IKE_SA_INIT; a client's AUTH is signed with one of them.
	peerHashes []suite.SignatureHash
	// eap is a point-to-site client's EAP authentication in progress.
	eap *clientEAP
	// mobike: both sides announced MOBIKE (RFC 4555) in IKE_AUTH.
	mobike bool
	// reqLocal and reqRemote are the endpoints of the last authenticated
	// message.
	reqLocal, reqRemote netip.AddrPort

	// IKE_SA_INIT.
	ni, nr            []byte
	dh                *suite.PrivateKey
	group             wire.DHGroup // initiator: group of our KE payload
	cookie            []byte       // initiator: the responder's COOKIE
	initTries         int          // initiator: COOKIE and INVALID_KE retries
	initReq, initResp []byte       // the IKE_SA_INIT messages, for AUTH
	// initRefused (initiator) says why the first response to our
	// IKE_SA_INIT request that ends the exchange does; it ends it once
	// no acceptable response has followed (handleInitResponse).
	initRefused string

	// Requests we send: a window of one (RFC 7296 §2.3).
	nextID uint32
	pend   *outstanding
	queue  []task
	// pendingChild and pendingSPI are resources of the outstanding
	// request, released if the SA dies first.
	pendingChild *child
	pendingSPI   uint64
	// childRetry: the configured children (by index) whose creation
	// failed, and when to try again.
	childRetry map[int]time.Time

	// Requests we answer.
	peerID              uint32   // the next message ID expected
	lastResp            [][]byte // the response to peerID-1, for retransmissions
	reqFrags, respFrags reassembly
	// killAfterResponse ends the SA once the response being built is
	// sent (a Delete of the IKE SA, a failed authentication).
	killAfterResponse bool
	// killUnanswered ends the SA instead of answering the request being
	// processed (a client's EAP no RADIUS server had a verdict on).
	killUnanswered bool

	children               []*child
	established, lastRekey time.Time
	lastRecv               time.Time
	// lastESP is when ESP of the connection's tunnel last opened, as the
	// data plane told when DPD was next due (LastInbound): traffic from
	// the peer proves it alive as well as an IKE message does.
	lastESP           time.Time
	rekeyAt, expireAt time.Time
	halfOpenUntil     time.Time
	countedHalfOpen   bool
	// initKey (responder) is where the Manager keeps the IKE_SA_INIT
	// request and response from when the SA is half open until it ends
	// (rememberInit).
	initKey initKey

	// IKE SA rekeying (RFC 7296 §2.18, §2.8.2).
	rekey       *ikeRekey // our rekey request, while outstanding
	peerRekeyed *ikeSA    // the SA the peer made by rekeying this one during ours
	peerNonces  [2][]byte // the nonces of the peer's rekey exchange
	successor   *ikeSA    // the SA this one was rekeyed into
	// deletedByPeer records a Delete of this SA by the peer; one that came
	// while our rekey of it, crossed by the peer's, was outstanding ends
	// the SA when the rekey's response does.
	deletedByPeer bool
	// closeBy is set while the SA is shut down and its Delete waits for
	// the response to our outstanding request (shutdown): the SA ends
	// then, without a Delete if none came.
	closeBy time.Time
}

// outstanding is our request waiting for its response.
type outstanding struct {
	id         uint32
	exchange   wire.ExchangeType
	datagrams  [][]byte
	tries      int
	timeout    time.Duration
	retryAt    time.Time
	onResponse func([]wire.Payload)
	// what names what the request asks, in words ("the rekey of the IKE
	// SA"), for the status when it goes unanswered.
	what string
	// deletesIKE: the request is the IKE SA's own Delete.
	deletesIKE bool
	// deletesChild is the pair the request is a Delete of, if any.
	deletesChild *child
}

// taskKind is a request this side starts when the window is free.
type taskKind uint8

const (
	taskCreateChild taskKind = iota + 1
	taskRekeyChild
	taskDeleteChild
	taskRekeyIKE
	taskDeleteIKE
	taskDPD
)

// task is a queued request.
type task struct {
	kind  taskKind
	child *child       // taskRekeyChild, taskDeleteChild
	index int          // taskCreateChild: the child configuration
	group wire.DHGroup // the KE group asked for by INVALID_KE_PAYLOAD
	tries int          // INVALID_KE_PAYLOAD retries so far
}

func newSA(c *conn, initiator bool) *ikeSA {
	now := time.Now()
	return &ikeSA{c: c, log: c.log, initiator: initiator, lastRecv: now, created: now}
}

// ourSPI returns the SPI this side chose.
func (sa *ikeSA) ourSPI() uint64 {
	if sa.initiator {
		return sa.spiI
	}
	return sa.spiR
}

// logAttrs returns the attribute that names sa in its log lines.
func (sa *ikeSA) logAttrs() slog.Attr { return sa.logAs("ike_sa") }

// logAs returns an attribute with key that names sa by its SPIs (RFC 7296
// §2.6), formatted only when a line is written: most lines of a handshake
// are debug lines that are not.
func (sa *ikeSA) logAs(key string) slog.Attr { return slog.Any(key, saSPIs{sa}) }

// saSPIs is an IKE SA in a log line; it holds only the pointer, so that
// making the attribute allocates nothing.
type saSPIs struct{ sa *ikeSA }

// LogValue implements slog.LogValuer.
func (s saSPIs) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf("%016x_i %016x_r", s.sa.spiI, s.sa.spiR))
}

// cfg returns the peer's configuration.
func (sa *ikeSA) cfg() *PeerConfig { return &sa.c.cfg }

// deadlines reports every time something of sa is due.
func (sa *ikeSA) deadlines(consider func(time.Time)) {
	if sa.pend != nil {
		consider(sa.pend.retryAt)
	}
	consider(sa.closeBy)
	switch sa.state {
	case stateHalfOpen:
		consider(sa.halfOpenUntil)
	case stateRekeyed:
		consider(sa.expireAt)
	case stateEstablished:
		if d := sa.cfg().DPDInterval; d > 0 && sa.pend == nil {
			consider(sa.alive().Add(d))
		}
		consider(sa.rekeyAt)
		consider(sa.expireAt)
		if st := sa.c.client; st != nil {
			consider(st.childBy)
			consider(st.endBy)
			consider(sa.idleUntil(st))
			if st.acct != nil && st.interim > 0 {
				consider(st.nextInterim)
			}
		}
		for _, ch := range sa.children {
			consider(ch.rekeyAt)
			consider(ch.expireAt)
		}
		for _, at := range sa.childRetry {
			consider(at)
		}
	}
}

// alive is when the peer last showed it is alive: its last IKE message, or
// ESP that opened since, as last looked up.
func (sa *ikeSA) alive() time.Time {
	if sa.lastESP.After(sa.lastRecv) {
		return sa.lastESP
	}
	return sa.lastRecv
}

// tick runs what is due at now.
func (sa *ikeSA) tick(now time.Time) {
	if !sa.closeBy.IsZero() && !now.Before(sa.closeBy) {
		sa.kill("shut down; no response to the outstanding request, so no Delete sent")
		return
	}
	if p := sa.pend; p != nil && !now.Before(p.retryAt) {
		if sa.deletedByPeer {
			// The peer deleted this SA; a request it has not answered by
			// now never will be.
			sa.kill("deleted by peer")
			return
		}
		if sa.initRefused != "" {
			sa.failInit(sa.initRefused) // no other answer came
			return
		}
		if p.tries >= sa.cfg().RetransmitTries {
			sa.c.lastError = fmt.Sprintf("the peer did not answer %s for %v (message ID %d)", p.what, readable(sa.giveUpAfter()), p.id)
			sa.log.Warn("peer not responding, deleting IKE SA", sa.logAttrs(),
				"exchange", p.exchange, "tries", p.tries+1)
			sa.kill("peer dead")
			return
		}
		p.tries++
		p.timeout = min(2*p.timeout, MaxRetransmitTimeout) // RFC 7296 §2.4: exponential backoff, capped
		p.retryAt = now.Add(p.timeout)
		sa.c.m.stats.retransmits.Add(1)
		sa.log.Debug("retransmitting", sa.logAttrs(), "exchange", p.exchange, "msg_id", p.id, "try", p.tries)
		sa.transmit(p.datagrams)
		switch {
		case p.exchange == wire.IKESAInit:
			sa.initSent(now)
		case p.exchange == wire.IKEAuth && sa.state != stateEstablished && sa.c.established() == nil:
			sa.c.lastError = authUnanswered(sa.remote, p.tries+1, p.datagrams)
		}
	}
	sa.reqFrags.expire(now)
	sa.respFrags.expire(now)
	switch sa.state {
	case stateHalfOpen:
		if !now.Before(sa.halfOpenUntil) {
			sa.kill("half-open timeout")
			return
		}
	case stateRekeyed:
		if !sa.expireAt.IsZero() && !now.Before(sa.expireAt) && sa.pend == nil {
			// The peer never deleted the SA it replaced: we do.
			sa.shutdown(now, "replaced")
			return
		}
	case stateEstablished:
		if st := sa.c.client; st != nil && !st.childBy.IsZero() && !now.Before(st.childBy) {
			st.childBy = time.Time{}
			sa.c.lastError = "no child SA for " + clientChildWait.String()
			sa.log.Info("point-to-site client without a child SA; deleting its IKE SA", sa.logAttrs(), "wait", clientChildWait)
			sa.shutdown(now, "no child SA")
			return
		}
		if st := sa.c.client; st != nil {
			why, cause := "", radius.Cause(0)
			if !st.endBy.IsZero() && !now.Before(st.endBy) {
				why, cause = radius.SessionOver, radius.CauseSessionTimeout
			} else if at := sa.idleUntil(st); !at.IsZero() && !now.Before(at) {
				why, cause = radius.Idle, radius.CauseIdleTimeout
			}
			if why != "" {
				st.cause.Store(uint32(cause))
				st.endBy, st.idle = time.Time{}, 0
				sa.c.lastError = why
				sa.log.Info("point-to-site client disconnected: "+why, sa.logAttrs())
				sa.shutdown(now, "session limit")
				return
			}
			if st.acct != nil && st.interim > 0 && !now.Before(st.nextInterim) {
				sa.c.m.acct.Interim(st.acct, sa.c.usage())
				st.nextInterim = now.Add(st.interim)
			}
		}
		if d := sa.cfg().DPDInterval; d > 0 && sa.pend == nil && len(sa.queue) == 0 && !now.Before(sa.alive().Add(d)) {
			// RFC 7296 §2.4: liveness is to be checked when only
			// outgoing traffic was seen; ESP from the peer in the
			// meantime puts the check off.
			sa.lastESP = LastInbound(sa.c.m.cfg.Dataplane, sa.c.name)
			if !now.Before(sa.alive().Add(d)) {
				sa.c.m.stats.livenessChecks.Add(1)
				sa.enqueue(task{kind: taskDPD})
			}
		}
		if !sa.expireAt.IsZero() && !now.Before(sa.expireAt) {
			sa.expireAt = time.Time{}
			sa.log.Info("IKE SA lifetime expired", sa.logAttrs())
			sa.shutdown(now, "lifetime expired")
			return
		}
		if !sa.rekeyAt.IsZero() && !now.Before(sa.rekeyAt) {
			sa.rekeyAt = time.Time{}
			sa.enqueue(task{kind: taskRekeyIKE})
		}
		for _, ch := range slices.Clone(sa.children) {
			if !ch.expireAt.IsZero() && !now.Before(ch.expireAt) {
				if ch.state == childRekeyed {
					ch.expireAt = time.Time{}
					sa.log.Info("replaced child SA not deleted by peer", sa.logAttrs(), "spi_in", spiString(ch.inSPI))
					sa.removeChild(ch)
					sa.enqueue(task{kind: taskDeleteChild, child: ch})
					continue
				}
				sa.log.Info("child SA lifetime expired", sa.logAttrs(), "spi_in", spiString(ch.inSPI))
				sa.expireChild(ch)
				continue
			}
			if !ch.rekeyAt.IsZero() && !now.Before(ch.rekeyAt) {
				ch.rekeyAt = time.Time{}
				sa.queueRekeyChild(ch)
			}
		}
		for i, at := range sa.childRetry {
			if now.Before(at) {
				continue
			}
			delete(sa.childRetry, i)
			// Unless the peer made it meanwhile.
			if !slices.ContainsFunc(sa.children, func(c *child) bool { return c.cfgIndex == i }) {
				sa.queueCreateChild(i)
			}
		}
	}
	sa.kick()
}

// expireChild removes ch, which reached a hard lifetime, tells the peer
// and, unless a rekey replaced it, asks for a new pair in its place.
func (sa *ikeSA) expireChild(ch *child) {
	ch.expireAt = time.Time{}
	if ch.live() {
		sa.c.lastError = "child SA expired: rekey failed"
	}
	// RFC 4301 §4.4.2.1: an SA at the end of its lifetime is replaced or terminated.
	sa.removeChild(ch)
	sa.enqueue(task{kind: taskDeleteChild, child: ch})
	if sa.cfg().Mode.initiates() {
		sa.queueCreateChild(ch.cfgIndex) // none if a rekey replaced it (startCreateChild)
	}
}

// retryChild tries again, after wait, to create the configured child i
// whose creation failed: nothing else would (a route-based tunnel has no
// traffic to ask for it), and the IKE SA would stay up without it.
func (sa *ikeSA) retryChild(i int, wait time.Duration) {
	if sa.childRetry == nil {
		sa.childRetry = map[int]time.Time{}
	}
	sa.childRetry[i] = time.Now().Add(wait)
}

// giveUpAfter returns how long a request is retransmitted before the peer
// is declared dead (RFC 7296 §2.4): the waits after the first send and
// after each retransmission, doubling up to MaxRetransmitTimeout as tick
// has them.
func (sa *ikeSA) giveUpAfter() time.Duration {
	cfg := sa.cfg()
	var total time.Duration
	for wait, i := cfg.RetransmitTimeout, 0; i <= cfg.RetransmitTries; i++ {
		total += wait
		wait = min(2*wait, MaxRetransmitTimeout)
	}
	return total
}

// readable rounds d for a status reason that a person reads: to the
// second from 10 s, to a tenth of a second from 1 s, else to the
// millisecond (retransmission waits derived from a DPD timeout summed to
// "33.749999997s").
func readable(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// reschedule recomputes the lifetimes after a configuration change. A
// lifetime shortened below an SA's age has it rekeyed now, not ended:
// it expires no sooner than its rekey may take, the peer declared dead
// first (RFC 4301 §4.4.2.1: an SA at the end of its lifetime is
// replaced), unless it was to expire sooner already. A child whose SAs
// were installed with higher byte or packet limits than ChildLimits now
// has is rekeyed now too: an SA's limits are fixed in the data path, and
// the new pair has the new ones.
func (sa *ikeSA) reschedule() {
	if sa.state != stateEstablished {
		return
	}
	grace := time.Now().Add(sa.giveUpAfter())
	kept := func(old, now time.Time) time.Time {
		switch {
		case !now.Before(old) || !now.Before(grace):
			return now
		case old.Before(grace):
			return old
		}
		return grace
	}
	old := sa.expireAt
	sa.scheduleRekey(sa.established)
	sa.expireAt = kept(old, sa.expireAt)
	for _, ch := range sa.children {
		if ch.state == childActive {
			old := ch.expireAt
			sa.scheduleChild(ch, ch.installed)
			ch.expireAt = kept(old, ch.expireAt)
			if now := time.Now(); sa.cfg().ChildLimits.Lower(ch.limits) && ch.rekeyAt.After(now) {
				ch.rekeyAt = now
			}
		}
	}
}

// lifetimes returns when an SA created at t with lifetime life is rekeyed
// and when it expires.
func (sa *ikeSA) lifetimes(t time.Time, life time.Duration) (rekey, expire time.Time) {
	cfg := sa.cfg()
	jitter := time.Duration(0)
	if cfg.RekeyJitter > 0 {
		jitter = rand.N(cfg.RekeyJitter)
	}
	return t.Add(life - cfg.RekeyMargin - jitter), t.Add(life)
}

func (sa *ikeSA) scheduleRekey(t time.Time) {
	sa.rekeyAt, sa.expireAt = sa.lifetimes(t, sa.cfg().IKELifetime)
}

// enqueue adds a request to start when the window is free, unless the
// same one waits already.
func (sa *ikeSA) enqueue(t task) {
	if slices.ContainsFunc(sa.queue, func(q task) bool {
		return q.kind == t.kind && q.child == t.child && q.index == t.index
	}) {
		return
	}
	sa.queue = append(sa.queue, t)
}

// kick starts queued requests while the window is free.
func (sa *ikeSA) kick() {
	for sa.pend == nil && len(sa.queue) > 0 {
		t := sa.queue[0]
		switch {
		case sa.state == stateEstablished:
		case sa.state == stateRekeyed && t.kind == taskDeleteIKE:
		default:
			return
		}
		sa.queue = sa.queue[1:]
		sa.start(t)
	}
}

// start sends the request of a task, or drops a task that no longer
// applies.
func (sa *ikeSA) start(t task) {
	switch t.kind {
	case taskCreateChild:
		sa.startCreateChild(t)
	case taskRekeyChild:
		sa.startRekeyChild(t)
	case taskDeleteChild:
		sa.startDeleteChild(t.child)
	case taskRekeyIKE:
		sa.startRekeyIKE(t)
	case taskDeleteIKE:
		sa.startDeleteIKE()
	case taskDPD:
		// RFC 7296 §1.4: an empty INFORMATIONAL request checks liveness.
		sa.request(wire.Informational, "the liveness check (DPD)", nil, func([]wire.Payload) {})
	}
}

// request sends a request with the next message ID and waits for its
// response, retransmitting as needed; what names what it asks, in words.
func (sa *ikeSA) request(exch wire.ExchangeType, what string, ps []wire.Payload, onResponse func([]wire.Payload)) {
	id := sa.nextID
	if id == math.MaxUint32 {
		// RFC 7296 §2.2: message IDs MUST NOT wrap; the SA is closed (it
		// is rekeyed long before, every IKELifetime).
		sa.log.Warn("message IDs exhausted", sa.logAttrs())
		sa.kill("message IDs exhausted")
		return
	}
	dgs, err := sa.encode(exch, id, false, ps)
	if err != nil {
		sa.log.Error("encoding request", sa.logAttrs(), "exchange", exch, "err", err)
		sa.kill("encoding failed")
		return
	}
	sa.nextID++
	sa.pend = &outstanding{
		id: id, exchange: exch, datagrams: dgs, onResponse: onResponse, what: what,
		timeout: sa.cfg().RetransmitTimeout, retryAt: time.Now().Add(sa.cfg().RetransmitTimeout),
	}
	sa.transmit(dgs)
}

// transmit sends datagrams to the peer's current endpoint.
func (sa *ikeSA) transmit(dgs [][]byte) {
	for _, b := range dgs {
		sa.c.m.send(sa.local, sa.remote, b)
	}
}

// reply sends the datagrams of a response to request p: back where the
// request came from (RFC 7296 §2.11), which is not the SA's endpoint
// when a MOBIKE peer's NAT mapping changed and the peer has not moved
// the SA yet (RFC 4555 §3.5).
func (sa *ikeSA) reply(p packet, dgs [][]byte) {
	for _, b := range dgs {
		sa.c.m.send(p.local, p.remote, b)
	}
}

// shutdown ends the IKE SA, telling the peer with a Delete when the SA is
// established (RFC 7296 §1.4.1), without waiting for its response. With a
// request of ours outstanding, the Delete waits for its response (RFC 7296
// §2.3: a window of one), at most shutdownWait, and goes out then
// (conn.sendWaitingDeletes); meanwhile the SA's child SAs are out of the
// data path already and it starts nothing new. An SA whose own Delete is
// outstanding (one a rekey replaced) ends at once: the peer was told.
func (sa *ikeSA) shutdown(now time.Time, reason string) {
	told := sa.state == stateEstablished || sa.state == stateRekeyed || !sa.closeBy.IsZero()
	if sa.pend != nil && sa.pend.deletesIKE {
		told = false // and the Delete's response is not waited for
	}
	if told && sa.pend != nil {
		if sa.closeBy.IsZero() {
			sa.closeBy = now.Add(shutdownWait)
			sa.state = stateDeleting
			sa.queue = nil
			for _, ch := range slices.Clone(sa.children) {
				sa.removeChild(ch)
			}
		}
		return
	}
	if told {
		sa.sendDeleteNow()
	}
	sa.kill(reason)
}

// sendDeleteNow sends a Delete of the IKE SA without waiting for the
// response, as when shutting down; no request of ours is outstanding.
func (sa *ikeSA) sendDeleteNow() {
	if sa.out == nil {
		return
	}
	dgs, err := sa.encode(wire.Informational, sa.nextID, false,
		[]wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}})
	if err != nil {
		return
	}
	sa.nextID++
	sa.transmit(dgs)
}

// fragmentOverhead is what a fragment message adds to its chunk besides
// the cipher's: the IKE header and the SKF header (RFC 7383 §2.5).
const fragmentOverhead = wire.HeaderLen + wire.GenericHeaderLen + 4

// encode returns the datagrams of a message: one for an unprotected
// IKE_SA_INIT message, one SK message, or SKF fragments when both peers
// support RFC 7383 and the message would exceed FragmentSize.
func (sa *ikeSA) encode(exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload) ([][]byte, error) {
	h := wire.Header{SPIi: sa.spiI, SPIr: sa.spiR, MajorVersion: wire.MajorVersion, Exchange: exch, MessageID: id}
	if sa.initiator {
		h.Flags |= wire.FlagInitiator
	}
	if response {
		h.Flags |= wire.FlagResponse
	}
	if exch == wire.IKESAInit {
		b, err := wire.Message{Header: h, Payloads: ps}.Append(nil)
		return [][]byte{b}, err
	}
	if sa.out == nil {
		return nil, errors.New("no keys")
	}
	plain, err := wire.AppendPayloads(nil, ps)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	first := wire.PayloadNone
	if len(ps) > 0 {
		first = ps[0].Type()
	}
	size := sa.cfg().FragmentSize
	if !sa.fragments || wire.HeaderLen+wire.GenericHeaderLen+sa.out.SealedLen(len(plain)) <= size {
		b, err := wire.AppendEncryptedHeader(nil, h, first, sa.out.SealedLen(len(plain)))
		if err != nil {
			return nil, err
		}
		b, err = sa.out.Seal(b, b, plain)
		return [][]byte{b}, err
	}
	// RFC 7383 §2.5.1: each fragment message fits the size.
	n := size - fragmentOverhead
	for n > 0 && fragmentOverhead+sa.out.SealedLen(n) > size {
		n--
	}
	chunks, err := wire.SplitFragments(plain, n)
	if err != nil {
		return nil, err
	}
	dgs := make([][]byte, len(chunks))
	for i, chunk := range chunks {
		b, err := wire.AppendFragmentHeader(nil, h, first, uint16(i+1), uint16(len(chunks)), sa.out.SealedLen(len(chunk)))
		if err != nil {
			return nil, err
		}
		if dgs[i], err = sa.out.Seal(b, b, chunk); err != nil {
			return nil, err
		}
	}
	return dgs, nil
}

// Errors of open besides those of parsing the decrypted payloads, which
// are authenticated and answered: errIncomplete says a fragment was kept
// and others are awaited, errDrop that the datagram is dropped unanswered.
var (
	errIncomplete = errors.New("fragments missing")
	errDrop       = errors.New("dropped")
)

// open authenticates and decrypts a protected message and returns its
// inner payloads. For a fragment it returns errIncomplete until the last
// one arrives; frag is the fragment number (0 for an SK message).
func (sa *ikeSA) open(p packet, r *reassembly) (ps []wire.Payload, frag uint16, err error) {
	msg, err := wire.ParseMessage(p.data)
	if err != nil || len(msg.Payloads) == 0 {
		// Unauthenticated garbage is never answered (RFC 7296 §2.21).
		sa.c.m.stats.malformed.Add(1)
		return nil, 0, fmt.Errorf("%w: parsing: %v", errDrop, err)
	}
	var first wire.PayloadType
	var plain []byte
	switch x := msg.Payloads[len(msg.Payloads)-1].(type) {
	case *wire.Encrypted:
		aad := p.data[:len(p.data)-len(x.Body)]
		if plain, err = sa.in.Open(nil, aad, x.Body); err != nil {
			sa.c.m.stats.integrity.Add(1)
			return nil, 0, fmt.Errorf("%w: %v", errDrop, err)
		}
		first = x.NextPayload
	case *wire.EncryptedFragment:
		if !sa.fragments {
			sa.c.m.stats.unexpected.Add(1)
			return nil, 0, fmt.Errorf("%w: fragment without RFC 7383 support", errDrop)
		}
		aad := p.data[:len(p.data)-len(x.Body)]
		// RFC 7383 §2.6: each fragment is authenticated before it is kept.
		content, err := sa.in.Open(nil, aad, x.Body)
		if err != nil {
			sa.c.m.stats.integrity.Add(1)
			return nil, 0, fmt.Errorf("%w: %v", errDrop, err)
		}
		if r == nil {
			return nil, x.Number, nil
		}
		done, err := r.Add(p.header.MessageID, x, content)
		clear(content)
		if r.Held() == 1 {
			r.since = time.Now() // a message's first fragment held
		}
		if err != nil {
			sa.c.m.stats.malformed.Add(1)
			return nil, x.Number, fmt.Errorf("%w: %v", errDrop, err)
		}
		if !done {
			return nil, x.Number, errIncomplete
		}
		if first, plain, err = r.Reassemble(nil); err != nil {
			return nil, x.Number, fmt.Errorf("%w: %v", errDrop, err)
		}
		frag = x.Number
	default:
		sa.c.m.stats.unexpected.Add(1)
		return nil, 0, fmt.Errorf("%w: unprotected message", errDrop)
	}
	ps, err = wire.ParsePayloads(first, plain)
	return ps, frag, err
}

// handle processes a datagram of this IKE SA.
func (sa *ikeSA) handle(p packet) {
	h := p.header
	stats := &sa.c.m.stats
	if h.Exchange == wire.IKESAInit {
		if h.Flags&wire.FlagResponse != 0 && sa.state == stateInitSent && h.MessageID == 0 {
			sa.handleInitResponse(p)
			return
		}
		stats.unexpected.Add(1)
		return
	}
	response := h.Flags&wire.FlagResponse != 0
	sa.log.Debug("received", sa.logAttrs(), "exchange", h.Exchange, "msg_id", h.MessageID, "response", response,
		"state", sa.state, "expect", sa.peerID)
	// RFC 7296 §3.1: the I flag says who sent the message.
	if sa.in == nil || (h.Flags&wire.FlagInitiator != 0) == sa.initiator {
		stats.unexpected.Add(1)
		return
	}
	if response {
		sa.handleResponse(p)
		return
	}
	switch {
	case h.MessageID == sa.peerID:
	case h.MessageID+1 == sa.peerID && sa.lastResp != nil:
		// RFC 7296 §2.1: a retransmitted request gets the same response;
		// RFC 7383 §2.6.1: for a fragmented one, on its first fragment.
		_, frag, err := sa.open(p, nil)
		if err == nil && frag <= 1 {
			stats.retransmitsAnswered.Add(1)
			sa.reply(p, sa.lastResp)
		}
		return
	default:
		stats.unexpected.Add(1)
		return
	}
	if !sa.accepts(h.Exchange) {
		stats.unexpected.Add(1)
		return
	}
	ps, _, err := sa.open(p, &sa.reqFrags)
	var resp []wire.Payload
	switch {
	case errors.Is(err, errIncomplete):
		return
	case err == nil:
		sa.authenticated(p)
		sa.confirmChildren(h.MessageID)
		sa.peerID++
		resp = sa.handleRequest(h.Exchange, ps)
		if sa.killUnanswered {
			sa.kill("request not answered")
			return
		}
	default:
		var uc *wire.UnsupportedCriticalPayloadError
		switch {
		case errors.As(err, &uc):
			// RFC 7296 §2.5: reject the message and say why.
			resp = []wire.Payload{uc.Notify()}
		case errors.Is(err, wire.ErrMalformed):
			// RFC 7296 §3.10.1: an authenticated but malformed request.
			resp = []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
		default:
			sa.log.Debug("dropping request", sa.logAttrs(), "err", err)
			return
		}
		sa.c.m.stats.malformed.Add(1)
		sa.authenticated(p)
		sa.peerID++
	}
	dgs, err := sa.encode(h.Exchange, h.MessageID, true, resp)
	if err != nil {
		sa.log.Error("encoding response", sa.logAttrs(), "exchange", h.Exchange, "err", err)
		sa.kill("encoding failed")
		return
	}
	sa.lastResp = dgs
	sa.reply(p, dgs)
	if sa.killAfterResponse {
		sa.kill("deleted")
		return
	}
	sa.kick()
	if n := sa.home(); n != sa {
		n.kick() // the SA the peer's rekey made, which it has now
	}
}

// accepts reports whether a request of exchange type exch fits the state.
func (sa *ikeSA) accepts(exch wire.ExchangeType) bool {
	switch sa.state {
	case stateHalfOpen:
		return exch == wire.IKEAuth
	case stateEstablished, stateRekeyed:
		return exch == wire.CreateChildSA || exch == wire.Informational
	case stateDeleting:
		// A CREATE_CHILD_SA request is answered TEMPORARY_FAILURE.
		return exch == wire.CreateChildSA || exch == wire.Informational
	}
	return false
}

// handleResponse processes a response to our outstanding request.
func (sa *ikeSA) handleResponse(p packet) {
	pend := sa.pend
	if pend == nil || p.header.MessageID != pend.id || p.header.Exchange != pend.exchange {
		sa.c.m.stats.unexpected.Add(1)
		return
	}
	ps, _, err := sa.open(p, &sa.respFrags)
	if errors.Is(err, errIncomplete) {
		return
	}
	if err != nil {
		var uc *wire.UnsupportedCriticalPayloadError
		switch {
		case errors.As(err, &uc):
			ps = []wire.Payload{uc.Notify()}
		case errors.Is(err, wire.ErrMalformed):
			ps = []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
		default:
			return
		}
	}
	sa.authenticated(p)
	sa.pend = nil
	pend.onResponse(ps)
	if !sa.closeBy.IsZero() {
		sa.c.sendWaitingDeletes()
		return
	}
	if sa.state != stateDead {
		sa.kick()
	}
}

// authenticated notes a message that passed its integrity check: the peer
// is alive, and its address is where to answer (RFC 7296 §2.23: behind a
// NAT, the endpoints of the last authenticated message are used). Not so
// with MOBIKE: the initiator alone decides which addresses the SAs use
// and says so with UPDATE_SA_ADDRESSES (RFC 4555 §3.5); a NAT's new
// mapping shows in the NAT detection of its liveness checks (§3.8).
func (sa *ikeSA) authenticated(p packet) {
	sa.lastRecv = time.Now()
	if sa.state != stateHalfOpen {
		sa.peerHolds = true
	}
	sa.reqLocal, sa.reqRemote = p.local, p.remote
	if sa.state == stateHalfOpen && sa.peerID == 1 {
		sa.c.m.initAuthBegun(sa) // its IKE_AUTH request
	}
	if p.remote == sa.remote && p.local == sa.local {
		return
	}
	if sa.state == stateHalfOpen {
		// RFC 7296 §2.23: the initiator that detected a NAT moves to port
		// 4500 for IKE_AUTH, the first authenticated message; we follow,
		// behind a NAT or not (nothing authenticated came before it).
		// Part of every connection attempt with UDP encapsulation, it is
		// no endpoint change a user needs to hear of.
		sa.log.Debug("IKE moved to the NAT-T port", sa.logAttrs(), "local", p.local, "remote", p.remote)
		sa.follow(p.local, p.remote)
		return
	}
	// Behind a NAT ourselves, we do not follow (RFC 7296 §2.23: a
	// single replayed message would move us).
	if sa.mobike || sa.behindNAT || !sa.natLocal && !sa.natRemote {
		return
	}
	sa.moveTo(p.local, p.remote)
}

// espFrom follows the peer to remote, where authenticated ESP in UDP of
// one of the SA's children came from, newer than any before it (the data
// path checked): its NAT changed the mapping, as after a reboot. RFC 7296
// §2.23: a host not behind a NAT SHOULD then send to the new address and
// port, IKE and ESP alike; one behind a NAT SHOULD NOT (a single packet
// would let an attacker break the connection). Not with MOBIKE either
// (see authenticated).
func (sa *ikeSA) espFrom(remote netip.AddrPort) {
	if remote == sa.remote || sa.behindNAT || sa.mobike {
		return
	}
	sa.moveTo(sa.local, remote)
}

// moveTo makes local and remote the endpoints of the IKE SA and of its
// child SAs, and logs the change.
func (sa *ikeSA) moveTo(local, remote netip.AddrPort) {
	sa.log.Info("peer endpoint changed", sa.logAttrs(), "local", local, "remote", remote)
	sa.follow(local, remote)
}

// follow is moveTo without the line.
func (sa *ikeSA) follow(local, remote netip.AddrPort) {
	sa.local, sa.remote = local, remote
	if sa.c.client != nil {
		sa.c.m.rekeyClient(sa.c, remote)
	}
	for _, ch := range sa.children {
		// Moved, not installed again: a new SA would send sequence
		// numbers (the AES-GCM IV, RFC 4106 §3.1) again from 1.
		if err := sa.c.m.cfg.Dataplane.MoveChild(sa.c.name, ch.inSPI, sa.local, sa.remote, sa.encap()); err != nil {
			sa.log.Error("moving child SA", sa.logAttrs(), "spi_in", spiString(ch.inSPI), "err", err)
		}
	}
}

// handleRequest processes an authenticated request and returns the
// payloads of the response.
func (sa *ikeSA) handleRequest(exch wire.ExchangeType, ps []wire.Payload) []wire.Payload {
	switch exch {
	case wire.IKEAuth:
		return sa.handleAuthRequest(ps)
	case wire.CreateChildSA:
		sa.peerUsesRekeyed(ps)
		return sa.handleCreateChildRequest(ps)
	case wire.Informational:
		sa.peerUsesRekeyed(ps)
		return sa.handleInformational(ps)
	}
	return nil
}

// kill ends the IKE SA at once: its child SAs leave the data path. The
// peer is not told; callers send a Delete first when they should.
func (sa *ikeSA) kill(reason string) {
	if sa.state == stateDead {
		return
	}
	for _, ch := range slices.Clone(sa.children) {
		switch {
		case sa.retired || sa.peerRetires:
			// Settled as a duplicate: the kept SA has pairs for the
			// same selectors, and packets sent with these may be on
			// their way still.
			sa.drainChild(ch)
		case sa.deletedByPeer:
			// RFC 7296 §1.4.1: the peer's Delete of the IKE SA closed its
			// child SAs; ESP it sealed with them before (a make-before-break
			// reauthentication's old pairs) may be read after the Delete.
			sa.deletedChild(ch)
		default:
			sa.removeChild(ch)
		}
	}
	for _, ch := range sa.drained {
		sa.c.linger(ch.inSPI)
	}
	sa.drained = nil
	sa.countHalfOpen(false)
	sa.c.m.forgetInit(sa)
	if sa.state == stateEstablished || sa.state == stateDeleting || sa.state == stateRekeyed {
		sa.log.Info("IKE SA deleted", sa.logAttrs(), "reason", reason)
	} else {
		sa.log.Debug("IKE SA abandoned", sa.logAttrs(), "state", sa.state, "reason", reason)
	}
	sa.state = stateDead
	sa.pend = nil
	sa.queue = nil
}

// countHalfOpen counts the SA as half open (a responder's, between
// IKE_SA_INIT and IKE_AUTH), or no longer, in the Manager's and its peer's
// counts that decide on cookies (RFC 7296 §2.6). Once half open, the
// Manager keeps its IKE_SA_INIT request and response until the SA ends
// (answerInitAgain).
func (sa *ikeSA) countHalfOpen(open bool) {
	if open == sa.countedHalfOpen {
		return
	}
	sa.countedHalfOpen = open
	d := int64(-1)
	if open {
		d = 1
		// Before it counts: a retransmission that finds cookies asked for
		// finds the response too.
		sa.c.m.rememberInit(sa)
	}
	sa.c.m.halfOpen.Add(d)
	sa.c.halfOpen.Add(d)
}

// release returns the SPIs of a dead IKE SA to the Manager.
func (sa *ikeSA) release() {
	var esp []uint32
	if sa.pendingChild != nil {
		esp = append(esp, sa.pendingChild.inSPI)
		sa.pendingChild = nil
	}
	sa.c.m.releaseSPIs(sa.ourSPI(), esp...)
	if sa.pendingSPI != 0 {
		sa.c.m.releaseSPIs(sa.pendingSPI)
		sa.pendingSPI = 0
	}
	clear(sa.keys.D)
	clear(sa.keys.PI)
	clear(sa.keys.PR)
	sa.endEAP()
}

// establish marks the SA authenticated.
func (sa *ikeSA) establish(now time.Time) {
	// An idle tunnel is back once an IKE SA is authenticated, the peer's
	// too: an IKE_SA_INIT alone, which anyone may send from the peer's
	// address, leaves it idle, also when it is answered.
	sa.c.idle = false
	sa.state = stateEstablished
	sa.established = now
	sa.scheduleRekey(now)
	sa.c.lastError = ""
	sa.c.initAnswered()
	sa.c.authLines = nil
	sa.c.backoff = 0
	sa.countHalfOpen(false)
	sa.halfOpenUntil = time.Time{}
	sa.dh = nil
}

// snapshot returns the status of the SA.
func (sa *ikeSA) snapshot() IKESAStatus {
	st := IKESAStatus{
		SPIi: sa.spiI, SPIr: sa.spiR, Initiator: sa.initiator, State: sa.state.String(),
		Local: sa.local, Remote: sa.remote, NATLocal: sa.natLocal, NATRemote: sa.natRemote, BehindNAT: sa.behindNAT,
		Established: sa.established, LastRekey: sa.lastRekey,
	}
	if sa.out != nil {
		st.Proposal = sa.suite.String()
	}
	for _, ch := range sa.children {
		st.Children = append(st.Children, ch.snapshot(sa))
	}
	return st
}

// notify returns the first notification of type t in ps, or nil.
func notify(ps []wire.Payload, t wire.NotifyType) *wire.Notify {
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// errorNotify returns the first error notification in ps, or nil (RFC
// 7296 §3.10.1: an error type in a response means the request failed).
func errorNotify(ps []wire.Payload) *wire.Notify {
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType.IsError() {
			return n
		}
	}
	return nil
}

// find returns the first payload of type T in ps.
func find[T wire.Payload](ps []wire.Payload) (T, bool) {
	for _, p := range ps {
		if v, ok := p.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// findTS returns the TSi and TSr payloads of ps.
func findTS(ps []wire.Payload) (tsi, tsr *wire.TrafficSelectors) {
	for _, p := range ps {
		if t, ok := p.(*wire.TrafficSelectors); ok {
			if t.Responder {
				tsr = t
			} else {
				tsi = t
			}
		}
	}
	return tsi, tsr
}

// spi4 returns an ESP SPI as it goes in a proposal, notification or
// delete.
func spi4(spi uint32) []byte { return binary.BigEndian.AppendUint32(nil, spi) }

// spi8 returns an IKE SPI as it goes in a proposal.
func spi8(spi uint64) []byte { return binary.BigEndian.AppendUint64(nil, spi) }

func spiString(spi uint32) string { return fmt.Sprintf("%08x", spi) }

// invalidKE returns the INVALID_KE_PAYLOAD notification asking for group g
// (RFC 7296 §3.10.1: the data is the accepted group, two octets).
func invalidKE(g wire.DHGroup) *wire.Notify {
	return &wire.Notify{NotifyType: wire.InvalidKEPayload, Data: binary.BigEndian.AppendUint16(nil, uint16(g))}
}

// wantedGroup returns the group of an INVALID_KE_PAYLOAD notification.
func wantedGroup(n *wire.Notify) (wire.DHGroup, bool) {
	if len(n.Data) != 2 {
		return 0, false
	}
	return wire.DHGroup(binary.BigEndian.Uint16(n.Data)), true
}

// saPayload returns the SA payload offering proposals with an SPI; without
// dh the Diffie-Hellman transforms are left out (RFC 7296 §1.2: the SA of
// IKE_AUTH has none).
func saPayload(proposals []suite.Proposal, spi []byte, dh bool) *wire.SA {
	sa := &wire.SA{}
	for i, p := range proposals {
		wp := wire.Proposal{Number: uint8(i + 1), Protocol: p.Protocol, SPI: spi}
		for _, t := range p.Transforms {
			if t.Type == wire.TransformDH && !dh {
				continue
			}
			wp.Transforms = append(wp.Transforms, t.Wire())
		}
		sa.Proposals = append(sa.Proposals, wp)
	}
	return sa
}

// chosenPayload returns the SA payload of a response: the accepted suite
// under the number of the proposal it came from.
func chosenPayload(number uint8, s suite.Suite, spi []byte) *wire.SA {
	wp := wire.Proposal{Number: number, Protocol: s.Protocol, SPI: spi}
	for _, t := range s.Transforms() {
		wp.Transforms = append(wp.Transforms, t.Wire())
	}
	return &wire.SA{Proposals: []wire.Proposal{wp}}
}

// withoutDH returns proposals without Diffie-Hellman transforms.
func withoutDH(ps []suite.Proposal) []suite.Proposal {
	out := make([]suite.Proposal, len(ps))
	for i, p := range ps {
		out[i] = suite.Proposal{Protocol: p.Protocol}
		for _, t := range p.Transforms {
			if t.Type != wire.TransformDH {
				out[i].Transforms = append(out[i].Transforms, t)
			}
		}
	}
	return out
}

// offered returns the transforms of a received proposal that this package
// understands (RFC 7296 §3.3.6: transforms with unknown attributes are
// skipped).
func offered(p wire.Proposal) []suite.Transform {
	ts := make([]suite.Transform, 0, len(p.Transforms))
	for _, w := range p.Transforms {
		if t, ok := suite.FromWire(w); ok {
			ts = append(ts, t)
		}
	}
	return ts
}

// choose selects a suite as a responder (RFC 7296 §2.7): the first of our
// proposals, in our order of preference, that one of the peer's proposals
// for protocol with an SPI of spiLen octets satisfies. It returns the suite,
// the number of that proposal and its SPI. With noDH the peer's key
// exchange transforms are ignored, as in IKE_AUTH (RFC 7296 §1.2).
func choose(ours []suite.Proposal, theirs *wire.SA, protocol wire.ProtocolID, spiLen int, noDH bool) (suite.Suite, uint8, []byte, bool) {
	for _, o := range ours {
		if o.Protocol != protocol {
			continue
		}
		for _, t := range theirs.Proposals {
			if t.Protocol != protocol || len(t.SPI) != spiLen {
				continue
			}
			ts := offered(t)
			if noDH {
				// IKE_AUTH has no key exchange: D-H (RFC 7296 §1.2) and
				// RFC 9370's additional ones (types 6 to 12) are ignored.
				ts = slices.DeleteFunc(ts, func(x suite.Transform) bool {
					return x.Type == wire.TransformDH || x.Type >= 6 && x.Type <= 12
				})
			}
			if s, ok := o.Select(ts); ok {
				return s, t.Number, t.SPI, true
			}
		}
	}
	return suite.Suite{}, 0, nil, false
}

// accepted checks the SA payload of a response as an initiator: exactly one
// proposal for protocol with an SPI of spiLen octets, and a suite one of
// our proposals allows (RFC 7296 §2.7).
func accepted(ours []suite.Proposal, resp *wire.SA, protocol wire.ProtocolID, spiLen int) (suite.Suite, []byte, error) {
	if len(resp.Proposals) != 1 {
		return suite.Suite{}, nil, fmt.Errorf("%d proposals in the response", len(resp.Proposals))
	}
	p := resp.Proposals[0]
	if p.Protocol != protocol || len(p.SPI) != spiLen {
		return suite.Suite{}, nil, fmt.Errorf("%v proposal with a %d-octet SPI", p.Protocol, len(p.SPI))
	}
	ts := offered(p)
	got, err := suite.NewSuite(protocol, ts)
	if err != nil {
		return suite.Suite{}, nil, err
	}
	for _, o := range ours {
		if s, ok := o.Select(ts); ok && s == got {
			return got, p.SPI, nil
		}
	}
	return suite.Suite{}, nil, fmt.Errorf("responder chose %v, which we did not offer", got)
}

// firstGroup returns the first Diffie-Hellman group of the proposals, or
// DHNone.
func firstGroup(ps []suite.Proposal) wire.DHGroup {
	for _, p := range ps {
		for _, t := range p.Transforms {
			if t.Type == wire.TransformDH && t.ID != uint16(wire.DHNone) {
				return wire.DHGroup(t.ID)
			}
		}
	}
	return wire.DHNone
}

// offersGroup reports whether one of the proposals has group g.
func offersGroup(ps []suite.Proposal, g wire.DHGroup) bool {
	for _, p := range ps {
		if slices.Contains(p.Transforms, suite.Transform{Type: wire.TransformDH, ID: uint16(g)}) {
			return true
		}
	}
	return false
}

// redundantIsOurs reports whether the SA our exchange made in a collision
// with the peer's is the redundant one: the SA made with the lowest of the
// four nonces, compared octet by octet, a nonce that ends first the lower
// (RFC 7296 §2.8.1, §2.8.2). ours and theirs are the nonces of our
// exchange and of the peer's. The RFC says nothing of a tie, in which both
// sides would keep their own SA (and delete the other's): the other nonce
// of each exchange decides then, and with those equal too, the exchange of
// the initiator of the IKE SA both were made under stays (initiator tells
// whether that is this side), so that the two sides always agree.
func redundantIsOurs(ours, theirs [2][]byte, initiator bool) bool {
	sorted := func(n [2][]byte) [2]string {
		lo, hi := string(n[0]), string(n[1])
		if hi < lo {
			lo, hi = hi, lo
		}
		return [2]string{lo, hi}
	}
	o, t := sorted(ours), sorted(theirs)
	for i := range o {
		if o[i] != t[i] {
			return o[i] < t[i]
		}
	}
	return !initiator
}
