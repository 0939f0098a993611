package region

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/rules"
)

// Connection defaults, as Azure's.
const (
	DefaultDPDTimeoutSeconds = 45
	minDPDTimeoutSeconds     = 9
	maxDPDTimeoutSeconds     = 3600
)

// The bounds of a custom policy's child SA lifetime in seconds, as
// Azure's (New-AzIpsecPolicy -SALifeTimeSeconds: 300 to 172799).
const (
	minSALifeTimeSeconds = 300
	maxSALifeTimeSeconds = 172799
)

// PutConnection creates or updates a connection: site-to-site (IPsec, to a
// local network gateway) or VNet-to-VNet (Vnet2Vnet, to another gateway,
// which may be in another subscription or region, R1, R2).
func (r *Region) PutConnection(ctx context.Context, id arm.ID, in *arm.Connection) (*arm.Connection, Outcome, error) {
	var out *arm.Connection
	var created bool
	if strings.EqualFold(in.Properties.ConnectionType, arm.ConnectionVnet2Vnet) {
		if err := r.resolveRemote(ctx, in.Properties.VirtualNetworkGateway2.RefID()); err != nil {
			return nil, Outcome{}, err
		}
	}
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		old := get[arm.Connection](tx, arm.TypeConnection, id)
		created = old == nil
		c := *in
		if err := r.stageConnection(tx, id, &c, old, false); err != nil {
			return err
		}
		out = renderConnection(tx, &c).(*arm.Connection)
		return nil
	})
	if err == nil && created {
		if err = r.confirmRemote(ctx, id, out); err != nil {
			return nil, Outcome{}, err
		}
	}
	var warnings []string
	if out != nil {
		warnings = weakGroups(out.Properties.IPsecPolicies)
	}
	return out, Outcome{Created: created, Warnings: warnings}, err
}

