package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newMetrics is `vnetgw metrics`: what Prometheus scrapes, once.
func newMetrics(g *globals) *cobra.Command {
	return usesGlobals(&cobra.Command{
		Use:   "metrics",
		Short: "Print the node's counters in the Prometheus text format (what GET /metrics answers)",
		Long: `Print the counters of what the serve node runs, as Prometheus scrapes them
from GET /metrics with the admin token: each tunnel's state, bytes and packets
in and out and its dropped packets by reason, each gateway's and each VNet's
dropped packets by reason, point-to-site clients and BGP peers.

A Prometheus job for it:

  - job_name: vnetgw
    scheme: https
    tls_config: {ca_file: /var/lib/vnetgw/ca.pem}
    authorization: {credentials_file: /var/lib/vnetgw/admin-token}
    static_configs: [{targets: ['127.0.0.1:7443']}]`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			m, err := c.Metrics(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprint(g.stdout, m)
			return nil
		},
	}, "data-dir")
}
