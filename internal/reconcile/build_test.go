package reconcile

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestCustomPolicyProposals: Azure's custom IPsec/IKE policies become
// proposals that the IKE engine takes, with the algorithms they name.
func TestCustomPolicyProposals(t *testing.T) {
	for _, tc := range []struct {
		pol      arm.IPsecPolicy
		ike, esp string
	}{
		{arm.IPsecPolicy{IKEEncryption: "AES256", IKEIntegrity: "SHA256", DHGroup: "DHGroup14", IPsecEncryption: "AES256", IPsecIntegrity: "SHA256", PFSGroup: "None"},
			"aes256-sha256-modp2048", "aes256-sha256"},
		{arm.IPsecPolicy{IKEEncryption: "GCMAES256", IKEIntegrity: "GCMAES256", DHGroup: "ECP256", IPsecEncryption: "GCMAES256", IPsecIntegrity: "GCMAES256", PFSGroup: "ECP256"},
			"aes256gcm16-prfsha256-ecp256", "aes256gcm16-ecp256"},
		{arm.IPsecPolicy{IKEEncryption: "GCMAES128", IKEIntegrity: "SHA384", DHGroup: "ECP384", IPsecEncryption: "GCMAES128", IPsecIntegrity: "GCMAES128", PFSGroup: "PFS2048"},
			"aes128gcm16-prfsha384-ecp384", "aes128gcm16-modp2048"},
		{arm.IPsecPolicy{IKEEncryption: "AES128", IKEIntegrity: "SHA1", DHGroup: "DHGroup24", IPsecEncryption: "AES192", IPsecIntegrity: "SHA1", PFSGroup: "PFS24"},
			"aes128-sha1-modp2048s256", "aes192-sha1-modp2048s256"},
		// PFSMM: the child SAs' PFS group is the IKE SA's (Windows'
		// IPSEC_PFS_MM), whichever that is.
		{arm.IPsecPolicy{IKEEncryption: "AES256", IKEIntegrity: "SHA384", DHGroup: "ECP384", IPsecEncryption: "GCMAES256", IPsecIntegrity: "GCMAES256", PFSGroup: "PFSMM"},
			"aes256-sha384-ecp384", "aes256gcm16-ecp384"},
		{arm.IPsecPolicy{IKEEncryption: "AES256", IKEIntegrity: "SHA256", DHGroup: "DHGroup2", IPsecEncryption: "AES256", IPsecIntegrity: "SHA256", PFSGroup: "PFSMM"},
			"aes256-sha256-modp1024", "aes256-sha256-modp1024"},
	} {
		ike, esp := IKEProposal(tc.pol), ESPProposal(tc.pol)
		if ike != tc.ike || esp != tc.esp {
			t.Errorf("%+v: %q and %q, want %q and %q", tc.pol, ike, esp, tc.ike, tc.esp)
		}
		if _, err := suite.ParseProposal(wire.ProtocolIKE, ike); err != nil {
			t.Errorf("IKE proposal %q: %v", ike, err)
		}
		if _, err := suite.ParseProposal(wire.ProtocolESP, esp); err != nil {
			t.Errorf("ESP proposal %q: %v", esp, err)
		}
	}
}

// gatewayRegion opens a region with a resource group "aa" and returns
// what makes a VNet with a gateway in it (two instances when active, BGP
// with an AS when asn > 0) and what fails the test on an error.
func gatewayRegion(t *testing.T) (*region.Region, func(name, space string, active bool, asn ...int64) arm.ID, func(any, region.Outcome, error)) {
	return gatewayRegionWith(t, nil)
}

