package ikev1

import (
	"net/netip"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// onlySA returns m's one ISAKMP SA.
func onlySA(t *testing.T, m *Manager) *isakmpSA {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sas) != 1 {
		t.Fatalf("%d ISAKMP SAs, want 1", len(m.sas))
	}
	for _, sa := range m.sas {
		return sa
	}
	return nil
}

// ageAnswers makes the answers sa keeps for the peer's retransmissions
// older than they are kept, and lets m's timers drop them. m.mu is held.
func ageAnswers(t *testing.T, m *Manager, sa *isakmpSA) {
	t.Helper()
	for mid, a := range sa.answered {
		a.at = a.at.Add(-halfOpenTimeout - time.Second)
		sa.answered[mid] = a
	}
	m.timers(time.Now())
	if len(sa.answered) != 0 {
		t.Fatalf("%d answers kept past their time", len(sa.answered))
	}
}

// TestReplayedQuickMode1Dropped: a quick mode message 1 sent again once
// its answer is no longer kept (a replay: the exchange ended long ago) is
// dropped, not taken for a new exchange (RFC 2409 §5.5: a message ID is
// used once on an ISAKMP SA), and the peer does not count as heard from.
func TestReplayedQuickMode1Dropped(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, nil)
	var qm1 []byte
	var from, to netip.AddrPort
	shuttle(mi, mr, ri, rr, func(fromI bool, msg []byte, f, tt netip.AddrPort) bool {
		if fromI && msg[18] == wire.ExchangeQuick && qm1 == nil {
			qm1, from, to = msg, f, tt
		}
		return false
	})
	rr.mu.Lock()
	children := len(rr.children)
	rr.mu.Unlock()
	if qm1 == nil || children != 1 {
		t.Fatalf("no child (%d) or no quick mode message 1 seen", children)
	}
	sr := onlySA(t, mr)
	mr.mu.Lock()
	ageAnswers(t, mr, sr)
	heard, spis := sr.lastIn, len(mr.spis)
	mr.mu.Unlock()
	rr.take()
	unexpected := mr.Stats().Unexpected
	time.Sleep(10 * time.Millisecond)

	mr.handle(to, from, qm1)
	msgs, _, _ := rr.take()
	mr.mu.Lock()
	qms, spis2, heard2 := len(sr.qms), len(mr.spis), sr.lastIn
	mr.mu.Unlock()
	if len(msgs) != 0 || qms != 0 || spis2 != spis {
		t.Errorf("a replayed quick mode message 1 was taken for a new exchange: %d messages sent, %d quick modes, %d SPIs reserved (was %d)", len(msgs), qms, spis2, spis)
	}
	if !heard2.Equal(heard) {
		t.Error("a replayed quick mode message 1 counted as the peer heard from")
	}
	if u := mr.Stats().Unexpected; u != unexpected+1 {
		t.Errorf("Unexpected %d after the replay, want %d", u, unexpected+1)
	}
}
