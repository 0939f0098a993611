package p2s

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestChurnClients: clients connect over SSTP (vnetgw's own client) and
// OpenVPN and leave, round after round, at a gateway whose pool holds six
// addresses: each round's client gets one (an address not given back
// would run the pool dry within six rounds), the gateway lists none once
// it left, and the goroutines and open files come back to what they were
// after the first rounds. 100 rounds of each (VNETGW_CHURN=N: N, with the
// heap in use logged). Loopback only: 127.222.3.1.
func TestChurnClients(t *testing.T) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("VNETGW_CHURN")); err == nil && v > 0 {
		n = v
	}
	for _, proto := range []string{"SSTP", "OpenVPN"} {
		t.Run(proto, func(t *testing.T) {
			r := newRegion(t, Config{Listen: netip.MustParseAddrPort("127.222.3.1:0"), Pool: netip.MustParsePrefix("172.16.201.0/29"),
				SSTP: proto == "SSTP", OpenVPN: proto == "OpenVPN", Logger: slog.New(slog.DiscardHandler)})
			round := func() {
				if proto == "OpenVPN" {
					cl := dialTestOVPN(t, r.srv.Addr())
					tc, err := cl.session(0, &r.pki.client, "", "")
					if err != nil {
						t.Fatal(err)
					}
					mustPush(t, tc, 20*time.Second, "a client after others left")
					cl.c.Close()
					<-cl.done
				} else {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					c, err := Dial(ctx, ClientConfig{Server: r.srv.Addr(), ServerName: "gateway", RootCAs: r.roots, Cert: r.pki.client, OnIP: func([]byte) {}})
					cancel()
					if err != nil {
						t.Fatalf("a client after others left: %v", err)
					}
					c.Close()
					<-c.Done()
				}
				for deadline := time.Now().Add(10 * time.Second); len(r.srv.Clients()) != 0; time.Sleep(2 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("the client left 10 s ago; the gateway lists %+v", r.srv.Clients())
					}
				}
			}
			round()
			round()
			goroutines, fds, heap := churnUsage()
			start := time.Now()
			for range n {
				round()
			}
			took := time.Since(start)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				g, f, h := churnUsage()
				if g <= goroutines && f <= fds {
					if os.Getenv("VNETGW_CHURN") != "" {
						t.Logf("after the warm-up %d goroutines, %d open files, %.1f MiB heap in use; after %d rounds (%s) %d, %d, %.1f MiB",
							goroutines, fds, float64(heap)/(1<<20), n, took.Round(time.Millisecond), g, f, float64(h)/(1<<20))
					}
					break
				}
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<20)
					t.Fatalf("after %d rounds %d goroutines and %d open files, after the warm-up %d and %d:\n%s", n, g, f, goroutines, fds, buf[:runtime.Stack(buf, true)])
				}
			}
		})
	}
}

// churnUsage returns the process's goroutines, open files and heap in
// use.
func churnUsage() (goroutines, fds int, heap uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	entries, _ := os.ReadDir("/proc/self/fd")
	return runtime.NumGoroutine(), len(entries), ms.HeapInuse
}
