package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pcap"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/seat"
	"github.com/vnetgw/vnetgw/internal/tunnel"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// gw is a realised gateway.
type gw struct {
	cfg       Gateway
	gw        *gateway.Gateway    // nil when it could not start
	port      *fabric.GatewayPort // its side of the VNet router
	addrAdded bool                // its address was added to PublicInterface
	err       error
	failedAt  time.Time           // when it last failed to start, for Retry
	waitFor   <-chan struct{}     // closed when the stop that held its address ends; Retry starts it then
	connErrs  map[string]error    // connections that could not be configured
	activity  map[string]activity // by connection, for the idle watch (R8)
	bgp       *speaker            // nil without BGP
	learned   []netip.Prefix      // the speaker's routes installed in tunnels
	p2s       *p2s.Server         // nil without point-to-site
	p2sCfg    *GatewayP2S         // what p2s runs with
	// p2sFailedAt is when p2s last failed to start (its port taken, say),
	// for Retry; p2sLogged that error, as logged at Error.
	p2sFailedAt time.Time
	p2sLogged   string
	// logged is the error its last start failed with, as logged at
	// Error: a retry that fails alike logs at Debug (it was an ERROR
	// every RetryInterval).
	logged string
	// ikev2Clients: the gateway serves point-to-site clients over IKEv2.
	ikev2Clients bool
	// seats counts its IKEv2 and OpenVPN clients, who share the SKU's
	// limit (R32): p2s and the IKE daemon take and give seats.
	seats seat.Count
	cert  tls.Certificate // presented to point-to-site clients; issued when first needed, renewed by renewCerts
	// self is the endpoint at the instance's private address that asks
	// RADIUS servers (radius.go): the BGP speaker's or radiusEP, its own.
	self     atomic.Pointer[selfEndpoint]
	radiusEP *fabric.NetstackHost
	// radiusFailover is its memory of which of its RADIUS servers
	// answered and which were found dead, for its point-to-site clients
	// of every protocol.
	radiusFailover radius.Failover
	// toVNet is the way of its port and point-to-site server to its
	// subnet's ingress of the VNet's router, toRouter that of its BGP
	// speaker and RADIUS endpoint to the router, preferring its own
	// tunnels (fabric.OwnFirst); both lead to its island once it is
	// detached (leave.go).
	toVNet, toRouter *relay
	// stopped, when set, is closed once a stop in the background ends.
	stopped chan struct{}
	// lost: it stops because its VNet may run on another node already
	// (Config.Lost); its address and sockets went when it was detached.
	lost bool
	// tunnelsUp are its connections (by ID) that had a tunnel up at the
	// instance when tellReachable last looked; tunnelsLost those that
	// had one and have had none since, with when that was first seen:
	// their BGP peers are reachable until the grace after it ends.
	tunnelsUp   map[string]bool
	tunnelsLost map[string]time.Time
}

// parseProposals parses IKE and ESP proposals in strongSwan's syntax.
func parseProposals(ike, esp []string) (ikeOut, espOut []suite.Proposal, err error) {
	for _, s := range ike {
		pr, err := suite.ParseProposal(wire.ProtocolIKE, s)
		if err != nil {
			return nil, nil, fmt.Errorf("IKE proposal %s: %w", s, err)
		}
		ikeOut = append(ikeOut, pr)
	}
	for _, s := range esp {
		pr, err := suite.ParseProposal(wire.ProtocolESP, s)
		if err != nil {
			return nil, nil, fmt.Errorf("ESP proposal %s: %w", s, err)
		}
		espOut = append(espOut, pr)
	}
	return ikeOut, espOut, nil
}

