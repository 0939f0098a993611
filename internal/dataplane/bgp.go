package dataplane

import (
	"log/slog"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/bgp"
	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/gateway"
)

// speaker is a gateway instance's running BGP speaker: a userspace TCP/IP
// endpoint at the peering address (and the instance's APIPA addresses), on
// the VNet's router, and the speaker on it.
type speaker struct {
	cfg GatewayBGP
	ep  *fabric.NetstackHost
	s   *bgp.Speaker
	// apipa are the APIPA addresses ep has and the speaker listens at
	// (listenAtAPIPA).
	apipa map[netip.Addr]bool
}

// configureBGP starts, reconfigures or stops the instance's speaker.
func (e *Engine) configureBGP(g *gw) {
	want := g.cfg.BGP
	if g.bgp != nil && want != nil && want.Addr == g.bgp.cfg.Addr && !slices.Equal(want.APIPA, g.bgp.cfg.APIPA) {
		// Other APIPA addresses: the speaker listens at those, and
		// only the sessions whose own local address changed start
		// again (bgp.Speaker.Reconfig), not every one.
		if err := g.bgp.listenAtAPIPA(want.APIPA); err != nil {
			e.log.Error("BGP speaker's APIPA addresses: starting it anew", "gateway", g.cfg.key(), "err", err)
			e.retireSpeaker(g, g.bgp)
			g.bgp = nil
		}
	}
	if g.bgp != nil && (want == nil || want.Addr != g.bgp.cfg.Addr) {
		e.retireSpeaker(g, g.bgp)
		g.bgp = nil
	}
	if want == nil {
		return
	}
	if g.bgp == nil {
		if !want.Addr.Is4() {
			// Its BGP identifier: 4 octets (RFC 4271 §4.2); the API takes
			// no other.
			e.log.Error("BGP speaker not started: its peering address is no IPv4 address", "gateway", g.cfg.key(), "addr", want.Addr)
			return
		}
		sp, err := e.startSpeaker(g)
		if err != nil {
			e.log.Error("BGP speaker not started", "gateway", g.cfg.key(), "addr", want.Addr, "err", err)
			return
		}
		g.bgp = sp
	}
	if reflect.DeepEqual(g.bgp.cfg, *want) {
		return
	}
	g.bgp.cfg = *want
	cfg := bgp.Config{AS: want.AS, ID: want.Addr, Networks: want.Networks}
	for _, p := range want.Peers {
		cfg.Peers = append(cfg.Peers, bgp.Peer{Name: p.Connection, Addr: p.Addr, AS: p.AS, Networks: p.Networks, Import: p.Import, Local: p.Local})
	}
	// Before the new peers start: one behind a connection not up yet
	// waits for its tunnel, not dialled into one that carries nothing.
	e.tellReachable(g)
	g.bgp.s.Reconfig(cfg)
}

// tunnelDownGrace is how long a connection may have no tunnel up at a
// gateway instance before the sessions of its BGP peers there end: a
// break-before-make reauthentication (strongSwan's default), or a child
// SA that hard-expires just before its replacement is installed, leaves
// a tunnel without a child SA for a moment, which a router's BGP session
// over a tunnel interface does not notice either; the session and its
// routes stay. A tunnel that stays down takes its peers' routes with it
// this much later than it went, still well within a hold time (90 s by
// default), so another tunnel's or site's routes take over that much
// later too.
const tunnelDownGrace = 3 * time.Second

