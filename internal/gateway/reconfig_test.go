package gateway_test

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
)

// TestReconfigEachDaemon: a configuration one IKE daemon refuses (an
// IKEv2 connection without a pre-shared key; an IKEv1 one whose first
// retransmission waits beyond ikev2.MaxRetransmitTimeout) is reported,
// and the other daemon's connections are added and removed all the same:
// a refusal of the IKEv2 daemon's returned before the IKEv1 daemon was
// reconfigured. The data path carries the tunnels of the peers the
// daemons have, no other: a refusing daemon's peer that the configuration
// dropped keeps its tunnel (its traffic was black-holed while IKE showed
// it), and a refused new peer gets none. Status lists what the daemons
// have and the refused new peer, NotConnected. The peers only answer, so
// nothing is sent. Loopback only:
// 127.94.0.1, with peers from 127.94.0.2.
func TestReconfigEachDaemon(t *testing.T) {
	gw, err := gateway.Start(gateway.Options{Local: netip.MustParseAddr("127.94.0.1"), IKEPort: 50500, NATTPort: 54500,
		Inner: tuntest.NewSink(64), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	n := byte(1)
	conn := func(name string, ikev1 bool, psk string) gateway.Connection {
		n++ // a peer and a route of its own
		return gateway.Connection{IKEv1: ikev1, Peer: ikev2.PeerConfig{Name: name, Mode: ikev2.ModeResponderOnly,
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 94, 0, n}), 500), PSK: ikev2.PSK(psk)},
			Routes: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 94, n, 0}), 24)}}
	}
	names := func() []string {
		var out []string
		for _, c := range gw.Status() {
			out = append(out, c.Name)
			if c.Name == "v1-slow" && (c.State != gateway.NotConnected || !strings.Contains(c.Reason, "refused")) {
				t.Errorf("refused connection %s: %s (%s), want NotConnected, refused", c.Name, c.State, c.Reason)
			}
		}
		return out
	}
	slowV1 := conn("v1-slow", true, "Key2026")
	slowV1.Peer.RetransmitTimeout = ikev2.MaxRetransmitTimeout + time.Second
	for _, step := range []struct {
		name    string
		conns   []gateway.Connection
		refused string   // in the error, "" for none
		want    []string // the daemons' peers
		listed  []string // by Status
	}{
		{"both", []gateway.Connection{conn("v1-a", true, "Key2026"), conn("v2-a", false, "Key2026")}, "", []string{"v1-a", "v2-a"}, []string{"v1-a", "v2-a"}},
		{"IKEv2 refused", []gateway.Connection{conn("v1-b", true, "Key2026"), conn("v2-a", false, "")}, "IKE:", []string{"v1-b", "v2-a"}, []string{"v1-b", "v2-a"}},
		{"IKEv1 refused", []gateway.Connection{slowV1, conn("v2-b", false, "Key2026")}, "IKEv1:", []string{"v1-b", "v2-b"}, []string{"v1-b", "v1-slow", "v2-b"}},
	} {
		err := gw.Reconfig(step.conns)
		switch {
		case step.refused == "" && err != nil:
			t.Errorf("%s: %v", step.name, err)
		case step.refused != "" && (err == nil || !strings.Contains(err.Error(), step.refused)):
			t.Errorf("%s: Reconfig: %v, want the refusal (%q)", step.name, err, step.refused)
		}
		if got := names(); !slices.Equal(got, step.listed) {
			t.Errorf("%s: connections %v, want %v", step.name, got, step.listed)
		}
		var tunnels []string
		for _, ts := range gw.Engine().TunnelStatus("v1-a", "v1-b", "v1-slow", "v2-a", "v2-b") {
			tunnels = append(tunnels, ts.Name)
		}
		slices.Sort(tunnels)
		if !slices.Equal(tunnels, step.want) {
			t.Errorf("%s: the data path's tunnels %v, want those of the daemons' peers %v", step.name, tunnels, step.want)
		}
	}
}

