// Package bgp is a VPN gateway's BGP speaker (R41): external BGP-4 sessions
// (RFC 4271) with the peers at the far end of its tunnels, over whatever
// TCP its owner gives it (the gateway's peering address on a userspace
// stack, or loopback in tests). It advertises the gateway's networks and,
// for transit, what it learned from the other peers; it learns the peers'
// prefixes and tells its owner when the best routes change.
//
// One goroutine reads each connection; writes to a connection are
// serialised by its own lock; the tables are guarded by the speaker's.
package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vnetgw/vnetgw/internal/sparselog"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// Port is BGP's TCP port.
const Port = 179

// Defaults.
const (
	DefaultHoldTime     = 90 * time.Second
	DefaultConnectRetry = 5 * time.Second
	// openWait bounds the wait for the peer's OPEN and KEEPALIVE, as the
	// large hold timer of RFC 4271 §8 does (4 minutes there).
	openWait = 30 * time.Second
)

// Config is what the speaker announces and to whom.
type Config struct {
	AS uint32
	// ID is the BGP identifier and the address sessions come from.
	ID netip.Addr
	// Networks are the prefixes the speaker originates.
	Networks []netip.Prefix
	Peers    []Peer
}

// Peer is a configured neighbour.
type Peer struct {
	// Name identifies the peer to the owner (a connection's ID).
	Name string
	Addr netip.Addr
	AS   uint32
	// Networks, when not nil, replace the speaker's networks in what the
	// peer is sent: the ranges as the peer sees them through NAT.
	Networks []netip.Prefix
	// Import moves the prefixes the peer announces that lie inside a
	// mapping's From into its To, host part for host part: the peer's
	// ranges as the speaker's side sees them through NAT.
	Import []Mapping
	// Local is the address the speaker peers from, and the next hop of
	// what it sends the peer; zero: its ID.
	Local netip.Addr
}

// local is the address the speaker peers with p from.
func (p Peer) local(id netip.Addr) netip.Addr {
	if p.Local.IsValid() {
		return p.Local
	}
	return id
}

// Mapping moves prefixes inside From to the same host part in To (one
// length).
type Mapping struct{ From, To netip.Prefix }

func (p Peer) equal(q Peer) bool {
	return p.sameSession(q) && slices.Equal(p.Networks, q.Networks) && slices.Equal(p.Import, q.Import) &&
		(p.Networks == nil) == (q.Networks == nil)
}

// sameSession reports whether p and q differ at most in their Networks
// and Import, which a running session takes (Speaker.retranslate).
func (p Peer) sameSession(q Peer) bool {
	return p.Name == q.Name && p.Addr == q.Addr && p.AS == q.AS && p.Local == q.Local
}

// imported returns prefix n as the peer's Import moves it.
func (p Peer) imported(n netip.Prefix) netip.Prefix {
	for _, m := range p.Import {
		if m.From.Bits() <= n.Bits() && m.From.Contains(n.Addr()) && m.From.Addr().BitLen() == m.To.Addr().BitLen() {
			// The network part of To, the host part of n.
			a, to := n.Addr().AsSlice(), m.To.Masked().Addr().AsSlice()
			for i := range a {
				mask := byte(0xff << (8 - min(max(m.From.Bits()-8*i, 0), 8)))
				a[i] = to[i]&mask | a[i]&^mask
			}
			out, _ := netip.AddrFromSlice(a)
			return netip.PrefixFrom(out, n.Bits())
		}
	}
	return n
}

// Options configure a Speaker.
type Options struct {
	Logger *slog.Logger
	// Dial opens a TCP connection from local to a peer; nil means the
	// node's network (a net.Dialer from local).
	Dial func(ctx context.Context, local netip.Addr, dst netip.AddrPort) (net.Conn, error)
	// Port is where peers listen; 0 means 179.
	Port uint16
	// HoldTime is what the speaker proposes; 0 means DefaultHoldTime.
	HoldTime time.Duration
	// ConnectRetry is the wait between attempts to connect to a peer,
	// each jittered to 0.75 to 1 times it (RFC 4271 §10); 0 means
	// DefaultConnectRetry.
	ConnectRetry time.Duration
	// OnChange is called, without locks held, after the best routes
	// changed. It must not block.
	OnChange func()
}

