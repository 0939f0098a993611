package api

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// p2sSite is a site whose gateway serves SSTP and IKEv2 clients from
// 172.31.0.0/24.
func (e *env) p2sSite(rg string) site {
	e.t.Helper()
	s := e.site(subA, rg, "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	body := gateway("westeurope", s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientProtocols": []string{"SSTP", "IkeV2"}}
	e.must("PUT", s.gw, body)
	return s
}

// packageFiles downloads the VPN client package at the URL answered as
// r's body (a JSON string) and returns its files by name.
func (e *env) packageFiles(r resp) map[string]string {
	e.t.Helper()
	var u string
	if err := json.Unmarshal(r.body, &u); err != nil || !strings.Contains(u, packagePath) {
		e.t.Fatalf("the answer is not a package URL: %s", r.body)
	}
	res, err := e.srv.Client().Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	zipped, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("GET the package: %d %s", res.StatusCode, zipped)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		e.t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			e.t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	return files
}

// TestPackageNamesStoredGateway: a package asked for with the gateway's
// name in other case (ARM's names are case-insensitive) names the gateway
// as it was created, in settings.json, swanctl's connection and the files
// the scripts write: the same package whatever the case of the request.
func TestPackageNamesStoredGateway(t *testing.T) {
	e := newEnv(t)
	s := e.p2sSite("p2s")
	files := e.packageFiles(e.must("POST", strings.Replace(s.gw, "/gw", "/GW", 1)+"/generatevpnclientpackage", obj{}))
	var settings struct{ Gateway string }
	if err := json.Unmarshal([]byte(files["settings.json"]), &settings); err != nil || settings.Gateway != "gw" {
		t.Errorf("settings.json's gateway: %q, %v; want gw, as created", settings.Gateway, err)
	}
	// The files that name the gateway (the others hold certificates, in
	// whose base64 "GW" may be).
	for name, want := range map[string]string{
		"README.txt":                           "gateway gw",
		"linux/swanctl.conf":                   "vnetgw-gw {",
		"linux/ikev2.sh":                       `"$dir/conf.d/vnetgw-gw.conf"`,
		"windows/add-vpn-connection.ps1":       `$name = "vnetgw-gw"`,
		"windows/add-vpn-connection-ikev2.ps1": "vnetgw-gw",
	} {
		if f := files[name]; !strings.Contains(f, want) || strings.Contains(f, "GW") {
			t.Errorf("%s: want %q and no GW:\n%s", name, want, f)
		}
	}
}
