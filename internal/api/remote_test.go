package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// peerRegion is another region whose one gateway's answer a test sets:
// a peer region says what it likes.
type peerRegion struct {
	mu sync.Mutex
	rg region.RemoteGateway
}

func (p *peerRegion) Gateway(_ context.Context, id string) (*region.RemoteGateway, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !strings.Contains(strings.ToLower(id), subB) {
		return nil, fmt.Errorf("%s: %w", id, region.ErrNoRemote)
	}
	rg := p.rg
	return &rg, nil
}

func (*peerRegion) ConnectionsTo(context.Context, string) ([]region.ConnectionTo, error) {
	return nil, nil
}

// set makes the peer's gateway id answer with its VNet of prefixes and
// BGP peering address bgp ("": no BGP).
func (p *peerRegion) set(id string, prefixes []string, bgp string) {
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{ID: id, Name: "gw", Location: loc}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, "RouteBased"
	if bgp != "" {
		g.Properties.EnableBGP = true
		g.Properties.BGPSettings = &arm.BGPSettings{ASN: 65020, BGPPeeringAddress: bgp}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rg = region.RemoteGateway{Gateway: g, PublicAddr: netip.MustParseAddr("198.18.0.1"),
		VNetID: netPath(subB, "rg", "virtualNetworks", "vnet"), VNetPrefixes: prefixes}
}

// routesOf lists the prefixes vnet sends to its gateway.
func routesOf(reg *region.Region, vnet string) []string {
	var out []string
	for _, rt := range reg.Snapshot().VNetRoutes(vnet) {
		out = append(out, rt.Prefix.String())
	}
	return out
}

// TestPeerRegionAnswerChecked: a VNet-to-VNet connection to another
// region's gateway is refused when that region's answer would take our
// VNet's addresses: a /0 (also beside a prefix that does not parse), a
// space overlapping ours, a BGP peering address outside its VNet, or
// another gateway than the one asked for.
func TestPeerRegionAnswerChecked(t *testing.T) {
	remoteGW := netPath(subB, "rg", "virtualNetworkGateways", "gw")
	for _, c := range []struct {
		name     string
		prefixes []string
		bgp, id  string
	}{
		{"default route", []string{"0.0.0.0/0"}, "", remoteGW},
		{"default route and junk", []string{"0.0.0.0/0", "bogus"}, "", remoteGW},
		{"our VNet, twice", []string{"10.1.0.0/16", "10.1.0.0/24"}, "", remoteGW},
		{"BGP address in our VNet", []string{"10.2.0.0/16"}, "10.1.0.4", remoteGW},
		{"another gateway", []string{"10.2.0.0/16"}, "", netPath(subB, "rg", "virtualNetworkGateways", "other")},
	} {
		t.Run(c.name, func(t *testing.T) {
			peer := &peerRegion{}
			peer.set(c.id, c.prefixes, c.bgp)
			var reg *region.Region
			e := newEnv(t, envOptions{remotes: peer, reg: &reg})
			s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			r := e.do("PUT", netPath(subA, "rg", "connections", "c"), v2v(loc, s.gw, remoteGW))
			if r.status < 400 {
				t.Fatalf("peer answer %v (BGP %q, id %s) taken: %d; our VNet routes %v to the tunnel", c.prefixes, c.bgp, c.id, r.status, routesOf(reg, s.vnet))
			}
		})
	}
}

// TestPeerRegionChangeChecked: a peer region's fair answer is taken; its
// gateway whose VNet later grows over ours is not taken at the refresh
// (what was known stays); a change that fits is.
func TestPeerRegionChangeChecked(t *testing.T) {
	t.Parallel()
	remoteGW := netPath(subB, "rg", "virtualNetworkGateways", "gw")
	peer := &peerRegion{}
	peer.set(remoteGW, []string{"10.2.0.0/16"}, "10.2.255.254")
	var reg *region.Region
	e := newEnv(t, envOptions{remotes: peer, reg: &reg})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("PUT", netPath(subA, "rg", "connections", "c"), v2v(loc, s.gw, remoteGW))
	if got := routesOf(reg, s.vnet); !slices.Equal(got, []string{"10.2.0.0/16"}) {
		t.Fatalf("routes of our VNet %v, want the peer's 10.2.0.0/16", got)
	}
	peer.set(remoteGW, []string{"10.2.0.0/16", "10.1.0.0/24"}, "")
	time.Sleep(region.RemoteRefresh + time.Second)
	if got := routesOf(reg, s.vnet); !slices.Equal(got, []string{"10.2.0.0/16"}) {
		t.Fatalf("after the peer's VNet grew over ours: routes %v, want 10.2.0.0/16 kept", got)
	}
	peer.set(remoteGW, []string{"10.2.0.0/16", "10.3.0.0/16"}, "")
	deadline := time.Now().Add(2*region.RemoteRefresh + time.Second)
	for !slices.Equal(routesOf(reg, s.vnet), []string{"10.2.0.0/16", "10.3.0.0/16"}) {
		if time.Now().After(deadline) {
			t.Fatalf("after the peer's VNet grew by 10.3.0.0/16: routes %v", routesOf(reg, s.vnet))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// silentRegion is a peer region that never answers until stop is closed
// (or the lookup's context ends).
type silentRegion struct{ stop chan struct{} }

func (p silentRegion) Gateway(ctx context.Context, _ string) (*region.RemoteGateway, error) {
	select {
	case <-p.stop:
	case <-ctx.Done():
	}
	return nil, fmt.Errorf("no answer: %w", context.Cause(ctx))
}

func (p silentRegion) ConnectionsTo(ctx context.Context, _ string) ([]region.ConnectionTo, error) {
	_, err := p.Gateway(ctx, "")
	return nil, err
}

// TestSilentPeerRegionBoundsPut: a VNet-to-VNet connection to another
// region's gateway, while that region does not answer, is refused within
// the bound a write waits for the peers (2 * region.RemoteRefresh) with
// InvalidResourceReference, saying the peer regions could not be asked. The
// lookup had only the request's context: a client without a timeout
// (curl, this test's) waited for ever, a PUT in flight the whole while.
func TestSilentPeerRegionBoundsPut(t *testing.T) {
	t.Parallel()
	peer := silentRegion{stop: make(chan struct{})}
	e := newEnv(t, envOptions{remotes: peer})
	t.Cleanup(func() { close(peer.stop) }) // before the server closes
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	done := make(chan resp, 1)
	go func() {
		done <- e.do("PUT", netPath(subA, "rg", "connections", "c"), v2v(loc, s.gw, netPath(subB, "rg", "virtualNetworkGateways", "gw")))
	}()
	select {
	case r := <-done:
		if r.status != 400 || r.code() != "InvalidResourceReference" || !strings.Contains(r.str("error.message"), "could not be asked") {
			t.Fatalf("PUT while the peer region is silent: %d %s", r.status, r.body)
		}
	case <-time.After(2*region.RemoteRefresh + time.Minute):
		t.Fatal("PUT while the peer region is silent: no answer")
	}
}

// downRegion is a peer region that cannot be reached.
type downRegion struct{}

func (downRegion) Gateway(context.Context, string) (*region.RemoteGateway, error) {
	return nil, errors.New("connect: connection refused")
}

func (downRegion) ConnectionsTo(context.Context, string) ([]region.ConnectionTo, error) {
	return nil, errors.New("connect: connection refused")
}

// TestGatewayChangeWhilePeerRegionDown: a gateway with a VNet-to-VNet
// connection to another region's gateway can be changed by a node that
// started while that region did not answer, and so does not know the
// gateway there: the change was refused, the connection said to go to a
// gateway that "was not found", until the peer answered again.
func TestGatewayChangeWhilePeerRegionDown(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	remoteGW := netPath(subB, "rg", "virtualNetworkGateways", "gw")
	peer := &peerRegion{}
	peer.set(remoteGW, []string{"10.2.0.0/16"}, "")
	e := newEnv(t, envOptions{remotes: peer, store: st})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	c := netPath(subA, "rg", "connections", "c")
	e.must("PUT", c, v2v(loc, s.gw, remoteGW))

	restarted := newEnv(t, envOptions{remotes: downRegion{}, store: st})
	body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	body["tags"] = obj{"owner": "network-team"}
	if r := restarted.do("PUT", s.gw, body); r.status != 200 || r.str("tags.owner") != "network-team" {
		t.Errorf("a gateway change while the peer region is down: %d %s", r.status, r.body)
	}
	if got := restarted.must("GET", c, nil).str("properties.virtualNetworkGateway2.id"); !strings.EqualFold(got, remoteGW) {
		t.Errorf("the connection goes to %q after the change, want %s", got, remoteGW)
	}
}

// TestPeerRegionPrefixPairLimit: an IKEv1 VNet-to-VNet connection to
// another region's gateway negotiates a child SA per pair of our VNet's
// ranges and the remote VNet's, and is held to rules.MaxPrefixPairs as
// one to a gateway of this region is (R18): the remote VNet's ranges were
// not counted, so a connection of 257 pairs was taken, and the pairs
// past the peer's limit never came up (their traffic went nowhere). A
// peer region's VNet that grows past the limit is not taken at the
// refresh (what was known stays), as a change of its address space that
// would overlap ours is not.
func TestPeerRegionPrefixPairLimit(t *testing.T) {
	t.Parallel()
	ranges := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("172.%d.%d.0/24", 16+i/256, i%256))
		}
		return out
	}
	remoteGW := netPath(subB, "rg", "virtualNetworkGateways", "gw")
	peer := &peerRegion{}
	peer.set(remoteGW, ranges(257), "")
	var reg *region.Region
	e := newEnv(t, envOptions{remotes: peer, reg: &reg})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	c := netPath(subA, "rg", "connections", "c")
	body := v2v(loc, s.gw, remoteGW)
	body["properties"].(obj)["connectionProtocol"] = "IKEv1"
	if r := e.do("PUT", c, body); r.status != 400 || r.code() != "TrafficSelectorPairLimitExceeded" || !strings.Contains(string(r.body), "257 prefix pairs") {
		t.Fatalf("an IKEv1 connection of 257 prefix pairs to another region's gateway: %d %s", r.status, r.body)
	}

	peer.set(remoteGW, ranges(256), "")
	e.must("PUT", c, body)
	peer.set(remoteGW, ranges(257), "")
	time.Sleep(region.RemoteRefresh + time.Second)
	if got := routesOf(reg, s.vnet); len(got) != 256 {
		t.Fatalf("after the peer's VNet grew to 257 ranges: our VNet routes %d of them to the tunnel, want the 256 known", len(got))
	}
}

// heldRegion is a peer region that is asked about connections to a
// gateway here, says so on asked and, once release is closed, answers
// that it cannot be reached.
type heldRegion struct{ asked, release chan struct{} }

func (heldRegion) Gateway(_ context.Context, id string) (*region.RemoteGateway, error) {
	return nil, fmt.Errorf("%s: %w", id, region.ErrNoRemote)
}

func (p heldRegion) ConnectionsTo(context.Context, string) ([]region.ConnectionTo, error) {
	p.asked <- struct{}{}
	<-p.release
	return nil, errors.New("connect: connection refused")
}

// TestPatchDuringRefusedDeleteKeepsNoMark: a PATCH of a gateway's tags
// while its delete asks the peer regions (the gateway shown Deleting),
// and the delete then refused as a peer could not be asked, leaves the
// gateway Succeeded with its tags, as any other write of it does. The
// PATCH kept the Deleting mark under a new etag, so the refused delete
// did not take back a mark it no longer found as it made it: the gateway
// stayed Deleting for good, and other regions refused connections to it.
func TestPatchDuringRefusedDeleteKeepsNoMark(t *testing.T) {
	peer := heldRegion{asked: make(chan struct{}, 1), release: make(chan struct{})}
	e := newEnv(t, envOptions{remotes: peer})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	done := make(chan resp, 1)
	go func() { done <- e.do("DELETE", s.gw, nil) }()
	<-peer.asked
	if st := e.must("GET", s.gw, nil).str("properties.provisioningState"); st != "Deleting" {
		t.Fatalf("the gateway is %s while its delete asks the peers, want Deleting", st)
	}
	if r := e.do("PATCH", s.gw, `{"tags":{"owner":"network-team"}}`); r.status != http.StatusOK {
		t.Fatalf("PATCH of the tags while the delete asks the peers: %d %s", r.status, r.body)
	}
	close(peer.release)
	if r := <-done; r.status != http.StatusConflict || r.code() != "InUseVirtualNetworkGatewayCannotBeDeleted" {
		t.Fatalf("DELETE while the peer region cannot be reached: %d %s", r.status, r.body)
	}
	g := e.must("GET", s.gw, nil)
	if st := g.str("properties.provisioningState"); st != "Succeeded" {
		t.Errorf("the gateway whose delete was refused is %s, want Succeeded", st)
	}
	if g.str("tags.owner") != "network-team" {
		t.Errorf("the gateway's tags are %v after the PATCH, want owner network-team", g.field("tags"))
	}
}
