package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// node is a speaker on a loopback address of this machine.
type node struct {
	s       *Speaker
	addr    netip.Addr
	changes atomic.Int64
}

// freePort finds a port free on every address given.
func freePort(t testing.TB, addrs ...netip.Addr) uint16 {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", netip.AddrPortFrom(addrs[0], 0).String())
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		ok := true
		for _, a := range addrs {
			l, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every address")
	return 0
}

func startNode(t testing.TB, addr string, port uint16, hold time.Duration) *node {
	t.Helper()
	return startNodeLC(t, addr, port, hold, net.ListenConfig{})
}

// startNodeLC is startNode with the listener made by lc.
func startNodeLC(t testing.TB, addr string, port uint16, hold time.Duration, lc net.ListenConfig) *node {
	t.Helper()
	n := &node{addr: netip.MustParseAddr(addr)}
	n.s = New(Options{Port: port, HoldTime: hold, ConnectRetry: 200 * time.Millisecond,
		OnChange: func() { n.changes.Add(1) },
		Dial: func(ctx context.Context, _ netip.Addr, dst netip.AddrPort) (net.Conn, error) {
			d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(n.addr, 0))}
			return d.DialContext(ctx, "tcp", dst.String())
		}})
	l, err := lc.Listen(context.Background(), "tcp", netip.AddrPortFrom(n.addr, port).String())
	if err != nil {
		t.Fatal(err)
	}
	n.s.Serve(l)
	t.Cleanup(n.s.Close)
	return n
}

// waitingNode starts a speaker at cfg.ID on port, its listener made by
// lc, that dials each peer once at most (ConnectRetry an hour: the peers
// connect, the speaker waits), and gives it cfg.
func waitingNode(t testing.TB, port uint16, lc net.ListenConfig, cfg Config) *node {
	t.Helper()
	n := startNodeLC(t, cfg.ID.String(), port, 0, lc)
	n.s.opts.ConnectRetry = time.Hour
	n.s.Reconfig(cfg)
	return n
}

// loggedRawSpeaker starts a speaker at a, on a free port, that logs into
// log and waits for its one peer, raw at b of AS peerAS, to connect; it
// serves what wrap makes of its listener (nil: the listener itself).
func loggedRawSpeaker(t *testing.T, a, b netip.Addr, peerAS uint32, log *logbuf.Buffer, wrap func(net.Listener) net.Listener) (*node, uint16) {
	t.Helper()
	port := freePort(t, a)
	n := &node{addr: a}
	n.s = New(Options{Port: port, ConnectRetry: time.Hour, Logger: slog.New(slog.NewTextHandler(log, nil))})
	t.Cleanup(n.s.Close)
	l, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
	if err != nil {
		t.Fatal(err)
	}
	n.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "raw", Addr: b, AS: peerAS}}})
	if wrap != nil {
		l = wrap(l)
	}
	n.s.Serve(l)
	return n, port
}

// smallBuf sets a socket's buffer opt (syscall.SO_SNDBUF, SO_RCVBUF) to
// 4 KiB: writes to a peer that reads slowly or not at all block soon.
func smallBuf(opt int) func(_, _ string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096) })
	}
}

