package tunnel

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/pcap"
	"github.com/vnetgw/vnetgw/internal/sparselog"
	"github.com/vnetgw/vnetgw/internal/udp"
	"github.com/vnetgw/vnetgw/internal/wire/icmp"
)

// Inner is the side of the engine that carries plain IP packets: a TUN
// device (tun.Device) or the VNet fabric. Its methods are those of
// wireguard-go's tun.Device: Read fills bufs[i][offset:] and sizes[i] and
// returns how many packets it read; Write writes the packets at
// bufs[i][offset:] and may coalesce them into the spare capacity of bufs[i].
type Inner interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
	// BatchSize is the most packets one Read returns.
	BatchSize() int
	// Close makes a blocked Read return. The engine's Close calls it.
	Close() error
}

// Outer is the side of the engine that carries ESP in UDP: udp.Transport.
// Inbound ESP comes the other way, through Engine.HandleESP. NAT-keepalives
// are not the engine's business: the IKE side knows who is behind a NAT.
type Outer interface {
	// WriteBatch sends datagrams from the endpoint bound to local. When
	// it fails, msgs[i].N tells which were sent: len(Buf) for those, 0
	// for the others (udp.Conn.WriteBatch's contract).
	WriteBatch(local netip.AddrPort, msgs []udp.Message) error
	// KernelPathMTU returns the path MTU the kernel of the node keeps for
	// ESP from local to remote, without sending anything, or an error if
	// it cannot tell.
	KernelPathMTU(local, remote netip.AddrPort) (int, error)
}

// Options are what an engine is made of.
type Options struct {
	Inner Inner
	Outer Outer
	// Events gets soft expiries, acquires and peers that moved; nil
	// drops them.
	Events ipsec.Events
	// Logger gets what happens to tunnels and children, never packets above
	// Debug; nil discards it.
	Logger *slog.Logger
	// Workers is the number of goroutines that help the reading
	// goroutines (the outbound loop, and the UDP read loops that call
	// HandleESP) seal and open; 0 means one per core (GOMAXPROCS).
	Workers int
	// MTU is the outer path MTU: the most bytes an ESP packet may have
	// with its outer IP and UDP headers; 0 means DefaultMTU. A tunnel's
	// MTU, the longest inner packet it carries whole, is this less the
	// outer headers and what its child SA's algorithm adds.
	MTU int
	// ICMPFrom are the engine's addresses on the inner side, one IPv4 and
	// one IPv6 (the gateway's in its VNet). An inner packet longer than
	// its tunnel's MTU, IPv6 or IPv4 with Don't Fragment, is dropped and
	// its sender told the MTU with ICMP Fragmentation Needed or Packet
	// Too Big from the address of its family, written to the inner side.
	// Without an address of its family, or for IPv4 without Don't
	// Fragment, the packet is sealed and the kernel fragments the ESP
	// packet.
	ICMPFrom []netip.Addr
}

// DefaultMTU is the outer path MTU an engine assumes: Ethernet's.
const DefaultMTU = 1500

// innerOffset is where inbound packets start in the buffers given to
// Inner.Write: room for a virtio-net header (tun.WriteOffset), and no more
// than the shortest ESP header and IV (AES-GCM's 16 bytes), which the inner
// packet follows in place.
const innerOffset = 16

