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

// Attachment kinds of a network interface (see arm.Attachment).
const (
	AttachNetstack = "netstack"
	AttachTUN      = "tun"
)

var netnsRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// PutNetworkInterface creates or updates a network interface: a host in a
// subnet, with a private address from the subnet (R42).
func (r *Region) PutNetworkInterface(ctx context.Context, id arm.ID, in *arm.NetworkInterface) (*arm.NetworkInterface, Outcome, error) {
	var out *arm.NetworkInterface
	var created bool
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		old := get[arm.NetworkInterface](tx, arm.TypeNetworkInterface, id)
		created = old == nil
		n := *in
		if old != nil {
			id = storedID(id, old.ID)
		}
		if err := setIdentity(&n.Resource, id, n.Location); err != nil {
			return err
		}
		p := &n.Properties
		p.ProvisioningState = arm.Succeeded
		p.ResourceGUID = NewGUID()
		if old != nil {
			p.ResourceGUID = old.Properties.ResourceGUID
			if err := keepLocation(&n.Resource, &old.Resource, id); err != nil {
				return err
			}
		}
		if err := attachment(p); err != nil {
			return err
		}
		if err := nicUnheld(p); err != nil {
			return err
		}
		if err := stageNICIPConfigs(tx, id, &n, old); err != nil {
			return err
		}
		p.MACAddress = macFromGUID(p.ResourceGUID)
		tx.put(arm.TypeNetworkInterface, id.Key(), &n)
		out = &n
		return nil
	})
	return out, Outcome{Created: created}, err
}

func attachment(p *arm.NetworkInterfaceProperties) error {
	a := arm.Attachment{Kind: AttachNetstack}
	if p.Attachment != nil {
		a = *p.Attachment
		a.State, a.Error = "", "" // read-only; shown from the observed status
	}
	if err := canonical(&a.Kind, "properties.attachment.kind", AttachNetstack, AttachNetstack, AttachTUN); err != nil {
		return err
	}
	switch {
	case a.Kind == AttachTUN && !netnsRE.MatchString(a.NetNS):
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.attachment.netns",
			Message: "a tun attachment needs the name of an existing network namespace in properties.attachment.netns"}
	case a.Kind == AttachNetstack && a.NetNS != "":
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.attachment.netns", Message: "a netstack attachment takes no netns"}
	}
	p.Attachment = &a
	return nil
}

// nicUnheld refuses the settings of a network interface that vnetgw does
// not honour rather than ignore them, and drops their empty values.
func nicUnheld(p *arm.NetworkInterfaceProperties) error {
	if p.NetworkSecurityGroup.RefID() != "" {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.networkSecurityGroup",
			Message: "networkSecurityGroup is not available: vnetgw has no security groups and filters no traffic by address, port or protocol (a route table's route to None drops a prefix); filter on the host"}
	}
	if d := p.DNSSettings; d != nil {
		if len(d.DNSServers) > 0 {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.dnsSettings.dnsServers",
				Message: "dnsServers is not available: vnetgw gives its hosts no DNS servers (a host keeps its own resolver, a tun attachment its namespace's)"}
		}
		if d.InternalDNSNameLabel != "" {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.dnsSettings.internalDnsNameLabel",
				Message: "internalDnsNameLabel is not available: vnetgw's VNets have no internal DNS names"}
		}
	}
	p.NetworkSecurityGroup, p.DNSSettings = nil, nil
	return nil
}

// renderNetworkInterface shows whether the host behind the interface runs.
func renderNetworkInterface(tx *txn, doc any) any {
	n := *doc.(*arm.NetworkInterface)
	n.Properties.IPConfigurations = slices.Clone(n.Properties.IPConfigurations)
	for i := range n.Properties.IPConfigurations {
		n.Properties.IPConfigurations[i].Etag = n.Etag // also after a PATCH of its tags
	}
	if st := statusOf[HostStatus](tx, n.ID); st != nil && n.Properties.Attachment != nil {
		a := *n.Properties.Attachment
		a.State, a.Error = st.State, st.Error
		n.Properties.Attachment = &a
	}
	return &n
}

