package region

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/rules"
)

// nameRE is what ARM accepts as the name of a network resource or child.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$`)

// ValidName checks a network resource name.
func ValidName(name string) *arm.Error {
	if !nameRE.MatchString(name) {
		return arm.Errorf(arm.CodeInvalidResourceName,
			"resource name %q is invalid: 1-80 letters, digits, underscores, periods and hyphens, starting with a letter or digit and ending with a letter, digit or underscore", name)
	}
	return nil
}

// PutVirtualNetwork creates or replaces a virtual network with its subnets.
func (r *Region) PutVirtualNetwork(ctx context.Context, id arm.ID, in *arm.VirtualNetwork) (*arm.VirtualNetwork, Outcome, error) {
	var out *arm.VirtualNetwork
	var created bool
	// A new address space of a VNet with a gateway is checked against the
	// connections of other regions that end at the gateway (R35), which
	// only those regions know of: ask the peers first.
	gws := r.localVPNGateways(func(tx *txn) []*arm.VirtualNetworkGateway {
		old := get[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, id)
		if old == nil || old.Properties.AddressSpace == nil || in.Properties.AddressSpace == nil ||
			slices.Equal(normalizedPrefixes(old.Properties.AddressSpace.AddressPrefixes), normalizedPrefixes(in.Properties.AddressSpace.AddressPrefixes)) {
			return nil
		}
		return gatewaysInVNet(tx, id.String())
	})
	inbound, err := r.inboundConnections(ctx, gws)
	if err != nil {
		return nil, Outcome{}, arm.Errorf(arm.CodeAddressSpaceOverlap,
			"the address space of virtual network %s cannot change now: the peer regions could not be asked which of their connections end at its gateway, to check that no address spaces overlap (R35): %v", id.Name(), err)
	}
	var prev *arm.VirtualNetwork
	warnings, err := r.update(ctx, func(tx *txn) error {
		tx.inbound = inbound
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		prev = get[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, id)
		created = prev == nil
		v := *in
		if err := r.stageVirtualNetwork(tx, id, &v, prev); err != nil {
			return err
		}
		out = renderVirtualNetwork(tx, &v).(*arm.VirtualNetwork)
		return nil
	})
	if err == nil && len(gws) > 0 {
		if err = r.confirmAddressSpace(ctx, id, out, prev, gws); err != nil {
			return nil, Outcome{}, err
		}
	}
	return out, Outcome{Created: created, Warnings: warnings}, err
}

