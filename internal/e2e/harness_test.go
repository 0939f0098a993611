// Package e2e tests the real vnetgw binary: it is built once, then started
// as `vnetgw serve` processes that the tests drive over HTTPS, stop, kill
// and start again.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
)

// binary is the vnetgw built for this test run.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vnetgw-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "vnetgw")
	out, err := exec.Command("go", "build", "-o", binary, "github.com/vnetgw/vnetgw/cmd/vnetgw").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building vnetgw: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serve is a running `vnetgw serve`.
type serve struct {
	t       testing.TB
	dataDir string
	cmd     *exec.Cmd
	url     string
	stderr  *os.File
	exited  chan struct{}

	mu     sync.Mutex // guards stdout
	stdout []string   // the lines serve printed
}

// startServe starts vnetgw serve on dataDir with a free loopback port and
// waits until it serves. The process is killed when the test ends.
func startServe(t testing.TB, dataDir string, args ...string) *serve {
	t.Helper()
	errf, err := os.Create(filepath.Join(t.TempDir(), "serve.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = errf
	return runServe(t, dataDir, cmd, errf)
}

// runServe starts cmd, a vnetgw serve on dataDir whose standard error is
// set (to errf, when a file), and waits until it serves. The process is
// killed when the test ends.
func runServe(t testing.TB, dataDir string, cmd *exec.Cmd, errf *os.File) *serve {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &serve{t: t, dataDir: dataDir, cmd: cmd, stderr: errf, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.exited
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.mu.Lock()
			s.stdout = append(s.stdout, sc.Text())
			s.mu.Unlock()
			if u, ok := strings.CutPrefix(sc.Text(), "vnetgw serving "); ok {
				lines <- u
			}
		}
	}()
	select {
	case s.url = <-lines:
	case <-s.exited:
		t.Fatalf("vnetgw serve exited at start:\n%s", s.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("vnetgw serve did not start within 20s:\n%s", s.log())
	}
	return s
}

// printed returns the lines serve printed on its standard output so far.
func (s *serve) printed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stdout)
}

func (s *serve) log() string {
	if s.stderr == nil {
		return "" // not a file's
	}
	b, _ := os.ReadFile(s.stderr.Name())
	return string(b)
}

// stop sends SIGTERM and waits for a clean exit.
func (s *serve) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.t.Fatalf("vnetgw serve did not stop within 15s of SIGTERM:\n%s", s.log())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("vnetgw serve exited with %d after SIGTERM:\n%s", code, s.log())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *serve) kill() {
	s.cmd.Process.Kill()
	<-s.exited
}

// waitRefusing waits until serve, sent SIGTERM, takes no connection at
// host: its stop has begun.
func (s *serve) waitRefusing(t *testing.T, host string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		nc, err := net.Dial("tcp", host)
		if err != nil {
			return
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatalf("serve still takes connections 30 s after SIGTERM:\n%s", s.log())
		}
	}
}

// client returns a client configured from the data directory, as the CLI
// would be.
func (s *serve) client() *client.Client {
	s.t.Helper()
	cfg, err := client.Discover(s.dataDir)
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *serve) token() string {
	b, err := os.ReadFile(filepath.Join(s.dataDir, datadir.Token))
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// mustCLI returns what runs the CLI against the serve of dataDir and
// fails the test when a command fails.
func mustCLI(t *testing.T, dataDir string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, err := cli(t, dataDir, args...)
		if err != nil {
			t.Fatalf("vnetgw %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
}

// cli runs the vnetgw CLI against the data directory.
func cli(t testing.TB, dataDir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"--data-dir", dataDir}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cliEnv runs the vnetgw CLI with the given arguments and environment
// variables added to the test's (without any VNETGW_ variable of the
// test's own), and returns its standard output and error apart.
func cliEnv(t testing.TB, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VNETGW_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}