func pfxs(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// waitRoutes waits until the best routes of n are want (prefix -> AS path
// as printed) and returns them.
func waitRoutes(t *testing.T, n *node, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string]string{}
		for _, r := range n.s.Best() {
			got[r.Prefix.String()] = pathString(r.ASPath)
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("speaker %s: routes %v, want %v; peers %+v", n.addr, got, want, n.s.Peers())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pathString(p []wire.Segment) string {
	var parts []string
	for _, s := range p {
		for _, as := range s.ASNs {
			parts = append(parts, fmt.Sprint(as))
		}
	}
	return strings.Join(parts, " ")
}

// Two speakers that both connect: one session (the collision resolved),
// each learns the other's networks with the other's AS as the path, and a
// network taken out of the configuration is withdrawn.
func TestTwoSpeakersLearnAndWithdraw(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.10.1"), netip.MustParseAddr("127.0.10.2")
	port := freePort(t, a, b)
	na, nb := startNode(t, a.String(), port, 3*time.Second), startNode(t, b.String(), port, 3*time.Second)
	na.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "to-b", Addr: b, AS: 4200000002}}})
	nb.s.Reconfig(Config{AS: 4200000002, ID: b, Networks: pfxs("10.2.0.0/24", "10.3.0.0/24"), Peers: []Peer{{Name: "to-a", Addr: a, AS: 65515}}})
	waitRoutes(t, na, map[string]string{"10.2.0.0/24": "4200000002", "10.3.0.0/24": "4200000002"})
	waitRoutes(t, nb, map[string]string{"10.1.0.0/16": "65515"})
	for _, r := range na.s.Best() {
		if r.Peer != "to-b" || r.NextHop != b || r.PeerAddr != b {
			t.Errorf("route %+v: want peer to-b, next hop %v", r, b)
		}
	}
	ps := na.s.Peers()
	if len(ps) != 1 || ps[0].State != "Established" || ps[0].RoutesReceived != 2 || ps[0].Since.IsZero() || ps[0].MessagesReceived < 3 {
		t.Errorf("peer status: %+v", ps)
	}
	if adv := na.s.Advertised(b); len(adv) != 1 || adv[0].Prefix != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("advertised to b: %+v", adv)
	}

	nb.s.Reconfig(Config{AS: 4200000002, ID: b, Networks: pfxs("10.3.0.0/24"), Peers: []Peer{{Name: "to-a", Addr: a, AS: 65515}}})
	waitRoutes(t, na, map[string]string{"10.3.0.0/24": "4200000002"})
	if na.changes.Load() < 2 {
		t.Errorf("OnChange called %d times for an announcement and a withdrawal", na.changes.Load())
	}
	// Hold time 3 s: the session outlives several hold times on keepalives.
	time.Sleep(4 * time.Second)
	if ps := na.s.Peers(); ps[0].State != "Established" || time.Since(ps[0].Since) < 4*time.Second {
		t.Errorf("the session did not last through the hold time: %+v", ps)
	}
}

// NAT (route translation): what a peer announces inside an Import
// mapping is learned at the translated prefix, and withdrawn there; what
// the peer is sent is its own Networks in place of the speaker's.
func TestPeerTranslation(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.12.1"), netip.MustParseAddr("127.0.12.2")
	port := freePort(t, a, b)
	na, nb := startNode(t, a.String(), port, 3*time.Second), startNode(t, b.String(), port, 3*time.Second)
	na.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "to-b", Addr: b, AS: 65020,
		Networks: pfxs("100.65.0.0/24", "10.1.128.0/17"), Import: []Mapping{{From: netip.MustParsePrefix("10.77.0.0/16"), To: netip.MustParsePrefix("172.31.0.0/16")}}}}})
	nb.s.Reconfig(Config{AS: 65020, ID: b, Networks: pfxs("10.77.3.0/24", "192.168.9.0/24"), Peers: []Peer{{Name: "to-a", Addr: a, AS: 65515}}})
	waitRoutes(t, na, map[string]string{"172.31.3.0/24": "65020", "192.168.9.0/24": "65020"})
	waitRoutes(t, nb, map[string]string{"100.65.0.0/24": "65515", "10.1.128.0/17": "65515"})
	nb.s.Reconfig(Config{AS: 65020, ID: b, Networks: pfxs("192.168.9.0/24"), Peers: []Peer{{Name: "to-a", Addr: a, AS: 65515}}})
	waitRoutes(t, na, map[string]string{"192.168.9.0/24": "65020"})
}

