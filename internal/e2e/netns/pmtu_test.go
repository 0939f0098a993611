package netns

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestSmallerPathMTU: between the region and the site a router's link
// carries at most 1400 bytes (a site behind PPPoE, say), less than the
// ESP packets of full-sized inner packets. The first packet that makes an
// ESP packet too long for it is lost and the router says so (ICMP
// Fragmentation Needed, RFC 1191); from then on the gateway tells the VM
// that sends a packet too long, with Don't Fragment, the tunnel's MTU on
// that path (RFC 4301 §8.2.1), with which its packets cross whole, and
// logs the path MTU it learned and counts the error in its metrics. Packets without Don't Fragment cross at
// any length, and TCP runs both ways.
func TestSmallerPathMTU(t *testing.T) {
	require(t)
	// The tunnel's MTU with AES-GCM in UDP over IPv4 is the outer MTU
	// less 62 bytes (TestFragmentationNeededThroughTunnelRFC1191).
	const pathMTU, tunnelMTU, smallerMTU = 1400, 1438, 1338
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

	// pingOnce sends one echo request of size bytes in all, Don't
	// Fragment set (df "do") or not ("dont").
	pingOnce := func(from *netnstest.NS, to string, size int, df string) (string, error) {
		return from.Try("ping", "-n", "-c", "1", "-W", "2", "-M", df, "-s", strconv.Itoa(size-28), to)
	}
	// The VM's interface has Ethernet's MTU, as Azure's VMs do.
	e.host.Run("ip", "link", "set", "dev", hostIf(t, e.host, e.hostAddr), "mtu", "1500")
	site := e.site.host.String()
	if out, err := pingOnce(e.host, site, 1000, "do"); err != nil {
		t.Fatalf("a ping of 1000 bytes over a path of MTU %d: %v\n%s", pathMTU, err, out)
	}
	// The first packet of the tunnel's MTU makes an ESP packet of 1500
	// bytes, which the router drops: no answer.
	if out, err := pingOnce(e.host, site, tunnelMTU, "do"); err == nil {
		t.Fatalf("a ping of %d bytes crossed a path of MTU %d before it was learned (the ESP packet was not 1500 bytes?):\n%s", tunnelMTU, pathMTU, out)
	}
	out, err := pingOnce(e.host, site, tunnelMTU, "do")
	if want := "Frag needed and DF set (mtu = " + strconv.Itoa(smallerMTU) + ")"; err == nil || !strings.Contains(out, want) {
		t.Fatalf("a ping of %d bytes after the router's ICMP error: %v\n%s\nwant %q", tunnelMTU, err, out, want)
	}
	for _, p := range []struct {
		size int
		df   string
	}{{smallerMTU, "do"}, {tunnelMTU, "dont"}, {4000, "dont"}} {
		if out, err := pingOnce(e.host, site, p.size, p.df); err != nil {
			t.Errorf("ping -M %s of %d bytes over a path of MTU %d, after it was learned: %v\n%s", p.df, p.size, pathMTU, err, out)
		}
	}
	if n, ok := e.r.metric("vnetgw_gateway_path_mtu_errors_total"); !ok || n == 0 {
		t.Errorf("vnetgw_gateway_path_mtu_errors_total = %d (%v), want the router's error counted", n, ok)
	}
	if line := regexp.MustCompile(`msg="path MTU lowered".* peer=` + regexp.QuoteMeta(e.site.addr.String()) + `:4500 mtu=` + strconv.Itoa(pathMTU)); !line.MatchString(e.r.proc.Output()) {
		t.Errorf("vnetgw logged no line of the path MTU %d to %v", pathMTU, e.site.addr)
	}

	// From the site: strongSwan's userspace ESP sends what its TUN device
	// takes, 1400 bytes (kernel-libipsec's default MTU), and its kernel
	// fragments what is longer than its link.
	for _, p := range []struct {
		size int
		df   string
	}{{1000, "do"}, {1400, "do"}, {1500, "dont"}, {4000, "dont"}} {
		if out, err := pingOnce(e.site.lan, e.hostAddr.String(), p.size, p.df); err != nil {
			t.Errorf("ping -M %s of %d bytes from the site over a path of MTU %d: %v\n%s", p.df, p.size, pathMTU, err, out)
		}
	}
	rate, _ := iperf(t, e.host, e.site.lan, e.site.host, 3)
	rateBack, _ := iperf(t, e.site.lan, e.host, e.hostAddr, 3)
	t.Logf("iperf3 TCP 3 s over a path of MTU %d: VNet host -> site host %.0f Mbit/s, back %.0f Mbit/s", pathMTU, rate, rateBack)
}
