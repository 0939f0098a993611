// Package storetest is the conformance suite every store.Store
// implementation passes: revisions, conditional transactions and watches;
// and WatchVia, a store whose watches go another way, for tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/store"
)

// Run runs the suite; open returns a fresh, empty store that the test closes.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"Revisions", testRevisions},
		{"Conditions", testConditions},
		{"CreateRevision", testCreateRevision},
		{"ListPrefix", testListPrefix},
		{"WatchFromRevision", testWatchFromRevision},
		{"WatchLive", testWatchLive},
		{"WatchDeleteOfMissingKey", testWatchDeleteOfMissingKey},
		{"ConcurrentWriters", testConcurrentWriters},
		{"KeyTooLarge", testKeyTooLarge},
		{"WatchNegativeRevision", testWatchNegativeRevision},
		{"StalledWatchEnds", testStalledWatchEnds},
		{"KeyTwiceInTxn", testKeyTwiceInTxn},
		{"DeleteEventRevisions", testDeleteEventRevisions},
		{"EmptyKey", testEmptyKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

func mustTxn(t *testing.T, s store.Store, conds []store.Cond, ops ...store.Op) int64 {
	t.Helper()
	rev, err := s.Txn(context.Background(), conds, ops)
	if err != nil {
		t.Fatalf("Txn: %v", err)
	}
	return rev
}

func testGetPutDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get missing: err = %v, want ErrNotFound", err)
	}
	mustTxn(t, s, nil, store.Put("a", []byte("1")))
	kv, err := s.Get(ctx, "a")
	if err != nil || string(kv.Value) != "1" {
		t.Fatalf("Get = %q, %v; want 1", kv.Value, err)
	}
	mustTxn(t, s, nil, store.Delete("a"))
	if _, err := s.Get(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get deleted: err = %v, want ErrNotFound", err)
	}
}

func testRevisions(t *testing.T, s store.Store) {
	ctx := context.Background()
	r0, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustTxn(t, s, nil, store.Put("a", []byte("1")), store.Put("b", []byte("1")))
	if r1 != r0+1 {
		t.Fatalf("one transaction advanced the revision from %d to %d", r0, r1)
	}
	r2 := mustTxn(t, s, nil, store.Put("a", []byte("2")))
	kv, _ := s.Get(ctx, "a")
	if kv.CreateRevision != r1 || kv.ModRevision != r2 {
		t.Fatalf("a: create %d mod %d, want %d %d", kv.CreateRevision, kv.ModRevision, r1, r2)
	}
	if r := mustTxn(t, s, nil); r != r2 {
		t.Fatalf("empty transaction moved the revision to %d", r)
	}
}

