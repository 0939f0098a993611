package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vnetgw/vnetgw/internal/fabric"
)

// A gateway asks its RADIUS servers from its private address in the
// GatewaySubnet, as Azure's does, when its VNet reaches them (a host of
// the VNet, a connected site or VNet, a learned route): the requests go
// through the VNet's router and the tunnels like any host's packets. A
// server the VNet does not reach is asked from the node's network.
//
// The endpoint at the private address is the BGP speaker's when that
// holds the address (by default it peers from it), else one of its own
// (radiusEP), there only while the gateway has RADIUS servers.

// selfEndpoint is the endpoint that holds an instance's private address,
// and that address: a RADIUS round trip reads both at once, without the
// engine's lock.
type selfEndpoint struct {
	ep   *fabric.NetstackHost
	addr netip.Addr
}

// configureRadius gives the instance its endpoint at its private address
// while it needs one.
func (e *Engine) configureRadius(g *gw) {
	priv := g.cfg.PrivateAddr
	need := g.cfg.P2S != nil && len(g.cfg.P2S.Radius) > 0 && priv.IsValid()
	var own *fabric.NetstackHost
	switch {
	case need && g.bgp != nil && (g.bgp.cfg.Addr == priv || slices.Contains(g.bgp.cfg.APIPA, priv)):
		g.self.Store(&selfEndpoint{g.bgp.ep, priv})
	case need:
		own = g.radiusEP
		if own == nil || own.Addr() != priv {
			ep, err := fabric.NewNetstackEndpoint("radius "+g.cfg.key(), priv, 0, g.toRouter)
			if err != nil {
				e.log.Error("the gateway asks RADIUS from the node's network", "gateway", g.cfg.key(), "err", err)
				g.self.Store(nil)
				break
			}
			own = ep
		}
		g.self.Store(&selfEndpoint{own, priv})
	default:
		g.self.Store(nil)
	}
	if g.radiusEP != nil && g.radiusEP != own {
		g.radiusEP.Close()
	}
	g.radiusEP = own
}

// radiusDial is how the instance reaches a RADIUS server: from its
// private address when its VNet holds a route to the server (of the
// address's family), else from the node's network. A round trip whose
// endpoint went (BGP reconfigured) dials again and gets the new one.
func (e *Engine) radiusDial(g *gw) func(ctx context.Context, network, address string) (net.Conn, error) {
	router := e.vnets[g.cfg.VNet].router
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		dst, err := netip.ParseAddrPort(address)
		if err == nil {
			dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
			address = dst.String()
		}
		if self := g.self.Load(); err == nil && self != nil && dst.Addr().Is4() == self.addr.Is4() && router.Holds(dst.Addr()) {
			c, err := self.ep.DialUDPFrom(self.addr, dst)
			if err != nil {
				return nil, fmt.Errorf("from the gateway's address %s: %w", self.addr, err)
			}
			return c, nil
		}
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}
}
