package api

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTunnelOperations covers the operations on running tunnels through
// HTTP, with no data plane behind the API: getikesas answers an empty list
// in a JSON string, resetconnection a 202 whose Location answers that the
// operation is done, a gateway reset the gateway; a missing resource is
// 404 and another method 405.
func TestTunnelOperations(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "tun", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	conn := netPath(subA, "tun", "connections", "c")
	e.must("PUT", conn, s2s("westeurope", s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")))

	var sas string
	if err := json.Unmarshal(e.must("POST", conn+"/getikesas", nil).body, &sas); err != nil || sas != "[]" {
		t.Fatalf("getikesas without a data plane: %q, %v", sas, err)
	}
	r := e.do("POST", conn+"/resetconnection", nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("resetconnection: %d %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || !strings.Contains(loc.Path, "/providers/Microsoft.Network/locations/westeurope/operationResults/") {
		t.Fatalf("resetconnection's Location %q: %v", r.header.Get("Location"), err)
	}
	if r := e.raw("GET", loc.EscapedPath(), "?"+loc.RawQuery, testToken, nil); r.status != http.StatusNoContent {
		t.Fatalf("the operation result: %d %s", r.status, r.body)
	}
	if r := e.raw("GET", loc.EscapedPath(), "?"+loc.RawQuery, "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("the operation result without a token: %d", r.status)
	}
	if got := e.must("POST", s.gw+"/reset", nil).str("name"); got != "gw" {
		t.Fatalf("gateway reset answered %q, want the gateway", got)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", netPath(subA, "tun", "connections", "nope") + "/getikesas", http.StatusNotFound, "ResourceNotFound"},
		{"POST", netPath(subA, "tun", "connections", "nope") + "/resetconnection", http.StatusNotFound, "ResourceNotFound"},
		{"POST", netPath(subA, "tun", "virtualNetworkGateways", "nope") + "/reset", http.StatusNotFound, "ResourceNotFound"},
		{"GET", conn + "/getikesas", http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"DELETE", conn + "/resetconnection", http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"POST", loc.EscapedPath(), http.StatusMethodNotAllowed, "MethodNotAllowed"},
	} {
		if r := e.do(tc.method, tc.path, nil); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.status, r.code(), tc.status, tc.code)
		}
	}
}

// TestBGPOperations covers a gateway's BGP operations through HTTP with no
// data plane behind the API (the running speaker's answers are tested end
// to end with BIRD): empty lists in {"value": []}; a gateway without BGP,
// a missing or malformed peer, a peer that is none of the gateway's (here,
// where none runs, any), another method and a missing gateway are refused,
// each with its code.
func TestBGPOperations(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "bgp", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	for _, op := range []string{"/getBgpPeerStatus", "/getLearnedRoutes", "/getAdvertisedRoutes?peer=192.168.0.1"} {
		path, query, _ := strings.Cut(op, "?")
		if r := e.raw("POST", s.gw+path, "?api-version=2024-05-01&"+query, testToken, nil); r.status != http.StatusBadRequest || r.code() != "BgpNotEnabled" {
			t.Errorf("%s on a gateway without BGP: %d %s", op, r.status, r.body)
		}
	}
	body := gateway("westeurope", s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	body["properties"].(obj)["enableBgp"] = true
	e.must("PUT", s.gw, body)
	for _, op := range []string{"/getBgpPeerStatus", "/getLearnedRoutes"} {
		path, query, _ := strings.Cut(op, "?")
		r := e.raw("POST", s.gw+path, "?api-version=2024-05-01&"+query, testToken, nil)
		var out struct{ Value []any }
		if err := json.Unmarshal(r.body, &out); r.status != http.StatusOK || err != nil || out.Value == nil || len(out.Value) != 0 {
			t.Errorf("%s with no data plane: %d %s", op, r.status, r.body)
		}
	}
	for _, tc := range []struct {
		method, path, query string
		status              int
		code                string
	}{
		{"POST", s.gw + "/getAdvertisedRoutes", "", http.StatusBadRequest, "InvalidParameter"},
		{"POST", s.gw + "/getAdvertisedRoutes", "peer=branch", http.StatusBadRequest, "InvalidParameter"},
		{"POST", s.gw + "/getBgpPeerStatus", "peer=10.0.0.300", http.StatusBadRequest, "InvalidParameter"},
		{"POST", s.gw + "/getBgpPeerStatus", "peer=192.168.0.1", http.StatusBadRequest, "InvalidParameter"},
		{"POST", s.gw + "/getAdvertisedRoutes", "peer=192.168.0.1", http.StatusBadRequest, "InvalidParameter"},
		{"GET", s.gw + "/getLearnedRoutes", "", http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"POST", netPath(subA, "bgp", "virtualNetworkGateways", "nope") + "/getLearnedRoutes", "", http.StatusNotFound, "ResourceNotFound"},
	} {
		if r := e.raw(tc.method, tc.path, "?api-version=2024-05-01&"+tc.query, testToken, nil); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s %s?%s: %d %s, want %d %s", tc.method, tc.path, tc.query, r.status, r.code(), tc.status, tc.code)
		}
	}
}

// TestVPNClientHealth: getVpnClientConnectionHealth lists the point-to-site
// clients in {"value": [...]} (none without a data plane); a missing
// gateway is 404, another method 405.
func TestVPNClientHealth(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "p2s", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	r := e.must("POST", s.gw+"/getVpnClientConnectionHealth", nil)
	var out struct{ Value []any }
	if err := json.Unmarshal(r.body, &out); err != nil || out.Value == nil || len(out.Value) != 0 {
		t.Fatalf("with no data plane: %s", r.body)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"POST", netPath(subA, "p2s", "virtualNetworkGateways", "nope") + "/getVpnClientConnectionHealth", http.StatusNotFound, "ResourceNotFound"},
		{"GET", s.gw + "/getVpnClientConnectionHealth", http.StatusMethodNotAllowed, "MethodNotAllowed"},
	} {
		if r := e.do(tc.method, tc.path, nil); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, r.status, r.code(), tc.status, tc.code)
		}
	}
}

