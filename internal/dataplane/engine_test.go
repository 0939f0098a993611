package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/pcap"
)

// TestFailedHost: a network interface whose host cannot start (a TUN device
// in a namespace that does not exist) shows as failed, gets no route, and
// packets to it are dropped and counted; the rest of the VNet works.
func TestFailedHost(t *testing.T) {
	e := New(Options{})
	defer e.Close()
	web, ghost := netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr("10.1.0.5")
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"), Hosts: []Host{
		{ID: "web", Name: "web", Addr: web, Kind: HostNetstack},
		{ID: "ghost", Name: "ghost", Addr: ghost, Kind: HostTUN, NetNS: "vnetgw-no-such-namespace"},
	}}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	st := e.Status()
	if h := st.Hosts["ghost"]; h.Running || h.Error == "" {
		t.Fatalf("ghost host status %+v, want not running with an error", h)
	}
	if h := st.Hosts["web"]; !h.Running {
		t.Fatalf("web host status %+v", h)
	}
	h, _ := e.NetstackHost("web")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := h.Ping(ctx, ghost); err == nil {
		t.Fatal("a ping to the failed host was answered")
	}
	if n := e.Status().VNets["v"].NoRoute; n == 0 {
		t.Error("the packet to the failed host was not counted as dropped")
	}
	if e.Retry() {
		t.Error("Retry restarted a host before RetryInterval")
	}
	if !strings.Contains(e.Status().Hosts["ghost"].Error, "vnetgw-no-such-namespace") && !strings.Contains(e.Status().Hosts["ghost"].Error, "permission") {
		t.Errorf("error %q names neither the namespace nor the permission", e.Status().Hosts["ghost"].Error)
	}
}

// TestOneBadConnection: connections a gateway cannot run (a peer address of
// the other family, or one another connection already uses) are reported
// one by one and do not keep the others from their tunnels.
func TestOneBadConnection(t *testing.T) {
	g := Gateway{PublicAddr: netip.MustParseAddr("127.10.0.1"), Connections: []Connection{
		{ID: "a", Remote: netip.MustParseAddr("127.10.0.2"), PSK: Secret("k")},
		{ID: "b", Remote: netip.MustParseAddr("127.10.0.2"), PSK: Secret("k")},
		{ID: "c", Remote: netip.MustParseAddr("::1"), PSK: Secret("k")},
		{ID: "d", PSK: Secret("k")},
		{ID: "e", Remote: netip.MustParseAddr("127.10.0.3"), PSK: Secret("k")},
		{ID: "f", RemoteFQDN: "branch.example", PSK: Secret("k")},
		{ID: "g", RemoteFQDN: "moved.example", PSK: Secret("k")},
		{ID: "h", RemoteFQDN: "nowhere.example", PSK: Secret("k")},
	}}
	resolve := func(fqdn string, v6 bool) (netip.Addr, error) {
		switch {
		case v6:
			t.Errorf("%s looked up for IPv6 for an IPv4 gateway", fqdn)
		case fqdn == "branch.example":
			return netip.MustParseAddr("127.10.0.4"), nil
		case fqdn == "moved.example":
			return netip.MustParseAddr("127.10.0.3"), nil
		}
		return netip.Addr{}, errors.New("the peer's fqdn " + fqdn + " does not resolve")
	}
	conns, errs := gatewayConnections(g, resolve)
	var names []string
	for _, c := range conns {
		names = append(names, c.Peer.Name)
	}
	if strings.Join(names, ",") != "a,e,f" || conns[2].Peer.Remote.Addr() != netip.MustParseAddr("127.10.0.4") {
		t.Errorf("tunnels %v, want a, e and f (at the address its name gave)", names)
	}
	for id, want := range map[string]string{"b": "same peer address", "c": "address family", "d": "no IP address",
		"g": "same peer address", "h": "nowhere.example does not resolve"} {
		if err := errs[id]; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("connection %s: %v, want %q", id, err, want)
		}
	}
}

