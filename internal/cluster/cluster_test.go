package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

func join(t *testing.T, e *etcdtest.Etcd, name string) *cluster.Node {
	t.Helper()
	n, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/c/", Name: name, TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var vnets = func() []string {
	var out []string
	for i := range 20 {
		out = append(out, fmt.Sprintf("/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v%d", i))
	}
	return out
}()

// placeAll places every VNet from each node until every VNet runs on
// exactly one of them, and returns what each runs.
func placeAll(t *testing.T, nodes ...*cluster.Node) []map[string]bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	// Each node places by what its watch has shown it: first every node
	// sees the others, or the first to place takes every VNet.
	for _, n := range nodes {
		for {
			seen := map[string]bool{}
			for _, st := range n.Nodes() {
				seen[st.Name] = true
			}
			all := true
			for _, o := range nodes {
				all = all && seen[o.Name()]
			}
			if all {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 10 s node %s does not see every node: %+v", n.Name(), n.Nodes())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for {
		var owned []map[string]bool
		count := map[string]int{}
		for _, n := range nodes {
			o := n.Place(context.Background(), vnets, nil)
			owned = append(owned, o)
			for v := range o {
				count[v]++
			}
		}
		ok := len(count) == len(vnets)
		for _, c := range count {
			ok = ok && c == 1
		}
		if ok {
			return owned
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the VNets are not each on one node: %v", count)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVNetsSpreadAndMoveWhenANodeLeaves(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := join(t, e, "a"), join(t, e, "b")
	defer b.Close()
	owned := placeAll(t, a, b)
	if len(owned[0]) == 0 || len(owned[1]) == 0 {
		t.Fatalf("all VNets on one node: a runs %d, b runs %d", len(owned[0]), len(owned[1]))
	}
	t.Logf("a runs %d VNets, b runs %d", len(owned[0]), len(owned[1]))

	if _, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/c/", Name: "b", TTL: time.Second}); !errors.Is(err, cluster.ErrNameInUse) {
		t.Fatalf("a second node named b: err = %v, want ErrNameInUse", err)
	}

	// A clean leave revokes the lease: b takes a's VNets without waiting
	// for the TTL.
	changed := b.Changed()
	start := time.Now()
	a.Close()
	<-changed
	owned = placeAll(t, b)
	t.Logf("b runs all %d VNets %s after a left", len(owned[0]), time.Since(start).Round(time.Millisecond))

	// Claims are sticky: a node that comes back does not take VNets back.
	a = join(t, e, "a")
	defer a.Close()
	if o := a.Place(context.Background(), vnets, nil); len(o) != 0 {
		t.Fatalf("a came back and took %d VNets from b", len(o))
	}
	// A VNet that is gone is released by its node.
	if o := b.Place(context.Background(), vnets[1:], nil); o[vnets[0]] || len(o) != len(vnets)-1 {
		t.Fatalf("b still runs the VNet that is gone, or lost others: %d", len(o))
	}
}

// Nodes that start together: the first to place takes every VNet, and
// hands those rendezvous hashing picks the second for over when it joins
// within the first's settle time; a node that joins later takes none.
func TestNodesStartedTogetherSpread(t *testing.T) {
	e := etcdtest.Start(t)
	settling := func(name string, settle time.Duration) *cluster.Node {
		n, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/c/", Name: name, TTL: time.Second, Settle: settle})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		return n
	}
	const settle = 3 * time.Second
	a := settling("a", settle)
	if owned := placeAll(t, a); len(owned[0]) != len(vnets) {
		t.Fatalf("a alone runs %d of %d VNets", len(owned[0]), len(vnets))
	}
	b, bJoined := settling("b", settle), time.Now()
	var owned []map[string]bool
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if owned = placeAll(t, a, b); len(owned[1]) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b, joined in a's settle time, runs no VNet after 10 s")
		}
	}
	t.Logf("a runs %d VNets, b %d", len(owned[0]), len(owned[1]))

	// Past their settle time the nodes' claims are sticky.
	time.Sleep(time.Until(bJoined.Add(settle)))
	c := settling("c", 0)
	if again := placeAll(t, a, b, c); len(again[0]) != len(owned[0]) || len(again[1]) != len(owned[1]) || len(again[2]) != 0 {
		t.Fatalf("c joined after the others settled: a runs %d, b %d, c %d VNets", len(again[0]), len(again[1]), len(again[2]))
	}
}

