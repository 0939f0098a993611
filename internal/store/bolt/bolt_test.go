package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/storetest"
)

func open(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "state.db"), Options{})
	})
}

func TestReopenKeepsDataAndRevision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, Options{})
	ctx := context.Background()
	rev, err := s.Txn(ctx, nil, []store.Op{store.Put("a", []byte("1"))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path, Options{})
	defer s.Close()
	if r, _ := s.Revision(ctx); r != rev {
		t.Fatalf("revision after reopen = %d, want %d", r, rev)
	}
	if kv, err := s.Get(ctx, "a"); err != nil || string(kv.Value) != "1" {
		t.Fatalf("a after reopen = %q, %v", kv.Value, err)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, Options{})
	defer s.Close()
	if _, err := Open(path, Options{OpenTimeout: 50e6}); err == nil {
		t.Fatal("a second Open of a store in use succeeded")
	}
}

func TestWatchBeforeHistoryIsCompacted(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{History: 5})
	defer s.Close()
	ctx := context.Background()
	for range 10 {
		if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("v"))}); err != nil {
			t.Fatal(err)
		}
	}
	r := <-s.Watch(ctx, "", 1)
	if !errors.Is(r.Err, store.ErrCompacted) {
		t.Fatalf("watch from a compacted revision: %+v, want ErrCompacted", r)
	}
	// The recent history is still there.
	r = <-s.Watch(ctx, "", 7)
	if r.Err != nil || r.Revision != 8 {
		t.Fatalf("watch from revision 7: %+v", r)
	}
}

func TestCloseEndsWatches(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"), Options{})
	ch := s.Watch(context.Background(), "", 0)
	s.Close()
	for range ch {
	}
	if _, err := s.Get(context.Background(), "a"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

func BenchmarkTxn(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "state.db"), Options{})
	defer s.Close()
	v := make([]byte, 2048)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Txn(context.Background(), nil, []store.Op{store.Put("key", v)}); err != nil {
			b.Fatal(err)
		}
	}
}