// gatewayRegionWith is gatewayRegion with the peer regions remotes.
func gatewayRegionWith(t *testing.T, remotes region.Remotes) (*region.Region, func(name, space string, active bool, asn ...int64) arm.ID, func(any, region.Outcome, error)) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pool, _ := region.ParsePool("127.10.0.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool, Remotes: remotes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ctx := context.Background()
	must := func(_ any, _ region.Outcome, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.PutGroup(ctx, arm.ResourceGroupID(sub, "aa"), &arm.ResourceGroup{Location: "westeurope"}))
	gateway := func(name, space string, active bool, asn ...int64) arm.ID {
		v := arm.NetworkID(sub, "aa", "virtualNetworks", name)
		vn := &arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
		vn.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{space}}
		vn.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0.0/16", ".255.0/27", 1)}}}
		must(reg.PutVirtualNetwork(ctx, v, vn))
		id := arm.NetworkID(sub, "aa", "virtualNetworkGateways", name+"-gw")
		g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
		g.Properties.GatewayType, g.Properties.VPNType, g.Properties.ActiveActive = arm.GatewayTypeVpn, arm.RouteBased, active
		g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw2"}
		if len(asn) > 0 {
			g.Properties.EnableBGP, g.Properties.BGPSettings = true, &arm.BGPSettings{ASN: asn[0]}
		}
		n := 1
		if active {
			n = 2
		}
		for i := range n {
			pip := arm.NetworkID(sub, "aa", "publicIPAddresses", fmt.Sprintf("%s-ip%d", name, i))
			must(reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}))
			g.Properties.IPConfigurations = append(g.Properties.IPConfigurations, arm.VirtualNetworkGatewayIPConfiguration{Name: fmt.Sprintf("ip%d", i),
				Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(v.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}})
		}
		must(reg.PutGateway(ctx, id, g))
		return id
	}
	return reg, gateway, must
}

// TestBuildActiveActive: an active-active gateway becomes two instances,
// each on its own public address; both run the site-to-site connections,
// and VNet-to-VNet connections to or from it are a full mesh: each
// instance has a tunnel to each instance of the other gateway, the one
// to the instance of its own index (or the first) carrying the traffic
// and the others standing by.
func TestBuildActiveActive(t *testing.T) {
	reg, gateway, must := gatewayRegion(t)
	ctx := context.Background()
	aa, other := gateway("hub", "10.1.0.0/16", true), gateway("spoke", "10.2.0.0/16", false)
	lgw := arm.NetworkID(sub, "aa", "localNetworkGateways", "branch")
	l := &arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	l.Properties.GatewayIPAddress = "127.0.0.70"
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"192.168.1.0/24"}}
	must(reg.PutLocalGateway(ctx, lgw, l))
	// NAT rules of each instance (by IP configuration) and of both: the
	// site as 172.31.1.0/24 through the first, 172.31.2.0/24 through the
	// second; the VNet's 10.1.0.0/24 as 100.65.0.0/24 through both.
	for _, r := range []struct{ name, mode, internal, external, ipconfig string }{
		{"first", arm.NatRuleIngressSnat, "192.168.1.0/24", "172.31.1.0/24", "ip0"},
		{"second", arm.NatRuleIngressSnat, "192.168.1.0/24", "172.31.2.0/24", "ip1"},
		{"vnet", arm.NatRuleEgressSnat, "10.1.0.0/24", "100.65.0.0/24", ""},
	} {
		must(reg.PutNatRule(ctx, aa.Child("natRules", r.name), &arm.VirtualNetworkGatewayNatRule{Properties: arm.VirtualNetworkGatewayNatRuleProperties{
			Type: arm.NatRuleStatic, Mode: r.mode, IPConfigurationID: r.ipconfig,
			InternalMappings: []arm.VPNNatRuleMapping{{AddressSpace: r.internal}}, ExternalMappings: []arm.VPNNatRuleMapping{{AddressSpace: r.external}}}}))
	}
	for name, c := range map[string]*arm.Connection{"site": {}, "v2v": {}} {
		c.Location = "westeurope"
		c.Properties.VirtualNetworkGateway1 = arm.Ref(aa.String())
		c.Properties.ConnectionType, c.Properties.LocalNetworkGateway2 = arm.ConnectionIPsec, arm.Ref(lgw.String())
		c.Properties.IngressNatRules = []arm.SubResource{{ID: aa.Child("natRules", "first").String()}, {ID: aa.Child("natRules", "second").String()}}
		c.Properties.EgressNatRules = []arm.SubResource{{ID: aa.Child("natRules", "vnet").String()}}
		if name == "v2v" {
			c.Properties.ConnectionType, c.Properties.LocalNetworkGateway2, c.Properties.VirtualNetworkGateway2 = arm.ConnectionVnet2Vnet, nil, arm.Ref(other.String())
			c.Properties.IngressNatRules, c.Properties.EgressNatRules = nil, nil
		}
		must(reg.PutConnection(ctx, arm.NetworkID(sub, "aa", "connections", name), c))
	}
	back := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	back.Properties.ConnectionType, back.Properties.VirtualNetworkGateway1, back.Properties.VirtualNetworkGateway2 = arm.ConnectionVnet2Vnet, arm.Ref(other.String()), arm.Ref(aa.String())
	must(reg.PutConnection(ctx, arm.NetworkID(sub, "aa", "connections", "back"), back))

	var instances []dataplane.Gateway
	var spoke dataplane.Gateway
	for _, g := range Build(reg.Snapshot(), nil).Gateways {
		switch g.ID {
		case strings.ToLower(aa.String()):
			instances = append(instances, g)
		case strings.ToLower(other.String()):
			spoke = g
		}
	}
	if len(instances) != 2 || instances[0].Instance != 0 || instances[1].Instance != 1 || instances[0].PublicAddr == instances[1].PublicAddr {
		t.Fatalf("instances %+v", instances)
	}
	// Each tunnel as connection[#standby]>peer address.
	tunnels := func(g dataplane.Gateway) (out []string) {
		for _, c := range g.Connections {
			name := c.ID[strings.LastIndex(c.ID, "/")+1:]
			if c.Tunnel != "" {
				name += "#" + c.Tunnel
			}
			out = append(out, name+">"+c.Remote.String())
		}
		slices.Sort(out)
		return out
	}
	hub0, hub1, sp := instances[0].PublicAddr.String(), instances[1].PublicAddr.String(), spoke.PublicAddr.String()
	for i, want := range [][]string{{"site>127.0.0.70", "v2v>" + sp}, {"site>127.0.0.70", "v2v>" + sp}, {"back#1>" + hub1, "back>" + hub0}} {
		g := spoke
		if i < 2 {
			g = instances[i]
		}
		if got := tunnels(g); !slices.Equal(got, want) {
			t.Errorf("gateway %d runs %v, want %v", i, got, want)
		}
	}
	for i, want := range []string{"172.31.1.0/24", "172.31.2.0/24"} {
		for _, c := range instances[i].Connections {
			if strings.HasSuffix(c.ID, "/site") && fmt.Sprint(c.NAT) != fmt.Sprintf("[{192.168.1.0/24 %s false false} {10.1.0.0/24 100.65.0.0/24 true false}]", want) {
				t.Errorf("instance %d translates the site with %v, want its own rule to %s and the VNet's", i, c.NAT, want)
			}
			// Each instance carries the site in the space its rule shows
			// it in, and the VNet routes both spaces to the gateway.
			if strings.HasSuffix(c.ID, "/site") && fmt.Sprint(c.Routes) != "["+want+"]" {
				t.Errorf("instance %d routes %v to the site, its NAT shows the site at %s", i, c.Routes, want)
			}
		}
	}
	for _, v := range Build(reg.Snapshot(), nil).VNets {
		if strings.HasSuffix(v.ID, "/hub") {
			var got []string
			for _, r := range v.Routes {
				got = append(got, r.Prefix.String())
			}
			if slices.Sort(got); !slices.Equal(got, []string{"10.2.0.0/16", "172.31.1.0/24", "172.31.2.0/24"}) {
				t.Errorf("the hub routes %v to its gateway, want the spoke and the site in both instances' spaces", got)
			}
		}
	}
}

