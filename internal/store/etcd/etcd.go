// Package etcd implements store.Store on etcd v3, so that several vnetgw
// nodes share one region's state. Its keys live under a prefix (a
// namespace), so that one etcd cluster can hold several regions and the
// nodes' own bookkeeping beside them.
//
// etcd's revision is the cluster's: writes under other prefixes advance it
// too. What the store promises holds within its prefix: every transaction
// with ops is one revision and one watch response, and a watcher of the
// prefix sees the revision a Txn returned.
package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/namespace"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vnetgw/vnetgw/internal/store"
)

// revKey is written by a transaction whose ops are all deletes: etcd does
// not advance its revision for a delete of a missing key, and a caller that
// waits for the revision a Txn returned must see it come by. The store
// never shows the key.
const revKey = "\x00rev"

// Dial connects to etcd at endpoints (host:port or URLs), over TLS with
// tlsConfig when it is not nil.
func Dial(endpoints []string, tlsConfig *tls.Config, timeout time.Duration) (*clientv3.Client, error) {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	// Keepalives find a connection that went silent (a member that lost
	// power, a route gone: no reset comes), so that the client moves to
	// another member or dials again instead of waiting on it for ever.
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsConfig, DialTimeout: timeout, Logger: zap.NewNop(),
		DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 3 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	// clientv3.New does not wait for a connection; a status call does, so
	// that a wrong endpoint is reported at start and not at the first write.
	// Any member that answers will do (the client moves among them): a node
	// starts while one member of a three-member etcd is down.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	answers := make(chan error, len(endpoints))
	for _, ep := range endpoints {
		go func() {
			_, err := cli.Status(ctx, ep)
			answers <- err
		}()
	}
	var errs []error
	for range endpoints {
		if err := <-answers; err != nil {
			errs = append(errs, err)
		} else {
			cancel() // the others need not answer
		}
	}
	if len(errs) < len(endpoints) {
		return cli, nil
	}
	cli.Close()
	return nil, fmt.Errorf("etcd %s did not answer within %s: %w", strings.Join(endpoints, ","), timeout, errors.Join(errs...))
}

// TLSConfig returns the TLS configuration of a client of etcd: the CA
// that issued etcd's certificate (empty: the system roots) and a client
// certificate and key (both or neither). With all three empty it returns
// nil: plain HTTP.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("etcd CA: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA %s: no PEM certificate", caFile)
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("an etcd client certificate and its key go together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Store is a store.Store on an etcd client, within a prefix.
type Store struct {
	kv clientv3.KV // within the prefix
	// root is the cluster's keys, for transactions whose conditions
	// name keys outside the prefix (store.Cond.Global).
	root   clientv3.KV
	prefix string
	w      clientv3.Watcher
	ctx    context.Context // ends at Close, and with it every watch
	end    context.CancelFunc
	// mu orders the start of a goroutine in goroutines with Close's end
	// of ctx: none starts once Close waits for them.
	mu         sync.Mutex
	goroutines sync.WaitGroup // the compaction and the watches
	// watchBytes is Options.WatchBytes.
	watchBytes int64
}

// DefaultHistory is how many revisions of etcd's history a store keeps
// for watches (as bbolt's store does); CompactInterval is how often it
// discards what is older.
const (
	DefaultHistory  = 10000
	CompactInterval = time.Minute
)

// DefaultWatchBytes is the most a watch holds for a consumer that does
// not read, as bbolt's store keeps at most DefaultHistoryBytes of history.
const DefaultWatchBytes = 16 << 20

// Options tune a store.
type Options struct {
	// History is how many of etcd's latest revisions stay; older ones are
	// compacted away every CompactEvery (etcd's history is the cluster's:
	// this compacts it for every prefix). Negative: never compact (leave
	// it to etcd's --auto-compaction-retention).
	History      int64
	CompactEvery time.Duration
	// WatchBytes bounds the changes (their keys and values, and a few
	// bytes each) a watch holds that its consumer has not read yet
	// (zero: DefaultWatchBytes). etcd's client reads them whether or
	// not anyone does, and holds them without bound: a consumer that
	// falls further behind is told store.ErrCompacted, as on bbolt, and
	// reloads.
	WatchBytes int64
}

// New returns a store whose keys are under prefix in the cluster cli
// talks to, compacting etcd's history as opts say (zero: DefaultHistory,
// CompactInterval). Closing the store does not close cli.
func New(cli *clientv3.Client, prefix string, opts Options) *Store {
	ctx, cancel := context.WithCancel(context.Background())
	if opts.WatchBytes <= 0 {
		opts.WatchBytes = DefaultWatchBytes
	}
	s := &Store{kv: namespace.NewKV(cli.KV, prefix), root: cli.KV, prefix: prefix, w: namespace.NewWatcher(cli.Watcher, prefix), ctx: ctx, end: cancel, watchBytes: opts.WatchBytes}
	if opts.History == 0 {
		opts.History = DefaultHistory
	}
	if opts.CompactEvery <= 0 {
		opts.CompactEvery = CompactInterval
	}
	if opts.History > 0 {
		s.goroutines.Go(func() { s.compact(opts.History, opts.CompactEvery) })
	}
	return s
}

// compact keeps etcd's history to the last keep revisions: without it
// every status write stays in etcd's database until its quota is full.
func (s *Store) compact(keep int64, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		rev, err := s.Revision(s.ctx)
		if err != nil || rev <= keep {
			continue
		}
		// Several nodes compact the same history: one that is compacted
		// already answers ErrCompacted, which is fine.
		s.kv.Compact(s.ctx, rev-keep)
	}
}

