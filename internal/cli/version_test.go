package cli

import (
	"strings"
	"testing"
)

// vnetgw version and vnetgw --version print one line, the same: what a
// user quotes in a bug report. There was no way to tell which build ran.
func TestVersionCommandAndFlag(t *testing.T) {
	want := "vnetgw " + readBuildVersion().String() + "\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := vnetgw(t, args...)
		if code != 0 || out != want {
			t.Errorf("vnetgw %s: exit %d, %q, want %q\n%s", strings.Join(args, " "), code, out, want, errOut)
		}
	}
}

// The version line names the module version and the commit the binary was
// built from, its time, and whether the tree had changes.
func TestBuildVersionString(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    buildVersion
		want string
	}{
		{"tagged release", buildVersion{module: "v1.2.0", revision: "0123abcd", time: "2026-12-02T15:53:00Z"}, "v1.2.0 (revision 0123abcd, 2026-12-02T15:53:00Z)"},
		{"changes not committed", buildVersion{module: "(devel)", revision: "0123abcd", time: "2026-12-02T15:53:00Z", modified: true}, "(devel) (revision 0123abcd, 2026-12-02T15:53:00Z, modified)"},
		{"no VCS information", buildVersion{module: "(devel)"}, "(devel)"},
		{"no build information", buildVersion{}, "(unknown)"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// serve logs its version as it starts, so that a log sent with a bug
// report says which build wrote it.
func TestServeLogsItsVersion(t *testing.T) {
	args := []string{"serve", "--data-dir", t.TempDir(), "--listen", "127.194.0.1:0", "--ike-port", "1500", "--natt-port", "4501", "--sstp-port", "1443", "--public-ip-pool", "127.194.1.0/24"}
	code, out, errOut := serveUntilServing(t, args...)
	if want := `msg="vnetgw starting" version=`; code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("vnetgw %s: exit %d, want %s in its log:\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
}
