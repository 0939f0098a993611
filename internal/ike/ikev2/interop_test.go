package ikev2

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// udpTransport is a minimal UDP transport for the interop tests: one
// socket on port 500 and one on 4500, the latter with the non-ESP marker
// (RFC 3948 §2.2). ESP that arrives is counted and dropped. The production
// transport is internal/udp.
type udpTransport struct {
	conns map[uint16]*net.UDPConn
	m     atomic.Pointer[Manager]
	esp   atomic.Uint64
	wg    sync.WaitGroup
}

func listenUDP(t *testing.T, ns *netnstest.NS, addr netip.Addr) *udpTransport {
	t.Helper()
	u := &udpTransport{conns: map[uint16]*net.UDPConn{}}
	err := ns.Do(func() error {
		for _, port := range []uint16{DefaultIKEPort, DefaultNATTPort} {
			c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, port)))
			if err != nil {
				return err
			}
			u.conns[port] = c
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for port, c := range u.conns {
		u.wg.Add(1)
		go u.read(netip.AddrPortFrom(addr, port), c)
	}
	t.Cleanup(func() {
		for _, c := range u.conns {
			c.Close()
		}
		u.wg.Wait()
	})
	return u
}

func (u *udpTransport) read(local netip.AddrPort, c *net.UDPConn) {
	defer u.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		msg := buf[:n]
		if local.Port() == DefaultNATTPort && !(n == 1 && msg[0] == 0xff) {
			if n < 4 || !bytes.Equal(msg[:4], []byte{0, 0, 0, 0}) {
				u.esp.Add(1)
				continue
			}
			msg = msg[4:]
		}
		if m := u.m.Load(); m != nil {
			m.HandlePacket(local, from, msg)
		}
	}
}

func (u *udpTransport) SendIKE(local, remote netip.AddrPort, msg []byte) error {
	c, ok := u.conns[local.Port()]
	if !ok {
		return fmt.Errorf("no socket on %v", local)
	}
	if local.Port() == DefaultNATTPort {
		msg = append([]byte{0, 0, 0, 0}, msg...)
	}
	_, err := c.WriteToUDPAddrPort(msg, remote)
	return err
}

// interop is vnetgw in one namespace and strongSwan's charon in another.
type interop struct {
	t          *testing.T
	vg, sw     *netnstest.NS
	m          *Manager
	dp         *recordingDataplane
	charon     *netnstest.Charon
	charonCfg  netnstest.CharonConfig
	keysLog    string
	vgAddr     netip.Addr
	swAddr     netip.Addr
	peer       PeerConfig
	extraConn  string
	extraChild string
}

// recordingDataplane is fakeDataplane keeping every child ever installed.
type recordingDataplane struct {
	fakeDataplane
	all []ipsec.Child
}

func (d *recordingDataplane) InstallChild(c ipsec.Child) error {
	d.mu.Lock()
	d.all = append(d.all, c)
	d.mu.Unlock()
	return d.fakeDataplane.InstallChild(c)
}

func (d *recordingDataplane) history() []ipsec.Child {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ipsec.Child(nil), d.all...)
}

const interopPSK = "interop-psk-0123456789"