// Engine carries the traffic of a gateway's tunnels between the inner side
// and ESP in UDP. It owns the inner side (Close closes it), not the outer
// side. Its methods are safe for concurrent use.
type Engine struct {
	inner  Inner
	outer  Outer
	events ipsec.Events
	log    *slog.Logger
	now    func() time.Time

	// mu guards cfg, tunnels, paths, the tunnels' cfg fields and the
	// children's learnedAt, and
	// serializes the writers of routes, spis and the tunnels' children
	// and their ends (Reconfig, AddChild, MoveChild, RemoveChild, Close).
	// The data path never takes it. mu and inMu (or logMu) are never held
	// together.
	mu      sync.Mutex
	cfg     Config
	tunnels map[string]*tunnel
	// paths are the tunnels with children on each pair of outer ends,
	// with how many children each has there: what a path MTU learned
	// applies to.
	paths map[outerEnds]map[*tunnel]int

	routes atomic.Pointer[routes]
	spis   esp.Table[*child]
	closed atomic.Bool
	drops  engineDrops

	pool *pool
	out  *outBatch // owned by the outbound loop

	mtu                  int        // Options.MTU
	icmpFrom4, icmpFrom6 netip.Addr // Options.ICMPFrom; invalid: none
	icmpLimit            icmp.Limiter

	// inMu guards in, inClosed, lastShort, lastUnknown and the tunnels'
	// lastESP: it serializes HandleESP and the outbound loop's ICMP
	// answers, the writers of the inner side, and lets Close wait for the
	// call in progress.
	inMu        sync.Mutex
	in          *inBatch
	inClosed    bool
	lastShort   espDrop // the last ESP packet shorter than its header
	lastUnknown espDrop // the last ESP packet of no SA

	// logMu guards lines and the tunnels' lines: LogDrops's state. It is
	// taken before inMu, never with mu.
	logMu sync.Mutex
	lines [engineDropCount]sparselog.Log

	// expMu guards expiring: the children's SAs that reached a soft or
	// a hard limit, told by the packet path (esp.SA.OnExpiry), which
	// expiryLoop reports; expired wakes it. It is taken last (the packet
	// path may hold inMu): nothing else is taken while it is held.
	expMu    sync.Mutex
	expiring []expiry
	expired  chan struct{}

	// innerGone is closed once the outbound loop stopped reading the
	// inner side, which failed for good; innerErr, written before, says
	// why.
	innerGone chan struct{}
	innerErr  error

	done chan struct{}
	wg   sync.WaitGroup // the outbound loop and expiryLoop
}

// expiry is a child whose SA reached a soft or a hard limit.
type expiry struct {
	c    *child
	hard bool
}

// tunnel is the run-time state of one configured tunnel. It lives as long
// as the tunnel is configured, so its counters survive rekeys and
// reconfiguration.
type tunnel struct {
	name string
	cfg  Tunnel // guarded by Engine.mu
	// draining are children that send nothing more but still open what
	// the peer sent with them (DrainChild); guarded by Engine.mu.
	draining []*child

	policy      atomic.Bool
	children    atomic.Pointer[[]*child] // oldest first; replaced under Engine.mu
	lastAcquire atomic.Int64             // unix nanoseconds

	// Outbound and inbound counters are written by different goroutines:
	// keep them on separate cache lines.
	packetsOut, bytesOut atomic.Uint64
	_                    [64 - 16]byte
	packetsIn, bytesIn   atomic.Uint64
	lastIn               atomic.Int64
	drops                [dropCount]atomic.Uint64

	capture atomic.Pointer[pcap.Capture] // records the inner packets both ways, or nil
	nat     atomic.Pointer[natTable]     // the far side's address translation; nil: none
	pmtu    atomic.Uint64                // a path MTU learned (pmtu.go); 0: none

	// What the last dropped packets left for LogDrops (see droplog.go):
	// of inbound ESP by reason, and of the outbound SA that refused to
	// seal.
	lastESP     [espDropCount]espDrop // guarded by Engine.inMu
	lastSealSPI atomic.Uint32
	lastSealSeq atomic.Uint64
	lines       [dropCount]sparselog.Log // guarded by Engine.logMu
}

// child is one child SA pair of a tunnel.
type child struct {
	tunnel            *tunnel
	in, out           *esp.SA
	ends              atomic.Pointer[outerEnds] // replaced when the peer moves
	localTS, remoteTS []netip.Prefix
	standby           bool         // ipsec.Child.Standby
	lastIn            atomic.Int64 // unix nanoseconds of the last packet opened
	lastMoved         int64        // unix nanoseconds of the last Events.PeerMoved; guarded by Engine.inMu
	selectorDrops     atomic.Uint64
	removed           atomic.Bool // set when the child is removed: its expiries are not reported
	// softTold and hardTold say that expiryLoop reported the child's
	// soft and hard expiry; only it reads and writes them.
	softTold, hardTold bool
	// learnedAt is the outbound SA's sequence number when LearnPathMTUs
	// last looked: one since tells that the child sent ESP on its path.
	// Guarded by Engine.mu.
	learnedAt uint64
}

// outerEnds are where a child's ESP leaves from and goes to.
type outerEnds struct{ local, remote netip.AddrPort }

