package gateway_test

import (
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
)

// TestSilentPeerReason: a gateway whose peer never answers its first
// message (a vnetgw gateway without the connection: the other end of a
// VNet-to-VNet connection deleted, or a site with no connection for us,
// drops it) says so in the connection's reason from the first
// retransmission on, while it is Connecting, not only when the
// retransmissions run out: `no answer from <peer> to IKE_SA_INIT yet (sent
// N times since HH:MM:SS UTC)` (IKEv1: `to main mode message 1`). N counts
// on across the tries, and the time stays that of the first request, until
// the peer answers; once the peer has the connection, the tunnel comes up
// and the reason is gone. Loopback only: 127.222.4.1 and .2 (IKEv1:
// 127.222.5.x).
func TestSilentPeerReason(t *testing.T) {
	for i, v1 := range []bool{false, true} {
		t.Run(map[bool]string{false: "IKEv2", true: "IKEv1"}[v1], func(t *testing.T) {
			addr := func(host byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 222, 4 + byte(i), host}) }
			ikePort, nattPort := freeUDPPort(t, addr(1)), freeUDPPort(t, addr(1))
			conns := func(local, remote netip.Addr, route string) []gateway.Connection {
				cfg := fmt.Sprintf(`{"local": %q, "ikePort": %d, "nattPort": %d, "connections": [{"name": "c", "remote": %q,
					"psk": "Key2026", "routes": [%q], "ikev1": %v}]}`, local, ikePort, nattPort, remote, route, v1)
				cs := fileConnections(t, cfg)
				for i := range cs {
					p := &cs[i].Peer
					p.RetransmitTimeout, p.RetransmitTries, p.ReconnectDelay = 100*time.Millisecond, 2, 200*time.Millisecond
				}
				return cs
			}
			start := func(local netip.Addr) *gateway.Gateway {
				gw, err := gateway.Start(gateway.Options{Local: local, IKEPort: ikePort, NATTPort: nattPort, Inner: tuntest.NewSink(64), Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { gw.Close() })
				return gw
			}
			ga, gb := start(addr(1)), start(addr(2)) // gb: no connection
			if err := ga.Reconfig(conns(addr(1), addr(2), "10.222.5.0/24")); err != nil {
				t.Fatal(err)
			}
			first := "IKE_SA_INIT"
			if v1 {
				first = "main mode message 1"
			}
			note := regexp.MustCompile(`^no answer from ` + regexp.QuoteMeta(netip.AddrPortFrom(addr(2), ikePort).String()) + ` to ` + first +
				` yet \(sent (\d+) times since (\d\d:\d\d:\d\d) UTC\)$`)
			// Three tries of 700 ms (100, 200 and 400 ms) each, 200 ms and
			// then 400 ms apart.
			var since string
			sent, connecting := 0, 0
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				st := ga.Status()
				if len(st) != 1 {
					t.Fatalf("status %+v", st)
				}
				if st[0].State != gateway.Connecting {
					continue
				}
				connecting++
				m := note.FindStringSubmatch(st[0].Reason)
				if m == nil {
					if sent > 0 {
						t.Fatalf("Connecting with reason %q after %q", st[0].Reason, "sent "+strconv.Itoa(sent))
					}
					continue
				}
				n, _ := strconv.Atoi(m[1])
				if n < sent || n < 2 || since != "" && m[2] != since {
					t.Fatalf("reason %q after sent %d times since %s", st[0].Reason, sent, since)
				}
				sent, since = n, m[2]
			}
			t.Logf("last reason while Connecting: sent %d times since %s", sent, since)
			if connecting == 0 {
				t.Fatal("never Connecting")
			}
			// The first try sent the request 3 times, and the next tries
			// count on.
			if sent <= 3 {
				t.Fatalf("the reason counted %d requests sent (since %q) over three tries; want it to count on over the tries", sent, since)
			}
			if err := gb.Reconfig(conns(addr(2), addr(1), "10.222.4.0/24")); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				st := ga.Status()
				if st[0].State == gateway.Connected {
					if st[0].Reason != "" {
						t.Errorf("Connected with reason %q", st[0].Reason)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not Connected once the peer has the connection: %+v", st)
				}
			}
		})
	}
}
