package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/reconcile"
	"github.com/vnetgw/vnetgw/internal/strongswan"
)

// ControlOptions say what the control-plane part measures against a real
// `vnetgw serve` (HTTPS, bearer token, bbolt fsynced on every write).
type ControlOptions struct {
	// PUTs is the number of gateway PUTs and of connection PUTs timed.
	PUTs int
	// Connects is how often each kind of connection is made, to time how
	// long it takes to become Connected.
	Connects int
}

// ConnectGoal is the goal for the time from a connection's PUT to
// Connected.
const ConnectGoal = time.Second

// ControlResult is what the control-plane part found.
type ControlResult struct {
	Options ControlOptions
	// GatewayPUT and ConnectionPUT are the latencies of each PUT.
	GatewayPUT, ConnectionPUT []time.Duration
	// PUTLoad is /proc/loadavg's 1-minute figure after the PUTs.
	PUTLoad float64
	// Connects holds the runs per kind of connection.
	Connects []ConnectKind
	// Transfers are iperf3 runs between hosts through tunnels.
	Transfers []HostTransfer
	// Failures lists what failed, with why.
	Failures []string
}

// ConnectKind is the runs of one kind of connection.
type ConnectKind struct {
	// Name says what is connected; Short says it in a few words.
	Name, Short string
	Samples     []ConnectSample
}

// ConnectSample is one connection made from scratch.
type ConnectSample struct {
	// API is the time from the PUT to when a GET of the connection first
	// showed connectionStatus Connected (polled every pollInterval), what
	// a user sees; DataPlane is the time from the PUT to the data plane's
	// installing the child SA, from serve's log (millisecond times).
	API, DataPlane time.Duration
	// Load is /proc/loadavg's 1-minute figure at the end of the run.
	Load float64
}

// The kinds of connection the part makes.
const (
	ConnectVNet2VNet  = "VNet-to-VNet, vnetgw ↔ vnetgw (one serve, two gateways)"
	ConnectStrongSwan = "site-to-site, vnetgw → strongSwan (charon in its own namespace)"
)

// The control part's network: serve in namespace C, its gateways'
// public addresses from the pool added to its interface wan
// (--public-interface), charon in namespace W on the same link.
var (
	cpServe  = netip.MustParsePrefix("10.251.0.1/16")
	cpCharon = netip.MustParsePrefix("10.251.0.2/16")
)

// The control part's settings.
const (
	cpPool       = "10.251.1.1-10.251.2.254"
	cpListen     = "127.0.0.1:7443"
	cpSiteSpace  = "10.3.0.0/16"
	cpSub        = "be000000-0000-0000-0000-0000000000be"
	cpSharedKey  = "VnetgwBenchSharedKey0123456789"
	cpConnectRG  = "connect"
	cpLatencyRG  = "latency"
	cpMaxTunnels = 100 // VpnGw5's tunnels
)

// controlNet is serve's namespace and charon's, and two namespaces for
// hosts on network interfaces attached as TUN devices.
type controlNet struct {
	Serve, Charon, HostA, HostB *Namespace
}

func newControlNet(ctx context.Context) (cn *controlNet, err error) {
	cn = &controlNet{}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("build control network: %w", err), cn.Close())
			cn = nil
		}
	}()
	base := fmt.Sprintf("%s%d-cp", namePrefix, os.Getpid())
	if cn.Serve, err = newNamespace(ctx, base+"s"); err != nil {
		return cn, err
	}
	if cn.Charon, err = newNamespace(ctx, base+"w"); err != nil {
		return cn, err
	}
	if cn.HostA, err = newNamespace(ctx, base+"a"); err != nil {
		return cn, err
	}
	if cn.HostB, err = newNamespace(ctx, base+"b"); err != nil {
		return cn, err
	}
	if err := link(ctx, cn.Serve, "wan", cpServe, cn.Charon, "wan", cpCharon); err != nil {
		return cn, err
	}
	_, err = cn.Charon.Run(ctx, "ip", "addr", "add", nth(netip.MustParsePrefix(cpSiteSpace), 0).String()+"/32", "dev", "lo")
	return cn, err
}

func (cn *controlNet) Close() error {
	var errs []error
	for _, ns := range []*Namespace{cn.HostB, cn.HostA, cn.Charon, cn.Serve} {
		if ns != nil {
			errs = append(errs, ns.delete())
		}
	}
	return errors.Join(errs...)
}

