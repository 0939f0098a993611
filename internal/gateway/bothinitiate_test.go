package gateway_test

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/tunnel"
)

// TestBothGatewaysInitiate: two vnetgw gateways whose connections are both
// in the Default mode start their IKE SAs at the same moment (gwB's
// firewall holds both IKE_SA_INIT requests until each side has sent its
// own), so that both IKE SAs come up. The gateways settle on one (RFC 7296
// §2.8.1's lowest nonce): each ends with one IKE SA and one child SA, the
// same on both sides, and the hosts behind them ping each other through
// it.
func TestBothGatewaysInitiate(t *testing.T) {
	netnstest.Require(t, "ping", "nft")
	bi := startBothInitiating(t)
	sa := bi.settled(t)
	tp, gwA, gwB := bi.tp, bi.gwA, bi.gwB
	ping(t, tp.hostA, "10.2.0.2")
	ping(t, tp.hostB, "10.1.0.2")
	for _, gw := range []*gateway.Gateway{gwA, gwB} {
		st := gw.Status()
		if got, ok := oneIKESA(gw); !ok || got.SPIi != sa.SPIi || st[0].IKESAs != 1 || len(st[0].Children) != 1 || st[0].State != gateway.Connected {
			t.Errorf("after the pings: %+v\n%+v", gw.IKE().Status(), st)
		}
	}
	t.Logf("kept IKE SA %016x_i %016x_r (initiated by gwA: %v)", sa.SPIi, sa.SPIr, sa.Initiator)
}

// TestBothGatewaysInitiateLoseNoPacket: hosts behind the two gateways ping
// each other every 2 ms, both ways, while the gateways settle the two IKE
// SAs they initiated at the same moment, and while the machine is busy
// (goroutines that spin on every core slow the IKE loops down). Every ESP
// packet one gateway sends reaches the other and is opened there: the
// end that deletes the redundant SA stops sending on its child SA before
// it tells the peer, and opens what the peer still sent on it until the
// peer has answered the Delete (RFC 7296 §1.4.1).
func TestBothGatewaysInitiateLoseNoPacket(t *testing.T) {
	netnstest.Require(t, "ping", "nft")
	stop := make(chan struct{})
	var spinning sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		spinning.Go(func() {
			var sum [32]byte
			for {
				select {
				case <-stop:
					return
				default:
					sum = sha256.Sum256(sum[:])
				}
			}
		})
	}
	t.Cleanup(func() { close(stop); spinning.Wait() })
	bi := startBothInitiating(t)
	// The streams start once a child SA pair is installed at both ends,
	// and go on through the settling. Not before: the responder of
	// IKE_AUTH sends with the pair it answered before the initiator has
	// its response, and what it sends in between is lost as with any
	// tunnel that comes up, two IKE SAs or one.
	paired := func() bool {
		a, b := bi.gwA.Engine().Status().Tunnels, bi.gwB.Engine().Status().Tunnels
		if len(a) != 1 || len(b) != 1 {
			return false
		}
		for _, x := range a[0].Children {
			if slices.ContainsFunc(b[0].Children, func(y tunnel.ChildStatus) bool { return y.InSPI == x.OutSPI && y.OutSPI == x.InSPI }) {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(30 * time.Second); !paired(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no child SA pair at both ends:\na: %+v\nb: %+v", bi.gwA.IKE().Status(), bi.gwB.IKE().Status())
		}
	}
	before := len(bi.logs.String())
	streams := []*netnstest.Process{
		bi.tp.hostA.Start("ping", "-q", "-i", "0.002", "-w", "60", "10.2.0.2"),
		bi.tp.hostB.Start("ping", "-q", "-i", "0.002", "-w", "60", "10.1.0.2"),
	}
	bi.settled(t)
	if !strings.Contains(bi.logs.String()[before:], "deleting ours, the redundant one") {
		t.Fatal("the gateways settled the IKE SAs before the streams started: the test did not cover the case")
	}
	counters := func(gw *gateway.Gateway) (in, out uint64) {
		for _, ts := range gw.Engine().Status().Tunnels {
			in, out = in+ts.PacketsIn, out+ts.PacketsOut
		}
		return in, out
	}
	// A few hundred packets more each way over the SA kept.
	_, outA := counters(bi.gwA)
	_, outB := counters(bi.gwB)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, a := counters(bi.gwA)
		_, b := counters(bi.gwB)
		if a >= outA+200 && b >= outB+200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no traffic over the IKE SA kept: gwA sent %d packets since, gwB %d", a-outA, b-outB)
		}
	}
	for _, p := range streams {
		p.Kill()
	}
	// What is still on its way arrives; a packet lost never does.
	var lostAB, lostBA int64
	lost := func() bool {
		inA, outA := counters(bi.gwA)
		inB, outB := counters(bi.gwB)
		lostAB, lostBA = int64(outA)-int64(inB), int64(outB)-int64(inA)
		return lostAB == 0 && lostBA == 0
	}
	deadline := time.Now().Add(10 * time.Second)
	for !lost() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_, sentA := counters(bi.gwA)
	_, sentB := counters(bi.gwB)
	t.Logf("ESP packets sent: gwA %d, gwB %d; lost: gwA to gwB %d, gwB to gwA %d; unknown SPI at gwA %d, at gwB %d",
		sentA, sentB, lostAB, lostBA, bi.gwA.Engine().Drops().UnknownSPI, bi.gwB.Engine().Drops().UnknownSPI)
	if lostAB != 0 || lostBA != 0 {
		t.Errorf("packets lost while the IKE SAs were settled: %d from gwA to gwB, %d from gwB to gwA (unknown SPI: gwA %d, gwB %d)",
			lostAB, lostBA, bi.gwA.Engine().Drops().UnknownSPI, bi.gwB.Engine().Drops().UnknownSPI)
	}
}

