package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// FreeRADIUS is a FreeRADIUS server StartFreeRADIUS runs.
type FreeRADIUS struct {
	*Process
	// logDir holds its logs, and its accounting's detail files in
	// radacct.
	logDir string
}

// StartFreeRADIUS runs FreeRADIUS in ns with Debian's configuration, the
// users (name to password) and one client: any address with the shared
// secret. Its logs and accounting records go to a directory of its own.
// It returns once FreeRADIUS is ready; it is stopped when the test
// ends.
func StartFreeRADIUS(t testing.TB, ns *NS, secret string, users map[string]string) *FreeRADIUS {
	t.Helper()
	return StartFreeRADIUSReplying(t, ns, secret, users, nil)
}

// StartFreeRADIUSReplying is StartFreeRADIUS whose Access-Accept for a
// user has the reply items replies names for that user too (in the
// users file's form: "Session-Timeout = 2").
func StartFreeRADIUSReplying(t testing.TB, ns *NS, secret string, users map[string]string, replies map[string][]string) *FreeRADIUS {
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
	// Its logs, and the accounting's detail files and radwtmp, in
	// the test's directory, not the system's.
	logDir := filepath.Join(parent, "log")
	if out, err := exec.Command("install", "-d", "-o", "freerad", "-g", "freerad", logDir).CombinedOutput(); err != nil {
		t.Fatalf("make FreeRADIUS's log directory: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "radiusd.conf")
	rc, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	logdirLine := regexp.MustCompile(`(?m)^logdir = .*$`)
	if n := len(logdirLine.FindAll(rc, -1)); n != 1 {
		t.Fatalf("%s has %d logdir lines, want 1", conf, n)
	}
	rc = logdirLine.ReplaceAll(rc, []byte("logdir = "+logDir))
	if err := os.WriteFile(conf, rc, 0o640); err != nil {
		t.Fatal(err)
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
	return &FreeRADIUS{Process: p, logDir: logDir}
}

// Accounting returns the accounting records FreeRADIUS wrote (its detail
// files, one per NAS address), each file's in the order they came: each attribute's name to its value as
// written (a string in quotes, a number or a named value as it is).
func (f *FreeRADIUS) Accounting(t testing.TB) []map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(f.logDir, "radacct", "*", "detail-*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// A record is a line with its time, then a line for each
		// attribute, indented, then an empty line.
		var rec map[string]string
		for line := range strings.Lines(string(b)) {
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				rec = nil
			case !strings.HasPrefix(line, "\t"):
				rec = map[string]string{}
				out = append(out, rec)
			case rec != nil:
				if k, v, ok := strings.Cut(strings.TrimSpace(line), " = "); ok {
					rec[k] = v
				}
			}
		}
	}
	return out
}

// Session waits (10 s at most) for the Start and Stop records, among
// those after the first before of Accounting's, of a session at addr
// (its Framed-IP-Address), the first that ended, and returns them.
func (f *FreeRADIUS) Session(t testing.TB, before int, addr string) (start, stop map[string]string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		recs := f.Accounting(t)
		starts := map[string]map[string]string{} // by Acct-Session-Id
		for _, rec := range recs[min(before, len(recs)):] {
			if rec["Framed-IP-Address"] != addr {
				continue
			}
			id := rec["Acct-Session-Id"]
			switch rec["Acct-Status-Type"] {
			case "Start":
				starts[id] = rec
			case "Stop":
				if starts[id] != nil {
					return starts[id], rec
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Start and Stop records of a session at %s after 10 s; records: %v", addr, recs)
		}
	}
}
