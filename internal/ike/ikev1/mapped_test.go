package ikev1

import (
	"net/netip"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
)

// mapped returns ap with its IPv4 address as IPv4-mapped IPv6
// (::ffff:a.b.c.d), as a dual-stack socket reports it.
func mapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
}

// TestMappedAddresses: an IPv4 peer is one peer whether its address comes
// as IPv4 or as IPv4-mapped IPv6, from a dual-stack socket's packets or
// from the configuration: the Main Mode (matched to its peer by address,
// respondMM1) and the quick mode under it complete, on both sides.
func TestMappedAddresses(t *testing.T) {
	for _, tc := range []struct {
		name string
		// mapIn maps the addresses the responder (toR) or the initiator
		// is given with the peer's packets.
		mapIn func(toR bool) bool
		// mapCfg maps the remote address of the initiator's peer.
		mapCfg bool
	}{
		{name: "responder-socket-dual-stack", mapIn: func(toR bool) bool { return toR }},
		{name: "initiator-socket-dual-stack", mapIn: func(toR bool) bool { return !toR }},
		{name: "initiator-configured-mapped", mapIn: func(bool) bool { return false }, mapCfg: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
				if tc.mapCfg {
					pi.Remote = mapped(pi.Remote)
				}
			})
			shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, from, to netip.AddrPort) bool {
				// A packet sent to a mapped address arrives from the IPv4
				// one, as the kernel sends it.
				from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
				to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
				if tc.mapIn(fromI) {
					from, to = mapped(from), mapped(to)
				}
				if fromI {
					mr.handle(to, from, msg)
				} else {
					mi.handle(to, from, msg)
				}
				return true
			})
			if len(ri.children) != 1 || len(rr.children) != 1 {
				t.Fatalf("children: initiator %d, responder %d; stats %+v / %+v; status %+v / %+v",
					len(ri.children), len(rr.children), mi.Stats(), mr.Stats(), mi.Status(), mr.Status())
			}
			for _, c := range []struct {
				side string
				m    *Manager
				want netip.Addr
			}{{"initiator", mi, fuzzLocal.Addr()}, {"responder", mr, fuzzRemote.Addr()}} {
				if st := c.m.Status(); st[0].IKESAs[0].Remote.Addr() != c.want {
					t.Errorf("%s: ISAKMP SA with %v, want %v", c.side, st[0].IKESAs[0].Remote, c.want)
				}
			}
		})
	}
}
