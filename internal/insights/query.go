package insights

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Metric is one metric that can be asked for, in Azure Monitor's names.
type Metric struct {
	Name, Display, Description string
	Unit                       string // Bytes, Count, BytesPerSecond or BitsPerSecond
	Aggregation                string // the primary one: Total, Average or Maximum
	// Dimension is the dimension the metric can be split by:
	// ConnectionName (a gateway's metrics of its connections),
	// BgpPeerAddress (of its BGP sessions) or none. P2S tells that it is
	// of the gateway's point-to-site traffic.
	Dimension string
	P2S       bool
	// value turns a bucket of traffic over seconds into the metric.
	value func(b Bucket, seconds float64) float64
}

// GatewayMetrics are a virtual network gateway's, ConnectionMetrics a
// connection's, as Azure names them.
var (
	GatewayMetrics = []Metric{
		{"AverageBandwidth", "Gateway S2S Bandwidth", "Site-to-site bandwidth of the gateway, both ways, in bytes per second", "BytesPerSecond", "Average", "", false, bothPerSecond},
		{"P2SBandwidth", "Gateway P2S Bandwidth", "Point-to-site bandwidth of the gateway, both ways, in bytes per second", "BytesPerSecond", "Average", "", true, bothPerSecond},
		{"P2SConnectionCount", "P2S Connection Count", "Point-to-site clients connected to the gateway (the mean over the interval)", "Count", "Total", byProtocol, true, func(b Bucket, _ float64) float64 { return b.Gauges[GaugeClients] }},
		{"TunnelAverageBandwidth", "Tunnel Bandwidth", "Bandwidth of a tunnel, both ways, in bytes per second", "BytesPerSecond", "Average", byConnection, false, bothPerSecond},
		{"TunnelIngressBytes", "Tunnel Ingress Bytes", "Bytes that came in through a tunnel", "Bytes", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.Ingress) }},
		{"TunnelEgressBytes", "Tunnel Egress Bytes", "Bytes that went out through a tunnel", "Bytes", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.Egress) }},
		{"TunnelIngressPackets", "Tunnel Ingress Packets", "Packets that came in through a tunnel", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.IngressPackets) }},
		{"TunnelEgressPackets", "Tunnel Egress Packets", "Packets that went out through a tunnel", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.EgressPackets) }},
		{"TunnelIngressPacketDropCount", "Tunnel Ingress Packet Drop Count", "Packets that came in through a tunnel and were dropped (a replay, an ICV that did not verify, bad padding or length, past the child SA's lifetime, outside its traffic selectors, malformed, marked Congestion Experienced but not ECN-capable, not taken by the VNet side); not the peer's dummy packets", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.Drops.Ingress) }},
		{"TunnelEgressPacketDropCount", "Tunnel Egress Packet Drop Count", "Packets for a tunnel that were dropped (no child SA, none whose traffic selectors hold them, longer than the tunnel carries with Don't Fragment set or IPv6, sealing refused, sealed but not sent)", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.Drops.Egress) }},
		{"TunnelIngressPacketDropTSMismatch", "Tunnel Ingress TS Mismatch Packet Drop", "Packets that came in through a tunnel outside its child SA's traffic selectors", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.Drops.IngressTS) }},
		{"TunnelEgressPacketDropTSMismatch", "Tunnel Egress TS Mismatch Packet Drop", "Packets for a policy-based tunnel that no child SA's traffic selectors hold", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.Drops.EgressTS) }},
		{"TunnelNatPacketDrop", "Tunnel NAT Packet Drops", "Packets a tunnel's NAT rules dropped: for a Dynamic rule's external space and of no flow, or with no free address and port", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return float64(b.Drops.NAT) }},
		{"TunnelNatFlowCount", "Tunnel NAT Flows", "Flows a tunnel's Dynamic NAT rules hold (the mean over the interval)", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return b.Gauges[GaugeNATFlows] }},
		{"MmsaCount", "Tunnel MMSA Count", "Established IKE SAs (main mode SAs) of a tunnel (the mean over the interval)", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return b.Gauges[GaugeIKESAs] }},
		{"QmsaCount", "Tunnel QMSA Count", "Child SA pairs (quick mode SAs) of a tunnel (the mean over the interval)", "Count", "Total", byConnection, false, func(b Bucket, _ float64) float64 { return b.Gauges[GaugeChildSAs] }},
		{"TunnelPeakPackets", "Tunnel Peak PPS", "The highest packet rate of a tunnel, both ways, between two samples (serve --metrics-interval apart)", "Count", "Maximum", byConnection, false, func(b Bucket, _ float64) float64 { return b.PeakPPS }},
		{"BgpPeerStatus", "BGP Peer Status", "1 while the BGP sessions with the peer (one per instance of the gateway) are established (the mean over the interval and the sessions)", "Count", "Average", byBGPPeer, false, func(b Bucket, _ float64) float64 { return b.Gauges[GaugePeerUp] }},
		{"BgpRoutesLearned", "BGP Routes Learned", "Routes learned from the BGP peer (the mean over the interval)", "Count", "Total", byBGPPeer, false, func(b Bucket, _ float64) float64 { return b.Gauges[GaugeRoutesLearned] }},
		{"BgpRoutesAdvertised", "BGP Routes Advertised", "Routes advertised to the BGP peer (the mean over the interval)", "Count", "Total", byBGPPeer, false, func(b Bucket, _ float64) float64 { return b.Gauges[GaugeRoutesAdvertised] }},
	}
	ConnectionMetrics = []Metric{
		{"BitsInPerSecond", "BitsInPerSecond", "Bits per second that came in through the connection", "BitsPerSecond", "Average", "", false, func(b Bucket, s float64) float64 { return 8 * float64(b.Ingress) / s }},
		{"BitsOutPerSecond", "BitsOutPerSecond", "Bits per second that went out through the connection", "BitsPerSecond", "Average", "", false, func(b Bucket, s float64) float64 { return 8 * float64(b.Egress) / s }},
	}
)