// reconcileGateways starts, reconfigures and stops gateways; the VNets
// they attach to exist already.
func (e *Engine) reconcileGateways(cfg Config) bool {
	changed := false
	want := map[string]Gateway{}
	for _, g := range cfg.Gateways {
		want[g.key()] = g
	}
	var stop []*gw
	for id, g := range e.gateways {
		w, ok := want[id]
		if !ok || w.PublicAddr != g.cfg.PublicAddr || w.VNet != g.cfg.VNet || e.vnets[w.VNet] == nil {
			g.lost = cfg.Lost[g.cfg.VNet]
			stop = append(stop, g)
			delete(e.gateways, id)
			changed = true
		}
	}
	e.leave(stop)
	// Tallies of tunnels no longer configured go: a connection made
	// again under the same name counts from zero, as a new one.
	kept := map[string]bool{}
	conns := map[string]bool{}
	for _, g := range cfg.Gateways {
		for _, c := range g.Connections {
			kept[g.key()+"|"+c.ID+"|"+c.tunnelName()] = true
			conns[c.ID] = true
		}
		for _, proto := range []string{ProtocolSSTP, ProtocolIKEv2, ProtocolOpenVPN} {
			kept["p2s|"+g.key()+"|"+proto] = true
		}
	}
	for key, t := range e.tallies {
		if kept[key] {
			continue
		}
		// A tunnel of a connection that stays (an instance of its
		// gateway, or of an active-active peer, gone): what it carried
		// stays the connection's, whose counters would go down, and
		// the reconcile loop take them for counters started again.
		if parts := strings.Split(key, "|"); len(parts) == 3 && parts[0] != "p2s" && conns[parts[1]] {
			e.retired[parts[1]] = e.retired[parts[1]].plus(t.base.plus(t.last))
		}
		delete(e.tallies, key)
	}
	for id := range e.retired {
		if !conns[id] {
			delete(e.retired, id) // made again, it counts from zero
		}
	}
	for id := range e.captures {
		if !slices.ContainsFunc(cfg.Gateways, func(g Gateway) bool {
			return g.ID == id || slices.ContainsFunc(g.Connections, func(c Connection) bool { return c.ID == id })
		}) {
			// Its gateway or connection is gone from this node (deleted,
			// or its VNet moved): a stop here or there finds none.
			delete(e.captures, id)
			e.log.Warn("packet capture ended, unsaved: what it captured no longer runs on this node", "of", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		wc := want[id]
		g := e.gateways[id]
		if g == nil {
			g = e.startGateway(wc, "")
			e.gateways[id] = g
			changed = true
		} else if !reflect.DeepEqual(g.cfg, wc) {
			changed = true
		}
		g.cfg = wc
		e.configureGateway(g)
	}
	return changed
}

// configureGateway hands a running gateway its BGP speaker and its
// connections.
func (e *Engine) configureGateway(g *gw) {
	if g.gw == nil {
		return
	}
	e.configureBGP(g)
	e.configureRadius(g)
	e.configureP2S(g)
	e.installConnections(g)
}

// installConnections hands the gateway its connections, with the routes
// its BGP speaker learned.
func (e *Engine) installConnections(g *gw) {
	conns, errs := gatewayConnections(g.cfg, e.resolvedAddr)
	g.connErrs = errs
	g.learned = g.withLearned(conns)
	if err := g.gw.Reconfig(conns); err != nil {
		e.log.Error("reconfigure gateway", "gateway", g.cfg.key(), "err", err)
	}
	e.tellReachable(g) // a tunnel removed, or one that could not be configured
	for _, c := range g.cfg.Connections {
		if cp := e.captures[c.ID]; cp != nil {
			g.gw.Engine().SetCapture(c.tunnelName(), cp) // a capture goes on in a tunnel made again
		}
	}
}

// startGateway starts gateway instance c; logged is the error its last
// try failed with and logged ("" for a first try).
func (e *Engine) startGateway(c Gateway, logged string) *gw {
	g := &gw{cfg: c, logged: logged}
	defer func() {
		if g.err != nil {
			g.failedAt = time.Now()
		}
	}()
	v := e.vnets[c.VNet]
	if v == nil {
		g.err = fmt.Errorf("its virtual network %s is not realised", c.VNet)
		return g
	}
	if g.waitFor = e.heldBy(c.PublicAddr); g.waitFor != nil {
		g.err = fmt.Errorf("waiting for the gateway that had its address %s to stop", c.PublicAddr)
		e.log.Info("gateway not started yet: the gateway that had its address still stops", "gateway", c.key(), "addr", c.PublicAddr)
		return g
	}
	if e.opts.PublicInterface != "" {
		args := []string{"addr", "replace", netip.PrefixFrom(c.PublicAddr, c.PublicAddr.BitLen()).String(), "dev", e.opts.PublicInterface}
		if c.PublicAddr.Is6() {
			// Usable at once: an address under duplicate address
			// detection (RFC 4862 §5.4) is tentative, and the gateway's
			// sockets cannot bind it for a second or so. It is on one
			// node at a time (the cluster's claims), as a floating
			// address is.
			args = append(args, "nodad")
		}
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			g.err = fmt.Errorf("adding %s to %s: %v: %s", c.PublicAddr, e.opts.PublicInterface, err, strings.TrimSpace(string(out)))
			e.log.Error("gateway not started", "gateway", c.key(), "err", g.err)
			return g
		}
		g.addrAdded = true
		if err := announce(e.opts.PublicInterface, c.PublicAddr); err != nil {
			e.log.Warn("gratuitous ARP", "addr", c.PublicAddr, "interface", e.opts.PublicInterface, "err", err)
		}
	}
	g.toVNet = newRelay(v.router.Ingress(c.Subnet))
	g.port = fabric.NewGatewayPort(g.toVNet)
	g.port.SetCapture(e.captures[c.ID]) // a capture goes on as an instance starts again
	var inner tunnel.Inner = g.port
	if e.opts.inner != nil {
		inner = e.opts.inner(g.port)
	}
	var innerAddrs []netip.Addr
	if c.PrivateAddr.IsValid() {
		// A packet too long for a tunnel is answered from the instance's
		// address in the GatewaySubnet, as Azure's instance would.
		innerAddrs = append(innerAddrs, c.PrivateAddr)
	}
	g.gw, g.err = gateway.Start(gateway.Options{Local: c.PublicAddr, IKEPort: e.opts.IKEPort, NATTPort: e.opts.NATTPort,
		RawESP: e.opts.RawESP, Inner: inner, InnerAddrs: innerAddrs, Logger: e.log.With("gateway", c.key()), OnChildren: e.childrenChanged})
	if g.err != nil {
		e.logStartFailure(g)
		// Start closed the port: nothing passes it, and a capture of it
		// would record nothing.
		g.port = nil
		e.releaseAddr(g)
		return g
	}
	// Its speaker and RADIUS endpoint send what the VNet routes to the
	// gateway through this instance's tunnels while they carry it.
	g.toRouter = newRelay(fabric.NewOwnFirst(v.router, g.port, g.gw.Engine().Carries))
	e.log.Info("gateway started", "gateway", c.key(), "addr", c.PublicAddr)
	return g
}

// maxStopping bounds the gateways stopGateways stops at once.
const maxStopping = 32

// stopGateways stops gs together, at most maxStopping at once, and
// returns when all have stopped. Each may wait for its peers (an IKE SA's
// Delete for the answer to a request of ours, up to 2 s; a BGP peer that
// reads nothing, up to 10 s): one after another, a stop of many gateways
// whose peers went silent at once (an uplink lost) took the sum of those
// waits.
func (e *Engine) stopGateways(gs []*gw) {
	sem := make(chan struct{}, maxStopping)
	var wg sync.WaitGroup
	for _, g := range gs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			e.stopGateway(g)
		})
	}
	wg.Wait()
}

