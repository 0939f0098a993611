// Package bolt implements store.Store on an embedded bbolt file, the same
// engine etcd keeps its data in. Every transaction is fsynced before Txn
// returns, so an acknowledged write survives a crash of the process or the
// machine. History for watches is kept in the same file for a bounded number
// of revisions.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/sys/unix"

	"github.com/vnetgw/vnetgw/internal/store"
)

var (
	bucketKV   = []byte("kv")   // key → createRev(8) modRev(8) value
	bucketLog  = []byte("log")  // rev(8) → encoded events of that revision
	bucketMeta = []byte("meta") // metaRev, metaCompacted → uint64
	metaRev    = []byte("rev")
	// metaCompacted is the highest revision no longer in the log.
	metaCompacted = []byte("compacted")
	metaLogBytes  = []byte("logbytes") // the history log's size
	// metaFormat is the file's format, format below; a file without it
	// is of format 1 from before it was written.
	metaFormat = []byte("format")
)

// format is the layout of the buckets above that this code reads and
// writes. A change that older code would misread takes a new number.
const format = 1

// DefaultHistory is how many revisions of history a store keeps for watches
// unless Options.History says otherwise.
const DefaultHistory = 10000

// DefaultHistoryBytes is the most bytes of history a store keeps.
const DefaultHistoryBytes = 16 << 20

// Options tune a store.
type Options struct {
	// History is the number of most recent revisions kept for watches,
	// HistoryBytes the most bytes they take (the older go first): status
	// written every few seconds would otherwise grow the file by
	// hundreds of megabytes, which bbolt never gives back. A watch that
	// falls further behind is told so (store.ErrCompacted) and reloads.
	History      int64
	HistoryBytes int64
	// OpenTimeout bounds the wait for the file lock held by another process.
	OpenTimeout time.Duration
	// NoSync leaves commits unsynced (bbolt's NoSync), for tests only: a
	// write waits for no fsync (a millisecond or more on a disk), and a
	// crash or a power loss may lose writes or damage the file.
	NoSync bool
}

// Store is a store.Store on a bbolt file.
type Store struct {
	db                    *bbolt.DB
	history, historyBytes int64

	// mu guards rev, notify and closed. Lock order: mu is never held while
	// calling into bbolt except in Txn, which bbolt serializes anyway.
	mu      sync.Mutex
	rev     int64
	notify  chan struct{} // closed and replaced when rev advances
	closed  bool
	done    chan struct{} // closed by Close
	watches sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store file at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.HistoryBytes <= 0 {
		opts.HistoryBytes = DefaultHistoryBytes
	}
	if opts.OpenTimeout <= 0 {
		opts.OpenTimeout = time.Second
	}
	s := &Store{history: opts.History, historyBytes: opts.HistoryBytes, notify: make(chan struct{}), done: make(chan struct{})}
	var err error
	s.db, s.rev, err = openFile(path, opts.OpenTimeout, opts.NoSync)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openFile opens the bbolt file at path, makes its buckets and reads every
// record once. bbolt maps the file into memory and trusts its pages: in a
// damaged file (truncated by a full disk or a copy cut short, overwritten)
// it reads past the end, a fault that ends the process, or panics on a
// page it cannot make sense of. Both are an error here that names the file,
// at start, and not a crash at start or at the first read of that page.
func openFile(path string, timeout time.Duration, noSync bool) (db *bbolt.DB, rev int64, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	// file is what bbolt opened: a panic inside bbolt.Open leaves no db
	// to close, and its lock would be held until the process ends (a
	// second Open of the path waiting for it). Closing the file is not
	// enough: bbolt's memory map of it, which cannot be reached, keeps
	// the lock's open file description; the lock is let go explicitly.
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			} else if file != nil {
				unix.Flock(int(file.Fd()), unix.LOCK_UN)
				file.Close()
			}
			db, err = nil, fmt.Errorf("open store %s: the file is damaged (%v): restore it from a backup, or move it away to start with an empty state", path, r)
		}
	}()
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, OpenFile: openFile, NoSync: noSync})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, 0, fmt.Errorf("open store %s: locked by another process", path)
		}
		return nil, 0, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := checkFormat(tx); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketKV, bucketLog, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := putUint(meta, metaFormat, format); err != nil {
			return err
		}
		rev = getUint(meta, metaRev)
		// Every record once, the history's too.
		err := tx.Bucket(bucketKV).ForEach(func(k, v []byte) error {
			_, err := decodeKV(k, v)
			return err
		})
		if err != nil {
			return err
		}
		var n int64
		tx.Bucket(bucketLog).ForEach(func(_, v []byte) error { n += int64(len(v)); return nil })
		if meta.Get(metaLogBytes) == nil {
			// A file from before the log's size was kept: count it once.
			return putUint(meta, metaLogBytes, n)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, 0, fmt.Errorf("init store %s: %w", path, err)
	}
	return db, rev, nil
}

