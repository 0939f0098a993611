package bgp

import (
	"net"
	"net/netip"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestUpdatesRestartHoldTimerRFC4271Section4_4: a peer that sends
// UPDATEs within the hold time and no KEEPALIVE keeps its session (RFC
// 4271 §4.4 and §8, event 27: an UPDATE restarts the HoldTimer as a
// KEEPALIVE does), for two hold times here; the speaker sends its
// KEEPALIVEs meanwhile, whatever it receives.
func TestUpdatesRestartHoldTimerRFC4271Section4_4(t *testing.T) {
	a, b := netip.MustParseAddr("127.166.1.1"), netip.MustParseAddr("127.166.1.2")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "b", Addr: b, AS: 65002}}})
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	const hold = 3 * time.Second // the least a speaker may propose (§4.2)
	p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: uint16(hold / time.Second), ID: b}.Append(nil))
	p.expect(wire.TypeOpen)
	p.send(wire.TypeKeepalive, nil)
	p.expect(wire.TypeKeepalive)
	// What the peer receives is read all along: the speaker's writes
	// never wait for it.
	keepalives := make(chan struct{}, 100)
	go func() {
		var buf [wire.MaxLen]byte
		for {
			typ, _, err := wire.ReadMessage(c, &buf)
			if err != nil {
				return
			}
			if typ == wire.TypeKeepalive {
				keepalives <- struct{}{}
			}
		}
	}()
	path := []wire.Segment{{ASNs: []uint32{65002}}}
	for i := range 2*3 + 1 {
		// An UPDATE every third of the hold time, as a KEEPALIVE would
		// come: announce, withdraw, announce.
		u := wire.Update{Origin: wire.OriginIGP, ASPath: path, NextHop: b, NLRI: pfxs("10.60.0.0/16")}
		if i%2 == 1 {
			u = wire.Update{Withdrawn: pfxs("10.60.0.0/16")}
		}
		p.send(wire.TypeUpdate, mustAppend(u.Append(nil, true)))
		time.Sleep(hold / 3)
	}
	ps := n.s.Peers()
	if len(ps) != 1 || ps[0].State != "Established" {
		t.Fatalf("a peer sending UPDATEs and no KEEPALIVE: %+v", ps)
	}
	waitRoutes(t, n, map[string]string{"10.60.0.0/16": "65002"})
	// Two hold times, a KEEPALIVE every 0.75 to 1 s: some came.
	if len(keepalives) < 2 {
		t.Errorf("%d KEEPALIVEs from the speaker in two hold times of %v", len(keepalives), hold)
	}
}
