package netns

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/vpnclient"
)

// roadWarrior starts strongSwan in ns as a point-to-site client of
// gateway gw with the configuration of its VPN client package (pkg, as
// `vnet-gateway vpn-client generate --output-dir` writes it), with the
// client's certificate and key put where that configuration says.
func roadWarrior(t *testing.T, ns *netnstest.NS, gw, pkg, cert, key string, tweak ...func(conf string) string) *netnstest.Charon {
	t.Helper()
	return netnstest.StartCharon(t, ns, roadWarriorConfig(t, gw, pkg, cert, key, tweak...))
}

// roadWarriorConfig is roadWarrior's configuration of strongSwan.
func roadWarriorConfig(t *testing.T, gw, pkg, cert, key string, tweak ...func(conf string) string) netnstest.CharonConfig {
	t.Helper()
	files := map[string][]byte{}
	for name, path := range map[string]string{"x509/" + gw + "-client.pem": cert, "private/client.key": key,
		"x509ca/" + gw + "-ca.pem": filepath.Join(pkg, vpnclient.FileCA), "swanctl.conf": filepath.Join(pkg, vpnclient.FileSwanctl)} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	conf := string(files["swanctl.conf"])
	for _, f := range tweak {
		conf = f(conf)
	}
	return netnstest.CharonConfig{Swanctl: conf, Files: files}
}

