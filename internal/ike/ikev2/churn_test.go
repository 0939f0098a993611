package ikev2

import (
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestChurnClients: point-to-site clients connect and leave (their
// Delete, RFC 7296 §1.4.1), each from an address and port of its own, as
// clients behind NATs do, round after round: every map of the Manager
// that names a client, an SPI or a sender is back to empty, no child SA
// is left installed nor client attached, and the goroutines are back to
// one per Manager loop. 200 rounds (VNETGW_CHURN=N: N, with the live heap
// objects logged).
func TestChurnClients(t *testing.T) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("VNETGW_CHURN")); err == nil && v > 0 {
		n = v
	}
	pki := newPKI(t)
	g := newP2SGateway(t, Config{Logger: slog.New(slog.DiscardHandler)})
	if err := g.m.SetClients(pki.clients(g.hooks, p2sPool, 10)); err != nil {
		t.Fatal(err)
	}
	sizes := func() map[string]int {
		g.m.mu.Lock()
		defer g.m.mu.Unlock()
		return map[string]int{"conns": len(g.m.conns), "byRemote": len(g.m.byRemote), "ikeSPIs": len(g.m.ikeSPIs), "espSPIs": len(g.m.espSPIs),
			"clients": len(g.m.clients), "clientConns": len(g.m.clientConns), "clientAddrs": len(g.m.clientAddrs), "pendingBySender": len(g.m.pendingBySender)}
	}
	empty := func() bool {
		for _, n := range sizes() {
			if n != 0 {
				return false
			}
		}
		return len(g.m.Clients()) == 0
	}
	goroutines := runtime.NumGoroutine()
	var objects uint64
	for i := range n {
		at := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i%200 + 1)}), uint16(1024+i))
		cl := newP2SClient(t, g, at)
		if _, addr := cl.connect(pki.client); !addr.IsValid() {
			t.Fatalf("round %d: the client got no address", i)
		}
		cl.request(wire.Informational, []wire.Payload{&wire.Delete{Protocol: wire.ProtocolIKE}})
		for deadline := time.Now().Add(10 * time.Second); !empty(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: 10 s after the client's Delete the Manager still holds %v, clients %+v", i, sizes(), g.m.Clients())
			}
		}
		g.tr.forget(at)
		if i == 0 && os.Getenv("VNETGW_CHURN") != "" {
			objects = liveObjects()
		}
	}
	g.dp.mu.Lock()
	children := len(g.dp.children)
	g.dp.mu.Unlock()
	attached, _ := g.hooks.state()
	if children != 0 || len(attached) != 0 {
		t.Errorf("after %d clients came and left: %d child SAs installed, %d clients attached; want none", n, children, len(attached))
	}
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > goroutines; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %d clients came and left: %d goroutines, %d before the first", n, runtime.NumGoroutine(), goroutines)
		}
	}
	if objects != 0 {
		t.Logf("live heap objects after the first round %d, after %d rounds %d (the test's hooks keep every detached client's name)", objects, n, liveObjects())
	}
}

func liveObjects() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapObjects
}