// checkFormat refuses a bbolt file that is not a store of this format: one
// of another program (etcd's own database is bbolt too), which would have
// opened as an empty state with our buckets added to it, or one written by
// a newer vnetgw, which this one would misread. An empty file is new.
func checkFormat(tx *bbolt.Tx) error {
	var names []string
	ours, other := 0, false
	tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
		names = append(names, strconv.Quote(string(name)))
		if bytes.Equal(name, bucketKV) || bytes.Equal(name, bucketLog) || bytes.Equal(name, bucketMeta) {
			ours++
		} else {
			other = true
		}
		return nil
	})
	if other || ours > 0 && ours < 3 {
		return fmt.Errorf("not a vnetgw state store: a bbolt file with the buckets %s (vnetgw's are \"kv\", \"log\", \"meta\")", strings.Join(names, ", "))
	}
	if ours == 0 {
		return nil
	}
	if f := getUint(tx.Bucket(bucketMeta), metaFormat); f > format {
		return fmt.Errorf("written by a newer vnetgw (store format %d; this one reads %d)", f, format)
	}
	return nil
}

func getUint(b *bbolt.Bucket, k []byte) int64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func putUint(b *bbolt.Bucket, k []byte, n int64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

func revKey(rev int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(rev)) }

// decodeKV decodes a kv bucket value; the result does not alias v.
func decodeKV(key, v []byte) (store.KeyValue, error) {
	if len(v) < 16 {
		return store.KeyValue{}, fmt.Errorf("corrupt record for key %q", key)
	}
	return store.KeyValue{
		Key:            string(key),
		CreateRevision: int64(binary.BigEndian.Uint64(v[0:8])),
		ModRevision:    int64(binary.BigEndian.Uint64(v[8:16])),
		Value:          bytes.Clone(v[16:]),
	}, nil
}

func encodeKV(createRev, modRev int64, value []byte) []byte {
	b := make([]byte, 16, 16+len(value))
	binary.BigEndian.PutUint64(b[0:8], uint64(createRev))
	binary.BigEndian.PutUint64(b[8:16], uint64(modRev))
	return append(b, value...)
}

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (store.KeyValue, error) {
	if err := s.check(ctx); err != nil {
		return store.KeyValue{}, err
	}
	var kv store.KeyValue
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketKV).Get([]byte(key))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		kv, err = decodeKV([]byte(key), v)
		return err
	})
	return kv, err
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KeyValue, int64, error) {
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	var out []store.KeyValue
	var rev int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		rev = getUint(tx.Bucket(bucketMeta), metaRev)
		c := tx.Bucket(bucketKV).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			kv, err := decodeKV(k, v)
			if err != nil {
				return err
			}
			out = append(out, kv)
		}
		return nil
	})
	return out, rev, err
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev, nil
}

// Txn implements store.Store.
func (s *Store) Txn(ctx context.Context, conds []store.Cond, ops []store.Op) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if err := store.CheckOps(ops); err != nil {
		return 0, err
	}
	var newRev int64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		kvb, logb, meta := tx.Bucket(bucketKV), tx.Bucket(bucketLog), tx.Bucket(bucketMeta)
		cur := getUint(meta, metaRev)
		for _, c := range conds {
			var create, mod int64
			if v := kvb.Get([]byte(c.Key)); v != nil && !c.Global {
				kv, err := decodeKV([]byte(c.Key), v)
				if err != nil {
					return err
				}
				create, mod = kv.CreateRevision, kv.ModRevision
			}
			if !c.Holds(create, mod) {
				return store.ErrConflict
			}
		}
		if len(ops) == 0 {
			newRev = cur
			return nil
		}
		newRev = cur + 1
		events := make([]store.Event, 0, len(ops))
		for _, op := range ops {
			k := []byte(op.Key)
			old := kvb.Get(k)
			createRev := newRev
			if old != nil {
				kv, err := decodeKV(k, old)
				if err != nil {
					return err
				}
				createRev = kv.CreateRevision
			}
			if op.Delete {
				if old == nil {
					continue
				}
				if err := kvb.Delete(k); err != nil {
					return err
				}
				events = append(events, store.Event{Type: store.EventDelete, KV: store.KeyValue{Key: op.Key, CreateRevision: createRev, ModRevision: newRev}})
				continue
			}
			if err := kvb.Put(k, encodeKV(createRev, newRev, op.Value)); err != nil {
				return err
			}
			events = append(events, store.Event{Type: store.EventPut, KV: store.KeyValue{Key: op.Key, Value: op.Value, CreateRevision: createRev, ModRevision: newRev}})
		}
		entry := encodeEvents(events)
		if err := logb.Put(revKey(newRev), entry); err != nil {
			return err
		}
		if err := putUint(meta, metaRev, newRev); err != nil {
			return err
		}
		// Keep only the last s.history revisions of history, in at most
		// s.historyBytes (the newest always).
		size := getUint(meta, metaLogBytes) + int64(len(entry))
		compacted := getUint(meta, metaCompacted)
		var gone [][]byte
		c := logb.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			rev := int64(binary.BigEndian.Uint64(k))
			if rev >= newRev || rev > newRev-s.history && size <= s.historyBytes {
				break
			}
			size -= int64(len(v))
			gone, compacted = append(gone, k), rev
		}
		for _, k := range gone {
			if err := logb.Delete(k); err != nil {
				return err
			}
		}
		if err := putUint(meta, metaLogBytes, size); err != nil {
			return err
		}
		return putUint(meta, metaCompacted, compacted)
	})
	if err != nil {
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			return 0, store.ErrClosed
		}
		if errors.Is(err, store.ErrConflict) {
			return 0, err
		}
		if errors.Is(err, berrors.ErrKeyTooLarge) || errors.Is(err, berrors.ErrValueTooLarge) {
			return 0, fmt.Errorf("%w: %v", store.ErrTooLarge, err)
		}
		if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
			// The disk (or the user's quota) is full: bbolt rolled the
			// transaction back, and takes writes again once there is
			// room, as etcd does after its NOSPACE alarm.
			return 0, fmt.Errorf("%w: %v", store.ErrUnavailable, err)
		}
		return 0, fmt.Errorf("commit: %w", err)
	}
	s.advance(newRev)
	return newRev, nil
}

