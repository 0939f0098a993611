package region

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// Two regions on one etcd prefix are two nodes of one region: they write
// at once (each gateway takes a public address from the one pool, R20),
// lose races to each other and retry, and each ends with every resource
// and no address given twice.
func TestTwoWritersOnEtcd(t *testing.T) {
	e := etcdtest.Start(t)
	ctx := context.Background()
	pool, _ := ParsePool("127.10.0.0/24")
	var regs []*Region
	for range 2 {
		st := etcd.New(e.Client(t), "/two/", etcd.Options{})
		t.Cleanup(func() { st.Close() })
		reg, err := Open(ctx, Config{Store: st, PublicIPPool: pool, MaxTxnOps: 100})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reg.Close() })
		regs = append(regs, reg)
	}
	const sub, rg, loc, n = "eeeeeeee-0000-0000-0000-0000000000e7", "rg", "westeurope", 8
	if _, _, err := regs[0].PutGroup(ctx, arm.ResourceGroupID(sub, rg), &arm.ResourceGroup{Location: loc}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		reg := regs[i%2]
		wg.Go(func() {
			vnet := arm.NetworkID(sub, rg, "virtualNetworks", fmt.Sprintf("v%d", i))
			v := &arm.VirtualNetwork{Resource: arm.Resource{Location: loc}}
			v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{fmt.Sprintf("10.%d.0.0/16", i)}}
			v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("10.%d.255.0/27", i)}}}
			pip := arm.NetworkID(sub, rg, "publicIPAddresses", fmt.Sprintf("pip%d", i))
			gw := arm.NetworkID(sub, rg, "virtualNetworkGateways", fmt.Sprintf("gw%d", i))
			g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
			g.Properties.VPNType, g.Properties.SKU = arm.RouteBased, &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
			g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
				Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
			for _, put := range []func() error{
				func() error { _, _, err := reg.PutVirtualNetwork(ctx, vnet, v); return err },
				func() error {
					_, _, err := reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: loc}})
					return err
				},
				func() error { _, _, err := reg.PutGateway(ctx, gw, g); return err },
			} {
				if err := put(); err != nil {
					errs <- fmt.Errorf("resources %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for k, reg := range regs {
		deadline := time.Now().Add(5 * time.Second)
		for {
			s := reg.Snapshot()
			addrs := map[string]bool{}
			for _, g := range s.Gateways() {
				for _, a := range s.PublicAddrs(g) {
					addrs[a.String()] = true
				}
			}
			if len(s.Gateways()) == n && len(addrs) == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("region %d sees %d gateways with %d distinct addresses, want %d and %d", k, len(s.Gateways()), len(addrs), n, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
