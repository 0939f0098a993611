package netns

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestR26UserDefinedRoutes: a route table on subnet "default" sends the
// traffic for subnet "back" to a virtual appliance in subnet "dmz" (a TUN
// host that forwards). Host A's pings reach host B through the appliance,
// whose forward counter counts them; when the appliance stops forwarding
// they no longer arrive, though B is in A's VNet. The effective routes of
// A's interface show the user route.
func TestR26UserDefinedRoutes(t *testing.T) {
	require(t)
	netnstest.Require(t, "nft")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("udr", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	for _, sn := range []struct{ name, prefix string }{{"dmz", "10.1.1.0/24"}, {"back", "10.1.2.0/24"}} {
		r.put(vnet.Child("subnets", sn.name), arm.Subnet{Properties: arm.SubnetProperties{AddressPrefix: sn.prefix}}, nil)
	}
	appliance, applianceAddr := r.tunHostIn(vnet, "dmz", "nva")
	appliance.Run("sysctl", "-qw", "net.ipv4.ip_forward=1")
	appliance.Run("nft", "add table inet nva; add chain inet nva through { type filter hook forward priority 0; }; add rule inet nva through counter")
	a, _ := r.tunHostIn(vnet, "default", "a")
	_, bAddr := r.tunHostIn(vnet, "back", "b")

	rt := arm.NetworkID(vnet.Subscription, vnet.ResourceGroup, "routeTables", "to-nva")
	table := arm.RouteTable{Resource: arm.Resource{Location: "westeurope"}}
	table.Properties.Routes = []arm.Route{{Name: "back-via-nva", Properties: arm.RouteProperties{
		AddressPrefix: "10.1.2.0/24", NextHopType: arm.NextHopVirtualAppliance, NextHopIPAddress: applianceAddr.String()}}}
	r.put(rt, table, nil)
	var def arm.Subnet
	r.get(vnet.Child("subnets", "default"), &def)
	def.Properties.RouteTable = arm.Ref(rt.String())
	r.put(vnet.Child("subnets", "default"), def, nil)

	forwarded := func() string {
		out := appliance.Run("nft", "list chain inet nva through")
		i := strings.Index(out, "packets ")
		if i < 0 {
			t.Fatalf("no counter in:\n%s", out)
		}
		return strings.Fields(out[i:])[1]
	}
	ping(t, a, bAddr, 10*time.Second)
	if n := forwarded(); n == "0" {
		t.Fatalf("A's pings to B did not pass the appliance (forwarded %s)", n)
	}
	var routes arm.List[arm.EffectiveRoute]
	nic := arm.NetworkID(vnet.Subscription, vnet.ResourceGroup, "networkInterfaces", "a")
	if _, err := r.c.Do(context.Background(), "POST", nic.String()+"/effectiveRouteTable", nil, &routes); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprintf("%+v", routes.Value), "Source:User State:Active AddressPrefix:[10.1.2.0/24] NextHopIPAddress:["+applianceAddr.String()+"] NextHopType:VirtualAppliance") {
		t.Errorf("effective routes of A: %+v", routes.Value)
	}

	appliance.Run("sysctl", "-qw", "net.ipv4.ip_forward=0")
	noPing(t, a, bAddr)
}

