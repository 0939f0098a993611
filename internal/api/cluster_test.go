package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

const nodesPath = "/providers/Vnetgw.Cluster/nodes"

// newClusterEnv is an API whose region is managed by a node of a real
// cluster on etcd; the node runs the VNets its Place call returns.
func newClusterEnv(t testing.TB) (*env, *cluster.Node) {
	t.Helper()
	return newClusterEnvOn(t, etcdtest.Start(t))
}

// newClusterEnvOn is newClusterEnv on the etcd e.
func newClusterEnvOn(t testing.TB, e *etcdtest.Etcd) (*env, *cluster.Node) {
	t.Helper()
	n, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/c/", Name: "gw1", TTL: time.Second, Info: "https://gw1.example:7443"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return newEnv(t, envOptions{cluster: n}), n
}

func TestClusterNotConfigured(t *testing.T) {
	e := newEnv(t)
	for _, req := range []struct{ method, path string }{{"GET", nodesPath}, {"POST", "/providers/Vnetgw.Cluster/rebalance"}} {
		if r := e.do(req.method, req.path, nil); r.status != http.StatusBadRequest || r.code() != "ClusterNotConfigured" {
			t.Errorf("%s %s on one node: %d %s", req.method, req.path, r.status, r.body)
		}
	}
}

func TestClusterNodesMoveAndDrain(t *testing.T) {
	e, n := newClusterEnv(t)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	vnet := strings.ToLower(s.vnet)
	if owned := n.Place(context.Background(), []string{vnet}, nil); !owned[vnet] {
		t.Fatalf("the only node does not run the VNet: %v", owned)
	}

	r := e.must("GET", nodesPath, nil)
	if r.str("value.0.name") != "gw1" || r.field("value.0.properties.self") != true || r.str("value.0.properties.endpoint") != "https://gw1.example:7443" ||
		r.str("value.0.properties.virtualNetworks.0.id") != s.vnet || fmt.Sprint(r.field("value.0.properties.standbyFor")) != "[]" {
		t.Fatalf("nodes: %s", r.body)
	}
	if r := e.must("GET", nodesPath+"/gw1", nil); r.str("id") != nodesPath+"/gw1" {
		t.Fatalf("node: %s", r.body)
	}
	// In any case, as ARM's paths are (it was 405: use POST).
	if r := e.must("GET", strings.ToUpper(nodesPath)+"/gw1", nil); r.str("id") != nodesPath+"/gw1" {
		t.Fatalf("node, its path in upper case: %s", r.body)
	}

	move := func(body any) resp { return e.do("POST", "/providers/Vnetgw.Cluster/moveVirtualNetwork", body) }
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"to a node that does not exist", obj{"virtualNetworkId": s.vnet, "node": "gw9"}, 404, "NodeNotFound"},
		{"a VNet that does not exist", obj{"virtualNetworkId": s.vnet + "x", "node": "gw1"}, 404, "ResourceNotFound"},
		{"an id that is not a VNet's", obj{"virtualNetworkId": s.gw, "node": "gw1"}, 400, "InvalidParameter"},
		{"not JSON", "{", 400, "InvalidRequestFormat"},
		{"no body", "", 400, "InvalidRequestContent"},
	} {
		if r := move(c.body); r.status != c.status || r.code() != c.code {
			t.Errorf("move %s: %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
		}
	}
	// To where it runs: nothing moves.
	if r := move(obj{"virtualNetworkId": s.vnet, "node": "gw1"}); r.status != http.StatusAccepted || r.str("fromNode") != "gw1" || r.str("toNode") != "gw1" {
		t.Fatalf("move to where it runs: %d %s", r.status, r.body)
	}

	if r := e.do("GET", nodesPath+"/gw9", nil); r.status != 404 || r.code() != "NodeNotFound" {
		t.Errorf("a node that does not exist: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", nodesPath+"/gw1", nil); r.status != 405 || r.code() != "MethodNotAllowed" || r.header.Get("Allow") != "GET" {
		t.Errorf("DELETE a node: %d %s", r.status, r.body)
	}
	if r := e.do("POST", nodesPath+"/gw1/explode", nil); r.status != 404 {
		t.Errorf("an unknown operation: %d %s", r.status, r.body)
	}
	if r := e.raw("GET", nodesPath, "", testToken, nil); r.code() != "MissingApiVersionParameter" {
		t.Errorf("without api-version: %d %s", r.status, r.body)
	}
	if r := e.raw("GET", nodesPath, "?api-version=2024-05-01", "wrong", nil); r.status != 401 {
		t.Errorf("with a wrong token: %d %s", r.status, r.body)
	}

	// The only node drained keeps its VNets: there is nowhere to go.
	if r := e.must("POST", nodesPath+"/gw1/drain", nil); r.field("properties.draining") != true {
		t.Fatalf("drain: %s", r.body)
	}
	// (The node learns of the drain from etcd's watch.)
	r = move(obj{"virtualNetworkId": s.vnet, "node": "gw1"})
	for deadline := time.Now().Add(5 * time.Second); r.code() != "NodeDraining" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r = move(obj{"virtualNetworkId": s.vnet, "node": "gw1"})
	}
	if r.status != http.StatusConflict || r.code() != "NodeDraining" {
		t.Fatalf("move to a draining node: %d %s", r.status, r.body)
	}
	if owned := n.Place(context.Background(), []string{vnet}, nil); !owned[vnet] {
		t.Fatal("the only node, drained, stopped its VNet with nowhere to hand it")
	}
	if r := e.must("POST", nodesPath+"/gw1/resume", nil); r.field("properties.draining") != false {
		t.Fatalf("resume: %s", r.body)
	}
	if r := e.raw("POST", "/providers/Vnetgw.Cluster/rebalance", "?dryRun=true&api-version=2024-05-01", testToken, nil); r.status != http.StatusOK || string(r.body) != `{"value":[]}` {
		t.Fatalf("rebalance dry run of one node: %d %s", r.status, r.body)
	}
	if r := e.must("POST", "/providers/Vnetgw.Cluster/rebalance", nil); r.status != http.StatusAccepted || string(r.body) != `{"value":[]}` {
		t.Fatalf("rebalance of one node: %d %s", r.status, r.body)
	}
}

