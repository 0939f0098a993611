// Package ikev1 is the IKEv1 daemon (RFC 2409) for connections whose
// devices do not speak IKEv2 (R4): Main Mode with pre-shared keys, Quick
// Mode for ESP child SAs in tunnel mode (with PFS when the proposal has a
// group), NAT traversal (RFC 3947, with ESP in UDP, RFC 3948; not its
// drafts: a peer that speaks only one is named in the log), dead peer
// detection (RFC 3706), Delete, and quick mode rekeys before a child SA
// expires. Aggressive Mode, certificates and XAUTH are not implemented.
//
// It shares the IKEv2 daemon's vocabulary: peers are configured with
// ikev2.PeerConfig, children go to the data path as ipsec.Child through
// the same Dataplane, and status is reported as ikev2.PeerStatus. One
// mutex guards all state; a loop handles the datagrams the transport
// queues, and a ticker drives retransmissions, dead peer detection, rekeys
// and reconnects.
package ikev1

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/sparselog"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
	v2 "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Config configures a Manager.
type Config struct {
	Logger    *slog.Logger
	Transport ikev2.Transport
	Dataplane ikev2.Dataplane
	// NATTPort is where IKE floats and ESP goes in UDP; 0 means 4500.
	NATTPort uint16
}

// Defaults.
const (
	defaultIKELife    = 28800 * time.Second
	defaultChildLife  = 27000 * time.Second
	defaultRetransmit = 2 * time.Second
	defaultTries      = 5
	defaultReconnect  = 5 * time.Second
	halfOpenTimeout   = 30 * time.Second
	tick              = 200 * time.Millisecond
	// answerLife is how long the answer to a peer's quick mode message is
	// kept once the exchange is over here (HASH(3) sent, say): as long
	// as the peer may send the message again. strongSwan's last
	// retransmission comes 89 s after the first by default (4 s, each
	// wait 1.8 times the last, 5 tries) and it gives up at 165 s;
	// vnetgw's own come up to 62 s after the first.
	answerLife = 3 * time.Minute
	// maxHalfOpenPerPeer bounds the Main Modes a peer's address started
	// that are not established: a spoofed message 1 holds one for
	// halfOpenTimeout.
	maxHalfOpenPerPeer = 8
	// mainModeGrace is how long a responder's Main Mode at message 2
	// keeps its slot among those when a new message 1 needs one: time for
	// the peer's message 3, after a round trip and its Diffie-Hellman.
	mainModeGrace = 2 * time.Second
	// maxEstablishedPerPeer bounds a connection's established ISAKMP
	// SAs: the newest, the one it replaced, and one more for renewals
	// of both sides at once, with room to spare. A peer could otherwise
	// keep any number, each held by a child (or a replaced one) on it.
	maxEstablishedPerPeer = 4
	// maxQuickBackoff is the longest a peer's quick modes wait after one
	// failed (the peer refused it, or did not answer).
	maxQuickBackoff = time.Minute
	// rekeyedLinger is how long a child SA replaced by a rekey keeps its
	// inbound SA: the peer sends with the old pair until it has the new
	// one (the responder when HASH(3) comes, later if HASH(3) was lost
	// and it had to send message 2 again), and packets sent before that
	// may still be on the way.
	rekeyedLinger = 10 * time.Second
	// drainWait is how long a child SA pair a Delete ended, the peer's or
	// ours, still opens what the peer sent with it (Manager.retire), as
	// the IKEv2 daemon's: ESP the peer sealed before the Delete may be
	// read after it, as ESP and IKE are read apart and a batch's IKE goes
	// to the loop before its ESP is opened.
	drainWait = 2 * time.Second
	// maxChildren bounds a peer's child SA pairs that carry traffic, as
	// the IKEv2 daemon's: as many as a connection's prefix pairs may be
	// (rules.MaxPrefixPairs). The peer's quick mode for a new one beyond
	// it is refused; a rekey, whose pair replaces one, is not.
	maxChildren = 256
)

// Manager runs the IKEv1 side of a gateway.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	peers  map[string]*peer
	sas    map[uint64]*isakmpSA // by initiator cookie
	spis   map[uint32]bool      // our inbound ESP SPIs
	closed bool
	stats  counters
	// evicted counts the half-open Main Modes that made room for a new
	// one (respondMM1).
	evicted sparselog.Log

	in    chan inbound  // datagrams for loop
	moved chan peerMove // the data path's reports, for loop
	stop  chan struct{}
	wg    sync.WaitGroup

	// queuedMu guards queued: how many datagrams from each source
	// address wait in in (HandlePacket, loop).
	queuedMu sync.Mutex
	queued   map[netip.Addr]int
}

// peerMove is a report of the data path: authenticated ESP of a child
// came from elsewhere (PeerMoved).
type peerMove struct {
	tunnel string
	inSPI  uint32
	remote netip.AddrPort
}

