package server

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/insights"
)

// TestGatewayMetricsKeepDeletedConnection: serve records each connection's
// series with its gateway and name, so that the hub gateway's metrics of
// the time its connection ran still hold that connection once it is
// deleted (MmsaCount split by ConnectionName: its IKE SA, under the name
// it had), as Azure Monitor keeps a gateway's past; they were of the
// connections the gateway has now, and the deleted one's was gone.
func TestGatewayMetricsKeepDeletedConnection(t *testing.T) {
	r := startChurnRegion(t)
	a := r.connection(t, "Hub-To-Spoke", r.hubGW, r.spokeGW, "ChurnKey2026", false)
	b := r.connection(t, "spoke-to-hub", r.spokeGW, r.hubGW, "ChurnKey2026", false)
	r.waitEngine(t, "connected", connected(a, b))
	from := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	r.srv.record(time.Now())
	r.delete(t, a, b)
	r.waitEngine(t, "connections gone", noConnections)
	r.srv.record(time.Now())
	to := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	q := url.Values{"api-version": {"2018-01-01"}, "metricnames": {"MmsaCount"}, "interval": {"FULL"},
		"timespan": {from.Format(time.RFC3339) + "/" + to.Format(time.RFC3339)}, "$filter": {"ConnectionName eq '*'"}}
	var out insights.Response
	if _, err := r.c.Do(context.Background(), "GET", r.hubGW.String()+"/providers/Microsoft.Insights/metrics?"+q.Encode(), nil, &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, ts := range out.Value[0].Timeseries {
		for _, p := range ts.Data {
			if len(ts.Metadata) == 1 && p.Total != nil {
				got[ts.Metadata[0].Value] += *p.Total
			}
		}
	}
	if len(got) != 1 || got["Hub-To-Spoke"] != 1 {
		t.Errorf("the hub gateway's MmsaCount by ConnectionName after the delete: %v, want Hub-To-Spoke 1 (%+v)", got, out.Value[0].Timeseries)
	}
}
