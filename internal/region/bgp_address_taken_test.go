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
	ctx, must := context.Background(), mustPut(t)
	reg, _ := openRegion(t, Config{})
	must(reg.PutGroup(ctx, arm.ResourceGroupID(sub, rg), &arm.ResourceGroup{Location: loc}))
	vnet := arm.NetworkID(sub, rg, "virtualNetworks", "v")
	v := &arm.VirtualNetwork{Resource: arm.Resource{Location: loc}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.1.0.0/16"}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: "10.1.255.0/27"}}}
	must(reg.PutVirtualNetwork(ctx, vnet, v))
	subnet := arm.Ref(vnet.Child("subnets", "GatewaySubnet").String())

	er := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
	er.Properties.GatewayType, er.Properties.SKU = arm.GatewayTypeExpressRoute, &arm.VirtualNetworkGatewaySKU{Name: "Standard"}
	er.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: subnet}}}
	erGw, _, err := reg.PutGateway(ctx, arm.NetworkID(sub, rg, "virtualNetworkGateways", "er"), er)
	if err != nil {
		t.Fatal(err)
	}
	erAddr := erGw.Properties.IPConfigurations[0].Properties.PrivateIPAddress

	pip := arm.NetworkID(sub, rg, "publicIPAddresses", "pip")
	must(reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: loc}}))
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
	g.Properties.GatewayType, g.Properties.VPNType, g.Properties.SKU = arm.GatewayTypeVpn, arm.RouteBased, &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	g.Properties.EnableBGP = true
	g.Properties.BGPSettings = &arm.BGPSettings{ASN: 65010, BGPPeeringAddress: erAddr}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: subnet, PublicIPAddress: arm.Ref(pip.String())}}}
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
