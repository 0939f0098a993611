// Package gateway runs one VPN gateway: UDP endpoints on its public
// address (IKE on port 500, NAT-T on 4500), the IKE daemon that negotiates
// its tunnels, and the ESP engine that carries them between an inner side
// (a TUN device, or a VNet router's port) and the outside. It is the glue
// between internal/udp, internal/ike/ikev2 and internal/tunnel, used by the
// data plane and by `vnetgw dev gateway`.
package gateway

import (
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

	"github.com/vnetgw/vnetgw/internal/ike/ikev1"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/peakrate"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/tunnel"
	"github.com/vnetgw/vnetgw/internal/udp"
)

// Default ports.
const (
	DefaultIKEPort  = 500
	DefaultNATTPort = 4500
)

// Options say where a gateway lives.
type Options struct {
	// Local is the gateway's public address; it must be an address of
	// this host (or of the namespace the sockets are opened in).
	Local netip.Addr
	// IKEPort and NATTPort: 0 means 500 and 4500. Peers of one gateway use
	// the same ports.
	IKEPort, NATTPort uint16
	// Inner carries the plain packets. The gateway closes it.
	Inner tunnel.Inner
	// InnerAddrs are the gateway's addresses on the inner side, which
	// its ICMP errors about packets too long for a tunnel come from
	// (tunnel.Options.ICMPFrom); without one, such packets are sealed
	// and the ESP packet is fragmented.
	InnerAddrs []netip.Addr
	Logger     *slog.Logger
	Workers    int
	// KeepaliveInterval is the NAT-keepalive period behind a NAT; 0 means
	// udp.DefaultKeepaliveInterval (20 s).
	KeepaliveInterval time.Duration
	// RawESP carries ESP as IP protocol 50 (RFC 4303) with peers that no
	// NAT separates from the gateway; it needs CAP_NET_RAW. Without it, ESP
	// always travels in UDP on the NAT-T port (RFC 3948), which a peer
	// without NAT-T support cannot follow but which batches better (UDP
	// GSO and GRO).
	RawESP bool
	// OnChildren, when set, is called after the IKE daemons installed or
	// removed a child SA pair: a tunnel may have come up or gone down
	// (tunnel.Engine.Up). It must not block.
	OnChildren func()
}

// Connection is one tunnel: what IKE negotiates with the peer and what is
// routed into it.
type Connection struct {
	// Peer is the IKE configuration; Peer.Name names the tunnel. Its ports
	// are the gateway's.
	Peer ikev2.PeerConfig
	// Routes are the destination prefixes sent into the tunnel.
	Routes []netip.Prefix
	// PolicyBased selects outbound SAs by traffic selectors (R18).
	PolicyBased bool
	// IKEv1 negotiates the tunnel with IKEv1 (RFC 2409) instead of IKEv2.
	IKEv1 bool
	// NAT translates the site's addresses (VPN NAT, IngressSnat); Routes
	// hold the translated spaces.
	NAT []tunnel.NAT
	// Standby tunnels carry their routes only while the tunnel the routes
	// belong to has no child SA (tunnel.Tunnel.Standby).
	Standby bool
}

// Gateway is a running gateway.
type Gateway struct {
	opts Options
	log  *slog.Logger
	tr   *udp.Transport
	eng  *tunnel.Engine
	ike  atomic.Pointer[ikev2.Manager] // set once, after the engine exists
	ike1 atomic.Pointer[ikev1.Manager] // likewise, for IKEv1 connections

	stop      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup

	// mu guards the engine's tunnels: those of the connections, as last
	// given to Reconfig, and one per point-to-site client over IKEv2, by
	// name, with the client's address; and the fields below.
	mu      sync.Mutex
	tunnels []tunnel.Tunnel
	clients map[string]netip.Addr
	// pool is the IKEv2 clients' pool: its addresses go into their
	// clients' tunnels or nowhere (tunnel.Config.Drop).
	pool netip.Prefix
	// conns are, by name, the connections of the last Reconfig that the
	// data path took (one it refuses leaves the gateway as it was):
	// Status lists each, also while its IKE daemon has no peer for it.
	conns map[string]configured
	// goneIn and goneOut count the bytes of clients that left.
	goneIn, goneOut uint64
	// peaks are the point-to-site clients' highest rates, by tunnel
	// name (one per connection), sampled every peakrate.Tick.
	peaks peakrate.Tracker[string]
}