// Route is a route the speaker learned.
type Route struct {
	Prefix netip.Prefix
	// Peer is the Name of the peer it came from, PeerAddr its address.
	Peer     string
	PeerAddr netip.Addr
	NextHop  netip.Addr
	ASPath   []wire.Segment
	Origin   uint8
	// MED is the MULTI_EXIT_DISC the peer sent, 0 when none: route
	// selection compares it among the routes from one neighbouring AS
	// (RFC 4271 §9.1.2.2 (c)); it goes to no other peer (§5.1.4).
	MED uint32
	// peerID is the BGP identifier of the peer's session (route
	// selection, RFC 4271 §9.1.2.2 (f)).
	peerID netip.Addr
	// Aggregator is the route's AGGREGATOR (AS 0: none), and Transitive
	// the optional transitive attributes the peer sent that the speaker
	// does not recognise (wire.Update.Transitive): both go with the
	// route to the other peers (RFC 4271 §9).
	Aggregator wire.Aggregator
	Transitive string
}

// Speaker is a BGP speaker.
type Speaker struct {
	log  *slog.Logger
	opts Options

	done chan struct{} // closed by Close

	mu     sync.Mutex
	cfg    Config
	peers  map[netip.Addr]*peer
	closed bool
	ls     []net.Listener
	// refused counts the connections from addresses that are no peer:
	// anyone in the VNet may connect, and is logged once a minute at most.
	// misaddressed counts those from a peer to an address of the
	// speaker's that it does not peer with, likewise.
	refused, misaddressed sparselog.Log
	// acceptErrs counts the failed Accepts, likewise.
	acceptErrs sparselog.Log
	// cands are the peers' routes by prefix (as imported), bestTab the
	// best of each (table.go).
	cands   map[netip.Prefix]map[cand]Route
	bestTab map[netip.Prefix]Route
	// unreachable are the peers, by Name, that cannot be reached
	// (SetUnreachable).
	unreachable map[string]bool

	wg sync.WaitGroup
}

// New returns a speaker with nothing configured.
func New(opts Options) *Speaker {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Port == 0 {
		opts.Port = Port
	}
	if opts.Dial == nil {
		opts.Dial = func(ctx context.Context, local netip.Addr, dst netip.AddrPort) (net.Conn, error) {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0))}
			return d.DialContext(ctx, "tcp", dst.String())
		}
	}
	if opts.HoldTime == 0 {
		opts.HoldTime = DefaultHoldTime
	}
	if opts.ConnectRetry == 0 {
		opts.ConnectRetry = DefaultConnectRetry
	}
	if opts.OnChange == nil {
		opts.OnChange = func() {}
	}
	return &Speaker{log: opts.Logger, opts: opts, done: make(chan struct{}), peers: map[netip.Addr]*peer{}, cands: map[netip.Prefix]map[cand]Route{}, bestTab: map[netip.Prefix]Route{}}
}

