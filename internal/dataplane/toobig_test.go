package dataplane

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/fabric"
)

// icmpSink is a site's port of a VNet router: it keeps what it is sent.
type icmpSink struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (s *icmpSink) Deliver(pkt []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pkts = append(s.pkts, append([]byte(nil), pkt...))
}

// TestRelayFragmentationNeeded: a gateway's point-to-site server reaches
// its VNet's router through the gateway's relay, which passes a packet
// too long for a client, with Don't Fragment set, to its subnet's
// ingress: the sender gets ICMP Fragmentation Needed with the client's
// MTU (RFC 1191 §4) from the router's address in the gateway's subnet.
func TestRelayFragmentationNeeded(t *testing.T) {
	router := fabric.NewRouter()
	site := &icmpSink{}
	router.SetRoutes([]fabric.Route{{Prefix: netip.MustParsePrefix("10.2.0.0/24"), Port: site}})
	router.SetSubnets(map[string][]netip.Prefix{"vnet/GatewaySubnet": {netip.MustParsePrefix("10.1.255.0/27")}, "vnet/default": {netip.MustParsePrefix("10.1.0.0/24")}})
	r := newRelay(router.Ingress("vnet/GatewaySubnet"))
	pkt := make([]byte, 1600)
	pkt[0], pkt[6], pkt[8], pkt[9] = 0x45, 0x40, 63, 17
	binary.BigEndian.PutUint16(pkt[2:4], uint16(len(pkt)))
	copy(pkt[12:16], netip.MustParseAddr("10.2.0.9").AsSlice())
	copy(pkt[16:20], netip.MustParseAddr("172.16.201.2").AsSlice())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(pkt[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(sum))
	r.FragmentationNeeded(pkt, 1400)
	site.mu.Lock()
	defer site.mu.Unlock()
	if len(site.pkts) != 1 {
		t.Fatalf("the sender got %d packets; want one ICMP error", len(site.pkts))
	}
	m := site.pkts[0]
	if len(m) < 28 || netip.AddrFrom4([4]byte(m[12:16])) != netip.MustParseAddr("10.1.255.1") || m[20] != 3 || m[21] != 4 || binary.BigEndian.Uint16(m[26:28]) != 1400 {
		t.Errorf("the sender got % x; want ICMP type 3 code 4, MTU 1400, from 10.1.255.1", m[:min(len(m), 28)])
	}
}
