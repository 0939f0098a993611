package region

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/rules"
)

// PutGateway creates or updates a virtual network gateway. Creating one
// allocates the public address of each Dynamic public IP it uses (R20),
// places it in its VNet's GatewaySubnet (R23) and gives it a BGP peering
// address there (R41).
func (r *Region) PutGateway(ctx context.Context, id arm.ID, in *arm.VirtualNetworkGateway) (*arm.VirtualNetworkGateway, Outcome, error) {
	var out *arm.VirtualNetworkGateway
	var created bool
	warnings, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		old := get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id)
		created = old == nil
		g := *in
		if err := r.stageGateway(tx, id, &g, old); err != nil {
			return err
		}
		out = renderGateway(tx, &g).(*arm.VirtualNetworkGateway)
		return nil
	})
	return out, Outcome{Created: created, Warnings: warnings}, err
}

func (r *Region) stageGateway(tx *txn, id arm.ID, g *arm.VirtualNetworkGateway, old *arm.VirtualNetworkGateway) error {
	if old != nil {
		id = storedID(id, old.ID)
	}
	if err := setIdentity(&g.Resource, id, g.Location); err != nil {
		return err
	}
	p := &g.Properties
	p.ProvisioningState = arm.Succeeded
	p.ResourceGUID = NewGUID()
	if err := gatewayKind(p); err != nil {
		return err
	}
	if p.EnablePrivateIPAddress {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enablePrivateIpAddress",
			Message: "enablePrivateIpAddress is not available: a private address is for on-premises networks that reach the gateway over ExpressRoute, which vnetgw does not have; tunnels go to the gateway's public IP address"}
	}
	if p.AdminState != "" {
		if canonical(&p.AdminState, "properties.adminState", "Enabled", "Enabled") != nil {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.adminState",
				Message: fmt.Sprintf("adminState %q is not available: a gateway is Enabled (delete its connections to take its tunnels down)", p.AdminState)}
		}
	}
	if err := gatewayExtras(p); err != nil {
		return err
	}
	if i := g.Identity; i != nil && (i.Type != "" && !strings.EqualFold(i.Type, "None") || given(i.UserAssignedIdentities)) {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "identity",
			Message: fmt.Sprintf("identity %q is not available: a vnetgw gateway reads no Key Vault; upload point-to-site root certificates in vpnClientConfiguration.vpnClientRootCertificates", i.Type)}
	}
	g.Identity = nil
	if old != nil {
		p.ResourceGUID = old.Properties.ResourceGUID
		if err := keepLocation(&g.Resource, &old.Resource, id); err != nil {
			return err
		}
		switch {
		case p.GatewayType != old.Properties.GatewayType:
			return arm.Errorf(arm.CodeGatewayTypeChange, "gateway %s is of type %s; its gatewayType cannot change (delete and create it again)", old.Name, old.Properties.GatewayType)
		case p.VPNType != old.Properties.VPNType:
			return arm.Errorf(arm.CodeVPNTypeChange, "gateway %s is %s; its vpnType cannot change in place (delete and create it again)", old.Name, old.Properties.VPNType)
		}
	}
	if old != nil && old.Properties.SKU != nil && (p.SKU == nil || p.SKU.Name == "") {
		// Left out, kept: a PUT without it must not resize the gateway.
		sku := *old.Properties.SKU
		if p.SKU != nil {
			sku.Capacity = p.SKU.Capacity
		}
		p.SKU = &sku
	}
	sku, err := gatewaySKU(p)
	if err != nil {
		return err
	}
	// A gateway stored before the generation was checked (Generation1
	// whatever its SKU) is taken back as it is, while neither changes.
	if old == nil || old.Properties.SKU == nil || p.VPNGatewayGeneration != old.Properties.VPNGatewayGeneration || p.SKU.Name != old.Properties.SKU.Name {
		gen, aerr := rules.VPNGatewayGeneration(p.VPNGatewayGeneration, p.GatewayType, p.SKU.Name)
		if aerr != nil {
			return aerr
		}
		p.VPNGatewayGeneration = gen
	}
	if err := autoScale(p); err != nil {
		return err
	}
	vnet, gwSubnet, err := r.stageGatewayIPConfigs(tx, id, g, old)
	if err != nil {
		return err
	}
	for _, other := range gatewaysInVNet(tx, vnet.ID) {
		if !arm.Equal(other.ID, g.ID) && other.Properties.GatewayType == p.GatewayType {
			return arm.Errorf(arm.CodeGatewaySubnetFull, "virtual network %s already has %s gateway %s; a VNet holds one gateway of each type (R23)", vnet.Name, p.GatewayType, other.Name)
		}
		// Azure: ExpressRoute and VPN gateways coexist (R6, R40) in a
		// GatewaySubnet of /27 or larger. Checked when the second is made.
		if old == nil && !arm.Equal(other.ID, g.ID) {
			for _, pfx := range subnetPrefixes(gwSubnet) {
				if pfx.Addr().Is4() && pfx.Bits() > coexistGatewaySubnetBits {
					return arm.Errorf(arm.CodeGatewaySubnetTooSmall,
						"virtual network %s already has %s gateway %s; ExpressRoute and VPN gateways coexist only in a GatewaySubnet of /%d or larger, and %s is smaller (R6, R23)",
						vnet.Name, other.Properties.GatewayType, other.Name, coexistGatewaySubnetBits, pfx)
				}
			}
		}
	}
	if p.GatewayType == arm.GatewayTypeVpn {
		var oldClients *arm.VPNClientConfiguration
		if old != nil {
			oldClients = old.Properties.VPNClientConfiguration
		}
		if err := validateClientConfig(p, sku, vnet, oldClients); err != nil {
			return err
		}
		if p.CustomRoutes != nil && len(p.CustomRoutes.AddressPrefixes) == 0 {
			p.CustomRoutes = nil
		}
		if p.CustomRoutes != nil {
			cr := *p.CustomRoutes
			cr.AddressPrefixes = trimmed(cr.AddressPrefixes)
			p.CustomRoutes = &cr
			if _, err := rules.ParsePrefixes("properties.customRoutes.addressPrefixes", cr.AddressPrefixes); err != nil {
				return err
			}
		}
		if err := stageBGP(tx, id, p, sku, gwSubnet); err != nil {
			return err
		}
		if ds := p.GatewayDefaultSite.RefID(); ds != "" {
			if p.VPNType == arm.PolicyBased {
				// A policy-based tunnel carries its site's ranges alone:
				// the default route would lead nowhere.
				return &arm.Error{Code: arm.CodeGatewayDefaultSite, Target: "properties.gatewayDefaultSite",
					Message: "forced tunneling needs a route-based gateway; this gateway is policy-based (R25)"}
			}
			if _, _, err := ref[arm.LocalNetworkGateway](tx, arm.TypeLocalNetworkGateway, "properties.gatewayDefaultSite", ds); err != nil {
				e := err.(*arm.Error)
				e.Code = arm.CodeGatewayDefaultSite
				e.Message += " (the default site of forced tunneling must be a local network gateway, R25)"
				return e
			}
		}
		if old != nil && old.Properties.SKU != nil {
			if from, ok := rules.LookupSKU(old.Properties.SKU.Name); ok {
				if err := rules.Resize(old.Name, from, sku); err != nil {
					return err
				}
			}
		}
		if old != nil {
			if err := rules.R32TunnelLimit(sku, len(connectionsOf(tx, id))); err != nil {
				return err
			}
		}
	} else {
		p.BGPSettings, p.VPNClientConfiguration, p.GatewayDefaultSite, p.EnableBGP, p.CustomRoutes = nil, nil, nil, false, nil
	}
	if err := stageNatRules(tx, id, g); err != nil {
		return err
	}
	tx.put(arm.TypeVirtualNetworkGateway, id.Key(), g)
	if err := r.connectionsFit(tx, g.ID); err != nil {
		return err
	}
	return r35Affected(tx, []*arm.VirtualNetworkGateway{g})
}

