package insights

import (
	"strings"
	"testing"
	"time"
)

// TestParseBounds: a metric asked twice is answered once; a timespan
// longer than ten years (also one whose length overflows) and an
// interval of more days than that are refused.
func TestParseBounds(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	q, err := Parse(map[string]string{"metricnames": strings.Repeat(GatewayMetrics[0].Name+",", 999) + GatewayMetrics[0].Name}, GatewayMetrics, time.Minute, now)
	if err != nil || len(q.Metrics) != 1 {
		t.Errorf("one metric asked 1000 times: %d metrics, %v", len(q.Metrics), err)
	}
	for _, params := range []map[string]string{
		{"timespan": "0001-01-01T00:00:00Z/9999-12-31T00:00:00Z", "interval": "P11D"},
		{"timespan": "2000-01-01T00:00:00Z/2026-01-01T00:00:00Z", "interval": "P30D"},
		{"interval": "P213504D"},
	} {
		if _, err := Parse(params, GatewayMetrics, time.Minute, now); err == nil {
			t.Errorf("%v taken", params)
		}
	}
}

// TestParseAggregation: a metric's own aggregation may be asked for, in
// any case, alone or among others; a list without it is refused, naming
// the metric and the one it has.
func TestParseAggregation(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, ag := range []string{"Total", "total", " Total ", ""} {
		if _, err := Parse(map[string]string{"metricnames": "TunnelIngressBytes", "aggregation": ag}, GatewayMetrics, time.Minute, now); err != nil {
			t.Errorf("aggregation %q of a Total metric: %v", ag, err)
		}
	}
	if _, err := Parse(map[string]string{"metricnames": "TunnelIngressBytes,AverageBandwidth", "aggregation": "Total,Average"}, GatewayMetrics, time.Minute, now); err != nil {
		t.Errorf("a Total and an Average metric asked with Total,Average: %v", err)
	}
	for _, params := range []map[string]string{
		{"metricnames": "TunnelIngressBytes", "aggregation": "Average"},
		{"metricnames": "TunnelIngressBytes,AverageBandwidth", "aggregation": "Total"},
	} {
		_, err := Parse(params, GatewayMetrics, time.Minute, now)
		if err == nil || !strings.Contains(err.Error(), "only") {
			t.Errorf("%v: %v, want refused", params, err)
		}
	}
}

// TestIntervalFull: interval FULL, Azure Monitor's special case, answers
// one point for the whole timespan, from its start as asked, and says
// FULL as the interval.
func TestIntervalFull(t *testing.T) {
	h := history()
	for _, iv := range []string{"FULL", "full"} {
		q, err := Parse(map[string]string{"metricnames": "TunnelIngressBytes", "timespan": "2026-11-29T20:00:30Z/2026-11-29T20:02:00Z", "interval": iv}, GatewayMetrics, h.Every(), t0.Add(3*time.Minute))
		if err != nil {
			t.Fatalf("interval %s: %v", iv, err)
		}
		q.Connections = map[string]string{"a": "conn-a"}
		r := h.Answer(q)
		if r.Interval != "FULL" || r.Timespan != "2026-11-29T20:00:30Z/2026-11-29T20:02:00Z" || len(r.Value) != 1 || len(r.Value[0].Timeseries) != 1 {
			t.Fatalf("interval %s: %+v", iv, r)
		}
		// a's samples at 40 to 110 s: 1,000 bytes each (the one at 60 s
		// after its restart); the one at 30 s tells of the 10 s before.
		d := r.Value[0].Timeseries[0].Data
		if len(d) != 1 || d[0].TimeStamp != "2026-11-29T20:00:30Z" || d[0].Total == nil || *d[0].Total != 8000 {
			t.Errorf("interval %s: points %+v, want one of 8000 at 20:00:30", iv, d)
		}
	}
}