// TestReconfigMovesRoute: a Reconfig that moves a remote prefix from a
// connection it removes to one it adds succeeds, the prefix's traffic
// goes through the new connection, and a later Reconfig moves it back.
// The removed connection's tunnel stays until its daemon has taken it
// down, and it kept the prefix too: the data path refused the two
// ("route ... in tunnels c2 and c1"), as it did every later Reconfig.
// Loopback only: 127.95.0.1, with peers at .2 and .3.
func TestReconfigMovesRoute(t *testing.T) {
	addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 95, 0, host}) }
	lan := netip.MustParsePrefix("10.95.1.0/24")
	site := netip.MustParsePrefix("10.95.9.0/24") // behind the peer at .2, then at .3, then at .2 again
	ga, ia := startLoopback(t, addr(1), nil)
	_, ib := startLoopback(t, addr(2), nil, loopbackConn("a", addr(1), ikev2.ModeResponderOnly, lan))
	_, ic := startLoopback(t, addr(3), nil, loopbackConn("a", addr(1), ikev2.ModeResponderOnly, lan))
	for _, step := range []struct {
		conn   string
		remote netip.Addr
		in     *tuntest.Device // the peer's inner side
	}{{"c1", addr(2), ib}, {"c2", addr(3), ic}, {"c1", addr(2), ib}} {
		if err := ga.Reconfig([]gateway.Connection{loopbackConn(step.conn, step.remote, ikev2.ModeDefault, site)}); err != nil {
			t.Fatalf("%s takes %v: %v", step.conn, site, err)
		}
		waitFor(t, step.conn+" connected, alone", func() bool {
			st := ga.Status()
			return len(st) == 1 && st[0].Name == step.conn && st[0].State == gateway.Connected
		})
		before, _, _ := step.in.Written()
		waitFor(t, "traffic to "+site.String()+" at "+step.remote.String(), func() bool {
			ia.Send(ipv4(lan.Addr().Next(), site.Addr().Next(), 100))
			n, _, _ := step.in.Written()
			return n > before
		})
	}
}

// TestReconfigRefusedLeavesGateway: a Reconfig the data path refuses
// (two new connections with one route) leaves the gateway as it was, and
// a later Reconfig takes effect: the refused one's tunnels stayed among
// the gateway's, with the removed ones', and every later Reconfig was
// refused for them. The peers only answer, so nothing is sent. Loopback
// only: 127.95.1.1, with peers from 127.95.1.2.
func TestReconfigRefusedLeavesGateway(t *testing.T) {
	addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 95, 1, host}) }
	gw, _ := startLoopback(t, addr(1), nil)
	route := func(s string) netip.Prefix { return netip.MustParsePrefix(s) }
	for _, step := range []struct {
		name    string
		conns   []gateway.Connection
		refused bool
		want    []string
	}{
		{"first", []gateway.Connection{loopbackConn("c1", addr(2), ikev2.ModeResponderOnly, route("10.95.2.0/24"))}, false, []string{"c1"}},
		{"one route twice", []gateway.Connection{loopbackConn("c2", addr(3), ikev2.ModeResponderOnly, route("10.95.3.0/24")),
			loopbackConn("c3", addr(4), ikev2.ModeResponderOnly, route("10.95.3.0/24"))}, true, []string{"c1"}},
		{"after", []gateway.Connection{loopbackConn("c1", addr(2), ikev2.ModeResponderOnly, route("10.95.2.0/24")),
			loopbackConn("c4", addr(5), ikev2.ModeResponderOnly, route("10.95.5.0/24"))}, false, []string{"c1", "c4"}},
	} {
		err := gw.Reconfig(step.conns)
		if refused := err != nil; refused != step.refused {
			t.Errorf("%s: Reconfig: %v, want refused %v", step.name, err, step.refused)
		}
		var conns, tunnels []string
		for _, c := range gw.Status() {
			conns = append(conns, c.Name)
		}
		for _, ts := range gw.Engine().TunnelStatus("c1", "c2", "c3", "c4") {
			tunnels = append(tunnels, ts.Name)
		}
		slices.Sort(tunnels)
		if !slices.Equal(conns, step.want) || !slices.Equal(tunnels, step.want) {
			t.Errorf("%s: connections %v, tunnels %v, want %v", step.name, conns, tunnels, step.want)
		}
	}
}

