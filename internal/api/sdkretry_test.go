package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
	"github.com/vnetgw/vnetgw/internal/store/storetest"
)

// A connection's sharedkey/reset, a POST that is made anew each time,
// sent by the Azure SDK with its default retry policy (azcore retries
// 408, 429, 500, 502, 503 and 504 for every method, after Retry-After)
// to a node on etcd whose news of its own change comes late (the watch
// held 5 s, past region.SyncTimeout, here 2 s), is made once: the node
// answers it as made. It answered 503 ServiceUnavailable, the change made
// all the same, and the SDK sent it again after the Retry-After, when the
// news had come: the key was reset four times, and the SDK got an error.
func TestSDKResetSharedKeyMadeOnce(t *testing.T) {
	old := region.SyncTimeout
	region.SyncTimeout = 2 * time.Second
	t.Cleanup(func() { region.SyncTimeout = old })
	etc := etcdtest.Start(t)
	p := etc.NewProxy(t)
	cli := etc.Client(t)
	direct := etcd.New(cli, "/once/", etcd.Options{})
	t.Cleanup(func() { direct.Close() })
	through := etcd.New(p.Client(t), "/once/", etcd.Options{})
	t.Cleanup(func() { through.Close() })
	var log logbuf.Buffer
	e := newEnv(t, envOptions{store: storetest.WatchVia{Store: direct, Watches: through}, tls: true, log: &log})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	lng := e.lng(s, "onprem", "127.183.3.1", "192.168.0.0/24")
	e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, lng))
	key := connectionKey(t, direct)
	writes := func() int64 { return writesOf(t, cli, "/once/"+key) }
	before := writes()

	p.SetDelay(5 * time.Second)
	o := e.sdkOptions()
	o.Retry = policy.RetryOptions{} // the SDK's default policy
	f, err := armnetwork.NewClientFactory(subA, sdkToken{}, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	poller, err := f.NewVirtualNetworkGatewayConnectionsClient().BeginResetSharedKey(ctx, "rg", "c",
		armnetwork.ConnectionResetSharedKey{KeyLength: to.Ptr[int32](32)}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, nil)
	}
	if posts := resetPosts(log.String()); err != nil || posts != 1 {
		t.Errorf("the SDK's reset: %v, after %d POSTs; want it made with one", err, posts)
	}
	if n := writes() - before; n != 1 {
		t.Errorf("the reset wrote the connection %d times, want once", n)
	}
}

// A connection's sharedkey/reset whose commit's answer etcd sent and the
// node never got (the connection to etcd cut while the answer was on its
// way: the write's outcome unknown to the node), sent by the Azure SDK
// with its default retry policy, is made once and answered as made: the
// node asks the store whether it committed. It answered 500
// WriteOutcomeUnknown, and the SDK sent the POST again (azcore retries a
// 500 for every method), which reset the key a second time.
func TestSDKResetSharedKeyAnswerLost(t *testing.T) {
	etc := etcdtest.Start(t)
	p := etc.NewProxy(t)
	cli := etc.Client(t)
	direct := etcd.New(cli, "/lost/", etcd.Options{})
	t.Cleanup(func() { direct.Close() })
	through := etcd.New(p.Client(t), "/lost/", etcd.Options{})
	t.Cleanup(func() { through.Close() })
	var log logbuf.Buffer
	e := newEnv(t, envOptions{store: txnVia{Store: direct, txns: through}, tls: true, log: &log})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	lng := e.lng(s, "onprem", "127.185.3.1", "192.168.0.0/24")
	e.must("PUT", netPath(subA, "rg", "connections", "c"), s2s(loc, s.gw, lng))
	key := "/lost/" + connectionKey(t, direct)
	before := writesOf(t, cli, key)
	oldKey := e.must("GET", netPath(subA, "rg", "connections", "c")+"/sharedkey", nil).str("value")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	changes := cli.Watch(ctx, key)
	// etcd's answers are held; once the reset is committed, the way to
	// etcd is cut with its answer on it.
	p.SetDelay(time.Hour)
	o := e.sdkOptions()
	o.Retry = policy.RetryOptions{} // the SDK's default policy
	f, err := armnetwork.NewClientFactory(subA, sdkToken{}, o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		poller, err := f.NewVirtualNetworkGatewayConnectionsClient().BeginResetSharedKey(ctx, "rg", "c",
			armnetwork.ConnectionResetSharedKey{KeyLength: to.Ptr[int32](32)}, nil)
		if err == nil {
			_, err = poller.PollUntilDone(ctx, nil)
		}
		done <- err
	}()
	select {
	case <-changes:
	case err := <-done:
		t.Fatalf("the reset was answered (%v) with etcd's answers held", err)
	case <-ctx.Done():
		t.Fatal("the reset was not committed within 2 minutes")
	}
	p.Drop()
	p.SetDelay(0)
	err = <-done
	if posts := resetPosts(log.String()); err != nil || posts != 1 {
		t.Errorf("the SDK's reset: %v, after %d POSTs; want it made with one", err, posts)
	}
	if n := writesOf(t, cli, key) - before; n != 1 {
		t.Errorf("the reset wrote the connection %d times, want once", n)
	}
	newKey := e.must("GET", netPath(subA, "rg", "connections", "c")+"/sharedkey", nil).str("value")
	if len(newKey) != 32 || newKey == oldKey {
		t.Errorf("the shared key after the reset is %d characters long (the same as before: %t), want a new one of 32", len(newKey), newKey == oldKey)
	}
}

// txnVia is a store whose transactions go through txns (another way to
// the same data, such as a proxy a test cuts off) and the rest through
// Store.
type txnVia struct {
	store.Store
	txns store.Store
}

func (s txnVia) Txn(ctx context.Context, conds []store.Cond, ops []store.Op) (int64, error) {
	return s.txns.Txn(ctx, conds, ops)
}

// connectionKey is the store's key of connection c.
func connectionKey(t *testing.T, st store.Store) string {
	t.Helper()
	kvs, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if strings.HasSuffix(kv.Key, "/connections/c") {
			return kv.Key
		}
	}
	t.Fatal("no record of the connection")
	return ""
}

// writesOf is how often etcd's key was written (its version).
func writesOf(t *testing.T, cli *clientv3.Client, key string) int64 {
	t.Helper()
	r, err := cli.Get(context.Background(), key)
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("the record %s: %v", key, err)
	}
	return r.Kvs[0].Version
}

// resetPosts counts the POSTs of connection c's sharedkey/reset in the
// API's log.
func resetPosts(log string) int {
	n := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, "msg=request ") && strings.Contains(line, "method=POST") && strings.Contains(line, "/connections/c/sharedkey/reset") {
			n++
		}
	}
	return n
}