// Serve accepts the peers' connections on l until Close. Connections from
// addresses that are not configured peers, and those of a peer to an
// address other than the one it peers with, are refused (reject).
func (s *Speaker) Serve(l net.Listener) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return
	}
	s.ls = append(s.ls, l)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		var pause time.Duration
		for {
			c, err := l.Accept()
			if err != nil {
				// A failed Accept (EMFILE, ECONNABORTED) ends nothing but
				// itself: tried again after a pause that grows, as
				// net/http's Server does, until Close.
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				if !s.acceptFailed(l, err) {
					return
				}
				select {
				case <-s.done:
					return
				case <-time.After(pause):
				}
				continue
			}
			pause = 0
			ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			to, _ := netip.ParseAddrPort(c.LocalAddr().String())
			s.mu.Lock()
			p := s.peers[ap.Addr().Unmap()]
			var why string
			refused := &s.refused
			switch {
			case p == nil || s.closed:
				why = "BGP connection from an address that is not a peer refused"
			case to.Addr().Unmap() != p.cfg.local(s.cfg.ID):
				// A peer peers with the one address it is configured
				// to (an APIPA address, say): the next hop of what it
				// is sent, which a connection to another of the
				// speaker's addresses would not reach it by.
				why, refused = "BGP connection from a peer to an address it does not peer with refused", &s.misaddressed
				p.lastErr = fmt.Sprintf("connection to %v refused: the peer peers with %v", to.Addr().Unmap(), p.cfg.local(s.cfg.ID))
			}
			if why != "" {
				refused.Count(1)
				n, log := refused.Due()
				s.mu.Unlock()
				if log {
					s.log.Info(why, "from", ap.Addr(), "to", to.Addr(), "refused", n)
				}
				reject(c)
				continue
			}
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				p.session(c, false)
			}()
		}
	}()
}

// reject closes c, a connection accepted and disallowed (from an address
// that is no peer, from a peer that may have no session), with a Cease,
// Connection Rejected: RFC 4486 §4 says such a connection, the peer not
// configured locally say, SHOULD be told so; the speaker at the other
// end logs why. The connection is new: the message goes into an empty
// send buffer, and the deadline holds up the caller no longer in any
// case.
func reject(c net.Conn) {
	msg, _ := wire.AppendMessage(nil, wire.TypeNotification, wire.Notification{Code: wire.CodeCease, Subcode: wire.SubRejected}.Append(nil))
	c.SetWriteDeadline(time.Now().Add(time.Second))
	c.Write(msg)
	c.Close()
}

// acceptFailed logs a failed Accept on l (once a minute at most, the
// others counted in the next line) and reports whether accepting goes on:
// not once the speaker or the listener is closed.
func (s *Speaker) acceptFailed(l net.Listener, err error) bool {
	s.mu.Lock()
	if s.closed || errors.Is(err, net.ErrClosed) {
		s.mu.Unlock()
		return false
	}
	s.acceptErrs.Count(1)
	n, log := s.acceptErrs.Due()
	s.mu.Unlock()
	if log {
		s.log.Warn("BGP accept failed: trying again", "addr", l.Addr(), "failed", n, "err", err)
	}
	return true
}