// TestDisconnectVPNConnections: disconnectVirtualNetworkGatewayVpnConnections
// takes the ids that the health lists (200; ids of clients that are gone
// are no error), and refuses a body without ids.
func TestDisconnectVPNConnections(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "p2s", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	path := s.gw + "/disconnectVirtualNetworkGatewayVpnConnections"
	if r := e.do("POST", path, obj{"vpnConnectionIds": []string{"SSTP_172.16.201.2"}}); r.status != http.StatusOK {
		t.Fatalf("disconnect of a client that is gone: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", path, obj{}, http.StatusBadRequest, "InvalidParameter"},
		{"POST", path, obj{"vpnConnectionIds": "SSTP_1"}, http.StatusBadRequest, "InvalidRequestFormat"},
		{"POST", netPath(subA, "p2s", "virtualNetworkGateways", "nope") + "/disconnectVirtualNetworkGatewayVpnConnections", obj{"vpnConnectionIds": []string{"x"}}, http.StatusNotFound, "ResourceNotFound"},
		{"GET", path, nil, http.StatusMethodNotAllowed, "MethodNotAllowed"},
	} {
		if r := e.do(tc.method, tc.path, tc.body); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s %s %v: %d %s, want %d %s", tc.method, tc.path, tc.body, r.status, r.code(), tc.status, tc.code)
		}
	}
}

