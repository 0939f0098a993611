package gateway_test

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestDPDQuietWithTraffic: against strongSwan, with dead peer detection
// every second on vnetgw's side only, ESP from strongSwan (hostB pinging
// hostA ten times a second) proves the peer alive, so vnetgw sends no
// liveness check while it flows (RFC 7296 §2.4, RFC 3706 §5.5): none in its
// counters, none in charon's log. Once the traffic stops, a check goes out
// and strongSwan answers it: the connection stays up on the same IKE SA.
// Once charon is killed, the peer is found dead as before.
func TestDPDQuietWithTraffic(t *testing.T) {
	netnstest.RequireStrongSwan(t, "ping")
	for _, v := range []struct {
		name  string
		ikev1 bool
		// request is how charon logs a liveness check it received; dead
		// is in vnetgw's reason for the dead peer.
		request *regexp.Regexp
		dead    string
	}{
		{"IKEv2", false, regexp.MustCompile(`parsed INFORMATIONAL request \d+ \[ \]`), "liveness check"},
		{"IKEv1", true, regexp.MustCompile(`parsed INFORMATIONAL_V1 request \d+ \[ HASH N\(DPD\) \]`), "R-U-THERE"},
	} {
		t.Run(v.name, func(t *testing.T) {
			tp := newTopology(t)
			ike, espProposal := "aes256-sha256-modp2048", "aes256-sha256"
			cfg := charonConfig(ike, espProposal)
			// Only vnetgw checks liveness: strongSwan's checks would be
			// IKE messages from the peer, which put vnetgw's off too.
			cfg.ConnExtra = "dpd_delay = 0s"
			conn := connection(t, ike, espProposal, ikev2.ModeResponderOnly)
			if v.ikev1 {
				cfg.IKEVersion, conn.IKEv1 = 1, true
			}
			conn.Peer.DPDInterval, conn.Peer.RetransmitTimeout, conn.Peer.RetransmitTries = time.Second, 250*time.Millisecond, 3
			ch := netnstest.StartCharon(t, tp.gwB, cfg)
			gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("10.0.0.1"), conn)
			if out, err := ch.Initiate(); err != nil {
				t.Fatalf("initiate: %v\n%s", err, out)
			}
			waitConnected(t, gw, 15*time.Second)
			checks := func() uint64 {
				v2, v1 := gw.IKEStats()
				if v.ikev1 {
					return v1.LivenessChecks
				}
				return v2.LivenessChecks
			}
			received := func() int { return len(v.request.FindAllStringIndex(ch.Log(), -1)) }
			first := newestIKESA(t, gw)

			// Traffic from strongSwan's side: vnetgw sees its ESP.
			pinger := tp.hostB.Start("ping", "-q", "-i", "0.1", "10.1.0.2")
			in := gw.Status()[0].PacketsIn
			for deadline := time.Now().Add(10 * time.Second); gw.Status()[0].PacketsIn < in+5; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no ping through the tunnel from strongSwan's side: %+v\n%s", gw.Status()[0], pinger.Output())
				}
			}
			// Checks begun before the traffic started are left out once
			// charon has logged each.
			for deadline := time.Now().Add(10 * time.Second); uint64(received()) != checks(); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("vnetgw began %d liveness checks and charon received %d", checks(), received())
				}
			}
			// Six DPD intervals of ping. A loaded machine may hold ping or
			// charon's userspace ESP back for a whole interval, and then a
			// check is due (RFC 7296 §2.4): each silence between the
			// packets vnetgw took (their times, not the test's, which may
			// run late too) allows one check per interval it lasted.
			c0, r0, st0 := checks(), received(), gw.Status()[0]
			last, due := st0.LastInbound, 0
			var longest time.Duration
			silence := func(until time.Time) {
				gap := until.Sub(last)
				longest = max(longest, gap)
				due += int(gap / conn.Peer.DPDInterval)
			}
			for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if li := gw.Status()[0].LastInbound; li.After(last) {
					silence(li)
					last = li
				}
			}
			c1, r1, st1 := checks(), received(), gw.Status()[0]
			if st1.LastInbound.After(last) {
				silence(st1.LastInbound)
				last = st1.LastInbound
			}
			silence(time.Now())
			in0, in1 := st0.PacketsIn, st1.PacketsIn
			t.Logf("6 s of ping from strongSwan's side: %d packets in, longest silence %v, %d liveness checks counted, %d received by charon",
				in1-in0, longest.Round(time.Millisecond), c1-c0, r1-r0)
			// (Ping sends 60; a loaded machine may delay some.)
			if in1-in0 < 12 {
				t.Fatalf("only %d packets came through the tunnel in 6 s of ping at 10/s", in1-in0)
			}
			if c1-c0 > uint64(due) || r1-r0 > due {
				t.Errorf("while strongSwan's ESP flowed vnetgw began %d liveness checks and charon received %d; its silences (the longest %v) allowed %d",
					c1-c0, r1-r0, longest.Round(time.Millisecond), due)
			}

			// The traffic stops: a liveness check goes out, and charon
			// answers it.
			pinger.Kill()
			stopped := time.Now()
			for deadline := stopped.Add(10 * time.Second); checks() == c1 || received() == r1; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("10 s after the traffic stopped: %d liveness checks counted, %d received by charon", checks()-c1, received()-r1)
				}
			}
			t.Logf("the first liveness check reached charon %s after the traffic stopped", time.Since(stopped).Round(50*time.Millisecond))
			// Answered: vnetgw begins a check only when none is
			// outstanding (one unanswered is sent again, counted once, and
			// the peer declared dead after 1 + 0.25 + 0.5 + 1 + 2 s), so a
			// second check begun tells that the first was answered.
			for deadline := time.Now().Add(10 * time.Second); checks() < c1+2 || received() < r1+2; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("10 s after the traffic stopped: %d liveness checks counted, %d received by charon, want 2 each: %+v",
						checks()-c1, received()-r1, gw.Status()[0])
				}
			}
			if st := gw.Status()[0]; st.State != gateway.Connected || newestIKESA(t, gw) != first {
				t.Fatalf("after the liveness checks of an idle tunnel: %+v", st)
			}
			t.Logf("idle tunnel: %d liveness checks counted, %d received by charon, %s after the traffic stopped",
				checks()-c1, received()-r1, time.Since(stopped).Round(50*time.Millisecond))

			// charon is gone: the checks go unanswered and vnetgw
			// declares the peer dead.
			ch.Kill()
			killed := time.Now()
			for deadline := killed.Add(20 * time.Second); gw.Status()[0].State == gateway.Connected; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the dead peer was not detected in 20 s: %+v", gw.Status()[0])
				}
			}
			st := gw.Status()[0]
			if !strings.Contains(st.Reason, v.dead) {
				t.Errorf("dead peer, for the reason %q", st.Reason)
			}
			t.Logf("dead peer found %s after charon was killed: %s", time.Since(killed).Round(100*time.Millisecond), st.Reason)
		})
	}
}
