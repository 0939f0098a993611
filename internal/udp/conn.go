package udp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// MaxDatagram is the largest UDP payload. A buffer this long never
	// truncates a datagram.
	MaxDatagram = 1<<16 - 1

	// maxSegments is the most datagrams one GSO send carries and one GRO
	// read yields (UDP_MAX_SEGMENTS and UDP_GRO_CNT_MAX in Linux).
	maxSegments = 64
	// rxSlotsGRO and rxSlots are how many datagrams one recvmmsg reads,
	// with and without GRO; with GRO each can hold up to maxSegments.
	rxSlotsGRO = 8
	rxSlots    = 64
	// sockBuf is the socket buffer size asked for in each direction.
	sockBuf = 7 << 20
	// ctrlLen is the control buffer of one message: two cmsgs of an int
	// at most each: UDP_GRO and the TOS (IP_TOS, IPV6_TCLASS) on receive,
	// UDP_SEGMENT and the TOS on send.
	ctrlLen = 2 * cmsgSpace
	// cmsgSpace is unix.CmsgSpace(4) on 64-bit Linux.
	cmsgSpace = 24
)

// Message is one datagram of a batch.
type Message struct {
	// Buf is, for ReadBatch, the buffer the datagram is copied into
	// (ReadBatch does not change Buf; the datagram is Buf[:N]) and, for
	// WriteBatch, the datagram itself.
	Buf []byte
	// N is the length of the datagram ReadBatch read, and after
	// WriteBatch len(Buf) if the datagram was sent, 0 if not.
	N int
	// Addr is where the datagram came from (ReadBatch) or goes to
	// (WriteBatch).
	Addr netip.AddrPort
	// TOS is the outer IP header's Type of Service (IPv4) or Traffic
	// Class (IPv6) octet, DSCP and ECN: what the datagram arrived with
	// (ReadBatch), or what it is sent with (WriteBatch; 0 sends with the
	// socket's, which is 0).
	TOS uint8
}

// Conn is a UDP socket bound to one local address and port that reads and
// writes datagrams in batches. With UDP GRO the kernel hands over many
// datagrams of one flow as one; ReadBatch splits them again. With UDP GSO,
// WriteBatch hands runs of same-sized datagrams to one destination to the
// kernel as one. ReadBatch and WriteBatch are each safe for concurrent use,
// and one may run while the other does.
//
// A Conn made by ListenESP is a raw socket for IP protocol 50 instead: it
// carries ESP packets without UDP (RFC 4303), its addresses have port 0,
// and it has no offloads.
type Conn struct {
	sock  net.PacketConn
	raw   syscall.RawConn
	local netip.AddrPort
	v6    bool
	esp   bool // a raw ESP socket
	gro   bool
	gso   atomic.Bool // cleared when the kernel refuses GSO (EIO)

	truncated atomic.Uint64 // datagrams longer than the buffer given for them
	malformed atomic.Uint64 // raw IPv4 packets whose header is not one

	readMu sync.Mutex // guards rx
	rx     reader

	writeMu sync.Mutex // guards tx
	tx      writer
}

// Listen opens a Conn bound to local. Port 0 picks a free port; LocalAddr
// tells which.
func Listen(local netip.AddrPort) (*Conn, error) {
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	network := "udp4"
	if local.Addr().Is6() {
		network = "udp6"
	}
	uc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(local))
	if err != nil {
		return nil, fmt.Errorf("udp: listen on %v: %w", local, err)
	}
	bound := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	c := &Conn{sock: uc, local: netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port()), v6: network == "udp6"}
	if err := c.setup(uc); err != nil {
		return nil, fmt.Errorf("udp: listen on %v: %w", local, err)
	}
	return c, nil
}

// ListenESP opens a raw socket for IP protocol 50 bound to local, to carry
// ESP without UDP encapsulation (RFC 4303 §2: ESP is its own IP protocol).
// It needs CAP_NET_RAW. The kernel keeps its own ESP (XFRM) out of it: with
// no policy for the packets, they reach the raw socket as they are.
func ListenESP(local netip.Addr) (*Conn, error) {
	local = local.Unmap()
	network := "ip4:50"
	if local.Is6() {
		network = "ip6:50"
	}
	ic, err := net.ListenIP(network, &net.IPAddr{IP: local.AsSlice(), Zone: local.Zone()})
	if err != nil {
		return nil, fmt.Errorf("udp: raw esp socket on %v: %w", local, err)
	}
	c := &Conn{sock: ic, local: netip.AddrPortFrom(local, 0), v6: local.Is6(), esp: true}
	if err := c.setup(ic); err != nil {
		return nil, fmt.Errorf("udp: raw esp socket on %v: %w", local, err)
	}
	return c, nil
}

