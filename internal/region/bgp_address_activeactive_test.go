package region

import (
	"context"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// TestActiveActiveBGPPeeringAddressNotAllocated: an active-active gateway
// made with custom BGP peering addresses that were free is made; the
// second instance's private address is not the first one's peering
// address, which would refuse the request for a clash vnetgw made. A
// custom APIPA address given to both instances is refused.
func TestActiveActiveBGPPeeringAddressNotAllocated(t *testing.T) {
	const sub, rg, loc = "eeeeeeee-0000-0000-0000-0000000000ba", "rg", "westeurope"
	ctx := context.Background()
	reg, subnet := gatewaySubnet(t, sub, "10.1.255.0/27")
	cfgs := []arm.VirtualNetworkGatewayIPConfiguration{vpnIPConfig(t, reg, sub, "ip1", subnet), vpnIPConfig(t, reg, sub, "ip2", subnet)}
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
	g.Properties.GatewayType, g.Properties.VPNType, g.Properties.SKU = arm.GatewayTypeVpn, arm.RouteBased, &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	g.Properties.ActiveActive, g.Properties.EnableBGP = true, true
	g.Properties.BGPSettings = &arm.BGPSettings{ASN: 65010, BGPPeeringAddress: "10.1.255.5,10.1.255.6"}
	g.Properties.IPConfigurations = cfgs
	id := arm.NetworkID(sub, rg, "virtualNetworkGateways", "gw")
	out, _, err := reg.PutGateway(ctx, id, g)
	if err != nil {
		t.Fatalf("active-active gateway peering from the free 10.1.255.5 and 10.1.255.6: %v", err)
	}
	c := out.Properties.IPConfigurations
	if a, b := c[0].Properties.PrivateIPAddress, c[1].Properties.PrivateIPAddress; a == "10.1.255.5" || b == "10.1.255.5" {
		t.Errorf("instances' addresses %s, %s: one is instance 0's peering address 10.1.255.5", a, b)
	}
	if got := out.Properties.BGPSettings.BGPPeeringAddress; got != "10.1.255.5,10.1.255.6" {
		t.Errorf("bgpPeeringAddress %q, want the given 10.1.255.5,10.1.255.6", got)
	}

	// One custom APIPA address at both instances is refused: each
	// instance's speaker listens at its own, and the VNet router would
	// send the sessions from that address to one of them.
	g.Properties.BGPSettings.BGPPeeringAddresses = []arm.IPConfigurationBGPPeering{
		{IPConfigurationID: "ip1", CustomBGPIPAddresses: []string{"169.254.21.1"}},
		{IPConfigurationID: "ip2", CustomBGPIPAddresses: []string{"169.254.21.2", "169.254.21.1"}}}
	if _, _, err := reg.PutGateway(ctx, id, g); err == nil || !strings.Contains(err.Error(), "169.254.21.1 is given to both instances") {
		t.Errorf("one custom APIPA address at both instances: %v; want refused, saying so", err)
	}
	g.Properties.BGPSettings.BGPPeeringAddresses[1].CustomBGPIPAddresses = []string{"169.254.21.2"}
	if _, _, err := reg.PutGateway(ctx, id, g); err != nil {
		t.Errorf("an APIPA address of its own at each instance: %v", err)
	}
}
