package fabric

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Egress is a VNet's way out to the Internet (R43). It is a port that ends
// the TCP connections and UDP flows the VNet's hosts open to Internet
// addresses on a userspace TCP/IP stack, and opens each again from the
// node with a socket of its own: they leave with the node's address, as
// Azure's default outbound access translates them to one of its own.
// Only the VNet's hosts go out this way (not what arrives from the
// gateways: sites and point-to-site clients have their own way out), only
// to Internet addresses, and only TCP and UDP; anything else is dropped
// and counted.
type Egress struct {
	log    *slog.Logger
	opts   EgressOptions
	stack  *stack.Stack
	ep     *channel.Endpoint
	router Forwarder
	// sources are the VNet's ranges: what may go out.
	sources atomic.Pointer[[]netip.Prefix]
	flows   chan struct{} // a token per open flow (MaxFlows)
	ctx     context.Context
	cancel  context.CancelFunc
	stats   egressStats

	mu     sync.Mutex // guards closed and the adding to wg
	closed bool
	wg     sync.WaitGroup // the pump and every flow
}

var _ Port = (*Egress)(nil)

// EgressOptions configure an Egress.
type EgressOptions struct {
	// Dial opens a flow's connection (TCP) or socket (UDP) from the node;
	// nil means a net.Dialer's. A UDP socket is a syscall.Conn (as a
	// *net.UDPConn is), which its flow waits on without a buffer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Blocked tells destinations that are the node's own and not the
	// Internet's, besides those that never are (see Internet): the public
	// IP pool of the gateways. nil blocks none.
	Blocked func(netip.Addr) bool
	// MaxFlows bounds the TCP connections and UDP flows open at once; 0
	// means DefaultMaxEgressFlows.
	MaxFlows int
	// UDPIdleTimeout ends a UDP flow that carried nothing for that long;
	// 0 means DefaultUDPIdleTimeout.
	UDPIdleTimeout time.Duration
	// TCPKeepAlive is how long a TCP flow is quiet before keepalives ask
	// the host whether it is still there (four, a quarter of it apart); 0
	// means DefaultTCPKeepAlive.
	TCPKeepAlive time.Duration
	Logger       *slog.Logger
}

// Defaults of EgressOptions.
const (
	DefaultMaxEgressFlows = 4096
	DefaultUDPIdleTimeout = 2 * time.Minute
	DefaultTCPKeepAlive   = 2 * time.Minute
	// egressDialTimeout bounds the opening of a TCP connection.
	egressDialTimeout = 20 * time.Second
)

type egressStats struct {
	flows, opened, refused, failed, full, open atomic.Uint64
}

// EgressStats are an Egress's counters.
type EgressStats struct {
	// Flows were tried from the node, Opened of them opened (Failed
	// not); Open are open now.
	Flows, Opened, Open uint64
	// Refused were not from a host of the VNet, not to an Internet
	// address (the node's own are not), or neither TCP nor UDP (packets,
	// and flows to the node's addresses); Failed could not be opened from the
	// node; Full came while MaxFlows were open.
	Refused, Failed, Full uint64
}

// notInternet are the ranges Azure routes to None rather than to the
// Internet (the private ranges and the shared address space), and those
// that are nobody's on the Internet; Internet tells the rest.
var notInternet = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("fc00::/7"),
	// Azure's platform address (WireServer, the host's DNS and DHCP):
	// a public address that on an Azure VM is the node's own host,
	// whose goal state and extension settings are the node's, as
	// 169.254.169.254 (link-local) is the metadata service's.
	netip.MustParsePrefix("168.63.129.16/32"),
}

// Ranges of IPv6 addresses that carry an IPv4 address.
var (
	// nat64 is NAT64's well-known prefix (RFC 6052 §2.1): a translator
	// on the node's network takes 64:ff9b::a.b.c.d to a.b.c.d.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// sixToFour is 6to4's (RFC 3056 §2): 2002:AABB:CCDD::/48 is reached
	// through AA.BB.CC.DD.
	sixToFour = netip.MustParsePrefix("2002::/16")
	// notInternet6 are nobody's on the Internet: NAT64's local-use prefix
	// (RFC 8215) and the deprecated IPv4-compatible addresses (RFC 4291
	// §2.5.5.1).
	notInternet6 = []netip.Prefix{netip.MustParsePrefix("64:ff9b:1::/48"), netip.MustParsePrefix("::/96")}
)

