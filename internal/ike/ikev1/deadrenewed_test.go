package ikev1

import (
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
)

// TestDeadPeerEndsReplacedSA: a peer whose phase 1 was renewed, with a
// child still on the old SA, goes silent. DPD runs on the newest SA only;
// when it gives up, the connection is down: the old SA, which checks
// nothing, goes with it and with the children. It stayed established
// until its lifetime ended, and the connection showed connected meanwhile.
func TestDeadPeerEndsReplacedSA(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, pr *ikev2.PeerConfig) {
		pi.DPDInterval = 300 * time.Millisecond
		pi.RetransmitTimeout = 100 * time.Millisecond
		pi.RetransmitTries = 2
	})
	shuttle(mi, mr, ri, rr, nil)
	old, fresh := renewed(t, mi, mr, ri, rr)
	if old == nil || fresh == nil {
		t.Fatalf("renewal: old %v, new %v", old, fresh)
	}
	// The peer is gone from here on: nothing reaches it, nothing comes.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ri.take()
		rr.take()
		mi.mu.Lock()
		dead := fresh.state == stDead
		mi.mu.Unlock()
		if dead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DPD did not give up on the silent peer: %+v", mi.Status())
		}
	}
	mi.mu.Lock()
	oldState, children := old.state, len(mi.peers["i"].children)
	mi.mu.Unlock()
	if oldState == stEstablished || children != 0 {
		t.Errorf("after DPD gave up: replaced SA established %v, children %d; want it gone with them", oldState == stEstablished, children)
	}
	for _, s := range mi.Status() {
		for _, sa := range s.IKESAs {
			if sa.State == "established" {
				t.Errorf("status after DPD gave up shows an established SA: %+v", sa)
			}
		}
	}
}
