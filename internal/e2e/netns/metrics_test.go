package netns

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
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
	if up, ok := metric(scrape, "vnetgw_tunnel_up", "connection", conn, "instance", "0"); !ok || up != 1 {
		t.Errorf("vnetgw_tunnel_up of the Connected connection: %d (found %v)", up, ok)
	}
	if n, ok := metric(scrape, "vnetgw_ike_sas", "gateway", gw); !ok || n != 1 {
		t.Errorf("vnetgw_ike_sas with one tunnel up: %d (found %v)", n, ok)
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
	if n, ok := metric(scrape, "vnetgw_tunnel_dropped_packets_total", "connection", conn, "reason", "open"); !ok || n != 0 {
		t.Errorf("ESP refused by the tunnel's SA: %d (found %v), want 0", n, ok)
	}
	t.Logf("scrape:\n%s", scrape)
}