// runControl runs the control-plane part: the connections first, on a
// quiet serve, then the PUT latencies.
func runControl(ctx context.Context, o Options, dir string, log *slog.Logger) (*ControlResult, error) {
	res := &ControlResult{Options: o.Control, Connects: []ConnectKind{
		{Name: ConnectVNet2VNet, Short: "vnetgw ↔ vnetgw"},
		{Name: ConnectStrongSwan, Short: "vnetgw → strongSwan"},
	}}
	cn, err := newControlNet(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := cn.Close(); err != nil {
			log.Warn("teardown", "part", PartControl, "err", err)
		}
	}()
	s, err := startServe(ctx, o.VNetGW, filepath.Join(dir, "serve"), cn.Serve)
	if s != nil {
		defer s.proc.Stop()
	}
	if err != nil {
		return nil, err
	}
	if err := s.connects(ctx, o, res, cn, dir, log); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.Failures = append(res.Failures, fmt.Sprintf("connections: %v", err))
		log.Warn("connections failed", "part", PartControl, "err", err)
	}
	if err := s.latencies(ctx, o.Control.PUTs, res); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.Failures = append(res.Failures, fmt.Sprintf("PUT latency: %v", err))
		log.Warn("PUT latency failed", "part", PartControl, "err", err)
	}
	if len(res.GatewayPUT) > 0 {
		log.Info("measured", "part", PartControl, "gateway_put_p50_ms", ms(percentile(res.GatewayPUT, 50)),
			"gateway_put_p99_ms", ms(percentile(res.GatewayPUT, 99)), "connection_put_p50_ms", ms(percentile(res.ConnectionPUT, 50)),
			"connection_put_p99_ms", ms(percentile(res.ConnectionPUT, 99)), "load", res.PUTLoad)
	}
	return res, nil
}

// serve is a `vnetgw serve` in the control network and a client of it.
type serve struct {
	proc *Process
	c    *client.Client
}

// startServe starts vnetgw serve in ns with its data in dir and returns a
// client that reaches its API inside the namespace.
func startServe(ctx context.Context, binary, dir string, ns *Namespace) (*serve, error) {
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	p, err := ns.Start(filepath.Join(dir, "serve.log"), binary, "serve", "--data-dir", data, "--listen", cpListen,
		"--public-interface", "wan", "--public-ip-pool", cpPool)
	if err != nil {
		return nil, err
	}
	s := &serve{proc: p}
	var off int64
	var up bool
	err = waitFor(ctx, 30*time.Second, func() bool {
		up, off = logHas(p.Log, off, "vnetgw serving ")
		return up || p.Exited()
	})
	switch {
	case p.Exited():
		return s, p.exitError()
	case err != nil:
		return s, fmt.Errorf("vnetgw serve did not start: %w: %s", err, tail(readFile(p.Log), 10))
	}
	cfg, err := client.Discover(data)
	if err != nil {
		return s, err
	}
	cfg.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := ns.Do(func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	s.c, err = client.New(cfg)
	return s, err
}

// site is a VNet with a running gateway.
type site struct {
	rg, name string
	vnet, gw arm.ID
	addr     string // the gateway's public address
}

// newSite makes a VNet with space (a GatewaySubnet at its end), a public IP
// and a route-based gateway of sku, and returns the time the gateway's PUT
// took.
func (s *serve) newSite(ctx context.Context, rg, name, space, sku string) (site, time.Duration, error) {
	st := site{rg: rg, name: name}
	p, err := netip.ParsePrefix(space)
	if err != nil {
		return st, 0, err
	}
	gwSubnet := netip.PrefixFrom(lastAddr(p), 27).Masked()
	st.vnet = arm.NetworkID(cpSub, rg, "virtualNetworks", name)
	v := arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{space}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: gwSubnet.String()}}}
	if _, err := s.c.Put(ctx, st.vnet, v, nil); err != nil {
		return st, 0, err
	}
	pip := arm.NetworkID(cpSub, rg, "publicIPAddresses", name+"-ip")
	if _, err := s.c.Put(ctx, pip, arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}, nil); err != nil {
		return st, 0, err
	}
	st.gw = arm.NetworkID(cpSub, rg, "virtualNetworkGateways", name+"-gw")
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: sku, Tier: sku}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ipconfig1", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(st.vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	start := time.Now()
	if _, err := s.c.Put(ctx, st.gw, g, nil); err != nil {
		return st, 0, err
	}
	took := time.Since(start)
	var got arm.PublicIPAddress
	if err := s.c.Get(ctx, pip, &got); err != nil {
		return st, took, err
	}
	st.addr = got.Properties.IPAddress
	return st, took, nil
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (s *serve) putResourceGroup(ctx context.Context, rg string) error {
	_, err := s.c.Put(ctx, arm.ResourceGroupID(cpSub, rg), arm.ResourceGroup{Location: "westeurope"}, nil)
	return err
}

