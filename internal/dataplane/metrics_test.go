package dataplane

import (
	"strings"
	"testing"
)

// Label values are escaped as the Prometheus text format wants: an id
// with a quote, a backslash or a newline cannot break the line.
func TestMetricLabelsEscaped(t *testing.T) {
	m := metrics{}
	m.add("vnetgw_vnet_forwarded_packets_total", 7, "vnet", "a\"b\\c\nd")
	m.add("vnetgw_p2s_connections", 0)
	if got, want := m["vnetgw_vnet_forwarded_packets_total"][0], `vnetgw_vnet_forwarded_packets_total{vnet="a\"b\\c\nd"} 7`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := m["vnetgw_p2s_connections"][0]; got != "vnetgw_p2s_connections 0" {
		t.Errorf("without labels: %s", got)
	}
	var b strings.Builder
	if err := (&Engine{}).WriteMetrics(&b); err != nil || b.Len() != 0 {
		t.Errorf("an engine that runs nothing wrote %q, %v", b.String(), err)
	}
}

// A gateway's instance is labelled gateway_instance: Prometheus attaches
// its own instance and job labels to what it scrapes, and renames labels
// of those names in the data to exported_instance and exported_job.
func TestMetricLabelsLeaveTargetLabels(t *testing.T) {
	e := &Engine{gateways: map[string]*gw{"gw|1": {cfg: Gateway{ID: "gw", Instance: 1, Connections: []Connection{{ID: "c"}, {ID: "c", Tunnel: "0"}}}}}}
	var b strings.Builder
	if err := e.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`vnetgw_tunnel_up{connection="c",gateway="gw",gateway_instance="1"} 0`, `vnetgw_tunnel_up{connection="c",gateway="gw",gateway_instance="1",standby="0"} 0`} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("no %s in:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), ",instance=") || strings.Contains(b.String(), "job=") {
		t.Errorf("a label Prometheus renames:\n%s", b.String())
	}
}

// The answers of RADIUS servers dropped (another request's Identifier,
// not verified) are counted where a gateway runs.
func TestMetricRadiusDrops(t *testing.T) {
	e := &Engine{gateways: map[string]*gw{"gw|0": {cfg: Gateway{ID: "gw"}}}}
	var b strings.Builder
	if err := e.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`vnetgw_radius_dropped_answers_total{reason="wrong_id"} `, `vnetgw_radius_dropped_answers_total{reason="unverified"} `} {
		if !strings.Contains(b.String(), "\n"+want) {
			t.Errorf("no %s in:\n%s", want, b.String())
		}
	}
}
