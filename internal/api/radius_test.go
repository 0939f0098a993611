package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRadiusServers: a gateway's RADIUS servers (vpnAuthenticationTypes
// Radius) are checked; their secrets are written and never read back,
// except by listRadiusSecrets; a PUT of what a GET gave (no secret)
// keeps them. SSTP clients authenticate with RADIUS too (MS-CHAPv2).
func TestRadiusServers(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	clients := obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientProtocols": []string{"OpenVPN", "SSTP"},
		"vpnAuthenticationTypes": []string{"Radius"}, "radiusServerAddress": "10.1.0.9", "radiusServerSecret": "s3cr3t-shared"}
	body["properties"].(obj)["vpnClientConfiguration"] = clients
	put := e.must(http.MethodPut, s.gw, body)
	if strings.Contains(string(put.body), "s3cr3t-shared") {
		t.Errorf("the PUT's answer shows the RADIUS secret: %s", put.body)
	}
	get := e.must(http.MethodGet, s.gw, nil)
	if strings.Contains(string(get.body), "s3cr3t-shared") || get.str("properties.vpnClientConfiguration.radiusServerAddress") != "10.1.0.9" {
		t.Errorf("GET: %s", get.body)
	}
	list := e.must(http.MethodPost, s.gw+"/listRadiusSecrets", nil)
	if list.str("value.0.radiusServerAddress") != "10.1.0.9" || list.str("value.0.radiusServerSecret") != "s3cr3t-shared" {
		t.Errorf("listRadiusSecrets: %s", list.body)
	}
	// The read-modify-write of a client that never saw the secret.
	var again obj
	if err := json.Unmarshal(get.body, &again); err != nil {
		t.Fatal(err)
	}
	e.must(http.MethodPut, s.gw, again)
	if l := e.must(http.MethodPost, s.gw+"/listRadiusSecrets", nil); l.str("value.0.radiusServerSecret") != "s3cr3t-shared" {
		t.Errorf("a PUT without the secret lost it: %s", l.body)
	}

	// Radius taken out of the types: the servers a GET showed go with
	// it, and so do their secrets.
	var off obj
	if err := json.Unmarshal(e.must(http.MethodGet, s.gw, nil).body, &off); err != nil {
		t.Fatal(err)
	}
	off["properties"].(map[string]any)["vpnClientConfiguration"].(map[string]any)["vpnAuthenticationTypes"] = []string{"Certificate"}
	off["properties"].(map[string]any)["vpnClientConfiguration"].(map[string]any)["vpnClientProtocols"] = []string{"OpenVPN"}
	if r := e.must(http.MethodPut, s.gw, off); r.str("properties.vpnClientConfiguration.radiusServerAddress") != "" {
		t.Errorf("the RADIUS server stays after Radius went: %s", r.body)
	}
	if l := e.must(http.MethodPost, s.gw+"/listRadiusSecrets", nil); len(l.field("value").([]any)) != 0 {
		t.Errorf("listRadiusSecrets after Radius went: %s", l.body)
	}

	for name, change := range map[string]func(c obj){
		"no secret for a new server": func(c obj) { c["radiusServerAddress"] = "10.1.0.10"; delete(c, "radiusServerSecret") },
		"an address that is no IP":   func(c obj) { c["radiusServerAddress"] = "radius.example" },
		"both forms": func(c obj) {
			c["radiusServers"] = []obj{{"radiusServerAddress": "10.1.0.11", "radiusServerScore": 5, "radiusServerSecret": "x"}}
		},
		"a score out of range": func(c obj) {
			delete(c, "radiusServerAddress")
			c["radiusServers"] = []obj{{"radiusServerAddress": "10.1.0.11", "radiusServerScore": 31, "radiusServerSecret": "x"}}
		},
	} {
		c := obj{}
		for k, v := range clients {
			c[k] = v
		}
		change(c)
		body["properties"].(obj)["vpnClientConfiguration"] = c
		if r := e.do(http.MethodPut, s.gw, body); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
}

// TestVPNClientPackageForRadius: a gateway whose clients RADIUS
// authenticates by user name and password has its VPN client package
// made for authenticationMethod EAPMSCHAPv2, as Azure's documentation
// has it (New-AzVpnClientConfiguration -AuthenticationMethod EapMSChapv2,
// az's vpn-client generate --authentication-method EAPMSCHAPv2); it was
// refused, as if vnetgw's clients authenticated with certificates only.
func TestVPNClientPackageForRadius(t *testing.T) {
	e := newEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	body := gateway(loc, s.gwSubnet, s.pip, "RouteBased", "VpnGw1")
	body["properties"].(obj)["vpnClientConfiguration"] = obj{"vpnClientAddressPool": obj{"addressPrefixes": []string{"172.31.0.0/24"}}, "vpnClientProtocols": []string{"SSTP"},
		"vpnAuthenticationTypes": []string{"Radius"}, "radiusServerAddress": "10.1.0.9", "radiusServerSecret": "s3cr3t-shared"}
	e.must(http.MethodPut, s.gw, body)
	r := e.do(http.MethodPost, s.gw+"/generatevpnclientpackage", obj{"processorArchitecture": "Amd64", "authenticationMethod": "EAPMSCHAPv2"})
	var u string
	if r.status != http.StatusOK || json.Unmarshal(r.body, &u) != nil || !strings.Contains(u, "/vpnclientpackage/") {
		t.Fatalf("EAPMSCHAPv2 for a RADIUS gateway: %d %s, want the package's URL", r.status, r.body)
	}
	if r := e.do(http.MethodPost, s.gw+"/generatevpnclientpackage", obj{"authenticationMethod": "PSK"}); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" {
		t.Errorf("an authenticationMethod that is none: %d %s, want 400 InvalidParameter", r.status, r.body)
	}
}