// TestPointToSiteIKEv2: a gateway with IKEv2 and SSTP among its client
// protocols serves IKEv2 clients (R4, R10) from the upper half of its
// pool, as Azure splits it. strongSwan as a road warrior, configured by the
// gateway's VPN client package (its defaults, no proposals given), authenticates with
// a certificate of the uploaded root (R12), checks the gateway's
// certificate against the region's CA, negotiates the gateway's custom
// policy for clients, gets an address of the pool in a
// configuration payload and pings the VNet's host, which pings it back.
// The health API lists it by its IKEv2_ id, the metrics count it (Azure
// Monitor's by Protocol), and disconnecting it through the API deletes its
// SAs at strongSwan. A client of another root is refused.
func TestPointToSiteIKEv2(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443", "--metrics-interval", "1s"}})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	// The VNet's DNS server, which clients are given.
	var v arm.VirtualNetwork
	r.get(vnet, &v)
	v.Properties.DHCPOptions = &arm.DHCPOptions{DNSServers: []string{"10.1.0.53"}}
	r.put(vnet, v, nil)
	gw, _ := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := r.tunHost(vnet, "web")
	dir := t.TempDir()
	root := pkitest.Issue(t, "alice root", true, nil)
	rootDER := root.Raw
	_, certFile, keyFile := clientPKIOf(t, dir, "alice", root)
	_, strangerCert, strangerKey := clientPKI(t, dir, "mallory")
	enableP2S(r, gw, "172.16.201.0/24", rootDER, "IkeV2", "SSTP")
	// A custom policy for the clients (vpnClientIpsecPolicies, az's
	// vnet-gateway vpn-client ipsec-policy set), which strongSwan's default
	// proposals include, though not first.
	if out, err := r.cli("vnet-gateway", "vpn-client", "ipsec-policy", "set", "-g", "p2s", "--gateway-name", "hub-gw", "--ike-encryption", "GCMAES256",
		"--ike-integrity", "SHA384", "--dh-group", "ECP384", "--ipsec-encryption", "GCMAES256", "--ipsec-integrity", "GCMAES256", "--sa-lifetime", "3600"); err != nil ||
		!strings.Contains(out, `"ikeIntegrity": "SHA384"`) {
		t.Fatalf("vpn-client ipsec-policy set: %v\n%s", err, out)
	}
	pkg := filepath.Join(dir, "package")
	if out, err := r.cli("vnet-gateway", "vpn-client", "generate", "-g", "p2s", "-n", "hub-gw", "--output-dir", pkg); err != nil {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}

	laptop := newSite(t, r, 1, pool)
	ch := roadWarrior(t, laptop.gw, "hub-gw", pkg, certFile, keyFile)
	var out string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		// The gateway starts serving clients shortly after the change.
		var err error
		if out, err = ch.Initiate(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan did not connect: %v\n%s", err, out)
		}
	}
	// 172.16.201.128/25 is IKEv2's half; its first address is not given.
	const clientAddr = "172.16.201.129"
	if _, err := ch.WaitSAs(5*time.Second, "ESTABLISHED", "INSTALLED", "local  "+clientAddr+"/32", "remote 10.1.0.0/16",
		"AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ch.Log(), "installing new virtual IP "+clientAddr) {
		t.Errorf("strongSwan did not install the virtual IP %s:\n%s", clientAddr, tail(ch.Log(), 40))
	}
	if !strings.Contains(ch.Log(), "installing DNS server 10.1.0.53") {
		t.Errorf("strongSwan was not given the VNet's DNS server:\n%s", grepLines(ch.Log(), "DNS"))
	}
	ping(t, laptop.gw, hostAddr, 10*time.Second)
	ping(t, host, mustAddr(t, clientAddr), 10*time.Second)
	up, _ := iperf(t, laptop.gw, host, hostAddr, 3)
	down, _ := iperf(t, host, laptop.gw, mustAddr(t, clientAddr), 3)
	t.Logf("iperf3 TCP 3 s through IKEv2 point-to-site (strongSwan's userspace ESP): client -> VNet host %.0f Mbit/s, VNet host -> client %.0f Mbit/s", up, down)

	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil ||
		!strings.Contains(out, "IKEv2_"+clientAddr) || !strings.Contains(out, "alice") {
		t.Errorf("vpn-client show-health: %v\n%s", err, out)
	}
	p2sLabels := []string{"gateway", strings.ToLower(gw.String()), "protocol", "IKEv2"}
	if n, _ := r.metric("vnetgw_p2s_connections", p2sLabels...); n != 1 {
		t.Errorf("vnetgw_p2s_connections = %d with alice connected", n)
	}
	// Azure Monitor counts her under the Protocol IKEv2, none under SSTP.
	time.Sleep(1500 * time.Millisecond)
	if byProto := r.clientsByProtocol(gw); byProto["IKEv2"] != 1 || byProto["SSTP"] != 0 {
		t.Errorf("Azure Monitor: P2SConnectionCount by Protocol at most %v, want IKEv2 1 and SSTP 0", byProto)
	}

	// The administrator ends the connection: strongSwan is told.
	if out, err := r.cli("vnet-gateway", "disconnect-vpn-connections", "-g", "p2s", "-n", "hub-gw", "--vpn-connections", "IKEv2_"+clientAddr); err != nil {
		t.Fatalf("disconnect-vpn-connections: %v\n%s", err, out)
	}
	waitNoSAs(t, ch, 10*time.Second)
	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil || strings.Contains(out, clientAddr) {
		t.Errorf("vpn-client show-health after the disconnect: %v\n%s", err, out)
	}

	// bob authenticates with EAP-TLS (RFC 7296 §2.16), as Windows' client
	// does with a user certificate.
	_, bobCert, bobKey := clientPKIOf(t, dir, "bob", root)
	bob := newSite(t, r, 3, pool)
	bch := roadWarrior(t, bob.gw, "hub-gw", pkg, bobCert, bobKey, func(conf string) string {
		return strings.Replace(conf, "local {\n      auth = pubkey", "local {\n      auth = eap-tls", 1)
	})
	if out, err := bch.Initiate(); err != nil {
		t.Fatalf("strongSwan with EAP-TLS did not connect: %v\n%s", err, out)
	}
	if !strings.Contains(bch.Log(), "EAP method EAP_TLS succeeded") {
		t.Errorf("strongSwan did not authenticate with EAP-TLS:\n%s", grepLines(bch.Log(), "EAP"))
	}
	ping(t, bob.gw, hostAddr, 10*time.Second)

	stranger := newSite(t, r, 2, pool)
	sch := roadWarrior(t, stranger.gw, "hub-gw", pkg, strangerCert, strangerKey)
	if out, err := sch.Initiate(); err == nil || !strings.Contains(out+sch.Log(), "AUTHENTICATION_FAILED") {
		t.Errorf("a client of another root: %v\n%s", err, out)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPointToSiteIKEv2ConnectRetries: strongSwan with the package's
// swanctl.conf that gets no answer from the gateway when it connects (the
// laptop's network not up yet, the gateway restarting, or no RADIUS
// server answering, when the gateway leaves the client unanswered) tries
// again, and connects once the gateway answers. With swanctl's default of
// one try (keyingtries), it gave up for good after its first
// retransmissions. Here those last 2 s, not strongSwan's 165.
func TestPointToSiteIKEv2ConnectRetries(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	dir := t.TempDir()
	rootDER, certFile, keyFile := clientPKI(t, dir, "alice")
	enableP2S(r, gw, "172.16.201.0/24", rootDER, "IkeV2")
	pkg := filepath.Join(dir, "package")
	if out, err := r.cli("vnet-gateway", "vpn-client", "generate", "-g", "p2s", "-n", "hub-gw", "--output-dir", pkg); err != nil {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}
	laptop := newSite(t, r, 1, pool)
	// What the laptop sends to the gateway goes nowhere, for now.
	laptop.gw.Run("ip", "route", "add", "blackhole", gwAddr.String()+"/32")
	cfg := roadWarriorConfig(t, "hub-gw", pkg, certFile, keyFile)
	cfg.CharonExtra = "  retransmit_timeout = 1\n  retransmit_tries = 1\n  retransmit_base = 1"
	ch := netnstest.StartCharon(t, laptop.gw, cfg)
	initiated := make(chan string, 1)
	go func() {
		out, err := ch.Swanctl("--initiate", "--ike", "vnetgw-hub-gw", "--child", "net", "--timeout", "90")
		initiated <- fmt.Sprint(err, "\n", out)
	}()
	defer func() { <-initiated }() // swanctl ends before its charon is stopped
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(ch.Log(), "peer not responding"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan's first try did not end in 30 s:\n%s", tail(ch.Log(), 40))
		}
	}
	laptop.gw.Run("ip", "route", "del", "blackhole", gwAddr.String()+"/32")
	if _, err := ch.WaitSAs(60*time.Second, "ESTABLISHED", "INSTALLED", "local  172.16.201."); err != nil {
		t.Fatalf("strongSwan did not connect once the gateway answered: %v\ncharon:\n%s", err, tail(ch.Log(), 40))
	}
}

