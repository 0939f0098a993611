package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/region"
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
	// How often the connection's record was written, by etcd's count.
	writes := func() int64 {
		t.Helper()
		kvs, _, err := direct.List(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			if strings.HasSuffix(kv.Key, "/connections/c") {
				r, err := cli.Get(context.Background(), "/once/"+kv.Key)
				if err != nil || len(r.Kvs) != 1 {
					t.Fatalf("the connection's record %s: %v", kv.Key, err)
				}
				return r.Kvs[0].Version
			}
		}
		t.Fatal("no record of the connection")
		return 0
	}
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
	posts := 0
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "msg=request ") && strings.Contains(line, "method=POST") && strings.Contains(line, "/connections/c/sharedkey/reset") {
			posts++
		}
	}
	if err != nil || posts != 1 {
		t.Errorf("the SDK's reset: %v, after %d POSTs; want it made with one", err, posts)
	}
	if n := writes() - before; n != 1 {
		t.Errorf("the reset wrote the connection %d times, want once", n)
	}
}