// carried returns the IPv4 address an IPv6 address of NAT64's or 6to4's
// stands for.
func carried(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case !a.Is6():
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// Internet tells whether a is an Internet address: global unicast, not a
// private or shared range, not loopback, link-local or multicast; an IPv6
// address that stands for an IPv4 one (NAT64, 6to4) is when that is.
func Internet(a netip.Addr) bool {
	if a.Is4In6() {
		return false // an IPv4 address by another name: not to be let through twice
	}
	if !a.IsGlobalUnicast() {
		return false
	}
	if v4, ok := carried(a); ok {
		return Internet(v4)
	}
	for _, p := range notInternet {
		if p.Contains(a) {
			return false
		}
	}
	for _, p := range notInternet6 {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// NewEgress starts the way out of a VNet whose router is router.
func NewEgress(router Forwarder, opts EgressOptions) (*Egress, error) {
	if opts.Dial == nil {
		opts.Dial = (&net.Dialer{}).DialContext
	}
	if opts.MaxFlows <= 0 {
		opts.MaxFlows = DefaultMaxEgressFlows
	}
	if opts.UDPIdleTimeout <= 0 {
		opts.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	if opts.TCPKeepAlive <= 0 {
		opts.TCPKeepAlive = DefaultTCPKeepAlive
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	ep := channel.New(512, DefaultMTU, "")
	if err := s.CreateNIC(nicID, ep); err != nil {
		s.Close()
		return nil, errors.New("egress: create NIC: " + err.String())
	}
	// Every destination is the stack's own (promiscuous), and it answers
	// from it (spoofing): the hosts see the Internet's addresses.
	s.SetPromiscuousMode(nicID, true)
	s.SetSpoofing(nicID, true)
	s.AddRoute(tcpip.Route{Destination: header.IPv4EmptySubnet, NIC: nicID})
	s.AddRoute(tcpip.Route{Destination: header.IPv6EmptySubnet, NIC: nicID})
	ctx, cancel := context.WithCancel(context.Background())
	e := &Egress{log: opts.Logger, opts: opts, stack: s, ep: ep, router: router,
		flows: make(chan struct{}, opts.MaxFlows), ctx: ctx, cancel: cancel}
	e.sources.Store(&[]netip.Prefix{})
	if r, ok := router.(*Router); ok {
		r.egress.Store(e)
	}
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s, 0, opts.MaxFlows, e.tcp).HandlePacket)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(s, e.udp).HandlePacket)
	e.wg.Go(e.pump)
	return e, nil
}

// refuse counts a packet or flow from src to dst refused, which the
// VNet's router, when router is one, logs as its own no_route (LogDrops).
// It allocates nothing.
func (e *Egress) refuse(src, dst netip.Addr) {
	if r, ok := e.router.(*Router); ok {
		r.dropped(dropNoRoute, src, dst, 0)
	}
	e.stats.refused.Add(1)
}

// track counts a goroutine of a flow in wg, unless the egress is closed.
func (e *Egress) track() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.wg.Add(1)
	return true
}

// SetSources sets the VNet's ranges: what its hosts send from.
func (e *Egress) SetSources(ps []netip.Prefix) {
	ps = append([]netip.Prefix(nil), ps...)
	e.sources.Store(&ps)
}

// Stats returns the counters.
func (e *Egress) Stats() EgressStats {
	return EgressStats{Flows: e.stats.flows.Load(), Opened: e.stats.opened.Load(), Open: e.stats.open.Load(),
		Refused: e.stats.refused.Load(), Failed: e.stats.failed.Load(), Full: e.stats.full.Load()}
}

// Close ends every flow and stops the egress; again, it does nothing.
func (e *Egress) Close() {
	e.mu.Lock()
	closed := e.closed
	e.closed = true
	e.mu.Unlock()
	if closed {
		return
	}
	e.cancel()
	e.stack.Close()
	e.wg.Wait()
	e.stack.Wait()
}

// Deliver implements Port: a packet a host sends to the Internet.
func (e *Egress) Deliver(b []byte) {
	if len(b) == 0 {
		return
	}
	var proto tcpip.NetworkProtocolNumber
	var src, dst netip.Addr
	var transport uint8
	switch b[0] >> 4 {
	case 4:
		if len(b) < header.IPv4MinimumSize {
			e.stats.refused.Add(1)
			return
		}
		h := header.IPv4(b)
		proto, transport = ipv4.ProtocolNumber, h.Protocol()
		src, dst = netip.AddrFrom4(h.SourceAddress().As4()), netip.AddrFrom4(h.DestinationAddress().As4())
	case 6:
		if len(b) < header.IPv6MinimumSize {
			e.stats.refused.Add(1)
			return
		}
		h := header.IPv6(b)
		var known bool
		proto = ipv6.ProtocolNumber
		if transport, known = ipv6Transport(b); !known {
			// A fragment but the first: the stack reassembles it with
			// the first, which tells what it carries.
			transport = uint8(header.UDPProtocolNumber)
		}
		src, dst = netip.AddrFrom16(h.SourceAddress().As16()), netip.AddrFrom16(h.DestinationAddress().As16())
	default:
		e.stats.refused.Add(1)
		return
	}
	if (transport != uint8(header.TCPProtocolNumber) && transport != uint8(header.UDPProtocolNumber)) || !e.admits(src, dst) {
		e.refuse(src, dst)
		return
	}
	pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
	defer pkb.DecRef()
	e.ep.InjectInbound(proto, pkb)
}

// ipv6Transport returns the protocol an IPv6 packet carries past its
// Hop-by-Hop Options, Destination Options and Fragment headers (RFC 8200
// §4.3, §4.5, §4.6): a host sends a UDP datagram longer than the MTU in
// fragments. known is false for a fragment but the first, which does not
// tell; a packet cut short, or with another extension header (Routing:
// not to the destination it shows), carries what none is let out with.
func ipv6Transport(b []byte) (transport uint8, known bool) {
	next, off := b[6], header.IPv6MinimumSize
	for range 8 { // more headers before the transport say something odd
		switch next {
		case uint8(header.IPv6HopByHopOptionsExtHdrIdentifier), uint8(header.IPv6DestinationOptionsExtHdrIdentifier):
			if len(b) < off+8 {
				return 0, true
			}
			next, off = b[off], off+(int(b[off+1])+1)*8
		case uint8(header.IPv6FragmentExtHdrIdentifier):
			if len(b) < off+8 {
				return 0, true
			}
			if binary.BigEndian.Uint16(b[off+2:])>>3 != 0 {
				return 0, false
			}
			next, off = b[off], off+8
		default:
			return next, true
		}
	}
	return 0, true
}

// admits tells whether a host may reach dst from src through the egress.
func (e *Egress) admits(src, dst netip.Addr) bool {
	if !Internet(dst) {
		return false
	}
	if e.opts.Blocked != nil {
		if e.opts.Blocked(dst) {
			return false
		}
		if v4, ok := carried(dst); ok && e.opts.Blocked(v4) {
			return false
		}
	}
	for _, p := range *e.sources.Load() {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// pump moves what the stack sends back to the hosts into the router.
func (e *Egress) pump() {
	for {
		pkt := e.ep.ReadContext(e.ctx)
		if pkt == nil {
			return
		}
		v := pkt.ToView()
		pkt.DecRef()
		e.router.Forward(v.AsSlice())
		v.Release()
	}
}

// take reserves a flow; false when MaxFlows are open.
func (e *Egress) take() bool {
	select {
	case e.flows <- struct{}{}:
		e.stats.open.Add(1)
		return true
	default:
		e.stats.full.Add(1)
		return false
	}
}

// give ends a flow take reserved.
func (e *Egress) give() {
	<-e.flows
	e.stats.open.Add(^uint64(0))
}

// endpoint returns the addresses of a flow: the host's and the Internet's.
func endpoint(id stack.TransportEndpointID) (host, far netip.AddrPort) {
	a, _ := netip.AddrFromSlice(id.RemoteAddress.AsSlice())
	b, _ := netip.AddrFromSlice(id.LocalAddress.AsSlice())
	return netip.AddrPortFrom(a, id.RemotePort), netip.AddrPortFrom(b, id.LocalPort)
}

// tcp opens a host's TCP connection to the Internet again from the node;
// it runs on a goroutine of its own. Only once that connection is open
// does the host's handshake complete; a refusal or a timeout there is a
// reset here.
func (e *Egress) tcp(r *tcp.ForwarderRequest) {
	host, far := endpoint(r.ID())
	if !e.track() {
		r.Complete(false)
		return
	}
	defer e.wg.Done()
	if !e.take() {
		r.Complete(false) // as if lost: the host tries again
		return
	}
	defer e.give()
	ctx, cancel := context.WithTimeout(e.ctx, egressDialTimeout)
	defer cancel()
	// Whether far is the node's own, asked of a UDP socket, which sends
	// nothing as it connects: a TCP connection would reach the listener.
	if e.ownAddr(ctx, far) || e.standsForOwn(ctx, far) {
		e.refuse(host.Addr(), far.Addr())
		r.Complete(true)
		return
	}
	e.stats.flows.Add(1)
	out, err := e.opts.Dial(ctx, "tcp", far.String())
	if err != nil {
		e.stats.failed.Add(1)
		e.log.Debug("egress: connection not opened", "host", host, "to", far, "err", err)
		r.Complete(true)
		return
	}
	defer out.Close()
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		e.stats.failed.Add(1)
		r.Complete(true)
		return
	}
	r.Complete(false)
	e.stats.opened.Add(1)
	// A host that goes without a word (its interface deleted, its
	// namespace gone) would hold the flow for good: keepalives find it
	// gone. The node's side has the dialer's.
	ep.SocketOptions().SetKeepAlive(true)
	idle, interval := tcpip.KeepaliveIdleOption(e.opts.TCPKeepAlive), tcpip.KeepaliveIntervalOption(e.opts.TCPKeepAlive/4)
	ep.SetSockOpt(&idle)
	ep.SetSockOpt(&interval)
	ep.SetSockOptInt(tcpip.KeepaliveCountOption, 4)
	in := gonet.NewTCPConn(&wq, ep)
	defer in.Close()
	splice(e.ctx, in, out, func() {
		// A close with SO_LINGER 0 sends a RST.
		ep.SocketOptions().SetLinger(tcpip.LingerOption{Enabled: true})
		in.Close()
		if l, ok := out.(interface{ SetLinger(int) error }); ok {
			l.SetLinger(0)
		}
		out.Close()
	})
}

// closeWriter is a connection that can end its sending half.
type closeWriter interface{ CloseWrite() error }

// splice copies both ways until both are done (each end of a TCP
// connection may end its sending first) or ctx is. A way that ends in an
// error (a reset, at either end) or ctx's end calls abort, which resets
// both ends: a FIN would tell the other end that all was sent.
func splice(ctx context.Context, a, b net.Conn, abort func()) {
	var once sync.Once
	done := make(chan struct{}, 2)
	one := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		switch cw, ok := dst.(closeWriter); {
		case err != nil:
			once.Do(abort)
		case ok:
			cw.CloseWrite()
		default:
			dst.Close()
		}
		done <- struct{}{}
	}
	go one(a, b)
	go one(b, a)
	for ended := 0; ended < 2; ended++ {
		select {
		case <-done:
		case <-ctx.Done():
			once.Do(abort)
			for ; ended < 2; ended++ {
				<-done // only the ways not done yet
			}
			return
		}
	}
}

// udp opens a host's UDP flow to the Internet again from the node. It
// runs on the goroutine that delivers the flow's first packet, so it
// only makes the flow's endpoint (what follows goes to it) and leaves
// the rest to a goroutine.
func (e *Egress) udp(r *udp.ForwarderRequest) {
	host, far := endpoint(r.ID())
	if !e.track() {
		return
	}
	if !e.take() {
		e.wg.Done()
		return
	}
	var wq waiter.Queue
	in, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		e.stats.flows.Add(1)
		e.stats.failed.Add(1)
		e.give()
		e.wg.Done()
		return
	}
	go func() {
		defer e.wg.Done()
		defer e.give()
		defer in.Close()
		out, err := e.opts.Dial(e.ctx, "udp", far.String())
		if err != nil {
			e.stats.flows.Add(1)
			e.stats.failed.Add(1)
			e.log.Debug("egress: UDP flow not opened", "host", host, "to", far, "err", err)
			return
		}
		defer out.Close()
		if toSelf(out) || e.standsForOwn(e.ctx, far) {
			e.refuse(host.Addr(), far.Addr())
			return
		}
		sc, ok := out.(syscall.Conn)
		var raw syscall.RawConn
		if ok {
			raw, err = sc.SyscallConn()
		}
		if !ok || err != nil {
			e.stats.flows.Add(1)
			e.stats.failed.Add(1)
			e.log.Debug("egress: UDP flow not opened", "host", host, "to", far, "err", "no socket of the node's")
			return
		}
		e.stats.flows.Add(1)
		e.stats.opened.Add(1)
		f := &udpFlow{in: in, raw: raw}
		f.relay(e.ctx, &wq, out, e.opts.UDPIdleTimeout)
	}()
}

