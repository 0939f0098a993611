package cli

import (
	"slices"
	"strings"
	"testing"
)

// TestResourceList: vnetgw resource list, as az resource list, lists the
// resources of every type of a group or of the subscription, and
// --resource-type, --name and --tag keep those that match; a group that
// does not exist is an error that says so.
func TestResourceList(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	must(t, "group", "create", "-n", "other", "-l", "westeurope")
	must(t, "vnet", "create", "-g", "rg", "-n", "hub", "--address-prefixes", "10.1.0.0/16", "--subnet-name", "default", "--tags", "env=prod")
	must(t, "vnet", "create", "-g", "other", "-n", "spoke", "--address-prefixes", "10.2.0.0/16")
	must(t, "route-table", "create", "-g", "rg", "-n", "rt", "--tags", "owner=it's")
	must(t, "local-gateway", "create", "-g", "rg", "-n", "Branch", "--gateway-ip-address", "127.208.0.51", "--local-address-prefixes", "192.168.1.0/24")

	names := func(args ...string) []string {
		t.Helper()
		var rs []struct{ Name, Type string }
		mustJSON(t, &rs, append([]string{"resource", "list"}, args...)...)
		var out []string
		for _, r := range rs {
			if !strings.HasPrefix(r.Type, "Microsoft.Network/") {
				t.Errorf("resource list %v: %s has type %q", args, r.Name, r.Type)
			}
			out = append(out, r.Name)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-g", "rg"}, []string{"Branch", "hub", "rt"}},
		{nil, []string{"Branch", "hub", "rt", "spoke"}},
		{[]string{"--resource-type", "Microsoft.Network/virtualNetworks"}, []string{"hub", "spoke"}},
		{[]string{"-g", "rg", "--resource-type", "Microsoft.Network/virtualNetworks"}, []string{"hub"}},
		{[]string{"--name", "BRANCH"}, []string{"Branch"}},
		{[]string{"--tag", "owner=it's"}, []string{"rt"}},
		{[]string{"--tag", "env=prod"}, []string{"hub"}},
		{[]string{"-g", "other", "--name", "hub"}, nil},
	} {
		if got := names(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("resource list %v: %v, want %v", tc.args, got, tc.want)
		}
	}
	if out := must(t, "resource", "list", "-g", "rg", "-o", "table"); !strings.Contains(out, "Microsoft.Network/routeTables") {
		t.Errorf("resource list -o table shows no types:\n%s", out)
	}
	code, _, errOut := vnetgw(t, "resource", "list", "-g", "nope")
	if code == 0 || !strings.Contains(errOut, "ResourceGroupNotFound") {
		t.Errorf("resource list -g nope: exit %d, %s", code, errOut)
	}
	code, _, errOut = vnetgw(t, "resource", "list", "--tag", "env", "--name", "hub")
	if code == 0 || !strings.Contains(errOut, "--tag filters by itself") {
		t.Errorf("resource list --tag --name: exit %d, %s", code, errOut)
	}
}
