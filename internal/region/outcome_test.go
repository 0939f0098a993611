package region

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// cutAtCommit cuts the way to etcd (Isolate: the write goes out, nothing
// arrives) just as the next commit starts, after the region has synced.
type cutAtCommit struct {
	store.Store
	p     *etcdtest.Proxy
	armed atomic.Bool
}

func (s *cutAtCommit) Txn(ctx context.Context, conds []store.Cond, ops []store.Op) (int64, error) {
	if s.armed.Swap(false) {
		s.p.Isolate()
	}
	return s.Store.Txn(ctx, conds, ops)
}

// TestWriteOutcomeUnknownOnEtcd: a change whose write to etcd got no
// answer (the way to etcd lost mid-write, here until the request's
// deadline) answers WriteOutcomeUnknown, saying that it may or may not
// have been applied and to GET the resource; not ServiceUnavailable, which
// promises that nothing was written. It was a bare error (the API's 500
// InternalServerError saying only to see vnetgw's log).
func TestWriteOutcomeUnknownOnEtcd(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	ctx := context.Background()
	inner := etcd.New(p.Client(t), "/outcome/", etcd.Options{})
	t.Cleanup(func() { inner.Close() })
	st := &cutAtCommit{Store: inner, p: p}
	reg, err := Open(ctx, Config{Store: st, MaxTxnOps: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	id := arm.ResourceGroupID("eeeeeeee-0000-0000-0000-0000000000eb", "rg")
	if _, _, err := reg.PutGroup(ctx, id, &arm.ResourceGroup{Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	st.armed.Store(true)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second) // the client's patience
	defer cancel()
	_, _, err = reg.PutGroup(wctx, id, &arm.ResourceGroup{Location: "westeurope", Tags: map[string]string{"a": "b"}})
	var ae *arm.Error
	if !errors.As(err, &ae) || ae.Code != arm.CodeWriteOutcomeUnknown || !strings.Contains(ae.Message, "GET") {
		t.Fatalf("a write whose answer was lost: %v, want %s telling to GET the resource", err, arm.CodeWriteOutcomeUnknown)
	}
}

// answerLost is a store whose next transaction (once armed) runs lose
// instead, which stands for what the store did with it (applied it or
// not, another writer's change first) before its answer was lost. It
// counts the transactions applied that wrote key.
type answerLost struct {
	store.Store
	t      *testing.T
	key    string
	lose   atomic.Pointer[func(s *answerLost, conds []store.Cond, ops []store.Op) error]
	writes atomic.Int32
}

func (s *answerLost) Txn(ctx context.Context, conds []store.Cond, ops []store.Op) (int64, error) {
	if lose := s.lose.Swap(nil); lose != nil {
		return 0, (*lose)(s, conds, ops)
	}
	return s.apply(ctx, conds, ops)
}

func (s *answerLost) apply(ctx context.Context, conds []store.Cond, ops []store.Op) (int64, error) {
	rev, err := s.Store.Txn(ctx, conds, ops)
	if err == nil && slices.ContainsFunc(ops, func(op store.Op) bool { return op.Key == s.key }) {
		s.writes.Add(1)
	}
	return rev, err
}

// otherWriter commits n changes of another node's region: the fence
// written with an id of its own added.
func (s *answerLost) otherWriter(n int) {
	t := s.t
	t.Helper()
	for range n {
		f, err := s.Store.Get(context.Background(), keyFence)
		if err != nil {
			t.Fatal(err)
		}
		ids := append(strings.Fields(string(f.Value)), fmt.Sprintf("other%d", rand.Uint64()))
		if _, err := s.Store.Txn(context.Background(), []store.Cond{{Key: keyFence, ModRevision: f.ModRevision}},
			[]store.Op{store.Put(keyFence, []byte(strings.Join(ids[max(0, len(ids)-maxFenceIDs):], " ")))}); err != nil {
			t.Fatal(err)
		}
	}
}

// errLost is the error of a write whose answer was lost.
var errLost = fmt.Errorf("%w: the connection to etcd was lost", store.ErrOutcomeUnknown)

// A change whose answer the store lost (store.ErrOutcomeUnknown) is
// answered as what became of it, once the store tells: made (once),
// whether the store had applied it or not, another node's change first
// or not. Only when the store cannot tell (it closed; more changes
// followed than the fence remembers, or one that wrote no ids) is it
// WriteOutcomeUnknown. The others were WriteOutcomeUnknown too, which
// the API answers 500 and the Azure SDKs send again, a POST too: a
// sharedkey/reset that was made was made twice.
func TestChangeWhoseAnswerWasLost(t *testing.T) {
	tests := []struct {
		name string
		lose func(s *answerLost, conds []store.Cond, ops []store.Op) error
		// unknown: the change answers WriteOutcomeUnknown.
		unknown bool
		writes  int32
	}{
		{"applied", func(s *answerLost, conds []store.Cond, ops []store.Op) error {
			if _, err := s.apply(context.Background(), conds, ops); err != nil {
				return err
			}
			return errLost
		}, false, 1},
		{"not applied (yet)", func(*answerLost, []store.Cond, []store.Op) error {
			return errLost
		}, false, 1},
		{"another node's change first", func(s *answerLost, _ []store.Cond, _ []store.Op) error {
			s.otherWriter(1)
			return errLost
		}, false, 1},
		{"applied, and more changes after it than the fence remembers", func(s *answerLost, conds []store.Cond, ops []store.Op) error {
			if _, err := s.apply(context.Background(), conds, ops); err != nil {
				return err
			}
			s.otherWriter(maxFenceIDs)
			return errLost
		}, true, 1},
		{"applied, and a change after it that writes no ids (an older vnetgw's)", func(s *answerLost, conds []store.Cond, ops []store.Op) error {
			if _, err := s.apply(context.Background(), conds, ops); err != nil {
				return err
			}
			f, err := s.Store.Get(context.Background(), keyFence)
			if err == nil {
				_, err = s.Store.Txn(context.Background(), []store.Cond{{Key: keyFence, ModRevision: f.ModRevision}}, []store.Op{store.Put(keyFence, nil)})
			}
			if err != nil {
				s.t.Fatal(err)
			}
			return errLost
		}, true, 1},
		{"cut by Close", func(*answerLost, []store.Cond, []store.Op) error {
			return fmt.Errorf("%w: %w", store.ErrOutcomeUnknown, store.ErrClosed)
		}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			id := arm.ResourceGroupID("eeeeeeee-0000-0000-0000-0000000000ec", "rg")
			st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			s := &answerLost{Store: st, t: t, key: prefixResource + id.Key()}
			reg, err := Open(ctx, Config{Store: s})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close() })
			if _, _, err := reg.PutGroup(ctx, id, &arm.ResourceGroup{Location: "westeurope"}); err != nil {
				t.Fatal(err)
			}
			s.writes.Store(0)
			s.lose.Store(&tt.lose)
			_, _, err = reg.PutGroup(ctx, id, &arm.ResourceGroup{Location: "westeurope", Tags: map[string]string{"a": "b"}})
			var ae *arm.Error
			if unknown := errors.As(err, &ae) && ae.Code == arm.CodeWriteOutcomeUnknown; unknown != tt.unknown || (!unknown && err != nil) {
				t.Errorf("the change: %v; want WriteOutcomeUnknown: %t", err, tt.unknown)
			}
			if n := s.writes.Load(); n != tt.writes {
				t.Errorf("the change was written %d times, want %d", n, tt.writes)
			}
			if g, err := reg.Get(id); err == nil && tt.writes == 1 && g.(*arm.ResourceGroup).Tags["a"] != "b" {
				t.Errorf("the group after the change: %+v, want tag a=b", g)
			}
		})
	}
}