func stageNICIPConfigs(tx *txn, id arm.ID, n *arm.NetworkInterface, old *arm.NetworkInterface) error {
	p := &n.Properties
	if len(p.IPConfigurations) == 0 {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ipConfigurations", Message: "a network interface needs at least one IP configuration"}
	}
	cfgs := slices.Clone(p.IPConfigurations)
	p.IPConfigurations = cfgs
	primaries := 0
	for _, c := range cfgs {
		if c.Properties.Primary != nil && *c.Properties.Primary {
			primaries++
		}
	}
	if primaries > 1 {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.ipConfigurations", Message: "only one IP configuration can be primary"}
	}
	// Named first: the addresses kept below are found by name.
	for i := range cfgs {
		if cfgs[i].Name == "" {
			cfgs[i].Name = fmt.Sprintf("ipconfig%d", i+1)
		}
	}
	var vnetID string
	names := map[string]bool{}
	// Addresses this request gives or keeps: a Dynamic configuration
	// allocated below must not take one of them.
	var taken []netip.Addr
	for _, c := range cfgs {
		if a, err := netip.ParseAddr(c.Properties.PrivateIPAddress); err == nil && !strings.EqualFold(c.Properties.PrivateIPAllocationMethod, arm.Dynamic) {
			taken = append(taken, a)
		}
		if old != nil {
			for _, oc := range old.Properties.IPConfigurations {
				if a, err := netip.ParseAddr(oc.Properties.PrivateIPAddress); err == nil && strings.EqualFold(oc.Name, c.Name) {
					taken = append(taken, a)
				}
			}
		}
	}
	for i := range cfgs {
		c := &cfgs[i]
		field := fmt.Sprintf("properties.ipConfigurations[%d]", i)
		if err := ValidName(c.Name); err != nil {
			return err
		}
		if names[strings.ToLower(c.Name)] {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "IP configuration name " + c.Name + " appears twice"}
		}
		names[strings.ToLower(c.Name)] = true
		c.ID, c.Type, c.Etag = id.Child("ipConfigurations", c.Name).String(), arm.TypeNetworkInterface+"/ipConfigurations", n.Etag
		primary := primaries == 0 && i == 0 || c.Properties.Primary != nil && *c.Properties.Primary
		c.Properties.Primary = &primary
		c.Properties.ProvisioningState = arm.Succeeded
		if c.Properties.PublicIPAddress != nil {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.publicIPAddress",
				Message: "public IP addresses on network interfaces are not supported; hosts are reached through gateways"}
		}
		v, s, _, err := refSubnet(tx, field+".properties.subnet", c.Properties.Subnet.RefID())
		if err != nil {
			return err
		}
		if err := rules.R23NoInterface(s.Name); err != nil {
			return err
		}
		if vnetID != "" && !arm.Equal(vnetID, v.ID) {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: "all IP configurations of a network interface must be in one virtual network"}
		}
		vnetID = v.ID
		if v.Location != n.Location {
			return arm.Errorf(arm.CodeInvalidParameter, "network interface %s is in %s but virtual network %s is in %s", n.Name, n.Location, v.Name, v.Location)
		}
		c.Properties.Subnet = arm.Ref(s.ID)
		if err := assignPrivateIP(tx, id, c, s, old, field, taken); err != nil {
			return err
		}
		if a, err := netip.ParseAddr(c.Properties.PrivateIPAddress); err == nil {
			taken = append(taken, a)
		}
	}
	// Two configurations of one interface may not share an address.
	seen := map[string]bool{}
	for _, c := range cfgs {
		if seen[c.Properties.PrivateIPAddress] {
			return arm.Errorf(arm.CodePrivateIPInUse, "address %s is given to two IP configurations", c.Properties.PrivateIPAddress)
		}
		seen[c.Properties.PrivateIPAddress] = true
	}
	return nil
}

