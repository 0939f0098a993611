package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataDirRelativeXDGStateHome: a user whose $XDG_STATE_HOME is a
// relative path (which the XDG Base Directory Specification says to
// ignore) gets ~/.local/state/vnetgw as the data directory of serve and
// of the CLI, not a folder under whatever directory the command runs in.
func TestDataDirRelativeXDGStateHome(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run vnetgw as user nobody")
	}
	for _, args := range [][]string{{"serve", "--help"}, {"vnet", "list", "--help"}} {
		cmd := asNobody(t, exec.Command(binary, args...))
		home := cmd.Dir
		cmd.Env = append(cmd.Env, "XDG_STATE_HOME=state")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("vnetgw %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		want := `(default "` + filepath.Join(home, ".local", "state", "vnetgw") + `")`
		var line string
		for l := range strings.Lines(string(out)) {
			if strings.Contains(l, "--data-dir") {
				line = l
			}
		}
		if !strings.Contains(line, want) {
			t.Errorf("vnetgw %s: --data-dir line %q, want %s", strings.Join(args, " "), line, want)
		}
	}
}
