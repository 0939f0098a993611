package api

import (
	"context"
	"strings"
	"testing"

	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
)

// TestSDKGatewayReadOnlyFields: a gateway read through the Azure SDK has
// the read-only fields Azure fills in (VirtualNetworkGatewayGet in the
// 2024-05-01 REST API specs): each point-to-site root and revoked
// certificate its id (the gateway's, /vpnClientRootCertificates/{name} or
// /vpnClientRevokedCertificates/{name}) and the gateway's etag, and each
// entry of bgpSettings.bgpPeeringAddresses its IP configuration's public
// address in tunnelIpAddresses, the address the site's BGP peer reaches
// the instance by. Without them, SDK code that took a certificate's ID
// (to name it in a log, or to parse it with arm.ParseResourceID) found
// nil, and an active-active gateway's peering entries did not say which
// public address was whose.
func TestSDKGatewayReadOnlyFields(t *testing.T) {
	e := newEnv(t, envOptions{tls: true, pool: "127.205.0.0/24"})
	s := e.site(subA, "rg", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	pip2 := netPath(subA, "rg", "publicIPAddresses", "pip2")
	e.must("PUT", pip2, publicIP("westeurope", "Static"))
	ctx := context.Background()
	f, err := armnetwork.NewClientFactory(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	gws := f.NewVirtualNetworkGatewaysClient()
	ipconfig := func(name, pip string) *armnetwork.VirtualNetworkGatewayIPConfiguration {
		return &armnetwork.VirtualNetworkGatewayIPConfiguration{Name: to.Ptr(name), Properties: &armnetwork.VirtualNetworkGatewayIPConfigurationPropertiesFormat{
			Subnet: &armnetwork.SubResource{ID: to.Ptr(s.gwSubnet)}, PublicIPAddress: &armnetwork.SubResource{ID: to.Ptr(pip)}}}
	}
	p, err := gws.BeginCreateOrUpdate(ctx, "rg", "gw", armnetwork.VirtualNetworkGateway{Location: to.Ptr("westeurope"), Properties: &armnetwork.VirtualNetworkGatewayPropertiesFormat{
		GatewayType: to.Ptr(armnetwork.VirtualNetworkGatewayTypeVPN), VPNType: to.Ptr(armnetwork.VPNTypeRouteBased), Active: to.Ptr(true), EnableBgp: to.Ptr(true),
		SKU:              &armnetwork.VirtualNetworkGatewaySKU{Name: to.Ptr(armnetwork.VirtualNetworkGatewaySKUNameVPNGw1), Tier: to.Ptr(armnetwork.VirtualNetworkGatewaySKUTierVPNGw1)},
		IPConfigurations: []*armnetwork.VirtualNetworkGatewayIPConfiguration{ipconfig("ipconfig1", s.pip), ipconfig("ipconfig2", pip2)},
		VPNClientConfiguration: &armnetwork.VPNClientConfiguration{
			VPNClientAddressPool: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("172.31.0.0/24")}},
			VPNClientProtocols:   []*armnetwork.VPNClientProtocol{to.Ptr(armnetwork.VPNClientProtocolIkeV2)},
			VPNClientRootCertificates: []*armnetwork.VPNClientRootCertificate{{Name: to.Ptr("Root1"),
				// An id given is not kept: the gateway's is.
				ID:         to.Ptr(netPath(subA, "rg", "virtualNetworkGateways", "other") + "/vpnClientRootCertificates/x"),
				Properties: &armnetwork.VPNClientRootCertificatePropertiesFormat{PublicCertData: to.Ptr(testRootCert)}}},
			VPNClientRevokedCertificates: []*armnetwork.VPNClientRevokedCertificate{{Name: to.Ptr("lost-laptop"),
				Properties: &armnetwork.VPNClientRevokedCertificatePropertiesFormat{Thumbprint: to.Ptr("0123456789ABCDEF0123456789ABCDEF01234567")}}},
		},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	put, err := p.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gws.Get(ctx, "rg", "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	addrOf := map[string]string{}
	for _, pip := range []string{"pip", "pip2"} {
		r, err := f.NewPublicIPAddressesClient().Get(ctx, "rg", pip, nil)
		if err != nil || r.Properties.IPAddress == nil {
			t.Fatalf("public IP %s: %v", pip, err)
		}
		addrOf[strings.ToLower(*r.ID)] = *r.Properties.IPAddress
	}
	for _, c := range []struct {
		what string
		gw   armnetwork.VirtualNetworkGateway
	}{{"PUT", put.VirtualNetworkGateway}, {"GET", got.VirtualNetworkGateway}} {
		// sku.capacity: 0 for a gateway given none, as Azure's GET of a
		// VpnGw1 gateway shows (VirtualNetworkGatewayGet.json); it was absent.
		if sku := c.gw.Properties.SKU; sku == nil || sku.Capacity == nil || *sku.Capacity != 0 {
			t.Errorf("%s: sku.capacity absent or not 0, want 0", c.what)
		}
		vc := c.gw.Properties.VPNClientConfiguration
		if vc == nil || len(vc.VPNClientRootCertificates) != 1 || len(vc.VPNClientRevokedCertificates) != 1 {
			t.Fatalf("%s: the point-to-site configuration: %+v", c.what, vc)
		}
		type item struct {
			id, etag *string
			typ      string
			name     string
		}
		for _, it := range []item{
			{vc.VPNClientRootCertificates[0].ID, vc.VPNClientRootCertificates[0].Etag, "Microsoft.Network/virtualNetworkGateways/vpnClientRootCertificates", "Root1"},
			{vc.VPNClientRevokedCertificates[0].ID, vc.VPNClientRevokedCertificates[0].Etag, "Microsoft.Network/virtualNetworkGateways/vpnClientRevokedCertificates", "lost-laptop"},
		} {
			if it.id == nil {
				t.Errorf("%s: certificate %s has no id", c.what, it.name)
				continue
			}
			rid, err := azarm.ParseResourceID(*it.id)
			if err != nil || !strings.EqualFold(rid.ResourceType.String(), it.typ) || rid.Name != it.name || rid.Parent.Name != "gw" {
				t.Errorf("%s: certificate %s has id %s (%v); want one of type %s under gateway gw", c.what, it.name, *it.id, err, it.typ)
			}
			if it.etag == nil || c.gw.Etag == nil || *it.etag != *c.gw.Etag {
				t.Errorf("%s: certificate %s has etag %q; want the gateway's, %q", c.what, it.name, deref(it.etag), deref(c.gw.Etag))
			}
		}
		bgp := c.gw.Properties.BgpSettings
		if bgp == nil || len(bgp.BgpPeeringAddresses) != 2 {
			t.Fatalf("%s: bgpSettings %+v; want a peering entry per IP configuration", c.what, bgp)
		}
		for _, pa := range bgp.BgpPeeringAddresses {
			var pip string
			for _, ic := range c.gw.Properties.IPConfigurations {
				if pa.IPConfigurationID != nil && ic.ID != nil && strings.EqualFold(*ic.ID, *pa.IPConfigurationID) {
					pip = strings.ToLower(*ic.Properties.PublicIPAddress.ID)
				}
			}
			if pip == "" || len(pa.TunnelIPAddresses) != 1 || *pa.TunnelIPAddresses[0] != addrOf[pip] {
				var tunnel []string
				for _, a := range pa.TunnelIPAddresses {
					tunnel = append(tunnel, *a)
				}
				t.Errorf("%s: the peering entry of %s has tunnelIpAddresses %v; want its public IP's address, %s", c.what, deref(pa.IPConfigurationID), tunnel, addrOf[pip])
			}
		}
	}

	// What the SDK read goes back unchanged (a read-modify-write).
	p, err = gws.BeginCreateOrUpdate(ctx, "rg", "gw", got.VirtualNetworkGateway, nil)
	if err == nil {
		_, err = p.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Errorf("the gateway as read, written back: %v", err)
	}
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestSDKEffectiveRoutesPropagation: armnetwork's
// InterfacesClient.BeginGetEffectiveRouteTable reads
// disableBgpRoutePropagation on each route, as Azure's answer has it
// (the spec's EffectiveRoute, 2024-05-01; az network nic
// show-effective-route-table shows it on Default routes too): a user route from a
// table that does not propagate the gateways' routes says true, the
// VNet's own range false. The field was absent, and the SDK read nil.
func TestSDKEffectiveRoutesPropagation(t *testing.T) {
	e := newEnv(t, envOptions{tls: true, pool: "127.210.0.0/24"})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	rt := netPath(subA, "rg", "routeTables", "rt")
	e.must("PUT", rt, obj{"location": loc, "properties": obj{"disableBgpRoutePropagation": true,
		"routes": []obj{{"name": "branch", "properties": obj{"addressPrefix": "192.168.2.0/24", "nextHopType": "VirtualNetworkGateway"}}}}})
	e.must("PUT", s.vnet+"/subnets/isolated", obj{"properties": obj{"addressPrefix": "10.1.1.0/24", "routeTable": obj{"id": rt}}})
	e.must("PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, s.vnet+"/subnets/isolated", ""))
	ctx := context.Background()
	f, err := armnetwork.NewClientFactory(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.NewInterfacesClient().BeginGetEffectiveRouteTable(ctx, "rg", "n", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var user, vnet bool
	for _, r := range res.Value {
		if r.DisableBgpRoutePropagation == nil {
			t.Fatalf("route %s %s: no disableBgpRoutePropagation", deref((*string)(r.Source)), deref(r.AddressPrefix[0]))
		}
		switch {
		case r.Source != nil && *r.Source == armnetwork.EffectiveRouteSourceUser:
			user = true
			if !*r.DisableBgpRoutePropagation {
				t.Errorf("the user route of a table that does not propagate: disableBgpRoutePropagation false")
			}
		case len(r.AddressPrefix) == 1 && *r.AddressPrefix[0] == "10.1.0.0/16":
			vnet = true
			if *r.DisableBgpRoutePropagation {
				t.Errorf("the VNet's own range: disableBgpRoutePropagation true")
			}
		}
	}
	if !user || !vnet {
		t.Errorf("routes %d: user route %v, VNet range %v", len(res.Value), user, vnet)
	}
}