// configured is a connection as Reconfig was given it.
type configured struct {
	mode ikev2.ConnectionMode
	// refused: its IKE daemon refused its configuration and has no peer
	// of its name.
	refused bool
}

// Start binds the gateway's sockets and starts its engine and IKE daemon
// with no connections.
func Start(opts Options) (*Gateway, error) {
	if opts.IKEPort == 0 {
		opts.IKEPort = DefaultIKEPort
	}
	if opts.NATTPort == 0 {
		opts.NATTPort = DefaultNATTPort
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OnChildren == nil {
		opts.OnChildren = func() {}
	}
	g := &Gateway{opts: opts, log: opts.Logger, stop: make(chan struct{}), clients: map[string]netip.Addr{}}
	g.tr = udp.New(udp.Config{Logger: opts.Logger, KeepaliveInterval: opts.KeepaliveInterval, IKE: func(local, remote netip.AddrPort, msg []byte) {
		// The major version in the header (RFC 2408 §3.1, RFC 7296 §3.1)
		// tells the daemons apart.
		if len(msg) > 17 && msg[17]>>4 == 1 {
			if m := g.ike1.Load(); m != nil {
				m.HandlePacket(local, remote, msg)
			}
			return
		}
		if m := g.ike.Load(); m != nil {
			m.HandlePacket(local, remote, msg)
		}
	}})
	eng, err := tunnel.New(tunnel.Options{Inner: opts.Inner, Outer: g.tr, Events: events{g}, Logger: opts.Logger, Workers: opts.Workers, ICMPFrom: opts.InnerAddrs})
	if err != nil {
		g.tr.Close()
		opts.Inner.Close()
		return nil, err
	}
	g.eng = eng
	m, err := ikev2.New(ikev2.Config{Logger: opts.Logger, Transport: g.tr, Dataplane: dataplane{eng, opts.OnChildren}, NATTPort: opts.NATTPort})
	if err != nil {
		g.closeData()
		return nil, err
	}
	g.ike.Store(m)
	g.ike1.Store(ikev1.New(ikev1.Config{Logger: opts.Logger, Transport: g.tr, Dataplane: dataplane{eng, opts.OnChildren}, NATTPort: opts.NATTPort}))
	if _, err := g.tr.ListenIKE(netip.AddrPortFrom(opts.Local, opts.IKEPort)); err != nil {
		g.Close()
		return nil, fmt.Errorf("gateway %s: IKE port: %w", opts.Local, err)
	}
	if _, err := g.tr.ListenNATT(netip.AddrPortFrom(opts.Local, opts.NATTPort), eng); err != nil {
		g.Close()
		return nil, fmt.Errorf("gateway %s: NAT-T port: %w", opts.Local, err)
	}
	if opts.RawESP {
		if _, err := g.tr.ListenESP(opts.Local, eng); err != nil {
			g.Close()
			return nil, fmt.Errorf("gateway %s: ESP as IP protocol 50 (needs CAP_NET_RAW): %w", opts.Local, err)
		}
	}
	// RFC 4301 §8.2.1: the path MTU of the tunnels' ESP, from the routers
	// on the way; without the watch, only as the kernel learns it, read
	// every keepaliveCheck.
	if err := g.tr.WatchPathMTU(opts.Local); err != nil {
		g.log.Info("the tunnels learn path MTUs only from the kernel, read every few seconds: the gateway cannot read ICMP on its address (a raw socket needs CAP_NET_RAW)", "every", keepaliveCheck, "err", err)
	}
	g.wg.Go(g.keepalives)
	g.wg.Go(func() { g.peaks.Run(g.stop, g.readPeaks) })
	return g, nil
}

// readPeaks reads the point-to-site clients' counters, for their peak
// rates (Clients).
func (g *Gateway) readPeaks() map[string]peakrate.Counters {
	g.mu.Lock()
	names := slices.Collect(maps.Keys(g.clients))
	g.mu.Unlock()
	counters := make(map[string]peakrate.Counters, len(names))
	if len(names) > 0 {
		for _, ts := range g.eng.TunnelStatus(names...) {
			counters[ts.Name] = peakrate.Counters{Bytes: ts.BytesIn + ts.BytesOut, Packets: ts.PacketsIn + ts.PacketsOut}
		}
	}
	return counters
}

// keepaliveCheck is how often the paths that need NAT-keepalives are
// looked up again, the data plane's drops logged, and the kernel's path
// MTUs read.
const keepaliveCheck = 5 * time.Second

// keepalives makes the UDP transport send NAT-keepalives on the path of
// every IKE SA behind a real NAT (RFC 3948 §4), so that the NAT keeps the
// mapping the peer sends ESP and IKE to. On the same tick the engine and
// the UDP endpoints log the packets they dropped (once a minute at most
// per tunnel, or endpoint, and reason), and the tunnels that sent ESP
// since the tick before take the path MTU the kernel learned from errors
// about another instance's packets (tunnel.Engine.LearnPathMTUs).
func (g *Gateway) keepalives() {
	t := time.NewTicker(keepaliveCheck)
	defer t.Stop()
	var last []udp.Path
	for {
		var paths []udp.Path
		for _, p := range g.ikeStatus() {
			for _, sa := range p.IKESAs {
				if sa.State == "established" && sa.BehindNAT {
					paths = append(paths, udp.Path{Local: sa.Local, Remote: sa.Remote})
				}
			}
		}
		if !slices.Equal(paths, last) {
			g.tr.SetKeepalives(paths)
			last = paths
		}
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			g.eng.LogDrops(now)
			g.tr.LogDrops(now)
			g.eng.LearnPathMTUs()
		}
	}
}

