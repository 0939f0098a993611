package gateway_test

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/netnstest"
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
	var logs lockedLog
	logger := func(name string) *slog.Logger {
		return slog.New(slog.NewTextHandler(logTee{t: t, log: &logs}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("gw", name)
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

	one := func(gw *gateway.Gateway) (ikev2.IKESAStatus, bool) {
		st := gw.IKE().Status()
		if len(st) != 1 || len(st[0].IKESAs) != 1 || st[0].IKESAs[0].State != "established" || len(st[0].IKESAs[0].Children) != 1 {
			return ikev2.IKESAStatus{}, false
		}
		return st[0].IKESAs[0], true
	}
	var sa ikev2.IKESAStatus
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		a, okA := one(gwA)
		b, okB := one(gwB)
		if okA && okB && a.SPIi == b.SPIi && a.SPIr == b.SPIr && gwA.Engine().Up("to-b") && gwB.Engine().Up("to-a") {
			sa = a
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not one IKE SA with one child SA on both sides:\na: %+v\nb: %+v", gwA.IKE().Status(), gwB.IKE().Status())
		}
	}
	if !strings.Contains(logs.String(), "deleting ours, the redundant one") {
		t.Fatalf("no gateway settled two IKE SAs: both were not authenticated, and the test did not cover the case:\n%s", logs.String())
	}
	ping(t, tp.hostA, "10.2.0.2")
	ping(t, tp.hostB, "10.1.0.2")
	for _, gw := range []*gateway.Gateway{gwA, gwB} {
		st := gw.Status()
		if got, ok := one(gw); !ok || got.SPIi != sa.SPIi || st[0].IKESAs != 1 || len(st[0].Children) != 1 || st[0].State != gateway.Connected {
			t.Errorf("after the pings: %+v\n%+v", gw.IKE().Status(), st)
		}
	}
	t.Logf("kept IKE SA %016x_i %016x_r (initiated by gwA: %v)", sa.SPIi, sa.SPIr, sa.Initiator)
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
