package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/datadir"
)

// TestServeStopsCleanlyWhenItsLogReaderIsGone: serve whose standard
// error is a pipe (vnetgw serve 2>&1 | tee serve.log) whose reader is
// gone (Ctrl-C ends tee with serve, a hangup ends both) stops cleanly on
// SIGTERM, as it does on a terminal: its first line of log to the broken
// pipe ("stopping; ...") ended it by SIGPIPE, without telling its peers,
// writing the last status or the metrics history.
func TestServeStopsCleanlyWhenItsLogReaderIsGone(t *testing.T) {
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--public-ip-pool", "127.98.3.0/24")
	cmd.Stderr = w
	s := runServe(t, dir, cmd, nil)
	w.Close() // serve's copy is the pipe's only writer
	r.Close() // the log's reader is gone
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("serve has not stopped 30 s after SIGTERM")
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signaled() || ws.ExitStatus() != 0 {
		t.Errorf("serve, its log's reader gone, ended with %v after SIGTERM, not by a clean stop", cmd.ProcessState)
	}
	if _, err := os.Stat(filepath.Join(dir, datadir.MetricsHistory)); err != nil {
		t.Errorf("the clean stop writes the metrics history: %v", err)
	}
}
