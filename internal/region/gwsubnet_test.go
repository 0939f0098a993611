package region

import (
	"context"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// gatewaySubnet opens a region with resource group "rg" of sub in
// westeurope, and in it VNet "v" (10.1.0.0/16) whose GatewaySubnet is
// prefix; it returns the region and the GatewaySubnet's reference.
func gatewaySubnet(t *testing.T, sub, prefix string) (*Region, *arm.SubResource) {
	t.Helper()
	ctx, must := context.Background(), mustPut(t)
	reg, _ := openRegion(t, Config{})
	must(reg.PutGroup(ctx, arm.ResourceGroupID(sub, "rg"), &arm.ResourceGroup{Location: "westeurope"}))
	vnet := arm.NetworkID(sub, "rg", "virtualNetworks", "v")
	v := &arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.1.0.0/16"}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: prefix}}}
	must(reg.PutVirtualNetwork(ctx, vnet, v))
	return reg, arm.Ref(vnet.Child("subnets", "GatewaySubnet").String())
}

// vpnIPConfig puts public IP name in resource group "rg" of sub and
// returns a VPN gateway's IP configuration name in subnet with it.
func vpnIPConfig(t *testing.T, reg *Region, sub, name string, subnet *arm.SubResource) arm.VirtualNetworkGatewayIPConfiguration {
	t.Helper()
	pip := arm.NetworkID(sub, "rg", "publicIPAddresses", name)
	mustPut(t)(reg.PutPublicIP(context.Background(), pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}))
	return arm.VirtualNetworkGatewayIPConfiguration{Name: name, Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: subnet, PublicIPAddress: arm.Ref(pip.String())}}
}
