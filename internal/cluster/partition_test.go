package cluster_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestCompactedWatchKeepsMembership: a quiet cluster prefix, compaction
// of etcd's history meanwhile (the region's status writes move its
// revision on), then a reconnect: the cluster watch cannot resume where
// it was. The node reads the cluster again and stays a member: no other
// node takes over VNets it has not stopped.
func TestCompactedWatchKeepsMembership(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	cliA := p.Client(t)
	var logA syncBuf
	a := joinLogged(t, cliA, 5*time.Second, &logA)
	defer a.Close()
	if o := a.Place(context.Background(), vnets, nil); len(o) != len(vnets) {
		t.Fatalf("a runs %d", len(o))
	}
	b := join(t, e, "b")
	defer b.Close()
	// Region status writes advance etcd's revision; the store compacts.
	direct := e.Client(t)
	for i := range 50 {
		direct.Put(context.Background(), "/r/state/status/x", strings.Repeat("x", i))
	}
	resp, _ := direct.Get(context.Background(), "/r/state/status/x")
	if _, err := direct.Compact(context.Background(), resp.Header.Revision); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Drop() // a's connection drops for a moment; a's lease is fine (TTL 5 s)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if o := b.Place(context.Background(), vnets, nil); len(o) > 0 {
			t.Errorf("%s after a sub-second blip (a's lease TTL 5 s, a never fenced), b runs %d VNets that a's caller has not been told to stop", time.Since(start).Round(time.Millisecond), len(o))
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	for _, l := range strings.Split(logA.String(), "\n") {
		if strings.Contains(l, "lost membership") || strings.Contains(l, "fence") {
			t.Log(l)
		}
	}
}