// bothInitiating are two vnetgw gateways whose connections to each other
// are both in the Default mode, started so that both IKE SAs come up.
type bothInitiating struct {
	tp       *topology
	gwA, gwB *gateway.Gateway
	logs     *lockedLog
}

// startBothInitiating starts the gateways so that they initiate their IKE
// SAs at the same moment: gwB's firewall holds both IKE_SA_INIT requests
// until each side has sent its own.
func startBothInitiating(t *testing.T) *bothInitiating {
	t.Helper()
	tp := newTopology(t)
	tp.gwB.Run("nft", "add table inet hold; "+
		"add chain inet hold in { type filter hook input priority 0; }; "+
		"add chain inet hold out { type filter hook output priority 0; }; "+
		"add rule inet hold in udp dport 500 counter drop; "+
		"add rule inet hold out udp dport 500 counter drop")
	conn := func(name, remote string, routes netip.Prefix) gateway.Connection {
		return gateway.Connection{Peer: ikev2.PeerConfig{Name: name, Remote: netip.MustParseAddrPort(remote + ":500"), PSK: ikev2.PSK(psk),
			Mode: ikev2.ModeDefault, RetransmitTimeout: 500 * time.Millisecond}, Routes: []netip.Prefix{routes}}
	}
	logs := &lockedLog{}
	logger := func(name string) *slog.Logger {
		return slog.New(slog.NewTextHandler(logTee{t: t, log: logs}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("gw", name)
	}
	gwA := startGateway(t, tp.gwA, gateway.Options{Local: netip.MustParseAddr("10.0.0.1"), Logger: logger("a")}, conn("to-b", "10.0.0.2", lanB))
	gwB := startGateway(t, tp.gwB, gateway.Options{Local: netip.MustParseAddr("10.0.0.2"), Logger: logger("b")}, conn("to-a", "10.0.0.1", lanA))
	// Both IKE_SA_INIT requests were dropped: each side initiated before
	// it heard of the other. Let the retransmissions through.
	deadline := time.Now().Add(15 * time.Second)
	for out := ""; strings.Count(out, "packets 0 ") > 0 || !strings.Contains(out, "counter"); out = tp.gwB.Run("nft", "list", "table", "inet", "hold") {
		if time.Now().After(deadline) {
			t.Fatalf("the IKE_SA_INIT requests of both sides did not reach gwB's firewall:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tp.gwB.Run("nft", "delete", "table", "inet", "hold")
	return &bothInitiating{tp: tp, gwA: gwA, gwB: gwB, logs: logs}
}

// settled waits until the gateways have settled on one IKE SA with one
// child SA, the same on both sides, and returns it; it fails the test if
// the gateways never had two to settle.
func (bi *bothInitiating) settled(t *testing.T) ikev2.IKESAStatus {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		a, okA := oneIKESA(bi.gwA)
		b, okB := oneIKESA(bi.gwB)
		if okA && okB && a.SPIi == b.SPIi && a.SPIr == b.SPIr && bi.gwA.Engine().Up("to-b") && bi.gwB.Engine().Up("to-a") {
			if !strings.Contains(bi.logs.String(), "deleting ours, the redundant one") {
				t.Fatalf("no gateway settled two IKE SAs: both were not authenticated, and the test did not cover the case:\n%s", bi.logs.String())
			}
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("not one IKE SA with one child SA on both sides:\na: %+v\nb: %+v", bi.gwA.IKE().Status(), bi.gwB.IKE().Status())
		}
	}
}

// oneIKESA returns the IKE SA of gw's one connection if it has just one,
// established, with one child SA.
func oneIKESA(gw *gateway.Gateway) (ikev2.IKESAStatus, bool) {
	st := gw.IKE().Status()
	if len(st) != 1 || len(st[0].IKESAs) != 1 || st[0].IKESAs[0].State != "established" || len(st[0].IKESAs[0].Children) != 1 {
		return ikev2.IKESAStatus{}, false
	}
	return st[0].IKESAs[0], true
}

// lockedLog keeps the gateways' log lines.
type lockedLog struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logTee writes log lines to the test's log and to log.
type logTee struct {
	t   *testing.T
	log *lockedLog
}

func (w logTee) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	w.log.mu.Lock()
	defer w.log.mu.Unlock()
	fmt.Fprint(&w.log.b, string(p))
	return len(p), nil
}