// dataplane adapts the engine to the IKE daemon; changed is
// Options.OnChildren.
type dataplane struct {
	e       *tunnel.Engine
	changed func()
}

// InstallChild adds the pair to the engine, whose SAs keep their own copies
// of the keys, and wipes the keys it was given.
func (d dataplane) InstallChild(c ipsec.Child) error {
	defer c.Out.Keys.Wipe()
	defer c.In.Keys.Wipe()
	if err := d.e.AddChild(c); err != nil {
		return err
	}
	d.changed()
	return nil
}

func (d dataplane) RemoveChild(tunnel string, inSPI uint32) {
	d.e.RemoveChild(tunnel, inSPI)
	d.changed()
}
func (d dataplane) DrainChild(tunnel string, inSPI uint32) {
	d.e.DrainChild(tunnel, inSPI)
	d.changed()
}

var _ ikev2.InboundClock = dataplane{}

func (d dataplane) LastInbound(tunnel string) time.Time { return d.e.LastInbound(tunnel) }
func (d dataplane) MoveChild(tunnel string, inSPI uint32, local, remote netip.AddrPort, encap bool) error {
	return d.e.MoveChild(tunnel, inSPI, local, remote, encap)
}

// events passes the engine's events to the IKE daemon once it exists.
type events struct{ g *Gateway }

func (e events) SoftExpired(tunnel string, inSPI uint32) {
	if m := e.g.ike.Load(); m != nil {
		m.SoftExpired(tunnel, inSPI)
	}
	if m := e.g.ike1.Load(); m != nil {
		m.SoftExpired(tunnel, inSPI)
	}
}

func (e events) HardExpired(tunnel string, inSPI uint32) {
	if m := e.g.ike.Load(); m != nil {
		m.HardExpired(tunnel, inSPI)
	}
	if m := e.g.ike1.Load(); m != nil {
		m.HardExpired(tunnel, inSPI)
	}
}

func (e events) Acquire(tunnel string, src, dst netip.Addr) {
	if m := e.g.ike.Load(); m != nil {
		m.Acquire(tunnel, src, dst)
	}
	if m := e.g.ike1.Load(); m != nil {
		m.Acquire(tunnel, src, dst)
	}
}

func (e events) PeerMoved(tunnel string, inSPI uint32, remote netip.AddrPort) {
	if m := e.g.ike.Load(); m != nil {
		m.PeerMoved(tunnel, inSPI, remote)
	}
	if m := e.g.ike1.Load(); m != nil {
		m.PeerMoved(tunnel, inSPI, remote)
	}
}

