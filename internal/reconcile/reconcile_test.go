package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

const sub = "dddddddd-0000-0000-0000-000000000004"

type fixture struct {
	reg   *region.Region
	eng   *dataplane.Engine
	opts  dataplane.Options
	place Placement // the loop's, nil for a single node
	stop  func()    // stops the loop and closes the engine
}

// run starts an engine and the loop over it.
func (f *fixture) run(t *testing.T) {
	f.eng = dataplane.New(f.opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, f.reg, f.eng, f.place, testLogger(t))
		close(done)
	}()
	eng := f.eng
	f.stop = func() {
		cancel()
		<-done
		eng.Close()
	}
}

// restart stops the loop and the engine and starts new ones over the
// same store, as a restart of serve does.
func (f *fixture) restart(t *testing.T) {
	f.stop()
	f.run(t)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, dataplane.Options{})
}

// newFixtureWith runs the loop over an engine with opts.
func newFixtureWith(t *testing.T, opts dataplane.Options) *fixture {
	t.Helper()
	return newFixturePlaced(t, opts, nil)
}

// newFixturePlaced runs the loop, with place, over an engine with opts.
func newFixturePlaced(t *testing.T, opts dataplane.Options, place Placement) *fixture {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := region.ParsePool("127.10.0.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{reg: reg, opts: opts, place: place}
	f.run(t)
	t.Cleanup(func() {
		f.stop()
		reg.Close()
		st.Close()
	})
	return f
}

func (f *fixture) vnet(t *testing.T, rg, name, space string, subnets ...arm.Subnet) arm.ID {
	t.Helper()
	ctx := context.Background()
	if _, _, err := f.reg.PutGroup(ctx, arm.ResourceGroupID(sub, rg), &arm.ResourceGroup{Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	id := arm.NetworkID(sub, rg, "virtualNetworks", name)
	v := &arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{space}}
	v.Properties.Subnets = subnets
	if _, _, err := f.reg.PutVirtualNetwork(ctx, id, v); err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) nic(t *testing.T, rg, name string, subnet arm.ID) (arm.ID, netip.Addr) {
	t.Helper()
	id := arm.NetworkID(sub, rg, "networkInterfaces", name)
	n := &arm.NetworkInterface{Resource: arm.Resource{Location: "westeurope"}}
	n.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ip", Properties: arm.NetworkInterfaceIPConfigurationProperties{Subnet: arm.Ref(subnet.String())}}}
	out, _, err := f.reg.PutNetworkInterface(context.Background(), id, n)
	if err != nil {
		t.Fatal(err)
	}
	return id, netip.MustParseAddr(out.Properties.IPConfigurations[0].Properties.PrivateIPAddress)
}

// waitHost waits for the reconcile loop to start a network interface.
func (f *fixture) waitHost(t *testing.T, id arm.ID) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := f.eng.NetstackHost(id.Key()); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s was not started: %+v", id.Name(), f.eng.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// twoHosts makes a VNet with two network interfaces, from and to, in one
// subnet and waits until both hosts run. It returns the VNet, the
// interfaces, the host of from and the address of to.
func (f *fixture) twoHosts(t *testing.T, from, to string) (v, a, b arm.ID, h *fabric.NetstackHost, bAddr netip.Addr) {
	t.Helper()
	v = f.vnet(t, "rg", "v", "10.1.0.0/16", arm.Subnet{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: "10.1.0.0/24"}})
	a, _ = f.nic(t, "rg", from, v.Child("subnets", "default"))
	b, bAddr = f.nic(t, "rg", to, v.Child("subnets", "default"))
	f.waitHost(t, a)
	f.waitHost(t, b)
	h, _ = f.eng.NetstackHost(a.Key())
	return v, a, b, h, bAddr
}

// TestHostsFollowTheAPI covers R42 end to end inside one VNet: network
// interfaces created through the region become hosts that reach each other;
// a deleted one goes away.
func TestHostsFollowTheAPI(t *testing.T) {
	f := newFixture(t)
	_, _, db, h, dbAddr := f.twoHosts(t, "web", "db")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Ping(ctx, dbAddr); err != nil {
		t.Fatal(err)
	}
	body, err := h.HTTPGet(ctx, dbAddr)
	if err != nil || !strings.Contains(body, "hello from db") {
		t.Fatalf("HTTP web -> db: %q %v", body, err)
	}
	if _, err := f.reg.Delete(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := f.eng.NetstackHost(db.Key()); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted interface's host still runs")
		}
		time.Sleep(10 * time.Millisecond)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if _, err := h.Ping(short, dbAddr); err == nil {
		t.Fatal("the deleted host still answers")
	}
}

// TestStatusWritesKeepTheirPace: while traffic changes the counters all
// the time, the loop writes them at StatusInterval, not at each fast pass
// (FastStatusInterval, right after a change: here the hosts' creation)
// nor again after each of its own writes.
func TestStatusWritesKeepTheirPace(t *testing.T) {
	f := newFixture(t)
	v, _, _, h, bAddr := f.twoHosts(t, "a", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const window = 3 * time.Second // within FastStatusPeriod
	start := f.reg.Snapshot().Rev
	for end := time.Now().Add(window); time.Now().Before(end); {
		if _, err := h.Ping(ctx, bAddr); err != nil {
			t.Fatal(err)
		}
	}
	writes := f.reg.Snapshot().Rev - start
	if max := int64(window/StatusInterval) + 2; writes > max {
		t.Fatalf("%d store writes in %s of traffic, want at most %d (one per %s)", writes, window, max, StatusInterval)
	}
	if writes == 0 {
		t.Fatal("no status written while the counters changed")
	}
	// The status read and handed last in the window may still be on its
	// way to the store (written by a goroutine of its own; past
	// FastStatusPeriod, the next read is StatusInterval away), so wait
	// for it to show the traffic.
	var st region.VNetStatus
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := json.Unmarshal(f.reg.Snapshot().Status(v.Key()), &st)
		if err == nil && st.Forwarded > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("VNet status %+v (%v): the traffic is not counted", st, err)
		}
	}
}