// A node cut off from etcd (its connection goes through a proxy that the
// test cuts, so that it cannot revoke its lease) stops running its VNets
// by itself, and only then, its lease ended, do the others take them:
// never two nodes at once.
func TestACutOffNodesVNetsMoveAfterItsTTL(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	cliA := p.Client(t)
	a, err := cluster.Join(context.Background(), cliA, cluster.Options{Prefix: "/c/", Name: "a", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if o := a.Place(context.Background(), vnets, nil); len(o) != len(vnets) {
		t.Fatalf("a alone runs %d of %d VNets", len(o), len(vnets))
	}
	b := join(t, e, "b")
	defer b.Close()
	if o := b.Place(context.Background(), vnets, nil); len(o) != 0 {
		t.Fatalf("b took %d VNets that a runs", len(o))
	}
	start := time.Now()
	p.Cut()
	// a stops first: it fences itself before etcd can end its lease.
	for deadline := time.Now().Add(10 * time.Second); len(a.Place(context.Background(), vnets, nil)) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a, cut off from etcd, still runs its VNets after 10 s")
		}
	}
	stopped := time.Since(start)
	if o := b.Place(context.Background(), vnets, nil); len(o) != 0 {
		t.Fatalf("b runs %d VNets already when a stops, %s after the cut", len(o), stopped)
	}
	owned := placeAll(t, b)
	took := time.Since(start)
	if len(owned[0]) != len(vnets) {
		t.Fatalf("b runs %d VNets", len(owned[0]))
	}
	t.Logf("a cut off from etcd (TTL 1 s; etcd makes it 2 s): a stopped its VNets %s later, b ran them %s later",
		stopped.Round(time.Millisecond), took.Round(time.Millisecond))
}

// owner returns the node whose Place answer holds vnet, or -1.
func owner(owned []map[string]bool, vnet string) int {
	for i, o := range owned {
		if o[vnet] {
			return i
		}
	}
	return -1
}

