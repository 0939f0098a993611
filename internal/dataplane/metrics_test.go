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