// ownAddr tells whether far is one of the node's own addresses, asked of
// a UDP socket, which sends nothing as it connects.
func (e *Egress) ownAddr(ctx context.Context, far netip.AddrPort) bool {
	c, err := e.opts.Dial(ctx, "udp", far.String())
	if err != nil {
		return false // then nothing reaches it from here either
	}
	defer c.Close()
	return toSelf(c)
}

// standsForOwn tells whether far is a NAT64 or 6to4 address of one of
// the node's own IPv4 addresses: a translator or relay on the node's
// network takes what goes there back to the node.
func (e *Egress) standsForOwn(ctx context.Context, far netip.AddrPort) bool {
	v4, ok := carried(far.Addr())
	return ok && e.ownAddr(ctx, netip.AddrPortFrom(v4, far.Port()))
}

// toSelf tells whether c, opened from the node, goes to one of the node's
// own addresses, which are not the Internet's (what listens there, the
// API, say): Linux gives a connection to a local address that address as
// its source.
func toSelf(c net.Conn) bool {
	l, r := addrOf(c.LocalAddr()), addrOf(c.RemoteAddr())
	return l.IsValid() && l == r
}

// addrOf returns the IP address of a TCP or UDP socket address.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// udpBufs hold a datagram on its way through a UDP flow. A flow takes
// one only once a datagram is there and gives it back once the datagram
// is sent on: an idle flow holds none (with a buffer of its own for each
// way, 4,096 flows held 512 MiB). They are as long as the longest
// datagram, which either end may have reassembled from fragments.
var udpBufs = sync.Pool{New: func() any {
	b := make([]byte, 1<<16)
	return &b
}}

