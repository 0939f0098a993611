package e2e

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeUnderNohupKeepsRunningOnHangup: serve started with SIGHUP
// ignored (nohup vnetgw serve &, so that it outlives the terminal) keeps
// running when the terminal goes away: serve's handler for SIGHUP undid
// the ignore (os/signal.Notify does), and a logout stopped the region.
func TestServeUnderNohupKeepsRunningOnHangup(t *testing.T) {
	dir := t.TempDir()
	// The shell's empty trap ignores SIGHUP, as nohup does; exec keeps it.
	cmd := exec.Command("sh", "-c", `trap "" HUP; exec "$0" "$@"`, binary,
		"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--public-ip-pool", "127.98.4.0/24")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "vnetgw serving ") {
				close(started)
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	select {
	case <-started:
	case <-exited:
		t.Fatalf("serve exited at start: %v", cmd.ProcessState)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start within 20s")
	}
	cmd.Process.Signal(syscall.SIGHUP)
	select {
	case <-exited:
		t.Fatalf("serve started with SIGHUP ignored (nohup) stopped on SIGHUP: %v\n%s", cmd.ProcessState, stderr.String())
	case <-time.After(3 * time.Second):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("serve has not stopped 30 s after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve exited %d after SIGTERM:\n%s", code, stderr.String())
	}
}