// peer is a configured connection.
type peer struct {
	cfg      ikev2.PeerConfig
	p1       []p1Suite
	p2       []p2Suite
	pairs    []pair
	children []*child
	lastErr  string
	nextTry  time.Time
	// silence counts our Main Mode messages 1 the peer has not
	// answered, over the tries, and says so in lastErr.
	silence ikev2.Silence
	// waits holds the pairs whose last quick mode of ours failed (the
	// peer refused it, or did not answer), each waiting on its own
	// (endQuick), so that a pair the peer always refuses holds up no
	// other; nextPair is where Manager.timers looks for the next pair
	// without a child, the one after the last it started (round robin).
	waits    map[pair]quickWait
	nextPair int
	// idle: removed for idleness (R8); set up again by Acquire or by
	// the peer.
	idle bool
	// natDraft counts the ISAKMP SAs established with the peer speaking
	// only a draft of NAT traversal (isakmpSA.establish).
	natDraft sparselog.Log
	// lingering are the children a Delete ended: the data path sends
	// nothing more with them, and opens what still arrives with them
	// until each one's time (Manager.retire, Manager.endLingering).
	lingering []lingering
}

// lingering is a drained child SA pair and when it leaves the data path.
type lingering struct {
	inSPI uint32
	until time.Time
}

// quickWait is how long a pair's quick modes of ours wait: until after,
// backoff being the last wait, doubled by each failure.
type quickWait struct {
	after   time.Time
	backoff time.Duration
}

// child is an installed child SA pair.
type child struct {
	sa            *isakmpSA // the ISAKMP SA it was negotiated under
	inSPI, outSPI uint32
	s             p2Suite
	pair          pair
	encap         bool
	installed     time.Time
	rekeyAt       time.Time
	rekeying      bool
	rekeyed       bool
	hardExpired   bool // the data path reached a hard limit of its SAs
	// limits are the byte lifetimes its SAs were installed with.
	limits esp.Limits
	// replaces is the child this one was made to replace, nil for a
	// first one; nonce is the lower of its quick mode's two nonces. Two
	// pairs that replace the same child are a rekey collision, and
	// nonce tells which goes (install).
	replaces *child
	nonce    string
	ours     bool // made by a quick mode of ours
	// retireAt is set when a new pair replaced this one: its inbound SA
	// stays until then for what the peer still sends with it, and then
	// goes with a Delete (Manager.timers).
	retireAt time.Time
}

// served tells whether p has a child for pair pr: one narrowed from it
// (or the peer's, inside it) serves it.
func (p *peer) served(pr pair) bool {
	return slices.ContainsFunc(p.children, func(c *child) bool { return !c.retired() && c.pair.within(pr) })
}

// retired tells whether a newer pair replaced c: it only receives, for
// a while.
func (c *child) retired() bool { return !c.retireAt.IsZero() }

// counters are the atomic cells behind Stats.
type counters struct {
	received, sent, sendErrors, malformed, unknownSPI, noPeer, refused,
	unexpected, queueFull, retransmits, retransmitsAnswered, livenessChecks atomic.Uint64
}

// Stats returns the Manager's counters since New, in the IKEv2 daemon's
// terms: a message refused (it did not decrypt, its hash did not match,
// or it broke the exchange) counts as Integrity; the peer's notification
// that it refused our Main Mode does not.
func (m *Manager) Stats() ikev2.Stats {
	c := &m.stats
	return ikev2.Stats{
		Received: c.received.Load(), Sent: c.sent.Load(), SendErrors: c.sendErrors.Load(),
		Malformed: c.malformed.Load(), UnknownSPI: c.unknownSPI.Load(), NoPeer: c.noPeer.Load(),
		Integrity: c.refused.Load(), Unexpected: c.unexpected.Load(), QueueFull: c.queueFull.Load(),
		Retransmits: c.retransmits.Load(), RetransmitsAnswered: c.retransmitsAnswered.Load(),
		LivenessChecks: c.livenessChecks.Load(),
	}
}

// New starts a manager with no peers.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NATTPort == 0 {
		cfg.NATTPort = ikev2.DefaultNATTPort
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, peers: map[string]*peer{}, sas: map[uint64]*isakmpSA{}, spis: map[uint32]bool{},
		in: make(chan inbound, queueLen), queued: map[netip.Addr]int{}, moved: make(chan peerMove, 16), stop: make(chan struct{})}
	m.wg.Go(m.ticker)
	m.wg.Go(m.loop)
	return m
}

func withDefaults(c ikev2.PeerConfig) ikev2.PeerConfig {
	c.Local, c.Remote = unmapped(c.Local), unmapped(c.Remote)
	if c.IKELifetime == 0 {
		c.IKELifetime = defaultIKELife
	}
	if c.ChildLifetime == 0 {
		c.ChildLifetime = defaultChildLife
	}
	if c.ChildLimits == (esp.Limits{}) {
		c.ChildLimits = esp.Limits{SoftBytes: ikev2.DefaultChildLifeBytes / 10 * 9, HardBytes: ikev2.DefaultChildLifeBytes}
	}
	if c.RetransmitTimeout == 0 {
		c.RetransmitTimeout = defaultRetransmit
	}
	if c.RetransmitTries == 0 {
		c.RetransmitTries = defaultTries
	}
	if c.ReconnectDelay == 0 {
		c.ReconnectDelay = defaultReconnect
	}
	if c.DPDInterval == 0 {
		c.DPDInterval = ikev2.DefaultDPDInterval // negative: none
	}
	if len(c.IKEProposals) == 0 {
		c.IKEProposals = DefaultIKEProposals()
	}
	if len(c.ESPProposals) == 0 {
		c.ESPProposals = DefaultESPProposals()
	}
	return c
}

