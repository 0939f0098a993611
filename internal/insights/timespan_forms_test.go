package insights

import (
	"testing"
	"time"
)

// TestTimespanDurationForms: a timespan may be any of ISO 8601's
// intervals that Azure Monitor takes: START/END, START/DURATION,
// DURATION/END and a DURATION alone, which ends now. The Azure Monitor
// Query SDKs send the last two (Python's MetricsQueryClient
// query_resource(timespan=timedelta(hours=1)) sends PT3600.0S, with
// (start, timedelta) START/PT3600.0S; Java's, .NET's and JavaScript's
// a duration such as PT1H); they were refused as not START/END.
func TestTimespanDurationForms(t *testing.T) {
	h := history()
	now := t0.Add(2 * time.Minute)
	for _, tc := range []struct {
		timespan string
		from, to time.Time
	}{
		{"PT2M", t0, now},
		{"PT120.0S", t0, now},
		{"2026-11-29T20:00:00.000Z/PT120.0S", t0, now},
		{"2026-11-29T20:00:00Z/PT2M", t0, now},
		{"PT2M/2026-11-29T20:02:00Z", t0, now},
		{"pt2m/2026-11-29T20:02:00", t0, now},
	} {
		q, err := Parse(map[string]string{"metricnames": "TunnelIngressBytes", "timespan": tc.timespan, "interval": "PT1M"}, GatewayMetrics, h.Every(), now)
		if err != nil {
			t.Errorf("timespan %s: %v", tc.timespan, err)
			continue
		}
		if !q.From.Equal(tc.from) || !q.To.Equal(tc.to) {
			t.Errorf("timespan %s: %s to %s, want %s to %s", tc.timespan, q.From, q.To, tc.from, tc.to)
			continue
		}
		q.Connections = map[string]string{"a": "conn-a"}
		d := h.Answer(q).Value[0].Timeseries[0].Data
		if len(d) != 2 || d[0].Total == nil || *d[0].Total != 6000 || d[1].Total == nil || *d[1].Total != 5000 {
			t.Errorf("timespan %s: points %+v, want 6000 and 5000 bytes", tc.timespan, d)
		}
	}
	for _, ts := range []string{"PT2M/PT2M", "PT0S", "P", "PT", "PT-2M", "2026-11-29T20:00:00Z/PT0M", "P3651D", "2026-11-29T20:00:00Z/"} {
		if _, err := Parse(map[string]string{"timespan": ts}, GatewayMetrics, h.Every(), now); err == nil {
			t.Errorf("timespan %q taken", ts)
		}
	}
}
