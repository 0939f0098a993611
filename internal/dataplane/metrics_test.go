package dataplane

import (
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/tunnel"
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

// TestUDPTransportMetrics: what a gateway's UDP ports take and drop
// before the IKE daemon or the tunnels see it is in the metrics, per
// gateway instance: a NAT-keepalive (RFC 3948 §2.3) and an empty datagram
// on the NAT-T port.
func TestUDPTransportMetrics(t *testing.T) {
	const ike, natt = 18860, 18861
	public := netip.MustParseAddr("127.110.0.1")
	e := New(Options{IKEPort: ike, NATTPort: natt})
	defer e.Close()
	cfg := Config{VNets: []VNet{{ID: "v", Prefixes: prefixes("10.1.0.0/16")}},
		Gateways: []Gateway{{ID: "gw", VNet: "v", PublicAddr: public}}}
	if g := reconfigGateway(t, e, cfg); g == nil || g.gw == nil {
		t.Fatalf("the gateway did not start: %+v", g)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.110.0.2")}, net.UDPAddrFromAddrPort(netip.AddrPortFrom(public, natt)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := []string{
		`vnetgw_gateway_udp_datagrams_total{gateway="gw",gateway_instance="0",kind="nat_keepalive"} 1`,
		`vnetgw_gateway_udp_dropped_datagrams_total{gateway="gw",gateway_instance="0",reason="malformed"} 1`,
	}
	for _, d := range [][]byte{{0xff}, {}} {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	var scrape string
	waitUntil(t, 30*time.Second, "the datagrams in the metrics", func() bool {
		var b strings.Builder
		if err := e.WriteMetrics(&b); err != nil {
			t.Fatal(err)
		}
		scrape = b.String()
		for _, w := range want {
			if !strings.Contains(scrape, w+"\n") {
				return false
			}
		}
		return true
	})
	for _, w := range []string{`vnetgw_gateway_udp_read_errors_total{gateway="gw",gateway_instance="0"} `, `vnetgw_gateway_nat_keepalives_sent_total{gateway="gw",gateway_instance="0",result="failed"} 0`} {
		if !strings.Contains(scrape, w) {
			t.Errorf("no %s in:\n%s", w, scrape)
		}
	}
}

// Every counter of a tunnel's drops is a reason of
// vnetgw_tunnel_dropped_packets_total, with its own count.
func TestTunnelDropReasonsCountEveryDrop(t *testing.T) {
	var d tunnel.TunnelDrops
	v := reflect.ValueOf(&d).Elem()
	for i := range v.NumField() {
		v.Field(i).SetUint(uint64(100 + i))
	}
	counts := map[uint64]string{}
	for _, r := range tunnelDropReasons(d) {
		counts[r.n] = r.name
	}
	for i := range v.NumField() {
		if v.Type().Field(i).Name == "Open" {
			continue // the sum of the SA's refusals, each a reason of its own
		}
		if _, ok := counts[uint64(100+i)]; !ok {
			t.Errorf("TunnelDrops.%s is no reason of vnetgw_tunnel_dropped_packets_total", v.Type().Field(i).Name)
		}
	}
}

// The HELP of vnetgw_tunnel_dropped_packets_total names every reason it
// counts, as a scraper's user reads what a label means.
func TestTunnelDropReasonsInHelp(t *testing.T) {
	var help string
	for _, f := range metricFamilies {
		if f.name == "vnetgw_tunnel_dropped_packets_total" {
			help = f.help
		}
	}
	for _, r := range tunnelDropReasons(tunnel.TunnelDrops{}) {
		if !strings.Contains(help, r.name+" ") && !strings.Contains(help, r.name+",") && !strings.HasSuffix(help, r.name+")") {
			t.Errorf("the HELP of vnetgw_tunnel_dropped_packets_total does not name %s: %s", r.name, help)
		}
	}
}