// dropReason is why a tunnel dropped a packet.
type dropReason uint8

const (
	dropNone       dropReason = iota
	dropNoSA                  // outbound: no child
	dropNoSelector            // outbound, policy-based: children, but none whose selectors hold the packet
	dropSeal                  // outbound: the SA refused to seal
	dropSend                  // outbound: sealed, but the outer side did not send it
	dropReplay                // inbound: the SA refused it as a replay (esp.ErrReplay)
	dropIntegrity             // inbound: its ICV did not verify (esp.ErrAuth)
	dropPadding               // inbound: its padding is wrong (esp.ErrPadding)
	dropLength                // inbound: its length is wrong (esp.ErrLength)
	dropExpired               // inbound: the SA passed its hard lifetime (esp.ErrExpired)
	dropDummy                 // inbound: a dummy packet (RFC 4303 §2.6)
	dropMalformed             // inbound: not an IP packet of the Next Header's version
	dropSelector              // inbound: outside the SA's selectors (RFC 4301 §5.2)
	dropECN                   // inbound: outer CE on an inner packet that is not ECN-capable (RFC 6040 §4.2)
	dropInnerWrite            // inbound: opened, but the inner side's Write failed
	dropNATNoFlow             // for a dynamic NAT map's External side, and of no flow its Internal side started
	dropNATFull               // a new flow of a dynamic NAT map found no free address and port
	dropTooBig                // outbound: longer than the tunnel's MTU, with Don't Fragment or IPv6 (RFC 4301 §8.2.1)
	dropCount
)

func (t *tunnel) drop(r dropReason) { t.drops[r].Add(1) }

// engineDrops counts packets dropped before a tunnel is known, and failed
// batches.
type engineDrops struct {
	notIP, noRoute, short, unknownSPI   atomic.Uint64
	sendErrors, innerReads, innerWrites atomic.Uint64
}

