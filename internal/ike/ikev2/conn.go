package ikev2

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/sparselog"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// packet is a datagram on its way to a peer's loop.
type packet struct {
	local, remote netip.AddrPort
	header        wire.Header
	data          []byte // a copy the loop owns
	// queuedInit: an IKE_SA_INIT request counted in conn.initQueued.
	queuedInit bool
}

// maxReconnectDelay caps the backoff between failed connection attempts.
const maxReconnectDelay = 2 * time.Minute

// Queue bounds of a peer's loop.
const (
	packetQueue = 64 // datagrams waiting for the loop
	// clientPacketQueue is a point-to-site client's: one client sends
	// little at a time, and there may be thousands of them.
	clientPacketQueue = 8
	eventQueue        = 1024 // data path events waiting for the loop
)

// conn is one configured peer and the loop that owns its IKE SAs.
type conn struct {
	m    *Manager
	name string
	log  *slog.Logger

	// packets holds pointers: a buffer of packetQueue packets by value
	// is some 9 KiB, which every configured connection held from its
	// start (90 MiB at 10,000), whether or not a datagram ever waited.
	packets chan *packet
	wake    chan struct{} // cap 1: the queue below has work
	// halfOpen counts this peer's responder IKE SAs between IKE_SA_INIT
	// and IKE_AUTH, initQueued its IKE_SA_INIT requests not yet handled;
	// the Manager reads both to ask for cookies.
	halfOpen, initQueued atomic.Int64
	done                 chan struct{} // closed when the loop returns

	mu     sync.Mutex // guards queue and events
	queue  []func()
	events int // queued functions that came from data path events

	// Everything below is owned by the loop.
	cfg         PeerConfig
	sas         []*ikeSA // newest first
	reconnectAt time.Time
	// backoff is the wait before the next reconnection; it doubles after
	// each failed one and is reset when an IKE SA is established.
	backoff time.Duration
	exit    bool
	// idle: the SAs were removed for idleness (Manager.Idle); nothing is
	// initiated until traffic asks (Acquire) or the peer authenticates an
	// IKE SA it initiated.
	idle bool
	// lastError describes the last failure, for Status.
	lastError string
	// silence counts our IKE_SA_INIT requests the peer has not answered,
	// over the tries, and says so in lastError.
	silence Silence
	// authLines counts the authentication failures logged since the last
	// IKE SA established, by line (authFailed).
	authLines map[string]*sparselog.Log
	// client is set for a point-to-site client's connection, which ends
	// with its last IKE SA.
	client *clientState
	// stopping: the loop ends once the IKE SAs are gone (stop); nothing
	// new is started meanwhile.
	stopping bool
	// lingering are the inbound SPIs of drained child SA pairs whose IKE
	// SA has ended, and when each leaves the data path.
	lingering []lingering
}

// lingering is a drained child SA pair (ikeSA.drainChild) that still
// opens what the peer sent with it until a time.
type lingering struct {
	inSPI uint32
	until time.Time
}

// drainWait is how long a drained child SA pair still opens what the peer
// sent with it once its IKE SA has ended: packets on their way then, and
// those the peer's data path sealed before its IKE loop took its half
// out, which may be read after the IKE message that did (ESP and IKE
// come through sockets read apart), still arrive.
const drainWait = 2 * time.Second

// linger removes the drained pair with inbound SPI spi after drainWait.
func (c *conn) linger(spi uint32) {
	c.lingering = append(c.lingering, lingering{inSPI: spi, until: time.Now().Add(drainWait)})
}

// endLingering removes the drained pairs whose time is up at now, all of
// them if all is set.
func (c *conn) endLingering(now time.Time, all bool) {
	c.lingering = slices.DeleteFunc(c.lingering, func(l lingering) bool {
		if !all && now.Before(l.until) {
			return false
		}
		c.m.cfg.Dataplane.RemoveChild(c.name, l.inSPI)
		c.m.releaseSPIs(0, l.inSPI)
		c.log.Debug("drained child SA removed", "spi_in", spiString(l.inSPI))
		return true
	})
}

func newConn(m *Manager, p PeerConfig, queue int) *conn {
	return &conn{
		m:       m,
		name:    p.Name,
		log:     m.log.With("peer", p.Name),
		packets: make(chan *packet, queue),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		cfg:     p,
	}
}

// deliver hands a datagram to the loop, dropping it when the loop is busy.
func (c *conn) deliver(p packet) {
	if p.queuedInit {
		c.initQueued.Add(1)
	}
	select {
	case c.packets <- &p:
	default:
		c.m.stats.queueFull.Add(1)
		if p.queuedInit {
			c.initQueued.Add(-1)
		}
	}
}