// newInterop builds the namespaces and the vnetgw side; startCharon starts
// strongSwan.
func newInterop(t *testing.T, ike, espProposal string, adj func(*PeerConfig)) *interop {
	netnstest.RequireStrongSwan(t)
	checkLeaks(t)
	x := &interop{t: t, vgAddr: netip.MustParseAddr("10.0.0.1"), swAddr: netip.MustParseAddr("10.0.0.2")}
	x.vg, x.sw = netnstest.New(t, "vg"), netnstest.New(t, "sw")
	netnstest.Link(t, x.vg, "10.0.0.1/24", x.sw, "10.0.0.2/24")
	x.sw.Run("ip", "addr", "add", "10.2.0.1/32", "dev", "lo")
	u := listenUDP(t, x.vg, x.vgAddr)
	x.dp = &recordingDataplane{fakeDataplane: *newFakeDataplane()}
	m, err := New(Config{Logger: testLogger(t, "vnetgw"), Transport: u, Dataplane: x.dp})
	if err != nil {
		t.Fatal(err)
	}
	u.m.Store(m)
	x.m = m
	t.Cleanup(func() { m.Close() })
	x.peer = PeerConfig{
		Name:              "sw",
		Local:             netip.AddrPortFrom(x.vgAddr, 500),
		Remote:            netip.AddrPortFrom(x.swAddr, 500),
		PSK:               PSK(interopPSK),
		IKEProposals:      mustProposals(t, wire.ProtocolIKE, ike),
		ESPProposals:      mustProposals(t, wire.ProtocolESP, espProposal),
		Mode:              ModeResponderOnly,
		RetransmitTimeout: 500 * time.Millisecond,
		RetransmitTries:   3,
		DPDInterval:       -1,
	}
	if adj != nil {
		adj(&x.peer)
	}
	x.keysLog = filepath.Join(t.TempDir(), "keys.log")
	x.charonCfg = netnstest.CharonConfig{
		Local: "10.0.0.2", Remote: "10.0.0.1", PSK: interopPSK,
		IKEProposal: ike, ESPProposal: espProposal,
		LocalTS: "10.2.0.0/16", RemoteTS: "10.1.0.0/16",
		LogLevelIKE: 4,
		// A second logger with the child SA keys (chd level 4).
		CharonExtra: "  filelog {\n    keys {\n      path = " + x.keysLog +
			"\n      default = 0\n      chd = 4\n      ike = 4\n      flush_line = yes\n    }\n  }\n",
	}
	return x
}

func (x *interop) startCharon() {
	x.t.Helper()
	x.charonCfg.ConnExtra, x.charonCfg.ChildExtra = x.extraConn, x.extraChild
	x.charon = netnstest.StartCharon(x.t, x.sw, x.charonCfg)
}

func (x *interop) reconfig() {
	x.t.Helper()
	if err := x.m.Reconfig([]PeerConfig{x.peer}); err != nil && !errors.Is(err, ErrNoChanges) {
		x.t.Fatal(err)
	}
}

// status returns vnetgw's view of the peer.
func (x *interop) status() PeerStatus {
	for _, s := range x.m.Status() {
		if s.Name == x.peer.Name {
			return s
		}
	}
	return PeerStatus{}
}

// waitEstablished waits until vnetgw has one established IKE SA with
// children child SAs and strongSwan lists it with them.
func (x *interop) waitEstablished(children int) IKESAStatus {
	x.t.Helper()
	var sa IKESAStatus
	waitFor(x.t, 20*time.Second, "vnetgw's IKE SA", func() bool {
		for _, s := range x.status().IKESAs {
			if s.State == "established" && len(s.Children) == children {
				sa = s
				return true
			}
		}
		return false
	})
	want := []string{"ESTABLISHED", fmt.Sprintf("%016x_i", sa.SPIi), fmt.Sprintf("%016x_r", sa.SPIr)}
	for _, ch := range sa.Children {
		// strongSwan's inbound SPI is our outbound one.
		want = append(want, "INSTALLED", fmt.Sprintf("in  %08x", ch.OutSPI), fmt.Sprintf("out %08x", ch.InSPI))
	}
	if out, err := x.charon.WaitSAs(10*time.Second, want...); err != nil {
		x.t.Fatalf("%v\nvnetgw: %+v", err, x.status())
	} else {
		x.t.Logf("swanctl --list-sas:\n%s", out)
	}
	return sa
}