// coexistGatewaySubnetBits is the longest IPv4 prefix of a GatewaySubnet
// that holds an ExpressRoute gateway and a VPN gateway together (Azure's
// ExpressRoute/site-to-site coexistence: "/27 or a shorter prefix").
const coexistGatewaySubnetBits = 27

// gatewayExtras checks the settings of Azure's that change nothing vnetgw
// does, kept and shown, and refuses those it cannot honour rather than
// ignore them.
func gatewayExtras(p *arm.VirtualNetworkGatewayProperties) error {
	if p.EnableDNSForwarding {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableDnsForwarding",
			Message: "enableDnsForwarding is not available: vnetgw's gateways answer no DNS queries; send on-premises queries to the VNet's DNS servers"}
	}
	if given(p.VirtualNetworkGatewayPolicyGroups) {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.virtualNetworkGatewayPolicyGroups",
			Message: "virtualNetworkGatewayPolicyGroups is not available: every point-to-site client takes its address from vpnClientConfiguration.vpnClientAddressPool"}
	}
	p.VirtualNetworkGatewayPolicyGroups = nil
	if p.ResiliencyModel != "" {
		return canonical(&p.ResiliencyModel, "properties.resiliencyModel", "", "SingleHomed", "MultiHomed")
	}
	return nil
}

// autoScale checks an autoScaleConfiguration, which bounds the scale units
// of an ExpressRoute gateway of SKU ErGwScale and of no other.
func autoScale(p *arm.VirtualNetworkGatewayProperties) error {
	a := p.AutoScaleConfiguration
	if a == nil || a.Bounds == nil {
		p.AutoScaleConfiguration = nil
		return nil
	}
	if p.SKU.Name != "ErGwScale" {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.autoScaleConfiguration",
			Message: fmt.Sprintf("autoScaleConfiguration is for ExpressRoute gateways of SKU ErGwScale; a %s gateway's capacity is its SKU's", p.SKU.Name)}
	}
	lo, hi := a.Bounds.Min, a.Bounds.Max
	if lo != nil && *lo < 0 || hi != nil && *hi < 0 || lo != nil && hi != nil && *lo > *hi {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.autoScaleConfiguration.bounds",
			Message: "autoScaleConfiguration.bounds: min and max are scale units, 0 or more, min not above max"}
	}
	return nil
}

// given tells whether a JSON value vnetgw refuses was given: not left out,
// null, an empty list or an empty object.
func given(v json.RawMessage) bool {
	t := strings.TrimSpace(string(v))
	return t != "" && t != "null" && t != "[]" && t != "{}"
}

// gatewayKind canonicalises gatewayType and vpnType.
func gatewayKind(p *arm.VirtualNetworkGatewayProperties) error {
	switch {
	case p.GatewayType == "" || strings.EqualFold(p.GatewayType, arm.GatewayTypeVpn):
		p.GatewayType = arm.GatewayTypeVpn
	case strings.EqualFold(p.GatewayType, arm.GatewayTypeExpressRoute):
		p.GatewayType = arm.GatewayTypeExpressRoute
		p.VPNType = arm.RouteBased
		return nil
	default:
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.gatewayType", Message: "gatewayType must be Vpn or ExpressRoute; it is " + p.GatewayType}
	}
	switch {
	case p.VPNType == "" || strings.EqualFold(p.VPNType, arm.RouteBased):
		p.VPNType = arm.RouteBased
	case strings.EqualFold(p.VPNType, arm.PolicyBased):
		p.VPNType = arm.PolicyBased
	default:
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnType", Message: "vpnType must be RouteBased or PolicyBased; it is " + p.VPNType}
	}
	return nil
}

