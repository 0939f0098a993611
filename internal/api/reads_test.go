package api

import (
	"context"
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/region"
)

// TestRecreatedConnectionShowsNoOldStatus: a connection deleted and made
// again under its name is a new connection (a new resourceGuid): until
// the data plane reports on it, a GET shows its status Unknown and no
// bytes, not the status the deleted one left behind (Connected, its
// counters; the reconcile loop removes that only at its next pass, up to
// 2 s after the delete, and took its bytes as the new one's base).
func TestRecreatedConnectionShowsNoOldStatus(t *testing.T) {
	var reg *region.Region
	e := newEnv(t, envOptions{reg: &reg})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	c := netPath(subA, "rg", "connections", "c")
	body := s2s(loc, s.gw, e.lng(s, "site", "203.0.113.1", "192.168.0.0/24"))
	guid := e.must("PUT", c, body).str("properties.resourceGuid")
	// As the reconcile loop writes it for the connection.
	old := `{"connectionStatus":"Connected","ingressBytes":1234,"egressBytes":5678,"guid":"` + guid + `"}`
	if err := reg.PutStatuses(context.Background(), map[string][]byte{c: []byte(old)}); err != nil {
		t.Fatal(err)
	}
	if r := e.must("GET", c, nil); r.str("properties.connectionStatus") != "Connected" || r.field("properties.ingressBytesTransferred") != 1234.0 {
		t.Fatalf("the connection does not show its status: %s", r.body)
	}
	e.must("DELETE", c, nil)
	if g := e.must("PUT", c, body).str("properties.resourceGuid"); g == guid {
		t.Fatalf("the connection made again has the deleted one's resourceGuid %s", g)
	}
	r := e.must("GET", c, nil)
	if st := r.str("properties.connectionStatus"); st != "Unknown" {
		t.Errorf("the new connection shows status %s, want Unknown (nothing observed of it yet)", st)
	}
	if in, out := r.field("properties.ingressBytesTransferred"), r.field("properties.egressBytesTransferred"); in != nil && in != 0.0 || out != nil && out != 0.0 {
		t.Errorf("the new connection shows %v/%v bytes in/out, the deleted one's", in, out)
	}
}