// swanAlgorithms maps our proposal names to what swanctl --list-sas prints.
func swanAlgorithms(proposal string) []string {
	var out []string
	for _, w := range strings.Split(proposal, "-") {
		switch w {
		case "aes128gcm16":
			out = append(out, "AES_GCM_16-128")
		case "aes256gcm16":
			out = append(out, "AES_GCM_16-256")
		case "aes128":
			out = append(out, "AES_CBC-128")
		case "aes256":
			out = append(out, "AES_CBC-256")
		case "sha1":
			out = append(out, "HMAC_SHA1_96")
		case "sha256":
			out = append(out, "HMAC_SHA2_256_128")
		case "prfsha256":
			out = append(out, "PRF_HMAC_SHA2_256")
		case "prfsha384":
			out = append(out, "PRF_HMAC_SHA2_384")
		case "ecp256":
			out = append(out, "ECP_256")
		case "ecp384":
			out = append(out, "ECP_384")
		case "modp2048":
			out = append(out, "MODP_2048")
		case "x25519":
			out = append(out, "CURVE_25519")
		}
	}
	return out
}

// loggedKeys are the child SA keys charon logged for one pair.
type loggedKeys struct{ encrI, encrR, integI, integR []byte }

// charonKeys parses the child SA keys out of charon's level 4 log.
func (x *interop) charonKeys() []loggedKeys {
	x.t.Helper()
	f, err := os.Open(x.keysLog)
	if err != nil {
		x.t.Fatal(err)
	}
	defer f.Close()
	head := regexp.MustCompile(`\[(?:CHD|IKE)\] (.+) => (\d+) bytes @ 0x[0-9a-f]+$`)
	line := regexp.MustCompile(`\[(?:CHD|IKE)\]\s+\d+: ((?:[0-9A-F]{2} )+)`)
	var out []loggedKeys
	var cur *[]byte
	var want int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := head.FindStringSubmatch(sc.Text()); m != nil {
			cur = nil
			want, _ = strconv.Atoi(m[2])
			var k *loggedKeys
			switch m[1] {
			case "encryption initiator key":
				out = append(out, loggedKeys{})
				k = &out[len(out)-1]
				cur = &k.encrI
			case "encryption responder key", "integrity initiator key", "integrity responder key":
				if len(out) == 0 {
					continue
				}
				k = &out[len(out)-1]
				switch m[1] {
				case "encryption responder key":
					cur = &k.encrR
				case "integrity initiator key":
					cur = &k.integI
				default:
					cur = &k.integR
				}
			}
			continue
		}
		if m := line.FindStringSubmatch(sc.Text()); m != nil && cur != nil && len(*cur) < want {
			b, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", ""))
			if err == nil {
				*cur = append(*cur, b...)
			}
			continue
		}
		cur = nil
	}
	return out
}

// checkKeys checks that every child SA vnetgw installed has the keys
// strongSwan derived: a packet sealed with vnetgw's outbound SA opens with
// an SA keyed from charon's log, and the reverse.
func (x *interop) checkKeys() {
	x.t.Helper()
	logged := x.charonKeys()
	if len(logged) == 0 {
		x.t.Fatalf("charon logged no child SA keys")
	}
	if h := x.dp.history(); len(h) > 0 {
		wrong := h[0].Out
		wrong.Keys = esp.NewKeys(make([]byte, len(logged[0].encrI)), make([]byte, len(logged[0].integI)))
		if opens(h[0].Out, wrong) {
			x.t.Fatalf("the key comparison cannot fail")
		}
	}
	for _, c := range x.dp.history() {
		found := false
		for _, k := range logged {
			// Either side may have initiated the pair.
			for _, dir := range [][2][2][]byte{
				{{k.encrI, k.integI}, {k.encrR, k.integR}}, // vnetgw initiated
				{{k.encrR, k.integR}, {k.encrI, k.integI}}, // strongSwan initiated
			} {
				theirIn := c.Out
				theirIn.Keys = esp.NewKeys(dir[0][0], dir[0][1])
				theirOut := c.In
				theirOut.Keys = esp.NewKeys(dir[1][0], dir[1][1])
				if opens(c.Out, theirIn) && opens(theirOut, c.In) {
					found = true
				}
			}
		}
		if !found {
			x.t.Errorf("child SA %08x/%08x: no keys charon logged match vnetgw's", c.In.SPI, c.Out.SPI)
		}
	}
	x.t.Logf("%d child SAs checked against %d key sets charon logged", len(x.dp.history()), len(logged))
}