// assignPrivateIP gives an IP configuration its address: the one asked for
// (Static), the one it had in the same subnet, or the lowest free one.
func assignPrivateIP(tx *txn, nicID arm.ID, c *arm.NetworkInterfaceIPConfiguration, s *arm.Subnet, old *arm.NetworkInterface, field string, taken []netip.Addr) error {
	props := &c.Properties
	method := props.PrivateIPAllocationMethod
	if method == "" && props.PrivateIPAddress != "" {
		method = arm.Static
	}
	if err := canonical(&method, field+".properties.privateIPAllocationMethod", arm.Dynamic, arm.Dynamic, arm.Static); err != nil {
		return err
	}
	props.PrivateIPAllocationMethod = method
	want, err := addressVersion(props.PrivateIPAddressVersion, field)
	if err != nil {
		return err
	}
	prefixes := subnetPrefixes(s)
	used := usedPrivateIPs(tx, s.ID, nicID.Key())
	if method == arm.Static {
		a, err := parseAddr(field+".properties.privateIPAddress", props.PrivateIPAddress)
		if err != nil {
			return err
		}
		if want != "" && versionOf(a) != want {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.privateIPAddress",
				Message: fmt.Sprintf("address %s is not an %s address, as privateIPAddressVersion says", a, want)}
		}
		// The address may lie in any of the subnet's prefixes.
		i := slices.IndexFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
		if i < 0 {
			return arm.Errorf(arm.CodePrivateIPNotInSubnet, "address %s is not in subnet %s (%s)", a, s.Name, strings.Join(s.Prefixes(), ", "))
		}
		if reservedPrivate(prefixes[i], a) != "" {
			return arm.Errorf(arm.CodePrivateIPReserved, "address %s is reserved in subnet %s: the first four and the last address of each subnet prefix are reserved", a, s.Name)
		}
		if owner, ok := used[a]; ok {
			return arm.Errorf(arm.CodePrivateIPInUse, "address %s is already used by %s", a, owner)
		}
		props.PrivateIPAddress = a.String()
		props.PrivateIPAddressVersion = versionOf(a)
		return nil
	}
	if old != nil {
		for _, oc := range old.Properties.IPConfigurations {
			if strings.EqualFold(oc.Name, c.Name) && arm.Equal(oc.Properties.Subnet.RefID(), s.ID) {
				if a, err := netip.ParseAddr(oc.Properties.PrivateIPAddress); err == nil && (want == "" || versionOf(a) == want) {
					props.PrivateIPAddress = a.String()
					props.PrivateIPAddressVersion = versionOf(a)
					return nil
				}
			}
		}
	}
	a, err := allocateInSubnetVersion(tx, s, nicID.Key(), want, taken...)
	if err != nil {
		return err
	}
	props.PrivateIPAddress = a.String()
	props.PrivateIPAddressVersion = versionOf(a)
	return nil
}

// addressVersion canonicalises a privateIPAddressVersion: "" (any, IPv4
// first), IPv4 or IPv6.
func addressVersion(v, field string) (string, error) {
	if v == "" {
		return "", nil
	}
	if err := canonical(&v, field+".properties.privateIPAddressVersion", "", "IPv4", "IPv6"); err != nil {
		return "", err
	}
	return v, nil
}

func versionOf(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// subnetPrefixes returns the parsed prefixes of a subnet (stored subnets
// were validated when written), in the order given.
func subnetPrefixes(s *arm.Subnet) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s.Prefixes() {
		if q, err := netip.ParsePrefix(strings.TrimSpace(p)); err == nil {
			out = append(out, q)
		}
	}
	return out
}

// usedPrivateIPs maps the addresses taken in a subnet to their users, not
// counting the resource with id key exclude.
func usedPrivateIPs(tx *txn, subnetID, exclude string) map[netip.Addr]string {
	used := usedPrivateIPsOf(tx, []string{subnetID}, exclude)[subnetKey(subnetID)]
	if used == nil {
		used = map[netip.Addr]string{}
	}
	return used
}