// confirmRemote looks up again, after connection c (id) was made, the
// gateway of another region it goes to, if it goes to one: at its
// region, not in the cache. If that gateway is gone or being deleted, or
// its region cannot be asked (a write that names it is refused then, as
// PutConnection's first lookup refuses it), or R35 no longer holds with
// its VNet's address space as it is now, c is deleted, if it is still the
// one this write made (its resourceGuid: a later PUT of it keeps it,
// a delete and a new PUT do not), and the write is refused. That
// region's delete of the gateway marks it Deleting before it asks the
// peers for connections that end at it (Delete tells why one of the two
// is then always refused). A node that stops between the commit and this
// leaves the connection, as a remote gateway deleted later would; its
// status says that its remote gateway is not found.
func (r *Region) confirmRemote(ctx context.Context, id arm.ID, c *arm.Connection) error {
	g2 := c.Properties.VirtualNetworkGateway2.RefID()
	if !r.isRemote(g2) {
		return nil // none, or checked in this region's fence
	}
	// Done also when the client has gone: the connection must not stay
	// unchecked.
	ctx, cancel := context.WithTimeout(withoutPrecondition(context.WithoutCancel(ctx)), 2*RemoteRefresh)
	defer cancel()
	refused := r.remoteStands(ctx, c, g2)
	if refused == nil {
		return nil
	}
	_, err := r.update(ctx, func(tx *txn) error {
		if now := get[arm.Connection](tx, arm.TypeConnection, id); now != nil && now.Properties.ResourceGUID == c.Properties.ResourceGUID {
			return r.delConnection(tx, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w; and connection %s, made meanwhile, could not be deleted again: %w", refused, id.Name(), err)
	}
	return refused
}

// remoteStands asks the peer regions for g2, the remote gateway of
// connection c, just made, and refuses it as PutConnection refuses a
// remote gateway when it is not there or its region cannot be asked, and
// when it is being deleted or its VNet's address space now overlaps one
// joined at c's gateway (R35).
func (r *Region) remoteStands(ctx context.Context, c *arm.Connection, g2 string) error {
	const target = "properties.virtualNetworkGateway2"
	rg, err := r.remotes.Gateway(ctx, g2)
	switch {
	case errors.Is(err, ErrNoRemote):
		return &arm.Error{Code: arm.CodeInvalidReference, Target: target, Message: fmt.Sprintf("%s: resource %s was not found", target, g2)}
	case err != nil:
		return &arm.Error{Code: arm.CodeInvalidReference, Target: target,
			Message: fmt.Sprintf("%s: the peer regions could not be asked for %s: %v", target, g2, err)}
	case strings.EqualFold(rg.Gateway.Properties.ProvisioningState, arm.Deleting):
		return &arm.Error{Code: arm.CodeInvalidReference, Target: target, Message: fmt.Sprintf("%s: resource %s is being deleted", target, g2)}
	}
	if err := rg.check(g2); err != nil {
		return &arm.Error{Code: arm.CodeInvalidReference, Target: target, Message: fmt.Sprintf("%s: %s: %v", target, g2, err)}
	}
	return r.view(func(tx *txn) error {
		tx.remotes[strings.ToLower(g2)] = rg // the view's copy
		g1 := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, c.Properties.VirtualNetworkGateway1.RefID())
		if g1 == nil {
			return nil
		}
		if err := rules.R35NoOverlap(g1.Name, gatewayDomain(tx, g1)); err != nil {
			return err
		}
		return nil
	})
}

// weakGroups warns of the Diffie-Hellman groups a custom policy may name
// but that are weak: 1024-bit MODP (group 2) and the 2048-bit MODP group
// with a 256-bit subgroup (group 24, RFC 8247 §2.4).
func weakGroups(pols []arm.IPsecPolicy) []string {
	var out []string
	for _, p := range pols {
		for _, g := range []string{p.DHGroup, p.PFSGroup} {
			switch g {
			case "DHGroup2", "PFS2":
				out = append(out, g+" (1024-bit MODP) is weak; prefer ECP256 or DHGroup14")
			case "DHGroup24", "PFS24":
				out = append(out, g+" (2048-bit MODP, 256-bit subgroup) is weak; prefer ECP256 or DHGroup14")
			}
		}
	}
	return out
}

// stageConnection stages c, the new connection id or old changed. refit
// says c is old staged again after a change of a gateway it names
// (connectionsFit).
func (r *Region) stageConnection(tx *txn, id arm.ID, c *arm.Connection, old *arm.Connection, refit bool) error {
	if old != nil {
		id = storedID(id, old.ID)
	}
	if err := setIdentity(&c.Resource, id, c.Location); err != nil {
		return err
	}
	if old != nil {
		if err := keepLocation(&c.Resource, &old.Resource, id); err != nil {
			return err
		}
	}
	p := &c.Properties
	p.ProvisioningState = arm.Succeeded
	p.ResourceGUID = NewGUID()
	if err := canonical(&p.ConnectionType, "properties.connectionType", "", arm.ConnectionIPsec, arm.ConnectionVnet2Vnet, arm.ConnectionExpressRoute, arm.ConnectionVPNClient); err != nil {
		return err
	}
	switch p.ConnectionType {
	case "":
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.connectionType", Message: "connectionType is required: IPsec or Vnet2Vnet"}
	case arm.ConnectionExpressRoute, arm.ConnectionVPNClient:
		return &arm.Error{Code: arm.CodeUnsupportedConnection, Target: "properties.connectionType",
			Message: "connectionType " + p.ConnectionType + " is not supported: vnetgw models ExpressRoute gateways for coexistence only; use IPsec or Vnet2Vnet"}
	}
	g1, g1ID, err := ref[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, "properties.virtualNetworkGateway1", p.VirtualNetworkGateway1.RefID())
	if err != nil {
		return err
	}
	if g1.Properties.GatewayType != arm.GatewayTypeVpn {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.virtualNetworkGateway1", Message: "gateway " + g1.Name + " is not a VPN gateway"}
	}
	if c.Location != g1.Location {
		return arm.Errorf(arm.CodeInvalidParameter, "connection %s must be in the location of its gateway %s (%s), not %s", c.Name, g1.Name, g1.Location, c.Location)
	}
	p.VirtualNetworkGateway1 = arm.Ref(g1.ID)
	var remote string
	var remoteASN int64
	switch p.ConnectionType {
	case arm.ConnectionIPsec:
		if p.VirtualNetworkGateway2 != nil {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.virtualNetworkGateway2", Message: "an IPsec connection goes to a local network gateway (localNetworkGateway2), not to virtualNetworkGateway2"}
		}
		l, _, err := ref[arm.LocalNetworkGateway](tx, arm.TypeLocalNetworkGateway, "properties.localNetworkGateway2", p.LocalNetworkGateway2.RefID())
		if err != nil {
			return err
		}
		p.LocalNetworkGateway2 = arm.Ref(l.ID)
		remote = l.ID
		if p.EnableBGP && l.Properties.BGPSettings == nil {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableBgp", Message: "enableBgp needs bgpSettings on local network gateway " + l.Name + " (R41)"}
		}
		if b := l.Properties.BGPSettings; b != nil {
			remoteASN = b.ASN
		}
	case arm.ConnectionVnet2Vnet:
		if p.LocalNetworkGateway2 != nil {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.localNetworkGateway2", Message: "a Vnet2Vnet connection goes to virtualNetworkGateway2, not to a local network gateway"}
		}
		g2, _, err := ref[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, "properties.virtualNetworkGateway2", p.VirtualNetworkGateway2.RefID())
		if rg := tx.remoteGateway(p.VirtualNetworkGateway2.RefID()); err != nil && rg != nil {
			g2, err = &rg.Gateway, nil // a gateway of another region (R1)
		}
		if err != nil && refit && r.remotes != nil {
			// A gateway of another region not known now (this node
			// started while that region did not answer): the connection
			// was checked against it when it was made and is again when
			// it is known (refreshRemotes); a change of its own gateway
			// is not held up meanwhile.
			remote = old.Properties.VirtualNetworkGateway2.RefID()
			break
		}
		if err != nil {
			return err
		}
		if g2.Properties.GatewayType != arm.GatewayTypeVpn {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.virtualNetworkGateway2", Message: "gateway " + g2.Name + " is not a VPN gateway"}
		}
		if arm.Equal(g1.ID, g2.ID) {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.virtualNetworkGateway2", Message: "a gateway cannot be connected to itself"}
		}
		if err := rules.R28Vnet2Vnet(g1.Properties.VPNType, g2.Properties.VPNType); err != nil {
			return err
		}
		if p.EnableBGP && !g2.Properties.EnableBGP {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableBgp", Message: "enableBgp needs BGP enabled on gateway " + g2.Name + " (R41)"}
		}
		if b := g2.Properties.BGPSettings; b != nil {
			remoteASN = b.ASN
		}
		p.VirtualNetworkGateway2 = arm.Ref(g2.ID)
		remote = g2.ID
	}
	if p.EnableBGP && !g1.Properties.EnableBGP {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableBgp", Message: "enableBgp needs BGP enabled on gateway " + g1.Name + " (R41)"}
	}
	// The gateway speaks external BGP only: the two ends are different ASes.
	if b := g1.Properties.BGPSettings; p.EnableBGP && b != nil && b.ASN == remoteASN {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableBgp",
			Message: fmt.Sprintf("both ends of a BGP connection have ASN %d; the gateway peers over external BGP, so they must differ (R41)", remoteASN)}
	}
	if old != nil {
		op := &old.Properties
		p.ResourceGUID = op.ResourceGUID
		switch {
		case p.ConnectionType != op.ConnectionType:
			return arm.Errorf(arm.CodeInvalidParameter, "connection %s is of type %s; its connectionType cannot change", old.Name, op.ConnectionType)
		case !arm.Equal(g1.ID, op.VirtualNetworkGateway1.RefID()):
			return arm.Errorf(arm.CodeInvalidParameter, "connection %s belongs to gateway %s; virtualNetworkGateway1 cannot change", old.Name, op.VirtualNetworkGateway1.RefID())
		case !arm.Equal(remote, op.LocalNetworkGateway2.RefID()+op.VirtualNetworkGateway2.RefID()):
			return arm.Errorf(arm.CodeInvalidParameter, "connection %s goes to %s; its remote end cannot change", old.Name, op.LocalNetworkGateway2.RefID()+op.VirtualNetworkGateway2.RefID())
		}
	}
	if err := connectionSettings(p); err != nil {
		return err
	}
	// Azure: custom IPsec/IKE policy "is supported on all Azure SKUs
	// except the Basic SKU". A connection stored before this was checked
	// is not refused again when its gateway changes (refit).
	if len(p.IPsecPolicies) > 0 && !refit && strings.EqualFold(g1.Properties.SKU.Name, "Basic") {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: "properties.ipsecPolicies",
			Message: "gateway " + g1.Name + " is of the Basic SKU, which takes no custom IPsec/IKE policy: leave ipsecPolicies out (its tunnels use the default proposals), or use a gateway of another SKU (VpnGw1 and up)"}
	}
	site, vnet, siteBGP := natRanges(tx, c, g1)
	if err := stageConnectionNAT(c, g1, site, vnet, siteBGP); err != nil {
		return err
	}
	if err := stageCustomBgpIPAddresses(p, g1); err != nil {
		return err
	}
	if len(p.TrafficSelectorPolicies) > 0 && !p.UsePolicyBasedTrafficSelectors && g1.Properties.VPNType != arm.PolicyBased {
		// As Azure's: custom selectors are policy-based selectors.
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.trafficSelectorPolicies",
			Message: "trafficSelectorPolicies take effect with usePolicyBasedTrafficSelectors (and its ipsecPolicies) or on a policy-based gateway; gateway " + g1.Name + " is route-based"}
	}
	if err := rules.R18PrefixPairs(prefixPairs(tx, c, g1)); err != nil {
		return err
	}
	switch {
	case p.SharedKey != "":
		if err := rules.R38SharedKey(p.SharedKey); err != nil {
			err.Target = "properties.sharedKey"
			return err
		}
	case old != nil:
		p.SharedKey = old.Properties.SharedKey
	default:
		p.SharedKey = newSharedKey(rules.DefaultSharedKeyLen) // R21, R38: each connection its own key
	}
	// Limits of gateway 1: multi-site (R28), tunnels per SKU (R32), no
	// second tunnel to the same site (R34).
	var others []*arm.Connection
	mine, mineBGP := peerAddresses(tx, p), bgpPeerAddresses(tx, p) // looked up once, not for each other connection
	for _, o := range connectionsOf(tx, g1ID) {
		if arm.Equal(o.ID, c.ID) {
			continue
		}
		if arm.Equal(o.Properties.LocalNetworkGateway2.RefID()+o.Properties.VirtualNetworkGateway2.RefID(), remote) {
			return arm.Errorf(arm.CodeDuplicateConnection, "gateway %s is already connected to %s by connection %s; there can be only one tunnel between a VNet and a site (R34)", g1.Name, remote, o.ID)
		}
		theirs := peerAddresses(tx, &o.Properties)
		if i := slices.IndexFunc(mine, func(a string) bool { return slices.Contains(theirs, a) }); i >= 0 {
			return arm.Errorf(arm.CodeDuplicateConnection, "gateway %s already has a tunnel to the device at %s, by connection %s; one device is one site (R34)", g1.Name, mine[i], o.ID)
		}
		// The gateway's speaker has one session per peer address: the
		// second site's would never come up.
		theirBGP := bgpPeerAddresses(tx, &o.Properties)
		if i := slices.IndexFunc(mineBGP, func(a netip.Addr) bool { return slices.Contains(theirBGP, a) }); i >= 0 {
			target := "properties.localNetworkGateway2"
			if p.ConnectionType == arm.ConnectionVnet2Vnet {
				target = "properties.virtualNetworkGateway2"
			}
			return &arm.Error{Code: arm.CodeDuplicateConnection, Target: target,
				Message: fmt.Sprintf("gateway %s already peers over BGP with the speaker at %s, by connection %s; each site's bgpSettings.bgpPeeringAddress is its own, a BGP session each (R41)", g1.Name, mineBGP[i], o.ID)}
		}
		others = append(others, o)
	}
	if err := rules.R28MultiSite(g1.Properties.VPNType, len(others)); err != nil {
		return err
	}
	if sku, ok := rules.LookupSKU(g1.Properties.SKU.Name); ok {
		if err := rules.R32TunnelLimit(sku, len(others)+1); err != nil {
			return err
		}
	}
	// Observed state is the data plane's to report, never the request's.
	p.ConnectionStatus, p.TunnelConnectionStatus, p.ConnectionStatusReason = "", nil, ""
	p.IngressBytesTransferred, p.EgressBytesTransferred = 0, 0
	tx.put(arm.TypeConnection, id.Key(), c)
	return r35Affected(tx, []*arm.VirtualNetworkGateway{g1})
}

