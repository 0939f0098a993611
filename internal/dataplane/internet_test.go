package dataplane

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
)

// noInternet returns an engine with opts and a way to the Internet that
// opens nothing: it tells dials what it was asked to open.
func noInternet(t *testing.T, opts Options) (*Engine, chan string) {
	dials := make(chan string, 10)
	opts.Internet = &fabric.EgressOptions{Dial: func(_ context.Context, network, addr string) (net.Conn, error) {
		dials <- network + " " + addr
		return nil, errors.New("no Internet in this test")
	}}
	e := New(opts)
	t.Cleanup(func() { e.Close() })
	return e, dials
}

// reconfigGateway applies cfg and returns what the engine made of its
// gateway "gw", nil if nothing.
func reconfigGateway(t *testing.T, e *Engine, cfg Config) *gw {
	t.Helper()
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gateways["gw"]
}

// TestForcedTunnelingWithoutItsGateway: with --internet-egress, forced
// tunneling's 0.0.0.0/0 to a gateway that is not running (it could not
// start) drops what it holds, as it did without the egress: the VNet's
// Internet-bound traffic does not leave from the node instead (R25).
func TestForcedTunnelingWithoutItsGateway(t *testing.T) {
	e, dials := noInternet(t, Options{})
	cfg := Config{
		VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"),
			Hosts:  []Host{{ID: "web", Name: "web", Addr: netip.MustParseAddr("10.1.0.4"), Kind: HostNetstack}},
			Routes: []Route{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Gateway: "gw"}}}},
		// 192.0.2.77 is no address of this host: the gateway cannot bind
		// its ports there and does not run.
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "gwsubnet", PublicAddr: netip.MustParseAddr("192.0.2.77"),
			PrivateAddr: netip.MustParseAddr("10.1.255.4")}},
	}
	g := reconfigGateway(t, e, cfg)
	if g == nil || g.gw != nil {
		t.Fatal("the gateway runs at an address that is not this host's")
	}
	h, ok := e.NetstackHost("web")
	if !ok {
		t.Fatal("no host web")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if c, err := h.Dial(ctx, netip.MustParseAddrPort("198.51.100.2:80")); err == nil {
		c.Close()
	}
	select {
	case d := <-dials:
		t.Fatalf("with forced tunneling to a gateway that is down, the node opened %s to the Internet", d)
	default:
	}
	if n := e.Status().VNets["v"].NoRoute; n == 0 {
		t.Error("what forced tunneling could not carry was not counted as dropped")
	}
}

