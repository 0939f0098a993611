package netns

import (
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// TestTransitBetweenSites: two strongSwan sites connected to one
// route-based gateway (multi-site, R3); a host at site 1 reaches a host at
// site 2 through the gateway, and back, with statically defined ranges
// (R37): each site's selectors include the other site's range, and the
// gateway routes between its tunnels. The VNet's host reaches both (R42).
func TestTransitBetweenSites(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("transit", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, _ := r.tunHost(vnet, "web")
	s1, s2 := newSite(t, r, 1, pool), newSite(t, r, 2, pool)
	const key1, key2 = "TransitSiteOne1", "TransitSiteTwo2"
	s1.charon(gwAddr, key1, s1.lanTS, "10.1.0.0/16,"+s2.lanTS)
	s2.charon(gwAddr, key2, s2.lanTS, "10.1.0.0/16,"+s1.lanTS)
	c1 := r.connection(gw, r.localGateway("transit", "westeurope", "site1", s1.addr, s1.lanTS), "hub-to-site1", key1)
	c2 := r.connection(gw, r.localGateway("transit", "westeurope", "site2", s2.addr, s2.lanTS), "hub-to-site2", key2)
	r.waitConnection(c1, 30*time.Second, "Connected", connected)
	r.waitConnection(c2, 30*time.Second, "Connected", connected)

	ping(t, s1.lan, s2.host, 10*time.Second)
	ping(t, s2.lan, s1.host, 10*time.Second)
	ping(t, host, s1.host, 10*time.Second)
	ping(t, host, s2.host, 10*time.Second)
	rate, _ := iperf(t, s1.lan, s2.lan, s2.host, 3)
	t.Logf("iperf3 TCP 3 s site 1 -> site 2 through the gateway (two tunnels): %.0f Mbit/s", rate)
}
