package ikev1

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
)

// TestSpoofedMainModesLetThePeerIn: eight Main Mode message 1s spoofed
// from the peer's address take every half-open slot of a responder-only
// connection; the real peer's Main Mode that follows still comes up,
// with a child SA, in place of the oldest spoofed one, and the
// replacement is logged with its count.
func TestSpoofedMainModesLetThePeerIn(t *testing.T) {
	var logged bytes.Buffer
	ri, rr := &recorder{}, &recorder{}
	mi := New(Config{Transport: ri, Dataplane: ri})
	mr := New(Config{Transport: rr, Dataplane: rr, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	defer mi.Close()
	mi.Reconfig([]ikev2.PeerConfig{fuzzPeer("i", fuzzRemote, fuzzLocal, ikev2.ModeInitiatorOnly)})
	mr.Reconfig([]ikev2.PeerConfig{fuzzPeer("r", fuzzLocal, fuzzRemote, ikev2.ModeResponderOnly)})
	mm1 := firstMessage(t)
	for i := range maxHalfOpenPerPeer {
		mr.handle(fuzzLocal, fuzzRemote, withCookie(mm1, uint64(i)+1))
	}
	rr.take() // the answers go to no one
	shuttle(mi, mr, ri, rr, nil)
	mr.mu.Lock()
	n := len(mr.sas)
	mr.mu.Unlock()
	st := mr.Status()
	mr.Close()
	ri.mu.Lock()
	rr.mu.Lock()
	ci, cr := len(ri.children), len(rr.children)
	rr.mu.Unlock()
	ri.mu.Unlock()
	if ci != 1 || cr != 1 {
		t.Fatalf("after %d spoofed message 1s the peer's Main Mode brought children up on initiator %d, responder %d; responder status %+v",
			maxHalfOpenPerPeer, ci, cr, st)
	}
	if n > maxHalfOpenPerPeer {
		t.Errorf("the responder holds %d ISAKMP SAs, want at most %d", n, maxHalfOpenPerPeer)
	}
	if !strings.Contains(logged.String(), "dropped to make room") || !strings.Contains(logged.String(), "count=1") {
		t.Errorf("the replacement is not logged with its count:\n%s", logged.String())
	}
}