// stopGateway stops one gateway instance; it touches nothing of the
// engine's but the instance (stopGateways runs several at once).
func (e *Engine) stopGateway(g *gw) {
	if g.lost {
		// Its point-to-site clients connect to the node that takes the
		// VNet over: they are let go before the BGP speaker's wait.
		g.closeP2S()
	}
	if g.bgp != nil {
		g.bgp.close()
		g.bgp = nil
	}
	g.closeP2S()
	g.self.Store(nil)
	if g.radiusEP != nil {
		g.radiusEP.Close()
		g.radiusEP = nil
	}
	if g.gw != nil {
		// What the VNet sent the gateway until now (the speaker's Cease
		// and its connection's end, the RSTs of its stack's close) goes
		// through the tunnels before they go.
		// A lost gateway's tunnels send nothing: its sockets are closed.
		if !g.lost {
			ctx, cancel := context.WithTimeout(context.Background(), drainWait)
			g.port.Drain(ctx)
			cancel()
		}
		g.gw.Close() // deletes the IKE SAs at the peers
		g.port.LogRest(e.log.With("gateway", g.cfg.key()))
		e.log.Info("gateway stopped", "gateway", g.cfg.key())
	}
	e.releaseAddr(g)
	if g.stopped != nil {
		close(g.stopped)
		e.stopEnded()
	}
}

