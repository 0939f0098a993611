package netnstest

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// OwnMountNamespace lets a test change mounts that no other process sees
// (a file bound over one of the system's, a small file system). In the
// test binary's first run it runs the test again, in a mount namespace of
// its own, with $env set to what setup returns, fails t unless the test
// passes there, and returns "": the caller returns too. In that second
// run it returns $env's value, for the test to go on with.
func OwnMountNamespace(t *testing.T, env string, setup func() string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	Require(t) // root: a mount namespace
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+setup())
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in a mount namespace of its own: %v\n%s", t.Name(), err, out)
	}
	return ""
}
