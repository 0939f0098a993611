package region

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store"
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
