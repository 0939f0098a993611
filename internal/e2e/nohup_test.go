package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
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
	errf, err := os.Create(filepath.Join(t.TempDir(), "serve.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	// The shell's empty trap ignores SIGHUP, as nohup does; exec keeps it.
	cmd := exec.Command("sh", "-c", `trap "" HUP; exec "$0" "$@"`, binary,
		"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--public-ip-pool", "127.98.4.0/24")
	cmd.Stderr = errf
	s := runServe(t, dir, cmd, errf)
	s.cmd.Process.Signal(syscall.SIGHUP)
	select {
	case <-s.exited:
		t.Fatalf("serve started with SIGHUP ignored (nohup) stopped on SIGHUP: %v\n%s", s.cmd.ProcessState, s.log())
	case <-time.After(3 * time.Second):
	}
	s.stop()
}