// due tells whether Retry is to start g, which is not running: once the
// stop that held its address has ended, or RetryInterval after it failed
// to start.
func (g *gw) due(now time.Time) bool {
	if g.waitFor != nil {
		select {
		case <-g.waitFor:
			return true
		default:
			return false
		}
	}
	return now.Sub(g.failedAt) >= RetryInterval
}

func (g *gw) closeP2S() {
	if g.p2s != nil {
		g.p2s.Close()
		g.p2s, g.p2sCfg = nil, nil
	}
}

// drainWait is how long a gateway's stop waits at most for its tunnels
// to take what its VNet sent it (a busy node's engine may be slow to).
const drainWait = 2 * time.Second

// releaseAddr removes the gateway's public address from PublicInterface
// when it added it there. A removal that fails is logged with what ip
// said (the address stays on the node, where another node's gateway may
// take it next); one already gone is not.
func (e *Engine) releaseAddr(g *gw) {
	if !g.addrAdded {
		return
	}
	g.addrAdded = false
	out, err := exec.Command("ip", "addr", "del", netip.PrefixFrom(g.cfg.PublicAddr, g.cfg.PublicAddr.BitLen()).String(), "dev", e.opts.PublicInterface).CombinedOutput()
	if err != nil && !addrGone(string(out)) {
		e.log.Error("remove a gateway's public address", "gateway", g.cfg.key(), "addr", g.cfg.PublicAddr, "interface", e.opts.PublicInterface,
			"err", err, "output", strings.TrimSpace(string(out)))
	}
}

// addrGone tells whether ip's answer out says that the address to remove
// is not there (EADDRNOTAVAIL; a kernel's own message, "ipv4: Address
// not found", when it gives one).
func addrGone(out string) bool {
	return strings.Contains(out, "Cannot assign requested address") || strings.Contains(strings.ToLower(out), "address not found")
}

// logStartFailure logs why gateway instance g did not start, at Error
// the first time, with what to do when its address and ports are another
// socket's, and at Debug when a retry fails alike.
func (e *Engine) logStartFailure(g *gw) {
	attrs := []any{"gateway", g.cfg.key(), "addr", g.cfg.PublicAddr, "err", g.err}
	if g.err.Error() == g.logged {
		e.log.Debug("gateway not started, again", attrs...)
		return
	}
	g.logged = g.err.Error()
	msg := "gateway not started"
	if errors.Is(g.err, syscall.EADDRINUSE) {
		msg = fmt.Sprintf("gateway not started: another socket has its address and UDP port (%d or %d): another vnetgw serve on this machine with the same --public-ip-pool (give each region its own), or another program; tried again every %s, logged again only when the error changes",
			e.opts.IKEPort, e.opts.NATTPort, RetryInterval)
	}
	e.log.Error(msg, attrs...)
}