// Reconfig makes cfg the speaker's configuration. Peers that are new
// start; peers that went away, and every session when the AS or ID
// changed, end; changed networks are announced and withdrawn.
func (s *Speaker) Reconfig(cfg Config) {
	if !cfg.ID.Is4() {
		// RFC 4271 §4.2: the BGP identifier is 4 octets. No session
		// starts without one.
		cfg.Peers = nil
	}
	cfg.Networks = slices.Clone(cfg.Networks)
	cfg.Peers = slices.Clone(cfg.Peers)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	restart := cfg.AS != s.cfg.AS || cfg.ID != s.cfg.ID
	s.cfg = cfg
	want := map[netip.Addr]Peer{}
	for _, pc := range cfg.Peers {
		if w, ok := want[pc.Addr]; ok {
			// One session per address (the peer's connections are told
			// apart by it): the first peer has it, the other none.
			s.log.Error("BGP peer address configured for two peers: the second has no session", "peer", pc.Addr, "session", w.Name, "without", pc.Name)
			continue
		}
		want[pc.Addr] = pc
	}
	stopping := map[netip.Addr]*peer{}
	changed := false // routes re-imported
	for a, p := range s.peers {
		w, ok := want[a]
		if ok && !restart && w.sameSession(p.cfg) {
			// What it is sent and how what it sends is taken (NAT)
			// change with the session up: the VNet given a range
			// does not reset the sessions.
			if s.retranslate(p, w) {
				changed = true
			}
			continue
		}
		// The rest of a peer's configuration never changes while it
		// runs (its sessions read it without locks): a changed one
		// starts anew.
		if !ok || restart || !w.equal(p.cfg) {
			stopping[a] = p
			delete(s.peers, a)
			s.dropRoutes(p)
		}
	}
	ended := len(stopping) > 0
	// The networks, or the AS, may have changed: every session is sent
	// all again (what did not change is not sent).
	for _, p := range s.peers {
		if c := p.established; c != nil {
			c.full = true
		}
	}
	for _, a := range slices.SortedFunc(maps.Keys(want), netip.Addr.Compare) {
		if s.peers[a] == nil {
			p := newPeer(s, want[a])
			s.peers[a] = p
			if p.unusable != "" {
				s.log.Error("BGP peer has no session", "peer", a, "err", p.unusable)
				continue
			}
			// The session of the peer's old configuration ends first:
			// the peer has its Cease before the new session's OPEN.
			old := stopping[a]
			delete(stopping, a)
			s.wg.Go(func() {
				if old != nil {
					old.stop(wire.SubConfigChange)
				}
				p.connect()
			})
		}
	}
	// Sessions end without holding up the reconfiguration (a peer that
	// reads slowly takes a while to be told): their routes are gone.
	for _, p := range stopping {
		s.wg.Go(func() { p.stop(wire.SubDeconfigured) })
	}
	s.mu.Unlock()
	if ended || changed {
		s.opts.OnChange()
	}
	s.advertiseAll()
}

// retranslate gives peer p the Networks and Import of cfg: its routes
// are taken again through the new Import, and its session, sent
// everything again by Reconfig, sees what changed. It reports whether
// the peer's routes were taken again. s.mu is held.
func (s *Speaker) retranslate(p *peer, cfg Peer) bool {
	p.cfg.Networks = cfg.Networks
	if slices.Equal(p.cfg.Import, cfg.Import) {
		return false
	}
	p.cfg.Import = cfg.Import
	for _, n := range slices.Collect(maps.Keys(p.rib)) {
		r := p.rib[n]
		r.Prefix = p.cfg.imported(n)
		s.setRoute(p, n, &r)
	}
	return len(p.rib) > 0
}

// SetUnreachable tells the speaker that the peers named names (by
// Peer.Name: the connections whose tunnels are all down) cannot be
// reached now, and that every other peer can. The connections of a peer
// that becomes unreachable end at once: its routes go, and the owner and
// the other peers are told, as RFC 4271 §8.2.2 has an AutomaticStop do,
// not when its hold timer expires, which would leave the routes pulling
// traffic into a tunnel that carries nothing until then. It is sent a
// Cease (Administrative Reset), which it gets if its tunnel comes back
// while the connection still tries to send it. An unreachable peer is not
// dialled (a connection of its own is let in: it came through); one
// reachable again is dialled at once.
func (s *Speaker) SetUnreachable(names []string) {
	down := map[string]bool{}
	for _, n := range names {
		down[n] = true
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	was := s.unreachable
	s.unreachable = down
	changed := false
	var back []*peer
	for _, a := range slices.SortedFunc(maps.Keys(s.peers), netip.Addr.Compare) {
		p := s.peers[a]
		switch name := p.cfg.Name; {
		case down[name] && !was[name]:
			s.log.Info("BGP peer unreachable: the tunnels of its connection are down", "peer", a, "conn", name, "connections", len(p.conns))
			if p.unreachable() {
				changed = true
			}
		case !down[name] && was[name]:
			s.log.Info("BGP peer reachable again: its connection has a tunnel up", "peer", a, "conn", name)
			p.retryAt = time.Time{}
			back = append(back, p)
		}
	}
	s.mu.Unlock()
	for _, p := range back {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	if changed {
		s.opts.OnChange()
		s.advertiseAll()
	}
}

// Close ends every session and stops listening.
func (s *Speaker) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	for _, l := range s.ls {
		l.Close()
	}
	ps := slices.Collect(maps.Values(s.peers))
	s.peers = map[netip.Addr]*peer{}
	s.mu.Unlock()
	for _, p := range ps {
		s.wg.Go(func() { p.stop(wire.SubAdminShutdown) }) // together: each may wait for its peer
	}
	s.wg.Wait()
}

// Config returns the configuration in force.
func (s *Speaker) Config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// Best returns the best route to each prefix the peers announced: the
// shortest AS path, then the lowest origin, then, among the routes from
// one neighbouring AS, the lowest MED, then the lowest BGP identifier of
// the peer, then the lowest peer address (RFC 4271 §9.1.2.2).
func (s *Speaker) Best() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.bestTab))
}

