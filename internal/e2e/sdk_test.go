package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/vnetgw/vnetgw/internal/datadir"
)

// staticToken is a TokenCredential that hands out vnetgw's admin token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}

// sdkOptions points the Azure SDK at a vnetgw: its URL as the Resource
// Manager endpoint, its CA as the only trusted root. This is configuration
// of the unchanged SDK, as the README explains.
func sdkOptions(t *testing.T, s *serve) *azarm.ClientOptions {
	pem, err := os.ReadFile(filepath.Join(s.dataDir, datadir.CA))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &azarm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud: cloud.Configuration{
				ActiveDirectoryAuthorityHost: "https://login.vnetgw.invalid/",
				Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
					cloud.ResourceManager: {Endpoint: s.url, Audience: "https://management.vnetgw.invalid"},
				},
			},
			Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
		},
		DisableRPRegistration: true,
	}
}

const (
	sdkSubA = "aaaaaaaa-0000-0000-0000-000000000001"
	sdkSubB = "bbbbbbbb-0000-0000-0000-000000000002"
)

// sdkRegion is one side built through the SDK: a VNet with a GatewaySubnet,
// a public IP and a route-based gateway.
type sdkRegion struct {
	gateway armnetwork.VirtualNetworkGateway
	pip     armnetwork.PublicIPAddress
}

func buildWithSDK(t *testing.T, ctx context.Context, cred azcore.TokenCredential, opts *azarm.ClientOptions, sub, rg, location, space, gwSubnet string) sdkRegion {
	t.Helper()
	groups, err := armresources.NewResourceGroupsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr(location)}, nil); err != nil {
		t.Fatalf("create resource group: %v", err)
	}
	net, err := armnetwork.NewClientFactory(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	vp, err := net.NewVirtualNetworksClient().BeginCreateOrUpdate(ctx, rg, "vnet", armnetwork.VirtualNetwork{
		Location: to.Ptr(location),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr(space)}},
			Subnets: []*armnetwork.Subnet{{
				Name:       to.Ptr("GatewaySubnet"),
				Properties: &armnetwork.SubnetPropertiesFormat{AddressPrefix: to.Ptr(gwSubnet)},
			}},
		},
	}, nil)
	if err != nil {
		t.Fatalf("begin create VNet: %v", err)
	}
	vnet, err := vp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("create VNet: %v", err)
	}
	pp, err := net.NewPublicIPAddressesClient().BeginCreateOrUpdate(ctx, rg, "gw-pip", armnetwork.PublicIPAddress{
		Location:   to.Ptr(location),
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{PublicIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic)},
	}, nil)
	if err != nil {
		t.Fatalf("begin create public IP: %v", err)
	}
	pip, err := pp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("create public IP: %v", err)
	}
	if pip.Properties.IPAddress != nil {
		t.Fatalf("R20: a Dynamic public IP has address %s before its gateway exists", *pip.Properties.IPAddress)
	}
	gp, err := net.NewVirtualNetworkGatewaysClient().BeginCreateOrUpdate(ctx, rg, "gw", armnetwork.VirtualNetworkGateway{
		Location: to.Ptr(location),
		Properties: &armnetwork.VirtualNetworkGatewayPropertiesFormat{
			GatewayType: to.Ptr(armnetwork.VirtualNetworkGatewayTypeVPN),
			VPNType:     to.Ptr(armnetwork.VPNTypeRouteBased),
			SKU:         &armnetwork.VirtualNetworkGatewaySKU{Name: to.Ptr(armnetwork.VirtualNetworkGatewaySKUNameVPNGw2), Tier: to.Ptr(armnetwork.VirtualNetworkGatewaySKUTierVPNGw2)},
			IPConfigurations: []*armnetwork.VirtualNetworkGatewayIPConfiguration{{
				Name: to.Ptr("gwipconfig"),
				Properties: &armnetwork.VirtualNetworkGatewayIPConfigurationPropertiesFormat{
					Subnet:          &armnetwork.SubResource{ID: vnet.Properties.Subnets[0].ID},
					PublicIPAddress: &armnetwork.SubResource{ID: pip.ID},
				},
			}},
		},
	}, nil)
	if err != nil {
		t.Fatalf("begin create gateway: %v", err)
	}
	gw, err := gp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("create gateway: %v", err)
	}
	if *gw.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded {
		t.Fatalf("gateway provisioningState = %s", *gw.Properties.ProvisioningState)
	}
	got, err := net.NewPublicIPAddressesClient().Get(ctx, rg, "gw-pip", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Properties.IPAddress == nil {
		t.Fatal("R20: the gateway's public IP has no address after the gateway was created")
	}
	return sdkRegion{gateway: gw.VirtualNetworkGateway, pip: got.PublicIPAddress}
}