// TestInterRegion: traffic is marked inter-region (R39) only between
// gateways of two locations; a site's resource filed under another
// location is still no other region.
func TestInterRegion(t *testing.T) {
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	for _, c := range []struct {
		r    region.Remote
		want bool
	}{
		{region.Remote{Location: "eastus"}, false}, // a site
		{region.Remote{Location: "eastus", Gateway: &arm.VirtualNetworkGateway{}}, true},
		{region.Remote{Location: "WestEurope", Gateway: &arm.VirtualNetworkGateway{}}, false},
	} {
		if got := interRegion(c.r, g); got != c.want {
			t.Errorf("to %s (a gateway: %v): inter-region %v, want %v", c.r.Location, c.r.Gateway != nil, got, c.want)
		}
	}
}

// TestCustomPolicyByteLifetime: a custom policy's saDataSizeKilobytes
// is the child SAs' lifetime in kilobytes, and 0 is none (README), not
// Azure's default of 102,400,000 KB, which a connection without a custom
// policy keeps.
func TestCustomPolicyByteLifetime(t *testing.T) {
	g := &arm.VirtualNetworkGateway{}
	pol := arm.IPsecPolicy{SALifeTimeSeconds: 3600, IKEEncryption: "AES256", IKEIntegrity: "SHA256", DHGroup: "DHGroup14",
		IPsecEncryption: "AES256", IPsecIntegrity: "SHA256", PFSGroup: "None"}
	for _, c := range []struct {
		name   string
		pols   []arm.IPsecPolicy
		kb     uint64
		noByte bool
	}{
		{"no custom policy: Azure's default", nil, 0, false},
		{"2048 KB", []arm.IPsecPolicy{{SADataSizeKilobytes: 2048}}, 2048, false},
		{"0: no limit", []arm.IPsecPolicy{{}}, 0, true},
	} {
		conn := &arm.Connection{}
		for _, p := range c.pols {
			p2 := pol
			p2.SADataSizeKilobytes = p.SADataSizeKilobytes
			conn.Properties.IPsecPolicies = append(conn.Properties.IPsecPolicies, p2)
		}
		dc := connection(conn, g, region.Remote{}, nil)
		if dc.ChildLifetimeKB != c.kb || dc.NoChildByteLimit != c.noByte {
			t.Errorf("%s: lifetime %d KB, no limit %v; want %d KB, %v", c.name, dc.ChildLifetimeKB, dc.NoChildByteLimit, c.kb, c.noByte)
		}
	}
}

