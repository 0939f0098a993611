package region

import (
	"encoding/binary"
	"net/netip"
	"slices"

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
				out.IsPlatformReserved = reservedPrivate(p, a) != ""
				out.Available = !taken && !out.IsPlatformReserved
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
// addresses it has for hosts (IPv4; ARM's virtualNetworks/{n}/usages), in
// the order of the subnets' keys, the part that page asks for, and the key
// of its last subnet when more follow.
func (r *Region) VNetUsages(id arm.ID, page Page) ([]arm.VirtualNetworkUsage, string, error) {
	out := []arm.VirtualNetworkUsage{}
	var next string
	err := r.view(func(tx *txn) error {
		v, err := existing[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, id)
		if err != nil {
			return err
		}
		byKey := map[string]*arm.Subnet{}
		var keys []string
		for i := range v.Properties.Subnets {
			s := &v.Properties.Subnets[i]
			k := id.Child("subnets", s.Name).Key()
			byKey[k] = s
			keys = append(keys, k)
		}
		slices.Sort(keys)
		keys, next = page.cut(keys)
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = byKey[k].ID
		}
		usedBy := usedPrivateIPsOf(tx, ids, "") // one pass for the page
		for _, k := range keys {
			s := byKey[k]
			var limit, current float64
			used := usedBy[subnetKey(s.ID)]
			for _, p := range subnetPrefixes(s) {
				if !p.Addr().Is4() {
					continue
				}
				if first, last, ok := privateRange(p); ok {
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
	return out, next, err
}

// freeAddrs returns up to n free assignable addresses of p, lowest first.
func freeAddrs(p netip.Prefix, used map[netip.Addr]string, n int) []string {
	out := []string{}
	first, last, ok := privateRange(p)
	for a := first; ok && a.IsValid() && !last.Less(a) && len(out) < n; a = a.Next() {
		if _, taken := used[a]; !taken {
			out = append(out, a.String())
		}
	}
	return out
}

// GatewayConnections lists the connections of gateway id, as a GET of each
// shows it (ARM's virtualNetworkGateways/{n}/connections), in the order of
// their keys, the part that page asks for, and the key of its last one
// when more follow.
func (r *Region) GatewayConnections(id arm.ID, page Page) ([]any, string, error) {
	out := []any{}
	var next string
	err := r.view(func(tx *txn) error {
		if _, err := existing[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id); err != nil {
			return err
		}
		var keys []string
		for _, k := range tx.keys(arm.TypeConnection) {
			if c, ok := tx.get(arm.TypeConnection, k).(*arm.Connection); ok && arm.Equal(c.Properties.VirtualNetworkGateway1.RefID(), id.String()) {
				keys = append(keys, k)
			}
		}
		keys, next = page.cut(keys)
		for _, k := range keys {
			out = append(out, renderConnection(tx, tx.get(arm.TypeConnection, k)))
		}
		return nil
	})
	return out, next, err
}
