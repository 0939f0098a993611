package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/insights"
)

// TestInsightsMetricsTop: a metric split by a dimension ($filter
// ConnectionName eq '*') answers at most top series (Azure's default, 10),
// those first by orderby (the metric's aggregation over the timespan,
// descending unless asc), as az monitor metrics list --top 3 asks; top
// without $filter, as az sends it, changes nothing.
func TestInsightsMetricsTop(t *testing.T) {
	h := insights.New(time.Second, time.Hour)
	e := newEnv(t, envOptions{insights: h})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	// Twelve connections, c00 to c11; c(k) carries 1,000 bytes times
	// (5k mod 12)+1 in a sample: not in the order of their names.
	bytesOf := map[string]uint64{}
	var ids []string
	for k := range 12 {
		name := fmt.Sprintf("c%02d", k)
		conn := netPath(subA, "rg", "connections", name)
		e.must("PUT", conn, s2s(loc, s.gw, e.lng(s, "site"+name, fmt.Sprintf("203.0.113.%d", k+1), fmt.Sprintf("192.168.%d.0/24", k))))
		bytesOf[name] = 1000 * uint64(5*k%12+1)
		ids = append(ids, name)
	}
	now := time.Now().Truncate(time.Second)
	for i := range 3 {
		sample := map[string]insights.Counters{}
		for _, name := range ids {
			sample[strings.ToLower(netPath(subA, "rg", "connections", name))] = insights.Counters{Ingress: uint64(i+1) * bytesOf[name]}
		}
		h.Record(now.Add(time.Duration(i-3)*time.Second), sample)
	}
	// series returns the connections of TunnelIngressBytes's series in
	// the order answered.
	series := func(query string) []string {
		t.Helper()
		r := e.raw("GET", s.gw+"/providers/Microsoft.Insights/metrics", "?api-version=2018-01-01&metricnames=TunnelIngressBytes&interval=PT1M&"+query, testToken, nil)
		var out insights.Response
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Value) != 1 {
			t.Fatalf("%s: %d %s", query, r.status, r.body)
		}
		var names []string
		for _, ts := range out.Value[0].Timeseries {
			name := ""
			if len(ts.Metadata) > 0 {
				name = ts.Metadata[0].Value
			}
			names = append(names, name)
		}
		return names
	}
	split := "$filter=" + url.QueryEscape("ConnectionName eq '*'")
	byBytes := slices.Clone(ids)
	slices.SortFunc(byBytes, func(a, b string) int { return int(bytesOf[b]) - int(bytesOf[a]) })
	for _, c := range []struct {
		query string
		want  []string
	}{
		{split + "&top=3", byBytes[:3]},
		{split + "&top=3&orderby=" + url.QueryEscape("sum desc"), byBytes[:3]},
		{split + "&top=3&orderby=" + url.QueryEscape("Total asc"), []string{byBytes[11], byBytes[10], byBytes[9]}},
		{split, byBytes[:10]}, // Azure's default top
		{split + "&top=20", byBytes},
		{"top=3", []string{""}}, // not split: one series, top does not apply
	} {
		if got := series(c.query); !slices.Equal(got, c.want) {
			t.Errorf("%s: series %v, want %v", c.query, got, c.want)
		}
	}
	for _, q := range []string{split + "&top=0", split + "&top=three", split + "&orderby=" + url.QueryEscape("average desc"), split + "&orderby=" + url.QueryEscape("sum up")} {
		r := e.raw("GET", s.gw+"/providers/Microsoft.Insights/metrics", "?api-version=2018-01-01&metricnames=TunnelIngressBytes&"+q, testToken, nil)
		if r.status != 400 || r.code() != "InvalidParameter" {
			t.Errorf("%s: %d %s, want 400 InvalidParameter", q, r.status, r.code())
		}
	}
}

// TestInsightsFilterOnADimensionTheMetricHasNot: $filter on a dimension
// one of the metrics asked has not is refused, naming the metric and the
// dimension, as Azure refuses it; it was ignored, so that AverageBandwidth
// "of" ConnectionName eq 'c1' answered the whole gateway's bandwidth, and
// az monitor metrics list --filter "ConnectionName eq '*'" without
// --metrics (the gateway's first, AverageBandwidth) one series unsplit.
func TestInsightsFilterOnADimensionTheMetricHasNot(t *testing.T) {
	h := insights.New(time.Second, time.Hour)
	e := newEnv(t, envOptions{insights: h})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	c1 := netPath(subA, "rg", "connections", "c1")
	c2 := netPath(subA, "rg", "connections", "c2")
	e.must("PUT", c1, s2s(loc, s.gw, e.lng(s, "site1", "203.0.113.1", "192.168.1.0/24")))
	e.must("PUT", c2, s2s(loc, s.gw, e.lng(s, "site2", "203.0.113.2", "192.168.2.0/24")))
	now := time.Now().Truncate(time.Second)
	for i := range 3 {
		h.Record(now.Add(time.Duration(i-3)*time.Second), map[string]insights.Counters{
			strings.ToLower(c1): {Ingress: uint64(1000 * (i + 1))}, strings.ToLower(c2): {Ingress: uint64(9000 * (i + 1))}})
	}
	for _, c := range []struct {
		resource, query, metric, dimension string
	}{
		{s.gw, "metricnames=AverageBandwidth&$filter=" + url.QueryEscape("ConnectionName eq 'c1'"), "AverageBandwidth", "ConnectionName"},
		{s.gw, "$filter=" + url.QueryEscape("ConnectionName eq '*'") + "&top=3", "AverageBandwidth", "ConnectionName"},
		{s.gw, "metricnames=TunnelIngressBytes,P2SBandwidth&$filter=" + url.QueryEscape("ConnectionName eq '*'"), "P2SBandwidth", "ConnectionName"},
		{s.gw, "metricnames=TunnelIngressBytes&$filter=" + url.QueryEscape("BgpPeerAddress eq '*'"), "TunnelIngressBytes", "BgpPeerAddress"},
		{c1, "metricnames=BitsInPerSecond&$filter=" + url.QueryEscape("ConnectionName eq 'c1'"), "BitsInPerSecond", "ConnectionName"},
	} {
		r := e.raw("GET", c.resource+"/providers/Microsoft.Insights/metrics", "?api-version=2018-01-01&"+c.query, testToken, nil)
		if msg := r.str("error.message"); r.status != 400 || r.code() != "InvalidParameter" || !strings.Contains(msg, c.metric) || !strings.Contains(msg, c.dimension) {
			t.Errorf("%s: %d %s %q, want 400 InvalidParameter naming %s and %s", c.query, r.status, r.code(), msg, c.metric, c.dimension)
		}
	}
	// A dimension the metric has is still answered.
	r := e.raw("GET", s.gw+"/providers/Microsoft.Insights/metrics", "?api-version=2018-01-01&metricnames=TunnelIngressBytes&$filter="+url.QueryEscape("connectionname eq 'c1'"), testToken, nil)
	var out insights.Response
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Value) != 1 || len(out.Value[0].Timeseries) != 1 || out.Value[0].Timeseries[0].Metadata[0].Value != "c1" {
		t.Errorf("TunnelIngressBytes of c1: %d %.300s", r.status, r.body)
	}
}