// opens reports whether what out seals, in opens.
func opens(out, in esp.Config) bool {
	so, err1 := esp.New(out)
	si, err2 := esp.New(in)
	if err1 != nil || err2 != nil {
		return false
	}
	inner := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1}
	buf := make([]byte, esp.Headroom+len(inner)+esp.Tailroom)
	copy(buf[esp.Headroom:], inner)
	pkt, err := so.Seal(buf, len(inner), 4)
	if err != nil {
		return false
	}
	got, _, err := si.Open(pkt)
	return err == nil && bytes.Equal(got, inner)
}

// TestInteropEstablish covers IKE_SA_INIT, IKE_AUTH and the first child SA
// (RFC 7296 §1.2) against strongSwan 5.9.8, with each suite, vnetgw as
// responder and as initiator. kernel-libipsec makes strongSwan fake a NAT,
// so this also covers NAT detection and the float to port 4500 (§2.23).
func TestInteropEstablish(t *testing.T) {
	for _, s := range suites {
		for _, initiator := range []bool{false, true} {
			role := "responder"
			if initiator {
				role = "initiator"
			}
			t.Run("1.2 "+role+" "+s.ike, func(t *testing.T) {
				x := newInterop(t, s.ike, s.esp, nil)
				if initiator {
					x.peer.Mode = ModeInitiatorOnly
				}
				x.startCharon()
				x.reconfig()
				if !initiator {
					if out, err := x.charon.Initiate(); err != nil {
						t.Fatalf("swanctl --initiate: %v\n%s", err, out)
					}
				}
				sa := x.waitEstablished(1)
				out := x.charon.SAs()
				for _, alg := range swanAlgorithms(s.ike) {
					if !strings.Contains(out, alg) {
						t.Errorf("swanctl --list-sas lacks %s", alg)
					}
				}
				// The child SA of IKE_AUTH has no PFS group (RFC 7296 §1.2).
				esp := "ESP:" + strings.Join(swanAlgorithms(s.esp[:strings.LastIndex(s.esp, "-")]), "/")
				if !strings.Contains(out, esp) {
					t.Errorf("swanctl --list-sas lacks %s", esp)
				}
				if sa.Initiator != initiator || !sa.NATRemote || sa.Local.Port() != 4500 || !sa.Children[0].Encap {
					t.Errorf("vnetgw's IKE SA: %+v", sa)
				}
				if got := sa.Children[0]; len(got.LocalTS) != 1 || got.LocalTS[0] != netip.MustParsePrefix("10.1.0.0/16") ||
					len(got.RemoteTS) != 1 || got.RemoteTS[0] != netip.MustParsePrefix("10.2.0.0/16") {
					t.Errorf("narrowed selectors %v <-> %v", got.LocalTS, got.RemoteTS)
				}
				x.checkKeys()
			})
		}
	}
}

