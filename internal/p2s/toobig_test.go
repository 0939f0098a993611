package p2s

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// sitePort is a site's side of a VNet router: it keeps what the router
// sends it.
type sitePort struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (p *sitePort) Deliver(pkt []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pkts = append(p.pkts, append([]byte(nil), pkt...))
}

func (p *sitePort) take() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	pkts := p.pkts
	p.pkts = nil
	return pkts
}

// bigPacket is an IPv4 UDP packet of n bytes from 10.2.0.9 (a site) to
// dst, of IP identification id, with Don't Fragment set when df.
func bigPacket(dst netip.Addr, n int, id uint16, df bool) []byte {
	pkt := make([]byte, n)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(pkt[2:4], uint16(len(pkt)))
	binary.BigEndian.PutUint16(pkt[4:6], id)
	if df {
		pkt[6] = 0x40
	}
	copy(pkt[12:16], netip.MustParseAddr("10.2.0.9").AsSlice())
	copy(pkt[16:20], dst.AsSlice())
	setHeaderChecksum(pkt)
	return pkt
}

// waitLinkUp waits until the server's link to the client at addr is up.
func (r *region) waitLinkUp(t *testing.T, addr netip.Addr) {
	t.Helper()
	untilTrue(t, "the gateway's link up", func() bool {
		r.srv.mu.Lock()
		defer r.srv.mu.Unlock()
		l, ok := r.srv.clients[addr].(*link)
		return ok && l.up.Load()
	})
}

// setHeaderChecksum sets the checksum of pkt's IPv4 header (20 bytes).
func setHeaderChecksum(pkt []byte) {
	pkt[10], pkt[11] = 0, 0
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(pkt[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(sum))
}

// siteOf routes the region's pool to its server and 10.2.0.0/24 to a
// site, whose ICMP errors come from 10.1.0.1.
func siteOf(r *region) *sitePort {
	site := &sitePort{}
	r.router.SetRoutes([]fabric.Route{{Prefix: netip.MustParsePrefix("172.16.201.0/24"), Port: r.srv}, {Prefix: netip.MustParsePrefix("10.2.0.0/24"), Port: site}})
	r.router.SetSubnets(map[string][]netip.Prefix{"default": {netip.MustParsePrefix("10.1.0.0/24")}})
	return site
}

// checkFragmentationNeeded checks that got is one ICMP Destination
// Unreachable, Fragmentation Needed and DF Set from 10.1.0.1 to the site's
// 10.2.0.9, carrying next-hop MTU mtu and quoting the packet of
// identification id (RFC 1191 §4: type 3 code 4, the next-hop MTU in the
// low 16 bits of the second word).
func checkFragmentationNeeded(t *testing.T, got [][]byte, mtu, id uint16) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("the site got %d packets; want one ICMP error, for the packet with DF", len(got))
	}
	m := got[0]
	if len(m) < 28+20 || m[9] != 1 || netip.AddrFrom4([4]byte(m[12:16])) != netip.MustParseAddr("10.1.0.1") || netip.AddrFrom4([4]byte(m[16:20])) != netip.MustParseAddr("10.2.0.9") {
		t.Fatalf("the site got % x; want ICMP from 10.1.0.1 to 10.2.0.9", m[:min(len(m), 28)])
	}
	var sum uint32
	for b := m[20:]; len(b) > 0; b = b[min(2, len(b)):] {
		sum += uint32(b[0]) << 8
		if len(b) > 1 {
			sum += uint32(b[1])
		}
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	if sum != 0xffff {
		t.Errorf("the ICMP checksum does not hold (sum %#x)", sum)
	}
	if typ, code, gotMTU, gotID := m[20], m[21], binary.BigEndian.Uint16(m[26:28]), binary.BigEndian.Uint16(m[28+4:28+6]); typ != 3 || code != 4 || gotMTU != mtu || gotID != id {
		t.Errorf("ICMP type %d code %d, next-hop MTU %d, about the packet of ID %d; want type 3 code 4, MTU %d, the packet of ID %d", typ, code, gotMTU, gotID, mtu, id)
	}
}

