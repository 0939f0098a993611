package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

const (
	testToken = "test-token"
	subA      = "11111111-1111-1111-1111-111111111111"
	subB      = "22222222-2222-2222-2222-222222222222"
)

// env is an API on a real bbolt file, served over real HTTP.
type env struct {
	t   testing.TB
	srv *httptest.Server
}

type envOptions struct {
	pool     string
	cluster  Cluster           // several nodes share the region
	insights *insights.History // the metrics history
	dp       DataPlane         // the data plane (none: noDataPlane)
	log      io.Writer         // where the API logs, at debug level (none: nowhere)
	remotes  region.Remotes    // review: peer regions
	reg      **region.Region   // review: the region, handed back
	internet bool              // serve --internet-egress
	pageSize int               // how many items a list page holds (PageSize)
	tls      bool              // HTTPS (the Azure SDK sends its token over nothing else)
	handler  **Handler         // the handler, handed back
	// elsewhere is Config.Elsewhere: another node runs the VNets;
	// transport (Config.Transport) reaches it.
	elsewhere func(vnet string) *url.URL
	transport http.RoundTripper
	// store holds the region's state (none: a bbolt file).
	store store.Store
	// noSync: the bbolt file's writes are not synced (bolt.Options.NoSync).
	noSync bool
	// regionLog is where the region logs (none: nowhere).
	regionLog *slog.Logger
}

func newEnv(t testing.TB, opts ...envOptions) *env {
	t.Helper()
	o := envOptions{}
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.pool == "" {
		o.pool = "127.10.0.0/24"
	}
	st := o.store
	if st == nil {
		var err error
		if st, err = bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{NoSync: o.noSync}); err != nil {
			t.Fatal(err)
		}
	}
	pool, err := region.ParsePool(o.pool)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool, Remotes: o.remotes, Logger: o.regionLog})
	if err != nil {
		t.Fatal(err)
	}
	if o.reg != nil {
		*o.reg = reg
	}
	var log *slog.Logger
	if o.log != nil {
		log = slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h := New(Config{Region: reg, Token: testToken, Cluster: o.cluster, Insights: o.insights, DataPlane: o.dp, Logger: log, InternetEgress: o.internet, Elsewhere: o.elsewhere, Transport: o.transport})
	if o.pageSize > 0 {
		h.pageSize = o.pageSize
	}
	if o.handler != nil {
		*o.handler = h
	}
	srv := httptest.NewUnstartedServer(h)
	if o.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.Close()
		reg.Close()
		st.Close()
	})
	return &env{t: t, srv: srv}
}

// resp is an answer of the API.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) code() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// field digs a value out of the JSON body by a dotted path.
func (r resp) field(path string) any {
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		return nil
	}
	for _, p := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[p]
		case []any:
			var i int
			fmt.Sscan(p, &i)
			if i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

func (r resp) str(path string) string {
	s, _ := r.field(path).(string)
	return s
}

// raw sends a request with full control over token, query and headers.
func (e *env) raw(method, path, query, token string, body []byte, header ...http.Header) resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path+query, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range header {
		for k, vs := range h {
			req.Header[k] = vs
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// do sends a request with the right token and api-version; body may be a
// string (sent as is) or a value (sent as JSON).
func (e *env) do(method, path string, body any) resp {
	e.t.Helper()
	return e.doHeader(method, path, body, nil)
}

// doHeader is do with extra request headers.
func (e *env) doHeader(method, path string, body any, header http.Header) resp {
	e.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			e.t.Fatal(err)
		}
	}
	version := "2024-05-01"
	if !strings.Contains(strings.ToLower(path), "/providers/") {
		version = "2021-04-01"
	}
	return e.raw(method, path, "?api-version="+version, testToken, b, header)
}

// must sends a request that must succeed.
func (e *env) must(method, path string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status >= 300 {
		e.t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
	}
	return r
}

// expect sends a request that must fail with status and ARM error code.
func (e *env) expect(method, path string, body any, status int, code string) {
	e.t.Helper()
	if r := e.do(method, path, body); r.status != status || r.str("error.code") != code {
		e.t.Errorf("%s %s: %d %s, want %d %s", method, path, r.status, r.body, status, code)
	}
}

func rgPath(sub, rg string) string { return "/subscriptions/" + sub + "/resourceGroups/" + rg }

