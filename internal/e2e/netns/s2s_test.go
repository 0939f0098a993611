package netns

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// pool is the public IP pool of single-region tests.
const pool = "198.51.100.0/24"

// s2s is a region with one VNet (10.1.0.0/16), a route-based gateway, a
// TUN host "web" and a strongSwan site (192.168.1.0/24) with its
// connection, the common start of several tests.
type s2s struct {
	r        *region
	gw       arm.ID
	gwAddr   netip.Addr
	host     *netnstest.NS
	hostAddr netip.Addr
	site     *site
	lgw      arm.ID // the site's local network gateway
	conn     arm.ID
	put      time.Time // when the connection was created
}

const s2sKey = "SiteToSiteKey2026"

// newS2S builds the region, the host and the site, starts strongSwan (it
// does not initiate: vnetgw does, in the Default connection mode) with
// tweaks applied to its configuration, and creates the connection through
// the API.
func newS2S(t *testing.T, tweaks ...func(*netnstest.CharonConfig)) *s2s {
	t.Helper()
	e := newS2SParts(t)
	e.site.charon(e.gwAddr, s2sKey, e.site.lanTS, "10.1.0.0/16", tweaks...)
	e.put = time.Now()
	e.conn = e.r.connection(e.gw, e.lgw, "hub-to-branch", s2sKey)
	return e
}

// newS2SParts is newS2S without strongSwan and the connection; args are
// more flags of serve.
func newS2SParts(t *testing.T, args ...string) *s2s {
	t.Helper()
	e := &s2s{r: newRegion(t, regionOptions{pool: pool, args: args})}
	vnet := e.r.vnet("s2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	e.gw, e.gwAddr = e.r.gateway(vnet, "hub-gw", arm.RouteBased)
	e.host, e.hostAddr = e.r.tunHost(vnet, "web")
	e.site = newSite(t, e.r, 1, pool)
	e.lgw = e.r.localGateway("s2s", "westeurope", "branch", e.site.addr, e.site.lanTS)
	return e
}

// up waits for the tunnel at strongSwan and in the API, and returns how
// long each took from the connection's PUT.
func (e *s2s) up(t *testing.T) (atStrongSwan, inAPI time.Duration) {
	t.Helper()
	if _, err := e.site.ch.WaitSAs(30*time.Second, "ESTABLISHED", "INSTALLED"); err != nil {
		t.Fatal(err)
	}
	atStrongSwan = time.Since(e.put)
	e.r.waitConnection(e.conn, 30*time.Second, "Connected", connected)
	return atStrongSwan, time.Since(e.put)
}

// TestSiteToSiteRouteBased: strongSwan as the on-premises device (R9) and
// a route-based gateway (R19): the host in the VNet and the host on the
// site's LAN ping each other and run iperf3 both ways (R42); the API says
// Connected, and the byte counters grow with the traffic, each in its
// direction.
func TestSiteToSiteRouteBased(t *testing.T) {
	require(t)
	e := newS2S(t)
	atSwan, inAPI := e.up(t)
	t.Logf("connection PUT -> child SA installed at strongSwan: %s; -> Connected in the API: %s (status is written every 100 ms after a change)",
		atSwan.Round(time.Millisecond), inAPI.Round(time.Millisecond))

	ping(t, e.host, e.site.host, 10*time.Second)
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)
	before := e.r.waitConnection(e.conn, 10*time.Second, "counting the pings", func(p arm.ConnectionProperties) bool {
		return p.IngressBytesTransferred > 0 && p.EgressBytesTransferred > 0
	}).Properties

	// The VNet host sends: egress (towards the site) grows by at least
	// the transferred payload, ingress by little more than the ACKs.
	rate, sent := iperf(t, e.host, e.site.lan, e.site.host, 3)
	mid := e.r.waitConnection(e.conn, 10*time.Second, "counting iperf3 to the site", func(p arm.ConnectionProperties) bool {
		return p.EgressBytesTransferred-before.EgressBytesTransferred >= sent
	}).Properties
	if in, out := mid.IngressBytesTransferred-before.IngressBytesTransferred, mid.EgressBytesTransferred-before.EgressBytesTransferred; in > out/4 {
		t.Errorf("sending %d bytes to the site counted %d bytes egress and %d ingress", sent, out, in)
	}
	// And back: ingress grows by what the site host sends.
	rateBack, sentBack := iperf(t, e.site.lan, e.host, e.hostAddr, 3)
	after := e.r.waitConnection(e.conn, 10*time.Second, "counting iperf3 from the site", func(p arm.ConnectionProperties) bool {
		return p.IngressBytesTransferred-mid.IngressBytesTransferred >= sentBack
	}).Properties
	t.Logf("iperf3 TCP 3 s through one tunnel: VNet host -> site host %.0f Mbit/s, site host -> VNet host %.0f Mbit/s", rate, rateBack)
	t.Logf("counters: ingress %d -> %d -> %d bytes, egress %d -> %d -> %d bytes", before.IngressBytesTransferred, mid.IngressBytesTransferred,
		after.IngressBytesTransferred, before.EgressBytesTransferred, mid.EgressBytesTransferred, after.EgressBytesTransferred)
	if len(after.TunnelConnectionStatus) != 1 || after.TunnelConnectionStatus[0].ConnectionStatus != "Connected" ||
		after.TunnelConnectionStatus[0].LastConnectionEstablishedUTCTime == "" {
		t.Errorf("tunnelConnectionStatus: %+v", after.TunnelConnectionStatus)
	}
	if after.InterRegion {
		t.Errorf("a site in the gateway's own location is marked inter-region (R39)")
	}

	// strongSwan saw the same tunnel: one IKE SA, one child SA between
	// the LAN and the VNet (route-based: vnetgw proposed any-to-any and
	// took strongSwan's narrowing, R19).
	sas := e.site.ch.SAs()
	if !hasChild(sas, "192.168.1.0/24", "10.1.0.0/16") {
		t.Errorf("strongSwan's child SA does not join the LAN and the VNet:\n%s", sas)
	}
}