// gatewaySKU canonicalises the SKU and returns its limits.
func gatewaySKU(p *arm.VirtualNetworkGatewayProperties) (rules.SKU, error) {
	name := "VpnGw1"
	if p.GatewayType == arm.GatewayTypeExpressRoute {
		name = "Standard"
	}
	if p.SKU != nil && p.SKU.Name != "" {
		name = p.SKU.Name
	}
	// A gateway given no capacity shows 0, as Azure's GET of a VpnGw1
	// gateway does (VirtualNetworkGatewayGet.json, 2024-05-01).
	sku := &arm.VirtualNetworkGatewaySKU{Capacity: new(int32)}
	if p.SKU != nil && p.SKU.Capacity != nil {
		sku.Capacity = p.SKU.Capacity
	}
	p.SKU = sku
	if p.GatewayType == arm.GatewayTypeExpressRoute {
		canon, ok := rules.ExpressRouteSKU(name)
		if !ok {
			return rules.SKU{}, &arm.Error{Code: arm.CodeInvalidSKU, Target: "properties.sku.name", Message: "ExpressRoute gateway SKU " + name + " is unknown"}
		}
		sku.Name, sku.Tier = canon, canon
		return rules.SKU{Name: canon}, nil
	}
	s, ok := rules.LookupSKU(name)
	if !ok {
		return rules.SKU{}, &arm.Error{Code: arm.CodeInvalidSKU, Target: "properties.sku.name",
			Message: fmt.Sprintf("VPN gateway SKU %s is unknown; use one of %s", name, strings.Join(rules.VPNSKUNames(), ", "))}
	}
	sku.Name, sku.Tier = s.Name, s.Name
	return s, nil
}

// stageGatewayIPConfigs resolves the gateway's IP configurations: subnet
// (GatewaySubnet of one VNet), private address, public address.
func (r *Region) stageGatewayIPConfigs(tx *txn, id arm.ID, g *arm.VirtualNetworkGateway, old *arm.VirtualNetworkGateway) (*arm.VirtualNetwork, *arm.Subnet, error) {
	p := &g.Properties
	n := len(p.IPConfigurations)
	want := 1
	if p.ActiveActive {
		// Two instances, each with its own public address and tunnels.
		want = 2
		if p.GatewayType != arm.GatewayTypeVpn || p.VPNType != arm.RouteBased || strings.EqualFold(p.SKU.Name, "Basic") {
			return nil, nil, &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.activeActive", Message: "active-active needs a route-based VPN gateway of a SKU other than Basic"}
		}
	}
	if n != want {
		return nil, nil, &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ipConfigurations",
			Message: fmt.Sprintf("this gateway needs exactly %d IP configuration(s) (two when activeActive); %d were given", want, n)}
	}
	cfgs := slices.Clone(p.IPConfigurations)
	p.IPConfigurations = cfgs
	var vnet *arm.VirtualNetwork
	var gwSubnet *arm.Subnet
	var oldPIPs []string
	if old != nil {
		for _, c := range old.Properties.IPConfigurations {
			oldPIPs = append(oldPIPs, c.Properties.PublicIPAddress.RefID())
		}
	}
	var newPIPs []string
	names := map[string]bool{}
	for i := range cfgs {
		c := &cfgs[i]
		field := fmt.Sprintf("properties.ipConfigurations[%d]", i)
		if c.Name == "" {
			c.Name = fmt.Sprintf("ipconfig%d", i+1)
		}
		if err := ValidName(c.Name); err != nil {
			return nil, nil, err
		}
		if names[strings.ToLower(c.Name)] {
			// Ids compare without case: two such would be one.
			return nil, nil, &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".name", Message: "IP configuration " + c.Name + " is there twice"}
		}
		names[strings.ToLower(c.Name)] = true
		c.ID = id.Child("ipConfigurations", c.Name).String()
		c.Etag = g.Etag
		v, s, _, err := refSubnet(tx, field+".properties.subnet", c.Properties.Subnet.RefID())
		if err != nil {
			return nil, nil, err
		}
		prefixes, perr := rules.ParsePrefixes(field+".properties.subnet", s.Prefixes())
		if perr != nil {
			return nil, nil, perr
		}
		if _, err := rules.R23GatewaySubnet(s.Name, prefixes); err != nil {
			return nil, nil, err
		}
		if vnet != nil && !arm.Equal(vnet.ID, v.ID) {
			return nil, nil, &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "all IP configurations of a gateway must be in the same virtual network"}
		}
		if v.Location != g.Location {
			return nil, nil, arm.Errorf(arm.CodeInvalidParameter, "gateway %s is in %s but virtual network %s is in %s; they must be in one location", g.Name, g.Location, v.Name, v.Location)
		}
		vnet, gwSubnet = v, s
		c.Properties.Subnet = arm.Ref(s.ID)
		c.Properties.PrivateIPAllocationMethod = arm.Dynamic
		c.Properties.ProvisioningState = arm.Succeeded
		// Read-only in ARM: the gateway's address is the one it was
		// given, or one allocated now, never the body's (a GET's body
		// put again for another gateway, an address of the subnet's
		// hosts, or none at all).
		c.Properties.PrivateIPAddress = ""
		if old != nil {
			if i < len(old.Properties.IPConfigurations) {
				oc := old.Properties.IPConfigurations[i]
				if !arm.Equal(oc.Properties.Subnet.RefID(), s.ID) {
					return nil, nil, arm.Errorf(arm.CodeInvalidParameter, "gateway %s is in subnet %s; it cannot move to another virtual network or subnet", g.Name, oc.Properties.Subnet.RefID())
				}
				c.Properties.PrivateIPAddress = oc.Properties.PrivateIPAddress
			}
		}
		if c.Properties.PrivateIPAddress == "" {
			var earlier []netip.Addr
			for _, e := range cfgs[:i] {
				if a, err := netip.ParseAddr(e.Properties.PrivateIPAddress); err == nil {
					earlier = append(earlier, a)
				}
			}
			// Nor the BGP peering address asked for another instance:
			// that instance peers from it (stageBGP refuses the clash).
			if b := p.BGPSettings; b != nil && b.BGPPeeringAddress != "" {
				for j, x := range strings.Split(b.BGPPeeringAddress, ",") {
					if a, err := netip.ParseAddr(strings.TrimSpace(x)); err == nil && j != i {
						earlier = append(earlier, a)
					}
				}
			}
			a, err := allocateInSubnet(tx, s, id.Key(), earlier...)
			if err != nil {
				return nil, nil, err
			}
			c.Properties.PrivateIPAddress = a.String()
		}
		pipRef := c.Properties.PublicIPAddress.RefID()
		if pipRef == "" && g.Properties.GatewayType == arm.GatewayTypeExpressRoute {
			continue
		}
		pip, pipID, err := ref[arm.PublicIPAddress](tx, arm.TypePublicIPAddress, field+".properties.publicIPAddress", pipRef)
		if err != nil {
			return nil, nil, err
		}
		if pip.Location != g.Location {
			return nil, nil, arm.Errorf(arm.CodeInvalidParameter, "public IP address %s is in %s; gateway %s is in %s", pip.Name, pip.Location, g.Name, g.Location)
		}
		if u := pip.Properties.IPConfiguration.RefID(); u != "" && !arm.Equal(u, c.ID) && !ownConfig(old, u) {
			return nil, nil, arm.Errorf(arm.CodeInUsePublicIP, "public IP address %s is already in use by %s", pip.Name, u)
		}
		if slices.ContainsFunc(newPIPs, func(x string) bool { return arm.Equal(x, pip.ID) }) {
			return nil, nil, arm.Errorf(arm.CodeInUsePublicIP, "public IP address %s is used by two IP configurations", pip.Name)
		}
		newPIPs = append(newPIPs, pip.ID)
		np := *pip
		changed := !arm.Equal(pip.Properties.IPConfiguration.RefID(), c.ID)
		np.Properties.IPConfiguration = arm.Ref(c.ID)
		if np.Properties.IPAddress == "" {
			a, err := r.allocatePublicIP(tx) // R20: allocated when the gateway is created
			if err != nil {
				return nil, nil, err
			}
			np.Properties.IPAddress, changed = a.String(), true
		}
		if changed {
			np.Etag = newEtag() // what a GET shows of it changed
		}
		c.Properties.PublicIPAddress = arm.Ref(pip.ID)
		tx.put(arm.TypePublicIPAddress, pipID.Key(), &np)
	}
	for _, o := range oldPIPs {
		if o != "" && !slices.ContainsFunc(newPIPs, func(x string) bool { return arm.Equal(x, o) }) {
			releasePublicIP(tx, o)
		}
	}
	return vnet, gwSubnet, nil
}

