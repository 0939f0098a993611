package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// script asks for the device configuration of connection conn and returns
// it.
func (e *env) script(conn string, body any) string {
	e.t.Helper()
	r := e.must("POST", conn+"/vpndeviceconfigurationscript", body)
	var s string
	if err := json.Unmarshal(r.body, &s); err != nil {
		e.t.Fatalf("the script is not a JSON string: %v: %s", err, r.body)
	}
	return s
}

// lines checks that every line of want stands in the script, trimmed.
func lines(t *testing.T, script string, want ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, l := range strings.Split(script, "\n") {
		have[strings.TrimSpace(l)] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("no line %q in the script:\n%s", w, script)
		}
	}
}

// TestR7DeviceConfigurationScript covers .../vpndeviceconfigurationscript
// (R7: the validated device and its configuration sample): the
// swanctl.conf of the device at the far end of a site-to-site connection
// mirrors what the gateway negotiates: addresses, identities, the shared
// key, the proposals (defaults or the custom policy), the selectors (the
// site's ranges against the VNet's and, for transit, the other sites' (R37);
// everything for the default site of forced tunneling (R25); one child SA
// per pair of ranges on a policy-based gateway (R18)) and who starts the
// tunnel (connectionMode, and R8's on-demand tunnels).
func TestR7DeviceConfigurationScript(t *testing.T) {
	e := newEnv(t)
	hub := e.site(subA, "dev", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	gwAddr := e.must("GET", hub.pip, nil).str("properties.ipAddress")
	branch := e.lng(hub, "branch", "203.0.113.10", "192.168.1.0/24", "192.168.2.0/24")
	other := e.lng(hub, "other", "203.0.113.20", "172.16.0.0/16")
	conn := netPath(subA, "dev", "connections", "to-branch")
	e.must("PUT", conn, s2s("westeurope", hub.gw, branch))
	e.must("PUT", netPath(subA, "dev", "connections", "to-other"), s2s("westeurope", hub.gw, other))
	key := e.must("GET", conn+"/sharedkey", nil).str("value")

	got := e.script(conn, obj{"vendor": "strongSwan", "deviceFamily": "swanctl", "firmwareVersion": "5.9"})
	lines(t, got,
		"local_addrs = 203.0.113.10", "remote_addrs = "+gwAddr,
		"id = 203.0.113.10", "id = "+gwAddr,
		"local_ts = 192.168.1.0/24, 192.168.2.0/24", "remote_ts = 10.1.0.0/16, 172.16.0.0/16",
		"proposals = aes256gcm16-aes128gcm16-prfsha256-prfsha384-prfsha512-ecp256-ecp384-x25519-modp2048, aes256-aes192-aes128-sha256-sha384-sha512-sha1-ecp256-ecp384-x25519-modp2048",
		"esp_proposals = aes256gcm16-aes128gcm16, aes256-aes192-aes128-sha256-sha384-sha512-sha1",
		"dpd_delay = 11s", "start_action = none", `secret = "`+key+`"`)
	if strings.Contains(got, "remote_port") {
		t.Errorf("remote_port with the default ports:\n%s", got)
	}
	if e.script(conn, "") != got {
		t.Error("without a body the script is not strongSwan's")
	}

	t.Run("ResponderOnly", func(t *testing.T) {
		c := s2s("westeurope", hub.gw, branch)
		c["properties"].(obj)["connectionMode"] = "ResponderOnly"
		c["properties"].(obj)["sharedKey"] = key
		e.must("PUT", conn, c)
		lines(t, e.script(conn, obj{}), "start_action = start", "close_action = start", "dpd_action = restart")
	})
	t.Run("custom policy", func(t *testing.T) {
		c := s2s("westeurope", hub.gw, branch)
		c["properties"].(obj)["sharedKey"] = key
		c["properties"].(obj)["dpdTimeoutSeconds"] = 20
		c["properties"].(obj)["ipsecPolicies"] = []obj{{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 1024000,
			"ipsecEncryption": "AES256", "ipsecIntegrity": "SHA256", "ikeEncryption": "GCMAES256", "ikeIntegrity": "SHA384",
			"dhGroup": "ECP384", "pfsGroup": "PFS2048"}}
		e.must("PUT", conn, c)
		lines(t, e.script(conn, obj{}), "proposals = aes256gcm16-prfsha384-ecp384", "esp_proposals = aes256-sha256-modp2048",
			"life_time = 3600s", "rekey_time = 3240s", "life_bytes = 1048576000", "rekey_bytes = 943718400", "dpd_delay = 5s",
			"start_action = none")
	})
	t.Run("R25 default site", func(t *testing.T) {
		g := gateway("westeurope", hub.gwSubnet, hub.pip, "RouteBased", "VpnGw1")
		g["properties"].(obj)["gatewayDefaultSite"] = obj{"id": branch}
		e.must("PUT", hub.gw, g)
		lines(t, e.script(conn, obj{}), "local_ts = 0.0.0.0/0", "remote_ts = 10.1.0.0/16, 172.16.0.0/16")
		lines(t, e.script(netPath(subA, "dev", "connections", "to-other"), obj{}), "local_ts = 172.16.0.0/16", "remote_ts = 10.1.0.0/16, 192.168.1.0/24, 192.168.2.0/24")
	})
	t.Run("R18 policy-based", func(t *testing.T) {
		pb := e.site(subA, "pb", "westeurope", "10.5.0.0/16", "PolicyBased", "Basic")
		l := e.lng(pb, "branch", "203.0.113.30", "192.168.7.0/24", "192.168.8.0/24")
		c := netPath(subA, "pb", "connections", "pb")
		e.must("PUT", c, s2s("westeurope", pb.gw, l))
		got := e.script(c, obj{})
		lines(t, got, "net-1 {", "net-2 {", "local_ts = 192.168.7.0/24", "local_ts = 192.168.8.0/24", "remote_ts = 10.5.0.0/16",
			"start_action = trap", "close_action = trap", "dpd_action = trap")
		if strings.Contains(got, "net-3") {
			t.Errorf("more child SAs than pairs of ranges:\n%s", got)
		}
	})

	t.Run("trafficSelectorPolicies", func(t *testing.T) {
		c := s2s("westeurope", hub.gw, branch)
		c["properties"].(obj)["sharedKey"] = key
		c["properties"].(obj)["trafficSelectorPolicies"] = []obj{{"localAddressRanges": []string{"10.1.0.0/24"}, "remoteAddressRanges": []string{"192.168.1.0/25"}}}
		if r := e.do("PUT", conn, c); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" || !strings.Contains(string(r.body), "usePolicyBasedTrafficSelectors") {
			t.Fatalf("custom selectors on a route-based connection without usePolicyBasedTrafficSelectors: %d %s", r.status, r.body)
		}
		c["properties"].(obj)["usePolicyBasedTrafficSelectors"] = true
		c["properties"].(obj)["ipsecPolicies"] = []obj{{"saLifeTimeSeconds": 3600, "saDataSizeKilobytes": 1024000,
			"ipsecEncryption": "GCMAES256", "ipsecIntegrity": "GCMAES256", "ikeEncryption": "GCMAES256", "ikeIntegrity": "SHA256",
			"dhGroup": "ECP256", "pfsGroup": "None"}}
		c["properties"].(obj)["trafficSelectorPolicies"] = []obj{{"localAddressRanges": []string{"10.1.0.0/24"}, "remoteAddressRanges": []string{}}}
		if r := e.do("PUT", conn, c); r.status != http.StatusBadRequest || r.code() != "InvalidParameter" {
			t.Fatalf("a selector policy without remote ranges: %d %s", r.status, r.body)
		}
		c["properties"].(obj)["trafficSelectorPolicies"] = []obj{{"localAddressRanges": []string{"10.1.0.0/24", "10.1.1.0/24"}, "remoteAddressRanges": []string{"192.168.1.0/25"}}}
		e.must("PUT", conn, c)
		got := e.script(conn, obj{})
		lines(t, got, "net-1 {", "net-2 {", "local_ts = 192.168.1.0/25", "remote_ts = 10.1.0.0/24", "remote_ts = 10.1.1.0/24")
		if strings.Contains(got, "net-3") || strings.Contains(got, "192.168.2.0/24") {
			t.Errorf("children beyond the custom selectors:\n%s", got)
		}
		e.must("PUT", conn, s2s("westeurope", hub.gw, branch)) // back to the default
	})

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"another vendor", "POST", conn + "/vpndeviceconfigurationscript", obj{"vendor": "Cisco", "deviceFamily": "ISR"}, http.StatusBadRequest, "UnsupportedVpnDevice"},
		{"an old strongSwan", "POST", conn + "/vpndeviceconfigurationscript", obj{"vendor": "strongSwan", "firmwareVersion": "5.3"}, http.StatusBadRequest, "UnsupportedVpnDevice"},
		{"no such connection", "POST", netPath(subA, "dev", "connections", "nope") + "/vpndeviceconfigurationscript", obj{}, http.StatusNotFound, "ResourceNotFound"},
		{"no such group", "POST", netPath(subA, "nogroup", "connections", "c") + "/vpndeviceconfigurationscript", obj{}, http.StatusNotFound, "ResourceGroupNotFound"},
		{"GET", "GET", conn + "/vpndeviceconfigurationscript", nil, http.StatusMethodNotAllowed, "MethodNotAllowed"},
		{"bad JSON", "POST", conn + "/vpndeviceconfigurationscript", "{", http.StatusBadRequest, "InvalidRequestFormat"},
		{"no such gateway", "POST", netPath(subA, "dev", "virtualNetworkGateways", "nope") + "/supportedvpndevices", nil, http.StatusNotFound, "ResourceNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body)
			if r.status != tc.status || r.code() != tc.code {
				t.Fatalf("%d %s, want %d %s: %s", r.status, r.code(), tc.status, tc.code, r.body)
			}
		})
	}

	t.Run("VNet-to-VNet", func(t *testing.T) {
		spoke := e.site(subA, "spoke", "westeurope", "10.9.0.0/16", "RouteBased", "VpnGw1")
		c := netPath(subA, "dev", "connections", "v2v")
		e.must("PUT", c, v2v("westeurope", hub.gw, spoke.gw))
		if r := e.do("POST", c+"/vpndeviceconfigurationscript", obj{}); r.status != http.StatusBadRequest || r.code() != "UnsupportedConnectionType" {
			t.Fatalf("%d %s: %s", r.status, r.code(), r.body)
		}
	})
	t.Run("supported devices", func(t *testing.T) {
		var xml string
		if err := json.Unmarshal(e.must("POST", hub.gw+"/supportedvpndevices", nil).body, &xml); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(xml, `<Vendor name="strongSwan">`) || !strings.Contains(xml, `<DeviceFamily name="swanctl">`) {
			t.Fatalf("supported devices: %s", xml)
		}
	})
}
