package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// netlink is an rtnetlink socket that sends one request at a time and waits
// for its acknowledgement. It is not safe for concurrent use.
type netlink struct {
	fd  int
	seq uint32
	buf []byte
}

func openNetlink() (*netlink, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	// The kernel always answers; the timeout only guards against a bug.
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &netlink{fd: fd, buf: make([]byte, 1<<16)}, nil
}

func (n *netlink) close() error { return unix.Close(n.fd) }

// setLink sets the MTU of the interface and brings it up.
func (n *netlink) setLink(index, mtu int) error {
	m := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index), Flags: unix.IFF_UP, Change: unix.IFF_UP}
	b := appendStruct(nil, &m, unix.SizeofIfInfomsg)
	b = appendAttr(b, unix.IFLA_MTU, binary.NativeEndian.AppendUint32(nil, uint32(mtu)))
	return n.request(unix.RTM_NEWLINK, 0, b)
}

// setGSOMaxSegs sets the most segments of one segment batch (GSO) the
// kernel hands the interface.
func (n *netlink) setGSOMaxSegs(index, segs int) error {
	m := unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index)}
	b := appendStruct(nil, &m, unix.SizeofIfInfomsg)
	b = appendAttr(b, unix.IFLA_GSO_MAX_SEGS, binary.NativeEndian.AppendUint32(nil, uint32(segs)))
	return n.request(unix.RTM_NEWLINK, 0, b)
}

// addAddr adds the address p.Addr() with prefix length p.Bits().
func (n *netlink) addAddr(index int, p netip.Prefix) error {
	if !p.IsValid() {
		return errors.New("invalid prefix")
	}
	m := unix.IfAddrmsg{Family: family(p.Addr()), Prefixlen: uint8(p.Bits()), Index: uint32(index)}
	b := appendStruct(nil, &m, unix.SizeofIfAddrmsg)
	a := p.Addr().AsSlice()
	b = appendAttr(b, unix.IFA_LOCAL, a)
	b = appendAttr(b, unix.IFA_ADDRESS, a)
	return n.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, b)
}

// addRoute adds a route for p through the interface in the main table. A route is added beside the
// namespace's other routes of p, not in their place, and ahead of them:
// two devices in one namespace (the two network interfaces of one VM)
// each keep their default route, and the one left when a device goes
// still routes, as does a namespace's own default route once its devices
// went. IPv4 takes the newest route of a prefix and metric, so it gets
// the least metric (0); IPv6 the oldest, so it gets metric 1, before
// the 1,024 routes get by default. Adding a route that is there already
// does nothing.
func (n *netlink) addRoute(index int, p netip.Prefix) error {
	if !p.IsValid() {
		return errors.New("invalid prefix")
	}
	p = p.Masked()
	m := unix.RtMsg{
		Family:   family(p.Addr()),
		Dst_len:  uint8(p.Bits()),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: unix.RTPROT_STATIC,
		Scope:    unix.RT_SCOPE_LINK,
		Type:     unix.RTN_UNICAST,
	}
	b := appendStruct(nil, &m, unix.SizeofRtMsg)
	b = appendAttr(b, unix.RTA_DST, p.Addr().AsSlice())
	b = appendAttr(b, unix.RTA_OIF, binary.NativeEndian.AppendUint32(nil, uint32(index)))
	if p.Addr().Is6() {
		b = appendAttr(b, unix.RTA_PRIORITY, binary.NativeEndian.AppendUint32(nil, 1))
	}
	// Without NLM_F_REPLACE, which took the route of another device (and
	// left none once that device went); EEXIST says this very route is
	// there.
	if err := n.request(unix.RTM_NEWROUTE, unix.NLM_F_CREATE, b); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// request sends one message and waits for the kernel's acknowledgement.
func (n *netlink) request(typ, flags uint16, body []byte) error {
	n.seq++
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	msg = append(msg, body...)
	h := (*unix.NlMsghdr)(unsafe.Pointer(&msg[0]))
	*h = unix.NlMsghdr{
		Len:   uint32(len(msg)),
		Type:  typ,
		Flags: flags | unix.NLM_F_REQUEST | unix.NLM_F_ACK,
		Seq:   n.seq,
	}
	if err := unix.Sendto(n.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	for {
		k, _, err := unix.Recvfrom(n.fd, n.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		for b := n.buf[:k]; len(b) >= unix.SizeofNlMsghdr; {
			rh := (*unix.NlMsghdr)(unsafe.Pointer(&b[0]))
			l := int(rh.Len)
			if l < unix.SizeofNlMsghdr || l > len(b) {
				return errors.New("netlink: malformed reply")
			}
			if rh.Seq == n.seq && rh.Type == unix.NLMSG_ERROR {
				if l < unix.SizeofNlMsghdr+4 {
					return errors.New("netlink: short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(b[unix.SizeofNlMsghdr:])); e != 0 {
					return syscall.Errno(-e)
				}
				return nil
			}
			b = b[min(nlmAlign(l), len(b)):]
		}
	}
}

// appendStruct appends the size bytes of the fixed-size struct at p.
func appendStruct[T any](b []byte, p *T, size int) []byte {
	return append(b, unsafe.Slice((*byte)(unsafe.Pointer(p)), size)...)
}

// appendAttr appends an rtattr with its data, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlmAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
