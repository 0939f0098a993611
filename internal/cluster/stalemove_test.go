package cluster_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// TestMoveToItsOwnNodeIsDone: a move asked for from a node whose view is
// a moment behind (it does not show yet that the VNet runs on the node it
// is moved to) leaves a moves/VNET key naming the node that runs it. That
// key is done, and goes: kept, the VNet moved back to that node by itself
// once it was drained and resumed, where nothing moves by itself.
func TestMoveToItsOwnNodeIsDone(t *testing.T) {
	e := etcdtest.Start(t)
	a, b := join(t, e, "a"), join(t, e, "b")
	defer a.Close()
	defer b.Close()
	owned := placeAll(t, a, b)
	var v string
	for v = range owned[1] {
		break
	}
	// What Move writes from a view that shows v unclaimed or on a.
	cli := e.Client(t)
	ctx := context.Background()
	node, err := cli.Get(ctx, "/c/nodes/b")
	if err != nil || len(node.Kvs) != 1 {
		t.Fatal(node, err)
	}
	if _, err := cli.Put(ctx, "/c/moves/"+v, "b", clientv3.WithLease(clientv3.LeaseID(node.Kvs[0].Lease))); err != nil {
		t.Fatal(err)
	}
	if err := a.Drain(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if owned = placeAll(t, a, b); len(owned[1]) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("drained b still runs %d VNets after 10 s", len(owned[1]))
		}
	}
	if err := a.Drain(ctx, "b", false); err != nil {
		t.Fatal(err)
	}
	// Resumed, nothing moves by itself.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if b.Place(ctx, vnets, nil)[v] || !a.Place(ctx, vnets, nil)[v] {
			t.Fatalf("%s left a once b resumed, by a move key of before the drain", v)
		}
	}
}
