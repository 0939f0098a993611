package dataplane

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// activeActive is an active-active gateway (engine a, instances at
// 127.162.1.1 and .2, speakers at 10.1.255.4 and .5, AS 65001) connected
// to a site (engine b, a gateway at 127.162.1.3 whose speaker at
// 10.2.255.4, AS 65002, peers with each instance through a tunnel of its
// own: connection c0 to instance 0, c1 to instance 1), as a device with
// one tunnel interface per Azure instance is set up.
type activeActive struct {
	a, b   *Engine
	aCfg   Config
	speak  [2]netip.Addr // the instances' speakers
	public [2]netip.Addr // the instances' public addresses
}

func startActiveActive(t *testing.T, ike, natt uint16) *activeActive {
	t.Helper()
	aa := &activeActive{speak: [2]netip.Addr{netip.MustParseAddr("10.1.255.4"), netip.MustParseAddr("10.1.255.5")},
		public: [2]netip.Addr{netip.MustParseAddr("127.162.1.1"), netip.MustParseAddr("127.162.1.2")}}
	site, siteBGP := netip.MustParseAddr("127.162.1.3"), netip.MustParseAddr("10.2.255.4")
	aa.a, aa.b = New(Options{IKEPort: ike, NATTPort: natt}), New(Options{IKEPort: ike, NATTPort: natt})
	t.Cleanup(func() { aa.a.Close(); aa.b.Close() })
	aa.aCfg = Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"), Routes: []Route{{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Gateway: "gw"}}}}}
	for i := range 2 {
		aa.aCfg.Gateways = append(aa.aCfg.Gateways, Gateway{ID: "gw", Instance: i, VNet: "v", PublicAddr: aa.public[i],
			Connections: []Connection{{ID: "c", Remote: site, PSK: Secret("k"), DPDTimeout: 20 * time.Second,
				LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.2.0.0/16"), Routes: prefixes("10.2.0.0/16")}},
			BGP: &GatewayBGP{AS: 65001, Addr: aa.speak[i], Networks: prefixes("10.1.0.0/16"), Peers: []BGPPeer{{Connection: "c", Addr: siteBGP, AS: 65002}}}})
	}
	if _, err := aa.a.Reconfig(aa.aCfg); err != nil {
		t.Fatal(err)
	}
	b := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.2.0.0/16")}}}
	sg := Gateway{ID: "gw", VNet: "v", PublicAddr: site, BGP: &GatewayBGP{AS: 65002, Addr: siteBGP, Networks: prefixes("10.2.0.0/16")}}
	for i, name := range []string{"c0", "c1"} {
		host := netip.PrefixFrom(aa.speak[i], 32)
		b.VNets[0].Routes = append(b.VNets[0].Routes, Route{Prefix: host, Gateway: "gw"})
		sg.Connections = append(sg.Connections, Connection{ID: name, Remote: aa.public[i], PSK: Secret("k"), DPDTimeout: 20 * time.Second,
			LocalPrefixes: prefixes("10.2.0.0/16"), RemotePrefixes: []netip.Prefix{host}, Routes: []netip.Prefix{host}})
		sg.BGP.Peers = append(sg.BGP.Peers, BGPPeer{Connection: name, Addr: aa.speak[i], AS: 65001})
	}
	b.Gateways = []Gateway{sg}
	if _, err := aa.b.Reconfig(b); err != nil {
		t.Fatal(err)
	}
	return aa
}

// siteSession tells whether the site's session with the speaker at addr
// is established.
func (aa *activeActive) siteSession(addr netip.Addr) bool {
	for _, s := range aa.b.BGP("gw") {
		for _, p := range s.Peers() {
			if p.Addr == addr {
				return p.State == "Established"
			}
		}
	}
	return false
}

// TestActiveActiveBGPThroughOwnTunnel: each instance of an active-active
// gateway speaks BGP with the site through its own tunnel, as the site's
// device expects of Azure's (a tunnel interface per instance, a route to
// each instance's BGP address through its tunnel, and a strict reverse
// path check on them drops what comes in through the other). Instance
// 1's packets went to the VNet's router, whose route to the site picks
// instance 0's tunnel while it is up.
func TestActiveActiveBGPThroughOwnTunnel(t *testing.T) {
	aa := startActiveActive(t, 18880, 18881)
	waitUntil(t, 60*time.Second, "both instances' BGP sessions", func() bool {
		return aa.siteSession(aa.speak[0]) && aa.siteSession(aa.speak[1])
	})
	// The site's session with instance 1 is established: it has read its
	// OPEN and KEEPALIVE, which came through one of its tunnels.
	st := aa.b.Status().Connections
	if st["c1"].IngressPackets == 0 {
		t.Fatalf("instance 1's BGP packets reached the site through instance 0's tunnel (c0 %d packets, c1 none)", st["c0"].IngressPackets)
	}
}

// TestActiveActivePairDownOnOneInstance: on an active-active gateway whose
// connection negotiates a child SA per prefix pair (a policy-based device),
// traffic of a pair that instance 0's tunnel does not have up goes through
// instance 1's, which has it; instance 0's has other pairs up. It went to
// instance 0, whose tunnel carried the destination's route and a child
// SA, and was dropped there for want of a child of its selectors.
func TestActiveActivePairDownOnOneInstance(t *testing.T) {
	const ike, natt = 18882, 18883
	site := netip.MustParseAddr("127.162.2.3")
	public := [2]netip.Addr{netip.MustParseAddr("127.162.2.1"), netip.MustParseAddr("127.162.2.2")}
	a, b := New(Options{IKEPort: ike, NATTPort: natt}), New(Options{IKEPort: ike, NATTPort: natt})
	t.Cleanup(func() { a.Close(); b.Close() })
	far := prefixes("10.2.1.0/24", "10.2.2.0/24")
	aCfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"),
		Hosts:  []Host{{ID: "h", Name: "h", Addr: netip.MustParseAddr("10.1.0.10"), Kind: HostNetstack}},
		Routes: []Route{{Prefix: far[0], Gateway: "gw"}, {Prefix: far[1], Gateway: "gw"}}}}}
	for i := range 2 {
		aCfg.Gateways = append(aCfg.Gateways, Gateway{ID: "gw", Instance: i, VNet: "v", PublicAddr: public[i],
			Connections: []Connection{{ID: "c", Remote: site, PSK: Secret("k"), PolicySelectors: true,
				LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: far, Routes: far}}})
	}
	if _, err := a.Reconfig(aCfg); err != nil {
		t.Fatal(err)
	}
	// The site takes both pairs on the tunnel to instance 1, only the
	// first on the one to instance 0.
	bCfg := Config{VNets: []VNet{{ID: "v", Prefixes: far,
		Hosts:  []Host{{ID: "h", Name: "h", Addr: netip.MustParseAddr("10.2.2.10"), Kind: HostNetstack}},
		Routes: []Route{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Gateway: "gw"}}}}}
	sg := Gateway{ID: "gw", VNet: "v", PublicAddr: site}
	// Its replies to the VNet's host go back through the tunnel to
	// instance 1 (a route of its own is more specific).
	for i, name := range []string{"c0", "c1"} {
		sg.Connections = append(sg.Connections, Connection{ID: name, Remote: public[i], PSK: Secret("k"), PolicySelectors: true, Mode: "ResponderOnly",
			LocalPrefixes: far[:i+1], RemotePrefixes: prefixes("10.1.0.0/16"), Routes: prefixes([]string{"10.1.0.0/16", "10.1.0.0/24"}[i])})
	}
	bCfg.Gateways = []Gateway{sg}
	if _, err := b.Reconfig(bCfg); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "instance 0's first pair and both of instance 1's", func() bool {
		ts := a.Status().Connections["c"].Tunnels
		return len(ts) == 2 && ts[0].State == Connected && strings.Contains(ts[0].Reason, "10.2.2.0/24") && ts[1].State == Connected && ts[1].Reason == ""
	})
	h, _ := a.NetstackHost("h")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Ping(ctx, netip.MustParseAddr("10.2.2.10")); err != nil {
		t.Fatalf("no answer from the site's second range, which only instance 1's tunnel carries: %v (instance 0 dropped %d for want of a child SA of its selectors)",
			err, a.Status().Connections["c"].Tunnels[0].Drops.EgressTS)
	}
}

