package region

import (
	"context"
	"fmt"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// usageVNet makes a region with a VNet of n /24 subnets and one interface
// in each.
func usageVNet(tb testing.TB, n int) (*Region, arm.ID) {
	tb.Helper()
	ctx := context.Background()
	reg, _ := openRegion(tb, Config{})
	const sub, rg, loc = "eeeeeeee-0000-0000-0000-0000000000a1", "rg", "westeurope"
	if _, _, err := reg.PutGroup(ctx, arm.ResourceGroupID(sub, rg), &arm.ResourceGroup{Location: loc}); err != nil {
		tb.Fatal(err)
	}
	id := arm.NetworkID(sub, rg, "virtualNetworks", "v")
	v := &arm.VirtualNetwork{Resource: arm.Resource{Location: loc}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.0.0.0/8"}}
	for i := range n {
		v.Properties.Subnets = append(v.Properties.Subnets, arm.Subnet{Name: fmt.Sprintf("s%03d", i),
			Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}})
	}
	if _, _, err := reg.PutVirtualNetwork(ctx, id, v); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		nic := &arm.NetworkInterface{Resource: arm.Resource{Location: loc}}
		nic.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ipconfig1",
			Properties: arm.NetworkInterfaceIPConfigurationProperties{Subnet: arm.Ref(id.Child("subnets", fmt.Sprintf("s%03d", i)).String())}}}
		if _, _, err := reg.PutNetworkInterface(ctx, arm.NetworkID(sub, rg, "networkInterfaces", fmt.Sprintf("n%03d", i)), nic); err != nil {
			tb.Fatal(err)
		}
	}
	return reg, id
}

// TestVNetUsagesCounts: each subnet's usage counts the interface in it and
// no other's, page by page.
func TestVNetUsagesCounts(t *testing.T) {
	reg, id := usageVNet(t, 20)
	seen := 0
	for page := (Page{Max: 7}); ; {
		us, next, err := reg.VNetUsages(id, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range us {
			if u.CurrentValue != 1 || u.Limit != 251 {
				t.Errorf("%s: %v of %v in use, want 1 of 251", u.ID, u.CurrentValue, u.Limit)
			}
		}
		seen += len(us)
		if next == "" {
			break
		}
		page.After = next
	}
	if seen != 20 {
		t.Errorf("%d usages, want 20", seen)
	}
}

// BenchmarkVNetUsages: a page of usages of a VNet of 200 subnets with an
// interface each.
func BenchmarkVNetUsages(b *testing.B) {
	reg, id := usageVNet(b, 200)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := reg.VNetUsages(id, Page{Max: 1000}); err != nil {
			b.Fatal(err)
		}
	}
}
