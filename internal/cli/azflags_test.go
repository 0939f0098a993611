package cli

import (
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// az's boolean flags take a value, and az's docs and scripts give one
// (vpn-connection update --enable-bgp true, route-table create
// --disable-bgp-route-propagation true, "yes" and "no" too): the word
// after the flag was refused as an unknown command.
func TestAzBooleanValues(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	show := func() bool {
		t.Helper()
		var rt arm.RouteTable
		mustJSON(t, &rt, "route-table", "show", "-g", "rg", "-n", "rt")
		return rt.Properties.DisableBGPRoutePropagation
	}
	for _, tc := range []struct {
		flags []string
		want  bool
	}{
		{[]string{"--disable-bgp-route-propagation", "true"}, true},
		{[]string{"--disable-bgp-route-propagation", "false"}, false},
		{[]string{"--disable-bgp-route-propagation", "yes", "-o", "table"}, true},
		{[]string{"--disable-bgp-route-propagation=no"}, false},
		{[]string{"--disable-bgp-route-propagation"}, true},
	} {
		args := append([]string{"route-table", "create", "-g", "rg", "-n", "rt"}, tc.flags...)
		if code, out, errOut := vnetgw(t, args...); code != 0 {
			t.Errorf("vnetgw %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
			continue
		}
		if got := show(); got != tc.want {
			t.Errorf("%s: disableBgpRoutePropagation %v, want %v", strings.Join(tc.flags, " "), got, tc.want)
		}
	}
	// Any other word after a boolean is still refused.
	code, _, errOut := vnetgw(t, "route-table", "update", "-g", "rg", "-n", "rt", "--disable-bgp-route-propagation", "maybe")
	if code == 0 || !strings.Contains(errOut, `unknown command "maybe"`) {
		t.Errorf("--disable-bgp-route-propagation maybe: exit %d, want the word refused\n%s", code, errOut)
	}
}