// Transit: a hub between two sites passes each one's routes to the other
// with its AS in front, never back to where they came from; a site that
// goes away takes its routes with it.
func TestTransitAndSessionLoss(t *testing.T) {
	h, x, y := netip.MustParseAddr("127.0.11.1"), netip.MustParseAddr("127.0.11.2"), netip.MustParseAddr("127.0.11.3")
	port := freePort(t, h, x, y)
	nh, nx, ny := startNode(t, h.String(), port, 0), startNode(t, x.String(), port, 0), startNode(t, y.String(), port, 0)
	nh.s.Reconfig(Config{AS: 65515, ID: h, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "x", Addr: x, AS: 65001}, {Name: "y", Addr: y, AS: 65002}}})
	nx.s.Reconfig(Config{AS: 65001, ID: x, Networks: pfxs("192.168.1.0/24"), Peers: []Peer{{Name: "h", Addr: h, AS: 65515}}})
	ny.s.Reconfig(Config{AS: 65002, ID: y, Networks: pfxs("192.168.2.0/24"), Peers: []Peer{{Name: "h", Addr: h, AS: 65515}}})
	waitRoutes(t, nx, map[string]string{"10.1.0.0/16": "65515", "192.168.2.0/24": "65515 65002"})
	waitRoutes(t, ny, map[string]string{"10.1.0.0/16": "65515", "192.168.1.0/24": "65515 65001"})
	waitRoutes(t, nh, map[string]string{"192.168.1.0/24": "65001", "192.168.2.0/24": "65002"})
	for _, r := range nh.s.Advertised(x) {
		if r.Prefix == netip.MustParsePrefix("192.168.1.0/24") {
			t.Errorf("the hub sends x's own route back to x: %+v", r)
		}
	}

	before := nh.changes.Load()
	ny.s.Close()
	waitRoutes(t, nh, map[string]string{"192.168.1.0/24": "65001"})
	waitRoutes(t, nx, map[string]string{"10.1.0.0/16": "65515"})
	if nh.changes.Load() == before {
		t.Error("losing a session did not call OnChange")
	}
	if ps := nh.s.Peers(); ps[1].State == "Established" || ps[1].RoutesReceived != 0 {
		t.Errorf("y after it stopped: %+v", ps[1])
	}
}

// A peer that says another AS than configured is refused with a
// NOTIFICATION, and its routes never count.
func TestWrongPeerAS(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.12.1"), netip.MustParseAddr("127.0.12.2")
	port := freePort(t, a, b)
	na, nb := startNode(t, a.String(), port, 0), startNode(t, b.String(), port, 0)
	na.s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "b", Addr: b, AS: 65009}}})
	nb.s.Reconfig(Config{AS: 65002, ID: b, Networks: pfxs("10.2.0.0/24"), Peers: []Peer{{Name: "a", Addr: a, AS: 65515}}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		pa, pb := na.s.Peers()[0], nb.s.Peers()[0]
		if strings.Contains(pa.LastError, "AS 65002") && strings.Contains(pb.LastError, "OPEN message error, subcode 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a: %+v\nb: %+v", pa, pb)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := na.s.Best(); len(r) != 0 || na.s.Peers()[0].State == "Established" {
		t.Errorf("routes from a refused peer: %+v", r)
	}
}

// A connection from an address that is no peer is told so (Cease,
// Connection Rejected: RFC 4486 §4) and closed at once.
func TestStrangerRefused(t *testing.T) {
	a := netip.MustParseAddr("127.0.13.1")
	port := freePort(t, a)
	na := startNode(t, a.String(), port, 0)
	na.s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "b", Addr: netip.MustParseAddr("127.0.13.2"), AS: 65002}}})
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.13.9:0")), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	(&rawPeer{t: t, c: c}).expectNotification(wire.CodeCease, wire.SubRejected)
}