func testConditions(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Create only if absent.
	r1 := mustTxn(t, s, []store.Cond{{Key: "k"}}, store.Put("k", []byte("v1")))
	if _, err := s.Txn(ctx, []store.Cond{{Key: "k"}}, []store.Op{store.Put("k", []byte("v2"))}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create over existing key: err = %v, want ErrConflict", err)
	}
	// Compare-and-swap on the mod revision.
	if _, err := s.Txn(ctx, []store.Cond{{Key: "k", ModRevision: r1 + 100}}, []store.Op{store.Put("k", []byte("v3"))}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale revision: err = %v, want ErrConflict", err)
	}
	mustTxn(t, s, []store.Cond{{Key: "k", ModRevision: r1}}, store.Put("k", []byte("v4")), store.Put("other", []byte("x")))
	kv, _ := s.Get(ctx, "k")
	if string(kv.Value) != "v4" {
		t.Fatalf("k = %q, want v4", kv.Value)
	}
	// A failed transaction writes nothing at all.
	if _, err := s.Txn(ctx, []store.Cond{{Key: "k"}}, []store.Op{store.Put("z", []byte("1"))}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Get(ctx, "z"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a failed transaction wrote a key")
	}
}

// testCreateRevision: a write conditional on a key's create revision
// (a claim) goes through while the key is the one created then, written
// to since or not, and is refused once it was deleted or made again, and
// for a Global key the store does not have.
func testCreateRevision(t *testing.T, s store.Store) {
	ctx := context.Background()
	created := mustTxn(t, s, nil, store.Put("claim", []byte("a")))
	mustTxn(t, s, nil, store.Put("claim", []byte("a, again")))
	held := []store.Cond{{Key: "claim", CreateRevision: created}}
	mustTxn(t, s, held, store.Put("status", []byte("1")))
	mustTxn(t, s, nil, store.Delete("claim"))
	if _, err := s.Txn(ctx, held, []store.Op{store.Put("status", []byte("2"))}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("write under a deleted claim: err = %v, want ErrConflict", err)
	}
	again := mustTxn(t, s, nil, store.Put("claim", []byte("b")))
	if _, err := s.Txn(ctx, held, []store.Op{store.Put("status", []byte("3"))}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("write under a claim made again: err = %v, want ErrConflict", err)
	}
	if _, err := s.Txn(ctx, []store.Cond{{Key: "claim", CreateRevision: again, Global: true}}, []store.Op{store.Put("status", []byte("4"))}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("write under a Global key the store has not: err = %v, want ErrConflict", err)
	}
	if kv, err := s.Get(ctx, "status"); err != nil || string(kv.Value) != "1" {
		t.Fatalf("status = %q, %v; want 1", kv.Value, err)
	}
}

func testListPrefix(t *testing.T, s store.Store) {
	mustTxn(t, s, nil, store.Put("p/b", []byte("2")), store.Put("p/a", []byte("1")), store.Put("q/a", []byte("3")), store.Put("p", []byte("0")))
	kvs, rev, err := s.List(context.Background(), "p/")
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != 2 || kvs[0].Key != "p/a" || kvs[1].Key != "p/b" {
		t.Fatalf("List(p/) = %v", kvs)
	}
	if cur, _ := s.Revision(context.Background()); rev != cur {
		t.Fatalf("List revision %d, store at %d", rev, cur)
	}
}

func next(t *testing.T, ch <-chan store.WatchResponse) store.WatchResponse {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("watch closed")
		}
		if r.Err != nil {
			t.Fatalf("watch: %v", r.Err)
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
	return store.WatchResponse{}
}

func testWatchFromRevision(t *testing.T, s store.Store) {
	r1 := mustTxn(t, s, nil, store.Put("w/a", []byte("1")))
	r2 := mustTxn(t, s, nil, store.Put("x/ignored", []byte("1")))
	r3 := mustTxn(t, s, nil, store.Put("w/a", []byte("2")), store.Delete("w/missing"), store.Put("w/b", []byte("1")))
	r4 := mustTxn(t, s, nil, store.Delete("w/a"))
	_ = r2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := s.Watch(ctx, "w/", r1)
	got := next(t, ch)
	if got.Revision != r3 || len(got.Events) != 2 || got.Events[0].KV.Key != "w/a" || string(got.Events[0].KV.Value) != "2" || got.Events[1].KV.Key != "w/b" {
		t.Fatalf("first response = %+v, want the two puts of revision %d", got, r3)
	}
	got = next(t, ch)
	if got.Revision != r4 || len(got.Events) != 1 || got.Events[0].Type != store.EventDelete {
		t.Fatalf("second response = %+v, want the delete of revision %d", got, r4)
	}
}

func testWatchLive(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	rev, _ := s.Revision(ctx)
	ch := s.Watch(ctx, "", rev)
	for i := range 100 {
		mustTxn(t, s, nil, store.Put(fmt.Sprintf("k%03d", i), []byte("v")))
	}
	for i := range 100 {
		r := next(t, ch)
		if want := fmt.Sprintf("k%03d", i); r.Events[0].KV.Key != want {
			t.Fatalf("event %d is %s, want %s", i, r.Events[0].KV.Key, want)
		}
	}
	cancel()
	for range ch {
	}
}

// testWatchDeleteOfMissingKey: a transaction that deletes only keys that
// do not exist changes nothing, and still has a revision of its own, which
// a watch of every key sees come by (a status write that removes a status
// already gone waits for it), after which the watch goes on.
func testWatchDeleteOfMissingKey(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := s.Watch(ctx, "", rev)
	del := mustTxn(t, s, nil, store.Delete("missing"), store.Delete("gone"))
	if del <= rev {
		t.Fatalf("a delete of missing keys returned revision %d, not after %d", del, rev)
	}
	if r := next(t, ch); r.Revision != del || len(r.Events) != 0 {
		t.Fatalf("watch after a delete of missing keys: %+v, want a response without events at %d", r, del)
	}
	put := mustTxn(t, s, nil, store.Put("k", []byte("v")))
	if r := next(t, ch); r.Revision != put || len(r.Events) != 1 || r.Events[0].KV.Key != "k" {
		t.Fatalf("watch after a put: %+v, want k at %d", r, put)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	// Compare-and-swap increments from many goroutines: none is lost.
	ctx := context.Background()
	mustTxn(t, s, nil, store.Put("ctr", []byte("0")))
	var wg sync.WaitGroup
	const workers, each = 4, 25
	for range workers {
		wg.Go(func() {
			for done := 0; done < each; {
				kv, err := s.Get(ctx, "ctr")
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				fmt.Sscan(string(kv.Value), &n)
				_, err = s.Txn(ctx, []store.Cond{{Key: "ctr", ModRevision: kv.ModRevision}}, []store.Op{store.Put("ctr", fmt.Appendf(nil, "%d", n+1))})
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				done++
			}
		})
	}
	wg.Wait()
	kv, _ := s.Get(ctx, "ctr")
	if string(kv.Value) != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %s, want %d", kv.Value, workers*each)
	}
}

// testKeyTooLarge: a transaction with a key over store.MaxKeyBytes is
// refused with ErrTooLarge (the API's WriteTooLarge, not a 500), and
// writes nothing; a key of MaxKeyBytes is taken.
func testKeyTooLarge(t *testing.T, s store.Store) {
	ctx := context.Background()
	long := strings.Repeat("k", store.MaxKeyBytes+1)
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("other", []byte("v")), store.Put(long, []byte("v"))}); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("a key of %d bytes: err = %v, want ErrTooLarge", len(long), err)
	}
	if kvs, _, err := s.List(ctx, ""); err != nil || len(kvs) != 0 {
		t.Fatalf("after a refused transaction: %d keys, %v; want none", len(kvs), err)
	}
	mustTxn(t, s, nil, store.Put(long[1:], []byte("v")))
	if kv, err := s.Get(ctx, long[1:]); err != nil || string(kv.Value) != "v" {
		t.Fatalf("a key of %d bytes: %q, %v", store.MaxKeyBytes, kv.Value, err)
	}
}

