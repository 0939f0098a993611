package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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
	ports := []string{"--ike-port", "15720", "--natt-port", "15721", "--sstp-port", "15743"}
	a := startServe(t, dirA, append([]string{"--public-ip-pool", "127.10.0.0/24", "--peer", dirB}, ports...)...)
	b := startServe(t, dirB, append([]string{"--public-ip-pool", "127.11.0.0/24", "--peer", dirA}, ports...)...)
	ca, cb := a.client(), b.client()
	ctx := context.Background()
	gwA := buildRegion(t, ca, "aaaa0000-0000-0000-0000-00000000000a", "rg-we", "westeurope", "10.1.0.0/16", "10.1.255.0/27", arm.RouteBased)
	gwB := buildRegion(t, cb, "bbbb0000-0000-0000-0000-00000000000b", "rg-us", "eastus", "10.2.0.0/16", "10.2.255.0/27", arm.RouteBased)

	var out arm.Connection
	if _, err := ca.Put(ctx, arm.NetworkID("aaaa0000-0000-0000-0000-00000000000a", "rg-we", "connections", "we-to-us"), vnet2vnet("westeurope", gwA, gwB), &out); err != nil {
		t.Fatalf("VNet-to-VNet to a gateway in another serve: %v", err)
	}
	if _, err := cb.Put(ctx, arm.NetworkID("bbbb0000-0000-0000-0000-00000000000b", "rg-us", "connections", "us-to-we"), vnet2vnet("eastus", gwB, gwA), nil); err != nil {
		t.Fatalf("and back: %v", err)
	}
	// The tunnel between the two processes comes up, its traffic marked
	// as crossing regions (R39).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := ca.Get(ctx, arm.NetworkID("aaaa0000-0000-0000-0000-00000000000a", "rg-we", "connections", "we-to-us"), &out); err == nil &&
			out.Properties.ConnectionStatus == "Connected" && out.Properties.InterRegion {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the VNet-to-VNet connection between two serve processes: %s, interRegion %v after 20 s\n%s", out.Properties.ConnectionStatus, out.Properties.InterRegion, a.log())
		}
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

// TestRemoteEndAcrossServeProcesses: only region A holds the VNet-to-VNet
// connection from its gateway to region B's (A to B, not back). B learns
// of it from its peer A and applies the rules as it would to a connection
// of its own: B's gateway is not deleted while A's connection ends at it
// (R1), and B's VNet does not change its address space to overlap what A's
// gateway joins (R35): A's VNet and A's site. A peer that cannot be asked
// blocks such changes rather than letting them through unchecked.
func TestRemoteEndAcrossServeProcesses(t *testing.T) {
	const subA, subB = "aaaa0000-0000-0000-0000-00000000000a", "bbbb0000-0000-0000-0000-00000000000b"
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startServe(t, dirA, "--public-ip-pool", "127.10.0.0/24", "--peer", dirB)
	b := startServe(t, dirB, "--public-ip-pool", "127.11.0.0/24", "--peer", dirA)
	ca, cb := a.client(), b.client()
	ctx := context.Background()
	gwA := buildRegion(t, ca, subA, "rg-we", "westeurope", "10.1.0.0/16", "10.1.255.0/27", arm.RouteBased)
	gwB := buildRegion(t, cb, subB, "rg-us", "eastus", "10.2.0.0/16", "10.2.255.0/27", arm.RouteBased)
	must := func(_ client.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A site at A's gateway: part of what A's gateway joins.
	site := arm.NetworkID(subA, "rg-we", "localNetworkGateways", "branch")
	l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	l.Properties.GatewayIPAddress = "127.0.0.70"
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"192.168.0.0/16"}}
	must(ca.Put(ctx, site, l, nil))
	s2s := arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	s2s.Properties.ConnectionType = arm.ConnectionIPsec
	s2s.Properties.VirtualNetworkGateway1, s2s.Properties.LocalNetworkGateway2 = arm.Ref(gwA.String()), arm.Ref(site.String())
	must(ca.Put(ctx, arm.NetworkID(subA, "rg-we", "connections", "to-branch"), s2s, nil))
	conn := arm.NetworkID(subA, "rg-we", "connections", "we-to-us")
	must(ca.Put(ctx, conn, vnet2vnet("westeurope", gwA, gwB), nil))

	vnetB := arm.NetworkID(subB, "rg-us", "virtualNetworks", "vnet")
	space := func(prefixes ...string) error {
		t.Helper()
		var v arm.VirtualNetwork
		if err := cb.Get(ctx, vnetB, &v); err != nil {
			t.Fatal(err)
		}
		v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: prefixes}
		_, err := cb.Put(ctx, vnetB, v, nil)
		return err
	}
	refused := func(code string, err error) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code != code {
			t.Fatalf("want %s, got %v", code, err)
		}
	}
	refused("AddressSpaceOverlap", space("10.2.0.0/16", "10.1.128.0/17"))  // A's VNet
	refused("AddressSpaceOverlap", space("10.2.0.0/16", "192.168.7.0/24")) // A's site
	if err := space("10.2.0.0/16", "10.20.0.0/16"); err != nil {
		t.Fatalf("a change that overlaps nothing: %v", err)
	}
	refused("InUseVirtualNetworkGatewayCannotBeDeleted", cb.Delete(ctx, gwB))
	refused("ResourceGroupDeletionBlocked", cb.Delete(ctx, arm.ResourceGroupID(subB, "rg-us")))
	if err := cb.Get(ctx, gwB, nil); err != nil {
		t.Fatalf("B's gateway is gone: %v", err)
	}

	// Without A's connection, B may do both; but not while A cannot be
	// asked.
	if err := ca.Delete(ctx, conn); err != nil {
		t.Fatal(err)
	}
	a.stop()
	err := space("10.2.0.0/16", "10.1.128.0/17")
	refused("AddressSpaceOverlap", err)
	if !strings.Contains(err.Error(), "could not be asked") {
		t.Fatalf("the refusal does not say the peer could not be asked: %v", err)
	}
	refused("InUseVirtualNetworkGatewayCannotBeDeleted", cb.Delete(ctx, gwB))
	startServe(t, dirA, "--public-ip-pool", "127.10.0.0/24", "--peer", dirB)
	if err := space("10.2.0.0/16", "10.1.128.0/17"); err != nil {
		t.Fatalf("after A's connection is gone: %v", err)
	}
	if err := cb.Delete(ctx, gwB); err != nil {
		t.Fatalf("deleting B's gateway after A's connection is gone: %v", err)
	}
}