// TestR7DeviceScriptConfiguresStrongSwan: the configuration that
// .../vpndeviceconfigurationscript writes for a connection (R7: a
// validated device with its configuration sample) is all a strongSwan
// site needs. Loaded as it is, with a gateway that only answers
// (connectionMode ResponderOnly) and a shared key the API generated,
// strongSwan starts the tunnel, the API says Connected, and the hosts on
// either side ping each other.
func TestR7DeviceScriptConfiguresStrongSwan(t *testing.T) {
	require(t)
	e := newS2SParts(t)
	r, host, hostAddr, s := e.r, e.host, e.hostAddr, e.site
	conn := r.putConnection(e.gw, "hub-to-branch", "", arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(e.lgw.String())
		p.ConnectionMode = arm.ModeResponderOnly
	})
	script, err := r.c.DeviceScript(context.Background(), conn, arm.VPNDeviceScriptParameters{Vendor: "strongSwan", DeviceFamily: "swanctl", FirmwareVersion: "5.9"})
	if err != nil {
		t.Fatal(err)
	}
	s.ch = netnstest.StartCharon(t, s.gw, netnstest.CharonConfig{Swanctl: script})
	if _, err := s.ch.WaitSAs(30*time.Second, "ESTABLISHED", "INSTALLED"); err != nil {
		t.Fatalf("%v\nthe script:\n%s", err, script)
	}
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	ping(t, host, s.host, 10*time.Second)
	ping(t, s.lan, hostAddr, 10*time.Second)
	if sas := s.ch.SAs(); !hasChild(sas, s.lanTS, "10.1.0.0/16") {
		t.Errorf("strongSwan's child SA does not join the LAN and the VNet:\n%s", sas)
	}
}

// TestCustomTrafficSelectors: trafficSelectorPolicies on a route-based
// gateway with usePolicyBasedTrafficSelectors. The gateway negotiates the
// custom ranges, not the address spaces: strongSwan, configured for the
// whole LAN and VNet, lists one child SA that joins 192.168.1.0/25 and
// 10.1.0.0/24, and the hosts inside them ping each other.
func TestCustomTrafficSelectors(t *testing.T) {
	require(t)
	e := newS2SParts(t)
	r, host, hostAddr, s := e.r, e.host, e.hostAddr, e.site
	s.charon(e.gwAddr, s2sKey, s.lanTS, "10.1.0.0/16")
	conn := r.putConnection(e.gw, "hub-to-branch", s2sKey, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) {
		p.LocalNetworkGateway2 = arm.Ref(e.lgw.String())
		p.UsePolicyBasedTrafficSelectors = true
		p.IPsecPolicies = []arm.IPsecPolicy{{SALifeTimeSeconds: 3600, SADataSizeKilobytes: 102400000,
			IKEEncryption: "GCMAES256", IKEIntegrity: "SHA256", DHGroup: "ECP256",
			IPsecEncryption: "GCMAES256", IPsecIntegrity: "GCMAES256", PFSGroup: "None"}}
		p.TrafficSelectorPolicies = []arm.TrafficSelectorPolicy{{LocalAddressRanges: []string{"10.1.0.0/24"}, RemoteAddressRanges: []string{"192.168.1.0/25"}}}
	})
	sas := waitChildren(t, s.ch, 1, 30*time.Second)
	if !hasChild(sas, "192.168.1.0/25", "10.1.0.0/24") || strings.Count(sas, "INSTALLED") != 1 {
		t.Fatalf("strongSwan's child SAs are not the one of the custom selectors:\n%s", sas)
	}
	r.waitConnection(conn, 30*time.Second, "Connected", connected)
	ping(t, host, s.host, 10*time.Second)
	ping(t, s.lan, hostAddr, 10*time.Second)
}

