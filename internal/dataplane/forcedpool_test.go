package dataplane

import (
	"context"
	"crypto/tls"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestForcedTunnelingKeepsIKEv2PoolIn: with forced tunneling (0.0.0.0/0
// to the default site), what the VNet sends to an address of the IKEv2
// clients' pool that no client has is dropped at the gateway: the pool is
// the gateway's, not the Internet's (R25, R33), and did not go into the
// default site's tunnel, where the site's network got it (its router here
// counts it as having no route, and answers with net unreachable).
func TestForcedTunnelingKeepsIKEv2PoolIn(t *testing.T) {
	const ike, natt = 18960, 18961
	root := pkitest.Issue(t, "P2S root", true, nil)
	gwPub, sitePub := netip.MustParseAddr("127.187.1.1"), netip.MustParseAddr("127.187.1.2")
	server := pkitest.Issue(t, "gateway", false, root, gwPub).TLS()
	a := New(Options{IKEPort: ike, NATTPort: natt, GatewayCert: func(netip.Addr) (tls.Certificate, error) { return server, nil }})
	defer a.Close()
	web, onprem := netip.MustParseAddr("10.1.0.4"), netip.MustParseAddr("10.2.0.4")
	aCfg := Config{
		VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16"), Hosts: []Host{{ID: "web", Name: "web", Addr: web, Kind: HostNetstack}},
			Routes: []Route{{Prefix: netip.MustParsePrefix("10.2.0.0/16"), Gateway: "gw"}, {Prefix: netip.MustParsePrefix("0.0.0.0/0"), Gateway: "gw"}}}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", Subnet: "gwsubnet", PublicAddr: gwPub, PrivateAddr: netip.MustParseAddr("10.1.255.4"),
			P2S: &GatewayP2S{Pool: netip.MustParsePrefix("172.16.0.0/24"), IKEv2Pool: netip.MustParsePrefix("172.16.0.0/24"), IKEv2MaxClients: 10,
				Roots: [][]byte{root.Certificate.Raw}, Routes: prefixes("10.1.0.0/16", "10.2.0.0/16")},
			Connections: []Connection{{ID: "site", Remote: sitePub, PSK: Secret("k"), LocalPrefixes: prefixes("10.1.0.0/16"),
				RemotePrefixes: prefixes("10.2.0.0/16"), Routes: prefixes("10.2.0.0/16", "0.0.0.0/0")}}}},
	}
	if g := reconfigGateway(t, a, aCfg); g == nil || g.gw == nil || !g.ikev2Clients {
		t.Fatal("the gateway with IKEv2 clients did not start")
	}
	// The default site: a network of its own (10.2.0.0/16) behind a
	// gateway of its own.
	b := New(Options{IKEPort: ike, NATTPort: natt})
	defer b.Close()
	bCfg := Config{
		VNets: []VNet{{ID: "site", Prefixes: prefixes("10.2.0.0/16"), Hosts: []Host{{ID: "onprem", Name: "onprem", Addr: onprem, Kind: HostNetstack}},
			Routes:  []Route{{Prefix: netip.MustParsePrefix("10.1.0.0/16"), Gateway: "sitegw"}},
			Subnets: map[string][]netip.Prefix{"s": prefixes("10.2.0.0/24")}}},
		Gateways: []Gateway{{ID: "sitegw", VNet: "site", PublicAddr: sitePub, Connections: []Connection{{ID: "vnet", Remote: gwPub, PSK: Secret("k"),
			LocalPrefixes: prefixes("10.2.0.0/16"), RemotePrefixes: prefixes("10.1.0.0/16"), Routes: prefixes("10.1.0.0/16")}}}},
	}
	if _, err := b.Reconfig(bCfg); err != nil {
		t.Fatal(err)
	}
	h, _ := a.NetstackHost("web")
	waitUntil(t, 60*time.Second, "web reaches the site through the tunnel", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := h.Ping(ctx, onprem)
		return err == nil
	})
	// The counters of the last ping may be added a moment after its
	// answer came: read them once they have settled.
	settled := func(read func() uint64) uint64 {
		for last := read(); ; {
			time.Sleep(300 * time.Millisecond)
			if now := read(); now == last {
				return now
			} else {
				last = now
			}
		}
	}
	sent := settled(func() uint64 { return a.Status().Connections["site"].EgressPackets })
	arrived := settled(func() uint64 { return b.Status().VNets["site"].NoRoute })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := h.Ping(ctx, netip.MustParseAddr("172.16.0.77")); err == nil {
		t.Fatal("an address of the pool that no client has answered")
	}
	if n := a.Status().Connections["site"].EgressPackets - sent; n != 0 {
		t.Errorf("%d packets to an address of the IKEv2 clients' pool went into the default site's tunnel", n)
	}
	if n := b.Status().VNets["site"].NoRoute - arrived; n != 0 {
		t.Errorf("the default site's network got %d packets to an address of the IKEv2 clients' pool", n)
	}
}
