package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vnetgw/vnetgw/internal/cluster"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// clusterNode runs a region, a cluster node and a reconcile loop over
// an engine with opts, on etcd through cli, until the test ends. The
// region sees the store's changes lag late.
func clusterNode(t *testing.T, cli *clientv3.Client, name string, opts dataplane.Options, lag time.Duration) (*fixture, *cluster.Node) {
	t.Helper()
	var st store.Store = etcd.New(cli, "/r/state/", etcd.Options{History: -1})
	if lag > 0 {
		st = laggingStore{st, lag}
	}
	pool, _ := region.ParsePool("127.198.5.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool, MaxTxnOps: 100})
	if err != nil {
		t.Fatal(err)
	}
	node, err := cluster.Join(context.Background(), cli, cluster.Options{Prefix: "/r/cluster/", Name: name, TTL: 2 * time.Second, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	eng := dataplane.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, reg, eng, node, testLogger(t)); close(done) }()
	t.Cleanup(func() { cancel(); <-done; eng.Close(); node.Close(); reg.Close() })
	return &fixture{reg: reg, eng: eng, opts: opts}, node
}

// laggingStore hands on its watch's responses lag after they come: the
// region of a node a moment behind the store (loaded, or far from etcd).
type laggingStore struct {
	store.Store
	lag time.Duration
}

func (l laggingStore) Watch(ctx context.Context, prefix string, afterRev int64) <-chan store.WatchResponse {
	type timed struct {
		due  time.Time
		resp store.WatchResponse
	}
	in := l.Store.Watch(ctx, prefix, afterRev)
	queued := make(chan timed, 1<<16)
	out := make(chan store.WatchResponse)
	go func() {
		defer close(queued)
		for resp := range in {
			queued <- timed{time.Now().Add(l.lag), resp}
		}
	}()
	go func() {
		defer close(out)
		for q := range queued {
			time.Sleep(time.Until(q.due))
			select {
			case out <- q.resp:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// TestMoveKeepsTheBytes (R39): a VNet moved to another node under
// traffic has its connection's bytes written a last time by the node it
// leaves, so that the node that takes it over counts on from all it
// carried. Before, the leaving node wrote nothing for it after its last
// status pass (up to StatusInterval before), and the bytes since were
// lost. So also when the node that takes it over sees the store's
// changes late (here 50 ms): it counted on from the last status but one
// that it had seen, and the bytes since were lost.
func TestMoveKeepsTheBytes(t *testing.T) {
	for _, lag := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(fmt.Sprintf("taker %v behind", lag), func(t *testing.T) { moveKeepsTheBytes(t, lag) })
	}
}

func moveKeepsTheBytes(t *testing.T, lag time.Duration) {
	e := etcdtest.Start(t)
	ike, natt := freeUDPPorts(t)
	opts := dataplane.Options{IKEPort: ike, NATTPort: natt}
	f, nodeA := clusterNode(t, e.Client(t), "a", opts, 0)
	ctx := context.Background()
	va, ga := f.gateway(t, "move", "a", "10.1.0.0/16", 0, 1)
	vb, gb := f.gateway(t, "move", "b", "10.2.0.0/16", 0, 1)
	ab := f.connect(t, "move", ga, gb, false)
	f.connect(t, "move", gb, ga, false)
	ha, _ := f.nic(t, "move", "host-a", va.Child("subnets", "default"))
	hb, hbAddr := f.nic(t, "move", "host-b", vb.Child("subnets", "default"))
	// a runs both VNets at once, or after two lease times when
	// rendezvous hashing picks no one else.
	f.waitHost(t, ha)
	f.waitHost(t, hb)
	g, _ := clusterNode(t, e.Client(t), "b", opts, lag)
	for deadline := time.Now().Add(10 * time.Second); len(nodeA.Nodes()) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a does not see b join")
		}
	}
	h, _ := f.eng.NetstackHost(ha.Key())
	stored := func() region.ConnectionStatus {
		var st region.ConnectionStatus
		json.Unmarshal(g.reg.Snapshot().Status(ab.Key()), &st)
		return st
	}
	// Traffic until it shows, then on for a moment: the last of it
	// is in a's counters, not yet in the store.
	for deadline := time.Now().Add(30 * time.Second); stored().IngressBytes == 0 || stored().EgressBytes == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no traffic counted in 30 s: %+v", stored())
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h.Ping(pctx, hbAddr)
		cancel()
	}
	for range 20 {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h.Ping(pctx, hbAddr)
		cancel()
	}
	st := stored()
	raw := f.eng.Status().Connections[ab.Key()]
	var carried [2]int64 // what a's engine counted, on the base stored
	if st.Epoch == f.eng.Status().Epoch {
		if st.Base != nil {
			carried = [2]int64{st.Base.Ingress, st.Base.Egress}
		}
		carried[0] += int64(raw.Ingress)
		carried[1] += int64(raw.Egress)
	}
	vkey := strings.ToLower(va.String())
	if err := nodeA.Move(ctx, vkey, "b"); err != nil {
		t.Fatal(err)
	}
	// b writes the status once it runs the VNet, with its engine's
	// epoch, counting on from what is stored.
	for deadline := time.Now().Add(30 * time.Second); stored().Epoch != g.eng.Status().Epoch; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("b does not write the moved connection's status 30 s after the move: %+v", stored())
		}
	}
	got := stored()
	t.Logf("a's engine counted %d/%d bytes in/out; a's last periodic status showed %d/%d; after the move, %d/%d", carried[0], carried[1], st.IngressBytes, st.EgressBytes, got.IngressBytes, got.EgressBytes)
	if carried[0] == 0 {
		t.Fatalf("a's status was not of its engine (%q): %+v", f.eng.Status().Epoch, st)
	}
	if got.IngressBytes < carried[0] || got.EgressBytes < carried[1] {
		t.Errorf("after the move the connection shows %d/%d bytes in/out, fewer than the %d/%d the node it left had counted", got.IngressBytes, got.EgressBytes, carried[0], carried[1])
	}
}
