// Package netns runs code inside a Linux network namespace: Do enters the
// namespace on one locked OS thread, so that the sockets and devices the
// code opens belong to it, and leaves it again. Tests, benchmarks and TUN
// devices use it.
package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Path returns the path of a named namespace (as `ip netns add` makes it).
func Path(name string) string { return filepath.Join("/run/netns", name) }

// Do runs fn on an OS thread that has entered the network namespace at
// path (/run/netns/NAME, /proc/PID/ns/net); an empty path runs fn here.
// Sockets and devices that fn opens belong to the namespace and stay
// there, wherever they are used from; goroutines fn starts do not run in
// it.
func Do(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open namespace: %w", err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("open own namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it ends with this goroutine rather
			// than run others in the wrong namespace.
			errc <- errors.Join(ferr, fmt.Errorf("leave namespace %s: %w", path, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