// TestInteropRekey covers child SA rekeying with PFS (RFC 7296 §1.3.3,
// §2.17) and IKE SA rekeying (§1.3.2, §2.18) against strongSwan, started
// by either side: strongSwan lists the new SPIs, the old SAs are gone and
// every child SA vnetgw installed has the keys strongSwan derived.
func TestInteropRekey(t *testing.T) {
	s := suites[0]
	for _, by := range []string{"strongswan", "vnetgw"} {
		t.Run("2.18 rekeyed by "+by, func(t *testing.T) {
			x := newInterop(t, s.ike, s.esp, nil)
			if by == "strongswan" {
				x.extraConn = "    rekey_time = 6s\n    over_time = 60s\n    rand_time = 0s\n"
				x.extraChild = "        rekey_time = 3s\n        life_time = 60s\n        rand_time = 0s\n"
			} else {
				x.peer.ChildLifetime, x.peer.IKELifetime = 5*time.Second, 9*time.Second
				x.peer.RekeyMargin, x.peer.RekeyJitter = 2*time.Second, 500*time.Millisecond
			}
			x.startCharon()
			x.reconfig()
			if out, err := x.charon.Initiate(); err != nil {
				t.Fatalf("swanctl --initiate: %v\n%s", err, out)
			}
			first := x.waitEstablished(1)
			waitFor(t, 30*time.Second, "a rekeyed IKE SA with a rekeyed child SA", func() bool {
				for _, sa := range x.status().IKESAs {
					if sa.State == "established" && !sa.LastRekey.IsZero() && len(sa.Children) == 1 && sa.Children[0].Rekeyed {
						return true
					}
				}
				return false
			})
			sa := x.waitEstablished(1)
			if sa.SPIi == first.SPIi || sa.Children[0].InSPI == first.Children[0].InSPI {
				t.Errorf("SPIs unchanged: %+v", sa)
			}
			// The old SAs leave both sides.
			old := fmt.Sprintf("%016x_i", first.SPIi)
			waitFor(t, 10*time.Second, "the old IKE SA to go", func() bool { return !strings.Contains(x.charon.SAs(), old) })
			x.checkKeys()
		})
	}
}

// TestInteropDPD covers liveness checks (RFC 7296 §1.4, §2.4): strongSwan
// is killed, vnetgw's empty INFORMATIONAL requests go unanswered, and the
// IKE SA and its child SA are deleted.
func TestInteropDPD(t *testing.T) {
	s := suites[4]
	x := newInterop(t, s.ike, s.esp, func(p *PeerConfig) {
		p.DPDInterval = time.Second
		p.RetransmitTimeout = 200 * time.Millisecond
		p.RetransmitTries = 2
	})
	x.startCharon()
	x.reconfig()
	if out, err := x.charon.Initiate(); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s", err, out)
	}
	x.waitEstablished(1)
	// DPD requests are answered while strongSwan lives.
	time.Sleep(2500 * time.Millisecond)
	if st := x.status(); st.State != "established" {
		t.Fatalf("IKE SA lost while the peer lives: %+v", st)
	}
	x.charon.Kill()
	waitFor(t, 10*time.Second, "the dead peer's SAs to go", func() bool {
		return x.status().State == "down" && x.dp.count() == 0
	})
	if st := x.status(); !strings.Contains(st.LastError, "the peer did not answer the liveness check (DPD) for ") {
		t.Errorf("last error %q", st.LastError)
	}
}

// TestInteropInitialContact covers INITIAL_CONTACT (RFC 7296 §2.4): a
// restarted strongSwan's new IKE SA replaces the stale one vnetgw kept.
func TestInteropInitialContact(t *testing.T) {
	s := suites[2]
	x := newInterop(t, s.ike, s.esp, nil)
	x.startCharon()
	x.reconfig()
	if out, err := x.charon.Initiate(); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s", err, out)
	}
	stale := x.waitEstablished(1)
	x.charon.Kill()
	x.startCharon()
	if out, err := x.charon.Initiate(); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s", err, out)
	}
	waitFor(t, 20*time.Second, "only the new IKE SA", func() bool {
		sas := x.status().IKESAs
		return len(sas) == 1 && sas[0].State == "established" && sas[0].SPIi != stale.SPIi && x.dp.count() == 1
	})
	x.waitEstablished(1)
	if !strings.Contains(x.charon.Log(), "N(INIT_CONTACT)") {
		t.Errorf("charon did not send INITIAL_CONTACT")
	}
	x.checkKeys()
}

