package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/server"
)

func newDemo(g *globals) *cobra.Command {
	var keep bool
	var ikePort, nattPort, sstpPort uint16
	var pool string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a region, build VNets, gateways and tunnels, and prove traffic flows (no root needed)",
		Long: `Start a vnetgw region in this process, on a temporary data directory, and
build through its API:

  hub    10.1.0.0/16     westeurope  host "web"
  spoke  10.2.0.0/16     eastus      host "app"     hub <-> spoke: VNet-to-VNet
  onprem 192.168.0.0/16  (a site)    host "pc"      hub <-> onprem: site-to-site
  alice  172.16.201.0/24 (a laptop)                 alice -> hub: point-to-site (SSTP)

The on-premises site is played by a third gateway. Every tunnel is real
IKEv2 and ESP between gateways on loopback addresses; alice is vnetgw's own
SSTP client with a certificate of a root uploaded to the hub's gateway. The
demo pings and fetches HTTP between the hosts through the tunnels, prints
the connections with their status and byte counters, and removes
everything.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Ctrl-C, SIGTERM or SIGHUP (its terminal closed) ends the
			// demo (and --keep's wait) through its clean-up, which
			// removes the temporary data directory with its secrets;
			// the default action would leave it behind. A SIGHUP
			// ignored (nohup vnetgw demo --keep &) stays ignored.
			sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
			if !signal.Ignored(syscall.SIGHUP) {
				sigs = append(sigs, syscall.SIGHUP)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), sigs...)
			defer stop()
			// A reader gone (vnetgw demo | tee, the tee ended by the
			// same Ctrl-C) fails the demo's writes instead of ending
			// it by SIGPIPE, which Go sends for a broken pipe on
			// standard output unless the signal is notified: the line
			// that says so, before the clean-up, ended the demo.
			pipes := make(chan os.Signal, 1)
			signal.Notify(pipes, syscall.SIGPIPE)
			defer signal.Stop(pipes)
			return runDemo(ctx, g.stdout, demoOptions{keep: keep, ikePort: ikePort, nattPort: nattPort, sstpPort: sstpPort, pool: pool})
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the region running after the demo until Ctrl-C")
	cmd.Flags().Uint16Var(&ikePort, "ike-port", 15500, "UDP port of the demo's gateways for IKE")
	cmd.Flags().Uint16Var(&nattPort, "natt-port", 15501, "UDP port of the demo's gateways for NAT-T")
	cmd.Flags().Uint16Var(&sstpPort, "sstp-port", 15443, "TCP port of the demo's gateways for point-to-site (SSTP)")
	cmd.Flags().StringVar(&pool, "public-ip-pool", "127.20.0.0/24", "where the demo's gateways get their addresses")
	return usesGlobals(cmd) // its region has a data directory of its own
}

type demoOptions struct {
	keep                        bool
	ikePort, nattPort, sstpPort uint16
	pool                        string
}

const demoSub = "de000000-0000-0000-0000-00000000de00"

// demoSite is one VNet of the demo with its gateway and host.
type demoSite struct {
	name, rg, location, space, host string
	gw, nic                         arm.ID
	hostAddr                        netip.Addr
	gwAddr                          string
}

// runDemo runs the demo in a temporary data directory, which it removes
// unless the demo failed: then the directory stays for its log, and the
// error says where it is.
func runDemo(ctx context.Context, out io.Writer, o demoOptions) error {
	dir, err := os.MkdirTemp("", "vnetgw-demo-")
	if err != nil {
		return err
	}
	err = runDemoIn(ctx, out, o, dir)
	if err != nil && ctx.Err() != nil {
		// Ctrl-C or SIGTERM: what failed is only that the demo was
		// stopped (it said "FAILED" and "context canceled").
		if !errors.Is(err, errInterrupted) {
			fmt.Fprintln(out, "\n"+interrupted)
		}
		err = errInterrupted
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w\n(the demo's data directory %s is kept: the region's log is %s; remove the directory when done)", err, dir, filepath.Join(dir, demoLog))
	}
	if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// interrupted is what the demo prints when Ctrl-C or SIGTERM stops it
// before its end; its region stops and its data directory is removed.
const interrupted = "interrupted; removing everything"

// errInterrupted is the demo's error when it was stopped before its end.
var errInterrupted = errors.New("interrupted")

// demoLog is the region's log in the demo's data directory.
const demoLog = "vnetgw.log"

func runDemoIn(ctx context.Context, out io.Writer, o demoOptions, dir string) error {
	logf, err := os.Create(filepath.Join(dir, demoLog))
	if err != nil {
		return err
	}
	defer logf.Close()
	srv, err := server.New(ctx, server.Config{DataDir: dir, Listen: "127.0.0.1:0", PublicIPPool: o.pool,
		IKEPort: o.ikePort, NATTPort: o.nattPort, SSTPPort: o.sstpPort, Logger: slog.New(slog.NewTextHandler(logf, nil))})
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	defer func() {
		stop()
		<-done
	}()
	fmt.Fprintf(out, "vnetgw region at %s (data in %s)\n\n", srv.URL, dir)
	cfg, err := client.Discover(dir)
	if err != nil {
		return err
	}
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	sites := []*demoSite{
		{name: "hub", rg: "demo-hub", location: "westeurope", space: "10.1.0.0/16", host: "web"},
		{name: "spoke", rg: "demo-spoke", location: "eastus", space: "10.2.0.0/16", host: "app"},
		{name: "onprem", rg: "demo-onprem", location: "westeurope", space: "192.168.0.0/16", host: "pc"},
	}
	step := func(what string, fn func() error) error {
		start := time.Now()
		fmt.Fprintf(out, "%-62s", what)
		if err := fn(); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(out, interrupted)
				return errInterrupted
			}
			fmt.Fprintln(out, "FAILED")
			return fmt.Errorf("%s: %w", what, err)
		}
		fmt.Fprintf(out, "ok (%s)\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
	for _, s := range sites {
		if err := step(fmt.Sprintf("VNet %s %s in %s, gateway, host %s", s.name, s.space, s.location, s.host), func() error { return demoBuild(ctx, c, s) }); err != nil {
			return err
		}
	}
	hub, spoke, onprem := sites[0], sites[1], sites[2]
	const key = "DemoSharedKey2026"
	if err := step("VNet-to-VNet hub <-> spoke (across regions)", func() error {
		if err := demoConnection(ctx, c, hub, "hub-to-spoke", arm.ConnectionVnet2Vnet, spoke.gw.String(), key); err != nil {
			return err
		}
		return demoConnection(ctx, c, spoke, "spoke-to-hub", arm.ConnectionVnet2Vnet, hub.gw.String(), key)
	}); err != nil {
		return err
	}
	if err := step("site-to-site hub <-> on-premises (played by a gateway)", func() error {
		site, err := demoLocalGateway(ctx, c, hub, "onprem-site", onprem.gwAddr, onprem.space)
		if err != nil {
			return err
		}
		if err := demoConnection(ctx, c, hub, "hub-to-onprem", arm.ConnectionIPsec, site, key); err != nil {
			return err
		}
		back, err := demoLocalGateway(ctx, c, onprem, "azure-hub", hub.gwAddr, hub.space)
		if err != nil {
			return err
		}
		return demoConnection(ctx, c, onprem, "onprem-to-hub", arm.ConnectionIPsec, back, key)
	}); err != nil {
		return err
	}
	var conns []arm.Connection
	if err := step("waiting for every connection to be Connected", func() error {
		conns, err = demoWaitConnected(ctx, c, sites, 30*time.Second)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintln(out)
	for _, p := range [][2]*demoSite{{hub, spoke}, {spoke, hub}, {hub, onprem}, {onprem, hub}} {
		from, to := p[0], p[1]
		h, ok := srv.Engine().NetstackHost(from.nic.Key())
		if !ok {
			return fmt.Errorf("host %s is not running", from.host)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rtt, err := h.Ping(pctx, to.hostAddr)
		if err != nil {
			cancel()
			return fmt.Errorf("ping %s -> %s: %w", from.host, to.host, err)
		}
		body, err := h.HTTPGet(pctx, to.hostAddr)
		cancel()
		if err != nil {
			return fmt.Errorf("HTTP %s -> %s: %w", from.host, to.host, err)
		}
		fmt.Fprintf(out, "%-6s %-12s -> %-6s %-12s ping %-9s HTTP %q\n", from.host, from.hostAddr, to.host, to.hostAddr,
			rtt.Round(10*time.Microsecond), strings.TrimSpace(body))
	}
	if err := demoPointToSite(ctx, out, c, dir, hub, o.sstpPort); err != nil {
		return fmt.Errorf("point-to-site: %w", err)
	}
	// Counters are written back every few seconds: read them once more.
	time.Sleep(3 * time.Second)
	if conns, err = demoConnections(ctx, c, sites); err != nil {
		return err
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tTYPE\tSTATUS\tINGRESS BYTES\tEGRESS BYTES\tINTER-REGION")
	for _, k := range conns {
		p := k.Properties
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%v\n", k.Name, p.ConnectionType, p.ConnectionStatus, p.IngressBytesTransferred, p.EgressBytesTransferred, p.InterRegion)
	}
	tw.Flush()
	if o.keep {
		fmt.Fprintf(out, "\nThe region keeps running; Ctrl-C ends it. Try: VNETGW_DATA_DIR=%s vnetgw --subscription %s vpn-connection list -g demo-hub -o table\n", dir, demoSub)
		<-ctx.Done()
	}
	// Ctrl-C, which ends --keep's wait, must not stop the clean-up too.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	fmt.Fprintln(out)
	return step("removing everything", func() error {
		// Connections first: each group's gateway is named by another
		// group's connection, which would block deleting the group.
		for _, k := range conns {
			id, err := arm.ParseID(k.ID)
			if err != nil {
				return err
			}
			if err := c.Delete(ctx, id); err != nil {
				return err
			}
		}
		for _, s := range sites {
			if err := c.Delete(ctx, arm.ResourceGroupID(demoSub, s.rg)); err != nil {
				return err
			}
		}
		return nil
	})
}

// demoBuild makes a site's group, VNet, public IP, gateway and host.
func demoBuild(ctx context.Context, c *client.Client, s *demoSite) error {
	if _, err := c.Put(ctx, arm.ResourceGroupID(demoSub, s.rg), arm.ResourceGroup{Location: s.location}, nil); err != nil {
		return err
	}
	p := netip.MustParsePrefix(s.space).Addr().As4()
	vnet := arm.NetworkID(demoSub, s.rg, "virtualNetworks", s.name)
	v := arm.VirtualNetwork{Resource: arm.Resource{Location: s.location}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{s.space}}
	v.Properties.Subnets = []arm.Subnet{
		{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("%d.%d.0.0/24", p[0], p[1])}},
		{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("%d.%d.255.0/27", p[0], p[1])}},
	}
	if _, err := c.Put(ctx, vnet, v, nil); err != nil {
		return err
	}
	pip := arm.NetworkID(demoSub, s.rg, "publicIPAddresses", s.name+"-gw-ip")
	if _, err := c.Put(ctx, pip, arm.PublicIPAddress{Resource: arm.Resource{Location: s.location}}, nil); err != nil {
		return err
	}
	s.gw = arm.NetworkID(demoSub, s.rg, "virtualNetworkGateways", s.name+"-gw")
	gw := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: s.location}}
	gw.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ipconfig1", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	if _, err := c.Put(ctx, s.gw, gw, nil); err != nil {
		return err
	}
	var got arm.PublicIPAddress
	if err := c.Get(ctx, pip, &got); err != nil {
		return err
	}
	s.gwAddr = got.Properties.IPAddress
	s.nic = arm.NetworkID(demoSub, s.rg, "networkInterfaces", s.host)
	n := arm.NetworkInterface{Resource: arm.Resource{Location: s.location}}
	n.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ipconfig1", Properties: arm.NetworkInterfaceIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "default").String())}}}
	var nout arm.NetworkInterface
	if _, err := c.Put(ctx, s.nic, n, &nout); err != nil {
		return err
	}
	s.hostAddr = netip.MustParseAddr(nout.Properties.IPConfigurations[0].Properties.PrivateIPAddress)
	return nil
}

func demoLocalGateway(ctx context.Context, c *client.Client, s *demoSite, name, addr, space string) (string, error) {
	id := arm.NetworkID(demoSub, s.rg, "localNetworkGateways", name)
	l := arm.LocalNetworkGateway{Resource: arm.Resource{Location: s.location}}
	l.Properties.GatewayIPAddress = addr
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{space}}
	_, err := c.Put(ctx, id, l, nil)
	return id.String(), err
}

func demoConnection(ctx context.Context, c *client.Client, s *demoSite, name, typ, remote, key string) error {
	conn := arm.Connection{Resource: arm.Resource{Location: s.location}}
	p := &conn.Properties
	p.ConnectionType, p.VirtualNetworkGateway1, p.SharedKey = typ, arm.Ref(s.gw.String()), key
	if typ == arm.ConnectionVnet2Vnet {
		p.VirtualNetworkGateway2 = arm.Ref(remote)
	} else {
		p.LocalNetworkGateway2 = arm.Ref(remote)
	}
	_, err := c.Put(ctx, arm.NetworkID(demoSub, s.rg, "connections", name), conn, nil)
	return err
}

func demoConnections(ctx context.Context, c *client.Client, sites []*demoSite) ([]arm.Connection, error) {
	var all []arm.Connection
	for _, s := range sites {
		l, err := client.List[arm.Connection](ctx, c, arm.ResourceGroupID(demoSub, s.rg).String()+"/providers/Microsoft.Network/connections")
		if err != nil {
			return nil, err
		}
		all = append(all, l...)
	}
	return all, nil
}

func demoWaitConnected(ctx context.Context, c *client.Client, sites []*demoSite, d time.Duration) ([]arm.Connection, error) {
	deadline := time.Now().Add(d)
	for {
		conns, err := demoConnections(ctx, c, sites)
		if err != nil {
			return nil, err
		}
		var waiting, cannot []string
		for _, k := range conns {
			p := k.Properties
			if p.ConnectionStatus == "Connected" {
				continue
			}
			w := k.Name + " (" + p.ConnectionStatus + ")"
			if p.ConnectionStatusReason != "" {
				w = k.Name + " (" + p.ConnectionStatus + ": " + p.ConnectionStatusReason + ")"
			}
			waiting = append(waiting, w)
			if gatewayCannotRun(p.ConnectionStatusReason) {
				cannot = append(cannot, k.Name+": "+p.ConnectionStatusReason)
			}
		}
		switch {
		case len(waiting) == 0:
			return conns, nil
		case len(cannot) > 0:
			return nil, fmt.Errorf("a gateway cannot run (is another demo still running, with --keep? or give other --ike-port, --natt-port, --sstp-port or --public-ip-pool):\n  %s", strings.Join(cannot, "\n  "))
		case time.Now().After(deadline):
			return nil, fmt.Errorf("not connected after %s:\n  %s", d, strings.Join(waiting, "\n  "))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// gatewayCannotRun says whether a connectionStatusReason is that of a
// gateway whose ports could not be bound: it does not start until they
// are freed, so waiting for its connections is in vain.
func gatewayCannotRun(reason string) bool {
	return strings.Contains(reason, "the gateway is not running: ") && strings.Contains(reason, "bind: ")
}
