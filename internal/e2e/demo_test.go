package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDemo runs `vnetgw demo` as a user would: it needs no root, brings up
// real tunnels between gateways on loopback and a point-to-site client,
// proves reachability and prints the connections, all Connected, with
// traffic counted. Run as root (as in
// CI), it runs the demo as user nobody, so that it is proven to need no
// privilege.
func TestDemo(t *testing.T) {
	cmd := exec.Command(binary, "demo", "--ike-port", "25500", "--natt-port", "25501", "--sstp-port", "25443", "--public-ip-pool", "127.21.0.0/24")
	if os.Geteuid() == 0 {
		cmd = asNobody(t, cmd)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vnetgw demo: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{`HTTP "hello from app`, `HTTP "hello from web`, `HTTP "hello from pc`, `alice  172.16.201.2 -> web`, "over SSTP", "removing everything"} {
		if !strings.Contains(s, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, s)
		}
	}
	table := s[strings.Index(s, "CONNECTION"):]
	if n := strings.Count(table, "Connected"); n != 4 {
		t.Fatalf("%d connections Connected, want 4:\n%s", n, s)
	}
	for _, line := range strings.Split(table, "\n")[1:5] {
		f := strings.Fields(line)
		if len(f) < 5 || f[3] == "0" || f[4] == "0" {
			t.Fatalf("no traffic counted on %q", line)
		}
	}
}

// asNobody returns cmd to run as user and group nobody (65534), from a copy
// of its program that nobody may run, with a home nobody may write.
func asNobody(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	dir, err := os.MkdirTemp("", "vnetgw-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	prog, err := os.ReadFile(cmd.Path)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "vnetgw")
	if err := os.WriteFile(bin, prog, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(bin, cmd.Args[1:]...)
	c.Dir = dir
	c.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "TMPDIR=" + dir}
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return c
}
