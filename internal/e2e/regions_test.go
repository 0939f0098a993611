package e2e

import (
	"context"
	"errors"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

// region builds a VNet with a gateway in a serve process.
func buildRegion(t *testing.T, c *client.Client, sub, rg, location, space, gwSubnet, vpnType string) arm.ID {
	t.Helper()
	ctx := context.Background()
	must := func(_ client.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Put(ctx, arm.ResourceGroupID(sub, rg), arm.ResourceGroup{Location: location}, nil))
	vnet := arm.NetworkID(sub, rg, "virtualNetworks", "vnet")
	v := arm.VirtualNetwork{Resource: arm.Resource{Location: location}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{space}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: gwSubnet}}}
	must(c.Put(ctx, vnet, v, nil))
	pip := arm.NetworkID(sub, rg, "publicIPAddresses", "pip")
	must(c.Put(ctx, pip, arm.PublicIPAddress{Resource: arm.Resource{Location: location}}, nil))
	gw := arm.NetworkID(sub, rg, "virtualNetworkGateways", "gw")
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: location}}
	g.Properties.VPNType = vpnType
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	if vpnType == arm.PolicyBased {
		g.Properties.SKU.Name = "Basic"
	}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	must(c.Put(ctx, gw, g, nil))
	return gw
}

func vnet2vnet(location string, gw1, gw2 arm.ID) arm.Connection {
	conn := arm.Connection{Resource: arm.Resource{Location: location}}
	conn.Properties.ConnectionType = arm.ConnectionVnet2Vnet
	conn.Properties.VirtualNetworkGateway1 = arm.Ref(gw1.String())
	conn.Properties.VirtualNetworkGateway2 = arm.Ref(gw2.String())
	conn.Properties.SharedKey = "AcrossRegions42"
	return conn
}

// TestVnet2VnetAcrossServeProcesses connects gateways of two regions that
// run as two serve processes with their own state (R1, R2), and applies the
// rules to the remote gateway (R28, R29, R35).
func TestVnet2VnetAcrossServeProcesses(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startServe(t, dirA, "--public-ip-pool", "127.10.0.0/24", "--peer", dirB)
	b := startServe(t, dirB, "--public-ip-pool", "127.11.0.0/24", "--peer", dirA)
	ca, cb := a.client(), b.client()
	ctx := context.Background()
	gwA := buildRegion(t, ca, "aaaa0000-0000-0000-0000-00000000000a", "rg-we", "westeurope", "10.1.0.0/16", "10.1.255.0/27", arm.RouteBased)
	gwB := buildRegion(t, cb, "bbbb0000-0000-0000-0000-00000000000b", "rg-us", "eastus", "10.2.0.0/16", "10.2.255.0/27", arm.RouteBased)

	var out arm.Connection
	if _, err := ca.Put(ctx, arm.NetworkID("aaaa0000-0000-0000-0000-00000000000a", "rg-we", "connections", "we-to-us"), vnet2vnet("westeurope", gwA, gwB), &out); err != nil {
		t.Fatalf("VNet-to-VNet to a gateway in another serve: %v", err)
	}
	if !out.Properties.InterRegion && out.Properties.ConnectionStatus == "" {
		t.Logf("status not yet written: %+v", out.Properties)
	}
	if _, err := cb.Put(ctx, arm.NetworkID("bbbb0000-0000-0000-0000-00000000000b", "rg-us", "connections", "us-to-we"), vnet2vnet("eastus", gwB, gwA), nil); err != nil {
		t.Fatalf("and back: %v", err)
	}

	refuse := func(code string, c *client.Client, id arm.ID, body arm.Connection) {
		t.Helper()
		_, err := c.Put(ctx, id, body, nil)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("want %s, got %v", code, err)
		}
	}
	// A gateway that no region has.
	ghost := arm.NetworkID("bbbb0000-0000-0000-0000-00000000000b", "rg-us", "virtualNetworkGateways", "ghost")
	refuse("InvalidResourceReference", ca, arm.NetworkID("aaaa0000-0000-0000-0000-00000000000a", "rg-we", "connections", "to-ghost"), vnet2vnet("westeurope", gwA, ghost))
	// A policy-based gateway in the other region (R29).
	gwP := buildRegion(t, cb, "bbbb0000-0000-0000-0000-00000000000b", "rg-pb", "eastus", "10.3.0.0/16", "10.3.255.0/27", arm.PolicyBased)
	refuse("Vnet2VnetRequiresRouteBasedGateways", ca, arm.NetworkID("aaaa0000-0000-0000-0000-00000000000a", "rg-we", "connections", "to-pb"), vnet2vnet("westeurope", gwA, gwP))
	// A VNet in the other region that overlaps (R35).
	gwO := buildRegion(t, cb, "bbbb0000-0000-0000-0000-00000000000b", "rg-ov", "eastus", "10.1.0.0/16", "10.1.255.0/27", arm.RouteBased)
	refuse("AddressSpaceOverlap", ca, arm.NetworkID("aaaa0000-0000-0000-0000-00000000000a", "rg-we", "connections", "to-ov"), vnet2vnet("westeurope", gwA, gwO))
}