// TestResetDuringReconfig: a connection reset while a Reconfig is under
// way comes up again and carries traffic. The Reconfig read the IKE
// daemons' peers (for the tunnels it keeps) while the Reset had taken the
// connection out to start it again: the tunnel went, and the connection
// stayed Connecting, its IKE SA up and its child SAs refused by the data
// path. The gateway's OnChildren hook holds the two where they met: the
// Reconfig in the IKEv1 daemon, removing connection v1's child, and the
// Reset in the IKEv2 daemon, removing c's (the hook must not block; here
// it stands for a slow moment). Loopback only: 127.95.2.1, with peers at
// .2 (IKEv2) and .3 (IKEv1).
func TestResetDuringReconfig(t *testing.T) {
	addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 95, 2, host}) }
	lan, lanB, lanC := netip.MustParsePrefix("10.95.20.0/24"), netip.MustParsePrefix("10.95.22.0/24"), netip.MustParsePrefix("10.95.23.0/24")
	var holds atomic.Int32 // the calls of the hook still to hold
	// Each held call waits for a release of its own: with one for both,
	// the Reset's call could be waiting for it before the Reconfig's (its
	// goroutine not yet at the receive on a busy machine) and take the
	// release meant for the Reconfig, which then held for ever.
	entered, release := make(chan struct{}, 2), [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	onChildren := func() {
		if n := holds.Add(-1); n >= 0 {
			entered <- struct{}{}
			<-release[1-n]
		}
	}
	v1 := func(name string, remote netip.Addr, mode ikev2.ConnectionMode, route netip.Prefix) gateway.Connection {
		c := loopbackConn(name, remote, mode, route)
		c.IKEv1, c.PolicyBased = true, true
		return c
	}
	c := loopbackConn("c", addr(2), ikev2.ModeDefault, lanB)
	ga, ia := startLoopback(t, addr(1), onChildren, c, v1("v1", addr(3), ikev2.ModeDefault, lanC))
	_, ib := startLoopback(t, addr(2), nil, loopbackConn("a", addr(1), ikev2.ModeResponderOnly, lan))
	startLoopback(t, addr(3), nil, v1("a", addr(1), ikev2.ModeResponderOnly, lan))
	var released [2]sync.Once
	free := func(i int) { released[i].Do(func() { close(release[i]) }) }
	t.Cleanup(func() { free(0); free(1) }) // before the gateways close, should the test end while the hook holds
	connected := func(names ...string) func() bool {
		return func() bool {
			var up []string
			for _, s := range ga.Status() {
				if s.State == gateway.Connected {
					up = append(up, s.Name)
				}
			}
			return slices.Equal(up, names)
		}
	}
	waitFor(t, "c and v1 connected", connected("c", "v1"))
	wait := func(what string) {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: not within 30 s", what)
		}
	}

	holds.Store(2)
	reconfigured := make(chan error, 1)
	go func() { reconfigured <- ga.Reconfig([]gateway.Connection{c}) }() // v1 removed
	wait("the Reconfig removing v1's child")
	reset := make(chan bool, 1)
	go func() { reset <- ga.Reset("c") }()
	wait("the Reset removing c's child")
	free(0) // the Reconfig goes on, the Reset still holds
	if err := <-reconfigured; err != nil {
		t.Errorf("Reconfig: %v", err)
	}
	free(1)
	if !<-reset {
		t.Error("Reset: the gateway has no connection c")
	}
	waitFor(t, "c connected again, alone", connected("c"))
	before, _, _ := ib.Written()
	waitFor(t, "traffic through c", func() bool {
		ia.Send(ipv4(lan.Addr().Next(), lanB.Addr().Next(), 100))
		n, _, _ := ib.Written()
		return n > before
	})
}

// The ports of startLoopback's gateways.
const loopbackIKEPort, loopbackNATTPort = 50600, 54600

// startLoopback starts a gateway at local, on loopback, with conns; its
// inner side counts what comes out of the tunnels. onChildren is
// Options.OnChildren.
func startLoopback(t *testing.T, local netip.Addr, onChildren func(), conns ...gateway.Connection) (*gateway.Gateway, *tuntest.Device) {
	t.Helper()
	inner := tuntest.NewSink(64)
	gw, err := gateway.Start(gateway.Options{Local: local, IKEPort: loopbackIKEPort, NATTPort: loopbackNATTPort, Inner: inner, Logger: testLogger(t), OnChildren: onChildren})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	if err := gw.Reconfig(conns); err != nil {
		t.Fatal(err)
	}
	return gw, inner
}

// loopbackConn is an IKEv2 connection to the gateway at remote that
// routes routes.
func loopbackConn(name string, remote netip.Addr, mode ikev2.ConnectionMode, routes ...netip.Prefix) gateway.Connection {
	return gateway.Connection{Peer: ikev2.PeerConfig{Name: name, Remote: netip.AddrPortFrom(remote, 0), PSK: ikev2.PSK("Key2026"), Mode: mode,
		RetransmitTimeout: 200 * time.Millisecond}, Routes: routes}
}

