package region

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/rules"
)

// stageNatRules checks and completes a gateway's NAT rules (VPN NAT):
// rules on a route-based gateway that translate a site's addresses as
// they enter (IngressSnat) or the VNet's as they leave (EgressSnat),
// Static (one to one, both ways) or Dynamic (flows the rule's internal
// side starts, onto addresses and ports of its external space). A rule a
// connection uses stays.
func stageNatRules(tx *txn, id arm.ID, g *arm.VirtualNetworkGateway) error {
	p := &g.Properties
	if len(p.NatRules) == 0 {
		p.NatRules = nil
	} else if p.GatewayType != arm.GatewayTypeVpn || p.VPNType != arm.RouteBased {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.natRules", Message: "NAT rules need a route-based VPN gateway"}
	} else if p.SKU != nil {
		if sku, ok := rules.LookupSKU(p.SKU.Name); ok {
			if err := rules.NATRules(sku, len(p.NatRules)); err != nil {
				return err
			}
		}
	}
	nr := slices.Clone(p.NatRules)
	p.NatRules = nr
	seen := map[string]bool{}
	for i := range nr {
		r := &nr[i]
		field := fmt.Sprintf("properties.natRules[%d]", i)
		if err := ValidName(r.Name); err != nil {
			err.Target = field + ".name"
			return err
		}
		if seen[strings.ToLower(r.Name)] {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".name", Message: "NAT rule " + r.Name + " is there twice"}
		}
		seen[strings.ToLower(r.Name)] = true
		r.ID, r.Type, r.Etag = id.Child("natRules", r.Name).String(), arm.TypeNatRule, g.Etag
		rp := &r.Properties
		rp.ProvisioningState = arm.Succeeded
		if err := canonical(&rp.Type, field+".properties.type", arm.NatRuleStatic, arm.NatRuleStatic, arm.NatRuleDynamic); err != nil {
			return err
		}
		if err := canonical(&rp.Mode, field+".properties.mode", "", arm.NatRuleIngressSnat, arm.NatRuleEgressSnat); err != nil {
			return err
		}
		if rp.Mode == "" {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.mode", Message: "mode is required: IngressSnat (a site's addresses) or EgressSnat (the VNet's)"}
		}
		// Stored without the spaces around them, as every prefix is.
		rp.InternalMappings, rp.ExternalMappings = trimmedMappings(rp.InternalMappings), trimmedMappings(rp.ExternalMappings)
		// Canonical, as every prefix is (a space with host bits set was
		// masked without a word); natMapping masks rules stored before.
		for j, m := range rp.InternalMappings {
			if _, err := rules.ParsePrefix(fmt.Sprintf("%s.properties.internalMappings[%d].addressSpace", field, j), m.AddressSpace); err != nil {
				return err
			}
		}
		for j, m := range rp.ExternalMappings {
			if _, err := rules.ParsePrefix(fmt.Sprintf("%s.properties.externalMappings[%d].addressSpace", field, j), m.AddressSpace); err != nil {
				return err
			}
		}
		if _, err := natMapping(*r, field); err != nil {
			return err
		}
		// Each instance keeps its own flows: the answers to a flow must
		// come back to the instance that translated it, at its own space.
		if rp.Type == arm.NatRuleDynamic && p.ActiveActive && rp.IPConfigurationID == "" {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.ipConfigurationId",
				Message: "NAT rule " + r.Name + " is Dynamic on an active-active gateway: give each instance its own rule (ipConfigurationId) and external space"}
		}
		// A rule of one instance names its IP configuration, by id or, as
		// the portal does, by name.
		if ipc := rp.IPConfigurationID; ipc != "" {
			j := slices.IndexFunc(p.IPConfigurations, func(c arm.VirtualNetworkGatewayIPConfiguration) bool {
				return arm.Equal(c.ID, ipc) || strings.EqualFold(c.Name, ipc)
			})
			if j < 0 {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.ipConfigurationId",
					Message: fmt.Sprintf("NAT rule %s: %q names no IP configuration of gateway %s", r.Name, ipc, g.Name)}
			}
			rp.IPConfigurationID = p.IPConfigurations[j].ID
		}
	}
	// A rule a connection of the gateway uses cannot go, and must still
	// fit the connection.
	for _, c := range connectionsOf(tx, id) {
		for _, ref := range slices.Concat(c.Properties.IngressNatRules, c.Properties.EgressNatRules) {
			if !slices.ContainsFunc(nr, func(r arm.VirtualNetworkGatewayNatRule) bool { return arm.Equal(r.ID, ref.ID) }) {
				return arm.Errorf(arm.CodeInUseNatRule, "NAT rule %s is used by connection %s; take it out of the connection first", ref.ID, c.ID)
			}
		}
	}
	return natFitsConnections(tx, g, "properties.natRules")
}