// BIRD, the routing daemon many sites run, peers with the speaker: each
// learns the other's networks, and a route BIRD withdraws goes.
func TestBIRDInterop(t *testing.T) {
	r := newBIRDRig(t, "bgp", "where source = RTS_STATIC", "10.99.0.0/24", "10.98.0.0/16")
	birdc, n := r.birdc, r.n
	n.s.Reconfig(Config{AS: 65515, ID: r.local, Networks: pfxs("10.1.0.0/16", "10.2.0.0/16"), Peers: []Peer{{Name: "site", Addr: r.bird, AS: 65010}}})

	waitRoutes(t, n, map[string]string{"10.98.0.0/16": "65010", "10.99.0.0/24": "65010"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := birdc("show", "route", "protocol", "vnetgw", "all")
		if strings.Contains(out, "10.1.0.0/16") && strings.Contains(out, "10.2.0.0/16") && strings.Contains(out, "BGP.as_path: 65515") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIRD did not learn the speaker's networks:\n%s\n%s", out, birdc("show", "protocols", "all", "vnetgw"))
		}
		time.Sleep(100 * time.Millisecond)
	}

	r.writeConf("10.99.0.0/24")
	birdc("configure")
	waitRoutes(t, n, map[string]string{"10.99.0.0/24": "65010"})

	// BIRD goes down: the routes go with the session.
	birdc("disable", "vnetgw")
	waitRoutes(t, n, map[string]string{})
	if ps := n.s.Peers(); slices.ContainsFunc(ps, func(p PeerStatus) bool { return p.State == "Established" }) {
		t.Errorf("after BIRD disabled the session: %+v", ps)
	}
}

// birdRig is BIRD (AS 65010 at bird) in a namespace with a speaker (at
// local, with nothing configured) that BIRD peers with, and the address
// raw for a raw peer of the speaker (openRaw).
type birdRig struct {
	ns               *netnstest.NS
	dir, export      string
	local, bird, raw netip.Addr
	birdc            func(args ...string) string
	n                *node
}

// newBIRDRig starts the rig in a namespace named ns. BIRD exports to the
// speaker what export says ("none", "where source = RTS_STATIC") and has a
// blackhole route to each of statics.
func newBIRDRig(t *testing.T, ns, export string, statics ...string) *birdRig {
	t.Helper()
	netnstest.Require(t, "bird", "birdc")
	r := &birdRig{ns: netnstest.New(t, ns), dir: t.TempDir(), export: export,
		local: netip.MustParseAddr("10.255.0.1"), bird: netip.MustParseAddr("10.255.0.2"), raw: netip.MustParseAddr("10.255.0.3")}
	for _, a := range []netip.Addr{r.local, r.bird, r.raw} {
		r.ns.Run("ip", "addr", "add", a.String()+"/32", "dev", "lo")
	}
	r.writeConf(statics...)
	r.birdc = startBIRD(t, r.ns, r.dir)
	r.n = nodeIn(t, r.ns, r.local)
	return r
}

// writeConf writes BIRD's configuration with a blackhole route to each of
// statics; BIRD reads it at its start or at `birdc configure`.
func (r *birdRig) writeConf(statics ...string) {
	var static strings.Builder
	for _, s := range statics {
		fmt.Fprintf(&static, "route %s blackhole; ", s)
	}
	os.WriteFile(filepath.Join(r.dir, "bird.conf"), fmt.Appendf(nil, `router id %s;
log "%s/bird.log" all;
protocol device { }
protocol static { ipv4; %s}
protocol bgp vnetgw {
  local %s as 65010;
  neighbor %s as 65515;
  multihop;
  strict bind yes;
  hold time 9;
  ipv4 { import all; export %s; };
}
`, r.bird, r.dir, static.String(), r.bird, r.local, r.export), 0o644)
}