var _ store.Store = (*Store)(nil)

func (s *Store) check(ctx context.Context) error {
	if s.ctx.Err() != nil {
		return store.ErrClosed
	}
	return ctx.Err()
}

// read returns ctx ended by Close as well, for a read: one under way when
// the store closes ends then (etcd not answering, it would wait for its
// caller's deadline), as bbolt's reads are over by the time Close returns.
func (s *Store) read(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := s.check(ctx); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }, nil
}

// closed is err, or store.ErrClosed when the store closed meanwhile: a
// call cut short by Close, or by the client's closing after it, ends
// with the store's error and not gRPC's.
func (s *Store) closed(err error) error {
	if err != nil && s.ctx.Err() != nil {
		return store.ErrClosed
	}
	return err
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.KeyValue, error) {
	ctx, done, err := s.read(ctx)
	if err != nil {
		return store.KeyValue{}, err
	}
	defer done()
	if key == "" {
		// None is written (store.CheckOps); etcd would refuse the read.
		return store.KeyValue{}, store.ErrNotFound
	}
	// A member that has no leader (no quorum) says so at once, after the
	// client's retries of some 2.5 s (another member may answer them),
	// where a linearizable read waited for the caller's deadline.
	resp, err := s.kv.Get(clientv3.WithRequireLeader(ctx), key)
	if errors.Is(err, rpctypes.ErrNoLeader) && s.ctx.Err() == nil {
		return store.KeyValue{}, fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	if err != nil {
		return store.KeyValue{}, s.closed(err)
	}
	if len(resp.Kvs) == 0 || key == revKey {
		return store.KeyValue{}, store.ErrNotFound
	}
	return kvOf(resp.Kvs[0].Key, resp.Kvs[0].Value, resp.Kvs[0].CreateRevision, resp.Kvs[0].ModRevision), nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KeyValue, int64, error) {
	ctx, done, err := s.read(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	resp, err := s.kv.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, 0, s.closed(err)
	}
	out := make([]store.KeyValue, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if string(kv.Key) == revKey {
			continue
		}
		out = append(out, kvOf(kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision))
	}
	return out, resp.Header.Revision, nil
}

// Txn implements store.Store. etcd refuses a transaction of more ops than
// its --max-txn-ops (128 unless set): callers keep theirs smaller.
func (s *Store) Txn(ctx context.Context, conds []store.Cond, ops []store.Op) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if err := store.CheckOps(ops); err != nil {
		return 0, err
	}
	// Keys are the cluster's here: a condition may name a key outside
	// the prefix.
	cmps := make([]clientv3.Cmp, len(conds))
	for i, c := range conds {
		key := c.Key
		if !c.Global {
			key = s.prefix + key
		}
		if c.CreateRevision != 0 {
			cmps[i] = clientv3.Compare(clientv3.CreateRevision(key), "=", c.CreateRevision)
		} else {
			cmps[i] = clientv3.Compare(clientv3.ModRevision(key), "=", c.ModRevision)
		}
	}
	eops := make([]clientv3.Op, 0, len(ops)+1)
	puts := false
	for _, op := range ops {
		if len(op.Key) > store.MaxKeyBytes {
			// etcd would take it; the embedded store would not.
			return 0, fmt.Errorf("%w: a key of %d bytes (at most %d)", store.ErrTooLarge, len(op.Key), store.MaxKeyBytes)
		}
		if op.Delete {
			eops = append(eops, clientv3.OpDelete(s.prefix+op.Key))
			continue
		}
		puts = true
		eops = append(eops, clientv3.OpPut(s.prefix+op.Key, string(op.Value)))
	}
	if len(ops) > 0 && !puts {
		eops = append(eops, clientv3.OpPut(s.prefix+revKey, ""))
	}
	resp, err := s.root.Txn(ctx).If(cmps...).Then(eops...).Commit()
	switch {
	case errors.Is(err, rpctypes.ErrNoSpace), errors.Is(err, rpctypes.ErrTooManyRequests):
		// etcd's database is at its quota (its NOSPACE alarm) or etcd
		// is overloaded: gRPC's ResourceExhausted too, but no write
		// goes through, however small.
		return 0, fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	case errors.Is(err, rpctypes.ErrTooManyOps):
		// More ops than etcd's --max-txn-ops, set below the region's
		// bound (MaxTxnOps).
		return 0, fmt.Errorf("%w: %d operations, more than etcd's --max-txn-ops (%v)", store.ErrTooLarge, len(eops), err)
	case errors.Is(err, rpctypes.ErrRequestTooLarge) || status.Code(err) == codes.ResourceExhausted:
		// Over the server's --max-request-bytes, or the client's
		// largest message.
		return 0, fmt.Errorf("%w: %v", store.ErrTooLarge, err)
	case err != nil && s.ctx.Err() == nil && outcomeUnknown(err):
		return 0, fmt.Errorf("%w: %w", store.ErrOutcomeUnknown, err)
	case err != nil && s.ctx.Err() != nil:
		// Cut off by Close on its way: ErrClosed alone would say that
		// nothing was written.
		return 0, fmt.Errorf("%w: %w (%v)", store.ErrOutcomeUnknown, store.ErrClosed, err)
	case err != nil:
		return 0, err
	}
	if !resp.Succeeded {
		return 0, store.ErrConflict
	}
	return resp.Header.Revision, nil
}

