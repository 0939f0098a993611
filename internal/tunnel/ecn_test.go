package tunnel

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/udp"
	"golang.org/x/sys/unix"
)

// router is a UDP relay between two engines that stands for the routers
// on the way: it reads each datagram's outer TOS as the kernel reports it
// and passes the datagram on with the TOS it is told, as a router that
// marks Congestion Experienced (or re-marks) would. It uses plain sockets,
// not the udp package.
type router struct {
	pc  *net.UDPConn
	raw interface {
		Control(func(fd uintptr)) error
	}
}

func newRouter(t *testing.T, addr string) *router {
	t.Helper()
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	raw, _ := pc.SyscallConn()
	var serr error
	raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1) })
	if serr != nil {
		t.Fatal(serr)
	}
	return &router{pc: pc, raw: raw}
}

func (r *router) addr() netip.AddrPort { return r.pc.LocalAddr().(*net.UDPAddr).AddrPort() }

// forward reads one datagram and sends it to dst with the outer TOS
// mark(tos), tos being what it came with; it returns tos.
func (r *router) forward(t *testing.T, dst netip.AddrPort, mark func(uint8) uint8) uint8 {
	t.Helper()
	buf, oob := make([]byte, udp.MaxDatagram), make([]byte, 128)
	r.pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, _, _, err := r.pc.ReadMsgUDPAddrPort(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		t.Fatal(err)
	}
	var tos uint8
	for _, c := range cmsgs {
		if c.Header.Level == unix.IPPROTO_IP && c.Header.Type == unix.IP_TOS && len(c.Data) > 0 {
			tos = c.Data[0]
		}
	}
	var serr error
	r.raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, int(mark(tos))) })
	if serr != nil {
		t.Fatal(serr)
	}
	if _, err := r.pc.WriteToUDPAddrPort(buf[:n], dst); err != nil {
		t.Fatal(err)
	}
	return tos
}

// withTOS returns pkt (IPv4 or IPv6) with its TOS octet (Traffic Class)
// set, and a valid IPv4 header checksum.
func withTOS(pkt []byte, tos uint8) []byte {
	if pkt[0]>>4 == 6 {
		pkt[0] = 0x60 | tos>>4
		pkt[1] = pkt[1]&0x0f | tos<<4
		return pkt
	}
	pkt[1] = tos
	binary.BigEndian.PutUint16(pkt[10:12], 0)
	binary.BigEndian.PutUint16(pkt[10:12], ^headerSum(pkt[:20]))
	return pkt
}

// headerSum is the one's complement sum of b (RFC 1071).
func headerSum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// TestECNAcrossTunnelRFC6040 sends packets with DSCP and ECN marks from
// engine A through a router to engine B over real UDP sockets on
// loopback, and checks what the router sees in the outer header (RFC 4301
// §5.1.2.1: the DSCP copied from the inner; RFC 6040 §4.1 normal mode:
// the ECN field too) and what B hands to its inner side when the router
// marks the outer header (RFC 6040 §4.2): CE reaches an ECN-capable inner
// packet, with its IPv4 checksum still right; a packet that is not
// ECN-capable is dropped and counted; ECT(1) over ECT(0) becomes ECT(1);
// and the outer DSCP is not copied in.
func TestECNAcrossTunnelRFC6040(t *testing.T) {
	r := newRouter(t, "127.175.0.3:0")
	// A sends to the router; B hears from it.
	p := newUDPPair(t, Options{}, "127.175.0.1:0", "127.175.0.2:0", r.addr())
	eb, innerA, innerB, localB := p.eb, p.innerA, p.innerB, p.localB

	const (
		ef   = 46 << 2 // DSCP Expedited Forwarding
		af11 = 10 << 2
		cs1  = 8 << 2
	)
	keep := func(tos uint8) uint8 { return tos }
	for _, tc := range []struct {
		name    string
		src     string
		dst     string
		inner   uint8             // the inner TOS A sends
		mark    func(uint8) uint8 // what the router makes of the outer TOS
		want    uint8             // the inner TOS B delivers
		dropped bool
	}{
		{"EF ECT(0) passes", "10.1.0.5", "10.2.0.7", ef | ect0, keep, ef | ect0, false},
		{"ECT(0) marked CE", "10.1.0.5", "10.2.0.7", af11 | ect0, func(tos uint8) uint8 { return tos | ce }, af11 | ce, false},
		{"ECT(1) marked CE", "10.1.0.5", "10.2.0.7", ect1, func(tos uint8) uint8 { return tos | ce }, ce, false},
		{"Not-ECT marked CE is dropped", "10.1.0.5", "10.2.0.7", af11, func(uint8) uint8 { return ce }, 0, true},
		{"ECT(0) under ECT(1)", "10.1.0.5", "10.2.0.7", ect0, func(uint8) uint8 { return ect1 }, ect1, false},
		{"CE under Not-ECT stays CE", "10.1.0.5", "10.2.0.7", ef | ce, func(uint8) uint8 { return 0 }, ef | ce, false},
		{"outer DSCP not copied in", "10.1.0.5", "10.2.0.7", af11 | ect0, func(uint8) uint8 { return cs1 | ect0 }, af11 | ect0, false},
		{"IPv6 ECT(0) marked CE", "2001:db8:1::5", "2001:db8:2::7", ef | ect0, func(tos uint8) uint8 { return tos | ce }, ef | ce, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := withTOS(packet(tc.src, tc.dst, 200), tc.inner)
			ecnDrops := status(t, eb, "t").Drops.ECN
			innerA.Send(bytes.Clone(pkt))
			if outer := r.forward(t, localB, tc.mark); outer != tc.inner {
				t.Errorf("outer TOS %#02x, want the inner's %#02x", outer, tc.inner)
			}
			if tc.dropped {
				eventually(t, "an ECN drop", func() bool { return status(t, eb, "t").Drops.ECN == ecnDrops+1 })
				if got, ok := innerB.Next(50 * time.Millisecond); ok {
					t.Fatalf("B delivered %x", got)
				}
				return
			}
			got, ok := innerB.Next(5 * time.Second)
			if !ok {
				t.Fatal("B delivered nothing")
			}
			want := withTOS(bytes.Clone(pkt), tc.want)
			if !bytes.Equal(got, want) {
				t.Fatalf("B delivered\n%x\nwant\n%x", got, want)
			}
			if got[0]>>4 == 4 && headerSum(got[:20]) != 0xffff {
				t.Errorf("IPv4 header checksum %#04x is wrong", binary.BigEndian.Uint16(got[10:12]))
			}
		})
	}
}
