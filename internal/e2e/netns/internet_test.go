package netns

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestInternetEgress covers R43's last words with serve --internet-egress:
// a VNet host (a TUN device in a namespace of its own) opens a TCP
// connection to an Internet address, in a namespace linked to the region's
// the way a node's uplink is, and the far end sees it come from the node's
// address; the effective routes say 0.0.0.0/0 goes to Internet. The
// node's own public addresses are not the Internet's. A user-defined route
// of 0.0.0.0/0 to None cuts the subnet off, and one of the far end's range
// to Internet lets it through again (R26).
func TestInternetEgress(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--internet-egress"}})
	far := netnstest.New(t, "inet")
	node, farAddr := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	netnstest.Link(t, r.ns, node.String()+"/24", far, farAddr.String()+"/24")
	var l net.Listener
	if err := far.Do(func() (err error) {
		l, err = net.Listen("tcp", netip.AddrPortFrom(farAddr, 8080).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "you are %s\n", c.RemoteAddr())
			c.Close()
		}
	}()

	vnet := r.vnet("egress", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	host, _ := r.tunHost(vnet, "web")
	if hop := r.defaultRoute(arm.NetworkID(sub, "egress", "networkInterfaces", "web")); hop != arm.NextHopInternet {
		t.Fatalf("effective route 0.0.0.0/0 goes to %q, want %q", hop, arm.NextHopInternet)
	}
	fetch := func(to netip.Addr, d time.Duration) (line string, err error) {
		deadline := time.Now().Add(d)
		for {
			err = host.Do(func() error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				c, err := (&net.Dialer{}).DialContext(ctx, "tcp", netip.AddrPortFrom(to, 8080).String())
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				line, err = bufio.NewReader(c).ReadString('\n')
				return err
			})
			if err == nil || time.Now().After(deadline) {
				return line, err
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	line, err := fetch(farAddr, 10*time.Second)
	if err != nil {
		t.Fatalf("from a VNet host to %s on the Internet: %v; VNet counters %+v", farAddr, err, r.packetCounters(vnet))
	}
	if !strings.HasPrefix(line, "you are "+node.String()+":") {
		t.Fatalf("the Internet saw the VNet host as %q, want the node's address %s", strings.TrimSpace(line), node)
	}

	vnetID := strings.ToLower(vnet.String())
	if n, ok := r.metric("vnetgw_vnet_internet_flows_total", "vnet", vnetID, "result", "opened"); !ok || n == 0 {
		t.Errorf("vnetgw_vnet_internet_flows_total{result=opened} = %d, %v after a connection to the Internet", n, ok)
	}
	before := r.packetCounters(vnet)
	if _, err := fetch(netip.MustParseAddr("198.51.100.9"), 0); err == nil {
		t.Fatal("a VNet host reached the gateways' public IP pool through the node")
	}
	r.waitPacketCounters(vnet, func(c arm.PacketCounters) bool { return c.DroppedNoRoute > before.DroppedNoRoute })

	rt := arm.NetworkID(sub, "egress", "routeTables", "no-internet")
	table := arm.RouteTable{Resource: arm.Resource{Location: "westeurope"}}
	table.Properties.Routes = []arm.Route{{Name: "none", Properties: arm.RouteProperties{AddressPrefix: "0.0.0.0/0", NextHopType: arm.NextHopNone}}}
	r.put(rt, table, nil)
	var def arm.Subnet
	r.get(vnet.Child("subnets", "default"), &def)
	def.Properties.RouteTable = arm.Ref(rt.String())
	r.put(vnet.Child("subnets", "default"), def, nil)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := fetch(farAddr, 0); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("with a route of 0.0.0.0/0 to None, the VNet host still reaches the Internet after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	table.Properties.Routes = append(table.Properties.Routes, arm.Route{Name: "far", Properties: arm.RouteProperties{AddressPrefix: "192.0.2.0/24", NextHopType: arm.NextHopInternet}})
	r.put(rt, table, nil)
	if _, err := fetch(farAddr, 10*time.Second); err != nil {
		t.Fatalf("with a route of 192.0.2.0/24 to Internet, from a VNet host to %s: %v", farAddr, err)
	}
}

// TestForcedTunnelingBeforeTheInternet: with --internet-egress and forced
// tunneling, Internet-bound traffic goes to the default site (R25), not
// out of the node: a ping (which the way to the Internet does not carry)
// reaches a host with an Internet address on the site's LAN.
func TestForcedTunnelingBeforeTheInternet(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--internet-egress"}})
	vnet := r.vnet("forced", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, _ := r.tunHost(vnet, "web")
	internet := netip.MustParseAddr("203.0.113.5")
	s := newSite(t, r, 1, pool, internet.String()+"/24")
	lgw := r.localGateway("forced", "westeurope", "branch", s.addr, s.lanTS)
	s.charon(gwAddr, s2sKey, "0.0.0.0/0", "10.1.0.0/16")
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.GatewayDefaultSite = arm.Ref(lgw.String())
	r.put(gw, g, nil)
	conn := r.connection(gw, lgw, "hub-to-branch", s2sKey)
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	if hop := r.defaultRoute(arm.NetworkID(sub, "forced", "networkInterfaces", "web")); hop != arm.NextHopGateway {
		t.Fatalf("with forced tunneling and --internet-egress, effective route 0.0.0.0/0 goes to %q, want %q", hop, arm.NextHopGateway)
	}
	ping(t, host, internet, 10*time.Second)
}
