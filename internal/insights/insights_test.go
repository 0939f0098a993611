package insights

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)

// history samples connection "a" every 10 s for two minutes: 1,000 bytes in
// and 100 out per sample, its tunnel starting again (counters back to 0)
// at 60 s; "b" carries 10 bytes in per sample.
func history() *History {
	h := New(10*time.Second, time.Hour)
	var in uint64
	for i := range 12 {
		if i == 6 {
			in = 0
		}
		in += 1000
		h.Record(t0.Add(time.Duration(i)*10*time.Second), map[string]Counters{"a": {Ingress: in, Egress: in / 10, IngressPackets: in / 1000}, "b": {Ingress: uint64(10 * (i + 1))}})
	}
	return h
}

// A bucket holds what the counters grew in its time; a counter that went
// down counts from zero; a bucket without samples has nothing to say.
func TestBuckets(t *testing.T) {
	bs := history().Buckets("a", t0, t0.Add(3*time.Minute), time.Minute)
	if len(bs) != 3 {
		t.Fatalf("%d buckets", len(bs))
	}
	// 0-60 s: the samples at 10..60 s, six steps of 1,000 (the last the
	// restart's first), the first sample's from zero before it; 60-120 s:
	// five more, up to the last sample at 110 s.
	if bs[0].Ingress != 6000 || bs[0].Egress != 600 || bs[0].IngressPackets != 6 || !bs[0].Has || bs[1].Ingress != 5000 || bs[2].Has {
		t.Fatalf("buckets %+v", bs)
	}
}

func TestAnswer(t *testing.T) {
	h := history()
	ask := func(names, filter string) Response {
		t.Helper()
		q, err := Parse(map[string]string{"metricnames": names, "timespan": "2026-11-29T20:00:00Z/2026-11-29T20:02:00Z",
			"interval": "PT1M", "$filter": filter}, GatewayMetrics, h.Every(), t0)
		if err != nil {
			t.Fatal(err)
		}
		q.Resource, q.Connections = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworkGateways/gw", map[string]string{"a": "conn-a", "b": "conn-b"}
		return h.Answer(q)
	}
	r := ask("TunnelIngressBytes,tunnelaveragebandwidth", "ConnectionName eq '*'")
	b, _ := json.Marshal(r)
	if len(r.Value) != 2 || len(r.Value[0].Timeseries) != 2 || r.Interval != "PT1M" {
		t.Fatalf("answer %s", b)
	}
	ts := r.Value[0].Timeseries[0]
	if ts.Metadata[0].Value != "conn-a" || *ts.Data[0].Total != 6000 || *ts.Data[1].Total != 5000 || ts.Data[0].TimeStamp != "2026-11-29T20:00:00Z" {
		t.Errorf("TunnelIngressBytes of conn-a: %+v", ts)
	}
	if tbw := r.Value[1].Timeseries[0]; tbw.Metadata[0].Value != "conn-a" || *tbw.Data[0].Average != (6000+600)/60.0 {
		t.Errorf("TunnelAverageBandwidth of conn-a: %s", b)
	}
	if !strings.Contains(string(b), `"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworkGateways/gw/providers/Microsoft.Insights/metrics/TunnelIngressBytes"`) {
		t.Errorf("metric id: %s", b)
	}
	// The gateway's bandwidth is not split: both connections, both ways,
	// per second.
	r = ask("averagebandwidth", "")
	if bw := r.Value[0].Timeseries; len(bw) != 1 || *bw[0].Data[0].Average != (6000+600+60)/60.0 {
		b, _ := json.Marshal(r)
		t.Errorf("AverageBandwidth: %s", b)
	}
}

