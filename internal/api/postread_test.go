package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
	"github.com/vnetgw/vnetgw/internal/store/storetest"
)

// TestPostReadsSync: the reads that ARM makes POSTs (a connection's
// vpndeviceconfigurationscript, getikesas, a NIC's effectiveRouteTable, a
// gateway's generatevpnclientpackage...) see every write acknowledged
// before them, also one another node of the region made, as a GET does.
// Two nodes on one etcd behind a load balancer: the shared key set through
// one node, then the device script asked of the other, whose news of the
// change comes late, had the old key (the device configured with it never
// connects); a connection made through one node was 404 to the other's
// POSTs, and a live operation on it (getikesas) was answered by the node
// that does not run it, not forwarded.
func TestPostReadsSync(t *testing.T) {
	etc := etcdtest.Start(t)
	p := etc.NewProxy(t)
	const prefix = "/postreads/"
	direct := etcd.New(etc.Client(t), prefix, etcd.Options{})
	t.Cleanup(func() { direct.Close() })
	a := newEnv(t, envOptions{store: direct})
	bDirect := etcd.New(etc.Client(t), prefix, etcd.Options{})
	t.Cleanup(func() { bDirect.Close() })
	late := etcd.New(p.Client(t), prefix, etcd.Options{})
	t.Cleanup(func() { late.Close() })
	// The node that runs the VNets, for node b: it answers what b
	// forwards to it.
	runner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"value":[],"answeredBy":"runner"}`)
	}))
	defer runner.Close()
	runs, _ := url.Parse(runner.URL)
	b := newEnv(t, envOptions{store: storetest.WatchVia{Store: bDirect, Watches: late}, elsewhere: func(string) *url.URL { return runs }})

	s := a.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	lng := a.lng(s, "onprem", "203.0.113.10", "192.168.0.0/24")
	conn := netPath(subA, "rg", "connections", "c")
	a.must("PUT", conn, s2s(loc, s.gw, lng))
	a.must("PUT", conn+"/sharedkey", obj{"value": "OldSharedKey123"})
	// Node b has seen all of it.
	if got := b.must("GET", conn+"/sharedkey", nil).str("value"); got != "OldSharedKey123" {
		t.Fatalf("node b's shared key %q", got)
	}

	p.SetDelay(3 * time.Second) // node b's news of changes come late
	a.must("PUT", conn+"/sharedkey", obj{"value": "NewSharedKey456"})
	if script := b.script(conn, nil); !strings.Contains(script, "NewSharedKey456") {
		t.Errorf("the device script that node b answers after the key was set through node a has not the new key:\n%s", script)
	}

	conn2 := netPath(subA, "rg", "connections", "c2")
	lng2 := a.lng(s, "onprem2", "203.0.113.20", "192.168.9.0/24")
	a.must("PUT", conn2, s2s(loc, s.gw, lng2))
	// A live operation goes to the node that runs the connection's VNet:
	// answered by node b itself, it had no IKE SAs to show.
	if r := b.do("POST", conn2+"/getikesas", nil); r.status != 200 || !strings.Contains(string(r.body), "runner") {
		t.Errorf("getikesas of node b on the connection made through node a: %d %s; want it answered by the node that runs it", r.status, r.body)
	}
}
