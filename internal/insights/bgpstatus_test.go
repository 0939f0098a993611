package insights

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestBGPPeerStatusOfSessionAdded: a session with the peer that starts
// being sampled (the gateway made active-active, its second instance's
// session with the peer added at 20:03) is not counted in the minute
// before its first sample: BgpPeerStatus stays 1 there, the one session
// of that minute being up, and a peer first sampled at 20:03 has no value
// before it, not 0 (down). The first sample's traffic, which it counts
// in the second before it, made the minute before count it as a session
// of no status: 0.5 and 0.
func TestBGPPeerStatusOfSessionAdded(t *testing.T) {
	h := New(time.Minute, 6*time.Hour)
	gw := "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworkgateways/gw"
	peer, added := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i := range 5 {
		m := map[string]Counters{BGPSeries(gw, 0, peer): {Gauges: [3]uint32{GaugePeerUp: 1}}}
		if i >= 3 {
			m[BGPSeries(gw, 1, peer)] = Counters{Gauges: [3]uint32{GaugePeerUp: 1}}
			m[BGPSeries(gw, 0, added)] = Counters{Gauges: [3]uint32{GaugePeerUp: 1}}
		}
		h.Record(t0.Add(time.Duration(i)*time.Minute), m)
	}
	q, err := Parse(map[string]string{"metricnames": "BgpPeerStatus", "$filter": "BgpPeerAddress eq '*'",
		"timespan": t0.Format(time.RFC3339) + "/" + t0.Add(5*time.Minute).Format(time.RFC3339)}, GatewayMetrics, time.Minute, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	q.BGPPeers = h.BGPPeers(gw)
	got := map[string][]float64{}
	for _, ts := range h.Answer(q).Value[0].Timeseries {
		for _, p := range ts.Data {
			v := -1.0 // no value
			if p.Average != nil {
				v = *p.Average
			}
			got[ts.Metadata[0].Value] = append(got[ts.Metadata[0].Value], v)
		}
	}
	if want := []float64{1, 1, 1, 1, 1}; !slices.Equal(got["10.0.0.1"], want) {
		t.Errorf("BgpPeerStatus of 10.0.0.1 by minute %v, want %v", got["10.0.0.1"], want)
	}
	if want := []float64{-1, -1, -1, 1, 1}; !slices.Equal(got["10.0.0.2"], want) {
		t.Errorf("BgpPeerStatus of 10.0.0.2 by minute %v, want %v (-1: no value)", got["10.0.0.2"], want)
	}
}