// confirmAddressSpace asks the peer regions again, once the new address
// space of VNet id (v, as committed; prev, the VNet it replaced) is
// committed, for their connections that end at its gateways gws. Another
// region may have made one meanwhile, checked there against the address
// space as it was: PutConnection commits a connection before it looks
// its remote gateway up again (confirmRemote), and this write commits
// before it asks, so of the two, the one committed first is seen by the
// other's ask. If R35 no longer holds, or the peers cannot be asked, the
// VNet is put back as prev was, if it is still as this write made it
// (its etag: a later write of it made its own checks), and the write is
// refused. The data plane may route the new address space meanwhile.
func (r *Region) confirmAddressSpace(ctx context.Context, id arm.ID, v, prev *arm.VirtualNetwork, gws []string) error {
	// Done also when the client has gone: the change must not stay
	// unchecked.
	ctx, cancel := context.WithTimeout(withoutPrecondition(context.WithoutCancel(ctx)), 2*RemoteRefresh)
	defer cancel()
	var refused error
	inbound, err := r.inboundConnections(ctx, gws)
	if err != nil {
		refused = arm.Errorf(arm.CodeAddressSpaceOverlap,
			"the address space of virtual network %s cannot change now: the peer regions could not be asked again which of their connections end at its gateway, to check that no address spaces overlap (R35): %v", id.Name(), err)
	} else {
		refused = r.view(func(tx *txn) error {
			tx.inbound = inbound
			for _, g := range gatewaysInVNet(tx, id.String()) {
				if err := r35Inbound(tx, g); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if refused == nil {
		return nil
	}
	_, err = r.update(ctx, func(tx *txn) error {
		now := get[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, id)
		if now == nil || now.Etag != v.Etag {
			return nil
		}
		back := *prev
		return r.stageVirtualNetwork(tx, id, &back, now)
	})
	if err != nil {
		r.log.Warn("a virtual network's address space refused after it was committed could not be put back", "vnet", id.String(), "err", err)
		return fmt.Errorf("%w; and the address space, committed meanwhile, could not be put back as it was: %w", refused, err)
	}
	return refused
}

// stageVirtualNetwork validates v, the new state of the virtual network id
// (old is its current state or nil), and stages it.
// maxSubnets is Azure's limit of subnets in a virtual network; it bounds
// the overlap checks too, made inside the region's write lock.
const maxSubnets = 3000

func (r *Region) stageVirtualNetwork(tx *txn, id arm.ID, v *arm.VirtualNetwork, old *arm.VirtualNetwork) error {
	if old != nil {
		id = storedID(id, old.ID)
	}
	if err := setIdentity(&v.Resource, id, v.Location); err != nil {
		return err
	}
	v.Properties.ProvisioningState = arm.Succeeded
	v.Properties.ResourceGUID = NewGUID()
	v.Properties.PacketCounters, v.Properties.Node = nil, "" // observed, never desired
	if old != nil {
		v.Properties.ResourceGUID = old.Properties.ResourceGUID
		if err := keepLocation(&v.Resource, &old.Resource, id); err != nil {
			return err
		}
	}
	if v.Properties.AddressSpace == nil || len(v.Properties.AddressSpace.AddressPrefixes) == 0 {
		return &arm.Error{Code: arm.CodeInvalidAddressPrefix, Target: "properties.addressSpace.addressPrefixes",
			Message: "a virtual network needs at least one address prefix in properties.addressSpace.addressPrefixes"}
	}
	as := *v.Properties.AddressSpace
	as.AddressPrefixes = trimmed(as.AddressPrefixes)
	v.Properties.AddressSpace = &as
	space, aerr := rules.ParsePrefixes("properties.addressSpace.addressPrefixes", as.AddressPrefixes)
	if aerr != nil {
		return aerr
	}
	if d := v.Properties.DHCPOptions; d != nil {
		for i, a := range d.DNSServers {
			if _, err := netip.ParseAddr(a); err != nil {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: fmt.Sprintf("properties.dhcpOptions.dnsServers[%d]", i),
					Message: fmt.Sprintf("DNS server %q is not an IP address", a)}
			}
		}
	}
	if given(v.Properties.VirtualNetworkPeerings) {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.virtualNetworkPeerings",
			Message: "virtualNetworkPeerings is not available: vnetgw's virtual networks reach each other through their gateways (a Vnet2Vnet connection), not by peering"}
	}
	v.Properties.VirtualNetworkPeerings = nil
	subnets := make([]arm.Subnet, len(v.Properties.Subnets))
	copy(subnets, v.Properties.Subnets)
	v.Properties.Subnets = subnets
	if len(subnets) > maxSubnets {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.subnets",
			Message: fmt.Sprintf("%d subnets; a virtual network has at most %d", len(subnets), maxSubnets)}
	}
	// seen holds the prefixes of the subnets checked so far, so that an
	// overlap names the subnet it is with.
	type held struct {
		p      netip.Prefix
		subnet string
	}
	var seen []held
	names := map[string]bool{}
	for i := range subnets {
		s := &subnets[i]
		if err := ValidName(s.Name); err != nil {
			return err
		}
		if names[strings.ToLower(s.Name)] {
			return arm.Errorf(arm.CodeInvalidParameter, "subnet name %q appears twice", s.Name)
		}
		names[strings.ToLower(s.Name)] = true
		if err := rules.R23SubnetName(s.Name); err != nil {
			return err
		}
		if err := subnetPrefixFields(s, fmt.Sprintf("properties.subnets[%d].properties", i)); err != nil {
			return err
		}
		if err := subnetUnheld(s, fmt.Sprintf("properties.subnets[%d].properties", i)); err != nil {
			return err
		}
		s.Properties.AddressPrefix, s.Properties.AddressPrefixes = strings.TrimSpace(s.Properties.AddressPrefix), trimmed(s.Properties.AddressPrefixes)
		field := fmt.Sprintf("properties.subnets[%d].properties.addressPrefix", i)
		if len(s.Prefixes()) == 0 {
			return &arm.Error{Code: arm.CodeInvalidAddressPrefix, Target: field, Message: fmt.Sprintf("subnet %s needs an address prefix", s.Name)}
		}
		ps, err := rules.ParsePrefixes(field, s.Prefixes())
		if err != nil {
			return err
		}
		for _, p := range ps {
			if !rules.Covered(p, space) {
				return &arm.Error{Code: arm.CodeSubnetOutsideVnet, Target: field,
					Message: fmt.Sprintf("subnet %s prefix %s is not within the address space of virtual network %s (%s)", s.Name, p, v.Name, strings.Join(v.Properties.AddressSpace.AddressPrefixes, ", "))}
			}
			for _, q := range seen {
				if p.Overlaps(q.p) {
					return &arm.Error{Code: arm.CodeSubnetsOverlap, Target: field,
						Message: fmt.Sprintf("subnet %s prefix %s overlaps %s of subnet %s in virtual network %s", s.Name, p, q.p, q.subnet, v.Name)}
				}
			}
		}
		for _, p := range ps {
			seen = append(seen, held{p, s.Name})
		}
		if s.Name == rules.GatewaySubnetName {
			warn, err := rules.R23GatewaySubnet(s.Name, ps)
			if err != nil {
				return err
			}
			tx.warn(warn)
		}
		if rt := s.Properties.RouteTable.RefID(); rt != "" {
			// R26: the subnet's traffic follows the table's routes.
			t, _, err := ref[arm.RouteTable](tx, arm.TypeRouteTable, fmt.Sprintf("properties.subnets[%d].properties.routeTable", i), rt)
			if err != nil {
				return err
			}
			if t.Location != v.Location {
				return arm.Errorf(arm.CodeInvalidParameter, "route table %s is in %s; virtual network %s is in %s", t.Name, t.Location, v.Name, v.Location)
			}
			s.Properties.RouteTable = arm.Ref(t.ID)
		}
		sid := id.Child("subnets", s.Name)
		s.ID, s.Type, s.Etag = sid.String(), arm.TypeSubnet, newEtag()
		s.Properties.IPConfigurations = nil
		s.Properties.ProvisioningState = arm.Succeeded
	}
	if old != nil {
		// A subnet in use may neither go nor change its prefixes.
		for i := range old.Properties.Subnets {
			os := &old.Properties.Subnets[i]
			users := subnetUsers(tx, os.ID)
			if len(users) == 0 {
				continue
			}
			j := slices.IndexFunc(subnets, func(s arm.Subnet) bool { return strings.EqualFold(s.Name, os.Name) })
			if j < 0 {
				return arm.Errorf(arm.CodeInUseSubnet, "subnet %s is in use by %s and cannot be deleted", os.Name, users[0])
			}
			if !slices.Equal(normalizedPrefixes(subnets[j].Prefixes()), normalizedPrefixes(os.Prefixes())) {
				return arm.Errorf(arm.CodeInUseSubnetPrefix, "subnet %s is in use by %s; its address prefix cannot change", os.Name, users[0])
			}
			// Its name as stored, and its id with it: the id its
			// users name.
			subnets[j].Name, subnets[j].ID = os.Name, id.Child("subnets", os.Name).String()
		}
	}
	tx.put(arm.TypeVirtualNetwork, id.Key(), v)
	gws := gatewaysInVNet(tx, id.String())
	for _, g := range gws {
		// The NAT rules of the gateway's connections must fit the new
		// address space.
		if err := natFitsConnections(tx, g, "properties.addressSpace.addressPrefixes"); err != nil {
			return err
		}
	}
	if err := r18Affected(tx, gws); err != nil {
		return err
	}
	return r35Affected(tx, gws)
}

// subnetPrefixFields refuses a subnet that gives both addressPrefix and
// addressPrefixes, as ARM does ("cannot populate both address prefix and
// address prefixes"), rather than silently using one of them. field is the
// path of the subnet's properties in the request.
func subnetPrefixFields(s *arm.Subnet, field string) error {
	if s.Properties.AddressPrefix != "" && len(s.Properties.AddressPrefixes) > 0 {
		return &arm.Error{Code: arm.CodeInvalidRequestFormat, Target: field + ".addressPrefixes",
			Message: fmt.Sprintf("subnet %s gives both addressPrefix and addressPrefixes; give one prefix in addressPrefix or all of them in addressPrefixes", s.Name)}
	}
	return nil
}

// subnetUnheld refuses the settings of a subnet that vnetgw does not
// honour rather than ignore them, and drops their empty values. field is
// the path of the subnet's properties in the request.
func subnetUnheld(s *arm.Subnet, field string) error {
	p := &s.Properties
	var name, why string
	switch {
	case p.NetworkSecurityGroup.RefID() != "":
		name, why = "networkSecurityGroup", "vnetgw has no security groups and filters no traffic by address, port or protocol (a route table's route to None drops a prefix); filter on the hosts"
	case p.NatGateway.RefID() != "":
		name, why = "natGateway", "vnetgw has no NAT gateways: serve --internet-egress takes the hosts' TCP and UDP to the Internet from the node's address"
	case given(p.ServiceEndpoints):
		name, why = "serviceEndpoints", "vnetgw has no Azure services to reach"
	case given(p.Delegations):
		name, why = "delegations", "vnetgw has no Azure services to hand the subnet to"
	}
	if name != "" {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + "." + name,
			Message: fmt.Sprintf("subnet %s: %s is not available: %s", s.Name, name, why)}
	}
	p.NetworkSecurityGroup, p.NatGateway, p.ServiceEndpoints, p.Delegations = nil, nil, nil, nil
	return nil
}

