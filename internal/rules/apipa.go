package rules

import (
	"net/netip"
	"slices"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// APIPA is the link-local range of BGP addresses devices use across a
// tunnel (R41).
var APIPA = netip.MustParsePrefix("169.254.0.0/16")

// customAPIPA is where a gateway's custom APIPA BGP addresses may be, as
// in Azure: 169.254.21.0 to 169.254.22.255.
var customAPIPA = []netip.Prefix{netip.MustParsePrefix("169.254.21.0/24"), netip.MustParsePrefix("169.254.22.0/24")}

// CustomAPIPA reports whether a may be a gateway's custom APIPA BGP
// address.
func CustomAPIPA(a netip.Addr) bool {
	return slices.ContainsFunc(customAPIPA, func(p netip.Prefix) bool { return p.Contains(a) })
}

// CustomBGPAddresses returns the custom APIPA BGP addresses that b gives
// the gateway IP configuration ipconfigID (an instance).
func CustomBGPAddresses(b *arm.BGPSettings, ipconfigID string) []string {
	if b == nil {
		return nil
	}
	for _, pa := range b.BGPPeeringAddresses {
		if arm.Equal(pa.IPConfigurationID, ipconfigID) {
			return pa.CustomBGPIPAddresses
		}
	}
	return nil
}
