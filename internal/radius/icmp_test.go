package radius

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// spoofPortUnreachable sends to the socket at client, from any address,
// an ICMP port unreachable about a UDP packet it sent to server (RFC 792),
// as anyone on the path can.
func spoofPortUnreachable(client, server netip.AddrPort) error {
	raw, err := net.ListenPacket("ip4:icmp", "127.133.0.9")
	if err != nil {
		return err
	}
	defer raw.Close()
	inner := make([]byte, 20+8)
	inner[0], inner[8], inner[9] = 0x45, 64, 17 // IPv4, TTL, UDP
	binary.BigEndian.PutUint16(inner[2:], uint16(len(inner)))
	src, dst := client.Addr().As4(), server.Addr().As4()
	copy(inner[12:], src[:])
	copy(inner[16:], dst[:])
	binary.BigEndian.PutUint16(inner[10:], checksum(inner[:20]))
	binary.BigEndian.PutUint16(inner[20:], client.Port())
	binary.BigEndian.PutUint16(inner[22:], server.Port())
	binary.BigEndian.PutUint16(inner[24:], 8)
	msg := append([]byte{3, 3, 0, 0, 0, 0, 0, 0}, inner...) // destination unreachable, port
	binary.BigEndian.PutUint16(msg[2:], checksum(msg))
	_, err = raw.WriteTo(msg, &net.IPAddr{IP: client.Addr().AsSlice()})
	return err
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// TestSpoofedICMPDoesNotEndWait: ICMP port unreachables about a request
// (which anyone on the path can forge) while its server waits for the
// user's second factor neither end the wait nor have the request sent
// again (a second prompt to the user): the server's answer, after them,
// is taken, and it was asked once.
func TestSpoofedICMPDoesNotEndWait(t *testing.T) {
	netnstest.Require(t) // a raw socket
	shortTries(t, 3, 20*time.Second, 60*time.Second)
	secret := []byte("s3cret")
	pc, err := net.ListenPacket("udp", "127.133.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	server := netip.MustParseAddrPort(pc.LocalAddr().String())
	type request struct {
		p    Packet
		from netip.AddrPort
	}
	reqs := make(chan request, 16)
	go func() {
		buf := make([]byte, MaxPacket)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				close(reqs)
				return
			}
			if p, err := Parse(append([]byte(nil), buf[:n]...)); err == nil {
				reqs <- request{p, netip.MustParseAddrPort(from.String())}
			}
		}
	}()
	asked := make(chan int, 1)
	go func() {
		last, ok := <-reqs
		if !ok {
			return
		}
		n := 1
		// The user's second factor: meanwhile, 4 forged ICMP errors,
		// each about the latest request.
		for range 4 {
			if err := spoofPortUnreachable(last.from, server); err != nil {
				t.Error(err)
			}
			select {
			case r, ok := <-reqs:
				if !ok {
					return
				}
				last, n = r, n+1
			case <-time.After(300 * time.Millisecond):
			}
		}
		asked <- n
		pc.WriteTo(answer(CodeAccessAccept, last.p.ID, last.p.Authenticator, secret, true), net.UDPAddrFromAddrPort(last.from))
	}()
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("127.133.0.3")}}
		return d.DialContext(ctx, network, address)
	}
	a, err := Authenticate(context.Background(), []Server{{Addr: server, Secret: secret}}, Request{User: "alice", Password: "pw", Dial: dial})
	if err != nil || !a.Accept {
		t.Fatalf("with forged ICMP errors during the second factor: %+v, %v", a, err)
	}
	if n := <-asked; n != 1 {
		t.Errorf("the server was asked %d times during one second factor", n)
	}
}