func netPath(sub, rg, typ, name string) string {
	return rgPath(sub, rg) + "/providers/Microsoft.Network/" + typ + "/" + name
}

// Bodies.

type obj = map[string]any

func group(loc string) obj { return obj{"location": loc} }

func vnet(loc string, space []string, subnets ...obj) obj {
	if subnets == nil {
		subnets = []obj{}
	}
	return obj{"location": loc, "properties": obj{"addressSpace": obj{"addressPrefixes": space}, "subnets": subnets}}
}

func subnet(name, prefix string) obj {
	return obj{"name": name, "properties": obj{"addressPrefix": prefix}}
}

func publicIP(loc, method string) obj {
	return obj{"location": loc, "properties": obj{"publicIPAllocationMethod": method}}
}

func gateway(loc, subnetID, pipID, vpnType, sku string) obj {
	return obj{"location": loc, "properties": obj{
		"gatewayType": "Vpn", "vpnType": vpnType, "sku": obj{"name": sku, "tier": sku},
		"ipConfigurations": []obj{{"name": "ipconfig1", "properties": obj{
			"subnet": obj{"id": subnetID}, "publicIPAddress": obj{"id": pipID}}}},
	}}
}

func localGateway(loc, ip string, prefixes ...string) obj {
	return obj{"location": loc, "properties": obj{"gatewayIpAddress": ip, "localNetworkAddressSpace": obj{"addressPrefixes": prefixes}}}
}

func s2s(loc, gwID, lngID string) obj {
	return obj{"location": loc, "properties": obj{"connectionType": "IPsec",
		"virtualNetworkGateway1": obj{"id": gwID}, "localNetworkGateway2": obj{"id": lngID}}}
}

func v2v(loc, gwID, gw2ID string) obj {
	return obj{"location": loc, "properties": obj{"connectionType": "Vnet2Vnet",
		"virtualNetworkGateway1": obj{"id": gwID}, "virtualNetworkGateway2": obj{"id": gw2ID}}}
}

func nic(loc, subnetID, ip string) obj {
	cfg := obj{"subnet": obj{"id": subnetID}}
	if ip != "" {
		cfg["privateIPAddress"] = ip
		cfg["privateIPAllocationMethod"] = "Static"
	}
	return obj{"location": loc, "properties": obj{"ipConfigurations": []obj{{"name": "ipconfig1", "properties": cfg}}}}
}

// site is a VNet with a gateway, built by env.site.
type site struct {
	sub, rg, loc                           string
	vnet, gwSubnet, defaultSubnet, pip, gw string
}

// site builds resource group rg in sub with VNet "vnet" (space), its
// default subnet and GatewaySubnet, a Dynamic public IP and a gateway.
func (e *env) site(sub, rg, loc, space, vpnType, sku string) site {
	e.t.Helper()
	base := strings.TrimSuffix(space, "/16")
	base = base[:strings.LastIndex(base, ".")]
	base = base[:strings.LastIndex(base, ".")]
	s := site{sub: sub, rg: rg, loc: loc,
		vnet: netPath(sub, rg, "virtualNetworks", "vnet"),
		pip:  netPath(sub, rg, "publicIPAddresses", "pip"),
		gw:   netPath(sub, rg, "virtualNetworkGateways", "gw")}
	s.gwSubnet, s.defaultSubnet = s.vnet+"/subnets/GatewaySubnet", s.vnet+"/subnets/default"
	e.must("PUT", rgPath(sub, rg), group(loc))
	e.must("PUT", s.vnet, vnet(loc, []string{space}, subnet("default", base+".0.0/24"), subnet("GatewaySubnet", base+".255.0/27")))
	e.must("PUT", s.pip, publicIP(loc, "Dynamic"))
	e.must("PUT", s.gw, gateway(loc, s.gwSubnet, s.pip, vpnType, sku))
	return s
}

// lng creates a local network gateway in the site's group.
func (e *env) lng(s site, name, ip string, prefixes ...string) string {
	e.t.Helper()
	p := netPath(s.sub, s.rg, "localNetworkGateways", name)
	e.must("PUT", p, localGateway(s.loc, ip, prefixes...))
	return p
}

// testRootCert is a self-signed root certificate, base64 DER, as
// publicCertData carries it.
var testRootCert = func() string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "P2SRoot"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}()
