package region

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// EffectiveRoutes returns the routes in effect for a network interface, as
// the data plane applies them (R24, R25, R43): its VNet's ranges stay in
// the VNet, connected ranges go to the gateway, and anything else goes to
// the Internet when the data plane has a way there (internet: serve
// --internet-egress), but for the private ranges, or is dropped ("None"),
// unless forced tunneling sends 0.0.0.0/0 to the gateway; a VNet with an
// IPv6 range shows ::/0 likewise, dropped with forced tunneling (nothing
// leaves but through the site, R25). learned, when not nil, returns the
// prefixes a gateway learned over BGP and installed (R41). The interface's
// subnet shows none of the gateways' routes when its route table does not
// propagate them (disableBgpRoutePropagation).
func (r *Region) EffectiveRoutes(nicID arm.ID, internet bool, learned func(gatewayID string) []netip.Prefix) ([]arm.EffectiveRoute, error) {
	s := r.Snapshot()
	n, err := existing[arm.NetworkInterface](s.tx, arm.TypeNetworkInterface, nicID)
	if err != nil {
		return nil, err
	}
	out := []arm.EffectiveRoute{}
	if len(n.Properties.IPConfigurations) == 0 {
		return out, nil
	}
	// The host is in the subnet of the primary configuration.
	sid, err := arm.ParseID(n.Properties.PrimaryIPConfiguration().Properties.Subnet.RefID())
	if err != nil {
		return out, nil
	}
	v := get[arm.VirtualNetwork](s.tx, arm.TypeVirtualNetwork, sid.Parent())
	if v == nil || v.Properties.AddressSpace == nil {
		return out, nil
	}
	six := false // the VNet has an IPv6 range
	for _, p := range v.Properties.AddressSpace.AddressPrefixes {
		out = append(out, arm.EffectiveRoute{Source: "Default", State: "Active", AddressPrefix: []string{p}, NextHopIPAddress: []string{}, NextHopType: arm.NextHopVnetLocal})
		if pp, err := netip.ParsePrefix(p); err == nil && pp.Addr().Is6() {
			six = true
		}
	}
	var table *arm.RouteTable
	if _, sn := findSubnet(s.tx, sid); sn != nil {
		table = s.RouteTable(sn.Properties.RouteTable.RefID())
	}
	// A subnet whose route table does not propagate the gateways' routes
	// (disableBgpRoutePropagation) has none of them: its user routes
	// alone send ranges to a gateway.
	var gatewayRoutes []GatewayRoute
	propagate := table == nil || !table.Properties.DisableBGPRoutePropagation
	if propagate {
		gatewayRoutes = s.VNetRoutes(v.ID)
	}
	// forced: IPv4's default route goes to a gateway; gateway6: IPv6's.
	forced, gateway6 := false, false
	byConn := map[string]*arm.EffectiveRoute{}
	var order []string
	for _, gr := range gatewayRoutes {
		if gr.Prefix.Bits() == 0 {
			forced, gateway6 = forced || gr.Prefix.Addr().Is4(), gateway6 || gr.Prefix.Addr().Is6()
		}
		e := byConn[gr.Connection+gr.Gateway]
		if e == nil {
			e = &arm.EffectiveRoute{Source: arm.NextHopGateway, State: "Active", NextHopType: arm.NextHopGateway, NextHopIPAddress: []string{}}
			if g := getByRef[arm.VirtualNetworkGateway](s.tx, arm.TypeVirtualNetworkGateway, gr.Gateway); g != nil {
				if a, ok := s.PublicAddr(g); ok {
					e.NextHopIPAddress = []string{a.String()}
				}
			}
			byConn[gr.Connection+gr.Gateway] = e
			order = append(order, gr.Connection+gr.Gateway)
		}
		e.AddressPrefix = append(e.AddressPrefix, gr.Prefix.String())
	}
	for _, k := range order {
		out = append(out, *byConn[k])
	}
	// The point-to-site clients' pool of each gateway that takes clients,
	// as the data plane routes it (reconcile's pointToSite: the first,
	// IPv4, range).
	if propagate {
		for _, g := range gatewaysInVNet(s.tx, v.ID) {
			if pool, ok := clientPool(g); ok {
				e := arm.EffectiveRoute{Source: arm.NextHopGateway, State: "Active", AddressPrefix: []string{pool.String()}, NextHopType: arm.NextHopGateway, NextHopIPAddress: []string{}}
				if a, ok := s.PublicAddr(g); ok {
					e.NextHopIPAddress = []string{a.String()}
				}
				out = append(out, e)
			}
		}
	}
	for _, g := range gatewaysInVNet(s.tx, v.ID) {
		if learned == nil || !g.Properties.EnableBGP || !propagate {
			continue
		}
		ps := learned(g.ID)
		if len(ps) == 0 {
			continue
		}
		e := arm.EffectiveRoute{Source: arm.NextHopGateway, State: "Active", NextHopType: arm.NextHopGateway, NextHopIPAddress: []string{}}
		if a, ok := s.PublicAddr(g); ok {
			e.NextHopIPAddress = []string{a.String()}
		}
		for _, p := range ps {
			e.AddressPrefix = append(e.AddressPrefix, p.String())
			if p.Bits() == 0 { // a site's default route wins the Internet's
				forced, gateway6 = forced || p.Addr().Is4(), gateway6 || p.Addr().Is6()
			}
		}
		out = append(out, e)
	}
	if !forced {
		hop := arm.NextHopNone
		if internet {
			hop = arm.NextHopInternet
		}
		out = append(out, arm.EffectiveRoute{Source: "Default", State: "Active", AddressPrefix: []string{"0.0.0.0/0"}, NextHopIPAddress: []string{}, NextHopType: hop})
	}
	if six && !gateway6 {
		// As the data plane does: IPv6 goes out when IPv4 does directly.
		hop := arm.NextHopNone
		if internet && !forced {
			hop = arm.NextHopInternet
		}
		out = append(out, arm.EffectiveRoute{Source: "Default", State: "Active", AddressPrefix: []string{"::/0"}, NextHopIPAddress: []string{}, NextHopType: hop})
	}
	if internet {
		// Azure's system routes: the private ranges and the shared
		// address space never go to the Internet. As the data plane
		// has them: refused at the way out, so that a range a site or
		// the VNet has goes there instead, and with forced tunneling
		// what the default route takes goes to the site.
		// Nor when a wider route takes them elsewhere first: a user
		// route of 0.0.0.0/0 to an appliance or the gateway carries
		// them there, as forced tunneling does; one to the Internet
		// takes them to the way out, forced tunneling or not.
		for _, p := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"} {
			if slices.ContainsFunc(out, func(r arm.EffectiveRoute) bool { return slices.Contains(r.AddressPrefix, p) }) ||
				carrier(out, table, netip.MustParsePrefix(p)) != arm.NextHopInternet {
				continue
			}
			out = append(out, arm.EffectiveRoute{Source: "Default", State: "Active", AddressPrefix: []string{p}, NextHopIPAddress: []string{}, NextHopType: arm.NextHopNone})
		}
	}
	// R26: the user-defined routes of the interface's subnet; a system
	// route of the same prefix gives way to one.
	if table != nil {
		for _, r := range table.Properties.Routes {
			for i := range out {
				if slices.Equal(out[i].AddressPrefix, []string{r.Properties.AddressPrefix}) {
					out[i].State = "Invalid"
				}
			}
			hop := []string{}
			if r.Properties.NextHopIPAddress != "" {
				hop = []string{r.Properties.NextHopIPAddress}
			}
			out = append(out, arm.EffectiveRoute{Name: r.Name, Source: "User", State: "Active", AddressPrefix: []string{r.Properties.AddressPrefix},
				NextHopIPAddress: hop, NextHopType: r.Properties.NextHopType, DisableBGPRoutePropagation: table.Properties.DisableBGPRoutePropagation})
		}
	}
	slices.SortStableFunc(out, func(a, b arm.EffectiveRoute) int { return strings.Compare(a.Source, b.Source) })
	return out, nil
}

