package dataplane

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/tunnel"
)

// holdingInner is a gateway's port whose Close, which the gateway's stop
// reaches last (after the Cease, the drain and the IKE Deletes), waits
// for hold: a stop held as long as the test wants, as one that waits for
// peers that answer nothing is.
type holdingInner struct {
	*fabric.GatewayPort
	hold   chan struct{}
	closed atomic.Bool // Close returned
}

func (h *holdingInner) Close() error {
	<-h.hold
	defer h.closed.Store(true)
	return h.GatewayPort.Close()
}

// holds hands out holds for the gateway ports an engine makes: the
// ports made while one is set wait for it at their Close.
type holds struct {
	mu    sync.Mutex
	hold  chan struct{}
	ports []*holdingInner
}

func (h *holds) inner(p *fabric.GatewayPort) tunnel.Inner {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hold == nil {
		return p
	}
	hi := &holdingInner{GatewayPort: p, hold: h.hold}
	h.ports = append(h.ports, hi)
	return hi
}

// next makes the ports made from now on wait for the returned release;
// the test's end releases it too.
func (h *holds) next(t *testing.T) (release func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan struct{})
	h.hold = ch
	release = sync.OnceFunc(func() { close(ch) })
	t.Cleanup(release)
	return release
}

func (h *holds) last() *holdingInner {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ports[len(h.ports)-1]
}

// within runs f and fails the test unless it returns within d (a
// generous bound: what it waits for never comes while the test holds it).
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// ceased returns whether the last BGP session of log ended with a
// Cease (Administrative Shutdown).
func ceased(log *logbuf.Buffer) bool {
	return strings.Contains(lastDown(log), "NOTIFICATION: cease, subcode 2")
}

// lastDown returns log's last line of a BGP session's end, or "". The
// speaker logs it just after the session's state has left Established.
func lastDown(log *logbuf.Buffer) string {
	down, _ := downs(log)
	return down
}

// downs returns log's last line of a BGP session's end, or "", and how
// many such lines it holds.
func downs(log *logbuf.Buffer) (last string, n int) {
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "BGP session down") {
			last, n = l, n+1
		}
	}
	return last, n
}

// waitForDown waits until b's session through the tunnel has ended and
// log holds more ends than before: the speaker logs the end just after
// the state has left Established, so that a test that read the log as
// soon as the state had left once read it without the line (CI,
// 2026-12-07).
func waitForDown(t *testing.T, b *Engine, log *logbuf.Buffer, before int) {
	t.Helper()
	waitUntil(t, 30*time.Second, "end of B's session", func() bool {
		_, n := downs(log)
		return !established(b, "gw") && n > before
	})
}

func established(e *Engine, id string) bool {
	for _, s := range e.BGP(id) {
		for _, p := range s.Peers() {
			if p.State == "Established" {
				return true
			}
		}
	}
	return false
}