// A move is a planned handover: the node that runs the VNet leaves it out
// of its next answer (its caller stops it), releases it on the call after,
// and only then does the node it moves to run it.
func TestMoveHandsAVNetOverInOrder(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := join(t, e, "a"), join(t, e, "b")
	defer a.Close()
	defer b.Close()
	owned := placeAll(t, a, b)
	var v string
	for v = range owned[0] {
		break
	}
	if err := b.Move(context.Background(), v, "nope"); !errors.Is(err, cluster.ErrNoSuchNode) {
		t.Fatalf("move to a node that does not exist: err = %v", err)
	}
	changed := a.Changed()
	if err := b.Move(context.Background(), v, "b"); err != nil {
		t.Fatal(err)
	}
	<-changed // a sees the move
	for range 5 {
		if b.Place(context.Background(), vnets, nil)[v] {
			t.Fatal("b runs the VNet before a has stopped it")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if o := a.Place(context.Background(), vnets, nil); o[v] || len(o) != len(owned[0])-1 {
		t.Fatalf("a, asked to hand %s over, still runs it or dropped others (%d of %d)", v, len(o), len(owned[0]))
	}
	if b.Place(context.Background(), vnets, nil)[v] {
		t.Fatal("b runs the VNet before a has released it")
	}
	owned = placeAll(t, a, b) // a releases, b claims
	if owner(owned, v) != 1 {
		t.Fatalf("after the move %s runs on node %d, want b", v, owner(owned, v))
	}
	// a learns of b's claim through its watch: eventually, not at once.
	onB := func() bool {
		for _, st := range a.Nodes() {
			if st.Name == "b" {
				return slices.Contains(st.VNets, v)
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !onB(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a's view of the nodes does not show %s on b after 5 s: %+v", v, a.Nodes())
		}
	}
}

// A drained node hands every VNet over and takes no new one; the flag
// goes with its lease. Rebalance puts VNets back where rendezvous hashing
// places them.
func TestDrainAndRebalance(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := join(t, e, "a"), join(t, e, "b")
	defer b.Close()
	owned := placeAll(t, a, b)
	onA := len(owned[0])
	if err := b.Drain(context.Background(), "a", true); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !b.Nodes()[0].Draining; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b does not see a draining after 5 s")
		}
	}
	if err := b.Move(context.Background(), vnets[0], "a"); !errors.Is(err, cluster.ErrDraining) {
		t.Fatalf("move to a draining node: err = %v", err)
	}
	// a hands its VNets over once its watch shows it the drain.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if owned = placeAll(t, a, b); len(owned[0]) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drained a still runs %d VNets after 10 s", len(owned[0]))
		}
	}
	more := append(slices.Clone(vnets), "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/new")
	deadline := time.Now().Add(5 * time.Second)
	for !b.Place(context.Background(), more, nil)[more[len(more)-1]] {
		if a.Place(context.Background(), more, nil)[more[len(more)-1]] {
			t.Fatal("a new VNet went to the drained node")
		}
		if time.Now().After(deadline) {
			t.Fatal("the new VNet runs nowhere after 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Undrained, nothing moves by itself; Rebalance moves a's share back.
	if err := a.Drain(context.Background(), "a", false); err != nil {
		t.Fatal(err)
	}
	// b places by what its watch has shown it.
	for deadline := time.Now().Add(5 * time.Second); b.Nodes()[0].Draining; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b sees a draining 5 s after it resumed")
		}
	}
	// b lets the VNet "new" go (it is not among vnets), and its view
	// shows it gone before the dry run.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		placeAll(t, a, b)
		n := 0
		for _, st := range b.Nodes() {
			n += len(st.VNets)
		}
		if n == len(vnets) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b sees %d VNets placed, not %d", n, len(vnets))
		}
	}
	dry, err := b.Rebalance(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if o := a.Place(context.Background(), vnets, nil); len(o) != 0 {
		t.Fatalf("a dry run moved %d VNets to a", len(o))
	}
	if moved, err := b.Rebalance(context.Background(), false); err != nil || len(moved) == 0 || !slices.Equal(moved, dry) {
		t.Fatalf("rebalance: %d moves (the dry run said %d), err %v", len(moved), len(dry), err)
	} else {
		t.Logf("rebalance moved %d VNets (a ran %d before the drain)", len(moved), onA)
		for _, m := range moved {
			if m.From != "b" || m.To != "a" {
				t.Fatalf("rebalance moved %+v", m)
			}
		}
	}
	owned = placeAll(t, a, b)
	if len(owned[0]) != onA {
		t.Fatalf("after rebalance a runs %d VNets, before the drain %d", len(owned[0]), onA)
	}

	// The drain flag is on a's lease: a that starts again is not draining.
	if err := b.Drain(context.Background(), "a", true); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a = join(t, e, "a")
	defer a.Close()
	// b learns of the new lease through its watch.
	draining := func() bool {
		return slices.ContainsFunc(b.Nodes(), func(st cluster.NodeStatus) bool { return st.Draining })
	}
	for deadline := time.Now().Add(5 * time.Second); draining(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a node is still draining 5 s after a restarted: %+v", b.Nodes())
		}
	}
}