// TestIKESAsAndReset: .../getikesas lists the IKE SA and child SA that
// strongSwan lists, with the same SPIs and selectors, and the packets the
// child SA carried; .../resetconnection
// replaces them (strongSwan drops the old IKE SA on the gateway's Delete
// and lists a new one), and traffic passes again.
func TestIKESAsAndReset(t *testing.T) {
	require(t)
	e := newS2S(t)
	e.up(t)
	ikeSAs := func() []arm.IKESA {
		t.Helper()
		var s string
		var sas []arm.IKESA
		if _, err := e.r.c.Do(context.Background(), "POST", e.conn.String()+"/getikesas", nil, &s); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(s), &sas); err != nil {
			t.Fatalf("getikesas: %v: %s", err, s)
		}
		return sas
	}
	ping(t, e.host, e.site.host, 10*time.Second)
	sas := ikeSAs()
	if len(sas) != 1 || sas[0].State != "established" || !sas[0].IsSAInitiator || len(sas[0].QuickModeSAs) != 1 {
		t.Fatalf("getikesas: %+v", sas)
	}
	sa, ch := sas[0], sas[0].QuickModeSAs[0]
	if ch.InboundPackets == 0 || ch.OutboundPackets == 0 || ch.InboundBytes < 84*ch.InboundPackets || ch.OutboundBytes < 84*ch.OutboundPackets {
		t.Errorf("the child SA's counters after pings: %+v", ch)
	}
	swan := e.site.ch.SAs()
	// strongSwan's inbound SPI is the gateway's outbound one.
	for _, want := range []string{sa.InitiatorSPI + "_i", sa.ResponderSPI + "_r", "in  " + ch.OutboundSPI, "out " + ch.InboundSPI} {
		if !strings.Contains(swan, want) {
			t.Errorf("strongSwan does not list %q of getikesas %+v:\n%s", want, sa, swan)
		}
	}
	if !slices.Equal(ch.LocalTrafficSelectors, []string{"10.1.0.0/16"}) || !slices.Equal(ch.RemoteTrafficSelectors, []string{e.site.lanTS}) {
		t.Errorf("child SA selectors %v === %v", ch.LocalTrafficSelectors, ch.RemoteTrafficSelectors)
	}

	if _, err := e.r.c.Do(context.Background(), "POST", e.conn.String()+"/resetconnection", nil, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := e.site.ch.SAs()
		if !strings.Contains(out, sa.InitiatorSPI) && strings.Contains(out, "ESTABLISHED") && strings.Contains(out, "INSTALLED") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the reset strongSwan still lists IKE SA %s, or no new one:\n%s", sa.InitiatorSPI, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(e.site.ch.Log(), "received DELETE for IKE_SA") {
		t.Errorf("strongSwan's log shows no Delete from the reset:\n%s", tail(e.site.ch.Log(), 40))
	}
	ping(t, e.host, e.site.host, 10*time.Second)
	if after := ikeSAs(); len(after) != 1 || after[0].InitiatorSPI == sa.InitiatorSPI {
		t.Errorf("getikesas after the reset: %+v", after)
	}
}

// TestDeletingConnectionRemovesSAs: deleting a connection through the API
// makes the gateway send a Delete (RFC 7296 §1.4.1): strongSwan lists no
// SA any more, and no packet passes. Deleting the gateway then takes its
// public address off --public-interface (R20).
func TestDeletingConnectionRemovesSAs(t *testing.T) {
	require(t)
	e := newS2S(t)
	e.up(t)
	ping(t, e.host, e.site.host, 10*time.Second)
	if err := e.r.c.Delete(context.Background(), e.conn); err != nil {
		t.Fatal(err)
	}
	waitNoSAs(t, e.site.ch, 10*time.Second)
	if !strings.Contains(e.site.ch.Log(), "received DELETE for IKE_SA") {
		t.Errorf("strongSwan's log shows no Delete from vnetgw:\n%s", tail(e.site.ch.Log(), 40))
	}
	var c arm.Connection
	if err := e.r.c.Get(context.Background(), e.conn, &c); !client.IsNotFound(err) {
		t.Fatalf("GET of the deleted connection: %v", err)
	}
	noPing(t, e.host, e.site.host)

	onLo := func() bool {
		return strings.Contains(e.r.ns.Run("ip", "-o", "addr", "show", "dev", "lo"), " "+e.gwAddr.String()+"/")
	}
	if !onLo() {
		t.Fatalf("the running gateway's address %s is not on lo", e.gwAddr)
	}
	if err := e.r.c.Delete(context.Background(), e.gw); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for onLo() {
		if time.Now().After(deadline) {
			t.Fatalf("the deleted gateway's address %s is still on lo", e.gwAddr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
