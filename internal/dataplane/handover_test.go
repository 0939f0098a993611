package dataplane_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/reconcile"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// TestHandoverWaitsForTheStop: a VNet moved to another node is released
// (and started there) only once its gateway's stop, which runs in the
// background and may wait seconds for its peers, has ended on the node
// that ran it: the gateway's public address, on the public interface of
// one node at a time, and its IKE sockets are never the gateway's on two
// nodes at once.
func TestHandoverWaitsForTheStop(t *testing.T) {
	const sub = "dddddddd-0000-0000-0000-000000000140"
	e := etcdtest.Start(t)
	cli := e.Client(t)
	st := etcd.New(cli, "/r/state/", etcd.Options{History: -1})
	pool, _ := region.ParsePool("127.140.0.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool, MaxTxnOps: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	nodeA, err := cluster.Join(context.Background(), cli, cluster.Options{Prefix: "/r/cluster/", Name: "a", TTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer nodeA.Close()

	a := startHeldGateway(t, reg, nodeA, sub, netip.MustParseAddr("127.140.0.1"))
	defer a.stop()
	held, release, vnet, rctx := a.held, a.release, a.vnet, context.Background()

	nodeB, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/r/cluster/", Name: "b", TTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer nodeB.Close()
	vkey := strings.ToLower(vnet.String())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err = nodeA.Move(rctx, vkey, "b"); !errors.Is(err, cluster.ErrNoSuchNode) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("a did not stop its gateway after the move")
	}
	// While the stop is held, a keeps the gateway's sockets (a planned
	// handover tells the peers), and b does not get the VNet.
	if err := bound(a.ike); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("a let go of %s before its gateway's stop ended: %v", a.ike, err)
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if nodeB.Place(rctx, []string{vkey}, nil)[vkey] {
			t.Fatal("b runs the VNet while a's gateway is still stopping on the same public address")
		}
	}
	release()
	for deadline := time.Now().Add(20 * time.Second); !nodeB.Place(rctx, []string{vkey}, nil)[vkey]; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b does not run the VNet after a's gateway stopped")
		}
	}
}

// heldGateway is a node's engine and loop, running a VNet with a gateway
// whose stop in the background is held until release is called, as one
// whose peers do not answer its Deletes is.
type heldGateway struct {
	vnet arm.ID
	// ike and natt are the gateway's IKE and NAT-T sockets' addresses.
	ike, natt *net.UDPAddr
	held      chan struct{} // closed as the stop begins
	release   func()
	stop      func()
}

// startHeldGateway runs node's loop over reg (subscription sub, the pool's
// first address first) with a gateway, and returns once the gateway's IKE
// socket is bound.
func startHeldGateway(t *testing.T, reg *region.Region, node *cluster.Node, sub string, first netip.Addr) *heldGateway {
	t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	freePort := func() uint16 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(first, 0)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port)
	}
	ike, natt := freePort(), freePort()
	eng := dataplane.New(dataplane.WithLeaveHook(dataplane.Options{IKEPort: ike, NATTPort: natt}, func() {
		select {
		case <-held:
		default:
			close(held)
		}
		<-hold
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { reconcile.Run(ctx, reg, eng, node, slog.New(slog.DiscardHandler)); close(done) }()
	h := &heldGateway{held: held, release: release, stop: func() { release(); cancel(); <-done; eng.Close() }}

	// A VNet with a gateway, which node runs.
	rctx := context.Background()
	if _, _, err := reg.PutGroup(rctx, arm.ResourceGroupID(sub, "rg"), &arm.ResourceGroup{Location: "westeurope"}); err != nil {
		h.stop()
		t.Fatal(err)
	}
	h.vnet = arm.NetworkID(sub, "rg", "virtualNetworks", "v")
	v := &arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.1.0.0/16"}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: "10.1.255.0/27"}}}
	if _, _, err := reg.PutVirtualNetwork(rctx, h.vnet, v); err != nil {
		h.stop()
		t.Fatal(err)
	}
	pipID := arm.NetworkID(sub, "rg", "publicIPAddresses", "v-ip")
	pip, _, err := reg.PutPublicIP(rctx, pipID, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"},
		Properties: arm.PublicIPAddressProperties{PublicIPAllocationMethod: arm.Static}})
	if err != nil {
		h.stop()
		t.Fatal(err)
	}
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(h.vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pipID.String())}}}
	if _, _, err := reg.PutGateway(rctx, arm.NetworkID(sub, "rg", "virtualNetworkGateways", "v-gw"), g); err != nil {
		h.stop()
		t.Fatal(err)
	}
	// The gateway runs once its IKE socket holds the address's port.
	addr := netip.MustParseAddr(pip.Properties.IPAddress)
	h.ike, h.natt = net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, ike)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, natt))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := bound(h.ike)
		if errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		if time.Now().After(deadline) {
			h.stop()
			t.Fatalf("the gateway does not run on %s: %v", h.ike, err)
		}
	}
	return h
}

// bound tries to bind addr, and returns the error (EADDRINUSE while a
// socket holds it).
func bound(addr *net.UDPAddr) error {
	c, err := net.ListenUDP("udp", addr)
	if err == nil {
		c.Close()
	}
	return err
}

// TestFencedNodeLetsGoOfTheAddressAtOnce: a node cut off from etcd,
// which fences itself before its lease can end and another node take its
// VNets over, lets go of its gateway's public address and IKE and NAT-T
// sockets as the gateway's stop begins, not once the stop's waits for
// its peers (a BGP peer that reads nothing, 10 s) have ended: the address
// is never on two nodes at once.
func TestFencedNodeLetsGoOfTheAddressAtOnce(t *testing.T) {
	const sub = "dddddddd-0000-0000-0000-000000000151"
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	st := etcd.New(e.Client(t), "/r/state/", etcd.Options{History: -1})
	pool, _ := region.ParsePool("127.151.0.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool, MaxTxnOps: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	nodeA, err := cluster.Join(context.Background(), p.Client(t), cluster.Options{Prefix: "/r/cluster/", Name: "a", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer nodeA.Close()
	a := startHeldGateway(t, reg, nodeA, sub, netip.MustParseAddr("127.151.0.1"))
	defer a.stop()

	cut := time.Now()
	p.Cut()
	select {
	case <-a.held:
	case <-time.After(20 * time.Second):
		t.Fatal("a, cut off from etcd, did not stop its gateway")
	}
	t.Logf("a's gateway began to stop %s after the cut", time.Since(cut).Round(time.Millisecond))
	// The stop is held, as by peers that do not answer: the sockets
	// another node binds once a's lease has ended are free already.
	for _, addr := range []*net.UDPAddr{a.ike, a.natt} {
		if err := bound(addr); err != nil {
			t.Errorf("a, fenced, still holds %s while its gateway's stop waits for its peers: %v", addr, err)
		}
	}
}