// prefixPairs is how many prefix pairs connection c of gateway g1
// negotiates, a child SA each (R18), as the data plane makes them: none
// with any-to-any selectors (a route-based IKEv2 connection), else each
// traffic selector policy's local ranges with its remote ranges, or each
// VNet range with each range of the other end.
func prefixPairs(tx *txn, c *arm.Connection, g1 *arm.VirtualNetworkGateway) int {
	p := &c.Properties
	selectors := g1.Properties.VPNType == arm.PolicyBased || p.UsePolicyBasedTrafficSelectors
	if !selectors && p.ConnectionProtocol != arm.IKEv1 {
		return 0
	}
	if selectors && len(p.TrafficSelectorPolicies) > 0 {
		n := 0
		for _, ts := range p.TrafficSelectorPolicies {
			local, _ := rules.ParsePrefixes("", ts.LocalAddressRanges)
			remote, _ := rules.ParsePrefixes("", ts.RemoteAddressRanges)
			n += sameVersionPairs(local, remote)
		}
		return n
	}
	site, vnet, _ := natRanges(tx, c, g1)
	remote := site
	if g2 := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, p.VirtualNetworkGateway2.RefID()); g2 != nil {
		if v := vnetOfGateway(tx, g2); v != nil && v.Properties.AddressSpace != nil {
			remote, _ = rules.ParsePrefixes("", v.Properties.AddressSpace.AddressPrefixes)
		}
	} else if rg := tx.remoteGateway(p.VirtualNetworkGateway2.RefID()); rg != nil {
		remote, _ = rules.ParsePrefixes("", rg.VNetPrefixes) // another region's (R1)
	}
	return sameVersionPairs(vnet, remote)
}

