package cli

import (
	"strings"
	"testing"
)

// An unknown -o is refused before the command runs: the resource is not
// written (it was, and then the command failed).
func TestUnknownOutputFormatWritesNothing(t *testing.T) {
	startRegion(t)
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	code, out, errOut := vnetgw(t, "vnet", "create", "-g", "rg", "-n", "v", "-o", "yaml")
	if code == 0 || !strings.Contains(errOut, `--output/-o "yaml"`) {
		t.Errorf("-o yaml: exit %d, want an error that names it:\n%s%s", code, out, errOut)
	}
	if code, _, errOut := vnetgw(t, "vnet", "show", "-g", "rg", "-n", "v"); code == 0 || !strings.Contains(errOut, "NotFound") {
		t.Errorf("vnet create -o yaml created the network (show: exit %d %s)", code, errOut)
	}
}

// A mistyped subcommand is an error that suggests the right one (cobra
// printed the group's help and exited 0, so that a script went on); a
// group alone still prints its help.
func TestMistypedSubcommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vnet-gateway", "creat"}, `unknown command "creat" for "vnetgw vnet-gateway": did you mean create?`},
		{[]string{"vnet-gateway", "vpn-client", "generat"}, `did you mean generate?`},
		{[]string{"vnett"}, `unknown command "vnett" for "vnetgw"`},
	} {
		code, out, errOut := vnetgw(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("vnetgw %s: exit %d, want an error with %q:\n%s%s", strings.Join(tc.args, " "), code, tc.want, out, errOut)
		}
	}
	if code, out, _ := vnetgw(t, "vnet-gateway"); code != 0 || !strings.Contains(out, "Available Commands") {
		t.Errorf("vnetgw vnet-gateway: exit %d, want its help:\n%s", code, out)
	}
}

// group show and group delete without --name say it is required (they
// asked the API about the subscription, which answered InvalidResourceType).
func TestGroupNameRequired(t *testing.T) {
	startRegion(t)
	for _, verb := range []string{"show", "delete"} {
		code, out, errOut := vnetgw(t, "group", verb)
		if code == 0 || !strings.Contains(errOut, "--name/-n is required") {
			t.Errorf("group %s without -n: exit %d, want --name/-n is required:\n%s%s", verb, code, out, errOut)
		}
	}
}
