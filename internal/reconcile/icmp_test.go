package reconcile

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/region"
)

// tunNIC makes a network interface in subnet whose host is a TUN device
// in namespace ns, and waits until the kernel's ping there reaches to.
func (f *fixture) tunNIC(t *testing.T, rg, name string, subnet arm.ID, ns *netnstest.NS, to netip.Addr) {
	t.Helper()
	id := arm.NetworkID(sub, rg, "networkInterfaces", name)
	n := &arm.NetworkInterface{Resource: arm.Resource{Location: "westeurope"}}
	n.Properties.Attachment = &arm.Attachment{Kind: region.AttachTUN, NetNS: ns.Name}
	n.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ip", Properties: arm.NetworkInterfaceIPConfigurationProperties{
		Subnet: arm.Ref(subnet.String())}}}
	if _, _, err := f.reg.PutNetworkInterface(context.Background(), id, n); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		out, err := ns.Try("ping", "-c", "1", "-W", "2", to.String())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ping %s from the TUN host: %v\n%s", to, err, out)
		}
	}
}

// pingPrints runs the kernel's ping in ns once with args and fails t
// unless it prints want.
func pingPrints(t *testing.T, ns *netnstest.NS, want string, args ...string) {
	t.Helper()
	out, _ := ns.Try("ping", append([]string{"-c", "1", "-W", "10"}, args...)...)
	if !strings.Contains(out, want) {
		t.Errorf("ping %s printed\n%s\nwant %q", strings.Join(args, " "), out, want)
	}
}

// TestPingSeesTheVNetRouter (root): a host of subnet a, a TUN device in a
// namespace, pings a host of subnet b with TTL 1 and gets its answer (the
// VNet is no hop between its hosts, as in Azure); a ping to an address of
// no route prints "Destination Net Unreachable" from 10.1.1.1, the VNet
// router's address in subnet a, which the data plane gets from the
// subnets of the VNet.
func TestPingSeesTheVNetRouter(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	f := newFixture(t)
	ns := netnstest.New(t, "rping")
	v := f.vnet(t, "rg", "v", "10.1.0.0/16",
		arm.Subnet{Name: "a", Properties: arm.SubnetProperties{AddressPrefix: "10.1.1.0/24"}},
		arm.Subnet{Name: "b", Properties: arm.SubnetProperties{AddressPrefix: "10.1.2.0/24"}})
	db, dbAddr := f.nic(t, "rg", "db", v.Child("subnets", "b"))
	f.waitHost(t, db)
	f.tunNIC(t, "rg", "web", v.Child("subnets", "a"), ns, dbAddr)
	pingPrints(t, ns, "1 received", "-t", "1", dbAddr.String())
	pingPrints(t, ns, "From 10.1.1.1 icmp_seq=1 Destination Net Unreachable", "10.9.9.9")
}

// TestPingSeesTheGateways (root): a host of VNet a, a TUN device in a
// namespace, pings a host of VNet b through the VNets' connected gateways,
// as Azure's traceroute shows that way: with TTL 1 "Time to live exceeded"
// comes from VNet a's router on its gateway's side (10.1.0.1, in the
// host's subnet), with TTL 2 from VNet b's where the packet came in
// (10.2.255.1, in its GatewaySubnet), and with TTL 3 the host answers.
func TestPingSeesTheGateways(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	f := gatewayFixture(t)
	ns := netnstest.New(t, "rhops")
	va, ga := f.gateway(t, "hops", "a", "10.1.0.0/16", 0, 1)
	vb, gb := f.gateway(t, "hops", "b", "10.2.0.0/16", 0, 1)
	f.connect(t, "hops", ga, gb, false)
	f.connect(t, "hops", gb, ga, false)
	hb, hbAddr := f.nic(t, "hops", "host-b", vb.Child("subnets", "default"))
	f.waitHost(t, hb)
	f.tunNIC(t, "hops", "host-a", va.Child("subnets", "default"), ns, hbAddr)
	pingPrints(t, ns, "From 10.1.0.1 icmp_seq=1 Time to live exceeded", "-t", "1", hbAddr.String())
	pingPrints(t, ns, "From 10.2.255.1 icmp_seq=1 Time to live exceeded", "-t", "2", hbAddr.String())
	pingPrints(t, ns, "1 received", "-t", "3", hbAddr.String())
}

// TestBuildSubnets: the data plane gets each subnet's prefixes by subnet,
// as its hosts name their subnet, whichever field holds them.
func TestBuildSubnets(t *testing.T) {
	f := newFixture(t)
	v := f.vnet(t, "rg", "v", "10.1.0.0/16",
		arm.Subnet{Name: "a", Properties: arm.SubnetProperties{AddressPrefix: "10.1.1.0/24"}},
		arm.Subnet{Name: "b", Properties: arm.SubnetProperties{AddressPrefixes: []string{"10.1.2.0/24", "10.1.3.0/24"}}})
	host, _ := f.nic(t, "rg", "web", v.Child("subnets", "b"))
	cfg := Build(f.reg.Snapshot(), nil)
	if len(cfg.VNets) != 1 || len(cfg.VNets[0].Hosts) != 1 {
		t.Fatalf("built %+v", cfg.VNets)
	}
	vc := cfg.VNets[0]
	got := vc.Subnets[vc.Hosts[0].Subnet]
	if len(got) != 2 || got[0] != netip.MustParsePrefix("10.1.2.0/24") || got[1] != netip.MustParsePrefix("10.1.3.0/24") {
		t.Fatalf("subnet of %s: %v; subnets %v", host.Name(), got, vc.Subnets)
	}
	if a := vc.Subnets[v.Child("subnets", "a").Key()]; len(a) != 1 || a[0] != netip.MustParsePrefix("10.1.1.0/24") {
		t.Fatalf("subnet a: %v", a)
	}
}