// sameVersionPairs is how many pairs of a local and a remote prefix are
// of one IP version: those the data plane negotiates, as an IPv4 range
// with an IPv6 one would carry nothing (ikev2.PolicyBased).
func sameVersionPairs(local, remote []netip.Prefix) int {
	v4 := func(ps []netip.Prefix) int {
		n := 0
		for _, p := range ps {
			if p.Addr().Is4() {
				n++
			}
		}
		return n
	}
	l4, r4 := v4(local), v4(remote)
	return l4*r4 + (len(local)-l4)*(len(remote)-r4)
}

// r18Affected checks, after a change of the address space of a VNet whose
// gateways are gws, that the connections at either end of them still
// negotiate at most rules.MaxPrefixPairs prefix pairs (R18).
func r18Affected(tx *txn, gws []*arm.VirtualNetworkGateway) error {
	var ends []link
	for _, g := range gws {
		ends = append(ends, link{gateway1, refKey(g.ID)}, link{gateway2, refKey(g.ID)})
	}
	for _, c := range linked[arm.Connection](tx, arm.TypeConnection, ends...) {
		p := &c.Properties
		g1 := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, p.VirtualNetworkGateway1.RefID())
		if g1 == nil {
			continue
		}
		if err := rules.R18PrefixPairs(prefixPairs(tx, c, g1)); err != nil {
			err.Message, err.Target = "connection "+c.Name+": "+err.Message, "properties.addressSpace.addressPrefixes"
			return err
		}
	}
	return nil
}

// peerAddresses are the addresses a connection's tunnels go to: the
// gatewayIpAddress (or else the fqdn) of an IPsec connection's local
// network gateway, or the public addresses of every instance of a
// VNet-to-VNet connection's remote gateway, of this region or another.
// A gateway has one tunnel to an address (the data plane leaves out a
// second), whichever connection names it.
func peerAddresses(tx *txn, p *arm.ConnectionProperties) []string {
	if l := getByRef[arm.LocalNetworkGateway](tx, arm.TypeLocalNetworkGateway, p.LocalNetworkGateway2.RefID()); l != nil {
		if l.Properties.GatewayIPAddress == "" {
			return []string{strings.ToLower(l.Properties.FQDN)} // a device known by name
		}
		a, err := netip.ParseAddr(l.Properties.GatewayIPAddress)
		if err != nil {
			return nil
		}
		return []string{a.Unmap().String()}
	}
	var out []string
	if g := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, p.VirtualNetworkGateway2.RefID()); g != nil {
		for _, c := range g.Properties.IPConfigurations {
			if pip := getByRef[arm.PublicIPAddress](tx, arm.TypePublicIPAddress, c.Properties.PublicIPAddress.RefID()); pip != nil {
				if a, err := netip.ParseAddr(pip.Properties.IPAddress); err == nil {
					out = append(out, a.Unmap().String())
				}
			}
		}
	} else if rg := tx.remoteGateway(p.VirtualNetworkGateway2.RefID()); rg != nil {
		for _, a := range append([]netip.Addr{rg.PublicAddr}, rg.InstanceAddrs...) {
			if a.IsValid() && !slices.Contains(out, a.Unmap().String()) {
				out = append(out, a.Unmap().String())
			}
		}
	}
	return out
}