// lifeKB is the lifetime in kilobytes c's child SAs are proposed and
// accepted with: its hard byte limit, or 0 (none proposed) for none.
func lifeKB(c ikev2.PeerConfig) uint64 {
	if c.ChildLimits.HardBytes == ikev2.NoChildByteLimit {
		return 0
	}
	return c.ChildLimits.HardBytes / 1024
}

// DefaultIKEProposals are offered without a custom policy: AES-CBC with
// SHA-2 or SHA-1 and 2048-bit MODP or the NIST curves, as Azure's IKEv1
// defaults less their 1024-bit group.
func DefaultIKEProposals() []suite.Proposal {
	p, _ := suite.ParseProposal(v2.ProtocolIKE, "aes256-aes128-sha256-sha1-sha384-modp2048-ecp256-ecp384")
	return []suite.Proposal{p}
}

// DefaultESPProposals are offered without a custom policy.
func DefaultESPProposals() []suite.Proposal {
	gcm, _ := suite.ParseProposal(v2.ProtocolESP, "aes256gcm16-aes128gcm16")
	cbc, _ := suite.ParseProposal(v2.ProtocolESP, "aes256-aes128-sha256-sha1")
	return []suite.Proposal{gcm, cbc}
}

// pairsOf turns a peer's children into quick mode traffic pairs. IKEv1
// names one subnet on either side, so a child with several prefixes makes
// one pair each; any-to-any selectors keep the outer address's family.
func pairsOf(c ikev2.PeerConfig) []pair {
	var out []pair
	for _, ch := range c.Children {
		for _, l := range ch.LocalTS {
			for _, r := range ch.RemoteTS {
				if l.Addr().Is4() != r.Addr().Is4() {
					continue
				}
				if l.Bits() == 0 && r.Bits() == 0 && l.Addr().Is4() != c.Remote.Addr().Is4() {
					continue
				}
				out = append(out, pair{l.Masked(), r.Masked()})
			}
		}
	}
	if len(out) == 0 {
		anyTS := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if c.Remote.Addr().Is6() {
			anyTS = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		out = append(out, pair{anyTS, anyTS})
	}
	return out
}

// rekeyMargin is how long before its lifetime an SA is renewed.
func rekeyMargin(c ikev2.PeerConfig, life time.Duration) time.Duration {
	if c.RekeyMargin > 0 && c.RekeyMargin < life {
		return c.RekeyMargin
	}
	return min(life/10, 9*time.Minute)
}

// Reconfig makes peers the manager's connections: new ones start, removed
// ones are deleted at the peer, ones whose ISAKMP SA changes (ends,
// identities, key, proposals) start again, ones whose traffic selectors
// alone change keep it (rechild), others take their new timers in
// place. A peer that ikev2.PeerConfig.Validate refuses, two peers at one
// remote address or a name given twice refuse the whole configuration:
// the error names each, and the peers stay as they were.
func (m *Manager) Reconfig(peers []ikev2.PeerConfig) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("ikev1: manager closed")
	}
	// Each peer is checked as the IKEv2 daemon checks its own (the waits
	// double up to the cap there as here, backoff), and so are the
	// peers' names and remote addresses: a Main Mode is the peer's whose
	// address it comes from (respondMM1), so that two peers at one address
	// would take turns by a map's order. Any error refuses the whole
	// configuration, the old one staying.
	want := map[string]ikev2.PeerConfig{}
	remotes := map[netip.Addr]string{}
	var errs []error
	for _, p := range peers {
		err := p.Validate()
		if other, dup := remotes[p.Remote.Addr().Unmap()]; err == nil && dup {
			err = fmt.Errorf("peer %q: remote %v is also peer %q's", p.Name, p.Remote.Addr(), other)
		}
		if _, dup := want[p.Name]; err == nil && dup {
			err = fmt.Errorf("peer %q: configured twice", p.Name)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		remotes[p.Remote.Addr().Unmap()] = p.Name
		want[p.Name] = withDefaults(p)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ikev1: reconfig: %w", err)
	}
	changed := false
	for name, p := range m.peers {
		w, ok := want[name]
		switch {
		case ok && reflect.DeepEqual(w, p.cfg):
		case ok && w.SameSA(p.cfg):
			// Lifetimes, timers and the mode apply to the SAs as they
			// are: a change of them does not take the tunnel down.
			p.cfg, p.p1, p.p2 = w, p1Suites(w.IKEProposals, w.IKELifetime), p2Suites(w.ESPProposals, w.ChildLifetime, lifeKB(w))
			m.reschedule(p)
			if !w.OnDemand {
				p.idle = false
			}
			changed = true
		case ok && w.SameIKE(p.cfg) && m.rechild(p, w):
			changed = true
		default:
			m.teardown(p, "reconfigured")
			delete(m.peers, name)
			changed = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if m.peers[name] != nil {
			continue
		}
		c := want[name]
		m.peers[name] = &peer{cfg: c, p1: p1Suites(c.IKEProposals, c.IKELifetime), p2: p2Suites(c.ESPProposals, c.ChildLifetime, lifeKB(c)), pairs: pairsOf(c), waits: map[pair]quickWait{}}
		changed = true
	}
	if !changed {
		return ikev2.ErrNoChanges
	}
	return nil
}

// rechild takes w, p's configuration with other traffic selectors (a
// policy-based connection's prefixes added or removed) and the same
// ISAKMP SA (ikev2.PeerConfig.SameIKE), keeping the ISAKMP SA: a child SA
// whose pair w still has stays, one whose pair is gone is deleted,
// telling the peer, and the new pairs' quick modes follow (Manager.timers).
// It reports false, changing nothing, while a quick mode is under way,
// whose pair may be one that goes. m.mu is held.
func (m *Manager) rechild(p *peer, w ikev2.PeerConfig) bool {
	if slices.ContainsFunc(m.sasOf(p), func(sa *isakmpSA) bool { return len(sa.qms) > 0 }) {
		return false
	}
	pairs := pairsOf(w)
	est := m.newest(p)
	for _, c := range slices.Clone(p.children) {
		if slices.ContainsFunc(pairs, c.pair.within) {
			continue
		}
		m.log.Info("IKEv1 child SA's selectors are no longer configured", "conn", p.cfg.Name, "in", fmt.Sprintf("%08x", c.inSPI),
			"local", c.pair.local, "remote", c.pair.remote)
		if est != nil {
			est.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPIs: [][]byte{binary.BigEndian.AppendUint32(nil, c.inSPI)}}.Append(nil))
		}
		m.retire(p, c, time.Time{})
	}
	maps.DeleteFunc(p.waits, func(pr pair, _ quickWait) bool { return !slices.Contains(pairs, pr) })
	p.cfg, p.p1, p.p2 = w, p1Suites(w.IKEProposals, w.IKELifetime), p2Suites(w.ESPProposals, w.ChildLifetime, lifeKB(w))
	p.pairs, p.nextPair = pairs, 0
	m.reschedule(p)
	if !w.OnDemand {
		p.idle = false
	}
	return true
}