// Each node knows which VNets it stands by for; when a node leaves, its
// VNets go to those standbys.
func TestStandbyTakesOver(t *testing.T) {
	e := etcdtest.Start(t)
	a, b, c := join(t, e, "a"), join(t, e, "b"), join(t, e, "c")
	defer a.Close()
	defer c.Close()
	placeAll(t, a, b, c)
	var st []cluster.NodeStatus
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// a's view, once it has seen every claim.
		st = a.Nodes()
		if n := len(st[0].VNets) + len(st[1].VNets) + len(st[2].VNets); n == len(vnets) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("a sees %d of %d VNets placed", n, len(vnets))
		}
	}
	standby := map[string]string{}
	for _, n := range st {
		for _, v := range n.Standby {
			if standby[v] != "" || slices.Contains(n.VNets, v) {
				t.Fatalf("%s: standby on %s and %s, or on the node that runs it", v, standby[v], n.Name)
			}
			standby[v] = n.Name
		}
	}
	if len(standby) != len(vnets) {
		t.Fatalf("%d of %d VNets have a standby", len(standby), len(vnets))
	}
	onB := st[1].VNets
	b.Close()
	owned := placeAll(t, a, c)
	for _, v := range onB {
		if want := standby[v]; !owned[map[string]int{"a": 0, "c": 1}[want]][v] {
			t.Fatalf("%s went elsewhere than its standby %s", v, want)
		}
	}
	t.Logf("b's %d VNets went to their standbys", len(onB))
}

// TestRestartWaitsForThePreviousRunsLease: a node started again while
// the lease of its previous run (killed: it did not revoke the lease)
// still holds its name in etcd waits for that lease to end, joins, and
// runs the VNet the previous run claimed; a second node of a live node's
// name is still refused.
func TestRestartWaitsForThePreviousRunsLease(t *testing.T) {
	e := etcdtest.Start(t)
	direct := e.Client(t)
	ctx := context.Background()
	// What a killed node a leaves in etcd: its name and a claim on its
	// lease, which nothing renews.
	lease, err := direct.Grant(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range map[string]string{"/c/nodes/a": "", "/c/claims/" + vnets[0]: "a"} {
		if _, err := direct.Put(ctx, key, value, clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	a, err := cluster.Join(ctx, e.Client(t), cluster.Options{Prefix: "/c/", Name: "a", TTL: time.Second})
	if err != nil {
		t.Fatalf("a started again 0 s after its previous run was killed (lease TTL 2 s): %v", err)
	}
	defer a.Close()
	if o := placeAll(t, a)[0]; !o[vnets[0]] {
		t.Fatalf("a does not run the VNet of its previous run: %v", o)
	}
	if _, err := cluster.Join(ctx, e.Client(t), cluster.Options{Prefix: "/c/", Name: "a", TTL: time.Second}); !errors.Is(err, cluster.ErrNameInUse) {
		t.Fatalf("a second node named a while a runs: err = %v, want ErrNameInUse", err)
	}
}

// TestGoneVNetReleasedAfterItsStop: a VNet that is gone (deleted) keeps
// its claim until the caller has stopped it, as one handed over does: the
// first call that leaves it out only tells the caller it runs it no more,
// a call while the caller still stops it keeps the claim, and the call
// after releases it. Released at once, a VNet made again under the same
// id could start on another node while this one still held its public
// address and sockets.
func TestGoneVNetReleasedAfterItsStop(t *testing.T) {
	e := etcdtest.Start(t)
	a := join(t, e, "a")
	defer a.Close()
	placeAll(t, a)
	gone, rest := vnets[0], vnets[1:]
	cli := e.Client(t)
	claimed := func() bool {
		t.Helper()
		resp, err := cli.Get(context.Background(), "/c/claims/"+gone)
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.Kvs) == 1
	}
	if o := a.Place(context.Background(), rest, nil); o[gone] || len(o) != len(rest) {
		t.Fatalf("after %s is gone a runs it, or not every other (%d of %d)", gone, len(o), len(rest))
	}
	if !claimed() {
		t.Fatal("the claim of a VNet that is gone went before its caller could stop it")
	}
	if a.Place(context.Background(), rest, map[string]bool{gone: true}); !claimed() {
		t.Fatal("the claim of a VNet that is gone went while its caller stopped it")
	}
	if a.Place(context.Background(), rest, nil); claimed() {
		t.Fatal("the claim of a VNet that is gone stays once its caller has stopped it")
	}
}
