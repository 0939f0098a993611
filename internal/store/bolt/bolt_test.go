package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

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

// TestHistoryBoundedInBytes: status written every few seconds fills the
// history with large values long before it holds History revisions: the
// history keeps at most HistoryBytes, so the file stays small (bbolt
// never gives space back), and a watch that fell behind is told so while
// the recent history is there.
func TestHistoryBoundedInBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path, Options{HistoryBytes: 256 << 10})
	defer s.Close()
	ctx := context.Background()
	value := bytes.Repeat([]byte("s"), 700) // a connection's status
	var rev int64
	for i := range 2000 {
		var ops []store.Op
		for c := range 20 {
			ops = append(ops, store.Put(fmt.Sprintf("status/connection-%d", c), append(value, byte(i))))
		}
		var err error
		if rev, err = s.Txn(ctx, nil, ops); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("state.db: %d KiB after 2,000 revisions of 14 KB, with %d KiB of history", fi.Size()>>10, 256)
	if fi.Size() > 8<<20 {
		t.Errorf("the store file is %d MiB after 2,000 revisions of 14 KB, with 256 KiB of history", fi.Size()>>20)
	}
	if r := <-s.Watch(ctx, "", 1); !errors.Is(r.Err, store.ErrCompacted) {
		t.Errorf("watch from revision 1: %+v, want ErrCompacted", r.Err)
	}
	if r := <-s.Watch(ctx, "", rev-5); r.Err != nil || r.Revision != rev-4 {
		t.Errorf("watch from %d: revision %d, %v", rev-5, r.Revision, r.Err)
	}
}

// TestDamagedFileRefused: a state.db cut short (a full disk, a copy that
// did not finish) or with a page overwritten is refused at start with an
// error that names the file, and never ends the process (bbolt reads it
// through a memory map: a page past the end is a fault, not an error) nor
// opens as an empty or partial state.
func TestDamagedFileRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s := open(t, path, Options{})
	for i := range 300 {
		if _, err := s.Txn(context.Background(), nil, []store.Op{store.Put(fmt.Sprintf("k%03d", i), bytes.Repeat([]byte{'v'}, 1000))}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	overwritten := func(off int) []byte {
		b := bytes.Clone(good)
		for i := off; i < off+page && i < len(b); i++ {
			b[i] = 0xa5
		}
		return b
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"cut in the meta pages", good[:100]},
		{"only the meta pages", good[:2*page]},
		{"cut after four pages", good[:4*page]},
		{"cut after 16 pages", good[:16*page]},
		{"cut after 20 pages", good[:20*page]},
		{"cut after 200 pages", good[:200*page]},
		{"cut in half", good[:len(good)/2&^(page-1)]},
		{"page 4 overwritten", overwritten(4 * page)},
		{"page 8 overwritten", overwritten(8 * page)},
		{"page 20 overwritten", overwritten(20 * page)},
		{"not a store", bytes.Repeat([]byte("not a bbolt file\n"), 1000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(p, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(p, Options{})
			if err == nil {
				kvs, _, err := s.List(context.Background(), "")
				s.Close()
				t.Fatalf("a damaged state.db opened: %d keys of 300 (List: %v)", len(kvs), err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("the error does not name the file: %v", err)
			}
			t.Log(err)
			// Nothing of the damaged file stays open: a good copy
			// put in its place opens, its lock free.
			if err := os.WriteFile(p, good, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err = Open(p, Options{OpenTimeout: 10 * time.Second})
			if err != nil {
				t.Fatalf("a good copy in place of the damaged file: %v", err)
			}
			defer s.Close()
			if kvs, _, err := s.List(context.Background(), ""); err != nil || len(kvs) != 300 {
				t.Fatalf("the good copy: %d keys, %v; want 300", len(kvs), err)
			}
		})
	}
}

// TestOtherFileRefused: a bbolt file that is not a store of vnetgw (etcd's
// own database is bbolt too: --data-dir pointed at the wrong place, a file
// copied over state.db) or one a newer vnetgw wrote is refused at start
// with an error that names the file, and left as it was; a store of this
// format, written before its format was recorded, opens with its keys.
func TestOtherFileRefused(t *testing.T) {
	withBuckets := func(t *testing.T, path string, buckets ...string) {
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bbolt.Tx) error {
			for _, b := range buckets {
				b, err := tx.CreateBucket([]byte(b))
				if err != nil {
					return err
				}
				if err := b.Put([]byte("x"), []byte("y")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	refused := func(t *testing.T, path, want string) {
		t.Helper()
		before, _ := os.ReadFile(path)
		s, err := Open(path, Options{})
		if err == nil {
			s.Close()
			t.Fatal("opened")
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q, want the file and %q", err, want)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Error("the file was changed")
		}
	}
	t.Run("etcd's database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		withBuckets(t, path, "key", "lease", "members", "meta")
		refused(t, path, `not a vnetgw state store: a bbolt file with the buckets "key", "lease", "members", "meta"`)
	})
	t.Run("a newer format", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		open(t, path, Options{}).Close()
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bbolt.Tx) error { return putUint(tx.Bucket(bucketMeta), metaFormat, format+1) })
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		refused(t, path, "written by a newer vnetgw (store format 2; this one reads 1)")
	})
	t.Run("before the format was recorded", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		withBuckets(t, path, "kv", "log", "meta")
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bbolt.Tx) error {
			tx.Bucket(bucketKV).Delete([]byte("x"))
			tx.Bucket(bucketLog).Delete([]byte("x"))
			tx.Bucket(bucketMeta).Delete([]byte("x"))
			if err := tx.Bucket(bucketKV).Put([]byte("a"), encodeKV(1, 1, []byte("1"))); err != nil {
				return err
			}
			return putUint(tx.Bucket(bucketMeta), metaRev, 1)
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		s := open(t, path, Options{})
		defer s.Close()
		if kv, err := s.Get(context.Background(), "a"); err != nil || string(kv.Value) != "1" {
			t.Fatalf("a = %q, %v; want 1", kv.Value, err)
		}
	})
}
