package bgp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/vnetgw/vnetgw/internal/sparselog"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// MaxPrefixes is how many prefixes a peer may announce; a peer that
// announces more is told so and disconnected (RFC 4486 §4), so that no
// peer makes the speaker's tables grow without bound.
const MaxPrefixes = 4000

// maxPrefixHold is how long a peer told it announced too many prefixes
// waits for its next session, neither dialled nor let in: connecting
// again at once, it would announce them again, and every other peer would
// see its routes come and go each ConnectRetry (RFC 4271 §8.1.1's
// DampPeerOscillations). A variable for tests.
var maxPrefixHold = 2 * time.Minute

// peer is a configured neighbour and its connections.
type peer struct {
	s    *Speaker
	done chan struct{} // closed by stop
	kick chan struct{} // wakes the connect loop: a connection ended

	sent, received atomic.Uint64
	malformed      atomic.Uint64 // UPDATEs treated as withdrawals (RFC 7606)

	// cfg is set once, but for its Networks and Import, which s.mu
	// guards (Speaker.retranslate).
	cfg Peer
	// unusable says why the configuration allows no session with the
	// peer (none: it may have one); set once.
	unusable string

	// Guarded by s.mu.
	state       string
	conns       map[*conn]bool
	opening     *conn // the connection that got the peer's OPEN first
	established *conn
	rib         map[netip.Prefix]Route
	lastErr     string
	stopped     bool
	// holdUntil is when a peer that announced too many prefixes may have
	// a session again (maxPrefixHold).
	holdUntil time.Time
	// retryAt is when the peer may be dialled again: ConnectRetry
	// (jittered) after the last attempt, or after the last session ended.
	retryAt time.Time
	// cancelDial ends the dial under way, if one is; dialAborted says
	// unreachable ended it: the peer is dialled again as soon as it is
	// reachable, not a ConnectRetry after.
	cancelDial  context.CancelFunc
	dialAborted bool
	// selfHops counts the routes ignored for their NEXT_HOP, an address
	// of the speaker's: logged once a minute at most.
	selfHops sparselog.Log
	// rejected counts the connections refused for maxConns, likewise.
	rejected sparselog.Log
	// malformedLog counts the UPDATEs whose routes were treated as
	// withdrawn (RFC 7606), likewise: a peer that sends many does not
	// fill the node's log.
	malformedLog sparselog.Log
	// failedLog counts the connections that ended before they were a
	// session (failed), likewise: one every ConnectRetry while the
	// peer's configuration disagrees; dialLog the speaker's dials that
	// failed, apart, so that neither hides the other. Both begin anew
	// when a session comes up (establish).
	failedLog, dialLog sparselog.Log
}

// maxConns is how many connections a peer has at most: its session, or
// the one that goes on to be it, and one more in collision with it (RFC
// 4271 §6.8). A connection beyond them is rejected at once: each that
// waits for its OPEN holds a goroutine and a buffer for openWait.
const maxConns = 2

func newPeer(s *Speaker, cfg Peer) *peer {
	p := &peer{s: s, cfg: cfg, state: "Idle", done: make(chan struct{}), kick: make(chan struct{}, 1),
		conns: map[*conn]bool{}, rib: map[netip.Prefix]Route{}}
	if cfg.Local.IsValid() && !cfg.Local.Is4() {
		// RFC 4271 §4.3: NEXT_HOP, what the peer would be sent as the
		// next hop of every route, is an IPv4 address.
		p.unusable = fmt.Sprintf("local address %v is no IPv4 address: it cannot be the next hop of IPv4 routes", cfg.Local)
		p.lastErr = p.unusable
	}
	return p
}

// conn is one TCP connection with a peer.
type conn struct {
	p        *peer
	nc       net.Conn
	outbound bool
	since    time.Time

	// wmu serialises the writes to nc; it is taken before s.mu, never
	// with s.mu held.
	wmu sync.Mutex
	// stall, guarded by wmu, is how long a write waits for the peer to
	// take any of it: the hold time agreed, or, before the OPENs are
	// exchanged or with none agreed, the one proposed.
	stall     time.Duration
	fourOctet bool
	out       map[netip.Prefix]unique.Handle[string] // announced prefixes and their path keys, interned: one copy of a path however many sessions announce it

	// Guarded by s.mu: the prefixes whose best route changed since the
	// last advertise, or full: everything is looked at again; refresh:
	// everything is sent again, changed or not (ROUTE-REFRESH).
	dirty         map[netip.Prefix]bool
	full, refresh bool
	// collided, guarded by s.mu, says the connection lost a collision
	// (RFC 4271 §6.8): its end is no error of the peer's, whatever it
	// read.
	collided bool
	// werr, guarded by s.mu, is the write that ended the connection, or
	// the Cease this side sent (cease): its reader sees only the
	// connection closed, by this side or by the peer.
	werr error
	// lost, guarded by s.mu, says the connection was the peer's
	// established session, and is no longer (lose).
	lost bool
	// gone, guarded by s.mu, says unreachable ended the connection: its
	// end was logged and its routes dropped then, and it does not hold
	// back the next dial (ConnectRetry paces speakers that disagree).
	gone bool
	// ending is set when the session ends (end): a write under way stops
	// at the end of the message it is in the middle of.
	ending atomic.Bool
	// kick wakes the session's sender.
	kick chan struct{}
	// done is closed when the session's reader is done: the connection
	// ended, closed by the peer or by this side.
	done chan struct{}
}