// reschedule brings the renewals of p's SAs forward to a lifetime its
// configuration shortened: an SA older than that is renewed at once (a
// new quick mode, or Main Mode, the old one carrying the traffic until
// it is in place), not at the lifetime its exchange stated, hours later
// maybe, and so is a child whose byte lifetime was lowered (its SAs'
// limits are fixed in the data path; the new pair has the new ones).
// Their ends stay the stated ones, which the peer holds too (RFC 2409
// §4.5); a lifetime lengthened waits for the next exchange. m.mu is held.
func (m *Manager) reschedule(p *peer) {
	for _, sa := range m.sasOf(p) {
		if sa.state != stEstablished {
			continue
		}
		life := min(sa.s.Life, p.cfg.IKELifetime)
		margin := rekeyMargin(p.cfg, life)
		if p.cfg.Mode == ikev2.ModeResponderOnly {
			margin /= 2 // as establish has it
		}
		if at := sa.established.Add(life - margin); at.Before(sa.expires) {
			sa.expires = at
		}
	}
	for _, c := range p.children {
		if c.retired() || c.rekeyAt.IsZero() {
			continue
		}
		life := min(c.s.Life, p.cfg.ChildLifetime)
		margin := rekeyMargin(p.cfg, life)
		if !c.ours {
			margin /= 2 // the initiator rekeys first, as install has it
		}
		if at := c.installed.Add(life - margin); at.Before(c.rekeyAt) {
			c.rekeyAt = at
		}
		if now := time.Now(); c.s.limits(p.cfg.ChildLimits).Lower(c.limits) && now.Before(c.rekeyAt) {
			c.rekeyAt = now
		}
	}
}

// teardown deletes p's SAs at the peer and its children here. m.mu is
// held.
func (m *Manager) teardown(p *peer, why string) {
	for _, sa := range m.sasOf(p) {
		if sa.state == stEstablished {
			var spis [][]byte
			for _, c := range p.children {
				spis = append(spis, binary.BigEndian.AppendUint32(nil, c.inSPI))
			}
			if len(spis) > 0 {
				sa.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPIs: spis}.Append(nil))
			}
			sa.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{sa.cookies()}}.Append(nil))
		}
		m.dropSA(sa)
	}
	for _, c := range p.children {
		m.removeChild(p, c)
	}
	p.children = nil
	m.endLingering(p, time.Time{}, true)
	m.log.Info("IKEv1 connection down", "conn", p.cfg.Name, "why", why)
}

// newest returns p's newest established ISAKMP SA, nil when none: the
// one that carries the connection, as Manager.timers chooses it.
func (m *Manager) newest(p *peer) *isakmpSA {
	var est *isakmpSA
	for _, sa := range m.sasOf(p) {
		if sa.state == stEstablished && (est == nil || newer(sa, est)) {
			est = sa
		}
	}
	return est
}

