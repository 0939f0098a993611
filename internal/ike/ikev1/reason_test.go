package ikev1

import (
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev1"
)

// TestStatusReasonFollowsQuickMode: the peer sends PAYLOAD-MALFORMED with
// no SPI while a quick mode of ours is under way (strongSwan's, for a
// message it could not read). The status says so; if the quick mode then
// completes, it says nothing any more, and if its tries run out, the
// notification stays the reason. The notification's text stayed once
// the quick mode had worked (connectionStatusReason showed it whenever
// the children went), and a quick mode whose tries ran out replaced it
// with "the peer does not answer".
func TestStatusReasonFollowsQuickMode(t *testing.T) {
	for _, c := range []struct {
		name     string
		answered bool
		want     string // in the status's LastError; "" for none
	}{
		{"the quick mode completes", true, ""},
		{"its tries run out", false, "PAYLOAD-MALFORMED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := startQuickUnderWay(t)
			mi, mr, rr, si := q.mi, q.mr, q.rr, q.si
			qm1, from, to := q.qm1, q.from, q.to
			q.notify(t, wire.Notify{DOI: wire.DOIIPsec, Protocol: wire.ProtocolISAKMP, Type: wire.NotifyPayloadMalformed})
			if got := mi.Status()[0].LastError; !strings.Contains(got, "PAYLOAD-MALFORMED") {
				t.Fatalf("status after PAYLOAD-MALFORMED: %q", got)
			}

			if c.answered {
				mr.handle(to, from, qm1)
				qm2, _, _ := sent(t, rr)
				mi.handle(from, to, qm2)
			} else {
				q := onlyQuick(t, mi)
				mi.mu.Lock()
				q.out.tries, q.out.sentAt = mi.peers["i"].cfg.RetransmitTries, time.Now().Add(-time.Hour)
				mi.timers(time.Now())
				mi.mu.Unlock()
			}
			mi.mu.Lock()
			left := len(si.qms)
			mi.mu.Unlock()
			got := mi.Status()[0].LastError
			if left != 0 || (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("status once the quick mode is over (%d under way): %q, want %q", left, got, c.want)
			}
		})
	}
}

// TestStatusReasonPeerDeletedSA: a peer that deletes the ISAKMP SA (its
// connection reset, say) takes the connection down, and the status says
// why; it said nothing.
func TestStatusReasonPeerDeletedSA(t *testing.T) {
	mi, mr, ri, rr := twoManagers(t, func(pi, _ *ikev2.PeerConfig) {
		pi.ReconnectDelay = time.Hour // the status is read before a new Main Mode
	})
	shuttle(mi, mr, ri, rr, nil)
	if st := mi.Status(); len(st) != 1 || st[0].State != "established" || st[0].LastError != "" {
		t.Fatalf("status before the delete: %+v", st)
	}
	rr.take()
	mr.Reset("r") // the peer deletes its children and its ISAKMP SA
	msgs, from, to := rr.take()
	for i := range msgs {
		mi.handle(to[i], from[i], msgs[i])
	}
	st := mi.Status()
	if len(st) != 1 || st[0].State != "down" || !strings.Contains(st[0].LastError, "the peer deleted the ISAKMP SA") {
		t.Errorf("status after the peer deleted the ISAKMP SA: %+v, want down with the reason", st)
	}
}