// post runs f on the loop. An event (from the data path) is dropped when
// eventQueue of them wait already; commands are never dropped.
func (c *conn) post(event bool, f func()) {
	c.mu.Lock()
	if event {
		if c.events >= eventQueue {
			c.mu.Unlock()
			c.m.stats.queueFull.Add(1)
			return
		}
		c.events++
		g := f
		f = func() {
			c.mu.Lock()
			c.events--
			c.mu.Unlock()
			g()
		}
	}
	c.queue = append(c.queue, f)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// do runs f on the loop and waits for it; it reports false if the loop has
// ended.
func (c *conn) do(f func()) bool {
	ran := make(chan struct{})
	c.post(false, func() { f(); close(ran) })
	select {
	case <-ran:
		return true
	case <-c.done:
		return false
	}
}

// stop tells the loop to delete the IKE SAs, telling the peer, and to end;
// it does not wait (c.done is closed when the loop has ended).
func (c *conn) stop() {
	if c.client != nil && c.client.cancel != nil {
		c.client.cancel() // a RADIUS round the loop waits in ends
	}
	c.post(false, c.stopLoop)
}

// stopLoop deletes the IKE SAs and ends the loop once they are gone: at
// once, or when the Deletes that wait for an outstanding request went out
// (ikeSA.shutdown).
func (c *conn) stopLoop() {
	c.stopping = true
	c.reconnectAt = time.Time{}
	c.shutdown()
}

// closeAll stops conns at once and waits for them all.
func closeAll(conns []*conn) {
	for _, c := range conns {
		c.stop()
	}
	for _, c := range conns {
		<-c.done
	}
}

// stopAll stops conns at once and returns when each has taken its child
// SAs out of the data path and sent its Deletes, or left a Delete to wait
// for the answer to a request of ours (ikeSA.shutdown): it does not wait
// for silent peers, up to shutdownWait each. The loops end in the
// background; Manager.Close waits for them (Manager.wg).
func stopAll(conns []*conn) {
	for _, c := range conns {
		c.stop()
	}
	for _, c := range conns {
		c.do(func() {}) // after stopLoop
	}
}

// status returns a snapshot of the peer.
func (c *conn) status() (PeerStatus, bool) {
	var s PeerStatus
	ok := c.do(func() { s = c.snapshot() })
	return s, ok
}

// run is the loop.
func (c *conn) run() {
	defer close(c.done)
	defer c.endLingering(time.Time{}, true)
	if c.client != nil {
		defer c.endClient()
	}
	if c.cfg.Mode.initiates() {
		c.initiate()
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for !c.exit {
		if d, ok := c.nextDeadline(); ok {
			timer.Reset(max(time.Until(d), 0))
		} else {
			timer.Stop()
		}
		select {
		case p := <-c.packets:
			c.handle(*p)
		case <-c.wake:
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			c.mu.Unlock()
			for _, f := range q {
				f()
			}
		case <-timer.C:
		}
		c.tick(time.Now())
		c.reap()
		if c.stopping && len(c.sas) == 0 {
			c.exit = true
		}
	}
}

// nextDeadline returns the earliest time something is due.
func (c *conn) nextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(c.reconnectAt)
	for _, l := range c.lingering {
		consider(l.until)
	}
	for _, sa := range c.sas {
		sa.deadlines(consider)
	}
	return next, !next.IsZero()
}

// tick runs whatever is due.
func (c *conn) tick(now time.Time) {
	c.endLingering(now, false)
	if !c.reconnectAt.IsZero() && !now.Before(c.reconnectAt) {
		c.reconnectAt = time.Time{}
		if !c.connecting() {
			c.initiate()
		}
	}
	for _, sa := range slices.Clone(c.sas) {
		if sa.state != stateDead {
			sa.tick(now)
		}
	}
}

// reap removes dead IKE SAs and schedules a new one if this side
// initiates and nothing is up or on its way.
func (c *conn) reap() {
	alive := c.sas[:0]
	peerDeleted := false
	for _, sa := range c.sas {
		if sa.state == stateDead {
			peerDeleted = peerDeleted || sa.deletedByPeer
			sa.release()
			continue
		}
		alive = append(alive, sa)
	}
	clear(c.sas[len(alive):])
	c.sas = alive
	if c.client != nil {
		if len(c.sas) == 0 {
			// Gone: its address and tunnel go back now, not when the loop
			// has ended (endClient), which DisconnectClient does not wait
			// for.
			c.releaseClient()
			c.exit = true // a client that is gone connects anew
			return
		}
		if !c.clientAuthenticated() {
			// Its last authenticated IKE SA ended; what is left is half
			// open (a new IKE_SA_INIT at its endpoint, maybe spoofed).
			c.releaseClient()
		}
	}
	if c.cfg.OnDemand && peerDeleted && !c.exit && !c.stopping && !c.connecting() {
		// The peer removed an on-demand tunnel (for idleness, say):
		// traffic brings it back, not a reconnection now (R8).
		c.log.Info("the peer deleted the on-demand tunnel; it waits for traffic")
		c.idle = true
	}
	if !c.exit && !c.stopping && !c.idle && c.cfg.Mode.initiates() && !c.connecting() && c.reconnectAt.IsZero() {
		c.backoff = min(max(c.backoff*2, c.cfg.ReconnectDelay), max(maxReconnectDelay, c.cfg.ReconnectDelay))
		c.reconnectAt = time.Now().Add(c.backoff)
	}
}

// connecting reports whether an IKE SA is up or being negotiated.
func (c *conn) connecting() bool {
	for _, sa := range c.sas {
		switch sa.state {
		case stateInitSent, stateAuthSent, stateHalfOpen, stateEstablished:
			return true
		}
	}
	return false
}

// established returns the newest established IKE SA, or nil.
func (c *conn) established() *ikeSA {
	for _, sa := range c.sas {
		if sa.state == stateEstablished {
			return sa
		}
	}
	return nil
}

// shutdown deletes every IKE SA, telling the peer (ikeSA.shutdown).
func (c *conn) shutdown() {
	now := time.Now()
	for _, sa := range slices.Clone(c.sas) {
		sa.shutdown(now, "shut down")
	}
	c.reap()
}

// sendWaitingDeletes sends the Deletes of the IKE SAs being shut down
// whose outstanding request was answered (ikeSA.shutdown), and of the SAs
// that answer made (a rekey's).
func (c *conn) sendWaitingDeletes() {
	now := time.Now()
	for _, sa := range slices.Clone(c.sas) {
		if !sa.closeBy.IsZero() && sa.pend == nil && sa.state != stateDead {
			sa.shutdown(now, "shut down")
		}
	}
}

// reconfigure applies a configuration whose SAs are the same as before.
func (c *conn) reconfigure(p PeerConfig) {
	c.cfg = p
	for _, sa := range c.sas {
		sa.reschedule()
	}
	if !p.Mode.initiates() {
		c.reconnectAt = time.Time{} // made ResponderOnly: the try planned is not made
	}
	if p.Mode.initiates() && !c.idle && !c.connecting() && c.reconnectAt.IsZero() {
		c.initiate()
	}
}

// rechild takes p, the peer's configuration with other children than
// c's (a policy-based connection's prefixes added or removed) and the
// same IKE SA (PeerConfig.SameIKE), keeping the IKE SA: a child SA whose
// selectors p still has stays, one whose selectors are gone is deleted,
// telling the peer, and those of p's new children are made as after
// IKE_AUTH, unless the peer is to make them (ResponderOnly). It reports
// false, changing nothing, while a child SA of selectors that are gone
// is being made, or an IKE SA of the connection is retiring as a
// duplicate: both name their selectors by their place among the
// children as they were.
func (c *conn) rechild(p PeerConfig) bool {
	moved := make([]int, len(c.cfg.Children)) // an old child's place in p, or -1
	for i, old := range c.cfg.Children {
		moved[i] = slices.IndexFunc(p.Children, old.equal)
	}
	to := func(i int) int {
		if i < 0 || i >= len(moved) {
			return -1
		}
		return moved[i]
	}
	for _, sa := range c.sas {
		if sa.retired || sa.pendingChild != nil && to(sa.pendingChild.cfgIndex) < 0 {
			return false
		}
	}
	for _, sa := range c.sas {
		if ch := sa.pendingChild; ch != nil {
			ch.cfgIndex = to(ch.cfgIndex)
		}
		var gone []*child
		for _, ch := range sa.children {
			if j := to(ch.cfgIndex); j >= 0 {
				ch.cfgIndex = j
			} else {
				gone = append(gone, ch)
			}
		}
		for _, ch := range gone {
			sa.log.Info("child SA's selectors are no longer configured", sa.logAttrs(), "spi_in", spiString(ch.inSPI),
				"local_ts", prefixes(ch.localTS), "remote_ts", prefixes(ch.remoteTS))
			sa.removeChild(ch)
			sa.home().enqueue(task{kind: taskDeleteChild, child: ch})
		}
		queue := sa.queue[:0]
		for _, t := range sa.queue {
			if t.kind == taskCreateChild {
				if t.index = to(t.index); t.index < 0 {
					continue
				}
			}
			queue = append(queue, t)
		}
		sa.queue = queue
		if retry := sa.childRetry; len(retry) > 0 {
			sa.childRetry = map[int]time.Time{}
			for i, at := range retry {
				if j := to(i); j >= 0 {
					sa.childRetry[j] = at
				}
			}
		}
	}
	c.reconfigure(p)
	if sa := c.established(); sa != nil && p.Mode.initiates() {
		for j := range p.Children {
			if !slices.Contains(moved, j) && !sa.hasChild(j) {
				sa.queueCreateChild(j)
			}
		}
	}
	for _, sa := range c.sas {
		sa.kick()
	}
	return true
}

// goIdle deletes the SAs, telling the peer, and initiates nothing more
// until traffic needs the tunnel.
func (c *conn) goIdle() {
	if c.connecting() {
		c.log.Info("removing idle tunnel")
	}
	c.idle = true
	c.reconnectAt = time.Time{}
	c.shutdown()
}

// softExpired rekeys the child SA whose inbound SPI is spi.
func (c *conn) softExpired(spi uint32) {
	for _, sa := range c.sas {
		if ch := sa.childByIn(spi); ch != nil {
			sa.queueRekeyChild(ch)
			return
		}
	}
}

// hardExpired deletes the child SA whose inbound SPI is spi.
func (c *conn) hardExpired(spi uint32) {
	for _, sa := range c.sas {
		if ch := sa.childByIn(spi); ch != nil {
			sa.log.Warn("child SA hard limit reached", sa.logAttrs(), "spi_in", spiString(spi))
			sa.expireChild(ch)
			sa.kick()
			return
		}
	}
}

// peerMoved follows the peer to remote, where ESP of the child SA with
// inbound SPI spi came from.
func (c *conn) peerMoved(spi uint32, remote netip.AddrPort) {
	for _, sa := range c.sas {
		if sa.childByIn(spi) != nil {
			sa.espFrom(remote)
			return
		}
	}
}

// acquire negotiates a child SA for traffic from src to dst.
func (c *conn) acquire(src, dst netip.Addr) {
	if c.stopping {
		return
	}
	sa := c.established()
	if sa == nil {
		c.idle = false
		if c.cfg.Mode.initiates() && !c.connecting() {
			c.reconnectAt = time.Time{}
			c.initiate()
		}
		return
	}
	for i, cc := range c.cfg.Children {
		if !matches(cc.LocalTS, src) || !matches(cc.RemoteTS, dst) {
			continue
		}
		if !sa.hasChild(i) {
			sa.queueCreateChild(i)
		}
		return
	}
}

func matches(ps []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
}

// snapshot returns the status of the peer.
func (c *conn) snapshot() PeerStatus {
	s := PeerStatus{Name: c.name, Mode: c.cfg.Mode, State: "down", LastError: c.lastError, Idle: c.idle}
	for _, sa := range c.sas {
		if sa.state == stateDead {
			continue
		}
		st := sa.snapshot()
		s.IKESAs = append(s.IKESAs, st)
		switch {
		case sa.state == stateEstablished:
			s.State = "established"
		case s.State == "down" && (sa.state == stateInitSent || sa.state == stateAuthSent || sa.state == stateHalfOpen):
			s.State = "connecting"
		}
	}
	if s.State == "established" {
		s.Pairs = len(c.cfg.Children)
		for i, cc := range c.cfg.Children {
			if !slices.ContainsFunc(c.sas, func(sa *ikeSA) bool { return sa.state != stateDead && sa.hasChild(i) }) {
				s.Down = append(s.Down, cc.String())
			}
		}
	}
	return s
}

// saFor returns the IKE SA a datagram belongs to, or nil.
func (c *conn) saFor(h wire.Header) *ikeSA {
	for _, sa := range c.sas {
		if sa.state == stateDead || sa.spiI != h.SPIi {
			continue
		}
		if sa.spiR == h.SPIr || sa.state == stateInitSent && h.Flags&wire.FlagResponse != 0 {
			return sa
		}
	}
	return nil
}

// handle processes a datagram.
func (c *conn) handle(p packet) {
	h := p.header
	if p.queuedInit {
		c.initQueued.Add(-1)
	}
	if h.Exchange == wire.IKESAInit && h.Flags&wire.FlagResponse == 0 {
		if c.stopping {
			c.m.stats.noPeer.Add(1)
			return
		}
		c.handleInitRequest(p)
		return
	}
	sa := c.saFor(h)
	if sa == nil {
		c.m.stats.unknownSPI.Add(1)
		c.log.Debug("no IKE SA for datagram", "spi_i", fmt.Sprintf("%016x", h.SPIi), "spi_r", fmt.Sprintf("%016x", h.SPIr), "exchange", h.Exchange)
		return
	}
	sa.handle(p)
	c.settleDuplicates()
	if sa.c != c {
		// Handed over to a point-to-site client's connection, whose loop
		// starts now that this one is done with the SA (and ends at once
		// if the client was refused).
		sa.c.reap()
		c.m.runClient(sa.c)
	}
}
