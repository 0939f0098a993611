package dataplane

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/pcap"
	"github.com/vnetgw/vnetgw/internal/tunnel"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// Resolver looks up a name's addresses, as *net.Resolver does.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure an Engine.
type Options struct {
	Logger *slog.Logger
	// IKEPort and NATTPort are the UDP ports every gateway listens on; 0
	// means 500 and 4500.
	IKEPort, NATTPort uint16
	// PublicInterface, when set, gets each gateway's public address added
	// while the gateway runs (root); otherwise the addresses must already
	// be local (127.0.0.0/8 always is on Linux).
	PublicInterface string
	// InPool tells the addresses of the public IP pool: host addresses of
	// it on PublicInterface when the engine starts were left there by a
	// run that was killed, and are removed.
	InPool func(netip.Addr) bool
	// PolicyIdleTimeout is how long a policy-based tunnel may carry no
	// traffic before it is removed (R8); 0 means DefaultPolicyIdleTimeout.
	// Route-based tunnels are never removed for idleness.
	PolicyIdleTimeout time.Duration
	// RawESP lets gateways carry ESP as IP protocol 50 with peers no NAT
	// separates them from (root); otherwise ESP always goes in UDP.
	RawESP bool
	// SSTPPort is where gateways with point-to-site serve SSTP clients
	// (R13); 0 means 443.
	SSTPPort uint16
	// GatewayCert issues the certificate a gateway presents to
	// point-to-site clients at its public address.
	GatewayCert func(netip.Addr) (tls.Certificate, error)
	// OpenVPNKey gives a gateway's OpenVPN static key by its
	// resourceGuid (GatewayP2S.GatewayGUID); nil: OpenVPN clients do not
	// wrap their control packets.
	OpenVPNKey func(gatewayGUID string) (*openvpn.StaticKey, error)
	// NoRadiusAccounting: the point-to-site sessions RADIUS servers
	// authenticated are not reported to their accounting (p2s.Config's
	// RadiusAccounting).
	NoRadiusAccounting bool
	// Resolver looks up the names of on-premises devices (local network
	// gateways given by fqdn); nil means the system's. ResolveInterval is
	// how often they are looked up again; 0 means DefaultResolveInterval.
	Resolver        Resolver
	ResolveInterval time.Duration
	// certCheck is how often the gateways' certificates are checked for
	// renewal (renewCerts); 0 means a minute. Tests set it.
	certCheck time.Duration
	// dropLog is how often the VNets' routers log their drops
	// (logDrops); 0 means dropLogEvery. Tests set it.
	dropLog time.Duration
	// tunnelDownGrace is how long a connection may have no tunnel up at
	// an instance before the sessions of its BGP peers there end
	// (gw.tellReachable); 0 means tunnelDownGrace. Tests set it.
	tunnelDownGrace time.Duration
	// inner, when set, is what a gateway's tunnels read and write in
	// place of its port to the VNet (the port given). Tests set it.
	inner func(*fabric.GatewayPort) tunnel.Inner
	// leaveHook, when set, is called as a stop in the background begins
	// (leave.go). Tests set it.
	leaveHook func()
	// Internet, when set, lets the hosts of every VNet reach the Internet
	// from the node (R43): 0.0.0.0/0 and ::/0 go there unless forced
	// tunneling or a route learned over BGP sends them to a gateway.
	// Without it, such traffic is dropped and counted.
	Internet *fabric.EgressOptions
}

// DefaultPolicyIdleTimeout is the FAQ's five minutes (R8).
const DefaultPolicyIdleTimeout = 5 * time.Minute

// Engine owns every VNet router, host and gateway of a region.
type Engine struct {
	log  *slog.Logger
	opts Options

	// mu guards everything below; Reconfig, Status and Close hold it.
	// Nothing that waits for a peer runs under it but Close's stop (a
	// gateway removed or a speaker replaced stops in the background,
	// leave.go; a connection or IKEv2 client removed leaves its Delete to
	// wait in its IKE daemon, ikev2.Manager.Reconfig), and no gateway
	// that starts on the public address of one still stopping waits for
	// that stop under it (heldBy).
	mu       sync.Mutex
	cfg      Config
	vnets    map[string]*vnet
	gateways map[string]*gw
	captures map[string]*pcap.Capture // packet captures, by gateway id
	closed   bool

	stop    chan struct{} // closed by Close
	bgpKick chan struct{} // a BGP speaker's routes changed
	// childKick: a gateway's IKE daemons installed or removed a child SA
	// pair, and a tunnel may have come up or gone down.
	childKick chan struct{}

	names     map[nameKey]resolved // the peers' names, as last looked up; guarded by mu
	namesKick chan struct{}        // a name to look up was configured
	// tallies keep the counters of each tunnel (and each gateway's
	// point-to-site traffic) going up when what counts starts again from
	// zero (an instance restarted, a tunnel set up anew); guarded by mu.
	tallies map[string]*tally
	// retired are, by connection, the counts of its tunnels that went
	// while it stayed (an instance of its gateway, or of its peer,
	// removed): its counters do not go down; guarded by mu.
	retired map[string]counts
	// epoch names this engine: counters start again with another.
	epoch string
	wg    sync.WaitGroup
	// leaving is what the stops in the background (closing) still hold;
	// guarded by mu.
	leaving []*leaving
	closing sync.WaitGroup
	// ended is closed when a stop in the background ends (Stopping);
	// guarded by endedMu, as the stops end without e.mu.
	endedMu sync.Mutex
	ended   chan struct{}
}