// New starts an engine with no tunnels. It reads the inner side from now on
// and drops what it reads until Reconfig routes it.
func New(opts Options) (*Engine, error) {
	if opts.Inner == nil || opts.Outer == nil {
		return nil, errors.New("tunnel: new engine: inner and outer sides are required")
	}
	e := &Engine{
		inner:   opts.Inner,
		outer:   opts.Outer,
		events:  opts.Events,
		log:     opts.Logger,
		now:     time.Now,
		tunnels: map[string]*tunnel{},
		paths:   map[outerEnds]map[*tunnel]int{},
		done:    make(chan struct{}),

		innerGone: make(chan struct{}),
	}
	if e.events == nil {
		e.events = noEvents{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.mtu = opts.MTU
	if e.mtu <= 0 {
		e.mtu = DefaultMTU
	}
	for _, a := range opts.ICMPFrom {
		if a = a.Unmap(); a.Is4() {
			e.icmpFrom4 = a
		} else if a.Is6() {
			e.icmpFrom6 = a
		}
	}
	e.icmpLimit = icmp.Limiter{Rate: icmpRate, Burst: icmpBurst, Now: e.clock}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	e.routes.Store(newRoutes(e.tunnels, nil))
	e.pool = newPool(workers)
	e.out = newOutBatch(max(opts.Inner.BatchSize(), minOutBatch))
	e.in = newInBatch(udp.DefaultBatchSize)
	e.expired = make(chan struct{}, 1)
	e.wg.Add(2)
	go e.outboundLoop()
	go e.expiryLoop()
	return e, nil
}

// InnerGone is closed once the engine stopped reading its inner side
// because it failed for good, not at Close: closed under the engine, or a
// TUN device whose interface was deleted (tun.ErrDeleted). The tunnels
// carry nothing from it then; InnerErr says why.
func (e *Engine) InnerGone() <-chan struct{} { return e.innerGone }

// InnerErr is why the engine stopped reading its inner side, once
// InnerGone is closed; nil before.
func (e *Engine) InnerErr() error {
	select {
	case <-e.innerGone:
		return e.innerErr
	default:
		return nil
	}
}

// innerGoneWith tells InnerGone, with err; the outbound loop calls it once,
// as it ends.
func (e *Engine) innerGoneWith(err error) {
	e.innerErr = err
	close(e.innerGone)
}

// clock is e.now, as a method value for the ICMP limiter.
func (e *Engine) clock() time.Time { return e.now() }

type noEvents struct{}

func (noEvents) SoftExpired(string, uint32)               {}
func (noEvents) HardExpired(string, uint32)               {}
func (noEvents) Acquire(string, netip.Addr, netip.Addr)   {}
func (noEvents) PeerMoved(string, uint32, netip.AddrPort) {}

// Reconfig makes cfg the engine's tunnels: it adds the new ones, removes
// those not in cfg with their children, and changes the routes and modes of
// the others, whose children and counters stay. It returns ErrNoChanges if
// cfg is the configuration in force. The drops of a removed tunnel not
// yet logged are logged as it goes.
func (e *Engine) Reconfig(cfg Config) error {
	gone, err := e.reconfig(cfg)
	e.logGone(gone, false)
	return err
}

// reconfig is Reconfig; it returns the tunnels it removed.
func (e *Engine) reconfig(cfg Config) (gone []*tunnel, err error) {
	byName, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return nil, errors.New("tunnel: reconfig: engine closed")
	}
	if cfg.equal(e.cfg) {
		return nil, ErrNoChanges
	}
	for name, t := range e.tunnels {
		if _, keep := byName[name]; !keep {
			e.removeTunnel(t)
			gone = append(gone, t)
		}
	}
	for name, tc := range byName {
		t := e.tunnels[name]
		if t == nil {
			t = &tunnel{name: name}
			t.children.Store(&[]*child{})
			e.tunnels[name] = t
			e.log.Info("tunnel added", "conn", name)
		}
		tc.Routes = slices.Clone(tc.Routes)
		t.cfg = tc
		t.policy.Store(tc.PolicyBased)
		// Unchanged maps keep their flows, also when others change.
		if old := t.nat.Load(); old == nil && len(tc.NAT) > 0 || old != nil && !slices.Equal(old.maps, tc.NAT) {
			t.nat.Store(old.keep(newNATTable(tc.NAT), e.now().Unix()))
		}
	}
	e.routes.Store(newRoutes(e.tunnels, cfg.Drop))
	e.cfg = Config{Tunnels: slices.Clone(cfg.Tunnels), Drop: slices.Clone(cfg.Drop)}
	for i := range e.cfg.Tunnels {
		e.cfg.Tunnels[i].Routes = slices.Clone(e.cfg.Tunnels[i].Routes)
		e.cfg.Tunnels[i].NAT = slices.Clone(e.cfg.Tunnels[i].NAT)
	}
	return gone, nil
}

// SetCapture records the inner packets of tunnel name, both ways, in c
// until it is set to nil; it reports whether the tunnel exists. Without a
// capture a packet pays one atomic load.
func (e *Engine) SetCapture(name string, c *pcap.Capture) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tunnels[name]
	if t != nil {
		t.capture.Store(c)
	}
	return t != nil
}

// removeTunnel removes t and its children. e.mu is held.
func (e *Engine) removeTunnel(t *tunnel) {
	for _, c := range append(slices.Clone(*t.children.Load()), t.draining...) {
		e.spis.Remove(c.in.SPI())
		e.leavePath(*c.ends.Load(), t)
		c.removed.Store(true)
	}
	t.children.Store(&[]*child{})
	t.draining = nil
	delete(e.tunnels, t.name)
	e.log.Info("tunnel removed", "conn", t.name)
}

// AddChild installs a child SA pair in its tunnel. It becomes the tunnel's
// outbound SA for the traffic it covers (the newest wins); inbound, it opens
// packets with its SPI until RemoveChild. The tunnel takes the path MTU
// the kernel keeps for the child's path if it is smaller than the one in
// force (LearnPathMTUs).
func (e *Engine) AddChild(c ipsec.Child) error {
	ends, err := e.addChild(c)
	if err != nil {
		return err
	}
	e.learnPathMTU(ends)
	return nil
}