// natFitsConnections checks the NAT rules of each connection of gateway g
// against the ranges of its site and VNet as staged in tx: after a change
// to the rules, the site's ranges or the VNet's address space, which
// target names.
func natFitsConnections(tx *txn, g *arm.VirtualNetworkGateway, target string) error {
	for _, c := range linked[arm.Connection](tx, arm.TypeConnection, link{gateway1, refKey(g.ID)}) {
		if c.Properties.IngressNatRules == nil && c.Properties.EgressNatRules == nil {
			continue
		}
		cc := *c
		cc.Properties.IngressNatRules, cc.Properties.EgressNatRules = slices.Clone(c.Properties.IngressNatRules), slices.Clone(c.Properties.EgressNatRules)
		site, vnet, siteBGP := natRanges(tx, c, g)
		if err := stageConnectionNAT(&cc, g, site, vnet, siteBGP); err != nil {
			if ae, ok := err.(*arm.Error); ok {
				ae.Message, ae.Target = "connection "+c.Name+": "+ae.Message, target
			}
			return err
		}
	}
	return nil
}

// natRanges returns the address ranges NAT rules of connection c of gateway
// g apply to, its site's and its VNet's, and the site's BGP address.
func natRanges(tx *txn, c *arm.Connection, g *arm.VirtualNetworkGateway) (site, vnet []netip.Prefix, siteBGP netip.Addr) {
	if l := getByRef[arm.LocalNetworkGateway](tx, arm.TypeLocalNetworkGateway, c.Properties.LocalNetworkGateway2.RefID()); l != nil {
		if l.Properties.LocalNetworkAddressSpace != nil {
			site, _ = rules.ParsePrefixes("", l.Properties.LocalNetworkAddressSpace.AddressPrefixes)
		}
		if b := l.Properties.BGPSettings; b != nil {
			siteBGP, _ = netip.ParseAddr(b.BGPPeeringAddress)
		}
	}
	if v := vnetOfGateway(tx, g); v != nil && v.Properties.AddressSpace != nil {
		vnet, _ = rules.ParsePrefixes("", v.Properties.AddressSpace.AddressPrefixes)
	}
	return site, vnet, siteBGP
}

// trimmedMappings returns ms with their address spaces as they are
// stored (see trimmed). A new slice: ms may be the model's.
func trimmedMappings(ms []arm.VPNNatRuleMapping) []arm.VPNNatRuleMapping {
	ms = slices.Clone(ms)
	for i := range ms {
		ms[i].AddressSpace = strings.TrimSpace(ms[i].AddressSpace)
	}
	return ms
}