// status adds the gateway instance's tunnels to their connections in m.
func (g *gw) status(m map[string]ConnectionStatus, tally func(key string) *tally) {
	observed := map[string]gateway.ConnectionStatus{}
	if g.gw != nil {
		for _, cs := range g.gw.Status() {
			observed[cs.Name] = cs
		}
	}
	for _, c := range g.cfg.Connections {
		name := c.tunnelName()
		t := TunnelStatus{Instance: g.cfg.Instance, PublicAddr: g.cfg.PublicAddr, RemoteAddr: c.Remote, TunnelState: TunnelState{State: NotConnected}}
		switch {
		case g.err != nil:
			t.Reason = "the gateway is not running: " + g.err.Error()
		case g.connErrs[name] != nil:
			t.Reason = g.connErrs[name].Error()
		}
		var raw counts
		if cs, ok := observed[name]; ok {
			t.State, t.Established, t.Reason, t.Idle = cs.State, cs.Established, cs.Reason, cs.Idle
			d := cs.Drops
			raw = counts{cs.BytesIn, cs.BytesOut, cs.PacketsIn, cs.PacketsOut, insights.Drops{Ingress: d.Open + d.Malformed + d.Selector + d.ECN + d.InnerWrite, Egress: d.NoSA + d.NoSelector + d.Seal + d.TooBig + d.Send,
				IngressTS: d.Selector, EgressTS: d.NoSelector, NAT: d.NATNoFlow + d.NATFull}}
			t.IKESAs, t.ChildSAs, t.NATFlows = cs.IKESAs, len(cs.Children), cs.NATFlows
		}
		// A tunnel's counters go on across its instance's restarts.
		n := tally(g.cfg.key() + "|" + c.ID + "|" + name).of(raw)
		t.Ingress, t.Egress, t.IngressPackets, t.EgressPackets, t.Drops = n.ingress, n.egress, n.ingressPackets, n.egressPackets, n.drops
		st := m[c.ID]
		st.Tunnels, st.Gateway, st.Name = append(st.Tunnels, t), g.cfg.ID, c.Name
		slices.SortFunc(st.Tunnels, func(a, b TunnelStatus) int {
			if a.Instance != b.Instance {
				return a.Instance - b.Instance
			}
			return a.RemoteAddr.Compare(b.RemoteAddr)
		})
		m[c.ID] = st.summed()
	}
}

// gatewayConnections turns a gateway's connections into the tunnels it
// runs, with the addresses of peers given by name from resolve.
// Connections that cannot be turned (a proposal vnetgw does not implement,
// a name that does not resolve) are left out and reported.
func gatewayConnections(g Gateway, resolve func(fqdn string, v6 bool) (netip.Addr, error)) ([]gateway.Connection, map[string]error) {
	var out []gateway.Connection
	errs := map[string]error{}
	byRemote := map[netip.Addr]string{}
	// A peer's configured address is its own: a name that resolves to
	// it (a branch's dynamic DNS, a stale record) does not take it.
	configured := map[netip.Addr]string{}
	for _, c := range g.Connections {
		if _, ok := configured[c.Remote]; c.Remote.IsValid() && !ok {
			configured[c.Remote] = c.ID
		}
	}
	for _, c := range g.Connections {
		name := c.tunnelName()
		if !c.Remote.IsValid() && c.RemoteFQDN != "" {
			a, err := resolve(c.RemoteFQDN, g.PublicAddr.Is6())
			if err != nil {
				errs[name] = err
				continue
			}
			if other, ok := configured[a]; ok {
				errs[name] = fmt.Errorf("connection %s of this gateway has the same peer address %v", other, a)
				continue
			}
			c.Remote = a
		}
		// One bad connection must not keep the others of its gateway from
		// their tunnels: each is checked here and left out on its own.
		switch other, dup := byRemote[c.Remote]; {
		case !c.Remote.IsValid():
			errs[name] = errors.New("the peer has no IP address")
			continue
		case c.Remote.Is4() != g.PublicAddr.Is4():
			errs[name] = fmt.Errorf("the peer's address %v is not of the gateway's address family (%v)", c.Remote, g.PublicAddr)
			continue
		case dup:
			errs[name] = fmt.Errorf("connection %s of this gateway has the same peer address %v", other, c.Remote)
			continue
		}
		gc, err := gatewayConnection(g, c)
		if err != nil {
			errs[name] = err
			continue
		}
		byRemote[c.Remote] = c.ID
		out = append(out, gc)
	}
	return out, errs
}