// TestInternetFlowsOpenedIsACounter: vnetgw_vnet_internet_flows_total
// {result="opened"} counts a flow once the node opened it: one still being
// opened (a dial that takes its time) and then failing never shows as
// opened, which would take the counter down again (a reset, to Prometheus).
func TestInternetFlowsOpenedIsACounter(t *testing.T) {
	dialing, fail := make(chan struct{}, 10), make(chan struct{})
	e := New(Options{Internet: &fabric.EgressOptions{Dial: func(_ context.Context, network, addr string) (net.Conn, error) {
		if network == "tcp" {
			dialing <- struct{}{}
			<-fail
		}
		return nil, errors.New("unreachable")
	}}})
	defer e.Close()
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"),
		Hosts: []Host{{ID: "web", Name: "web", Addr: netip.MustParseAddr("10.1.0.4"), Kind: HostNetstack}}}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	h, _ := e.NetstackHost("web")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go h.Dial(ctx, netip.MustParseAddrPort("198.51.100.2:80"))
	select {
	case <-dialing:
	case <-ctx.Done():
		t.Fatal("the egress never dialled")
	}
	opened := func() string {
		var b strings.Builder
		if err := e.WriteMetrics(&b); err != nil {
			t.Fatal(err)
		}
		for l := range strings.Lines(b.String()) {
			if strings.HasPrefix(l, "vnetgw_vnet_internet_flows_total{") && strings.Contains(l, `result="opened"`) {
				return strings.TrimSpace(l)
			}
		}
		return ""
	}
	while := opened()
	close(fail)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var b strings.Builder
		e.WriteMetrics(&b)
		if strings.Contains(b.String(), `result="failed"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed flow was not counted:\n%s", b.String())
		}
	}
	if after := opened(); !strings.HasSuffix(while, " 0") || !strings.HasSuffix(after, " 0") {
		t.Errorf("opened while dialling: %q; after the dial failed: %q; want 0 both times", while, after)
	}
}

// TestInternetNotForTheGateways: what arrives through a gateway (from a
// site, or a point-to-site client) does not go to the Internet from the
// node, also with a source address of the VNet's, which a site's
// any-to-any tunnel lets it send: only the VNet's hosts go out that way.
func TestInternetNotForTheGateways(t *testing.T) {
	e, dials := noInternet(t, Options{IKEPort: 15720, NATTPort: 15721})
	cfg := Config{
		VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"),
			Hosts: []Host{{ID: "web", Name: "web", Addr: netip.MustParseAddr("10.1.0.4"), Kind: HostNetstack}}}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "gwsubnet", PublicAddr: netip.MustParseAddr("127.203.44.1"),
			PrivateAddr: netip.MustParseAddr("10.1.255.4")}},
	}
	g := reconfigGateway(t, e, cfg)
	if g == nil || g.gw == nil {
		t.Fatalf("the gateway did not start: %v", g.err)
	}
	// A UDP datagram from 10.1.0.99 (no host's) to 198.51.100.2:53, as
	// the tunnel engine hands over what a site sent.
	const off = 16
	pkt := make([]byte, off+20+8+5)
	ip := pkt[off:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	copy(ip[12:16], netip.MustParseAddr("10.1.0.99").AsSlice())
	copy(ip[16:20], netip.MustParseAddr("198.51.100.2").AsSlice())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(ip[20:], 40000)
	binary.BigEndian.PutUint16(ip[22:], 53)
	binary.BigEndian.PutUint16(ip[24:], 8+5)
	copy(ip[28:], "query")
	if _, err := g.port.Write([][]byte{pkt}, off); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-dials:
		t.Fatalf("what a site sent went out of the node: %s", d)
	case <-time.After(300 * time.Millisecond):
	}
	// The VNet's hosts still go out.
	h, _ := e.NetstackHost("web")
	u, err := h.DialUDPFrom(h.Addr(), netip.MustParseAddrPort("198.51.100.2:53"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte("query"))
	select {
	case <-dials:
	case <-time.After(5 * time.Second):
		t.Fatal("a VNet host's datagram did not go out")
	}
}

// TestForcedTunnelingKeepsIPv6In: with --internet-egress and forced
// tunneling (IPv4's default route to a site), a host of a dual-stack VNet
// does not reach the IPv6 Internet from the node either (R25: nothing
// goes out but through the site).
func TestForcedTunnelingKeepsIPv6In(t *testing.T) {
	e, dials := noInternet(t, Options{})
	vnet := VNet{ID: "v", Prefixes: prefixes("10.1.0.0/16", "2001:db8:1::/64"),
		Hosts: []Host{{ID: "web6", Name: "web6", Addr: netip.MustParseAddr("2001:db8:1::4"), Kind: HostNetstack}}}
	dial := func() {
		h, ok := e.NetstackHost("web6")
		if !ok {
			t.Fatal("no host web6")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if c, err := h.Dial(ctx, netip.MustParseAddrPort("[2001:db8:ffff::2]:80")); err == nil {
			c.Close()
		}
	}
	if _, err := e.Reconfig(Config{VNets: []VNet{vnet}}); err != nil {
		t.Fatal(err)
	}
	dial()
	select {
	case <-dials:
	default:
		t.Fatal("without forced tunneling, the IPv6 host did not reach the Internet")
	}
	vnet.Routes = []Route{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Gateway: "gw"}}
	if _, err := e.Reconfig(Config{VNets: []VNet{vnet}}); err != nil {
		t.Fatal(err)
	}
	for len(dials) > 0 {
		<-dials
	}
	dial()
	select {
	case d := <-dials:
		t.Fatalf("with forced tunneling, the node opened %s to the IPv6 Internet", d)
	default:
	}
}
