package region

import (
	"context"
	"fmt"
	"regexp"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/rules"
)

// maxFQDN bounds the length of a local network gateway's fqdn.
const maxFQDN = 253

var fqdnRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// PutLocalGateway creates or updates a local network gateway: an
// on-premises site, its VPN device's address and its address ranges (R24).
func (r *Region) PutLocalGateway(ctx context.Context, id arm.ID, in *arm.LocalNetworkGateway) (*arm.LocalNetworkGateway, Outcome, error) {
	var out *arm.LocalNetworkGateway
	var created bool
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		old := get[arm.LocalNetworkGateway](tx, arm.TypeLocalNetworkGateway, id)
		created = old == nil
		l := *in
		if old != nil {
			id = storedID(id, old.ID)
		}
		if err := setIdentity(&l.Resource, id, l.Location); err != nil {
			return err
		}
		p := &l.Properties
		p.ProvisioningState = arm.Succeeded
		p.ResourceGUID = NewGUID()
		if old != nil {
			p.ResourceGUID = old.Properties.ResourceGUID
			if err := keepLocation(&l.Resource, &old.Resource, id); err != nil {
				return err
			}
		}
		// The fqdn is checked also beside a gatewayIpAddress (which the
		// gateway then uses), so that what is stored is a name.
		if p.FQDN != "" && !fqdnRE.MatchString(p.FQDN) {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.fqdn", Message: "fqdn " + p.FQDN + " is not a valid host name"}
		}
		// RFC 1035 §2.3.4: a name is at most 255 octets on the wire, 253
		// characters written out; a longer one no resolver looks up.
		if len(p.FQDN) > maxFQDN {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.fqdn",
				Message: fmt.Sprintf("fqdn is %d characters long; a host name has at most %d (RFC 1035)", len(p.FQDN), maxFQDN)}
		}
		switch {
		case p.GatewayIPAddress != "":
			a, err := parseAddr("properties.gatewayIpAddress", p.GatewayIPAddress)
			if err != nil {
				return err
			}
			if !rules.DeviceAddr(a) {
				return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.gatewayIpAddress",
					Message: fmt.Sprintf("gatewayIpAddress %s is not the unicast address of a VPN device (unspecified, multicast or broadcast)", a)}
			}
			p.GatewayIPAddress = a.String()
		case p.FQDN == "":
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.gatewayIpAddress",
				Message: "a local network gateway needs the address of the on-premises VPN device: gatewayIpAddress or fqdn"}
		}
		var prefixes []string
		if p.LocalNetworkAddressSpace != nil {
			prefixes = trimmed(p.LocalNetworkAddressSpace.AddressPrefixes)
			p.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: prefixes}
		}
		if _, err := rules.ParsePrefixes("properties.localNetworkAddressSpace.addressPrefixes", prefixes); err != nil {
			return err
		}
		if b := p.BGPSettings; b != nil {
			if err := peerWeight(b); err != nil {
				return err
			}
			if b.ASN == 0 {
				// A site's BGP needs its ASN; 0 is what a left-out one reads as.
				return &arm.Error{Code: arm.CodeInvalidASN, Target: "properties.bgpSettings.asn",
					Message: "the site's BGP settings have no ASN: properties.bgpSettings.asn, the site's BGP ASN, is required with bgpSettings (R41)"}
			}
			if err := rules.R41ASN(b.ASN, false); err != nil {
				err.Target = "properties.bgpSettings.asn"
				return err
			}
			a, err := parseAddr("properties.bgpSettings.bgpPeeringAddress", b.BGPPeeringAddress)
			if err != nil {
				return err
			}
			nb := *b
			nb.BGPPeeringAddress = a.String()
			nb.BGPPeeringAddresses = nil
			p.BGPSettings = &nb
		}
		if len(prefixes) == 0 && p.BGPSettings == nil {
			return &arm.Error{Code: arm.CodeInvalidAddressPrefix, Target: "properties.localNetworkAddressSpace.addressPrefixes",
				Message: "a local network gateway needs its address ranges (localNetworkAddressSpace) or BGP settings to learn them (R24)"}
		}
		tx.put(arm.TypeLocalNetworkGateway, id.Key(), &l)
		out = &l
		// The new ranges must not overlap anything joined at the gateways
		// this site is connected to (R35, R43).
		for _, c := range linked[arm.Connection](tx, arm.TypeConnection, link{site, refKey(l.ID)}) {
			if g := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, c.Properties.VirtualNetworkGateway1.RefID()); g != nil {
				if err := r35Check(tx, g); err != nil {
					return err
				}
				// The connection's NAT rules must fit the new ranges.
				if err := natFitsConnections(tx, g, "properties.localNetworkAddressSpace.addressPrefixes"); err != nil {
					return err
				}
			}
		}
		// And whatever else its connections check (R34, R41).
		return r.connectionsFit(tx, l.ID)
	})
	return out, Outcome{Created: created}, err
}

func (r *Region) delLocalGateway(tx *txn, id arm.ID) error {
	if cs := linked[arm.Connection](tx, arm.TypeConnection, link{site, refKey(id.String())}); len(cs) > 0 {
		return arm.Errorf(arm.CodeInUseLocalGateway, "local network gateway %s is used by connection %s; delete the connection first", id.Name(), cs[0].ID)
	}
	for _, g := range list[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway) {
		if arm.Equal(g.Properties.GatewayDefaultSite.RefID(), id.String()) {
			return arm.Errorf(arm.CodeInUseLocalGateway, "local network gateway %s is the default site of gateway %s (forced tunneling); change that first", id.Name(), g.ID)
		}
	}
	tx.del(arm.TypeLocalNetworkGateway, id.Key())
	return nil
}

// peerWeight checks the peerWeight of a site's or a gateway's bgpSettings
// (Azure's weight of the routes learned from that speaker): 0 is taken,
// another refused, as the gateway would not honour it.
func peerWeight(b *arm.BGPSettings) error {
	if b.PeerWeight == nil || *b.PeerWeight == 0 {
		return nil
	}
	return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.bgpSettings.peerWeight",
		Message: fmt.Sprintf("peerWeight %d is not available: the gateway prefers a learned route by the shortest AS path, then its origin, then the lowest BGP identifier, then the lowest peer address; make a site's routes less preferred by prepending its AS path on the device", *b.PeerWeight)}
}