// TestClientBehindSiteNAT: a laptop on a branch's LAN, behind the
// branch's router that masquerades it, connects over IKEv2 to the gateway
// the branch has its site-to-site tunnel with: its IKE_SA_INIT comes from
// the site's address, to the site's connection, which hands the IKE SA
// over to a client's connection at IKE_AUTH. The laptop reaches the VNet
// through its own tunnel, and the site's stays connected.
func TestClientBehindSiteNAT(t *testing.T) {
	require(t)
	netnstest.Require(t, "nft", "conntrack")
	e := newS2S(t)
	e.up(t)
	dir := t.TempDir()
	rootDER, certFile, keyFile := clientPKI(t, dir, "alice")
	enableP2S(e.r, e.gw, "172.16.201.0/24", rootDER, "IkeV2")
	pkg := filepath.Join(dir, "package")
	if out, err := e.r.cli("vnet-gateway", "vpn-client", "generate", "-g", "s2s", "-n", "hub-gw", "--output-dir", pkg); err != nil {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}
	// The branch's router masquerades what its LAN sends to the
	// gateway's public address (not what enters the site's tunnel).
	e.site.gw.Run("nft", "add table ip nat; add chain ip nat post { type nat hook postrouting priority 100; }; add rule ip nat post ip saddr "+
		e.site.lanTS+" ip daddr "+e.gwAddr.String()+" masquerade")
	ch := roadWarrior(t, e.site.lan, "hub-gw", pkg, certFile, keyFile, func(conf string) string {
		return strings.Replace(conf, "dpd_delay = 30s", "dpd_delay = 2s", 1)
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		out, err := ch.Initiate()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the laptop behind the branch's NAT did not connect: %v\n%s", err, out)
		}
	}
	if _, err := ch.WaitSAs(5*time.Second, "ESTABLISHED", "INSTALLED", "local  172.16.201.1/32"); err != nil {
		t.Fatal(err)
	}
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)
	out, err := e.r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "s2s", "-n", "hub-gw", "-o", "json")
	if err != nil || !strings.Contains(out, "IKEv2_172.16.201.1") || !strings.Contains(out, `"`+e.site.addr.String()+":") {
		t.Errorf("vpn-client show-health does not list the laptop at the site's address %s: %v\n%s", e.site.addr, err, out)
	}
	e.r.waitConnection(e.conn, 10*time.Second, "the site's connection to stay connected", connected)

	// The branch's NAT forgets the laptop and maps it anew, to other
	// ports. The gateway's answer to strongSwan's liveness check shows the
	// new mapping (RFC 4555 §3.8), strongSwan moves the SAs there with
	// UPDATE_SA_ADDRESSES, and the laptop reaches the VNet again.
	// strongSwan compares with the mapping its first liveness check saw:
	// that one comes first.
	checked := regexp.MustCompile(`parsed INFORMATIONAL response \d+ \[ N\(NATD_S_IP\)`)
	for deadline := time.Now().Add(10 * time.Second); !checked.MatchString(ch.Log()); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan sent no liveness check:\n%s", grepLines(ch.Log(), "INFORMATIONAL"))
		}
	}
	e.site.gw.Run("nft", "flush chain ip nat post; add rule ip nat post ip saddr "+
		e.site.lanTS+" ip daddr "+e.gwAddr.String()+" meta l4proto udp masquerade to :40000-40999")
	e.site.gw.Run("conntrack", "-F")
	remapped := regexp.MustCompile(`"` + regexp.QuoteMeta(e.site.addr.String()) + `:40\d\d\d"`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		out, err := e.r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "s2s", "-n", "hub-gw", "-o", "json")
		if err == nil && remapped.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gateway did not follow the laptop to its new mapping: %v\n%s\nstrongSwan:\n%s", err, out, grepLines(ch.Log(), "NAT"))
		}
	}
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)
}