// newer tells whether established ISAKMP SA a takes b's place as the one
// that carries the connection (the other goes once nothing is left on
// it, Manager.timers): a was established later, or, when the two Main
// Modes ran at once (each began before the other was established: both
// sides initiated, at setup, on reconnecting, or renewing phase 1, which
// both time alike), b is the one made with the lowest nonce, as RFC 7296
// §2.8.1 settles simultaneous IKEv2 rekeys. By time alone the two sides
// disagree then: each establishes its own Main Mode last (message 6
// comes after it answered the peer's message 5), so that each kept its
// own, deleted the other's, and both went. The nonces tell both alike.
func newer(a, b *isakmpSA) bool {
	if a.created.Before(b.established) && b.created.Before(a.established) {
		return min(string(a.ni), string(a.nr)) > min(string(b.ni), string(b.nr))
	}
	return a.established.After(b.established)
}

// up tells whether p's connection still stands: an established ISAKMP
// SA, or a Main Mode of ours under way (a renewal whose message 6 is
// late, while the peer, established already, deleted its old SA). A
// half-open SA the peer's address started does not count: anyone may
// start one with a spoofed message 1.
func (m *Manager) up(p *peer) bool {
	return slices.ContainsFunc(m.sasOf(p), func(sa *isakmpSA) bool { return sa.state == stEstablished || sa.initiator })
}

// sasOf returns p's ISAKMP SAs.
func (m *Manager) sasOf(p *peer) []*isakmpSA {
	var out []*isakmpSA
	for _, ic := range slices.Sorted(maps.Keys(m.sas)) {
		if sa := m.sas[ic]; sa.p == p {
			out = append(out, sa)
		}
	}
	return out
}

func (m *Manager) dropSA(sa *isakmpSA) {
	delete(m.sas, sa.ic)
	sa.state = stDead
	// Its quick modes under way end with it: their inbound SPIs go back
	// (an installed child's is not among them: its exchange ended), and
	// a rekey may start again on another SA.
	for mid, q := range sa.qms {
		delete(sa.qms, mid)
		m.endedQuick(sa.p, q)
		if q.rekey != nil && q.initiator {
			q.rekey.rekeying = false
		}
	}
}

// endedQuick gives back what quick mode q of p's, ended without a child,
// held: its inbound SPI, and its pair on standby in the data path.
func (m *Manager) endedQuick(p *peer, q *quick) {
	if q.standby {
		m.cfg.Dataplane.RemoveChild(p.cfg.Name, q.spiIn)
		q.standby = false
	}
	if q.spiIn != 0 {
		delete(m.spis, q.spiIn)
	}
}

func (m *Manager) removeChild(p *peer, c *child) {
	m.cfg.Dataplane.RemoveChild(p.cfg.Name, c.inSPI)
	delete(m.spis, c.inSPI)
}

// endLingering removes p's drained children whose time is up at now, all
// of them if all is set. Their inbound SPIs are ours until then. m.mu is
// held.
func (m *Manager) endLingering(p *peer, now time.Time, all bool) {
	p.lingering = slices.DeleteFunc(p.lingering, func(l lingering) bool {
		if !all && now.Before(l.until) {
			return false
		}
		m.cfg.Dataplane.RemoveChild(p.cfg.Name, l.inSPI)
		delete(m.spis, l.inSPI)
		return true
	})
}

// Reset ends name's SAs, telling the peer, and lets it start again.
func (m *Manager) Reset(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[name]
	if p == nil {
		return false
	}
	m.teardown(p, "reset")
	p.nextTry = time.Time{}
	return true
}

// Close deletes every SA at its peer and stops.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, p := range m.peers {
		m.teardown(p, "closed")
	}
	close(m.stop)
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// SoftExpired rekeys the child whose inbound SPI is inSPI.
func (m *Manager) SoftExpired(tunnel string, inSPI uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.peers[tunnel]; p != nil {
		for _, c := range p.children {
			if c.inSPI == inSPI {
				c.rekeyAt = time.Now()
			}
		}
	}
}

// HardExpired deletes the child whose inbound SPI is inSPI, which reached
// a hard limit before a rekey replaced it, telling the peer (Manager.timers).
func (m *Manager) HardExpired(tunnel string, inSPI uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.peers[tunnel]; p != nil {
		for _, c := range p.children {
			if c.inSPI == inSPI {
				c.hardExpired = true
			}
		}
	}
}

// Idle removes the SAs of tunnel name for idleness (R8), telling the
// peer; the tunnel comes back with Acquire or when the peer starts it.
func (m *Manager) Idle(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.peers[name]; p != nil && !p.idle {
		m.teardown(p, "idle (R8)")
		p.idle = true
	}
}

// Acquire sets up tunnel name again when a packet needs it (after Idle).
func (m *Manager) Acquire(name string, _, _ netip.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.peers[name]; p != nil && p.idle {
		p.idle, p.nextTry = false, time.Time{}
		m.log.Info("IKEv1 tunnel wanted by traffic", "conn", name)
	}
}

// PeerMoved follows the peer of tunnel to remote, where authenticated ESP
// in UDP of the child with inbound SPI inSPI came from, newer than any
// before it: the NAT in front of the peer changed its mapping. As RFC 7296
// §2.23 asks of IKEv2, only a side not behind a NAT follows; its ISAKMP
// SAs and its children in UDP move, keeping their state.
func (m *Manager) PeerMoved(tunnel string, inSPI uint32, remote netip.AddrPort) {
	// Called on the data path with its lock held: handed to the loop,
	// never waited for (a full queue drops it: the next report comes a
	// second later).
	select {
	case m.moved <- peerMove{tunnel, inSPI, remote}:
	default:
	}
}