// natMapping returns a rule's mapping: one internal and one external IPv4
// address space, without port ranges; of one length for a static rule.
func natMapping(r arm.VirtualNetworkGatewayNatRule, field string) (rules.NATMapping, error) {
	rp := r.Properties
	bad := func(what string) error {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "NAT rule " + r.Name + ": " + what}
	}
	if len(rp.InternalMappings) != 1 || len(rp.ExternalMappings) != 1 {
		return rules.NATMapping{}, bad("a rule maps one internal address space to one external one")
	}
	dynamic := rp.Type == arm.NatRuleDynamic
	in, ex := rp.InternalMappings[0], rp.ExternalMappings[0]
	if in.PortRange != "" || ex.PortRange != "" {
		return rules.NATMapping{}, bad("port ranges are not implemented")
	}
	ip, err1 := netip.ParsePrefix(in.AddressSpace)
	ep, err2 := netip.ParsePrefix(ex.AddressSpace)
	switch {
	case err1 != nil || err2 != nil:
		return rules.NATMapping{}, bad("addressSpace must be a CIDR prefix")
	case !ip.Addr().Is4() || !ep.Addr().Is4():
		return rules.NATMapping{}, bad("IPv4 address spaces only")
	case !dynamic && ip.Bits() != ep.Bits():
		return rules.NATMapping{}, bad(fmt.Sprintf("the internal (%v) and external (%v) address spaces of a static rule must be of one length; a Dynamic rule maps onto a smaller space", ip, ep))
	}
	return rules.NATMapping{Internal: ip.Masked(), External: ep.Masked(), Dynamic: dynamic, IPConfiguration: strings.ToLower(rp.IPConfigurationID)}, nil
}

// ingressNAT returns the mappings of the IngressSnat rules connection c
// uses, from its gateway g; egressNAT those of its EgressSnat rules.
func ingressNAT(g *arm.VirtualNetworkGateway, c *arm.Connection) []rules.NATMapping {
	return natMappings(g, c.Properties.IngressNatRules)
}

// SiteRange is a site's range as a gateway's VNet sees it, and the
// instance that shows it so: the lower-case id of its IP configuration,
// "" when every instance does.
type SiteRange struct {
	Prefix          netip.Prefix
	IPConfiguration string
}

// SiteRanges returns site ranges ps as gateway g's VNet sees them
// through connection c's IngressSnat rules. A rule may be an instance's
// (ipConfigurationId): then each instance of an active-active gateway
// shows the site in its own space, and the VNet reaches the site in
// each.
func SiteRanges(g *arm.VirtualNetworkGateway, c *arm.Connection, ps []netip.Prefix) []SiteRange {
	maps := ingressNAT(g, c)
	if !slices.ContainsFunc(maps, func(m rules.NATMapping) bool { return m.IPConfiguration != "" }) {
		var out []SiteRange
		for _, p := range rules.TranslatePrefixes(ps, maps) {
			out = append(out, SiteRange{Prefix: p})
		}
		return out
	}
	var ipconfigs []string
	by := map[netip.Prefix][]string{}
	var order []netip.Prefix
	for _, ipc := range g.Properties.IPConfigurations {
		id := strings.ToLower(ipc.ID)
		ipconfigs = append(ipconfigs, id)
		for _, p := range rules.TranslatePrefixes(ps, rules.AtIPConfiguration(maps, id)) {
			if by[p] == nil {
				order = append(order, p)
			}
			by[p] = append(by[p], id)
		}
	}
	var out []SiteRange
	for _, p := range order {
		if len(by[p]) == len(ipconfigs) {
			out = append(out, SiteRange{Prefix: p})
			continue
		}
		for _, id := range by[p] {
			out = append(out, SiteRange{Prefix: p, IPConfiguration: id})
		}
	}
	return out
}

// siteSpace is the union of SiteRanges' prefixes: the addresses the
// site takes in the gateway's domain (R35).
func siteSpace(g *arm.VirtualNetworkGateway, c *arm.Connection, ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range SiteRanges(g, c, ps) {
		if !slices.Contains(out, r.Prefix) {
			out = append(out, r.Prefix)
		}
	}
	return out
}

func egressNAT(g *arm.VirtualNetworkGateway, c *arm.Connection) []rules.NATMapping {
	return natMappings(g, c.Properties.EgressNatRules)
}