// Drops count like traffic, from the first sample that has one; gauges
// are their bucket's mean; a connection that never drops keeps no drops.
func TestDropsAndGauges(t *testing.T) {
	h := New(10*time.Second, time.Hour)
	for i := range 12 {
		var d Drops
		if i >= 3 {
			d = Drops{Ingress: uint64(5 * (i - 2)), IngressTS: uint64(5 * (i - 2)), NAT: 1}
		}
		sas := uint32(1)
		if i >= 6 {
			sas = 2 // a rekey's overlap, through the second minute
		}
		h.Record(t0.Add(time.Duration(i)*10*time.Second), map[string]Counters{"a": {Drops: d, Gauges: [3]uint32{GaugeIKESAs: 1, GaugeChildSAs: sas}}, "b": {Gauges: [3]uint32{GaugeIKESAs: 1}}})
	}
	if h.series["b"].drops != nil || len(h.series["a"].drops) != len(h.series["a"].samples) {
		t.Fatalf("drops kept: b %v, a %d for %d samples", h.series["b"].drops, len(h.series["a"].drops), len(h.series["a"].samples))
	}
	bs := h.Buckets("a", t0, t0.Add(2*time.Minute), time.Minute)
	// 0-60 s: drops from the sample at 30 s on, 5 per sample (at 30, 40,
	// 50 and 60 s); 60-120 s: the five samples up to 110 s, 25 more.
	if bs[0].Drops.Ingress != 20 || bs[0].Drops.IngressTS != 20 || bs[0].Drops.NAT != 1 || bs[1].Drops.Ingress != 25 || bs[1].Drops.NAT != 0 {
		t.Errorf("drops %+v, %+v", bs[0].Drops, bs[1].Drops)
	}
	if bs[0].Gauges[GaugeIKESAs] != 1 || bs[0].Gauges[GaugeChildSAs] != 1 || bs[1].Gauges[GaugeChildSAs] != 2 {
		t.Errorf("gauges %+v", bs)
	}
	q, err := Parse(map[string]string{"metricnames": "MmsaCount,TunnelIngressPacketDropTSMismatch", "timespan": "2026-11-29T20:00:00Z/2026-11-29T20:02:00Z", "interval": "PT1M"},
		GatewayMetrics, h.Every(), t0)
	if err != nil {
		t.Fatal(err)
	}
	q.Connections = map[string]string{"a": "conn-a", "b": "conn-b"}
	r := h.Answer(q)
	if mm := r.Value[0].Timeseries[0].Data; *mm[0].Total != 2 || *mm[1].Total != 2 {
		t.Errorf("MmsaCount of the gateway (two tunnels, one IKE SA each): %v %v", *mm[0].Total, *mm[1].Total)
	}
	if ts := r.Value[1].Timeseries[0].Data; *ts[0].Total != 20 || *ts[1].Total != 25 {
		t.Errorf("TunnelIngressPacketDropTSMismatch: %v %v", *ts[0].Total, *ts[1].Total)
	}
}

// A gateway's point-to-site metrics come from its own series, one per
// protocol, whatever its connections carried; P2SConnectionCount splits by
// Protocol when asked.
func TestP2SMetrics(t *testing.T) {
	h := history()
	gw := "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworkGateways/GW"
	if P2SSeries(gw, "SSTP") != strings.ToLower(gw)+"/p2s" {
		t.Errorf("SSTP's series is %q, not the id of histories saved before IKEv2", P2SSeries(gw, "SSTP"))
	}
	for i := range 6 {
		h.Record(t0.Add(time.Duration(i)*10*time.Second), map[string]Counters{
			P2SSeries(gw, "SSTP"):  {Ingress: uint64(600 * i), Egress: uint64(600 * i), Gauges: [3]uint32{GaugeClients: uint32(min(i, 2))}},
			P2SSeries(gw, "IKEv2"): {Ingress: uint64(60 * i), Egress: uint64(60 * i), Gauges: [3]uint32{GaugeClients: 3}},
		})
	}
	ask := func(names, filter string) Response {
		t.Helper()
		q, err := Parse(map[string]string{"metricnames": names, "timespan": "2026-11-29T20:00:00Z/2026-11-29T20:01:00Z", "interval": "PT1M",
			"$filter": filter}, GatewayMetrics, h.Every(), t0)
		if err != nil {
			t.Fatal(err)
		}
		q.Connections, q.P2S = map[string]string{"a": "conn-a"}, P2SSeriesOf(strings.ToLower(gw))
		return h.Answer(q)
	}
	r := ask("P2SConnectionCount,P2SBandwidth", "")
	// SSTP clients 0, 1, 2, 2, 2, 2 over the minute: 1.5 on the mean, and
	// IKEv2's 3; 6,000 + 600 bytes in the minute, 110 per second.
	if n := r.Value[0].Timeseries[0].Data[0].Total; n == nil || *n != 4.5 || len(r.Value[0].Timeseries[0].Metadata) != 0 {
		t.Errorf("P2SConnectionCount: %+v", r.Value[0].Timeseries)
	}
	if bw := r.Value[1].Timeseries[0].Data[0].Average; bw == nil || *bw != 110 {
		t.Errorf("P2SBandwidth: %+v", r.Value[1].Timeseries)
	}
	r = ask("P2SConnectionCount", "Protocol eq '*'")
	byProto := map[string]float64{}
	for _, ts := range r.Value[0].Timeseries {
		if len(ts.Metadata) == 1 && ts.Metadata[0].Name.Value == "Protocol" && ts.Data[0].Total != nil {
			byProto[ts.Metadata[0].Value] = *ts.Data[0].Total
		}
	}
	if byProto["SSTP"] != 1.5 || byProto["IKEv2"] != 3 || len(byProto) != 2 {
		t.Errorf("P2SConnectionCount by Protocol: %v", byProto)
	}
	if r = ask("P2SConnectionCount", "Protocol eq 'IKEv2'"); len(r.Value[0].Timeseries) != 1 || *r.Value[0].Timeseries[0].Data[0].Total != 3 {
		t.Errorf("P2SConnectionCount of IKEv2: %+v", r.Value[0].Timeseries)
	}
}