// releasePublicIP detaches a public IP address from its gateway; a Dynamic
// one gives its address back to the pool (R20).
func releasePublicIP(tx *txn, refID string) {
	pip := getByRef[arm.PublicIPAddress](tx, arm.TypePublicIPAddress, refID)
	if pip == nil {
		return
	}
	np := *pip
	np.Properties.IPConfiguration, np.Etag = nil, newEtag()
	if np.Properties.PublicIPAllocationMethod == arm.Dynamic {
		np.Properties.IPAddress = ""
	}
	tx.put(arm.TypePublicIPAddress, strings.ToLower(pip.ID), &np)
}

// clientUnheld refuses the point-to-site settings vnetgw does not honour
// rather than ignore them: Azure AD authentication, which an older client
// asks for with aadTenant and no vpnAuthenticationTypes, and a pool per
// policy group.
func clientUnheld(c *arm.VPNClientConfiguration) error {
	for _, f := range []struct{ name, v string }{{"aadTenant", c.AADTenant}, {"aadAudience", c.AADAudience}, {"aadIssuer", c.AADIssuer}} {
		if f.v != "" {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration." + f.name,
				Message: f.name + " is not available: Azure AD authentication of point-to-site clients is not there in vnetgw; clients authenticate with certificates of the uploaded roots (Certificate) or with RADIUS (Radius)"}
		}
	}
	if given(c.VngClientConnectionConfigurations) {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration.vngClientConnectionConfigurations",
			Message: "vngClientConnectionConfigurations is not available: every point-to-site client takes its address from vpnClientAddressPool"}
	}
	c.VngClientConnectionConfigurations = nil
	return nil
}

// validateClientConfig checks the point-to-site configuration (R12, R15,
// R32) and drops an empty one.
func validateClientConfig(p *arm.VirtualNetworkGatewayProperties, sku rules.SKU, vnet *arm.VirtualNetwork, old *arm.VPNClientConfiguration) error {
	c := p.VPNClientConfiguration
	if c != nil {
		if err := clientUnheld(c); err != nil {
			return err
		}
	}
	if c == nil || (c.VPNClientAddressPool == nil || len(c.VPNClientAddressPool.AddressPrefixes) == 0) && len(c.VPNClientProtocols) == 0 && len(c.VPNClientRootCertificates) == 0 {
		p.VPNClientConfiguration = nil
		return nil
	}
	if err := rules.R15PointToSite(p.VPNType); err != nil {
		return err
	}
	nc := *c
	p.VPNClientConfiguration = &nc
	if nc.VPNClientAddressPool == nil || len(nc.VPNClientAddressPool.AddressPrefixes) == 0 {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration.vpnClientAddressPool",
			Message: "point-to-site needs a client address pool (vpnClientAddressPool.addressPrefixes)"}
	}
	np := *nc.VPNClientAddressPool
	np.AddressPrefixes = trimmed(np.AddressPrefixes)
	nc.VPNClientAddressPool = &np
	pool, err := rules.ParsePrefixes("properties.vpnClientConfiguration.vpnClientAddressPool.addressPrefixes", np.AddressPrefixes)
	if err != nil {
		return err
	}
	space, _ := rules.ParsePrefixes("", vnet.Properties.AddressSpace.AddressPrefixes)
	if a, b, ok := rules.Overlap(pool, space); ok {
		return arm.Errorf(arm.CodeAddressSpaceOverlap, "the client address pool %s overlaps %s of virtual network %s", a, b, vnet.Name)
	}
	if len(nc.VPNClientProtocols) == 0 {
		nc.VPNClientProtocols = []string{rules.ProtocolSSTP}
		if _, ok := sku.P2S[rules.ProtocolIKEv2]; ok {
			nc.VPNClientProtocols = append(nc.VPNClientProtocols, rules.ProtocolIKEv2)
		}
	}
	protocols, perr := rules.R32ClientProtocols(sku, nc.VPNClientProtocols)
	if perr != nil {
		return perr
	}
	nc.VPNClientProtocols = protocols
	auth, aerr := rules.P2SAuthentication(nc.VPNAuthenticationTypes)
	if aerr != nil {
		return aerr
	}
	nc.VPNAuthenticationTypes = auth
	if err := validateRadius(&nc, old); err != nil {
		return err
	}
	if err := rules.P2SPool(pool[0], protocols); err != nil {
		return err
	}
	if len(nc.VPNClientIPsecPolicies) > 1 {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: "properties.vpnClientConfiguration.vpnClientIpsecPolicies",
			Message: "a gateway takes at most one custom IPsec/IKE policy for its point-to-site clients"}
	}
	nc.VPNClientIPsecPolicies = slices.Clone(nc.VPNClientIPsecPolicies)
	for i := range nc.VPNClientIPsecPolicies {
		if err := checkIPsecPolicy(&nc.VPNClientIPsecPolicies[i], "properties.vpnClientConfiguration.vpnClientIpsecPolicies[0]."); err != nil {
			return err
		}
	}
	if err := rules.R12RootCertificates(len(nc.VPNClientRootCertificates)); err != nil {
		return err
	}
	nc.VPNClientRootCertificates = slices.Clone(nc.VPNClientRootCertificates)
	names := map[string]bool{}
	for i := range nc.VPNClientRootCertificates {
		rc := &nc.VPNClientRootCertificates[i]
		if err := ValidName(rc.Name); err != nil {
			return err
		}
		if names[strings.ToLower(rc.Name)] {
			return arm.Errorf(arm.CodeInvalidCertificate, "root certificate name %q appears twice", rc.Name)
		}
		names[strings.ToLower(rc.Name)] = true
		if err := checkCertificate(rc.Properties.PublicCertData); err != nil {
			return arm.Errorf(arm.CodeInvalidCertificate, "root certificate %s: %v (R12)", rc.Name, err)
		}
		rc.Properties.ProvisioningState = arm.Succeeded
		// Read-only: a GET shows the gateway's (renderGateway).
		rc.ID, rc.Etag = "", ""
	}
	// A revoked certificate's thumbprint that is not one would revoke
	// nothing, silently: it is refused, and kept as the digits alone.
	nc.VPNClientRevokedCertificates = slices.Clone(nc.VPNClientRevokedCertificates)
	for i := range nc.VPNClientRevokedCertificates {
		rc := &nc.VPNClientRevokedCertificates[i]
		if err := ValidName(rc.Name); err != nil {
			return err
		}
		t, ok := eaptls.Thumbprint(rc.Properties.Thumbprint)
		if !ok {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration.vpnClientRevokedCertificates",
				Message: fmt.Sprintf("revoked certificate %s: thumbprint %q is not a SHA-1 thumbprint (40 hex digits, spaces or colons between them allowed)", rc.Name, rc.Properties.Thumbprint)}
		}
		rc.Properties.Thumbprint = t
		rc.Properties.ProvisioningState = arm.Succeeded
		rc.ID, rc.Etag = "", ""
	}
	return nil
}

