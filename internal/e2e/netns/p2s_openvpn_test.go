package netns

import (
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

// startOpenVPN starts OpenVPN in ns with the VPN client package's profile
// (pkg, as `vnet-gateway vpn-client generate --output-dir` writes it),
// the client's certificate and key pasted where the package says.
func startOpenVPN(t *testing.T, ns *netnstest.NS, pkg, certFile, keyFile string, extra ...string) *netnstest.Process {
	t.Helper()
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	conf := read(filepath.Join(pkg, vpnclient.FileOpenVPN))
	if certFile != "" {
		conf = strings.NewReplacer(vpnclient.OpenVPNCertPlaceholder, read(certFile), vpnclient.OpenVPNKeyPlaceholder, read(keyFile)).Replace(conf)
	}
	path := filepath.Join(t.TempDir(), "client.ovpn")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// OpenVPN tries again every 5 s by itself while the gateway's server
	// is not up yet (connect-retry).
	return ns.Start("openvpn", append([]string{"--config", path, "--verb", "3", "--connect-retry", "1"}, extra...)...)
}

// waitOpenVPN waits until OpenVPN says it is connected and returns the
// address it was given.
func waitOpenVPN(t *testing.T, p *netnstest.Process, within time.Duration) string {
	t.Helper()
	addr := regexp.MustCompile(`net_addr_v4_add: (\S+)/`)
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		out := p.Output()
		if strings.Contains(out, "Initialization Sequence Completed") {
			if m := addr.FindStringSubmatch(out); m != nil {
				return m[1]
			}
			t.Fatalf("OpenVPN connected without an address:\n%s", out)
		}
		if time.Now().After(deadline) || p.Wait(0) {
			t.Fatalf("OpenVPN did not connect:\n%s", out)
		}
	}
}

