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

// TestPingSeesTheVNetRouter (root): a host of subnet a, a TUN device in a
// namespace, pings a host of subnet b with TTL 1 and the kernel's ping
// prints "Time to live exceeded" from 10.1.1.1, the VNet router's address
// in subnet a, which the data plane gets from the subnets of the VNet; a
// ping to an address of no route prints "Destination Net Unreachable".
func TestPingSeesTheVNetRouter(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	f := newFixture(t)
	ns := netnstest.New(t, "rping")
	v := f.vnet(t, "rg", "v", "10.1.0.0/16",
		arm.Subnet{Name: "a", Properties: arm.SubnetProperties{AddressPrefix: "10.1.1.0/24"}},
		arm.Subnet{Name: "b", Properties: arm.SubnetProperties{AddressPrefix: "10.1.2.0/24"}})
	web := arm.NetworkID(sub, "rg", "networkInterfaces", "web")
	n := &arm.NetworkInterface{Resource: arm.Resource{Location: "westeurope"}}
	n.Properties.Attachment = &arm.Attachment{Kind: region.AttachTUN, NetNS: ns.Name}
	n.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ip", Properties: arm.NetworkInterfaceIPConfigurationProperties{
		Subnet: arm.Ref(v.Child("subnets", "a").String())}}}
	if _, _, err := f.reg.PutNetworkInterface(context.Background(), web, n); err != nil {
		t.Fatal(err)
	}
	db, dbAddr := f.nic(t, "rg", "db", v.Child("subnets", "b"))
	f.waitHost(t, db)
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, err := ns.Try("ping", "-c", "1", "-W", "2", dbAddr.String())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ping %s from the TUN host: %v\n%s", dbAddr, err, out)
		}
	}
	router := netip.MustParseAddr("10.1.1.1")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-t", "1", dbAddr.String()}, "Time to live exceeded"},
		{[]string{"10.9.9.9"}, "Destination Net Unreachable"},
	} {
		out, _ := ns.Try("ping", append([]string{"-c", "1", "-W", "10"}, tc.args...)...)
		if want := "From " + router.String() + " icmp_seq=1 " + tc.want; !strings.Contains(out, want) {
			t.Errorf("ping %s printed\n%s\nwant %q", strings.Join(tc.args, " "), out, want)
		}
	}
}

// TestBuildSubnets: the data plane gets each subnet's prefixes by subnet,
// as its hosts name their subnet, whichever field holds them.
func TestBuildSubnets(t *testing.T) {
	f := newFixture(t)
	v := f.vnet(t, "rg", "v", "10.1.0.0/16",
		arm.Subnet{Name: "a", Properties: arm.SubnetProperties{AddressPrefix: "10.1.1.0/24"}},
		arm.Subnet{Name: "b", Properties: arm.SubnetProperties{AddressPrefixes: []string{"10.1.2.0/24", "10.1.3.0/24"}}})
	host, _ := f.nic(t, "rg", "web", v.Child("subnets", "b"))
	cfg := Build(f.reg.Snapshot())
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
