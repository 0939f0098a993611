package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/tun"
	"github.com/vnetgw/vnetgw/internal/tunnel"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// The interop tests put vnetgw and a real strongSwan on the two gateways
// of this topology and send real traffic between the hosts:
//
//	hostA 10.1.0.2 — gwA (vnetgw) 10.0.0.1 ══ 10.0.0.2 gwB (strongSwan) — hostB 10.2.0.2
//
// strongSwan uses userspace ESP (kernel-libipsec), which always puts ESP in
// UDP 4500 as if a NAT were in between.

const psk = "interop-psk-0123456789"

var (
	lanA = netip.MustParsePrefix("10.1.0.0/16")
	lanB = netip.MustParsePrefix("10.2.0.0/16")
)

type topology struct {
	gwA, gwB, hostA, hostB *netnstest.NS
}

func newTopology(t *testing.T) *topology {
	t.Helper()
	tp := &topology{gwA: netnstest.New(t, "gwa"), gwB: netnstest.New(t, "gwb"), hostA: netnstest.New(t, "ha"), hostB: netnstest.New(t, "hb")}
	netnstest.Link(t, tp.gwA, "10.0.0.1/24", tp.gwB, "10.0.0.2/24")
	netnstest.Link(t, tp.hostA, "10.1.0.2/16", tp.gwA, "10.1.0.1/16")
	netnstest.Link(t, tp.hostB, "10.2.0.2/16", tp.gwB, "10.2.0.1/16")
	tp.hostA.Run("ip", "route", "add", "default", "via", "10.1.0.1")
	tp.hostB.Run("ip", "route", "add", "default", "via", "10.2.0.1")
	tp.gwA.Forward()
	tp.gwB.Forward()
	return tp
}

// startVnetgw runs a vnetgw gateway in ns with one connection.
func startVnetgw(t *testing.T, ns *netnstest.NS, local netip.Addr, conn gateway.Connection, keepalive ...time.Duration) *gateway.Gateway {
	t.Helper()
	opts := gateway.Options{Local: local}
	if len(keepalive) > 0 {
		opts.KeepaliveInterval = keepalive[0]
	}
	return startGateway(t, ns, opts, conn)
}

