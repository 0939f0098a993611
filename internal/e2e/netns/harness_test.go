// Package netns tests vnetgw end to end in network namespaces, through its
// API only (issue 4): real `vnetgw serve` processes run in "region"
// namespaces, with their gateways' public addresses on an interface there
// (--public-interface); hosts of VNets are TUN devices in namespaces of
// their own (properties.attachment); on-premises sites are real strongSwan
// instances with a host on their LAN. The tests create resources with the
// typed client (dialing into the region's namespace) or the CLI, and check
// what a user would notice: pings and iperf3 between hosts, the status and
// counters the API reports, and the SAs strongSwan lists.
//
// They need root, strongSwan, iperf3 and ping; without them they skip
// (they fail instead under VNETGW_REQUIRE_INTEROP=1).
package netns

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// The layout every test builds from:
//
//	host ns (TUN, 10.x.0.4) ─ vnetgw serve in the region ns ─ 100.64.i.0/30 ─ site i (strongSwan) ─ LAN host
//	                          gateways' public addresses on lo
//
// Each site is linked to the region namespace directly and routes the
// region's public IP pool through that link.

// sub is the subscription every test uses.
const sub = "e2e00000-0000-0000-0000-0000000000e2"

// Proposals both sides agree on; vnetgw's defaults include them.
const (
	ikeProposal = "aes256gcm16-prfsha256-ecp256"
	espProposal = "aes256gcm16"
)

var (
	buildOnce sync.Once
	buildDir  string
	binary    string
	buildErr  error
)

// vnetgwBinary builds vnetgw once per test run.
func vnetgwBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "vnetgw-netns-"); buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "vnetgw")
		out, err := exec.Command("go", "build", "-o", binary, "github.com/vnetgw/vnetgw/cmd/vnetgw").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building vnetgw: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// require skips (or fails) the test without root and the tools the tests
// use.
func require(t *testing.T) {
	t.Helper()
	netnstest.RequireStrongSwan(t, "iperf3", "ping")
}

// region is a `vnetgw serve` running in a namespace of its own.
type region struct {
	t      *testing.T
	ns     *netnstest.NS
	dir    string // data directory
	args   []string
	proc   *netnstest.Process
	c      *client.Client
	starts int
}

type regionOptions struct {
	// pool is --public-ip-pool; its addresses go on lo in the namespace.
	pool string
	// listen is --listen; default 127.0.0.1:7443 (the namespace's own
	// loopback, so every region may use it).
	listen string
	// args are further flags of serve.
	args []string
	// ns is the region's namespace; default a new one.
	ns *netnstest.NS
	// dir is the data directory; default a new one.
	dir string
}

// newRegion makes a region namespace and starts vnetgw serve in it; the
// gateways' public addresses go on its loopback interface
// (--public-interface lo), from where the links to the sites reach them.
func newRegion(t *testing.T, o regionOptions) *region {
	t.Helper()
	if o.listen == "" {
		o.listen = "127.0.0.1:7443"
	}
	if o.ns == nil {
		o.ns = netnstest.New(t, "rg")
	}
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	r := &region{t: t, ns: o.ns, dir: o.dir}
	r.args = append([]string{"serve", "--data-dir", r.dir, "--listen", o.listen, "--public-ip-pool", o.pool,
		"--public-interface", "lo"}, o.args...)
	r.start()
	return r
}

