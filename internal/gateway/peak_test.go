package gateway_test

import (
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/peakrate"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
)

// roadWarriorConf is strongSwan's swanctl.conf for a point-to-site client
// of the gateway at gw, as the VPN client package writes it: a
// certificate, a virtual IP and one child SA to the VNet.
func roadWarriorConf(gw string, vnet netip.Prefix) string {
	return fmt.Sprintf(`connections {
  rw {
    version = 2
    remote_addrs = %[1]s
    vips = 0.0.0.0
    local {
      auth = pubkey
      certs = client.pem
    }
    remote {
      auth = pubkey
      id = %[1]s
      cacerts = ca.pem
    }
    children {
      net {
        remote_ts = %[2]s
      }
    }
  }
}
`, gw, vnet)
}

// clientsGateway is a gateway in a namespace of its own that serves
// point-to-site clients over IKEv2, with the VNet on a sink, and the
// namespaces its clients connect from:
//
//	busy 10.0.0.2 ══ 10.0.0.1 gw (vnetgw, VNet 10.1.0.0/16) ══ 10.0.1.1 ══ 10.0.1.2 idle
type clientsGateway struct {
	gw         *gateway.Gateway
	inner      *tuntest.Device
	busy, idle *netnstest.NS
	addr       netip.Addr
	ca, root   *pkitest.Cert
}

var (
	peakVNet = netip.MustParsePrefix("10.1.0.0/16")
	vnetHost = netip.MustParseAddr("10.1.0.9")
)

func startClientsGateway(t *testing.T) *clientsGateway {
	t.Helper()
	netnstest.RequireStrongSwan(t)
	g := &clientsGateway{busy: netnstest.New(t, "pkbusy"), idle: netnstest.New(t, "pkidle"), addr: netip.MustParseAddr("10.0.0.1"),
		ca: pkitest.Issue(t, "peak ca", true, nil), root: pkitest.Issue(t, "peak root", true, nil), inner: tuntest.NewSink(64)}
	gwNS := netnstest.New(t, "pkgw")
	netnstest.Link(t, g.busy, "10.0.0.2/24", gwNS, "10.0.0.1/24")
	netnstest.Link(t, g.idle, "10.0.1.2/24", gwNS, "10.0.1.1/24")
	g.idle.Run("ip", "route", "add", "default", "via", "10.0.1.1")
	if err := gwNS.Do(func() (err error) {
		g.gw, err = gateway.Start(gateway.Options{Local: g.addr, Inner: g.inner, Logger: testLogger(t)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.gw.Close() })
	gwCert := pkitest.Issue(t, "peak gw", false, g.ca, g.addr)
	if err := g.gw.SetClients(&ikev2.Clients{Cert: gwCert.TLS(), Roots: []*x509.Certificate{g.root.Certificate},
		Pool: netip.MustParsePrefix("172.16.201.0/25"), Routes: []netip.Prefix{peakVNet}, MaxClients: 10}); err != nil {
		t.Fatal(err)
	}
	return g
}

// connect connects strongSwan in ns as a client with a certificate of
// common name cn, and returns how the gateway lists it.
func (g *clientsGateway) connect(t *testing.T, ns *netnstest.NS, cn string) gateway.ClientStatus {
	t.Helper()
	pemOf := func(c *pkitest.Cert) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) }
	c := pkitest.Issue(t, cn, false, g.root)
	keyDER, err := x509.MarshalECPrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	ch := netnstest.StartCharon(t, ns, netnstest.CharonConfig{Swanctl: roadWarriorConf(g.addr.String(), peakVNet), Files: map[string][]byte{
		"x509/client.pem": pemOf(c), "private/client.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"x509ca/ca.pem": pemOf(g.ca)}})
	if out, err := ch.Initiate(); err != nil {
		t.Fatalf("strongSwan (%s) did not connect: %v\n%s", cn, err, out)
	}
	return g.client(t, cn)
}

// client returns the client of common name cn as the gateway lists it.
func (g *clientsGateway) client(t *testing.T, cn string) gateway.ClientStatus {
	t.Helper()
	for _, c := range g.gw.Clients() {
		if c.Subject == cn {
			return c
		}
	}
	t.Fatalf("client %s is not listed: %+v", cn, g.gw.Clients())
	return gateway.ClientStatus{}
}

// toClient sends n packets of payload bytes from the VNet to the client
// cn at addr, and waits until the gateway counted them sent, beyond the
// counted it had sent before; it returns when they were.
func (g *clientsGateway) toClient(t *testing.T, cn string, addr netip.Addr, n int, payload int, counted uint64) time.Time {
	t.Helper()
	for range n {
		g.inner.Send(udp4(vnetHost, addr, 9, 7000, payload))
	}
	for deadline := time.Now().Add(10 * time.Second); g.client(t, cn).PacketsOut < counted+uint64(n); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway counted %d packets sent to %s, want %d", g.client(t, cn).PacketsOut, cn, counted+uint64(n))
		}
	}
	return time.Now()
}

// listen opens a UDP socket at the client's address addr, port 7000, in
// its namespace ns, where the VNet's packets go: without one, each would
// be answered with an ICMP error. got tells, once nothing came for 3 s,
// how many did.
func listen(t *testing.T, ns *netnstest.NS, addr netip.Addr) (conn *net.UDPConn, got <-chan int) {
	t.Helper()
	if err := ns.Do(func() (err error) {
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 7000)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := make(chan int, 1)
	go func() {
		buf, count := make([]byte, 2048), 0
		for {
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := conn.Read(buf); err != nil {
				n <- count
				return
			}
			count++
		}
	}()
	return conn, n
}

// TestIKEv2ClientPeakRate: the gateway's point-to-site clients over IKEv2
// (getVpnClientConnectionHealth's maxBandwidth and maxPacketsPerSecond)
// show a client's highest rate over a second, both ways together.
// strongSwan as a road warrior sends a burst of UDP to the VNet and is
// sent one back: its peak is at least what the gateway counted of the
// burst, when the burst took under a second less a sampling tick, and
// never more than the client's traffic in all. Another strongSwan,
// connected and silent, shows none.
func TestIKEv2ClientPeakRate(t *testing.T) {
	g := startClientsGateway(t)
	busy := g.connect(t, g.busy, "busy")
	g.connect(t, g.idle, "idle")

	conn, got := listen(t, g.busy, busy.Addr)
	const n, payload = 200, 400
	size := payload + 28 // IPv4 and UDP headers
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(vnetHost, 9))
	start := time.Now()
	for range n {
		if _, err := conn.WriteToUDP(make([]byte, payload), to); err != nil {
			t.Fatal(err)
		}
		g.inner.Send(udp4(vnetHost, busy.Addr, 9, 7000, payload))
	}
	var took time.Duration
	var last uint64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c := g.client(t, "busy")
		if c.PacketsIn+c.PacketsOut != last {
			last, took = c.PacketsIn+c.PacketsOut, time.Since(start)
		}
		if c.PacketsIn >= n && c.PacketsOut >= n || time.Now().After(deadline) {
			break
		}
	}
	received := <-got
	c := g.client(t, "busy")
	t.Logf("burst of %d packets of %d bytes each way: the gateway counted %d in, %d out in %v; the client received %d", n, size, c.PacketsIn, c.PacketsOut, took, received)
	if c.PacketsIn == 0 || c.PacketsOut == 0 {
		t.Fatalf("the burst did not pass: %+v", c)
	}
	// What the gateway counted of a burst that took less than a second
	// but a tick falls in one window whole; one that took longer (a slow
	// machine) may fall in parts.
	wantPPS, wantBytes := c.PacketsIn+c.PacketsOut, c.BytesIn+c.BytesOut
	if took > time.Second-peakrate.Tick {
		t.Logf("the burst took %v: only some of it is sure to fall in one window", took)
		wantPPS, wantBytes = 1, 1
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p := g.client(t, "busy").Peak
		if p.PacketsPerSecond >= wantPPS && p.BytesPerSecond >= wantBytes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peak %+v, want at least %d packets and %d bytes per second", p, wantPPS, wantBytes)
		}
	}
	time.Sleep(time.Second) // a few more ticks: the peak stays
	c = g.client(t, "busy")
	t.Logf("peak %d packets/s, %d bytes/s", c.Peak.PacketsPerSecond, c.Peak.BytesPerSecond)
	if c.Peak.PacketsPerSecond < wantPPS || c.Peak.BytesPerSecond < wantBytes {
		t.Errorf("the peak went down: %+v", c.Peak)
	}
	if c.Peak.PacketsPerSecond > c.PacketsIn+c.PacketsOut || c.Peak.BytesPerSecond > c.BytesIn+c.BytesOut {
		t.Errorf("peak %+v is more than the client's traffic in all (%d packets, %d bytes)", c.Peak, c.PacketsIn+c.PacketsOut, c.BytesIn+c.BytesOut)
	}
	if c := g.client(t, "idle"); c.Peak != (peakrate.Peak{}) {
		t.Errorf("an idle client's peak: %+v (traffic %d/%d packets)", c.Peak, c.PacketsIn, c.PacketsOut)
	}
}