// connect dials the peer whenever no connection with it is open, every
// ConnectRetry, and not before ConnectRetry after the last session ended,
// whichever side opened it (each wait jittered). A connection of the
// peer's that ends is no reason to dial at once: two speakers that do not
// agree would each dial the other again whenever it refused them. A dial
// under way when the peer becomes unreachable ends (unreachable), and the
// peer is dialled as soon as it is reachable again.
func (p *peer) connect() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.done
		cancel()
	}()
	for {
		p.s.mu.Lock()
		now := time.Now()
		reachable := !p.s.unreachable[p.cfg.Name]
		idle := len(p.conns) == 0 && !p.stopped && reachable && !now.Before(p.holdUntil) && !now.Before(p.retryAt)
		if idle {
			p.state = "Connect"
		}
		local := p.cfg.local(p.s.cfg.ID)
		var dctx context.Context
		if idle {
			dctx, p.cancelDial = context.WithTimeout(ctx, p.s.opts.ConnectRetry+5*time.Second)
		}
		p.s.mu.Unlock()
		if idle {
			nc, err := p.s.opts.Dial(dctx, local, netip.AddrPortFrom(p.cfg.Addr, p.s.opts.Port))
			p.s.mu.Lock()
			p.cancelDial()
			aborted := p.dialAborted
			p.cancelDial, p.dialAborted = nil, false
			// The peer may have connected meanwhile: its session's state
			// stands. A dial that unreachable ended is no failure.
			alone := len(p.conns) == 0 && !aborted
			if err != nil && alone {
				err = fmt.Errorf("connect: %w", err)
				p.state, p.lastErr = "Active", err.Error()
			}
			if err != nil && !aborted {
				p.retryAt = time.Now().Add(jitter(p.s.opts.ConnectRetry))
			}
			p.s.mu.Unlock()
			switch {
			case err != nil && alone:
				p.failed(&p.dialLog, err)
			case err == nil && aborted:
				nc.Close() // made just as the tunnels went down
			case err == nil:
				if !p.session(nc, true) {
					p.s.mu.Lock()
					p.retryAt = time.Now().Add(jitter(p.s.opts.ConnectRetry))
					p.s.mu.Unlock()
				}
			}
		}
		// While a connection is open, its end kicks; while the peer is
		// unreachable, SetUnreachable does when it no longer is.
		var retry <-chan time.Time
		p.s.mu.Lock()
		if len(p.conns) == 0 && !p.s.unreachable[p.cfg.Name] {
			retry = time.After(max(time.Until(p.retryAt), time.Until(p.holdUntil)))
		}
		p.s.mu.Unlock()
		select {
		case <-p.done:
			return
		case <-p.kick:
		case <-retry:
		}
	}
}

// unreachable ends the peer's connections, which SetUnreachable was told
// cannot reach it: its session's routes go at once, and each connection
// is sent a Cease and closed in the background. It reports whether the
// routes changed. s.mu is held.
func (p *peer) unreachable() bool {
	err := errUnreachable(p.cfg.Name)
	changed := false
	for c := range p.conns {
		if c.werr == nil {
			// What ends the connection, not the close that follows.
			c.werr = err
		}
		if c.drop(err) {
			changed = true
		}
		c.gone = true
		p.s.wg.Go(func() { c.cease(wire.SubAdminReset) })
	}
	if p.cancelDial != nil {
		// A dial into tunnels that are down would wait out its SYN
		// retries, past the moment they are up again.
		p.cancelDial()
		p.dialAborted = true
	}
	if p.established == nil && len(p.conns) == 0 {
		p.state = "Idle" // not Active: no dial failed
	}
	p.lastErr = err.Error()
	return changed
}

// stop ends the peer's connections with a Cease of subcode sub (RFC 4486:
// the speaker's stop, the peer's removal or its new configuration).
func (p *peer) stop(sub uint8) {
	p.s.mu.Lock()
	if p.stopped {
		p.s.mu.Unlock()
		return
	}
	p.stopped = true
	close(p.done)
	cs := slices.Collect(maps.Keys(p.conns))
	p.s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.cease(sub) })
	}
	wg.Wait()
}

// cease ends the connection with a Cease (RFC 4271 §6.7), also when its
// sender is in the middle of a write to a peer that reads slowly: the
// write stops after the message under way (notify), so that the peer
// learns of the end at once, not when its hold timer expires, and takes
// no more of the table first. A peer that takes nothing holds it up for
// lastWait at most.
//
// The connection is closed gracefully: its write side is shut first, and
// the close waits, ceaseWait at most, for the peer to close its own side,
// as it does once it has read the NOTIFICATION. Until then the Cease is
// sent again if it is lost on the way: what follows the speaker's stop
// (a userspace stack closed, a tunnel torn down) ends the connection at
// once, and a Cease not yet acknowledged went with it.
func (c *conn) cease(sub uint8) {
	n := wire.Notification{Code: wire.CodeCease, Subcode: sub}
	c.p.s.mu.Lock()
	if c.werr == nil {
		// What ends the connection, not the peer's close that follows.
		c.werr = fmt.Errorf("this speaker ended the session: %v", n)
	}
	c.p.s.mu.Unlock()
	c.end()
	c.wmu.Lock()
	sent := c.writeLast(n)
	cw, ok := c.nc.(interface{ CloseWrite() error })
	// RFC 9293 §3.6: the segments up to the FIN are sent again until
	// acknowledged.
	half := sent && ok && cw.CloseWrite() == nil
	c.wmu.Unlock()
	if half {
		t := time.NewTimer(ceaseWait)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
	}
	c.nc.Close()
}