func gatewayConnection(g Gateway, c Connection) (gateway.Connection, error) {
	// A site known by name may name itself by it: behind a NAT its
	// device cannot name the address the name resolves to.
	p := ikev2.PeerConfig{Name: c.tunnelName(), Remote: netip.AddrPortFrom(c.Remote, 0), RemoteName: c.RemoteFQDN, PSK: ikev2.PSK(c.PSK)}
	switch c.Mode {
	case "InitiatorOnly":
		p.Mode = ikev2.ModeInitiatorOnly
	case "ResponderOnly":
		p.Mode = ikev2.ModeResponderOnly
	}
	var err error
	if p.IKEProposals, p.ESPProposals, err = parseProposals(c.IKEProposals, c.ESPProposals); err != nil {
		return gateway.Connection{}, err
	}
	p.NoReplayCheck = g.NoReplayCheck
	p.OnDemand = g.PolicyBased // R8: a policy-based tunnel lives while it carries traffic
	selectors := g.PolicyBased || c.PolicySelectors
	switch {
	case selectors && len(c.Selectors) > 0:
		for _, sp := range c.Selectors {
			p.Children = append(p.Children, ikev2.PolicyBased(sp.Local, sp.Remote)...)
		}
	case selectors:
		p.Children = ikev2.PolicyBased(c.LocalPrefixes, c.RemotePrefixes)
	case c.IKEv1:
		p.Children = IKEv1Children(g, c)
	}
	if c.DPDTimeout > 0 {
		// A liveness check starts after a quarter of the timeout of
		// silence; sent three times, after t, 2t and with a last wait of
		// 4t (7t in all, RFC 7296 §2.4), it takes the rest.
		p.DPDInterval = c.DPDTimeout / 4
		p.RetransmitTimeout = max(c.DPDTimeout*3/28, 500*time.Millisecond)
		p.RetransmitTries = 2
	}
	p.IKELifetime, p.ChildLifetime = c.IKELifetime, c.ChildLifetime
	switch {
	case c.ChildLifetimeKB > 0:
		p.ChildLimits = esp.Limits{HardBytes: c.ChildLifetimeKB * 1024, SoftBytes: c.ChildLifetimeKB * 1024 * 9 / 10}
	case c.NoChildByteLimit:
		p.ChildLimits = esp.Limits{HardBytes: ikev2.NoChildByteLimit}
	}
	// With several prefix pairs the engine must choose the SA by selector;
	// an IKEv1 child names one pair, so IKEv1 tunnels always do.
	return gateway.Connection{Peer: p, Routes: c.Routes, PolicyBased: selectors || c.IKEv1, IKEv1: c.IKEv1, NAT: c.NAT, Standby: c.Tunnel != ""}, nil
}

// IKEv1Children are the child SAs of a route-based IKEv1 connection at
// gateway instance g: an IKEv1 quick mode names one subnet on each side,
// so one child per pair of VNet range and site range (the site's ranges
// are everything for the default site of forced tunneling, R25), and one
// for the connection's BGP session (R41) where no pair holds both of its
// ends (APIPA addresses, a speaker outside the site's ranges), which the
// gateway routes into the tunnel all the same; any-to-any when the site
// names no ranges (BGP only), which the device narrows.
func IKEv1Children(g Gateway, c Connection) []ikev2.ChildConfig {
	// The default site of forced tunneling takes everything of the
	// default route's IP version; its ranges of the other version stay.
	remote := c.RemotePrefixes
	for _, p := range c.Routes {
		if p.Bits() == 0 {
			remote = append([]netip.Prefix{p}, slices.DeleteFunc(slices.Clone(remote), func(q netip.Prefix) bool { return q.Addr().Is4() == p.Addr().Is4() })...)
		}
	}
	if len(remote) == 0 || len(c.LocalPrefixes) == 0 {
		return nil
	}
	children := ikev2.PolicyBased(c.LocalPrefixes, remote)
	if g.BGP == nil {
		return children
	}
	// The pairs are every VNet range with every site range. The session's
	// ends are named as the selectors name them, through the connection's
	// NAT rules: the gateway's after its EgressSnat rule, the site's
	// speaker at its own address, not the one after its IngressSnat rule
	// (its bgpPeeringAddress), which a range of the site may not hold.
	held := func(ps []netip.Prefix, a netip.Addr) bool {
		return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	for _, p := range g.BGP.Peers {
		local := p.Local
		if !local.IsValid() {
			local = g.BGP.Addr
		}
		if p.Connection != c.ID || !local.IsValid() || !p.Addr.IsValid() {
			continue
		}
		local, site := c.Seen(local, true), c.Seen(p.Addr, false)
		if held(c.LocalPrefixes, local) && held(remote, site) {
			continue
		}
		children = append(children, ikev2.ChildConfig{LocalTS: []netip.Prefix{netip.PrefixFrom(local, local.BitLen())}, RemoteTS: []netip.Prefix{netip.PrefixFrom(site, site.BitLen())}})
	}
	return children
}

// runningTunnel is a tunnel of a connection at the gateway instance that
// runs it.
type runningTunnel struct {
	gw   *gateway.Gateway
	name string
	// public is the instance's public address.
	public netip.Addr
}

// running returns the tunnels of connection id at the gateway instances
// that run them.
func (e *Engine) running(id string) []runningTunnel {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []runningTunnel
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		g := e.gateways[key]
		if g.gw == nil {
			continue
		}
		for _, c := range g.cfg.Connections {
			if c.ID == id && g.connErrs[c.tunnelName()] == nil {
				out = append(out, runningTunnel{g.gw, c.tunnelName(), g.cfg.PublicAddr})
			}
		}
	}
	return out
}

