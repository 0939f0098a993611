package netns

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestStopTellsPeers: when serve stops (SIGTERM) with tunnels up to three
// sites on two gateways, one of them with a BGP session with its site's
// BIRD through the tunnel, every site's strongSwan hears the gateway's
// Delete (its SAs go at once, not at its dead peer detection), and
// BIRD's session ends with the gateway's Cease (Administrative
// shutdown), not when its hold timer (90 s here) expires with the routes
// it learned kept till then.
func TestStopTellsPeers(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	hub := r.vnet("stop", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	hubGW, hubAddr, hubBGP := r.bgpGateway(hub, "hub-gw")
	spoke := r.vnet("stop", "westeurope", "spoke", []string{"10.2.0.0/16"}, "10.2.255.0/27")
	spokeGW, spokeAddr := r.gateway(spoke, "spoke-gw", arm.RouteBased)

	// Site 1 peers with the hub over BGP; sites 2 and 3 are static, to
	// the hub and to the spoke.
	site1 := newSite(t, r, 1, pool, "10.99.0.2/24")
	lgw, bird := r.bgpBranch(t, "stop", "site1", site1, hubAddr, hubBGP, "10.1.0.0/16", 90)
	conns := []arm.ID{r.putConnection(hubGW, "hub-to-site1", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.EnableBGP = true
	})}
	sites := []*site{site1}
	for i, to := range []struct {
		gw    arm.ID
		addr  netip.Addr
		space string
	}{{hubGW, hubAddr, "10.1.0.0/16"}, {spokeGW, spokeAddr, "10.2.0.0/16"}} {
		n := i + 2
		s := newSite(t, r, n, pool)
		s.charon(to.addr, s2sKey, s.lanTS, to.space)
		lgw := r.localGateway("stop", "westeurope", fmt.Sprintf("site%d", n), s.addr, s.lanTS)
		conns = append(conns, r.connection(to.gw, lgw, fmt.Sprintf("to-site%d", n), s2sKey))
		sites = append(sites, s)
	}
	for _, c := range conns {
		r.waitConnection(c, 30*time.Second, "Connected", connected)
	}
	bird.waitRoute(t, "10.1.0.0/16", "65515")

	stop := time.Now()
	r.stop()
	t.Logf("serve stopped in %s", time.Since(stop).Round(time.Millisecond))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out := bird.ctl("show", "protocols", "all", "vnetgw")
		if !strings.Contains(out, "Established") {
			if !strings.Contains(out, "Received: Administrative shutdown") {
				t.Errorf("BIRD's session ended without the gateway's Cease:\n%s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BIRD's session stays 30 s after serve stopped:\n%s", out)
		}
	}
	for _, s := range sites {
		waitNoSAs(t, s.ch, 10*time.Second)
	}
}
