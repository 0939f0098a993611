package bgp

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestBIRDLearnsAggregator: a route that a site aggregated reaches BIRD
// through the speaker with its AGGREGATOR, which BIRD reads as the
// speaker wrote it (RFC 4271 §5.1.7, §9; a four-octet AS, RFC 6793).
func TestBIRDLearnsAggregator(t *testing.T) {
	netnstest.Require(t, "bird", "birdc")
	ns := netnstest.New(t, "bgp8")
	local, birdAddr, raw := netip.MustParseAddr("10.255.0.1"), netip.MustParseAddr("10.255.0.2"), netip.MustParseAddr("10.255.0.3")
	for _, a := range []netip.Addr{local, birdAddr, raw} {
		ns.Run("ip", "addr", "add", a.String()+"/32", "dev", "lo")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bird.conf"), fmt.Appendf(nil, `router id %s;
log "%s/bird.log" all;
protocol device { }
protocol bgp vnetgw {
  local %s as 65010;
  neighbor %s as 65515;
  multihop;
  strict bind yes;
  ipv4 { import all; export none; };
}
`, birdAddr, dir, birdAddr, local), 0o644)
	birdc := startBIRD(t, ns, dir)
	n := nodeIn(t, ns, local)
	n.s.Reconfig(Config{AS: 65515, ID: local, Peers: []Peer{{Name: "site", Addr: birdAddr, AS: 65010}, {Name: "raw", Addr: raw, AS: 4200000002}}})

	var c net.Conn
	if err := ns.Do(func() (err error) {
		c, err = net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(raw, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, Port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c}
	p.send(wire.TypeOpen, wire.Open{AS: 4200000002, HoldTime: 90, ID: raw}.Append(nil))
	p.expect(wire.TypeOpen)
	p.send(wire.TypeKeepalive, nil)
	p.expect(wire.TypeKeepalive)
	// The raw peer summarised 10.60.0.0/16 in AS 4200000001 behind it:
	// AGGREGATOR of that AS and 192.0.2.7.
	p.send(wire.TypeUpdate, withAttr(mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{4200000002}}, {Set: true, ASNs: []uint32{4200000001}}},
		NextHop: raw, NLRI: pfxs("10.60.0.0/16")}.Append(nil, true)), []byte{0xc0, 7, 8, 0xfa, 0x56, 0xea, 0x01, 192, 0, 2, 7}))
	waitRoutes(t, n, map[string]string{"10.60.0.0/16": "4200000002 4200000001"})
	// BIRD is up (birdc has its socket) once its session is.
	for deadline := time.Now().Add(10 * time.Second); !slices.ContainsFunc(n.s.Peers(), func(p PeerStatus) bool { return p.Name == "site" && p.State == "Established" }); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no session with BIRD: %+v", n.s.Peers())
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out := birdc("show", "route", "protocol", "vnetgw", "all")
		if strings.Contains(out, "BGP.aggregator: 192.0.2.7 AS4200000001") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIRD has the route without its aggregator:\n%s\n%s", out, birdc("show", "protocols", "all", "vnetgw"))
		}
	}
}