// tellReachable tells the instance's speaker which of its connections
// have had no tunnel up at the instance for grace: the peers behind them
// cannot be reached, and their sessions end with their routes, as a
// router's BGP session over a tunnel interface that went down does; they
// are dialled again when a tunnel of the connection is up
// (bgp.Speaker.SetUnreachable). One whose tunnels went down less than
// grace ago is still reachable; tellReachable returns when the first
// such grace ends (the zero time if none runs), to be called again then.
// One that has had no tunnel up since the speaker started is unreachable
// at once: its peers are not dialled into a tunnel that carries nothing.
func (g *gw) tellReachable(now time.Time, grace time.Duration, log *slog.Logger) (again time.Time) {
	if g.bgp == nil || g.gw == nil {
		g.tunnelsUp, g.tunnelsLost = nil, nil
		return time.Time{}
	}
	up := map[string]bool{}
	for _, c := range g.cfg.Connections {
		// The connection's own tunnel or a standby one (to another
		// instance of an active-active peer).
		if g.gw.Engine().Up(c.tunnelName()) {
			up[c.ID] = true
		}
	}
	lost := map[string]time.Time{}
	var down []string
	for _, c := range g.cfg.Connections {
		id := c.ID
		if _, held := lost[id]; up[id] || held || slices.Contains(down, id) {
			continue
		}
		since, ok := g.tunnelsLost[id]
		if g.tunnelsUp[id] {
			since, ok = now, true
			log.Debug("BGP peers held: the tunnels of their connection are down; their sessions end unless one is up again within the grace", "gateway", g.cfg.key(), "conn", id, "grace", grace)
		}
		if end := since.Add(grace); ok && now.Before(end) {
			lost[id] = since
			if again.IsZero() || end.Before(again) {
				again = end
			}
			continue
		}
		down = append(down, id)
	}
	g.tunnelsUp, g.tunnelsLost = up, lost
	g.bgp.s.SetUnreachable(down)
	return again
}

// tellReachable has gateway g tell its speaker which of its connections'
// peers cannot be reached, and, while a connection's grace runs, has
// watchBGP look again when it ends. e.mu is held.
func (e *Engine) tellReachable(g *gw) {
	if !g.tellReachable(time.Now(), e.opts.tunnelDownGrace, e.log).IsZero() {
		e.childrenChanged() // watchBGP sets its timer
	}
}

// childrenChanged is called by the gateways when a child SA pair was
// installed or removed.
func (e *Engine) childrenChanged() {
	select {
	case e.childKick <- struct{}{}:
	default:
	}
}

func (e *Engine) startSpeaker(g *gw) (*speaker, error) {
	addr := g.cfg.BGP.Addr
	ep, err := fabric.NewNetstackEndpoint("bgp "+g.cfg.key(), addr, 0, g.toRouter)
	if err != nil {
		return nil, err
	}
	l, err := ep.ListenOn(addr, bgp.Port)
	if err != nil {
		ep.Close()
		return nil, err
	}
	s := bgp.New(bgp.Options{Logger: e.log.With("gateway", g.cfg.key(), "bgp", addr), Dial: ep.DialFrom, OnChange: e.bgpChanged})
	s.Serve(l)
	sp := &speaker{cfg: GatewayBGP{Addr: addr}, ep: ep, s: s, apipa: map[netip.Addr]bool{}}
	if err := sp.listenAtAPIPA(g.cfg.BGP.APIPA); err != nil {
		sp.close()
		return nil, err
	}
	e.log.Info("BGP speaker started", "gateway", g.cfg.key(), "addr", addr, "as", g.cfg.BGP.AS)
	return sp, nil
}

// listenAtAPIPA has the speaker listen at the APIPA addresses as too,
// each once (a custom APIPA address listed twice, as the API takes the
// list as given, would fail the second AddAddress), and records them in
// its configuration, which the VNet's routes to it follow. One no longer
// listed keeps its listener, unreached: a session that peered from it
// may still be sending its Cease from there, and the port of a listener
// closed stays taken while connections it accepted linger, so that the
// address given again could not be listened at.
func (sp *speaker) listenAtAPIPA(as []netip.Addr) error {
	for _, a := range as {
		if sp.apipa[a] || a == sp.cfg.Addr {
			continue
		}
		if err := sp.ep.AddAddress(a); err != nil {
			return err
		}
		l, err := sp.ep.ListenOn(a, bgp.Port)
		if err != nil {
			return err
		}
		sp.s.Serve(l)
		sp.apipa[a] = true
	}
	sp.cfg.APIPA = slices.Clone(as)
	return nil
}

func (sp *speaker) close() {
	sp.s.Close() // tells the peers (Cease)
	sp.ep.Close()
}

// bgpChanged is called by the speakers when their best routes change.
func (e *Engine) bgpChanged() {
	select {
	case e.bgpKick <- struct{}{}:
	default:
	}
}