// TestBuildActiveActiveBGP: VNet to VNet with BGP between an active-active
// gateway and another, each instance peers with each instance of the
// other gateway (Azure's full mesh of sessions), so that the routes it
// learns stay when an instance goes.
func TestBuildActiveActiveBGP(t *testing.T) {
	reg, gateway, must := gatewayRegion(t)
	ctx := context.Background()
	aa, other := gateway("hub", "10.1.0.0/16", true, 65010), gateway("spoke", "10.2.0.0/16", false, 65020)
	for name, ends := range map[string][2]arm.ID{"there": {aa, other}, "back": {other, aa}} {
		c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
		c.Properties.ConnectionType, c.Properties.EnableBGP = arm.ConnectionVnet2Vnet, true
		c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(ends[0].String()), arm.Ref(ends[1].String())
		must(reg.PutConnection(ctx, arm.NetworkID(sub, "aa", "connections", name), c))
	}
	bgpOf := map[string][]string{} // gateway instance's BGP address -> its peers' addresses
	for _, g := range Build(reg.Snapshot(), nil).Gateways {
		if g.BGP == nil {
			t.Fatalf("gateway %s instance %d has no BGP", g.ID, g.Instance)
		}
		for _, p := range g.BGP.Peers {
			bgpOf[g.BGP.Addr.String()] = append(bgpOf[g.BGP.Addr.String()], p.Addr.String())
		}
	}
	var hub, spoke []string
	for a := range bgpOf {
		if strings.HasPrefix(a, "10.1.") {
			hub = append(hub, a)
		} else {
			spoke = append(spoke, a)
		}
	}
	slices.Sort(hub)
	if len(hub) != 2 || len(spoke) != 1 {
		t.Fatalf("speakers %v: want two of the hub's and one of the spoke's", bgpOf)
	}
	for _, h := range hub {
		if !slices.Equal(bgpOf[h], spoke) {
			t.Errorf("hub instance at %s peers with %v, want the spoke's %v", h, bgpOf[h], spoke)
		}
	}
	if got := slices.Sorted(slices.Values(bgpOf[spoke[0]])); !slices.Equal(got, hub) {
		t.Errorf("the spoke peers with %v, want both hub instances %v", got, hub)
	}
}