// setup sizes the socket's buffers, turns on the offloads the kernel has
// (UDP sockets only) and readies the batches. It closes sock on error.
func (c *Conn) setup(sock syscall.Conn) error {
	raw, err := sock.SyscallConn()
	if err != nil {
		c.sock.Close()
		return err
	}
	c.raw = raw
	var gso bool
	err = raw.Control(func(fd uintptr) {
		s := int(fd)
		// Root may go past net.core.[rw]mem_max; others get what it allows.
		if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sockBuf) != nil {
			_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, sockBuf)
		}
		if unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBuf) != nil {
			_ = unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, sockBuf)
		}
		// The outer TOS of each datagram comes with it (RFC 6040 §4.2
		// needs the outer ECN field). A raw IPv4 socket reads the header.
		if c.v6 {
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1)
		} else if !c.esp {
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
		}
		if c.esp {
			return
		}
		c.gro = unix.SetsockoptInt(s, unix.SOL_UDP, unix.UDP_GRO, 1) == nil
		_, gerr := unix.GetsockoptInt(s, unix.SOL_UDP, unix.UDP_SEGMENT)
		gso = gerr == nil
	})
	if err != nil {
		c.sock.Close()
		return err
	}
	c.gso.Store(gso)
	slots := rxSlots
	if c.gro {
		slots = rxSlotsGRO
	}
	c.rx.init(slots)
	// A raw IPv4 socket reads each packet with its IP header; IPv6 does not.
	c.rx.ipv4Header = c.esp && !c.v6
	c.tx.fn = c.tx.send
	return nil
}

// LocalAddr returns the address and port the Conn is bound to.
func (c *Conn) LocalAddr() netip.AddrPort { return c.local }

// Offloads reports whether the kernel segments sends (GSO) and coalesces
// receives (GRO) for the Conn. GSO turns itself off if the kernel refuses it.
func (c *Conn) Offloads() (gso, gro bool) { return c.gso.Load(), c.gro }

// Truncated returns how many datagrams ReadBatch dropped because the buffer
// given for them was too short.
func (c *Conn) Truncated() uint64 { return c.truncated.Load() }

// Malformed returns how many packets a raw ESP socket dropped because what
// the kernel handed over did not start with an IPv4 header.
func (c *Conn) Malformed() uint64 { return c.malformed.Load() }

// Close closes the socket; blocked reads and writes return net.ErrClosed.
func (c *Conn) Close() error { return c.sock.Close() }

// ReadBatch blocks until datagrams arrive and copies them into msgs, one
// datagram per Message, and returns how many it filled. Datagrams that the
// kernel coalesced (GRO) come out one by one; what does not fit in msgs is
// kept for the next call. A datagram longer than its Buf is dropped and
// counted in Truncated.
func (c *Conn) ReadBatch(msgs []Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	r := &c.rx
	for {
		if r.next >= r.n {
			if err := c.raw.Read(r.fn); err != nil {
				return 0, err
			}
			if r.err != nil {
				err := r.err
				r.err = nil
				return 0, fmt.Errorf("udp: recvmmsg on %v: %w", c.local, err)
			}
		}
		if k := r.split(msgs, &c.truncated, &c.malformed); k > 0 {
			return k, nil
		}
	}
}

