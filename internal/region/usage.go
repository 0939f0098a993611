package region

import (
	"encoding/binary"
	"net/netip"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// maxSuggestions is how many free addresses CheckIPAddress suggests.
const maxSuggestions = 5

// CheckIPAddress tells whether addr is free for a network interface in
// VNet id (ARM's CheckIPAddressAvailability) and, when it is not, suggests
// free addresses of its subnet. An address in no subnet is refused.
func (r *Region) CheckIPAddress(id arm.ID, addr string) (arm.IPAddressAvailability, error) {
	var out arm.IPAddressAvailability
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return out, arm.Errorf(arm.CodeInvalidParameter, "ipAddress %q is not an IP address", addr)
	}
	err = r.view(func(tx *txn) error {
		v, err := existing[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, id)
		if err != nil {
			return err
		}
		for i := range v.Properties.Subnets {
			s := &v.Properties.Subnets[i]
			for _, p := range subnetPrefixes(s) {
				if !p.Contains(a) {
					continue
				}
				used := usedPrivateIPs(tx, s.ID, "")
				_, taken := used[a]
				out.Available = !taken && reservedPrivate(p, a) == ""
				if !out.Available {
					out.AvailableIPAddresses = freeAddrs(p, used, maxSuggestions)
				}
				return nil
			}
		}
		return arm.Errorf(arm.CodePrivateIPNotInSubnet, "%s is in no subnet of virtual network %s", a, v.Name)
	})
	return out, err
}

// VNetUsages returns, per subnet of VNet id, the addresses in use and the
// addresses it has for hosts (IPv4; ARM's virtualNetworks/{n}/usages).
func (r *Region) VNetUsages(id arm.ID) ([]arm.VirtualNetworkUsage, error) {
	out := []arm.VirtualNetworkUsage{}
	err := r.view(func(tx *txn) error {
		v, err := existing[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, id)
		if err != nil {
			return err
		}
		for i := range v.Properties.Subnets {
			s := &v.Properties.Subnets[i]
			var limit, current float64
			used := usedPrivateIPs(tx, s.ID, "")
			for _, p := range subnetPrefixes(s) {
				if !p.Addr().Is4() {
					continue
				}
				if first, last := privateRange(p); !last.Less(first) {
					f, l := first.As4(), last.As4()
					limit += float64(binary.BigEndian.Uint32(l[:]) - binary.BigEndian.Uint32(f[:]) + 1)
				}
				for a := range used {
					if p.Contains(a) {
						current++
					}
				}
			}
			name := arm.UsageName{Value: "Subnet size and usage", LocalizedValue: "Subnet size and usage"}
			out = append(out, arm.VirtualNetworkUsage{ID: s.ID, Name: name, Unit: "Count", CurrentValue: current, Limit: limit})
		}
		return nil
	})
	return out, err
}

// freeAddrs returns up to n free assignable addresses of p, lowest first.
func freeAddrs(p netip.Prefix, used map[netip.Addr]string, n int) []string {
	out := []string{}
	first, last := privateRange(p)
	for a := first; a.IsValid() && !last.Less(a) && len(out) < n; a = a.Next() {
		if _, taken := used[a]; !taken {
			out = append(out, a.String())
		}
	}
	return out
}

// GatewayConnections lists the connections of gateway id, as a GET of each
// shows it (ARM's virtualNetworkGateways/{n}/connections).
func (r *Region) GatewayConnections(id arm.ID) ([]any, error) {
	out := []any{}
	err := r.view(func(tx *txn) error {
		if _, err := existing[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id); err != nil {
			return err
		}
		for _, c := range connectionsOf(tx, id) {
			out = append(out, renderConnection(tx, c))
		}
		return nil
	})
	return out, err
}
