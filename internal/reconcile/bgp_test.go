package reconcile

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/bgp"
	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/region"
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

// TestBGPSessionsKeptThroughGatewayChanges: a change of a BGP gateway or
// its connection that leaves a session's own parameters as they were
// keeps the session (and its learned routes) up. A PATCH or PUT of the
// tags alone changes nothing the data plane runs: no session nor IKE SA
// starts again. A custom APIPA address added to the gateway
// (bgpSettings.bgpPeeringAddresses[].customBgpIpAddresses), which the
// VNet-to-VNet session does not peer from, is listened at and leaves
// that session as it was; it replaced the gateway's whole speaker, every
// session ending with a Cease and its routes withdrawn until it was
// established again.
func TestBGPSessionsKeptThroughGatewayChanges(t *testing.T) {
	f := gatewayFixture(t)
	ctx := context.Background()
	va, ga := f.gateway(t, "keep", "a", "10.1.0.0/16", 65001, 1)
	_, gb := f.gateway(t, "keep", "b", "10.2.0.0/16", 65002, 1)
	conn := f.connect(t, "keep", ga, gb, true)
	f.connect(t, "keep", gb, ga, true)
	ha, _ := f.nic(t, "keep", "host-a", va.Child("subnets", "default"))
	f.waitHost(t, ha)
	// since returns when each gateway's session was established, zero
	// while one is not.
	since := func() (a, b time.Time) {
		at := func(id arm.ID) time.Time {
			if ss := f.eng.BGP(id.Key()); len(ss) == 1 {
				if ps := ss[0].Peers(); len(ps) == 1 && ps[0].State == "Established" {
					return ps[0].Since
				}
			}
			return time.Time{}
		}
		return at(ga), at(gb)
	}
	deadline := time.Now().Add(45 * time.Second)
	for a, b := since(); a.IsZero() || b.IsZero(); a, b = since() {
		if time.Now().After(deadline) {
			t.Fatalf("the session between the gateways was not established: %+v", f.eng.BGP(ga.Key()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	sa, sb := since()
	ikeSAs := func() []uint64 {
		var spis []uint64
		for _, id := range []arm.ID{ga, gb} {
			sas, _ := f.eng.IKESAs(id.Key())
			for _, s := range sas {
				spis = append(spis, s.SPIi, s.SPIr)
			}
		}
		slices.Sort(spis)
		return spis
	}
	spis := ikeSAs()
	// kept checks, for a while, that the sessions and the IKE SAs are the
	// ones from before.
	kept := func(after string) {
		t.Helper()
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if a, b := since(); !a.Equal(sa) || !b.Equal(sb) {
				t.Fatalf("after %s, the BGP session started again: established at %v and %v, at %v and %v before; a's peers %+v",
					after, a.Format(time.StampMicro), b.Format(time.StampMicro), sa.Format(time.StampMicro), sb.Format(time.StampMicro), f.eng.BGP(ga.Key())[0].Peers())
			}
		}
		if now := ikeSAs(); !slices.Equal(now, spis) {
			t.Fatalf("after %s, the IKE SAs are %x, %x before", after, now, spis)
		}
	}

	// Tags alone: a PATCH of the gateway and of the connection, and a PUT
	// of the gateway as it is with a tag more (az ... update --set tags).
	for _, id := range []arm.ID{ga, conn} {
		if _, err := f.reg.Update(ctx, id, region.Patch{Tags: &map[string]string{"env": "prod"}}); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := f.reg.Get(ga)
	if err != nil {
		t.Fatal(err)
	}
	g := doc.(*arm.VirtualNetworkGateway)
	g.Tags["owner"] = "net"
	if _, _, err := f.reg.PutGateway(ctx, ga, g); err != nil {
		t.Fatal(err)
	}
	kept("tags given to the gateway and the connection")

	// A custom APIPA address added to the gateway.
	if doc, err = f.reg.Get(ga); err != nil {
		t.Fatal(err)
	}
	g = doc.(*arm.VirtualNetworkGateway)
	apipa := netip.MustParseAddr("169.254.21.1")
	g.Properties.BGPSettings.BGPPeeringAddresses[0].CustomBGPIPAddresses = []string{apipa.String()}
	if _, _, err := f.reg.PutGateway(ctx, ga, g); err != nil {
		t.Fatal(err)
	}
	// The speaker listens at it: a host of the VNet that connects there
	// is told it is no peer (Cease, Connection Rejected).
	h, _ := f.eng.NetstackHost(ha.Key())
	listening := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for rejected(h, netip.AddrPortFrom(apipa, bgp.Port)) != want {
			if time.Now().After(deadline) {
				t.Fatalf("the speaker listens at the custom APIPA address %s: %v, want %v", apipa, !want, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	listening(true)
	kept("a custom APIPA address added to the gateway")

	// Taken away, and given again.
	for _, custom := range [][]string{nil, {apipa.String()}} {
		if doc, err = f.reg.Get(ga); err != nil {
			t.Fatal(err)
		}
		g = doc.(*arm.VirtualNetworkGateway)
		g.Properties.BGPSettings.BGPPeeringAddresses[0].CustomBGPIPAddresses = custom
		if _, _, err := f.reg.PutGateway(ctx, ga, g); err != nil {
			t.Fatal(err)
		}
		listening(custom != nil)
		kept(fmt.Sprintf("the gateway's custom APIPA addresses made %v", custom))
	}
}

// rejected reports whether a connection from h to dst is answered with
// a NOTIFICATION, Cease, Connection Rejected (RFC 4486 §4).
func rejected(h *fabric.NetstackHost, dst netip.AddrPort) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := h.Dial(ctx, dst)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Second))
	msg := make([]byte, 21)
	if _, err := io.ReadFull(c, msg); err != nil {
		return false
	}
	return wire.Type(msg[18]) == wire.TypeNotification && msg[19] == wire.CodeCease && msg[20] == wire.SubRejected
}