// TestTooBigForClientRFC1191: an IPv4 packet for a point-to-site client
// that is longer than the client takes (its MRU, 1500 by default) and
// has Don't Fragment set is answered to its sender with ICMP Destination
// Unreachable, Fragmentation Needed and DF Set, carrying the client's
// MTU and quoting the packet, from the VNet router's address, so that
// the sender's path MTU discovery sends smaller packets; one without DF
// is cut into fragments that fit (RFC 1812 §4.2.2.7: a router MUST
// fragment), which the client gets, and its sender no error.
func TestTooBigForClientRFC1191(t *testing.T) {
	r := newRegion(t, Config{Listen: netip.MustParseAddrPort("127.169.0.5:0")})
	site := siteOf(r)
	var mu sync.Mutex
	var got [][]byte
	cl, _, err := r.dial(t, r.pki.client, func(c *ClientConfig) {
		c.OnIP = func(p []byte) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, append([]byte(nil), p...))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	r.waitLinkUp(t, cl.Addr())
	r.router.Forward(bigPacket(cl.Addr(), 1600, 1, false))
	r.router.Forward(bigPacket(cl.Addr(), 1600, 2, true))
	checkFragmentationNeeded(t, site.take(), 1500, 2)
	untilTrue(t, "the client got the fragments", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	// The packet as it left the router, a hop off its TTL.
	sent := header.IPv4(bigPacket(cl.Addr(), 1600, 1, false))
	sent.SetTTL(sent.TTL() - 1)
	sent.SetChecksum(0)
	sent.SetChecksum(^sent.CalculateChecksum())
	reassemble(t, sent, 1500, nil, got)
}

// TestOpenVPNTooBigForClientRFC1191: for an OpenVPN client as for an SSTP
// one, a packet of the client's MTU (its tun-mtu, 1500) is sent it, and
// one longer with Don't Fragment set is answered to its sender with ICMP
// Fragmentation Needed carrying 1500 (RFC 1191 §4).
func TestOpenVPNTooBigForClientRFC1191(t *testing.T) {
	r := newRegion(t, Config{OpenVPN: true, Listen: netip.MustParseAddrPort("127.169.0.2:0")})
	site := siteOf(r)
	cl := dialTestOVPN(t, r.srv.Addr())
	defer cl.c.Close()
	tc, err := cl.session(0, &r.pki.client, "", "")
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, tc, 20*time.Second, "once connected")
	var addr netip.Addr
	untilTrue(t, "the client listed with its data channel's keys", func() bool {
		cs := r.srv.Clients()
		if len(cs) == 1 {
			addr = cs[0].Addr
		}
		return len(cs) == 1 && onlyOpenVPNSession(t, r.srv).send.Load() != nil
	})
	r.router.Forward(bigPacket(addr, 1500, 1, true))
	untilTrue(t, "the packet of 1500 bytes sent the client", func() bool { return r.srv.Clients()[0].PacketsOut == 1 })
	r.router.Forward(bigPacket(addr, 1501, 2, true))
	checkFragmentationNeeded(t, site.take(), 1500, 2)
}

// TestOpenVPNClientGetsFragmentsRFC1812: a UDP datagram of 1,600 bytes
// from the VNet without Don't Fragment, longer than an OpenVPN client's
// MTU (1500), reaches OpenVPN 2.6 (Debian's) in fragments that its
// system puts together (RFC 1812 §4.2.2.7: a router MUST fragment), and
// the application there reads it whole.
func TestOpenVPNClientGetsFragmentsRFC1812(t *testing.T) {
	srv, laptop, client := openVPNClient(t)
	var pc net.PacketConn
	if err := laptop.Do(func() (err error) {
		pc, err = net.ListenPacket("udp4", "0.0.0.0:9999")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cs := srv.Clients()
	if len(cs) != 1 {
		t.Fatalf("the server lists %+v", cs)
	}
	pkt := make([]byte, 1600)
	h := header.IPv4(pkt)
	h.Encode(&header.IPv4Fields{TotalLength: uint16(len(pkt)), ID: 7, TTL: 64, Protocol: 17,
		SrcAddr: tcpip.AddrFrom4([4]byte{10, 1, 0, 4}), DstAddr: tcpip.AddrFrom4(cs[0].Addr.As4())})
	h.SetChecksum(^h.CalculateChecksum())
	u := header.UDP(pkt[20:])
	u.Encode(&header.UDPFields{SrcPort: 5000, DstPort: 9999, Length: uint16(len(pkt) - 20)}) // no checksum (RFC 768)
	for i := range pkt[28:] {
		pkt[28+i] = byte(i)
	}
	srv.cfg.Router.(*fabric.Router).Forward(pkt)
	buf := make([]byte, 4096)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("the datagram of 1600 bytes did not reach the client: %v\nclient:\n%s", err, client.Output())
	}
	if !bytes.Equal(buf[:n], pkt[28:]) {
		t.Errorf("the client read %d bytes, not the datagram's %d", n, len(pkt)-28)
	}
}
