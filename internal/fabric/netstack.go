package fabric

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
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
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// Ports the built-in host serves.
const (
	EchoPort = 7  // TCP echo (RFC 862)
	HTTPPort = 80 // HTTP, answering with the host's name
)

// echoIdle is how long the built-in host's TCP echo keeps a connection
// over which nothing comes and nothing can be sent.
var echoIdle = time.Minute

// httpIdle is how long the built-in host's HTTP server keeps a keep-alive
// connection that waits for its next request.
var httpIdle = time.Minute

// maxEchoConns and maxHTTPConns are how many TCP echo and HTTP
// connections the built-in host holds at once; one more is closed as soon
// as it is accepted.
var (
	maxEchoConns = 64
	maxHTTPConns = 64
)

// DefaultMTU is the MTU of built-in hosts: room for ESP in UDP under 1500.
const DefaultMTU = 1400

const nicID = 1

// maxRcvBuf is the largest receive buffer of a built-in host's TCP: one
// whose window needs no scale (RFC 7323 §2.3).
const maxRcvBuf = 0xffff

// queueLen is how many packets the stack may have queued for the pump.
const queueLen = 512

// NetstackHost is a network interface realised as a host on gVisor's
// userspace TCP/IP stack. It answers ping, echoes on TCP port 7 and serves
// HTTP on port 80 with its own name, and needs no privileges. It is a Port:
// the router delivers its packets with Deliver; what it sends goes to the
// router's Forward.
type NetstackHost struct {
	name   string
	addr   netip.Addr
	stack  *stack.Stack
	ep     *channel.Endpoint
	router Forwarder
	// own: the address is the gateway's own (NewNetstackEndpoint), for
	// which the router forwards nothing: it delivers.
	own bool

	cancel context.CancelFunc
	wg     sync.WaitGroup // the packet pump and the servers
	srv    *http.Server
	echo   net.Listener
}

var _ Port = (*NetstackHost)(nil)

// NewNetstackHost starts a built-in host with address addr, whose packets
// go to router.
func NewNetstackHost(name string, addr netip.Addr, mtu int, router Forwarder) (*NetstackHost, error) {
	return newNetstack(name, addr, mtu, router, true)
}

// NewNetstackEndpoint starts a stack like a built-in host's that serves
// nothing by itself: its owner listens (Listen) and dials (Dial), as a
// gateway's BGP speaker does on its peering address. Its address is the
// gateway's own, not a host's behind it: what comes to it through the
// gateway keeps its TTL, as the router delivers it rather than forwards
// it (a site's single-hop eBGP session sends with TTL 1).
func NewNetstackEndpoint(name string, addr netip.Addr, mtu int, router Forwarder) (*NetstackHost, error) {
	return newNetstack(name, addr, mtu, router, false)
}

