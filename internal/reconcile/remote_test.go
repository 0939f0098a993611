package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
)

// vanishingPeer is a peer region whose one gateway is there until gone
// is set (deleted in its region).
type vanishingPeer struct {
	id   string
	gone atomic.Bool
}

func (p *vanishingPeer) Gateway(_ context.Context, id string) (*region.RemoteGateway, error) {
	if p.gone.Load() || !arm.Equal(id, p.id) {
		return nil, fmt.Errorf("%s: %w", id, region.ErrNoRemote)
	}
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{ID: p.id, Name: "far-gw", Location: "northeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	return &region.RemoteGateway{Gateway: g, PublicAddr: netip.MustParseAddr("127.10.1.9"),
		VNetID: arm.NetworkID(sub, "far", "virtualNetworks", "far").String(), VNetPrefixes: []string{"10.9.0.0/16"}}, nil
}

func (*vanishingPeer) ConnectionsTo(context.Context, string) ([]region.ConnectionTo, error) {
	return nil, nil
}

// TestRemoteGatewayGoneReason: a VNet-to-VNet connection whose gateway
// in another region was deleted there is NotConnected, saying that no
// peer region has the gateway. It said "the remote end has no IP
// address: a remote gateway without a public address yet", which sent
// whoever read it to wait for an address that was never coming.
func TestRemoteGatewayGoneReason(t *testing.T) {
	peer := &vanishingPeer{id: arm.NetworkID(sub, "far", "virtualNetworkGateways", "far-gw").String()}
	reg, gateway, must := gatewayRegionWith(t, peer)
	gw := gateway("hub", "10.1.0.0/16", false)
	cid := arm.NetworkID(sub, "aa", "connections", "to-far")
	c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	c.Properties.ConnectionType, c.Properties.SharedKey = arm.ConnectionVnet2Vnet, "abc123"
	c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(gw.String()), arm.Ref(peer.id)
	must(reg.PutConnection(context.Background(), cid, c))
	reason := func() string {
		for _, st := range statusUpdates(reg.Snapshot(), dataplane.Status{}, nil, nil, "", true).byVNet {
			if b, ok := st[cid.Key()]; ok {
				var cs region.ConnectionStatus
				if err := json.Unmarshal(b, &cs); err != nil {
					t.Fatal(err)
				}
				return cs.ConnectionStatus + ": " + cs.Reason
			}
		}
		return "no status"
	}
	if r := reason(); strings.Contains(r, "peer region") {
		t.Fatalf("while the remote gateway is there: %s", r)
	}
	peer.gone.Store(true)
	want := "NotConnected: no peer region has the remote gateway"
	deadline := time.Now().Add(2*region.RemoteRefresh + time.Minute)
	for r := reason(); !strings.HasPrefix(r, want); r = reason() {
		if time.Now().After(deadline) {
			t.Fatalf("after the remote gateway was deleted: %q, want %q...", r, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