// A rebalance's dryRun is true or false, its name in any case: a dry run
// asked for otherwise is refused, never run as a rebalance.
func TestRebalanceDryRunParameter(t *testing.T) {
	e, _ := newClusterEnv(t)
	for _, c := range []struct {
		name, query string
		status      int
		code        string
	}{
		{"true", "dryRun=true", http.StatusOK, ""},
		{"the name in lower case", "dryrun=TRUE", http.StatusOK, ""},
		{"true and false", "dryRun=false&dryRun=true", http.StatusOK, ""},
		{"false", "dryRun=false", http.StatusAccepted, ""},
		{"none", "", http.StatusAccepted, ""},
		{"1", "dryRun=1", http.StatusBadRequest, "InvalidParameter"},
		{"yes", "DRYRUN=yes", http.StatusBadRequest, "InvalidParameter"},
		{"empty", "dryRun=", http.StatusBadRequest, "InvalidParameter"},
	} {
		r := e.raw("POST", "/providers/Vnetgw.Cluster/rebalance", "?api-version=2024-05-01&"+c.query, testToken, nil)
		if r.status != c.status || (c.code != "" && r.code() != c.code) {
			t.Errorf("rebalance?%s (%s): %d %s, want %d %s", c.query, c.name, r.status, r.body, c.status, c.code)
		}
	}
}

