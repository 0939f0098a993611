package cli

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/insights"
)

// newMonitor is az monitor's metrics list for gateways and connections.
func newMonitor(g *globals) *cobra.Command {
	root := usesGlobals(&cobra.Command{Use: "monitor", Short: "Azure Monitor's metrics of gateways and connections"}, "data-dir", "output")
	metrics := usesGlobals(&cobra.Command{Use: "metrics", Short: "Metrics of a gateway or a connection"}, "data-dir", "output")
	var resource, interval, start, end, offset, filter, orderby string
	var top int
	var names []string
	list := &cobra.Command{
		Use:   "list",
		Short: "List a gateway's or a connection's metrics over time (GET .../providers/Microsoft.Insights/metrics)",
		Long: `List the metrics of a virtual network gateway (AverageBandwidth,
TunnelAverageBandwidth, TunnelIngressBytes, TunnelEgressBytes,
TunnelIngressPackets, TunnelEgressPackets, TunnelPeakPackets, the tunnels'
drops, MmsaCount, QmsaCount, TunnelNatFlowCount, P2SBandwidth,
P2SConnectionCount, BgpPeerStatus, BgpRoutesLearned, BgpRoutesAdvertised;
the tunnel metrics by connection with --filter "ConnectionName eq '*'") or of a
connection (BitsInPerSecond, BitsOutPerSecond), as az monitor metrics list
does, from what the node that runs it sampled every serve
--metrics-interval, on the minute (a point's timestamp is the start of
the minute its traffic happened in). A node keeps its samples for
--metrics-retention and writes them to its data directory every
--metrics-save and when it stops: a restart keeps them (a crash loses
those since the last write); they start again when the VNet moves to
another node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The API's address and the id make the URL: a name, or an id
			// without its first slash, made one that did not parse
			// (invalid port ":7443gw" after host).
			if id, err := arm.ParseID(resource); err != nil || (!strings.EqualFold(id.Type(), arm.TypeVirtualNetworkGateway) && !strings.EqualFold(id.Type(), arm.TypeConnection)) {
				return usagef("--resource %q: the id of a virtual network gateway or a connection, /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Network/virtualNetworkGateways/NAME (vnet-gateway show and vpn-connection show print it, as id)", resource)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if len(names) > 0 {
				q.Set("metricnames", strings.Join(names, ","))
			}
			if interval != "" {
				q.Set("interval", interval)
			}
			if filter != "" {
				q.Set("$filter", filter)
			}
			if top != 0 {
				q.Set("top", strconv.Itoa(top))
			}
			if orderby != "" {
				q.Set("orderby", orderby)
			}
			span, err := parseOffset(offset)
			if err != nil {
				return err
			}
			if start != "" || end != "" || cmd.Flags().Changed("offset") {
				// As az's: --offset from --start-time, or before
				// --end-time (now); with --start-time alone the window
				// ended now, not an --offset after it.
				var from, to time.Time
				if end != "" {
					if to, err = parseTime("--end-time", end); err != nil {
						return err
					}
				}
				if start != "" {
					if from, err = parseTime("--start-time", start); err != nil {
						return err
					}
				}
				switch {
				case start == "" && end == "":
					to = time.Now().UTC()
					from = to.Add(-span)
				case start == "":
					from = to.Add(-span)
				case end == "":
					to = from.Add(span)
				}
				q.Set("timespan", from.Format(time.RFC3339)+"/"+to.Format(time.RFC3339))
			}
			var out insights.Response
			if _, err := c.Do(cmd.Context(), "GET", strings.TrimSuffix(resource, "/")+"/providers/Microsoft.Insights/metrics?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			if g.document() {
				return g.print(out, nil)
			}
			var rows [][]string
			for _, m := range out.Value {
				for _, ts := range m.Timeseries {
					dim := ""
					if len(ts.Metadata) > 0 {
						dim = ts.Metadata[0].Value
					}
					for _, p := range ts.Data {
						v := ""
						switch {
						case p.Total != nil:
							v = strconv.FormatFloat(*p.Total, 'f', -1, 64)
						case p.Average != nil:
							v = fmt.Sprintf("%.1f", *p.Average)
						case p.Maximum != nil:
							v = fmt.Sprintf("%.1f", *p.Maximum)
						}
						rows = append(rows, []string{p.TimeStamp, m.Name.Value, dim, v})
					}
				}
			}
			return g.table([]string{"Timestamp", "Name", "Dimension", "Value"}, rows)
		},
	}
	f := list.Flags()
	f.StringVar(&resource, "resource", "", "id of the virtual network gateway or connection")
	f.StringSliceVar(&names, "metric", nil, "metric names (comma-separated or repeated); default: the resource's first")
	f.StringVar(&interval, "interval", "", "ISO 8601 time grain: PT1M, PT5M, PT1H, ...; at least serve's --metrics-interval (default: PT1M, or that when it is longer); FULL for one point over the whole timespan")
	f.StringVar(&start, "start-time", "", "RFC 3339 start (default: --offset before the end)")
	f.StringVar(&end, "end-time", "", "RFC 3339 end (default: --offset after --start-time, else now)")
	f.StringVar(&offset, "offset", "1h", "the window's length, as az's ##d##h##m##s (1d, 2h30m), from --start-time or up to --end-time; with both, not used")
	f.StringVar(&filter, "filter", "", `"ConnectionName eq '*'" splits a gateway's tunnel metrics by connection, "BgpPeerAddress eq '*'" its BGP metrics by peer, "Protocol eq '*'" P2SConnectionCount by protocol; "... eq 'VALUE'" keeps one`)
	f.IntVar(&top, "top", 0, "the most series of a metric split by --filter (the API's default: 10)")
	f.StringVar(&orderby, "orderby", "", `which series come first: "sum desc" (the default: the metric's aggregation, the largest first), "sum asc"; average or maximum for a metric of that aggregation`)
	list.MarkFlagRequired("resource")
	// --resource is a full id: --subscription, which it took and ignored,
	// is refused.
	metrics.AddCommand(usesGlobals(list, "data-dir", "output"))
	root.AddCommand(metrics)
	return root
}

// offsetRE is az's --offset of monitor metrics list, ##d##h##m##s (ISO
// 8601's P and T taken too).
var offsetRE = regexp.MustCompile(`^(?i)p?(?:(\d+)w)?(?:(\d+)d)?t?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$`)

// parseOffset reads --offset.
func parseOffset(s string) (time.Duration, error) {
	m := offsetRE.FindStringSubmatch(strings.TrimSpace(s))
	var d time.Duration
	if m != nil {
		for i, unit := range []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second} {
			if m[i+1] == "" {
				continue
			}
			n, err := strconv.ParseInt(m[i+1], 10, 64)
			if err != nil || n > int64((math.MaxInt64-d)/unit) {
				return 0, usagef("--offset %q: too long", s)
			}
			d += time.Duration(n) * unit
		}
	}
	if d <= 0 {
		return 0, usagef("--offset %q: a length of time as ##d##h##m##s (1h, 1d, 2h30m)", s)
	}
	return d, nil
}

// parseTime reads a --start-time or --end-time as az does: a date, and a
// time of day with seconds and their fractions, a zone (Z, +01:00)
// optional; without one it is UTC (az's --start-time 2026-12-07T10:00,
// or 2026-12-07 alone, for its midnight).
func parseTime(flag, v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: not a time: give a date and a time of day, with a zone or in UTC (2026-12-07T10:00:00Z, 2026-12-07T11:00+01:00, 2026-12-07 10:00)", flag, v)
}