// TestHostStateShows: GET of a network interface tells whether its host
// runs, and why not.
func TestHostStateShows(t *testing.T) {
	f := newFixture(t)
	_, web, _, _, _ := f.twoHosts(t, "web", "db")
	ghost := arm.NetworkID(sub, "rg", "networkInterfaces", "ghost")
	n := &arm.NetworkInterface{Resource: arm.Resource{Location: "westeurope"}}
	n.Properties.Attachment = &arm.Attachment{Kind: region.AttachTUN, NetNS: "vnetgw-no-such-namespace"}
	n.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ip", Properties: arm.NetworkInterfaceIPConfigurationProperties{
		Subnet: arm.Ref(arm.NetworkID(sub, "rg", "virtualNetworks", "v").Child("subnets", "default").String())}}}
	if _, _, err := f.reg.PutNetworkInterface(context.Background(), ghost, n); err != nil {
		t.Fatal(err)
	}
	attachment := func(id arm.ID) arm.Attachment {
		doc, err := f.reg.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		return *doc.(*arm.NetworkInterface).Properties.Attachment
	}
	deadline := time.Now().Add(5 * time.Second)
	for a := attachment(ghost); a.State != region.HostFailed; a = attachment(ghost) {
		if time.Now().After(deadline) {
			t.Fatalf("the failed host shows %+v", a)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a := attachment(ghost); a.Error == "" {
		t.Errorf("no reason given: %+v", a)
	}
	if a := attachment(web); a.State != region.HostRunning || a.Error != "" {
		t.Errorf("the running host shows %+v", a)
	}
}

// gatewayFixture runs the loop over an engine whose gateways listen for
// IKE on free ports of loopback, so that they run without root.
func gatewayFixture(t *testing.T) *fixture {
	t.Helper()
	ike, natt := freeUDPPorts(t)
	return newFixtureWith(t, dataplane.Options{IKEPort: ike, NATTPort: natt})
}

// gateway makes a VNet of space (a /16) in group rg with a subnet
// "default" and a GatewaySubnet, and a route-based gateway in it with
// instances public addresses (two: active-active), with BGP as asn when
// asn > 0. It returns the VNet and the gateway.
func (f *fixture) gateway(t *testing.T, rg, name, space string, asn int64, instances int) (arm.ID, arm.ID) {
	t.Helper()
	ctx := context.Background()
	v := f.vnet(t, rg, name, space,
		arm.Subnet{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0.0/16", ".0.0/24", 1)}},
		arm.Subnet{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0.0/16", ".255.0/27", 1)}})
	id := arm.NetworkID(sub, rg, "virtualNetworkGateways", name+"-gw")
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType, g.Properties.ActiveActive = arm.GatewayTypeVpn, arm.RouteBased, instances > 1
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw2"}
	if asn > 0 {
		g.Properties.EnableBGP, g.Properties.BGPSettings = true, &arm.BGPSettings{ASN: asn}
	}
	for i := range instances {
		pip := arm.NetworkID(sub, rg, "publicIPAddresses", fmt.Sprintf("%s-ip%d", name, i))
		if _, _, err := f.reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}); err != nil {
			t.Fatal(err)
		}
		g.Properties.IPConfigurations = append(g.Properties.IPConfigurations, arm.VirtualNetworkGatewayIPConfiguration{Name: fmt.Sprintf("ip%d", i),
			Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(v.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}})
	}
	if _, _, err := f.reg.PutGateway(ctx, id, g); err != nil {
		t.Fatal(err)
	}
	return v, id
}

// connect makes the VNet-to-VNet connection from gateway from to gateway
// to in group rg, with BGP when withBGP, and returns it.
func (f *fixture) connect(t *testing.T, rg string, from, to arm.ID, withBGP bool) arm.ID {
	t.Helper()
	id := arm.NetworkID(sub, rg, "connections", from.Name()+"-to-"+to.Name())
	c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	c.Properties.ConnectionType, c.Properties.EnableBGP, c.Properties.SharedKey = arm.ConnectionVnet2Vnet, withBGP, "TestKey2026"
	c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(from.String()), arm.Ref(to.String())
	if _, _, err := f.reg.PutConnection(context.Background(), id, c); err != nil {
		t.Fatal(err)
	}
	return id
}
