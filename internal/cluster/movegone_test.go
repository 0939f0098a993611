package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// TestMoveOfAVNetDeletedMidMoveGoes: a VNet moved to b and deleted before
// b took it (a was stopping it) is released by a, and its move goes with
// it. Kept on b's lease, the move placed a VNet made again under the same
// id on b, where placement puts it on a, and brought it back to b by
// itself after a drain of b and a resume.
func TestMoveOfAVNetDeletedMidMoveGoes(t *testing.T) {
	e := etcdtest.Start(t)
	a := joinNode(t, e, "a")
	b := joinNode(t, e, "b")
	for deadline := time.Now().Add(5 * time.Second); len(a.Nodes()) < 2 || len(b.Nodes()) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the nodes do not see each other")
		}
	}
	// A VNet that runs on a, where rendezvous hashing places it.
	var v string
	for deadline := time.Now().Add(5 * time.Second); v == ""; time.Sleep(20 * time.Millisecond) {
		for w := range a.Place(context.Background(), someVNets, nil) {
			a.mu.Lock()
			if a.chooseLocked(w, "") == "a" {
				v = w
			}
			a.mu.Unlock()
		}
		b.Place(context.Background(), someVNets, nil)
		if time.Now().After(deadline) {
			t.Fatal("a runs no VNet that placement puts on a")
		}
	}
	if err := a.Move(context.Background(), v, "b"); err != nil {
		t.Fatal(err)
	}
	movedTo(t, a, v, "b")
	if a.Place(context.Background(), someVNets, nil)[v] {
		t.Fatal("a runs the VNet moved away")
	}
	// Deleted while a stops it: a releases it, b never takes it.
	rest := slices.DeleteFunc(slices.Clone(someVNets), func(w string) bool { return w == v })
	a.Place(context.Background(), rest, nil)
	b.Place(context.Background(), rest, nil)
	cli := e.Client(t)
	if claim, err := cli.Get(context.Background(), "/c/claims/"+v); err != nil || len(claim.Kvs) != 0 {
		t.Fatalf("the claim of the deleted %s: %v, %d keys; want it released", v, err, len(claim.Kvs))
	}
	if move, err := cli.Get(context.Background(), "/c/moves/"+v); err != nil || len(move.Kvs) != 0 {
		t.Fatalf("the move of the deleted %s: %v, %d keys; want it gone with the VNet", v, err, len(move.Kvs))
	}
	// Made again, it goes where placement puts it.
	movedTo(t, a, v, "")
	movedTo(t, b, v, "")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		onA := a.Place(context.Background(), someVNets, nil)[v]
		if b.Place(context.Background(), someVNets, nil)[v] {
			t.Fatalf("%s, deleted while moved to b and made again, runs on b; placement puts it on a", v)
		}
		if onA {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s, made again, runs on no node after 5 s", v)
		}
	}
}