// start starts serve and waits until it serves.
func (r *region) start() {
	r.t.Helper()
	r.starts++
	r.proc = r.ns.Start(vnetgwBinary(r.t), r.args...)
	proc, n := r.proc, r.starts
	r.t.Cleanup(func() {
		if r.t.Failed() {
			r.t.Logf("vnetgw serve #%d in %s (without API requests):\n%s", n, r.ns.Name, tail(withoutRequests(proc.Output()), 150))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(r.proc.Output(), "vnetgw serving ") {
		if time.Now().After(deadline) || r.proc.Wait(0) {
			r.t.Fatalf("vnetgw serve did not start in %s:\n%s", r.ns.Name, r.proc.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cfg, err := client.Discover(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	cfg.DialContext = r.dial
	if r.c, err = client.New(cfg); err != nil {
		r.t.Fatal(err)
	}
}

// dial opens a TCP connection from inside the region's namespace.
func (r *region) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := r.ns.Do(func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// stop stops serve with SIGTERM and checks that it exits cleanly.
func (r *region) stop() {
	r.t.Helper()
	r.proc.Cmd.Process.Signal(syscall.SIGTERM)
	if !r.proc.Wait(20 * time.Second) {
		r.t.Fatalf("vnetgw serve did not stop within 20 s of SIGTERM:\n%s", tail(r.proc.Output(), 50))
	}
	if code := r.proc.Cmd.ProcessState.ExitCode(); code != 0 {
		r.t.Fatalf("vnetgw serve exited with %d after SIGTERM:\n%s", code, tail(r.proc.Output(), 50))
	}
}

// kill kills serve (SIGKILL): nothing is cleaned up.
func (r *region) kill() { r.proc.Kill() }

// cli runs the vnetgw CLI in the region's namespace against its data
// directory, as a user on that machine would.
func (r *region) cli(args ...string) (string, error) {
	r.t.Helper()
	globals := []string{"--data-dir", r.dir, "--subscription", sub}
	if noSubscription(args) {
		globals = globals[:2]
	}
	return r.ns.Try(vnetgwBinary(r.t), append(globals, args...)...)
}

// noSubscription tells the commands that refuse --subscription: the node's
// counters (metrics), the region's nodes (cluster but move-vnet, whose VNet
// is a subscription's) and monitor's metrics of a resource given by its
// full id are no subscription's.
func noSubscription(args []string) bool {
	switch {
	case len(args) == 0:
		return false
	case args[0] == "cluster":
		return len(args) < 2 || args[1] != "move-vnet"
	}
	return args[0] == "metrics" || args[0] == "monitor"
}

// withoutRequests leaves out the API's log line per request.
func withoutRequests(log string) string {
	var b strings.Builder
	for line := range strings.Lines(log) {
		if !strings.Contains(line, " msg=request ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func (r *region) put(id arm.ID, in, out any) {
	r.t.Helper()
	if _, err := r.c.Put(context.Background(), id, in, out); err != nil {
		r.t.Fatalf("PUT %s: %v", id.Name(), err)
	}
}

func (r *region) get(id arm.ID, out any) {
	r.t.Helper()
	if err := r.c.Get(context.Background(), id, out); err != nil {
		r.t.Fatalf("GET %s: %v", id.Name(), err)
	}
}

// vnet creates a resource group (once) and a VNet in it with the subnet
// "default" (the first /24 of the first prefix) and GatewaySubnet
// (gwSubnet).
func (r *region) vnet(rg, location, name string, prefixes []string, gwSubnet string) arm.ID {
	r.t.Helper()
	r.put(arm.ResourceGroupID(sub, rg), arm.ResourceGroup{Location: location}, nil)
	id := arm.NetworkID(sub, rg, "virtualNetworks", name)
	first := netip.MustParsePrefix(prefixes[0]).Addr().As4()
	v := arm.VirtualNetwork{Resource: arm.Resource{Location: location}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: prefixes}
	v.Properties.Subnets = []arm.Subnet{
		{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("%d.%d.%d.0/24", first[0], first[1], first[2])}},
		{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: gwSubnet}},
	}
	r.put(id, v, nil)
	return id
}

// gateway creates a public IP and a VPN gateway in vnet and returns the
// gateway's id and its public address, as the API reports it (R20).
func (r *region) gateway(vnet arm.ID, name, vpnType string) (arm.ID, netip.Addr) {
	r.t.Helper()
	sub, rg, loc := vnet.Subscription, vnet.ResourceGroup, r.location(vnet)
	pip := arm.NetworkID(sub, rg, "publicIPAddresses", name+"-ip")
	r.put(pip, arm.PublicIPAddress{Resource: arm.Resource{Location: loc}}, nil)
	id := arm.NetworkID(sub, rg, "virtualNetworkGateways", name)
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
	g.Properties.GatewayType = arm.GatewayTypeVpn
	g.Properties.VPNType = vpnType
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw2", Tier: "VpnGw2"}
	if vpnType == arm.PolicyBased {
		g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "Basic", Tier: "Basic"}
	}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ipconfig1", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	r.put(id, g, nil)
	var got arm.PublicIPAddress
	r.get(pip, &got)
	addr, err := netip.ParseAddr(got.Properties.IPAddress)
	if err != nil {
		r.t.Fatalf("gateway %s has no public address: %+v", name, got.Properties)
	}
	return id, addr
}

func (r *region) location(vnet arm.ID) string {
	r.t.Helper()
	var v arm.VirtualNetwork
	r.get(vnet, &v)
	return v.Location
}

// tunHost makes a namespace and a network interface in vnet's subnet
// "default" attached as a TUN device in it (properties.attachment), and
// waits until the device is there. It returns the namespace and the
// interface's private address.
func (r *region) tunHost(vnet arm.ID, name string) (*netnstest.NS, netip.Addr) {
	r.t.Helper()
	return r.tunHostIn(vnet, "default", name)
}

// tunHostIn is tunHost in another subnet of vnet.
func (r *region) tunHostIn(vnet arm.ID, subnet, name string) (*netnstest.NS, netip.Addr) {
	r.t.Helper()
	ns := netnstest.New(r.t, "h")
	// Without IPv6 the host sends nothing by itself (no router
	// solicitations), so that the VNet's counters count only the tests'
	// packets.
	ns.Run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	id := arm.NetworkID(vnet.Subscription, vnet.ResourceGroup, "networkInterfaces", name)
	n := arm.NetworkInterface{Resource: arm.Resource{Location: r.location(vnet)}}
	n.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ipconfig1", Properties: arm.NetworkInterfaceIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", subnet).String())}}}
	n.Properties.Attachment = &arm.Attachment{Kind: "tun", NetNS: ns.Name}
	var out arm.NetworkInterface
	r.put(id, n, &out)
	addr := netip.MustParseAddr(out.Properties.IPConfigurations[0].Properties.PrivateIPAddress)
	waitHostDevice(r.t, ns, addr)
	return ns, addr
}

// waitHostDevice waits until vnetgw made the TUN device of addr in ns.
func waitHostDevice(t *testing.T, ns *netnstest.NS, addr netip.Addr) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := ns.Try("ip", "-o", "-4", "addr", "show")
		if strings.Contains(out, " "+addr.String()+"/") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no TUN device with %s in %s after 15 s:\n%s", addr, ns.Name, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// localGateway creates an on-premises site.
func (r *region) localGateway(rg, location, name string, addr netip.Addr, prefixes ...string) arm.ID {
	r.t.Helper()
	id := arm.NetworkID(sub, rg, "localNetworkGateways", name)
	l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: location}}
	l.Properties.GatewayIPAddress = addr.String()
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: prefixes}
	r.put(id, l, nil)
	return id
}