// TestInteropFragmentation covers IKE fragmentation (RFC 7383) against
// strongSwan: with small fragment sizes on both sides, IKE_AUTH and the
// CREATE_CHILD_SA exchanges travel in fragments both ways.
func TestInteropFragmentation(t *testing.T) {
	s := suites[2] // MODP: the largest messages
	for _, initiator := range []bool{false, true} {
		role := "responder"
		if initiator {
			role = "initiator"
		}
		t.Run("7383 "+role, func(t *testing.T) {
			x := newInterop(t, s.ike, s.esp, func(p *PeerConfig) { p.FragmentSize = 300 })
			x.charonCfg.CharonExtra += "  fragment_size = 300\n"
			if initiator {
				x.peer.Mode = ModeInitiatorOnly
			}
			x.startCharon()
			x.reconfig()
			if !initiator {
				if out, err := x.charon.Initiate(); err != nil {
					t.Fatalf("swanctl --initiate: %v\n%s", err, out)
				}
			}
			sa := x.waitEstablished(1)
			x.m.SoftExpired(x.peer.Name, sa.Children[0].InSPI)
			waitFor(t, 10*time.Second, "the rekeyed child SA", func() bool {
				for _, sa := range x.status().IKESAs {
					if sa.State == "established" && len(sa.Children) == 1 && sa.Children[0].Rekeyed {
						return true
					}
				}
				return false
			})
			x.waitEstablished(1)
			log := x.charon.Log()
			for _, want := range []string{"received fragment #", "splitting IKE message"} {
				if !strings.Contains(log, want) {
					t.Errorf("charon's log lacks %q", want)
				}
			}
			x.checkKeys()
		})
	}
}