// putUDPBuf gives back a buffer that held n bytes, cleared.
func putUDPBuf(b *[]byte, n int) {
	clear((*b)[:n])
	udpBufs.Put(b)
}

// udpFlow is a host's UDP flow to the Internet, opened again from the
// node. Its one goroutine waits for the Internet's datagrams (relay); the
// host's are sent on by the goroutine that delivers them (NotifyEvent),
// so that an idle flow holds a goroutine and no buffer.
type udpFlow struct {
	in   tcpip.Endpoint  // the host's side, on the egress's stack
	raw  syscall.RawConn // the node's socket
	last atomic.Int64    // unix nanoseconds of the last datagram either way
}

var _ waiter.EventListener = (*udpFlow)(nil)

// NotifyEvent implements waiter.EventListener: the host sent datagrams.
func (f *udpFlow) NotifyEvent(waiter.EventMask) { f.toInternet() }

// toInternet sends what the host sent from the node's socket, without
// waiting: a datagram the socket has no room for is lost, as on a full
// link.
func (f *udpFlow) toInternet() {
	for {
		b := udpBufs.Get().(*[]byte)
		w := tcpip.SliceWriter(*b)
		res, err := f.in.Read(&w, tcpip.ReadOptions{})
		if err != nil {
			udpBufs.Put(b) // none left, or the flow ended
			return
		}
		f.last.Store(time.Now().UnixNano())
		f.raw.Write(func(fd uintptr) bool {
			for {
				if _, err := syscall.Write(int(fd), (*b)[:res.Count]); err != syscall.EINTR {
					return true
				}
			}
		})
		putUDPBuf(b, res.Count)
	}
}