// Reconfig makes the gateway carry exactly conns.
//
// It takes one caller at a time: two at once could leave the data path
// with the tunnels of one call and the IKE daemons with the peers of the
// other. Its callers keep to that: the data plane calls it with its
// engine's lock held (dataplane.Engine.mu), `vnetgw dev gateway` once.
// Reset, Status and the gateway's other methods may run alongside it.
func (g *Gateway) Reconfig(conns []Connection) error {
	var tc tunnel.Config
	var peers, peers1 []ikev2.PeerConfig
	for _, c := range conns {
		p := c.Peer
		p.Local = netip.AddrPortFrom(g.opts.Local, g.opts.IKEPort)
		p.Remote = netip.AddrPortFrom(p.Remote.Addr(), g.opts.IKEPort)
		// Without a raw ESP endpoint, ESP goes in UDP (RFC 3948) also when
		// no NAT is in between.
		p.ForceEncap = !g.opts.RawESP
		if c.IKEv1 {
			peers1 = append(peers1, p)
		} else {
			peers = append(peers, p)
		}
		tc.Tunnels = append(tc.Tunnels, tunnel.Tunnel{Name: p.Name, Routes: c.Routes, PolicyBased: c.PolicyBased, NAT: c.NAT, Standby: c.Standby})
	}
	// New and changed tunnels first, so that children the daemons install
	// find them; a removed one stays until the daemons have taken their
	// parts: one that refuses its part keeps its old peers, whose tunnels
	// must stay with them (a peer without its tunnel has its traffic
	// dropped while IKE shows it up). A removed one keeps only the routes
	// no new one has: the configuration may move a route from it to
	// another connection, and a route is one tunnel's.
	claimed := map[netip.Prefix]bool{}
	for _, t := range tc.Tunnels {
		for _, r := range t.Routes {
			claimed[r.Masked()] = true
		}
	}
	kept := make(map[string]bool, len(tc.Tunnels))
	for _, t := range tc.Tunnels {
		kept[t.Name] = true
	}
	g.mu.Lock()
	old := g.tunnels
	g.tunnels = slices.Clone(tc.Tunnels)
	for _, t := range old {
		if !kept[t.Name] {
			t.Routes = slices.DeleteFunc(slices.Clone(t.Routes), func(r netip.Prefix) bool { return claimed[r.Masked()] })
			g.tunnels = append(g.tunnels, t)
		}
	}
	err := g.applyTunnels()
	if err != nil {
		g.tunnels = old // the engine kept them: the gateway stays as it was
	}
	g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("gateway %s: tunnels: %w", g.opts.Local, err)
	}
	// Each daemon takes its part whatever the other's did: one that
	// refuses its configuration (and keeps its old one) holds up none of
	// the other's connections.
	var errs []error
	if err := g.ike.Load().Reconfig(peers); err != nil && !errors.Is(err, ikev2.ErrNoChanges) {
		errs = append(errs, fmt.Errorf("gateway %s: IKE: %w", g.opts.Local, err))
	}
	if err := g.ike1.Load().Reconfig(peers1); err != nil && !errors.Is(err, ikev2.ErrNoChanges) {
		errs = append(errs, fmt.Errorf("gateway %s: IKEv1: %w", g.opts.Local, err))
	}
	// The data path carries the tunnels of the peers the daemons now have,
	// no other: a removed tunnel goes once its daemon has told the peer
	// (its Deletes go on the IKE socket, not through a tunnel) and
	// removed its children, and so does that of a new peer refused.
	carried := map[string]bool{}
	for _, name := range append(g.ike.Load().Peers(), g.ike1.Load().Peers()...) {
		carried[name] = true
	}
	g.mu.Lock()
	g.tunnels = slices.DeleteFunc(g.tunnels, func(t tunnel.Tunnel) bool { return !carried[t.Name] })
	g.conns = make(map[string]configured, len(conns))
	for _, c := range conns {
		g.conns[c.Peer.Name] = configured{mode: c.Peer.Mode, refused: !carried[c.Peer.Name]}
	}
	if err := g.applyTunnels(); err != nil {
		errs = append(errs, fmt.Errorf("gateway %s: tunnels: %w", g.opts.Local, err))
	}
	g.mu.Unlock()
	return errors.Join(errs...)
}