// CertificateDER decodes a root certificate's publicCertData: base64 DER,
// with or without PEM armour lines.
func CertificateDER(data string) ([]byte, error) {
	var b strings.Builder
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-----") {
			b.WriteString(line)
		}
	}
	der, err := base64.StdEncoding.DecodeString(b.String())
	if err != nil {
		return nil, fmt.Errorf("publicCertData is not base64")
	}
	return der, nil
}

// checkCertificate accepts a root certificate: a CA or self-signed.
func checkCertificate(data string) error {
	der, err := CertificateDER(data)
	if err != nil {
		return err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("publicCertData is not an X.509 certificate")
	}
	if !c.IsCA && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
		return fmt.Errorf("certificate %q is neither a CA nor self-signed", c.Subject)
	}
	return nil
}

// stageBGP fills in the gateway's BGP settings (R41): the ASN (65515 unless
// given, reserved ones refused), a peering address in the GatewaySubnet
// for each IP configuration, and its custom APIPA addresses (which it
// peers with APIPA peers from), checked.
func stageBGP(tx *txn, id arm.ID, p *arm.VirtualNetworkGatewayProperties, sku rules.SKU, gwSubnet *arm.Subnet) error {
	if p.EnableBGP {
		if p.VPNType != arm.RouteBased {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableBgp", Message: "BGP needs a route-based gateway (R41)"}
		}
		if !sku.BGP {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableBgp", Message: "the " + sku.Name + " SKU does not support BGP"}
		}
	}
	if p.VPNType != arm.RouteBased {
		p.BGPSettings = nil
		return nil
	}
	b := arm.BGPSettings{ASN: rules.DefaultGatewayASN}
	if p.BGPSettings != nil {
		if err := peerWeight(p.BGPSettings); err != nil {
			return err
		}
		b = *p.BGPSettings
		if b.ASN == 0 {
			b.ASN = rules.DefaultGatewayASN
		}
	}
	if err := rules.R41ASN(b.ASN, true); err != nil {
		err.Target = "properties.bgpSettings.asn"
		return err
	}
	prefixes := subnetPrefixes(gwSubnet)
	// Each IP configuration peers from its own private address in the
	// GatewaySubnet unless the user chose other addresses there.
	var addrs []string
	for _, c := range p.IPConfigurations {
		addrs = append(addrs, c.Properties.PrivateIPAddress)
	}
	if b.BGPPeeringAddress != "" {
		given := strings.Split(b.BGPPeeringAddress, ",")
		// Another gateway's in the GatewaySubnet (an ExpressRoute one
		// beside a VPN one) is its, not this one's to peer from.
		used := usedPrivateIPs(tx, gwSubnet.ID, id.Key())
		for i, s := range given {
			a, err := netip.ParseAddr(strings.TrimSpace(s))
			usable := err == nil && slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return reservedPrivate(p, a) == "" })
			if !usable || !a.Is4() {
				// IPv4: it is the gateway's BGP identifier too, 4 octets
				// (RFC 4271 §4.2).
				return arm.Errorf(arm.CodeBGPPeeringAddress, "BGP peering address %q must be a usable IPv4 address of the GatewaySubnet %s (R41)", s, strings.Join(gwSubnet.Prefixes(), ", "))
			}
			if owner, ok := used[a]; ok {
				return arm.Errorf(arm.CodeBGPPeeringAddress, "BGP peering address %s is already used by %s (R41)", a, owner)
			}
			// Another instance's own address is that instance's: each
			// peers and asks RADIUS from its own.
			for j, c := range p.IPConfigurations {
				if j != i && c.Properties.PrivateIPAddress == a.String() {
					return arm.Errorf(arm.CodeBGPPeeringAddress, "BGP peering address %s is IP configuration %s's address; instance %d cannot peer from it (R41)", a, c.Name, i)
				}
			}
			if i < len(addrs) {
				addrs[i] = a.String()
			}
		}
	}
	if len(addrs) == 2 && addrs[0] == addrs[1] {
		return arm.Errorf(arm.CodeBGPPeeringAddress, "the two instances' BGP peering addresses are both %s (R41)", addrs[0])
	}
	b.BGPPeeringAddress = strings.Join(addrs, ",")
	custom := map[string][]string{}
	entry := map[string]int{} // each IP configuration's entry, by its id
	for i, pa := range b.BGPPeeringAddresses {
		for _, a := range pa.CustomBGPIPAddresses {
			if ip, err := netip.ParseAddr(a); err != nil || !rules.CustomAPIPA(ip) {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: fmt.Sprintf("properties.bgpSettings.bgpPeeringAddresses[%d].customBgpIpAddresses", i),
					Message: fmt.Sprintf("custom BGP address %q must be an APIPA address from 169.254.21.0 to 169.254.22.255", a)}
			}
		}
		// The IP configuration by its id or its name, as NAT rules and
		// connections name it; one that is not the gateway's is refused,
		// not dropped.
		j := slices.IndexFunc(p.IPConfigurations, func(c arm.VirtualNetworkGatewayIPConfiguration) bool {
			return arm.Equal(c.ID, pa.IPConfigurationID) || strings.EqualFold(c.Name, pa.IPConfigurationID)
		})
		if j < 0 {
			// The entry of an IP configuration of this gateway's that the
			// PUT takes away (its GET sent back without it: active-active
			// turned off) goes with it, unless it has addresses of the
			// user's to lose.
			if len(pa.CustomBGPIPAddresses) == 0 && strings.HasPrefix(strings.ToLower(pa.IPConfigurationID), strings.ToLower(id.String()+"/ipConfigurations/")) {
				continue
			}
			msg := fmt.Sprintf("%q is none of the gateway's IP configurations", pa.IPConfigurationID)
			if len(pa.CustomBGPIPAddresses) > 0 {
				msg += fmt.Sprintf(": its custom BGP addresses %s would have no instance; give them to one of its configurations, or leave them out", strings.Join(pa.CustomBGPIPAddresses, ", "))
			}
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: fmt.Sprintf("properties.bgpSettings.bgpPeeringAddresses[%d].ipconfigurationId", i), Message: msg}
		}
		// One entry an IP configuration: a second (or one past the
		// gateway's IP configurations) would replace or drop the first's
		// addresses.
		key := strings.ToLower(p.IPConfigurations[j].ID)
		if k, ok := entry[key]; ok {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: fmt.Sprintf("properties.bgpSettings.bgpPeeringAddresses[%d].ipconfigurationId", i),
				Message: fmt.Sprintf("bgpPeeringAddresses[%d] (%q) names IP configuration %s, as bgpPeeringAddresses[%d] does; give one entry for each of the gateway's %d IP configurations",
					i, pa.IPConfigurationID, p.IPConfigurations[j].Name, k, len(p.IPConfigurations))}
		}
		entry[key] = i
		// Each instance's speaker listens at its own: one address at
		// both, the VNet router would send its sessions to one of them.
		for _, a := range pa.CustomBGPIPAddresses {
			for k, o := range custom {
				if k != strings.ToLower(p.IPConfigurations[j].ID) && slices.Contains(o, a) {
					return &arm.Error{Code: arm.CodeInvalidParameter, Target: fmt.Sprintf("properties.bgpSettings.bgpPeeringAddresses[%d].customBgpIpAddresses", i),
						Message: fmt.Sprintf("custom BGP address %s is given to both instances; each needs its own", a)}
				}
			}
		}
		custom[strings.ToLower(p.IPConfigurations[j].ID)] = pa.CustomBGPIPAddresses
	}
	b.BGPPeeringAddresses = nil
	for i, c := range p.IPConfigurations {
		b.BGPPeeringAddresses = append(b.BGPPeeringAddresses, arm.IPConfigurationBGPPeering{
			IPConfigurationID:     c.ID,
			DefaultBGPIPAddresses: []string{addrs[i]},
			CustomBGPIPAddresses:  custom[strings.ToLower(c.ID)],
		})
	}
	p.BGPSettings = &b
	return nil
}

