package netns

import (
	"strconv"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestSmallerPathMTU: between the region and the site a router's link
// carries at most 1400 bytes (a site behind PPPoE, say), less than the
// ESP packets of full-sized inner packets. The hosts on either side still
// reach each other with packets up to the tunnel's MTU, Don't Fragment
// set or not, and longer ones without it; TCP runs both ways. The ESP
// packets too long for the path are fragmented by the sender's kernel
// once the router has told it the path MTU (RFC 1191; RFC 4301 §8.1 lets
// the outer header's DF bit be the implementation's), so the first one
// may be lost.
func TestSmallerPathMTU(t *testing.T) {
	require(t)
	const pathMTU, tunnelMTU = 1400, 1438 // as in TestFragmentationNeededThroughTunnelRFC1191
	e := &s2s{r: newRegion(t, regionOptions{pool: pool})}
	vnet := e.r.vnet("s2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	e.gw, e.gwAddr = e.r.gateway(vnet, "hub-gw", arm.RouteBased)
	e.host, e.hostAddr = e.r.tunHost(vnet, "web")
	e.site = newSiteBehindRouter(t, e.r, 1, pool, pathMTU)
	e.lgw = e.r.localGateway("s2s", "westeurope", "branch", e.site.addr, e.site.lanTS)
	e.site.charon(e.gwAddr, s2sKey, e.site.lanTS, "10.1.0.0/16")
	e.put = time.Now()
	e.conn = e.r.connection(e.gw, e.lgw, "hub-to-branch", s2sKey)
	e.up(t)
	ping(t, e.host, e.site.host, 10*time.Second)
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)

	// The VM's interface has Ethernet's MTU, as Azure's VMs do; so has
	// the LAN host's.
	e.host.Run("ip", "link", "set", "dev", hostIf(t, e.host, e.hostAddr), "mtu", "1500")
	// strongSwan's userspace ESP sends what its TUN device takes, 1400
	// bytes (kernel-libipsec's default MTU).
	for _, c := range []struct {
		from *netnstest.NS
		to   string
		mtu  int
	}{{e.host, e.site.host.String(), tunnelMTU}, {e.site.lan, e.hostAddr.String(), 1400}} {
		for _, p := range []struct {
			size int
			df   string
		}{{1000, "do"}, {c.mtu, "do"}, {1500, "dont"}, {4000, "dont"}} {
			var out string
			var err error
			for range 3 {
				if out, err = c.from.Try("ping", "-n", "-c", "1", "-W", "2", "-M", p.df, "-s", strconv.Itoa(p.size-28), c.to); err == nil {
					break
				}
			}
			if err != nil {
				t.Errorf("ping -M %s of %d bytes from %s to %s over a path of MTU %d: %v\n%s", p.df, p.size, c.from.Name, c.to, pathMTU, err, out)
			}
		}
	}
	rate, _ := iperf(t, e.host, e.site.lan, e.site.host, 3)
	rateBack, _ := iperf(t, e.site.lan, e.host, e.hostAddr, 3)
	t.Logf("iperf3 TCP 3 s over a path of MTU %d: VNet host -> site host %.0f Mbit/s, back %.0f Mbit/s", pathMTU, rate, rateBack)
}