// ceaseWait is how long a Cease's close waits at most for the peer to
// close its side: a peer that is gone holds up the stop no longer.
const ceaseWait = time.Second

// session runs one connection to its end, and reports whether
// unreachable ended it.
func (p *peer) session(nc net.Conn, outbound bool) (gone bool) {
	c := &conn{p: p, nc: nc, outbound: outbound, stall: p.s.opts.HoldTime, done: make(chan struct{})}
	p.s.mu.Lock()
	if p.stopped || p.unusable != "" || time.Now().Before(p.holdUntil) {
		stopped := p.stopped
		p.s.mu.Unlock()
		if stopped {
			nc.Close()
		} else {
			// The peer's own connection (the speaker does not dial it
			// now), refused as RFC 4486 §4 says: it learns why.
			reject(nc)
		}
		return
	}
	if len(p.conns) >= maxConns {
		p.rejected.Count(1)
		n, log := p.rejected.Due()
		p.s.mu.Unlock()
		if log {
			p.s.log.Info("BGP connection refused: the peer has two open already", "peer", p.cfg.Addr, "refused", n)
		}
		// RFC 4486 §4: a connection disallowed once accepted SHOULD be
		// told so, Cease with Connection Rejected.
		c.notify(wire.Notification{Code: wire.CodeCease, Subcode: wire.SubRejected})
		return
	}
	p.conns[c] = true
	p.s.mu.Unlock()
	err := c.run()
	close(c.done)
	nc.Close()
	c.lose(err)

	p.s.mu.Lock()
	delete(p.conns, c)
	if p.opening == c {
		p.opening = nil
	}
	// A connection that unreachable ended leaves the state, the last
	// error and the dials as unreachable, or what came after, left them:
	// its end (the peer's Cease, late through a tunnel up again, say) is
	// no news.
	if c.gone {
		if p.established == nil && len(p.conns) == 0 {
			p.state = "Idle"
		}
		p.s.mu.Unlock()
		select {
		case p.kick <- struct{}{}:
		default:
		}
		return true
	}
	lost := c.lost
	// The connection that lost a collision leaves the state and the last
	// error to the one that won: it was closed by it, and its reads fail
	// with "use of closed network connection".
	collided := c.collided
	if p.established == nil && !collided {
		p.state = "Idle"
	}
	err = c.cause(err)
	if err != nil && !collided {
		p.lastErr = err.Error()
	}
	if lost {
		// A session that ended, whichever side opened it: the peer is
		// dialled again ConnectRetry after, not at once. A connection
		// that never was one leaves the dials their pace.
		p.retryAt = time.Now().Add(jitter(p.s.opts.ConnectRetry))
	}
	p.s.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
	if lost {
		p.s.log.Info("BGP session down", "peer", p.cfg.Addr, "as", p.cfg.AS, "err", err)
		p.s.opts.OnChange()
		p.s.advertiseAll()
	} else if err != nil && !collided {
		p.failed(&p.failedLog, err)
	}
	return false
}

// failed logs a connection that ended on err before it was a session,
// or a dial that failed: the peer's OPEN refused (another ASN than
// configured, say), the speaker's refused by the peer, no OPEN in time,
// nothing listening at the peer's address. Once a minute at most for
// each of l (failedLog or dialLog), the others counted in the next line:
// the peer is dialled every ConnectRetry. The speaker's own ends (the
// peer removed, its stop) and a collision the peer resolved against this
// connection are no failure.
func (p *peer) failed(l *sparselog.Log, err error) {
	var pn *peerNotification
	if errors.Is(err, errClosed) || errors.As(err, &pn) && pn.n.Code == wire.CodeCease && pn.n.Subcode == wire.SubCollision {
		return
	}
	p.s.mu.Lock()
	if p.stopped {
		p.s.mu.Unlock()
		return
	}
	l.Count(1)
	n, log := l.Due()
	p.s.mu.Unlock()
	if log {
		p.s.log.Warn("BGP session not established", "peer", p.cfg.Addr, "as", p.cfg.AS, "failed", n, "err", err)
	} else {
		p.s.log.Debug("BGP session not established", "peer", p.cfg.Addr, "err", err)
	}
}

// lose ends the session, if c is the peer's established one, on err: its
// routes go at once, and the data plane and the other peers are told, not
// after the sender's round or the NOTIFICATION (which may take a hold
// time each for a peer that reads slowly). session does the rest.
func (c *conn) lose(err error) {
	c.p.s.mu.Lock()
	lost := c.drop(err)
	c.p.s.mu.Unlock()
	if lost {
		c.p.s.opts.OnChange()
		c.p.s.advertiseAll()
	}
}

// drop is lose's part under s.mu, which is held: it reports whether c
// was the established session, whose routes it dropped; telling the owner
// and the other peers is left to the caller.
func (c *conn) drop(err error) bool {
	p := c.p
	if p.established != c {
		return false
	}
	p.established, c.lost, p.state = nil, true, "Idle"
	if err = c.cause(err); err != nil {
		p.lastErr = err.Error()
	}
	p.s.dropRoutes(p)
	return true
}