// WriteBatch sends each Message's Buf to its Addr, in order. It tries every
// datagram and returns the first error, if any; each Message's N tells
// whether its datagram was sent.
func (c *Conn) WriteBatch(msgs []Message) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	w := &c.tx
	w.grow(len(msgs))
	for i := range msgs {
		msgs[i].N = 0
	}
	gso := c.gso.Load()
	var first error
	for rest := msgs; len(rest) > 0; {
		if err := w.build(rest, gso, c.v6, c.esp); err != nil && first == nil {
			first = fmt.Errorf("udp: send from %v: %w", c.local, err)
		}
		err := c.raw.Write(w.fn)
		w.sentN(rest)
		if err != nil {
			return err
		}
		if w.err == nil {
			break
		}
		s := w.spans[w.sent]
		if s.gso {
			// The kernel refused the batch: EIO says the device cannot
			// checksum it, anything else (EINVAL past the path MTU, say)
			// is about this batch. Send its datagrams one by one.
			if errors.Is(w.err, unix.EIO) {
				c.gso.Store(false)
			}
			gso = false
			rest = rest[s.lo:]
			continue
		}
		if first == nil {
			first = fmt.Errorf("udp: send from %v to %v: %w", c.local, rest[s.lo].Addr, w.err)
		}
		rest = rest[s.hi:]
	}
	return first
}

// reader is the recvmmsg state of a Conn. The datagrams of the last call
// sit in bufs; next and off say how far split has handed them out.
type reader struct {
	bufs  [][]byte
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	ctrl  []byte
	addrs []netip.AddrPort
	segs  []int   // GRO segment size of each datagram; 0 if not coalesced
	tos   []uint8 // outer TOS of each datagram

	ipv4Header bool // each datagram starts with an IPv4 header to skip

	fn  func(fd uintptr) bool // recv, made once so that reading allocates nothing
	n   int                   // datagrams the last recvmmsg read
	err error

	next, off int
}

func (r *reader) init(slots int) {
	r.bufs = Buffers(slots, MaxDatagram)
	r.hdrs = make([]unix.Mmsghdr, slots)
	r.iovs = make([]unix.Iovec, slots)
	r.names = make([]unix.RawSockaddrInet6, slots)
	r.ctrl = make([]byte, slots*ctrlLen)
	r.addrs = make([]netip.AddrPort, slots)
	r.segs = make([]int, slots)
	r.tos = make([]uint8, slots)
	for i := range slots {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(MaxDatagram)
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.ctrl[i*ctrlLen]
	}
	r.fn = r.recv
}

// recv is the RawConn.Read callback: one recvmmsg.
func (r *reader) recv(fd uintptr) bool {
	for i := range r.hdrs {
		h := &r.hdrs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(ctrlLen)
		h.Flags = 0
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			r.n, r.next, r.off, r.err = 0, 0, 0, errno
			return true
		}
		r.n, r.next, r.off = int(n), 0, 0
		for i := range r.n {
			h := &r.hdrs[i].Hdr
			r.addrs[i] = parseSockaddr(&r.names[i])
			r.segs[i], r.tos[i] = parseCtrl(r.ctrl[i*ctrlLen : i*ctrlLen+int(h.Controllen)])
		}
		return true
	}
}

// split copies the datagrams read into msgs and returns how many it
// filled.
func (r *reader) split(msgs []Message, truncated, malformed *atomic.Uint64) int {
	k := 0
	for r.next < r.n && k < len(msgs) {
		h := &r.hdrs[r.next]
		size := int(h.Len)
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			truncated.Add(1)
			r.next, r.off = r.next+1, 0
			continue
		}
		data := r.bufs[r.next][:size]
		tos := r.tos[r.next]
		if r.ipv4Header {
			if size > 1 {
				tos = data[1]
			}
			var ok bool
			if data, ok = ipv4Payload(data); !ok {
				malformed.Add(1)
				r.next, r.off = r.next+1, 0
				continue
			}
			size = len(data)
		}
		seg := r.segs[r.next]
		if seg <= 0 || seg > size {
			seg = size
		}
		for k < len(msgs) {
			end := min(r.off+seg, size)
			m := &msgs[k]
			if end-r.off > len(m.Buf) {
				truncated.Add(1)
			} else {
				m.N = copy(m.Buf, data[r.off:end])
				m.Addr = r.addrs[r.next]
				m.TOS = tos
				k++
			}
			r.off = end
			if r.off >= size {
				break
			}
		}
		if r.off >= size {
			r.next, r.off = r.next+1, 0
		}
	}
	return k
}

// span is the part of a WriteBatch that one mmsghdr sends.
type span struct {
	lo, hi int // msgs[lo:hi]
	gso    bool
}

