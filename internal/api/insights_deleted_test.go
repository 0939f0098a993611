package api

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/insights"
)

// TestInsightsGatewayKeepsDeletedConnections: a gateway's metrics over a
// past window are what its connections carried then, a connection
// deleted since included (split by ConnectionName under the name it
// had), as Azure Monitor keeps a resource's past data; they were summed
// over the connections the gateway has now, so that deleting one took
// its traffic out of the gateway's past at once.
func TestInsightsGatewayKeepsDeletedConnections(t *testing.T) {
	h := insights.New(time.Second, time.Hour)
	e := newEnv(t, envOptions{insights: h})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	other := e.site(subA, "rg2", loc, "10.2.0.0/16", "RouteBased", "VpnGw1")
	c1 := netPath(subA, "rg", "connections", "Keep")
	c2 := netPath(subA, "rg", "connections", "Gone-Branch")
	c3 := netPath(subA, "rg2", "connections", "elsewhere")
	e.must("PUT", c1, s2s(loc, s.gw, e.lng(s, "site1", "203.0.113.1", "192.168.1.0/24")))
	e.must("PUT", c2, s2s(loc, s.gw, e.lng(s, "site2", "203.0.113.2", "192.168.2.0/24")))
	e.must("PUT", c3, s2s(loc, other.gw, e.lng(other, "site3", "203.0.113.3", "192.168.3.0/24")))
	end := time.Now().Truncate(time.Second)
	start := end.Add(-10 * time.Second)
	for i := range 3 {
		// As serve records them: each with its gateway and name.
		h.Record(start.Add(time.Duration(i+1)*time.Second), map[string]insights.Counters{
			strings.ToLower(c1): {Ingress: uint64(1000 * (i + 1)), Gateway: strings.ToLower(s.gw), Name: "Keep"},
			strings.ToLower(c2): {Ingress: uint64(9000 * (i + 1)), Gateway: strings.ToLower(s.gw), Name: "Gone-Branch"},
			strings.ToLower(c3): {Ingress: uint64(500000 * (i + 1)), Gateway: strings.ToLower(other.gw), Name: "elsewhere"},
		})
	}
	// totals returns TunnelIngressBytes of the gateway over the window,
	// by ConnectionName ("" unsplit).
	totals := func(query string) map[string]float64 {
		t.Helper()
		r := e.raw("GET", s.gw+"/providers/Microsoft.Insights/metrics", "?api-version=2018-01-01&metricnames=TunnelIngressBytes&interval=FULL&timespan="+
			url.QueryEscape(start.UTC().Format(time.RFC3339)+"/"+end.UTC().Format(time.RFC3339))+query, testToken, nil)
		var out insights.Response
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Value) != 1 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		got := map[string]float64{}
		for _, ts := range out.Value[0].Timeseries {
			name := ""
			if len(ts.Metadata) > 0 {
				name = ts.Metadata[0].Value
			}
			for _, p := range ts.Data {
				if p.Total != nil {
					got[name] += *p.Total
				}
			}
		}
		return got
	}
	split := "&$filter=" + url.QueryEscape("ConnectionName eq '*'")
	check := func(when string) {
		t.Helper()
		if got := totals(""); got[""] != 3000+27000 {
			t.Errorf("%s: the gateway's TunnelIngressBytes %v, want 30000 (its two connections', not the other gateway's)", when, got)
		}
		if got := totals(split); len(got) != 2 || got["Keep"] != 3000 || got["Gone-Branch"] != 27000 {
			t.Errorf("%s: by ConnectionName %v, want Keep 3000, Gone-Branch 27000", when, got)
		}
	}
	check("before the delete")
	e.must("DELETE", c2, nil)
	check("after Gone-Branch was deleted")
}
