package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
	"github.com/vnetgw/vnetgw/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		// A prefix of its own makes each test's store empty.
		return etcd.New(cli, fmt.Sprintf("/conformance/%d/", n.Add(1)), etcd.Options{})
	})
}

// Two regions in one etcd: a write under one prefix is invisible under the
// other, and a delete-only transaction still shows its revision to a
// watcher, as a waiter for that revision needs.
func TestPrefixesAreApartAndDeletesAreSeen(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client(t)
	a, b := etcd.New(cli, "/a/", etcd.Options{}), etcd.New(cli, "/b/", etcd.Options{})
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	if _, err := a.Txn(ctx, nil, []store.Op{store.Put("k", []byte("1"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "k"); err != store.ErrNotFound {
		t.Fatalf("b sees a's key: %v", err)
	}
	rev, _ := a.Revision(ctx)
	ch := a.Watch(ctx, "", rev)
	del, err := a.Txn(ctx, nil, []store.Op{store.Delete("missing")})
	if err != nil {
		t.Fatal(err)
	}
	if del <= rev {
		t.Fatalf("a delete-only transaction returned revision %d, not after %d", del, rev)
	}
	r := <-ch
	if r.Err != nil || r.Revision != del || len(r.Events) != 0 {
		t.Fatalf("watch after a delete of a missing key: %+v, want an empty response at %d", r, del)
	}
	kvs, _, err := a.List(ctx, "")
	if err != nil || len(kvs) != 1 || kvs[0].Key != "k" {
		t.Fatalf("List = %v, %v; want only k", kvs, err)
	}
}

// A watch that asks for history etcd has compacted away ends with
// ErrCompacted, on which the region reloads its state.
func TestWatchOfCompactedHistory(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client(t)
	s := etcd.New(cli, "/c/", etcd.Options{})
	defer s.Close()
	ctx := context.Background()
	first, _ := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("1"))})
	last, _ := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("2"))})
	if _, err := cli.Compact(ctx, last); err != nil {
		t.Fatal(err)
	}
	r, ok := <-s.Watch(ctx, "", first-1)
	if !ok || !errors.Is(r.Err, store.ErrCompacted) {
		t.Fatalf("watch from %d after a compaction at %d: %+v, want ErrCompacted", first-1, last, r)
	}
}

// A node starts while one of the etcd members it is given is down (a
// three-member etcd keeps serving without it), and its writes go to the
// member that answers; only when none answers is the start refused.
func TestDialWithAMemberDown(t *testing.T) {
	e := etcdtest.Start(t)
	const down = "http://127.96.0.1:17801" // nothing listens there
	cli, err := etcd.Dial([]string{down, e.Endpoint}, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("the first member down, the second up: %v", err)
	}
	defer cli.Close()
	s := etcd.New(cli, "/dial/", etcd.Options{})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("v"))}); err != nil {
		t.Fatalf("write with the first member down: %v", err)
	}
	if kv, err := s.Get(ctx, "k"); err != nil || string(kv.Value) != "v" {
		t.Fatalf("Get = %q, %v", kv.Value, err)
	}
	if cli, err := etcd.Dial([]string{down, "http://127.96.0.2:17802"}, nil, time.Second); err == nil {
		cli.Close()
		t.Fatal("no member answers, and Dial succeeded")
	}
}

// An etcd that asks for client certificates (etcd --client-cert-auth)
// refuses a client without one and serves one with the certificate its CA
// issued: the state, shared keys included, never crosses the wire in
// clear, and only the nodes reach it.
func TestMutualTLS(t *testing.T) {
	e := etcdtest.StartTLS(t)
	anonymous, err := etcd.TLSConfig(e.CAFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if cli, err := etcd.Dial([]string{e.Endpoint}, anonymous, 2*time.Second); err == nil {
		cli.Close()
		t.Fatal("etcd served a client without a certificate")
	}
	if cli, err := etcd.Dial([]string{e.Endpoint}, nil, 2*time.Second); err == nil {
		cli.Close()
		t.Fatal("etcd over https served a plain client")
	}
	if _, err := etcd.TLSConfig(e.CAFile, e.CertFile, ""); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
	s := etcd.New(e.Client(t), "/tls/", etcd.Options{})
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("v"))}); err != nil {
		t.Fatal(err)
	}
	if kv, err := s.Get(ctx, "k"); err != nil || string(kv.Value) != "v" {
		t.Fatalf("Get = %q, %v", kv.Value, err)
	}
}

