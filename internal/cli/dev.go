package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/tun"
)

func newDev(g *globals) *cobra.Command {
	dev := &cobra.Command{Use: "dev", Short: "Developer commands: run parts of vnetgw alone"}
	dev.AddCommand(newDevGateway(g))
	return usesGlobals(dev)
}

func newDevGateway(g *globals) *cobra.Command {
	var config, logLevel string
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "gateway --config FILE",
		Short: "Run one VPN gateway on a TUN device, without the API (root)",
		Long: `Run one VPN gateway from a JSON file: UDP endpoints on "local", a TUN device
that the connections' routes point into, the IKE daemon (IKEv2, or IKEv1 for
a connection with "ikev1": true) and the ESP engine.
Run it inside a network namespace (ip netns exec NS vnetgw dev gateway ...)
to stand in as a site-to-site gateway between two subnets.

Every --status-interval it prints one JSON line with the state of each
connection. It ends, exit 1, if its TUN device is deleted (ip link del). The file's fields are documented in internal/gateway/file.go; an
example:

  {"local": "10.0.0.1",
   "connections": [{"name": "site-b", "remote": "10.0.0.2", "psk": "secret",
                    "ike": ["aes256gcm16-prfsha256-ecp256"], "esp": ["aes256gcm16"],
                    "routes": ["10.2.0.0/16"]}]}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level: %w", err)
			}
			if interval <= 0 {
				// time.NewTicker panicked on it, with the gateway up.
				return usagef("--status-interval must be positive (got %s)", interval)
			}
			log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			f, err := gateway.ReadFile(config)
			if err != nil {
				return err
			}
			local, err := f.LocalAddr()
			if err != nil {
				return err
			}
			conns, err := f.GatewayConnections()
			if err != nil {
				return err
			}
			var routes []netip.Prefix
			for _, c := range conns {
				routes = append(routes, c.Routes...)
			}
			dev, err := tun.Create(tun.Config{Name: f.TUN.Name, MTU: f.TUN.MTU, Routes: routes})
			if err != nil {
				return fmt.Errorf("TUN device: %w", err)
			}
			gw, err := gateway.Start(gateway.Options{Local: local, IKEPort: f.IKEPort, NATTPort: f.NATTPort, RawESP: f.RawESP, Inner: dev, Logger: log})
			if err != nil {
				return err
			}
			defer gw.Close()
			if err := gw.Reconfig(conns); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "gateway %s up on %s with %d connections\n", local, dev.Name(), len(conns))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			enc := json.NewEncoder(g.stdout)
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-gw.Engine().InnerGone():
					// Deleted (ip link del): the tunnels would carry nothing.
					return fmt.Errorf("the gateway's TUN device is gone: %w", gw.Engine().InnerErr())
				case <-tick.C:
					if err := enc.Encode(gw.Status()); err != nil {
						return err
					}
				}
			}
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "the gateway's JSON file")
	cmd.Flags().DurationVar(&interval, "status-interval", 5*time.Second, "how often to print the connections' state")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	cmd.MarkFlagRequired("config")
	return usesGlobals(cmd)
}
