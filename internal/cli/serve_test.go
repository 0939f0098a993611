package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// serve, run by a user who may not bind the ports below 1024 (Linux's
// net.ipv4.ip_unprivileged_port_start), warns as it starts that gateways
// and point-to-site servers on such ports will not start, and which flags
// to give: the README's walk-through, run so with the defaults 500, 4500
// and 443, had its gateway fail later with "bind: permission denied" in
// the log and in its connection's connectionStatusReason alone. Ports
// above 1023 give no warning. As root, the test runs itself again as
// nobody.
func TestServeWarnsOfPortsItCannotBind(t *testing.T) {
	if os.Geteuid() == 0 {
		runAsNobody(t)
		return
	}
	if c, err := net.ListenPacket("udp", "127.0.0.1:500"); err == nil {
		c.Close()
		t.Skip("this user may bind port 500")
	} else if !errors.Is(err, syscall.EACCES) {
		t.Skipf("port 500 taken (%v): cannot tell whether this user may bind it", err)
	}
	for _, tc := range []struct {
		name  string
		ports []string
		want  []string
	}{
		{"defaults", nil, []string{
			"gateways will not start: as this user, ports below 1024 need CAP_NET_BIND_SERVICE (root has it); give --ike-port and --natt-port above 1023",
			"ike_port=500 natt_port=4500",
			"point-to-site servers (SSTP, OpenVPN) will not start",
			"sstp_port=443",
		}},
		{"ports above 1023", []string{"--ike-port", "1500", "--natt-port", "4501", "--sstp-port", "1443"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.ports...)
			code, out, errOut := serveUntilServing(t, args...)
			if code != 0 {
				t.Fatalf("vnetgw %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("vnetgw %s: no %q in its log:\n%s", strings.Join(args, " "), w, errOut)
				}
			}
			if tc.want == nil && strings.Contains(errOut, "level=WARN") {
				t.Errorf("vnetgw %s warns:\n%s", strings.Join(args, " "), errOut)
			}
		})
	}
}