// counts are a tunnel's counters.
type counts struct {
	ingress, egress, ingressPackets, egressPackets uint64
	drops                                          insights.Drops
}

func (c counts) plus(o counts) counts {
	return counts{c.ingress + o.ingress, c.egress + o.egress, c.ingressPackets + o.ingressPackets, c.egressPackets + o.egressPackets, c.drops.Plus(o.drops)}
}

// below tells whether any of c's counters is below o's.
func (c counts) below(o counts) bool {
	d, e := c.drops, o.drops
	return c.ingress < o.ingress || c.egress < o.egress || c.ingressPackets < o.ingressPackets || c.egressPackets < o.egressPackets ||
		d.Ingress < e.Ingress || d.Egress < e.Egress || d.IngressTS < e.IngressTS || d.EgressTS < e.EgressTS || d.NAT < e.NAT
}

// tally makes counters that start again from zero go on going up: what
// they had reached (last) is added to base when they are seen lower.
// Counters that start again and pass what they had reached between two
// looks lose that much.
type tally struct{ base, last counts }

// of returns raw, the counters now, as they go on from before.
func (t *tally) of(raw counts) counts {
	if raw.below(t.last) {
		t.base = t.base.plus(t.last)
	}
	t.last = raw
	return t.base.plus(raw)
}

// tally returns the tally of key, made when first asked for. e.mu is held.
func (e *Engine) tally(key string) *tally {
	t := e.tallies[key]
	if t == nil {
		t = &tally{}
		e.tallies[key] = t
	}
	return t
}

// vnet is a realised VNet.
type vnet struct {
	router *fabric.Router
	hosts  map[string]*host
	// undeliverable counts what the devices of TUN hosts since removed
	// did not take.
	undeliverable uint64
	// egress is the VNet's way to the Internet (Options.Internet), or nil.
	egress *fabric.Egress
	// log names the VNet, for the lines of its router's drops.
	log *slog.Logger
}

// host is a realised network interface: a built-in host or a TUN device.
type host struct {
	cfg  Host
	ns   *fabric.NetstackHost
	tun  *fabric.TUNHost
	port fabric.Port // whichever of the two runs; nil if none
	err  error       // why it could not be realised
	// failedAt is when it last failed to start; Retry tries again after
	// RetryInterval (a namespace created after the interface, say).
	failedAt time.Time
}

// RetryInterval is how long a host or gateway that failed to start waits
// before Retry starts it again.
const RetryInterval = 5 * time.Second

// New returns an engine with nothing configured.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PolicyIdleTimeout <= 0 {
		opts.PolicyIdleTimeout = DefaultPolicyIdleTimeout
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.ResolveInterval <= 0 {
		opts.ResolveInterval = DefaultResolveInterval
	}
	if opts.certCheck <= 0 {
		opts.certCheck = certCheck
	}
	if opts.dropLog <= 0 {
		opts.dropLog = dropLogEvery
	}
	if opts.tunnelDownGrace <= 0 {
		opts.tunnelDownGrace = tunnelDownGrace
	}
	e := &Engine{log: opts.Logger, opts: opts, vnets: map[string]*vnet{}, gateways: map[string]*gw{}, captures: map[string]*pcap.Capture{},
		stop: make(chan struct{}), bgpKick: make(chan struct{}, 1), childKick: make(chan struct{}, 1), names: map[nameKey]resolved{}, namesKick: make(chan struct{}, 1),
		tallies: map[string]*tally{}, retired: map[string]counts{}, epoch: rand.Text()}
	e.removeStaleAddrs()
	e.wg.Go(func() { e.every(min(opts.PolicyIdleTimeout/4, 5*time.Second), e.checkIdle) })
	e.wg.Go(e.watchBGP)
	e.wg.Go(e.watchNames)
	e.wg.Go(func() { e.every(opts.certCheck, e.renewCerts) })
	e.wg.Go(func() { e.every(opts.dropLog, e.logDrops) })
	return e
}

// every calls f with the time every d until the engine stops.
func (e *Engine) every(d time.Duration, f func(now time.Time)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			f(now)
		}
	}
}

