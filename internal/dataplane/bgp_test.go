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