// TestVPNClientPackage: generatevpnclientpackage answers the URL of a zip
// (a JSON string) that anyone holding the URL downloads, without the
// token, as Azure's SAS URL; the zip names the gateway's address and
// routes the VNet's and the connected site's ranges, and the gateway's
// customRoutes. A gateway without SSTP point-to-site has no package.
func TestVPNClientPackage(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "p2s", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	path := s.gw + "/generatevpnclientpackage"
	if r := e.do("POST", path, obj{}); r.status != http.StatusBadRequest || r.code() != "VpnClientConfigurationNotFound" {
		t.Fatalf("a gateway without point-to-site: %d %s", r.status, r.body)
	}
	body := gateway("westeurope", s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientProtocols": []string{"SSTP"}}
	body["properties"].(obj)["customRoutes"] = obj{"addressPrefixes": []string{"10.200.0.0/16", "nope"}}
	if r := e.do("PUT", s.gw, body); r.status != http.StatusBadRequest || r.str("error.target") != "properties.customRoutes.addressPrefixes" {
		t.Errorf("a custom route that is no prefix: %d %s", r.status, r.body)
	}
	body["properties"].(obj)["customRoutes"] = obj{"addressPrefixes": []string{"10.200.0.0/16"}}
	e.must("PUT", s.gw, body)
	l := e.lng(s, "branch", "203.0.113.9", "192.168.7.0/24")
	e.must("PUT", netPath(subA, "p2s", "connections", "c"), s2s("westeurope", s.gw, l))

	r := e.must("POST", path, obj{"processorArchitecture": "Amd64", "authenticationMethod": "EAPTLS"})
	var u string
	if err := json.Unmarshal(r.body, &u); err != nil || !strings.Contains(u, "/vpnclientpackage/") {
		t.Fatalf("the answer is not a package URL: %s", r.body)
	}
	res, err := http.Get(u) // no token
	if err != nil {
		t.Fatal(err)
	}
	zipped, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, zipped)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	var settings struct {
		Address string
		Routes  []string
	}
	for _, f := range zr.File {
		if f.Name == "settings.json" {
			rc, _ := f.Open()
			json.NewDecoder(rc).Decode(&settings)
			rc.Close()
		}
	}
	var pip struct{ Properties struct{ IPAddress string } }
	json.Unmarshal(e.must("GET", s.pip, nil).body, &pip)
	if settings.Address != pip.Properties.IPAddress || strings.Join(settings.Routes, ",") != "10.1.0.0/16,192.168.7.0/24,10.200.0.0/16" {
		t.Errorf("settings.json: %+v, want the gateway at %s and routes to the VNet, the site and the custom route", settings, pip.Properties.IPAddress)
	}
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{"POST", path, obj{"authenticationMethod": "EAPMSCHAPv2"}, http.StatusBadRequest, "InvalidParameter"},
		{"POST", path, "{", http.StatusBadRequest, "InvalidRequestFormat"},
		{"GET", path, nil, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"GET", "/vpnclientpackage/0123456789abcdef0123456789abcdef.zip", nil, http.StatusNotFound, "ResourceNotFound"},
	} {
		if r := e.do(tc.method, tc.path, tc.body); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s %s %v: %d %s, want %d %s", tc.method, tc.path, tc.body, r.status, r.code(), tc.status, tc.code)
		}
	}
}

// TestLinksHost: the URLs the API answers for a client to come back to,
// a 202's Location (which the SDK's poller asks with its bearer token) and
// a VPN client package's (whose name is its credential), name the host the
// client came by only when it is one of the API's own names; they named any
// Host header sent.
func TestLinksHost(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "tun", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	body := gateway("westeurope", s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientProtocols": []string{"SSTP"}}
	e.must("PUT", s.gw, body)
	conn := netPath(subA, "tun", "connections", "c")
	e.must("PUT", conn, s2s("westeurope", s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")))
	_, port, _ := strings.Cut(strings.TrimPrefix(e.srv.URL, "http://"), ":")
	for _, c := range []struct{ host, want string }{
		{"localhost:" + port, "http://localhost:" + port + "/"},
		{"attacker.example", "/"},
		{"attacker.example:" + port, "/"},
	} {
		send := func(path, body string) *http.Response {
			req, err := http.NewRequest("POST", e.srv.URL+path+"?api-version=2024-05-01", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = c.host
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		res := send(conn+"/resetconnection", "")
		res.Body.Close()
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusAccepted || !strings.HasPrefix(loc, c.want) {
			t.Errorf("Host %s: resetconnection %d, Location %q; want 202 and a Location that starts with %s", c.host, res.StatusCode, loc, c.want)
		}
		res = send(s.gw+"/generatevpnclientpackage", `{"authenticationMethod": "EAPTLS"}`)
		var u string
		err := json.NewDecoder(res.Body).Decode(&u)
		res.Body.Close()
		if err != nil || !strings.HasPrefix(u, c.want) {
			t.Errorf("Host %s: generatevpnclientpackage %d %q, %v; want a URL that starts with %s", c.host, res.StatusCode, u, err, c.want)
		}
	}
}