// A gateway's BGP metrics come from its sessions' series, split by the
// peer's address when asked.
func TestBGPMetrics(t *testing.T) {
	h := New(10*time.Second, time.Hour)
	gw := "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworkGateways/GW"
	p1, p2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i := range 6 {
		h.Record(t0.Add(time.Duration(i)*10*time.Second), map[string]Counters{
			BGPSeries(gw, 0, p1):       {Gauges: [3]uint32{GaugePeerUp: 1, GaugeRoutesLearned: 4, GaugeRoutesAdvertised: 1}},
			BGPSeries(gw, 1, p2):       {Gauges: [3]uint32{GaugePeerUp: uint32(i % 2), GaugeRoutesLearned: 2}},
			"/other/gw/bgp/0/10.0.0.9": {Gauges: [3]uint32{GaugePeerUp: 1}},
		})
	}
	ask := func(filter string) Response {
		q, err := Parse(map[string]string{"metricnames": "BgpPeerStatus,BgpRoutesLearned", "timespan": "2026-11-29T20:00:00Z/2026-11-29T20:01:00Z", "interval": "PT1M",
			"$filter": filter}, GatewayMetrics, h.Every(), t0)
		if err != nil {
			t.Fatal(err)
		}
		q.BGPPeers = h.BGPPeers(gw)
		return h.Answer(q)
	}
	r := ask("BgpPeerAddress eq '*'")
	if ts := r.Value[0].Timeseries; len(ts) != 2 || ts[0].Metadata[0].Value != "10.0.0.1" || *ts[0].Data[0].Average != 1 || *ts[1].Data[0].Average != 0.5 {
		b, _ := json.Marshal(r)
		t.Errorf("BgpPeerStatus by peer: %s", b)
	}
	if ts := ask("BgpPeerAddress eq '10.0.0.2'").Value[1].Timeseries; len(ts) != 1 || *ts[0].Data[0].Total != 2 {
		t.Errorf("BgpRoutesLearned of 10.0.0.2: %+v", ts)
	}
	if ts := ask("").Value[1].Timeseries; len(ts) != 1 || len(ts[0].Metadata) != 0 || *ts[0].Data[0].Total != 6 {
		t.Errorf("BgpRoutesLearned of the gateway: %+v", ts)
	}
}

