package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// The cluster's answers reach a node late and in an order of their own:
// its watch, a read of the cluster after a compacted watch, and its own
// writes' answers. These tests hand a node real answers of etcd late, a
// fault the timing of a test cannot cause at will, and check the promise
// a caller relies on: every VNet Place says this node runs, etcd holds
// this node's claim of; else another node may start it too.

func joinNode(t *testing.T, e *etcdtest.Etcd, name string) *Node {
	t.Helper()
	n, err := Join(context.Background(), e.Client(t), Options{Prefix: "/c/", Name: name, TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

var someVNets = func() []string {
	var out []string
	for i := range 8 {
		out = append(out, fmt.Sprintf("/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v%d", i))
	}
	return out
}()

// claimedInEtcd fails the test for each VNet of runs whose claim in etcd
// is not n's.
func claimedInEtcd(t *testing.T, cli *clientv3.Client, n *Node, runs map[string]bool) {
	t.Helper()
	for v := range runs {
		resp, err := cli.Get(context.Background(), "/c/claims/"+v)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != n.Name() {
			t.Errorf("node %s runs %s, but etcd holds no claim of it by %s (%d keys)", n.Name(), v, n.Name(), len(resp.Kvs))
		}
	}
}

// TestReadOlderThanOwnClaimKeepsIt: the read of the cluster after a
// compacted watch, answered at a revision before this node's claims (its
// claims went out while the read was on its way), does not wipe them: the
// node ran none of its VNets until its new watch caught up, stopping and
// starting their gateways.
func TestReadOlderThanOwnClaimKeepsIt(t *testing.T) {
	e := etcdtest.Start(t)
	a := joinNode(t, e, "a")
	cli := e.Client(t)
	old, err := cli.Get(context.Background(), "/c/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	runs := a.Place(context.Background(), someVNets, nil)
	if len(runs) != len(someVNets) {
		t.Fatalf("a alone runs %d of %d VNets", len(runs), len(someVNets))
	}
	a.mu.Lock()
	a.loadLocked(old.Kvs, old.Header.Revision)
	a.mu.Unlock()
	if again := a.Place(context.Background(), someVNets, nil); len(again) != len(someVNets) {
		t.Errorf("after a read older than its claims a runs %d of its %d VNets", len(again), len(someVNets))
	}
}

// TestReleaseNotUndoneByItsOwnOldClaim: a node that released a VNet it
// handed over, whose watch then shows its own claim of it (an event from
// before the release), and whose move is then called off, claims
// it again in etcd before it runs it: it ran it on a claim etcd no longer
// held, and another node could start it too.
func TestReleaseNotUndoneByItsOwnOldClaim(t *testing.T) {
	e := etcdtest.Start(t)
	a := joinNode(t, e, "a")
	b := joinNode(t, e, "b")
	for deadline := time.Now().Add(5 * time.Second); len(a.Nodes()) < 2 || len(b.Nodes()) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the nodes do not see each other")
		}
	}
	cli := e.Client(t)
	var v string
	for deadline := time.Now().Add(5 * time.Second); v == ""; time.Sleep(20 * time.Millisecond) {
		for w := range a.Place(context.Background(), someVNets, nil) {
			v = w
		}
		b.Place(context.Background(), someVNets, nil)
		if time.Now().After(deadline) {
			t.Fatal("a runs no VNet")
		}
	}
	claim, err := cli.Get(context.Background(), "/c/claims/"+v)
	if err != nil || len(claim.Kvs) != 1 {
		t.Fatalf("a's claim of %s: %v, %d keys", v, err, len(claim.Kvs))
	}
	if err := b.Move(context.Background(), v, "b"); err != nil {
		t.Fatal(err)
	}
	movedTo(t, a, v, "b")
	if a.Place(context.Background(), someVNets, nil)[v] {
		t.Fatal("a runs the VNet moved away")
	}
	if a.Place(context.Background(), someVNets, nil)[v] {
		t.Fatal("a runs the VNet it released")
	}
	a.mu.Lock()
	a.applyLocked(claim.Kvs[0], true) // its own claim, shown late
	a.mu.Unlock()
	// The move is called off (a move to the node that runs it deletes
	// the request, as b would, its watch behind).
	if _, err := cli.Delete(context.Background(), "/c/moves/"+v); err != nil {
		t.Fatal(err)
	}
	movedTo(t, a, v, "")
	claimedInEtcd(t, cli, a, a.Place(context.Background(), someVNets, nil))
}

// movedTo waits until n's watch shows vnet moved to node to ("": not
// moved).
func movedTo(t *testing.T, n *Node, vnet, to string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n.mu.Lock()
		seen := n.moves[vnet] == to
		n.mu.Unlock()
		if seen {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s does not see %s moved to %s", n.Name(), vnet, to)
		}
	}
}