// TestInteropBothInitiate: vnetgw in the Default mode and strongSwan start
// IKE SAs at the same moment. strongSwan announces no settling of
// duplicates (duplicateVendorID), so vnetgw deletes neither of the two;
// strongSwan may delete one by its uniqueness policy (unique = replace,
// when it answers the second IKE_AUTH with its own SA up: 10 s later).
// Either way the two sides never delete both: vnetgw holds an established
// IKE SA with its child SA all along, strongSwan lists every one vnetgw
// holds, and no Delete of vnetgw's reaches strongSwan.
func TestInteropBothInitiate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		unique string
		// hold drops the IKE_SA_INIT requests of both sides (each
		// initiates before it hears of the other), or only vnetgw's until
		// strongSwan's IKE SA is up at vnetgw.
		both bool
		// want is the number of IKE SAs in the end.
		want int
	}{
		{"both at once, unique=no", "no", true, 2},
		{"strongSwan first, unique=replace", "replace", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			netnstest.Require(t, "nft")
			s := suites[0]
			x := newInterop(t, s.ike, s.esp, func(p *PeerConfig) { p.Mode = ModeDefault })
			x.extraConn = "    unique = " + tc.unique + "\n"
			x.charonCfg.CharonExtra += "  retransmit_timeout = 1.0\n"
			x.startCharon()
			// @th,208,8 is the exchange type of the IKE header in UDP,
			// @th,216,8 its flags (RFC 7296 §3.1): IKE_SA_INIT requests.
			initReq := "udp dport 500 @th,208,8 34 @th,216,8 & 0x20 == 0"
			rules := "add table inet hold; add chain inet hold in { type filter hook input priority 0; }; " +
				"add rule inet hold in ip saddr 10.0.0.1 " + initReq + " counter drop"
			if tc.both {
				rules += "; add chain inet hold out { type filter hook output priority 0; }; " +
					"add rule inet hold out ip daddr 10.0.0.1 " + initReq + " counter drop"
			}
			x.sw.Run("nft", rules)
			x.reconfig()
			var initErr error
			initiated := make(chan struct{})
			go func() {
				defer close(initiated)
				_, initErr = x.charon.Initiate()
			}()
			t.Cleanup(func() { <-initiated })
			waitFor(t, 20*time.Second, "the held IKE_SA_INIT requests", func() bool {
				out := x.sw.Run("nft", "list", "table", "inet", "hold")
				if !tc.both {
					return !strings.Contains(out, "packets 0 ") && len(x.established()) == 1
				}
				return strings.Count(out, "counter packets") == 2 && !strings.Contains(out, "packets 0 ")
			})
			x.sw.Run("nft", "delete", "table", "inet", "hold")
			waitFor(t, 20*time.Second, "vnetgw's IKE SA and strongSwan's", func() bool {
				return strings.Count(x.charon.SAs(), "ESTABLISHED") == 2
			})
			// strongSwan's delayed delete comes within 10 s of the
			// second IKE SA; meanwhile and after, vnetgw is never down.
			for end := time.Now().Add(12 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if len(x.established()) == 0 || x.dp.count() == 0 {
					t.Fatalf("vnetgw lost its IKE SAs: %+v", x.status())
				}
			}
			waitFor(t, 10*time.Second, fmt.Sprintf("%d IKE SAs on both sides", tc.want), func() bool {
				return len(x.established()) == tc.want && strings.Count(x.charon.SAs(), "ESTABLISHED") == tc.want && x.dp.count() == tc.want
			})
			out := x.charon.SAs()
			for _, sa := range x.established() {
				for _, want := range []string{fmt.Sprintf("%016x_i", sa.SPIi), fmt.Sprintf("%016x_r", sa.SPIr), fmt.Sprintf("in  %08x", sa.Children[0].OutSPI)} {
					if !strings.Contains(out, want) {
						t.Errorf("strongSwan does not list %s of vnetgw's IKE SA %+v:\n%s", want, sa, out)
					}
				}
			}
			log := x.charon.Log()
			if strings.Contains(log, "received DELETE for IKE_SA") {
				t.Errorf("vnetgw deleted an IKE SA of strongSwan's")
			}
			if deleted := strings.Contains(log, "duplicate IKE_SA"); deleted != (tc.want == 1) {
				t.Errorf("strongSwan deleted a duplicate IKE SA: %v, want %v", deleted, tc.want == 1)
			}
			if <-initiated; initErr != nil {
				t.Errorf("swanctl --initiate: %v", initErr)
			}
		})
	}
}

// established returns vnetgw's established IKE SAs.
func (x *interop) established() []IKESAStatus {
	var out []IKESAStatus
	for _, sa := range x.status().IKESAs {
		if sa.State == "established" {
			out = append(out, sa)
		}
	}
	return out
}

// TestInteropPeerRefusesOurAuth covers RFC 7296 §2.21.2 against
// strongSwan: the initiator that does not accept the responder's
// identity says AUTHENTICATION_FAILED in an INFORMATIONAL request, and
// the IKE SA it had established here goes, its child SA with it, and the
// status says why.
func TestInteropPeerRefusesOurAuth(t *testing.T) {
	s := suites[2]
	x := newInterop(t, s.ike, s.esp, nil)
	x.charonCfg.RemoteID = "@gw.example" // not the address vnetgw names itself by
	x.startCharon()
	x.reconfig()
	if out, err := x.charon.Initiate(); err == nil {
		t.Fatalf("swanctl --initiate succeeded:\n%s", out)
	}
	waitFor(t, 10*time.Second, "charon's AUTHENTICATION_FAILED", func() bool {
		return strings.Contains(x.charon.Log(), "N(AUTH_FAILED)")
	})
	waitFor(t, 10*time.Second, "vnetgw to let go of the IKE SA", func() bool {
		return len(x.status().IKESAs) == 0 && x.dp.count() == 0
	})
	if st := x.status(); !strings.Contains(st.LastError, "AUTHENTICATION_FAILED") {
		t.Errorf("LastError %q does not say the peer refused our authentication", st.LastError)
	}
}