// cause is what ended the connection, given what its reader returned:
// the write that closed it, or the Cease this side sent, if one did. s.mu
// is held.
func (c *conn) cause(err error) error {
	if c.werr != nil && (errors.Is(err, net.ErrClosed) || errors.Is(err, errPeerClosed)) {
		return c.werr
	}
	return err
}

var errCollision = errors.New("connection collision: the other connection stays")

// run exchanges OPENs and KEEPALIVEs, then carries UPDATEs until an
// error, a NOTIFICATION or the hold timer ends the session.
func (c *conn) run() error {
	s, p := c.p.s, c.p
	s.mu.Lock()
	cfg := s.cfg
	s.mu.Unlock()
	holdSecs := uint16(min(s.opts.HoldTime/time.Second, 65535))
	if err := c.send(wire.TypeOpen, wire.Open{AS: cfg.AS, HoldTime: holdSecs, ID: cfg.ID}.Append(nil)); err != nil {
		return err
	}
	c.setState("OpenSent")
	var buf [wire.MaxLen]byte
	typ, body, err := c.read(&buf, openWait)
	if errors.Is(err, errPeerClosed) {
		// As BIRD and FRR do with a connection from an address that is
		// no neighbour of theirs.
		return fmt.Errorf("%w before its OPEN: does it have %v of AS %d as a neighbour?", errPeerClosed, p.cfg.local(cfg.ID), cfg.AS)
	}
	if err != nil {
		return err
	}
	if typ != wire.TypeOpen {
		return c.fail(&wire.Error{Code: wire.CodeFSM, Subcode: 1, Reason: typ.String() + " instead of OPEN"})
	}
	o, err := wire.ParseOpen(body)
	if err != nil {
		return c.fail(err)
	}
	switch {
	case o.AS != p.cfg.AS:
		return c.fail(&wire.Error{Code: wire.CodeOpen, Subcode: wire.SubBadPeerAS, Reason: fmt.Sprintf("the peer says AS %d, configured is %d", o.AS, p.cfg.AS)})
	case o.ID == cfg.ID && o.AS == cfg.AS:
		// RFC 6286 §2.2: only an internal peer's identifier MUST differ
		// from this speaker's.
		return c.fail(&wire.Error{Code: wire.CodeOpen, Subcode: wire.SubBadID, Reason: "the peer has this speaker's BGP identifier " + o.ID.String()})
	case !o.IPv4Unicast:
		// RFC 5492 §5: the data MUST list the capabilities that cause
		// the NOTIFICATION, each as an OPEN carries it.
		return c.fail(&wire.Error{Code: wire.CodeOpen, Subcode: wire.SubUnsupportedCap, Reason: "the peer does not do IPv4 unicast", Data: wire.IPv4UnicastCapability()})
	}
	c.fourOctet = o.FourOctetAS
	// RFC 4271 §4.2: the hold time is the smaller of the two; zero means
	// no keepalives and no hold timer.
	hold := time.Duration(min(holdSecs, o.HoldTime)) * time.Second
	if hold > 0 {
		c.wmu.Lock()
		c.stall = hold
		c.wmu.Unlock()
	}
	if loser, ok := p.claim(c, o.ID); !ok {
		c.notify(wire.Notification{Code: wire.CodeCease, Subcode: wire.SubCollision})
		return errCollision
	} else if loser != nil {
		loser.notify(wire.Notification{Code: wire.CodeCease, Subcode: wire.SubCollision})
		loser.nc.Close()
	}
	if err := c.send(wire.TypeKeepalive, nil); err != nil {
		return err
	}
	c.setState("OpenConfirm")
	if typ, _, err = c.read(&buf, cmp.Or(hold, openWait)); err != nil {
		return err
	}
	if typ != wire.TypeKeepalive {
		return c.fail(&wire.Error{Code: wire.CodeFSM, Subcode: 2, Reason: typ.String() + " instead of KEEPALIVE"})
	}
	if !p.establish(c) {
		return errClosed
	}
	s.log.Info("BGP session established", "peer", p.cfg.Addr, "as", p.cfg.AS, "hold", hold)
	// The session's own sender and keepalives (a peer slow to read holds
	// up no other), both done before the session is.
	var sender sync.WaitGroup
	defer sender.Wait()
	quit := make(chan struct{})
	defer close(quit)
	if hold > 0 {
		sender.Go(func() { c.keepalives(hold, quit) })
	}
	sender.Go(func() { c.sender(quit) })
	s.advertiseAll()
	for {
		typ, body, err := c.read(&buf, hold)
		if err != nil {
			// The session is over: its routes go, and the sender's
			// round, which may be long, is cut short.
			c.lose(err)
			c.nc.Close()
			return err
		}
		switch typ {
		case wire.TypeKeepalive:
		case wire.TypeUpdate:
			u, err := wire.ParseUpdate(body, c.fourOctet)
			var we *wire.Error
			switch {
			case errors.As(err, &we) && we.Withdraw:
				// RFC 7606 §2: the routes are withdrawn, the session
				// stays.
				p.malformed.Add(1)
				p.logMalformed(err)
				u.Withdrawn, u.NLRI = append(u.Withdrawn, u.NLRI...), nil
			case err != nil:
				return c.fail(err)
			}
			changed, err := p.apply(c, u, o.ID)
			if err != nil {
				return c.fail(err)
			}
			p.logSelfHops(u.NextHop)
			if changed {
				s.opts.OnChange()
				s.advertiseAll()
			}
		case wire.TypeRouteRefresh:
			if wire.RefreshesIPv4Unicast(body) {
				c.resend()
			}
		default:
			return c.fail(&wire.Error{Code: wire.CodeFSM, Subcode: 3, Reason: typ.String() + " in Established"})
		}
	}
}

