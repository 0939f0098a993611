package ikev2

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/seat"
	"github.com/vnetgw/vnetgw/internal/sparselog"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// Transport sends IKE datagrams. On port 4500 (or Config.NATTPort) the UDP
// layer puts the non-ESP marker in front of msg (RFC 3948 §2.2). SendIKE
// must not keep msg after it returns.
type Transport interface {
	SendIKE(local, remote netip.AddrPort, msg []byte) error
}

// Dataplane is the ESP data path as the daemon sees it.
type Dataplane interface {
	// InstallChild installs a negotiated child SA pair. The data path
	// may carry traffic with it at once (unless the pair is on Standby),
	// and owns the pair's keys: it may wipe them.
	InstallChild(ipsec.Child) error
	// RemoveChild removes the child SA pair of tunnel whose inbound SPI
	// is inSPI.
	RemoveChild(tunnel string, inSPI uint32)
	// DrainChild stops sending with the child SA pair of tunnel whose
	// inbound SPI is inSPI (the tunnel's other pairs carry its traffic)
	// while its inbound SA still opens what the peer sends with it,
	// until RemoveChild.
	DrainChild(tunnel string, inSPI uint32)
	// MoveChild changes the outer endpoints of an installed child SA pair
	// and keeps its state (sequence numbers, replay window).
	MoveChild(tunnel string, inSPI uint32, local, remote netip.AddrPort, encap bool) error
}

// InboundClock is what a Dataplane may also do: tell when ESP of tunnel
// last opened (zero if never). ESP from the peer proves it alive, so dead
// peer detection then waits for silence of both IKE and ESP (RFC 7296 §2.4,
// RFC 3706 §5.5). A Dataplane without it leaves DPD counting from the last
// IKE message alone.
type InboundClock interface {
	LastInbound(tunnel string) time.Time
}

// LastInbound is when dp last opened ESP of tunnel, if dp can tell; zero if
// not.
func LastInbound(dp Dataplane, tunnel string) time.Time {
	if c, ok := dp.(InboundClock); ok {
		return c.LastInbound(tunnel)
	}
	return time.Time{}
}

// Defaults of a Config.
const (
	// DefaultCookieThreshold is the number of half-open IKE SAs from
	// which IKE_SA_INIT requests must carry a cookie (RFC 7296 §2.6).
	DefaultCookieThreshold = 32
	// DefaultMaxHalfOpen bounds the half-open IKE SAs of one peer; from
	// half of it on, that peer's requests must carry a cookie.
	DefaultMaxHalfOpen = 16
)

// Config configures a Manager.
type Config struct {
	// Logger gets the daemon's logs; nil discards them. Nothing is logged
	// per packet above Debug.
	Logger *slog.Logger
	// Transport sends IKE messages. Required.
	Transport Transport
	// Dataplane gets the child SAs. Required.
	Dataplane Dataplane
	// NATTPort is the port both sides float to when a NAT is detected;
	// zero means DefaultNATTPort.
	NATTPort uint16
	// CookieThreshold: see DefaultCookieThreshold; negative means cookies
	// are always required.
	CookieThreshold int
	// MaxHalfOpen: see DefaultMaxHalfOpen.
	MaxHalfOpen int
}

// ErrNoChanges is what Reconfig returns when the new configuration is the
// one in effect.
var ErrNoChanges = errors.New("ikev2: no changes")

// errClosed is what Reconfig returns after Close.
var errClosed = errors.New("ikev2: manager closed")