// TestClientMovesWithMOBIKE: a laptop connected over IKEv2 moves to
// another network (its address is gone, another link takes its traffic):
// strongSwan tells the gateway with MOBIKE (RFC 4555 UPDATE_SA_ADDRESSES),
// the same IKE SA and child SA carry on from the new address, and the
// health API shows it.
func TestClientMovesWithMOBIKE(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _ := r.gateway(vnet, "hub-gw", arm.RouteBased)
	_, hostAddr := r.tunHost(vnet, "web")
	dir := t.TempDir()
	rootDER, certFile, keyFile := clientPKI(t, dir, "alice")
	enableP2S(r, gw, "172.16.201.0/24", rootDER, "IkeV2")
	pkg := filepath.Join(dir, "package")
	if out, err := r.cli("vnet-gateway", "vpn-client", "generate", "-g", "p2s", "-n", "hub-gw", "--output-dir", pkg); err != nil {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}
	laptop := newSite(t, r, 1, pool)
	// The second network: another link to the region, its route standing by.
	netnstest.Link(t, r.ns, "100.64.101.1/30", laptop.gw, "100.64.101.2/30")
	laptop.gw.Run("ip", "route", "add", pool, "via", "100.64.101.1", "metric", "100")
	ch := roadWarrior(t, laptop.gw, "hub-gw", pkg, certFile, keyFile)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		out, err := ch.Initiate()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan did not connect: %v\n%s", err, out)
		}
	}
	before, err := ch.WaitSAs(5*time.Second, "ESTABLISHED", "INSTALLED", "@ 100.64.1.2[")
	if err != nil {
		t.Fatal(err)
	}
	ping(t, laptop.gw, hostAddr, 10*time.Second)

	// The laptop leaves the first network.
	laptop.gw.Run("ip", "addr", "del", "100.64.1.2/30", "dev", hostIf(t, laptop.gw, netip.MustParseAddr("100.64.1.2")))
	after, err := ch.WaitSAs(15*time.Second, "ESTABLISHED", "INSTALLED", "@ 100.64.101.2[")
	if err != nil {
		t.Fatalf("strongSwan did not move its SAs to the second network: %v\n%s", err, grepLines(ch.Log(), "MOBIKE"))
	}
	if a, b := ikeSPIs.FindString(before), ikeSPIs.FindString(after); a == "" || a != b {
		t.Errorf("the IKE SA is not the same after the move (SPIs %q, then %q):\n%s\n%s", a, b, before, after)
	}
	ping(t, laptop.gw, hostAddr, 10*time.Second)
	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil || !strings.Contains(out, `"100.64.101.2:`) {
		t.Errorf("vpn-client show-health does not show the laptop at its new address: %v\n%s", err, out)
	}
}