func bothPerSecond(b Bucket, s float64) float64 { return float64(b.Ingress+b.Egress) / s }

// The dimensions a gateway's metrics are split by.
const (
	byConnection = "ConnectionName"
	byBGPPeer    = "BgpPeerAddress"
	byProtocol   = "Protocol"
)

// Query is a metrics request on one resource.
type Query struct {
	Resource  string   // the resource id, as asked
	Namespace string   // Microsoft.Network/virtualNetworkGateways or .../connections
	Location  string   // the resource's
	Metrics   []Metric // from Parse
	From, To  time.Time
	Interval  time.Duration
	// full tells that the interval is the timespan (interval=FULL):
	// one point, from the timespan's start.
	full bool
	// now is when the query was asked: a rate over a bucket that ends
	// later is over the part of it gone by.
	now time.Time
	// Split is the dimension of $filter (ConnectionName eq '*',
	// BgpPeerAddress eq '10.0.0.1', Protocol eq 'IKEv2'), Value the value
	// it asks for ("": all).
	Split, Value string
	// P2S are the ids of the gateway's point-to-site series (P2SSeriesOf)
	// and their protocols.
	P2S map[string]string
	// Connections are the lower-case ids of the connections whose traffic
	// makes the metrics, and their names (the dimension's values);
	// BGPPeers the ids of the series of the gateway's BGP sessions
	// (BGPSeries) and their peers' addresses.
	Connections, BGPPeers map[string]string
	// Top is how many series of a metric split by $filter are answered
	// (Azure's default 10), the first by the metric's aggregation over
	// the timespan, largest first unless Ascending (orderby).
	Top       int
	Ascending bool
}

// ErrBadRequest is what Parse's errors wrap.
type ErrBadRequest struct{ Msg string }

func (e *ErrBadRequest) Error() string { return e.Msg }

func bad(format string, args ...any) error { return &ErrBadRequest{fmt.Sprintf(format, args...)} }

var filterRE = regexp.MustCompile(`(?i)^\s*(connectionname|bgppeeraddress|protocol)\s+eq\s+'([^']*)'\s*$`)

