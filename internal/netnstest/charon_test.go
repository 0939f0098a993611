package netnstest

import (
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestWaitAcceptsNotJustBound: a socket charon has bound but does not
// listen on yet refuses swanctl ("Connection refused"): StartCharon waits
// until it accepts.
func TestWaitAcceptsNotJustBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "charon.vici")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	exited := func() bool { return false }
	if err := waitAccepts(path, 300*time.Millisecond, exited); err == nil {
		c, dialErr := net.Dial("unix", path)
		if c != nil {
			c.Close()
		}
		t.Fatalf("a bound socket nobody listens on was taken as ready (a connection now: %v)", dialErr)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	if err := waitAccepts(path, 30*time.Second, exited); err != nil {
		t.Fatalf("a listening socket: %v", err)
	}
	if err := waitAccepts(filepath.Join(t.TempDir(), "none"), time.Minute, func() bool { return true }); err == nil {
		t.Fatal("no socket and the server gone: taken as ready")
	}
}
