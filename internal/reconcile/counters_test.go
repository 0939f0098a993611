package reconcile

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
)

// TestCountersGoOnAcrossRestart: a connection's ingress and egress bytes
// (R39) go on from where they were when serve restarts (a new engine
// whose tunnels count from zero): never lower, and higher with traffic
// after the restart.
func TestCountersGoOnAcrossRestart(t *testing.T) {
	ike, natt := freeUDPPorts(t)
	f := newFixtureWith(t, dataplane.Options{IKEPort: ike, NATTPort: natt})
	ctx := context.Background()
	must := func(_ any, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	gw := func(name, space string) (arm.ID, arm.ID) {
		v := f.vnet(t, "count", name, space,
			arm.Subnet{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0.0/16", ".0.0/24", 1)}},
			arm.Subnet{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: strings.Replace(space, ".0.0/16", ".255.0/27", 1)}})
		pip := arm.NetworkID(sub, "count", "publicIPAddresses", name+"-ip")
		must(f.reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}))
		id := arm.NetworkID(sub, "count", "virtualNetworkGateways", name+"-gw")
		g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
		g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
		g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
		g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip",
			Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(v.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
		must(f.reg.PutGateway(ctx, id, g))
		return v, id
	}
	connect := func(from, to arm.ID) arm.ID {
		id := arm.NetworkID(sub, "count", "connections", from.Name()+"-to-"+to.Name())
		c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
		c.Properties.ConnectionType, c.Properties.SharedKey = arm.ConnectionVnet2Vnet, "CountingKey2026"
		c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(from.String()), arm.Ref(to.String())
		must(f.reg.PutConnection(ctx, id, c))
		return id
	}
	va, ga := gw("a", "10.1.0.0/16")
	vb, gb := gw("b", "10.2.0.0/16")
	ab := connect(ga, gb)
	connect(gb, ga)
	ha, _ := f.nic(t, "count", "host-a", va.Child("subnets", "default"))
	hb, hbAddr := f.nic(t, "count", "host-b", vb.Child("subnets", "default"))
	status := func() region.ConnectionStatus {
		var st region.ConnectionStatus
		json.Unmarshal(f.reg.Snapshot().Status(ab.Key()), &st)
		return st
	}
	// traffic pings from a to b until the status shows more than floor
	// both ways, checking that it never shows less.
	traffic := func(floor region.ConnectionStatus, what string) region.ConnectionStatus {
		t.Helper()
		f.waitHost(t, ha)
		f.waitHost(t, hb)
		h, _ := f.eng.NetstackHost(ha.Key())
		deadline := time.Now().Add(30 * time.Second)
		for {
			st := status()
			if st.IngressBytes < floor.IngressBytes || st.EgressBytes < floor.EgressBytes {
				t.Fatalf("%s: the counters went down: %d/%d bytes in/out, were %d/%d", what, st.IngressBytes, st.EgressBytes, floor.IngressBytes, floor.EgressBytes)
			}
			if st.IngressBytes > floor.IngressBytes && st.EgressBytes > floor.EgressBytes {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no traffic counted in 30 s: %+v", what, st)
			}
			pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			h.Ping(pctx, hbAddr)
			cancel()
		}
	}
	before := traffic(region.ConnectionStatus{}, "first run")
	f.restart(t)
	after := traffic(before, "after the restart")
	t.Logf("ingress/egress bytes: %d/%d before the restart, %d/%d after", before.IngressBytes, before.EgressBytes, after.IngressBytes, after.EgressBytes)
}
