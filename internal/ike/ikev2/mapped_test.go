package ikev2

import (
	"fmt"
	"net/netip"
	"testing"
)

// mapped returns ap with its IPv4 address as IPv4-mapped IPv6
// (::ffff:a.b.c.d), as a dual-stack socket reports it.
func mapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
}

// TestMappedAddresses: an IPv4 peer is one peer whether its address comes
// as IPv4 or as IPv4-mapped IPv6, from a dual-stack socket's packets (to
// HandlePacket) or from the configuration: the IKE SA and its child SA
// come up on both sides with the IPv4 addresses, in Status and in the
// data path, and, ESP in UDP, ESP reported from the peer's address either
// way (PeerMoved) moves nothing.
func TestMappedAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		// dualStack is the node whose datagrams arrive mapped: a, b or
		// none.
		dualStack string
		// mapCfg maps the addresses of a's peer configuration.
		mapCfg bool
	}{
		{name: "responder-socket-dual-stack", dualStack: "b"},
		{name: "initiator-socket-dual-stack", dualStack: "a"},
		{name: "initiator-configured-mapped", mapCfg: true},
	} {
		for _, encap := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/encap=%v", tc.name, encap), func(t *testing.T) {
				n, a, b := pair(t, func(p *PeerConfig) {
					p.ForceEncap = encap
					if tc.mapCfg {
						p.Local, p.Remote = mapped(p.Local), mapped(p.Remote)
					}
				}, nil)
				n.mu.Lock()
				n.dualStack = map[netip.Addr]bool{addrA: tc.dualStack == "a", addrB: tc.dualStack == "b"}
				n.mu.Unlock()
				waitUp(t, a, b, 1)
				for _, nd := range []*node{a, b} {
					want := addrB
					if nd == b {
						want = addrA
					}
					e := nd.established()[0]
					if e.Local.Addr() != nd.addr || e.Remote.Addr() != want {
						t.Errorf("%v: IKE SA %v-%v, want %v-%v", nd.addr, e.Local, e.Remote, nd.addr, want)
					}
					child := nd.dp.list()[0]
					if child.Local.Addr() != nd.addr || child.Remote.Addr() != want {
						t.Errorf("%v: child SA %v-%v, want %v-%v", nd.addr, child.Local, child.Remote, nd.addr, want)
					}
					if !encap {
						continue
					}
					nd.dp.mu.Lock()
					moves := nd.dp.moves
					nd.dp.mu.Unlock()
					from := netip.AddrPortFrom(want, e.Remote.Port())
					nd.m.PeerMoved(nd.peer.Name, child.In.SPI, from)
					nd.m.PeerMoved(nd.peer.Name, child.In.SPI, mapped(from))
					nd.onLoop(func(*conn) {}) // after the moves posted to its loop
					nd.dp.mu.Lock()
					if nd.dp.moves != moves {
						t.Errorf("%v: ESP in UDP from %v, IPv4 and mapped, moved the child SA %d times; want 0", nd.addr, from, nd.dp.moves-moves)
					}
					nd.dp.mu.Unlock()
				}
			})
		}
	}
}