// outcomeUnknown tells whether a write that failed with err may have been
// applied all the same: its answer was lost, not refused.
func outcomeUnknown(err error) bool {
	for _, e := range []error{rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrTimeoutDueToLeaderFail,
		rpctypes.ErrLeaderChanged, rpctypes.ErrNoLeader, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, e) {
			return true
		}
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	case codes.Unknown:
		// A member that knows it has no leader passes its proposal's
		// own deadline on, as gRPC's Unknown.
		return status.Convert(err).Message() == context.DeadlineExceeded.Error()
	}
	return false
}

// Revision implements store.Store: the cluster's revision, which writes
// outside the prefix advance too.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	ctx, done, err := s.read(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	resp, err := s.kv.Get(ctx, revKey, clientv3.WithCountOnly())
	if err != nil {
		return 0, s.closed(err)
	}
	return resp.Header.Revision, nil
}

// Watch implements store.Store. etcd's responses are read as they come
// and held for the consumer up to Options.WatchBytes; past that the
// watch ends with store.ErrCompacted.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64) <-chan store.WatchResponse {
	ch := make(chan store.WatchResponse)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil { // closed
		close(ch)
		return ch
	}
	s.goroutines.Go(func() {
		defer close(ch)
		if s.check(ctx) != nil {
			return
		}
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(s.ctx, cancel)
		defer stop()
		if afterRev < 0 {
			select {
			case ch <- store.WatchResponse{Err: store.ErrNegativeRevision}:
			case <-wctx.Done():
			}
			return
		}
		// Only with a leader: a member cut off from the others would
		// keep the stream open and send nothing (the watch ends with an
		// error instead, and the caller watches anew).
		in := s.w.Watch(clientv3.WithRequireLeader(wctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(afterRev+1))
		var queue []store.WatchResponse // read from etcd, not yet sent
		var held int64                  // their size
		for in != nil || len(queue) > 0 {
			var out chan<- store.WatchResponse
			var first store.WatchResponse
			if len(queue) > 0 {
				out, first = ch, queue[0]
			}
			select {
			case out <- first:
				queue[0] = store.WatchResponse{}
				queue = queue[1:]
				held -= size(first)
			case resp, ok := <-in:
				if !ok {
					in = nil
					continue
				}
				rs, end := convert(resp)
				if end {
					in = nil // the error comes last
				}
				for _, r := range rs {
					queue = append(queue, r)
					held += size(r)
				}
				if held > s.watchBytes {
					// The consumer is too far behind: it reloads
					// rather than have this grow.
					select {
					case ch <- store.WatchResponse{Err: store.ErrCompacted}:
					case <-wctx.Done():
					}
					return
				}
			case <-wctx.Done():
				return
			}
		}
	})
	return ch
}