// TestR26GatewaySubnetRoutes: a route table on the GatewaySubnet sends what
// arrives through the tunnels for subnet "back" to a virtual appliance, as
// users put a firewall between their sites and their VNet. The site's pings
// to host B pass the appliance, whose forward counter counts them; pings
// to a host outside the route go directly.
func TestR26GatewaySubnetRoutes(t *testing.T) {
	require(t)
	netnstest.Require(t, "nft")
	e := newS2SParts(t)
	vnet := arm.NetworkID(sub, "s2s", "virtualNetworks", "hub")
	for _, sn := range []struct{ name, prefix string }{{"dmz", "10.1.1.0/24"}, {"back", "10.1.2.0/24"}} {
		e.r.put(vnet.Child("subnets", sn.name), arm.Subnet{Properties: arm.SubnetProperties{AddressPrefix: sn.prefix}}, nil)
	}
	appliance, applianceAddr := e.r.tunHostIn(vnet, "dmz", "nva")
	appliance.Run("sysctl", "-qw", "net.ipv4.ip_forward=1")
	appliance.Run("nft", "add table inet nva; add chain inet nva through { type filter hook forward priority 0; }; add rule inet nva through counter")
	_, bAddr := e.r.tunHostIn(vnet, "back", "b")
	rt := arm.NetworkID(sub, "s2s", "routeTables", "from-sites")
	table := arm.RouteTable{Resource: arm.Resource{Location: "westeurope"}}
	table.Properties.Routes = []arm.Route{{Name: "back-via-nva", Properties: arm.RouteProperties{
		AddressPrefix: "10.1.2.0/24", NextHopType: arm.NextHopVirtualAppliance, NextHopIPAddress: applianceAddr.String()}}}
	e.r.put(rt, table, nil)
	var gws arm.Subnet
	e.r.get(vnet.Child("subnets", "GatewaySubnet"), &gws)
	gws.Properties.RouteTable = arm.Ref(rt.String())
	e.r.put(vnet.Child("subnets", "GatewaySubnet"), gws, nil)

	e.site.charon(e.gwAddr, s2sKey, e.site.lanTS, "10.1.0.0/16")
	e.put = time.Now()
	e.conn = e.r.connection(e.gw, e.lgw, "hub-to-branch", s2sKey)
	e.up(t)
	forwarded := func() string {
		out := appliance.Run("nft", "list chain inet nva through")
		i := strings.Index(out, "packets ")
		if i < 0 {
			t.Fatalf("no counter in:\n%s", out)
		}
		return strings.Fields(out[i:])[1]
	}
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)
	if n := forwarded(); n != "0" {
		t.Errorf("pings to a host outside the route passed the appliance (%s packets)", n)
	}
	ping(t, e.site.lan, bAddr, 10*time.Second)
	if n := forwarded(); n == "0" {
		t.Fatalf("the site's pings to B did not pass the appliance")
	}
	t.Logf("the appliance forwarded %s packets from the tunnel to B", forwarded())
	// The appliance is one hop more on the way to B, and the only one: the
	// VNet counts as no hop when the appliance hands the site's packet on.
	direct, through := hops(t, e.site.lan, e.hostAddr), hops(t, e.site.lan, bAddr)
	if through != direct+1 {
		t.Errorf("a ping from the site needs TTL %d to reach B through the appliance, %d to reach a host directly; want one more", through, direct)
	}
}

// hops returns the least TTL with which from's ping reaches to.
func hops(t *testing.T, from *netnstest.NS, to netip.Addr) int {
	t.Helper()
	for ttl := 1; ttl <= 16; ttl++ {
		if _, err := from.Try("ping", "-c", "1", "-W", "1", "-t", strconv.Itoa(ttl), to.String()); err == nil {
			return ttl
		}
	}
	t.Fatalf("ping %s from %s: no answer with a TTL up to 16", to, from.Name)
	return 0
}

// TestR26NoGatewayRoutePropagation: a route table with
// disableBgpRoutePropagation ("Propagate gateway routes: No") on subnet
// "isolated" keeps the site's range from its hosts: host B there cannot
// reach the site through the gateway while host web in subnet "default"
// can, and B's effective routes show no route of the gateway. A user
// route of the site's range to the gateway still applies: B's pings then
// pass.
func TestR26NoGatewayRoutePropagation(t *testing.T) {
	require(t)
	e := newS2SParts(t)
	vnet := arm.NetworkID(sub, "s2s", "virtualNetworks", "hub")
	rt := arm.NetworkID(sub, "s2s", "routeTables", "no-gateway-routes")
	table := arm.RouteTable{Resource: arm.Resource{Location: "westeurope"}}
	table.Properties.DisableBGPRoutePropagation = true
	e.r.put(rt, table, nil)
	e.r.put(vnet.Child("subnets", "isolated"), arm.Subnet{Properties: arm.SubnetProperties{AddressPrefix: "10.1.2.0/24", RouteTable: arm.Ref(rt.String())}}, nil)
	b, _ := e.r.tunHostIn(vnet, "isolated", "b")

	e.site.charon(e.gwAddr, s2sKey, e.site.lanTS, "10.1.0.0/16")
	e.put = time.Now()
	e.conn = e.r.connection(e.gw, e.lgw, "hub-to-branch", s2sKey)
	e.up(t)
	ping(t, e.host, e.site.host, 10*time.Second)
	noPing(t, b, e.site.host)
	var routes arm.List[arm.EffectiveRoute]
	nic := arm.NetworkID(sub, "s2s", "networkInterfaces", "b")
	if _, err := e.r.c.Do(context.Background(), "POST", nic.String()+"/effectiveRouteTable", nil, &routes); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes.Value {
		if r.NextHopType == arm.NextHopGateway {
			t.Errorf("B's effective routes send %v to the gateway: %+v", r.AddressPrefix, routes.Value)
		}
	}

	table.Properties.Routes = []arm.Route{{Name: "branch", Properties: arm.RouteProperties{AddressPrefix: e.site.lanTS, NextHopType: arm.NextHopGateway}}}
	e.r.put(rt, table, nil)
	ping(t, b, e.site.host, 10*time.Second)
}
