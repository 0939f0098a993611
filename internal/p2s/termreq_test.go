package p2s

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// TestPeerTerminateThenDisconnectRFC1661Section4_1: a client that ends
// its call as Windows does, an LCP Terminate-Request and then SSTP's
// CALL_DISCONNECT, has the Terminate-Request acknowledged and then its
// CALL_DISCONNECT acknowledged ([MS-SSTP] §3.1.1.1.2): the gateway waits a
// Restart period after the Terminate-Ack (RFC 1661 §4.1: RTR in Opened
// is sta and zrc, to Stopping) before it ends the call itself, with
// CALL_DISCONNECT.
func TestPeerTerminateThenDisconnectRFC1661Section4_1(t *testing.T) {
	for _, disconnects := range []bool{true, false} {
		name := "client disconnects"
		if !disconnects {
			name = "client silent"
		}
		t.Run(name, func(t *testing.T) {
			r := newRegion(t, Config{})
			x := dialRaw(t, r.srv.Addr())
			x.openLCP()
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.TermReq, ID: 7})
			for p := x.next(ppp.ProtoLCP); p.Code != ppp.TermAck || p.ID != 7; p = x.next(ppp.ProtoLCP) {
			}
			if disconnects {
				x.c.Write(sstp.AppendControl(nil, sstp.Control{Type: sstp.MsgCallDisconnect}))
			}
			msgs, err := messagesUntilClosed(x.c, x.r)
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal(err)
			}
			want := uint16(sstp.MsgCallDisconnectAck)
			if !disconnects {
				want = sstp.MsgCallDisconnect
			}
			if !slices.Contains(types(msgs), want) {
				t.Errorf("after the Terminate-Ack the gateway sent %v, then closed; want message %d", types(msgs), want)
			}
		})
	}
}