// putConnection creates a connection from gateway gw to remote, a gateway
// (Vnet2Vnet) or a local network gateway (IPsec).
func (s *serve) putConnection(ctx context.Context, id, gw arm.ID, typ string, remote arm.ID, mode string) error {
	k := arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	p := &k.Properties
	p.ConnectionType, p.VirtualNetworkGateway1, p.SharedKey, p.ConnectionMode = typ, arm.Ref(gw.String()), cpSharedKey, mode
	if typ == arm.ConnectionVnet2Vnet {
		p.VirtualNetworkGateway2 = arm.Ref(remote.String())
	} else {
		p.LocalNetworkGateway2 = arm.Ref(remote.String())
	}
	_, err := s.c.Put(ctx, id, k, nil)
	return err
}

func (s *serve) putLocalGateway(ctx context.Context, id arm.ID, addr, space string) error {
	l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	l.Properties.GatewayIPAddress = addr
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{space}}
	_, err := s.c.Put(ctx, id, l, nil)
	return err
}

// waitGateways waits until serve's log says n gateways started.
func (s *serve) waitGateways(ctx context.Context, n int) error {
	return waitFor(ctx, 30*time.Second, func() bool {
		return strings.Count(readFile(s.proc.Log), `msg="gateway started"`) >= n
	})
}

