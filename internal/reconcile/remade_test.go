package reconcile

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/store"
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
	place := &holdingPlacement{changed: make(chan struct{})}
	ike, natt := freeUDPPorts(t)
	f := newFixturePlaced(t, dataplane.Options{IKEPort: ike, NATTPort: natt}, place)
	remadeCountsFromZero(t, f, func(remake func()) {
		release := place.hold(t)
		remake()
		release()
	})
}