// siteBGPAddress is the BGP peering address of an IPsec connection's
// local network gateway when the connection has BGP, or the zero Addr.
func siteBGPAddress(tx *txn, p *arm.ConnectionProperties) netip.Addr {
	if !p.EnableBGP {
		return netip.Addr{}
	}
	l := getByRef[arm.LocalNetworkGateway](tx, arm.TypeLocalNetworkGateway, p.LocalNetworkGateway2.RefID())
	if l == nil || l.Properties.BGPSettings == nil {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(l.Properties.BGPSettings.BGPPeeringAddress)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// bgpPeerAddresses are the addresses of the BGP speakers a connection
// with BGP peers with: its site's, or every instance's of its
// VNet-to-VNet remote gateway, of this region or another (as the data
// plane makes the sessions). The gateway's speaker has one session per
// address: of two connections naming one, the second had none.
func bgpPeerAddresses(tx *txn, p *arm.ConnectionProperties) []netip.Addr {
	if a := siteBGPAddress(tx, p); a.IsValid() {
		return []netip.Addr{a}
	}
	if !p.EnableBGP || p.ConnectionType != arm.ConnectionVnet2Vnet {
		return nil
	}
	g2 := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, p.VirtualNetworkGateway2.RefID())
	if rg := tx.remoteGateway(p.VirtualNetworkGateway2.RefID()); g2 == nil && rg != nil {
		g2 = &rg.Gateway
	}
	if g2 == nil {
		return nil
	}
	var r Remote
	r.bgpOfGateway(g2)
	for i, a := range r.BGPAddrs {
		r.BGPAddrs[i] = a.Unmap()
	}
	return r.BGPAddrs
}

// canonical replaces *v by the allowed value it matches, ignoring case; an
// empty value is replaced by def.
func canonical(v *string, field, def string, allowed ...string) error {
	if *v == "" {
		*v = def
		return nil
	}
	for _, a := range allowed {
		if strings.EqualFold(*v, a) {
			*v = a
			return nil
		}
	}
	return &arm.Error{Code: arm.CodeInvalidParameter, Target: field,
		Message: fmt.Sprintf("%s is %q; it must be one of %s", field, *v, strings.Join(allowed, ", "))}
}

// connectionSettings canonicalises and checks the protocol settings.
func connectionSettings(p *arm.ConnectionProperties) error {
	if err := canonical(&p.ConnectionProtocol, "properties.connectionProtocol", arm.IKEv2, arm.IKEv2, arm.IKEv1); err != nil {
		return err
	}
	// R22: tunnels authenticate with a pre-shared key; a connection that
	// asks for certificates is told so, not given a PSK tunnel.
	if canonical(&p.AuthenticationType, "properties.authenticationType", "PSK", "PSK") != nil {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.authenticationType",
			Message: fmt.Sprintf("authenticationType %q is not available: vnetgw's tunnels authenticate with pre-shared keys only (PSK, R22)", p.AuthenticationType)}
	}
	if c := strings.TrimSpace(string(p.CertificateAuthentication)); c != "" && c != "null" {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.certificateAuthentication",
			Message: "certificateAuthentication is not available: vnetgw's tunnels authenticate with pre-shared keys only (R22)"}
	}
	p.CertificateAuthentication = nil
	if p.UseLocalAzureIPAddress {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.useLocalAzureIpAddress",
			Message: "useLocalAzureIpAddress is not available: vnetgw's tunnels go from the gateway's public IP address, not its private one"}
	}
	// An ExpressRoute connection's settings, which a tunnel has no use
	// for (the key is not quoted: it is a circuit's secret).
	for _, x := range []struct {
		set   bool
		field string
	}{
		{p.AuthorizationKey != "", "authorizationKey"},
		{p.ExpressRouteGatewayBypass, "expressRouteGatewayBypass"},
		{p.EnablePrivateLinkFastPath, "enablePrivateLinkFastPath"},
	} {
		if x.set {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties." + x.field,
				Message: x.field + " is an ExpressRoute connection's setting; vnetgw's connections are IPsec tunnels (IPsec, Vnet2Vnet), which have no use for it"}
		}
	}
	if given(p.TunnelProperties) {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.tunnelProperties",
			Message: "tunnelProperties is not available: each instance of the gateway runs its tunnel from its own public IP address; choose the BGP peering addresses with gatewayCustomBgpIpAddresses"}
	}
	p.TunnelProperties = nil
	if err := canonical(&p.ConnectionMode, "properties.connectionMode", arm.ModeDefault, arm.ModeDefault, arm.ModeInitiatorOnly, arm.ModeResponderOnly); err != nil {
		return err
	}
	if p.DPDTimeoutSeconds == 0 {
		p.DPDTimeoutSeconds = DefaultDPDTimeoutSeconds
	}
	if p.DPDTimeoutSeconds < minDPDTimeoutSeconds || p.DPDTimeoutSeconds > maxDPDTimeoutSeconds {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.dpdTimeoutSeconds",
			Message: fmt.Sprintf("dpdTimeoutSeconds must be between %d and %d", minDPDTimeoutSeconds, maxDPDTimeoutSeconds)}
	}
	if p.RoutingWeight < 0 || p.RoutingWeight > 32000 {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.routingWeight", Message: "routingWeight must be between 0 and 32000"}
	}
	if len(p.IPsecPolicies) > 1 {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: "properties.ipsecPolicies", Message: "a connection takes at most one custom IPsec/IKE policy"}
	}
	for i := range p.IPsecPolicies {
		if err := checkIPsecPolicy(&p.IPsecPolicies[i], "properties.ipsecPolicies[0]."); err != nil {
			return err
		}
	}
	// IKEv1 has no AEAD cipher in phase 1 (RFC 2409 Appendix A); checked
	// once the policy is canonical, so that gcmaes256 is GCMAES256.
	if p.ConnectionProtocol == arm.IKEv1 && len(p.IPsecPolicies) == 1 && strings.HasPrefix(p.IPsecPolicies[0].IKEEncryption, "GCM") {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: "properties.ipsecPolicies[0].ikeEncryption",
			Message: "ikeEncryption " + p.IPsecPolicies[0].IKEEncryption + " is not available with IKEv1, which has no AES-GCM in phase 1; use AES256, AES192 or AES128"}
	}
	if p.UsePolicyBasedTrafficSelectors && len(p.IPsecPolicies) == 0 {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: "properties.usePolicyBasedTrafficSelectors",
			Message: "usePolicyBasedTrafficSelectors needs a custom IPsec/IKE policy (ipsecPolicies)"}
	}
	p.TrafficSelectorPolicies = slices.Clone(p.TrafficSelectorPolicies)
	for i := range p.TrafficSelectorPolicies {
		ts := &p.TrafficSelectorPolicies[i]
		ts.LocalAddressRanges, ts.RemoteAddressRanges = trimmed(ts.LocalAddressRanges), trimmed(ts.RemoteAddressRanges)
		f := fmt.Sprintf("properties.trafficSelectorPolicies[%d]", i)
		if len(ts.LocalAddressRanges) == 0 || len(ts.RemoteAddressRanges) == 0 {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: f, Message: f + " needs localAddressRanges and remoteAddressRanges"}
		}
		if _, err := rules.ParsePrefixes(f+".localAddressRanges", ts.LocalAddressRanges); err != nil {
			return err
		}
		if _, err := rules.ParsePrefixes(f+".remoteAddressRanges", ts.RemoteAddressRanges); err != nil {
			return err
		}
	}
	return nil
}