// TestActiveActiveLearnedThroughStandby: a gateway's connection to an
// active-active peer has a tunnel to each of the peer's instances (its
// own, and a standby one to the other) and a BGP session with each
// instance's speaker. When the peer's first instance goes, the VNet's
// traffic to a range learned over BGP only goes through the standby
// tunnel to the second, as the connection's static ranges do. It was
// dropped in the connection's own tunnel, which carried nothing: the
// learned route was the own tunnel's alone, while the session with the
// second instance (through the standby tunnel) kept it learned.
func TestActiveActiveLearnedThroughStandby(t *testing.T) {
	const ike, natt = 18896, 18897
	gwA := netip.MustParseAddr("127.184.1.1")
	peer := [2]netip.Addr{netip.MustParseAddr("127.184.1.2"), netip.MustParseAddr("127.184.1.3")}
	speakA, speakB := netip.MustParseAddr("10.1.255.4"), [2]netip.Addr{netip.MustParseAddr("10.2.255.4"), netip.MustParseAddr("10.2.255.5")}
	learned, far := netip.MustParsePrefix("10.9.0.0/16"), netip.MustParseAddr("10.9.0.10")
	a, b := New(Options{IKEPort: ike, NATTPort: natt}), New(Options{IKEPort: ike, NATTPort: natt})
	t.Cleanup(func() { a.Close(); b.Close() })

	aCfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"),
		Hosts:  []Host{{ID: "h", Name: "h", Addr: netip.MustParseAddr("10.1.0.10"), Kind: HostNetstack}},
		Routes: []Route{{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Gateway: "gw"}}}}}
	ga := Gateway{ID: "gw", VNet: "v", PublicAddr: gwA, BGP: &GatewayBGP{AS: 65001, Addr: speakA, Networks: prefixes("10.1.0.0/16")}}
	for i, tunnel := range []string{"", "1"} {
		ga.Connections = append(ga.Connections, Connection{ID: "c", Tunnel: tunnel, Remote: peer[i], PSK: Secret("k"), DPDTimeout: 20 * time.Second,
			LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.2.0.0/16", "10.9.0.0/16"), Routes: prefixes("10.2.0.0/16")})
		ga.BGP.Peers = append(ga.BGP.Peers, BGPPeer{Connection: "c", Addr: speakB[i], AS: 65002})
	}
	aCfg.Gateways = []Gateway{ga}
	if _, err := a.Reconfig(aCfg); err != nil {
		t.Fatal(err)
	}
	bCfg := Config{VNets: []VNet{{ID: "v", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16"), learned},
		Hosts:  []Host{{ID: "h", Name: "h", Addr: far, Kind: HostNetstack}},
		Routes: []Route{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Gateway: "gw"}}}}}
	for i := range 2 {
		bCfg.Gateways = append(bCfg.Gateways, Gateway{ID: "gw", Instance: i, VNet: "v", PublicAddr: peer[i],
			Connections: []Connection{{ID: "c", Remote: gwA, PSK: Secret("k"), DPDTimeout: 20 * time.Second,
				LocalPrefixes: prefixes("10.2.0.0/16", "10.9.0.0/16"), RemotePrefixes: prefixes("10.1.0.0/16"), Routes: prefixes("10.1.0.0/16")}},
			BGP: &GatewayBGP{AS: 65002, Addr: speakB[i], Networks: prefixes("10.2.0.0/16", "10.9.0.0/16"), Peers: []BGPPeer{{Connection: "c", Addr: speakA, AS: 65001}}}})
	}
	if _, err := b.Reconfig(bCfg); err != nil {
		t.Fatal(err)
	}
	sessions := func() int {
		n := 0
		for _, p := range a.BGP("gw")[0].Peers() {
			if p.State == "Established" {
				n++
			}
		}
		return n
	}
	waitUntil(t, 60*time.Second, "both tunnels, both sessions and the learned range", func() bool {
		ts := a.Status().Connections["c"].Tunnels
		return len(ts) == 2 && ts[0].State == Connected && ts[1].State == Connected && sessions() == 2 && slices.Contains(a.LearnedPrefixes("gw"), learned)
	})
	h, _ := a.NetstackHost("h")
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := h.Ping(ctx, far)
		return err
	}
	if err := ping(); err != nil {
		t.Fatalf("no answer from the learned range with both instances up: %v", err)
	}

	// The peer's first instance goes (its gateway deleted: it tells
	// its IKE and BGP peers).
	one := bCfg
	one.Gateways = bCfg.Gateways[1:]
	if _, err := b.Reconfig(one); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the own tunnel down, the session with the second instance up", func() bool {
		ts := a.Status().Connections["c"].Tunnels
		return len(ts) == 2 && ts[0].State != Connected && ts[1].State == Connected && sessions() == 1
	})
	if !slices.Contains(a.LearnedPrefixes("gw"), learned) {
		t.Fatalf("the range is no longer learned from the second instance: %v", a.LearnedPrefixes("gw"))
	}
	var err error
	for range 5 {
		if err = ping(); err == nil {
			return
		}
	}
	st := a.Status().Connections["c"].Tunnels
	t.Fatalf("no answer from the learned range through the standby tunnel: %v (own tunnel dropped %d going out, standby carried %d packets out)",
		err, st[0].Drops.Egress, st[1].EgressPackets)
}