// TestConnectionStatusSummed: a connection of an active-active gateway is
// as connected as its best tunnel, and counts the bytes of both; of two
// tunnels alike, it says the reason one has (a Connected one's names
// its prefix pairs that are not up, R18), or both, each by its tunnel.
func TestConnectionStatusSummed(t *testing.T) {
	early, late := time.Unix(100, 0), time.Unix(200, 0)
	tunnel := func(state, why string, established time.Time) TunnelStatus {
		return TunnelStatus{TunnelState: TunnelState{State: state, Reason: why, Established: established}}
	}
	for _, tc := range []struct {
		tunnels    []TunnelStatus
		state, why string
	}{
		{[]TunnelStatus{tunnel(NotConnected, "dead peer", time.Time{}), tunnel(Connected, "", late)}, Connected, ""},
		{[]TunnelStatus{tunnel(Connecting, "IKE_SA_INIT sent", time.Time{}), tunnel(NotConnected, "dead peer", time.Time{})}, Connecting, "IKE_SA_INIT sent"},
		{[]TunnelStatus{tunnel(NotConnected, "dead peer", time.Time{})}, NotConnected, "dead peer"},
		// Both connected, the second with a prefix pair down: it says so.
		{[]TunnelStatus{tunnel(Connected, "", early), tunnel(Connected, "1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.3.0.0/16", late)},
			Connected, "1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.3.0.0/16"},
		// Both connected, each with a prefix pair down: both say so, by
		// the tunnel's address (its name's suffix).
		{[]TunnelStatus{tunnel(Connected, "1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.3.0.0/16", early), tunnel(Connected, "1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.4.0.0/16", late)},
			Connected, "tunnel 192.0.2.1: 1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.3.0.0/16 | tunnel 192.0.2.2: 1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.4.0.0/16"},
		// A worse tunnel's reason is not the connection's.
		{[]TunnelStatus{tunnel(NotConnected, "dead peer", time.Time{}), tunnel(Connected, "1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.4.0.0/16", late)},
			Connected, "1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.4.0.0/16"},
	} {
		tc.tunnels[0].Ingress, tc.tunnels[0].Egress, tc.tunnels[0].Established = 1, 10, early
		tc.tunnels[0].PublicAddr = netip.MustParseAddr("192.0.2.1")
		if len(tc.tunnels) > 1 {
			tc.tunnels[1].Ingress, tc.tunnels[1].Egress = 2, 20
			tc.tunnels[1].PublicAddr = netip.MustParseAddr("192.0.2.2")
		}
		got := ConnectionStatus{Tunnels: tc.tunnels}.summed()
		wantIn, wantEst := uint64(1), early
		if len(tc.tunnels) > 1 {
			wantIn = 3
			if tc.tunnels[1].Established.After(early) {
				wantEst = late
			}
		}
		if got.State != tc.state || got.Reason != tc.why || got.Ingress != wantIn || got.Egress != wantIn*10 || !got.Established.Equal(wantEst) {
			t.Errorf("%+v summed to %+v", tc.tunnels, got)
		}
	}
}

// nopPort is a fabric.Port that discards.
type nopPort struct{ name string }

func (nopPort) Deliver([]byte) {}

// TestUserRoutesMerge: a subnet's user routes (R26) take over the hosts
// they cover more specifically than the VNet's space (a tie goes to them
// too), a VnetLocal one gives its hosts back to the VNet, and the rest of
// the VNet's routes stay.
func TestUserRoutesMerge(t *testing.T) {
	nva, b := nopPort{"nva"}, nopPort{"b"}
	e := &Engine{gateways: map[string]*gw{}}
	v := &vnet{hosts: map[string]*host{"nva": {cfg: Host{Addr: netip.MustParseAddr("10.1.1.4")}, port: nva}}}
	vc := VNet{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	system := []fabric.Route{}
	for _, a := range []string{"10.1.0.4", "10.1.1.4", "10.1.2.4", "10.1.3.4"} {
		system = append(system, fabric.Route{Prefix: netip.MustParsePrefix(a + "/32"), Port: b})
	}
	urs := []UserRoute{
		{Prefix: netip.MustParsePrefix("10.1.2.0/24"), NextHop: "VirtualAppliance", Appliance: netip.MustParseAddr("10.1.1.4")},
		{Prefix: netip.MustParsePrefix("10.1.3.0/24"), NextHop: "VnetLocal"},
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), NextHop: "None"},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16"), NextHop: "VirtualAppliance", Appliance: netip.MustParseAddr("10.9.9.9")},
	}
	var got []string
	for _, r := range e.userRoutes(v, vc, system, urs) {
		to := "drop"
		if p, ok := r.Port.(nopPort); ok {
			to = p.name
		}
		got = append(got, r.Prefix.String()+" "+to)
	}
	// 10.1.0.0/16 ties the VNet's space, so the user route wins it: only
	// the hosts under more specific routes keep theirs (10.1.3.4, by
	// VnetLocal), and no host has the address 10.9.9.9.
	// The VnetLocal route keeps the rest of its range in the VNet, where
	// no host has those addresses.
	want := []string{"10.1.3.4/32 b", "10.1.2.0/24 nva", "10.1.3.0/24 drop", "0.0.0.0/0 drop", "10.1.0.0/16 drop"}
	if !slices.Equal(got, want) {
		t.Fatalf("merged routes %v, want %v", got, want)
	}
}

