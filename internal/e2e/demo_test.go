package e2e

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vnetgw/vnetgw/internal/sigtest"
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
	// The lines of who reached whom are columns: alice's address, the
	// widest, pushed her line's arrow one place right of the others'.
	arrow := -1
	for _, line := range strings.Split(s, "\n") {
		i := strings.Index(line, " -> ")
		if i < 0 {
			continue
		}
		if arrow >= 0 && i != arrow {
			t.Fatalf("%q: its arrow is at %d, the lines' above at %d:\n%s", line, i, arrow, s)
		}
		arrow = i
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

// TestDemoKeepHintAndSIGTERM runs `vnetgw demo --keep` as a user would:
// the command its "Try:" line prints lists the demo's connections, and
// SIGTERM (as Ctrl-C) ends the region through the clean-up, which removes
// the temporary data directory with its admin token and CA key.
func TestDemoKeepHintAndSIGTERM(t *testing.T) {
	cmd := exec.Command(binary, "demo", "--keep", "--ike-port", "25510", "--natt-port", "25511", "--sstp-port", "25444", "--public-ip-pool", "127.21.1.0/24")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	var printed strings.Builder
	var try []string
	for try == nil && lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if _, hint, ok := strings.Cut(lines.Text(), "Try: "); ok {
			try = strings.Fields(hint)
		}
	}
	if len(try) < 3 || !strings.HasPrefix(try[0], "VNETGW_DATA_DIR=") || try[1] != "vnetgw" {
		t.Fatalf("no \"Try: VNETGW_DATA_DIR=DIR vnetgw ...\" line:\n%s%s", printed.String(), stderr.String())
	}
	dir := strings.TrimPrefix(try[0], "VNETGW_DATA_DIR=")
	out, errOut, err := cliEnv(t, try[:1], try[2:]...)
	if err != nil || strings.Count(out, "Connected") != 2 {
		t.Fatalf("the demo's hint %s: %v\n%s%s", strings.Join(try, " "), err, out, errOut)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo --keep after SIGTERM: %v\n%s%s", err, rest, stderr.String())
	}
	if !regexp.MustCompile(`removing everything +ok`).Match(rest) {
		t.Errorf("no clean-up after SIGTERM:\n%s", rest)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the demo's data directory %s is still there after SIGTERM (%v)", dir, err)
	}
}

// TestDemoFailureKeepsLog makes the demo fail (a public IP pool of two
// addresses for its three gateways): the error names the region's log,
// which must still be there to be read.
func TestDemoFailureKeepsLog(t *testing.T) {
	out, err := exec.Command(binary, "demo", "--ike-port", "25520", "--natt-port", "25521", "--sstp-port", "25445", "--public-ip-pool", "127.21.2.1-127.21.2.2").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "PublicIPAddressPoolExhausted") {
		t.Fatalf("demo with two addresses for three gateways: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(/\S+/vnetgw\.log)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the error names no log:\n%s", out)
	}
	log := string(m[1])
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(log)) })
	if b, err := os.ReadFile(log); err != nil || len(b) == 0 {
		t.Errorf("the log the error names (%s) cannot be read: %v", log, err)
	}
}

// TestDemoInterruptedWithItsReaderGone runs `vnetgw demo --keep | tee
// demo.txt` and presses Ctrl-C, which ends tee as well as the demo: the
// demo's clean-up still runs and removes the data directory with its
// admin token and CA key. Its first line after Ctrl-C, written to the
// pipe with no reader, ended it by SIGPIPE, the directory left in /tmp.
func TestDemoInterruptedWithItsReaderGone(t *testing.T) {
	cmd := exec.Command(binary, "demo", "--keep", "--ike-port", "25550", "--natt-port", "25551", "--sstp-port", "25447", "--public-ip-pool", "127.21.5.0/24")
	dir, out := demoKept(t, cmd)
	out.Close() // tee, ended by the same Ctrl-C: the pipe has no reader
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if _, serr := os.Stat(dir); err != nil || !errors.Is(serr, fs.ErrNotExist) {
		os.RemoveAll(dir)
		t.Errorf("demo --keep piped to a reader gone, Ctrl-C: %v, want exit 0; its data directory %s: %v, want removed", err, dir, serr)
	}
}

// demoKept starts cmd, a `vnetgw demo --keep`, its standard output a pipe,
// and returns the demo's data directory, once the demo keeps its region
// running, and the pipe's read end.
func demoKept(t *testing.T, cmd *exec.Cmd) (string, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd.Stdout, cmd.Stderr = w, io.Discard
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	lines := bufio.NewScanner(r)
	var printed strings.Builder
	for lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if _, hint, ok := strings.Cut(lines.Text(), "Try: VNETGW_DATA_DIR="); ok {
			return strings.Fields(hint)[0], r
		}
	}
	t.Fatalf("demo --keep printed no \"Try: VNETGW_DATA_DIR=DIR\":\n%s", printed.String())
	return "", nil
}

// TestDemoKeepHangup closes the terminal of a `vnetgw demo --keep`
// (SIGHUP): the demo ends through its clean-up, as on Ctrl-C, and removes
// its data directory. SIGHUP's default ended it at once, the directory
// with its admin token and CA key left in /tmp.
func TestDemoKeepHangup(t *testing.T) {
	sigtest.HangupAtDefault() // under nohup, the demo kept running and the test waited for it
	cmd := exec.Command(binary, "demo", "--keep", "--ike-port", "25560", "--natt-port", "25561", "--sstp-port", "25448", "--public-ip-pool", "127.21.6.0/24")
	dir, _ := demoKept(t, cmd)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if _, serr := os.Stat(dir); err != nil || !errors.Is(serr, fs.ErrNotExist) {
		os.RemoveAll(dir)
		t.Errorf("demo --keep, SIGHUP: %v, want exit 0; its data directory %s: %v, want removed", err, dir, serr)
	}
}
