package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeRADIUSConf is Debian's FreeRADIUS configuration, which StartFreeRADIUS
// copies and adds to.
const freeRADIUSConf = "/etc/freeradius/3.0"

// RequireFreeRADIUS is Require for tests that run FreeRADIUS.
func RequireFreeRADIUS(t testing.TB) {
	t.Helper()
	Require(t, "freeradius", freeRADIUSConf)
}

// StartFreeRADIUS runs FreeRADIUS in ns with Debian's configuration, the
// users (name to password) and one client: any address with the shared
// secret. It returns once FreeRADIUS is ready; it is stopped when the
// test ends.
func StartFreeRADIUS(t testing.TB, ns *NS, secret string, users map[string]string) *Process {
	t.Helper()
	return StartFreeRADIUSReplying(t, ns, secret, users, nil)
}

// StartFreeRADIUSReplying is StartFreeRADIUS whose Access-Accept for a
// user has the reply items replies names for that user too (in the
// users file's form: "Session-Timeout = 2").
func StartFreeRADIUSReplying(t testing.TB, ns *NS, secret string, users map[string]string, replies map[string][]string) *Process {
	t.Helper()
	// FreeRADIUS becomes user freerad: its directory is one that user
	// reaches (a test's own temporary directory is root's alone), and cp
	// -a keeps the files freerad's.
	parent, err := os.MkdirTemp("", "vnetgw-freeradius-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "conf")
	if out, err := exec.Command("cp", "-a", freeRADIUSConf, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy FreeRADIUS's configuration: %v\n%s", err, out)
	}
	var u strings.Builder
	for name, pw := range users {
		fmt.Fprintf(&u, "%s Cleartext-Password := %q\n", name, pw)
		if r := replies[name]; len(r) > 0 {
			fmt.Fprintf(&u, "\t%s\n", strings.Join(r, ",\n\t"))
		}
	}
	authorize := filepath.Join(dir, "mods-config", "files", "authorize")
	old, err := os.ReadFile(authorize)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(authorize, append([]byte(u.String()), old...), 0o640); err != nil {
		t.Fatal(err)
	}
	clients := fmt.Sprintf("\nclient vnetgw-test {\n\tipaddr = 0.0.0.0/0\n\tsecret = %s\n}\n", secret)
	f, err := os.OpenFile(filepath.Join(dir, "clients.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(clients)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	p := ns.Start("freeradius", "-X", "-d", dir)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(p.Output(), "Ready to process requests"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) || p.Wait(0) {
			p.Wait(time.Second)
			t.Fatalf("FreeRADIUS did not start (%v):\n%s", p.Cmd.ProcessState, p.Output())
		}
	}
	return p
}
