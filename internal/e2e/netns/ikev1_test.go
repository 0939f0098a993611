package netns

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestR4IKEv1SiteToSite: a connection with connectionProtocol IKEv1 to a
// site with two ranges. strongSwan runs the configuration the API writes
// for it (IKEv1, a child SA per pair of ranges, as IKEv1 names one subnet
// a side); the gateway starts the tunnel (connectionMode Default). The API
// says Connected, strongSwan lists two IKEv1 child SAs, and the VNet host
// reaches hosts in both site ranges and is reached from the site; after a
// reset through the API the tunnel comes back.
func TestR4IKEv1SiteToSite(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("v1", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _ := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := r.tunHost(vnet, "web")
	s := newSite(t, r, 1, pool, "10.99.0.2/24")
	lgw := r.localGateway("v1", "westeurope", "branch", s.addr, s.lanTS, "10.99.0.0/24")
	conn := r.putConnection(gw, "hub-to-branch", "", arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.ConnectionProtocol = arm.IKEv1
	})
	script, err := r.c.DeviceScript(context.Background(), conn, arm.VPNDeviceScriptParameters{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(script, "version = 1") || strings.Count(script, "local_ts = ") != 2 {
		t.Fatalf("the device configuration is not IKEv1 with two children:\n%s", script)
	}
	s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: script})
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	deadline := time.Now().Add(20 * time.Second)
	for sas := s.ch.SAs(); !(hasChild(sas, s.lanTS, "10.1.0.0/16") && hasChild(sas, "10.99.0.0/24", "10.1.0.0/16")); sas = s.ch.SAs() {
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan does not list a child SA per site range:\n%s", sas)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if sas := s.ch.SAs(); !strings.Contains(sas, "IKEv1") {
		t.Errorf("strongSwan's SA is not IKEv1:\n%s", sas)
	}
	ping(t, host, s.host, 10*time.Second)
	ping(t, host, netip.MustParseAddr("10.99.0.2"), 10*time.Second)
	ping(t, s.lan, hostAddr, 10*time.Second)

	// The counters reach the API with the next status write (every 2 s).
	got := r.waitConnection(conn, 10*time.Second, "counting the traffic", func(p arm.ConnectionProperties) bool { return p.IngressBytesTransferred > 0 })
	if got.Properties.ConnectionProtocol != arm.IKEv1 {
		t.Errorf("the connection after traffic: protocol %s", got.Properties.ConnectionProtocol)
	}
	var sasJSON string
	if _, err := r.c.Do(context.Background(), "POST", conn.String()+"/getikesas", nil, &sasJSON); err != nil || !strings.Contains(sasJSON, "IKEv1") {
		t.Errorf("getikesas: %v %s", err, sasJSON)
	}

	before := s.ch.SAs()
	if _, err := r.c.Do(context.Background(), "POST", conn.String()+"/resetconnection", nil, nil); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		after := s.ch.SAs()
		if after != before && hasChild(after, s.lanTS, "10.1.0.0/16") && hasChild(after, "10.99.0.0/24", "10.1.0.0/16") && strings.Count(after, "ESTABLISHED") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the reset strongSwan lists:\n%s\nbefore:\n%s", after, before)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ping(t, host, s.host, 10*time.Second)
}

// TestR8IKEv1PolicyBasedIdle: a policy-based gateway with an IKEv1
// connection, as Azure's policy-based gateways speak IKEv1. Idle for the
// --policy-idle-timeout, the tunnel is removed, at strongSwan too, and the
// API says why (R8); traffic from the VNet brings it back.
func TestR8IKEv1PolicyBasedIdle(t *testing.T) {
	require(t)
	const idle = 5 * time.Second
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--policy-idle-timeout", idle.String()}})
	vnet := r.vnet("pb1", "westeurope", "vnet", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "pb-gw", arm.PolicyBased)
	host, _ := r.tunHost(vnet, "web")
	s := newSite(t, r, 1, pool)
	lgw := r.localGateway("pb1", "westeurope", "branch", s.addr, s.lanTS)
	s.charon(gwAddr, s2sKey, s.lanTS, "10.1.0.0/16", func(c *netnstest.CharonConfig) {
		c.IKEVersion, c.IKEProposal, c.ESPProposal = 1, "aes256-sha256-modp2048", "aes256-sha256" // IKEv1 has no AEAD in phase 1
	})
	conn := r.putConnection(gw, "pb-to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(lgw.String())
		p.ConnectionProtocol = arm.IKEv1
	})
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	ping(t, host, s.host, 10*time.Second)
	last := time.Now()
	waitNoSAs(t, s.ch, idle+20*time.Second)
	t.Logf("the IKEv1 tunnel was removed %s after the last packet", time.Since(last).Round(100*time.Millisecond))
	r.waitConnection(conn, 10*time.Second, "NotConnected for idleness", func(p arm.ConnectionProperties) bool {
		return p.ConnectionStatus == "NotConnected" && strings.Contains(p.ConnectionStatusReason, "idle")
	})
	start := time.Now()
	ping(t, host, s.host, 20*time.Second)
	t.Logf("VNet-side traffic brought the IKEv1 tunnel back in %s", time.Since(start).Round(100*time.Millisecond))
	r.waitConnection(conn, 10*time.Second, "Connected again", connected)
	if sas := s.ch.SAs(); !strings.Contains(sas, "IKEv1") || !hasChild(sas, s.lanTS, "10.1.0.0/16") {
		t.Errorf("strongSwan after the tunnel came back:\n%s", sas)
	}
}