// bgpLocalGateway creates, in westeurope, the local network gateway of a
// site at addr whose BGP speaker, of AS asn, is at peer; it names
// prefixes as its ranges (none: BGP alone).
func (r *region) bgpLocalGateway(rg, name string, addr netip.Addr, asn int64, peer string, prefixes ...string) arm.ID {
	r.t.Helper()
	id := arm.NetworkID(sub, rg, "localNetworkGateways", name)
	l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	l.Properties.GatewayIPAddress = addr.String()
	if len(prefixes) > 0 {
		l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: prefixes}
	}
	l.Properties.BGPSettings = &arm.BGPSettings{ASN: asn, BGPPeeringAddress: peer}
	r.put(id, l, nil)
	return id
}

// connection creates a site-to-site connection from gw to the site lgw
// with key.
func (r *region) connection(gw, lgw arm.ID, name, key string) arm.ID {
	r.t.Helper()
	return r.putConnection(gw, name, key, arm.ConnectionIPsec, func(p *arm.ConnectionProperties) { p.LocalNetworkGateway2 = arm.Ref(lgw.String()) })
}

// putConnection creates a connection of type typ from gw with key; remote
// names its other end.
func (r *region) putConnection(gw arm.ID, name, key, typ string, remote func(*arm.ConnectionProperties)) arm.ID {
	r.t.Helper()
	id := arm.NetworkID(gw.Subscription, gw.ResourceGroup, "connections", name)
	c := arm.Connection{Resource: arm.Resource{Location: r.gatewayLocation(gw)}}
	c.Properties.ConnectionType = typ
	c.Properties.VirtualNetworkGateway1 = arm.Ref(gw.String())
	c.Properties.SharedKey = key
	remote(&c.Properties)
	r.put(id, c, nil)
	return id
}

func (r *region) gatewayLocation(gw arm.ID) string {
	r.t.Helper()
	var g arm.VirtualNetworkGateway
	r.get(gw, &g)
	return g.Location
}