// read reads a message with the hold timer as the deadline (none when 0),
// and turns a NOTIFICATION into an error.
func (c *conn) read(buf *[wire.MaxLen]byte, hold time.Duration) (wire.Type, []byte, error) {
	var deadline time.Time
	if hold > 0 {
		deadline = time.Now().Add(hold)
	}
	c.nc.SetReadDeadline(deadline)
	typ, body, err := wire.ReadMessage(c.nc, buf)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return 0, nil, c.fail(&wire.Error{Code: wire.CodeHoldExpired, Reason: "hold timer expired"})
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return 0, nil, fmt.Errorf("%w: %w", errPeerClosed, err)
	case err != nil:
		var we *wire.Error
		if errors.As(err, &we) {
			return 0, nil, c.fail(we)
		}
		return 0, nil, err
	}
	c.p.received.Add(1)
	if typ == wire.TypeNotification {
		n, err := wire.ParseNotification(body)
		if err != nil {
			return 0, nil, err
		}
		n.Data = bytes.Clone(n.Data) // buf is read into again
		return 0, nil, &peerNotification{n}
	}
	return typ, body, nil
}

// errPeerClosed is a read's when the peer closed the connection without
// a NOTIFICATION.
var errPeerClosed = errors.New("the peer closed the connection")

// peerNotification is a NOTIFICATION the peer sent: the end of the
// connection.
type peerNotification struct{ n wire.Notification }

func (e *peerNotification) Error() string { return "the peer sent a NOTIFICATION: " + e.n.String() }

// fail tells the peer what is wrong and returns it as the session's end.
func (c *conn) fail(err error) error {
	var we *wire.Error
	if errors.As(err, &we) {
		if we.Code == wire.CodeCease && we.Subcode == wire.SubMaxPrefixes {
			// Before the connection closes: the peer may connect
			// again the moment it does.
			c.p.s.mu.Lock()
			c.p.holdUntil = time.Now().Add(maxPrefixHold)
			c.p.s.mu.Unlock()
		}
		c.lose(err)
		c.notify(wire.Notification{Code: we.Code, Subcode: we.Subcode, Data: we.Data})
	}
	return err
}

// notify sends a NOTIFICATION and closes the connection at once (RFC 4271
// §6): nothing the session's sender or keepalives would write comes after
// it. A round of the sender's under way stops after the message it is
// in the middle of (end): the NOTIFICATION comes next.
func (c *conn) notify(n wire.Notification) {
	c.end()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.last(n)
}

// end stops the writes to the connection: one under way is interrupted
// (its deadline passed) and finishes the message it is in the middle of
// (writeAll), the next ones write nothing.
func (c *conn) end() {
	c.ending.Store(true)
	c.nc.SetWriteDeadline(time.Unix(1, 0))
}

// last writes the connection's last message, a NOTIFICATION, and closes
// it. A peer that does not take it within lastWait does not hold up the
// end (the hold time may be minutes): its routes go, or it is removed.
// c.wmu is held.
func (c *conn) last(n wire.Notification) {
	defer c.nc.Close()
	c.writeLast(n)
}

// writeLast writes a NOTIFICATION, the connection's last message, and
// reports whether it was written; c.wmu is held.
func (c *conn) writeLast(n wire.Notification) bool {
	msg, err := wire.AppendMessage(nil, wire.TypeNotification, n.Append(nil))
	if err != nil {
		return false
	}
	c.nc.SetWriteDeadline(time.Now().Add(lastWait))
	if _, err := c.nc.Write(msg); err != nil {
		return false
	}
	c.p.sent.Add(1)
	return true
}

// lastWait is how long the end of a connection waits at most for the
// peer to take a NOTIFICATION, or the rest of the message under way
// before it.
const lastWait = 10 * time.Second

// errEnding is a write's when the session ends (end).
var errEnding = errors.New("the session ends")

func (c *conn) send(t wire.Type, body []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(t, body)
}

// write sends one message; c.wmu is held.
func (c *conn) write(t wire.Type, body []byte) error {
	msg, err := wire.AppendMessage(nil, t, body)
	if err != nil {
		return err
	}
	if err := c.writeAll(msg); err != nil {
		return err
	}
	c.p.sent.Add(1)
	return nil
}