// openRaw opens a connection from the rig's raw address to the speaker,
// as a raw peer that has sent nothing yet.
func (r *birdRig) openRaw(t *testing.T) *rawPeer {
	t.Helper()
	var c net.Conn
	if err := r.ns.Do(func() (err error) {
		c, err = net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(r.raw, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(r.local, Port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, c: c}
}

// startBIRD runs BIRD in ns with dir/bird.conf, which logs to
// dir/bird.log (shown if the test fails), and returns how to run birdc
// against it.
func startBIRD(t *testing.T, ns *netnstest.NS, dir string) func(args ...string) string {
	t.Helper()
	ctl := filepath.Join(dir, "bird.ctl")
	// In the foreground, so that the test ends it and waits for it before
	// its directory goes.
	bird := ns.Start("bird", "-f", "-c", filepath.Join(dir, "bird.conf"), "-s", ctl)
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "bird.log"))
			t.Logf("bird:\n%s\nbird.log:\n%s", bird.Output(), log)
		}
	})
	return func(args ...string) string { return ns.Run("birdc", append([]string{"-s", ctl}, args...)...) }
}

// nodeIn starts a speaker in ns at local, listening on BGP's port there
// and dialling from local, with nothing configured.
func nodeIn(t *testing.T, ns *netnstest.NS, local netip.Addr) *node {
	t.Helper()
	n := &node{addr: local}
	n.s = New(Options{ConnectRetry: 200 * time.Millisecond, OnChange: func() { n.changes.Add(1) },
		Dial: func(ctx context.Context, _ netip.Addr, dst netip.AddrPort) (c net.Conn, err error) {
			ns.Do(func() error {
				d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0))}
				c, err = d.DialContext(ctx, "tcp", dst.String())
				return nil
			})
			return c, err
		}})
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp", netip.AddrPortFrom(local, Port).String()); return err }); err != nil {
		t.Fatal(err)
	}
	n.s.Serve(l)
	t.Cleanup(n.s.Close)
	return n
}

// TestRefusedConnectionsLoggedOnce: connections from an address that is
// no peer (anyone in the VNet can open them) are refused with a Cease,
// Connection Rejected (RFC 4486 §4: the peer not configured locally), and
// logged once a minute at most, not once each.
func TestRefusedConnectionsLoggedOnce(t *testing.T) {
	var log logbuf.Buffer
	a := netip.MustParseAddr("127.0.61.1")
	port := freePort(t, a)
	s := New(Options{Port: port, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	defer s.Close()
	l, err := net.Listen("tcp", netip.AddrPortFrom(a, port).String())
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(l)
	s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "p", Addr: netip.MustParseAddr("127.0.61.2"), AS: 65002}}})
	for range 30 {
		c, err := net.Dial("tcp", l.Addr().String()) // from 127.0.0.1: no peer
		if err != nil {
			t.Fatal(err)
		}
		p := &rawPeer{t: t, c: c}
		// Its OPEN, sent at once as speakers do, unread: the NOTIFICATION
		// still comes.
		p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 30, ID: netip.MustParseAddr("127.0.0.1")}.Append(nil))
		p.expectNotification(wire.CodeCease, wire.SubRejected)
		c.Close()
	}
	if n := strings.Count(log.String(), "not a peer refused"); n != 1 {
		t.Errorf("30 refused connections logged %d times:\n%s", n, log.String())
	}
}

// TestCloseLeavesNoGoroutine: once Close returns, nothing of the speaker's
// sessions runs (their keepalives neither): a gateway removed leaves no
// goroutine behind.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.62.1"), netip.MustParseAddr("127.0.62.2")
	port := freePort(t, a, b)
	na, nb := startNode(t, a.String(), port, 3*time.Second), startNode(t, b.String(), port, 3*time.Second)
	na.s.Reconfig(Config{AS: 65515, ID: a, Networks: pfxs("10.1.0.0/16"), Peers: []Peer{{Name: "to-b", Addr: b, AS: 65002}}})
	nb.s.Reconfig(Config{AS: 65002, ID: b, Networks: pfxs("10.2.0.0/24"), Peers: []Peer{{Name: "to-a", Addr: a, AS: 65515}}})
	waitRoutes(t, na, map[string]string{"10.2.0.0/24": "65002"})
	na.s.Close()
	nb.s.Close()
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "bgp.(*conn)") {
		t.Errorf("goroutines of a session run after Close:\n%s", stacks)
	}
}