// serve without --public-interface warns as it starts when the addresses
// of its --public-ip-pool are not the host's: a pool of public addresses
// given alone had its first gateway fail later with "bind: cannot assign
// requested address" in the log and in its connection's
// connectionStatusReason alone. A pool in 127.0.0.0/8 gives no warning.
func TestServeWarnsOfPoolNotLocal(t *testing.T) {
	// TEST-NET-2 (RFC 5737), no host's.
	if c, err := net.ListenPacket("udp", "198.51.100.1:0"); err == nil {
		c.Close()
		t.Skip("198.51.100.1 is this host's")
	}
	for _, tc := range []struct {
		pool string
		want string
	}{
		{"198.51.100.0/29", `msg="gateways will not start: the addresses of --public-ip-pool are not this host's; give --public-interface IFACE (root), which gets each gateway's address while it runs, or a pool of local addresses (127.0.0.0/8 is)" pool=198.51.100.1-198.51.100.6 addr=198.51.100.1`},
		{"127.22.0.0/24", ""},
	} {
		args := []string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--ike-port", "1500", "--natt-port", "4501", "--sstp-port", "1443", "--public-ip-pool", tc.pool}
		code, out, errOut := serveUntilServing(t, args...)
		switch {
		case code != 0:
			t.Errorf("vnetgw %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		case tc.want != "" && !strings.Contains(errOut, tc.want):
			t.Errorf("vnetgw %s: want %s in its log:\n%s", strings.Join(args, " "), tc.want, errOut)
		case tc.want == "" && strings.Contains(errOut, "level=WARN"):
			t.Errorf("vnetgw %s warns:\n%s", strings.Join(args, " "), errOut)
		}
	}
}

// An unknown --log-level is refused naming the levels serve takes: it said
// slog's words (slog: level string "verbose": unknown name). Case and
// slog's offsets (warn+2) are still taken.
func TestServeLogLevelNamesTheLevels(t *testing.T) {
	args := []string{"serve", "--data-dir", t.TempDir(), "--log-level", "verbose"}
	want := `error: --log-level "verbose": use debug, info, warn or error`
	if code, out, errOut := vnetgw(t, args...); code != 2 || strings.TrimSpace(errOut) != want {
		t.Errorf("vnetgw %s: exit %d, want %s\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
	for _, level := range []string{"DEBUG", "warn+2"} {
		args := []string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--ike-port", "1500", "--natt-port", "4501", "--sstp-port", "1443", "--log-level", level}
		if code, out, errOut := serveUntilServing(t, args...); code != 0 {
			t.Errorf("vnetgw %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// serveUntilServing runs a serve command line until it prints that it
// serves, then stops it as SIGINT does.
func serveUntilServing(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncWriter{cancel: cancel}
	// The line of serve's stop may come from a goroutine of its own
	// (context.AfterFunc) after Execute returned.
	errOut := &syncWriter{}
	code = Execute(ctx, args, out, errOut)
	return code, out.String(), errOut.String()
}

// syncWriter keeps what is written to it, from any goroutine; with
// cancel, it cancels serve's context once serve has said it serves.
type syncWriter struct {
	mu     sync.Mutex // guards b
	b      bytes.Buffer
	once   sync.Once
	cancel context.CancelFunc
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if w.cancel != nil && strings.Contains(w.b.String(), "vnetgw serving") {
		w.once.Do(w.cancel)
	}
	return len(p), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// runAsNobody runs the calling test again in a copy of the test binary as
// the user nobody (65534), and fails, or skips, as it does.
func runAsNobody(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary's own directory is root's alone.
	dir, err := os.MkdirTemp("", "vnetgw-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := dir + "/cli.test"
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "TMPDIR=/tmp"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("as nobody: %v\n%s", err, out)
	case bytes.Contains(out, []byte("--- SKIP")):
		t.Skipf("as nobody:\n%s", out)
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Fatalf("as nobody, the test did not run:\n%s", out)
	}
	t.Logf("as nobody:\n%s", out)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// serve with a bad flag value fails before it does anything else, with
// exit 1 and an error naming the flag and its value: no data directory,
// lock, CA, token or state made, no port bound. A --listen whose port or
// address could not be had made the whole data directory first and said
// "listen: ..."; a bad --public-ip-pool or --data-dir did not name the
// flag; a --tls-cert without --tls-key left the data directory and its
// lock behind.
func TestServeBadFlagFailsFirst(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(tmp, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"listen without a port", []string{"--listen", "nonsense"}, `--listen "nonsense": give HOST:PORT`},
		{"listen on a port over 65535", []string{"--listen", "127.183.0.1:99999"}, `--listen "127.183.0.1:99999": give HOST:PORT`},
		// TEST-NET-3 (RFC 5737), no host's.
		{"listen on an address not this host's", []string{"--listen", "203.0.113.7:0"}, `--listen "203.0.113.7:0": listen tcp 203.0.113.7:0: bind: cannot assign requested address`},
		{"a pool of /33", []string{"--public-ip-pool", "10.0.0.0/33"}, `--public-ip-pool: public IP pool "10.0.0.0/33": want a CIDR prefix or a range FIRST-LAST`},
		{"tls-cert without tls-key", []string{"--tls-cert", garbage}, `--tls-cert "` + garbage + `" without --tls-key`},
		{"tls-key without tls-cert", []string{"--tls-key", garbage}, `--tls-key "` + garbage + `" without --tls-cert`},
		{"tls files that are not PEM", []string{"--tls-cert", garbage, "--tls-key", garbage}, `--tls-cert "` + garbage + `", --tls-key "` + garbage + `": tls: failed to find any PEM data`},
		{"a data directory that is a file", []string{"--data-dir", file}, `--data-dir "` + file + `": not a directory`},
		{"advertise-url over http", []string{"--advertise-url", "http://127.183.0.1:7443"}, `--advertise-url "http://127.183.0.1:7443": give https://HOST:PORT`},
		{"dns-server without a port", []string{"--dns-server", "127.183.0.53"}, `--dns-server "127.183.0.53": give HOST:PORT`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"serve", "--data-dir", dir, "--listen", "127.183.0.1:0", "--ike-port", "1500", "--natt-port", "4501", "--sstp-port", "1443"}, tc.args...)
			code, out, errOut := vnetgw(t, args...)
			if code != 1 || !strings.HasPrefix(errOut, "error: "+tc.want) {
				t.Errorf("vnetgw %s: exit %d, want 1 and %q\n%s%s", strings.Join(args, " "), code, "error: "+tc.want, out, errOut)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("vnetgw %s made its data directory (%v)", strings.Join(args, " "), err)
			}
			if b, _ := os.ReadFile(file); string(b) != "not a directory\n" {
				t.Errorf("vnetgw %s changed %s: %q", strings.Join(args, " "), file, b)
			}
		})
	}
}