func normalizedPrefixes(ps []string) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if q, err := netip.ParsePrefix(strings.TrimSpace(p)); err == nil {
			out = append(out, q.String())
		}
	}
	slices.Sort(out)
	return out
}

// subnetUsers lists the ids of the IP configurations placed in a subnet:
// network interfaces' and gateways'.
func subnetUsers(tx *txn, subnetID string) []string {
	var out []string
	for _, n := range list[arm.NetworkInterface](tx, arm.TypeNetworkInterface) {
		for _, c := range n.Properties.IPConfigurations {
			if arm.Equal(c.Properties.Subnet.RefID(), subnetID) {
				out = append(out, c.ID)
			}
		}
	}
	for _, g := range list[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway) {
		for _, c := range g.Properties.IPConfigurations {
			if arm.Equal(c.Properties.Subnet.RefID(), subnetID) {
				out = append(out, c.ID)
			}
		}
	}
	return out
}

// renderVirtualNetwork fills in the read-only list of IP configurations of
// each subnet, and the router's counters.
func renderVirtualNetwork(tx *txn, doc any) any {
	v := *doc.(*arm.VirtualNetwork)
	v.Properties.Subnets = make([]arm.Subnet, len(v.Properties.Subnets))
	for i, s := range doc.(*arm.VirtualNetwork).Properties.Subnets {
		s.Properties.IPConfigurations = nil
		for _, u := range subnetUsers(tx, s.ID) {
			s.Properties.IPConfigurations = append(s.Properties.IPConfigurations, arm.SubResource{ID: u})
		}
		v.Properties.Subnets[i] = s
	}
	// No DNS servers are [], as Azure shows them, not null.
	if d := v.Properties.DHCPOptions; d != nil && d.DNSServers == nil {
		v.Properties.DHCPOptions = &arm.DHCPOptions{DNSServers: []string{}}
	}
	if st := statusOf[VNetStatus](tx, v.ID); st != nil {
		v.Properties.PacketCounters = &arm.PacketCounters{Forwarded: st.Forwarded, DroppedNoRoute: st.DroppedNoRoute,
			DroppedTTLExpired: st.DroppedTTL, DroppedMalformed: st.DroppedMalformed, DroppedUndeliverable: st.DroppedUndeliverable}
		v.Properties.Node = st.Node
	}
	return &v
}