// connects times connections from PUT to Connected, o.Control.Connects
// times of each kind, interleaved.
func (s *serve) connects(ctx context.Context, o Options, res *ControlResult, cn *controlNet, dir string, log *slog.Logger) error {
	if err := s.putResourceGroup(ctx, cpConnectRG); err != nil {
		return err
	}
	a, _, err := s.newSite(ctx, cpConnectRG, "a", "10.1.0.0/16", "VpnGw1")
	if err != nil {
		return err
	}
	b, _, err := s.newSite(ctx, cpConnectRG, "b", "10.2.0.0/16", "VpnGw1")
	if err != nil {
		return err
	}
	if err := s.waitGateways(ctx, 2); err != nil {
		return fmt.Errorf("the gateways did not start: %w", err)
	}
	// charon answers gateway a from 10.251.0.2 for the site's range, whose
	// first address it has (see launchCharon); the vnetgw side offers its
	// defaults, which hold charon's proposals.
	ch, err := launchCharon(ctx, filepath.Join(dir, "charon"), cn.Charon)
	if ch != nil {
		defer ch.proc.Stop()
	}
	if err != nil {
		return err
	}
	conf := filepath.Join(ch.dir, "swanctl.conf")
	// Any peer may connect (no remote address or identity).
	if err := strongswan.WriteSwanctl(conf, []strongswan.Conn{{Name: "vnetgw", Local: cpCharon.Addr().String(),
		LocalTS: cpSiteSpace, RemoteTS: "10.1.0.0/16", IKE: ikeProposalFor(goalGroup), ESP: espProposal,
	}}, []strongswan.Secret{{PSK: cpSharedKey}}); err != nil {
		return err
	}
	if _, err := ch.swanctl(ctx, "--load-all", "--file", conf); err != nil {
		return err
	}
	lng := arm.NetworkID(cpSub, cpConnectRG, "localNetworkGateways", "onprem")
	if err := s.putLocalGateway(ctx, lng, cpCharon.Addr().String(), cpSiteSpace); err != nil {
		return err
	}
	conn := func(name string) arm.ID { return arm.NetworkID(cpSub, cpConnectRG, "connections", name) }
	for run := 1; run <= o.Control.Connects; run++ {
		for i := range res.Connects {
			k := &res.Connects[i]
			// The status is written back on a tick: a random pause puts
			// each PUT at another point of it, as a user's would be.
			if err := sleep(ctx, 2*settle+rand.N(reconcile.StatusInterval)); err != nil {
				return err
			}
			var ids []arm.ID
			var put func() error
			switch k.Name {
			case ConnectVNet2VNet:
				ab, ba := conn(fmt.Sprintf("a-to-b-%d", run)), conn(fmt.Sprintf("b-to-a-%d", run))
				ids = []arm.ID{ab, ba}
				put = func() error {
					if err := s.putConnection(ctx, ab, a.gw, arm.ConnectionVnet2Vnet, b.gw, ""); err != nil {
						return err
					}
					return s.putConnection(ctx, ba, b.gw, arm.ConnectionVnet2Vnet, a.gw, "")
				}
			case ConnectStrongSwan:
				as := conn(fmt.Sprintf("a-to-onprem-%d", run))
				ids = []arm.ID{as}
				put = func() error { return s.putConnection(ctx, as, a.gw, arm.ConnectionIPsec, lng, "") }
			}
			cs, err := s.connect(ctx, ids, put)
			for _, id := range ids {
				if derr := s.c.Delete(ctx, id); derr != nil && err == nil {
					err = derr
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				res.Failures = append(res.Failures, fmt.Sprintf("%s run %d: %v", k.Name, run, err))
				log.Warn("connection failed", "part", PartControl, "kind", k.Name, "run", run, "err", err)
				continue
			}
			k.Samples = append(k.Samples, cs)
			log.Info("measured", "part", PartControl, "kind", k.Name, "run", run, "api_ms", ms(cs.API), "dataplane_ms", ms(cs.DataPlane), "load", cs.Load)
		}
	}
	if err := s.hostTransfers(ctx, o, res, cn, a, b, lng, log); err != nil {
		return fmt.Errorf("host transfers: %w", err)
	}
	return nil
}

// connect runs put, which creates the connections ids, and waits until a
// GET shows each Connected. The data plane's time is that of the last of
// them to get its child SA, from serve's log.
func (s *serve) connect(ctx context.Context, ids []arm.ID, put func() error) (ConnectSample, error) {
	start := time.Now()
	if err := put(); err != nil {
		return ConnectSample{}, err
	}
	var waiting []string
	err := waitFor(ctx, 30*time.Second, func() bool {
		waiting = waiting[:0]
		for _, id := range ids {
			var k arm.Connection
			if err := s.c.Get(ctx, id, &k); err != nil || k.Properties.ConnectionStatus != "Connected" {
				waiting = append(waiting, fmt.Sprintf("%s (%s %s)", id.Name(), k.Properties.ConnectionStatus, k.Properties.ConnectionStatusReason))
			}
		}
		return len(waiting) == 0
	})
	api := time.Since(start)
	if err != nil {
		return ConnectSample{}, fmt.Errorf("not Connected after 30 s: %s (serve log %s)", strings.Join(waiting, ", "), s.proc.Log)
	}
	var dp time.Time
	for _, id := range ids {
		at, err := childAdded(s.proc.Log, id.String(), start)
		if err != nil {
			return ConnectSample{}, err
		}
		dp = later(dp, at)
	}
	return ConnectSample{API: api, DataPlane: dp.Sub(start), Load: load1()}, nil
}

// childAdded returns when serve's log first says the data plane installed
// a child SA for connection id at or after since. The log's times have
// milliseconds; since is cut to them too.
func childAdded(log, id string, since time.Time) (time.Time, error) {
	since = since.Truncate(time.Millisecond)
	for line := range strings.Lines(readFile(log)) {
		if !strings.Contains(line, `msg="child added"`) {
			continue
		}
		kv := parseLogLine(strings.TrimSpace(line))
		at, err := time.Parse(time.RFC3339Nano, kv["time"])
		if err == nil && strings.EqualFold(kv["conn"], id) && !at.Before(since) {
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("serve's log %s has no child SA for %s", log, id)
}

// latencies times n gateway PUTs, each with a VNet and a public IP of its
// own, and n connection PUTs to local network gateways, on VpnGw5 gateways
// (100 tunnels each). The connections are ResponderOnly: their gateways
// wait for peers that never come, and so stay quiet.
func (s *serve) latencies(ctx context.Context, n int, res *ControlResult) error {
	if err := s.putResourceGroup(ctx, cpLatencyRG); err != nil {
		return err
	}
	var sites []site
	for i := range n {
		st, took, err := s.newSite(ctx, cpLatencyRG, fmt.Sprintf("v%d", i), fmt.Sprintf("10.%d.%d.0/24", 64+i/256, i%256), "VpnGw5")
		if err != nil {
			return fmt.Errorf("gateway %d: %w", i, err)
		}
		res.GatewayPUT = append(res.GatewayPUT, took)
		sites = append(sites, st)
	}
	for i := range n {
		lng := arm.NetworkID(cpSub, cpLatencyRG, "localNetworkGateways", fmt.Sprintf("l%d", i))
		if err := s.putLocalGateway(ctx, lng, fmt.Sprintf("10.252.%d.%d", i/256, i%256+1), fmt.Sprintf("172.%d.%d.0/24", 16+i/256, i%256)); err != nil {
			return fmt.Errorf("local network gateway %d: %w", i, err)
		}
		id := arm.NetworkID(cpSub, cpLatencyRG, "connections", fmt.Sprintf("c%d", i))
		start := time.Now()
		if err := s.putConnection(ctx, id, sites[i/cpMaxTunnels].gw, arm.ConnectionIPsec, lng, arm.ModeResponderOnly); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		res.ConnectionPUT = append(res.ConnectionPUT, time.Since(start))
	}
	res.PUTLoad = load1()
	return nil
}

// percentile returns the p-th percentile of d by the nearest-rank method.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i, 1)-1]
}

// ms is d in milliseconds, rounded to hundredths.
func ms(d time.Duration) float64 { return round(float64(d) / 1e6) }