// TestVNetAndGatewayReads covers a VNet's CheckIPAddressAvailability and
// usages and a gateway's connections, as ARM serves them.
func TestVNetAndGatewayReads(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "reads", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("PUT", netPath(subA, "reads", "networkInterfaces", "web"), nic("westeurope", s.defaultSubnet, ""))
	conn := netPath(subA, "reads", "connections", "c")
	c := s2s("westeurope", s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24"))
	c["properties"].(obj)["sharedKey"] = "NeverListed42"
	e.must("PUT", conn, c)

	check := func(ip string) resp {
		return e.raw("GET", s.vnet+"/CheckIPAddressAvailability", "?api-version=2024-05-01&ipAddress="+ip, testToken, nil)
	}
	// isPlatformReserved (Azure's, beside available) says the address is
	// one of those the platform keeps in every subnet, which no host ever
	// gets, rather than one a host has now.
	for ip, want := range map[string]struct {
		available   bool
		suggestions []any
		reserved    bool
	}{
		"10.1.0.4":   {false, []any{"10.1.0.5", "10.1.0.6", "10.1.0.7", "10.1.0.8", "10.1.0.9"}, false}, // the NIC's
		"10.1.0.10":  {true, nil, false},
		"10.1.0.1":   {false, []any{"10.1.0.5", "10.1.0.6", "10.1.0.7", "10.1.0.8", "10.1.0.9"}, true}, // reserved
		"10.1.0.255": {false, []any{"10.1.0.5", "10.1.0.6", "10.1.0.7", "10.1.0.8", "10.1.0.9"}, true}, // broadcast
	} {
		r := check(ip)
		got, _ := r.field("availableIPAddresses").([]any)
		if r.status != http.StatusOK || r.field("available") != want.available || !slices.Equal(got, want.suggestions) || r.field("isPlatformReserved") != want.reserved {
			t.Errorf("CheckIPAddressAvailability %s: %d %s, want available %v, suggestions %v, isPlatformReserved %v", ip, r.status, r.body, want.available, want.suggestions, want.reserved)
		}
	}
	if r := check("10.1.7.1"); r.status != http.StatusBadRequest || r.code() != "PrivateIPAddressNotInSubnet" {
		t.Errorf("an address in no subnet: %d %s", r.status, r.body)
	}
	if r := check("nonsense"); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" {
		t.Errorf("not an address: %d %s", r.status, r.body)
	}
	r := e.raw("GET", netPath(subA, "reads", "virtualNetworks", "nope")+"/CheckIPAddressAvailability", "?api-version=2024-05-01&ipAddress=10.0.0.4", testToken, nil)
	if r.status != http.StatusNotFound || r.code() != "ResourceNotFound" {
		t.Errorf("CheckIPAddressAvailability of a missing VNet: %d %s", r.status, r.body)
	}
	// A missing child is named as in its id: types and names in turn.
	if r := e.do("GET", s.vnet+"/subnets/nope", nil); r.status != http.StatusNotFound ||
		!strings.Contains(r.str("error.message"), "'Microsoft.Network/virtualNetworks/"+path.Base(s.vnet)+"/subnets/nope'") {
		t.Errorf("GET of a missing subnet: %d %s", r.status, r.body)
	}

	r = e.must("GET", s.vnet+"/usages", nil)
	usage := map[string][2]any{}
	for i := 0; r.field("value."+strconv.Itoa(i)) != nil; i++ {
		id := r.str("value." + strconv.Itoa(i) + ".id")
		usage[id[strings.LastIndex(id, "/")+1:]] = [2]any{r.field("value." + strconv.Itoa(i) + ".currentValue"), r.field("value." + strconv.Itoa(i) + ".limit")}
	}
	// default: 10.1.0.0/24, 251 for hosts, the NIC on one; GatewaySubnet:
	// 10.1.255.0/27, 27 for hosts, the gateway on one.
	if usage["default"] != [2]any{1.0, 251.0} || usage["GatewaySubnet"] != [2]any{1.0, 27.0} {
		t.Errorf("usages %v: %s", usage, r.body)
	}

	r = e.must("GET", s.gw+"/connections", nil)
	if r.str("value.0.name") != "c" || r.field("value.1") != nil || strings.Contains(string(r.body), "NeverListed42") {
		t.Errorf("the gateway's connections: %s", r.body)
	}

	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", netPath(subA, "reads", "virtualNetworks", "nope") + "/usages", http.StatusNotFound, "ResourceNotFound"},
		{"GET", netPath(subA, "reads", "virtualNetworkGateways", "nope") + "/connections", http.StatusNotFound, "ResourceNotFound"},
		{"POST", s.vnet + "/usages", http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"PUT", s.gw + "/connections", http.StatusMethodNotAllowed, "MethodNotAllowed"},
	} {
		if r := e.do(tc.method, tc.path, nil); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.status, r.code(), tc.status, tc.code)
		}
	}
}

// GET /metrics answers in the Prometheus text format, with the token only.
func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	if r := e.raw("GET", "/metrics", "", "", nil); r.status != 401 {
		t.Errorf("without the token: %d %s", r.status, r.body)
	}
	r := e.raw("GET", "/metrics", "", testToken, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("GET /metrics: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r := e.raw("POST", "/metrics", "", testToken, nil); r.status != 405 || r.code() != "MethodNotAllowed" {
		t.Errorf("POST /metrics: %d %s", r.status, r.body)
	}
	// The API counts its own requests: by method and status, with their
	// durations.
	e.must("PUT", rgPath(subA, "counted"), group(loc))
	e.must("PUT", rgPath(subA, "counted"), group(loc))
	body := string(e.raw("GET", "/metrics", "", testToken, nil).body)
	for _, want := range []string{
		`vnetgw_api_requests_total{method="PUT",code="201"} 1` + "\n",
		`vnetgw_api_requests_total{method="PUT",code="200"} 1` + "\n",
		`vnetgw_api_requests_total{method="GET",code="401"} 1` + "\n",
		`vnetgw_api_request_duration_seconds_bucket{method="PUT",le="+Inf"} 2` + "\n",
		`vnetgw_api_request_duration_seconds_count{method="PUT"} 2` + "\n",
		"# TYPE vnetgw_api_request_duration_seconds histogram\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, body)
		}
	}
}