// The peak rate is the highest between two samples; split by connection
// each has its own, the gateway's is the highest of them.
func TestPeakPackets(t *testing.T) {
	h := New(10*time.Second, time.Hour)
	var a, b uint64
	for i := range 6 {
		a += 100 * uint64(i) // 0, 10, ..., 50 per second
		b += 30
		h.Record(t0.Add(time.Duration(i)*10*time.Second), map[string]Counters{"a": {IngressPackets: a, EgressPackets: a}, "b": {IngressPackets: b}})
	}
	q, err := Parse(map[string]string{"metricnames": "TunnelPeakPackets", "timespan": "2026-11-29T20:00:00Z/2026-11-29T20:01:00Z", "interval": "PT1M",
		"$filter": "ConnectionName eq '*'"}, GatewayMetrics, h.Every(), t0)
	if err != nil {
		t.Fatal(err)
	}
	q.Connections = map[string]string{"a": "conn-a", "b": "conn-b"}
	ts := h.Answer(q).Value[0].Timeseries
	// a: 500 packets each way in the last 10 s; b: the first sample's 30
	// counted from zero at once (a tunnel seen first), 3 per second after.
	if len(ts) != 2 || ts[0].Data[0].Maximum == nil || *ts[0].Data[0].Maximum != 100 || *ts[1].Data[0].Maximum != 3 {
		t.Errorf("TunnelPeakPackets by connection: %+v %+v", ts[0].Data, ts[1].Data)
	}
	q.Split = ""
	if ts := h.Answer(q).Value[0].Timeseries; *ts[0].Data[0].Maximum != 100 {
		t.Errorf("TunnelPeakPackets of the gateway: %v", *ts[0].Data[0].Maximum)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, q := range []map[string]string{
		{"metricnames": "CpuUsage"},
		{"timespan": "yesterday"},
		{"timespan": "2026-11-29T20:02:00Z/2026-11-29T20:00:00Z"},
		{"interval": "PT1S"},
		{"interval": "1 minute"},
		{"interval": "PT"},
		{"$filter": "Instance eq '0'"},
		{"timespan": "2020-01-01T00:00:00Z/2026-01-01T00:00:00Z", "interval": "PT1M"},
	} {
		if _, err := Parse(q, GatewayMetrics, 10*time.Second, t0); err == nil {
			t.Errorf("%v accepted", q)
		}
	}
	q, err := Parse(map[string]string{}, ConnectionMetrics, 10*time.Second, t0)
	if err != nil || q.Metrics[0].Name != "BitsInPerSecond" || q.Interval != time.Minute || !q.To.Equal(t0) {
		t.Errorf("defaults: %+v, %v", q, err)
	}
}

// Old samples go: at most retention/every per connection, and a
// connection sampled no more ages out.
func TestRetention(t *testing.T) {
	h := New(time.Second, 5*time.Second)
	for i := range 20 {
		h.Record(t0.Add(time.Duration(i)*time.Second), map[string]Counters{"a": {Ingress: uint64(i)}})
	}
	if n := len(h.series["a"].samples); n != 5 {
		t.Errorf("%d samples kept, want 5", n)
	}
	h.Record(t0.Add(time.Minute), map[string]Counters{"b": {}})
	if _, ok := h.series["a"]; ok {
		t.Error("a connection no longer sampled kept its history")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("TunnelIngressBytes", "2026-11-29T20:00:00Z/2026-11-29T20:02:00Z", "PT1M", "ConnectionName eq '*'")
	f.Fuzz(func(t *testing.T, names, span, interval, filter string) {
		Parse(map[string]string{"metricnames": names, "timespan": span, "interval": interval, "$filter": filter}, GatewayMetrics, time.Second, t0)
	})
}

// FuzzAnswer fuzzes every parameter of a metrics request (metricnames,
// aggregation, timespan, interval, $filter, top, orderby), of a gateway or
// of a connection, and answers what parses from a history of two
// connections, a BGP peer and a point-to-site series: no panic, and an
// answer of each metric asked, with no more than top series when split,
// and no more points in a series than the 10,000 (and the one the
// timespan's start truncated to the interval adds) Parse allows.
func FuzzAnswer(f *testing.F) {
	f.Add(false, "TunnelIngressBytes,tunnelaveragebandwidth", "Total,Average", "2026-11-29T20:00:00Z/2026-11-29T20:02:00Z", "PT1M", "ConnectionName eq '*'", "1", "")
	f.Add(false, "TunnelEgressBytes", "", "2026-11-29T20:00:00Z/2026-11-29T20:02:00Z", "PT1M", "ConnectionName eq 'conn-b'", "3", "sum asc")
	f.Add(false, "BgpPeerStatus", "", "PT2M", "FULL", "BgpPeerAddress eq '10.0.0.1'", "10", "average desc")
	f.Add(false, "P2SConnectionCount", "total", "2026-11-29T20:00:00/PT2M", "PT10S", "Protocol eq 'IKEv2'", "", "")
	f.Add(true, "BitsInPerSecond,BitsOutPerSecond", "Average", "PT1H/2026-11-29T20:02:00Z", "PT30S", "", "0", "maximum")
	h := history()
	h.Record(t0.Add(2*time.Minute), map[string]Counters{"a": {Ingress: 1}, "bgp": {Gauges: [3]uint32{GaugePeerUp: 1}}, "p2s": {Gauges: [3]uint32{GaugeClients: 2}}})
	f.Fuzz(func(t *testing.T, connection bool, names, aggregation, span, interval, filter, top, orderby string) {
		available := GatewayMetrics
		if connection {
			available = ConnectionMetrics
		}
		q, err := Parse(map[string]string{"metricnames": names, "aggregation": aggregation, "timespan": span, "interval": interval,
			"$filter": filter, "top": top, "orderby": orderby}, available, h.Every(), t0.Add(3*time.Minute))
		if err != nil {
			var bad *ErrBadRequest
			if !errors.As(err, &bad) {
				t.Fatalf("error %v is not an ErrBadRequest", err)
			}
			return
		}
		q.Connections = map[string]string{"a": "conn-a", "b": "conn-b"}
		q.BGPPeers = map[string]string{"bgp": "10.0.0.1"}
		q.P2S = map[string]string{"p2s": "IKEv2"}
		r := h.Answer(q)
		if len(r.Value) != len(q.Metrics) || len(q.Metrics) == 0 {
			t.Fatalf("%d metrics asked, %d answered", len(q.Metrics), len(r.Value))
		}
		for _, m := range r.Value {
			if q.Split != "" && len(m.Timeseries) > q.Top {
				t.Fatalf("%s: %d series, top %d", m.Name.Value, len(m.Timeseries), q.Top)
			}
			for _, ts := range m.Timeseries {
				if len(ts.Data) > 10001 {
					t.Fatalf("%s: %d points", m.Name.Value, len(ts.Data))
				}
			}
		}
	})
}

// What Save wrote, Load reads back: the buckets up to the last sample
// saved are as they were, and the counters that start again from zero after it
// count from zero (the restart is a sample of zeros).
func TestSaveLoad(t *testing.T) {
	h := history()
	h.Record(t0.Add(2*time.Minute), map[string]Counters{"a": {Ingress: 7000, Drops: Drops{Ingress: 3}, Gauges: [3]uint32{GaugeIKESAs: 1}}})
	var buf bytes.Buffer
	if err := h.Save(&buf); err != nil {
		t.Fatal(err)
	}
	restart := t0.Add(150 * time.Second)
	g := New(10*time.Second, time.Hour)
	if err := g.Load(bytes.NewReader(buf.Bytes()), restart); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		// Told, which only a bucket under way needs, runs on to the
		// restart: the samples tell that nothing more was counted.
		told := func(bs []Bucket) []Bucket {
			for i := range bs {
				bs[i].Told = time.Time{}
			}
			return bs
		}
		if want, got := told(h.Buckets(id, t0, t0.Add(2*time.Minute), 30*time.Second)), told(g.Buckets(id, t0, t0.Add(2*time.Minute), 30*time.Second)); !slices.Equal(want, got) {
			t.Errorf("%s: buckets %+v after the load, %+v before", id, got, want)
		}
	}
	// After the restart a's tunnel has carried 500 bytes: not 500 less
	// than before it. The 1,000 of the sample at 2 minutes are the
	// minute's before.
	g.Record(restart.Add(10*time.Second), map[string]Counters{"a": {Ingress: 500}})
	if bs := g.Buckets("a", t0.Add(time.Minute), t0.Add(3*time.Minute), time.Minute); bs[0].Ingress != 5000+7000-6000 || bs[1].Ingress != 500 {
		t.Errorf("the minutes before and of the restart: %d and %d bytes in, want %d and 500", bs[0].Ingress, bs[1].Ingress, 5000+7000-6000)
	}
	// A history kept for less keeps the newest samples.
	short := New(10*time.Second, time.Minute)
	if err := short.Load(bytes.NewReader(buf.Bytes()), restart); err != nil || len(short.series["a"].samples) != 6 || short.series["a"].samples[4].ingress != 7000 {
		t.Errorf("a six-sample history loaded %v: %+v", err, short.series["a"])
	}
	for _, n := range []int{0, 10, len(fileMagic) + 3, buf.Len() - 1} {
		if err := New(time.Second, time.Hour).Load(bytes.NewReader(buf.Bytes()[:n]), restart); err == nil {
			t.Errorf("a file cut at %d bytes loaded", n)
		}
	}
}

// TestSaveLoadConnectionsOf: the gateway and name a connection's series
// was recorded with are saved and read back, so that the gateway's
// metrics count it after a restart, deleted or not; a history of
// version 2, which had neither, is still read, its series of no gateway.
func TestSaveLoadConnectionsOf(t *testing.T) {
	h := New(10*time.Second, time.Hour)
	for i := range 3 {
		h.Record(t0.Add(time.Duration(i)*10*time.Second), map[string]Counters{
			"/gw/connections/gone": {Ingress: uint64(1000 * (i + 1)), Gateway: "/GW", Name: "Gone"},
			"/gw/p2s":              {Ingress: uint64(10 * (i + 1))},
		})
	}
	want := map[string]string{"/gw/connections/gone": "Gone"}
	if got := h.ConnectionsOf("/gw"); !maps.Equal(got, want) {
		t.Errorf("recorded: connections of /gw %v, want %v", got, want)
	}
	var buf bytes.Buffer
	if err := h.Save(&buf); err != nil {
		t.Fatal(err)
	}
	g := New(10*time.Second, time.Hour)
	if err := g.Load(bytes.NewReader(buf.Bytes()), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := g.ConnectionsOf("/Gw"); !maps.Equal(got, want) {
		t.Errorf("loaded: connections of /gw %v, want %v", got, want)
	}
	// Version 2: the series as it wrote it (id, samples, flags), two
	// samples of 1,000 and 3,000 bytes in.
	old := []byte(fileMagic2 + "\x14\x00/gw/connections/gone\x02\x00\x00\x00\x00")
	for i, in := range []uint64{1000, 3000} {
		old = sample{ingress: in, t: uint32(t0.Unix()) + uint32(10*i)}.put(old)
	}
	v2 := New(10*time.Second, time.Hour)
	if err := v2.Load(bytes.NewReader(old), t0.Add(time.Minute)); err != nil {
		t.Fatalf("a version 2 history: %v", err)
	}
	if bs := v2.Buckets("/gw/connections/gone", t0, t0.Add(time.Minute), time.Minute); bs[0].Ingress != 2000 || len(v2.ConnectionsOf("/gw")) != 0 {
		t.Errorf("a version 2 history: %d bytes in, want 2000; connections of /gw %v, want none", bs[0].Ingress, v2.ConnectionsOf("/gw"))
	}
}

func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	history().Save(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(fileMagic + "\x01\x00a\x00\x00\x00\x00\xff\xff\xff\xff\x01"))
	f.Add([]byte(fileMagic2 + "\x01\x00a\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := New(time.Second, time.Hour)
		h.Load(bytes.NewReader(b), t0)
		h.Buckets("a", t0.Add(-time.Hour), t0, time.Minute)
	})
}

// TestRestartsKeepNoGoneSeries: a series no longer recorded (its
// connection was deleted) goes after the retention, also on a node that
// restarts more often than that (each restart's sample of zeros does not
// keep it); a live one stays, with one restart sample per restart.
func TestRestartsKeepNoGoneSeries(t *testing.T) {
	h := New(time.Minute, 6*time.Hour)
	h.Record(t0, map[string]Counters{"deleted": {Ingress: 1}, "live": {Ingress: 1}})
	now := t0
	for range 5 {
		now = now.Add(5 * time.Hour) // a restart every 5 hours
		var buf bytes.Buffer
		if err := h.Save(&buf); err != nil {
			t.Fatal(err)
		}
		h = New(time.Minute, 6*time.Hour)
		if err := h.Load(&buf, now); err != nil {
			t.Fatal(err)
		}
		h.Record(now.Add(time.Minute), map[string]Counters{"live": {Ingress: 2}})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.series["deleted"]; s != nil {
		t.Errorf("a series last recorded %s ago (retention 6h) is still held, with %d samples", now.Sub(t0), len(s.samples))
	}
	// The first sample's zeros and its own, then per restart its zeros
	// and the one after it.
	if s := h.series["live"]; s == nil || len(s.samples) != 2+5*2 {
		t.Errorf("the live series: %+v", s)
	}
}

// BenchmarkBuckets: one series of six hours at one sample a second,
// asked for in 10,000 buckets (the most a query may ask for).
func BenchmarkBuckets(b *testing.B) {
	h := New(time.Second, 6*time.Hour)
	for i := range 21600 {
		h.Record(t0.Add(time.Duration(i)*time.Second), map[string]Counters{"c": {Ingress: uint64(i)}})
	}
	for b.Loop() {
		h.Buckets("c", t0, t0.Add(6*time.Hour), 6*time.Hour/10000)
	}
}

// TestBGPPeerStatusOfInstances: both instances of an active-active
// gateway peer with one peer: BgpPeerStatus is 1 while both sessions are
// up, a half while one is, not their sum.
func TestBGPPeerStatusOfInstances(t *testing.T) {
	h := New(time.Minute, 6*time.Hour)
	gw := "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworkgateways/gw"
	peer := netip.MustParseAddr("10.0.0.1")
	for i := range 5 {
		second := uint32(1)
		if i >= 3 {
			second = 0 // the second instance's session went down
		}
		h.Record(t0.Add(time.Duration(i)*time.Minute), map[string]Counters{
			BGPSeries(gw, 0, peer): {Gauges: [3]uint32{GaugePeerUp: 1}},
			BGPSeries(gw, 1, peer): {Gauges: [3]uint32{GaugePeerUp: second}},
		})
	}
	q, err := Parse(map[string]string{"metricnames": "BgpPeerStatus", "$filter": "BgpPeerAddress eq '10.0.0.1'",
		"timespan": t0.Add(time.Minute).Format(time.RFC3339) + "/" + t0.Add(5*time.Minute).Format(time.RFC3339)}, GatewayMetrics, time.Minute, t0)
	if err != nil {
		t.Fatal(err)
	}
	q.BGPPeers = h.BGPPeers(gw)
	var got []float64
	for _, p := range h.Answer(q).Value[0].Timeseries[0].Data {
		if p.Average != nil {
			got = append(got, *p.Average)
		}
	}
	if !slices.Equal(got, []float64{1, 1, 0.5, 0.5}) {
		t.Errorf("BgpPeerStatus by minute %v, want 1, 1, 0.5, 0.5", got)
	}
}

// A rate is over the time its bucket holds: the bucket under way (PT1H
// asked two minutes into the hour) over the time its samples told of, one
// cut at the timespan's end over that time, not the whole interval;
// traffic after the timespan's end is not counted in it.
func TestRatesOverTheBucketsTime(t *testing.T) {
	h := history()
	ask := func(params map[string]string, now time.Time) Response {
		t.Helper()
		params["metricnames"] = "TunnelIngressBytes,AverageBandwidth"
		q, err := Parse(params, GatewayMetrics, h.Every(), now)
		if err != nil {
			t.Fatal(err)
		}
		q.Connections = map[string]string{"a": "conn-a", "b": "conn-b"}
		return h.Answer(q)
	}
	last := func(r Response, i int) float64 {
		t.Helper()
		d := r.Value[i].Timeseries[0].Data
		p := d[len(d)-1]
		switch {
		case p.Total != nil:
			return *p.Total
		case p.Average != nil:
			return *p.Average
		}
		t.Fatalf("no value in the last point of %s: %+v", r.Value[i].Name.Value, d)
		return 0
	}
	// Two minutes into the hour: 11,000 + 1,100 bytes of a, 110 of b
	// (the samples at 10 to 110 s; the first's, counted from zero, came
	// before the hour), over the 110 s they tell of.
	r := ask(map[string]string{"interval": "PT1H"}, t0.Add(2*time.Minute))
	if in, bw := last(r, 0), last(r, 1); in != 11110 || bw != (11000+1100+110)/110.0 {
		t.Errorf("the hour under way, two minutes in: TunnelIngressBytes %v, AverageBandwidth %v, want 11110 and %v", in, bw, (11000+1100+110)/110.0)
	}
	// The first 30 s asked for, in a bucket of a minute: the samples at
	// 10, 20 and 30 s.
	r = ask(map[string]string{"timespan": "2026-11-29T20:00:00Z/2026-11-29T20:00:30Z", "interval": "PT1M"}, t0.Add(time.Hour))
	if in, bw := last(r, 0), last(r, 1); in != 3030 || bw != (3000+300+30)/30.0 {
		t.Errorf("a timespan of 30 s: TunnelIngressBytes %v, AverageBandwidth %v, want 3030 and %v", in, bw, (3000+300+30)/30.0)
	}
}

// TestTrafficInItsMinute: pings at 17:18:18 are in the 17:18 bucket of
// TunnelIngressBytes, whose timestamp is the start of the minute its
// traffic happened in (Azure Monitor's PT1M). They showed in the 17:19
// bucket: a sample was credited to the bucket it was taken in, and the
// server sampled a minute after it started, not on the minute. Sampled on
// the minute, the minute's traffic is its bucket's; sampled off it (a
// history saved so), it is split in proportion to the time.
func TestTrafficInItsMinute(t *testing.T) {
	start := time.Date(2026, 12, 2, 17, 15, 0, 0, time.UTC)
	ping := start.Add(3*time.Minute + 18*time.Second) // 17:18:18
	for _, tc := range []struct {
		name   string
		offset time.Duration // of the samples from the minute
		want   []uint64      // bytes of the minutes 17:17, 17:18, 17:19
	}{
		{"on the minute", 0, []uint64{0, 600, 0}},
		{"10 s after the minute", 10 * time.Second, []uint64{0, 500, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(time.Minute, time.Hour)
			var in uint64
			for at := start.Add(tc.offset); at.Before(start.Add(6 * time.Minute)); at = at.Add(time.Minute) {
				if at.After(ping) && in == 0 {
					in = 600 // the pings, counted by the next sample
				}
				h.Record(at, map[string]Counters{"a": {Ingress: in}})
			}
			q, err := Parse(map[string]string{"metricnames": "TunnelIngressBytes", "interval": "PT1M",
				"timespan": "2026-12-02T17:17:00Z/2026-12-02T17:20:00Z"}, GatewayMetrics, h.Every(), start.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			q.Connections = map[string]string{"a": "conn-a"}
			var got []uint64
			for _, p := range h.Answer(q).Value[0].Timeseries[0].Data {
				if p.Total == nil {
					t.Fatalf("no total at %s", p.TimeStamp)
				}
				got = append(got, uint64(*p.Total))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("TunnelIngressBytes of 17:17, 17:18, 17:19: %v, want %v", got, tc.want)
			}
		})
	}
}

// The server samples on the interval's boundaries, where a query's
// buckets begin: the next one after any moment, never that moment again.
func TestNextOnTheBoundary(t *testing.T) {
	at := time.Date(2026, 12, 2, 17, 18, 18, 500e6, time.UTC)
	for _, tc := range []struct {
		every    time.Duration
		now      time.Time
		wantNext time.Time
	}{
		{time.Minute, at, time.Date(2026, 12, 2, 17, 19, 0, 0, time.UTC)},
		{time.Minute, time.Date(2026, 12, 2, 17, 19, 0, 0, time.UTC), time.Date(2026, 12, 2, 17, 20, 0, 0, time.UTC)},
		{10 * time.Second, at, time.Date(2026, 12, 2, 17, 18, 20, 0, time.UTC)},
		{time.Hour, at, time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)},
	} {
		if got := New(tc.every, 6*time.Hour).Next(tc.now); !got.Equal(tc.wantNext) {
			t.Errorf("every %v, at %v: next sample at %v, want %v", tc.every, tc.now, got, tc.wantNext)
		}
	}
}

// TestBucketUnderWay: the minute under way has no traffic to show before
// its sample, taken at its end: its point is empty, not 0. A longer
// bucket under way has the rate of the time its samples told of.
func TestBucketUnderWay(t *testing.T) {
	start := time.Date(2026, 12, 2, 17, 15, 0, 0, time.UTC)
	h := New(time.Minute, time.Hour)
	for i := range 8 { // 17:15 to 17:22, 6,000 bytes a minute
		h.Record(start.Add(time.Duration(i)*time.Minute), map[string]Counters{"a": {Ingress: uint64(6000 * i), Gauges: [3]uint32{GaugeIKESAs: 1}}})
	}
	ask := func(interval string, now time.Time) []Point {
		t.Helper()
		q, err := Parse(map[string]string{"metricnames": "TunnelAverageBandwidth", "interval": interval, "$filter": "ConnectionName eq '*'"}, GatewayMetrics, h.Every(), now)
		if err != nil {
			t.Fatal(err)
		}
		q.Connections = map[string]string{"a": "conn-a"}
		return h.Answer(q).Value[0].Timeseries[0].Data
	}
	d := ask("PT1M", start.Add(7*time.Minute+30*time.Second)) // 17:22:30
	if last, before := d[len(d)-1], d[len(d)-2]; last.TimeStamp != "2026-12-02T17:22:00Z" || last.Average != nil || before.Average == nil || *before.Average != 100 {
		t.Errorf("at 17:22:30, 17:21 and 17:22: %+v %+v, want 100 bytes a second and nothing yet", before, last)
	}
	d = ask("PT5M", start.Add(7*time.Minute+30*time.Second))
	if last := d[len(d)-1]; last.TimeStamp != "2026-12-02T17:20:00Z" || last.Average == nil || *last.Average != 100 {
		t.Errorf("at 17:22:30, 17:20 in 5 minutes: %+v, want 100 bytes a second (of 17:20 to 17:22)", last)
	}
}
