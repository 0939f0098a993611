package p2s

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"

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

// lcpAnswer waits for the gateway's LCP packet of code answering the
// client's of id, skipping the gateway's Configure-Requests (sent again
// on the Restart timer); any other LCP packet fails the test.
func (x *rawClient) lcpAnswer(id, code uint8) {
	x.t.Helper()
	p := x.next(ppp.ProtoLCP)
	for p.Code == ppp.ConfReq {
		p = x.next(ppp.ProtoLCP)
	}
	if p.Code != code || p.ID != id {
		x.t.Fatalf("the gateway sent LCP code %d, Identifier %d; want code %d, Identifier %d", p.Code, p.ID, code, id)
	}
}

// TestPeerTerminateWhileNegotiatingRFC1661Section4_1: a client's LCP
// Terminate-Request before LCP is open is acknowledged, and LCP goes
// back to Req-Sent (RFC 1661 §4.1: RTR in Req-Sent, Ack-Rcvd and
// Ack-Sent is sta, to Req-Sent), not to Stopping: the client's next
// request is acknowledged, and LCP opens, EAP starting, once the client
// has acknowledged the gateway's request again (from Ack-Rcvd, the
// request sent again on the Restart timer, under a new Identifier).
func TestPeerTerminateWhileNegotiatingRFC1661Section4_1(t *testing.T) {
	for _, state := range []string{"Req-Sent", "Ack-Rcvd", "Ack-Sent"} {
		t.Run(state, func(t *testing.T) {
			r := newRegion(t, Config{})
			x := dialRaw(t, r.srv.Addr())
			ours := x.next(ppp.ProtoLCP)
			switch state {
			case "Ack-Rcvd":
				x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data})
			case "Ack-Sent":
				x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1})
				x.lcpAnswer(1, ppp.ConfAck)
			}
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.TermReq, ID: 7})
			x.lcpAnswer(7, ppp.TermAck)
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 2})
			x.lcpAnswer(2, ppp.ConfAck)
			if !x.quiet(ppp.ProtoEAP, 300*time.Millisecond) {
				t.Fatal("EAP started before the client acknowledged the gateway's request again")
			}
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data})
			if state == "Ack-Rcvd" {
				// The request was answered: the Ack of it again is
				// discarded, and it goes again on the Restart timer
				// under a new Identifier (RFC 1661 §5.1).
				again := x.next(ppp.ProtoLCP)
				if again.Code != ppp.ConfReq || again.ID == ours.ID {
					t.Fatalf("after the Ack of its answered request the gateway sent LCP code %d, Identifier %d (its request was %d); want its Configure-Request under a new Identifier", again.Code, again.ID, ours.ID)
				}
				x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: again.ID, Data: again.Data})
			}
			x.next(ppp.ProtoEAP)
		})
	}
}

// TestTerminateAckOutOfTurnRFC1661Section4_1: a Terminate-Ack that
// answers nothing the gateway sent (RFC 1661 §4.1, RTA) takes LCP back
// to Req-Sent from Opened, a new request going out at once (tld, scr),
// and from Ack-Rcvd, its request going out again on the Restart timer,
// in both under a new Identifier since the last was answered (§5.1);
// in Req-Sent and Ack-Sent it changes nothing, and LCP opens on the
// answers it waited for.
func TestTerminateAckOutOfTurnRFC1661Section4_1(t *testing.T) {
	for _, state := range []string{"Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened"} {
		t.Run(state, func(t *testing.T) {
			r := newRegion(t, Config{})
			x := dialRaw(t, r.srv.Addr())
			ours := x.next(ppp.ProtoLCP)
			if state == "Ack-Rcvd" || state == "Opened" {
				x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data})
			}
			if state == "Ack-Sent" || state == "Opened" {
				x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1})
				x.lcpAnswer(1, ppp.ConfAck)
			}
			if state == "Opened" {
				x.next(ppp.ProtoEAP)
			}
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.TermAck, ID: 9})
			if state == "Req-Sent" || state == "Ack-Sent" {
				if state == "Req-Sent" {
					x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 1})
					x.lcpAnswer(1, ppp.ConfAck)
				}
				x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data})
				x.next(ppp.ProtoEAP)
				return
			}
			again := x.next(ppp.ProtoLCP)
			if again.Code != ppp.ConfReq || again.ID == ours.ID {
				t.Fatalf("after the Terminate-Ack the gateway sent LCP code %d, Identifier %d (its request was %d); want a Configure-Request under a new Identifier, the last answered (RFC 1661 §5.1)", again.Code, again.ID, ours.ID)
			}
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfAck, ID: again.ID, Data: again.Data})
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 2})
			x.lcpAnswer(2, ppp.ConfAck)
			if state == "Ack-Rcvd" {
				x.next(ppp.ProtoEAP)
			}
		})
	}
}