// TestPointToSiteIKEv2Radius: a gateway whose IKEv2 clients authenticate
// with RADIUS relays their EAP to FreeRADIUS (RFC 3579): strongSwan with
// EAP-MSCHAPv2 (Windows' built-in client's user name and password) and
// alice's password connects, the IKE SA's AUTH keyed with the MSK from
// FreeRADIUS's MPPE keys, gets an address and pings the VNet; the health
// API names her; FreeRADIUS's accounting has her session, its Stop, once
// she is disconnected through the API, with what her pings carried. A
// wrong password fails, as does a certificate's AUTH where RADIUS alone
// authenticates.
func TestPointToSiteIKEv2Radius(t *testing.T) {
	rr := newRadiusP2S(t, nil)
	r := rr.r
	laptop := newSite(t, r, 1, pool)
	ch := rr.connect(laptop, rr.eap("correct horse battery staple"))
	if !strings.Contains(ch.Log(), "EAP method EAP_MSCHAPV2 succeeded") {
		t.Errorf("strongSwan did not authenticate with EAP-MSCHAPv2:\n%s", grepLines(ch.Log(), "EAP"))
	}
	ping(t, laptop.gw, rr.host, 10*time.Second)
	disconnectAccounted(t, r, rr.fr, "IKEv2")

	mallory := newSite(t, r, 2, pool)
	mch := roadWarrior(t, mallory.gw, "hub-gw", rr.pkg, rr.certFile, rr.keyFile, rr.eap("guess"))
	if out, err := mch.Initiate(); err == nil {
		t.Errorf("strongSwan with a wrong password connected:\n%s", out)
	}
	// A certificate's AUTH where RADIUS alone authenticates.
	_, cCert, cKey := clientPKI(t, rr.dir, "carol")
	carol := newSite(t, r, 3, pool)
	cch := roadWarrior(t, carol.gw, "hub-gw", rr.pkg, cCert, cKey, func(conf string) string {
		return strings.Replace(conf, "auth = eap-mschapv2\n      eap_id = \""+vpnclient.SwanctlUserPlaceholder+"\"", "auth = pubkey\n      certs = hub-gw-client.pem", 1)
	})
	if out, err := cch.Initiate(); err == nil || !strings.Contains(out+cch.Log(), "AUTHENTICATION_FAILED") {
		t.Errorf("a certificate's AUTH was not refused: %v\n%s", err, out)
	}
	for _, secret := range []string{"gw-shared-s3cret", "correct horse battery staple"} {
		if strings.Contains(r.proc.Output(), secret) {
			t.Errorf("serve's log holds the secret %q", secret)
		}
	}
}

