package region

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
	"github.com/vnetgw/vnetgw/internal/store/storetest"
)

// Two regions on one etcd prefix are two nodes of one region: they write
// at once (each gateway takes a public address from the one pool, R20),
// lose races to each other and retry, and each ends with every resource
// and no address given twice. With 64 gateways (32 on each node), a
// write lost 10 races in a row in about one run of three, and was
// refused, before a write that lost waited a random while to try again.
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
	const sub, rg, loc, n = "eeeeeeee-0000-0000-0000-0000000000e7", "rg", "westeurope", 64
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

// TestLargeWritesOnEtcd: a change too large for etcd's requests (1.5 MiB)
// is refused with an ARM error that says so (it was a 500 with etcd's
// words), whether the region knows the limit or the store tells it; tags
// are held to Azure's limits before anything is written.
func TestLargeWritesOnEtcd(t *testing.T) {
	e := etcdtest.Start(t)
	ctx := context.Background()
	const sub, loc = "eeeeeeee-0000-0000-0000-0000000000e8", "westeurope"
	rg := strings.Repeat("g", 90) // the longest names: the longest ids
	vnet := strings.Repeat("v", 80)
	// A VNet of 3,000 subnets (Azure's most) with long names: under the
	// API's body limit, and over etcd's once stored.
	big := &arm.VirtualNetwork{Resource: arm.Resource{Location: loc}}
	big.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.0.0.0/8"}}
	for i := range 3000 {
		big.Properties.Subnets = append(big.Properties.Subnets, arm.Subnet{Name: fmt.Sprintf("subnet-%04d-%s", i, strings.Repeat("x", 68)),
			Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}})
	}
	for _, limit := range []int{0, 1400 << 10} {
		st := etcd.New(e.Client(t), fmt.Sprintf("/large%d/", limit), etcd.Options{})
		t.Cleanup(func() { st.Close() })
		reg, err := Open(ctx, Config{Store: st, MaxTxnOps: 100, MaxTxnBytes: limit})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reg.Close() })
		if _, _, err := reg.PutGroup(ctx, arm.ResourceGroupID(sub, rg), &arm.ResourceGroup{Location: loc}); err != nil {
			t.Fatal(err)
		}
		_, _, err = reg.PutVirtualNetwork(ctx, arm.NetworkID(sub, rg, "virtualNetworks", vnet), big)
		var ae *arm.Error
		if !errors.As(err, &ae) || ae.Code != arm.CodeWriteTooLarge {
			t.Errorf("limit %d: a VNet too large for etcd: %v, want %s", limit, err, arm.CodeWriteTooLarge)
		}
		_, _, err = reg.PutGroup(ctx, arm.ResourceGroupID(sub, "tagged"), &arm.ResourceGroup{Location: loc, Tags: map[string]string{"big": strings.Repeat("x", 1600<<10)}})
		if !errors.As(err, &ae) || ae.Code != arm.CodeInvalidTag {
			t.Errorf("limit %d: a tag of 1.6 MiB: %v, want %s", limit, err, arm.CodeInvalidTag)
		}
	}
}

