package dataplane

import (
	"encoding/binary"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// icmpSink is a site's port of a VNet router: it keeps what it is sent.
type icmpSink struct {
	mu   sync.Mutex
	pkts [][]byte
}

func (s *icmpSink) Deliver(pkt []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pkts = append(s.pkts, append([]byte(nil), pkt...))
}

// TestRelayFragmentationNeeded: a gateway's point-to-site server reaches
// its VNet's router through the gateway's relay, which passes a packet
// too long for a client, with Don't Fragment set, to its subnet's
// ingress: the sender gets ICMP Fragmentation Needed with the client's
// MTU (RFC 1191 §4) from the router's address in the gateway's subnet.
func TestRelayFragmentationNeeded(t *testing.T) {
	router := fabric.NewRouter()
	site := &icmpSink{}
	router.SetRoutes([]fabric.Route{{Prefix: netip.MustParsePrefix("10.2.0.0/24"), Port: site}})
	router.SetSubnets(map[string][]netip.Prefix{"vnet/GatewaySubnet": {netip.MustParsePrefix("10.1.255.0/27")}, "vnet/default": {netip.MustParsePrefix("10.1.0.0/24")}})
	r := newRelay(router.Ingress("vnet/GatewaySubnet"))
	pkt := make([]byte, 1600)
	pkt[0], pkt[6], pkt[8], pkt[9] = 0x45, 0x40, 63, 17
	binary.BigEndian.PutUint16(pkt[2:4], uint16(len(pkt)))
	copy(pkt[12:16], netip.MustParseAddr("10.2.0.9").AsSlice())
	copy(pkt[16:20], netip.MustParseAddr("172.16.201.2").AsSlice())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(pkt[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(pkt[10:12], ^uint16(sum))
	r.FragmentationNeeded(pkt, 1400)
	site.mu.Lock()
	defer site.mu.Unlock()
	if len(site.pkts) != 1 {
		t.Fatalf("the sender got %d packets; want one ICMP error", len(site.pkts))
	}
	m := site.pkts[0]
	if len(m) < 28 || netip.AddrFrom4([4]byte(m[12:16])) != netip.MustParseAddr("10.1.255.1") || m[20] != 3 || m[21] != 4 || binary.BigEndian.Uint16(m[26:28]) != 1400 {
		t.Errorf("the sender got % x; want ICMP type 3 code 4, MTU 1400, from 10.1.255.1", m[:min(len(m), 28)])
	}
}

// TestFragmentationNeededThroughTunnelRFC1191 (root): a VM of a VNet (a
// TUN host in a namespace, the kernel's ping) sends, with Don't
// Fragment, a packet longer than the tunnel to a connected site carries
// (another engine's VNet, over IKEv2 and ESP in UDP on loopback): it
// gets ICMP Fragmentation Needed with the tunnel's MTU (RFC 1191 §4,
// RFC 4301 §8.2.1) from the gateway's address in its GatewaySubnet, and
// the drop is counted in the connection's egress drops (its status), as
// too_big in its metrics, and logged. The MTU is the longest packet the tunnel carries whole: a
// packet of that length then crosses, as path MTU discovery expects. With
// AES-GCM (the default ESP proposal) over IPv4 and UDP and an outer MTU
// of 1500, it is 1500 - 20 - 8 - 8 (ESP header) - 8 (IV) - 2 (trailer)
// - 16 (ICV), padded to 4 bytes: 1438.
func TestFragmentationNeededThroughTunnelRFC1191(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	const ike, natt, mtu = 18920, 18921, 1438
	aPub, bPub := netip.MustParseAddr("127.182.1.1"), netip.MustParseAddr("127.182.1.2")
	gwAddr, vm, far := netip.MustParseAddr("10.1.255.4"), netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("10.2.0.4")
	ns := netnstest.New(t, "toobig")
	var aLog logbuf.Buffer
	a := New(Options{IKEPort: ike, NATTPort: natt, Logger: slog.New(slog.NewTextHandler(&aLog, nil))})
	defer a.Close()
	b := New(Options{IKEPort: ike, NATTPort: natt})
	defer b.Close()
	aCfg := Config{
		VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"),
			Subnets: map[string][]netip.Prefix{"v/GatewaySubnet": prefixes("10.1.255.0/27"), "v/default": prefixes("10.1.0.0/24")},
			Hosts:   []Host{{ID: "vm", Name: "vm", Subnet: "v/default", Addr: vm, Kind: HostTUN, NetNS: ns.Name}},
			Routes:  []Route{{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Gateway: "gw"}}}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "v/GatewaySubnet", PublicAddr: aPub, PrivateAddr: gwAddr,
			Connections: []Connection{{ID: "c", Remote: bPub, PSK: Secret("k"),
				LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.2.0.0/16"), Routes: prefixes("10.2.0.0/16")}}}},
	}
	if _, err := a.Reconfig(aCfg); err != nil {
		t.Fatal(err)
	}
	bCfg := Config{
		VNets: []VNet{{ID: "v", Prefixes: prefixes("10.2.0.0/16"),
			Hosts:  []Host{{ID: "far", Name: "far", Addr: far, Kind: HostNetstack}},
			Routes: []Route{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Gateway: "gw"}}}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", PublicAddr: bPub,
			Connections: []Connection{{ID: "c", Remote: aPub, PSK: Secret("k"),
				LocalPrefixes: prefixes("10.2.0.0/16"), RemotePrefixes: prefixes("10.1.0.0/16"), Routes: prefixes("10.1.0.0/16")}}}},
	}
	if _, err := b.Reconfig(bCfg); err != nil {
		t.Fatal(err)
	}
	// ping sends one echo request of size bytes in all, Don't Fragment
	// set, from the VM to the far host.
	ping := func(size int) (string, error) {
		return ns.Try("ping", "-n", "-c", "1", "-W", "5", "-M", "do", "-s", strconv.Itoa(size-28), far.String())
	}
	// The VM's interface has Ethernet's MTU, as Azure's VMs do, not the
	// 1400 bytes a TUN host's device starts with, which the tunnel
	// carries.
	for l := range strings.Lines(ns.Run("ip", "-o", "link", "show")) {
		if f := strings.Fields(l); len(f) > 1 && f[1] != "lo:" {
			ns.Run("ip", "link", "set", "dev", strings.TrimSuffix(strings.SplitN(f[1], "@", 2)[0], ":"), "mtu", "1500")
		}
	}
	waitUntil(t, 60*time.Second, "a small ping through the tunnel", func() bool {
		_, err := ping(100)
		return err == nil
	})
	// The connection's egress drops (its status, as the portal shows
	// them) count too_big with no_sa, which the pings before the child SA
	// may have met.
	egress := func() uint64 { return a.Status().Connections["c"].Drops.Egress }
	before := egress()

	out, err := ping(mtu + 1)
	if err == nil {
		t.Fatalf("a ping of %d bytes with Don't Fragment crossed a tunnel of MTU %d:\n%s", mtu+1, mtu, out)
	}
	if want := "From " + gwAddr.String() + " icmp_seq=1 Frag needed and DF set (mtu = " + strconv.Itoa(mtu) + ")"; !strings.Contains(out, want) {
		t.Fatalf("ping of %d bytes said\n%s\nwant %q", mtu+1, out, want)
	}
	if n := egress() - before; n != 1 {
		t.Errorf("%d more packets counted as dropped on the way out, want 1", n)
	}
	// The VM's kernel keeps the path MTU (RFC 1191 §6.3) ...
	if out := ns.Run("ip", "route", "get", far.String()); !strings.Contains(out, "mtu "+strconv.Itoa(mtu)) {
		t.Errorf("the VM's route to %v holds no path MTU %d:\n%s", far, mtu, out)
	}
	// ... with which a packet of the MTU crosses.
	if out, err := ping(mtu); err != nil {
		t.Errorf("a ping of %d bytes with Don't Fragment did not cross a tunnel of MTU %d: %v\n%s", mtu, mtu, err, out)
	}

	var m strings.Builder
	if err := a.WriteMetrics(&m); err != nil {
		t.Fatal(err)
	}
	if re := regexp.MustCompile(`(?m)^vnetgw_tunnel_dropped_packets_total\{[^}]*connection="c"[^}]*reason="too_big"\} 1$`); !re.MatchString(m.String()) {
		t.Errorf("no vnetgw_tunnel_dropped_packets_total of c with reason too_big 1 in:\n%s", m.String())
	}
	line := regexp.MustCompile(`msg="packets dropped".*reason=too_big count=1`)
	waitUntil(t, 30*time.Second, "a line of the drop", func() bool { return line.MatchString(aLog.String()) })
}
