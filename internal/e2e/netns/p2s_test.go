package netns

import (
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/sigtest"
)

// clientPKI writes a client certificate of a new root, and its key, to
// dir and returns the root's DER.
func clientPKI(t *testing.T, dir, cn string) (rootDER []byte, certFile, keyFile string) {
	t.Helper()
	return clientPKIOf(t, dir, cn, pkitest.Issue(t, cn+" root", true, nil))
}

// clientPKIOf writes a client certificate of root, and its key, to dir and
// returns the root's DER.
func clientPKIOf(t *testing.T, dir, cn string, root *pkitest.Cert) (rootDER []byte, certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = pkitest.Issue(t, cn, false, root).WritePEM(t, dir, cn)
	return root.Raw, certFile, keyFile
}

// enableP2S gives gateway gw a client pool, the protocols (SSTP when none
// are given) and the root certificate rootDER (R12).
func enableP2S(r *region, gw arm.ID, pool string, rootDER []byte, protocols ...string) {
	r.t.Helper()
	if len(protocols) == 0 {
		protocols = []string{"SSTP"}
	}
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	g.Properties.VPNClientConfiguration = &arm.VPNClientConfiguration{
		VPNClientAddressPool: &arm.AddressSpace{AddressPrefixes: []string{pool}}, VPNClientProtocols: protocols,
		VPNClientRootCertificates: []arm.VPNClientRootCertificate{{Name: "root", Properties: arm.VPNClientRootCertificateProperties{
			PublicCertData: base64.StdEncoding.EncodeToString(rootDER)}}}}
	r.put(gw, g, nil)
}

// startClient starts `vnetgw p2s connect` in the region's namespace for
// the gateway at gwAddr (port 8443), with the TUN device in ns.
func startClient(t *testing.T, r *region, ns *netnstest.NS, gwAddr netip.Addr, route, cert, key string, extra ...string) *netnstest.Process {
	t.Helper()
	return r.ns.Start(vnetgwBinary(t), append([]string{"p2s", "connect", "--gateway", gwAddr.String() + ":8443", "--ca", filepath.Join(r.dir, "ca.pem"),
		"--cert", cert, "--key", key, "--netns", ns.Name, "--route", route}, extra...)...)
}

// connectClient starts the client and waits until it says it is
// connected (untilConnected).
func connectClient(t *testing.T, r *region, ns *netnstest.NS, gwAddr netip.Addr, route, cert, key string, extra ...string) *netnstest.Process {
	t.Helper()
	return untilConnected(t, func() *netnstest.Process { return startClient(t, r, ns, gwAddr, route, cert, key, extra...) })
}

// untilConnected starts a client of vnetgw's (start) and waits until it
// says it is connected; the gateway's server starts shortly after a
// change, so the client is started again until then, for 20 s.
func untilConnected(t *testing.T, start func() *netnstest.Process) *netnstest.Process {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		p := start()
		for i := 0; i < 50 && !strings.Contains(p.Output(), "connected to") && !p.Wait(0); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if strings.Contains(p.Output(), "connected to") {
			t.Cleanup(p.Kill)
			return p
		}
		p.Kill()
		if time.Now().After(deadline) {
			t.Fatalf("the client did not connect:\n%s", p.Output())
		}
	}
}

