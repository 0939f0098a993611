package radius

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
)

// ipv4Packet is an IPv4 packet of proto from src to dst carrying payload.
func ipv4Packet(src, dst netip.Addr, proto byte, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	b[0], b[8], b[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(b[2:], uint16(20+len(payload)))
	s, d := src.As4(), dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b))
	return append(b, payload...)
}

// udpServer is a RADIUS server behind a gateway's VNet, as a Forwarder:
// the gateway endpoint's packets come to it; it answers every request
// after its delay, and sends an ICMP port unreachable about the first one
// (which anyone on the path can forge) at once.
type udpServer struct {
	t      *testing.T
	addr   netip.AddrPort
	secret []byte
	delay  time.Duration
	gw     atomic.Pointer[fabric.NetstackHost]
	asked  atomic.Int32
	mu     sync.Mutex
	ports  map[uint16]bool // the gateway's sockets that asked
}

func (s *udpServer) ForwardBatch(bufs [][]byte, offset int) {
	for _, b := range bufs {
		s.Forward(b[offset:])
	}
}

func (s *udpServer) Forward(pkt []byte) {
	if len(pkt) < 28 || pkt[0]>>4 != 4 || pkt[9] != 17 {
		return
	}
	ihl := int(pkt[0]&0x0f) * 4
	src := netip.AddrFrom4([4]byte(pkt[12:16]))
	udp := pkt[ihl:]
	from := netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:]))
	req, err := Parse(append([]byte(nil), udp[8:]...))
	if err != nil || binary.BigEndian.Uint16(udp[2:]) != s.addr.Port() {
		return
	}
	s.mu.Lock()
	s.ports[from.Port()] = true
	s.mu.Unlock()
	gw := s.gw.Load()
	if s.asked.Add(1) == 1 {
		// RFC 792: the IP header and the first 8 octets of the datagram.
		icmp := append([]byte{3, 3, 0, 0, 0, 0, 0, 0}, pkt[:ihl+8]...)
		binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))
		go gw.Deliver(ipv4Packet(s.addr.Addr(), src, 1, icmp))
	}
	ans := answer(CodeAccessAccept, req.ID, req.Authenticator, s.secret, true)
	u := make([]byte, 8, 8+len(ans))
	binary.BigEndian.PutUint16(u[0:], s.addr.Port())
	binary.BigEndian.PutUint16(u[2:], from.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(ans))) // checksum 0: none (RFC 768)
	reply := ipv4Packet(s.addr.Addr(), src, 17, append(u, ans...))
	time.AfterFunc(s.delay, func() { gw.Deliver(reply) })
}

// TestICMPAtGatewayAddressDoesNotEndWait: as TestSpoofedICMPDoesNotEndWait,
// for a request sent from the gateway's private address (its userspace
// stack, fabric.NetstackHost), the way to a server its VNet reaches: an
// ICMP port unreachable about the request, which anyone on the path can
// forge, neither ends the wait nor has the request sent again from a new
// socket, under a new Identifier (a second prompt for a user approving a
// second factor); the server's answer, after it, is taken. The stack
// reports the error at the socket's next read (the answer coming) or
// write (the request sent again).
func TestICMPAtGatewayAddressDoesNotEndWait(t *testing.T) {
	for _, tc := range []struct {
		name           string
		timeout, delay time.Duration
		asked          int32
	}{
		{"answered before a retry", 20 * time.Second, 300 * time.Millisecond, 1},
		{"answered after a retry", 300 * time.Millisecond, 500 * time.Millisecond, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shortTries(t, 3, tc.timeout, 20*time.Second)
			srv := &udpServer{t: t, addr: netip.MustParseAddrPort("10.77.0.5:1812"), secret: []byte("s3cret"), delay: tc.delay, ports: map[uint16]bool{}}
			gwAddr := netip.MustParseAddr("10.77.0.4")
			gw, err := fabric.NewNetstackEndpoint("radius test", gwAddr, 0, srv)
			if err != nil {
				t.Fatal(err)
			}
			defer gw.Close()
			srv.gw.Store(gw)
			dial := func(ctx context.Context, network, address string) (net.Conn, error) {
				return gw.DialUDPFrom(gwAddr, netip.MustParseAddrPort(address))
			}
			a, err := Authenticate(context.Background(), []Server{{Addr: srv.addr, Secret: srv.secret}}, Request{User: "alice", Password: "pw", Dial: dial})
			if err != nil || !a.Accept {
				t.Fatalf("with an ICMP error before the answer: %+v, %v", a, err)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if n := srv.asked.Load(); n != tc.asked || len(srv.ports) != 1 {
				t.Errorf("the server was asked %d times from %d sockets, %d times from one wanted: the ICMP error ended the socket the answer was coming to, and the request went again", n, len(srv.ports), tc.asked)
			}
		})
	}
}
