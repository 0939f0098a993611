package udp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/wire/icmp"
)

// PathMTUHandler is an ESPHandler that learns path MTUs. For each
// Fragmentation Needed or Packet Too Big (RFC 1191, RFC 8201) about a
// packet one of its endpoints, local, sent to remote, read by a watch of
// WatchPathMTU, the Transport calls PathMTU with the MTU the router
// reported. It runs on the watch's goroutine and must not block.
type PathMTUHandler interface {
	ESPHandler
	PathMTU(local, remote netip.AddrPort, mtu int)
}

// WatchPathMTU reads the ICMP errors that arrive at local on a raw ICMP
// (or ICMPv6) socket and hands the Fragmentation Needed and Packet Too Big
// about packets of the endpoints on local to their PathMTUHandlers, at
// most watchRate a second. The kernel still acts on them too: it
// fragments the datagrams longer than the path MTU it learned. It needs
// CAP_NET_RAW; Close stops the watch.
func (t *Transport) WatchPathMTU(local netip.Addr) error {
	local = local.Unmap()
	network, parse := "ip4:icmp", icmp.ParseTooBig4
	if local.Is6() {
		network, parse = "ip6:ipv6-icmp", icmp.ParseTooBig6
	}
	c, err := net.ListenIP(network, &net.IPAddr{IP: local.AsSlice(), Zone: local.Zone()})
	if err != nil {
		return fmt.Errorf("udp: icmp socket on %v: %w", local, err)
	}
	if err := filterTooBig(c, local.Is6()); err != nil {
		c.Close()
		return fmt.Errorf("udp: icmp socket on %v: %w", local, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return fmt.Errorf("udp: icmp socket on %v: %w", local, net.ErrClosed)
	}
	t.watches = append(t.watches, c)
	t.wg.Add(1)
	go t.watchLoop(c, parse)
	return nil
}

// filterTooBig has the kernel hand c only the ICMP types that may be a
// Fragmentation Needed (Destination Unreachable) or a Packet Too Big: a
// set bit of either filter blocks a type.
func filterTooBig(c *net.IPConn, v6 bool) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		if v6 {
			var f unix.ICMPv6Filter
			for i := range f.Data {
				f.Data[i] = ^uint32(0)
			}
			f.Data[icmp.TypePacketTooBig6>>5] &^= 1 << (icmp.TypePacketTooBig6 & 31)
			serr = unix.SetsockoptICMPv6Filter(int(fd), unix.SOL_ICMPV6, unix.ICMPV6_FILTER, &f)
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_RAW, unix.ICMP_FILTER, ^(1 << icmp.TypeUnreachable4))
	})
	return errors.Join(err, serr)
}

// Errors a watch hands over: a flood of forged ones takes no more than
// this of the handlers.
const (
	watchRate  = 100 // a second
	watchBurst = 50
)

// watchLoop reads c until it is closed.
func (t *Transport) watchLoop(c *net.IPConn, parse func([]byte) (icmp.TooBig, bool)) {
	defer t.wg.Done()
	limit := icmp.Limiter{Rate: watchRate, Burst: watchBurst}
	// An ICMP error is at most 576 bytes (RFC 1812 §4.3.2.3) or 1280
	// (RFC 4443 §2.4(c)); a longer one is cut, and fails its checksum.
	buf := make([]byte, 2048)
	for {
		n, _, err := c.ReadFrom(buf) // without the IPv4 header
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.log.Debug("icmp read failed", "local", c.LocalAddr(), "err", err)
			time.Sleep(readErrorPause)
			continue
		}
		tb, ok := parse(buf[:n])
		if !ok {
			continue
		}
		if ep := (*t.eps.Load())[tb.Src]; ep != nil {
			if h, ok := ep.esp.(PathMTUHandler); ok && limit.Allow() {
				t.tooBigIn.Add(1)
				h.PathMTU(tb.Src, tb.Dst, tb.MTU)
			}
		}
	}
}

// KernelPathMTU returns the path MTU the kernel keeps for packets from the
// ESP endpoint bound to local to remote: the least a router reported in
// the last 10 minutes about a packet of any socket of the node to that
// destination (the kernel keeps one per destination), or else the MTU of
// the route's device. It takes two syscalls and sends nothing: it
// connects a UDP socket bound to local's address to remote (for ESP as IP
// protocol 50, to port 0: the path is the same) and reads IP_MTU or
// IPV6_MTU. A send does not tell: the endpoints leave IP_MTU_DISCOVER at
// Linux's default (IP_PMTUDISC_WANT), with which the kernel fragments a
// datagram longer than the path MTU it knows rather than failing the
// send with EMSGSIZE.
func (t *Transport) KernelPathMTU(local, remote netip.AddrPort) (int, error) {
	ep := (*t.eps.Load())[local]
	if ep == nil || ep.probe == nil {
		return 0, fmt.Errorf("udp: path MTU from %v: no esp endpoint bound there", local)
	}
	mtu, err := ep.probe.pathMTU(remote)
	if err != nil {
		return 0, fmt.Errorf("udp: path MTU from %v to %v: %w", local, remote, err)
	}
	return mtu, nil
}

// probe is a UDP socket bound to the address of an ESP endpoint, made
// with it (so in its network namespace), that KernelPathMTU connects to
// the destinations whose path MTU it reads.
type probe struct {
	mu sync.Mutex // serializes the connects and reads of fd, and its close
	fd int        // -1 once closed: the number may be another file's then
	v6 bool
}

// newProbe opens a probe bound to local (port 0: any).
func newProbe(local netip.Addr) (*probe, error) {
	p := &probe{v6: local.Is6()}
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: local.As16()})
	if !p.v6 {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: local.As4()}
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("udp: path MTU socket on %v: %w", local, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("udp: path MTU socket on %v: %w", local, err)
	}
	p.fd = fd
	return p, nil
}

// pathMTU connects the probe to remote (port 0 for ESP as IP protocol
// 50), which routes it afresh and sends nothing, and reads the route's
// MTU.
func (p *probe) pathMTU(remote netip.AddrPort) (int, error) {
	a := remote.Addr().Unmap()
	if a.Is6() != p.v6 {
		return 0, errors.New("address of the other family")
	}
	level, opt, sa := unix.IPPROTO_IPV6, unix.IPV6_MTU, unix.Sockaddr(&unix.SockaddrInet6{Port: int(remote.Port()), Addr: a.As16()})
	if !p.v6 {
		level, opt, sa = unix.IPPROTO_IP, unix.IP_MTU, &unix.SockaddrInet4{Port: int(remote.Port()), Addr: a.As4()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fd < 0 {
		return 0, net.ErrClosed
	}
	if err := unix.Connect(p.fd, sa); err != nil {
		return 0, err
	}
	return unix.GetsockoptInt(p.fd, level, opt)
}

// close closes the probe. A KernelPathMTU that found its endpoint before
// the Transport closed may still call pathMTU: it gets net.ErrClosed
// rather than the file that took the number.
func (p *probe) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fd < 0 {
		return nil
	}
	fd := p.fd
	p.fd = -1
	return unix.Close(fd)
}
