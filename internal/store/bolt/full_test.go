package bolt

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/store"
)

// envFullDisk names, in the test binary run again by
// TestFullDiskTakesNoWrite, the folder where it mounts a small file
// system of its own.
const envFullDisk = "VNETGW_TEST_FULL_DISK"

// TestFullDiskTakesNoWrite: a write that does not fit on the disk is
// refused with store.ErrUnavailable, saying the disk is full (the API's
// 503 ServiceUnavailable, as for an etcd at its quota), and the store
// goes on: a write that fits is taken, and the state is whole after a
// reopen. The test runs again in a mount namespace of its own, on a
// file system of 512 KiB.
func TestFullDiskTakesNoWrite(t *testing.T) {
	if dir := netnstest.OwnMountNamespace(t, envFullDisk, t.TempDir); dir != "" {
		fullDisk(t, dir)
	}
}

func fullDisk(t *testing.T, dir string) {
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=512k"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, 0)
	path := filepath.Join(dir, "state.db")
	ctx := context.Background()
	s := open(t, path, Options{})
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("a", []byte("1"))}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Txn(ctx, nil, []store.Op{store.Put("big", bytes.Repeat([]byte("x"), 1<<20))})
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("a write of 1 MiB on a disk of 512 KiB: %v, want store.ErrUnavailable saying the disk is full", err)
	}
	rev, err := s.Txn(ctx, nil, []store.Op{store.Put("b", []byte("2"))})
	if err != nil || rev != 2 {
		t.Fatalf("a small write after it: revision %d, %v; want 2", rev, err)
	}
	s.Close()
	s = open(t, path, Options{})
	defer s.Close()
	for k, want := range map[string]string{"a": "1", "b": "2"} {
		if kv, err := s.Get(ctx, k); err != nil || string(kv.Value) != want {
			t.Errorf("%s after reopen: %q, %v; want %q", k, kv.Value, err, want)
		}
	}
	if _, err := s.Get(ctx, "big"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused write after reopen: %v, want not found", err)
	}
}