// Learned returns every route the peers announced, best or not.
func (s *Speaker) Learned() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Route
	for _, p := range s.peers {
		out = slices.AppendSeq(out, maps.Values(p.rib))
	}
	return out
}

// Advertised returns what the speaker announces to the peer at addr now
// (also before its session is up).
func (s *Speaker) Advertised(addr netip.Addr) []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[addr]
	if p == nil || p.unusable != "" {
		return nil
	}
	return slices.Collect(maps.Values(s.exportTo(p)))
}

// isOwn reports whether a is one of the speaker's addresses: its
// identifier, or the local address of a session. s.mu is held.
func (s *Speaker) isOwn(a netip.Addr) bool {
	if a == s.cfg.ID {
		return true
	}
	for _, p := range s.peers {
		if p.cfg.Local == a {
			return true
		}
	}
	return false
}

// advertiseAll asks every established session's sender for a round
// (conn.sender); it does not wait.
func (s *Speaker) advertiseAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.peers {
		if c := p.established; c != nil {
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
	}
}

// PeerStatus is the state of one peer's session.
type PeerStatus struct {
	Name  string
	Addr  netip.Addr
	AS    uint32
	Local netip.Addr
	// State is Idle, Connect, Active, OpenSent, OpenConfirm or Established
	// (RFC 4271 §8.2.2).
	State            string
	Since            time.Time // when the session was established
	RoutesReceived   int
	MessagesSent     uint64
	MessagesReceived uint64
	// MalformedUpdates counts the UPDATEs whose routes were treated as
	// withdrawn (RFC 7606).
	MalformedUpdates uint64
	// LastError says why the last session ended or failed.
	LastError string
}

// Peers returns the state of every peer.
func (s *Speaker) Peers() []PeerStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PeerStatus
	for _, a := range slices.SortedFunc(maps.Keys(s.peers), netip.Addr.Compare) {
		p := s.peers[a]
		ps := PeerStatus{Name: p.cfg.Name, Addr: a, AS: p.cfg.AS, Local: p.cfg.local(s.cfg.ID), State: p.state, RoutesReceived: len(p.rib),
			MessagesSent: p.sent.Load(), MessagesReceived: p.received.Load(), MalformedUpdates: p.malformed.Load(), LastError: p.lastErr}
		if p.established != nil {
			ps.Since = p.established.since
		} else if ps.LastError == "" && s.unreachable[p.cfg.Name] {
			// Unreachable since it was configured: nothing else failed.
			ps.LastError = errUnreachable(p.cfg.Name).Error()
		}
		out = append(out, ps)
	}
	return out
}

// errUnreachable ends the sessions of the peers of connection name when
// its tunnels are down (SetUnreachable).
func errUnreachable(name string) error {
	return fmt.Errorf("the tunnels of connection %s are down", name)
}

// errClosed ends sessions when their peer is removed.
var errClosed = errors.New("peer removed")