// waitFor waits, 30 s at most, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
	}
}

// TestStatusDuringReset: while a Reset takes a connection's old SAs out,
// Status still lists it, Connecting, or NotConnected and waiting for the
// peer when it only responds; it went missing (the IKEv2 daemon takes the
// connection out until its old SAs are gone), and `vnetgw dev gateway`
// and the API showed it gone. The gateway's OnChildren hook holds the
// Reset while it removes the old child. Loopback only: 127.95.3.1, with
// peers at .2 and .3.
func TestStatusDuringReset(t *testing.T) {
	addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 95, 3, host}) }
	lan := netip.MustParsePrefix("10.95.30.0/24")
	hold := make(chan chan struct{}) // a held hook call's release
	ended := make(chan struct{})     // the test ended: nothing is held any more
	var holding atomic.Bool
	onChildren := func() {
		if holding.CompareAndSwap(true, false) {
			release := make(chan struct{})
			select {
			case hold <- release:
				<-release
			case <-ended:
			}
		}
	}
	ga, _ := startLoopback(t, addr(1), onChildren,
		loopbackConn("initiates", addr(2), ikev2.ModeDefault, netip.MustParsePrefix("10.95.32.0/24")),
		loopbackConn("responds", addr(3), ikev2.ModeResponderOnly, netip.MustParsePrefix("10.95.33.0/24")))
	startLoopback(t, addr(2), nil, loopbackConn("a", addr(1), ikev2.ModeResponderOnly, lan))
	again := loopbackConn("a", addr(1), ikev2.ModeDefault, lan)
	again.Peer.ReconnectDelay = 200 * time.Millisecond // after the reset's Delete, not DefaultReconnectDelay
	startLoopback(t, addr(3), nil, again)
	t.Cleanup(func() { close(ended) }) // before the gateways close
	// Both up first: the hook then holds only the Reset's removal.
	waitFor(t, "both connected", func() bool {
		st := ga.Status()
		return len(st) == 2 && st[0].State == gateway.Connected && st[1].State == gateway.Connected
	})
	for _, tc := range []struct {
		conn, state string
	}{{"initiates", gateway.Connecting}, {"responds", gateway.NotConnected}} {
		t.Run(tc.conn, func(t *testing.T) {
			state := func() (gateway.ConnectionStatus, bool) {
				st := ga.Status()
				i := slices.IndexFunc(st, func(cs gateway.ConnectionStatus) bool { return cs.Name == tc.conn })
				if i < 0 {
					return gateway.ConnectionStatus{}, false
				}
				return st[i], true
			}
			waitFor(t, tc.conn+" connected", func() bool { cs, _ := state(); return cs.State == gateway.Connected })
			holding.Store(true)
			reset := make(chan bool, 1)
			go func() { reset <- ga.Reset(tc.conn) }()
			var release chan struct{}
			select {
			case release = <-hold:
			case <-time.After(30 * time.Second):
				t.Fatal("the Reset removed no child within 30 s")
			}
			cs, ok := state()
			close(release)
			switch {
			case !ok:
				t.Errorf("Status during the Reset lists no %s", tc.conn)
			case cs.State != tc.state || !strings.Contains(cs.Reason, "restarting"):
				t.Errorf("Status during the Reset: %s %s (%s), want %s, restarting", cs.Name, cs.State, cs.Reason, tc.state)
			}
			if !<-reset {
				t.Fatalf("Reset: the gateway has no connection %s", tc.conn)
			}
			waitFor(t, tc.conn+" connected again", func() bool { cs, _ := state(); return cs.State == gateway.Connected })
		})
	}
}

