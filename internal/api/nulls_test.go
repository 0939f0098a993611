package api

import (
	"encoding/json"
	"fmt"
	"testing"
)

// nullsIn returns the paths of the JSON nulls in v.
func nullsIn(path string, v any) []string {
	switch t := v.(type) {
	case nil:
		return []string{path}
	case map[string]any:
		var out []string
		for k, e := range t {
			out = append(out, nullsIn(path+"."+k, e)...)
		}
		return out
	case []any:
		var out []string
		for i, e := range t {
			out = append(out, nullsIn(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
		return out
	}
	return nil
}

// TestNoNullsInAnswers: what the API answers has no JSON null where the
// REST API specs have an array: a connection without custom IPsec
// policies or traffic selector policies shows "ipsecPolicies": [] and
// "trafficSelectorPolicies": [], and a VNet's dhcpOptions without DNS
// servers "dnsServers": [], as Azure's examples show them. They were
// null, which az prints as null and which a client that takes the
// spec's array at its word (Python's len(), a typed decoder that
// refuses null) fails on.
func TestNoNullsInAnswers(t *testing.T) {
	e := newEnv(t, envOptions{pool: "127.205.1.0/24"})
	s := e.site(subA, "rg", "westeurope", "10.1.0.0/16", "RouteBased", "VpnGw1")
	lng := e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")
	conn := netPath(subA, "rg", "connections", "c")
	body := vnet("westeurope", []string{"10.1.0.0/16"}, subnet("default", "10.1.0.0/24"), subnet("GatewaySubnet", "10.1.255.0/27"))
	body["properties"].(obj)["dhcpOptions"] = obj{}
	answers := map[string]resp{
		"PUT vnet":       e.must("PUT", s.vnet, body),
		"PUT connection": e.must("PUT", conn, s2s("westeurope", s.gw, lng)),
	}
	for _, p := range []string{rgPath(subA, "rg"), s.vnet, s.defaultSubnet, s.pip, s.gw, lng, conn,
		rgPath(subA, "rg") + "/providers/Microsoft.Network/connections", s.gw + "/connections"} {
		answers["GET "+p] = e.must("GET", p, nil)
	}
	for what, r := range answers {
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if nulls := nullsIn("", v); len(nulls) > 0 {
			t.Errorf("%s: null at %v", what, nulls)
		}
	}
}