// writeAll writes b for as long as the peer takes some of it every
// c.stall. A slow tunnel, or a peer busy for a while, ends no session
// while a large table is sent; a peer that takes nothing for the hold
// time does (by then it has had no message for that long, and its own
// hold timer has run out, RFC 4271 §6.5). A write that fails ends the
// connection: a message cut short leaves the stream unreadable. When the
// session ends (end), the message under way is finished, for lastWait at
// most, and nothing after it is written: errEnding. b holds whole
// messages. c.wmu is held.
func (c *conn) writeAll(b []byte) error {
	msgs, cut := b, false
	for {
		// Before ending is looked at: end's deadline is not undone.
		c.nc.SetWriteDeadline(time.Now().Add(c.stall))
		if !cut && c.ending.Load() {
			cut = true
			c.stall = min(c.stall, lastWait)
			c.nc.SetWriteDeadline(time.Now().Add(c.stall))
			done := len(msgs) - len(b)
			b = b[:msgEnd(msgs, done)-done]
		}
		if len(b) == 0 {
			return errEnding
		}
		n, err := c.nc.Write(b)
		b = b[n:]
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout()
		switch {
		case err == nil && cut:
			return errEnding
		case err == nil:
			return nil
		case timeout && (n > 0 || !cut && c.ending.Load()):
			continue // it takes them, slowly; or end interrupted it
		case timeout:
			err = fmt.Errorf("the peer took nothing for %v: %w", c.stall, err)
		}
		c.broke(err)
		return err
	}
}

// msgEnd is where the message of msgs, whole messages, that holds byte
// off ends: off itself if a message begins there.
func msgEnd(msgs []byte, off int) int {
	end := 0
	for end < off && end+wire.HeaderLen <= len(msgs) {
		end += int(binary.BigEndian.Uint16(msgs[end+16:]))
	}
	return min(end, len(msgs))
}

// broke closes the connection on err, a failed write, which stands as
// the session's end (its reader sees only the connection closed).
func (c *conn) broke(err error) {
	c.p.s.mu.Lock()
	if c.werr == nil {
		c.werr = err
	}
	c.p.s.mu.Unlock()
	c.nc.Close()
}

// batch gathers a connection's messages into writes of up to 64 KiB:
// one UPDATE per write would cost a system call each. c.wmu is held.
type batch struct {
	c   *conn
	buf []byte
	n   int
	err error
}

// update queues an UPDATE, written into the batch's buffer, and reports
// whether the connection still takes them.
func (b *batch) update(u wire.Update) bool {
	if b.err != nil {
		return false
	}
	buf, err := u.AppendMessage(b.buf, b.c.fourOctet)
	if err != nil {
		b.fail(err)
		return false
	}
	b.buf = buf
	if b.n++; len(b.buf) >= 64<<10 {
		return b.flush()
	}
	return true
}

// fail ends the session on an UPDATE that cannot be encoded (exportOne,
// and newPeer for the next hop, keep such routes from the sessions), as a
// write that fails does, and logs why: the peer would lack what it says.
func (b *batch) fail(err error) {
	b.err = err
	b.c.p.s.log.Error("BGP UPDATE cannot be encoded: the session ends", "peer", b.c.p.cfg.Addr, "err", err)
	b.c.broke(err)
}

// flush writes what is queued.
func (b *batch) flush() bool {
	if b.err != nil || len(b.buf) == 0 {
		return b.err == nil
	}
	if b.err = b.c.writeAll(b.buf); b.err != nil {
		return false
	}
	b.c.p.sent.Add(uint64(b.n))
	b.buf, b.n = b.buf[:0], 0
	return true
}

// keepalives sends a KEEPALIVE every third of the hold time, jittered
// (RFC 4271 §10), until quit.
func (c *conn) keepalives(hold time.Duration, quit chan struct{}) {
	t := time.NewTimer(keepaliveInterval(hold))
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
			if c.send(wire.TypeKeepalive, nil) != nil {
				return
			}
			t.Reset(keepaliveInterval(hold))
		}
	}
}

// keepaliveInterval is the wait before the next KEEPALIVE of a session
// of hold time hold: a third of it, jittered, and a second at least (RFC
// 4271 §4.4: KEEPALIVEs MUST NOT be sent more often than one per second).
func keepaliveInterval(hold time.Duration) time.Duration {
	return max(jitter(hold/3), time.Second)
}

// jitter returns d multiplied by a random factor from 0.75 to 1, picked
// anew on each call: RFC 4271 §10 says the ConnectRetry and Keepalive
// timers SHOULD be, so that the speakers' messages come in no bursts
// (many peers dialled, or sent KEEPALIVEs, at the same moment).
func jitter(d time.Duration) time.Duration {
	return d - rand.N(d/4+1)
}

func (c *conn) setState(st string) {
	c.p.s.mu.Lock()
	if c.p.established == nil && !c.gone {
		c.p.state = st
	}
	c.p.s.mu.Unlock()
}

// claim resolves a collision of two connections with one peer (RFC 4271
// §6.8) when c has received the peer's OPEN: an established session
// stays; otherwise the connection opened by the speaker with the higher
// BGP identifier stays, or, the two the same, with the larger AS. It
// returns the connection that lost to c, if any, and false if c lost.
func (p *peer) claim(c *conn, remoteID netip.Addr) (*conn, bool) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if p.stopped || p.established != nil || c.gone {
		c.collided = true
		return nil, false
	}
	// A connection unreachable ended, closing, collides with nothing.
	o := p.opening
	if o == nil || o.gone {
		p.opening = c
		return nil, true
	}
	keepOutbound := p.s.cfg.ID.Compare(remoteID) > 0
	if remoteID == p.s.cfg.ID {
		// RFC 6286 §2.3: with equal identifiers, the connection opened by
		// the speaker of the larger AS stays.
		keepOutbound = p.s.cfg.AS > p.cfg.AS
	}
	if c.outbound != keepOutbound {
		c.collided = true
		return nil, false
	}
	p.opening, o.collided = c, true
	return o, true
}

