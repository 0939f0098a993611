package bgp

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestNextHopSelfIgnored: a route whose NEXT_HOP is an address of the
// speaker's own (its identifier, or the local address of any of its
// sessions) is semantically incorrect, RFC 4271 §6.3: it is ignored and
// logged (once, however many come), the peer's earlier route to the
// prefix goes with it, and the session stays with its other routes.
func TestNextHopSelfIgnored(t *testing.T) {
	var log logbuf.Buffer
	a, b, apipa := netip.MustParseAddr("127.82.4.1"), netip.MustParseAddr("127.82.4.2"), netip.MustParseAddr("127.82.4.21")
	port := freePort(t, a)
	n := &node{addr: a, s: New(Options{Port: port, ConnectRetry: time.Hour, Logger: slog.New(slog.NewTextHandler(&log, nil))})}
	t.Cleanup(n.s.Close)
	l, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
	if err != nil {
		t.Fatal(err)
	}
	n.s.Serve(l)
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{
		{Name: "raw", Addr: b, AS: 65002},
		{Name: "other", Addr: netip.MustParseAddr("127.82.4.3"), AS: 65003, Local: apipa},
	}})
	p := dialRaw(t, n, b, port)
	update := func(nh netip.Addr, prefixes ...string) {
		p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: nh, NLRI: pfxs(prefixes...)}.Append(nil, true)))
	}
	update(b, "192.168.1.0/24", "192.168.2.0/24")
	waitRoutes(t, n, map[string]string{"192.168.1.0/24": "65002", "192.168.2.0/24": "65002"})
	update(a, "192.168.2.0/24", "192.168.3.0/24")
	update(apipa, "192.168.4.0/24")
	update(b, "192.168.5.0/24")
	waitRoutes(t, n, map[string]string{"192.168.1.0/24": "65002", "192.168.5.0/24": "65002"})
	if ps := n.s.Peers(); ps[0].Name != "raw" || ps[0].State != "Established" || ps[0].RoutesReceived != 2 {
		t.Errorf("the peer after routes with the speaker as next hop: %+v", ps[0])
	}
	if got := strings.Count(log.String(), "NEXT_HOP"); got != 1 {
		t.Errorf("two UPDATEs with the speaker as next hop logged %d times:\n%s", got, log.String())
	}
}

// TestNextHopSelfThroughNAT: a peer behind NAT names its next hop in its
// own space, which may hold the speaker's address for a host of its own:
// that next hop, seen through the peer's Import, is not the speaker's, and
// its routes are taken.
func TestNextHopSelfThroughNAT(t *testing.T) {
	a, b := netip.MustParseAddr("127.82.7.1"), netip.MustParseAddr("127.82.7.2")
	port := freePort(t, a)
	n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Peers: []Peer{{Name: "raw", Addr: b, AS: 65002,
		Import: []Mapping{{From: netip.MustParsePrefix("127.82.7.0/24"), To: netip.MustParsePrefix("172.31.7.0/24")}}}}})
	p := dialRaw(t, n, b, port)
	p.send(wire.TypeUpdate, mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: a, NLRI: pfxs("192.168.1.0/24")}.Append(nil, true)))
	waitRoutes(t, n, map[string]string{"192.168.1.0/24": "65002"})
}