// TestPointToSiteSSTP: a gateway with a client pool, SSTP and an uploaded
// root (R12) serves point-to-site on its public address (R13, --sstp-port).
// vnetgw's own client (R10, `vnetgw p2s connect`) with a certificate of
// that root puts a TUN device with a pool address into a namespace, and
// the programs there ping the VNet's host and are pinged back; the client
// is given the VNet's DNS servers; the API ends the client's connection; a
// client whose certificate chains to another root is refused. Azure
// Monitor's P2S metrics count the client and its traffic.
func TestPointToSiteSSTP(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443", "--metrics-interval", "1s"}})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	// The VNet's DNS servers (az's vnet create --dns-servers, which keeps
	// the subnets), which the client is given.
	if out, err := r.cli("vnet", "create", "-g", "p2s", "-n", "hub", "-l", "westeurope", "--address-prefixes", "10.1.0.0/16",
		"--dns-servers", "10.1.0.53,10.1.0.54"); err != nil || !strings.Contains(out, "GatewaySubnet") {
		t.Fatalf("vnet create --dns-servers: %v\n%s", err, out)
	}
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := r.tunHost(vnet, "web")
	dir := t.TempDir()
	rootDER, certFile, keyFile := clientPKI(t, dir, "alice")
	_, strangerCert, strangerKey := clientPKI(t, dir, "mallory")
	enableP2S(r, gw, "172.16.201.0/24", rootDER)

	laptop := netnstest.New(t, "lap")
	p := connectClient(t, r, laptop, gwAddr, "10.1.0.0/16", certFile, keyFile)
	if !strings.Contains(p.Output(), "address 172.16.201.") {
		t.Errorf("the client's address is not of the pool:\n%s", p.Output())
	}
	if !strings.Contains(p.Output(), "DNS servers [10.1.0.53 10.1.0.54]") {
		t.Errorf("the client was not given the VNet's DNS servers:\n%s", p.Output())
	}
	ping(t, laptop, hostAddr, 10*time.Second)
	clientAddr := strings.Fields(p.Output()[strings.Index(p.Output(), "address ")+len("address "):])[0]
	ping(t, host, mustAddr(t, clientAddr), 10*time.Second)
	up, _ := iperf(t, laptop, host, hostAddr, 3)
	down, _ := iperf(t, host, laptop, mustAddr(t, clientAddr), 3)
	t.Logf("iperf3 TCP 3 s through SSTP: client -> VNet host %.0f Mbit/s, VNet host -> client %.0f Mbit/s", up, down)
	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "table"); err != nil ||
		!strings.Contains(out, "alice") || !strings.Contains(out, clientAddr) {
		t.Errorf("vpn-client show-health: %v\n%s", err, out)
	}

	// The gateway's packet capture takes in its clients' packets.
	gwArgs := []string{"-g", "p2s", "-n", "hub-gw"}
	if out, err := r.cli(append([]string{"vnet-gateway", "packet-capture", "start"}, gwArgs...)...); err != nil {
		t.Fatalf("packet-capture start: %v\n%s", err, out)
	}
	laptop.Run("ping", "-c", "2", "-i", "0.2", hostAddr.String())
	capture := filepath.Join(t.TempDir(), "p2s.pcap")
	if out, err := r.cli(append([]string{"vnet-gateway", "packet-capture", "stop", "--output-file", capture}, gwArgs...)...); err != nil {
		t.Fatalf("packet-capture stop: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(capture); err != nil {
		t.Fatal(err)
	} else if dump := tcpdump(t, b); strings.Count(dump, clientAddr+" > "+hostAddr.String()+": ICMP echo request") != 2 ||
		strings.Count(dump, hostAddr.String()+" > "+clientAddr+": ICMP echo reply") != 2 {
		t.Errorf("the gateway's capture of the client's pings:\n%s", dump)
	}

	p2sLabels := []string{"gateway", strings.ToLower(gw.String()), "protocol", "SSTP"}
	if n, _ := r.metric("vnetgw_p2s_connections", p2sLabels...); n != 1 {
		t.Errorf("vnetgw_p2s_connections = %d with alice connected", n)
	}
	time.Sleep(1500 * time.Millisecond) // a sample after the iperf3 runs
	m := r.monitor(gw.String(), "--metric", "P2SConnectionCount,P2SBandwidth", "--interval", "PT1S")
	if _, bw := sum(m.Value[1]); peak(m.Value[0]) != 1 || bw*8/1e6 < up+down {
		t.Errorf("Azure Monitor: P2SConnectionCount at most %v, want 1; P2SBandwidth %.0f Mbit over the hour, want at least %.0f (a second of the iperf3 runs)",
			peak(m.Value[0]), bw*8/1e6, up+down)
	}

	// The administrator ends alice's connection by the id the health
	// lists: her client is told and stops (it does not reconnect by
	// itself, R14), and the health lists no one.
	if out, err := r.cli("vnet-gateway", "disconnect-vpn-connections", "-g", "p2s", "-n", "hub-gw", "--vpn-connections", "SSTP_"+clientAddr); err != nil {
		t.Fatalf("disconnect-vpn-connections: %v\n%s", err, out)
	}
	if !p.Wait(10 * time.Second) {
		t.Fatalf("the client still runs 10 s after the disconnect:\n%s", p.Output())
	}
	if out := p.Output(); !strings.Contains(out, "the gateway disconnected") {
		t.Errorf("the disconnected client says:\n%s", out)
	}
	if out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json"); err != nil || strings.Contains(out, clientAddr) {
		t.Errorf("vpn-client show-health after the disconnect: %v\n%s", err, out)
	}
	if n, ok := r.metric("vnetgw_p2s_connections", p2sLabels...); n != 0 || !ok {
		t.Errorf("vnetgw_p2s_connections = %d (found %v) after the disconnect", n, ok)
	}

	q := startClient(t, r, netnstest.New(t, "lap"), gwAddr, "10.1.0.0/16", strangerCert, strangerKey)
	if !q.Wait(15 * time.Second) {
		q.Kill()
		t.Fatalf("a client of another root was not refused:\n%s", q.Output())
	}
	if out := q.Output(); !strings.Contains(out, "refused the client certificate") {
		t.Errorf("the refused client says:\n%s", out)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return a
}