// TestUnreachableEtcdAnswers: with the store out of reach (the connection
// to etcd cut), a read or write answers after SyncTimeout that the store
// is unavailable, instead of waiting as long as the client does.
func TestUnreachableEtcdAnswers(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	ctx := context.Background()
	st := etcd.New(p.Client(t), "/unreachable/", etcd.Options{})
	t.Cleanup(func() { st.Close() })
	reg, err := Open(ctx, Config{Store: st, MaxTxnOps: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	id := arm.ResourceGroupID("eeeeeeee-0000-0000-0000-0000000000e9", "rg")
	if _, _, err := reg.PutGroup(ctx, id, &arm.ResourceGroup{Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { SyncTimeout = d }(SyncTimeout)
	SyncTimeout = time.Second
	p.Cut()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second) // the client's patience
	defer cancel()
	start := time.Now()
	_, _, err = reg.PutGroup(wctx, id, &arm.ResourceGroup{Location: "westeurope", Tags: map[string]string{"a": "b"}})
	var ae *arm.Error
	if !errors.As(err, &ae) || ae.Code != arm.CodeServiceUnavailable || time.Since(start) > 15*time.Second {
		t.Fatalf("a write with etcd cut off: %v after %s, want %s after about %s", err, time.Since(start).Round(time.Millisecond), arm.CodeServiceUnavailable, SyncTimeout)
	}
}

// TestFullEtcdAnswersUnavailable: when etcd's database is at its quota
// (its NOSPACE alarm: no write goes through, however small), a change
// answers 503 ServiceUnavailable with etcd's reason; it was a 500
// InternalServerError that said only to see vnetgw's log.
func TestFullEtcdAnswersUnavailable(t *testing.T) {
	e := etcdtest.StartWith(t, "--quota-backend-bytes", fmt.Sprint(2<<20))
	ctx := context.Background()
	st := etcd.New(e.Client(t), "/full/", etcd.Options{})
	t.Cleanup(func() { st.Close() })
	reg, err := Open(ctx, Config{Store: st, MaxTxnOps: 100, MaxTxnBytes: 1400 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	const sub, loc = "eeeeeeee-0000-0000-0000-0000000000e9", "westeurope"
	if _, _, err := reg.PutGroup(ctx, arm.ResourceGroupID(sub, "before"), &arm.ResourceGroup{Location: loc}); err != nil {
		t.Fatal(err)
	}
	direct := e.Client(t)
	for i := 0; ; i++ {
		if _, err := direct.Put(ctx, fmt.Sprintf("/other/%d", i), strings.Repeat("x", 256<<10)); err != nil {
			t.Logf("etcd full after %d puts of 256 KiB: %v", i, err)
			break
		}
		if i == 100 {
			t.Fatal("etcd at a quota of 2 MiB took 25 MiB")
		}
	}
	_, _, err = reg.PutGroup(ctx, arm.ResourceGroupID(sub, "after"), &arm.ResourceGroup{Location: loc})
	var ae *arm.Error
	if !errors.As(err, &ae) || ae.Code != arm.CodeServiceUnavailable || !strings.Contains(ae.Message, "space") {
		t.Fatalf("a resource group on a full etcd: %v, want %s with etcd's reason", err, arm.CodeServiceUnavailable)
	}
}

// TestTooManyOpsForEtcd: a change of more records than etcd's
// --max-txn-ops (set below the region's bound, 100) is refused with
// WriteTooLarge naming that limit, to be made in smaller steps; it was
// a 500 InternalServerError that said only to see vnetgw's log.
func TestTooManyOpsForEtcd(t *testing.T) {
	e := etcdtest.StartWith(t, "--max-txn-ops", "4")
	ctx := context.Background()
	st := etcd.New(e.Client(t), "/ops/", etcd.Options{})
	t.Cleanup(func() { st.Close() })
	reg, err := Open(ctx, Config{Store: st, MaxTxnOps: 100, MaxTxnBytes: 1400 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	const sub, loc = "eeeeeeee-0000-0000-0000-0000000000ea", "westeurope"
	g := arm.ResourceGroupID(sub, "rg")
	if _, _, err := reg.PutGroup(ctx, g, &arm.ResourceGroup{Location: loc}); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		v := &arm.VirtualNetwork{Resource: arm.Resource{Location: loc}}
		v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{fmt.Sprintf("10.%d.0.0/16", i)}}
		if _, _, err := reg.PutVirtualNetwork(ctx, arm.NetworkID(sub, "rg", "virtualNetworks", fmt.Sprint("v", i)), v); err != nil {
			t.Fatal(err)
		}
	}
	_, err = reg.Delete(ctx, g)
	var ae *arm.Error
	if !errors.As(err, &ae) || ae.Code != arm.CodeWriteTooLarge || !strings.Contains(ae.Message, "--max-txn-ops") {
		t.Fatalf("deleting a group of 4 VNets with etcd's --max-txn-ops at 4: %v, want %s naming --max-txn-ops", err, arm.CodeWriteTooLarge)
	}
}

// A change committed while the store's changes do not come (the watch's
// way to etcd lost, writes still going through) is answered, once
// SyncTimeout has passed, as made: it is in the store. It waited for the
// caller's deadline, and a PUT of the API, which has none, for ever; then
// it was answered with ServiceUnavailable (503), which the Azure SDKs
// retry, a POST too: a connection's sharedkey/reset, made, was made
// again. A read on this node, which has not seen the change, is refused
// with ServiceUnavailable until it has.
func TestCommittedChangeNotSeenIsBounded(t *testing.T) {
	old := SyncTimeout
	SyncTimeout = 2 * time.Second
	t.Cleanup(func() { SyncTimeout = old })
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	direct := etcd.New(e.Client(t), "/seen/", etcd.Options{})
	t.Cleanup(func() { direct.Close() })
	through := etcd.New(p.Client(t), "/seen/", etcd.Options{})
	t.Cleanup(func() { through.Close() })
	pool, _ := ParsePool("127.10.0.0/24")
	ctx := context.Background()
	reg, err := Open(ctx, Config{Store: storetest.WatchVia{Store: direct, Watches: through}, PublicIPPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	const sub, loc = "eeeeeeee-0000-0000-0000-0000000000e8", "westeurope"
	if _, _, err := reg.PutGroup(ctx, arm.ResourceGroupID(sub, "before"), &arm.ResourceGroup{Location: loc}); err != nil {
		t.Fatal(err)
	}
	p.Freeze()  // the watch's stream goes silent,
	p.Isolate() // and no other way to etcd opens
	// Far longer than the bound: a slow machine answers within it.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, _, err = reg.PutGroup(wctx, arm.ResourceGroupID(sub, "after"), &arm.ResourceGroup{Location: loc}); err != nil {
		t.Fatalf("a change whose commit does not come back: %v; want it answered as made", err)
	}
	// A read here, which has not seen the change, is refused as
	// ServiceUnavailable, which a client may try again.
	var ae *arm.Error
	if err := reg.Sync(wctx); !errors.As(err, &ae) || ae.Code != arm.CodeServiceUnavailable {
		t.Fatalf("a read after a change not seen back: %v; want ServiceUnavailable", err)
	}
	kvs, _, err := direct.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, kv := range kvs {
		found = found || strings.Contains(kv.Key, "/resourcegroups/after")
	}
	if !found {
		t.Fatalf("the change said made is not in the store: %d keys", len(kvs))
	}
}