// radiusP2S is a region whose gateway hub-gw takes IKEv2 clients that
// authenticate with RADIUS, FreeRADIUS knowing alice, and the gateway's
// VPN client package.
type radiusP2S struct {
	r    *region
	host netip.Addr // a host in the VNet
	fr   *netnstest.FreeRADIUS
	// dir is the test's directory, pkg the package in it, certFile and
	// keyFile a client certificate strongSwan is given but does not use
	// (the package's swanctl.conf authenticates with EAP-MSCHAPv2).
	dir, pkg, certFile, keyFile string
	// charonExtra is strongSwan's charon options of connect.
	charonExtra string
}

// newRadiusP2S starts a radiusP2S whose FreeRADIUS replies to alice's
// acceptance with the items replies names too ("Session-Timeout = 12").
func newRadiusP2S(t *testing.T, replies []string) *radiusP2S {
	t.Helper()
	require(t)
	netnstest.RequireFreeRADIUS(t)
	rr := &radiusP2S{r: newRegion(t, regionOptions{pool: pool}), dir: t.TempDir()}
	r := rr.r
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _ := r.gateway(vnet, "hub-gw", arm.RouteBased)
	_, rr.host = r.tunHost(vnet, "web")
	radNS := netnstest.New(t, "rad")
	netnstest.Link(t, r.ns, "100.64.200.1/30", radNS, "100.64.200.2/30")
	rr.fr = netnstest.StartFreeRADIUSReplying(t, radNS, "gw-shared-s3cret", map[string]string{"alice": "correct horse battery staple"}, map[string][]string{"alice": replies})
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.VPNClientConfiguration = &arm.VPNClientConfiguration{
		VPNClientAddressPool: &arm.AddressSpace{AddressPrefixes: []string{"172.16.201.0/24"}}, VPNClientProtocols: []string{"IkeV2"},
		VPNAuthenticationTypes: []string{"Radius"}, RadiusServerAddress: "100.64.200.2", RadiusServerSecret: "gw-shared-s3cret"}
	r.put(gw, g, nil)
	rr.pkg = filepath.Join(rr.dir, "package")
	if out, err := r.cli("vnet-gateway", "vpn-client", "generate", "-g", "p2s", "-n", "hub-gw", "--output-dir", rr.pkg); err != nil {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}
	_, rr.certFile, rr.keyFile = clientPKI(t, rr.dir, "unused")
	return rr
}

// eap fills the package's swanctl.conf in with alice and password.
func (rr *radiusP2S) eap(password string) func(string) string {
	return func(conf string) string {
		return strings.NewReplacer(vpnclient.SwanctlUserPlaceholder, "alice", vpnclient.SwanctlPasswordPlaceholder, password).Replace(conf)
	}
}

// connect starts strongSwan at the site's gateway with the package's
// configuration, tweaked, and connects it with EAP-MSCHAPv2.
func (rr *radiusP2S) connect(at *site, tweak ...func(string) string) *netnstest.Charon {
	t := rr.r.t
	t.Helper()
	cfg := roadWarriorConfig(t, "hub-gw", rr.pkg, rr.certFile, rr.keyFile, tweak...)
	cfg.CharonExtra = rr.charonExtra
	ch := netnstest.StartCharon(t, at.gw, cfg)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		out, err := ch.Initiate()
		if err == nil {
			return ch
		}
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan with EAP-MSCHAPv2 did not connect: %v\n%s\nFreeRADIUS:\n%s", err, out, tail(rr.fr.Output(), 60))
		}
	}
}