// A packet capture needs a running gateway and a filter that parses.
func TestPacketCaptureRefusals(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	for _, c := range []struct {
		path string
		body any
		code string
	}{
		{"/startPacketCapture", obj{"filterData": `{"MaxFileSize":9999}`}, "InvalidParameter"},
		{"/startPacketCapture", obj{"filterData": `{"Filters":[{"TcpFlags":256}]}`}, "InvalidParameter"},
		{"/startPacketCapture", nil, "GatewayNotProvisioned"},
		{"/stopPacketCapture", obj{"sasUrl": "ftp://x/y"}, "InvalidParameter"},
		{"/stopPacketCapture", nil, "GatewayNotProvisioned"},
	} {
		if r := e.do("POST", s.gw+c.path, c.body); r.status < 400 || r.code() != c.code {
			t.Errorf("POST %s %v: %d %s, want %s", c.path, c.body, r.status, r.body, c.code)
		}
	}
	if r := e.do("POST", netPath(subA, "rg", "virtualNetworkGateways", "nope")+"/startPacketCapture", nil); r.status != 404 {
		t.Errorf("a gateway that does not exist: %d %s", r.status, r.body)
	}
}

// Azure Monitor's metrics of a gateway and of a connection, from the
// history the node keeps; what the API cannot answer is refused by name.
func TestInsightsMetrics(t *testing.T) {
	h := insights.New(time.Second, time.Hour)
	e := newEnv(t, envOptions{insights: h})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	conn := netPath(subA, "rg", "connections", "to-branch")
	e.must("PUT", conn, s2s(loc, s.gw, e.lng(s, "branch", "203.0.113.1", "192.168.0.0/16")))
	now := time.Now().Truncate(time.Second)
	for i := range 3 {
		h.Record(now.Add(time.Duration(i-3)*time.Second), map[string]insights.Counters{strings.ToLower(conn): {Ingress: uint64(1000 * (i + 1)), IngressPackets: uint64(i + 1)}})
	}
	get := func(resource, query string) resp {
		return e.raw("GET", resource+"/providers/Microsoft.Insights/metrics", "?api-version=2018-01-01&"+query, testToken, nil)
	}
	r := get(s.gw, "metricnames=TunnelIngressBytes,TunnelIngressPackets&interval=PT1M&$filter=ConnectionName%20eq%20%27%2A%27")
	var out insights.Response
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.Value) != 2 || len(out.Value[0].Timeseries) != 1 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var bytes, packets float64
	for i, v := range []*float64{&bytes, &packets} {
		for _, p := range out.Value[i].Timeseries[0].Data {
			if p.Total != nil {
				*v += *p.Total
			}
		}
	}
	if bytes != 3000 || packets != 3 || out.Value[0].Timeseries[0].Metadata[0].Value != "to-branch" || out.Namespace != "Microsoft.Network/virtualNetworkGateways" {
		t.Errorf("tunnel bytes %v, packets %v: %s", bytes, packets, r.body)
	}
	if r := get(conn, "metricnames=BitsInPerSecond"); r.status != 200 || !strings.Contains(string(r.body), `"unit":"BitsPerSecond"`) {
		t.Errorf("a connection's bits in: %d %s", r.status, r.body)
	}
	if r := e.raw("GET", s.gw+"/providers/Microsoft.Insights/metricDefinitions", "?api-version=2018-01-01", testToken, nil); r.status != 200 || strings.Count(string(r.body), `"primaryAggregationType"`) != len(insights.GatewayMetrics) ||
		!strings.Contains(string(r.body), `"name":{"value":"TunnelIngressPacketDropTSMismatch"`) {
		t.Errorf("metricDefinitions: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		resource, query, code string
		status                int
	}{
		{s.gw, "metricnames=CpuUsage", "InvalidParameter", 400},
		{s.gw, "interval=PT0S", "InvalidParameter", 400},
		{s.vnet, "metricnames=TunnelIngressBytes", "InvalidResourceType", 404},
		{netPath(subA, "rg", "connections", "nope"), "", "ResourceNotFound", 404},
	} {
		if r := get(c.resource, c.query); r.status != c.status || r.code() != c.code {
			t.Errorf("%s?%s: %d %s, want %d %s", c.resource, c.query, r.status, r.body, c.status, c.code)
		}
	}
	if r := e.raw("GET", s.gw+"/providers/Microsoft.Insights/metrics", "?api-version=2017-05-01", testToken, nil); r.status != 400 || r.code() != "InvalidApiVersionParameter" {
		t.Errorf("an old api-version: %d %s", r.status, r.body)
	}
}