// TestHealthyNodeNotFenced: a node at TTL 2 s (etcd's least) whose lease
// etcd renews as usual (every second: a third of the TTL, rounded up to
// half a second) never stops its VNets for want of a renewal.
func TestHealthyNodeNotFenced(t *testing.T) {
	e := etcdtest.Start(t)
	var log syncBuf
	a := joinLogged(t, e.Client(t), 2*time.Second, &log)
	defer a.Close()
	a.Place(context.Background(), vnets, nil)
	dropped := 0
	start := time.Now()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if len(a.Place(context.Background(), vnets, nil)) == 0 {
			dropped++
			t.Errorf("the healthy node runs no VNet %s after it joined", time.Since(start).Round(time.Millisecond))
			for len(a.Place(context.Background(), vnets, nil)) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	if n := strings.Count(log.String(), "has not renewed"); n > 0 || dropped > 0 {
		t.Errorf("fenced %d times in 20 s (%d log lines)", dropped, n)
	}
}

// TestSilentConnectionRejoins: a node whose etcd connection goes silent
// (no reset: a member that lost power, a route gone) stops its VNets,
// and joins again on a new connection (gRPC keepalives find the dead one)
// rather than waiting on the old one for ever.
func TestSilentConnectionRejoins(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	cliA := p.Client(t)
	var logA syncBuf
	a := joinLogged(t, cliA, 2*time.Second, &logA)
	defer func() { go a.Close() }()
	a.Place(context.Background(), vnets, nil)
	p.Freeze()
	start := time.Now()
	back := time.Duration(0)
	stopped := time.Duration(0)
	for time.Since(start) < 30*time.Second {
		n := len(a.Place(context.Background(), vnets, nil))
		if n == 0 && stopped == 0 {
			stopped = time.Since(start)
		}
		if n > 0 && stopped > 0 {
			back = time.Since(start)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("a stopped its VNets %s after its connection went silent; ran them again %s after", stopped.Round(time.Millisecond), back.Round(time.Millisecond))
	if stopped == 0 || back == 0 {
		t.Errorf("stopped %v, back %v (0: not within 30 s) though etcd answers new connections:\n%s", stopped, back, logA.String())
	}
}

// TestSlowLinkNeverTwoNodes: a node whose answers from etcd come late
// (here 2.5 s at a TTL of 5 s: a congested link, or a process that did not
// get to read them) and then not at all must count its lease from when it
// asked for each renewal, not from when the answer came: etcd ends the
// lease TTL after it renewed it, and another node takes its VNets then.
// The two never run a VNet at once.
func TestSlowLinkNeverTwoNodes(t *testing.T) {
	e := etcdtest.Start(t)
	link := e.NewProxy(t)
	cliA, err := etcd.Dial([]string{link.Addr}, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cliA.Close()
	const ttl = 5 * time.Second
	a, err := cluster.Join(context.Background(), cliA, cluster.Options{Prefix: "/c/", Name: "a", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if o := a.Place(context.Background(), vnets, nil); len(o) != len(vnets) {
		t.Fatalf("a runs %d", len(o))
	}
	b, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/c/", Name: "b", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	link.SetDelay(2500 * time.Millisecond)
	// Cut the link at a moment a runs its VNets.
	time.Sleep(ttl)
	for deadline := time.Now().Add(4 * ttl); len(a.Place(context.Background(), vnets, nil)) != len(vnets); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a never runs its VNets over the slow link")
		}
	}
	link.Isolate()
	start := time.Now()
	for deadline := start.Add(4 * ttl); ; time.Sleep(10 * time.Millisecond) {
		oa := a.Place(context.Background(), vnets, nil)
		ob := b.Place(context.Background(), vnets, nil)
		for v := range ob {
			if oa[v] {
				t.Fatalf("%s after the cut a and b both run %s (a runs %d, b %d)", time.Since(start).Round(time.Millisecond), v, len(oa), len(ob))
			}
		}
		if len(ob) == len(vnets) {
			t.Logf("b runs every VNet %s after the cut", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("b runs %d VNets %s after the cut", len(ob), time.Since(start).Round(time.Millisecond))
		}
	}
}

// TestFailedReadKeepsMembership: a node whose watch of the cluster ends
// and whose reads of the cluster then fail for a while (here answers
// larger than its client takes; a slow or cut-off etcd member does the
// same), while etcd renews its lease, stays a member and keeps running
// its VNets, and no other node takes them; once a read succeeds it
// follows the cluster again. It left the cluster, revoking its lease, so
// that another node started at once the VNets its caller had not yet
// been told to stop.
func TestFailedReadKeepsMembership(t *testing.T) {
	e := etcdtest.Start(t)
	cliA, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		MaxCallRecvMsgSize: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer cliA.Close()
	var logA syncBuf
	a := joinLogged(t, cliA, 2*time.Second, &logA)
	defer a.Close()
	if o := a.Place(context.Background(), vnets, nil); len(o) != len(vnets) {
		t.Fatalf("a runs %d", len(o))
	}
	b := join(t, e, "b")
	defer b.Close()
	direct := e.Client(t)
	if _, err := direct.Put(context.Background(), "/c/big", strings.Repeat("x", 64<<10)); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if na, nb := len(a.Place(context.Background(), vnets, nil)), len(b.Place(context.Background(), vnets, nil)); na != len(vnets) || nb > 0 {
			t.Fatalf("a runs %d VNets of %d, its lease renewed all along, b runs %d:\n%s", na, len(vnets), nb, logA.String())
		}
	}
	if !strings.Contains(logA.String(), "reading the cluster again") {
		t.Fatalf("a's watch did not end, the test tests nothing:\n%s", logA.String())
	}
	if _, err := direct.Delete(context.Background(), "/c/big"); err != nil {
		t.Fatal(err)
	}
	// a follows the cluster again: a move asked for on b reaches it.
	if err := b.Move(context.Background(), vnets[0], "b"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		a.Place(context.Background(), vnets, nil)
		if b.Place(context.Background(), vnets, nil)[vnets[0]] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a move to b not done 15 s after a's reads succeed again:\n%s", logA.String())
		}
	}
}

// joinLogged joins node a to the cluster through cli, with a lease of ttl,
// its log written to log.
func joinLogged(t *testing.T, cli *clientv3.Client, ttl time.Duration, log *syncBuf) *cluster.Node {
	t.Helper()
	a, err := cluster.Join(context.Background(), cli, cluster.Options{Prefix: "/c/", Name: "a", TTL: ttl,
		Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRejoinRevokesTheKeptLease: a node cut off from etcd for longer
// than its TTL leaves the cluster; its revoke of the lease does not
// reach etcd, which keeps the lease (here the test renews it, as etcd
// gives every lease its TTL again when it restarts or elects a leader).
// Once it reaches etcd again the node revokes that lease and joins: the
// VNets it claimed run again, on it or on b. It was refused its name,
// "node name in use", and its VNets ran on no node, until the lease
// ended.
func TestRejoinRevokesTheKeptLease(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	var logA syncBuf
	a := joinLogged(t, p.Client(t), 2*time.Second, &logA)
	defer a.Close()
	if o := a.Place(context.Background(), vnets, nil); len(o) != len(vnets) {
		t.Fatalf("a runs %d", len(o))
	}
	b := join(t, e, "b")
	defer b.Close()
	direct := e.Client(t)
	key, err := direct.Get(context.Background(), "/c/nodes/a")
	if err != nil || len(key.Kvs) != 1 {
		t.Fatalf("a's key: %v %v", key, err)
	}
	p.Isolate()
	kctx, stopRenewing := context.WithCancel(context.Background())
	defer stopRenewing()
	renewals, err := direct.KeepAlive(kctx, clientv3.LeaseID(key.Kvs[0].Lease))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range renewals {
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logA.String(), "lost membership"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a still a member 30 s after it was cut off (TTL 2 s):\n%s", logA.String())
		}
	}
	p.Heal()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		oa := a.Place(context.Background(), vnets, nil)
		ob := b.Place(context.Background(), vnets, nil)
		for v := range ob {
			if oa[v] {
				t.Fatalf("a and b both run %s", v)
			}
		}
		if len(oa)+len(ob) == len(vnets) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after a reaches etcd again, a runs %d VNets and b %d of %d:\n%s", len(oa), len(ob), len(vnets), logA.String())
		}
	}
	if strings.Contains(logA.String(), "node name in use") {
		t.Errorf("a was refused its own name:\n%s", logA.String())
	}
}

// TestSlowEtcdClaimsEveryVNetAtOnce: a node that takes over many VNets
// (the node that ran them died) from an etcd whose answers come late (a
// remote etcd, a loaded one) claims them all in one Place, its claims
// under way together, and starts them together. It claimed them one after
// another, one round trip each: past a quarter of its TTL the rest
// failed, "claim a VNet: context deadline exceeded", and waited for
// later passes, so that a takeover of N VNets took N round trips.
func TestSlowEtcdClaimsEveryVNetAtOnce(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	var logA syncBuf
	a := joinLogged(t, p.Client(t), 4*time.Second, &logA)
	defer a.Close()
	// 20 claims one after another take 2 s, twice a's quarter TTL.
	p.SetDelay(100 * time.Millisecond)
	if o := a.Place(context.Background(), vnets, nil); len(o) != len(vnets) {
		t.Fatalf("a alone claims %d of %d VNets in one Place:\n%s", len(o), len(vnets), logA.String())
	}
}