// addChild is AddChild but for the path MTU; it returns the child's ends.
func (e *Engine) addChild(c ipsec.Child) (outerEnds, error) {
	if err := checkChild(c); err != nil {
		return outerEnds{}, fmt.Errorf("tunnel: add child 0x%08x to %q: %w", c.In.SPI, c.Tunnel, err)
	}
	in, err := esp.New(c.In)
	if err != nil {
		return outerEnds{}, fmt.Errorf("tunnel: add child to %q: inbound: %w", c.Tunnel, err)
	}
	out, err := esp.New(c.Out)
	if err != nil {
		return outerEnds{}, fmt.Errorf("tunnel: add child to %q: outbound: %w", c.Tunnel, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return outerEnds{}, errors.New("tunnel: add child: engine closed")
	}
	t := e.tunnels[c.Tunnel]
	if t == nil {
		return outerEnds{}, fmt.Errorf("tunnel: add child 0x%08x: no tunnel %q", c.In.SPI, c.Tunnel)
	}
	ch := &child{
		tunnel:   t,
		in:       in,
		out:      out,
		localTS:  masked(c.LocalTS),
		remoteTS: masked(c.RemoteTS),
		standby:  c.Standby,
	}
	// What the packet path finds is reported by expiryLoop, once published.
	in.OnExpiry(func(hard bool) { e.expire(ch, hard) })
	out.OnExpiry(func(hard bool) { e.expire(ch, hard) })
	ends := outerEnds{outerEnd(c.Local, c.Encap), outerEnd(c.Remote, c.Encap)}
	ch.ends.Store(&ends)
	if err := e.spis.Add(c.In.SPI, ch); err != nil {
		return outerEnds{}, fmt.Errorf("tunnel: add child to %q: %w", c.Tunnel, err)
	}
	e.joinPath(ends, t)
	children := append(slices.Clone(*t.children.Load()), ch)
	t.children.Store(&children)
	e.log.Info("child added", "conn", t.name, "in", in, "out", out, "peer", c.Remote, "standby", c.Standby)
	return ends, nil
}

// Carries reports whether a packet from src to dst would leave through a
// tunnel now: a route holds dst and its tunnel has a child SA pair, on a
// tunnel that chooses its SA by selectors one whose selectors hold both
// addresses (unless the tunnel translates them first: then any). It takes
// no lock: the fabric asks it per packet to choose between the instances
// of an active-active gateway, whose tunnels may have different prefix
// pairs up.
func (e *Engine) Carries(src, dst netip.Addr) bool {
	t := e.routes.Load().lookup(dst)
	switch {
	case t == nil:
		return false
	case t.policy.Load() && t.nat.Load() == nil:
		return t.outboundChild(src, dst) != nil
	}
	return len(*t.children.Load()) > 0
}

// Up reports whether tunnel name has a child SA pair, of any selectors:
// whether it is up.
func (e *Engine) Up(name string) bool {
	e.mu.Lock()
	t := e.tunnels[name]
	e.mu.Unlock()
	return t != nil && len(*t.children.Load()) > 0
}

// LastInbound reports when ESP of tunnel name last opened (authenticated,
// no replay), on any of its child SA pairs, draining ones too, whether or
// not the data plane passed on what it carried; zero if never. IKE takes it as proof
// that the peer is alive (RFC 7296 §2.4, RFC 3706 §5.5): it reads one
// atomic per pair, and adds nothing to the data path.
func (e *Engine) LastInbound(name string) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tunnels[name]
	if t == nil {
		return time.Time{}
	}
	var last int64
	for _, c := range *t.children.Load() {
		last = max(last, c.lastIn.Load())
	}
	for _, c := range t.draining {
		last = max(last, c.lastIn.Load())
	}
	return unixTime(last)
}

// MoveChild sends the child SA pair of tunnel whose inbound SPI is inSPI
// between new outer endpoints, keeping its keys, sequence numbers and
// replay window: the peer's address or port changed behind a NAT (RFC 7296
// §2.23). A new SA would start its sequence numbers again at 1, and with
// AES-GCM (RFC 4106 §3.1) the IV must never repeat under one key. The
// path MTU learned on the old path is forgotten, and the kernel's of the
// new one taken if it is smaller than the outer MTU (LearnPathMTUs).
func (e *Engine) MoveChild(tunnel string, inSPI uint32, local, remote netip.AddrPort, encap bool) error {
	if err := checkEnds(local, remote, encap); err != nil {
		return fmt.Errorf("tunnel: move child 0x%08x of %q: %w", inSPI, tunnel, err)
	}
	ends := outerEnds{outerEnd(local, encap), outerEnd(remote, encap)}
	if err := e.moveChild(tunnel, inSPI, ends); err != nil {
		return err
	}
	e.log.Info("child moved", "conn", tunnel, "spi", fmt.Sprintf("0x%08x", inSPI), "local", local, "peer", remote)
	e.learnPathMTU(ends)
	return nil
}