func (r *Region) delVirtualNetwork(tx *txn, id arm.ID) error {
	if gws := gatewaysInVNet(tx, id.String()); len(gws) > 0 {
		return arm.Errorf(arm.CodeInUseVirtualNetwork, "virtual network %s holds gateway %s; delete the gateway first", id.Name(), gws[0].Name)
	}
	v := get[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, id)
	for _, s := range v.Properties.Subnets {
		if users := subnetUsers(tx, s.ID); len(users) > 0 {
			return arm.Errorf(arm.CodeInUseSubnet, "subnet %s of virtual network %s is in use by %s", s.Name, id.Name(), users[0])
		}
	}
	tx.del(arm.TypeVirtualNetwork, id.Key())
	return nil
}

// findSubnet resolves a subnet id to its virtual network and the subnet.
func findSubnet(tx *txn, subnetID arm.ID) (*arm.VirtualNetwork, *arm.Subnet) {
	v := get[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, subnetID.Parent())
	if v == nil {
		return nil, nil
	}
	for i := range v.Properties.Subnets {
		if strings.EqualFold(v.Properties.Subnets[i].Name, subnetID.Name()) {
			return v, &v.Properties.Subnets[i]
		}
	}
	return v, nil
}

// refSubnet resolves a subnet reference of a request body.
func refSubnet(tx *txn, field, refID string) (*arm.VirtualNetwork, *arm.Subnet, arm.ID, error) {
	if refID == "" {
		return nil, nil, arm.ID{}, &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: field + " is required"}
	}
	id, err := arm.ParseID(refID)
	if err != nil || !strings.EqualFold(id.Type(), arm.TypeSubnet) {
		return nil, nil, arm.ID{}, &arm.Error{Code: arm.CodeLinkedInvalidID, Target: field,
			Message: fmt.Sprintf("%s: %q is not the id of a subnet", field, refID)}
	}
	v, s := findSubnet(tx, id)
	if s == nil {
		return nil, nil, arm.ID{}, &arm.Error{Code: arm.CodeInvalidReference, Target: field,
			Message: fmt.Sprintf("%s: subnet %s was not found", field, refID)}
	}
	return v, s, id, nil
}