// IKESAs returns the IKE SAs of connection id, of every instance of its
// gateway, with the counters of their child SA pairs by inbound SPI.
func (e *Engine) IKESAs(id string) ([]ikev2.IKESAStatus, map[uint32]gateway.ChildCounters) {
	var out []ikev2.IKESAStatus
	counters := map[uint32]gateway.ChildCounters{}
	for _, rt := range e.running(id) {
		sas, cs := rt.gw.IKESAs(rt.name)
		out = append(out, sas...)
		maps.Copy(counters, cs)
	}
	return out, counters
}

// ResetConnection ends the IKE SAs of connection id, telling the peer,
// and starts the connection again (az's vpn-connection reset): on the
// instance of its gateway whose public address is vip, or on every
// instance when vip is the zero Addr. It reports whether a gateway
// instance runs the connection.
func (e *Engine) ResetConnection(id string, vip netip.Addr) bool {
	reset := false
	for _, rt := range e.running(id) {
		if !vip.IsValid() || rt.public == vip {
			reset = rt.gw.Reset(rt.name) || reset
		}
	}
	return reset
}

// Packet capture errors.
var (
	ErrCaptureRunning  = errors.New("a packet capture runs on the gateway already")
	ErrNoCapture       = errors.New("no packet capture runs on the gateway")
	ErrNotRunning      = errors.New("the gateway does not run here")
	ErrTooManyCaptures = fmt.Errorf("%d packet captures run on this node already", MaxCaptures)
)

// MaxCaptures bounds the packet captures that run at once on a node, and
// so the memory they hold (each up to pcap.MaxMaxBytes).
const MaxCaptures = 4

// StartPacketCapture records in c the inner packets of id, both ways: a
// gateway's between its tunnels and its VNet, or a connection's through
// its tunnel, on every instance this engine runs, until
// StopPacketCapture.
func (e *Engine) StartPacketCapture(id string, c *pcap.Capture) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.captures[id] != nil:
		return ErrCaptureRunning
	case len(e.captures) >= MaxCaptures:
		return ErrTooManyCaptures
	}
	if !e.setCapture(id, c) {
		return ErrNotRunning
	}
	e.captures[id] = c
	e.log.Info("packet capture started", "of", id)
	return nil
}

// StopPacketCapture ends id's packet capture and returns it.
func (e *Engine) StopPacketCapture(id string) (*pcap.Capture, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.captures[id]
	if c == nil {
		return nil, ErrNoCapture
	}
	delete(e.captures, id)
	e.setCapture(id, nil)
	e.log.Info("packet capture stopped", "of", id)
	return c, nil
}

// setCapture sets the capture of gateway or connection id on every
// instance that runs it, and reports whether one does. e.mu is held.
func (e *Engine) setCapture(id string, c *pcap.Capture) bool {
	found := false
	for _, g := range e.gateways {
		switch {
		case g.cfg.ID == id && g.port != nil:
			g.port.SetCapture(c)
			if g.p2s != nil {
				g.p2s.SetCapture(c)
			}
			found = true
		case g.gw != nil:
			for _, conn := range g.cfg.Connections {
				if conn.ID == id && g.gw.Engine().SetCapture(conn.tunnelName(), c) {
					found = true
				}
			}
		}
	}
	return found
}