// The store compacts etcd's history to its last History revisions, so
// that status writes do not fill etcd's database; a watch from within
// that history goes on, one from before it ends with ErrCompacted.
func TestHistoryIsCompacted(t *testing.T) {
	e := etcdtest.Start(t)
	s := etcd.New(e.Client(t), "/h/", etcd.Options{History: 5, CompactEvery: 50 * time.Millisecond})
	defer s.Close()
	ctx := context.Background()
	var revs []int64
	for i := range 20 {
		rev, err := s.Txn(ctx, nil, []store.Op{store.Put("k", fmt.Appendf(nil, "%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := <-s.Watch(ctx, "", revs[0])
		if errors.Is(r.Err, store.ErrCompacted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a watch from revision %d still gets %+v after 5 s", revs[0], r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r := <-s.Watch(wctx, "", revs[17]); r.Err != nil || r.Revision != revs[18] {
		t.Fatalf("a watch within the kept history: %+v, want revision %d", r, revs[18])
	}
}

// A condition on a Global key names a key of etcd outside the store's
// prefix: a cluster node's claim fences the node's status writes.
func TestGlobalCondition(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client(t)
	s := etcd.New(cli, "/r/state/", etcd.Options{})
	defer s.Close()
	ctx := context.Background()
	put, err := cli.Put(ctx, "/r/cluster/claims/v", "a")
	if err != nil {
		t.Fatal(err)
	}
	held := []store.Cond{{Key: "/r/cluster/claims/v", CreateRevision: put.Header.Revision, Global: true}}
	if _, err := s.Txn(ctx, held, []store.Op{store.Put("status/v", []byte("a"))}); err != nil {
		t.Fatalf("write under the claim: %v", err)
	}
	if _, err := cli.Delete(ctx, "/r/cluster/claims/v"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/r/cluster/claims/v", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Txn(ctx, held, []store.Op{store.Put("status/v", []byte("a, late"))}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("write under a claim taken since: err = %v, want ErrConflict", err)
	}
	if kv, err := s.Get(ctx, "status/v"); err != nil || string(kv.Value) != "a" {
		t.Fatalf("status = %q, %v; want a", kv.Value, err)
	}
}

// Reads under way when the store closes end then with store.ErrClosed, as
// on bbolt, not at their caller's deadline with gRPC's error: etcd not
// answering (the way to it gone), serve's stop does not wait on them. A
// write under way whose client closes after the store ends with
// ErrClosed too.
func TestCloseEndsReadsWithErrClosed(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	cli := p.Client(t)
	s := etcd.New(cli, "/closed/", etcd.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("v"))}); err != nil {
		t.Fatal(err)
	}
	p.Isolate()
	errs := make(chan error, 4)
	go func() { _, err := s.Get(ctx, "k"); errs <- err }()
	go func() { _, _, err := s.List(ctx, ""); errs <- err }()
	go func() { _, err := s.Revision(ctx); errs <- err }()
	go func() { _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("w"))}); errs <- err }()
	// Let them reach etcd's client: a call made after Close is refused
	// before it starts.
	time.Sleep(500 * time.Millisecond)
	s.Close()
	for range 3 {
		select {
		case err := <-errs:
			if !errors.Is(err, store.ErrClosed) {
				t.Fatalf("a read under way at Close: %v, want ErrClosed", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a read under way at Close still waits 20 s after it")
		}
	}
	cli.Close()
	select {
	case err := <-errs:
		if !errors.Is(err, store.ErrClosed) {
			t.Fatalf("a write under way when the store and its client closed: %v, want ErrClosed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a write under way when the client closed still waits 20 s after it")
	}
}

// Close returns once the store's goroutines, its watches and its
// compaction, have ended (as bbolt's waits for its watches): a watch's
// channel is closed then, and nothing of the store uses etcd's client,
// which serve closes next.
func TestCloseWaitsForWatchesAndCompaction(t *testing.T) {
	e := etcdtest.Start(t)
	s := etcd.New(e.Client(t), "/close/", etcd.Options{History: 1000, CompactEvery: time.Millisecond})
	ctx := context.Background()
	rev, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("v"))})
	if err != nil {
		t.Fatal(err)
	}
	watches := make([]<-chan store.WatchResponse, 8)
	for i := range watches {
		watches[i] = s.Watch(ctx, "", rev-1)
		if r := <-watches[i]; r.Err != nil || r.Revision != rev {
			t.Fatalf("watch %d: %+v, want revision %d", i, r, rev)
		}
	}
	s.Close()
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, f := range []string{"etcd.(*Store).compact", "etcd.(*Store).Watch"} {
		if strings.Contains(stacks, f) {
			t.Errorf("after Close, a goroutine in %s still runs", f)
		}
	}
	for i, ch := range watches {
		select {
		case r, ok := <-ch:
			if ok {
				t.Errorf("after Close, watch %d gave %+v; want its channel closed", i, r)
			}
		default:
			t.Errorf("after Close, watch %d is still open", i)
		}
	}
	if _, ok := <-s.Watch(ctx, "", 0); ok {
		t.Error("a watch begun after Close gave a response; want its channel closed")
	}
}