// moveChild is MoveChild but for the kernel's path MTU.
func (e *Engine) moveChild(tunnel string, inSPI uint32, ends outerEnds) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tunnels[tunnel]
	if t == nil {
		return fmt.Errorf("tunnel: move child 0x%08x: no tunnel %q", inSPI, tunnel)
	}
	for _, c := range *t.children.Load() {
		if c.in.SPI() == inSPI {
			if old := *c.ends.Load(); old != ends {
				t.pmtu.Store(0) // learned on the old path
				e.leavePath(old, t)
				e.joinPath(ends, t)
			}
			c.ends.Store(&ends)
			return nil
		}
	}
	return fmt.Errorf("tunnel: move child 0x%08x of %q: no such child", inSPI, tunnel)
}

// outerEnd is where a child's ESP leaves from or goes to: the address and
// port in UDP (RFC 3948), the address alone (port 0) as IP protocol 50,
// whose endpoint the Outer side binds there.
func outerEnd(ap netip.AddrPort, encap bool) netip.AddrPort {
	if encap {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr(), 0)
}

// checkEnds checks a child's outer endpoints.
func checkEnds(local, remote netip.AddrPort, encap bool) error {
	if !local.IsValid() || !remote.IsValid() {
		return fmt.Errorf("outer endpoints %v and %v are not both addresses", local, remote)
	}
	if encap && (local.Port() == 0 || remote.Port() == 0) {
		return fmt.Errorf("outer endpoints %v and %v of esp in udp are not both address and port", local, remote)
	}
	return nil
}

func checkChild(c ipsec.Child) error {
	if err := checkEnds(c.Local, c.Remote, c.Encap); err != nil {
		return err
	}
	if len(c.LocalTS) == 0 || len(c.RemoteTS) == 0 {
		// RFC 4301 §5.2: with no selectors no inbound packet could pass.
		return errors.New("traffic selectors are empty")
	}
	for _, p := range append(slices.Clip(c.LocalTS), c.RemoteTS...) {
		if !p.IsValid() {
			return errors.New("invalid traffic selector")
		}
	}
	return nil
}

func masked(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = p.Masked()
	}
	return out
}

// RemoveChild removes the child of tunnel whose inbound SPI is inSPI;
// packets with that SPI are dropped from then on. Removing a child that is
// not there does nothing.
func (e *Engine) RemoveChild(tunnel string, inSPI uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tunnels[tunnel]
	if t == nil {
		return
	}
	var c *child
	old := *t.children.Load()
	if i := slices.IndexFunc(old, func(c *child) bool { return c.in.SPI() == inSPI }); i >= 0 {
		c = old[i]
		children := slices.Delete(slices.Clone(old), i, i+1)
		t.children.Store(&children)
	} else if i := slices.IndexFunc(t.draining, func(c *child) bool { return c.in.SPI() == inSPI }); i >= 0 {
		c = t.draining[i]
		t.draining = slices.Delete(t.draining, i, i+1)
	} else {
		return
	}
	e.spis.Remove(inSPI)
	e.leavePath(*c.ends.Load(), t)
	c.removed.Store(true)
	e.log.Info("child removed", "conn", tunnel, "spi", fmt.Sprintf("0x%08x", inSPI))
}

// DrainChild stops sending with the child of tunnel whose inbound SPI is
// inSPI: the tunnel's traffic goes over its other children from now on,
// as if the child were removed (it no longer counts for Up, Carries or
// Status), while its inbound SA still opens what the peer sent with it
// until RemoveChild. The end that deletes an SA stops sending on it first
// and keeps receiving until the peer has closed its half (RFC 7296
// §1.4.1), and packets already on their way still arrive. Draining a
// child that is not there does nothing.
func (e *Engine) DrainChild(tunnel string, inSPI uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := e.tunnels[tunnel]
	if t == nil {
		return
	}
	old := *t.children.Load()
	i := slices.IndexFunc(old, func(c *child) bool { return c.in.SPI() == inSPI })
	if i < 0 {
		return
	}
	t.draining = append(t.draining, old[i])
	children := slices.Delete(slices.Clone(old), i, i+1)
	t.children.Store(&children)
	e.log.Info("child drained", "conn", tunnel, "spi", fmt.Sprintf("0x%08x", inSPI))
}