// applyTunnels hands the engine the connections' tunnels and the
// clients'; g.mu is held.
func (g *Gateway) applyTunnels() error {
	tc := tunnel.Config{Tunnels: slices.Clone(g.tunnels)}
	if g.pool.IsValid() {
		tc.Drop = []netip.Prefix{g.pool}
	}
	for _, name := range slices.Sorted(maps.Keys(g.clients)) {
		a := g.clients[name]
		tc.Tunnels = append(tc.Tunnels, tunnel.Tunnel{Name: name, Routes: []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}})
	}
	if err := g.eng.Reconfig(tc); err != nil && !errors.Is(err, tunnel.ErrNoChanges) {
		return err
	}
	return nil
}

// SetClients serves point-to-site clients over IKEv2 as cl says (nil:
// none), each in a tunnel of its own that carries its address; an
// address of the pool that no client has goes into no tunnel. cl's
// Attach, Detach and ForceEncap are the gateway's.
func (g *Gateway) SetClients(cl *ikev2.Clients) error {
	var pool netip.Prefix
	if cl != nil {
		c := *cl
		c.Attach, c.Detach, c.Usage, c.ForceEncap = g.attachClient, g.detachClient, g.clientUsage, !g.opts.RawESP
		cl = &c
		pool = cl.Pool
	}
	g.mu.Lock()
	g.pool = pool
	err := g.applyTunnels()
	g.mu.Unlock()
	return errors.Join(err, g.ike.Load().SetClients(cl))
}

func (g *Gateway) attachClient(name string, addr netip.Addr) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.clients[name] = addr
	if err := g.applyTunnels(); err != nil {
		delete(g.clients, name)
		return err
	}
	return nil
}

func (g *Gateway) detachClient(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.eng.TunnelStatus(name) {
		g.goneIn, g.goneOut = g.goneIn+t.BytesIn, g.goneOut+t.BytesOut
	}
	delete(g.clients, name)
	if err := g.applyTunnels(); err != nil {
		g.log.Error("removing a point-to-site client's tunnel", "client", name, "err", err)
	}
}

// clientUsage is what the tunnel of the point-to-site client called name
// has carried.
func (g *Gateway) clientUsage(name string) radius.Usage {
	var u radius.Usage
	for _, t := range g.eng.TunnelStatus(name) {
		u.BytesIn, u.BytesOut, u.PacketsIn, u.PacketsOut = u.BytesIn+t.BytesIn, u.BytesOut+t.BytesOut, u.PacketsIn+t.PacketsIn, u.PacketsOut+t.PacketsOut
	}
	return u
}

// ClientStatus is a point-to-site client over IKEv2 with its traffic.
type ClientStatus struct {
	ikev2.ClientStatus
	BytesIn, BytesOut     uint64
	PacketsIn, PacketsOut uint64
	// Peak is its highest rate over one-second windows since it
	// connected, both ways together.
	Peak peakrate.Peak
}

// Clients returns the connected point-to-site clients over IKEv2.
func (g *Gateway) Clients() []ClientStatus {
	clients := g.ike.Load().Clients()
	names := make([]string, len(clients))
	for i, c := range clients {
		names[i] = c.Name
	}
	counters := map[string]tunnel.TunnelStatus{}
	for _, t := range g.eng.TunnelStatus(names...) {
		counters[t.Name] = t
	}
	out := make([]ClientStatus, 0, len(clients))
	for _, c := range clients {
		t := counters[c.Name]
		out = append(out, ClientStatus{ClientStatus: c, BytesIn: t.BytesIn, BytesOut: t.BytesOut, PacketsIn: t.PacketsIn, PacketsOut: t.PacketsOut, Peak: g.peaks.Peak(c.Name)})
	}
	return out
}

// ClientTraffic returns the bytes the point-to-site clients over IKEv2
// sent (in) and were sent (out) since the gateway started, those that
// left included, and how many are connected.
func (g *Gateway) ClientTraffic() (in, out uint64, clients int) {
	// Under g.mu, as detachClient moves a leaving client's bytes: read
	// apart, they could be missed for a moment (and a total that goes
	// down is taken for a restart).
	g.mu.Lock()
	defer g.mu.Unlock()
	in, out, names := g.goneIn, g.goneOut, slices.Collect(maps.Keys(g.clients))
	for _, t := range g.eng.TunnelStatus(names...) {
		in, out = in+t.BytesIn, out+t.BytesOut
	}
	return in, out, len(names)
}