// TestIKEv2ClientPeakRateLateSample: two bursts to a client more than a
// second apart are not taken for one second's traffic when the counters
// are sampled late (here the gateway's lock is held meanwhile, as a long
// reconfiguration holds it): the sample's time is when the counters were
// read. It was the tick's, before the wait, so that both bursts counted
// as within the second before it, a peak of twice what any second saw.
func TestIKEv2ClientPeakRateLateSample(t *testing.T) {
	g := startClientsGateway(t)
	c := g.connect(t, g.busy, "busy")
	listen(t, g.busy, c.Addr)
	time.Sleep(2 * peakrate.Tick) // sampled a few times

	const n, payload = 100, 400
	release := g.gw.HoldClients()
	first := g.toClient(t, "busy", c.Addr, n, payload, 0)
	time.Sleep(1500 * time.Millisecond)
	second := g.toClient(t, "busy", c.Addr, n, payload, n)
	release()
	for deadline := time.Now().Add(10 * time.Second); g.client(t, "busy").Peak.PacketsPerSecond == 0 && time.Now().Before(deadline); {
		time.Sleep(peakrate.Tick)
	}
	time.Sleep(4 * peakrate.Tick) // sampled again, a few times
	c = g.client(t, "busy")
	t.Logf("two bursts of %d packets %v apart: peak %d packets/s, %d bytes/s", n, second.Sub(first), c.Peak.PacketsPerSecond, c.Peak.BytesPerSecond)
	if c.Peak.PacketsPerSecond == 0 {
		t.Errorf("no peak after %d packets", c.PacketsOut)
	}
	if all, bytes := c.PacketsIn+c.PacketsOut, c.BytesIn+c.BytesOut; c.Peak.PacketsPerSecond >= all || c.Peak.BytesPerSecond >= bytes {
		t.Errorf("peak %+v: both bursts, more than a second apart (%d packets, %d bytes in all), counted as within one second", c.Peak, all, bytes)
	}
}

// udp4 is an IPv4 UDP packet from src:sport to dst:dport with payload
// bytes of zeros (no UDP checksum, RFC 768).
func udp4(src, dst netip.Addr, sport, dport uint16, payload int) []byte {
	p := ipv4(src, dst, 28+payload)
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	binary.BigEndian.PutUint16(p[24:], uint16(8+payload))
	return p
}
