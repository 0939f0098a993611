package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// TestCutOffNodeStopsUnderTraffic: a node cut off from etcd while its
// VNet carries traffic (a status write is due all the time, and waits
// for etcd) stops the VNet's hosts by itself, before another node runs
// the VNet: the loop is not held up by the write it cannot make.
func TestCutOffNodeStopsUnderTraffic(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	cliA := p.Client(t)
	st := etcd.New(cliA, "/r/state/", etcd.Options{History: -1})
	f := runNodeA(t, st, cliA)
	eng := f.eng
	v, a, _, h, bAddr := f.twoHosts(t, "a", "b")
	vkey := strings.ToLower(v.String())

	nodeB, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/r/cluster/", Name: "b", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer nodeB.Close()
	if o := nodeB.Place(context.Background(), []string{vkey}, nil); o[vkey] {
		t.Fatal("b runs v already")
	}
	// Traffic inside v, so that its counters (its status) change.
	tctx, tcancel := context.WithCancel(context.Background())
	defer tcancel()
	go func() {
		for tctx.Err() == nil {
			pc, c := context.WithTimeout(tctx, 200*time.Millisecond)
			h.Ping(pc, bAddr)
			c()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	p.Cut()
	var bAt, aStopped time.Duration
	for time.Since(start) < 10*time.Second && (bAt == 0 || aStopped == 0) {
		if _, running := eng.NetstackHost(a.Key()); !running && aStopped == 0 {
			aStopped = time.Since(start)
		}
		if bAt == 0 && nodeB.Place(context.Background(), []string{vkey}, nil)[vkey] {
			bAt = time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("a stopped v's hosts %s after the cut, b ran v %s after", aStopped.Round(time.Millisecond), bAt.Round(time.Millisecond))
	switch {
	case aStopped == 0:
		t.Error("a, cut off from etcd, still runs v's hosts 10 s later")
	case bAt > 0 && bAt < aStopped:
		t.Errorf("b ran v before a stopped it: both ran it")
	}
}

// TestCutOffNodeStopsBeforeBuild: a node cut off from etcd stops the VNet
// it runs before another node may take it over also in a large region
// (200 gateways with 2,000 connections, which another node runs), where
// building the whole region's configuration takes long: the node stops
// what it lost first, then builds only what it still runs.
func TestCutOffNodeStopsBeforeBuild(t *testing.T) {
	e := etcdtest.Start(t)
	p := e.NewProxy(t)
	cliA := p.Client(t)
	st := etcd.New(cliA, "/r/state/", etcd.Options{History: -1})
	seed(t, st, 200, 10, 100)
	var big []string
	for i := range 200 {
		big = append(big, strings.ToLower(arm.NetworkID(sub, "big", "virtualNetworks", fmt.Sprintf("v%d", i)).String()))
	}
	// b runs the large region's VNets, as the only node when it claims
	// them.
	nodeB, err := cluster.Join(context.Background(), e.Client(t), cluster.Options{Prefix: "/r/cluster/", Name: "b", TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer nodeB.Close()
	for deadline := time.Now().Add(30 * time.Second); ; {
		o := nodeB.Place(context.Background(), big, nil) // claims that etcd does not take in time are made again
		if len(o) == len(big) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b runs %d of the %d VNets", len(o), len(big))
		}
	}
	f := runNodeA(t, st, cliA)
	eng := f.eng
	v := f.vnet(t, "rg", "v", "10.250.0.0/16", arm.Subnet{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: "10.250.0.0/24"}})
	vkey := strings.ToLower(v.String())
	a, _ := f.nic(t, "rg", "a", v.Child("subnets", "default"))
	// a runs v at once, or after two lease times when rendezvous
	// hashing picks b (which is not asked).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok := eng.NetstackHost(a.Key()); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a does not run v")
		}
	}
	all := append(slices.Clone(big), vkey)
	start := time.Now()
	p.Cut()
	var bAt, aStopped time.Duration
	for time.Since(start) < 20*time.Second && (bAt == 0 || aStopped == 0) {
		if _, running := eng.NetstackHost(a.Key()); !running && aStopped == 0 {
			aStopped = time.Since(start)
		}
		if bAt == 0 && nodeB.Place(context.Background(), all, nil)[vkey] {
			bAt = time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("a stopped v's hosts %s after the cut, b ran v %s after", aStopped.Round(time.Millisecond), bAt.Round(time.Millisecond))
	switch {
	case aStopped == 0:
		t.Error("a, cut off from etcd, still runs v's hosts 20 s later")
	case bAt == 0:
		t.Error("b does not run v 20 s after a was cut off")
	case bAt < aStopped:
		t.Errorf("b ran v before a stopped it: both ran it")
	}
}

// runNodeA runs node a of a region on st (its etcd client cliA, lease
// TTL 2 s) with a reconcile loop over a data plane of its own, all
// stopped when t ends.
func runNodeA(t *testing.T, st *etcd.Store, cliA *clientv3.Client) *fixture {
	t.Helper()
	pool, _ := region.ParsePool("127.10.0.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool, MaxTxnOps: 100})
	if err != nil {
		t.Fatal(err)
	}
	nodeA, err := cluster.Join(context.Background(), cliA, cluster.Options{Prefix: "/r/cluster/", Name: "a", TTL: 2 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	eng := dataplane.New(dataplane.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, reg, eng, nodeA, testLogger(t)); close(done) }()
	// Everything of a's that logs ends before the test does.
	t.Cleanup(func() { cancel(); <-done; eng.Close(); nodeA.Close(); reg.Close() })
	return &fixture{reg: reg, eng: eng}
}
