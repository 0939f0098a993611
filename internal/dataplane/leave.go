package dataplane

import (
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/vnetgw/vnetgw/internal/fabric"
)

// A gateway instance removed by Reconfig, and a BGP speaker replaced by
// it, stop in the background: each may wait seconds for its peers (an
// IKE SA's Delete, a BGP Cease to a peer that reads nothing, the drain of
// the gateway's port), while e.mu, which every other gateway's and VNet's
// reconfiguration and the status reads take, is held. Before it is left
// to stop, it is detached under e.mu: gone from e.gateways (no route of
// the VNet's leads to it, no later Reconfig reaches it), its endpoints'
// way to the VNet's router (a relay) pointed at an island of its own. What
// it still holds, its public address and ports, and a replaced speaker's
// addresses on the VNet's router, is recorded in e.leaving until it has
// stopped: a gateway to start on that public address waits for it (not
// under e.mu: Retry starts it once the stop has ended). A
// gateway whose VNet is lost (Config.Lost) lets go of its address and
// sockets as it is detached.

// relay is a Forwarder that can be pointed elsewhere: an instance's
// attachments (its gateway port, point-to-site server, BGP speaker and
// RADIUS endpoint) send to the VNet's router through one, and to the
// instance's island once it is detached.
type relay struct{ to atomic.Pointer[forwarder] }

type forwarder struct{ fabric.Forwarder }

func newRelay(f fabric.Forwarder) *relay {
	r := &relay{}
	r.set(f)
	return r
}

func (r *relay) set(f fabric.Forwarder) { r.to.Store(&forwarder{f}) }

func (r *relay) Forward(pkt []byte) { r.to.Load().Forward(pkt) }

func (r *relay) ForwardBatch(bufs [][]byte, offset int) { r.to.Load().ForwardBatch(bufs, offset) }

// FragmentationNeeded has the VNet router's ingress answer the sender of
// a packet too long for a point-to-site client with ICMP Fragmentation
// Needed (RFC 1191 §4); an island does not answer.
func (r *relay) FragmentationNeeded(pkt []byte, mtu int) {
	if f, ok := r.to.Load().Forwarder.(interface{ FragmentationNeeded([]byte, int) }); ok {
		f.FragmentationNeeded(pkt, mtu)
	}
}

// intoPort forwards everything to a gateway's port: into its tunnels.
type intoPort struct{ p *fabric.GatewayPort }

func (t intoPort) Forward(pkt []byte) { t.p.Deliver(pkt) }

func (t intoPort) ForwardBatch(bufs [][]byte, offset int) { t.p.DeliverBatch(bufs, offset) }

// leaving is what a stop in the background still holds.
type leaving struct {
	vnet string
	// public is a stopping instance's public address (its IKE, NAT-T and
	// SSTP sockets, its address on PublicInterface); invalid for a
	// replaced speaker.
	public netip.Addr
	// sp is a replaced BGP speaker, which still takes what comes to its
	// addresses on the VNet's router while no other holds them (its
	// peer's end of the connection).
	sp   *speaker
	done chan struct{}
}

func (l *leaving) stopped() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// leave detaches gs and stops them in the background. e.mu is held.
func (e *Engine) leave(gs []*gw) {
	if len(gs) == 0 {
		return
	}
	for _, g := range gs {
		if g.port != nil && g.toVNet != nil {
			// Its island: what its tunnels bring reaches its own speaker
			// and RADIUS endpoint only (the peer's end of the BGP
			// connection); what those send goes into its tunnels (the
			// Cease), not through the VNet's routes, which no longer lead
			// to it.
			island := fabric.NewRouter()
			var rs []fabric.Route
			if g.bgp != nil {
				for _, a := range append([]netip.Addr{g.bgp.cfg.Addr}, g.bgp.cfg.APIPA...) {
					rs = append(rs, fabric.Route{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: g.bgp.ep})
				}
			}
			if g.radiusEP != nil {
				a := g.radiusEP.Addr()
				rs = append(rs, fabric.Route{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: g.radiusEP})
			}
			island.SetRoutes(rs)
			g.toVNet.set(island)
			g.toRouter.set(intoPort{g.port})
		}
		if g.lost {
			// Another node may add this address and bind these
			// sockets once the node's lease ends: they go now, not
			// after the waits of the stop.
			e.releaseAddr(g)
			if g.gw != nil {
				g.gw.CloseSockets()
			}
		}
		g.stopped = make(chan struct{})
		e.leaving = append(e.leaving, &leaving{vnet: g.cfg.VNet, public: g.cfg.PublicAddr, done: g.stopped})
	}
	e.closing.Go(func() {
		if e.opts.leaveHook != nil {
			e.opts.leaveHook()
		}
		e.stopGateways(gs)
	})
}

// retireSpeaker closes a replaced speaker in the background. e.mu is held.
func (e *Engine) retireSpeaker(g *gw, sp *speaker) {
	l := &leaving{vnet: g.cfg.VNet, sp: sp, done: make(chan struct{})}
	e.leaving = append(e.leaving, l)
	e.closing.Go(func() {
		defer e.stopEnded()
		defer close(l.done)
		if e.opts.leaveHook != nil {
			e.opts.leaveHook()
		}
		sp.close()
	})
}

// pruneLeaving forgets what has stopped. e.mu is held.
func (e *Engine) pruneLeaving() {
	e.leaving = slices.DeleteFunc(e.leaving, (*leaving).stopped)
}

// heldBy returns the done channel of a stop in the background that still
// holds addr, or nil. A gateway to start on addr waits for it (Retry
// starts it once it is closed) rather than the Reconfig under e.mu: that
// froze every other gateway's reconfiguration and the status reads for
// as long as the stop waited for its peers. e.mu is held.
func (e *Engine) heldBy(addr netip.Addr) <-chan struct{} {
	for _, l := range e.leaving {
		if l.public == addr && !l.stopped() {
			return l.done
		}
	}
	return nil
}

// stopEnded closes the channel Stopping handed out: a stop in the
// background has ended.
func (e *Engine) stopEnded() {
	e.endedMu.Lock()
	defer e.endedMu.Unlock()
	if e.ended != nil {
		close(e.ended)
		e.ended = nil
	}
}

// Stopping returns the VNets of which a stop in the background is still
// under way (a gateway's, which holds its public address and sockets, or
// a replaced speaker's), and a channel closed when any of them ends, nil
// when none is under way. A node hands a VNet over to another only once
// it is not among them: never two nodes on one public address. A gateway
// waiting for such a stop to free its address starts at the Retry after
// the channel is closed.
func (e *Engine) Stopping() (map[string]bool, <-chan struct{}) {
	// The channel is taken before the stops are looked at: one that ends
	// in between closes it.
	e.endedMu.Lock()
	if e.ended == nil {
		e.ended = make(chan struct{})
	}
	ended := e.ended
	e.endedMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pruneLeaving()
	vnets := map[string]bool{}
	for _, l := range e.leaving {
		vnets[l.vnet] = true
	}
	if len(vnets) == 0 {
		return vnets, nil
	}
	return vnets, ended
}