// waitConnection polls the connection through the API until ok accepts
// it, and returns it.
func (r *region) waitConnection(id arm.ID, d time.Duration, what string, ok func(arm.ConnectionProperties) bool) arm.Connection {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var c arm.Connection
		err := r.c.Get(context.Background(), id, &c)
		if err == nil && ok(c.Properties) {
			return c
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(c.Properties, "", "  ")
			r.t.Fatalf("connection %s not %s after %s (%v):\n%s", id.Name(), what, d, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func connected(p arm.ConnectionProperties) bool { return p.ConnectionStatus == "Connected" }

// site is an on-premises site: strongSwan in one namespace, linked to the
// region, and a host on its LAN in another.
type site struct {
	t     *testing.T
	gw    *netnstest.NS // strongSwan
	lan   *netnstest.NS // the host behind it
	addr  netip.Addr    // strongSwan's public address
	host  netip.Addr    // the LAN host
	lanTS string        // the LAN's prefixes
	ch    *netnstest.Charon
}

// newSite builds site i (1..250): strongSwan at 100.64.i.2, linked to the
// region's namespace at 100.64.i.1 and routing regionPool there; its LAN is
// 192.168.i.0/24 with the host at 192.168.i.2. extra are more addresses
// (CIDR) of the host, on the same link, whose prefixes the site also
// serves.
func newSite(t *testing.T, r *region, i int, regionPool string, extra ...string) *site {
	t.Helper()
	s := &site{t: t, gw: netnstest.New(t, "s"), addr: netip.MustParseAddr(fmt.Sprintf("100.64.%d.2", i))}
	netnstest.Link(t, r.ns, fmt.Sprintf("100.64.%d.1/30", i), s.gw, fmt.Sprintf("100.64.%d.2/30", i))
	s.gw.Run("ip", "route", "add", regionPool, "via", fmt.Sprintf("100.64.%d.1", i))
	s.addLAN(i, extra)
	return s
}

// newSiteBehindRouter is newSite with a router between the region and
// strongSwan, at 100.65.i.2, whose link to strongSwan carries packets of
// at most mtu bytes: the region's kernel learns the smaller path MTU only
// from the router's ICMP errors (RFC 1191), as across the Internet.
func newSiteBehindRouter(t *testing.T, r *region, i int, regionPool string, mtu int) *site {
	t.Helper()
	router := netnstest.New(t, "rt")
	s := &site{t: t, gw: netnstest.New(t, "s"), addr: netip.MustParseAddr(fmt.Sprintf("100.65.%d.2", i))}
	netnstest.Link(t, r.ns, fmt.Sprintf("100.64.%d.1/30", i), router, fmt.Sprintf("100.64.%d.2/30", i))
	r.ns.Run("ip", "route", "add", fmt.Sprintf("100.65.%d.0/30", i), "via", fmt.Sprintf("100.64.%d.2", i))
	router.Run("ip", "route", "add", regionPool, "via", fmt.Sprintf("100.64.%d.1", i))
	routerIf, siteIf := netnstest.Link(t, router, fmt.Sprintf("100.65.%d.1/30", i), s.gw, s.addr.String()+"/30")
	router.Run("ip", "link", "set", routerIf, "mtu", fmt.Sprint(mtu))
	s.gw.Run("ip", "link", "set", siteIf, "mtu", fmt.Sprint(mtu))
	router.Forward()
	s.gw.Run("ip", "route", "add", regionPool, "via", fmt.Sprintf("100.65.%d.1", i))
	s.addLAN(i, nil)
	return s
}

// addLAN gives site i its LAN, 192.168.i.0/24 with the host at
// 192.168.i.2 and extra as newSite says, and has it forward.
func (s *site) addLAN(i int, extra []string) {
	t := s.t
	t.Helper()
	s.lan, s.host, s.lanTS = netnstest.New(t, "l"), netip.MustParseAddr(fmt.Sprintf("192.168.%d.2", i)), fmt.Sprintf("192.168.%d.0/24", i)
	_, lanIf := netnstest.Link(t, s.lan, s.host.String()+"/24", s.gw, fmt.Sprintf("192.168.%d.1/24", i))
	lanHostIf := ""
	for _, a := range extra {
		p := netip.MustParsePrefix(a)
		s.gw.Run("ip", "addr", "add", netip.PrefixFrom(p.Masked().Addr().Next(), p.Bits()).String(), "dev", lanIf)
		if lanHostIf == "" {
			lanHostIf = hostIf(t, s.lan, s.host)
		}
		s.lan.Run("ip", "addr", "add", a, "dev", lanHostIf)
	}
	s.lan.Run("ip", "route", "add", "default", "via", fmt.Sprintf("192.168.%d.1", i))
	s.gw.Forward()
}

// hostIf returns the interface of ns that has addr.
func hostIf(t *testing.T, ns *netnstest.NS, addr netip.Addr) string {
	t.Helper()
	for _, line := range strings.Split(ns.Run("ip", "-o", "-4", "addr", "show"), "\n") {
		if f := strings.Fields(line); len(f) > 3 && strings.HasPrefix(f[3], addr.String()+"/") {
			return f[1]
		}
	}
	t.Fatalf("no interface with %s in %s", addr, ns.Name)
	return ""
}

// charon starts strongSwan at the site, towards the gateway at remote,
// with tweaks applied to its configuration.
func (s *site) charon(remote netip.Addr, key, localTS, remoteTS string, tweak ...func(*netnstest.CharonConfig)) *netnstest.Charon {
	s.t.Helper()
	cfg := netnstest.CharonConfig{Local: s.addr.String(), Remote: remote.String(), PSK: key,
		IKEProposal: ikeProposal, ESPProposal: espProposal, LocalTS: localTS, RemoteTS: remoteTS}
	for _, f := range tweak {
		f(&cfg)
	}
	s.ch = netnstest.StartCharon(s.t, s.gw, cfg)
	return s.ch
}

// ping pings to from ns until a reply comes back or d passes. The first
// packets may be lost while a tunnel comes up.
func ping(t *testing.T, from *netnstest.NS, to netip.Addr, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out, err := from.Try("ping", "-c", "3", "-i", "0.2", "-W", "1", "-w", "3", to.String())
		if err == nil && !strings.Contains(out, " 0 received") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ping %s from %s: %v\n%s", to, from.Name, err, out)
		}
	}
}

// noPing checks that to does not answer from ns.
func noPing(t *testing.T, from *netnstest.NS, to netip.Addr) {
	t.Helper()
	if out, err := from.Try("ping", "-c", "2", "-i", "0.2", "-W", "1", to.String()); err == nil {
		t.Fatalf("ping %s from %s got an answer:\n%s", to, from.Name, out)
	}
}

// iperf runs iperf3 TCP for secs seconds from client to server (bound to
// addr) and returns the received rate in Mbit/s and the bytes received.
func iperf(t *testing.T, client, server *netnstest.NS, addr netip.Addr, secs int) (mbps float64, bytes int64) {
	t.Helper()
	return iperfVia(t, client, server, addr, addr, secs)
}

// iperfVia is iperf to a server that listens on listen and that the
// client reaches at addr (another address where NAT is in between).
func iperfVia(t *testing.T, client, server *netnstest.NS, listen, addr netip.Addr, secs int) (mbps float64, bytes int64) {
	t.Helper()
	srv := server.Start("iperf3", "-s", "-1", "-B", listen.String())
	defer srv.Kill()
	var out string
	var err error
	// Until the server listens: iperf3 -J may exit 0 with its error in
	// the JSON, so the refusal is read from the output.
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(100 * time.Millisecond)
		out, err = client.Try("iperf3", "-c", addr.String(), "-t", fmt.Sprint(secs), "-J", "--connect-timeout", "3000")
		if !strings.Contains(out, "Connection refused") || time.Now().After(deadline) {
			break
		}
	}
	var res struct {
		Error string
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				Bytes         int64
			} `json:"sum_received"`
		}
	}
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil || err != nil || res.Error != "" {
		t.Fatalf("iperf3 %s -> %s: %v %s\n%.2000s\nserver:\n%s", client.Name, addr, err, res.Error, out, srv.Output())
	}
	if res.End.SumReceived.Bytes <= 0 {
		t.Fatalf("iperf3 %s -> %s moved nothing:\n%.2000s", client.Name, addr, out)
	}
	return res.End.SumReceived.BitsPerSecond / 1e6, res.End.SumReceived.Bytes
}

// waitNoSAs waits until strongSwan lists no SA at all.
func waitNoSAs(t *testing.T, ch *netnstest.Charon, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out := ch.SAs()
		if !strings.Contains(out, "ESTABLISHED") && !strings.Contains(out, "INSTALLED") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("strongSwan still lists SAs after %s:\n%s", d, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
