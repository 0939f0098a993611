package p2s

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// fromClient is bigPacket's packet the other way: from the client at addr
// to the site's 10.2.0.9.
func fromClient(addr netip.Addr, n int, id uint16, df bool) []byte {
	pkt := bigPacket(addr, n, id, df)
	copy(pkt[16:20], pkt[12:16])
	copy(pkt[12:16], addr.AsSlice())
	setHeaderChecksum(pkt)
	return pkt
}

// TestClientWithinGatewayMRURFC1661Section6_1: vnetgw's client against a
// gateway whose LCP request names an MRU of 1300 (RFC 1661 §6.1: what
// the client sends it stays within it) gives its device that MTU, under
// its own 1400; a packet of the device longer than the MRU still (a
// smaller MRU renegotiated later) is cut into fragments that fit when it
// may be, and otherwise, Don't Fragment set, answered to its sender with
// ICMP Fragmentation Needed carrying 1300 (RFC 1191 §4) from the
// gateway's address: it did not vanish.
func TestClientWithinGatewayMRURFC1661Section6_1(t *testing.T) {
	r := newRegion(t, Config{mru: 1300})
	site := siteOf(r)
	var mu sync.Mutex
	var back [][]byte
	cl, _, err := r.dial(t, r.pki.client, func(c *ClientConfig) {
		c.OnIP = func(p []byte) {
			mu.Lock()
			defer mu.Unlock()
			back = append(back, append([]byte(nil), p...))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	r.waitLinkUp(t, cl.Addr())
	if got := cl.MTU(); got != 1300 {
		t.Errorf("the client takes the gateway to take packets of %d bytes against its MRU of 1300; want 1300", got)
	}

	// A packet of the MRU goes whole.
	cl.Forward(fromClient(cl.Addr(), 1300, 1, true))
	untilTrue(t, "the packet of 1300 bytes at the site", func() bool {
		site.mu.Lock()
		defer site.mu.Unlock()
		return len(site.pkts) == 1
	})
	if got := site.take(); len(got[0]) != 1300 {
		t.Fatalf("the site got a packet of %d bytes, want 1300", len(got[0]))
	}

	// Longer, without Don't Fragment: in fragments of at most 1300 bytes.
	cl.Forward(fromClient(cl.Addr(), 1350, 2, false))
	untilTrue(t, "the fragments at the site", func() bool {
		site.mu.Lock()
		defer site.mu.Unlock()
		return len(site.pkts) >= 2
	})
	sent := header.IPv4(fromClient(cl.Addr(), 1350, 2, false))
	sent.SetTTL(sent.TTL() - 1) // the VNet router's hop
	sent.SetChecksum(0)
	sent.SetChecksum(^sent.CalculateChecksum())
	reassemble(t, sent, 1300, nil, site.take())

	// Longer, with Don't Fragment: the sender is told.
	cl.Forward(fromClient(cl.Addr(), 1350, 3, true))
	untilTrue(t, "an ICMP error back to the client's host", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(back) > 0
	})
	mu.Lock()
	m := back[0]
	mu.Unlock()
	if len(m) < 28+20 || m[9] != 1 || netip.AddrFrom4([4]byte(m[12:16])) != cl.Gateway() || netip.AddrFrom4([4]byte(m[16:20])) != cl.Addr() {
		t.Fatalf("the client's host got % x; want ICMP from the gateway's %s to %s", m[:min(len(m), 28)], cl.Gateway(), cl.Addr())
	}
	if typ, code, mtu, id := m[20], m[21], binary.BigEndian.Uint16(m[26:28]), binary.BigEndian.Uint16(m[28+4:28+6]); typ != 3 || code != 4 || mtu != 1300 || id != 3 {
		t.Errorf("ICMP type %d code %d, next-hop MTU %d, about the packet of ID %d; want type 3 code 4, MTU 1300, the packet of ID 3", typ, code, mtu, id)
	}
	if got := site.take(); len(got) != 0 {
		t.Errorf("the site got %d packets of the one with Don't Fragment", len(got))
	}
}
