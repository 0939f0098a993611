package p2s

import (
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// TestCallAbortAnsweredMSSSTP3_3_5_2_4: a peer's CALL_ABORT is answered
// with a CALL_ABORT before the connection closes ([MS-SSTP] §3.3.5.2.4
// and §3.2.5.3.4, Call_Abort_In_Progress_2), so that the peer, which
// waits for it (TIMER_VAL_ABORT_STATE_TIMER_1), is done at once: the
// gateway's answer to a client's abort, and vnetgw's client's to the
// gateway's.
func TestCallAbortAnsweredMSSSTP3_3_5_2_4(t *testing.T) {
	t.Run("gateway", func(t *testing.T) {
		r := newRegion(t, Config{})
		x := dialRaw(t, r.srv.Addr())
		x.openLCP()
		x.c.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallAbort}))
		if msgs, err := messagesUntilClosed(x.c, x.r); err != nil || !slices.Contains(types(msgs), sstp.MsgCallAbort) {
			t.Errorf("the gateway's SSTP messages after the client's CALL_ABORT: %v (%v); want a CALL_ABORT (%d), then the connection closed", types(msgs), err, sstp.MsgCallAbort)
		}
	})
	t.Run("client", func(t *testing.T) {
		dial, got := fakeGateway(t, newPKI(t), sstp.Control{Type: sstp.MsgCallAbort})
		if err := dial(); err == nil || !strings.Contains(err.Error(), "aborted") {
			t.Errorf("Dial: %v; want the gateway aborted the call", err)
		}
		if a := <-got; a.err != nil || !slices.Contains(types(a.msgs), sstp.MsgCallAbort) {
			t.Errorf("the client's SSTP messages after the gateway's CALL_ABORT: %v (%v); want a CALL_ABORT (%d), then the connection closed", types(a.msgs), a.err, sstp.MsgCallAbort)
		}
	})
}