// TestPointToSiteOpenVPN: a gateway with OpenVPN and IKEv2 among its client
// protocols serves OpenVPN clients over TCP on its SSTP port (R4, R10),
// from the lower half of its pool. OpenVPN 2.6, configured by the
// gateway's VPN client package (OpenVPN/vpnconfig.ovpn) with a
// certificate of the uploaded root (R12), checks the gateway's certificate
// against the region's CA, gets an address and the VNet's route pushed,
// pings the VNet's host and is pinged back, and carries iperf3 both ways.
// The health API lists it by its OpenVPN_ id, the metrics and Azure
// Monitor count it under Protocol OpenVPN, and disconnecting it through
// the API stops it. A client of another root is refused.
func TestPointToSiteOpenVPN(t *testing.T) {
	require(t)
	netnstest.Require(t, "openvpn")
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443", "--metrics-interval", "1s"}})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, _ := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := r.tunHost(vnet, "web")
	dir := t.TempDir()
	root := pkitest.Issue(t, "alice root", true, nil)
	_, certFile, keyFile := clientPKIOf(t, dir, "alice", root)
	_, strangerCert, strangerKey := clientPKI(t, dir, "mallory")
	enableP2S(r, gw, "172.16.201.0/24", root.Raw, "OpenVPN", "IkeV2")
	pkg := filepath.Join(dir, "package")
	if out, err := r.cli("vnet-gateway", "vpn-client", "generate", "-g", "p2s", "-n", "hub-gw", "--output-dir", pkg); err != nil {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}

	laptop := newSite(t, r, 1, pool)
	p := startOpenVPN(t, laptop.gw, pkg, certFile, keyFile)
	clientAddr := waitOpenVPN(t, p, 30*time.Second)
	// 172.16.201.0/25 is the TCP protocols' half; its first address is the
	// gateway's.
	if a := mustAddr(t, clientAddr); !strings.HasPrefix(clientAddr, "172.16.201.") || a.As4()[3] < 2 || a.As4()[3] > 126 {
		t.Errorf("OpenVPN got %s, want an address of 172.16.201.0/25", clientAddr)
	}
	if !strings.Contains(p.Output(), "10.1.0.0/16") && !strings.Contains(p.Output(), "10.1.0.0 255.255.0.0") {
		t.Errorf("OpenVPN was not pushed the VNet's route:\n%s", p.Output())
	}
	ping(t, laptop.gw, hostAddr, 10*time.Second)
	ping(t, host, mustAddr(t, clientAddr), 10*time.Second)
	up, _ := iperf(t, laptop.gw, host, hostAddr, 3)
	down, _ := iperf(t, host, laptop.gw, mustAddr(t, clientAddr), 3)
	t.Logf("iperf3 TCP 3 s through OpenVPN point-to-site (OpenVPN 2.6 in userspace): client -> VNet host %.0f Mbit/s, VNet host -> client %.0f Mbit/s", up, down)

	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil ||
		!strings.Contains(out, "OpenVPN_"+clientAddr) || !strings.Contains(out, "alice") {
		t.Errorf("vpn-client show-health: %v\n%s", err, out)
	}
	if n, _ := r.metric("vnetgw_p2s_connections", "gateway", strings.ToLower(gw.String()), "protocol", "OpenVPN"); n != 1 {
		t.Errorf("vnetgw_p2s_connections{protocol=OpenVPN} = %d with alice connected", n)
	}
	time.Sleep(1500 * time.Millisecond)
	if byProto := r.clientsByProtocol(gw); byProto["OpenVPN"] != 1 || byProto["IKEv2"] != 0 {
		t.Errorf("Azure Monitor: P2SConnectionCount by Protocol at most %v, want OpenVPN 1 and IKEv2 0", byProto)
	}

	// The administrator ends the connection: OpenVPN is told to stop
	// (it does not come back by itself, R14).
	if out, err := r.cli("vnet-gateway", "disconnect-vpn-connections", "-g", "p2s", "-n", "hub-gw", "--vpn-connections", "OpenVPN_"+clientAddr); err != nil {
		t.Fatalf("disconnect-vpn-connections: %v\n%s", err, out)
	}
	if !p.Wait(10 * time.Second) {
		t.Fatalf("OpenVPN still runs 10 s after the disconnect:\n%s", p.Output())
	}
	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil || strings.Contains(out, clientAddr) {
		t.Errorf("vpn-client show-health after the disconnect: %v\n%s", err, out)
	}

	stranger := newSite(t, r, 2, pool)
	q := startOpenVPN(t, stranger.gw, pkg, strangerCert, strangerKey)
	time.Sleep(5 * time.Second)
	if strings.Contains(q.Output(), "Initialization Sequence Completed") {
		t.Errorf("a client of another root connected:\n%s", q.Output())
	}
	if out, _ := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); strings.Contains(out, "mallory") {
		t.Errorf("the health lists a client of another root:\n%s", out)
	}
	q.Kill()

	// The profile carries the gateway's static key (tls-crypt): alice's
	// certificate without it does not get as far as TLS, and the gateway
	// counts the packet it dropped.
	profile, err := os.ReadFile(filepath.Join(pkg, vpnclient.FileOpenVPN))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(profile)
	i, j := strings.Index(conf, "<tls-crypt>"), strings.Index(conf, "</tls-crypt>")
	if i < 0 || j < i {
		t.Fatalf("the profile has no tls-crypt key:\n%s", conf)
	}
	noKey := filepath.Join(dir, "nokey")
	if err := os.MkdirAll(filepath.Join(noKey, filepath.Dir(vpnclient.FileOpenVPN)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(noKey, vpnclient.FileOpenVPN), []byte(conf[:i]+conf[j+len("</tls-crypt>"):]), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := r.metric("vnetgw_gateway_dropped_packets_total", "gateway", strings.ToLower(gw.String()), "reason", "openvpn_control")
	u := startOpenVPN(t, stranger.gw, noKey, certFile, keyFile)
	time.Sleep(3 * time.Second)
	if strings.Contains(u.Output(), "Initialization Sequence Completed") || strings.Contains(u.Output(), "TLS: Initial packet from") {
		t.Errorf("a client without the gateway's key got an answer:\n%s", u.Output())
	}
	if after, _ := r.metric("vnetgw_gateway_dropped_packets_total", "gateway", strings.ToLower(gw.String()), "reason", "openvpn_control"); after <= before {
		t.Errorf("openvpn_control drops %d before the client without the key, %d after", before, after)
	}
}

// TestPointToSiteOpenVPNRadius: a gateway whose OpenVPN clients
// authenticate with RADIUS (vpnAuthenticationTypes Radius, a
// radiusServerAddress and its secret) asks FreeRADIUS about each client's
// user name and password. The secret is not shown by a GET, only by
// listRadiusSecrets. OpenVPN with the package's profile (auth-user-pass,
// no certificate) and alice's password connects and pings the VNet;
// the health API names her; a wrong password gets AUTH_FAILED and the
// client stops.
func TestPointToSiteOpenVPNRadius(t *testing.T) {
	require(t)
	netnstest.Require(t, "openvpn")
	netnstest.RequireFreeRADIUS(t)
	r, hostAddr, fr := radiusRegion(t)

	// As az: vnet-gateway create ... --vpn-auth-type Radius --radius-server
	// --radius-secret.
	if out, err := r.cli("vnet-gateway", "create", "-g", "p2s", "-n", "hub-gw", "-l", "westeurope", "--vnet", "hub", "--public-ip-addresses", "hub-gw-ip",
		"--address-prefixes", "172.16.201.0/24", "--client-protocol", "OpenVPN", "--vpn-auth-type", "Radius",
		"--radius-server", "100.64.200.2", "--radius-secret", "gw-shared-s3cret", "-o", "json"); err != nil || strings.Contains(out, "gw-shared-s3cret") {
		t.Fatalf("vnet-gateway create with RADIUS: %v\n%s", err, out)
	}
	if out, err := r.cli("vnet-gateway", "show", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil || strings.Contains(out, "gw-shared-s3cret") || !strings.Contains(out, "100.64.200.2") {
		t.Errorf("vnet-gateway show: %v, the secret shown or the server not:\n%s", err, out)
	}
	if out, err := r.cli("vnet-gateway", "list-radius-secrets", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil || !strings.Contains(out, "gw-shared-s3cret") {
		t.Errorf("vnet-gateway list-radius-secrets: %v\n%s", err, out)
	}
	dir := t.TempDir()
	pkg := filepath.Join(dir, "package")
	if out, err := r.cli("vnet-gateway", "vpn-client", "generate", "-g", "p2s", "-n", "hub-gw", "--output-dir", pkg); err != nil {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}
	creds := func(password string) string {
		path := filepath.Join(t.TempDir(), "creds")
		if err := os.WriteFile(path, []byte("alice\n"+password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	laptop := newSite(t, r, 1, pool)
	p := startOpenVPN(t, laptop.gw, pkg, "", "", "--auth-user-pass", creds("correct horse battery staple"))
	clientAddr := waitOpenVPN(t, p, 30*time.Second)
	ping(t, laptop.gw, hostAddr, 10*time.Second)
	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil ||
		!strings.Contains(out, "OpenVPN_"+clientAddr) || !strings.Contains(out, `"vpnUserName": "alice"`) {
		t.Errorf("vpn-client show-health: %v\n%s", err, out)
	}
	if !strings.Contains(fr.Output(), "Calling-Station-Id = \""+laptop.addr.String()+"\"") {
		t.Errorf("FreeRADIUS was not told where alice connects from (%s):\n%s", laptop.addr, grepLines(fr.Output(), "Calling-Station-Id"))
	}

	mallory := newSite(t, r, 2, pool)
	q := startOpenVPN(t, mallory.gw, pkg, "", "", "--auth-user-pass", creds("guess"))
	if !q.Wait(20 * time.Second) {
		t.Fatalf("OpenVPN with a wrong password still runs after 20 s:\n%s", q.Output())
	}
	if !strings.Contains(q.Output(), "AUTH_FAILED") {
		t.Errorf("OpenVPN with a wrong password was not told AUTH_FAILED:\n%s", q.Output())
	}
	// Neither the RADIUS secret nor a password is in serve's log.
	for _, secret := range []string{"gw-shared-s3cret", "correct horse battery staple", "guess"} {
		if strings.Contains(r.proc.Output(), secret) {
			t.Errorf("serve's log holds the secret %q", secret)
		}
	}
}