// A write whose answer does not come (the way to etcd lost after it went
// out, until the caller's deadline) fails with store.ErrOutcomeUnknown: it
// may have been applied. It was etcd's bare error, which callers could
// not tell from one that nothing was written.
func TestLostAnswerIsOutcomeUnknown(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	s := etcd.New(p.Client(t), "/lost/", etcd.Options{})
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("v"))}); err != nil {
		t.Fatal(err)
	}
	p.Isolate()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.Txn(wctx, nil, []store.Op{store.Put("k", []byte("w"))}); !errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("a write whose answer was lost: %v, want ErrOutcomeUnknown", err)
	}
}

// A write to a member that has lost its quorum and knows it has no leader
// (the other two of three paused) fails, once etcd's request timeout has
// passed, with store.ErrOutcomeUnknown. etcd answers it with gRPC's
// Unknown and "context deadline exceeded", which the store passed on
// bare, and the API answered 500 InternalServerError.
func TestWriteWithoutQuorumIsOutcomeUnknown(t *testing.T) {
	members := etcdtest.StartCluster(t, netip.MustParseAddr("127.173.1.0"), 3)
	ctx := context.Background()
	follower := etcdtest.Follower(t, members)
	s := etcd.New(follower.Client(t), "/quorum/", etcd.Options{})
	t.Cleanup(func() { s.Close() })
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("v"))}); err != nil {
		t.Fatal(err)
	}
	etcdtest.LoseQuorum(t, members, follower)
	// Far longer than etcd's request timeout (some 7 s).
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := s.Txn(wctx, nil, []store.Op{store.Put("k", []byte("w"))}); !errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("a write to a member without a quorum: %v, want ErrOutcomeUnknown", err)
	}
}

// A write on its way to etcd when the store closes (its answer not come:
// the way to etcd frozen) fails with store.ErrOutcomeUnknown, and
// store.ErrClosed with it: it may have been applied. It was ErrClosed
// alone, which says nothing was written, and the API answers that with
// 503, which a client (the Azure SDKs, a POST too) sends again.
func TestWriteCutByCloseIsOutcomeUnknown(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	cli := p.Client(t)
	s := etcd.New(cli, "/cut/", etcd.Options{})
	ctx := context.Background()
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("v"))}); err != nil {
		t.Fatal(err)
	}
	p.Freeze()
	p.Isolate()
	// Far longer than the test: the write ends when the store closes.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Txn(wctx, nil, []store.Op{store.Put("k", []byte("w"))})
		errc <- err
	}()
	// The write is on its way once it has not failed for a while.
	select {
	case err := <-errc:
		t.Fatalf("a write through a frozen way ended at once: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	s.Close()
	cli.Close() // as serve does after the store
	select {
	case err := <-errc:
		if !errors.Is(err, store.ErrOutcomeUnknown) || !errors.Is(err, store.ErrClosed) {
			t.Fatalf("a write cut by Close: %v, want ErrOutcomeUnknown and ErrClosed", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a write cut by Close has not ended 30 s after")
	}
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("x"))}); !errors.Is(err, store.ErrClosed) || errors.Is(err, store.ErrOutcomeUnknown) {
		t.Fatalf("a write after Close: %v, want ErrClosed alone (nothing sent)", err)
	}
}
