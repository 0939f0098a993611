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

// TestClientSaysGatewayStatus: vnetgw's client's error names the Status
// Info of the gateway's CALL_CONNECT_NAK or CALL_ABORT ([MS-SSTP]
// §2.2.8), so that its user reads why: a full gateway, a negotiation
// that ran out of tries.
func TestClientSaysGatewayStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply sstp.Control
		want  string
	}{
		{"gateway full", sstp.Control{Type: sstp.MsgCallConnectNak, Attrs: []sstp.Attr{{ID: sstp.AttribStatusInfo,
			Value: sstp.StatusInfo{AttribID: sstp.AttribEncapsulatedProtocolID, Status: sstp.StatusValueNotSupported, Value: []byte{0, 1}}.Append(nil)}}},
			"CALL_CONNECT_NAK: VALUE_NOT_SUPPORTED of ENCAPSULATED_PROTOCOL_ID"},
		{"retries", sstp.Control{Type: sstp.MsgCallAbort, Attrs: []sstp.Attr{{ID: sstp.AttribStatusInfo,
			Value: sstp.StatusInfo{Status: sstp.StatusRetryCountExceeded}.Append(nil)}}},
			"CALL_ABORT: RETRY_COUNT_EXCEEDED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dial, got := fakeGateway(t, newPKI(t), tc.reply)
			if err := dial(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Dial: %v; want it to say %q", err, tc.want)
			}
			<-got
		})
	}
}
