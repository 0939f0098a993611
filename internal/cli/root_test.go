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