// checkIPsecPolicy canonicalises a custom policy, at f (the field path
// of the policy with a trailing dot). GCM integrity must name the same
// algorithm as the encryption, as Azure requires.
func checkIPsecPolicy(pol *arm.IPsecPolicy, f string) error {
	checks := []struct {
		v       *string
		field   string
		allowed []string
	}{
		{&pol.IPsecEncryption, "ipsecEncryption", []string{"None", "DES", "DES3", "AES128", "AES192", "AES256", "GCMAES128", "GCMAES192", "GCMAES256"}},
		{&pol.IPsecIntegrity, "ipsecIntegrity", []string{"MD5", "SHA1", "SHA256", "GCMAES128", "GCMAES192", "GCMAES256"}},
		{&pol.IKEEncryption, "ikeEncryption", []string{"DES", "DES3", "AES128", "AES192", "AES256", "GCMAES128", "GCMAES256"}},
		{&pol.IKEIntegrity, "ikeIntegrity", []string{"MD5", "SHA1", "SHA256", "SHA384", "GCMAES128", "GCMAES256"}},
		{&pol.DHGroup, "dhGroup", []string{"None", "DHGroup1", "DHGroup2", "DHGroup14", "DHGroup2048", "ECP256", "ECP384", "DHGroup24"}},
		{&pol.PFSGroup, "pfsGroup", []string{"None", "PFS1", "PFS2", "PFS2048", "ECP256", "ECP384", "PFS24", "PFS14", "PFSMM"}},
	}
	for _, c := range checks {
		if *c.v == "" {
			return &arm.Error{Code: arm.CodeIPsecPolicy, Target: f + c.field, Message: c.field + " is required in a custom IPsec/IKE policy"}
		}
		if err := canonical(c.v, f+c.field, "", c.allowed...); err != nil {
			e := err.(*arm.Error)
			e.Code = arm.CodeIPsecPolicy
			return e
		}
	}
	for _, c := range checks {
		if why, ok := notImplemented[*c.v]; ok && (*c.v != "None" || c.field != "pfsGroup") {
			return &arm.Error{Code: arm.CodeIPsecPolicy, Target: f + c.field,
				Message: fmt.Sprintf("%s %s is not implemented by vnetgw (%s); choose a stronger one", c.field, *c.v, why)}
		}
	}
	gcm := func(enc, integ string) bool {
		return !strings.HasPrefix(enc, "GCM") && !strings.HasPrefix(integ, "GCM") || enc == integ
	}
	if !gcm(pol.IPsecEncryption, pol.IPsecIntegrity) {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: f + "ipsecIntegrity", Message: "with GCM, ipsecIntegrity must be the same GCM algorithm as ipsecEncryption"}
	}
	// For IKE a GCM cipher may come with a hash, which then is the PRF.
	if strings.HasPrefix(pol.IKEIntegrity, "GCM") && pol.IKEIntegrity != pol.IKEEncryption {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: f + "ikeIntegrity", Message: "ikeIntegrity " + pol.IKEIntegrity + " needs ikeEncryption " + pol.IKEIntegrity}
	}
	if pol.SALifeTimeSeconds < minSALifeTimeSeconds || pol.SALifeTimeSeconds > maxSALifeTimeSeconds {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: f + "saLifeTimeSeconds",
			Message: fmt.Sprintf("saLifeTimeSeconds is %d; it must be between %d and %d", pol.SALifeTimeSeconds, minSALifeTimeSeconds, maxSALifeTimeSeconds)}
	}
	if pol.SADataSizeKilobytes != 0 && pol.SADataSizeKilobytes < 1024 {
		return &arm.Error{Code: arm.CodeIPsecPolicy, Target: f + "saDataSizeKilobytes", Message: "saDataSizeKilobytes must be 0 (no limit) or at least 1024"}
	}
	return nil
}

// notImplemented are the values of a custom policy that Azure accepts and
// vnetgw refuses, with the reason; pfsGroup None (no PFS) is fine.
var notImplemented = map[string]string{
	"None":     "no encryption or no Diffie-Hellman exchange",
	"DES":      "broken: 56-bit key",
	"DES3":     "obsolete: 64-bit blocks",
	"MD5":      "broken hash",
	"DHGroup1": "broken: 768-bit group",
	"PFS1":     "broken: 768-bit group",
}

// renderConnection hides the shared key (read it through /sharedkey) and
// shows what the data plane observed.
func renderConnection(tx *txn, doc any) any {
	c := *doc.(*arm.Connection)
	p := &c.Properties
	p.SharedKey = ""
	// No policies are [], as Azure shows them, not null.
	if p.IPsecPolicies == nil {
		p.IPsecPolicies = []arm.IPsecPolicy{}
	}
	if p.TrafficSelectorPolicies == nil {
		p.TrafficSelectorPolicies = []arm.TrafficSelectorPolicy{}
	}
	p.ConnectionStatus = "Unknown"
	if st := statusOf[ConnectionStatus](tx, c.ID); st != nil && st.Of(p.ResourceGUID) {
		p.ConnectionStatus = st.ConnectionStatus
		p.IngressBytesTransferred, p.EgressBytesTransferred = st.IngressBytes, st.EgressBytes
		p.TunnelConnectionStatus = st.Tunnels
		p.InterRegion = st.InterRegion
		p.ConnectionStatusReason = st.Reason
	}
	return &c
}

func (r *Region) delConnection(tx *txn, id arm.ID) error {
	tx.del(arm.TypeConnection, id.Key())
	return nil
}