// TestModeToResponderOnlyStopsReconnect: a connection made ResponderOnly
// while it waits to try its peer again (its last try refused) initiates no
// more: the peer, ResponderOnly too, is left to start the tunnel, and the
// two never do. The try already planned went out all the same, and the
// gateway set the tunnel up as initiator, as it would have without the
// change. Loopback only: 127.95.4.1, with the peer at .2.
func TestModeToResponderOnlyStopsReconnect(t *testing.T) {
	addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 95, 4, host}) }
	lan, site := netip.MustParsePrefix("10.95.40.0/24"), netip.MustParsePrefix("10.95.41.0/24")
	toB := loopbackConn("b", addr(2), ikev2.ModeDefault, site)
	toB.Peer.ReconnectDelay = 2 * time.Second
	ga, _ := startLoopback(t, addr(1), nil, toB)
	toA := loopbackConn("a", addr(1), ikev2.ModeResponderOnly, lan)
	toA.Peer.PSK = ikev2.PSK("OtherKey2026")
	gb, _ := startLoopback(t, addr(2), nil, toA)
	waitFor(t, "the first try refused", func() bool {
		st := ga.Status()
		return len(st) == 1 && st[0].State == gateway.NotConnected && strings.Contains(st[0].Reason, "AUTHENTICATION_FAILED")
	})
	// Both ends ResponderOnly, with one key: neither starts the tunnel.
	toB.Peer.Mode = ikev2.ModeResponderOnly
	if err := ga.Reconfig([]gateway.Connection{toB}); err != nil {
		t.Fatal(err)
	}
	toA.Peer.PSK = toB.Peer.PSK
	if err := gb.Reconfig([]gateway.Connection{toA}); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(3 * toB.Peer.ReconnectDelay); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if sas, _ := ga.IKESAs("b"); len(sas) > 0 {
			t.Fatalf("made ResponderOnly, the connection initiated an IKE SA: %+v", sas[0])
		}
	}
}

// TestLifetimeLoweredRekeys: a connection given a child SA lifetime
// shorter than its child SA's age (a custom policy's saLifeTimeSeconds
// lowered) rekeys that child SA, the new pair installed before the old
// one goes, in the same IKE SA. It took the child SA as past its hard
// lifetime: the pair was deleted first and a new one made after, the
// tunnel without a pair in between (its traffic dropped) and its reason
// "child SA expired: rekey failed" meanwhile. Loopback only: 127.95.5.1,
// with the peer at .2.
func TestLifetimeLoweredRekeys(t *testing.T) {
	addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 95, 5, host}) }
	lan, site := netip.MustParsePrefix("10.95.50.0/24"), netip.MustParsePrefix("10.95.51.0/24")
	toB := loopbackConn("b", addr(2), ikev2.ModeDefault, site)
	ga, _ := startLoopback(t, addr(1), nil, toB)
	startLoopback(t, addr(2), nil, loopbackConn("a", addr(1), ikev2.ModeResponderOnly, lan))
	var before ikev2.IKESAStatus
	waitFor(t, "connected", func() bool {
		sas, _ := ga.IKESAs("b")
		if len(sas) != 1 || sas[0].State != "established" || len(sas[0].Children) != 1 {
			return false
		}
		before = sas[0]
		return true
	})
	const lifetime = 2500 * time.Millisecond
	time.Sleep(time.Until(before.Children[0].Installed.Add(lifetime + 500*time.Millisecond)))
	toB.Peer.ChildLifetime = lifetime
	if err := ga.Reconfig([]gateway.Connection{toB}); err != nil {
		t.Fatal(err)
	}
	var after ikev2.ChildStatus
	waitFor(t, "a new child SA", func() bool {
		sas, _ := ga.IKESAs("b")
		for _, sa := range sas {
			for _, c := range sa.Children {
				if c.InSPI != before.Children[0].InSPI {
					after = c
					return true
				}
			}
		}
		return false
	})
	if !after.Rekeyed {
		t.Errorf("the child SA past its new lifetime was deleted and a new one made (%08x), not rekeyed", after.InSPI)
	}
	if sas, _ := ga.IKESAs("b"); len(sas) == 0 || sas[0].SPIi != before.SPIi || sas[0].SPIr != before.SPIr {
		t.Errorf("the IKE SA changed: %+v, was %x/%x", sas, before.SPIi, before.SPIr)
	}
}