// Parse reads a request's metricnames, timespan, interval and $filter
// against the metrics the resource has, with now for the default
// timespan (the last hour). The interval is at least the sampling one,
// or FULL, the timespan's length.
func Parse(q map[string]string, available []Metric, every time.Duration, now time.Time) (Query, error) {
	out := Query{To: now, From: now.Add(-time.Hour), Interval: max(time.Minute, every), now: now}
	names := q["metricnames"]
	if names == "" {
		names = available[0].Name
	}
	for _, n := range strings.Split(names, ",") {
		i := slices.IndexFunc(available, func(m Metric) bool { return strings.EqualFold(m.Name, strings.TrimSpace(n)) })
		if i < 0 {
			var known []string
			for _, m := range available {
				known = append(known, m.Name)
			}
			return Query{}, bad("metric %q is not one of this resource's: %s", n, strings.Join(known, ", "))
		}
		if slices.ContainsFunc(out.Metrics, func(m Metric) bool { return m.Name == available[i].Name }) {
			continue // asked twice, answered once
		}
		out.Metrics = append(out.Metrics, available[i])
	}
	// Each metric has one aggregation (its definition's supported one):
	// a list that leaves out a metric's is refused rather than answered
	// in a field the caller does not read. The list serves every metric
	// asked for (Total,Average for a Total and an Average one).
	if ag := q["aggregation"]; ag != "" {
		asked := strings.Split(ag, ",")
		for _, m := range out.Metrics {
			if !slices.ContainsFunc(asked, func(a string) bool { return strings.EqualFold(strings.TrimSpace(a), m.Aggregation) }) {
				return Query{}, bad("aggregation %q: metric %s has %s only", ag, m.Name, m.Aggregation)
			}
		}
	}
	if ts := q["timespan"]; ts != "" {
		from, to, ok := parseTimespan(ts, now)
		if !ok || !from.Before(to) {
			return Query{}, bad("timespan %q is not START/END, START/DURATION, DURATION/END or DURATION in ISO 8601 (times in RFC 3339, or UTC without a zone; durations such as PT1H) with START before END", ts)
		}
		if to.Sub(from) > maxTimespan {
			// Also what time.Sub saturates at, 292 years, is refused.
			return Query{}, bad("timespan %q is longer than %d days", ts, maxTimespan/(24*time.Hour))
		}
		out.From, out.To = from, to
	}
	if iv := q["interval"]; strings.EqualFold(iv, "FULL") {
		// Azure's special case: one point for the whole timespan.
		out.Interval, out.full = out.To.Sub(out.From), true
	} else if iv != "" {
		d, err := parseDuration(iv)
		if err != nil {
			return Query{}, err
		}
		if d%time.Second != 0 {
			return Query{}, bad("interval %q is not a whole number of seconds", iv)
		}
		if d < every {
			return Query{}, bad("interval %s is shorter than the sampling interval %s (serve --metrics-interval)", iv, every)
		}
		out.Interval = d
	}
	if n := out.To.Sub(out.From) / out.Interval; n > 10000 {
		return Query{}, bad("timespan and interval make %d points; at most 10000", n)
	}
	if f := q["$filter"]; f != "" {
		m := filterRE.FindStringSubmatch(f)
		if m == nil {
			return Query{}, bad("$filter %q is not ConnectionName, BgpPeerAddress or Protocol eq '<value>' or eq '*'", f)
		}
		out.Split = byConnection
		for _, d := range []string{byBGPPeer, byProtocol} {
			if strings.EqualFold(m[1], d) {
				out.Split = d
			}
		}
		if m[2] != "*" {
			out.Value = m[2]
		}
		// A dimension a metric asked has not is refused, as Azure
		// refuses it, not ignored: the metric's answer would be of
		// every series, not of the one the filter names.
		for _, mt := range out.Metrics {
			if mt.Dimension != out.Split {
				has := "it has none"
				if mt.Dimension != "" {
					has = "its dimension is " + mt.Dimension
				}
				return Query{}, bad("$filter %q: metric %s has no dimension %s (%s; metricDefinitions lists each metric's)", f, mt.Name, out.Split, has)
			}
		}
		// top and orderby count only with $filter (Metrics - List: "Valid
		// only if $filter is specified. Defaults to 10"); az monitor
		// metrics list sends top=10 without one too.
		out.Top = 10
		if t := q["top"]; t != "" {
			n, err := strconv.Atoi(strings.TrimSpace(t))
			if err != nil || n < 1 {
				return Query{}, bad("top %q is not a whole number of at least 1", t)
			}
			out.Top = n
		}
		if ob := q["orderby"]; ob != "" {
			f := strings.Fields(ob)
			if len(f) == 2 && strings.EqualFold(f[1], "asc") {
				out.Ascending = true
			} else if len(f) < 1 || len(f) > 2 || len(f) == 2 && !strings.EqualFold(f[1], "desc") {
				return Query{}, bad("orderby %q is not an aggregation and asc or desc (sum desc)", ob)
			}
			ag := f[0]
			if strings.EqualFold(ag, "sum") {
				ag = "Total"
			}
			for _, m := range out.Metrics {
				if !strings.EqualFold(ag, m.Aggregation) {
					return Query{}, bad("orderby %q: metric %s has %s only", ob, m.Name, m.Aggregation)
				}
			}
		}
	}
	if !out.full {
		out.From = out.From.Truncate(out.Interval)
	}
	return out, nil
}