// An operator's change of the cluster (drain, resume, move, rebalance)
// while etcd answers nothing (paused: its connections open, silent) is
// answered, once cluster.WriteTimeout has passed, with 503
// ServiceUnavailable and a Retry-After, saying that etcd did not answer:
// a client tries again later. It waited until the connection's keepalive
// gave up (some 13 s), then answered a bare 500 InternalServerError, or
// waited on for as long as the caller did.
func TestClusterChangeWhileEtcdPaused(t *testing.T) {
	old := cluster.WriteTimeout
	cluster.WriteTimeout = 2 * time.Second
	t.Cleanup(func() { cluster.WriteTimeout = old })
	etcd := etcdtest.Start(t)
	e, n := newClusterEnvOn(t, etcd)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	if owned := n.Place(context.Background(), []string{strings.ToLower(s.vnet)}, nil); len(owned) != 1 {
		t.Fatalf("the only node does not run the VNet: %v", owned)
	}
	etcd.Pause(t)
	for _, c := range []struct {
		name, path string
		body       any
	}{
		{"drain", nodesPath + "/gw1/drain", nil},
		{"resume", nodesPath + "/gw1/resume", nil},
		{"move", "/providers/Vnetgw.Cluster/moveVirtualNetwork", obj{"virtualNetworkId": s.vnet, "node": "gw1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := json.Marshal(c.body)
			if c.body == nil {
				b = nil
			}
			// Far longer than the bound: a slow machine answers within it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+c.path+"?api-version=2024-05-01", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s with etcd paused: no answer within a minute: %v", c.name, err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			r := resp{status: res.StatusCode, header: res.Header, body: body}
			if r.status != http.StatusServiceUnavailable || r.code() != "ServiceUnavailable" || r.header.Get("Retry-After") == "" ||
				!strings.Contains(r.str("error.message"), "etcd, the cluster's store, did not answer") {
				t.Fatalf("%s with etcd paused: %d %v %s; want 503 ServiceUnavailable with a Retry-After, saying etcd did not answer", c.name, r.status, r.header.Get("Retry-After"), r.body)
			}
		})
	}
}

// A drain while the etcd member a node talks to has lost its quorum (the
// two others of three paused, the member knows it has no leader) answers
// 503 ServiceUnavailable with a Retry-After, saying that etcd did not
// answer. etcd refuses the write after its request timeout with gRPC's
// Unknown and "context deadline exceeded", which the API answered as a
// bare 500 InternalServerError.
func TestClusterChangeWithoutQuorum(t *testing.T) {
	members := etcdtest.StartCluster(t, netip.MustParseAddr("127.173.2.0"), 3)
	follower := etcdtest.Follower(t, members)
	e, _ := newClusterEnvOn(t, follower)
	etcdtest.LoseQuorum(t, members, follower)
	r := e.do("POST", nodesPath+"/gw1/drain", nil)
	if r.status != http.StatusServiceUnavailable || r.code() != "ServiceUnavailable" || r.header.Get("Retry-After") == "" ||
		!strings.Contains(r.str("error.message"), "etcd, the cluster's store, did not answer") {
		t.Fatalf("drain without a quorum: %d %v %s; want 503 ServiceUnavailable with a Retry-After, saying etcd did not answer", r.status, r.header.Get("Retry-After"), r.body)
	}
}

// The nodes' list, asked of a node whose etcd member has lost its quorum
// (the two others of three paused), and whose region is on that etcd as
// serve --etcd has it, answers 503 ServiceUnavailable in ARM's envelope
// with a Retry-After, saying that the store cannot answer now, as soon as
// the member says it has no leader (some 2.5 s of the etcd client's
// retries). It answered so only once region.SyncTimeout (10 s) had
// passed; here that is a minute, which the answer must not wait for.
func TestClusterNodesWithoutQuorum(t *testing.T) {
	old := region.SyncTimeout
	region.SyncTimeout = time.Minute
	t.Cleanup(func() { region.SyncTimeout = old })
	members := etcdtest.StartCluster(t, netip.MustParseAddr("127.183.2.0"), 3)
	follower := etcdtest.Follower(t, members)
	cli := follower.Client(t)
	st := etcd.New(cli, "/q/state/", etcd.Options{})
	n, err := cluster.Join(context.Background(), cli, cluster.Options{Prefix: "/q/cluster/", Name: "gw1", TTL: time.Second, Info: "https://gw1.example:7443"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	e := newEnv(t, envOptions{cluster: n, store: st})
	e.must("PUT", "/subscriptions/"+subA+"/resourcegroups/rg", obj{"location": loc})
	e.must("GET", nodesPath, nil)
	etcdtest.LoseQuorum(t, members, follower)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+nodesPath+"?api-version=2024-05-01", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	start := time.Now()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("the nodes without a quorum: no answer: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: body}
	t.Logf("answered in %s: %d %s", time.Since(start), r.status, r.body)
	if r.status != http.StatusServiceUnavailable || r.code() != "ServiceUnavailable" || r.header.Get("Retry-After") == "" ||
		!strings.Contains(r.str("error.message"), "the state store cannot answer now") {
		t.Fatalf("the nodes without a quorum: %d Retry-After %q %s; want 503 ServiceUnavailable with a Retry-After, saying the store cannot answer now", r.status, r.header.Get("Retry-After"), r.body)
	}
}