// TestR16ClientOnTwoVNets: one laptop connects to the gateways of two VNets
// at once, each with its own client pool (R16: neither the spaces nor the
// pools overlap); the programs in its namespace reach a host in each.
func TestR16ClientOnTwoVNets(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	rootDER, certFile, keyFile := clientPKI(t, t.TempDir(), "alice")
	laptop := netnstest.New(t, "lap")
	for _, v := range []struct{ name, space, pool string }{{"hub", "10.1.0.0/16", "172.16.201.0/24"}, {"spoke", "10.2.0.0/16", "172.16.202.0/24"}} {
		vnet := r.vnet("r16", "westeurope", v.name, []string{v.space}, strings.Replace(v.space, ".0.0/16", ".255.0/27", 1))
		gw, gwAddr := r.gateway(vnet, v.name+"-gw", arm.RouteBased)
		_, hostAddr := r.tunHost(vnet, v.name+"-web")
		enableP2S(r, gw, v.pool, rootDER)
		p := connectClient(t, r, laptop, gwAddr, v.space, certFile, keyFile)
		if !strings.Contains(p.Output(), "address "+strings.TrimSuffix(v.pool, "0/24")) {
			t.Errorf("the address from %s is not of its pool %s:\n%s", v.name, v.pool, p.Output())
		}
		ping(t, laptop, hostAddr, 10*time.Second)
	}
	// Both at once: the first connection still carries traffic.
	ping(t, laptop, netip.MustParseAddr("10.1.0.4"), 10*time.Second)
}

