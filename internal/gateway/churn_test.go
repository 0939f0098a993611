package gateway_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/leaktest"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
)

// TestChurnDeadPeer: a peer that vanishes (a relay between the gateways
// drops all they send) is found dead on both sides (RFC 7296 §2.4, RFC
// 3706), and once it is back the tunnel is set up again; round after
// round, the gateways come back to the goroutines and open files they had
// after the first rounds. 6 rounds of each IKE version (VNETGW_CHURN=N:
// N, with the heap in use logged). Loopback only: 127.222.2.1 and .2, the
// relay at .3.
func TestChurnDeadPeer(t *testing.T) {
	n := churnRounds(6)
	for i, v1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "IKEv2", true: "IKEv1"}[v1], func(t *testing.T) {
			addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 222, 2 + byte(i), host}) }
			ikePort, nattPort := freeUDPPort(t, addr(1)), freeUDPPort(t, addr(1))
			r := startCutRelay(t, addr(3), addr(1), addr(2), ikePort, nattPort)
			start := func(local, peerID netip.Addr, route string) *gateway.Gateway {
				cfg := fmt.Sprintf(`{"local": %q, "ikePort": %d, "nattPort": %d, "connections": [{"name": "c", "remote": %q, "remoteID": %q,
					"psk": "Key2026", "routes": [%q], "dpdInterval": "200ms", "ikev1": %v}]}`, local, ikePort, nattPort, addr(3), peerID, route, v1)
				conns := fileConnections(t, cfg)
				for i := range conns {
					p := &conns[i].Peer
					p.RetransmitTimeout, p.RetransmitTries, p.ReconnectDelay = 100*time.Millisecond, 1, 100*time.Millisecond
				}
				gw, err := gateway.Start(gateway.Options{Local: local, IKEPort: ikePort, NATTPort: nattPort, Inner: tuntest.NewSink(64), Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { gw.Close() })
				if err := gw.Reconfig(conns); err != nil {
					t.Fatal(err)
				}
				return gw
			}
			ga := start(addr(1), addr(2), "10.222.2.0/24")
			gb := start(addr(2), addr(1), "10.222.1.0/24")
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("%s: not within 30 s: %+v / %+v", what, ga.Status(), gb.Status())
					}
				}
			}
			up := func(gw *gateway.Gateway) bool {
				st := gw.Status()
				return len(st) == 1 && st[0].State == gateway.Connected
			}
			churn(t, "dpd-"+t.Name(), n, func() {
				waitFor("the tunnel", func() bool { return up(ga) && up(gb) })
				r.cut.Store(true)
				waitFor("the tunnel down on both sides", func() bool { return !up(ga) && !up(gb) })
				r.cut.Store(false)
				waitFor("the tunnel back", func() bool { return up(ga) && up(gb) })
			})
		})
	}
}

// TestChurnIKEv2Clients: strongSwan connects to the gateway as a
// point-to-site client over IKEv2 and disconnects, 50 times (VNETGW_CHURN:
// more), and the gateway comes back to the goroutines and open files it
// had after the first rounds.
func TestChurnIKEv2Clients(t *testing.T) {
	n := churnRounds(50)
	g := startClientsGateway(t)
	pemOf := func(c *pkitest.Cert) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) }
	c := pkitest.Issue(t, "churn", false, g.root)
	keyDER, err := x509.MarshalECPrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	ch := netnstest.StartCharon(t, g.busy, netnstest.CharonConfig{Swanctl: roadWarriorConf(g.addr.String(), peakVNet), Files: map[string][]byte{
		"x509/client.pem": pemOf(c), "private/client.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"x509ca/ca.pem": pemOf(g.ca)}})
	churn(t, "ikev2-clients", n, func() {
		if out, err := ch.Initiate(); err != nil {
			t.Fatalf("strongSwan did not connect: %v\n%s", err, out)
		}
		if cs := g.gw.Clients(); len(cs) != 1 {
			t.Fatalf("the gateway lists %d clients, want 1: %+v", len(cs), cs)
		}
		if out, err := ch.Swanctl("--terminate", "--ike", "rw", "--timeout", "20"); err != nil {
			t.Fatalf("strongSwan did not disconnect: %v\n%s", err, out)
		}
		for deadline := time.Now().Add(10 * time.Second); len(g.gw.Clients()) != 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the client left 10 s ago; the gateway lists %+v", g.gw.Clients())
			}
		}
	})
}

// churnRounds is n, or VNETGW_CHURN when set.
func churnRounds(n int) int {
	if v, err := strconv.Atoi(os.Getenv("VNETGW_CHURN")); err == nil && v > 0 {
		return v
	}
	return n
}

// churn runs round twice to warm up, then n times, and fails the test
// unless the goroutines and open files come back (within 10 s) to what
// they were after the warm-up, naming the goroutines that stayed.
func churn(t *testing.T, name string, n int, round func()) {
	t.Helper()
	round()
	round()
	base := settle(t, leaktest.Unbounded)
	leaktest.HeapProfile(t, name+".base")
	start := time.Now()
	for range n {
		round()
	}
	took := time.Since(start)
	after := settle(t, base)
	leaktest.HeapProfile(t, name+".after")
	if os.Getenv("VNETGW_CHURN") != "" {
		t.Logf("baseline %s; after %d rounds (%s) %s", base, n, took.Round(time.Millisecond), after)
	}
	if !after.Within(base, churnSlack) {
		t.Errorf("after %d rounds: %s, after the warm-up %s; the goroutines that stayed:\n%s", n, after, base, leaktest.Grown(base, after))
	}
}

// churnSlack is how many goroutines and open files above the baseline
// the rounds may leave: those of an exchange still under way.
const churnSlack = 2

// settle waits, 10 s at most, until the goroutines and open files are at
// most base's and churnSlack, and returns what the process then holds.
func settle(t *testing.T, base leaktest.Usage) leaktest.Usage {
	deadline := time.Now().Add(10 * time.Second)
	for {
		u := leaktest.Measure(t)
		if u.Within(base, churnSlack) || time.Now().After(deadline) {
			return u
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeUDPPort(t *testing.T, at netip.Addr) uint16 {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(at, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
}

// cutRelay passes UDP datagrams between a and b on the IKE and NAT-T
// ports, from its own address, none while cut: the peer has vanished.
type cutRelay struct{ cut atomic.Bool }

func startCutRelay(t *testing.T, self, a, b netip.Addr, ikePort, nattPort uint16) *cutRelay {
	t.Helper()
	r := &cutRelay{}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for _, port := range []uint16{ikePort, nattPort} {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(self, port)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		wg.Go(func() {
			buf := make([]byte, 65535)
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				if r.cut.Load() {
					continue
				}
				to := netip.AddrPortFrom(a, port)
				if from.Addr() == a {
					to = netip.AddrPortFrom(b, port)
				}
				c.WriteToUDPAddrPort(buf[:n], to)
			}
		})
	}
	return r
}