// DisconnectClient ends the connection of the point-to-site client over
// IKEv2 at addr; it reports whether one was connected there.
func (g *Gateway) DisconnectClient(addr netip.Addr) bool { return g.ike.Load().DisconnectClient(addr) }

// ikeStatus is the status of both daemons' peers.
func (g *Gateway) ikeStatus() []ikev2.PeerStatus {
	return append(g.ike.Load().Status(), g.ike1.Load().Status()...)
}

// Connection states.
const (
	Connected    = "Connected"
	Connecting   = "Connecting"
	NotConnected = "NotConnected"
)

// ConnectionStatus is the observed state of one connection.
type ConnectionStatus struct {
	Name  string
	State string
	// Reason says why it is not connected, or, when it is, which of its
	// prefix pairs are not up.
	Reason string
	// BytesIn and BytesOut count inner bytes from and to the peer,
	// PacketsIn and PacketsOut inner packets; Drops what the tunnel
	// dropped.
	BytesIn, BytesOut     uint64
	PacketsIn, PacketsOut uint64
	Drops                 tunnel.TunnelDrops
	// NATFlows counts the flows of its dynamic NAT rules.
	NATFlows int
	// IKESAs counts the established IKE SAs (IKEv1: ISAKMP SAs).
	IKESAs      int
	Established time.Time
	LastInbound time.Time
	// Children are the installed child SA pairs, as IKE reports them.
	Children []ikev2.ChildStatus
	Proposal string
	// Idle: removed for idleness, back with traffic (R8).
	Idle bool
}