// TestBuildAdvertisesSites: an active-active BGP gateway advertises to
// its BGP peers the ranges of every site connected (R37), as Azure does,
// in the space its VNet sees them in (a site's IngressSnat rules, here
// one per instance), and, to a site behind EgressSnat rules, as that
// site sees them; a site is not sent its own ranges, and a VNet's peers
// are sent every site's.
func TestBuildAdvertisesSites(t *testing.T) {
	reg, gateway, must := gatewayRegion(t)
	ctx := context.Background()
	aa, other := gateway("hub", "10.1.0.0/16", true, 65010), gateway("spoke", "10.2.0.0/16", false, 65030)
	g, err := reg.Get(aa)
	if err != nil {
		t.Fatal(err)
	}
	hub := g.(*arm.VirtualNetworkGateway)
	hub.Properties.EnableBGPRouteTranslationForNat = true
	must(reg.PutGateway(ctx, aa, hub))
	for _, r := range []struct{ name, mode, internal, external, ipconfig string }{
		{"first", arm.NatRuleIngressSnat, "192.168.50.0/24", "172.31.1.0/24", "ip0"},
		{"second", arm.NatRuleIngressSnat, "192.168.50.0/24", "172.31.2.0/24", "ip1"},
		{"vnet", arm.NatRuleEgressSnat, "10.1.0.0/16", "100.65.0.0/16", ""},
	} {
		must(reg.PutNatRule(ctx, aa.Child("natRules", r.name), &arm.VirtualNetworkGatewayNatRule{Properties: arm.VirtualNetworkGatewayNatRuleProperties{
			Type: arm.NatRuleStatic, Mode: r.mode, IPConfigurationID: r.ipconfig,
			InternalMappings: []arm.VPNNatRuleMapping{{AddressSpace: r.internal}}, ExternalMappings: []arm.VPNNatRuleMapping{{AddressSpace: r.external}}}}))
	}
	// Site A speaks BGP from behind the VNet's EgressSnat; site B has
	// static ranges alone, shown by an instance's IngressSnat each.
	for name, site := range map[string]struct {
		addr, space string
		bgp         bool
		ingress     []string
		egress      []string
	}{
		"a": {"127.0.0.70", "192.168.1.0/24", true, nil, []string{"vnet"}},
		"b": {"127.0.0.71", "192.168.50.0/24", false, []string{"first", "second"}, nil},
	} {
		lgw := arm.NetworkID(sub, "aa", "localNetworkGateways", name)
		l := &arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
		l.Properties.GatewayIPAddress = site.addr
		l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{site.space}}
		if site.bgp {
			l.Properties.BGPSettings = &arm.BGPSettings{ASN: 65020, BGPPeeringAddress: "192.168.1.1"}
		}
		must(reg.PutLocalGateway(ctx, lgw, l))
		c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
		c.Properties.ConnectionType, c.Properties.EnableBGP = arm.ConnectionIPsec, site.bgp
		c.Properties.VirtualNetworkGateway1, c.Properties.LocalNetworkGateway2 = arm.Ref(aa.String()), arm.Ref(lgw.String())
		for _, r := range site.ingress {
			c.Properties.IngressNatRules = append(c.Properties.IngressNatRules, arm.SubResource{ID: aa.Child("natRules", r).String()})
		}
		for _, r := range site.egress {
			c.Properties.EgressNatRules = append(c.Properties.EgressNatRules, arm.SubResource{ID: aa.Child("natRules", r).String()})
		}
		must(reg.PutConnection(ctx, arm.NetworkID(sub, "aa", "connections", name), c))
	}
	for name, ends := range map[string][2]arm.ID{"there": {aa, other}, "back": {other, aa}} {
		c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
		c.Properties.ConnectionType, c.Properties.EnableBGP = arm.ConnectionVnet2Vnet, true
		c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(ends[0].String()), arm.Ref(ends[1].String())
		must(reg.PutConnection(ctx, arm.NetworkID(sub, "aa", "connections", name), c))
	}
	// What each instance sends each peer, by the peer's AS.
	sent := map[int]map[uint32][]string{}
	for _, g := range Build(reg.Snapshot(), nil).Gateways {
		if g.ID != strings.ToLower(aa.String()) {
			continue
		}
		sent[g.Instance] = map[uint32][]string{}
		for _, p := range g.BGP.Peers {
			var ps []string
			for _, n := range p.Networks {
				ps = append(ps, n.String())
			}
			slices.Sort(ps)
			sent[g.Instance][p.AS] = ps
		}
	}
	for i, want := range map[int]map[uint32][]string{
		0: {65020: {"100.65.0.0/16", "172.31.1.0/24"}, 65030: {"10.1.0.0/16", "172.31.1.0/24", "192.168.1.0/24"}},
		1: {65020: {"100.65.0.0/16", "172.31.2.0/24"}, 65030: {"10.1.0.0/16", "172.31.2.0/24", "192.168.1.0/24"}},
	} {
		for as, w := range want {
			if got := sent[i][as]; !slices.Equal(got, w) {
				t.Errorf("instance %d sends AS %d %v, want %v", i, as, got, w)
			}
		}
	}
}