func natMappings(g *arm.VirtualNetworkGateway, refs []arm.SubResource) []rules.NATMapping {
	if g == nil {
		return nil
	}
	var out []rules.NATMapping
	for _, ref := range refs {
		for _, r := range g.Properties.NatRules {
			if arm.Equal(r.ID, ref.ID) {
				if m, err := natMapping(r, ""); err == nil {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// stageConnectionNAT checks the NAT rules connection c names: rules of its
// gateway g1, IngressSnat ones in ingressNatRules and EgressSnat ones in
// egressNatRules, on a site-to-site connection, with BGP only when the
// gateway translates the routes and the site's BGP address (siteBGP) is
// no APIPA one; each site range inside one ingress rule's internal space
// or outside all; each egress rule's internal space inside a VNet range,
// or holding it; no two rules of a list overlap.
func stageConnectionNAT(c *arm.Connection, g1 *arm.VirtualNetworkGateway, site, vnet []netip.Prefix, siteBGP netip.Addr) error {
	p := &c.Properties
	if len(p.IngressNatRules) == 0 {
		p.IngressNatRules = nil
	}
	if len(p.EgressNatRules) == 0 {
		p.EgressNatRules = nil
	}
	if p.IngressNatRules == nil && p.EgressNatRules == nil {
		return nil
	}
	switch {
	case p.ConnectionType != arm.ConnectionIPsec:
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ingressNatRules", Message: "NAT rules apply to site-to-site (IPsec) connections"}
	case p.EnableBGP && !g1.Properties.EnableBGPRouteTranslationForNat:
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ingressNatRules",
			Message: "NAT rules on a BGP connection need enableBgpRouteTranslationForNat on gateway " + g1.Name + ": vnetgw translates the routes learned and advertised, and does not pass them untranslated"}
	case p.EnableBGP && rules.APIPA.Contains(siteBGP):
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ingressNatRules",
			Message: fmt.Sprintf("NAT rules do not go with the BGP APIPA address %v of the site; give the site's BGP address as it is after its IngressSnat rule", siteBGP)}
	}
	for _, l := range []struct {
		field, mode, whose string
		refs               []arm.SubResource
		ranges             []netip.Prefix
	}{
		{"properties.ingressNatRules", arm.NatRuleIngressSnat, "site's", p.IngressNatRules, site},
		{"properties.egressNatRules", arm.NatRuleEgressSnat, "VNet's", p.EgressNatRules, vnet},
	} {
		var maps []rules.NATMapping
		for i, ref := range l.refs {
			field := fmt.Sprintf("%s[%d]", l.field, i)
			j := slices.IndexFunc(g1.Properties.NatRules, func(r arm.VirtualNetworkGatewayNatRule) bool { return arm.Equal(r.ID, ref.ID) })
			if j < 0 {
				return &arm.Error{Code: arm.CodeInvalidReference, Target: field, Message: fmt.Sprintf("%q is not a NAT rule of gateway %s", ref.ID, g1.Name)}
			}
			r := g1.Properties.NatRules[j]
			if r.Properties.Mode != l.mode {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "NAT rule " + r.Name + " is " + r.Properties.Mode + "; " + l.field + " take " + l.mode + " rules"}
			}
			m, _ := natMapping(r, field)
			if m.Dynamic && p.EnableBGP {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: field,
					Message: "NAT rule " + r.Name + " is Dynamic: BGP route translation maps prefixes one to one; use a Static rule on a BGP connection"}
			}
			for _, o := range maps {
				// Rules of different instances (IP configurations) of an
				// active-active gateway may map one space.
				apart := o.IPConfiguration != "" && m.IPConfiguration != "" && o.IPConfiguration != m.IPConfiguration
				if !apart && (o.Internal.Overlaps(m.Internal) || o.External.Overlaps(m.External)) {
					return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "NAT rule " + r.Name + " overlaps another rule of the connection"}
				}
				// A Dynamic rule's flows are its instance's: the site sends
				// the answers to an external space by one tunnel, which must
				// be that instance's.
				if apart && (o.Dynamic || m.Dynamic) && o.External.Overlaps(m.External) {
					return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: fmt.Sprintf("NAT rule %s: its external space %v overlaps %v of another instance's rule of the connection; a Dynamic rule's flows are its instance's: give each instance its own external space", r.Name, m.External, o.External)}
				}
			}
			maps = append(maps, m)
			l.refs[i] = arm.SubResource{ID: r.ID}
		}
		egress := l.mode == arm.NatRuleEgressSnat
		for _, m := range maps {
			covered := false
			for _, rg := range l.ranges {
				inRule := m.Internal.Bits() <= rg.Bits() && m.Internal.Contains(rg.Addr())
				inRange := egress && rg.Bits() <= m.Internal.Bits() && rg.Contains(m.Internal.Addr())
				if m.Internal.Overlaps(rg) && !inRule && !inRange {
					return &arm.Error{Code: arm.CodeInvalidParameter, Target: l.field,
						Message: fmt.Sprintf("the %s range %v straddles NAT rule space %v: a range is inside a rule's internal space or outside all", l.whose, rg, m.Internal)}
				}
				covered = covered || m.Internal.Overlaps(rg)
			}
			if egress && !covered {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: l.field,
					Message: fmt.Sprintf("EgressSnat NAT rule space %v holds none of the VNet's addresses", m.Internal)}
			}
			// The VNet as the site sees it is none of the site's own
			// network, which the site keeps off the tunnel.
			for _, rg := range site {
				if egress && m.External.Overlaps(rg) {
					return &arm.Error{Code: arm.CodeInvalidParameter, Target: l.field,
						Message: fmt.Sprintf("EgressSnat NAT rule external space %v overlaps the site's range %v: the site would see the VNet at its own addresses", m.External, rg)}
				}
			}
		}
	}
	return nil
}

