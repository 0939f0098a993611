package ikev2

import (
	"net/netip"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestSilentAuthReason: a peer that answers IKE_SA_INIT but none of the
// IKE_AUTH requests (lost on the way: a path that drops large or
// fragmented datagrams, say) is told of in the status from the first
// retransmission of IKE_AUTH on, with the size of what goes unanswered,
// not only once the retransmissions run out; the reason goes when the
// IKE SA comes up. The status said nothing until the tries ran out.
func TestSilentAuthReason(t *testing.T) {
	checkLeaks(t)
	n := newFakeNet(t)
	var lose atomic.Bool
	lose.Store(true)
	n.setPolicy(func(_, _ netip.AddrPort, b []byte) []time.Duration {
		if lose.Load() && isRequest(b, wire.IKEAuth) {
			return nil
		}
		return []time.Duration{0}
	})
	pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
	pb.Mode = ModeResponderOnly
	pa.RetransmitTimeout, pa.RetransmitTries = 100*time.Millisecond, 6
	b := newNode(t, n, "b", addrB, Config{}, pb)
	a := newNode(t, n, "a", addrA, Config{}, pa)
	want := regexp.MustCompile(`^no answer from ` + regexp.QuoteMeta(addrB.String()) + `:\d+ to IKE_AUTH yet \(sent [2-9] times, each in 1 datagram of \d+ bytes\)$`)
	waitFor(t, 3*time.Second, "the reason to tell of the unanswered IKE_AUTH", func() bool { return want.MatchString(a.status().LastError) })
	lose.Store(false)
	waitUp(t, a, b, 1)
	if st := a.status(); st.LastError != "" {
		t.Errorf("IKE SA up, reason %q", st.LastError)
	}
}
