package udp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TOS octets of the tests: DSCP EF (46) with ECT(0), AF11 with CE, CE
// alone, ECT(1) alone, and none.
var testTOS = []uint8{46<<2 | 2, 10<<2 | 3, 3, 1, 0}

// TestConnTOSRFC6040 sends datagrams each with its own TOS, in runs that
// GSO would coalesce, and checks that each arrives with it: at a Conn,
// which reports it in Message.TOS, and at a plain socket that reads the
// kernel's IP_TOS (IPV6_TCLASS) control message. RFC 6040 §4.1 and §4.2
// need the outer ECN field set at encapsulation and read at
// decapsulation.
func TestConnTOSRFC6040(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b string
	}{
		{"ipv4", "127.175.0.1:0", "127.175.0.2:0"},
		{"ipv6", "[::1]:0", "[::1]:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Listen(netip.MustParseAddrPort(tc.a))
			if err != nil {
				t.Skipf("listen: %v", err)
			}
			defer a.Close()
			b, err := Listen(netip.MustParseAddrPort(tc.b))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			// Three of each TOS, same size, to one address: without
			// runs broken by TOS, GSO would send them with one.
			var out []Message
			for _, tos := range testTOS {
				for range 3 {
					out = append(out, Message{Buf: payload(len(out), 1000), Addr: b.LocalAddr(), TOS: tos})
				}
			}
			if err := a.WriteBatch(out); err != nil {
				t.Fatal(err)
			}
			in := newMsgs(len(out), MaxDatagram)
			b.sock.SetReadDeadline(time.Now().Add(5 * time.Second))
			for got := 0; got < len(out); {
				n, err := b.ReadBatch(in[got:])
				if err != nil {
					t.Fatalf("after %d datagrams: %v", got, err)
				}
				got += n
			}
			for i, m := range in {
				if !bytes.Equal(m.Buf[:m.N], out[i].Buf) || m.TOS != out[i].TOS {
					t.Errorf("datagram %d: TOS %#02x, want %#02x (equal payload %v)", i, m.TOS, out[i].TOS, bytes.Equal(m.Buf[:m.N], out[i].Buf))
				}
			}

			// A plain socket reads what a Conn sends, and sends what a
			// Conn reads.
			network := "udp4"
			if b.v6 {
				network = "udp6"
			}
			pc, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.LocalAddr().Addr(), 0)))
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			raw, _ := pc.SyscallConn()
			raw.Control(func(fd uintptr) {
				if b.v6 {
					err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1)
				} else {
					err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			plain := pc.LocalAddr().(*net.UDPAddr).AddrPort()
			pc.SetReadDeadline(time.Now().Add(5 * time.Second))
			for _, tos := range testTOS {
				if err := a.WriteBatch([]Message{{Buf: []byte("x"), Addr: plain, TOS: tos}}); err != nil {
					t.Fatal(err)
				}
				oob := make([]byte, 64)
				_, oobn, _, _, err := pc.ReadMsgUDP(make([]byte, 16), oob)
				if err != nil {
					t.Fatal(err)
				}
				if _, got := parseCtrl(oob[:oobn]); got != tos {
					t.Errorf("plain socket read TOS %#02x, want %#02x", got, tos)
				}

				raw.Control(func(fd uintptr) {
					if b.v6 {
						err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_TCLASS, int(tos))
					} else {
						err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, int(tos))
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pc.WriteToUDPAddrPort([]byte("y"), b.LocalAddr()); err != nil {
					t.Fatal(err)
				}
				if n, err := b.ReadBatch(in[:1]); err != nil || n != 1 || in[0].TOS != tos {
					t.Errorf("Conn read TOS %#02x (%d, %v), want %#02x", in[0].TOS, n, err, tos)
				}
			}
		})
	}
}