// TestVnetLocalUserRouteWinsTie: a user route to VnetLocal wins its
// prefix over a system route of the same (README: a user route wins a
// tie; as Azure's): the default route to the Internet and a site's range
// through the gateway no longer take what it covers, which stays in the
// VNet; it was skipped, and the system routes kept sending there while
// the effective routes showed it Active.
func TestVnetLocalUserRouteWinsTie(t *testing.T) {
	internet, site := nopPort{"internet"}, nopPort{"gw"}
	e := &Engine{gateways: map[string]*gw{}}
	v := &vnet{hosts: map[string]*host{}}
	vc := VNet{Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	system := []fabric.Route{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Port: internet},
		{Prefix: netip.MustParsePrefix("10.1.0.0/16")},
		{Prefix: netip.MustParsePrefix("192.168.1.0/24"), Port: site},
	}
	urs := []UserRoute{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), NextHop: "VnetLocal"},
		{Prefix: netip.MustParsePrefix("192.168.1.0/24"), NextHop: "VnetLocal"},
	}
	r := fabric.NewRouter()
	r.SetRoutes(e.userRoutes(v, vc, system, urs))
	for _, dst := range []string{"8.8.8.8", "192.168.1.9"} {
		if p := r.Lookup(netip.MustParseAddr(dst)); p != nil {
			t.Errorf("%s goes to %v, want it kept in the VNet (no host there: dropped)", dst, p)
		}
	}
}

// Packet captures run on gateways this engine runs, one each, and at most
// MaxCaptures at once.
func TestPacketCaptureLimits(t *testing.T) {
	e := New(Options{IKEPort: 15710, NATTPort: 15711})
	defer e.Close()
	var cfg Config
	for i := range MaxCaptures + 1 {
		v := fmt.Sprintf("v%d", i)
		cfg.VNets = append(cfg.VNets, VNet{ID: v, Prefixes: prefixes(fmt.Sprintf("10.%d.0.0/16", i+1))})
		cfg.Gateways = append(cfg.Gateways, Gateway{ID: fmt.Sprintf("gw%d", i), VNet: v, PublicAddr: netip.AddrFrom4([4]byte{127, 77, 0, byte(i + 1)})})
	}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := e.StartPacketCapture("nope", pcap.Start(pcap.Config{})); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("a capture of nothing: %v", err)
	}
	for i := range MaxCaptures {
		if err := e.StartPacketCapture(fmt.Sprintf("gw%d", i), pcap.Start(pcap.Config{})); err != nil {
			t.Fatalf("capture %d: %v", i, err)
		}
	}
	if err := e.StartPacketCapture("gw0", pcap.Start(pcap.Config{})); !errors.Is(err, ErrCaptureRunning) {
		t.Fatalf("a second capture of gw0: %v", err)
	}
	last := fmt.Sprintf("gw%d", MaxCaptures)
	if err := e.StartPacketCapture(last, pcap.Start(pcap.Config{})); !errors.Is(err, ErrTooManyCaptures) {
		t.Fatalf("capture %d: %v", MaxCaptures+1, err)
	}
	if _, err := e.StopPacketCapture("gw0"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.StopPacketCapture("gw0"); !errors.Is(err, ErrNoCapture) {
		t.Fatalf("stop gw0 twice: %v", err)
	}
	if err := e.StartPacketCapture(last, pcap.Start(pcap.Config{})); err != nil {
		t.Fatalf("a capture after one stopped: %v", err)
	}
	// A gateway that goes from this node takes its capture with it.
	cfg.Gateways = cfg.Gateways[1:]
	cfg.Gateways = slices.DeleteFunc(cfg.Gateways, func(g Gateway) bool { return g.ID == "gw1" })
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.StopPacketCapture("gw1"); !errors.Is(err, ErrNoCapture) {
		t.Fatalf("the capture of a removed gateway: %v", err)
	}
}

// A packet capture of a gateway that could not start (its address is not
// this host's) is refused as not running, as one of a gateway that is not
// here: it would capture nothing.
func TestPacketCaptureOfAFailedGateway(t *testing.T) {
	e := New(Options{IKEPort: 15712, NATTPort: 15713})
	defer e.Close()
	// 192.0.2.78 is no address of this host: the gateway cannot bind its
	// ports there and does not run.
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", PublicAddr: netip.MustParseAddr("192.0.2.78")}}}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := e.StartPacketCapture("gw", pcap.Start(pcap.Config{})); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("a capture of a gateway that does not run: %v, want %v", err, ErrNotRunning)
	}
}
