package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/server"
)

// etcdOnly are serve's flags that only a node of a region on etcd uses.
var etcdOnly = []string{"etcd-prefix", "etcd-ca", "etcd-cert", "etcd-key", "node-name", "node-ttl", "node-settle"}

func newServe(g *globals) *cobra.Command {
	var cfg server.Config
	var logLevel string
	var radiusAccounting bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a vnetgw region: the API and everything it creates",
		Long: `Run a vnetgw region. State is kept in a bbolt file in the data directory,
or, with --etcd, in etcd, where several serve nodes share one region: each
VNet, with its hosts and its gateway, runs on one node, and another node
takes it over (the gateway's public address and tunnels) when that node
dies (after --node-ttl) or stops. Nodes on one machine need their own
--node-name, --listen and, as root, network namespace.

On first start the data directory gets a CA and a server certificate
(ca.pem, server.pem; or bring your own with --tls-cert/--tls-key, which
clients then verify with the system roots or $VNETGW_CA) and an admin
bearer token (admin-token, mode 0600; an existing one that others could read
is made 0600, with a warning). Every API request must present the token.
SIGINT, SIGTERM or SIGHUP stop the server cleanly (nothing needs a reload
signal: --tls-cert and --tls-key are read again when their files change); a
second one while it stops ends it at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			cfg.NoRadiusAccounting = !radiusAccounting
			// They were taken and ignored: a node meant for a region on
			// etcd, started without --etcd, ran a region of its own.
			if len(cfg.Etcd) == 0 {
				for _, name := range etcdOnly {
					if cmd.Flags().Changed(name) {
						return usagef("--%s: only with --etcd (a region on several nodes)", name)
					}
				}
			}
			// 0 or less was taken and replaced by the default without a
			// word (a user who meant "never" got 5 minutes).
			for _, d := range []struct {
				flag string
				v    time.Duration
			}{{"--policy-idle-timeout", cfg.PolicyIdleTimeout}, {"--fqdn-refresh", cfg.FQDNRefresh}} {
				if d.v < time.Second {
					return usagef("%s must be at least 1s (got %s)", d.flag, d.v)
				}
			}
			if cfg.MetricsInterval < time.Second || cfg.MetricsRetention < cfg.MetricsInterval {
				return usagef("--metrics-interval must be at least 1s and --metrics-retention at least that (got %s and %s)", cfg.MetricsInterval, cfg.MetricsRetention)
			}
			if cfg.MetricsSave < time.Second {
				return usagef("--metrics-save must be at least 1s (got %s)", cfg.MetricsSave)
			}
			cfg.DataDir = g.dataDir
			cfg.Logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			// SIGHUP too: a terminal that goes away must not end serve
			// without telling its peers. Once the stop has begun, a
			// second signal ends the process at once (the signals'
			// default), as a user who presses Ctrl-C again expects: the
			// clean stop may wait for requests, peers and the store. The
			// default is back before the stop begins: a second signal
			// sent once the API refuses connections was lost when it was
			// restored after (signal.NotifyContext and an AfterFunc).
			// A SIGHUP or SIGINT ignored when serve started (nohup
			// vnetgw serve &; a script's background job) stays ignored:
			// the user asked serve to outlive its terminal, or the
			// script's Ctrl-C, and Notify would install a handler in
			// place of the ignore (os/signal), so that a logout stopped
			// serve.
			stopSigs := []os.Signal{syscall.SIGTERM}
			for _, s := range []os.Signal{os.Interrupt, syscall.SIGHUP} {
				if !signal.Ignored(s) {
					stopSigs = append(stopSigs, s)
				}
			}
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, stopSigs...)
			defer signal.Stop(sigs)
			// A log whose reader is gone (serve 2>&1 | tee, the tee
			// ended by the same Ctrl-C or hangup) fails its writes
			// instead of ending serve by SIGPIPE, which Go sends for a
			// broken pipe on standard output or error unless the signal
			// is notified: the clean stop's first line of log ended it.
			pipes := make(chan os.Signal, 1)
			signal.Notify(pipes, syscall.SIGPIPE)
			defer signal.Stop(pipes)
			ctx, cancel := context.WithCancelCause(cmd.Context())
			defer cancel(nil)
			go func() {
				select {
				case sig := <-sigs:
					signal.Stop(sigs)
					cfg.Logger.Info("stopping; a second SIGINT, SIGTERM or SIGHUP ends serve at once, without telling the peers")
					cancel(fmt.Errorf("%v signal received", sig))
				case <-ctx.Done():
				}
			}()
			s, err := server.New(ctx, cfg)
			if err != nil {
				return err // a bad flag is the one line printed
			}
			v := readBuildVersion()
			cfg.Logger.Info("vnetgw starting", "version", v.module, "revision", v.revision, "modified", v.modified)
			fmt.Fprintf(g.stdout, "vnetgw serving %s\n  admin token: %s\n", s.URL, s.TokenFile())
			if ca := s.CAFile(); ca != "" {
				fmt.Fprintf(g.stdout, "  CA:          %s\n", ca)
			} else {
				fmt.Fprintf(g.stdout, "  TLS:         the certificate of --tls-cert; clients verify it with the system roots or $%s\n", client.EnvCA)
			}
			warnPrivilegedPorts(cfg.Logger, cfg)
			warnPoolNotLocal(cfg.Logger, cfg)
			err = s.Run(ctx)
			if err == nil && ctx.Err() != nil {
				cfg.Logger.Info("stopped", "reason", context.Cause(ctx))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:7443", "address (host:port) the HTTPS API listens on")
	f.StringVar(&cfg.PublicIPPool, "public-ip-pool", region.DefaultPublicIPPool, "CIDR prefix or FIRST-LAST range that gateways' public addresses come from; each region on one machine needs its own (--peer)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate for the API (default: issued by the data directory's CA)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.Uint16Var(&cfg.IKEPort, "ike-port", 500, "UDP port every gateway speaks IKE on (use a port above 1023 to run unprivileged)")
	f.Uint16Var(&cfg.NATTPort, "natt-port", 4500, "UDP port of IKE and ESP after NAT traversal (RFC 3948)")
	f.StringVar(&cfg.PublicInterface, "public-interface", "", "interface that gets each gateway's public address while it runs (root); unset: the pool's addresses must be local, as 127.0.0.0/8 is")
	f.DurationVar(&cfg.PolicyIdleTimeout, "policy-idle-timeout", 5*time.Minute, "a policy-based tunnel without traffic this long is removed, and set up again by the next packet (R8); at least 1s")
	f.BoolVar(&cfg.RawESP, "raw-esp", false, "carry ESP as IP protocol 50 with peers that no NAT separates from the gateway (root); default: ESP always in UDP on --natt-port, which batches better")
	f.BoolVar(&cfg.InternetEgress, "internet-egress", false, "let the VNets' hosts reach the Internet through this node, TCP and UDP leaving with its address (R43: 0.0.0.0/0 goes to Internet unless forced tunneling sends it to a site); default: dropped and counted")
	f.BoolVar(&radiusAccounting, "radius-accounting", true, "report the sessions of point-to-site clients that RADIUS servers authenticated (SSTP, OpenVPN) to the same servers' accounting (RFC 2866), on the port after each one's authentication port (1813 for 1812)")
	f.StringVar(&cfg.DNSServer, "dns-server", "", "DNS server (host:port) that resolves the fqdn of local network gateways given by name (default: the system's resolver)")
	f.DurationVar(&cfg.FQDNRefresh, "fqdn-refresh", dataplane.DefaultResolveInterval, "how often the fqdn of local network gateways are looked up again; a tunnel follows its device to a new address; at least 1s")
	f.DurationVar(&cfg.MetricsInterval, "metrics-interval", time.Minute, "how often the tunnels' counters are sampled for Azure Monitor's metrics API (.../providers/Microsoft.Insights/metrics, vnetgw monitor metrics list); at least 1s")
	f.DurationVar(&cfg.MetricsRetention, "metrics-retention", 6*time.Hour, "how long those samples are kept, in memory (48 bytes per connection and sample, 40 more once it has dropped packets)")
	f.DurationVar(&cfg.MetricsSave, "metrics-save", 15*time.Minute, "how often those samples are written to the data directory's metrics-history while serve runs (and when it stops): a crash loses at most that much of them")
	f.Uint16Var(&cfg.SSTPPort, "sstp-port", 443, "TCP port of the gateways' point-to-site servers (SSTP over HTTPS, and OpenVPN), on their public addresses (use a port above 1023 to run unprivileged)")
	host, _ := os.Hostname()
	f.StringSliceVar(&cfg.Etcd, "etcd", nil, "etcd endpoints (comma-separated URLs): keep the state in etcd instead of the data directory, so that several serve nodes share the region, each VNet (with its hosts and gateway) running on one node and moving to another when that node dies")
	f.StringVar(&cfg.EtcdPrefix, "etcd-prefix", "/vnetgw/", "with --etcd: where the region's keys are in etcd (one prefix per region)")
	f.StringVar(&cfg.EtcdCA, "etcd-ca", "", "with --etcd over https: PEM file of the CA that issued etcd's certificate (default: the system roots)")
	f.StringVar(&cfg.EtcdCert, "etcd-cert", "", "with --etcd: PEM client certificate this node presents to etcd (etcd --client-cert-auth)")
	f.StringVar(&cfg.EtcdKey, "etcd-key", "", "with --etcd: PEM private key of --etcd-cert")
	f.StringVar(&cfg.NodeName, "node-name", host, "with --etcd: this node's name among the region's nodes")
	f.StringVar(&cfg.AdvertiseURL, "advertise-url", "", "https://HOST:PORT where this node's API is reached: where the links it gives (a list's nextLink, a 202's Location) send a client that came by another name, and a name on its certificate; with --etcd also where the other nodes send the requests they forward to it (default: the --listen URL; needed with --etcd when --listen is on 0.0.0.0 or ::)")
	f.DurationVar(&cfg.NodeTTL, "node-ttl", 5*time.Second, "with --etcd: how long after a node dies (or loses etcd) its VNets move to another node; etcd makes it at least 1.5 s")
	f.DurationVar(&cfg.NodeSettle, "node-settle", time.Minute, "with --etcd: for this long after the node joins, a VNet it runs moves to a node that joins when rendezvous hashing places it there, so that nodes started together share the VNets; later the VNets stay where they run (0: at once)")
	f.StringArrayVar(&cfg.Peers, "peer", nil, "data directory of another region's vnetgw serve (its endpoint, admin-token and ca.pem), for VNet-to-VNet across regions; repeatable. A region on this machine needs a --public-ip-pool of its own: with the same, their gateways get the same addresses and the second cannot start")
	return usesGlobals(cmd, "data-dir")
}

// warnPrivilegedPorts warns, as serve starts, of the gateways' ports this
// process may not bind: a user who ran serve with the defaults (500, 4500,
// 443) saw the first gateway fail only in the log and in its connections'
// connectionStatusReason.
func warnPrivilegedPorts(log *slog.Logger, cfg server.Config) {
	limit := unprivilegedPortStart()
	low := func(p uint16) bool { return p != 0 && p < limit }
	if low(cfg.IKEPort) || low(cfg.NATTPort) {
		log.Warn(fmt.Sprintf("gateways will not start: as this user, ports below %d need CAP_NET_BIND_SERVICE (root has it); give --ike-port and --natt-port above %d, which the sites' devices must use too", limit, limit-1),
			"ike_port", cfg.IKEPort, "natt_port", cfg.NATTPort)
	}
	if low(cfg.SSTPPort) {
		log.Warn(fmt.Sprintf("point-to-site servers (SSTP, OpenVPN) will not start: as this user, ports below %d need CAP_NET_BIND_SERVICE (root has it); give --sstp-port above %d", limit, limit-1),
			"sstp_port", cfg.SSTPPort)
	}
}

// warnPoolNotLocal warns, as serve starts without --public-interface, when
// the first address of --public-ip-pool is not this host's: a user who
// gave a pool of public addresses saw the first gateway fail only in the
// log and in its connections' connectionStatusReason (bind: cannot assign
// requested address).
func warnPoolNotLocal(log *slog.Logger, cfg server.Config) {
	pool, err := region.ParsePool(cfg.PublicIPPool)
	if cfg.PublicInterface != "" || err != nil {
		return
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(pool.First, 0)))
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		log.Warn("gateways will not start: the addresses of --public-ip-pool are not this host's; give --public-interface IFACE (root), which gets each gateway's address while it runs, or a pool of local addresses (127.0.0.0/8 is)",
			"pool", pool.String(), "addr", pool.First)
	}
}

// unprivilegedPortStart returns the lowest port this process may bind:
// Linux's net.ipv4.ip_unprivileged_port_start of its network namespace,
// or 0 (any) with CAP_NET_BIND_SERVICE or where it cannot tell.
func unprivilegedPortStart() uint16 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil || caps&(1<<unix.CAP_NET_BIND_SERVICE) != 0 {
				return 0
			}
		}
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}
