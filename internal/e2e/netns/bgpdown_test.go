package netns

import (
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestR41BGPTunnelDown: the site (strongSwan, with BIRD behind it, hold
// time 90 s) deletes its IKE SA and loses its uplink. The gateway's
// session with BIRD, which runs through the tunnel, ends 3 s after (the
// grace a tunnel has to come back) and the routes learned from it go
// (getBgpPeerStatus, getLearnedRoutes), not when the hold timer expires; BIRD, which saw nothing of it, still holds its
// session. When the uplink and the tunnel are back, the session is
// established again and the routes return, before BIRD's hold time.
func TestR41BGPTunnelDown(t *testing.T) {
	require(t)
	netnstest.Require(t, "bird", "birdc")
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("bgp", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr, gwBGP := r.bgpGateway(vnet, "hub-gw")
	site := newSite(t, r, 1, pool, "10.99.0.2/24")
	lgw, _ := r.bgpBranch(t, "bgp", "branch", site, gwAddr, gwBGP, "10.1.0.0/16", 90)
	conn := r.putConnection(gw, "hub-to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.EnableBGP = true
	})
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	up := func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State == "Connected" && hasRoute(routes, "10.99.0.0/24", "EBgp", "65010")
	}
	waitBGP(t, r, gw, 60*time.Second, "the session with BIRD Connected and its routes learned", up)

	// strongSwan deletes the IKE SA, and the uplink goes before the
	// gateway connects again (5 s after).
	uplink := hostIf(t, site.gw, site.addr)
	start := time.Now()
	if out, err := site.ch.Swanctl("--terminate", "--ike", "peer", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}
	site.gw.Run("ip", "link", "set", "dev", uplink, "down")
	waitBGP(t, r, gw, 20*time.Second, "the session down and its routes withdrawn with the tunnel", func(ps []arm.BGPPeerStatus, routes []arm.GatewayRoute) bool {
		return len(ps) == 1 && ps[0].State != "Connected" && !hasRoute(routes, "10.99.0.0/24", "EBgp", "65010")
	})
	t.Logf("routes withdrawn %v after strongSwan deleted the IKE SA", time.Since(start).Round(time.Millisecond))

	site.gw.Run("ip", "link", "set", "dev", uplink, "up")
	site.gw.Run("ip", "route", "replace", pool, "via", "100.64.1.1") // gone with the link
	if out, err := site.ch.Initiate(); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s", err, out)
	}
	r.waitConnection(conn, 30*time.Second, "Connected again", connected)
	back := time.Now()
	// BIRD's session, established all along on its side, ends when it
	// learns of the gateway's end: within its keepalive time (30 s) at
	// most, well before its hold time.
	waitBGP(t, r, gw, 60*time.Second, "the session and its routes back", up)
	t.Logf("session and routes back %v after the tunnel", time.Since(back).Round(time.Millisecond))
}
