package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
)

// The store's errors that say nothing was written, ErrClosed (the node
// stops) and ErrUnavailable (etcd or the disk full), map to 503
// ServiceUnavailable in the ARM envelope, with a Retry-After: a client
// tries again, as it may, the change not having been made. They were a
// 500 InternalServerError, which says to look in vnetgw's log.
func TestStoreErrorsAreServiceUnavailable(t *testing.T) {
	for _, err := range []error{
		store.ErrClosed,
		fmt.Errorf("read the state: %w", store.ErrClosed),
		fmt.Errorf("%w: etcdserver: mvcc: database space exceeded", store.ErrUnavailable),
	} {
		ae, status := toARM(err)
		if status != http.StatusServiceUnavailable || ae.Code != "ServiceUnavailable" || !strings.Contains(ae.Message, "nothing was changed") {
			t.Errorf("toARM(%v) = %d %v, want 503 ServiceUnavailable saying nothing was changed", err, status, ae)
		}
	}
	// Over HTTP: a region that has closed (serve stopping) answers a
	// write so, a POST too.
	var reg *region.Region
	e := newEnv(t, envOptions{reg: &reg})
	rg := "/subscriptions/" + subA + "/resourcegroups/rg"
	e.must("PUT", rg, obj{"location": loc})
	if err := reg.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PUT", rg + "2", obj{"location": loc}},
		{"POST", rg + "/providers/Microsoft.Network/connections/c/sharedkey/reset", obj{"keyLength": 32}},
	} {
		r := e.do(c.method, c.path, c.body)
		if r.status != http.StatusServiceUnavailable || r.code() != "ServiceUnavailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s on a closed region: %d Retry-After %q %s, want 503 ServiceUnavailable with a Retry-After", c.method, c.path, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
}

// panickingDP is a data plane whose metrics panic: a bug the API cannot
// be made to hit otherwise.
type panickingDP struct{ noDataPlane }

func (panickingDP) WriteMetrics(io.Writer) error { panic("metrics: index out of range") }

// TestPanicAnswered: a request that panics is answered 500 with ARM's
// envelope and logged with its stack; net/http ended the connection with
// no answer and logged nothing of the API's. The API answers on.
func TestPanicAnswered(t *testing.T) {
	var log logbuf.Buffer
	e := newEnv(t, envOptions{dp: panickingDP{}, log: &log})
	r := e.raw("GET", "/metrics", "", testToken, nil)
	if r.status != http.StatusInternalServerError || r.code() != codeInternal {
		t.Errorf("a request that panicked: %d %s; want 500 %s", r.status, r.body, codeInternal)
	}
	if got := log.String(); !strings.Contains(got, `msg="request panicked"`) || !strings.Contains(got, "index out of range") || !strings.Contains(got, "serveMetrics") {
		t.Errorf("the log does not tell the panic and where it was:\n%s", got)
	}
	e.must("PUT", rgPath(subA, "rg"), group(loc))
}

// TestTopOfTheAddressSpace: a subnet at the top of the IPv4 space, whose
// reserved addresses run up to 255.255.255.255, has its usage counted
// (it panicked) and its addresses reserved as anywhere else (a /30 there
// gave a NIC 255.255.255.253).
func TestTopOfTheAddressSpace(t *testing.T) {
	e := newEnv(t)
	e.must("PUT", rgPath(subA, "rg"), group(loc))
	v := netPath(subA, "rg", "virtualNetworks", "v")
	e.must("PUT", v, vnet(loc, []string{"255.255.255.0/24"}, subnet("a", "255.255.255.0/25"), subnet("b", "255.255.255.252/30")))
	var usages struct{ Value []arm.VirtualNetworkUsage }
	if err := json.Unmarshal(e.must("GET", v+"/usages", nil).body, &usages); err != nil {
		t.Fatal(err)
	}
	limits := map[string]float64{}
	for _, u := range usages.Value {
		limits[path.Base(u.ID)] = u.Limit
	}
	if limits["a"] != 123 || limits["b"] != 0 {
		t.Errorf("usable addresses: %v; want a 123 (128 less the first four and the last), b 0", limits)
	}
	if r := e.do("PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, v+"/subnets/b", "255.255.255.253")); r.status != http.StatusBadRequest || r.code() != "PrivateIPAddressIsReserved" {
		t.Errorf("a NIC given 255.255.255.253 in 255.255.255.252/30: %d %s; want 400 PrivateIPAddressIsReserved", r.status, r.body)
	}
	if r := e.do("PUT", netPath(subA, "rg", "networkInterfaces", "n"), nic(loc, v+"/subnets/b", "")); r.status < 400 {
		t.Errorf("a NIC in 255.255.255.252/30, which has no address to give: %d %s", r.status, r.body)
	}
}

// TestMethodNotAllowedSaysAllow: a 405 names the methods its path has in
// an Allow header (RFC 9110 §15.5.6: the server MUST send one), and its
// message says which to use. It had neither: a client that sent GET to
// an action (getikesas), or a PATCH to a subnet, learnt only that its
// method was wrong.
func TestMethodNotAllowedSaysAllow(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	conn := netPath(subA, "rg", "connections", "c")
	e.must("PUT", conn, s2s(loc, s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")))
	reset := e.do("POST", conn+"/resetconnection", nil)
	op, err := url.Parse(reset.header.Get("Location"))
	if reset.status != http.StatusAccepted || err != nil {
		t.Fatalf("resetconnection: %d %s", reset.status, reset.body)
	}
	for _, c := range []struct {
		method, path, allow string
	}{
		{"DELETE", rgPath(subA, "rg") + "/providers/Microsoft.Network/virtualNetworks", "GET"},
		{"POST", s.vnet, "GET, HEAD, PUT, PATCH, DELETE"},
		{"POST", rgPath(subA, "rg"), "GET, HEAD, PUT, PATCH, DELETE"},
		{"PATCH", s.defaultSubnet, "GET, HEAD, PUT, DELETE"},
		{"GET", conn + "/getikesas", "POST"},
		{"GET", conn + "/resetconnection", "POST"},
		{"DELETE", conn + "/sharedkey", "GET, PUT"},
		{"GET", conn + "/sharedkey/reset", "POST"},
		{"POST", s.vnet + "/usages", "GET"},
		{"GET", netPath(subA, "rg", "networkInterfaces", "n") + "/effectiveRouteTable", "POST"},
		{"POST", op.EscapedPath(), "GET"},
		{"POST", s.gw + "/providers/Microsoft.Insights/metrics", "GET"},
	} {
		r := e.do(c.method, c.path, nil)
		if r.status != http.StatusMethodNotAllowed || r.code() != "MethodNotAllowed" || r.header.Get("Allow") != c.allow ||
			!strings.Contains(r.str("error.message"), "use "+c.allow) {
			t.Errorf("%s %s: %d Allow %q %s; want 405 MethodNotAllowed, Allow %q and a message saying to use it", c.method, c.path, r.status, r.header.Get("Allow"), r.body, c.allow)
		}
	}
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/metrics", "GET, HEAD"},
		{"POST", packagePath + "0123456789abcdef0123456789abcdef.zip", "GET"},
	} {
		if r := e.raw(c.method, c.path, "", testToken, nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q %s; want 405 with Allow %q", c.method, c.path, r.status, r.header.Get("Allow"), r.body, c.allow)
		}
	}
}
