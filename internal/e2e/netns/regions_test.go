package netns

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestVnet2VnetAcrossRegions: two regions are two serve processes in two
// namespaces, each with its own public IP pool and the other as --peer;
// their APIs listen on the link between them, so that each finds the
// other's gateway. A Vnet2Vnet connection in each region (same key) names
// the other region's gateway (R1); both become Connected and the hosts of
// the two VNets ping each other. On the link between the regions only
// ESP in UDP between the two gateways' public addresses passes, never a
// host's packet in the clear (R30, R31).
func TestVnet2VnetAcrossRegions(t *testing.T) {
	require(t)
	netnstest.Require(t, "tcpdump")
	a, b, linkA := peeredRegions(t)
	nsA := a.ns

	vnetA := a.vnet("rg-we", "westeurope", "vnet-we", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gwA, addrA := a.gateway(vnetA, "gw-we", arm.RouteBased)
	hostA, hostAddrA := a.tunHost(vnetA, "app-we")
	vnetB := b.vnet("rg-us", "eastus", "vnet-us", []string{"10.2.0.0/16"}, "10.2.255.0/27")
	gwB, addrB := b.gateway(vnetB, "gw-us", arm.RouteBased)
	hostB, hostAddrB := b.tunHost(vnetB, "app-us")

	const key = "AcrossRegions2026"
	connA := a.vnet2vnet(gwA, gwB, "we-to-us", key)
	connB := b.vnet2vnet(gwB, gwA, "us-to-we", key)
	for _, c := range []struct {
		r  *region
		id arm.ID
	}{{a, connA}, {b, connB}} {
		got := c.r.waitConnection(c.id, 30*time.Second, "Connected", connected)
		if !got.Properties.InterRegion {
			t.Errorf("%s is not marked interRegion (R39): %+v", c.id.Name(), got.Properties)
		}
	}

	// Watch the link between the regions while the hosts talk.
	pcap := t.TempDir() + "/link.pcap"
	dump := nsA.Start("tcpdump", "-i", linkA, "-n", "--immediate-mode", "-U", "-w", pcap)
	time.Sleep(500 * time.Millisecond) // tcpdump opens the interface
	ping(t, hostA, hostAddrB, 10*time.Second)
	ping(t, hostB, hostAddrA, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	dump.Cmd.Process.Signal(syscall.SIGINT)
	dump.Wait(5 * time.Second)
	checkOnlyESPBetween(t, nsA, pcap, addrA, addrB, hostAddrA, hostAddrB)
}

// The public IP pools of the two regions of twoRegionNamespaces.
const poolA, poolB = "198.51.100.0/24", "198.18.0.0/24"

// twoRegionNamespaces makes the namespaces of two regions, linked
// (100.64.0.1 in A, 100.64.0.2 in B) and routing each other's pool over
// the link; it returns A's end of the link too.
func twoRegionNamespaces(t *testing.T) (nsA, nsB *netnstest.NS, linkA string) {
	t.Helper()
	nsA, nsB = netnstest.New(t, "rga"), netnstest.New(t, "rgb")
	linkA, _ = netnstest.Link(t, nsA, "100.64.0.1/30", nsB, "100.64.0.2/30")
	nsA.Run("ip", "route", "add", poolB, "via", "100.64.0.2")
	nsB.Run("ip", "route", "add", poolA, "via", "100.64.0.1")
	return nsA, nsB, linkA
}

// peeredRegions starts a region in each of twoRegionNamespaces, each the
// other's --peer, their APIs on the link between them; it returns A's end
// of the link too.
func peeredRegions(t *testing.T) (a, b *region, linkA string) {
	t.Helper()
	nsA, nsB, linkA := twoRegionNamespaces(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a = newRegion(t, regionOptions{ns: nsA, dir: dirA, pool: poolA, listen: "100.64.0.1:7443", args: []string{"--peer", dirB}})
	b = newRegion(t, regionOptions{ns: nsB, dir: dirB, pool: poolB, listen: "100.64.0.2:7443", args: []string{"--peer", dirA}})
	return a, b, linkA
}

// vnet2vnet creates a VNet-to-VNet connection from gw to remote (a
// gateway of this or another region).
func (r *region) vnet2vnet(gw, remote arm.ID, name, key string) arm.ID {
	r.t.Helper()
	return r.putConnection(gw, name, key, arm.ConnectionVnet2Vnet, func(p *arm.ConnectionProperties) { p.VirtualNetworkGateway2 = arm.Ref(remote.String()) })
}

// checkOnlyESPBetween reads a capture: it must hold ESP in UDP between the
// gateways a and b, and no packet that shows a host's address.
func checkOnlyESPBetween(t *testing.T, ns *netnstest.NS, pcap string, a, b netip.Addr, hosts ...netip.Addr) {
	t.Helper()
	out := ns.Run("tcpdump", "-r", pcap, "-n")
	esp := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		for _, h := range hosts {
			if strings.Contains(line, " "+h.String()+" ") || strings.Contains(line, " "+h.String()+":") {
				t.Errorf("a host's packet in the clear between the regions: %s", line)
			}
		}
		if strings.Contains(line, "ESP(") && (strings.Contains(line, a.String()+".4500 > "+b.String()+".4500") ||
			strings.Contains(line, b.String()+".4500 > "+a.String()+".4500")) {
			esp++
		}
	}
	if esp < 12 { // 2 × 3 pings, both ways
		t.Errorf("%d ESP packets between %s and %s, want at least 12:\n%s", esp, a, b, out)
	}
}