func (p *peer) establish(c *conn) bool {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	// gone: its peer made unreachable in OpenConfirm, its Cease on the
	// way; the peer's KEEPALIVE does not make it a session.
	if p.stopped || p.opening != c || c.gone {
		return false
	}
	p.opening, p.established, p.state = nil, c, "Established"
	// The outage its failures were logged for is over: the first of the
	// next is logged at once, counting none of these.
	p.failedLog, p.dialLog = sparselog.Log{}, sparselog.Log{}
	c.since = time.Now()
	c.out = map[netip.Prefix]unique.Handle[string]{}
	c.dirty, c.full, c.kick = map[netip.Prefix]bool{}, true, make(chan struct{}, 1)
	return true
}

// apply takes an UPDATE of session c with the peer of BGP identifier id
// into the peer's routes and reports whether they changed. Routes whose
// path holds this speaker's AS are loops and are dropped (RFC 4271
// §9.1.2).
func (p *peer) apply(c *conn, u wire.Update, id netip.Addr) (bool, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if p.s.peers[p.cfg.Addr] != p {
		return false, nil // removed (Reconfig): its routes went with it
	}
	if p.established != c {
		// RFC 4271 §8.2.2: a connection no longer Established (its
		// peer made unreachable; its Cease on the way) takes no UPDATE:
		// its routes went when it left, and would outlive it.
		return false, nil
	}
	changed := false
	for _, w := range u.Withdrawn {
		if _, ok := p.rib[w]; ok {
			p.s.setRoute(p, w, nil)
			changed = true
		}
	}
	// A loop holds this speaker's AS (RFC 4271 §9.1.2). A path from an
	// external peer, as every peer here is, begins with the peer's AS
	// (RFC 4271 §6.3); one that does not, or is empty, is treated as a
	// withdrawal (RFC 7606 §7.2), not a route of the peer's that would
	// look originated by this speaker when passed on.
	loop := wire.HasAS(u.ASPath, p.s.cfg.AS) || !startsWith(u.ASPath, p.cfg.AS)
	// RFC 4271 §6.3: a NEXT_HOP that is the receiving speaker's address
	// is semantically incorrect: the route is ignored (and logged), the
	// session stays. The peer's earlier route to the prefix, which this
	// one replaces, goes. The next hop is in the peer's space: seen
	// through its Import (NAT), as its prefixes are.
	self := len(u.NLRI) > 0 && p.s.isOwn(p.cfg.imported(netip.PrefixFrom(u.NextHop, 32)).Addr())
	if self {
		p.selfHops.Count(len(u.NLRI))
	}
	for _, n := range u.NLRI {
		if loop || self {
			if _, ok := p.rib[n]; ok {
				p.s.setRoute(p, n, nil)
				changed = true
			}
			continue
		}
		r := Route{Prefix: p.cfg.imported(n), Peer: p.cfg.Name, PeerAddr: p.cfg.Addr, NextHop: u.NextHop, ASPath: u.ASPath, Origin: u.Origin, MED: u.MED, Aggregator: u.Aggregator, Transitive: u.Transitive, peerID: id}
		if old, ok := p.rib[n]; !ok || pathKey(old) != pathKey(r) {
			p.s.setRoute(p, n, &r)
			changed = true
		}
	}
	if len(p.rib) > MaxPrefixes {
		// RFC 4486 §4: the data may say which address family, AFI 1 and
		// SAFI 1 (IPv4 unicast), and the bound.
		data := binary.BigEndian.AppendUint32([]byte{0, 1, 1}, MaxPrefixes)
		return changed, &wire.Error{Code: wire.CodeCease, Subcode: wire.SubMaxPrefixes, Reason: fmt.Sprintf("the peer announced more than %d prefixes", MaxPrefixes), Data: data}
	}
	return changed, nil
}

// logMalformed logs an UPDATE whose routes were treated as withdrawn for
// err, once a minute at most; the others are counted in the next line.
func (p *peer) logMalformed(err error) {
	p.s.mu.Lock()
	p.malformedLog.Count(1)
	n, log := p.malformedLog.Due()
	p.s.mu.Unlock()
	if log {
		p.s.log.Info("BGP UPDATEs with a malformed attribute: their routes are treated as withdrawn", "peer", p.cfg.Addr, "updates", n, "err", err)
	}
}

// logSelfHops logs the routes ignored for their NEXT_HOP (apply), once a
// minute at most; the others are counted in the next line.
func (p *peer) logSelfHops(nextHop netip.Addr) {
	p.s.mu.Lock()
	n, log := p.selfHops.Due()
	p.s.mu.Unlock()
	if log {
		p.s.log.Warn("BGP routes with this speaker's address as their NEXT_HOP ignored", "peer", p.cfg.Addr, "next_hop", nextHop, "routes", n)
	}
}