func (m *Manager) peerMoved(mv peerMove) {
	tunnel, inSPI, remote := mv.tunnel, mv.inSPI, unmapped(mv.remote)
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[tunnel]
	if p == nil {
		return
	}
	i := slices.IndexFunc(p.children, func(c *child) bool { return c.inSPI == inSPI })
	if i < 0 {
		return
	}
	c := p.children[i]
	if c.sa.behindNAT || remote == c.sa.remote {
		return
	}
	old := c.sa.remote
	c.sa.remote = remote
	m.follow(p, old, remote)
}

// follow moves p's ISAKMP SAs that send to old, and its child SAs in
// UDP (the pairs of the peer's rekeys on standby too), to remote, where
// the peer's NAT now maps it. m.mu is held.
func (m *Manager) follow(p *peer, old, remote netip.AddrPort) {
	m.log.Info("IKEv1 peer endpoint changed", "conn", p.cfg.Name, "remote", remote)
	for _, sa := range m.sasOf(p) {
		if sa.remote == old {
			sa.remote = remote
		}
		for _, q := range sa.qms {
			if q.standby && sa.encap() {
				if err := m.cfg.Dataplane.MoveChild(p.cfg.Name, q.spiIn, sa.local, remote, true); err != nil {
					m.log.Error("moving IKEv1 child SA", "conn", p.cfg.Name, "in", fmt.Sprintf("%08x", q.spiIn), "err", err)
				}
			}
		}
	}
	for _, o := range p.children {
		if !o.encap {
			continue
		}
		if err := m.cfg.Dataplane.MoveChild(p.cfg.Name, o.inSPI, o.sa.local, remote, true); err != nil {
			m.log.Error("moving IKEv1 child SA", "conn", p.cfg.Name, "in", fmt.Sprintf("%08x", o.inSPI), "err", err)
		}
	}
}

// inbound is a datagram waiting for the loop.
type inbound struct {
	local, remote netip.AddrPort
	msg           []byte
}

// queueLen is how many datagrams wait for the loop before more are
// dropped; maxQueuedPerSource is how many of them may come from one
// address, so that one that floods the gateway (with Main Mode message
// 1s, which anyone can send and IKEv1 has no cookie challenge for) leaves
// room for the other peers' datagrams.
const (
	queueLen           = 128
	maxQueuedPerSource = queueLen / 2
)

// HandlePacket takes one IKEv1 message from the transport. It is queued
// for the manager's loop, so that the transport's reader, which also reads
// ESP on the NAT-T port, never waits for a key exchange; when the queue,
// or its share for the message's source address, is full it is dropped
// (and counted), a lost datagram the peer sends again.
func (m *Manager) HandlePacket(local, remote netip.AddrPort, msg []byte) {
	m.stats.received.Add(1)
	from := remote.Addr().Unmap()
	m.queuedMu.Lock()
	full := m.queued[from] >= maxQueuedPerSource
	if !full {
		m.queued[from]++
	}
	m.queuedMu.Unlock()
	if full {
		m.stats.queueFull.Add(1)
		return
	}
	select {
	case m.in <- inbound{local, remote, bytes.Clone(msg)}:
	default:
		m.dequeued(from)
		m.stats.queueFull.Add(1)
	}
}

// unmapped returns ap with an IPv4-mapped IPv6 address (::ffff:a.b.c.d,
// as a dual-stack socket gives an IPv4 peer's) as the IPv4 address: the
// Manager takes addresses so, from packets and configurations alike, as
// it matches a Main Mode to its peer by address (respondMM1) and a
// message to its SA.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// dequeued takes a datagram from addr off the count of those queued.
func (m *Manager) dequeued(addr netip.Addr) {
	m.queuedMu.Lock()
	defer m.queuedMu.Unlock()
	if m.queued[addr]--; m.queued[addr] <= 0 {
		delete(m.queued, addr)
	}
}

// loop handles the queued datagrams.
func (m *Manager) loop() {
	for {
		select {
		case <-m.stop:
			return
		case p := <-m.in:
			m.dequeued(p.remote.Addr().Unmap())
			m.handle(p.local, p.remote, p.msg)
		case mv := <-m.moved:
			m.peerMoved(mv)
		}
	}
}

