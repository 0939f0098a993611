package reconcile

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// holdingPlacement runs every VNet, and can hold the loop in its next
// Place: a loop busy a while (a large region's Build, a slow store),
// that sees the changes made meanwhile together.
type holdingPlacement struct {
	mu      sync.Mutex
	changed chan struct{}
	gate    chan struct{} // the next Place waits until it is closed
	waiting chan struct{} // closed once that Place waits
}

func (p *holdingPlacement) Place(_ context.Context, vnets []string, _ map[string]bool) map[string]bool {
	p.mu.Lock()
	gate, waiting := p.gate, p.waiting
	p.gate, p.waiting = nil, nil
	p.mu.Unlock()
	if gate != nil {
		close(waiting)
		<-gate
	}
	owned := map[string]bool{}
	for _, v := range vnets {
		owned[v] = true
	}
	return owned
}

func (p *holdingPlacement) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}
func (p *holdingPlacement) Name() string { return "n" }

// Fence is a key that never exists: the writes always go.
func (p *holdingPlacement) Fence(string) (store.Cond, bool) {
	return store.Cond{Key: "no-such-claim"}, true
}

// hold wakes the loop and holds it in its next Place, once it took its
// snapshot; it returns when the loop waits there, with the function
// that lets it go on.
func (p *holdingPlacement) hold(t *testing.T) func() {
	t.Helper()
	p.mu.Lock()
	gate, waiting := make(chan struct{}), make(chan struct{})
	p.gate, p.waiting = gate, waiting
	old := p.changed
	p.changed = make(chan struct{})
	p.mu.Unlock()
	close(old)
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not come to Place")
	}
	return func() { close(gate) }
}

// TestRemadeConnectionCountsFromZeroSeenTogether: a connection deleted
// and made again under its id while the loop was busy (it sees the two
// changes as one) is a new connection all the same: it counts its own
// bytes from zero and sets its tunnel up anew. The data plane was handed
// the same connection id with the same settings, kept its tunnel, its
// IKE SA and its counters, and the new connection showed at once the
// bytes the deleted one had carried.
func TestRemadeConnectionCountsFromZeroSeenTogether(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := region.ParsePool("127.10.0.0/24")
	reg, err := region.Open(context.Background(), region.Config{Store: st, PublicIPPool: pool})
	if err != nil {
		t.Fatal(err)
	}
	ike, natt := freeUDPPorts(t)
	f := &fixture{reg: reg, opts: dataplane.Options{IKEPort: ike, NATTPort: natt}}
	f.eng = dataplane.New(f.opts)
	place := &holdingPlacement{changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, reg, f.eng, place, testLogger(t)); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.eng.Close(); reg.Close(); st.Close() })

	va, ga := f.gateway(t, "again", "a", "10.1.0.0/16", 0, 1)
	vb, gb := f.gateway(t, "again", "b", "10.2.0.0/16", 0, 1)
	ab := f.connect(t, "again", ga, gb, false)
	f.connect(t, "again", gb, ga, false)
	ha, _ := f.nic(t, "again", "host-a", va.Child("subnets", "default"))
	hb, hbAddr := f.nic(t, "again", "host-b", vb.Child("subnets", "default"))
	f.waitHost(t, ha)
	f.waitHost(t, hb)
	h, _ := f.eng.NetstackHost(ha.Key())
	shown := func() *arm.Connection {
		doc, err := f.reg.Get(ab)
		if err != nil {
			t.Fatal(err)
		}
		return doc.(*arm.Connection)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c := shown(); c.Properties.IngressBytesTransferred == 0 || c.Properties.EgressBytesTransferred == 0; c = shown() {
		if time.Now().After(deadline) {
			t.Fatalf("no traffic counted in 30 s: %+v", c.Properties)
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		h.Ping(pctx, hbAddr)
		cancel()
	}
	before := shown().Properties
	release := place.hold(t)
	if _, err := f.reg.Delete(ctx, ab); err != nil {
		t.Fatal(err)
	}
	f.connect(t, "again", ga, gb, false)
	release()
	// No traffic since: once its tunnel is up again, it shows fewer
	// bytes than the deleted one carried.
	deadline = time.Now().Add(30 * time.Second)
	for c := shown(); c.Properties.ConnectionStatus != region.Connected ||
		c.Properties.IngressBytesTransferred >= before.IngressBytesTransferred || c.Properties.EgressBytesTransferred >= before.EgressBytesTransferred; c = shown() {
		if time.Now().After(deadline) {
			t.Fatalf("made again, the connection shows %s, %d/%d bytes in/out; the deleted one had carried %d/%d",
				c.Properties.ConnectionStatus, c.Properties.IngressBytesTransferred, c.Properties.EgressBytesTransferred, before.IngressBytesTransferred, before.EgressBytesTransferred)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
