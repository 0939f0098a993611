package cli

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildVersion is what the Go toolchain recorded in the binary: the
// module's version ("(devel)" when built from a checkout without a tag,
// or a pseudo-version) and the VCS revision, its time, and "modified"
// when the tree had changes not committed.
type buildVersion struct {
	module, revision, time string
	modified               bool
}

func readBuildVersion() buildVersion {
	var v buildVersion
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.module = info.Main.Version
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.revision = s.Value
		case "vcs.time":
			v.time = s.Value
		case "vcs.modified":
			v.modified = s.Value == "true"
		}
	}
	return v
}

// String is the line vnetgw version prints: "v1.2.0 (revision 0123abcd,
// 2026-12-02T15:53:00Z, modified)".
func (v buildVersion) String() string {
	module := v.module
	if module == "" {
		module = "(unknown)" // a test binary, or built without module support
	}
	var vcs []string
	if v.revision != "" {
		vcs = append(vcs, "revision "+v.revision)
	}
	if v.time != "" {
		vcs = append(vcs, v.time)
	}
	if v.modified {
		vcs = append(vcs, "modified")
	}
	if len(vcs) == 0 {
		return module
	}
	return module + " (" + strings.Join(vcs, ", ") + ")"
}

func newVersion(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print vnetgw's version and the source revision it was built from",
		Long: `Print the version of vnetgw's module and, when it was built from a git
checkout, the commit, its time, and "modified" if the tree had changes not
committed. vnetgw --version prints the same.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(g.stdout, "vnetgw", readBuildVersion())
			return err
		},
	}
	return usesGlobals(cmd)
}