func newNetstack(name string, addr netip.Addr, mtu int, router Forwarder, serve bool) (*NetstackHost, error) {
	if mtu <= 0 {
		mtu = DefaultMTU
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	// No window scaling: a receive buffer under 64 KiB, a window of at
	// most 32 KiB. With a scale, gVisor rounds the window it advertises
	// down, to zero while a peer may have sent into the window it offered
	// before (Linux fills a window to its edge), and then drops each of
	// the peer's segments whole, past that window, its ACK too (RFC 9293
	// §3.10.7.4 has the ACK of a segment to a zero window processed): an
	// application that writes before it reads again (the echo) waited for
	// ever, and its connection with it.
	rcvBuf := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: maxRcvBuf, Max: maxRcvBuf}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcvBuf); err != nil {
		s.Close()
		return nil, fmt.Errorf("host %s: receive buffer: %v", name, err)
	}
	ep := channel.New(queueLen, uint32(mtu), "")
	if err := s.CreateNIC(nicID, ep); err != nil {
		s.Close()
		return nil, fmt.Errorf("host %s: create NIC: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &NetstackHost{name: name, addr: addr, stack: s, ep: ep, router: router, own: !serve, cancel: cancel}
	if err := h.AddAddress(addr); err != nil {
		cancel()
		s.Close()
		return nil, err
	}
	empty := header.IPv4EmptySubnet
	if addr.Is6() {
		empty = header.IPv6EmptySubnet
	}
	// Everything leaves through the VNet router, which decides (R43).
	s.AddRoute(tcpip.Route{Destination: empty, NIC: nicID})
	h.wg.Go(func() { h.pump(ctx) })
	if !serve {
		return h, nil
	}
	if err := h.serve(); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Name returns the host's name.
func (h *NetstackHost) Name() string { return h.name }

// Addr returns the host's address.
func (h *NetstackHost) Addr() netip.Addr { return h.addr }

// pump moves what the stack sends to the router. Once ctx ends (Close,
// with the stack closed), what the stack queued until then still goes, at
// most a queue's worth: a last message written just before, the FINs and
// the RSTs of the stack's close.
func (h *NetstackHost) pump(ctx context.Context) {
	for {
		pkt := h.ep.ReadContext(ctx)
		if pkt == nil {
			break
		}
		h.forward(pkt)
	}
	for range queueLen {
		pkt := h.ep.Read()
		if pkt == nil {
			return
		}
		h.forward(pkt)
	}
}

func (h *NetstackHost) forward(pkt *stack.PacketBuffer) {
	v := pkt.ToView()
	pkt.DecRef()
	h.router.Forward(v.AsSlice())
	v.Release()
}

// Deliver implements Port: the packet enters the host's stack.
func (h *NetstackHost) Deliver(b []byte) {
	if len(b) == 0 {
		return
	}
	pkb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
	defer pkb.DecRef()
	switch b[0] >> 4 {
	case 4:
		h.ep.InjectInbound(ipv4.ProtocolNumber, pkb)
	case 6:
		h.ep.InjectInbound(ipv6.ProtocolNumber, pkb)
	}
}

// fullAddr is address a and port as the stack names them, with a's
// network protocol.
func fullAddr(a netip.Addr, port uint16) (tcpip.FullAddress, tcpip.NetworkProtocolNumber) {
	proto := tcpip.NetworkProtocolNumber(ipv4.ProtocolNumber)
	if a.Is6() {
		proto = ipv6.ProtocolNumber
	}
	return tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(a.AsSlice()), Port: port}, proto
}

// serve starts TCP echo and HTTP.
func (h *NetstackHost) serve() error {
	fa, proto := fullAddr(h.addr, EchoPort)
	echo, err := gonet.ListenTCP(h.stack, fa, proto)
	if err != nil {
		return fmt.Errorf("host %s: listen on port %d: %w", h.name, EchoPort, err)
	}
	h.echo = echo
	echoes := bound(echo, maxEchoConns)
	h.wg.Go(func() {
		for {
			c, err := echoes.Accept()
			if err != nil {
				return
			}
			h.wg.Go(func() { echoConn(c) })
		}
	})
	fa, proto = fullAddr(h.addr, HTTPPort)
	web, err := gonet.ListenTCP(h.stack, fa, proto)
	if err != nil {
		return fmt.Errorf("host %s: listen on port %d: %w", h.name, HTTPPort, err)
	}
	h.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "hello from %s (%s)\n", h.name, h.addr)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       httpIdle,
	}
	h.wg.Go(func() { h.srv.Serve(bound(web, maxHTTPConns)) })
	return nil
}

// bounded is a listener that holds at most cap(slots) connections at
// once: one more is closed as soon as it is accepted, and a slot is free
// again once a connection has been closed.
type bounded struct {
	net.Listener
	slots chan struct{}
}

func bound(l net.Listener, n int) net.Listener {
	return &bounded{Listener: l, slots: make(chan struct{}, n)}
}

// Accept returns the next connection within the bound.
func (b *bounded) Accept() (net.Conn, error) {
	for {
		c, err := b.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case b.slots <- struct{}{}:
			return &slotConn{Conn: c, free: sync.OnceFunc(func() { <-b.slots })}, nil
		default:
			c.Close()
		}
	}
}

// slotConn frees its slot of a bounded listener when it is first closed.
type slotConn struct {
	net.Conn
	free func()
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.free()
	return err
}

// echoConn sends back what comes over c, and closes it when it has been
// idle for echoIdle: a connection in use is kept as long as it is used.
func echoConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		c.SetDeadline(time.Now().Add(echoIdle))
		n, err := c.Read(buf)
		if n > 0 {
			c.SetDeadline(time.Now().Add(echoIdle))
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Listen listens for TCP connections to the host's address on port.
func (h *NetstackHost) Listen(port uint16) (net.Listener, error) {
	return h.ListenOn(h.addr, port)
}

// AddAddress gives the host an address of its own (another one than its
// first).
func (h *NetstackHost) AddAddress(a netip.Addr) error {
	fa, proto := fullAddr(a, 0)
	pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: fa.Addr.WithPrefix()}
	if err := h.stack.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("host %s: add address %s: %v", h.name, a, err)
	}
	return nil
}

// ListenOn listens for TCP connections to address a of the host on port.
func (h *NetstackHost) ListenOn(a netip.Addr, port uint16) (net.Listener, error) {
	fa, proto := fullAddr(a, port)
	l, err := gonet.ListenTCP(h.stack, fa, proto)
	if err != nil {
		return nil, fmt.Errorf("host %s: listen on %s port %d: %w", h.name, a, port, err)
	}
	return l, nil
}

// Dial opens a TCP connection from the host.
func (h *NetstackHost) Dial(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	fa, proto := fullAddr(dst.Addr(), dst.Port())
	return gonet.DialContextTCP(ctx, h.stack, fa, proto)
}