// startGateway runs a gateway with opts in ns, on a TUN device there, with
// one connection; it logs to the test unless opts has a logger.
func startGateway(t *testing.T, ns *netnstest.NS, opts gateway.Options, conn gateway.Connection) *gateway.Gateway {
	t.Helper()
	dev, err := tun.Create(tun.Config{NetNS: "/run/netns/" + ns.Name, Routes: conn.Routes})
	if err != nil {
		t.Fatal(err)
	}
	opts.Inner = dev
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	var gw *gateway.Gateway
	err = ns.Do(func() (err error) {
		gw, err = gateway.Start(opts)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	if err := gw.Reconfig([]gateway.Connection{conn}); err != nil {
		t.Fatal(err)
	}
	return gw
}

func proposal(t *testing.T, p wire.ProtocolID, s string) []suite.Proposal {
	t.Helper()
	pr, err := suite.ParseProposal(p, s)
	if err != nil {
		t.Fatal(err)
	}
	return []suite.Proposal{pr}
}

// connection is vnetgw's side of the tunnel to strongSwan on gwB.
func connection(t *testing.T, ike, esp string, mode ikev2.ConnectionMode) gateway.Connection {
	return gateway.Connection{
		Peer: ikev2.PeerConfig{Name: "to-strongswan", Remote: netip.MustParseAddrPort("10.0.0.2:500"), PSK: ikev2.PSK(psk),
			IKEProposals: proposal(t, wire.ProtocolIKE, ike), ESPProposals: proposal(t, wire.ProtocolESP, esp), Mode: mode},
		Routes: []netip.Prefix{lanB},
	}
}

func charonConfig(ike, esp string) netnstest.CharonConfig {
	return netnstest.CharonConfig{Local: "10.0.0.2", Remote: "10.0.0.1", PSK: psk, IKEProposal: ike, ESPProposal: esp,
		LocalTS: lanB.String(), RemoteTS: lanA.String()}
}

// waitConnected waits until vnetgw reports the connection Connected.
func waitConnected(t *testing.T, gw *gateway.Gateway, d time.Duration) gateway.ConnectionStatus {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := gw.Status()
		if len(st) == 1 && st[0].State == gateway.Connected {
			return st[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("not connected after %s: %+v", d, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ping(t *testing.T, from *netnstest.NS, to string) {
	t.Helper()
	if out, err := from.Try("ping", "-c", "3", "-i", "0.2", "-W", "2", to); err != nil {
		t.Fatalf("ping %s from %s: %v\n%s", to, from.Name, err, out)
	}
}

// iperf runs iperf3 from hostA to hostB (reverse: B to A) for secs seconds
// and returns the received rate in Mbit/s.
func iperf(t *testing.T, tp *topology, secs int, reverse bool) float64 {
	rate, _ := iperfIntervals(t, tp, secs, reverse)
	return rate
}

// iperfIntervals also returns the rate of each one-second interval.
func iperfIntervals(t *testing.T, tp *topology, secs int, reverse bool) (float64, []float64) {
	t.Helper()
	srv := tp.hostB.Start("iperf3", "-s", "-1", "-B", "10.2.0.2")
	defer srv.Kill()
	tp.hostB.WaitListening("10.2.0.2:5201")
	args := []string{"-c", "10.2.0.2", "-t", fmt.Sprint(secs), "-J", "--connect-timeout", "3000"}
	if reverse {
		args = append(args, "-R")
	}
	out, err := tp.hostA.Try("iperf3", args...)
	var res struct {
		Error     string
		Intervals []struct {
			Sum struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			}
		}
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		}
	}
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil || err != nil || res.Error != "" {
		t.Fatalf("iperf3 (reverse=%v): %v %s\n%.2000s", reverse, err, res.Error, out)
	}
	var per []float64
	for _, iv := range res.Intervals {
		per = append(per, iv.Sum.BitsPerSecond/1e6)
	}
	return res.End.SumReceived.BitsPerSecond / 1e6, per
}

// udpOverflows returns the UDP datagrams that ns's kernel dropped so far
// because the receiving socket's queue was full (RcvbufErrors of
// /proc/net/snmp).
func udpOverflows(t *testing.T, ns *netnstest.NS) uint64 {
	t.Helper()
	var names []string
	for line := range strings.Lines(ns.Run("cat", "/proc/net/snmp")) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, "RcvbufErrors"); i > 0 && i < len(f) {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				t.Fatalf("/proc/net/snmp in %s: %v", ns.Name, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/net/snmp in %s has no Udp RcvbufErrors", ns.Name)
	return 0
}

// The proposals of the "Done when" list of the IPsec issue, IKE and ESP
// alike (for ESP the PRF and DH parts fall away: PFS is off in IKE_AUTH).
var proposals = []struct{ ike, esp string }{
	{"aes256gcm16-prfsha256-ecp256", "aes256gcm16"},
	{"aes128gcm16-prfsha384-ecp384", "aes128gcm16"},
	{"aes256-sha256-modp2048", "aes256-sha256"},
	{"aes128-sha1-modp2048", "aes128-sha1"},
	{"aes256gcm16-prfsha256-x25519", "aes256gcm16"},
}

// TestStrongSwanInterop: for each proposal, vnetgw as responder and as
// initiator; ping both ways and a 10 s iperf3 TCP transfer both ways
// between the hosts behind the gateways (RFC 7296, RFC 4303, RFC 3948).
func TestStrongSwanInterop(t *testing.T) {
	netnstest.RequireStrongSwan(t, "iperf3", "ping")
	secs := 10
	if testing.Short() {
		secs = 2
	}
	for _, p := range proposals {
		for _, role := range []string{"responder", "initiator"} {
			t.Run(p.ike+"/vnetgw-"+role, func(t *testing.T) {
				tp := newTopology(t)
				mode := ikev2.ModeResponderOnly
				if role == "initiator" {
					mode = ikev2.ModeInitiatorOnly
				}
				ch := netnstest.StartCharon(t, tp.gwB, charonConfig(p.ike, p.esp))
				gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("10.0.0.1"), connection(t, p.ike, p.esp, mode))
				if role == "responder" {
					if out, err := ch.Initiate(); err != nil {
						t.Fatalf("strongSwan could not initiate: %v\n%s", err, out)
					}
				}
				st := waitConnected(t, gw, 15*time.Second)
				if st.Proposal != p.ike {
					t.Errorf("vnetgw negotiated %q, want %q", st.Proposal, p.ike)
				}
				sas, err := ch.WaitSAs(10*time.Second, "ESTABLISHED", "INSTALLED")
				if err != nil {
					t.Fatal(err)
				}
				if want := strongSwanAlgorithms(p.esp); !strings.Contains(sas, want) {
					t.Errorf("strongSwan's child SA does not use %s:\n%s", want, sas)
				}
				ping(t, tp.hostA, "10.2.0.2")
				ping(t, tp.hostB, "10.1.0.2")
				ab, ba := iperf(t, tp, secs, false), iperf(t, tp, secs, true)
				t.Logf("iperf3 TCP %d s: A→B %.0f Mbit/s, B→A %.0f Mbit/s", secs, ab, ba)
				if ab <= 0 || ba <= 0 {
					t.Fatalf("no throughput: %.0f / %.0f", ab, ba)
				}
				if st := gw.Status()[0]; st.BytesIn == 0 || st.BytesOut == 0 {
					t.Fatalf("byte counters did not grow: %+v", st)
				}
			})
		}
	}
}

// strongSwanAlgorithms is how swanctl --list-sas names an ESP proposal.
func strongSwanAlgorithms(esp string) string {
	switch {
	case strings.HasPrefix(esp, "aes256gcm16"):
		return "AES_GCM_16-256"
	case strings.HasPrefix(esp, "aes128gcm16"):
		return "AES_GCM_16-128"
	case strings.HasPrefix(esp, "aes256-sha256"):
		return "AES_CBC-256/HMAC_SHA2_256_128"
	case strings.HasPrefix(esp, "aes128-sha1"):
		return "AES_CBC-128/HMAC_SHA1_96"
	}
	return esp
}

var spiRE = regexp.MustCompile(`(?m)in\s+([0-9a-f]{8})`)

// installedChild tells whether swanctl --list-sas lists a child SA with
// inbound SPI spi as INSTALLED: one rekeyed stays listed a while as
// DELETED (strongSwan's delete_rekeyed_delay, which an IKE SA rekey in
// between starts again).
func installedChild(sas, spi string) bool {
	i := strings.Index(sas, "in  "+spi)
	if i < 0 {
		return false
	}
	j := strings.LastIndex(sas[:i], "net: #")
	if j < 0 {
		return true // no child header: taken as listed
	}
	head, _, _ := strings.Cut(sas[j:], "\n")
	return strings.Contains(head, "INSTALLED")
}

// TestRekeyUnderLoad shortens the lifetimes so that child SAs and the IKE
// SA are rekeyed in the middle of an iperf3 transfer: the transfer goes on
// and strongSwan lists new SAs (RFC 7296 §1.3.3, §2.18).
func TestRekeyUnderLoad(t *testing.T) {
	netnstest.RequireStrongSwan(t, "iperf3", "ping")
	for _, role := range []string{"strongswan-rekeys", "vnetgw-rekeys", "vnetgw-rekeys-on-bytes"} {
		t.Run(role, func(t *testing.T) {
			tp := newTopology(t)
			ike, espProposal := "aes256gcm16-prfsha256-ecp256", "aes256gcm16-ecp256" // with PFS on rekey
			cfg := charonConfig(ike, espProposal)
			conn := connection(t, ike, espProposal, ikev2.ModeResponderOnly)
			if role == "strongswan-rekeys" {
				// rand_time defaults to the time between rekey and life time:
				// pin it, or strongSwan may rekey a minute late.
				cfg.ConnExtra = "rekey_time = 12s\nover_time = 30s\nrand_time = 0s"
				cfg.ChildExtra = "rekey_time = 5s\nlife_time = 60s\nrand_time = 0s"
			} else {
				conn.Peer.IKELifetime, conn.Peer.ChildLifetime = 14*time.Second, 6*time.Second
				conn.Peer.RekeyMargin, conn.Peer.RekeyJitter = 2*time.Second, time.Second
			}
			if role == "vnetgw-rekeys-on-bytes" {
				// The child SAs' byte lifetime (saDataSizeKilobytes) runs
				// out every second or so of the transfer, and a few times in
				// its 20 s on a loaded machine (CI's: 70 Mbit/s, where 200
				// MiB was not reached): the soft limit makes vnetgw rekey
				// before the hard one (RFC 4303 §3.3.3). The hard limit
				// leaves the rekey the time of a lost request and two
				// retransmissions (2 s, then 4 s more, RFC 7296 §2.1) at
				// the 750 Mbit/s of an idle machine: strongSwan's
				// overflowing socket queue drops IKE as it drops ESP, and
				// at 128 MiB the hard limit came 0.8 s after the soft one,
				// before the first retransmission.
				conn.Peer.ChildLifetime = time.Hour
				conn.Peer.ChildLimits = esp.Limits{SoftBytes: 64 << 20, HardBytes: 1 << 30}
			}
			ch := netnstest.StartCharon(t, tp.gwB, cfg)
			gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("10.0.0.1"), conn)
			if out, err := ch.Initiate(); err != nil {
				t.Fatalf("initiate: %v\n%s", err, out)
			}
			waitConnected(t, gw, 15*time.Second)
			before := spiRE.FindAllStringSubmatch(ch.SAs(), -1)
			ikeBefore := gw.IKE().Status()[0].IKESAs[0]
			overflowA, overflowB := udpOverflows(t, tp.gwA), udpOverflows(t, tp.gwB)
			rate, per := iperfIntervals(t, tp, 20, false)
			// Where packets went missing: vnetgw's tunnel drops, or the UDP
			// receive queues of the two gateways' sockets. strongSwan's
			// kernel-libipsec reads its socket slower than vnetgw sends,
			// and not at all while other work takes the CPUs: its queue
			// overflows, some 7 % of the ESP packets on an idle machine and
			// more under load, and TCP's retransmission timeouts are what
			// stall the transfer for a second or two.
			overflowA, overflowB = udpOverflows(t, tp.gwA)-overflowA, udpOverflows(t, tp.gwB)-overflowB
			t.Logf("iperf3 across rekeys: %.0f Mbit/s; per second: %.0f; tunnel drops %+v; UDP receive queue overflows: vnetgw %d, strongSwan %d",
				rate, per, gw.Status()[0].Drops, overflowA, overflowB)
			// The transfer goes on: no three seconds running without
			// traffic (TCP's retransmission timeouts, which double, took
			// two on CI's loaded machine while strongSwan's queue
			// overflowed: a broken tunnel stalls it for longer), and the
			// last three seconds together are back near the average (one
			// of them alone may not be: CI's load took one to 28 of 96
			// Mbit/s, the next at 92). What vnetgw drops tells a rekey gone
			// wrong on either side: ESP for an SA it no longer (or not yet)
			// has, or a tunnel drop.
			for i := 2; i < len(per); i++ {
				if per[i-2] == 0 && per[i-1] == 0 && per[i] == 0 {
					t.Errorf("seconds %d to %d of the transfer moved nothing", i-1, i+1)
				}
			}
			if d := gw.Engine().Drops(); d.UnknownSPI != 0 {
				t.Errorf("%d ESP packets dropped for an unknown SPI", d.UnknownSPI)
			}
			if d := gw.Status()[0].Drops; d != (tunnel.TunnelDrops{}) {
				t.Errorf("tunnel drops during the transfer: %+v", d)
			}
			if !recovered(per, rate) {
				t.Errorf("throughput did not recover after the rekeys: %.0f", per)
			}
			after := ch.SAs()
			if len(before) == 0 || installedChild(after, before[0][1]) {
				t.Fatalf("the child SA was not rekeyed: before %v, now:\n%s", before, after)
			}
			ikeAfter := gw.IKE().Status()[0].IKESAs[0]
			if ikeAfter.SPIi == ikeBefore.SPIi && ikeAfter.SPIr == ikeBefore.SPIr {
				t.Fatalf("the IKE SA was not rekeyed: %+v", ikeAfter)
			}
			// strongSwan lists the new SAs, the ones vnetgw holds now: the
			// IKE SA by its SPIs, the child by the SPI vnetgw sends to.
			// (Rekeys go on meanwhile: the two lists are read again until
			// they agree, for a few seconds.)
			listed := func() (string, bool) {
				now := gw.IKE().Status()[0].IKESAs[0]
				after := ch.SAs()
				ok := len(now.Children) > 0 && strings.Contains(after, fmt.Sprintf("in  %08x", now.Children[len(now.Children)-1].OutSPI))
				for _, want := range []string{fmt.Sprintf("%016x_i", now.SPIi), fmt.Sprintf("%016x_r", now.SPIr)} {
					ok = ok && strings.Contains(after, want)
				}
				return fmt.Sprintf("vnetgw: %+v\nstrongSwan:\n%s", now, after), ok
			}
			deadline := time.Now().Add(5 * time.Second)
			for both, ok := listed(); !ok; both, ok = listed() {
				if time.Now().After(deadline) {
					t.Fatalf("strongSwan does not list the IKE and child SAs vnetgw holds:\n%s", both)
				}
				time.Sleep(100 * time.Millisecond)
			}
			ping(t, tp.hostA, "10.2.0.2")
		})
	}
}

// TestDeadPeerAndInitialContact kills strongSwan: vnetgw's liveness checks
// find the peer dead within the configured time; a restarted strongSwan's
// INITIAL_CONTACT replaces the stale SAs (RFC 7296 §2.4).
func TestDeadPeerAndInitialContact(t *testing.T) {
	netnstest.RequireStrongSwan(t, "ping")
	tp := newTopology(t)
	ike, esp := "aes256gcm16-prfsha256-ecp256", "aes256gcm16"
	conn := connection(t, ike, esp, ikev2.ModeResponderOnly)
	conn.Peer.DPDInterval, conn.Peer.RetransmitTimeout, conn.Peer.RetransmitTries = 2*time.Second, 500*time.Millisecond, 3
	ch := netnstest.StartCharon(t, tp.gwB, charonConfig(ike, esp))
	gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("10.0.0.1"), conn)
	if out, err := ch.Initiate(); err != nil {
		t.Fatalf("initiate: %v\n%s", err, out)
	}
	waitConnected(t, gw, 15*time.Second)
	ch.Kill()
	killed := time.Now()
	// DPD interval, then retransmissions after 0.5, 1 and 2 s and a last
	// wait of 4 s (RFC 7296 §2.4), and some slack.
	budget := 2*time.Second + 7500*time.Millisecond + 3*time.Second
	for gw.Status()[0].State == gateway.Connected {
		if time.Since(killed) > budget {
			t.Fatalf("the dead peer was not detected within %s", budget)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("dead peer detected after %s", time.Since(killed).Round(100*time.Millisecond))

	// The peer comes back (a new charon, new SPIs) while vnetgw still holds
	// state for it: INITIAL_CONTACT must clear it.
	ch2 := netnstest.StartCharon(t, tp.gwB, charonConfig(ike, esp))
	if out, err := ch2.Initiate(); err != nil {
		t.Fatalf("initiate after restart: %v\n%s", err, out)
	}
	waitConnected(t, gw, 15*time.Second)
	if n := len(gw.IKE().Status()[0].IKESAs); n != 1 {
		t.Fatalf("after INITIAL_CONTACT vnetgw holds %d IKE SAs for the peer, want 1: %+v", n, gw.IKE().Status())
	}
	ping(t, tp.hostA, "10.2.0.2")
}

// TestThroughNAT puts vnetgw behind a NAT (nftables masquerade in a middle
// namespace): the exchange moves to UDP 4500 and the tunnel carries traffic
// (RFC 7296 §2.23, RFC 3948).
func TestThroughNAT(t *testing.T) {
	netnstest.RequireStrongSwan(t, "ping", "nft")
	gwA, nat, gwB := netnstest.New(t, "gwa"), netnstest.New(t, "nat"), netnstest.New(t, "gwb")
	hostA, hostB := netnstest.New(t, "ha"), netnstest.New(t, "hb")
	netnstest.Link(t, gwA, "192.168.100.2/24", nat, "192.168.100.1/24")
	_, natOut := netnstest.Link(t, gwB, "10.0.0.2/24", nat, "10.0.0.1/24")
	netnstest.Link(t, hostA, "10.1.0.2/16", gwA, "10.1.0.1/16")
	netnstest.Link(t, hostB, "10.2.0.2/16", gwB, "10.2.0.1/16")
	gwA.Run("ip", "route", "add", "default", "via", "192.168.100.1")
	hostA.Run("ip", "route", "add", "default", "via", "10.1.0.1")
	hostB.Run("ip", "route", "add", "default", "via", "10.2.0.1")
	for _, ns := range []*netnstest.NS{gwA, nat, gwB} {
		ns.Forward()
	}
	nat.Run("nft", "add table ip nat; add chain ip nat post { type nat hook postrouting priority 100; }; add rule ip nat post oifname "+natOut+" masquerade")

	ike, esp := "aes256gcm16-prfsha256-ecp256", "aes256gcm16"
	cfg := netnstest.CharonConfig{Local: "10.0.0.2", Remote: "%any", RemoteID: "192.168.100.2", PSK: psk,
		IKEProposal: ike, ESPProposal: esp, LocalTS: lanB.String(), RemoteTS: lanA.String()}
	netnstest.StartCharon(t, gwB, cfg)
	conn := connection(t, ike, esp, ikev2.ModeInitiatorOnly)
	tp := &topology{gwA: gwA, gwB: gwB, hostA: hostA, hostB: hostB}
	gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("192.168.100.2"), conn, time.Second)
	waitConnected(t, gw, 15*time.Second)
	sa := gw.IKE().Status()[0].IKESAs[0]
	if !sa.BehindNAT || sa.Local.Port() != 4500 || sa.Remote.Port() != 4500 {
		t.Fatalf("the IKE SA did not float to 4500 behind the NAT: %+v", sa)
	}
	ping(t, hostA, "10.2.0.2")
	ping(t, hostB, "10.1.0.2")
	// Behind the NAT, vnetgw keeps the mapping open (RFC 3948 §4).
	deadline := time.Now().Add(15 * time.Second)
	for gw.UDP().Stats().KeepalivesSent == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no NAT-keepalive sent from behind the NAT")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRawESPRFC4303: two vnetgw gateways with RawESP and no NAT between
// them carry ESP as IP protocol 50, not in UDP: the receiving namespace's
// firewall counts protocol 50 packets and no UDP to port 4500.
func TestRawESPRFC4303(t *testing.T) {
	netnstest.Require(t, "iperf3", "ping", "nft")
	tp := newTopology(t)
	// Count what reaches gwB's input hook from gwA, by protocol.
	tp.gwB.Run("nft", "add table inet c; add chain inet c in { type filter hook input priority 0; }; "+
		"add rule inet c in ip saddr 10.0.0.1 meta l4proto esp counter; "+
		"add rule inet c in ip saddr 10.0.0.1 udp dport 4500 counter")
	conn := func(name, remote string, routes netip.Prefix) gateway.Connection {
		return gateway.Connection{Peer: ikev2.PeerConfig{Name: name, Remote: netip.MustParseAddrPort(remote + ":500"), PSK: ikev2.PSK(psk)},
			Routes: []netip.Prefix{routes}}
	}
	gwA := startGateway(t, tp.gwA, gateway.Options{Local: netip.MustParseAddr("10.0.0.1"), RawESP: true}, conn("to-b", "10.0.0.2", lanB))
	gwB := startGateway(t, tp.gwB, gateway.Options{Local: netip.MustParseAddr("10.0.0.2"), RawESP: true}, conn("to-a", "10.0.0.1", lanA))
	for _, gw := range []*gateway.Gateway{gwA, gwB} {
		st := waitConnected(t, gw, 15*time.Second)
		if len(st.Children) == 0 || st.Children[0].Encap {
			t.Fatalf("%s: children %+v, want ESP without UDP", st.Name, st.Children)
		}
	}
	ping(t, tp.hostA, "10.2.0.2")
	ping(t, tp.hostB, "10.1.0.2")
	t.Logf("iperf3 over raw ESP: A→B %.0f Mbit/s, B→A %.0f Mbit/s", iperf(t, tp, 3, false), iperf(t, tp, 3, true))

	counts := nftCounters(t, tp.gwB, "inet", "c", "in")
	if len(counts) != 2 || counts[0] < 1000 || counts[1] != 0 {
		t.Fatalf("gwB counted [protocol 50, UDP 4500] = %v packets from gwA; want many and none", counts)
	}
	if d := gwB.UDP().Stats().Drops; d.Malformed != 0 || d.NoHandler != 0 {
		t.Fatalf("gwB dropped %+v", d)
	}
}

// TestStrongSwanIPv6: the same tunnel with strongSwan over IPv6 outer
// addresses, carrying IPv4 and IPv6 between the hosts (RFC 7296 §3.13.1
// selectors of both families in one child SA).
func TestStrongSwanIPv6(t *testing.T) {
	netnstest.RequireStrongSwan(t, "ping")
	tp := &topology{gwA: netnstest.New(t, "gwa"), gwB: netnstest.New(t, "gwb"), hostA: netnstest.New(t, "ha"), hostB: netnstest.New(t, "hb")}
	ifA, ifB := netnstest.Link(t, tp.gwA, "", tp.gwB, "")
	tp.gwA.Run("ip", "addr", "add", "fd00::1/64", "dev", ifA, "nodad")
	tp.gwB.Run("ip", "addr", "add", "fd00::2/64", "dev", ifB, "nodad")
	for _, s := range []struct {
		host, gw        *netnstest.NS
		host4, gw4      string
		host6, gw6, via string
	}{
		{tp.hostA, tp.gwA, "10.1.0.2/16", "10.1.0.1/16", "fd01::2/64", "fd01::1/64", "fd01::1"},
		{tp.hostB, tp.gwB, "10.2.0.2/16", "10.2.0.1/16", "fd02::2/64", "fd02::1/64", "fd02::1"},
	} {
		hIf, gIf := netnstest.Link(t, s.host, s.host4, s.gw, s.gw4)
		s.host.Run("ip", "addr", "add", s.host6, "dev", hIf, "nodad")
		s.gw.Run("ip", "addr", "add", s.gw6, "dev", gIf, "nodad")
		s.host.Run("ip", "route", "add", "default", "via", strings.TrimSuffix(s.gw4, "/16"))
		s.host.Run("ip", "-6", "route", "add", "default", "via", s.via)
		s.gw.Forward()
		s.gw.Run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	}
	lanA6, lanB6 := netip.MustParsePrefix("fd01::/64"), netip.MustParsePrefix("fd02::/64")
	ike, esp := "aes256gcm16-prfsha256-ecp256", "aes256gcm16"
	ch := netnstest.StartCharon(t, tp.gwB, netnstest.CharonConfig{Local: "fd00::2", Remote: "fd00::1", PSK: psk,
		IKEProposal: ike, ESPProposal: esp, LocalTS: lanB.String() + "," + lanB6.String(), RemoteTS: lanA.String() + "," + lanA6.String()})
	conn := connection(t, ike, esp, ikev2.ModeInitiatorOnly)
	conn.Peer.Remote = netip.MustParseAddrPort("[fd00::2]:500")
	conn.Routes = []netip.Prefix{lanB, lanB6}
	gw := startVnetgw(t, tp.gwA, netip.MustParseAddr("fd00::1"), conn)
	st := waitConnected(t, gw, 15*time.Second)
	if sa := gw.IKE().Status()[0].IKESAs[0]; !sa.Remote.Addr().Is6() {
		t.Fatalf("IKE SA with %v, want the IPv6 peer", sa.Remote)
	}
	if c := st.Children[0]; len(c.LocalTS) != 2 || len(c.RemoteTS) != 2 {
		t.Fatalf("child selectors %v === %v, want both families", c.LocalTS, c.RemoteTS)
	}
	if _, err := ch.WaitSAs(10*time.Second, "fd00::2", "fd00::1", "INSTALLED"); err != nil {
		t.Fatal(err)
	}
	ping(t, tp.hostA, "10.2.0.2")
	ping(t, tp.hostB, "10.1.0.2")
	ping(t, tp.hostA, "fd02::2")
	ping(t, tp.hostB, "fd01::2")
}

// recovered reports whether a transfer of per-second rates per, of rate
// on average, came back after its rekeys: one of its last three seconds
// reaches a third of the average. A rekey gone wrong holds it low to the
// end; a loaded machine may slow a second or two of it (CI's did to 26,
// 73 and 57 of 191 Mbit/s), and TCP's recovery from one lost burst too.
func recovered(per []float64, rate float64) bool {
	n := len(per)
	return n >= 3 && max(per[n-1], per[n-2], per[n-3]) >= rate/3
}