// carrier returns the next hop type of the route that holds prefix p's
// addresses best among the wider ones of out and of table's user routes
// (a user route wins a tie), as the data plane chooses: "" when none does.
func carrier(out []arm.EffectiveRoute, table *arm.RouteTable, p netip.Prefix) string {
	hop, bits := "", -1
	consider := func(prefix, nextHop string, user bool) {
		q, err := netip.ParsePrefix(prefix)
		if err != nil || q.Bits() >= p.Bits() || q.Addr().Is4() != p.Addr().Is4() || !q.Contains(p.Addr()) {
			return
		}
		if q.Bits() > bits || q.Bits() == bits && user {
			hop, bits = nextHop, q.Bits()
		}
	}
	for _, r := range out {
		for _, s := range r.AddressPrefix {
			consider(s, r.NextHopType, false)
		}
	}
	if table != nil {
		for _, r := range table.Properties.Routes {
			consider(r.Properties.AddressPrefix, r.Properties.NextHopType, true)
		}
	}
	return hop
}

// clientPool returns the range gateway g gives its point-to-site clients
// addresses from, when it takes clients: its pool's first range, IPv4,
// with a protocol to take them by.
func clientPool(g *arm.VirtualNetworkGateway) (netip.Prefix, bool) {
	c := g.Properties.VPNClientConfiguration
	if c == nil || c.VPNClientAddressPool == nil || len(c.VPNClientAddressPool.AddressPrefixes) == 0 || len(c.VPNClientProtocols) == 0 {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(c.VPNClientAddressPool.AddressPrefixes[0])
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}
