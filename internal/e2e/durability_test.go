package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
)

const durSub = "cccccccc-0000-0000-0000-000000000003"

// TestRestartKeepsState stops serve cleanly and starts it again on the same
// data directory: everything is still there, the token and CA are the same,
// and the next public address is still not the one just released (R20).
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir)
	ctx := context.Background()
	c := s.client()
	rg := arm.ResourceGroupID(durSub, "rg")
	if _, err := c.Put(ctx, rg, arm.ResourceGroup{Location: "westeurope"}, nil); err != nil {
		t.Fatal(err)
	}
	vnet := arm.NetworkID(durSub, "rg", "virtualNetworks", "vnet")
	v := arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.0.0.0/16"}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: "10.0.255.0/27"}}}
	if _, err := c.Put(ctx, vnet, v, nil); err != nil {
		t.Fatal(err)
	}
	pip := arm.NetworkID(durSub, "rg", "publicIPAddresses", "pip")
	if _, err := c.Put(ctx, pip, arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}, nil); err != nil {
		t.Fatal(err)
	}
	gwID := arm.NetworkID(durSub, "rg", "virtualNetworkGateways", "gw")
	gw := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	gw.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	if _, err := c.Put(ctx, gwID, gw, nil); err != nil {
		t.Fatal(err)
	}
	var before arm.PublicIPAddress
	if err := c.Get(ctx, pip, &before); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, gwID); err != nil {
		t.Fatal(err)
	}
	token := s.token()
	s.stop()

	s = startServe(t, dir)
	if s.token() != token {
		t.Fatal("the admin token changed across a restart")
	}
	c = s.client() // the same CA must still verify the server
	var got arm.VirtualNetwork
	if err := c.Get(ctx, vnet, &got); err != nil {
		t.Fatalf("VNet after restart: %v", err)
	}
	if len(got.Properties.Subnets) != 1 || got.Properties.Subnets[0].Name != "GatewaySubnet" {
		t.Fatalf("VNet after restart: %+v", got.Properties)
	}
	if _, err := c.Put(ctx, gwID, gw, nil); err != nil {
		t.Fatal(err)
	}
	var after arm.PublicIPAddress
	if err := c.Get(ctx, pip, &after); err != nil {
		t.Fatal(err)
	}
	if after.Properties.IPAddress == "" || after.Properties.IPAddress == before.Properties.IPAddress {
		t.Fatalf("R20: after a restart the gateway got %q again (before: %q)", after.Properties.IPAddress, before.Properties.IPAddress)
	}
}

// TestKill9LosesNoAcknowledgedWrite kills serve with SIGKILL in the middle of
// a burst of PUTs from several clients, starts it again, and checks that
// every PUT that was answered with success is there, with its content. The
// PUTs sent before the kill and never answered prove that it struck in the
// middle of the burst.
func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir)
	ctx := context.Background()
	c := s.client()
	if _, err := c.Put(ctx, arm.ResourceGroupID(durSub, "rg"), arm.ResourceGroup{Location: "westeurope"}, nil); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		id     arm.ID
		prefix string
	}
	var (
		mu       sync.Mutex
		acked    []ack
		count    atomic.Int64
		killing  atomic.Bool
		inFlight atomic.Int64 // sent before the kill, never answered
		wg       sync.WaitGroup
	)
	const workers = 4
	stop := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := arm.NetworkID(durSub, "rg", "localNetworkGateways", fmt.Sprintf("site-%d-%d", w, i))
				prefix := fmt.Sprintf("10.%d.%d.0/24", w, i%256)
				l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
				l.Properties.GatewayIPAddress = "198.51.100.1"
				l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{prefix}}
				sentBeforeKill := !killing.Load()
				if _, err := c.Put(ctx, id, l, nil); err != nil {
					switch {
					case !killing.Load():
						t.Errorf("PUT %s failed before the kill: %v", id.Name(), err)
					case sentBeforeKill:
						inFlight.Add(1) // the server died under it: not acknowledged
					}
					return
				}
				mu.Lock()
				acked = append(acked, ack{id, prefix})
				mu.Unlock()
				count.Add(1)
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for count.Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	killing.Store(true)
	s.kill()
	close(stop)
	wg.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d PUTs were acknowledged before the kill", len(acked))
	}
	if inFlight.Load() == 0 {
		t.Fatal("no PUT was in flight when serve was killed")
	}

	s = startServe(t, dir)
	c = s.client()
	for _, a := range acked {
		var got arm.LocalNetworkGateway
		if err := c.Get(ctx, a.id, &got); err != nil {
			t.Fatalf("acknowledged %s is gone after kill -9: %v", a.id.Name(), err)
		}
		if p := got.Properties.LocalNetworkAddressSpace.AddressPrefixes; len(p) != 1 || p[0] != a.prefix {
			t.Fatalf("acknowledged %s came back with %v, want %s", a.id.Name(), p, a.prefix)
		}
	}
	all, err := client.List[arm.LocalNetworkGateway](ctx, c, arm.ResourceGroupID(durSub, "rg").String()+"/providers/Microsoft.Network/localNetworkGateways")
	if err != nil {
		t.Fatal(err)
	}
	// A PUT in flight may have been stored without its answer; nothing
	// else may appear.
	if n := int64(len(all)); n < int64(len(acked)) || n > int64(len(acked))+inFlight.Load() {
		t.Fatalf("%d stored after kill -9: %d acknowledged, %d in flight", n, len(acked), inFlight.Load())
	}
	t.Logf("%d PUTs acknowledged before kill -9, all present; %d in flight; %d stored in all", len(acked), inFlight.Load(), len(all))
}
