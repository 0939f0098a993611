package reconcile

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/bgp"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// freeUDPPorts returns two UDP ports free on 127.10.0.0/24's first
// addresses, for gateways that run without root.
func freeUDPPorts(t *testing.T) (uint16, uint16) {
	t.Helper()
	var ports []uint16
	for len(ports) < 2 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 10, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, uint16(c.LocalAddr().(*net.UDPAddr).Port))
		defer c.Close()
	}
	return ports[0], ports[1]
}

// TestBGPTransitAcrossVNets: three VNets in a chain, A - B - C, joined
// VNet to VNet with BGP on every gateway (R41), in one process on loopback.
// A's ranges say nothing of C's, yet A learns C's range from B, with B's
// and C's ASNs on the path, and a host in A reaches a host in C through B
// (transit, R37): only BGP can have told it the way.
func TestBGPTransitAcrossVNets(t *testing.T) {
	f := gatewayFixture(t)
	ctx := context.Background()
	va, ga := f.gateway(t, "bgp", "a", "10.1.0.0/16", 65001, 1)
	_, gb := f.gateway(t, "bgp", "b", "10.2.0.0/16", 65002, 1)
	vc, gc := f.gateway(t, "bgp", "c", "10.3.0.0/16", 65003, 1)
	for _, ends := range [][2]arm.ID{{ga, gb}, {gb, ga}, {gb, gc}, {gc, gb}} {
		f.connect(t, "bgp", ends[0], ends[1], true)
	}
	ha, _ := f.nic(t, "bgp", "host-a", va.Child("subnets", "default"))
	hc, hcAddr := f.nic(t, "bgp", "host-c", vc.Child("subnets", "default"))
	f.waitHost(t, ha)
	f.waitHost(t, hc)

	deadline := time.Now().Add(30 * time.Second)
	for {
		var path string
		if ss := f.eng.BGP(ga.Key()); len(ss) == 1 {
			for _, r := range ss[0].Best() {
				if r.Prefix == netip.MustParsePrefix("10.3.0.0/16") {
					path = fmt.Sprint(r.ASPath)
				}
			}
		}
		if path == fmt.Sprint([]wire.Segment{{ASNs: []uint32{65002, 65003}}}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A did not learn C's range through B (path %q); A's peers %+v", path, f.eng.BGP(ga.Key())[0].Peers())
		}
		time.Sleep(50 * time.Millisecond)
	}
	h, _ := f.eng.NetstackHost(ha.Key())
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		short, c2 := context.WithTimeout(pctx, time.Second)
		_, err := h.Ping(short, hcAddr)
		c2()
		if err == nil {
			break
		}
		if pctx.Err() != nil {
			t.Fatalf("host A does not reach host C through B: %v; A's routes %v", err, f.eng.LearnedPrefixes(ga.Key()))
		}
	}
	body, err := h.HTTPGet(pctx, hcAddr)
	if err != nil || !strings.Contains(body, "hello from host-c") {
		t.Fatalf("HTTP A -> C through B: %q %v", body, err)
	}
}

// TestBGPActiveActiveMesh: VNet to VNet with BGP between an active-active
// gateway and another, in one process on loopback: each instance's
// speaker has an established session with each instance of the other
// gateway, and each hub instance learns the spoke's range over BGP.
func TestBGPActiveActiveMesh(t *testing.T) {
	f := gatewayFixture(t)
	_, hub := f.gateway(t, "mesh", "hub", "10.1.0.0/16", 65010, 2)
	_, spoke := f.gateway(t, "mesh", "spoke", "10.2.0.0/16", 65020, 1)
	f.connect(t, "mesh", hub, spoke, true)
	f.connect(t, "mesh", spoke, hub, true)
	sessions := func(id arm.ID) (up, all int) {
		for _, s := range f.eng.BGP(id.Key()) {
			for _, p := range s.Peers() {
				all++
				if p.State == "Established" {
					up++
				}
			}
		}
		return
	}
	// learned counts the hub's instances that learned the spoke's range
	// (it comes in an UPDATE after the session is up).
	learned := func() (n int) {
		for _, s := range f.eng.BGP(hub.Key()) {
			if slices.ContainsFunc(s.Best(), func(r bgp.Route) bool { return r.Prefix == netip.MustParsePrefix("10.2.0.0/16") }) {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		hu, ha := sessions(hub)
		su, sa := sessions(spoke)
		l := learned()
		if hu == 2 && ha == 2 && su == 2 && sa == 2 && l == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions established: hub %d of %d, spoke %d of %d (want 2 of 2 each); %d hub instances of 2 learned the spoke's range", hu, ha, su, sa, l)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