// TestRemovedGatewayStopsInTheBackground: a Reconfig that removes a
// gateway whose stop waits for its peers returns before the stop ends,
// and the node's other gateways are reconfigured and its status read
// meanwhile: the stop ran under the engine's lock, so that every other
// reconfiguration waited for it, seconds for each peer that answers
// nothing (up to 10 s for a BGP peer that reads nothing). The stopping
// gateway still tells its BGP peer behind its tunnel (the Cease reaches
// it), a gateway added again on its address starts once it has stopped,
// and Close waits for such a stop.
func TestRemovedGatewayStopsInTheBackground(t *testing.T) {
	const ike, natt = 18860, 18861
	aPub, bPub, otherPub := netip.MustParseAddr("127.100.1.1"), netip.MustParseAddr("127.100.1.2"), netip.MustParseAddr("127.100.1.3")
	aBGP, bBGP := netip.MustParseAddr("10.1.255.4"), netip.MustParseAddr("10.2.255.4")
	h := &holds{}
	a := New(Options{IKEPort: ike, NATTPort: natt, inner: h.inner})
	t.Cleanup(func() { a.Close() })
	gwA := Gateway{ID: "gw", VNet: "v", PublicAddr: aPub,
		Connections: []Connection{{ID: "c", Remote: bPub, PSK: Secret("k"),
			LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.2.0.0/16"), Routes: prefixes("10.2.0.0/16")}},
		BGP: &GatewayBGP{AS: 65001, Addr: aBGP, Networks: prefixes("10.1.0.0/16"), Peers: []BGPPeer{{Connection: "c", Addr: bBGP, AS: 65002}}}}
	other := Gateway{ID: "other", VNet: "w", PublicAddr: otherPub}
	cfg := func(withA bool, other Gateway) Config {
		c := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}, {ID: "w", Prefixes: prefixes("10.3.0.0/16")}}, Gateways: []Gateway{other}}
		if withA {
			c.VNets[0].Routes = []Route{{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Gateway: "gw"}}
			c.Gateways = append(c.Gateways, gwA)
		}
		return c
	}
	release := h.next(t)
	if _, err := a.Reconfig(cfg(true, other)); err != nil {
		t.Fatal(err)
	}
	var bLog logbuf.Buffer
	b := bgpGatewayEngine(t, Options{IKEPort: ike, NATTPort: natt, Logger: slog.New(slog.NewTextHandler(&bLog, nil))},
		bPub, aPub, bBGP, aBGP, 65002, 65001, "10.2.0.0/16", "10.1.0.0/16")
	waitUntil(t, 60*time.Second, "BGP session through the tunnel", func() bool { return established(b, "gw") })
	held := h.last()
	_, before := downs(&bLog)

	within(t, 30*time.Second, "the Reconfig that removes the gateway", func() {
		if _, err := a.Reconfig(cfg(false, other)); err != nil {
			t.Error(err)
		}
	})
	other.Connections = []Connection{{ID: "o", Remote: netip.MustParseAddr("127.100.2.1"), PSK: Secret("k"), Mode: "ResponderOnly",
		LocalPrefixes: prefixes("10.3.0.0/16"), RemotePrefixes: prefixes("10.4.0.0/16")}}
	within(t, 30*time.Second, "a Reconfig of another gateway while the stop is held", func() {
		if changed, err := a.Reconfig(cfg(false, other)); err != nil || !changed {
			t.Errorf("Reconfig: changed %v, %v", changed, err)
		}
	})
	within(t, 30*time.Second, "Status while the stop is held", func() {
		if _, ok := a.Status().Connections["o"]; !ok {
			t.Error("the other gateway's new connection is not in the status")
		}
	})
	// Detached, the stopping gateway still sends its Cease through its
	// tunnel, and takes the peer's end of the connection.
	waitForDown(t, b, &bLog, before)
	if !ceased(&bLog) {
		t.Fatalf("B's session ended without A's Cease (Administrative Shutdown): %s", bLog.String())
	}
	if held.closed.Load() {
		t.Fatal("the held stop ended")
	}

	// Added again on its address at once: the Reconfig returns, and the
	// status is read, while the old one still holds the address (they
	// waited for it under the engine's lock); the new one starts at the
	// Retry after the old one has let go of it (Stopping's channel tells
	// when), and the session comes back.
	release2 := h.next(t)
	within(t, 30*time.Second, "the Reconfig that adds the gateway again while the old one stops", func() {
		if _, err := a.Reconfig(cfg(true, other)); err != nil {
			t.Error(err)
		}
	})
	var r string
	within(t, 30*time.Second, "Status while the gateway added again waits", func() { r = a.Status().Connections["c"].Reason })
	if !strings.Contains(r, "waiting for the gateway that had its address "+aPub.String()+" to stop") {
		t.Fatalf("the gateway added again shows %q, not that it waits for the old one", r)
	}
	if a.Retry() {
		t.Fatal("Retry started the gateway added again while the old one held its address")
	}
	vnets, ended := a.Stopping()
	if !vnets["v"] || ended == nil {
		t.Fatalf("Stopping shows %v while the gateway of v stops", vnets)
	}
	release()
	within(t, 30*time.Second, "the end of the old gateway's stop", func() { <-ended })
	if !a.Retry() {
		t.Fatal("Retry did not start the gateway added again once the old one had stopped")
	}
	if r := a.Status().Connections["c"].Reason; strings.Contains(r, "not running") {
		t.Fatalf("the gateway added again does not run: %s", r)
	}
	waitUntil(t, 60*time.Second, "BGP session with the gateway added again", func() bool { return established(b, "gw") })

	// Close waits for a stop in the background.
	held = h.last()
	within(t, 30*time.Second, "the Reconfig that removes the gateway", func() {
		if _, err := a.Reconfig(cfg(false, other)); err != nil {
			t.Error(err)
		}
	})
	closed := make(chan struct{})
	go func() { defer close(closed); a.Close() }()
	time.Sleep(200 * time.Millisecond) // a Close that did not wait would have returned
	release2()
	<-closed
	if !held.closed.Load() {
		t.Fatal("Close returned before the gateway removed had stopped")
	}
}

