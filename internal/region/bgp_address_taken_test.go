package region

import (
	"context"
	"errors"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// TestBGPPeeringAddressOfAnotherGateway: in a GatewaySubnet that an
// ExpressRoute gateway and a VPN gateway share, the VPN gateway's custom
// BGP peering address may not be the ExpressRoute gateway's private
// address: two gateways would have one address.
func TestBGPPeeringAddressOfAnotherGateway(t *testing.T) {
	const sub, rg, loc = "eeeeeeee-0000-0000-0000-0000000000b9", "rg", "westeurope"
	ctx := context.Background()
	reg, subnet := gatewaySubnet(t, sub, "10.1.255.0/27")

	er := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
	er.Properties.GatewayType, er.Properties.SKU = arm.GatewayTypeExpressRoute, &arm.VirtualNetworkGatewaySKU{Name: "Standard"}
	er.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: subnet}}}
	erGw, _, err := reg.PutGateway(ctx, arm.NetworkID(sub, rg, "virtualNetworkGateways", "er"), er)
	if err != nil {
		t.Fatal(err)
	}
	erAddr := erGw.Properties.IPConfigurations[0].Properties.PrivateIPAddress

	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
	g.Properties.GatewayType, g.Properties.VPNType, g.Properties.SKU = arm.GatewayTypeVpn, arm.RouteBased, &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	g.Properties.EnableBGP = true
	g.Properties.BGPSettings = &arm.BGPSettings{ASN: 65010, BGPPeeringAddress: erAddr}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{vpnIPConfig(t, reg, sub, "ip", subnet)}
	out, _, err := reg.PutGateway(ctx, arm.NetworkID(sub, rg, "virtualNetworkGateways", "vpn"), g)
	var ae *arm.Error
	if !errors.As(err, &ae) || ae.Code != arm.CodeBGPPeeringAddress {
		got := ""
		if out != nil && out.Properties.BGPSettings != nil {
			got = out.Properties.BGPSettings.BGPPeeringAddress
		}
		t.Fatalf("VPN gateway peering from %s, ExpressRoute gateway er's address: err %v (bgpPeeringAddress %q), want %s", erAddr, err, got, arm.CodeBGPPeeringAddress)
	}
}