// relay carries datagrams both ways until neither way carried one for
// idle, the Internet's end refused them (ICMP port unreachable), or ctx
// ends. It waits for the Internet's datagrams without a buffer.
func (f *udpFlow) relay(ctx context.Context, wq *waiter.Queue, out net.Conn, idle time.Duration) {
	f.last.Store(time.Now().UnixNano())
	var ent waiter.Entry
	ent.Init(f, waiter.ReadableEvents)
	wq.EventRegister(&ent)
	defer wq.EventUnregister(&ent)
	f.toInternet() // what came while the node's socket was being opened
	stop := context.AfterFunc(ctx, func() { out.Close() })
	defer stop()
	for {
		out.SetReadDeadline(time.Unix(0, f.last.Load()).Add(idle))
		var b *[]byte
		var n int
		var rerr error
		err := f.raw.Read(func(fd uintptr) bool {
			got := udpBufs.Get().(*[]byte)
			for {
				n, rerr = syscall.Read(int(fd), *got)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				udpBufs.Put(got) // and no reference kept while waiting
				return false     // none there yet
			}
			b = got
			return true
		})
		if err == nil && rerr != nil {
			udpBufs.Put(b)
			return // an ICMP error for the flow
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() && time.Since(time.Unix(0, f.last.Load())) < idle {
				continue // the host's way carried one
			}
			return
		}
		f.last.Store(time.Now().UnixNano())
		var p bytes.Reader
		p.Reset((*b)[:n])
		f.in.Write(&p, tcpip.WriteOptions{}) // lost if the host's side is full, as on any link
		putUDPBuf(b, n)
	}
}
