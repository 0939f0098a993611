package gateway_test

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestReauthOpensLateESP: strongSwan reauthenticates make-before-break (a
// new IKE SA with its child SA, then a Delete of the old IKE SA, as
// charon.make_before_break has it) while ESP it sealed with the old child
// SA is still on its way: gwB's link holds its ESP in a queue that sends
// nothing, which its IKE messages pass, until vnetgw has answered the
// Delete. That ESP, sent before the Delete, is opened when it arrives (the
// child SAs of the deleted IKE SA open what arrives for drainWait, as
// after a Delete of a child SA), not dropped for an unknown SPI: a ping
// from hostB loses nothing.
func TestReauthOpensLateESP(t *testing.T) {
	netnstest.RequireStrongSwan(t, "ping", "nft", "tc")
	tp := newTopology(t)
	// strongSwan roams when an address of gwB's links comes or goes, as
	// their IPv6 link-local ones do a while after the links came up (6 s
	// on a busy machine): a reauthentication begun then went unanswered
	// in a few runs. Without IPv6 on gwB, nothing comes or goes.
	tp.gwB.Run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	ike, espProposal := "aes256gcm16-prfsha256-ecp256", "aes256gcm16"
	cfg := charonConfig(ike, espProposal)
	cfg.CharonExtra = "make_before_break = yes"
	ch := netnstest.StartCharon(t, tp.gwB, cfg)
	gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("10.0.0.1"), connection(t, ike, espProposal, ikev2.ModeResponderOnly))
	if out, err := ch.Initiate(); err != nil {
		t.Fatalf("initiate: %v\n%s", err, out)
	}
	waitConnected(t, gw, 15*time.Second)
	ping(t, tp.hostB, "10.1.0.2")
	if out := tp.gwB.Run("ip", "-6", "addr"); strings.Contains(out, "inet6") {
		t.Fatalf("gwB has IPv6 addresses, which come and go:\n%s", out)
	}
	old := gw.IKE().Status()[0].IKESAs[0]

	// gwB's ESP to gwA (UDP 4500 that starts with an SPI, not the non-ESP
	// marker) goes into a class of gwB's link whose queue sends at 8 bit/s
	// (its first packet passes) until released; the rest, IKE among it,
	// into one at 1 Gbit/s.
	dev, _, _ := strings.Cut(strings.Fields(tp.gwB.Run("ip", "-o", "-4", "addr", "show", "to", "10.0.0.2"))[1], "@")
	tp.gwB.Run("tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10")
	tp.gwB.Run("tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate", "1gbit")
	tp.gwB.Run("tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:20", "htb", "rate", "1gbit")
	tp.gwB.Run("tc", "qdisc", "add", "dev", dev, "parent", "1:20", "handle", "20:", "tbf", "rate", "8bit", "burst", "200", "limit", "100000")
	tp.gwB.Run("nft", "add table inet hold; add chain inet hold post { type filter hook postrouting priority 0; }; "+
		"add rule inet hold post udp dport 4500 @th,64,32 != 0 meta priority set 1:20 counter")

	before := gw.Engine().Drops().UnknownSPI
	pings := tp.hostB.Start("ping", "-i", "0.01", "-c", "100", "-w", "20", "10.1.0.2")
	time.Sleep(300 * time.Millisecond)
	if out, err := ch.Swanctl("--rekey", "--ike", "peer", "--reauth"); err != nil {
		t.Fatalf("swanctl --rekey --reauth: %v\n%s", err, out)
	}
	// The old IKE SA is gone at vnetgw: the Delete came and was answered.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		st := gw.IKE().Status()
		if len(st) == 1 && len(st[0].IKESAs) == 1 && st[0].IKESAs[0].SPIi != old.SPIi {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan did not reauthenticate: %+v", st)
		}
	}
	held := nftCounters(t, tp.gwB, "inet", "hold", "post")
	tp.gwB.Run("tc", "qdisc", "change", "dev", dev, "parent", "1:20", "handle", "20:", "tbf", "rate", "1gbit", "burst", "100000", "limit", "100000")
	if !pings.Wait(30 * time.Second) {
		t.Fatal("ping did not end")
	}
	out := pings.Output()
	_, summary, _ := strings.Cut(out, "--- ")
	t.Logf("ESP held at gwB: %v packets; ping: %s", held, summary)
	if len(held) != 1 || held[0] == 0 {
		t.Fatalf("no ESP was held: the test did not cover the case")
	}
	if n := gw.Engine().Drops().UnknownSPI - before; n != 0 {
		t.Errorf("%d ESP packets that strongSwan sent before its Delete dropped for an unknown SPI", n)
	}
	// ping ends once it has 100 replies (or more, read at once), and goes
	// on sending meanwhile: while the reauthentication took long
	// (strongSwan at times misses an IKE_SA_INIT response that comes
	// within a millisecond, and sends its request again 4 s later), it
	// sent more, whose replies come after it ended. None lost: the
	// replies are those of the first requests, without a gap.
	var seqs []int
	for _, m := range regexp.MustCompile(`icmp_seq=(\d+) `).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		seqs = append(seqs, n)
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs) // a duplicate (DUP!) is no loss
	if len(seqs) < 100 || seqs[0] != 1 || seqs[len(seqs)-1] != len(seqs) {
		t.Errorf("pings lost: replies to %v, want 1 to 100 or more without a gap\n%s", seqs, out)
	}
}
