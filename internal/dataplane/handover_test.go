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

	// The stop of a's gateway is held until hold is closed, as one whose
	// peers do not answer its Deletes is.
	hold, held := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(hold) }) }
	defer release()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 140, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ike := uint16(c.LocalAddr().(*net.UDPAddr).Port)
	c.Close()
	c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 140, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	natt := uint16(c.LocalAddr().(*net.UDPAddr).Port)
	c.Close()
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
	go func() { reconcile.Run(ctx, reg, eng, nodeA, slog.New(slog.DiscardHandler)); close(done) }()
	defer func() { release(); cancel(); <-done; eng.Close() }()

	// A VNet with a gateway, which a runs.
	rctx := context.Background()
	if _, _, err := reg.PutGroup(rctx, arm.ResourceGroupID(sub, "rg"), &arm.ResourceGroup{Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	vnet := arm.NetworkID(sub, "rg", "virtualNetworks", "v")
	v := &arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.1.0.0/16"}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: "10.1.255.0/27"}}}
	if _, _, err := reg.PutVirtualNetwork(rctx, vnet, v); err != nil {
		t.Fatal(err)
	}
	pipID := arm.NetworkID(sub, "rg", "publicIPAddresses", "v-ip")
	pip, _, err := reg.PutPublicIP(rctx, pipID, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"},
		Properties: arm.PublicIPAddressProperties{PublicIPAllocationMethod: arm.Static}})
	if err != nil {
		t.Fatal(err)
	}
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pipID.String())}}}
	if _, _, err := reg.PutGateway(rctx, arm.NetworkID(sub, "rg", "virtualNetworkGateways", "v-gw"), g); err != nil {
		t.Fatal(err)
	}
	// The gateway runs once its IKE socket holds the address's port.
	ikeAddr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(pip.Properties.IPAddress), ike))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.ListenUDP("udp", ikeAddr)
		if errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		if err == nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("a's gateway does not run on %s: %v", ikeAddr, err)
		}
	}

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
	// While the stop is held, b does not get the VNet.
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