// watchBGP installs the speakers' routes whenever they change, and tells
// them whenever a tunnel may have come up or gone down, or the grace of
// one that went down ends (tunnelDownGrace).
func (e *Engine) watchBGP() {
	look := time.NewTimer(0)
	look.Stop()
	defer look.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-e.childKick:
		case <-look.C:
		case <-e.bgpKick:
			e.mu.Lock()
			if !e.closed {
				for _, g := range e.gateways {
					if g.bgp != nil {
						e.installConnections(g)
					}
				}
				e.setRoutes()
			}
			e.mu.Unlock()
			continue
		}
		var next time.Time
		e.mu.Lock()
		if !e.closed {
			now := time.Now()
			for _, g := range e.gateways {
				if at := g.tellReachable(now, e.opts.tunnelDownGrace, e.log); !at.IsZero() && (next.IsZero() || at.Before(next)) {
					next = at
				}
			}
		}
		e.mu.Unlock()
		if next.IsZero() {
			look.Stop()
		} else {
			look.Reset(time.Until(next))
		}
	}
}

// withLearned adds the speaker's best routes to the tunnels of the
// connections they came from, and returns the prefixes it added.
func (g *gw) withLearned(conns []gateway.Connection) []netip.Prefix {
	if g.bgp == nil {
		return nil
	}
	return addLearned(conns, g.bgp.s.Best(), g.bgp.cfg.Networks)
}

// addLearned adds routes to the tunnels of the connections they came
// from (by name: the connection's own tunnel and its standby ones, named
// after it, which carry them while it is down) and returns the prefixes
// it added. A route inside the VNet's ranges (networks), or whose prefix
// a connection holds statically, is left out: the VNet and static ranges
// win (R41); so is one of a connection that chooses its SA by selectors.
// A route that covers the VNet (10.0.0.0/8 around 10.1.0.0/16) is
// installed: the VNet's hosts are more specific.
func addLearned(conns []gateway.Connection, routes []bgp.Route, networks []netip.Prefix) []netip.Prefix {
	static := map[netip.Prefix]bool{}
	byName := map[string][]int{}
	for i, c := range conns {
		name, _, _ := strings.Cut(c.Peer.Name, "#") // a standby tunnel's (Connection.tunnelName)
		byName[name] = append(byName[name], i)
		for _, p := range c.Routes {
			static[p.Masked()] = true
		}
	}
	var added []netip.Prefix
	own := map[int]bool{} // the connections whose Routes this has copied
	routes = slices.Clone(routes)
	slices.SortFunc(routes, func(a, b bgp.Route) int { return a.Prefix.Compare(b.Prefix) })
	for _, r := range routes {
		is := byName[r.Peer]
		inside := slices.ContainsFunc(networks, func(n netip.Prefix) bool { return n.Bits() <= r.Prefix.Bits() && n.Contains(r.Prefix.Addr()) })
		if len(is) == 0 || static[r.Prefix] || inside || conns[is[0]].PolicyBased {
			continue
		}
		for _, i := range is {
			if !own[i] {
				// The first added route copies the connection's static
				// ones, which its caller's configuration shares.
				conns[i].Routes, own[i] = slices.Clip(conns[i].Routes), true
			}
			conns[i].Routes = append(conns[i].Routes, r.Prefix)
		}
		added = append(added, r.Prefix)
	}
	return added
}

// BGP returns the speakers of gateway id's instances, for the API.
func (e *Engine) BGP(id string) []*bgp.Speaker {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*bgp.Speaker
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		if g := e.gateways[key]; g.cfg.ID == id && g.bgp != nil {
			out = append(out, g.bgp.s)
		}
	}
	return out
}

// LearnedPrefixes returns the prefixes gateway id's instances learned over
// BGP and route into their tunnels, sorted.
func (e *Engine) LearnedPrefixes(id string) []netip.Prefix {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []netip.Prefix
	for _, g := range e.gateways {
		if g.cfg.ID == id {
			out = append(out, g.learned...)
		}
	}
	slices.SortFunc(out, netip.Prefix.Compare)
	return slices.Compact(out)
}
