package cli

import (
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// vpn-connection list takes az's --vnet-gateway: the connections of one
// gateway of the group (az network vpn-connection list -g rg --vnet-gateway
// gw); it was refused as an unknown flag.
func TestConnectionListByGateway(t *testing.T) {
	startRegion(t)
	p2sGateway(t) // gw, and its connection conn to site
	must(t, "vnet", "create", "-g", "rg", "-n", "spoke", "--address-prefixes", "10.2.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.2.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw2-ip")
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw2", "--vnet", "spoke", "--public-ip-addresses", "gw2-ip")
	must(t, "local-gateway", "create", "-g", "rg", "-n", "site2", "--gateway-ip-address", "127.0.0.52", "--local-address-prefixes", "192.170.0.0/16")
	must(t, "vpn-connection", "create", "-g", "rg", "-n", "conn2", "--vnet-gateway1", "gw2", "--local-gateway2", "site2")

	names := func(args ...string) []string {
		t.Helper()
		var cs []arm.Connection
		mustJSON(t, &cs, args...)
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	if got := names("vpn-connection", "list", "-g", "rg"); len(got) != 2 {
		t.Errorf("vpn-connection list -g rg: %v, want conn and conn2", got)
	}
	if got := names("vpn-connection", "list", "-g", "rg", "--vnet-gateway", "gw2"); strings.Join(got, ",") != "conn2" {
		t.Errorf("vpn-connection list -g rg --vnet-gateway gw2: %v, want [conn2]", got)
	}
	if code, _, errOut := vnetgw(t, "vpn-connection", "list", "--vnet-gateway", "gw2"); code != 2 || !strings.Contains(errOut, "--resource-group/-g is required") {
		t.Errorf("vpn-connection list --vnet-gateway gw2 without -g: exit %d %s, want 2 and -g required", code, errOut)
	}
}