// TestR14ClientReconnect: when the gateway goes away (serve restarts), a
// client ends (R14: no reconnect by itself) unless started with
// --reconnect, which connects again and carries traffic once the gateway
// is back.
func TestR14ClientReconnect(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	vnet := r.vnet("r14", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	_, hostAddr := r.tunHost(vnet, "web")
	rootDER, certFile, keyFile := clientPKI(t, t.TempDir(), "alice")
	enableP2S(r, gw, "172.16.201.0/24", rootDER)
	plain, again := netnstest.New(t, "lap"), netnstest.New(t, "lap")
	p := connectClient(t, r, plain, gwAddr, "10.1.0.0/16", certFile, keyFile)
	q := connectClient(t, r, again, gwAddr, "10.1.0.0/16", certFile, keyFile, "--reconnect")
	ping(t, again, hostAddr, 10*time.Second)

	r.stop()
	if !p.Wait(10 * time.Second) {
		t.Fatalf("the client without --reconnect outlived its gateway:\n%s", p.Output())
	}
	r.start()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(q.Output(), "connected to") < 2 {
		if time.Now().After(deadline) || q.Wait(0) {
			t.Fatalf("the client with --reconnect did not connect again:\n%s", q.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	ping(t, again, hostAddr, 10*time.Second)
	if n := strings.Count(p.Output(), "connected to"); n != 1 {
		t.Errorf("the client without --reconnect connected %d times:\n%s", n, p.Output())
	}
}

// TestVPNClientPackage: the gateway's VPN client configuration package
// (vnet-gateway vpn-client generate --output-dir) connects a laptop as it
// says: its script for vnetgw's own client, given only the laptop's
// certificate, key and namespace, brings the tunnel up with the routes of
// the VNet and of the site connected to the gateway.
func TestVPNClientPackage(t *testing.T) {
	require(t)
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	vnet := r.vnet("pkg", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	_, hostAddr := r.tunHost(vnet, "web")
	r.connection(gw, r.localGateway("pkg", "westeurope", "branch", netip.MustParseAddr("100.64.9.2"), "192.168.9.0/24"), "to-branch", "PackageKey1")
	dir := t.TempDir()
	rootDER, certFile, keyFile := clientPKI(t, dir, "alice")
	enableP2S(r, gw, "172.16.202.0/24", rootDER)

	pkg := filepath.Join(dir, "package")
	out, err := r.cli("vnet-gateway", "vpn-client", "generate", "-g", "pkg", "-n", "hub-gw", "--output-dir", pkg)
	if err != nil || !strings.Contains(out, "/vpnclientpackage/") {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}
	settings, _ := os.ReadFile(filepath.Join(pkg, "settings.json"))
	if !strings.Contains(string(settings), gwAddr.String()) || !strings.Contains(string(settings), "192.168.9.0/24") {
		t.Errorf("settings.json names neither the gateway nor the site's range:\n%s", settings)
	}

	laptop := netnstest.New(t, "lap")
	script := filepath.Join(pkg, "vnetgw", "connect.sh")
	path := "PATH=" + filepath.Dir(vnetgwBinary(t)) + ":" + os.Getenv("PATH")
	untilConnected(t, func() *netnstest.Process { return r.ns.Start("env", path, script, certFile, keyFile, laptop.Name) })
	ping(t, laptop, hostAddr, 10*time.Second)
	if routes := laptop.Run("ip", "route"); !strings.Contains(routes, "192.168.9.0/24") {
		t.Errorf("the laptop has no route to the site's range:\n%s", routes)
	}
}

// TestPointToSiteSSTPRadius: a gateway whose SSTP clients authenticate
// with RADIUS alone (vpnAuthenticationTypes Radius) relays each client's
// MS-CHAPv2 response to FreeRADIUS. The package's script for vnetgw's own
// client takes a user name (the password from $VNETGW_PASSWORD): alice
// with her password connects, pings the VNet's host and the health API
// names her; FreeRADIUS's accounting has her session (serve reports it
// by default), its Stop, once she is disconnected through the API, with
// what her pings carried. A wrong password is refused and the client says
// so. No password and no RADIUS secret is in serve's log.
func TestPointToSiteSSTPRadius(t *testing.T) {
	require(t)
	netnstest.RequireFreeRADIUS(t)
	r, hostAddr, fr := radiusRegion(t)
	if out, err := r.cli("vnet-gateway", "create", "-g", "p2s", "-n", "hub-gw", "-l", "westeurope", "--vnet", "hub", "--public-ip-addresses", "hub-gw-ip",
		"--address-prefixes", "172.16.201.0/24", "--client-protocol", "SSTP", "--vpn-auth-type", "Radius",
		"--radius-server", "100.64.200.2", "--radius-secret", "gw-shared-s3cret", "-o", "json"); err != nil {
		t.Fatalf("vnet-gateway create with RADIUS and SSTP: %v\n%s", err, out)
	}
	pkg := filepath.Join(t.TempDir(), "package")
	if out, err := r.cli("vnet-gateway", "vpn-client", "generate", "-g", "p2s", "-n", "hub-gw", "--output-dir", pkg); err != nil {
		t.Fatalf("vpn-client generate: %v\n%s", err, out)
	}
	script := filepath.Join(pkg, "vnetgw", "connect.sh")
	path := "PATH=" + filepath.Dir(vnetgwBinary(t)) + ":" + os.Getenv("PATH")
	connect := func(ns *netnstest.NS, password string) *netnstest.Process {
		return r.ns.Start("env", path, "VNETGW_PASSWORD="+password, script, "alice", ns.Name)
	}

	laptop := netnstest.New(t, "lap")
	p := untilConnected(t, func() *netnstest.Process { return connect(laptop, "correct horse battery staple") })
	ping(t, laptop, hostAddr, 10*time.Second)
	disconnectAccounted(t, r, fr, "SSTP")

	mallory := netnstest.New(t, "mal")
	q := connect(mallory, "guess")
	if !q.Wait(20 * time.Second) {
		t.Fatalf("the client with a wrong password still runs after 20 s:\n%s", q.Output())
	}
	if !strings.Contains(q.Output(), `refused user "alice"`) {
		t.Errorf("the client with a wrong password does not say it was refused:\n%s", q.Output())
	}
	for _, secret := range []string{"gw-shared-s3cret", "correct horse battery staple", "guess"} {
		if strings.Contains(r.proc.Output(), secret) || strings.Contains(p.Output(), secret) || strings.Contains(q.Output(), secret) {
			t.Errorf("serve's or the client's log holds the secret %q", secret)
		}
	}
}

// TestRadiusFromGatewayAddress: a gateway asks a RADIUS server that its
// VNet reaches from its private address in the GatewaySubnet, through the
// VNet's router, as Azure's does: FreeRADIUS runs on a host of the VNet,
// which the node's network does not reach, and sees the requests come
// from the gateway's address (and NAS-IP-Address say so); an SSTP client
// with alice's password connects. With BGP on, the speaker's endpoint,
// which peers from that address, asks.
func TestRadiusFromGatewayAddress(t *testing.T) {
	require(t)
	netnstest.RequireFreeRADIUS(t)
	for _, bgp := range []bool{false, true} {
		t.Run(map[bool]string{false: "without BGP", true: "with BGP"}[bgp], func(t *testing.T) { radiusFromGatewayAddress(t, bgp) })
	}
}

func radiusFromGatewayAddress(t *testing.T, bgp bool) {
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	_, hostAddr := r.tunHost(vnet, "web")
	radNS, radAddr := r.tunHost(vnet, "nps")
	fr := netnstest.StartFreeRADIUS(t, radNS, "gw-shared-s3cret", map[string]string{"alice": "correct horse battery staple"})
	args := []string{"vnet-gateway", "create", "-g", "p2s", "-n", "hub-gw", "-l", "westeurope", "--vnet", "hub", "--public-ip-addresses", "hub-gw-ip",
		"--address-prefixes", "172.16.201.0/24", "--client-protocol", "SSTP", "--vpn-auth-type", "Radius",
		"--radius-server", radAddr.String(), "--radius-secret", "gw-shared-s3cret", "-o", "json"}
	if bgp {
		args = append(args, "--asn", "65010")
	}
	if out, err := r.cli(args...); err != nil {
		t.Fatalf("vnet-gateway create with a RADIUS server in the VNet: %v\n%s", err, out)
	}
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	private := g.Properties.IPConfigurations[0].Properties.PrivateIPAddress
	if bgp && (g.Properties.BGPSettings == nil || g.Properties.BGPSettings.BGPPeeringAddress != private) {
		t.Fatalf("the gateway's BGP peering address is not its private address %s: %+v", private, g.Properties.BGPSettings)
	}

	laptop := netnstest.New(t, "lap")
	untilConnected(t, func() *netnstest.Process {
		return r.ns.Start("env", "VNETGW_PASSWORD=correct horse battery staple", vnetgwBinary(t), "p2s", "connect", "--gateway", gwAddr.String()+":8443",
			"--ca", filepath.Join(r.dir, "ca.pem"), "--user", "alice", "--netns", laptop.Name, "--route", "10.1.0.0/16")
	})
	ping(t, laptop, hostAddr, 10*time.Second)
	if bgp && !strings.Contains(r.proc.Output(), "BGP speaker started") {
		t.Errorf("no BGP speaker runs")
	}
	if out := fr.Output(); !strings.Contains(out, "from "+private+":") || !strings.Contains(out, "NAS-IP-Address = "+private) {
		t.Errorf("FreeRADIUS did not see the requests come from the gateway's address %s:\n%s", private, grepLines(out, "Access-Request")+grepLines(out, "NAS-IP-Address"))
	}
}

// radiusRegion is a region (SSTP and OpenVPN on port 8443) with VNet hub,
// its gateway hub-gw and a host, and FreeRADIUS at 100.64.200.2, reached
// from the node's network, that knows alice (secret gw-shared-s3cret).
func radiusRegion(t *testing.T) (*region, netip.Addr, *netnstest.FreeRADIUS) {
	t.Helper()
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	vnet := r.vnet("p2s", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	r.gateway(vnet, "hub-gw", arm.RouteBased)
	_, hostAddr := r.tunHost(vnet, "web")
	radNS := netnstest.New(t, "rad")
	netnstest.Link(t, r.ns, "100.64.200.1/30", radNS, "100.64.200.2/30")
	fr := netnstest.StartFreeRADIUS(t, radNS, "gw-shared-s3cret", map[string]string{"alice": "correct horse battery staple"})
	return r, hostAddr, fr
}

// TestClientHangupDisconnects: `vnetgw p2s connect` whose terminal goes
// away (SIGHUP) ends its call as Ctrl-C does, with CALL_DISCONNECT, and
// exits 0; it was killed by the signal, the gateway left to find the
// connection gone.
func TestClientHangupDisconnects(t *testing.T) {
	require(t)
	sigtest.HangupAtDefault()
	r := newRegion(t, regionOptions{pool: pool, args: []string{"--sstp-port", "8443"}})
	vnet := r.vnet("hup", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := r.gateway(vnet, "hub-gw", arm.RouteBased)
	rootDER, certFile, keyFile := clientPKI(t, t.TempDir(), "alice")
	enableP2S(r, gw, "172.16.201.0/24", rootDER)
	p := connectClient(t, r, netnstest.New(t, "hup"), gwAddr, "10.1.0.0/16", certFile, keyFile)
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !p.Wait(15 * time.Second) {
		t.Fatalf("the client did not end within 15 s of SIGHUP:\n%s", p.Output())
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("after SIGHUP the client ended with %v, want exit 0 after its disconnect:\n%s", p.Cmd.ProcessState, p.Output())
	}
}

// disconnectAccounted disconnects alice's connection over protocol, which
// the health API names (with her name), of gateway hub-gw in group p2s
// through the API, and checks FreeRADIUS's accounting of her session: a
// Start, and a Stop ended by Admin-Reset with what her pings carried.
func disconnectAccounted(t *testing.T, r *region, fr *netnstest.FreeRADIUS, protocol string) {
	t.Helper()
	out, err := r.cli("vnet-gateway", "vpn-client", "show-health", "-g", "p2s", "-n", "hub-gw", "-o", "json")
	id := regexp.MustCompile(protocol + `_172\.16\.201\.[0-9]+`).FindString(out)
	if err != nil || id == "" || !strings.Contains(out, `"vpnUserName": "alice"`) {
		t.Fatalf("vpn-client show-health: %v\n%s", err, out)
	}
	if out, err := r.cli("vnet-gateway", "disconnect-vpn-connections", "-g", "p2s", "-n", "hub-gw", "--vpn-connections", id); err != nil {
		t.Fatalf("disconnect-vpn-connections %s: %v\n%s", id, err, out)
	}
	start, stop := fr.Session(t, 0, strings.TrimPrefix(id, protocol+"_"))
	if start["User-Name"] != `"alice"` || stop["Acct-Terminate-Cause"] != "Admin-Reset" || stop["Acct-Input-Packets"] == "0" || stop["Acct-Output-Octets"] == "0" {
		t.Errorf("FreeRADIUS's accounting of alice's session:\nStart %v\nStop %v\nwant alice's, ended by Admin-Reset, with her pings", start, stop)
	}
}