// Subnets as child resources.

// PutSubnet creates or replaces one subnet of a virtual network.
func (r *Region) PutSubnet(ctx context.Context, id arm.ID, in *arm.Subnet) (*arm.Subnet, Outcome, error) {
	var out *arm.Subnet
	var created bool
	warnings, err := r.update(ctx, func(tx *txn) error {
		vid := id.Parent()
		if _, err := requireGroup(tx, vid); err != nil {
			return err
		}
		old := get[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, vid)
		if old == nil {
			return parentNotFound(vid)
		}
		s := *in
		s.Name = id.Name()
		if err := subnetPrefixFields(&s, "properties"); err != nil {
			return err
		}
		if err := subnetUnheld(&s, "properties"); err != nil {
			return err
		}
		v := *old
		v.Properties.Subnets, created = putChild(old.Properties.Subnets, s, func(x *arm.Subnet) *string { return &x.Name })
		if err := r.stageVirtualNetwork(tx, vid, &v, old); err != nil {
			return err
		}
		rv := renderVirtualNetwork(tx, &v).(*arm.VirtualNetwork)
		for i := range rv.Properties.Subnets {
			if strings.EqualFold(rv.Properties.Subnets[i].Name, s.Name) {
				out = &rv.Properties.Subnets[i]
			}
		}
		return nil
	})
	return out, Outcome{Created: created, Warnings: warnings}, err
}

// GetSubnet returns one subnet.
func (r *Region) GetSubnet(id arm.ID) (*arm.Subnet, error) {
	return child(r, id, subnetsOf, func(s arm.Subnet) string { return s.Name })
}

// ListSubnets returns the subnets of a virtual network, as List pages.
func (r *Region) ListSubnets(vnet arm.ID, page Page) ([]any, string, error) {
	return children(r, vnet, "subnets", subnetsOf, func(s arm.Subnet) string { return s.Name }, page)
}

func subnetsOf(v *arm.VirtualNetwork) []arm.Subnet { return v.Properties.Subnets }

// DeleteSubnet deletes a subnet unless it is in use.
func (r *Region) DeleteSubnet(ctx context.Context, id arm.ID) (bool, error) {
	existed := false
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err // as ARM: 404 ResourceGroupNotFound, not 204
		}
		old, s := findSubnet(tx, id)
		if old == nil {
			return parentNotFound(id.Parent()) // as ARM: 404, not 204
		}
		if s == nil {
			return nil
		}
		existed = true
		v := *old
		v.Properties.Subnets = slices.DeleteFunc(slices.Clone(old.Properties.Subnets), func(x arm.Subnet) bool { return strings.EqualFold(x.Name, id.Name()) })
		return r.stageVirtualNetwork(tx, id.Parent(), &v, old)
	})
	return existed, err
}