var durationRE = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:[.,](\d+))?S)?)?$`)

// maxTimespan bounds a query's timespan and interval: ten years.
const maxTimespan = 3650 * 24 * time.Hour

// parseTimespan reads a timespan, an ISO 8601 time interval: START/END,
// START/DURATION, DURATION/END, or a DURATION alone, which ends now (the
// Azure Monitor Query SDKs send the last two: Python's PT3600.0S for
// timedelta(hours=1)).
func parseTimespan(s string, now time.Time) (from, to time.Time, ok bool) {
	isDuration := func(x string) bool { return strings.HasPrefix(strings.ToUpper(x), "P") }
	a, b, two := strings.Cut(s, "/")
	var err error
	switch {
	case !two:
		var d time.Duration
		d, err = parseDuration(a)
		from, to = now.Add(-d), now
	case isDuration(a) && isDuration(b):
		return from, to, false
	case isDuration(a):
		var d time.Duration
		if d, err = parseDuration(a); err == nil {
			to, err = parseTime(b)
			from = to.Add(-d)
		}
	case isDuration(b):
		var d time.Duration
		if d, err = parseDuration(b); err == nil {
			from, err = parseTime(a)
			to = from.Add(d)
		}
	default:
		if from, err = parseTime(a); err == nil {
			to, err = parseTime(b)
		}
	}
	return from, to, err == nil
}

// parseDuration reads an ISO 8601 duration of days, hours, minutes and
// seconds (PT1M, PT1H, P1D), the seconds with a fraction or not.
func parseDuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, bad("interval %q is not an ISO 8601 duration such as PT1M, PT1H or P1D", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] != "" {
			n, err := strconv.Atoi(m[i+1])
			if err != nil || time.Duration(n) > maxTimespan/unit {
				return 0, bad("interval %q is too long", s)
			}
			d += time.Duration(n) * unit
		}
	}
	if f := m[5]; f != "" {
		ns, _ := strconv.Atoi((f + "000000000")[:9])
		d += time.Duration(ns)
	}
	if d <= 0 {
		return 0, bad("interval %q is not positive", s)
	}
	return d, nil
}

// formatDuration writes d as ISO 8601.
func formatDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("PT%dH", d/time.Hour)
	}
	if d%time.Minute == 0 {
		return fmt.Sprintf("PT%dM", d/time.Minute)
	}
	return fmt.Sprintf("PT%dS", d/time.Second)
}

// parseTime reads a time of a timespan: RFC 3339, or ISO 8601 without a
// zone, taken as UTC, as Azure takes it (az monitor metrics list sends
// Python's utcnow().isoformat(), which has none).
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if u, uerr := time.Parse("2006-01-02T15:04:05.999999999", s); uerr == nil {
			return u, nil
		}
	}
	return t, err
}
