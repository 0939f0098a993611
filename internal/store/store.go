// Package store defines the state store of vnetgw: a revisioned key-value
// store with conditional transactions and watches, in the manner of etcd v3.
//
// Every committed transaction advances the store's revision by one. Each key
// remembers the revision that created it and the one that last changed it, so
// that callers can make a write conditional on what they read (optimistic
// concurrency), and watchers can resume from any revision still in history.
// The embedded implementation is in store/bolt; the desired state of a whole
// region lives behind this interface.
package store

import (
	"context"
	"errors"
	"fmt"
)

// Errors returned by every implementation.
var (
	// ErrNotFound means the key does not exist.
	ErrNotFound = errors.New("key not found")
	// ErrConflict means a condition of a transaction did not hold; nothing
	// was written.
	ErrConflict = errors.New("transaction condition failed")
	// ErrCompacted means a watch asked for history the store no longer has.
	ErrCompacted = errors.New("revision compacted")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrTooLarge means the store refused a transaction for its size;
	// nothing was written.
	ErrTooLarge = errors.New("transaction too large for the store")
	// ErrUnavailable means the store takes no writes for now, whatever
	// their size (etcd full or overloaded, the embedded store's disk
	// full); nothing was written. From a read: the store cannot answer
	// one now (etcd without a leader).
	ErrUnavailable = errors.New("the store takes no writes")
	// ErrOutcomeUnknown means a write's answer did not come (the way to
	// the store lost mid-write, its leader changed, its deadline passed):
	// it may or may not have been applied.
	ErrOutcomeUnknown = errors.New("the store did not say whether the write was applied")
	// ErrDuplicateKey means a transaction wrote one key twice (a put
	// and another put or a delete), which etcd refuses; nothing was
	// written.
	ErrDuplicateKey = errors.New("a transaction writes one key twice")
	// ErrEmptyKey means a transaction wrote the empty key, which no
	// implementation keeps; nothing was written.
	ErrEmptyKey = errors.New("a transaction writes the empty key")
	// ErrNegativeRevision means a watch was asked for after a revision
	// below 0.
	ErrNegativeRevision = errors.New("a watch after a negative revision")
)

// MaxKeyBytes is the longest key every implementation takes (bbolt's
// limit): a transaction with a longer key is refused with ErrTooLarge.
const MaxKeyBytes = 32 << 10

// KeyValue is one key with its value and revisions.
type KeyValue struct {
	Key   string
	Value []byte
	// CreateRevision is the revision of the transaction that created the key.
	CreateRevision int64
	// ModRevision is the revision of the transaction that last wrote it.
	ModRevision int64
}

// Op is one write of a transaction: a put, or a delete when Delete is set.
type Op struct {
	Key    string
	Value  []byte
	Delete bool
}

// Put returns an Op that sets key to value.
func Put(key string, value []byte) Op { return Op{Key: key, Value: value} }

// Delete returns an Op that removes key; deleting a missing key is not an
// error.
func Delete(key string) Op { return Op{Key: key, Delete: true} }

// CheckOps returns ErrDuplicateKey, naming the key, when ops write one
// key twice: a put and another put or a delete (two deletes of a key are
// one); ErrEmptyKey when one writes the empty key. Every implementation
// refuses such a transaction, as etcd does.
func CheckOps(ops []Op) error {
	puts := make(map[string]bool, len(ops))
	for _, op := range ops {
		if op.Key == "" {
			return ErrEmptyKey
		}
		if seen, ok := puts[op.Key]; ok && (seen || !op.Delete) {
			return fmt.Errorf("%w: %q", ErrDuplicateKey, op.Key)
		}
		puts[op.Key] = puts[op.Key] || !op.Delete
	}
	return nil
}

// Cond is a condition of a transaction: the key's ModRevision must equal
// ModRevision, where 0 means the key must not exist; or, when
// CreateRevision is not 0, the key's CreateRevision must equal it: the key
// is the one created then, whatever was written to it since, and was not
// deleted and created again (a claim still held).
type Cond struct {
	Key            string
	ModRevision    int64
	CreateRevision int64
	// Global: Key is one of the backend's own keys, not under the
	// store's prefix (on etcd, any key of the cluster, such as a cluster
	// node's claim of a VNet, so that a write is fenced by it). The
	// embedded store has no keys but the store's: there, no Global key
	// exists.
	Global bool
}

// Holds reports whether the condition holds for the key's revisions
// (create and mod 0: the key does not exist).
func (c Cond) Holds(create, mod int64) bool {
	if c.CreateRevision != 0 {
		return create == c.CreateRevision
	}
	return mod == c.ModRevision
}

// EventType tells a put from a delete.
type EventType uint8

// Event types.
const (
	EventPut EventType = iota + 1
	EventDelete
)

// Event is one change seen by a watcher. For a delete, KV.Value is nil,
// KV.CreateRevision 0 and KV.ModRevision the revision of the deleting
// transaction.
type Event struct {
	Type EventType
	KV   KeyValue
}

// WatchResponse carries the events of one committed transaction (all with
// the same Revision), or a terminal error after which the channel closes.
type WatchResponse struct {
	Revision int64
	Events   []Event
	Err      error
}

// Store is a revisioned key-value store with watches.
type Store interface {
	// Get returns the current value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (KeyValue, error)
	// List returns every key with the given prefix in key order, and the
	// revision of the store at which they were read.
	List(ctx context.Context, prefix string) ([]KeyValue, int64, error)
	// Txn applies ops atomically and durably if every condition holds and
	// returns the new revision; otherwise it returns ErrConflict and writes
	// nothing. A transaction without ops does not advance the revision.
	// One that writes a key twice is refused (CheckOps).
	Txn(ctx context.Context, conds []Cond, ops []Op) (int64, error)
	// Watch streams the changes to keys with prefix made after revision
	// afterRev, one response per transaction, in order; a transaction
	// that changed nothing (deletes of keys that do not exist) comes to a
	// watch of every key (prefix "") as a response without events, so
	// that a caller waiting for the revision Txn returned sees it come by.
	// A negative afterRev is refused: the one response has
	// ErrNegativeRevision. The channel closes
	// when ctx ends or the store closes; a response with Err set (such as
	// ErrCompacted) comes last.
	Watch(ctx context.Context, prefix string, afterRev int64) <-chan WatchResponse
	// Revision returns the store's current revision.
	Revision(ctx context.Context) (int64, error)
	// Close releases the store. Watches end.
	Close() error
}
