package reconcile

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// mirrorPeer is a peer region whose one gateway is at addr, with the
// range of vnet, until gone is set.
type mirrorPeer struct {
	id, vnet string
	addr     netip.Addr
	gone     atomic.Bool
}

func (p *mirrorPeer) Gateway(_ context.Context, id string) (*region.RemoteGateway, error) {
	if p.gone.Load() || !arm.Equal(id, p.id) {
		return nil, fmt.Errorf("%s: %w", id, region.ErrNoRemote)
	}
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{ID: p.id, Name: "far-gw", Location: "northeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	return &region.RemoteGateway{Gateway: g, PublicAddr: p.addr, VNetID: p.vnet, VNetPrefixes: []string{"10.2.0.0/16"}}, nil
}

func (*mirrorPeer) ConnectionsTo(context.Context, string) ([]region.ConnectionTo, error) {
	return nil, nil
}

// TestTunnelCountersGoOnAfterRemoteGone: a connection whose remote
// gateway in another region was gone a while (so that it left the data
// plane) and came back shows in tunnelConnectionStatus the bytes its
// tunnel carried before, and more: they went back to what the tunnel
// carried since.
func TestTunnelCountersGoOnAfterRemoteGone(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	peer := &mirrorPeer{id: arm.NetworkID(sub, "far", "virtualNetworkGateways", "far-gw").String()}
	pool, _ := region.ParsePool("127.10.0.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool, Remotes: peer})
	if err != nil {
		t.Fatal(err)
	}
	ike, natt := freeUDPPorts(t)
	f := &fixture{reg: reg, opts: dataplane.Options{IKEPort: ike, NATTPort: natt}}
	f.run(t)
	t.Cleanup(func() { f.stop(); reg.Close(); st.Close() })
	ctx := context.Background()
	va, ga := f.gateway(t, "gap", "a", "10.1.0.0/16", 0, 1)
	vb, gb := f.gateway(t, "gap", "b", "10.2.0.0/16", 0, 1)
	doc, err := reg.Get(arm.NetworkID(sub, "gap", "publicIPAddresses", "b-ip0"))
	if err != nil {
		t.Fatal(err)
	}
	peer.addr, peer.vnet = netip.MustParseAddr(doc.(*arm.PublicIPAddress).Properties.IPAddress), vb.String()
	// a's connection goes to b as to a gateway of another region; b's
	// comes back to a.
	ab := arm.NetworkID(sub, "gap", "connections", "a-to-far")
	c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	c.Properties.ConnectionType, c.Properties.SharedKey = arm.ConnectionVnet2Vnet, "TestKey2026"
	c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(ga.String()), arm.Ref(peer.id)
	if _, _, err := reg.PutConnection(ctx, ab, c); err != nil {
		t.Fatal(err)
	}
	f.connect(t, "gap", gb, ga, false)
	ha, _ := f.nic(t, "gap", "host-a", va.Child("subnets", "default"))
	hb, hbAddr := f.nic(t, "gap", "host-b", vb.Child("subnets", "default"))
	f.waitHost(t, ha)
	f.waitHost(t, hb)
	h, _ := f.eng.NetstackHost(ha.Key())
	shown := func() arm.ConnectionProperties {
		doc, err := reg.Get(ab)
		if err != nil {
			t.Fatal(err)
		}
		return doc.(*arm.Connection).Properties
	}
	tunnel := func(p arm.ConnectionProperties) (int64, int64) {
		if len(p.TunnelConnectionStatus) == 0 {
			return 0, 0
		}
		return p.TunnelConnectionStatus[0].IngressBytesTransferred, p.TunnelConnectionStatus[0].EgressBytesTransferred
	}
	deadline := time.Now().Add(30 * time.Second)
	for in, out := tunnel(shown()); in == 0 || out == 0; in, out = tunnel(shown()) {
		if time.Now().After(deadline) {
			t.Fatalf("no traffic counted in 30 s: %+v", shown())
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h.Ping(pctx, hbAddr)
		cancel()
	}
	beforeIn, beforeOut := tunnel(shown())
	peer.gone.Store(true)
	deadline = time.Now().Add(4 * region.RemoteRefresh)
	for p := shown(); len(p.TunnelConnectionStatus) > 0; p = shown() {
		if time.Now().After(deadline) {
			t.Fatalf("the remote gateway gone, the connection shows %s: %+v", p.ConnectionStatus, p.TunnelConnectionStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
	peer.gone.Store(false)
	deadline = time.Now().Add(4*region.RemoteRefresh + 30*time.Second)
	for p := shown(); p.ConnectionStatus != region.Connected; p = shown() {
		if time.Now().After(deadline) {
			t.Fatalf("the remote gateway back, the connection shows %s: %s", p.ConnectionStatus, p.ConnectionStatusReason)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if in, out := tunnel(shown()); in < beforeIn || out < beforeOut {
		t.Fatalf("back, the tunnel shows %d/%d bytes in/out; it had carried %d/%d", in, out, beforeIn, beforeOut)
	}
}