// TestAzureSDKDrivesVnetgw builds a site-to-site and a cross-subscription,
// cross-region VNet-to-VNet topology with the unchanged Azure SDK for Go
// (R1, R2, R21, R38).
func TestAzureSDKDrivesVnetgw(t *testing.T) {
	s := startServe(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cred, opts := staticToken(s.token()), sdkOptions(t, s)

	a := buildWithSDK(t, ctx, cred, opts, sdkSubA, "rg-we", "westeurope", "10.1.0.0/16", "10.1.255.0/27")
	b := buildWithSDK(t, ctx, cred, opts, sdkSubB, "rg-us", "eastus", "10.2.0.0/16", "10.2.255.0/27")
	if *a.pip.Properties.IPAddress == *b.pip.Properties.IPAddress {
		t.Fatalf("two gateways share public address %s", *a.pip.Properties.IPAddress)
	}

	netA, err := armnetwork.NewClientFactory(sdkSubA, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := netA.NewLocalNetworkGatewaysClient().BeginCreateOrUpdate(ctx, "rg-we", "onprem", armnetwork.LocalNetworkGateway{
		Location: to.Ptr("westeurope"),
		Properties: &armnetwork.LocalNetworkGatewayPropertiesFormat{
			GatewayIPAddress:         to.Ptr("198.51.100.7"),
			LocalNetworkAddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("192.168.0.0/16")}},
		},
	}, nil)
	if err != nil {
		t.Fatalf("begin create local network gateway: %v", err)
	}
	lng, err := lp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("create local network gateway: %v", err)
	}

	conns := netA.NewVirtualNetworkGatewayConnectionsClient()
	cp, err := conns.BeginCreateOrUpdate(ctx, "rg-we", "to-onprem", armnetwork.VirtualNetworkGatewayConnection{
		Location: to.Ptr("westeurope"),
		Properties: &armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat{
			ConnectionType:         to.Ptr(armnetwork.VirtualNetworkGatewayConnectionTypeIPsec),
			VirtualNetworkGateway1: &a.gateway,
			LocalNetworkGateway2:   &lng.LocalNetworkGateway,
			ConnectionProtocol:     to.Ptr(armnetwork.VirtualNetworkGatewayConnectionProtocolIKEv2),
		},
	}, nil)
	if err != nil {
		t.Fatalf("begin create IPsec connection: %v", err)
	}
	if _, err := cp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("create IPsec connection: %v", err)
	}

	// VPN NAT through the SDK's NAT rules client: the site's range as the
	// VNet sees it, named by the connection.
	nats := netA.NewVirtualNetworkGatewayNatRulesClient()
	for name, external := range map[string]string{"onprem": "172.20.0.0/16", "spare": "172.21.0.0/16"} {
		np, err := nats.BeginCreateOrUpdate(ctx, "rg-we", *a.gateway.Name, name, armnetwork.VirtualNetworkGatewayNatRule{
			Properties: &armnetwork.VirtualNetworkGatewayNatRuleProperties{
				Type: to.Ptr(armnetwork.VPNNatRuleTypeStatic), Mode: to.Ptr(armnetwork.VPNNatRuleModeIngressSnat),
				InternalMappings: []*armnetwork.VPNNatRuleMapping{{AddressSpace: to.Ptr("192.168.0.0/16")}},
				ExternalMappings: []*armnetwork.VPNNatRuleMapping{{AddressSpace: to.Ptr(external)}},
			}}, nil)
		if err != nil {
			t.Fatalf("begin create NAT rule: %v", err)
		}
		if _, err := np.PollUntilDone(ctx, nil); err != nil {
			t.Fatalf("create NAT rule: %v", err)
		}
	}
	rule, err := nats.Get(ctx, "rg-we", *a.gateway.Name, "onprem", nil)
	if err != nil || *rule.Properties.ExternalMappings[0].AddressSpace != "172.20.0.0/16" {
		t.Fatalf("get NAT rule: %v", err)
	}
	var ruleNames []string
	for pager := nats.NewListByVirtualNetworkGatewayPager("rg-we", *a.gateway.Name, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list NAT rules: %v", err)
		}
		for _, r := range page.Value {
			ruleNames = append(ruleNames, *r.Name)
		}
	}
	if slices.Sort(ruleNames); !slices.Equal(ruleNames, []string{"onprem", "spare"}) {
		t.Fatalf("NAT rules: %v", ruleNames)
	}
	dnp, err := nats.BeginDelete(ctx, "rg-we", *a.gateway.Name, "spare", nil)
	if err != nil {
		t.Fatalf("begin delete NAT rule: %v", err)
	}
	if _, err := dnp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("delete NAT rule: %v", err)
	}
	cp, err = conns.BeginCreateOrUpdate(ctx, "rg-we", "to-onprem", armnetwork.VirtualNetworkGatewayConnection{
		Location: to.Ptr("westeurope"),
		Properties: &armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat{
			ConnectionType:         to.Ptr(armnetwork.VirtualNetworkGatewayConnectionTypeIPsec),
			VirtualNetworkGateway1: &a.gateway,
			LocalNetworkGateway2:   &lng.LocalNetworkGateway,
			IngressNatRules:        []*armnetwork.SubResource{{ID: rule.ID}},
		},
	}, nil)
	if err != nil {
		t.Fatalf("begin update the IPsec connection with a NAT rule: %v", err)
	}
	if withNAT, err := cp.PollUntilDone(ctx, nil); err != nil || len(withNAT.Properties.IngressNatRules) != 1 {
		t.Fatalf("update the IPsec connection with a NAT rule: %v", err)
	}

	// VNet-to-VNet to a gateway in another subscription and region (R1, R2),
	// with a key set by the user on both sides.
	vp, err := conns.BeginCreateOrUpdate(ctx, "rg-we", "we-to-us", armnetwork.VirtualNetworkGatewayConnection{
		Location: to.Ptr("westeurope"),
		Properties: &armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat{
			ConnectionType:         to.Ptr(armnetwork.VirtualNetworkGatewayConnectionTypeVnet2Vnet),
			VirtualNetworkGateway1: &a.gateway,
			VirtualNetworkGateway2: &b.gateway,
			SharedKey:              to.Ptr("SharedBetweenRegions1"),
		},
	}, nil)
	if err != nil {
		t.Fatalf("begin create Vnet2Vnet connection: %v", err)
	}
	v2v, err := vp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("create Vnet2Vnet connection: %v", err)
	}
	if *v2v.Properties.ConnectionType != armnetwork.VirtualNetworkGatewayConnectionTypeVnet2Vnet || *v2v.Properties.VirtualNetworkGateway2.ID != *b.gateway.ID {
		t.Fatalf("Vnet2Vnet connection came back as %+v", v2v.Properties)
	}
	netB, err := armnetwork.NewClientFactory(sdkSubB, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := netB.NewVirtualNetworkGatewayConnectionsClient().BeginCreateOrUpdate(ctx, "rg-us", "us-to-we", armnetwork.VirtualNetworkGatewayConnection{
		Location: to.Ptr("eastus"),
		Properties: &armnetwork.VirtualNetworkGatewayConnectionPropertiesFormat{
			ConnectionType:         to.Ptr(armnetwork.VirtualNetworkGatewayConnectionTypeVnet2Vnet),
			VirtualNetworkGateway1: &b.gateway,
			VirtualNetworkGateway2: &a.gateway,
			SharedKey:              to.Ptr("SharedBetweenRegions1"),
		},
	}, nil)
	if err != nil {
		t.Fatalf("begin create the way back: %v", err)
	}
	if _, err := bp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("create the way back: %v", err)
	}

	// Shared keys: read the generated one, set one, reset.
	key, err := conns.GetSharedKey(ctx, "rg-we", "to-onprem", nil)
	if err != nil {
		t.Fatalf("get shared key: %v", err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(*key.Value) {
		t.Fatalf("R21: generated key %q is not 32 letters and digits", *key.Value)
	}
	if k, err := conns.GetSharedKey(ctx, "rg-we", "we-to-us", nil); err != nil || *k.Value != "SharedBetweenRegions1" {
		t.Fatalf("Vnet2Vnet key = %v, %v", k.Value, err)
	}
	sp, err := conns.BeginSetSharedKey(ctx, "rg-we", "to-onprem", armnetwork.ConnectionSharedKey{Value: to.Ptr("NewKey42")}, nil)
	if err != nil {
		t.Fatalf("begin set shared key: %v", err)
	}
	if _, err := sp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("set shared key: %v", err)
	}
	if k, _ := conns.GetSharedKey(ctx, "rg-we", "to-onprem", nil); *k.Value != "NewKey42" {
		t.Fatalf("after set, key = %q", *k.Value)
	}
	rp, err := conns.BeginResetSharedKey(ctx, "rg-we", "to-onprem", armnetwork.ConnectionResetSharedKey{KeyLength: to.Ptr[int32](48)}, nil)
	if err != nil {
		t.Fatalf("begin reset shared key: %v", err)
	}
	reset, err := rp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("reset shared key: %v", err)
	}
	if reset.KeyLength == nil || *reset.KeyLength != 48 {
		t.Fatalf("reset answered %+v", reset)
	}
	if k, _ := conns.GetSharedKey(ctx, "rg-we", "to-onprem", nil); len(*k.Value) != 48 || *k.Value == "NewKey42" {
		t.Fatalf("after reset, key = %q", *k.Value)
	}
	if _, err := conns.BeginSetSharedKey(ctx, "rg-we", "to-onprem", armnetwork.ConnectionSharedKey{Value: to.Ptr("no spaces allowed")}, nil); err == nil {
		t.Fatal("R38: a key with spaces was accepted")
	} else if re, ok := err.(*azcore.ResponseError); !ok || re.StatusCode != 400 || re.ErrorCode != "InvalidSharedKey" {
		t.Fatalf("R38: bad key gave %v", err)
	}

	// Reads through pagers, as a user of the SDK lists.
	pager := conns.NewListPager("rg-we", nil)
	var names []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list connections: %v", err)
		}
		for _, c := range page.Value {
			names = append(names, *c.Name)
		}
	}
	if len(names) != 2 {
		t.Fatalf("listed connections %v, want to-onprem and we-to-us", names)
	}
	gws := netA.NewVirtualNetworkGatewaysClient()
	gw, err := gws.Get(ctx, "rg-we", "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *gw.Properties.BgpSettings.Asn != 65515 {
		t.Fatalf("gateway ASN = %d", *gw.Properties.BgpSettings.Asn)
	}
	// BGP switched on in place (R41): the gateway's speaker originates its
	// VNet's range, as the SDK's pollers read it.
	gw.Properties.EnableBgp = to.Ptr(true)
	gwp, err := gws.BeginCreateOrUpdate(ctx, "rg-we", "gw", gw.VirtualNetworkGateway, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gwp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("enable BGP: %v", err)
	}
	// The data plane starts the speaker right after the change.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		lrp, err := gws.BeginGetLearnedRoutes(ctx, "rg-we", "gw", nil)
		if err != nil {
			t.Fatal(err)
		}
		learned, err := lrp.PollUntilDone(ctx, nil)
		if err == nil && slices.ContainsFunc(learned.Value, func(r *armnetwork.GatewayRoute) bool {
			return *r.Network == "10.1.0.0/16" && *r.Origin == "Network" && *r.LocalAddress == *gw.Properties.BgpSettings.BgpPeeringAddress
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("learned routes: %s, %v", mustJSON(learned.Value), err)
		}
	}
	psp, err := gws.BeginGetBgpPeerStatus(ctx, "rg-we", "gw", nil)
	if err != nil {
		t.Fatal(err)
	}
	if peers, err := psp.PollUntilDone(ctx, nil); err != nil || peers.Value == nil {
		t.Fatalf("BGP peer status: %+v, %v", peers, err)
	}
	// The routes advertised to a stranger are refused, naming it.
	if _, err := gws.BeginGetAdvertisedRoutes(ctx, "rg-we", "gw", "192.168.0.1", nil); err == nil {
		t.Fatal("routes advertised to a stranger: no error")
	} else if re, ok := err.(*azcore.ResponseError); !ok || re.StatusCode != 400 || re.ErrorCode != "InvalidParameter" || !strings.Contains(err.Error(), "192.168.0.1") {
		t.Fatalf("routes advertised to a stranger: %v", err)
	}

	// Ending point-to-site connections, as the SDK asks it: none is
	// connected here, and ids of clients that are gone are no error.
	disc, err := gws.BeginDisconnectVirtualNetworkGatewayVPNConnections(ctx, "rg-we", "gw",
		armnetwork.P2SVPNConnectionRequest{VPNConnectionIDs: []*string{to.Ptr("SSTP_172.16.201.2")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := disc.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("disconnect VPN connections: %v", err)
	}

	// A route table (R26), as the SDK makes and lists it.
	rts := netA.NewRouteTablesClient()
	rtp, err := rts.BeginCreateOrUpdate(ctx, "rg-we", "to-nva", armnetwork.RouteTable{Location: to.Ptr("westeurope"),
		Properties: &armnetwork.RouteTablePropertiesFormat{Routes: []*armnetwork.Route{{Name: to.Ptr("nva"), Properties: &armnetwork.RoutePropertiesFormat{
			AddressPrefix: to.Ptr("10.9.0.0/16"), NextHopType: to.Ptr(armnetwork.RouteNextHopTypeVirtualAppliance), NextHopIPAddress: to.Ptr("10.1.0.10")}}}}}, nil)
	if err != nil {
		t.Fatalf("begin create route table: %v", err)
	}
	if rt, err := rtp.PollUntilDone(ctx, nil); err != nil || len(rt.Properties.Routes) != 1 || *rt.Properties.Routes[0].Properties.NextHopIPAddress != "10.1.0.10" {
		t.Fatalf("create route table: %+v, %v", rt, err)
	}
	tables := 0
	for tp := rts.NewListPager("rg-we", nil); tp.More(); {
		page, err := tp.NextPage(ctx)
		if err != nil {
			t.Fatalf("list route tables: %v", err)
		}
		tables += len(page.Value)
	}
	if tables != 1 {
		t.Fatalf("%d route tables listed, want 1", tables)
	}
	// Its routes as child resources (the SDK's RoutesClient): one added,
	// read, listed with the other, deleted; the table follows.
	routes := netA.NewRoutesClient()
	routePoller, err := routes.BeginCreateOrUpdate(ctx, "rg-we", "to-nva", "drop-lab", armnetwork.Route{Properties: &armnetwork.RoutePropertiesFormat{
		AddressPrefix: to.Ptr("10.66.0.0/16"), NextHopType: to.Ptr(armnetwork.RouteNextHopTypeNone)}}, nil)
	if err != nil {
		t.Fatalf("begin create route: %v", err)
	}
	if r, err := routePoller.PollUntilDone(ctx, nil); err != nil || r.ID == nil || !strings.HasSuffix(*r.ID, "/routeTables/to-nva/routes/drop-lab") || *r.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded {
		t.Fatalf("create route: %s, %v", mustJSON(r), err)
	}
	if r, err := routes.Get(ctx, "rg-we", "to-nva", "nva", nil); err != nil || *r.Properties.NextHopIPAddress != "10.1.0.10" {
		t.Fatalf("get route: %s, %v", mustJSON(r), err)
	}
	var routeNames []string
	for pg := routes.NewListPager("rg-we", "to-nva", nil); pg.More(); {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatalf("list routes: %v", err)
		}
		for _, r := range page.Value {
			routeNames = append(routeNames, *r.Name)
		}
	}
	if slices.Sort(routeNames); !slices.Equal(routeNames, []string{"drop-lab", "nva"}) {
		t.Fatalf("routes listed: %v", routeNames)
	}
	routeDel, err := routes.BeginDelete(ctx, "rg-we", "to-nva", "nva", nil)
	if err != nil {
		t.Fatalf("begin delete route: %v", err)
	}
	if _, err := routeDel.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("delete route: %v", err)
	}
	if rt, err := rts.Get(ctx, "rg-we", "to-nva", nil); err != nil || len(rt.Properties.Routes) != 1 || *rt.Properties.Routes[0].Name != "drop-lab" {
		t.Fatalf("the table after the route went: %s, %v", mustJSON(rt), err)
	}

	// The reads below a VNet and a gateway, through the SDK's pagers.
	vnets := netA.NewVirtualNetworksClient()
	avail, err := vnets.CheckIPAddressAvailability(ctx, "rg-we", "vnet", "10.1.255.4", nil)
	if err != nil || avail.Available == nil || *avail.Available || len(avail.AvailableIPAddresses) == 0 {
		t.Fatalf("CheckIPAddressAvailability of the gateway's address: %+v, %v", avail.IPAddressAvailabilityResult, err)
	}
	usages := 0
	for up := vnets.NewListUsagePager("rg-we", "vnet", nil); up.More(); {
		page, err := up.NextPage(ctx)
		if err != nil {
			t.Fatalf("list usages: %v", err)
		}
		for _, u := range page.Value {
			if u.CurrentValue == nil || u.Limit == nil || *u.Limit < *u.CurrentValue {
				t.Fatalf("usage %+v", u)
			}
			usages++
		}
	}
	if usages != 1 {
		t.Fatalf("%d usages, want one per subnet (GatewaySubnet)", usages)
	}
	var gwConns []string
	for cp := gws.NewListConnectionsPager("rg-we", "gw", nil); cp.More(); {
		page, err := cp.NextPage(ctx)
		if err != nil {
			t.Fatalf("list the gateway's connections: %v", err)
		}
		for _, c := range page.Value {
			gwConns = append(gwConns, *c.Name)
		}
	}
	if slices.Sort(gwConns); !slices.Equal(gwConns, []string{"to-onprem", "we-to-us"}) {
		t.Fatalf("the gateway's connections: %v", gwConns)
	}

	// Diagnosis and repair through the SDK's pollers: the IKE SAs (a JSON
	// string holding an array), a connection reset and a gateway reset.
	ip, err := conns.BeginGetIkeSas(ctx, "rg-we", "to-onprem", nil)
	if err != nil {
		t.Fatalf("begin get IKE SAs: %v", err)
	}
	ikeSAs, err := ip.PollUntilDone(ctx, nil)
	var list []map[string]any
	if err != nil || ikeSAs.Value == nil || json.Unmarshal([]byte(*ikeSAs.Value), &list) != nil {
		t.Fatalf("get IKE SAs: %v, %v", ikeSAs.Value, err)
	}
	rcp, err := conns.BeginResetConnection(ctx, "rg-we", "to-onprem", nil)
	if err != nil {
		t.Fatalf("begin reset connection: %v", err)
	}
	if _, err := rcp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("reset connection: %v", err)
	}
	rgp, err := gws.BeginReset(ctx, "rg-we", "gw", nil)
	if err != nil {
		t.Fatalf("begin reset gateway: %v", err)
	}
	if reset, err := rgp.PollUntilDone(ctx, nil); err != nil || reset.Name == nil || *reset.Name != "gw" {
		t.Fatalf("reset gateway: %+v, %v", reset, err)
	}

	// A packet capture through the SDK's pollers; the gateway runs (on
	// IKE port 500) only as root.
	if os.Geteuid() == 0 {
		sp, err := gws.BeginStartPacketCapture(ctx, "rg-we", "gw", &armnetwork.VirtualNetworkGatewaysClientBeginStartPacketCaptureOptions{
			Parameters: &armnetwork.VPNPacketCaptureStartParameters{FilterData: to.Ptr(`{"Filters":[{"Protocol":[1]}]}`)}})
		if err != nil {
			t.Fatalf("begin start packet capture: %v", err)
		}
		if _, err := sp.PollUntilDone(ctx, nil); err != nil {
			t.Fatalf("start packet capture: %v", err)
		}
		stp, err := gws.BeginStopPacketCapture(ctx, "rg-we", "gw", armnetwork.VPNPacketCaptureStopParameters{}, nil)
		if err != nil {
			t.Fatalf("begin stop packet capture: %v", err)
		}
		if stopped, err := stp.PollUntilDone(ctx, nil); err != nil || stopped.Value == nil || !strings.Contains(*stopped.Value, "/packetcapture/") {
			t.Fatalf("stop packet capture: %v, %v", stopped.Value, err)
		}
	} else {
		t.Log("not root: the gateway does not run on port 500, so no packet capture")
	}

	// The on-premises device's configuration, as the SDK asks for it.
	devices, err := gws.SupportedVPNDevices(ctx, "rg-we", "gw", nil)
	if err != nil || devices.Value == nil || !strings.Contains(*devices.Value, `<Vendor name="strongSwan">`) {
		t.Fatalf("supported VPN devices: %v, %v", devices.Value, err)
	}
	script, err := gws.VPNDeviceConfigurationScript(ctx, "rg-we", "to-onprem", armnetwork.VPNDeviceScriptParameters{
		Vendor: to.Ptr("strongSwan"), DeviceFamily: to.Ptr("swanctl"), FirmwareVersion: to.Ptr("5.9")}, nil)
	if err != nil {
		t.Fatalf("VPN device configuration script: %v", err)
	}
	if k, _ := conns.GetSharedKey(ctx, "rg-we", "to-onprem", nil); script.Value == nil || !strings.Contains(*script.Value, `secret = "`+*k.Value+`"`) {
		t.Fatalf("the device configuration lacks the connection's key:\n%v", script.Value)
	}

	// Deleting through the SDK's pollers.
	dp, err := conns.BeginDelete(ctx, "rg-we", "to-onprem", nil)
	if err != nil {
		t.Fatalf("begin delete connection: %v", err)
	}
	if _, err := dp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("delete connection: %v", err)
	}
	if _, err := conns.Get(ctx, "rg-we", "to-onprem", nil); err == nil {
		t.Fatal("the deleted connection is still there")
	} else if re, ok := err.(*azcore.ResponseError); !ok || re.StatusCode != 404 {
		t.Fatalf("GET of a deleted connection: %v", err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