// removeStaleAddrs removes the pool's host addresses from PublicInterface:
// gateways add theirs again as they start.
func (e *Engine) removeStaleAddrs() {
	if e.opts.PublicInterface == "" || e.opts.InPool == nil {
		return
	}
	out, err := exec.Command("ip", "-o", "addr", "show", "dev", e.opts.PublicInterface).Output()
	if err != nil {
		e.log.Warn("listing the addresses of the public interface", "interface", e.opts.PublicInterface, "err", err)
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || (f[2] != "inet" && f[2] != "inet6") {
			continue
		}
		p, err := netip.ParsePrefix(f[3])
		if err != nil || !p.IsSingleIP() || !e.opts.InPool(p.Addr()) {
			continue
		}
		if out, err := exec.Command("ip", "addr", "del", p.String(), "dev", e.opts.PublicInterface).CombinedOutput(); err != nil {
			e.log.Warn("removing a stale public address", "addr", p.Addr(), "err", err, "out", strings.TrimSpace(string(out)))
			continue
		}
		e.log.Info("removed a public address an earlier run left", "addr", p.Addr(), "interface", e.opts.PublicInterface)
	}
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("dataplane: engine closed")

// Reconfig makes the data plane match cfg and reports whether anything
// changed. Failures of single parts (a host that cannot start) do not stop
// the rest; they show in Status.
func (e *Engine) Reconfig(cfg Config) (changed bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false, ErrClosed
	}
	e.pruneLeaving()
	want := map[string]VNet{}
	for _, v := range cfg.VNets {
		want[v.ID] = v
	}
	for id, v := range e.vnets {
		if _, ok := want[id]; !ok {
			e.log.Info("removing VNet", "vnet", id)
			v.close()
			delete(e.vnets, id)
			changed = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		vc := want[id]
		v := e.vnets[id]
		if v == nil {
			e.log.Info("adding VNet", "vnet", id)
			v = &vnet{router: fabric.NewRouter(), hosts: map[string]*host{}, log: e.log.With("vnet", id)}
			if o := e.opts.Internet; o != nil {
				eg, err := fabric.NewEgress(v.router, *o)
				if err != nil {
					e.log.Warn("VNet without Internet access", "vnet", id, "err", err)
				}
				v.egress = eg
			}
			e.vnets[id] = v
			changed = true
		}
		if v.egress != nil {
			v.egress.SetSources(vc.Prefixes)
		}
		if e.reconcileHosts(v, vc) {
			changed = true
		}
	}
	old := e.wantedNames()
	e.cfg = cfg
	if !maps.Equal(old, e.wantedNames()) {
		e.kickNames()
	}
	if e.reconcileGateways(cfg) {
		changed = true
	}
	e.setRoutes()
	return changed, nil
}

// reconcileHosts starts, replaces and stops hosts.
func (e *Engine) reconcileHosts(v *vnet, vc VNet) bool {
	changed := false
	want := map[string]Host{}
	for _, h := range vc.Hosts {
		want[h.ID] = h
	}
	for id, h := range v.hosts {
		if w, ok := want[id]; !ok || w != h.cfg {
			h.close()
			if h.tun != nil {
				v.undeliverable += h.tun.Dropped()
			}
			delete(v.hosts, id)
			changed = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if _, ok := v.hosts[id]; ok {
			continue
		}
		v.hosts[id] = e.startHost(want[id], v.router.HostIngress(want[id].Subnet), v.log)
		changed = true
	}
	return changed
}

// startHost realises a network interface. A host that fails has no port,
// so that no route leads to it. log, the VNet's, gets the lines of what a
// TUN host's device does not take.
func (e *Engine) startHost(hc Host, r fabric.Forwarder, log *slog.Logger) *host {
	h := &host{cfg: hc}
	switch hc.Kind {
	case HostNetstack, "":
		if h.ns, h.err = fabric.NewNetstackHost(hc.Name, hc.Addr, 0, r); h.err == nil {
			h.port = h.ns
		}
	case HostTUN:
		if h.tun, h.err = fabric.NewTUNHost(hc.NetNS, hc.Addr, r, log.With("host", hc.ID)); h.err == nil {
			h.port = h.tun
		}
	default:
		h.err = fmt.Errorf("attachment kind %q is unknown", hc.Kind)
	}
	if h.err != nil {
		h.failedAt = time.Now()
		e.log.Warn("host not started", "host", hc.ID, "err", h.err)
	} else {
		e.log.Info("host started", "host", hc.ID, "addr", hc.Addr, "kind", hc.Kind)
	}
	return h
}

// Retry starts again the hosts, gateways and gateways' point-to-site
// servers that failed to start at least RetryInterval ago, and the gateways that waited for the stop of the one
// that had their address once it has ended, and reports whether any of
// them runs now, or a TUN host's namespace went. A TUN host whose
// namespace was deleted, or made again, or whose device was deleted, is
// started again at once: in the namespace of its name now, or failed
// until there is one.
func (e *Engine) Retry() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	now := time.Now()
	started, moved := false, false
	for _, vc := range e.cfg.VNets {
		v := e.vnets[vc.ID]
		for id, h := range v.hosts {
			if h.tun == nil || h.port == nil {
				continue
			}
			if err := h.tun.InPlace(); err != nil {
				e.log.Warn("host's namespace or device is gone", "host", id, "err", err)
				h.close()
				v.undeliverable += h.tun.Dropped()
				v.hosts[id] = e.startHost(h.cfg, v.router.HostIngress(h.cfg.Subnet), v.log)
				moved = true
			}
		}
		for id, h := range v.hosts {
			if h.port != nil || now.Sub(h.failedAt) < RetryInterval {
				continue
			}
			if v.hosts[id] = e.startHost(h.cfg, v.router.HostIngress(h.cfg.Subnet), v.log); v.hosts[id].port != nil {
				started = true
			}
		}
	}
	for id, g := range e.gateways {
		if g.p2sDue(now) {
			if e.startP2S(g, tcpPart(g.cfg.P2S)); g.p2s != nil {
				started = true
			}
		}
		if g.gw != nil || !g.due(now) {
			continue
		}
		if e.gateways[id] = e.startGateway(g.cfg, g.logged); e.gateways[id].gw != nil {
			e.configureGateway(e.gateways[id])
			started = true
		}
	}
	if started || moved {
		e.setRoutes()
	}
	return started || moved
}

// setRoutes gives every VNet router of e.cfg its tables.
func (e *Engine) setRoutes() {
	for _, vc := range e.cfg.VNets {
		v := e.vnets[vc.ID]
		system := e.routes(v, vc, true)
		v.router.SetRoutes(system)
		v.router.SetSubnets(vc.Subnets)
		var unpropagated []fabric.Route // made once, when a subnet needs it
		byIngress := map[string][]fabric.Route{}
		for subnet, urs := range vc.UserRoutes {
			base := system
			if vc.NoGatewayRoutes[subnet] {
				if unpropagated == nil {
					unpropagated = e.routes(v, vc, false)
				}
				base = unpropagated
			}
			byIngress[subnet] = e.userRoutes(v, vc, base, urs)
		}
		if v.egress != nil {
			// What arrives through the gateways (sites, point-to-site
			// clients) does not go to the Internet (R43: the VNet's
			// hosts do): a site's any-to-any tunnel may carry any
			// source, the VNet's too, which the egress lets out.
			for _, g := range e.gateways {
				if g.cfg.VNet != vc.ID {
					continue
				}
				rs, ok := byIngress[g.cfg.Subnet]
				if !ok {
					rs = system
				}
				byIngress[g.cfg.Subnet] = notTo(rs, v.egress)
			}
		}
		v.router.SetIngressRoutes(byIngress)
	}
}

// notTo returns routes with those to port dropping instead.
func notTo(routes []fabric.Route, port fabric.Port) []fabric.Route {
	out := slices.Clone(routes)
	for i := range out {
		if out[i].Port == port {
			out[i].Port = nil
		}
	}
	return out
}

// userRoutes merges a subnet's user-defined routes into the VNet's system
// routes, as Azure chooses between them (R26): the longest prefix wins,
// and a user route wins a tie. A host's own route stays only while the
// route that holds its address best is the VNet's (a system route of the
// VNet's space, or a VnetLocal user route): a user route of 10.1.3.0/24 to
// an appliance takes the hosts of 10.1.3.0/24 there.
func (e *Engine) userRoutes(v *vnet, vc VNet, system []fabric.Route, urs []UserRoute) []fabric.Route {
	local := func(a netip.Addr) bool {
		best, isLocal := -1, true
		for _, p := range vc.Prefixes {
			if p.Contains(a) && p.Bits() > best {
				best = p.Bits()
			}
		}
		for _, u := range urs {
			if u.Prefix.Contains(a) && u.Prefix.Bits() >= best {
				best, isLocal = u.Prefix.Bits(), u.NextHop == "VnetLocal"
			}
		}
		return isLocal
	}
	// Only the routes of the VNet's hosts: other single addresses (a
	// site's /32, a BGP peer's outside the VNet, the gateways' own in
	// their subnet: the BGP speaker, RADIUS's source) are routes like any
	// other, and the longest prefix wins.
	inVNet := func(a netip.Addr) bool {
		return slices.ContainsFunc(vc.Prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	gateway := map[netip.Addr]bool{}
	for _, g := range e.gateways {
		if g.cfg.VNet == vc.ID {
			gateway[g.cfg.PrivateAddr] = true
			if g.cfg.BGP != nil {
				gateway[g.cfg.BGP.Addr] = true
			}
		}
	}
	var out []fabric.Route
	for _, r := range system {
		if a := r.Prefix.Addr(); r.Prefix.IsSingleIP() && inVNet(a) && !gateway[a] && !local(a) {
			continue
		}
		out = append(out, r)
	}
	// The pools of the gateways' SSTP and OpenVPN clients: their
	// point-to-site server reaches them, not the gateways' tunnels.
	var clients []fabric.Route
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		if g := e.gateways[key]; g.cfg.VNet == vc.ID && g.p2s != nil {
			clients = append(clients, fabric.Route{Prefix: g.p2sCfg.TCPPool, Port: g.p2s})
		}
	}
	type wider struct {
		pool fabric.Route
		by   netip.Prefix // the user route to the gateway that holds it
	}
	var pools []wider
	for _, u := range urs {
		var port fabric.Port // nil: dropped and counted
		switch u.NextHop {
		case "VnetLocal":
			// Kept in the VNet: its hosts under the prefix keep their
			// routes (local), and the rest of it is dropped, as the
			// VNet's own ranges are; it wins its prefix over a system
			// route, as every user route does.
		case "Internet":
			if v.egress != nil {
				port = v.egress
			}
		case "VirtualAppliance":
			for _, h := range v.hosts {
				if h.cfg.Addr == u.Appliance && h.port != nil {
					port = h.port
				}
			}
		case "VirtualNetworkGateway":
			for _, g := range e.gateways {
				if g.cfg.VNet == vc.ID && g.cfg.Instance == 0 {
					port = e.gatewayPort(g.cfg.ID)
				}
			}
			// The gateway reaches its point-to-site clients as it
			// reaches its sites: what the route holds of their pool
			// goes to their server.
			for _, c := range clients {
				switch {
				case c.Prefix.Bits() <= u.Prefix.Bits() && c.Prefix.Contains(u.Prefix.Addr()):
					port = c.Port
				case u.Prefix.Contains(c.Prefix.Addr()):
					pools = append(pools, wider{c, u.Prefix})
				}
			}
		}
		out = append(out, fabric.Route{Prefix: u.Prefix, Port: port})
	}
	// A pool inside a wider route to the gateway goes to its server
	// unless a route between the two takes it (the longest prefix wins).
	for _, w := range pools {
		p := w.pool.Prefix
		if !slices.ContainsFunc(out, func(r fabric.Route) bool {
			return r.Prefix.Bits() > w.by.Bits() && r.Prefix.Bits() <= p.Bits() && r.Prefix.Contains(p.Addr())
		}) {
			out = append(out, w.pool)
		}
	}
	return out
}

// routes builds a VNet router's table: the VNet's ranges (dropped), a host
// route per running host and gateway BGP speaker, the VNet's routes to its gateways (R24, R25, R43),
// and the routes the gateways learned over BGP (R41). Without
// gatewayRoutes, the table of a subnet whose route table does not
// propagate them, it has none that its gateways bring: neither the
// VNet's routes to them (connected ranges, forced tunneling's default
// route) nor what they learned nor their point-to-site pools.
func (e *Engine) routes(v *vnet, vc VNet, gatewayRoutes bool) []fabric.Route {
	// The VNet's own ranges stay in the VNet (R43): an address of them
	// without a host is dropped, also when a wider route (0.0.0.0/0 of
	// forced tunneling, a supernet learned over BGP) would take it out.
	var rs []fabric.Route
	if v.egress != nil {
		// First, so that a default route to a gateway (forced tunneling,
		// BGP) takes its place: of two routes of one prefix the later
		// wins.
		// Forced tunneling sends IPv4's default route to a site; IPv6's
		// then goes nowhere rather than out of the node (R25: nothing
		// leaves for the Internet but through the site).
		var six fabric.Port = v.egress
		if gatewayRoutes && e.forced(vc) {
			six = nil
		}
		rs = append(rs, fabric.Route{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Port: v.egress},
			fabric.Route{Prefix: netip.MustParsePrefix("::/0"), Port: six})
	}
	for _, p := range vc.Prefixes {
		rs = append(rs, fabric.Route{Prefix: p})
	}
	// A replaced speaker still closing takes what comes to its addresses
	// (its peers' end of the connections), before the hosts' and the
	// running speakers' routes: of two routes of one prefix the later
	// wins, so that a new holder of one of them takes it at once.
	for _, l := range e.leaving {
		if l.sp != nil && l.vnet == vc.ID && !l.stopped() {
			for _, a := range append([]netip.Addr{l.sp.cfg.Addr}, l.sp.cfg.APIPA...) {
				rs = append(rs, fabric.Route{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: l.sp.ep})
			}
		}
	}
	for _, h := range v.hosts {
		if h.port != nil {
			rs = append(rs, fabric.Route{Prefix: netip.PrefixFrom(h.cfg.Addr, h.cfg.Addr.BitLen()), Port: h.port})
		}
	}
	ports := map[string]fabric.Port{}
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		// Point-to-site clients: SSTP's part of the pool goes to the
		// gateway's server, IKEv2's to its tunnels.
		g := e.gateways[key]
		if g.cfg.VNet != vc.ID || !gatewayRoutes {
			continue
		}
		if g.p2s != nil {
			rs = append(rs, fabric.Route{Prefix: g.p2sCfg.TCPPool, Port: g.p2s})
		}
		if g.ikev2Clients && g.port != nil {
			rs = append(rs, fabric.Route{Prefix: g.cfg.P2S.IKEv2Pool, Port: g.port})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		if g := e.gateways[key]; g.cfg.VNet == vc.ID && g.radiusEP != nil {
			a := g.radiusEP.Addr()
			rs = append(rs, fabric.Route{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: g.radiusEP})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		g := e.gateways[key]
		if g.cfg.VNet != vc.ID || g.bgp == nil {
			continue
		}
		for _, a := range append([]netip.Addr{g.bgp.cfg.Addr}, g.bgp.cfg.APIPA...) {
			rs = append(rs, fabric.Route{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: g.bgp.ep})
		}
		if !gatewayRoutes {
			continue
		}
		if _, ok := ports[g.cfg.ID]; !ok {
			ports[g.cfg.ID] = e.gatewayPort(g.cfg.ID)
		}
		for _, p := range g.learned {
			rs = append(rs, fabric.Route{Prefix: p, Port: ports[g.cfg.ID]})
		}
	}
	if !gatewayRoutes {
		return rs
	}
	for _, r := range vc.Routes {
		p, ok := ports[r.Gateway]
		if !ok {
			p = e.gatewayPort(r.Gateway)
			ports[r.Gateway] = p
		}
		// A gateway that does not run drops what its routes hold (a nil
		// port): left out, the route's traffic would go to the Internet
		// (the egress's default route), forced tunneling's too.
		rs = append(rs, fabric.Route{Prefix: r.Prefix, Port: p})
	}
	return rs
}

// forced tells whether a default route of the VNet goes to a gateway:
// forced tunneling's, or one its gateways learned over BGP. e.mu is held.
func (e *Engine) forced(vc VNet) bool {
	if slices.ContainsFunc(vc.Routes, func(r Route) bool { return r.Prefix.Bits() == 0 }) {
		return true
	}
	for _, g := range e.gateways {
		if g.cfg.VNet == vc.ID && slices.ContainsFunc(g.learned, func(p netip.Prefix) bool { return p.Bits() == 0 }) {
			return true
		}
	}
	return false
}

// gatewayPort returns where a VNet sends packets for gateway id: the port
// of its running instance, a Failover over its instances when both of an
// active-active gateway run, or nil.
func (e *Engine) gatewayPort(id string) fabric.Port {
	var ports []fabric.Port
	var carries []func(src, dst netip.Addr) bool
	for _, key := range []string{id, Gateway{ID: id, Instance: 1}.key()} {
		if g := e.gateways[key]; g != nil && g.gw != nil {
			ports = append(ports, g.port)
			carries = append(carries, g.gw.Engine().Carries)
		}
	}
	switch len(ports) {
	case 0:
		return nil
	case 1:
		return ports[0]
	}
	return fabric.NewFailover(ports, carries)
}

// stats returns the counters of the VNet's router, which count what its
// way to the Internet turns away as having no route (R43), and what the
// devices of its TUN hosts did not take as undeliverable.
func (v *vnet) stats() fabric.Stats {
	s := v.router.Stats()
	if v.egress != nil {
		s.NoRoute += v.egress.Stats().Refused
	}
	s.Undeliverable = v.undeliverable
	for _, h := range v.hosts {
		if h.tun != nil {
			s.Undeliverable += h.tun.Dropped()
		}
	}
	return s
}

// dropLogEvery is how often the VNets' routers and TUN hosts, and the
// gateways' ports, log their drops: each reason once a minute at most
// (sparselog.Every), within a few seconds of its first drop.
const dropLogEvery = 5 * time.Second

// logDrops logs what the VNets' routers dropped, what the devices of
// their TUN hosts did not take, and what the gateways did not take from
// their VNets (their ports' queues full), since the lines before
// (fabric.Router.LogDrops, fabric.TUNHost.LogDrops,
// fabric.GatewayPort.LogDrops), off their data path. A TUN host logs the
// rest as it closes, a gateway's port as the gateway stops.
func (e *Engine) logDrops(now time.Time) {
	e.mu.Lock()
	vnets := make([]*vnet, 0, len(e.vnets))
	var tuns []*fabric.TUNHost
	for _, id := range slices.Sorted(maps.Keys(e.vnets)) {
		v := e.vnets[id]
		vnets = append(vnets, v)
		for _, hid := range slices.Sorted(maps.Keys(v.hosts)) {
			if h := v.hosts[hid]; h.tun != nil {
				tuns = append(tuns, h.tun)
			}
		}
	}
	type gwPort struct {
		port *fabric.GatewayPort
		key  string
	}
	var ports []gwPort
	for _, id := range slices.Sorted(maps.Keys(e.gateways)) {
		if g := e.gateways[id]; g.port != nil {
			ports = append(ports, gwPort{g.port, g.cfg.key()})
		}
	}
	e.mu.Unlock()
	for _, v := range vnets {
		v.router.LogDrops(now, v.log)
	}
	for _, h := range tuns {
		h.LogDrops(now)
	}
	for _, p := range ports {
		p.port.LogDrops(now, e.log.With("gateway", p.key))
	}
}

func (v *vnet) close() {
	for _, h := range v.hosts {
		h.close()
	}
	if v.egress != nil {
		v.egress.Close()
	}
	v.router.LogRest(v.log)
}

func (h *host) close() {
	if h.ns != nil {
		h.ns.Close()
	}
	if h.tun != nil {
		h.tun.Close()
	}
}

// NetstackHost returns the built-in host of a network interface, for tests
// and the demo.
func (e *Engine) NetstackHost(id string) (*fabric.NetstackHost, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range e.vnets {
		if h, ok := v.hosts[id]; ok && h.ns != nil {
			return h.ns, true
		}
	}
	return nil, false
}

// Status is what the data plane observes.
type Status struct {
	// Epoch names the engine: its counters go on from where they were
	// within it; with another (serve restarted, the VNet moved to
	// another node) they start again from zero.
	Epoch       string
	VNets       map[string]fabric.Stats
	Hosts       map[string]HostStatus
	Connections map[string]ConnectionStatus
	// P2S is the point-to-site traffic of the gateways that serve it, by
	// gateway id and protocol (SSTP, IKEv2), over their instances.
	P2S map[string]map[string]P2SStatus
}

// BGPSessionStatus is one BGP session of a gateway's instance: whether it
// is established, the routes learned from the peer and those advertised
// to it.
type BGPSessionStatus struct {
	Instance            int
	Peer                netip.Addr
	Established         bool
	Learned, Advertised int
}

// The point-to-site protocols, as Azure names them in its metrics'
// Protocol dimension and its clients' connection ids.
const (
	ProtocolSSTP    = "SSTP"
	ProtocolIKEv2   = "IKEv2"
	ProtocolOpenVPN = "OpenVPN"
)

// P2SStatus is a gateway's point-to-site traffic: the bytes its clients
// sent (Ingress) and were sent (Egress) since its servers started, and how
// many are connected.
type P2SStatus struct {
	Ingress, Egress uint64
	Clients         int
}

// Connection states.
const (
	Connected    = "Connected"
	Connecting   = "Connecting"
	NotConnected = "NotConnected"
)

// TunnelState is the observed state of a tunnel, or of a connection (the
// sum of its tunnels).
type TunnelState struct {
	// State is Connected, Connecting or NotConnected; a connection is
	// Connected when a tunnel is, else Connecting when one is.
	State string
	// Ingress and Egress count the bytes of inner packets received from and
	// sent to the peer, IngressPackets and EgressPackets the packets.
	Ingress, Egress               uint64
	IngressPackets, EgressPackets uint64
	// Drops counts the packets it dropped.
	Drops insights.Drops
	// IKESAs counts its established IKE SAs, ChildSAs its child SA
	// pairs, NATFlows the flows of its Dynamic NAT rules.
	IKESAs, ChildSAs, NATFlows int
	// Established is when it (a tunnel of it) last came up.
	Established time.Time
	// Reason says why it is not connected, or, when it is, which of its
	// prefix pairs are not up.
	Reason string
	// Idle tells that a policy-based tunnel was removed for idleness and
	// comes back with traffic (R8).
	Idle bool
}

// ConnectionStatus is the observed state of one connection: the sum of its
// tunnels, one per instance of its gateway (and peer instance).
type ConnectionStatus struct {
	TunnelState
	// Tunnels are the tunnels, by instance.
	Tunnels []TunnelStatus
	// Gateway is the id of the connection's gateway, Name its name.
	Gateway, Name string
}

// TunnelStatus is the observed state of one instance's tunnel of a
// connection.
type TunnelStatus struct {
	Instance   int
	PublicAddr netip.Addr
	// RemoteAddr is the peer's address (one of several instances of an
	// active-active peer).
	RemoteAddr netip.Addr
	TunnelState
}

// summed sets the connection's fields from its tunnels.
func (s ConnectionStatus) summed() ConnectionStatus {
	out := ConnectionStatus{TunnelState: TunnelState{State: NotConnected}, Tunnels: s.Tunnels, Gateway: s.Gateway, Name: s.Name}
	for i, t := range s.Tunnels {
		out.Ingress += t.Ingress
		out.Egress += t.Egress
		out.IngressPackets += t.IngressPackets
		out.EgressPackets += t.EgressPackets
		out.Drops = out.Drops.Plus(t.Drops)
		out.IKESAs += t.IKESAs
		out.ChildSAs += t.ChildSAs
		out.NATFlows += t.NATFlows
		if t.Established.After(out.Established) {
			out.Established = t.Established
		}
		if i == 0 || stateRank(t.State) > stateRank(out.State) {
			out.State, out.Idle = t.State, t.Idle
		}
	}
	// The best state's reasons (a Connected tunnel's names its prefix
	// pairs that are not up): each named by its tunnel when several have
	// one, as the tunnels of an active-active gateway may differ.
	var reasons []string
	for _, t := range s.Tunnels {
		if t.State == out.State && t.Reason != "" {
			reasons = append(reasons, t.Reason)
		}
	}
	if len(reasons) > 1 {
		remotes := map[netip.Addr]bool{}
		for _, t := range s.Tunnels {
			remotes[t.RemoteAddr] = true
		}
		reasons = reasons[:0]
		for _, t := range s.Tunnels {
			if t.State != out.State || t.Reason == "" {
				continue
			}
			name := t.PublicAddr.String()
			if len(remotes) > 1 {
				name += "-" + t.RemoteAddr.String()
			}
			reasons = append(reasons, "tunnel "+name+": "+t.Reason)
		}
	}
	out.Reason = strings.Join(reasons, " | ")
	return out
}

// stateRank orders connection states from worst to best.
func stateRank(s string) int {
	switch s {
	case Connected:
		return 2
	case Connecting:
		return 1
	}
	return 0
}

// HostStatus says whether a host runs.
type HostStatus struct {
	Running bool
	Error   string
}

// Status returns a snapshot.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{Epoch: e.epoch, VNets: map[string]fabric.Stats{}, Hosts: map[string]HostStatus{}, Connections: map[string]ConnectionStatus{}, P2S: map[string]map[string]P2SStatus{}}
	for id, v := range e.vnets {
		s.VNets[id] = v.stats()
		for hid, h := range v.hosts {
			hs := HostStatus{Running: h.port != nil}
			if h.err != nil {
				hs.Error = h.err.Error()
			}
			s.Hosts[hid] = hs
		}
	}
	for _, g := range e.gateways {
		g.status(s.Connections, e.tally)
		add := func(proto string, in, out uint64, n int) {
			if s.P2S[g.cfg.ID] == nil {
				s.P2S[g.cfg.ID] = map[string]P2SStatus{}
			}
			c := e.tally("p2s|" + g.cfg.key() + "|" + proto).of(counts{ingress: in, egress: out})
			in, out = c.ingress, c.egress
			p := s.P2S[g.cfg.ID][proto]
			p.Ingress, p.Egress, p.Clients = p.Ingress+in, p.Egress+out, p.Clients+n
			s.P2S[g.cfg.ID][proto] = p
		}
		if g.p2s != nil {
			if g.p2sCfg.SSTP {
				in, out, n := g.p2s.Traffic(ProtocolSSTP)
				add(ProtocolSSTP, in, out, n)
			}
			if g.p2sCfg.OpenVPN {
				in, out, n := g.p2s.Traffic(ProtocolOpenVPN)
				add(ProtocolOpenVPN, in, out, n)
			}
		}
		if g.ikev2Clients {
			in, out, n := g.gw.ClientTraffic()
			add(ProtocolIKEv2, in, out, n)
		}
	}
	for id, r := range e.retired {
		if c, ok := s.Connections[id]; ok {
			c.Ingress, c.Egress = c.Ingress+r.ingress, c.Egress+r.egress
			c.IngressPackets, c.EgressPackets = c.IngressPackets+r.ingressPackets, c.EgressPackets+r.egressPackets
			c.Drops = c.Drops.Plus(r.drops)
			s.Connections[id] = c
		}
	}
	return s
}

// BGPSessions returns the BGP sessions of the gateways' instances, by
// gateway id. What each peer is advertised is counted anew: it is for the
// metrics' samples, not for Status, which the reconcile loop reads often.
func (e *Engine) BGPSessions() map[string][]BGPSessionStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string][]BGPSessionStatus{}
	for _, g := range e.gateways {
		if g.bgp == nil {
			continue
		}
		for _, p := range g.bgp.s.Peers() {
			st := BGPSessionStatus{Instance: g.cfg.Instance, Peer: p.Addr, Established: p.State == "Established"}
			if st.Established {
				st.Learned, st.Advertised = p.RoutesReceived, len(g.bgp.s.Advertised(p.Addr))
			}
			out[g.cfg.ID] = append(out[g.cfg.ID], st)
		}
	}
	return out
}

// Close stops everything.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.stop)
	e.mu.Unlock()
	e.wg.Wait() // the idle watch takes mu
	e.mu.Lock()
	e.stopGateways(slices.Collect(maps.Values(e.gateways)))
	for _, v := range e.vnets {
		v.close()
	}
	e.vnets, e.gateways = nil, nil
	e.mu.Unlock()
	e.closing.Wait() // the stops Reconfig left in the background
	return nil
}