// TestStoppingTellsTheEndOfAnyStop: with two stops in the background,
// Stopping's channel is closed as soon as either ends, not only the first
// begun: a node whose other VNet's stop ended had to wait, for its hand
// over, for the first stop too (or the next status pass).
func TestStoppingTellsTheEndOfAnyStop(t *testing.T) {
	h := &holds{}
	a := New(Options{IKEPort: 18864, NATTPort: 18865, inner: h.inner})
	t.Cleanup(func() { a.Close() })
	vnets := []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}, {ID: "w", Prefixes: prefixes("10.2.0.0/16")}}
	g1 := Gateway{ID: "g1", VNet: "v", PublicAddr: netip.MustParseAddr("127.100.1.21")}
	g2 := Gateway{ID: "g2", VNet: "w", PublicAddr: netip.MustParseAddr("127.100.1.22")}
	reconfig := func(gs ...Gateway) {
		t.Helper()
		within(t, 30*time.Second, "Reconfig", func() {
			if _, err := a.Reconfig(Config{VNets: vnets, Gateways: gs}); err != nil {
				t.Error(err)
			}
		})
	}
	release1 := h.next(t)
	reconfig(g1)
	release2 := h.next(t)
	reconfig(g1, g2)
	reconfig(g2) // g1's stop begins first,
	reconfig()   // then g2's
	stopping, ended := a.Stopping()
	if !stopping["v"] || !stopping["w"] || ended == nil {
		t.Fatalf("Stopping shows %v while the gateways of v and w stop", stopping)
	}
	release2()
	within(t, 30*time.Second, "Stopping's channel after the end of the second stop", func() { <-ended })
	if stopping, _ := a.Stopping(); !stopping["v"] || stopping["w"] {
		t.Errorf("Stopping shows %v once only the gateway of v still stops", stopping)
	}
	release1()
	within(t, 30*time.Second, "the end of both stops", func() {
		for {
			if stopping, ended := a.Stopping(); len(stopping) == 0 && ended == nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestReplacedSpeakerClosesInTheBackground: a Reconfig that gives a
// gateway's BGP speaker another address replaces the speaker and returns
// before the old one has closed (its Cease to each peer waits for the
// peer's end, up to 10 s for one that reads nothing), and another
// Reconfig meanwhile is not held up: the old speaker was closed under the
// engine's lock. The old speaker still tells its peer behind the tunnel.
func TestReplacedSpeakerClosesInTheBackground(t *testing.T) {
	const ike, natt = 18862, 18863
	aPub, bPub := netip.MustParseAddr("127.100.1.11"), netip.MustParseAddr("127.100.1.12")
	aBGP, bBGP := netip.MustParseAddr("10.1.255.4"), netip.MustParseAddr("10.2.255.4")
	began, hold := make(chan struct{}, 1), make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	a := bgpGatewayEngine(t, Options{IKEPort: ike, NATTPort: natt, leaveHook: func() {
		began <- struct{}{}
		<-hold
	}}, aPub, bPub, aBGP, bBGP, 65001, 65002, "10.1.0.0/16", "10.2.0.0/16")
	var bLog logbuf.Buffer
	b := bgpGatewayEngine(t, Options{IKEPort: ike, NATTPort: natt, Logger: slog.New(slog.NewTextHandler(&bLog, nil))},
		bPub, aPub, bBGP, aBGP, 65002, 65001, "10.2.0.0/16", "10.1.0.0/16")
	waitUntil(t, 60*time.Second, "BGP session through the tunnel", func() bool { return established(b, "gw") })

	_, before := downs(&bLog)
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	g := cfg.Gateways[0]
	sp := *g.BGP
	sp.Addr = netip.MustParseAddr("10.1.255.5")
	g.BGP = &sp
	cfg.Gateways = []Gateway{g}
	within(t, 30*time.Second, "the Reconfig that replaces the speaker", func() {
		if _, err := a.Reconfig(cfg); err != nil {
			t.Error(err)
		}
	})
	if !established(b, "gw") {
		t.Fatal("B's session ended before the old speaker closed")
	}
	select {
	case <-began:
	case <-time.After(30 * time.Second):
		t.Fatal("the old speaker did not close in the background")
	}
	cfg.VNets = append(cfg.VNets, VNet{ID: "w", Prefixes: prefixes("10.3.0.0/16")})
	within(t, 30*time.Second, "a Reconfig while the old speaker closes", func() {
		if changed, err := a.Reconfig(cfg); err != nil || !changed {
			t.Errorf("Reconfig: changed %v, %v", changed, err)
		}
	})
	release()
	waitForDown(t, b, &bLog, before)
	if !ceased(&bLog) {
		t.Fatalf("B's session ended without the old speaker's Cease (Administrative Shutdown): %s", bLog.String())
	}
}