// TestIKEv1LifetimeChangeRekeys: over IKEv1, a lifetime lowered below a
// child SA's age (a custom policy's saLifeTimeSeconds lowered) has the
// child rekeyed at once by a quick mode of the same ISAKMP SA, the new
// pair in place before the old goes, traffic flowing throughout and no
// "expired" reason; a lifetime lengthened keeps the child. The child kept
// the lifetime its quick mode had stated: lowered from Azure's 27,000 s,
// it was rekeyed hours later, not at once as over IKEv2. Loopback only:
// 127.95.6.1, with the peer at .2.
func TestIKEv1LifetimeChangeRekeys(t *testing.T) {
	addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 95, 6, host}) }
	lan, site := netip.MustParsePrefix("10.95.60.0/24"), netip.MustParsePrefix("10.95.61.0/24")
	toB := loopbackConn("b", addr(2), ikev2.ModeDefault, site)
	toB.IKEv1 = true
	toA := loopbackConn("a", addr(1), ikev2.ModeResponderOnly, lan)
	toA.IKEv1 = true
	ga, ia := startLoopback(t, addr(1), nil, toB)
	gb, ib := startLoopback(t, addr(2), nil, toA)
	child := func() (ikev2.IKESAStatus, bool) {
		sas, _ := ga.IKESAs("b")
		if len(sas) != 1 || sas[0].State != "established" || len(sas[0].Children) != 1 {
			return ikev2.IKESAStatus{}, false
		}
		return sas[0], true
	}
	var before ikev2.IKESAStatus
	waitFor(t, "connected", func() bool { var ok bool; before, ok = child(); return ok })
	// Traffic from a's LAN to b's site every 5 ms; the longest time b's
	// side took none, and the reasons either side gave, are noted.
	var (
		mu      sync.Mutex
		gap     time.Duration
		reasons []string
	)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		last, lastAt := uint64(0), time.Now()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			ia.Send(ipv4(lan.Addr().Next(), site.Addr().Next(), 100))
			n, _, _ := ib.Written()
			mu.Lock()
			if n != last {
				last, lastAt = n, time.Now()
			}
			gap = max(gap, time.Since(lastAt))
			for _, st := range slices.Concat(ga.Status(), gb.Status()) {
				if st.Reason != "" && !slices.Contains(reasons, st.Reason) {
					reasons = append(reasons, st.Reason)
				}
			}
			mu.Unlock()
		}
	}()
	ended := false
	end := func() {
		if !ended {
			ended = true
			close(stop)
			<-done
		}
	}
	t.Cleanup(end)

	// Lengthened: the child stays.
	toB.Peer.ChildLifetime = ikev2.DefaultChildLifetime * 2
	if err := ga.Reconfig([]gateway.Connection{toB}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if sa, ok := child(); !ok || sa.Children[0].InSPI != before.Children[0].InSPI || sa.SPIi != before.SPIi {
		t.Errorf("a lengthened lifetime replaced the SAs: %+v, was %+v", sa, before)
	}

	// Lowered below the child's age: a rekey at once.
	const lifetime = 3 * time.Second
	time.Sleep(time.Until(before.Children[0].Installed.Add(lifetime + 500*time.Millisecond)))
	toB.Peer.ChildLifetime = lifetime
	changed := time.Now()
	if err := ga.Reconfig([]gateway.Connection{toB}); err != nil {
		t.Fatal(err)
	}
	var after ikev2.ChildStatus
	for deadline := time.Now().Add(10 * time.Second); after.InSPI == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the child SA %08x, older than its new lifetime %v, was not replaced within 10 s", before.Children[0].InSPI, lifetime)
		}
		sas, _ := ga.IKESAs("b")
		for _, sa := range sas {
			for _, c := range sa.Children {
				if c.InSPI != before.Children[0].InSPI {
					after = c
				}
			}
		}
	}
	t.Logf("new child %08x %v after the change", after.InSPI, time.Since(changed).Round(time.Millisecond))
	time.Sleep(time.Second)
	if !after.Rekeyed {
		t.Errorf("the child SA past its new lifetime was deleted and a new one made (%08x), not rekeyed", after.InSPI)
	}
	if sas, _ := ga.IKESAs("b"); len(sas) == 0 || sas[0].SPIi != before.SPIi || sas[0].SPIr != before.SPIr {
		t.Errorf("the ISAKMP SA changed: %+v, was %x/%x", sas, before.SPIi, before.SPIr)
	}

	// The ISAKMP SA's lifetime lowered below its age: a new Main Mode at
	// once, the old SA carrying the connection meanwhile.
	time.Sleep(time.Until(before.Established.Add(2*lifetime + 500*time.Millisecond)))
	toB.Peer.IKELifetime = 2 * lifetime
	changed = time.Now()
	if err := ga.Reconfig([]gateway.Connection{toB}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new ISAKMP SA", func() bool {
		sas, _ := ga.IKESAs("b")
		return slices.ContainsFunc(sas, func(sa ikev2.IKESAStatus) bool { return sa.State == "established" && sa.SPIi != before.SPIi })
	})
	t.Logf("new ISAKMP SA %v after the change", time.Since(changed).Round(time.Millisecond))
	time.Sleep(time.Second)
	end()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("longest time without traffic: %v; reasons: %q", gap.Round(time.Millisecond), reasons)
	if gap > 500*time.Millisecond || len(reasons) > 0 {
		t.Errorf("traffic stopped for %v; reasons %q", gap.Round(time.Millisecond), reasons)
	}
}