// Status returns the state of every connection, sorted by name: those
// the IKE daemons have, and those of the last Reconfig that they do not
// (a connection being reset or restarted, whose daemon has taken its old
// SAs out and not yet started it again, and one whose configuration the
// daemon refused).
func (g *Gateway) Status() []ConnectionStatus {
	// The connections' tunnels only, not the point-to-site clients'.
	peers := g.ikeStatus()
	names := make([]string, len(peers))
	known := make(map[string]bool, len(peers))
	for i, p := range peers {
		names[i] = p.Name
		known[p.Name] = true
	}
	g.mu.Lock()
	missing := map[string]configured{}
	for name, c := range g.conns {
		if !known[name] {
			missing[name] = c
			names = append(names, name)
		}
	}
	g.mu.Unlock()
	counters := map[string]tunnel.TunnelStatus{}
	for _, t := range g.eng.TunnelStatus(names...) {
		counters[t.Name] = t
	}
	var out []ConnectionStatus
	for _, p := range peers {
		cs := ConnectionStatus{Name: p.Name, State: NotConnected, Reason: p.LastError, Idle: p.Idle}
		for _, sa := range p.IKESAs {
			if sa.State != "established" {
				continue
			}
			cs.IKESAs++
			cs.Children = append(cs.Children, sa.Children...)
			if cs.Established.IsZero() || sa.Established.After(cs.Established) {
				cs.Established, cs.Proposal = sa.Established, sa.Proposal
			}
		}
		switch {
		case len(cs.Children) > 0:
			cs.State, cs.Reason = Connected, ""
			if len(p.Down) > 0 {
				// Connected still: the other pairs carry traffic.
				cs.Reason = fmt.Sprintf("%d of %d prefix pairs not up: %s", len(p.Down), p.Pairs, strings.Join(p.Down, ", "))
				if p.LastError != "" {
					cs.Reason += "; " + p.LastError
				}
			}
		case p.State == "connecting" || p.State == "established":
			cs.State = Connecting
		}
		if cs.State == NotConnected && cs.Idle {
			cs.Reason = "removed for idleness; traffic in either direction brings it back (R8)"
		}
		if cs.State == NotConnected && cs.Reason == "" {
			cs.Reason = "no IKE SA with the peer"
			if p.Mode == ikev2.ModeResponderOnly {
				cs.Reason = "waiting for the peer to connect (ResponderOnly)"
			}
		}
		out = append(out, cs)
	}
	for name, c := range missing {
		cs := ConnectionStatus{Name: name, State: Connecting, Reason: "restarting: its old IKE SAs are being deleted (a reset, or a changed configuration)"}
		switch {
		case c.refused:
			cs.State, cs.Reason = NotConnected, "the IKE daemon refused its configuration"
		case c.mode == ikev2.ModeResponderOnly:
			cs.State, cs.Reason = NotConnected, "restarting: its old IKE SAs are being deleted (a reset, or a changed configuration), then it waits for the peer to connect (ResponderOnly)"
		}
		out = append(out, cs)
	}
	for i := range out {
		cs, t := &out[i], counters[out[i].Name]
		cs.BytesIn, cs.BytesOut, cs.LastInbound = t.BytesIn, t.BytesOut, t.LastInbound
		cs.PacketsIn, cs.PacketsOut, cs.Drops, cs.NATFlows = t.PacketsIn, t.PacketsOut, t.Drops, t.NATFlows
	}
	slices.SortFunc(out, func(a, b ConnectionStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// IKESAs returns the IKE SAs of connection name, the newest first, and
// what the data path counted for each of their child SA pairs, by inbound
// SPI.
func (g *Gateway) IKESAs(name string) ([]ikev2.IKESAStatus, map[uint32]ChildCounters) {
	counters := map[uint32]ChildCounters{}
	for _, t := range g.eng.TunnelStatus(name) {
		for _, c := range t.Children {
			counters[c.InSPI] = ChildCounters{PacketsIn: c.In.PacketsIn, BytesIn: c.In.BytesIn, PacketsOut: c.Out.PacketsOut, BytesOut: c.Out.BytesOut}
		}
	}
	for _, p := range g.ikeStatus() {
		if p.Name == name {
			return p.IKESAs, counters
		}
	}
	return nil, counters
}

// ChildCounters are the ESP packets and bytes of a child SA pair: opened
// with its inbound SA, sealed with its outbound one.
type ChildCounters struct {
	PacketsIn, BytesIn, PacketsOut, BytesOut uint64
}

// Reset ends connection name's IKE SAs, with a Delete to the peer, and
// starts the connection again; it reports whether the gateway has it.
func (g *Gateway) Reset(name string) bool {
	return g.ike.Load().Reset(name) || g.ike1.Load().Reset(name)
}

// UDP returns the gateway's UDP endpoints, for counters.
func (g *Gateway) UDP() *udp.Transport { return g.tr }

// Engine returns the gateway's ESP engine, for counters.
func (g *Gateway) Engine() *tunnel.Engine { return g.eng }

// Idle removes connection name's SAs for idleness (R8), with either IKE
// version; traffic brings them back.
func (g *Gateway) Idle(name string) {
	g.ike.Load().Idle(name)
	g.ike1.Load().Idle(name)
}

// IKE returns the gateway's IKE daemon.
func (g *Gateway) IKE() *ikev2.Manager { return g.ike.Load() }

// IKEStats returns the counters of the IKEv2 and the IKEv1 daemon.
func (g *Gateway) IKEStats() (v2, v1 ikev2.Stats) {
	return g.ike.Load().Stats(), g.ike1.Load().Stats()
}

// CloseSockets closes the gateway's IKE, NAT-T and ESP sockets at once:
// nothing reaches it or leaves it at its address any more, which another
// node may be taking over. Close, which must still be called, then ends
// its SAs without telling the peers.
func (g *Gateway) CloseSockets() error { return g.tr.Close() }

// Close deletes every IKE SA (telling the peers), then stops the engine and
// closes the sockets and the inner side.
func (g *Gateway) Close() error {
	var err error
	g.closeOnce.Do(func() {
		close(g.stop)
		g.wg.Wait()
		if m := g.ike.Load(); m != nil {
			err = m.Close()
		}
		if m := g.ike1.Load(); m != nil {
			err = errors.Join(err, m.Close())
		}
		err = errors.Join(err, g.closeData())
	})
	return err
}

func (g *Gateway) closeData() error {
	err := g.eng.Close()
	return errors.Join(err, g.tr.Close())
}
