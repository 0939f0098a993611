package dataplane

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/ipsec"
	"github.com/vnetgw/vnetgw/internal/udp"
)

// silentPeer is an IKEv2 site on real UDP sockets that can go silent: it
// goes on reading what the gateway sends, and what it would answer is
// lost (an uplink cut off).
type silentPeer struct {
	tr *udp.Transport
	m  *ikev2.Manager
	// muted drops what the peer sends; lost counts what it dropped.
	muted atomic.Bool
	lost  atomic.Int64
}

func (p *silentPeer) SendIKE(local, remote netip.AddrPort, msg []byte) error {
	if p.muted.Load() {
		p.lost.Add(1)
		return nil
	}
	return p.tr.SendIKE(local, remote, msg)
}

// nullChildren is a data path that takes the child SAs and carries nothing.
type nullChildren struct{}

func (nullChildren) InstallChild(c ipsec.Child) error { return nil }
func (nullChildren) RemoveChild(string, uint32)       {}
func (nullChildren) MoveChild(string, uint32, netip.AddrPort, netip.AddrPort, bool) error {
	return nil
}

// startSilentPeer starts a site at local that answers the gateway at gw,
// with IKE and NAT-T on ports ike and natt, and never starts anything.
func startSilentPeer(t *testing.T, local, gw netip.Addr, ike, natt uint16) *silentPeer {
	t.Helper()
	p := &silentPeer{}
	p.tr = udp.New(udp.Config{IKE: func(l, r netip.AddrPort, msg []byte) { p.m.HandlePacket(l, r, msg) }})
	m, err := ikev2.New(ikev2.Config{Transport: p, Dataplane: nullChildren{}, NATTPort: natt})
	if err != nil {
		t.Fatal(err)
	}
	p.m = m
	t.Cleanup(func() { p.m.Close(); p.tr.Close() })
	if _, err := p.tr.ListenIKE(netip.AddrPortFrom(local, ike)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.tr.ListenNATT(netip.AddrPortFrom(local, natt), nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Reconfig([]ikev2.PeerConfig{{Name: "gw", Local: netip.AddrPortFrom(local, ike), Remote: netip.AddrPortFrom(gw, ike),
		PSK: ikev2.PSK("k"), Mode: ikev2.ModeResponderOnly, DPDInterval: -1}}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCloseStopsGatewaysTogether: when serve stops, the gateways are stopped
// together, so that the stop takes about the longest wait of one for its
// peers, not the sum of them. Every site here went silent with a liveness
// check of its gateway unanswered, so that each gateway's Delete waits for
// that answer, up to shutdownWait (RFC 7296 §2.3); one gateway after
// another, the stop took n times that.
func TestCloseStopsGatewaysTogether(t *testing.T) {
	const n = 8
	const ike, natt = 18840, 18841
	e := New(Options{IKEPort: ike, NATTPort: natt})
	defer e.Close()
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}}}
	var peers []*silentPeer
	for i := range n {
		gw, site := netip.AddrFrom4([4]byte{127, 86, 1, byte(i + 1)}), netip.AddrFrom4([4]byte{127, 86, 2, byte(i + 1)})
		peers = append(peers, startSilentPeer(t, site, gw, ike, natt))
		cfg.Gateways = append(cfg.Gateways, Gateway{ID: fmt.Sprintf("gw%d", i), VNet: "v", PublicAddr: gw,
			Connections: []Connection{{ID: fmt.Sprintf("c%d", i), Remote: site, PSK: Secret("k"), DPDTimeout: 20 * time.Second,
				LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes(fmt.Sprintf("192.168.%d.0/24", i))}}})
	}
	if _, err := e.Reconfig(cfg); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "every tunnel to connect", func() bool {
		st := e.Status()
		for i := range n {
			if st.Connections[fmt.Sprintf("c%d", i)].State != Connected {
				return false
			}
		}
		return true
	})
	for _, p := range peers {
		p.muted.Store(true)
	}
	// A site that answers nothing starts nothing (it is a responder
	// without liveness checks): what it loses is its answer to the
	// gateway's liveness check, which is then outstanding.
	waitUntil(t, 60*time.Second, "every gateway's liveness check", func() bool {
		for _, p := range peers {
			if p.lost.Load() == 0 {
				return false
			}
		}
		return true
	})
	start := time.Now()
	e.Close()
	took := time.Since(start)
	if sum := n * 2 * time.Second; took > sum/2 {
		t.Fatalf("the stop took %v: the gateways were stopped one after another (each waits up to 2 s, %v in all)", took, sum)
	}
	t.Logf("%d gateways stopped in %v", n, took)
}

// waitUntil waits for cond, at most d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
	}
}