// handle processes one datagram.
func (m *Manager) handle(local, remote netip.AddrPort, msg []byte) {
	local, remote = unmapped(local), unmapped(remote)
	h, err := wire.ParseHeader(msg)
	if err != nil {
		m.stats.malformed.Add(1)
		m.log.Debug("IKEv1 message dropped", "from", remote, "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	sa := m.sas[h.ICookie]
	if sa == nil {
		if h.Exchange == wire.ExchangeMain && h.RCookie == 0 && h.Flags&wire.FlagEncryption == 0 {
			m.respondMM1(local, remote, h, msg)
		} else {
			m.stats.unknownSPI.Add(1)
			m.log.Debug("IKEv1 message for no SA dropped", "from", remote, "exchange", h.Exchange)
		}
		return
	}
	if sa.remote.Addr() == remote.Addr() && sa.lastReply != nil && bytes.Equal(msg, sa.lastReq) {
		// The peer did not get our answer; its retransmitted Main Mode
		// message 1 still has no responder cookie.
		m.stats.retransmitsAnswered.Add(1)
		sa.send(sa.lastReply)
		return
	}
	if a, ok := sa.answerTo(h); ok && sa.remote.Addr() == remote.Addr() && bytes.Equal(msg, a.req) {
		// A quick mode message or R-U-THERE answered already, though
		// other exchanges came since: the peer did not get the answer.
		// It goes where the message came from; a copy, which anyone may
		// send from elsewhere, moves nothing (isakmpSA.heard).
		m.stats.retransmitsAnswered.Add(1)
		m.send(local, remote, a.reply)
		return
	}
	if sa.remote.Addr() != remote.Addr() || (sa.rc != 0 && h.RCookie != sa.rc && !(sa.initiator && sa.state == stMM1)) {
		m.stats.unexpected.Add(1)
		m.log.Debug("IKEv1 message with the wrong cookies or address dropped", "from", remote)
		return
	}
	if err := sa.handle(local, remote, h, msg); err != nil {
		if errors.Is(err, errStale) || errors.Is(err, errBusy) {
			counter := &m.stats.unexpected
			if errors.Is(err, errBusy) {
				counter = &m.stats.queueFull
			}
			counter.Add(1)
			m.log.Debug("IKEv1 message dropped", "conn", sa.p.cfg.Name, "from", remote, "err", err)
			return
		}
		m.stats.refused.Add(1)
		if sa.state != stEstablished {
			sa.tell(err.Error(), "IKEv1 main mode message refused")
			return
		}
		if errors.Is(err, errUnverified) {
			// Anyone who saw the cookies can send one: counted, and
			// logged above Debug only once it checked out.
			m.log.Debug("IKEv1 message refused", "conn", sa.p.cfg.Name, "from", remote, "err", err)
			return
		}
		m.log.Warn("IKEv1 message refused", "conn", sa.p.cfg.Name, "from", remote, "err", err)
	}
}

// ticker drives timers.
func (m *Manager) ticker() {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.mu.Lock()
		if !m.closed {
			m.timers(time.Now())
		}
		m.mu.Unlock()
	}
}

func (m *Manager) timers(now time.Time) {
	newest := map[*peer]*isakmpSA{}
	ics := slices.Sorted(maps.Keys(m.sas))
	for _, ic := range ics {
		if sa := m.sas[ic]; sa.state == stEstablished && (newest[sa.p] == nil || newer(sa, newest[sa.p])) {
			newest[sa.p] = sa
		}
	}
	for _, ic := range ics {
		if sa := m.sas[ic]; sa != nil {
			sa.timers(now, sa.state == stEstablished && newest[sa.p] != sa)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.peers)) {
		p := m.peers[name]
		m.endLingering(p, now, false)
		// RFC 2409 §4.5: the negotiated lifetime is the SA's, the newest's
		// and those it replaced alike. One not replaced by its end (the
		// peer did not renew it, or our tries failed), or whose children
		// did not all move to the newer one, goes; the children live to
		// their own lifetimes (below: under the newest SA). No Delete: the
		// peer's copy ends at the same lifetime, and a peer told of it
		// might take its children down with it (vnetgw's does, with its
		// last ISAKMP SA) while ours carried on.
		for _, sa := range m.sasOf(p) {
			if sa.state == stEstablished && now.After(sa.established.Add(sa.s.Life)) {
				m.dropSA(sa)
				m.log.Info("IKEv1 SA expired", "conn", name, "lifetime", sa.s.Life)
			}
		}
		sas := m.sasOf(p)
		var est *isakmpSA
		busy := false
		for _, sa := range sas {
			switch {
			case sa.state != stEstablished && sa.initiator:
				// Ours under way; the peer's half-open ones (anyone may
				// start them from its address) hold up nothing.
				busy = true
			case sa.state != stEstablished:
			case est == nil || newer(sa, est):
				est = sa
			}
		}
		// The children of an SA that went are the newest's: their rekeys
		// go under it, and it is the one that follows the peer (peerMoved).
		for _, c := range p.children {
			if est != nil && c.sa.state == stDead {
				c.sa = est
			}
		}
		// Replaced children whose time is up go, and the peer is told; so
		// does one not replaced by the end of its lifetime or by a hard
		// limit of the data path (its rekeys failed): RFC 2407 §4.5, its
		// keys are not used past it.
		for _, c := range slices.Clone(p.children) {
			// RFC 4301 §4.4.2.1: an SA at the end of its lifetime is replaced or terminated.
			expired := !c.retired() && (c.hardExpired || now.After(c.installed.Add(c.s.Life)))
			if expired {
				m.log.Warn("IKEv1 child SA expired without a rekey", "conn", name, "in", fmt.Sprintf("%08x", c.inSPI), "lifetime", c.s.Life, "hard_limit", c.hardExpired)
				p.lastErr = "child SA expired: rekey failed"
			}
			if expired || c.retired() && now.After(c.retireAt) {
				if est != nil {
					est.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolESP, SPIs: [][]byte{binary.BigEndian.AppendUint32(nil, c.inSPI)}}.Append(nil))
				}
				if expired {
					// Its keys are not used past its lifetime, to open either.
					m.retire(p, c, time.Time{})
				} else {
					m.retire(p, c, now)
				}
			}
		}
		if est == nil {
			if !busy && !p.idle && p.cfg.Mode != ikev2.ModeResponderOnly && !now.Before(p.nextTry) {
				m.initiate(p, nil)
			}
			continue
		}
		// An older SA goes once no child and no exchange is left on it.
		for _, o := range sas {
			if o != est && o.state == stEstablished && len(o.qms) == 0 && !slices.ContainsFunc(p.children, func(c *child) bool { return c.sa == o }) {
				o.sendInfo(wire.PayloadDelete, wire.Delete{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, SPIs: [][]byte{o.cookies()}}.Append(nil))
				m.dropSA(o)
				m.log.Info("IKEv1 SA replaced", "conn", name)
			}
		}
		// Phase 1 lifetime: a new ISAKMP SA before this one ends (also
		// for a ResponderOnly connection, later: the peer's SA is renewed
		// when the peer has not; establish), where this one's messages go.
		if now.After(est.expires) && !busy && !now.Before(p.nextTry) {
			m.initiate(p, est)
		}
		// One quick mode of ours at a time, while the SA has room for its
		// answer (maxAnswered): a refusal that names no SPI (strongSwan's)
		// is taken for the one under way (refusedQuick). A rekey goes
		// first, as its child carries traffic; then the pairs without a
		// child take turns: one whose quick mode failed waits, and the
		// next goes meanwhile.
		if len(est.qms) > 0 || est.inFlight() >= maxAnswered {
			continue
		}
		waiting := func(pr pair) bool { return now.Before(p.waits[pr].after) }
		if i := slices.IndexFunc(p.children, func(c *child) bool {
			return !c.rekeying && !c.retired() && !c.rekeyAt.IsZero() && now.After(c.rekeyAt) && !waiting(c.pair)
		}); i >= 0 {
			c := p.children[i]
			est.startQuick(c.pair, c)
			continue
		}
		for i := range len(p.pairs) {
			k := (p.nextPair + i) % len(p.pairs)
			if pr := p.pairs[k]; !p.served(pr) && !waiting(pr) && p.cfg.Mode != ikev2.ModeResponderOnly && !p.idle {
				p.nextPair = k + 1
				est.startQuick(pr, nil)
				break
			}
		}
	}
}

