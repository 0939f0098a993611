package api

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
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

// TestGetVPNProfilePackageURL: getvpnprofilepackageurl, through the Azure
// SDK's poller, answers the URL of the package generatevpnprofile made;
// made again after the gateway's point-to-site configuration changed, and
// made now when there is none or the last has less than half its hour
// left. Another method is 405, a gateway without point-to-site 400.
func TestGetVPNProfilePackageURL(t *testing.T) {
	var h *Handler
	e := newEnv(t, envOptions{tls: true, handler: &h})
	s := e.p2sSite("rg")
	gws, err := armnetwork.NewVirtualNetworkGatewaysClient(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p, err := gws.BeginGetVPNProfilePackageURL(ctx, "rg", "GW", nil)
		if err != nil {
			t.Fatalf("BeginGetVPNProfilePackageURL: %v", err)
		}
		res, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Second})
		if err != nil || res.Value == nil || !strings.Contains(*res.Value, packagePath) {
			t.Fatalf("the poller's result: %v, %v; want a package URL", res.Value, err)
		}
		return *res.Value
	}

	// None generated yet: one made now, and the same again.
	first := get()
	if again := get(); again != first {
		t.Errorf("asked twice: %s, then %s; want the same package", first, again)
	}
	var made string
	json.Unmarshal(e.must("POST", s.gw+"/generatevpnprofile", obj{"authenticationMethod": "EAPTLS"}).body, &made)
	if got := get(); got != made {
		t.Errorf("after generatevpnprofile: %s; want its URL %s", got, made)
	}
	files := e.packageFiles(resp{body: mustJSON(t, get())})
	if !strings.Contains(files["settings.json"], "172.31.0.0/24") {
		t.Errorf("the package's settings.json: %s; want the pool 172.31.0.0/24", files["settings.json"])
	}

	// The pool changed: the package made before is stale.
	body := gateway("westeurope", s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.30.0.0/24"}}, "vpnClientProtocols": []string{"SSTP", "IkeV2"}}
	e.must("PUT", s.gw, body)
	changed := get()
	if changed == made {
		t.Errorf("after the pool changed: the package made before, %s", made)
	}
	if files := e.packageFiles(resp{body: mustJSON(t, changed)}); !strings.Contains(files["settings.json"], "172.30.0.0/24") {
		t.Errorf("after the pool changed, settings.json: %s; want the pool 172.30.0.0/24", files["settings.json"])
	}

	// Less than half an hour left: a new one.
	d := h.packages
	d.mu.Lock()
	name := changed[strings.LastIndex(changed, "/")+1:]
	f := d.m[name]
	f.expires = time.Now().Add(downloadLifetime/2 - time.Minute)
	d.m[name] = f
	d.mu.Unlock()
	if got := get(); got == changed {
		t.Errorf("with less than half an hour left: the same package, %s", got)
	}

	path := s.gw + "/getvpnprofilepackageurl"
	if r := e.do("GET", path, nil); r.status != http.StatusMethodNotAllowed || r.code() != "MethodNotAllowed" {
		t.Errorf("GET %s: %d %s; want 405", path, r.status, r.body)
	}
	o := e.site(subA, "other", "westeurope", "10.2.0.0/16", "RouteBased", "VpnGw1")
	if r := e.do("POST", o.gw+"/getvpnprofilepackageurl", nil); r.status != http.StatusBadRequest || r.code() != "VpnClientConfigurationNotFound" {
		t.Errorf("a gateway without point-to-site: %d %s; want 400 VpnClientConfigurationNotFound", r.status, r.body)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVPNClientIPsecParameters: the SDK's BeginSetVpnclientIPSecParameters
// sets the custom IPsec/IKE policy of a gateway's point-to-site clients,
// checked and kept as in its vpnClientConfiguration, and
// BeginGetVpnclientIPSecParameters reads it back (nothing before one is
// set); a policy vnetgw refuses and a gateway without point-to-site are
// told so.
func TestVPNClientIPsecParameters(t *testing.T) {
	e := newEnv(t, envOptions{tls: true})
	s := e.p2sSite("rg")
	gws, err := armnetwork.NewVirtualNetworkGatewaysClient(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	poll := &runtime.PollUntilDoneOptions{Frequency: time.Second}
	get := func() armnetwork.VPNClientIPsecParameters {
		t.Helper()
		p, err := gws.BeginGetVpnclientIPSecParameters(ctx, "rg", "gw", nil)
		if err != nil {
			t.Fatalf("BeginGetVpnclientIPSecParameters: %v", err)
		}
		res, err := p.PollUntilDone(ctx, poll)
		if err != nil {
			t.Fatalf("BeginGetVpnclientIPSecParameters' poller: %v", err)
		}
		return res.VPNClientIPsecParameters
	}
	if got := get(); got.IPSecEncryption != nil || got.SaLifeTimeSeconds != nil {
		t.Errorf("before a set: %s; want no policy", mustJSON(t, got))
	}

	pol := armnetwork.VPNClientIPsecParameters{
		SaLifeTimeSeconds: to.Ptr(int32(3600)), SaDataSizeKilobytes: to.Ptr(int32(102400000)),
		IPSecEncryption: to.Ptr(armnetwork.IPSecEncryption("gcmaes256")), IPSecIntegrity: to.Ptr(armnetwork.IPSecIntegrityGCMAES256),
		IkeEncryption: to.Ptr(armnetwork.IkeEncryptionAES256), IkeIntegrity: to.Ptr(armnetwork.IkeIntegritySHA384),
		DhGroup: to.Ptr(armnetwork.DhGroupECP384), PfsGroup: to.Ptr(armnetwork.PfsGroupECP384),
	}
	p, err := gws.BeginSetVpnclientIPSecParameters(ctx, "rg", "gw", pol, nil)
	if err != nil {
		t.Fatalf("BeginSetVpnclientIPSecParameters: %v", err)
	}
	set, err := p.PollUntilDone(ctx, poll)
	if err != nil {
		t.Fatalf("BeginSetVpnclientIPSecParameters' poller: %v", err)
	}
	if got := set.IPSecEncryption; got == nil || *got != armnetwork.IPSecEncryptionGCMAES256 {
		t.Errorf("the set's answer: %s; want the policy, ipsecEncryption GCMAES256", mustJSON(t, set))
	}
	if got := get(); got.IkeIntegrity == nil || *got.IkeIntegrity != armnetwork.IkeIntegritySHA384 || got.SaLifeTimeSeconds == nil || *got.SaLifeTimeSeconds != 3600 {
		t.Errorf("after the set: %s; want the policy set", mustJSON(t, got))
	}
	if got := e.must("GET", s.gw, nil).str("properties.vpnClientConfiguration.vpnClientIpsecPolicies.0.dhGroup"); got != "ECP384" {
		t.Errorf("the gateway's vpnClientIpsecPolicies[0].dhGroup: %q; want ECP384", got)
	}

	bad := mustJSON(t, pol)
	bad = bytes.Replace(bad, []byte(`"saLifeTimeSeconds":3600`), []byte(`"saLifeTimeSeconds":100`), 1)
	r := e.do("POST", s.gw+"/setvpnclientipsecparameters", json.RawMessage(bad))
	if r.status != http.StatusBadRequest || r.code() != "InvalidIpsecPolicy" || r.str("error.target") != "saLifeTimeSeconds" {
		t.Errorf("a lifetime of 100 s: %d %s; want 400 InvalidIpsecPolicy at saLifeTimeSeconds", r.status, r.body)
	}
	if got := get(); got.SaLifeTimeSeconds == nil || *got.SaLifeTimeSeconds != 3600 {
		t.Errorf("after a refused set: %s; want the policy as it was", mustJSON(t, got))
	}

	other := e.site(subA, "rg2", "westeurope", "10.2.0.0/16", "RouteBased", "VpnGw1")
	for _, op := range []string{"/getvpnclientipsecparameters", "/setvpnclientipsecparameters"} {
		r := e.do("POST", other.gw+op, json.RawMessage(mustJSON(t, pol)))
		if r.status != http.StatusBadRequest || r.code() != "InvalidParameter" || !strings.Contains(string(r.body), "no point-to-site configuration") {
			t.Errorf("%s of a gateway without point-to-site: %d %s; want 400 InvalidParameter", op, r.status, r.body)
		}
	}
}