// testWatchNegativeRevision: a watch after a revision below 0 is refused
// with ErrNegativeRevision, the same on every backend, and closes.
func testWatchNegativeRevision(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustTxn(t, s, nil, store.Put("k", []byte("1")))
	for _, after := range []int64{-1, -2, -1 << 62} {
		ch := s.Watch(ctx, "", after)
		mustTxn(t, s, nil, store.Put("k", []byte("2")))
		select {
		case r, ok := <-ch:
			if !ok || !errors.Is(r.Err, store.ErrNegativeRevision) {
				t.Fatalf("watch after %d: %+v (open %t), want ErrNegativeRevision", after, r, ok)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("watch after %d: nothing within 20 s, want ErrNegativeRevision", after)
		}
		if _, ok := <-ch; ok {
			t.Fatalf("watch after %d: open after its error", after)
		}
	}
}

// testStalledWatchEnds: a watch whose consumer does not read while 24 MiB
// are written (over bbolt's DefaultHistoryBytes and etcd's
// DefaultWatchBytes, 16 MiB) ends with ErrCompacted, on which the
// consumer reloads, rather than have the store hold all of it for it.
func testStalledWatchEnds(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stalled := s.Watch(ctx, "", rev)
	// Another watch, read as the writes go, shows when the store has
	// sent each.
	live := s.Watch(ctx, "", rev)
	value := make([]byte, 1<<20)
	for i := range 24 {
		rev := mustTxn(t, s, nil, store.Put(fmt.Sprintf("big/%02d", i), value))
		for next(t, live).Revision != rev {
		}
	}
	n := 0
	for {
		select {
		case r, ok := <-stalled:
			if !ok {
				t.Fatalf("the stalled watch closed after %d responses, without ErrCompacted", n)
			}
			if r.Err != nil {
				if !errors.Is(r.Err, store.ErrCompacted) {
					t.Fatalf("the stalled watch ended with %v, want ErrCompacted", r.Err)
				}
				if _, ok := <-stalled; ok {
					t.Fatal("the stalled watch is open after its error")
				}
				return
			}
			n++
		case <-time.After(20 * time.Second):
			t.Fatalf("the stalled watch gave %d responses of 24 and then nothing within 20 s, not ErrCompacted", n)
		}
	}
}

// testKeyTwiceInTxn: a transaction that writes one key twice (a put and
// another put or a delete) is refused with ErrDuplicateKey on every
// backend, as etcd refuses it, and writes nothing; two deletes of one key
// are one delete.
func testKeyTwiceInTxn(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustTxn(t, s, nil, store.Put("k", []byte("0")))
	before, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ops := range [][]store.Op{
		{store.Put("k", []byte("1")), store.Put("other", []byte("1")), store.Put("k", []byte("2"))},
		{store.Put("k", []byte("1")), store.Delete("k")},
		{store.Delete("k"), store.Put("k", []byte("1"))},
		{store.Put("new", []byte("1")), store.Delete("new")},
	} {
		if _, err := s.Txn(ctx, nil, ops); !errors.Is(err, store.ErrDuplicateKey) {
			t.Fatalf("Txn(%v): err = %v, want ErrDuplicateKey", ops, err)
		}
	}
	if kvs, rev, err := s.List(ctx, ""); err != nil || len(kvs) != 1 || string(kvs[0].Value) != "0" || kvs[0].ModRevision != before {
		t.Fatalf("after refused transactions: %+v at %d, %v; want k = 0 of revision %d alone", kvs, rev, err, before)
	}
	ch := s.Watch(ctx, "", before)
	del := mustTxn(t, s, nil, store.Delete("k"), store.Delete("k"))
	if r := next(t, ch); r.Revision != del || len(r.Events) != 1 || r.Events[0].Type != store.EventDelete || r.Events[0].KV.Key != "k" {
		t.Fatalf("watch of a transaction that deletes k twice: %+v, want one delete of k at %d", r, del)
	}
}

// testDeleteEventRevisions: a delete event says the key and the
// revision of the deleting transaction, and no create revision (0), on
// every backend: etcd's does not carry it.
func testDeleteEventRevisions(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	created := mustTxn(t, s, nil, store.Put("d", []byte("1")))
	mustTxn(t, s, nil, store.Put("d", []byte("2")))
	del := mustTxn(t, s, nil, store.Delete("d"))
	ch := s.Watch(ctx, "d", created)
	next(t, ch)
	r := next(t, ch)
	want := store.Event{Type: store.EventDelete, KV: store.KeyValue{Key: "d", ModRevision: del}}
	if r.Revision != del || len(r.Events) != 1 || !reflect.DeepEqual(r.Events[0], want) {
		t.Fatalf("delete of d: %+v, want %+v at %d", r, want, del)
	}
}

// testEmptyKey: a transaction that writes the empty key (a put or a
// delete) is refused with ErrEmptyKey on every backend, and writes
// nothing; bbolt has no empty key, and etcd's would be the store's prefix
// itself, which Get and List do not read back. Get of it is ErrNotFound.
func testEmptyKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustTxn(t, s, nil, store.Put("k", []byte("1")))
	before, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []store.Op{store.Put("", []byte("v")), store.Delete("")} {
		if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("2")), op}); !errors.Is(err, store.ErrEmptyKey) {
			t.Fatalf("Txn(%+v): err = %v, want ErrEmptyKey", op, err)
		}
	}
	if kvs, _, err := s.List(ctx, ""); err != nil || len(kvs) != 1 || string(kvs[0].Value) != "1" || kvs[0].ModRevision != before {
		t.Fatalf("after refused transactions: %+v, %v; want k = 1 of revision %d alone", kvs, err, before)
	}
	if _, err := s.Get(ctx, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of the empty key: err = %v, want ErrNotFound", err)
	}
}

// WatchVia is a store whose watches go through Watches (another way to
// the same data, such as a proxy a test cuts off) and its reads and
// writes through Store.
type WatchVia struct {
	store.Store
	Watches store.Store
}

// Watch implements store.Store through Watches.
func (s WatchVia) Watch(ctx context.Context, prefix string, afterRev int64) <-chan store.WatchResponse {
	return s.Watches.Watch(ctx, prefix, afterRev)
}