func (r *Region) delGateway(tx *txn, id arm.ID) error {
	if cs := connectionsOf(tx, id); len(cs) > 0 {
		return arm.Errorf(arm.CodeInUseGateway, "gateway %s is used by connection %s; delete its connections first", id.Name(), cs[0].ID)
	}
	if cs := linked[arm.Connection](tx, arm.TypeConnection, link{gateway2, refKey(id.String())}); len(cs) > 0 {
		return arm.Errorf(arm.CodeInUseGateway, "gateway %s is the remote end of connection %s; delete that connection first", id.Name(), cs[0].ID)
	}
	if cs := tx.inbound[strings.ToLower(id.String())]; len(cs) > 0 {
		return arm.Errorf(arm.CodeInUseGateway, "gateway %s is the remote end of connection %s in another region (R1); delete that connection first", id.Name(), cs[0].Connection)
	}
	g := get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id)
	for _, c := range g.Properties.IPConfigurations {
		releasePublicIP(tx, c.Properties.PublicIPAddress.RefID())
	}
	tx.del(arm.TypeVirtualNetworkGateway, id.Key())
	return nil
}

// gatewaysInVNet returns the gateways placed in a virtual network.
func gatewaysInVNet(tx *txn, vnetID string) []*arm.VirtualNetworkGateway {
	return linked[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, link{inVNet, refKey(vnetID)})
}

// vnetOfGateway returns the virtual network a gateway is in.
func vnetOfGateway(tx *txn, g *arm.VirtualNetworkGateway) *arm.VirtualNetwork {
	if len(g.Properties.IPConfigurations) == 0 {
		return nil
	}
	sid, err := arm.ParseID(g.Properties.IPConfigurations[0].Properties.Subnet.RefID())
	if err != nil {
		return nil
	}
	return get[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, sid.Parent())
}

