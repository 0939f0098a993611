package dataplane

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/vnetgw/vnetgw/internal/bgp"
	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
)

// Learned routes go into the tunnel of the connection they came from,
// unless the VNet's own ranges or a static range win (R41).
func TestAddLearned(t *testing.T) {
	p := netip.MustParsePrefix
	conns := []gateway.Connection{
		{Peer: ikev2.PeerConfig{Name: "a"}, Routes: []netip.Prefix{p("192.168.1.1/32")}},
		{Peer: ikev2.PeerConfig{Name: "b"}, Routes: []netip.Prefix{p("172.16.0.0/16")}},
	}
	routes := []bgp.Route{
		{Prefix: p("10.99.0.0/24"), Peer: "a"},     // installed in a
		{Prefix: p("172.16.0.0/16"), Peer: "a"},    // b holds it statically
		{Prefix: p("10.1.128.0/17"), Peer: "a"},    // inside the VNet
		{Prefix: p("10.0.0.0/8"), Peer: "b"},       // covers the VNet
		{Prefix: p("172.17.0.0/16"), Peer: "b"},    // installed in b
		{Prefix: p("172.18.0.0/16"), Peer: "gone"}, // no such connection
	}
	added := addLearned(conns, routes, []netip.Prefix{p("10.1.0.0/16")})
	if want := []netip.Prefix{p("10.0.0.0/8"), p("10.99.0.0/24"), p("172.17.0.0/16")}; !slices.Equal(added, want) {
		t.Errorf("added %v, want %v", added, want)
	}
	if !slices.Equal(conns[0].Routes, []netip.Prefix{p("192.168.1.1/32"), p("10.99.0.0/24")}) ||
		!slices.Equal(conns[1].Routes, []netip.Prefix{p("172.16.0.0/16"), p("10.0.0.0/8"), p("172.17.0.0/16")}) {
		t.Errorf("tunnel routes: a %v, b %v", conns[0].Routes, conns[1].Routes)
	}
}

// addLearned must not share the static routes' array with its caller:
// the configuration they come from is used again.
func TestAddLearnedCopies(t *testing.T) {
	p := netip.MustParsePrefix
	static := make([]netip.Prefix, 1, 8)
	static[0] = p("192.168.1.0/24")
	conns := []gateway.Connection{{Peer: ikev2.PeerConfig{Name: "a"}, Routes: static}}
	addLearned(conns, []bgp.Route{{Prefix: p("10.99.0.0/24"), Peer: "a"}, {Prefix: p("10.98.0.0/24"), Peer: "a"}}, nil)
	if len(conns[0].Routes) != 3 || static[:2][1].IsValid() {
		t.Errorf("routes %v; the caller's array was written: %v", conns[0].Routes, static[:2])
	}
}

// BenchmarkAddLearned: 30 connections of 4,000 learned routes each, the
// most a gateway's peers announce.
func BenchmarkAddLearned(b *testing.B) {
	conns := make([]gateway.Connection, 30)
	var routes []bgp.Route
	for i := range conns {
		conns[i].Peer.Name = string(rune('a' + i))
		for j := range 4000 {
			routes = append(routes, bgp.Route{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(16 + i), byte(j >> 8), byte(j)}), 32), Peer: conns[i].Peer.Name})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		cs := slices.Clone(conns)
		addLearned(cs, routes, nil)
	}
}

// A connection's standby tunnels (an active-active peer's other
// instances) get the routes learned from it too: they carry them while
// its own tunnel is down, as they carry its static ones.
func TestAddLearnedStandby(t *testing.T) {
	p := netip.MustParsePrefix
	conns := []gateway.Connection{
		{Peer: ikev2.PeerConfig{Name: "a"}, Routes: []netip.Prefix{p("10.2.0.0/16")}},
		{Peer: ikev2.PeerConfig{Name: "a#1"}, Routes: []netip.Prefix{p("10.2.0.0/16")}, Standby: true},
		{Peer: ikev2.PeerConfig{Name: "ab"}},
	}
	added := addLearned(conns, []bgp.Route{{Prefix: p("10.9.0.0/16"), Peer: "a"}}, nil)
	if want := []netip.Prefix{p("10.9.0.0/16")}; !slices.Equal(added, want) {
		t.Errorf("added %v, want %v", added, want)
	}
	want := []netip.Prefix{p("10.2.0.0/16"), p("10.9.0.0/16")}
	if !slices.Equal(conns[0].Routes, want) || !slices.Equal(conns[1].Routes, want) || len(conns[2].Routes) != 0 {
		t.Errorf("tunnel routes: a %v, a#1 %v, ab %v; want %v in a and a#1", conns[0].Routes, conns[1].Routes, conns[2].Routes, want)
	}
}