// connectionsOf returns the connections of which gw is virtualNetworkGateway1.
func connectionsOf(tx *txn, gw arm.ID) []*arm.Connection {
	return linked[arm.Connection](tx, arm.TypeConnection, link{gateway1, refKey(gw.String())})
}

// connectionsNaming returns the connections that name id as either
// gateway or as their site, in id order.
func connectionsNaming(tx *txn, id string) []*arm.Connection {
	k := refKey(id)
	return linked[arm.Connection](tx, arm.TypeConnection, link{gateway1, k}, link{gateway2, k}, link{site, k})
}

// Shared keys.

func (r *Region) connection(tx *txn, id arm.ID) (*arm.Connection, error) {
	return existing[arm.Connection](tx, arm.TypeConnection, id)
}

// GetSharedKey returns a connection's pre-shared key.
func (r *Region) GetSharedKey(id arm.ID) (*arm.ConnectionSharedKey, error) {
	var out *arm.ConnectionSharedKey
	err := r.view(func(tx *txn) error {
		c, err := r.connection(tx, id)
		if err != nil {
			return err
		}
		out = &arm.ConnectionSharedKey{ID: c.ID + "/sharedkey", Value: c.Properties.SharedKey}
		return nil
	})
	return out, err
}

// SetSharedKey replaces a connection's pre-shared key with one the user
// chose (R21, R38).
func (r *Region) SetSharedKey(ctx context.Context, id arm.ID, key string) (*arm.ConnectionSharedKey, error) {
	if err := rules.R38SharedKey(key); err != nil {
		err.Target = "value"
		return nil, err
	}
	return r.replaceSharedKey(ctx, id, key)
}

// ResetSharedKey gives a connection a new random key of the given length
// (R21).
func (r *Region) ResetSharedKey(ctx context.Context, id arm.ID, keyLength int32) (*arm.ConnectionResetSharedKey, error) {
	if err := rules.R21KeyLength(keyLength); err != nil {
		err.Target = "keyLength"
		return nil, err
	}
	if _, err := r.replaceSharedKey(ctx, id, newSharedKey(int(keyLength))); err != nil {
		return nil, err
	}
	return &arm.ConnectionResetSharedKey{KeyLength: keyLength}, nil
}

func (r *Region) replaceSharedKey(ctx context.Context, id arm.ID, key string) (*arm.ConnectionSharedKey, error) {
	var out *arm.ConnectionSharedKey
	_, err := r.update(ctx, func(tx *txn) error {
		c, err := r.connection(tx, id)
		if err != nil {
			return err
		}
		nc := *c
		nc.Etag = newEtag()
		nc.Properties.SharedKey = key
		tx.put(arm.TypeConnection, id.Key(), &nc)
		out = &arm.ConnectionSharedKey{ID: c.ID + "/sharedkey", Value: key}
		return nil
	})
	return out, err
}

// R35: the address spaces joined at a gateway.

// gatewayDomain lists the address spaces that meet at gateway g: its VNet,
// its point-to-site client pool, the sites and VNets of its connections and
// the VNets of gateways connected to it VNet-to-VNet.
func gatewayDomain(tx *txn, g *arm.VirtualNetworkGateway) []rules.AddressSpace {
	var out []rules.AddressSpace
	add := func(owner string, prefixes []string) {
		ps, err := rules.ParsePrefixes("", prefixes)
		if err == nil && len(ps) > 0 {
			out = append(out, rules.AddressSpace{Owner: owner, Prefixes: ps})
		}
	}
	addVNet := func(gw *arm.VirtualNetworkGateway) {
		if v := vnetOfGateway(tx, gw); v != nil && v.Properties.AddressSpace != nil {
			add(v.ID, v.Properties.AddressSpace.AddressPrefixes)
		}
	}
	addVNet(g)
	if cc := g.Properties.VPNClientConfiguration; cc != nil && cc.VPNClientAddressPool != nil {
		add(g.ID+"/vpnClientAddressPool", cc.VPNClientAddressPool.AddressPrefixes)
	}
	for _, c := range linked[arm.Connection](tx, arm.TypeConnection, link{gateway1, refKey(g.ID)}, link{gateway2, refKey(g.ID)}) {
		p := &c.Properties
		switch {
		case arm.Equal(p.VirtualNetworkGateway1.RefID(), g.ID):
			if l := getByRef[arm.LocalNetworkGateway](tx, arm.TypeLocalNetworkGateway, p.LocalNetworkGateway2.RefID()); l != nil && l.Properties.LocalNetworkAddressSpace != nil {
				// The site as the VNet sees it: through its NAT rules.
				if ps, err := rules.ParsePrefixes("", l.Properties.LocalNetworkAddressSpace.AddressPrefixes); err == nil && len(ps) > 0 {
					out = append(out, rules.AddressSpace{Owner: l.ID, Prefixes: siteSpace(g, c, ps)})
				}
			}
			if g2 := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, p.VirtualNetworkGateway2.RefID()); g2 != nil {
				addVNet(g2)
			} else if rg := tx.remoteGateway(p.VirtualNetworkGateway2.RefID()); rg != nil {
				add(rg.VNetID, rg.VNetPrefixes)
			}
		case arm.Equal(p.VirtualNetworkGateway2.RefID(), g.ID):
			if g1 := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, p.VirtualNetworkGateway1.RefID()); g1 != nil {
				addVNet(g1)
			}
		}
	}
	return out
}

func r35Check(tx *txn, g *arm.VirtualNetworkGateway) error {
	if err := rules.R35NoOverlap(g.Name, gatewayDomain(tx, g)); err != nil {
		return err
	}
	if err := siteBGPOutsideVNet(tx, g); err != nil {
		return err
	}
	return r35Inbound(tx, g)
}