// validateRadius checks the RADIUS servers of a point-to-site
// configuration: with Radius among the authentication types, one server
// (radiusServerAddress and radiusServerSecret) or several
// (radiusServers, scores 1 to 30), each an IP address with a secret;
// without it, they are dropped. A secret left out (a GET gives none back) is the one
// the server had. RADIUS authenticates OpenVPN and IKEv2 clients: with it
// the sole type, SSTP is not served.
func validateRadius(c *arm.VPNClientConfiguration, old *arm.VPNClientConfiguration) error {
	const target = "properties.vpnClientConfiguration."
	radius := slices.Contains(c.VPNAuthenticationTypes, rules.AuthRadius)
	if !radius {
		// Turned off, or never on: a read-modify-write that takes Radius
		// out of the types leaves the servers a GET showed; they go.
		c.RadiusServerAddress, c.RadiusServerSecret, c.RadiusServers = "", "", nil
		return nil
	}
	if c.RadiusServerAddress != "" && len(c.RadiusServers) > 0 {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: target + "radiusServers",
			Message: "give the RADIUS servers either as radiusServerAddress and radiusServerSecret or as radiusServers, not both"}
	}
	servers := slices.Clone(c.RadiusServers)
	single := len(servers) == 0
	if single {
		if c.RadiusServerAddress == "" {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: target + "radiusServerAddress",
				Message: "Radius authentication needs a RADIUS server: radiusServerAddress and radiusServerSecret, or radiusServers"}
		}
		servers = []arm.RadiusServer{{RadiusServerAddress: c.RadiusServerAddress, RadiusServerSecret: c.RadiusServerSecret}}
	}
	if len(servers) > maxRadiusServers {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: target + "radiusServers",
			Message: fmt.Sprintf("at most %d RADIUS servers; %d were given", maxRadiusServers, len(servers))}
	}
	for i := range servers {
		s := &servers[i]
		field := target + fmt.Sprintf("radiusServers[%d].", i)
		if single {
			field = target
		}
		a, err := netip.ParseAddr(s.RadiusServerAddress)
		if err != nil {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + "radiusServerAddress",
				Message: fmt.Sprintf("RADIUS server address %q is no IP address", s.RadiusServerAddress)}
		}
		s.RadiusServerAddress = a.String()
		if !single && (s.RadiusServerScore < 1 || s.RadiusServerScore > 30) {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + "radiusServerScore",
				Message: fmt.Sprintf("a RADIUS server's score is 1 to 30; %d was given", s.RadiusServerScore)}
		}
		if s.RadiusServerSecret == "" {
			s.RadiusServerSecret = oldRadiusSecret(old, a)
		}
		if s.RadiusServerSecret == "" || len(s.RadiusServerSecret) > 128 {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + "radiusServerSecret",
				Message: fmt.Sprintf("RADIUS server %s needs a secret of 1 to 128 characters", a)}
		}
	}
	if single {
		c.RadiusServerAddress, c.RadiusServerSecret = servers[0].RadiusServerAddress, servers[0].RadiusServerSecret
	} else {
		c.RadiusServers = servers
	}
	return nil
}

// maxRadiusServers bounds a gateway's RADIUS servers.
const maxRadiusServers = 8

// oldRadiusSecret returns the secret configuration old had for the RADIUS
// server at a, or "".
func oldRadiusSecret(old *arm.VPNClientConfiguration, a netip.Addr) string {
	if old == nil {
		return ""
	}
	for _, s := range append([]arm.RadiusServer{{RadiusServerAddress: old.RadiusServerAddress, RadiusServerSecret: old.RadiusServerSecret}}, old.RadiusServers...) {
		if o, err := netip.ParseAddr(s.RadiusServerAddress); err == nil && o == a {
			return s.RadiusServerSecret
		}
	}
	return ""
}

// renderGateway is what a GET shows of a gateway: its RADIUS secrets are
// written, never read (listRadiusSecrets gives them); the read-only
// fields Azure fills in are filled in: the ids and etags of its
// point-to-site certificates, and the public address of each BGP
// peering entry's IP configuration (tunnelIpAddresses); and sku.capacity,
// 0, where a gateway of an older vnetgw has none.
func renderGateway(tx *txn, doc any) any {
	g := *doc.(*arm.VirtualNetworkGateway)
	// A gateway that a vnetgw before 23895c3 (2026-12-03) wrote has no
	// sku.capacity; it shows 0, as one created since does.
	if s := g.Properties.SKU; s != nil && s.Capacity == nil {
		ns := *s
		ns.Capacity = new(int32)
		g.Properties.SKU = &ns
	}
	// Its child resources' etags are its own, also after a PATCH of its
	// tags gave it a new one (an If-Match on a NAT rule is checked
	// against the gateway's).
	g.Properties.NatRules = slices.Clone(g.Properties.NatRules)
	for i := range g.Properties.NatRules {
		g.Properties.NatRules[i].Etag = g.Etag
	}
	g.Properties.IPConfigurations = slices.Clone(g.Properties.IPConfigurations)
	for i := range g.Properties.IPConfigurations {
		g.Properties.IPConfigurations[i].Etag = g.Etag
	}
	if c := g.Properties.VPNClientConfiguration; c != nil {
		nc := *c
		nc.RadiusServerSecret = ""
		nc.RadiusServers = slices.Clone(c.RadiusServers)
		for i := range nc.RadiusServers {
			nc.RadiusServers[i].RadiusServerSecret = ""
		}
		nc.VPNClientRootCertificates = slices.Clone(c.VPNClientRootCertificates)
		for i := range nc.VPNClientRootCertificates {
			rc := &nc.VPNClientRootCertificates[i]
			rc.ID, rc.Etag = g.ID+"/vpnClientRootCertificates/"+rc.Name, g.Etag
		}
		nc.VPNClientRevokedCertificates = slices.Clone(c.VPNClientRevokedCertificates)
		for i := range nc.VPNClientRevokedCertificates {
			rc := &nc.VPNClientRevokedCertificates[i]
			rc.ID, rc.Etag = g.ID+"/vpnClientRevokedCertificates/"+rc.Name, g.Etag
		}
		g.Properties.VPNClientConfiguration = &nc
	}
	if b := g.Properties.BGPSettings; b != nil && tx != nil {
		nb := *b
		nb.BGPPeeringAddresses = slices.Clone(b.BGPPeeringAddresses)
		for i := range nb.BGPPeeringAddresses {
			pa := &nb.BGPPeeringAddresses[i]
			pa.TunnelIPAddresses = nil
			for _, c := range g.Properties.IPConfigurations {
				if !arm.Equal(c.ID, pa.IPConfigurationID) {
					continue
				}
				if pip := getByRef[arm.PublicIPAddress](tx, arm.TypePublicIPAddress, c.Properties.PublicIPAddress.RefID()); pip != nil && pip.Properties.IPAddress != "" {
					pa.TunnelIPAddresses = []string{pip.Properties.IPAddress}
				}
			}
		}
		g.Properties.BGPSettings = &nb
	}
	return &g
}

