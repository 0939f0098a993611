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

// farRemote returns g as the peer region's gateway, at 127.10.1.9, of the VNet far (10.9.0.0/16).
func farRemote(g arm.VirtualNetworkGateway) *region.RemoteGateway {
	return &region.RemoteGateway{Gateway: g, PublicAddr: netip.MustParseAddr("127.10.1.9"),
		VNetID: arm.NetworkID(sub, "far", "virtualNetworks", "far").String(), VNetPrefixes: []string{"10.9.0.0/16"}}
}

// shownStatus returns connection cid's status and reason ("status: reason") as written from reg's snapshot and the data path's dp.
func shownStatus(t *testing.T, reg *region.Region, dp dataplane.Status, cid arm.ID) string {
	t.Helper()
	for _, st := range statusUpdates(reg.Snapshot(), dp, nil, nil, "", true).byVNet {
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
	return farRemote(g), nil
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
	reason := func() string { return shownStatus(t, reg, dataplane.Status{}, cid) }
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

// bgpPeer is a peer region whose one gateway has BGP, with AS asn (0:
// BGP off).
type bgpPeer struct {
	id  string
	asn atomic.Int64
}

func (p *bgpPeer) Gateway(_ context.Context, id string) (*region.RemoteGateway, error) {
	if !arm.Equal(id, p.id) {
		return nil, fmt.Errorf("%s: %w", id, region.ErrNoRemote)
	}
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{ID: p.id, Name: "far-gw", Location: "northeurope", Etag: fmt.Sprint(p.asn.Load())}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	g.Properties.BGPSettings = &arm.BGPSettings{ASN: 65515, BGPPeeringAddress: "10.9.255.30"}
	if asn := p.asn.Load(); asn != 0 {
		g.Properties.EnableBGP, g.Properties.BGPSettings.ASN = true, asn
	}
	return farRemote(g), nil
}

func (*bgpPeer) ConnectionsTo(context.Context, string) ([]region.ConnectionTo, error) {
	return nil, nil
}

// TestRemoteBGPMisfitReason: a Connected VNet-to-VNet connection with
// enableBgp whose gateway in another region turns BGP off there, or takes
// the ASN of the gateway here, or a reserved one, keeps what was known of
// it and says in its connectionStatusReason why the change was not taken,
// while its tunnel stays Connected: its BGP session cannot come up. The
// change was taken without a word (its BGP peer dropped, or one of its own
// AS), and the connection showed Connected and nothing else.
func TestRemoteBGPMisfitReason(t *testing.T) {
	peer := &bgpPeer{id: arm.NetworkID(sub, "far", "virtualNetworkGateways", "far-gw").String()}
	peer.asn.Store(65020)
	reg, gateway, must := gatewayRegionWith(t, peer)
	gw := gateway("hub", "10.1.0.0/16", false, 65010)
	cid := arm.NetworkID(sub, "aa", "connections", "to-far")
	c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	c.Properties.ConnectionType, c.Properties.SharedKey, c.Properties.EnableBGP = arm.ConnectionVnet2Vnet, "abc123", true
	c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(gw.String()), arm.Ref(peer.id)
	must(reg.PutConnection(context.Background(), cid, c))
	up := dataplane.Status{Connections: map[string]dataplane.ConnectionStatus{cid.Key(): {TunnelState: dataplane.TunnelState{State: region.Connected}}}}
	shown := func() string { return shownStatus(t, reg, up, cid) }
	if s := shown(); s != region.Connected+": " {
		t.Fatalf("while the remote gateway fits: %q", s)
	}
	for _, x := range []struct {
		asn  int64
		want string
	}{
		{0, "enableBgp needs BGP enabled on gateway far-gw"},
		{65010, "both ends of a BGP connection have ASN 65010"},
		{65520, "BGP ASN 65520 is reserved"},
	} {
		peer.asn.Store(x.asn)
		deadline := time.Now().Add(2*region.RemoteRefresh + time.Minute)
		for s := shown(); !strings.HasPrefix(s, region.Connected+": ") || !strings.Contains(s, x.want); s = shown() {
			if time.Now().After(deadline) {
				t.Fatalf("the remote gateway's ASN now %d: %q, want Connected saying %q", x.asn, s, x.want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	peer.asn.Store(65030)
	deadline := time.Now().Add(2*region.RemoteRefresh + time.Minute)
	for s := shown(); s != region.Connected+": "; s = shown() {
		if time.Now().After(deadline) {
			t.Fatalf("the remote gateway fits again (AS 65030): %q", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// movingPeer is a peer region whose one gateway, once moved is set, is
// at another address with a VNet that overlaps hub's (10.1.0.0/16).
type movingPeer struct {
	id    string
	moved atomic.Bool
}

func (p *movingPeer) Gateway(_ context.Context, id string) (*region.RemoteGateway, error) {
	if !arm.Equal(id, p.id) {
		return nil, fmt.Errorf("%s: %w", id, region.ErrNoRemote)
	}
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{ID: p.id, Name: "far-gw", Location: "northeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	rg := farRemote(g)
	if p.moved.Load() {
		rg.Gateway.Etag = "moved"
		rg.PublicAddr, rg.VNetPrefixes = netip.MustParseAddr("127.10.1.10"), []string{"10.1.0.0/16"}
	}
	return rg, nil
}

func (*movingPeer) ConnectionsTo(context.Context, string) ([]region.ConnectionTo, error) {
	return nil, nil
}

// TestRemoteMisfitReasonWhileConnecting: a VNet-to-VNet connection whose
// gateway in another region moved to another address, its VNet now
// overlapping ours, keeps what was known of it; its tunnel, to the old
// address, is Connecting with the silent peer's reason, and its
// connectionStatusReason says both, the misfit first. It said only that
// the old address did not answer, hiding why the new one was not taken.
func TestRemoteMisfitReasonWhileConnecting(t *testing.T) {
	peer := &movingPeer{id: arm.NetworkID(sub, "far", "virtualNetworkGateways", "far-gw").String()}
	reg, gateway, must := gatewayRegionWith(t, peer)
	gw := gateway("hub", "10.1.0.0/16", false)
	cid := arm.NetworkID(sub, "aa", "connections", "to-far")
	c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	c.Properties.ConnectionType, c.Properties.SharedKey = arm.ConnectionVnet2Vnet, "abc123"
	c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(gw.String()), arm.Ref(peer.id)
	must(reg.PutConnection(context.Background(), cid, c))
	silent := "no answer from 127.10.1.9:500 to IKE_SA_INIT yet (sent 3 times since 10:00:00 UTC)"
	trying := dataplane.Status{Connections: map[string]dataplane.ConnectionStatus{cid.Key(): {TunnelState: dataplane.TunnelState{State: region.Connecting, Reason: silent}}}}
	shown := func() string { return shownStatus(t, reg, trying, cid) }
	if s := shown(); s != region.Connecting+": "+silent {
		t.Fatalf("while the remote gateway fits: %q", s)
	}
	peer.moved.Store(true)
	misfit := "the remote gateway, as its region has it now, does not fit the connections made to it here: "
	deadline := time.Now().Add(2*region.RemoteRefresh + time.Minute)
	for s := shown(); !strings.Contains(s, misfit); s = shown() {
		if time.Now().After(deadline) {
			t.Fatalf("the remote gateway moved, its VNet overlapping hub's: %q, want it to say %q", s, misfit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := shown(); !strings.HasPrefix(s, region.Connecting+": "+misfit) || !strings.HasSuffix(s, " | "+silent) {
		t.Fatalf("the remote gateway moved, its VNet overlapping hub's: %q, want Connecting saying the misfit, then %q", s, silent)
	}
}
