package reconcile

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// stalePlacement is a node whose view of the cluster is behind: it runs
// the VNets of fences, under those claims, one of which it lost.
type stalePlacement struct {
	name   string
	fences map[string]store.Cond
	places atomic.Int64
}

func (p *stalePlacement) Place(context.Context, []string, map[string]bool) map[string]bool {
	p.places.Add(1)
	owned := map[string]bool{}
	for v := range p.fences {
		owned[v] = true
	}
	return owned
}
func (p *stalePlacement) Changed() <-chan struct{} { return nil }
func (p *stalePlacement) Name() string             { return p.name }
func (p *stalePlacement) Fence(vnet string) (store.Cond, bool) {
	c, ok := p.fences[vnet]
	return c, ok
}

// TestLateStatusWriteIsFenced: node a lost its claim of v (its lease
// went), b claimed v and wrote v's status, and a, whose view of the
// cluster is behind (cut off, its watch late), still runs v. a's status
// writes are refused, v's status stays b's, and a stops v's host on the
// refusal. a wrote over b's status (the VNet showed node a, and its
// counters) and ran v beside b until its view caught up. The status of
// w, a VNet whose claim a holds, is written in the same pass, and w runs
// on.
func TestLateStatusWriteIsFenced(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client(t)
	st := etcd.New(cli, "/r/state/", etcd.Options{History: -1})
	defer st.Close()
	pool, _ := region.ParsePool("127.107.0.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool, MaxTxnOps: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	f := &fixture{reg: reg}
	v := f.vnet(t, "rg", "v", "10.1.0.0/16", arm.Subnet{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: "10.1.0.0/24"}})
	nic, _ := f.nic(t, "rg", "h", v.Child("subnets", "default"))
	w := f.vnet(t, "rg", "w", "10.2.0.0/16", arm.Subnet{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: "10.2.0.0/24"}})
	wnic, _ := f.nic(t, "rg", "h-w", w.Child("subnets", "default"))
	vkey, wkey := v.Key(), w.Key()
	ctx := context.Background()

	join := func(name string, vnets ...string) *cluster.Node {
		n, err := cluster.Join(ctx, cli, cluster.Options{Prefix: "/r/cluster/", Name: name, TTL: 2 * time.Second, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if owned := n.Place(ctx, vnets, nil); len(owned) != len(vnets) {
			t.Fatalf("%s runs %v of %v", name, owned, vnets)
		}
		return n
	}
	nodeA := join("a", vkey)
	fenceA, ok := nodeA.Fence(vkey)
	if !ok {
		t.Fatal("a runs v but has no fence for it")
	}
	nodeA.Close() // its lease goes, and its claim with it
	nodeB := join("b", vkey)
	nodeC := join("c", wkey) // a, as it runs w still
	defer nodeC.Close()
	fenceW, _ := nodeC.Fence(wkey)
	defer nodeB.Close()
	fenceB, ok := nodeB.Fence(vkey)
	if !ok || fenceB == fenceA {
		t.Fatalf("b's fence of v %+v (%v), a's %+v", fenceB, ok, fenceA)
	}
	if _, ok := nodeB.Fence("another"); ok {
		t.Fatal("b has a fence for a VNet it does not run")
	}
	bStatus, _ := json.Marshal(region.VNetStatus{Forwarded: 42, Node: "b"})
	if err := reg.PutStatuses(ctx, map[string][]byte{vkey: bStatus}); err != nil {
		t.Fatalf("b's status write: %v", err)
	}

	eng := dataplane.New(dataplane.Options{})
	defer eng.Close()
	stale := &stalePlacement{name: "a", fences: map[string]store.Cond{vkey: fenceA, wkey: fenceW}}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { Run(rctx, reg, eng, stale, testLogger(t)); close(done) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	shown := func() region.VNetStatus {
		var s region.VNetStatus
		json.Unmarshal(reg.Snapshot().Status(vkey), &s)
		return s
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if s := shown(); s.Node != "b" || s.Forwarded != 42 {
			t.Fatalf("a's late status write replaced b's status of v: %+v", s)
		}
		_, running := eng.NetstackHost(nic.Key())
		_, runsV := eng.Status().VNets[vkey]
		_, runsW := eng.NetstackHost(wnic.Key())
		var ws region.VNetStatus
		json.Unmarshal(reg.Snapshot().Status(wkey), &ws)
		if !running && !runsV && runsW && ws.Node == "a" && stale.places.Load() >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s on: a runs v's host: %v, w's: %v; w's status %+v", running, runsW, ws)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Nor does the last status write, when the loop stops.
	cancel()
	<-done
	stopped = true
	if s := shown(); s.Node != "b" || s.Forwarded != 42 {
		t.Fatalf("a's last status write replaced b's status of v: %+v", s)
	}
}