// writer is the sendmmsg state of a Conn.
type writer struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	ctrl  []byte
	spans []span

	fn      func(fd uintptr) bool // send, made once
	n, sent int                   // mmsghdrs built and sent
	err     error
}

func (w *writer) grow(n int) {
	if len(w.hdrs) >= n {
		return
	}
	w.hdrs = make([]unix.Mmsghdr, n)
	w.iovs = make([]unix.Iovec, n)
	w.names = make([]unix.RawSockaddrInet6, n)
	w.ctrl = make([]byte, n*ctrlLen)
	w.spans = make([]span, n)
}

// build fills the mmsghdrs for msgs: one per datagram, or with gso one per
// run of datagrams to one destination of one size (the last may be
// shorter). A datagram whose address the socket cannot reach is left out
// and reported.
func (w *writer) build(msgs []Message, gso, v6, esp bool) error {
	w.n, w.sent, w.err = 0, 0, nil
	var bad error
	iov := 0
	for i := 0; i < len(msgs); {
		m := &msgs[i]
		h := &w.hdrs[w.n]
		namelen, ok := putSockaddr(&w.names[w.n], m.Addr, v6, esp)
		if !ok {
			if bad == nil {
				bad = fmt.Errorf("cannot reach %v", m.Addr)
			}
			i++
			continue
		}
		seg := len(m.Buf)
		j, total := i+1, seg
		if gso && seg > 0 {
			for j < len(msgs) && j-i < maxSegments {
				next := len(msgs[j].Buf)
				if msgs[j].Addr != m.Addr || msgs[j].TOS != m.TOS || next > seg || next == 0 || total+next > maxGSOPayload(v6) {
					break
				}
				total += next
				j++
				if next < seg {
					break
				}
			}
		}
		h.Hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&w.names[w.n])), Namelen: namelen, Iov: &w.iovs[iov]}
		h.Hdr.SetIovlen(j - i)
		for _, mm := range msgs[i:j] {
			v := &w.iovs[iov]
			v.Base = nil
			if len(mm.Buf) > 0 {
				v.Base = &mm.Buf[0]
			}
			v.SetLen(len(mm.Buf))
			iov++
		}
		c, clen := w.ctrl[w.n*ctrlLen:(w.n+1)*ctrlLen], 0
		if j-i > 1 {
			clen += putSegment(c, uint16(seg))
		}
		if m.TOS != 0 {
			clen += putTOS(c[clen:], m.TOS, v6)
		}
		if clen > 0 {
			h.Hdr.Control = &c[0]
			h.Hdr.SetControllen(clen)
		}
		w.spans[w.n] = span{lo: i, hi: j, gso: j-i > 1}
		w.n++
		i = j
	}
	return bad
}

// send is the RawConn.Write callback: sendmmsg until all is sent or the
// kernel refuses the next mmsghdr, which is then w.hdrs[w.sent].
func (w *writer) send(fd uintptr) bool {
	for w.sent < w.n {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[w.sent])), uintptr(w.n-w.sent), 0, 0, 0)
		switch errno {
		case 0:
			w.sent += int(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			w.err = errno
			return true
		}
	}
	return true
}

// sentN sets N of the datagrams of msgs, as last built, that were sent.
func (w *writer) sentN(msgs []Message) {
	for _, s := range w.spans[:w.sent] {
		for i := s.lo; i < s.hi; i++ {
			msgs[i].N = len(msgs[i].Buf)
		}
	}
}

// maxGSOPayload is the most UDP payload one GSO send may carry: what fits
// in one IP packet's length field with the IP and UDP headers.
func maxGSOPayload(v6 bool) int {
	if v6 {
		return 1<<16 - 1 - 8 // the IPv6 payload length excludes its header
	}
	return 1<<16 - 1 - 20 - 8
}

// Buffers returns n buffers of size bytes each, carved from one allocation.
// Their starts are staggered across cache sets: buffers a power of two
// apart would put the same offset of each (where headers are read) in the
// same few sets and evict one another.
func Buffers(n, size int) [][]byte {
	stride := (size + 63) &^ 63
	if stride/64%2 == 0 {
		stride += 64
	}
	slab := make([]byte, n*stride)
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = slab[i*stride : i*stride+size : i*stride+size]
	}
	return bufs
}