// TestPointToSiteIKEv2RadiusSessionTimeout: a RADIUS server that limits
// alice's session (Session-Timeout, 12 s) has the gateway tell strongSwan
// so in IKE_AUTH (AUTH_LIFETIME, RFC 4478); strongSwan, as the package
// configures it (over_time, here 5 s, not the minute the package says),
// authenticates again before the limit, with EAP and FreeRADIUS again,
// and goes on reaching the VNet after it; accounting has each IKE SA's
// session, none ended by the limit.
func TestPointToSiteIKEv2RadiusSessionTimeout(t *testing.T) {
	rr := newRadiusP2S(t, []string{"Session-Timeout = 12"})
	laptop := newSite(t, rr.r, 1, pool)
	start := time.Now()
	ch := rr.connect(laptop, rr.eap("correct horse battery staple"), func(conf string) string {
		if !strings.Contains(conf, "over_time = 1m") {
			t.Fatalf("the package's swanctl.conf sets no over_time:\n%s", conf)
		}
		return strings.Replace(conf, "over_time = 1m", "over_time = 5s", 1)
	})
	ping(t, laptop.gw, rr.host, 10*time.Second)
	if !strings.Contains(ch.Log(), "received AUTH_LIFETIME of 12s") {
		t.Errorf("strongSwan was not told the session's limit:\n%s", grepLines(ch.Log(), "AUTH_LIFETIME"))
	}
	time.Sleep(time.Until(start.Add(15 * time.Second)))
	ping(t, laptop.gw, rr.host, 10*time.Second)
	if n := strings.Count(ch.Log(), "EAP method EAP_MSCHAPV2 succeeded"); n < 2 {
		t.Errorf("strongSwan authenticated %d times in 15 s, want again before the limit:\n%s", n, grepLines(ch.Log(), "IKE_SA"))
	}
	// strongSwan deletes its IKE SA before it makes the next (break
	// before make): each reauthentication is a session of its own, as
	// accounting knows it, ended by the client, none by its limit.
	recs := rr.fr.Accounting(t)
	for i, rec := range recs {
		want, cause := "Start", ""
		if i%2 == 1 {
			want, cause = "Stop", "User-Request"
			if rec["Acct-Session-Id"] != recs[i-1]["Acct-Session-Id"] {
				t.Errorf("record %d is the Stop of session %s, after the Start of %s", i, rec["Acct-Session-Id"], recs[i-1]["Acct-Session-Id"])
			}
		}
		if rec["Acct-Status-Type"] != want || rec["Acct-Terminate-Cause"] != cause {
			t.Errorf("record %d: %s, Acct-Terminate-Cause %q; want %s %q", i, rec["Acct-Status-Type"], rec["Acct-Terminate-Cause"], want, cause)
		}
	}
	if len(recs)%2 != 1 {
		t.Errorf("%d accounting records, want a Start and Stop for each reauthentication and the Start of the session under way: %v", len(recs), recs)
	}
}

// TestPointToSiteIKEv2RadiusReauthRenewsClass: strongSwan that
// authenticates again before it deletes its IKE SA (make_before_break),
// as the Session-Timeout has it, goes on in its session, as accounting
// knows it: one Start, with the Class of the first Access-Accept
// (FreeRADIUS gives each its own), and, once it is disconnected, its
// Stop with the reauthentication's (RFC 2865 §5.25).
func TestPointToSiteIKEv2RadiusReauthRenewsClass(t *testing.T) {
	rr := newRadiusP2S(t, []string{"Session-Timeout = 12", `Class = "dept-%{randstr:aaaaaaaaaaaaaaaa}"`})
	rr.charonExtra = "make_before_break = yes"
	laptop := newSite(t, rr.r, 1, pool)
	ch := rr.connect(laptop, rr.eap("correct horse battery staple"), func(conf string) string {
		return strings.Replace(conf, "over_time = 1m", "over_time = 5s", 1)
	})
	ping(t, laptop.gw, rr.host, 10*time.Second)
	for deadline := time.Now().Add(20 * time.Second); strings.Count(ch.Log(), "EAP method EAP_MSCHAPV2 succeeded") < 2; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan did not authenticate again within 20 s, its AUTH_LIFETIME 12 s:\n%s", grepLines(ch.Log(), "IKE_SA"))
		}
	}
	ping(t, laptop.gw, rr.host, 10*time.Second)
	disconnectAccounted(t, rr.r, rr.fr, "IKEv2")
	recs := rr.fr.Accounting(t)
	if len(recs) != 2 || recs[0]["Acct-Status-Type"] != "Start" || recs[1]["Acct-Status-Type"] != "Stop" {
		t.Fatalf("accounting records %v, want a Start and a Stop: the reauthentication goes on in the session", recs)
	}
	prefix := "0x" + hex.EncodeToString([]byte("dept-"))
	if first, last := recs[0]["Class"], recs[1]["Class"]; !strings.HasPrefix(first, prefix) || !strings.HasPrefix(last, prefix) || first == last {
		t.Errorf("Start's Class %s, Stop's %s; want the first Access-Accept's and the reauthentication's, which differ", first, last)
	}
}