// RadiusSecrets returns the RADIUS servers of gateway id with their
// secrets (ARM's listRadiusSecrets).
func (r *Region) RadiusSecrets(id arm.ID) ([]arm.RadiusAuthServer, error) {
	var out []arm.RadiusAuthServer
	err := r.view(func(tx *txn) error {
		g := get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id)
		if g == nil {
			return notFound(id)
		}
		c := g.Properties.VPNClientConfiguration
		if c == nil {
			return nil
		}
		if c.RadiusServerAddress != "" {
			out = append(out, arm.RadiusAuthServer{RadiusServerAddress: c.RadiusServerAddress, RadiusServerSecret: c.RadiusServerSecret})
		}
		for _, s := range c.RadiusServers {
			out = append(out, arm.RadiusAuthServer{RadiusServerAddress: s.RadiusServerAddress, RadiusServerSecret: s.RadiusServerSecret})
		}
		return nil
	})
	return out, err
}

// VPNClientIPsecPolicy is the custom IPsec/IKE policy of gateway id's
// point-to-site clients (Azure's getvpnclientipsecparameters), nil when
// it has none: its clients are offered vnetgw's default proposals.
func (r *Region) VPNClientIPsecPolicy(ctx context.Context, id arm.ID) (*arm.IPsecPolicy, error) {
	// A read: of every write acknowledged before it, also on another node.
	if err := r.Sync(ctx); err != nil {
		return nil, err
	}
	var out *arm.IPsecPolicy
	err := r.view(func(tx *txn) error {
		g := get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id)
		if g == nil {
			return notFound(id)
		}
		c := g.Properties.VPNClientConfiguration
		if c == nil {
			return noClientConfiguration(g)
		}
		if len(c.VPNClientIPsecPolicies) > 0 {
			p := c.VPNClientIPsecPolicies[0]
			out = &p
		}
		return nil
	})
	return out, err
}

// SetVPNClientIPsecPolicy makes pol the custom IPsec/IKE policy of
// gateway id's point-to-site clients (Azure's
// setvpnclientipsecparameters), checked as a PUT of the gateway checks
// it, and returns it as kept (its names in canonical case).
func (r *Region) SetVPNClientIPsecPolicy(ctx context.Context, id arm.ID, pol arm.IPsecPolicy) (*arm.IPsecPolicy, error) {
	var out *arm.IPsecPolicy
	_, err := r.update(ctx, func(tx *txn) error {
		old := get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id)
		if old == nil {
			return notFound(id)
		}
		if old.Properties.VPNClientConfiguration == nil {
			return noClientConfiguration(old)
		}
		g := *old
		nc := *old.Properties.VPNClientConfiguration
		nc.VPNClientIPsecPolicies = []arm.IPsecPolicy{pol}
		g.Properties.VPNClientConfiguration = &nc
		if err := r.stageGateway(tx, id, &g, old); err != nil {
			// The policy is the request's body: name its field as
			// the request has it.
			if e, ok := err.(*arm.Error); ok {
				e.Target = strings.TrimPrefix(e.Target, "properties.vpnClientConfiguration.vpnClientIpsecPolicies[0].")
			}
			return err
		}
		out = &g.Properties.VPNClientConfiguration.VPNClientIPsecPolicies[0]
		return nil
	})
	return out, err
}

// noClientConfiguration is the error of a point-to-site operation on
// gateway g, which has no point-to-site configuration.
func noClientConfiguration(g *arm.VirtualNetworkGateway) *arm.Error {
	return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration",
		Message: "gateway " + g.Name + " has no point-to-site configuration (vpnClientConfiguration); give it one first"}
}

// ownConfig reports whether IP configuration id is one of gateway g's (a
// configuration renamed keeps its public IP address).
func ownConfig(g *arm.VirtualNetworkGateway, id string) bool {
	return g != nil && slices.ContainsFunc(g.Properties.IPConfigurations, func(c arm.VirtualNetworkGatewayIPConfiguration) bool { return arm.Equal(c.ID, id) })
}

// connectionsFit checks, after a change of gateway or site id staged in
// tx, that the connections naming it would still be accepted: each is
// staged again as its own PUT stages it (R34, R41: one device one site,
// BGP at both ends, different ASNs, custom APIPA addresses of the
// gateway's), and put back as it was.
func (r *Region) connectionsFit(tx *txn, id string) error {
	for _, c := range connectionsNaming(tx, id) {
		p := &c.Properties
		cid, err := arm.ParseID(c.ID)
		if err != nil {
			return err
		}
		again := *c
		again.Properties.IPsecPolicies = slices.Clone(p.IPsecPolicies)
		again.Properties.GatewayCustomBgpIPAddresses = slices.Clone(p.GatewayCustomBgpIPAddresses)
		again.Properties.TrafficSelectorPolicies = slices.Clone(p.TrafficSelectorPolicies)
		again.Properties.IngressNatRules = slices.Clone(p.IngressNatRules)
		again.Properties.EgressNatRules = slices.Clone(p.EgressNatRules)
		err = r.stageConnection(tx, cid, &again, c, true)
		tx.put(arm.TypeConnection, cid.Key(), c)
		if err != nil {
			var ae *arm.Error
			if errors.As(err, &ae) {
				return &arm.Error{Code: ae.Code, Message: fmt.Sprintf("connection %s would no longer hold: %s; change or delete it first", c.Name, ae.Message)}
			}
			return err
		}
	}
	return nil
}