// Peers returns the names of the peers the Manager has, as the last
// Reconfig left them (a refused configuration leaves the old one).
func (m *Manager) Peers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Keys(m.peers))
}

// Status reports every peer as the IKEv2 daemon does.
func (m *Manager) Status() []ikev2.PeerStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ikev2.PeerStatus
	for _, name := range slices.Sorted(maps.Keys(m.peers)) {
		p := m.peers[name]
		ps := ikev2.PeerStatus{Name: name, Mode: p.cfg.Mode, State: "down", LastError: p.lastErr, Idle: p.idle}
		// Each child is listed once, under the SA it was negotiated
		// under, or the newest when that one went (as Manager.timers
		// moves it).
		newest := m.newest(p)
		under := func(c *child) *isakmpSA {
			if c.sa.state == stEstablished && m.sas[c.sa.ic] == c.sa {
				return c.sa
			}
			return newest
		}
		for _, sa := range m.sasOf(p) {
			st := sa.status()
			if sa.state == stEstablished {
				ps.State = "established"
				for _, c := range p.children {
					if c.retired() || under(c) != sa {
						continue
					}
					st.Children = append(st.Children, ikev2.ChildStatus{InSPI: c.inSPI, OutSPI: c.outSPI, Proposal: c.s.String(),
						LocalTS: []netip.Prefix{c.pair.local}, RemoteTS: []netip.Prefix{c.pair.remote}, Encap: c.encap, Installed: c.installed, Rekeyed: c.rekeyed})
				}
			} else if ps.State == "down" {
				ps.State = "connecting"
			}
			ps.IKESAs = append(ps.IKESAs, st)
		}
		slices.SortFunc(ps.IKESAs, func(a, b ikev2.IKESAStatus) int { return b.Established.Compare(a.Established) })
		if ps.State == "established" {
			ps.Pairs = len(p.pairs)
			for _, pr := range p.pairs {
				if !p.served(pr) {
					ps.Down = append(ps.Down, pr.String())
				}
			}
		}
		out = append(out, ps)
	}
	return out
}

func (m *Manager) newSPI() uint32 {
	for {
		var b [4]byte
		rand.Read(b[:])
		spi := binary.BigEndian.Uint32(b[:])
		if spi >= 256 && !m.spis[spi] { // SPIs 1-255 are reserved (RFC 4303 §2.1)
			m.spis[spi] = true
			return spi
		}
	}
}

func randUint64() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

func (m *Manager) send(local, remote netip.AddrPort, b []byte) {
	m.stats.sent.Add(1)
	if err := m.cfg.Transport.SendIKE(local, remote, b); err != nil {
		m.stats.sendErrors.Add(1)
		m.log.Debug("IKEv1 send failed", "to", remote, "err", err)
	}
}
