package netns

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dnstest"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestSiteByFQDN: a local network gateway given by fqdn, as for a branch
// on a dynamic address. While the name does not resolve, the connection
// says so; once it does, the tunnel comes up to the device at that
// address; when the name moves to another address (the branch's device
// got a new one), the tunnel follows without a change through the API,
// and the device at the old address is told the SAs are gone.
func TestSiteByFQDN(t *testing.T) {
	require(t)
	r, dns := fqdnRegion(t)
	vnet := r.vnet("fqdn", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, _ := r.tunHost(vnet, "web")
	const name = "branch.example.test"
	lgw := arm.NetworkID(sub, "fqdn", "localNetworkGateways", "branch")
	l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	l.Properties.FQDN = name
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.77.0.0/24"}}
	r.put(lgw, l, nil)
	c := r.connection(gw, lgw, "to-branch", s2sKey)
	// One branch, its device on one address and then on another: two
	// strongSwans with one LAN (a host at 10.77.0.2 behind each). The
	// second runs the device script, which names no address of its own.
	script, err := r.c.DeviceScript(t.Context(), c, arm.VPNDeviceScriptParameters{})
	if err != nil || !strings.Contains(script, "local_addrs = %any") || !strings.Contains(script, "id = "+name+"\n") {
		t.Fatalf("device script of a site known by name: %v\n%s", err, script)
	}
	var sites []*site
	for i := 1; i <= 2; i++ {
		s := newSite(t, r, i, pool, "10.77.0.2/24")
		if i == 1 {
			s.charon(gwAddr, s2sKey, "10.77.0.0/24", "10.1.0.0/16")
		} else {
			s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: script})
		}
		sites = append(sites, s)
	}

	r.waitConnection(c, 15*time.Second, "reporting the name that does not resolve", func(p arm.ConnectionProperties) bool {
		return p.ConnectionStatus == "NotConnected" && strings.Contains(p.ConnectionStatusReason, name+" does not resolve")
	})
	dns.Set(name, sites[0].addr)
	r.waitConnection(c, 30*time.Second, "Connected", connected)
	ping(t, host, netip.MustParseAddr("10.77.0.2"), 15*time.Second)
	if _, err := sites[0].ch.WaitSAs(time.Second, "INSTALLED"); err != nil {
		t.Fatalf("the first address's device: %v", err)
	}

	moved := time.Now()
	dns.Set(name, sites[1].addr)
	if _, err := sites[1].ch.WaitSAs(20*time.Second, "ESTABLISHED", "INSTALLED"); err != nil {
		t.Fatalf("the tunnel did not follow the name to its new address: %v", err)
	}
	ping(t, host, netip.MustParseAddr("10.77.0.2"), 15*time.Second)
	t.Logf("the name moved to a new address; %s later a ping crossed the tunnel to it", time.Since(moved).Round(100*time.Millisecond))
	waitNoSAs(t, sites[0].ch, 10*time.Second)
	r.waitConnection(c, 5*time.Second, "Connected", connected)

	// A lookup that fails later keeps the tunnel where it is.
	dns.Set(name)
	time.Sleep(2500 * time.Millisecond) // two lookups
	if _, err := sites[1].ch.WaitSAs(time.Second, "INSTALLED"); err != nil {
		t.Fatalf("a failed lookup took the tunnel down: %v", err)
	}
	ping(t, host, netip.MustParseAddr("10.77.0.2"), 5*time.Second)
}

// TestSiteByFQDNBehindNAT: a branch known by name whose device is behind
// a router that masquerades it (its own address 100.65.1.2, seen from
// 100.64.1.2, which the name resolves to) connects with the device
// script as written: the device names itself by the site's name, which
// the gateway takes. It named its private address, which the gateway
// refused as not the name's.
func TestSiteByFQDNBehindNAT(t *testing.T) {
	require(t)
	netnstest.Require(t, "nft")
	r, dns := fqdnRegion(t)
	vnet := r.vnet("fqdnnat", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _ := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, _ := r.tunHost(vnet, "web")
	const name = "natted.example.test"
	lgw := arm.NetworkID(sub, "fqdnnat", "localNetworkGateways", "branch")
	l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	l.Properties.FQDN = name
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"192.168.1.0/24"}}
	r.put(lgw, l, nil)
	// Behind a NAT the gateway cannot start the tunnel: the device does.
	c := r.putConnection(gw, "to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.ConnectionMode = "ResponderOnly"
	})
	script, err := r.c.DeviceScript(t.Context(), c, arm.VPNDeviceScriptParameters{})
	if err != nil {
		t.Fatal(err)
	}

	// The region reaches the router's public address, not the device's.
	router := netnstest.New(t, "rt")
	s := &site{t: t, gw: netnstest.New(t, "s"), addr: netip.MustParseAddr("100.65.1.2")}
	netnstest.Link(t, r.ns, "100.64.1.1/30", router, "100.64.1.2/30")
	router.Run("ip", "route", "add", pool, "via", "100.64.1.1")
	netnstest.Link(t, router, "100.65.1.1/30", s.gw, "100.65.1.2/30")
	router.Forward()
	router.Run("nft", "add table ip nat; add chain ip nat post { type nat hook postrouting priority 100; }; add rule ip nat post ip saddr 100.65.1.0/30 masquerade")
	s.gw.Run("ip", "route", "add", pool, "via", "100.65.1.1")
	s.addLAN(1, nil)
	dns.Set(name, netip.MustParseAddr("100.64.1.2"))
	s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: script})

	r.waitConnection(c, 30*time.Second, "Connected", connected)
	ping(t, host, s.host, 15*time.Second)
}

// fqdnRegion starts a region whose names resolve at a DNS server of the
// test's, in the region's namespace, read again every second.
func fqdnRegion(t *testing.T) (*region, *dnstest.Server) {
	t.Helper()
	ns := netnstest.New(t, "rg")
	var conn net.PacketConn
	if err := ns.Do(func() (err error) {
		conn, err = net.ListenPacket("udp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	dns := dnstest.Serve(t, conn)
	return newRegion(t, regionOptions{pool: pool, ns: ns, args: []string{"--dns-server", dns.Addr(), "--fqdn-refresh", "1s"}}), dns
}
