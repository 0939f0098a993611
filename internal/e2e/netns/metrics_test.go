package netns

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/insights"
)

// metric returns the value of the sample of name whose labels include
// every label="value" pair given, from a scrape; ok is false without one.
func metric(scrape, name string, labels ...string) (v uint64, ok bool) {
	for line := range strings.Lines(scrape) {
		rest, found := strings.CutPrefix(strings.TrimSpace(line), name+"{")
		if !found {
			continue
		}
		set, value, found := strings.Cut(rest, "} ")
		if !found {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && strings.Contains(","+set+",", ","+labels[i]+`="`+labels[i+1]+`",`)
		}
		if match {
			n, err := strconv.ParseUint(value, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// metric scrapes the region (vnetgw metrics) and returns one sample's
// value; ok is false without the sample.
func (r *region) metric(name string, labels ...string) (v uint64, ok bool) {
	r.t.Helper()
	scrape, err := r.cli("metrics")
	if err != nil {
		r.t.Fatalf("vnetgw metrics: %v\n%s", err, scrape)
	}
	return metric(scrape, name, labels...)
}

// TestMetrics: what Prometheus scrapes (GET /metrics, `vnetgw metrics`)
// follows what a tunnel to strongSwan carries, and counts what the
// gateway and the VNet drop: ESP for an SPI no SA has, and a packet from
// the VNet to where nothing routes (R43).
func TestMetrics(t *testing.T) {
	require(t)
	e := newS2S(t)
	e.up(t)
	ping(t, e.host, e.site.host, 10*time.Second)
	ping(t, e.site.lan, e.hostAddr, 10*time.Second)
	// Nothing routes 203.0.113.9 from the VNet (no forced tunneling): the
	// VNet's router drops it, inside the test's namespaces.
	e.host.Try("ping", "-c", "1", "-W", "1", "203.0.113.9")
	// ESP in UDP (RFC 3948: a non-zero first word is an SPI) for an SPI
	// the gateway has no SA for, from the site's namespace.
	// And a datagram to the IKE port that is no IKE message.
	for port, b := range map[string][]byte{
		"4500": {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		"500":  []byte("not an IKE message, not at all"),
	} {
		if err := e.site.gw.Do(func() error {
			c, err := net.Dial("udp", net.JoinHostPort(e.gwAddr.String(), port))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write(b)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}

	conn, gw := strings.ToLower(e.conn.String()), strings.ToLower(e.gw.String())
	vnet := strings.ToLower(arm.NetworkID(sub, "s2s", "virtualNetworks", "hub").String()) // newS2SParts's
	var c arm.Connection
	e.r.get(e.conn, &c)

	var scrape string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := e.r.cli("metrics")
		if err != nil {
			t.Fatalf("vnetgw metrics: %v\n%s", err, out)
		}
		scrape = out
		spi, _ := metric(scrape, "vnetgw_gateway_dropped_packets_total", "gateway", gw, "reason", "unknown_spi")
		noRoute, _ := metric(scrape, "vnetgw_vnet_dropped_packets_total", "vnet", vnet, "reason", "no_route")
		malformed, _ := metric(scrape, "vnetgw_ike_dropped_messages_total", "gateway", gw, "version", "2", "reason", "malformed")
		if spi >= 1 && noRoute >= 1 && malformed >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the scrape counts %d ESP packets for an unknown SPI, %d packets without a route, %d malformed IKE messages:\n%s",
				spi, noRoute, malformed, scrape)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, f := range []string{"vnetgw_tunnel_up", "vnetgw_tunnel_ingress_bytes_total", "vnetgw_gateway_dropped_packets_total"} {
		if !strings.Contains(scrape, "# TYPE "+f+" ") {
			t.Errorf("the scrape has no TYPE line for %s", f)
		}
	}
	if up, ok := metric(scrape, "vnetgw_tunnel_up", "connection", conn, "gateway_instance", "0"); !ok || up != 1 {
		t.Errorf("vnetgw_tunnel_up of the Connected connection: %d (found %v)", up, ok)
	}
	if n, ok := metric(scrape, "vnetgw_ike_sas", "gateway", gw); !ok || n != 1 {
		t.Errorf("vnetgw_ike_sas with one tunnel up: %d (found %v)", n, ok)
	}
	// The tunnel carried pings both ways; its liveness checks, if any,
	// are counted for each IKE version.
	for _, v := range []string{"1", "2"} {
		if _, ok := metric(scrape, "vnetgw_ike_liveness_checks_total", "gateway", gw, "version", v); !ok {
			t.Errorf("no vnetgw_ike_liveness_checks_total for IKE version %s", v)
		}
	}
	// The scrape came after the status the API read: the same counters,
	// as high or higher.
	for _, m := range []struct {
		name string
		api  int64
	}{{"vnetgw_tunnel_ingress_bytes_total", c.Properties.IngressBytesTransferred}, {"vnetgw_tunnel_egress_bytes_total", c.Properties.EgressBytesTransferred}} {
		if n, ok := metric(scrape, m.name, "connection", conn); !ok || n == 0 || int64(n) < m.api {
			t.Errorf("%s = %d (found %v); the API said %d before", m.name, n, ok, m.api)
		}
	}
	for _, name := range []string{"vnetgw_tunnel_ingress_packets_total", "vnetgw_tunnel_egress_packets_total"} {
		if n, _ := metric(scrape, name, "connection", conn); n < 2 {
			t.Errorf("%s = %d after pings both ways", name, n)
		}
	}
	for _, reason := range []string{"replay", "integrity"} {
		if n, ok := metric(scrape, "vnetgw_tunnel_dropped_packets_total", "connection", conn, "reason", reason); !ok || n != 0 {
			t.Errorf("ESP refused by the tunnel's SA as %s: %d (found %v), want 0", reason, n, ok)
		}
	}
	t.Logf("scrape:\n%s", scrape)
}

// monitor answers an Azure Monitor metrics query on resource, as `vnetgw
// monitor metrics list` does.
func (r *region) monitor(resource string, args ...string) insights.Response {
	r.t.Helper()
	text, err := r.cli(append([]string{"monitor", "metrics", "list", "--resource", resource, "-o", "json"}, args...)...)
	if err != nil {
		r.t.Fatalf("monitor metrics list: %v\n%s", err, text)
	}
	var out insights.Response
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		r.t.Fatalf("%v:\n%s", err, text)
	}
	return out
}

// sum returns the sum of a metric's totals and of its averages, over its
// series and times; peak returns its largest total or maximum.
func sum(m insights.MetricResult) (total, avg float64) {
	for _, ts := range m.Timeseries {
		for _, p := range ts.Data {
			if p.Total != nil {
				total += *p.Total
			}
			if p.Average != nil {
				avg += *p.Average
			}
		}
	}
	return total, avg
}

// latest returns the value of a series' last point that has one.
func latest(ts insights.TimeSeries) float64 {
	for _, p := range slices.Backward(ts.Data) {
		switch {
		case p.Total != nil:
			return *p.Total
		case p.Average != nil:
			return *p.Average
		}
	}
	return -1
}

func peak(m insights.MetricResult) (top float64) {
	for _, ts := range m.Timeseries {
		for _, p := range ts.Data {
			for _, v := range []*float64{p.Total, p.Maximum} {
				if v != nil {
					top = max(top, *v)
				}
			}
		}
	}
	return top
}

// TestMonitorMetrics: Azure Monitor's metrics API (az monitor metrics
// list) over what a tunnel to strongSwan carried, from the samples serve
// took every second: the gateway's tunnel bytes, by connection, hold the
// pings' bytes each way; its security associations are one of each; the
// connection's bit rates are not zero; the
// metric definitions name the gateway's metrics; a metric the gateway has
// not is refused by name.
func TestMonitorMetrics(t *testing.T) {
	require(t)
	e := newS2SParts(t, "--metrics-interval", "1s")
	e.site.charon(e.gwAddr, s2sKey, e.site.lanTS, "10.1.0.0/16")
	e.put = time.Now()
	e.conn = e.r.connection(e.gw, e.lgw, "hub-to-branch", s2sKey)
	e.up(t)
	ping(t, e.host, e.site.host, 10*time.Second)
	e.host.Run("ping", "-c", "5", "-i", "0.2", "-s", "1000", e.site.host.String())
	time.Sleep(2500 * time.Millisecond) // two samples after the pings

	var out insights.Response
	list := func(resource string, args ...string) { out = e.r.monitor(resource, args...) }
	list(e.gw.String(), "--metric", "TunnelIngressBytes,TunnelEgressBytes,TunnelIngressPackets,TunnelPeakPackets", "--interval", "PT1S", "--filter", "ConnectionName eq '*'")
	if len(out.Value) != 4 || len(out.Value[0].Timeseries) != 1 || out.Value[0].Timeseries[0].Metadata[0].Value != "hub-to-branch" {
		t.Fatalf("the gateway's tunnel bytes by connection: %+v", out)
	}
	in, _ := sum(out.Value[0])
	egress, _ := sum(out.Value[1])
	if in < 5*1028 || egress < 5*1028 {
		t.Errorf("the tunnel carried %.0f bytes in and %.0f out; the pings alone were %d each way", in, egress, 5*1028)
	}
	if packets, _ := sum(out.Value[2]); packets < 5 {
		t.Errorf("TunnelIngressPackets %.0f; the pings alone were 5", packets)
	}
	if pps := peak(out.Value[3]); pps < 2 { // a ping and its answer each 0.2 s
		t.Errorf("TunnelPeakPackets %.1f while pings went every 0.2 s", pps)
	}
	t.Logf("TunnelIngressBytes %.0f, TunnelEgressBytes %.0f over the last hour, at 1 s", in, egress)

	// The tunnel's security associations, in the last 2 s: one IKE SA
	// (MMSA), one child SA pair (QMSA); no drops.
	list(e.gw.String(), "--metric", "MmsaCount,QmsaCount,TunnelIngressPacketDropCount,TunnelEgressPacketDropTSMismatch", "--interval", "PT1S", "--filter", "ConnectionName eq '*'",
		"--start-time", time.Now().Add(-3*time.Second).UTC().Format(time.RFC3339), "--end-time", time.Now().Add(-time.Second).UTC().Format(time.RFC3339))
	for i, want := range []float64{1, 1} {
		for _, p := range out.Value[i].Timeseries[0].Data {
			if p.Total != nil && *p.Total != want {
				t.Errorf("%s %v at %s, want %v", out.Value[i].Name.Value, *p.Total, p.TimeStamp, want)
			}
		}
	}
	for _, m := range out.Value[2:] {
		if total, _ := sum(m); total != 0 {
			t.Errorf("%s: %v", m.Name.Value, total)
		}
	}

	if text, err := e.r.cli("monitor", "metrics", "list", "--resource", e.gw.String(), "--metric", "TunnelIngressBytes", "--filter", "ConnectionName eq '*'", "-o", "table"); err != nil ||
		!strings.Contains(text, "TunnelIngressBytes  hub-to-branch") || !strings.Contains(text, "\n---------  ") {
		t.Errorf("the table: %v\n%s", err, text)
	}
	list(e.conn.String(), "--metric", "BitsInPerSecond")
	if _, avg := sum(out.Value[0]); avg <= 0 || out.Value[0].Unit != "BitsPerSecond" {
		t.Errorf("the connection's BitsInPerSecond: %+v", out.Value)
	}
	var defs arm.List[insights.Definition]
	if _, err := e.r.c.Do(t.Context(), "GET", e.gw.String()+"/providers/Microsoft.Insights/metricDefinitions", nil, &defs); err != nil || len(defs.Value) != len(insights.GatewayMetrics) {
		t.Errorf("metricDefinitions: %v %+v", err, defs)
	}
	if text, err := e.r.cli("monitor", "metrics", "list", "--resource", e.gw.String(), "--metric", "CpuUsage"); err == nil || !strings.Contains(text, "TunnelIngressBytes") {
		t.Errorf("an unknown metric: %v\n%s", err, text)
	}
}

// clientsByProtocol returns Azure Monitor's P2SConnectionCount of gateway
// gw over the last hour, by Protocol: the most clients at once.
func (r *region) clientsByProtocol(gw arm.ID) map[string]float64 {
	r.t.Helper()
	m := r.monitor(gw.String(), "--metric", "P2SConnectionCount", "--interval", "PT1S", "--filter", "Protocol eq '*'")
	byProto := map[string]float64{}
	for _, ts := range m.Value[0].Timeseries {
		if len(ts.Metadata) == 1 {
			byProto[ts.Metadata[0].Value] = peak(insights.MetricResult{Timeseries: []insights.TimeSeries{ts}})
		}
	}
	return byProto
}
