package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/region"
)

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestRequestIDs: every answer has an x-ms-request-id of its own (a GUID,
// as ARM's) and an x-ms-correlation-request-id, the caller's when it sent
// one (Terraform and az send one for all the requests of a run) and else
// new; x-ms-client-request-id comes back when x-ms-return-client-request-id
// asks for it. The request log holds them (ARM's resource provider
// contract: the provider must log the correlation and client request ids),
// so that a failure a client reports is found in the log. Answers had a
// timestamp for a request id and no correlation id, and the log neither.
func TestRequestIDs(t *testing.T) {
	var log logbuf.Buffer
	e := newEnv(t, envOptions{log: &log})
	e.must("PUT", rgPath(subA, "rg"), group("westeurope"))
	path := netPath(subA, "rg", "virtualNetworks", "nope")
	const corr, client = "9c4d50ee-2d56-4cd3-8152-34347dc9f2b0", "6f1a0b7e-6a4f-4a8e-9d7c-0c1f7c2b9e11"
	seen := map[string]bool{}
	for _, c := range []struct {
		name                 string
		header               http.Header
		wantCorr, wantClient string
	}{
		{"none", nil, "", ""},
		{"correlated", http.Header{"X-Ms-Correlation-Request-Id": {corr}}, corr, ""},
		{"client id, not asked back", http.Header{"X-Ms-Client-Request-Id": {client}}, "", ""},
		{"client id asked back", http.Header{"X-Ms-Client-Request-Id": {client}, "X-Ms-Return-Client-Request-Id": {"true"}}, "", client},
		{"no id", http.Header{"X-Ms-Correlation-Request-Id": {"a b\tc" + strings.Repeat("x", 200)}}, "", ""},
	} {
		r := e.doHeader("GET", path, nil, c.header)
		id, got := r.header.Get("X-Ms-Request-Id"), r.header.Get("X-Ms-Correlation-Request-Id")
		if r.status != http.StatusNotFound || !guidRE.MatchString(id) || seen[id] {
			t.Errorf("%s: %d, x-ms-request-id %q: want 404 and a GUID no other answer had", c.name, r.status, id)
		}
		seen[id] = true
		if c.wantCorr != "" && got != c.wantCorr || c.wantCorr == "" && !guidRE.MatchString(got) {
			t.Errorf("%s: x-ms-correlation-request-id %q, want %q (or a new GUID)", c.name, got, c.wantCorr)
		}
		if cl := r.header.Get("X-Ms-Client-Request-Id"); cl != c.wantClient {
			t.Errorf("%s: x-ms-client-request-id %q, want %q", c.name, cl, c.wantClient)
		}
		var line string
		for _, l := range strings.Split(log.String(), "\n") {
			if strings.Contains(l, "request_id="+id) {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, "correlation_id="+got) ||
			c.header.Get("X-Ms-Client-Request-Id") != "" && !strings.Contains(line, "client_request_id="+client) {
			t.Errorf("%s: the request log does not name the request's ids:\n%s", c.name, log.String())
		}
	}
}

// TestForwardedRequestIDs: a request one node forwards to the node that
// runs the resource keeps its correlation id there (both logs name it),
// and its answer has one x-ms-request-id and one correlation id; it had
// both nodes' request ids, and the other node made a correlation id of
// its own.
func TestForwardedRequestIDs(t *testing.T) {
	var logA, logB logbuf.Buffer
	var reg *region.Region
	var other *url.URL
	e := newEnv(t, envOptions{log: &logA, reg: &reg, elsewhere: func(string) *url.URL { return other }})
	b := httptest.NewServer(New(Config{Region: reg, Token: testToken, Logger: slog.New(slog.NewTextHandler(&logB, nil))}))
	defer b.Close()
	other, _ = url.Parse(b.URL)
	s := e.site(subA, "rg", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	conn := netPath(subA, "rg", "connections", "c")
	e.must("PUT", conn, s2s("westeurope", s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")))
	const corr = "9c4d50ee-2d56-4cd3-8152-34347dc9f2b0"
	for _, h := range []http.Header{{"X-Ms-Correlation-Request-Id": {corr}}, nil} {
		r := e.doHeader("POST", conn+"/getikesas", nil, h)
		ids, corrs := r.header.Values("X-Ms-Request-Id"), r.header.Values("X-Ms-Correlation-Request-Id")
		if r.status != http.StatusOK || len(ids) != 1 || len(corrs) != 1 || h != nil && corrs[0] != corr {
			t.Fatalf("forwarded: %d, request ids %v, correlation ids %v", r.status, ids, corrs)
		}
		for name, log := range map[string]string{"this node's": logA.String(), "the other node's": logB.String()} {
			if !strings.Contains(log, "correlation_id="+corrs[0]) {
				t.Errorf("%s log does not name the correlation id %s:\n%s", name, corrs[0], log)
			}
		}
	}
}
