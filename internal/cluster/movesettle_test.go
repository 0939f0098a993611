package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// TestMoveToASettlingNodeStays: an operator moves a VNet to a node that
// joined a moment ago (within its --node-settle), to a node that
// rendezvous hashing does not pick for it. The VNet runs there and stays:
// the node's settle time hands over only what placement gave it, not what
// an operator asked it to run.
func TestMoveToASettlingNodeStays(t *testing.T) {
	e := etcdtest.Start(t)
	a := join(t, e, "a") // settled: its claims are sticky
	defer a.Close()
	if o := placeAll(t, a); len(o[0]) != len(vnets) {
		t.Fatalf("a alone runs %d of %d VNets", len(o[0]), len(vnets))
	}
	b, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/c/", Name: "b", TTL: time.Second, Settle: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	placeAll(t, a, b)
	// A VNet rendezvous hashing places on a: a rebalance would not move it.
	dry, err := a.Rebalance(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	v := ""
	for _, c := range vnets {
		if !slices.ContainsFunc(dry, func(m cluster.Moved) bool { return m.VNet == c }) {
			v = c
			break
		}
	}
	if v == "" {
		t.Fatal("rendezvous hashing places every VNet on b")
	}
	if err := a.Move(context.Background(), v, "b"); err != nil {
		t.Fatal(err)
	}
	var owned []map[string]bool
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if owned = placeAll(t, a, b); owner(owned, v) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not moved to b after 10 s", v)
		}
	}
	// It stays on b: placed again and again, for a few of the TTL.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		owned = []map[string]bool{a.Place(context.Background(), vnets, nil), b.Place(context.Background(), vnets, nil)}
		if !owned[1][v] {
			t.Fatalf("%s, moved to b by the operator, left b again (b settling): a runs it %v", v, owned[0][v])
		}
	}
}