// convert makes one etcd watch response the store's: none for a
// progress notification, one per revision, or a terminal error (end).
func convert(resp clientv3.WatchResponse) (out []store.WatchResponse, end bool) {
	if resp.CompactRevision != 0 {
		return []store.WatchResponse{{Err: store.ErrCompacted}}, true
	}
	if err := resp.Err(); err != nil {
		if errors.Is(err, rpctypes.ErrCompacted) {
			err = store.ErrCompacted
		}
		return []store.WatchResponse{{Err: err}}, true
	}
	// One etcd response may carry several revisions: split it.
	for _, e := range resp.Events {
		if len(out) == 0 || e.Kv.ModRevision != out[len(out)-1].Revision {
			out = append(out, store.WatchResponse{Revision: e.Kv.ModRevision})
		}
		if string(e.Kv.Key) == revKey {
			continue
		}
		ev := store.Event{Type: store.EventPut, KV: kvOf(e.Kv.Key, e.Kv.Value, e.Kv.CreateRevision, e.Kv.ModRevision)}
		if e.Type == clientv3.EventTypeDelete {
			ev.Type, ev.KV.Value = store.EventDelete, nil
		}
		last := &out[len(out)-1]
		last.Events = append(last.Events, ev)
	}
	return out, false
}

// size is what a response held for its consumer counts: its keys and
// values, and a little for each event and itself.
func size(r store.WatchResponse) int64 {
	n := int64(64)
	for _, e := range r.Events {
		n += 64 + int64(len(e.KV.Key)+len(e.KV.Value))
	}
	return n
}

// Close implements store.Store: watches end, and the compaction, before
// it returns (as on bbolt), so that the client may be closed then; the
// client stays open.
func (s *Store) Close() error {
	s.mu.Lock()
	s.end()
	s.mu.Unlock()
	s.goroutines.Wait()
	return nil
}

// kvOf converts a key of etcd's. A present key's value is never nil (etcd
// gives nil for an empty one; a nil value means a deleted key here).
func kvOf(key, value []byte, create, mod int64) store.KeyValue {
	if value == nil {
		value = []byte{}
	}
	return store.KeyValue{Key: string(key), Value: value, CreateRevision: create, ModRevision: mod}
}