// advance records a new revision and wakes every watcher.
func (s *Store) advance(rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev <= s.rev {
		return
	}
	s.rev = rev
	close(s.notify)
	s.notify = make(chan struct{})
}

// Watch implements store.Store. Each watch is a goroutine that reads the
// history log; a slow consumer slows only its own watch, never a writer.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64) <-chan store.WatchResponse {
	ch := make(chan store.WatchResponse)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(ch)
		return ch
	}
	s.watches.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.watches.Done()
		defer close(ch)
		s.watch(ctx, prefix, afterRev, ch)
	}()
	return ch
}

// watchBatch bounds how many revisions one read of the log covers.
const watchBatch = 512

func (s *Store) watch(ctx context.Context, prefix string, afterRev int64, ch chan<- store.WatchResponse) {
	next := afterRev + 1
	send := func(r store.WatchResponse) bool {
		select {
		case ch <- r:
			return true
		case <-ctx.Done():
		case <-s.done:
		}
		return false
	}
	if afterRev < 0 {
		send(store.WatchResponse{Err: store.ErrNegativeRevision})
		return
	}
	for {
		s.mu.Lock()
		rev, notify := s.rev, s.notify
		s.mu.Unlock()
		if next > rev {
			select {
			case <-notify:
				continue
			case <-ctx.Done():
				return
			case <-s.done:
				return
			}
		}
		var batch []store.WatchResponse
		err := s.db.View(func(tx *bbolt.Tx) error {
			if getUint(tx.Bucket(bucketMeta), metaCompacted) >= next {
				return store.ErrCompacted
			}
			c := tx.Bucket(bucketLog).Cursor()
			last := min(rev, next+watchBatch-1)
			for k, v := c.Seek(revKey(next)); k != nil; k, v = c.Next() {
				r := int64(binary.BigEndian.Uint64(k))
				if r > last {
					break
				}
				evs, err := decodeEvents(v, r, prefix)
				if err != nil {
					return err
				}
				// A transaction that deleted only missing keys changed
				// nothing, and still comes to a watch of every key.
				if len(evs) > 0 || len(v) == 0 && prefix == "" {
					batch = append(batch, store.WatchResponse{Revision: r, Events: evs})
				}
			}
			next = last + 1
			return nil
		})
		if err != nil {
			send(store.WatchResponse{Err: err})
			return
		}
		for _, r := range batch {
			if !send(r) {
				return
			}
		}
	}
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.watches.Wait()
	return s.db.Close()
}

// Event log encoding: per event a type byte, then key, then value, each as
// uvarint length and bytes, then the create revision as uvarint.
func encodeEvents(evs []store.Event) []byte {
	var b []byte
	for _, e := range evs {
		b = append(b, byte(e.Type))
		b = binary.AppendUvarint(b, uint64(len(e.KV.Key)))
		b = append(b, e.KV.Key...)
		b = binary.AppendUvarint(b, uint64(len(e.KV.Value)))
		b = append(b, e.KV.Value...)
		b = binary.AppendUvarint(b, uint64(e.KV.CreateRevision))
	}
	return b
}

func decodeEvents(b []byte, rev int64, prefix string) ([]store.Event, error) {
	var out []store.Event
	bad := fmt.Errorf("corrupt history at revision %d", rev)
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		f := b[k : k+int(n)]
		b = b[k+int(n):]
		return f, true
	}
	for len(b) > 0 {
		typ := store.EventType(b[0])
		b = b[1:]
		key, ok1 := field()
		val, ok2 := field()
		cr, k := binary.Uvarint(b)
		if !ok1 || !ok2 || k <= 0 || (typ != store.EventPut && typ != store.EventDelete) {
			return nil, bad
		}
		b = b[k:]
		if !bytes.HasPrefix(key, []byte(prefix)) {
			continue
		}
		e := store.Event{Type: typ, KV: store.KeyValue{Key: string(key), ModRevision: rev}}
		if typ == store.EventPut {
			// A delete's create revision is logged, and not told: etcd's
			// delete events carry none.
			e.KV.Value, e.KV.CreateRevision = bytes.Clone(val), int64(cr)
		}
		out = append(out, e)
	}
	return out, nil
}