// NAT rules as child resources of their gateway
// (.../virtualNetworkGateways/{gw}/natRules/{name}): views of, and
// changes to, the gateway's natRules.

// PutNatRule creates or replaces one NAT rule of a gateway.
func (r *Region) PutNatRule(ctx context.Context, id arm.ID, in *arm.VirtualNetworkGatewayNatRule) (*arm.VirtualNetworkGatewayNatRule, Outcome, error) {
	var out *arm.VirtualNetworkGatewayNatRule
	var created bool
	warnings, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		gid := id.Parent()
		old := get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, gid)
		if old == nil {
			return parentNotFound(gid)
		}
		rule := *in
		rule.Name = id.Name()
		g := *old
		g.Properties.NatRules, created = putChild(old.Properties.NatRules, rule, func(x *arm.VirtualNetworkGatewayNatRule) *string { return &x.Name })
		if err := r.stageGateway(tx, gid, &g, old); err != nil {
			return err
		}
		for _, x := range g.Properties.NatRules {
			if strings.EqualFold(x.Name, rule.Name) {
				out = &x
			}
		}
		return nil
	})
	return out, Outcome{Created: created, Warnings: warnings}, err
}

// GetNatRule returns one NAT rule of a gateway.
func (r *Region) GetNatRule(id arm.ID) (*arm.VirtualNetworkGatewayNatRule, error) {
	return child(r, id, natRulesOf, func(x arm.VirtualNetworkGatewayNatRule) string { return x.Name })
}

// ListNatRules returns the NAT rules of a gateway, as List pages.
func (r *Region) ListNatRules(gw arm.ID, page Page) ([]any, string, error) {
	return children(r, gw, "natRules", natRulesOf, func(x arm.VirtualNetworkGatewayNatRule) string { return x.Name }, page)
}

func natRulesOf(g *arm.VirtualNetworkGateway) []arm.VirtualNetworkGatewayNatRule {
	return g.Properties.NatRules
}

// DeleteNatRule deletes a NAT rule unless a connection uses it.
func (r *Region) DeleteNatRule(ctx context.Context, id arm.ID) (bool, error) {
	existed := false
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		old := get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id.Parent())
		if old == nil {
			return parentNotFound(id.Parent()) // as ARM: 404, not 204
		}
		g := *old
		g.Properties.NatRules = slices.DeleteFunc(slices.Clone(old.Properties.NatRules), func(x arm.VirtualNetworkGatewayNatRule) bool { return strings.EqualFold(x.Name, id.Name()) })
		if existed = len(g.Properties.NatRules) < len(old.Properties.NatRules); !existed {
			return nil
		}
		return r.stageGateway(tx, id.Parent(), &g, old)
	})
	return existed, err
}
