package region

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/rules"
)

// typeNatRule is the resource type of a gateway's NAT rules.
const typeNatRule = "Microsoft.Network/virtualNetworkGateways/natRules"

// stageNatRules checks and completes a gateway's NAT rules (VPN NAT):
// static rules that translate a site's addresses as they enter
// (IngressSnat) on a route-based gateway. Dynamic rules and EgressSnat are
// refused as not implemented. A rule a connection uses stays.
func stageNatRules(tx *txn, id arm.ID, g *arm.VirtualNetworkGateway) error {
	p := &g.Properties
	if len(p.NatRules) == 0 {
		p.NatRules = nil
	} else if p.GatewayType != arm.GatewayTypeVpn || p.VPNType != arm.RouteBased {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.natRules", Message: "NAT rules need a route-based VPN gateway"}
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
		r.ID, r.Type, r.Etag = id.Child("natRules", r.Name).String(), typeNatRule, g.Etag
		rp := &r.Properties
		rp.ProvisioningState = arm.Succeeded
		if err := canonical(&rp.Type, field+".properties.type", arm.NatRuleStatic, arm.NatRuleStatic, arm.NatRuleDynamic); err != nil {
			return err
		}
		if err := canonical(&rp.Mode, field+".properties.mode", "", arm.NatRuleIngressSnat, arm.NatRuleEgressSnat); err != nil {
			return err
		}
		switch {
		case rp.Type == arm.NatRuleDynamic:
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.type", Message: "Dynamic NAT rules are not implemented; use Static (one to one)"}
		case rp.Mode == "":
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.mode", Message: "mode is required: IngressSnat"}
		case rp.Mode == arm.NatRuleEgressSnat:
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.mode", Message: "EgressSnat NAT rules are not implemented; IngressSnat translates a site's addresses"}
		}
		if _, err := natMapping(*r, field); err != nil {
			return err
		}
	}
	// A rule a connection of the gateway uses cannot go.
	for _, c := range connectionsOf(tx, id) {
		for _, ref := range c.Properties.IngressNatRules {
			if !slices.ContainsFunc(nr, func(r arm.VirtualNetworkGatewayNatRule) bool { return arm.Equal(r.ID, ref.ID) }) {
				return arm.Errorf(arm.CodeInUseNatRule, "NAT rule %s is used by connection %s; take it out of the connection first", ref.ID, c.ID)
			}
		}
	}
	return nil
}

// natMapping returns a static rule's mapping: one internal and one
// external IPv4 address space of one length, without port ranges.
func natMapping(r arm.VirtualNetworkGatewayNatRule, field string) (rules.NATMapping, error) {
	rp := r.Properties
	bad := func(what string) error {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "NAT rule " + r.Name + ": " + what}
	}
	if len(rp.InternalMappings) != 1 || len(rp.ExternalMappings) != 1 {
		return rules.NATMapping{}, bad("a static rule maps one internal address space to one external one")
	}
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
	case ip.Bits() != ep.Bits():
		return rules.NATMapping{}, bad(fmt.Sprintf("the internal (%v) and external (%v) address spaces must be of one length", ip, ep))
	}
	return rules.NATMapping{Internal: ip.Masked(), External: ep.Masked()}, nil
}

// ingressNAT returns the mappings of the IngressSnat rules connection c
// uses, from its gateway g.
func ingressNAT(g *arm.VirtualNetworkGateway, c *arm.Connection) []rules.NATMapping {
	if g == nil {
		return nil
	}
	var out []rules.NATMapping
	for _, ref := range c.Properties.IngressNatRules {
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
// gateway g1 in IngressSnat mode, on a site-to-site connection without
// BGP; the site's ranges each inside one rule's internal space or outside
// all; no two rules' spaces overlap.
func stageConnectionNAT(c *arm.Connection, g1 *arm.VirtualNetworkGateway, site []netip.Prefix) error {
	p := &c.Properties
	if len(p.EgressNatRules) > 0 {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.egressNatRules", Message: "EgressSnat NAT rules are not implemented"}
	}
	if len(p.IngressNatRules) == 0 {
		p.IngressNatRules = nil
		return nil
	}
	switch {
	case p.ConnectionType != arm.ConnectionIPsec:
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ingressNatRules", Message: "NAT rules apply to site-to-site (IPsec) connections"}
	case p.EnableBGP:
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ingressNatRules", Message: "NAT rules with BGP are not implemented"}
	}
	var maps []rules.NATMapping
	for i, ref := range p.IngressNatRules {
		field := fmt.Sprintf("properties.ingressNatRules[%d]", i)
		j := slices.IndexFunc(g1.Properties.NatRules, func(r arm.VirtualNetworkGatewayNatRule) bool { return arm.Equal(r.ID, ref.ID) })
		if j < 0 {
			return &arm.Error{Code: arm.CodeInvalidReference, Target: field, Message: fmt.Sprintf("%q is not a NAT rule of gateway %s", ref.ID, g1.Name)}
		}
		r := g1.Properties.NatRules[j]
		if r.Properties.Mode != arm.NatRuleIngressSnat {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "NAT rule " + r.Name + " is " + r.Properties.Mode + "; ingressNatRules take IngressSnat rules"}
		}
		m, _ := natMapping(r, field)
		for _, o := range maps {
			if o.Internal.Overlaps(m.Internal) || o.External.Overlaps(m.External) {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "NAT rule " + r.Name + " overlaps another rule of the connection"}
			}
		}
		maps = append(maps, m)
		p.IngressNatRules[i] = arm.SubResource{ID: r.ID}
	}
	for _, sp := range site {
		for _, m := range maps {
			if m.Internal.Overlaps(sp) && !(m.Internal.Bits() <= sp.Bits() && m.Internal.Contains(sp.Addr())) {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ingressNatRules",
					Message: fmt.Sprintf("the site's range %v straddles NAT rule space %v: a range is inside a rule's internal space or outside all", sp, m.Internal)}
			}
		}
	}
	return nil
}