// advertise sends what changed between what the peer was sent and want:
// withdrawals, then announcements grouped by their attributes.
func (c *conn) advertise() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.p.s.mu.Lock()
	if c.p.established != c {
		c.p.s.mu.Unlock()
		return
	}
	// Everything when the session is new or the configuration changed,
	// else the prefixes whose best route changed.
	s := c.p.s
	var want map[netip.Prefix]Route
	var gone []netip.Prefix
	if c.full {
		want = s.exportTo(c.p)
		for pfx := range c.out {
			if _, ok := want[pfx]; !ok {
				gone = append(gone, pfx)
			}
		}
	} else {
		want = map[netip.Prefix]Route{}
		networks := s.exportNetworks(c.p)
		for pfx := range c.dirty {
			if r, ok := s.exportOne(c.p, pfx, networks); ok {
				want[pfx] = r
			} else if _, sent := c.out[pfx]; sent {
				gone = append(gone, pfx)
			}
		}
	}
	refresh := c.refresh
	c.full, c.refresh = false, false
	clear(c.dirty)
	c.p.s.mu.Unlock()
	groups := map[unique.Handle[string]][]netip.Prefix{}
	attrs := map[unique.Handle[string]]Route{}
	for pfx, r := range want {
		k := unique.Make(pathKey(r))
		if refresh || c.out[pfx] != k {
			groups[k] = append(groups[k], pfx)
			attrs[k] = r
		}
	}
	slices.SortFunc(gone, netip.Prefix.Compare)
	b := batch{c: c}
	defer b.flush()
	for chunk := range slices.Chunk(gone, wire.MaxPrefixesPerUpdate) {
		if !b.update(wire.Update{Withdrawn: chunk}) {
			return
		}
		for _, pfx := range chunk {
			delete(c.out, pfx)
		}
	}
	byPath := func(a, b unique.Handle[string]) int { return strings.Compare(a.Value(), b.Value()) }
	for _, k := range slices.SortedFunc(maps.Keys(groups), byPath) {
		ps, r := groups[k], attrs[k]
		slices.SortFunc(ps, netip.Prefix.Compare)
		// The UPDATE without its NLRI: the first prefix's bytes taken
		// off again (RFC 4271 §4.3: a length byte, then its octets).
		one, err := r.update(ps[:1]).Append(nil, c.fourOctet)
		if err != nil {
			b.fail(err)
			return
		}
		// It fits with one prefix at least (exportOne).
		room := wire.MaxLen - wire.HeaderLen - (len(one) - nlriLen(ps[0]))
		for chunk := range chunkNLRI(ps, room) {
			if !b.update(r.update(chunk)) {
				return
			}
			for _, pfx := range chunk {
				c.out[pfx] = k
			}
		}
	}
}

// update is the UPDATE that announces nlri with r's attributes.
func (r Route) update(nlri []netip.Prefix) wire.Update {
	return wire.Update{Origin: r.Origin, ASPath: r.ASPath, NextHop: r.NextHop, Aggregator: r.Aggregator, Transitive: r.Transitive, NLRI: nlri}
}

// nlriLen is how many bytes prefix p takes in an UPDATE's NLRI.
func nlriLen(p netip.Prefix) int { return 1 + (p.Bits()+7)/8 }

// chunkNLRI splits ps into runs whose NLRI takes at most room bytes
// (each at most wire.MaxPrefixesPerUpdate long): an UPDATE is at most
// 4096 bytes (RFC 4271 §4), and a peer resets the session on a longer.
func chunkNLRI(ps []netip.Prefix, room int) func(func([]netip.Prefix) bool) {
	return func(yield func([]netip.Prefix) bool) {
		start, used := 0, 0
		for i, p := range ps {
			if n := nlriLen(p); used+n > room || i-start == wire.MaxPrefixesPerUpdate {
				if !yield(ps[start:i:i]) {
					return
				}
				start, used = i, 0
			}
			used += nlriLen(p)
		}
		if start < len(ps) {
			yield(ps[start:])
		}
	}
}

// resend answers a ROUTE-REFRESH: everything again.
func (c *conn) resend() {
	c.p.s.mu.Lock()
	c.full, c.refresh = true, true
	c.p.s.mu.Unlock()
	c.p.s.advertiseAll()
}

// sender sends the session its announcements whenever kicked, until quit.
// Changes that come while it sends wait for its next round, together: a
// burst of UPDATEs costs a few rounds, not one each.
func (c *conn) sender(quit <-chan struct{}) {
	for {
		select {
		case <-quit:
			return
		case <-c.kick:
			c.advertise()
		}
	}
}

// pathKey identifies a route's attributes.
func pathKey(r Route) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %v", r.Origin, r.NextHop)
	for _, s := range r.ASPath {
		fmt.Fprintf(&b, " %t%v", s.Set, s.ASNs)
	}
	if r.MED != 0 {
		fmt.Fprintf(&b, " med %d", r.MED)
	}
	if a := r.Aggregator; a.AS != 0 {
		fmt.Fprintf(&b, " aggregator %d %v %t", a.AS, a.Addr, a.Partial)
	}
	if r.Transitive != "" {
		fmt.Fprintf(&b, " %d:%s", len(r.Transitive), r.Transitive)
	}
	return b.String()
}

// startsWith reports whether AS path path begins with as: its first
// segment is a sequence whose first AS is as. A peer of a four-octet AS
// has a session of four-octet paths (in a two-octet one its OPEN says
// AS_TRANS, not its AS, and is refused), and a two-octet peer's path is
// merged with its AS4_PATH (RFC 6793 §4.2.3): AS_TRANS is no peer's AS.
func startsWith(path []wire.Segment, as uint32) bool {
	if len(path) == 0 || path[0].Set || len(path[0].ASNs) == 0 {
		return false
	}
	return path[0].ASNs[0] == as
}