// Manager owns every IKE SA of one gateway. Its methods are safe for
// concurrent use.
type Manager struct {
	cfg Config
	log *slog.Logger

	// mu guards the tables below. It is never held while waiting for a
	// peer's loop; the loops take it only briefly (no lock order issue).
	mu       sync.Mutex
	closed   bool
	conns    map[string]*conn      // by peer name
	byRemote map[netip.Addr]*conn  // by remote IP address
	ikeSPIs  map[uint64]*conn      // our IKE SPIs
	espSPIs  map[uint32]*conn      // our inbound ESP SPIs
	cfgs     map[string]PeerConfig // as last given to Reconfig, with defaults
	// Point-to-site clients (SetClients): their connections by name and
	// by the address they were given.
	clientCfg *Clients
	clients   map[string]*conn // by clientKey: where each client's IKE SA is, for IKE_SA_INIT
	// clientConns are all client connections by name, whatever their
	// endpoint (one that moved onto another's holds no clientKey).
	clientConns map[string]*conn
	// keyless counts the client connections that hold no clientKey,
	// another holding the endpoint they moved to (releaseClientKey).
	keyless     int
	clientAddrs map[netip.Addr]*conn
	// seats counts the clients with an address when Clients.Seats is nil.
	seats     seat.Count
	clientSeq uint64 // numbers the clients' connections
	// pending counts the client connections not admitted yet, in all,
	// and those without an IKE_AUTH request yet by the sender they came
	// from (sender.Key). refusedFromSender and refusedInAll count the
	// new ones refused for each bound (pendingFull), logged once a
	// minute at most.
	pending                         int
	pendingBySender                 map[netip.Prefix]int
	refusedFromSender, refusedInAll sparselog.Log

	// reconfigMu serializes Reconfig and Close.
	reconfigMu sync.Mutex

	halfOpen atomic.Int64 // responder IKE SAs between IKE_SA_INIT and IKE_AUTH
	cookies  cookieJar
	stats    counters
	wg       sync.WaitGroup // the peers' loops

	// initMu guards initAnswers; nothing else is locked while it is held.
	initMu sync.Mutex
	// initAnswers are the IKE_SA_INIT requests the responders' IKE SAs
	// answered, and the responses, for answerInitAgain.
	initAnswers map[initKey]initAnswer

	// acct reports the sessions of the clients RADIUS authenticated to
	// the servers' accounting (Clients.RadiusAccounting).
	acct *radius.Accounting
}

var _ ipsec.Events = (*Manager)(nil)

