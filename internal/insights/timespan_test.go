package insights

import (
	"testing"
	"time"
)

// TestTimespanWithoutZone: a timespan whose times name no zone, as az
// monitor metrics list sends them (Python's utcnow().isoformat()), is
// taken as UTC, as Azure takes it; it was refused. A time that is not
// one still is.
func TestTimespanWithoutZone(t *testing.T) {
	h := history()
	q, err := Parse(map[string]string{"metricnames": "TunnelIngressBytes", "timespan": "2026-11-29T20:00:00.123456/2026-11-29T20:02:00", "interval": "PT1M"},
		GatewayMetrics, h.Every(), t0)
	if err != nil {
		t.Fatalf("timespan without a zone: %v", err)
	}
	if want := time.Date(2026, 11, 29, 20, 2, 0, 0, time.UTC); !q.To.Equal(want) {
		t.Errorf("end %v, want %v", q.To, want)
	}
	if _, err := Parse(map[string]string{"metricnames": "TunnelIngressBytes", "timespan": "2026-11-29 20:00/2026-11-29T20:02:00"},
		GatewayMetrics, h.Every(), t0); err == nil {
		t.Error("a timespan whose start is no ISO 8601 time was taken")
	}
}