// siteBGPOutsideVNet checks that the sites of gateway g's BGP connections
// peer from addresses outside g's VNet and other than g's own BGP
// addresses (its custom APIPA ones): Azure's on-premises BGP peer address
// "MUST NOT be the same as ... the VNet address space of the VPN Gateway".
// The VNet routes a site's BGP address to the site, over a host's route
// or the gateway's speaker's own: a site given the gateway's own address,
// the usual slip, left none of the gateway's BGP sessions up.
func siteBGPOutsideVNet(tx *txn, g *arm.VirtualNetworkGateway) error {
	var space []netip.Prefix
	if v := vnetOfGateway(tx, g); v != nil && v.Properties.AddressSpace != nil {
		space, _ = rules.ParsePrefixes("", v.Properties.AddressSpace.AddressPrefixes)
	}
	var own []string
	if b := g.Properties.BGPSettings; b != nil {
		for _, pa := range b.BGPPeeringAddresses {
			own = append(own, pa.CustomBGPIPAddresses...)
		}
	}
	for _, c := range linked[arm.Connection](tx, arm.TypeConnection, link{gateway1, refKey(g.ID)}) {
		a := siteBGPAddress(tx, &c.Properties)
		if !a.IsValid() {
			continue
		}
		var why string
		if i := slices.IndexFunc(space, func(p netip.Prefix) bool { return p.Contains(a) }); i >= 0 {
			why = fmt.Sprintf("is in the address space %s of the gateway's VNet", space[i])
		} else if slices.Contains(own, a.String()) {
			why = "is a custom APIPA BGP address of the gateway's own"
		} else {
			continue
		}
		return arm.Errorf(arm.CodeBGPPeeringAddress, "the BGP peering address %s of the site of connection %s %s; the site's device peers from an address of its own, outside the VNet (R41)", a, c.Name, why)
	}
	return nil
}

// r35Affected re-checks R35 at the given gateways and at every gateway
// connected to one of them VNet-to-VNet, whose domains include their VNets.
func r35Affected(tx *txn, gws []*arm.VirtualNetworkGateway) error {
	check := map[string]*arm.VirtualNetworkGateway{}
	for _, g := range gws {
		check[strings.ToLower(g.ID)] = g
	}
	var ends []link
	for _, g := range gws {
		ends = append(ends, link{gateway1, refKey(g.ID)}, link{gateway2, refKey(g.ID)})
	}
	for _, c := range linked[arm.Connection](tx, arm.TypeConnection, ends...) {
		g1, g2 := strings.ToLower(c.Properties.VirtualNetworkGateway1.RefID()), strings.ToLower(c.Properties.VirtualNetworkGateway2.RefID())
		for _, pair := range [][2]string{{g1, g2}, {g2, g1}} {
			if _, ok := check[pair[0]]; ok && pair[1] != "" {
				if g := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, pair[1]); g != nil {
					check[pair[1]] = g
				}
			}
		}
	}
	for _, g := range check {
		if err := r35Check(tx, g); err != nil {
			return err
		}
	}
	return nil
}

// stageCustomBgpIPAddresses checks the custom APIPA addresses a
// connection chooses: each of an IP configuration of its gateway g1 (by id
// or name, kept as its id), one of that configuration's custom APIPA BGP
// addresses, one for each configuration at most. They are a site's: a
// VNet-to-VNet connection's instances peer from their default addresses.
func stageCustomBgpIPAddresses(p *arm.ConnectionProperties, g1 *arm.VirtualNetworkGateway) error {
	if len(p.GatewayCustomBgpIPAddresses) == 0 {
		p.GatewayCustomBgpIPAddresses = nil
		return nil
	}
	if p.ConnectionType != arm.ConnectionIPsec {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.gatewayCustomBgpIpAddresses",
			Message: "gatewayCustomBgpIpAddresses is for site-to-site (IPsec) connections; VNet to VNet, each instance of gateway " + g1.Name + " peers from its default BGP address with each instance of the other gateway"}
	}
	p.GatewayCustomBgpIPAddresses = slices.Clone(p.GatewayCustomBgpIPAddresses)
	chosen := map[string]int{} // IP configuration id (lower case) -> index
	for i := range p.GatewayCustomBgpIPAddresses {
		x := &p.GatewayCustomBgpIPAddresses[i]
		field := fmt.Sprintf("properties.gatewayCustomBgpIpAddresses[%d]", i)
		j := slices.IndexFunc(g1.Properties.IPConfigurations, func(c arm.VirtualNetworkGatewayIPConfiguration) bool {
			return arm.Equal(c.ID, x.IPConfigurationID) || strings.EqualFold(c.Name, x.IPConfigurationID)
		})
		if j < 0 {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".ipConfigurationId",
				Message: fmt.Sprintf("%q names no IP configuration of gateway %s", x.IPConfigurationID, g1.Name)}
		}
		x.IPConfigurationID = g1.Properties.IPConfigurations[j].ID
		if k, ok := chosen[strings.ToLower(x.IPConfigurationID)]; ok {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".ipConfigurationId",
				Message: fmt.Sprintf("IP configuration %s of gateway %s has its address chosen already, by gatewayCustomBgpIpAddresses[%d]; a session goes from one address", g1.Properties.IPConfigurations[j].Name, g1.Name, k)}
		}
		chosen[strings.ToLower(x.IPConfigurationID)] = i
		custom := rules.CustomBGPAddresses(g1.Properties.BGPSettings, x.IPConfigurationID)
		if !slices.Contains(custom, x.CustomBgpIPAddress) {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".customBgpIpAddress",
				Message: fmt.Sprintf("%q is not a custom APIPA BGP address of IP configuration %s of gateway %s (it has %v)", x.CustomBgpIPAddress, g1.Properties.IPConfigurations[j].Name, g1.Name, custom)}
		}
	}
	return nil
}
