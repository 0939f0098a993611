package api

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// reportLatency reports the median and 99th percentile of the samples.
func reportLatency(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "µs-p50")
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "µs-p99")
}

// BenchmarkGatewayPUT creates gateways, each in its own VNet, over HTTP on
// a real bbolt file (fsynced): the time from request to durable,
// validated, answered gateway.
func BenchmarkGatewayPUT(b *testing.B) {
	e := newEnv(b, envOptions{pool: "127.0.0.0/8"})
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		v := netPath(subA, "rg", "virtualNetworks", fmt.Sprint("v", i))
		e.must("PUT", v, vnet(loc, []string{"10.0.0.0/16"}, subnet("GatewaySubnet", "10.0.255.0/27")))
		pip := netPath(subA, "rg", "publicIPAddresses", fmt.Sprint("p", i))
		e.must("PUT", pip, publicIP(loc, "Dynamic"))
		body := gateway(loc, v+"/subnets/GatewaySubnet", pip, "RouteBased", "VpnGw1")
		b.StartTimer()
		start := time.Now()
		e.must("PUT", netPath(subA, "rg", "virtualNetworkGateways", fmt.Sprint("g", i)), body)
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, samples)
}

// BenchmarkConnectionPUT creates site-to-site connections on one gateway
// (a VpnGw5, up to its 100 tunnels, then a fresh gateway).
func BenchmarkConnectionPUT(b *testing.B) {
	e := newEnv(b, envOptions{pool: "127.0.0.0/8"})
	var samples []time.Duration
	var s site
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if i%100 == 0 {
			s = e.site(subA, fmt.Sprint("rg", i), loc, "10.1.0.0/16", "RouteBased", "VpnGw5")
		}
		l := e.lng(s, fmt.Sprint("l", i), fmt.Sprintf("203.0.113.%d", i%100+1), fmt.Sprintf("172.%d.%d.0/24", 16+i/256%16, i%256))
		body := s2s(loc, s.gw, l)
		b.StartTimer()
		start := time.Now()
		e.must("PUT", netPath(s.sub, s.rg, "connections", fmt.Sprint("c", i)), body)
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, samples)
}