// usedPrivateIPsOf is usedPrivateIPs of several subnets, in one pass over
// the interfaces and gateways, by subnetKey of their ids: a subnet nothing
// uses has none.
func usedPrivateIPsOf(tx *txn, subnetIDs []string, exclude string) map[string]map[netip.Addr]string {
	used := map[string]map[netip.Addr]string{}
	for _, id := range subnetIDs {
		used[subnetKey(id)] = nil
	}
	take := func(subnet *arm.SubResource, owner, addr string) bool {
		k := subnetKey(subnet.RefID())
		m, ok := used[k]
		if !ok {
			return false
		}
		if a, err := netip.ParseAddr(addr); err == nil {
			if m == nil {
				m = map[netip.Addr]string{}
				used[k] = m
			}
			m[a] = owner
		}
		return true
	}
	for _, n := range list[arm.NetworkInterface](tx, arm.TypeNetworkInterface) {
		if strings.EqualFold(n.ID, exclude) {
			continue
		}
		for _, c := range n.Properties.IPConfigurations {
			take(c.Properties.Subnet, c.ID, c.Properties.PrivateIPAddress)
		}
	}
	for _, g := range list[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway) {
		if strings.EqualFold(g.ID, exclude) {
			continue
		}
		for _, c := range g.Properties.IPConfigurations {
			if take(c.Properties.Subnet, c.ID, c.Properties.PrivateIPAddress) {
				if b := g.Properties.BGPSettings; b != nil {
					for _, a := range strings.Split(b.BGPPeeringAddress, ",") {
						take(c.Properties.Subnet, g.ID+" (BGP)", a)
					}
				}
			}
		}
	}
	return used
}

// subnetKey is the key of a subnet's id in usedPrivateIPsOf: ids compare
// as arm.Equal does.
func subnetKey(id string) string { return strings.ToLower(strings.TrimSuffix(id, "/")) }

// allocateInSubnet returns the lowest free address of a subnet: of its
// first IPv4 prefix that has one, then of its IPv6 prefixes. The addresses
// of taken count as used too (those given in the same request).
func allocateInSubnet(tx *txn, s *arm.Subnet, exclude string, taken ...netip.Addr) (netip.Addr, error) {
	return allocateInSubnetVersion(tx, s, exclude, "", taken...)
}

// allocateInSubnetVersion is allocateInSubnet limited to one address
// version (IPv4 or IPv6; "" for either, IPv4 first, as Azure's default).
// Every prefix of the subnet is tried in the order given.
func allocateInSubnetVersion(tx *txn, s *arm.Subnet, exclude, version string, also ...netip.Addr) (netip.Addr, error) {
	prefixes := subnetPrefixes(s)
	slices.SortStableFunc(prefixes, func(a, b netip.Prefix) int {
		switch {
		case a.Addr().Is4() == b.Addr().Is4():
			return 0
		case a.Addr().Is4():
			return -1
		}
		return 1
	})
	used := usedPrivateIPs(tx, s.ID, exclude)
	taken := make(map[netip.Addr]bool, len(used)+len(also))
	for a := range used {
		taken[a] = true
	}
	for _, a := range also {
		taken[a] = true
	}
	tried := false
	for _, p := range prefixes {
		if version != "" && versionOf(p.Addr()) != version {
			continue
		}
		tried = true
		if a, ok := allocatePrivateIP(p, taken); ok {
			return a, nil
		}
	}
	if !tried {
		return netip.Addr{}, arm.Errorf(arm.CodeInvalidParameter, "subnet %s (%s) has no %s prefix", s.Name, strings.Join(s.Prefixes(), ", "), version)
	}
	return netip.Addr{}, arm.Errorf(arm.CodeSubnetFull, "subnet %s (%s) has no free address", s.Name, strings.Join(s.Prefixes(), ", "))
}

// macFromGUID derives a stable MAC address in Azure's 00-0D-3A prefix.
func macFromGUID(guid string) string {
	h := strings.ReplaceAll(guid, "-", "")
	if len(h) < 6 {
		h = "000000"
	}
	h = strings.ToUpper(h[len(h)-6:])
	return "00-0D-3A-" + h[0:2] + "-" + h[2:4] + "-" + h[4:6]
}

func (r *Region) delNetworkInterface(tx *txn, id arm.ID) error {
	tx.del(arm.TypeNetworkInterface, id.Key())
	return nil
}
