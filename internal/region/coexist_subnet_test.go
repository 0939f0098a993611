package region

import (
	"context"
	"errors"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// TestCoexistenceNeedsA27GatewaySubnet: an ExpressRoute gateway and a VPN
// gateway coexist in one VNet (R6, R40) only in a GatewaySubnet of /27 or
// larger, as Azure documents for ExpressRoute/site-to-site coexistence
// ("The gateway subnet must be /27 or a shorter prefix"); a /28 or /29,
// enough for one gateway (R23), is refused with GatewaySubnetTooSmall for
// the second, whichever comes second. In a /27 both are made.
func TestCoexistenceNeedsA27GatewaySubnet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prefix  string
		erFirst bool
		refused bool
	}{
		{"VPN then ExpressRoute in a /28", "10.1.255.0/28", false, true},
		{"ExpressRoute then VPN in a /28", "10.1.255.0/28", true, true},
		{"VPN then ExpressRoute in a /29", "10.1.255.0/29", false, true},
		{"VPN then ExpressRoute in a /27", "10.1.255.0/27", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const sub, rg, loc = "eeeeeeee-0000-0000-0000-0000000000c7", "rg", "westeurope"
			ctx := context.Background()
			reg, subnet := gatewaySubnet(t, sub, tc.prefix)
			vpn := func() error {
				g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
				g.Properties.GatewayType, g.Properties.VPNType, g.Properties.SKU = arm.GatewayTypeVpn, arm.RouteBased, &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
				g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{vpnIPConfig(t, reg, sub, "ip", subnet)}
				_, _, err := reg.PutGateway(ctx, arm.NetworkID(sub, rg, "virtualNetworkGateways", "vpn"), g)
				return err
			}
			er := func() error {
				g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
				g.Properties.GatewayType, g.Properties.SKU = arm.GatewayTypeExpressRoute, &arm.VirtualNetworkGatewaySKU{Name: "Standard"}
				g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: subnet}}}
				_, _, err := reg.PutGateway(ctx, arm.NetworkID(sub, rg, "virtualNetworkGateways", "er"), g)
				return err
			}
			first, second := vpn, er
			if tc.erFirst {
				first, second = er, vpn
			}
			if err := first(); err != nil {
				t.Fatalf("the first gateway, alone in the GatewaySubnet %s: %v", tc.prefix, err)
			}
			err := second()
			if !tc.refused {
				if err != nil {
					t.Fatalf("the second gateway in a GatewaySubnet %s: %v", tc.prefix, err)
				}
				return
			}
			var ae *arm.Error
			if !errors.As(err, &ae) || ae.Code != arm.CodeGatewaySubnetTooSmall {
				t.Fatalf("ExpressRoute and VPN gateways together in a GatewaySubnet %s: %v, want %s", tc.prefix, err, arm.CodeGatewaySubnetTooSmall)
			}
		})
	}
}