// New returns a Manager with no peers; Reconfig adds them.
func New(cfg Config) (*Manager, error) {
	if cfg.Transport == nil || cfg.Dataplane == nil {
		return nil, errors.New("ikev2: new manager: transport and data plane are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NATTPort == 0 {
		cfg.NATTPort = DefaultNATTPort
	}
	if cfg.CookieThreshold == 0 {
		cfg.CookieThreshold = DefaultCookieThreshold
	}
	if cfg.MaxHalfOpen <= 0 {
		cfg.MaxHalfOpen = DefaultMaxHalfOpen
	}
	return &Manager{
		cfg:      cfg,
		log:      cfg.Logger,
		conns:    map[string]*conn{},
		byRemote: map[netip.Addr]*conn{},
		ikeSPIs:  map[uint64]*conn{},
		espSPIs:  map[uint32]*conn{},
		cfgs:     map[string]PeerConfig{},

		clients:         map[string]*conn{},
		clientConns:     map[string]*conn{},
		clientAddrs:     map[netip.Addr]*conn{},
		pendingBySender: map[netip.Prefix]int{},
		initAnswers:     map[initKey]initAnswer{},
		acct:            radius.NewAccounting(cfg.Logger),
	}, nil
}

// Reconfig makes peers the configuration: peers that are new start (and
// initiate an IKE SA unless ResponderOnly); peers no longer listed are torn
// down with a Delete to the peer (one that waits for the answer to a
// request of ours waits after Reconfig has returned, their child SAs out
// of the data path already); peers whose addresses, identities, key or
// proposals changed are torn down and started again; peers whose children
// alone changed keep their IKE SA, the child SAs of the children gone
// deleted and those of the new ones made (conn.rechild); other changes
// (lifetimes, timers, mode) apply to the running SAs. An invalid
// peer does not hold the others back: it keeps the configuration it had (or
// is not started), and the error names it. Reconfig returns ErrNoChanges if
// nothing changed and no peer was invalid.
func (m *Manager) Reconfig(peers []PeerConfig) error {
	m.reconfigMu.Lock()
	defer m.reconfigMu.Unlock()
	next := make(map[string]PeerConfig, len(peers))
	remotes := map[netip.Addr]string{}
	var errs []error
	m.mu.Lock()
	running := maps.Clone(m.cfgs)
	m.mu.Unlock()
	for _, p := range peers {
		p = p.withDefaults()
		err := p.validate()
		if other, dup := remotes[p.Remote.Addr().Unmap()]; err == nil && dup {
			err = fmt.Errorf("peer %q: remote %v is also peer %q's", p.Name, p.Remote.Addr(), other)
		}
		if _, dup := next[p.Name]; err == nil && dup {
			err = fmt.Errorf("peer %q: configured twice", p.Name)
		}
		if err != nil {
			errs = append(errs, err)
			if old, ok := running[p.Name]; ok && next[p.Name].Name == "" {
				next[p.Name] = old
				remotes[old.Remote.Addr().Unmap()] = p.Name
			}
			continue
		}
		remotes[p.Remote.Addr().Unmap()] = p.Name
		next[p.Name] = p
	}
	invalid := errors.Join(errs...)
	if invalid != nil {
		invalid = fmt.Errorf("ikev2: reconfig: %w", invalid)
	}

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	var stop []*conn
	var start []PeerConfig
	var update, rechild []*conn
	restarted := map[string]bool{}
	for name, c := range m.conns {
		p, ok := next[name]
		switch {
		case ok && p.SameIKE(m.cfgs[name]) && !p.SameSA(m.cfgs[name]):
			m.cfgs[name] = p
			rechild = append(rechild, c)
		case !ok || !p.SameSA(m.cfgs[name]):
			stop = append(stop, c)
			delete(m.conns, name)
			delete(m.byRemote, m.cfgs[name].Remote.Addr().Unmap())
			delete(m.cfgs, name)
			if ok {
				start = append(start, p)
				restarted[name] = true
			}
		case !peerConfigEqual(p, m.cfgs[name]):
			m.cfgs[name] = p
			update = append(update, c)
		}
	}
	for name, p := range next {
		if _, ok := m.cfgs[name]; !ok && !restarted[name] {
			start = append(start, p)
		}
	}
	changed := len(stop)+len(start)+len(update)+len(rechild) > 0
	m.mu.Unlock()
	if !changed {
		if invalid != nil {
			return invalid
		}
		return ErrNoChanges
	}

	for _, p := range start {
		if g := p.weakGroups(); len(g) > 0 {
			m.log.Warn("peer offers weak Diffie-Hellman groups (RFC 8247 §2.4); prefer ecp256, x25519 or modp2048", "peer", p.Name, "groups", g)
		}
	}
	// The removed peers' Deletes go out now; one that waits for a silent
	// peer's answer waits in the background, not in the caller (the data
	// plane's reconfiguration of every gateway).
	stopAll(stop)
	for _, c := range update {
		p := next[c.name]
		c.post(false, func() { c.reconfigure(p) })
	}
	// A peer whose children alone changed keeps its IKE SA, unless a
	// child SA is being made or settled just then: then it starts again.
	for _, c := range rechild {
		p := next[c.name]
		kept := false
		if !c.do(func() { kept = c.rechild(p) }) || kept {
			continue
		}
		m.log.Info("peer's traffic selectors changed while a child SA was being negotiated: starting it again", "peer", c.name)
		m.mu.Lock()
		if m.conns[c.name] == c {
			delete(m.conns, c.name)
			delete(m.byRemote, p.Remote.Addr().Unmap())
			start = append(start, p)
		}
		m.mu.Unlock()
		stopAll([]*conn{c})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range start {
		m.startLocked(p)
	}
	return invalid
}

// startLocked starts the goroutine of peer p; m.mu is held.
func (m *Manager) startLocked(p PeerConfig) {
	c := newConn(m, p, packetQueue)
	m.conns[p.Name] = c
	m.byRemote[p.Remote.Addr().Unmap()] = c
	m.cfgs[p.Name] = p
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		c.run()
	}()
}

// Reset ends the IKE SAs of peer name, with a Delete to the peer (RFC 7296
// §1.4.1), and starts the peer afresh, as a new configuration would: it
// initiates again unless its mode says to wait for the peer. It reports
// whether the peer is configured.
func (m *Manager) Reset(name string) bool {
	m.reconfigMu.Lock()
	defer m.reconfigMu.Unlock()
	m.mu.Lock()
	c, ok := m.conns[name]
	p := m.cfgs[name]
	if m.closed || !ok {
		m.mu.Unlock()
		return false
	}
	delete(m.conns, name)
	delete(m.byRemote, p.Remote.Addr().Unmap())
	m.mu.Unlock()
	m.log.Info("resetting peer", "peer", name)
	stopAll([]*conn{c})
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.startLocked(p)
	return true
}

// weakGroups lists the weak groups among the peer's proposals: 1024-bit
// MODP (group 2) and 2048-bit MODP with a 256-bit subgroup (group 24),
// which vnetgw takes only when a proposal names them.
func (p PeerConfig) weakGroups() []wire.DHGroup {
	var out []wire.DHGroup
	for _, pr := range slices.Concat(p.IKEProposals, p.ESPProposals) {
		for _, t := range pr.Transforms {
			g := wire.DHGroup(t.ID)
			if t.Type == wire.TransformDH && (g == wire.DHInsecureMODP1024 || g == wire.DHInsecureMODP2048S256) && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// peerConfigEqual reports whether two configurations with defaults applied
// are the same.
func peerConfigEqual(p, q PeerConfig) bool {
	return p.SameSA(q) && p.Mode == q.Mode && p.OnDemand == q.OnDemand && p.IKELifetime == q.IKELifetime &&
		p.ChildLifetime == q.ChildLifetime && p.ChildLimits == q.ChildLimits && p.NoReplayCheck == q.NoReplayCheck &&
		p.RekeyMargin == q.RekeyMargin && p.RekeyJitter == q.RekeyJitter &&
		p.DPDInterval == q.DPDInterval && p.RetransmitTimeout == q.RetransmitTimeout &&
		p.RetransmitTries == q.RetransmitTries && p.FragmentSize == q.FragmentSize &&
		p.ReconnectDelay == q.ReconnectDelay
}

// Close sends a Delete for every IKE SA, removes every child SA from the
// data path and stops every goroutine the Manager started. The Manager
// cannot be used afterwards.
func (m *Manager) Close() error {
	m.reconfigMu.Lock()
	defer m.reconfigMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, c := range m.clientConns {
		c.client.cause.Store(uint32(radius.CauseNASReboot))
	}
	conns := slices.AppendSeq(slices.Collect(maps.Values(m.conns)), maps.Values(m.clientConns))
	clear(m.conns)
	clear(m.byRemote)
	m.mu.Unlock()
	closeAll(conns)
	m.wg.Wait()
	m.acct.Close(acctGrace)
	return nil
}

// acctGrace is how long Close waits for the RADIUS servers to answer the
// accounting of the sessions it ended.
const acctGrace = 2 * time.Second

// Peers returns the names of the peers the Manager has, as the last
// Reconfig left them (a refused peer keeps its old configuration); a peer
// that Reset starts again is among them all along.
func (m *Manager) Peers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	// The configurations, not the conns: Reset takes the peer's conn out
	// while the old one stops, and a gateway that read its peers then
	// dropped the tunnel the new one was to come up in.
	return slices.Collect(maps.Keys(m.cfgs))
}

// Status returns a snapshot of every peer, sorted by name.
func (m *Manager) Status() []PeerStatus {
	m.mu.Lock()
	conns := slices.Collect(maps.Values(m.conns))
	m.mu.Unlock()
	out := make([]PeerStatus, 0, len(conns))
	for _, c := range conns {
		if s, ok := c.status(); ok {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Stats returns the Manager's counters.
func (m *Manager) Stats() Stats { return m.stats.snapshot() }

// SoftExpired implements ipsec.Events: the child SA of tunnel with inbound
// SPI inSPI reached a soft limit and is rekeyed. It does not block.
func (m *Manager) SoftExpired(tunnel string, inSPI uint32) {
	if c := m.conn(tunnel); c != nil {
		c.post(true, func() { c.softExpired(inSPI) })
	}
}

// HardExpired implements ipsec.Events: the child SA of tunnel with inbound
// SPI inSPI reached a hard limit before a rekey replaced it; it is deleted
// and a new one set up. It does not block.
func (m *Manager) HardExpired(tunnel string, inSPI uint32) {
	if c := m.conn(tunnel); c != nil {
		c.post(true, func() { c.hardExpired(inSPI) })
	}
}

// Idle removes the SAs of peer tunnel, telling the peer, and initiates no
// new ones until traffic needs them (Acquire) or the peer authenticates
// an IKE SA it initiated (an IKE_SA_INIT alone does not count): a
// policy-based tunnel without traffic is removed (R8). It does not block.
func (m *Manager) Idle(tunnel string) {
	if c := m.conn(tunnel); c != nil {
		c.post(false, c.goIdle)
	}
}

// Acquire implements ipsec.Events: a packet from src to dst needed a child
// SA of tunnel that does not exist; one is negotiated, after an IKE SA if
// there is none and the mode allows initiating. It does not block.
func (m *Manager) Acquire(tunnel string, src, dst netip.Addr) {
	if c := m.conn(tunnel); c != nil {
		c.post(true, func() { c.acquire(src, dst) })
	}
}

// PeerMoved implements ipsec.Events: authenticated ESP in UDP of the
// child SA of tunnel with inbound SPI inSPI, newer than any before it,
// came from remote. It does not block.
func (m *Manager) PeerMoved(tunnel string, inSPI uint32, remote netip.AddrPort) {
	if c := m.conn(tunnel); c != nil {
		c.post(true, func() { c.peerMoved(inSPI, unmapped(remote)) })
	}
}

func (m *Manager) conn(name string) *conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.conns[name]; c != nil {
		return c
	}
	return m.clientConns[name] // a client's tunnel is its connection's name
}

// HandlePacket processes one IKE datagram that arrived at local from
// remote, the non-ESP marker already stripped. It does not keep msg, does
// not block on a busy peer (the datagram is dropped and counted) and never
// panics.
func (m *Manager) HandlePacket(local, remote netip.AddrPort, msg []byte) {
	local, remote = unmapped(local), unmapped(remote)
	m.stats.received.Add(1)
	if len(msg) == 1 && msg[0] == 0xff {
		m.stats.keepalives.Add(1) // RFC 3948 §2.3 NAT-keepalive
		return
	}
	h, _, err := wire.ParseHeader(msg)
	if err != nil || int(h.Length) != len(msg) {
		if mv := (*wire.InvalidMajorVersionError)(nil); errors.As(err, &mv) && mv.Major > wire.MajorVersion {
			m.answerMajorVersion(local, remote, msg, mv.Notify())
		}
		m.stats.malformed.Add(1)
		return
	}
	if h.Exchange == wire.IKESAInit && h.Flags&wire.FlagResponse == 0 {
		// RFC 7296 §3.1: the responder's SPI MUST be zero in the first message, also with a cookie.
		if h.SPIr != 0 {
			m.stats.malformed.Add(1)
			m.log.Debug("IKE_SA_INIT request with a responder SPI", "spi", fmt.Sprintf("%016x", h.SPIr), "remote", remote)
			return
		}
		if m.answerInitAgain(local, remote, h, msg) {
			return
		}
		m.handleInitRequest(local, remote, h, msg)
		return
	}
	// The SPI we chose is SPIr in messages from the original initiator and
	// SPIi in messages from the original responder (RFC 7296 §3.1).
	spi := h.SPIi
	if h.Flags&wire.FlagInitiator != 0 {
		spi = h.SPIr
	}
	m.mu.Lock()
	c := m.ikeSPIs[spi]
	m.mu.Unlock()
	if c == nil {
		m.stats.unknownSPI.Add(1)
		m.log.Debug("unknown SPI", "spi", fmt.Sprintf("%016x", spi), "exchange", h.Exchange, "remote", remote)
		return
	}
	c.deliver(packet{local: local, remote: remote, header: h, data: bytes.Clone(msg)})
}

// unmapped returns ap with an IPv4-mapped IPv6 address (::ffff:a.b.c.d,
// as a dual-stack socket gives an IPv4 peer's) as the IPv4 address: the
// Manager takes addresses so, from packets and configurations alike, as
// it compares a message's endpoints with its IKE SA's (authenticated,
// espFrom, handleInitRequest) and hands them to the data path.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// initKey names the IKE_SA_INIT request of a half-open IKE SA: the
// initiator's SPI and the address the request came from.
type initKey struct {
	addr netip.Addr // unmapped
	spiI uint64
}

// initAnswer is the IKE_SA_INIT request a responder's IKE SA answered and
// the response. Neither slice is written to once the SA is half open.
type initAnswer struct {
	sa        *ikeSA // only compared: the SA is its loop's
	req, resp []byte
	// authBegun: the SA's IKE_AUTH request came (initAuthBegun).
	authBegun bool
}

// rememberInit keeps the IKE_SA_INIT request and response of sa, a
// responder's IKE SA that becomes half open, for answerInitAgain, until
// the SA ends (forgetInit). It is called on sa's loop.
func (m *Manager) rememberInit(sa *ikeSA) {
	sa.initKey = initKey{addr: sa.remote.Addr().Unmap(), spiI: sa.spiI}
	m.initMu.Lock()
	defer m.initMu.Unlock()
	m.initAnswers[sa.initKey] = initAnswer{sa: sa, req: sa.initReq, resp: sa.initResp}
}

// initAuthBegun notes that the IKE_AUTH request of sa came: from then on
// answerInitAgain ignores the IKE_SA_INIT requests of its initiator. It
// is called on sa's loop.
func (m *Manager) initAuthBegun(sa *ikeSA) {
	m.initMu.Lock()
	defer m.initMu.Unlock()
	if a, ok := m.initAnswers[sa.initKey]; ok && a.sa == sa {
		a.authBegun = true
		m.initAnswers[sa.initKey] = a
	}
}

// forgetInit undoes rememberInit once sa has ended. It is called on sa's
// loop.
func (m *Manager) forgetInit(sa *ikeSA) {
	m.initMu.Lock()
	defer m.initMu.Unlock()
	if a, ok := m.initAnswers[sa.initKey]; ok && a.sa == sa {
		delete(m.initAnswers, sa.initKey)
	}
}

// answerInitAgain answers an IKE_SA_INIT request that a half-open IKE SA
// answered already with its response again, ignores one of an initiator
// whose IKE SA got its IKE_AUTH request, and reports whether it did
// either. It is asked before cookies are: a COOKIE for a retransmission
// has the initiator retry for an IKE SA that is half open here. An SA is
// found by its initiator's address and SPI, not port: a client behind a
// NAT that moved to port 4500 for IKE_AUTH (RFC 7296 §2.23) may still
// have IKE_SA_INIT requests on their way from port 500.
func (m *Manager) answerInitAgain(local, remote netip.AddrPort, h wire.Header, msg []byte) bool {
	m.initMu.Lock()
	a, ok := m.initAnswers[initKey{addr: remote.Addr().Unmap(), spiI: h.SPIi}]
	m.initMu.Unlock()
	switch {
	case !ok:
		return false
	case a.authBegun:
		// RFC 7296 §2.1: a request of an IKE SA whose IKE_AUTH request came is ignored.
		m.stats.unexpected.Add(1)
		return true
	case !bytes.Equal(a.req, msg):
		return false
	}
	// RFC 7296 §2.1: a retransmitted request MUST only make the response be sent again.
	m.stats.retransmitsAnswered.Add(1)
	m.send(local, remote, a.resp)
	return true
}

// handleInitRequest handles an IKE_SA_INIT request: it answers with a
// cookie when too many SAs are half open (RFC 7296 §2.6) and otherwise
// hands the request to the loop of the peer at remote.
func (m *Manager) handleInitRequest(local, remote netip.AddrPort, h wire.Header, msg []byte) {
	m.mu.Lock()
	c := m.byRemote[remote.Addr().Unmap()]
	clients := m.clientCfg != nil
	m.mu.Unlock()
	if h.MessageID != 0 {
		m.stats.noPeer.Add(1)
		return
	}
	if c == nil {
		if clients {
			m.handleClientInit(local, remote, h, msg)
		} else {
			m.stats.noPeer.Add(1)
		}
		return
	}
	parsed, err := wire.ParseMessage(msg)
	if err != nil {
		var uc *wire.UnsupportedCriticalPayloadError
		if errors.As(err, &uc) {
			// RFC 7296 §2.5: reject the message, saying which payload.
			m.sendError(local, remote, h, uc.Notify())
		}
		m.stats.malformed.Add(1)
		return
	}
	// RFC 7296 §2.6: cookies when half-open SAs pile up, in all or for one
	// peer: a flood spoofed from a peer's address must not fill that
	// peer's half-open slots (MaxHalfOpen) before cookies are asked for.
	if t := m.cfg.CookieThreshold; t < 0 || m.halfOpen.Load() >= int64(t) || c.halfOpen.Load()+c.initQueued.Load() >= int64(m.peerCookieThreshold()) {
		if !m.checkCookie(local, remote, h, parsed.Payloads) {
			return
		}
	}
	c.deliver(packet{local: local, remote: remote, header: h, data: bytes.Clone(msg), queuedInit: true})
}

// checkCookie reports whether an IKE_SA_INIT request carries a valid
// cookie; if not, it answers with one (RFC 7296 §2.6).
func (m *Manager) checkCookie(local, remote netip.AddrPort, h wire.Header, ps []wire.Payload) bool {
	var ni []byte
	for _, p := range ps {
		if n, ok := p.(*wire.Nonce); ok {
			ni = n.Data
		}
	}
	if ni == nil {
		m.stats.malformed.Add(1)
		return false
	}
	// RFC 7296 §2.6: the cookie is the first payload of the retry.
	var got []byte
	if len(ps) > 0 {
		if n, ok := ps[0].(*wire.Notify); ok && n.NotifyType == wire.Cookie {
			got = n.Data
		}
	}
	now := time.Now()
	if !m.cookies.check(now, got, ni, remote.Addr(), h.SPIi) {
		m.stats.cookiesSent.Add(1)
		m.sendError(local, remote, h, &wire.Notify{NotifyType: wire.Cookie, Data: m.cookies.make(now, ni, remote.Addr(), h.SPIi)})
		return false
	}
	return true
}

// peerCookieThreshold is the number of one peer's half-open IKE SAs from
// which its IKE_SA_INIT requests must carry a cookie: half of MaxHalfOpen.
func (m *Manager) peerCookieThreshold() int { return max(1, m.cfg.MaxHalfOpen/2) }

// sendError answers an IKE_SA_INIT request with one unauthenticated
// notification and keeps no state (RFC 7296 §2.6, §2.21.1).
func (m *Manager) sendError(local, remote netip.AddrPort, req wire.Header, n *wire.Notify) {
	if b, err := errorResponse(req, n); err == nil {
		m.send(local, remote, b)
	}
}

// errorResponse is the unauthenticated response to req that carries n
// alone: of version 2.0, with the request's SPIs, exchange type and
// message ID, and the Response flag (RFC 7296 §1.5).
func errorResponse(req wire.Header, n *wire.Notify) ([]byte, error) {
	resp := wire.Message{
		Header: wire.Header{
			SPIi: req.SPIi, SPIr: req.SPIr, MajorVersion: wire.MajorVersion,
			Exchange: req.Exchange, Flags: wire.FlagResponse, MessageID: req.MessageID,
		},
		Payloads: []wire.Payload{n},
	}
	return resp.Append(nil)
}

// answerMajorVersion answers a request of a major version above 2 with
// n, INVALID_MAJOR_VERSION, unauthenticated (RFC 7296 §2.5, §1.5): version
// 2.0 in its header is the closest the gateway speaks. Only a request whose header reads as IKEv2's does
// (its Length that of the datagram) is answered, and only one no shorter
// than the answer, so that a flood spoofed from another's address is not
// amplified; the request is dropped either way.
func (m *Manager) answerMajorVersion(local, remote netip.AddrPort, msg []byte, n *wire.Notify) {
	if len(msg) < wire.HeaderLen || binary.BigEndian.Uint32(msg[24:28]) != uint32(len(msg)) {
		return
	}
	req := wire.Header{
		SPIi: binary.BigEndian.Uint64(msg[0:8]), SPIr: binary.BigEndian.Uint64(msg[8:16]),
		Exchange: wire.ExchangeType(msg[18]), Flags: wire.Flags(msg[19]), MessageID: binary.BigEndian.Uint32(msg[20:24]),
	}
	if req.Flags&wire.FlagResponse != 0 {
		return // RFC 7296 §1.5: a request is answered, never a response
	}
	b, err := errorResponse(req, n)
	if err != nil || len(b) > len(msg) {
		return
	}
	m.send(local, remote, b)
}

// send sends a datagram and counts it.
func (m *Manager) send(local, remote netip.AddrPort, b []byte) {
	if err := m.cfg.Transport.SendIKE(local, remote, b); err != nil {
		m.stats.sendErrors.Add(1)
		m.log.Debug("send failed", "local", local, "remote", remote, "err", err)
		return
	}
	m.stats.sent.Add(1)
}

// newIKESPI returns a fresh random IKE SPI routed to c. SPIs are random,
// not sequential, and never zero (RFC 7296 §2.6).
func (m *Manager) newIKESPI(c *conn) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		spi := binary.BigEndian.Uint64(b[:])
		if _, used := m.ikeSPIs[spi]; spi != 0 && !used {
			m.ikeSPIs[spi] = c
			return spi
		}
	}
}

// newESPSPI returns a fresh random inbound ESP SPI of c, at least 256
// (RFC 4303 §2.1 reserves 1 to 255).
func (m *Manager) newESPSPI(c *conn) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		var b [4]byte
		_, _ = rand.Read(b[:])
		spi := binary.BigEndian.Uint32(b[:])
		if _, used := m.espSPIs[spi]; spi >= 256 && !used {
			m.espSPIs[spi] = c
			return spi
		}
	}
}

// releaseSPIs forgets an IKE SPI and inbound ESP SPIs; zero values are
// skipped.
func (m *Manager) releaseSPIs(ike uint64, esp ...uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ike != 0 {
		delete(m.ikeSPIs, ike)
	}
	for _, s := range esp {
		delete(m.espSPIs, s)
	}
}