// TestByteLifetimeLoweredRekeys: over IKEv2 and IKEv1, a child SA byte
// lifetime lowered (a custom policy's saDataSizeKilobytes) has the child
// rekeyed at once, in the same IKE SA, and the new pair holds the new
// limit: traffic past it rekeys again. A raised one keeps the child. An
// SA's limits are fixed in the data path when it is installed, so that
// the child ran on to the limit it had (Azure's 102,400,000 KB), the
// lowered one holding only from its next rekey, hours later. Loopback
// only: 127.95.7.1 and 127.95.8.1, with the peers at .2.
func TestByteLifetimeLoweredRekeys(t *testing.T) {
	for i, ikev1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "IKEv2", true: "IKEv1"}[ikev1], func(t *testing.T) {
			addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 95, byte(7 + i), host}) }
			lan, site := netip.MustParsePrefix("10.95.70.0/24"), netip.MustParsePrefix("10.95.71.0/24")
			toB := loopbackConn("b", addr(2), ikev2.ModeDefault, site)
			toA := loopbackConn("a", addr(1), ikev2.ModeResponderOnly, lan)
			toB.IKEv1, toA.IKEv1 = ikev1, ikev1
			ga, ia := startLoopback(t, addr(1), nil, toB)
			startLoopback(t, addr(2), nil, toA)
			child := func() (ikev2.IKESAStatus, bool) {
				sas, _ := ga.IKESAs("b")
				for _, sa := range sas {
					if sa.State == "established" && len(sa.Children) > 0 {
						return sa, true
					}
				}
				return ikev2.IKESAStatus{}, false
			}
			var before ikev2.IKESAStatus
			waitFor(t, "connected", func() bool { var ok bool; before, ok = child(); return ok })
			// newChild waits for a child other than in, and returns it.
			newChild := func(what string, in uint32) ikev2.ChildStatus {
				t.Helper()
				var after ikev2.ChildStatus
				waitFor(t, what, func() bool {
					sa, ok := child()
					if !ok {
						return false
					}
					for _, c := range sa.Children {
						if c.InSPI != in {
							after = c
							return true
						}
					}
					return false
				})
				return after
			}

			toB.Peer.ChildLimits = esp.Limits{HardBytes: 2 * ikev2.DefaultChildLifeBytes, SoftBytes: 2 * ikev2.DefaultChildLifeBytes / 10 * 9}
			if err := ga.Reconfig([]gateway.Connection{toB}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			if sa, ok := child(); !ok || len(sa.Children) != 1 || sa.Children[0].InSPI != before.Children[0].InSPI {
				t.Fatalf("a raised byte lifetime replaced the child SA: %+v, was %08x", sa, before.Children[0].InSPI)
			}

			const limit = 1 << 20
			toB.Peer.ChildLimits = esp.Limits{HardBytes: limit, SoftBytes: limit / 10 * 9}
			if err := ga.Reconfig([]gateway.Connection{toB}); err != nil {
				t.Fatal(err)
			}
			lowered := newChild("a child SA after the byte lifetime was lowered", before.Children[0].InSPI)
			if !lowered.Rekeyed {
				t.Errorf("the child SA was deleted and a new one made (%08x), not rekeyed", lowered.InSPI)
			}
			if sa, _ := child(); sa.SPIi != before.SPIi || sa.SPIr != before.SPIr {
				t.Errorf("the IKE SA changed: %x/%x, was %x/%x", sa.SPIi, sa.SPIr, before.SPIi, before.SPIr)
			}
			// Traffic, some 1 MB/s, until the new pair has carried past
			// its limit (IKEv1 seals with the old pair while it lingers,
			// 10 s).
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					for range 100 {
						ia.Send(ipv4(lan.Addr().Next(), site.Addr().Next(), 1000))
					}
				}
			}()
			defer func() { close(stop); <-done }()
			newChild("a child SA after traffic past the lowered byte lifetime", lowered.InSPI)
		})
	}
}