// TestPointToSiteIKEv2RadiusIdleTimeout: a RADIUS server that lets alice
// be idle 3 s (Idle-Timeout) keeps strongSwan connected while it sends
// (a ping every half second for 6 s: its ESP reaches the gateway), and has
// the gateway end its IKE SA once it has sent nothing for that long: the
// health API lists it no more, and accounting's Stop says why.
func TestPointToSiteIKEv2RadiusIdleTimeout(t *testing.T) {
	rr := newRadiusP2S(t, []string{"Idle-Timeout = 3"})
	laptop := newSite(t, rr.r, 1, pool)
	rr.connect(laptop, rr.eap("correct horse battery staple"))
	ping(t, laptop.gw, rr.host, 10*time.Second)
	if out, err := laptop.gw.Try("ping", "-c", "12", "-i", "0.5", "-W", "1", rr.host.String()); err != nil {
		t.Fatalf("a client that sends lost its tunnel, its Idle-Timeout 3 s: %v\n%s", err, out)
	}
	last := time.Now()
	var addr string // the client's
	connected := func() bool {
		out, err := rr.r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json")
		if err != nil {
			t.Fatalf("vpn-client show-health: %v\n%s", err, out)
		}
		if m := regexp.MustCompile(`IKEv2_(172\.16\.201\.[0-9]+)`).FindStringSubmatch(out); m != nil {
			addr = m[1]
			return true
		}
		return false
	}
	for deadline := time.Now().Add(20 * time.Second); connected(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the idle client is still connected 20 s after it last sent, its Idle-Timeout 3 s")
		}
	}
	if took := time.Since(last); took < 2*time.Second {
		t.Errorf("the client was disconnected %v after it last sent, within its Idle-Timeout of 3 s", took)
	}
	if _, stop := rr.fr.Session(t, 0, addr); stop["Acct-Terminate-Cause"] != "Idle-Timeout" {
		t.Errorf("accounting's Stop: %v, want Acct-Terminate-Cause Idle-Timeout", stop)
	}
}

// TestPointToSiteIKEv2RadiusFramedIPAddress: a RADIUS server that gives
// alice an address (Framed-IP-Address) has strongSwan get that one as its
// virtual IP, not the pool's lowest, and reach the VNet from it; the
// health API lists it there.
func TestPointToSiteIKEv2RadiusFramedIPAddress(t *testing.T) {
	const want = "172.16.201.77"
	rr := newRadiusP2S(t, []string{"Framed-IP-Address = " + want})
	laptop := newSite(t, rr.r, 1, pool)
	ch := rr.connect(laptop, rr.eap("correct horse battery staple"))
	if !strings.Contains(ch.Log(), "installing new virtual IP "+want) {
		t.Errorf("strongSwan did not get %s:\n%s", want, grepLines(ch.Log(), "virtual IP"))
	}
	ping(t, laptop.gw, rr.host, 10*time.Second)
	if out, err := rr.r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil || !strings.Contains(out, `"IKEv2_`+want+`"`) {
		t.Errorf("vpn-client show-health: %v\n%s", err, out)
	}
}