// DialFrom opens a TCP connection from address local of the host (one
// AddAddress gave it, or its own).
func (h *NetstackHost) DialFrom(ctx context.Context, local netip.Addr, dst netip.AddrPort) (net.Conn, error) {
	from, _ := fullAddr(local, 0)
	to, proto := fullAddr(dst.Addr(), dst.Port())
	return gonet.DialTCPWithBind(ctx, h.stack, from, to, proto)
}

// DialUDPFrom opens a UDP socket from address local of the host to dst.
// Unlike the kernel's, it does not end the dial with ctx: there is
// nothing to wait for.
func (h *NetstackHost) DialUDPFrom(local netip.Addr, dst netip.AddrPort) (net.Conn, error) {
	from, _ := fullAddr(local, 0)
	to, proto := fullAddr(dst.Addr(), dst.Port())
	c, err := gonet.DialUDP(h.stack, &from, &to, proto)
	if err != nil {
		return nil, err
	}
	return udpConn{c}, nil
}

// udpConn is a UDP socket of the stack whose ICMP errors (a port or host
// unreachable reported by its next read or write) are the errnos a
// kernel socket's are, as its users tell them from the socket's failure
// (syscall.ECONNREFUSED): gonet gives them as text alone.
type udpConn struct{ *gonet.UDPConn }

func (c udpConn) Read(b []byte) (int, error) {
	n, err := c.UDPConn.Read(b)
	return n, icmpErrno(err)
}

func (c udpConn) Write(b []byte) (int, error) {
	n, err := c.UDPConn.Write(b)
	return n, icmpErrno(err)
}

// icmpErrnos are the errnos of the stack's errors of ICMP, by their text.
var icmpErrnos = map[string]syscall.Errno{
	(&tcpip.ErrConnectionRefused{}).String():  syscall.ECONNREFUSED,
	(&tcpip.ErrHostUnreachable{}).String():    syscall.EHOSTUNREACH,
	(&tcpip.ErrNetworkUnreachable{}).String(): syscall.ENETUNREACH,
}

// icmpErrno is err with the errno of the ICMP error it is, if it is one.
func icmpErrno(err error) error {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Err == nil {
		return err
	}
	if errno, ok := icmpErrnos[oe.Err.Error()]; ok {
		c := *oe
		c.Err = errno
		return &c
	}
	return err
}

// HTTPGet fetches http://dst/ from the host and returns the body.
func (h *NetstackHost) HTTPGet(ctx context.Context, dst netip.Addr) (string, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return h.Dial(ctx, netip.AddrPortFrom(dst, HTTPPort))
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+netip.AddrPortFrom(dst, HTTPPort).String()+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(b), err
}

// Ping sends one ICMP echo request from the host and waits for the reply.
func (h *NetstackHost) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	var wq waiter.Queue
	tp, np := icmp.ProtocolNumber4, tcpip.NetworkProtocolNumber(ipv4.ProtocolNumber)
	if dst.Is6() {
		tp, np = icmp.ProtocolNumber6, ipv6.ProtocolNumber
	}
	ep, terr := h.stack.NewEndpoint(tp, np, &wq)
	if terr != nil {
		return 0, fmt.Errorf("ping endpoint: %v", terr)
	}
	defer ep.Close()
	we, ready := waiter.NewChannelEntry(waiter.EventIn)
	wq.EventRegister(&we)
	defer wq.EventUnregister(&we)
	req := make([]byte, 8+16)
	typ := byte(header.ICMPv4Echo)
	if dst.Is6() {
		typ = byte(header.ICMPv6EchoRequest)
	}
	req[0] = typ
	copy(req[8:], "vnetgw-ping-data")
	to := tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(dst.AsSlice())}
	start := time.Now()
	if _, terr := ep.Write(bytes.NewReader(req), tcpip.WriteOptions{To: &to}); terr != nil {
		return 0, fmt.Errorf("ping %s: %v", dst, terr)
	}
	for {
		var buf bytes.Buffer
		_, terr := ep.Read(&buf, tcpip.ReadOptions{})
		if terr == nil {
			return time.Since(start), nil
		}
		if _, wouldBlock := terr.(*tcpip.ErrWouldBlock); !wouldBlock {
			return 0, fmt.Errorf("ping %s: %v", dst, terr)
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return 0, fmt.Errorf("ping %s from %s: %w", dst, h.addr, ctx.Err())
		}
	}
}

// Close stops the host. The pump stops after the stack, so that what the
// stack sends as it closes reaches the router.
func (h *NetstackHost) Close() error {
	var err error
	if h.srv != nil {
		err = h.srv.Close()
	}
	if h.echo != nil {
		h.echo.Close()
	}
	h.stack.Close()
	h.cancel()
	h.wg.Wait()
	h.ep.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
