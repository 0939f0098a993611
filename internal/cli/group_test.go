package cli

import (
	"strings"
	"testing"
)

// TestGroupExistsAndWait: az's group exists and group wait, which
// scripts use to guard a create and to follow a delete --no-wait, were
// unknown commands. exists prints true or false and exits 0 either
// way; wait returns once the group is as asked.
func TestGroupExistsAndWait(t *testing.T) {
	startRegion(t)
	if out := must(t, "group", "exists", "-n", "rg"); strings.TrimSpace(out) != "false" {
		t.Errorf("group exists -n rg before it is made: %q, want false", out)
	}
	must(t, "group", "create", "-n", "rg", "-l", "westeurope")
	if out := must(t, "group", "exists", "-n", "rg"); strings.TrimSpace(out) != "true" {
		t.Errorf("group exists -n rg: %q, want true", out)
	}
	if out := must(t, "group", "exists", "-n", "rg", "-o", "tsv"); strings.TrimSpace(out) != "true" {
		t.Errorf("group exists -n rg -o tsv: %q, want true", out)
	}
	must(t, "group", "wait", "-n", "rg", "--created")
	must(t, "group", "delete", "-n", "rg", "--no-wait")
	must(t, "group", "wait", "-n", "rg", "--deleted")
	if out := must(t, "group", "exists", "-n", "rg"); strings.TrimSpace(out) != "false" {
		t.Errorf("group exists -n rg after its delete: %q, want false", out)
	}
	if code, out, errOut := vnetgw(t, "group", "wait", "-n", "other", "--exists", "--timeout", "1", "--interval", "1"); code != 1 || !strings.Contains(errOut, "group other is not there (--exists) after 1 s") {
		t.Errorf("group wait for a group that never comes: exit %d, %s%s; want exit 1 saying so", code, out, errOut)
	}
	if code, _, errOut := vnetgw(t, "group", "exists"); code != 2 || !strings.Contains(errOut, "--name/-n is required") {
		t.Errorf("group exists without a name: exit %d, %s; want exit 2 asking for it", code, errOut)
	}
}