// expire queues c's soft or hard expiry for expiryLoop. The packet path
// calls it (esp.SA.OnExpiry), so it does not block.
func (e *Engine) expire(c *child, hard bool) {
	e.expMu.Lock()
	e.expiring = append(e.expiring, expiry{c, hard})
	e.expMu.Unlock()
	select {
	case e.expired <- struct{}{}:
	default:
	}
}

// expiryLoop reports the children's expiries to Events: for each child
// its soft expiry and then its hard expiry, each once, unless it is
// removed first; one whose hard expiry comes first does not report the
// soft one after (a rekey then is moot). One goroutine serves every
// child, so that a child SA pair costs no goroutine of its own.
func (e *Engine) expiryLoop() {
	defer e.wg.Done()
	for {
		select {
		case <-e.expired:
		case <-e.done:
			return
		}
		e.expMu.Lock()
		batch := e.expiring
		e.expiring = nil
		e.expMu.Unlock()
		for _, x := range batch {
			c := x.c
			switch {
			case c.removed.Load() || c.hardTold:
			case x.hard:
				c.hardTold = true
				e.hardExpired(c)
			case !c.softTold:
				c.softTold = true
				e.log.Info("child soft expired", "conn", c.tunnel.name, "in", c.in)
				e.events.SoftExpired(c.tunnel.name, c.in.SPI())
			}
		}
	}
}

func (e *Engine) hardExpired(c *child) {
	// RFC 4303 §4: a sequence number that would overflow is an auditable
	// event, whose entry SHOULD name the SPI, the addresses and the
	// sequence number: the SAs' groups carry their SPIs and sequence
	// numbers.
	ends := c.ends.Load()
	e.log.Warn("child hard expired", "conn", c.tunnel.name, "in", c.in, "out", c.out, "local", ends.local, "peer", ends.remote)
	e.events.HardExpired(c.tunnel.name, c.in.SPI())
}

// acquire calls Events.Acquire for a packet of t that no child covers, at
// most once a second per tunnel.
func (e *Engine) acquire(t *tunnel, h ipHeader) {
	now := e.now().UnixNano()
	last := t.lastAcquire.Load()
	if last != 0 && now-last < int64(time.Second) {
		return
	}
	if !t.lastAcquire.CompareAndSwap(last, now) {
		return
	}
	e.events.Acquire(t.name, h.src, h.dst)
}

// peerMoved calls Events.PeerMoved for an authenticated packet of c from
// remote, at most once a second per child. e.inMu is held.
func (e *Engine) peerMoved(c *child, remote netip.AddrPort, now int64) {
	if c.lastMoved != 0 && now-c.lastMoved < int64(time.Second) {
		return
	}
	c.lastMoved = now
	e.log.Debug("esp from a new peer endpoint", "conn", c.tunnel.name, "spi", fmt.Sprintf("0x%08x", c.in.SPI()), "peer", remote)
	e.events.PeerMoved(c.tunnel.name, c.in.SPI(), remote)
}

// Close stops the engine: it closes the inner side, waits for its
// goroutines and drops later ESP, and logs the drops not yet logged, its
// tunnels' and those before a tunnel is known. The outer side, and the NAT-keepalives
// the IKE side sends on it, are left as they are.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed.Load() {
		e.mu.Unlock()
		return nil
	}
	e.closed.Store(true)
	close(e.done)
	e.mu.Unlock()

	err := e.inner.Close()
	// A HandleESP in progress finishes; later ones return at once.
	e.inMu.Lock()
	e.inClosed = true
	e.inMu.Unlock()
	e.wg.Wait()
	e.pool.close()
	e.mu.Lock()
	tunnels := slices.Collect(maps.Values(e.tunnels))
	e.mu.Unlock()
	e.logGone(tunnels, true)
	if err != nil {
		return fmt.Errorf("tunnel: close inner side: %w", err)
	}
	return nil
}
