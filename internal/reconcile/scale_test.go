package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// largeRegion opens a region of gateways VNets in resource group "big",
// each with a VPN gateway and perGateway site-to-site connections
// (seed), on bbolt.
func largeRegion(tb testing.TB, gateways, perGateway int) (*region.Region, []arm.ID) {
	tb.Helper()
	st, err := bolt.Open(filepath.Join(tb.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	conns := seed(tb, st, gateways, perGateway, 5000)
	reg, err := region.Open(context.Background(), region.Config{Store: st})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { reg.Close() })
	return reg, conns
}

// seed writes to st, for a region to open, gateways VNets in resource
// group "big", each with a VPN gateway and perGateway site-to-site
// connections, to a site each, and returns the connections. The
// resources go to the store as the region keeps them ("res/" + the
// lower-cased id, region/model.go), up to chunk in a transaction: made
// one PUT at a time, each checked against all the others, they would
// take minutes.
func seed(tb testing.TB, st store.Store, gateways, perGateway, chunk int) []arm.ID {
	tb.Helper()
	var ops []store.Op
	put := func(id arm.ID, doc any) {
		b, err := json.Marshal(doc)
		if err != nil {
			tb.Fatal(err)
		}
		ops = append(ops, store.Put("res/"+strings.ToLower(id.String()), b))
	}
	const loc = "westeurope"
	res := func(id arm.ID) arm.Resource {
		return arm.Resource{ID: id.String(), Name: id.Name(), Type: id.Type(), Location: loc}
	}
	rg := arm.ResourceGroupID(sub, "big")
	put(rg, &arm.ResourceGroup{ID: rg.String(), Name: "big", Location: loc})
	var conns []arm.ID
	for i := range gateways {
		name := fmt.Sprintf("v%d", i)
		v := arm.NetworkID(sub, "big", "virtualNetworks", name)
		space := fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
		vn := &arm.VirtualNetwork{Resource: res(v)}
		vn.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{space}}
		gwSubnet := v.Child("subnets", "GatewaySubnet")
		vn.Properties.Subnets = []arm.Subnet{{ID: gwSubnet.String(), Name: "GatewaySubnet",
			Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0/24", ".224/27", 1)}}}
		put(v, vn)
		pip := arm.NetworkID(sub, "big", "publicIPAddresses", name+"-ip")
		ip := &arm.PublicIPAddress{Resource: res(pip)}
		ip.Properties.IPAddress = fmt.Sprintf("127.197.%d.%d", i/256, i%256)
		put(pip, ip)
		gid := arm.NetworkID(sub, "big", "virtualNetworkGateways", name+"-gw")
		g := &arm.VirtualNetworkGateway{Resource: res(gid)}
		g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
		g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw2", Tier: "VpnGw2"}
		g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{ID: gid.Child("ipConfigurations", "ip0").String(), Name: "ip0",
			Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(gwSubnet.String()), PublicIPAddress: arm.Ref(pip.String()),
				PrivateIPAddress: strings.Replace(space, ".0/24", ".228", 1)}}}
		put(gid, g)
		for j := range perGateway {
			k := i*perGateway + j
			site := fmt.Sprintf("s%d", k)
			lid := arm.NetworkID(sub, "big", "localNetworkGateways", site)
			l := &arm.LocalNetworkGateway{Resource: res(lid)}
			l.Properties.GatewayIPAddress = fmt.Sprintf("198.18.%d.%d", k/256, k%256)
			l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{fmt.Sprintf("11.%d.%d.0/24", k/256, k%256)}}
			put(lid, l)
			cid := arm.NetworkID(sub, "big", "connections", name+"-to-"+site)
			c := &arm.Connection{Resource: res(cid)}
			c.Properties.ConnectionType, c.Properties.SharedKey, c.Properties.ConnectionProtocol = arm.ConnectionIPsec, "BenchKey2026", arm.IKEv2
			c.Properties.DPDTimeoutSeconds = region.DefaultDPDTimeoutSeconds
			c.Properties.VirtualNetworkGateway1, c.Properties.LocalNetworkGateway2 = arm.Ref(gid.String()), arm.Ref(lid.String())
			put(cid, c)
			conns = append(conns, cid)
		}
	}
	for len(ops) > 0 {
		n := min(len(ops), chunk)
		if _, err := st.Txn(context.Background(), nil, ops[:n]); err != nil {
			tb.Fatal(err)
		}
		ops = ops[n:]
	}
	return conns
}

// cpuTime is the CPU time the process has used, in every thread: on a
// busy machine a benchmark's wall time says little.
func cpuTime(tb testing.TB) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// TestBuildLargeRegion: Build of a region of 1,000 gateways with 10,000
// connections runs every gateway, with its connections and each of them
// routed in its VNet.
func TestBuildLargeRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("a large region")
	}
	reg, _ := largeRegion(t, 1000, 10)
	cfg := Build(reg.Snapshot(), nil)
	if len(cfg.VNets) != 1000 || len(cfg.Gateways) != 1000 {
		t.Fatalf("%d VNets and %d gateways, want 1000 each", len(cfg.VNets), len(cfg.Gateways))
	}
	for i, g := range cfg.Gateways {
		if len(g.Connections) != 10 {
			t.Fatalf("gateway %s has %d connections, want 10", g.ID, len(g.Connections))
		}
		for _, c := range g.Connections {
			if len(c.Routes) != 1 {
				t.Fatalf("connection %s routes %v, want its site's range", c.ID, c.Routes)
			}
		}
		if v := cfg.VNets[i]; len(v.Routes) != 10 {
			t.Fatalf("VNet %s routes %d ranges to its gateway, want its 10 sites'", v.ID, len(v.Routes))
		}
	}
}

// BenchmarkBuild10k: Build of a region of 1,000 gateways with 10,000
// site-to-site connections, which the loop runs after every change of
// the configuration; cpu-ns/op is the CPU time of the process.
func BenchmarkBuild10k(b *testing.B) {
	reg, _ := largeRegion(b, 1000, 10)
	snap := reg.Snapshot()
	runtime.GC() // not the setup's garbage
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	for b.Loop() {
		Build(snap, nil)
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkConnectionPut10k: a PUT of a connection, as it was, in the
// region of BenchmarkBuild10k: its checks, the write to the store and
// its coming back; cpu-ns/op is the CPU time of the process.
func BenchmarkConnectionPut10k(b *testing.B) {
	reg, conns := largeRegion(b, 1000, 10)
	ctx := context.Background()
	id := conns[len(conns)/2]
	// Its body as a client sends it again: the shared key left out.
	c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	c.Properties.ConnectionType = arm.ConnectionIPsec
	c.Properties.VirtualNetworkGateway1 = arm.Ref(arm.NetworkID(sub, "big", "virtualNetworkGateways", "v500-gw").String())
	c.Properties.LocalNetworkGateway2 = arm.Ref(arm.NetworkID(sub, "big", "localNetworkGateways", "s5000").String())
	runtime.GC() // not the setup's garbage
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	for b.Loop() {
		if _, _, err := reg.PutConnection(ctx, id, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}
