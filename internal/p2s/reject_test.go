package p2s

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/eaptls"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// TestProtocolRejectIdentifierRFC1661Section5_7: each Protocol-Reject
// has an Identifier of its own (RFC 1661 §5.7: changed for each), and
// however many are sent, our next request's Identifier is not our last
// request's, whose answer came (§5.1), so that a late copy of that
// answer is not taken for one to the new request; client and gateway.
func TestProtocolRejectIdentifierRFC1661Section5_7(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			x.l.lcpOurs, x.l.lcpPeers = true, true
			x.request(x.req.Data)
			last, _ := x.answered()
			if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: last.ID, Data: last.Data}.Append(nil)); err != nil || !x.l.up.Load() {
				t.Fatalf("the renegotiation: err %v, up %v; want up", err, x.l.up.Load())
			}
			// IPv6CP, which the link does not speak: 255 Protocol-Rejects.
			ipv6cp := ppp.Packet{Code: ppp.ConfReq, ID: 1}.Append(nil)
			for range 255 {
				if err := x.l.handlePPP(ppp.ProtoIPv6CP, ipv6cp); err != nil {
					t.Fatal(err)
				}
			}
			rejs, _ := x.conn.take(t, ppp.ProtoLCP)
			if len(rejs) != 255 {
				t.Fatalf("255 IPv6CP packets answered with %d LCP packets, want 255 Protocol-Rejects", len(rejs))
			}
			for i, p := range rejs {
				if p.Code != ppp.ProtoRej || i > 0 && p.ID == rejs[i-1].ID {
					t.Fatalf("LCP packet %d: code %d, Identifier %d after %d; want a Protocol-Reject, another Identifier", i, p.Code, p.ID, rejs[max(i-1, 0)].ID)
				}
			}
			x.request(x.req.Data)
			ours, _ := x.answered()
			if ours.Code != ppp.ConfReq || ours.ID == last.ID {
				t.Fatalf("our IPCP request after the Protocol-Rejects: %+v; want a Configure-Request with another Identifier than the last's (%d)", ours, last.ID)
			}
		})
	}
}

// TestCodeRejectRFC1661Section5_6: an LCP packet of an unknown Code, and
// an IPCP packet of a Code other than 1 to 7 (RFC 1332 §2), is reported
// back with a Code-Reject of that protocol carrying the packet, each
// under another Identifier (RFC 1661 §5.6); the codes LCP knows that need
// no answer (Discard-Request, RFC 1570's Identification that Windows
// sends) get none; the link stays up; client and gateway. (A
// Terminate-Ack takes an open LCP or IPCP down:
// TestTerminateAckOutOfTurn, TestIPCPTerminateAckOutOfTurn.)
func TestCodeRejectRFC1661Section5_6(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			x.l.lcpOurs, x.l.lcpPeers = true, true
			for _, tc := range []struct {
				proto  uint16
				code   uint8
				reject bool
			}{
				{ppp.ProtoLCP, 0, true}, // RFC 2153's Vendor-Specific, not spoken here
				{ppp.ProtoLCP, 14, true},
				{ppp.ProtoLCP, 255, true},
				{ppp.ProtoLCP, ppp.DiscardReq, false},
				{ppp.ProtoLCP, ppp.Identification, false},
				{ppp.ProtoLCP, ppp.TimeRemaining, false},
				{ppp.ProtoIPCP, ppp.ProtoRej, true},
				{ppp.ProtoIPCP, ppp.EchoReq, true},
				{ppp.ProtoIPCP, 0, true},
			} {
				sent := ppp.Packet{Code: tc.code, ID: 42, Data: []byte("\x00\x00\x00\x00MSRASV5.20")}.Append(nil)
				if err := x.l.handlePPP(tc.proto, append(sent, 0, 0)); err != nil { // padding, not rejected
					t.Fatalf("protocol %#04x code %d: the link ended: %v", tc.proto, tc.code, err)
				}
				got, abort := x.conn.take(t, tc.proto)
				switch {
				case abort || !x.l.up.Load():
					t.Fatalf("protocol %#04x code %d: CALL_ABORT %v, up %v; want the link up", tc.proto, tc.code, abort, x.l.up.Load())
				case !tc.reject && len(got) != 0:
					t.Errorf("protocol %#04x code %d answered with %+v, want nothing", tc.proto, tc.code, got)
				case tc.reject && (len(got) != 1 || got[0].Code != ppp.CodeRej || !bytes.Equal(got[0].Data, sent)):
					t.Errorf("protocol %#04x code %d answered with %+v, want a Code-Reject of % x", tc.proto, tc.code, got, sent)
				}
			}
			// Two Code-Rejects: two Identifiers.
			var ids []uint8
			for range 2 {
				if err := x.l.handleLCP(ppp.Packet{Code: 99, ID: 7}.Append(nil)); err != nil {
					t.Fatal(err)
				}
				got, _ := x.conn.take(t, ppp.ProtoLCP)
				if len(got) != 1 {
					t.Fatalf("LCP code 99 answered with %+v, want a Code-Reject", got)
				}
				ids = append(ids, got[0].ID)
			}
			if ids[0] == ids[1] {
				t.Errorf("two Code-Rejects under Identifier %d; want another for each", ids[0])
			}
		})
	}
}

// TestRejectReceivedRFC1661Section4_3: the peer's Code-Reject of a code
// LCP or IPCP cannot do without (1 to 7), or Protocol-Reject of LCP,
// IPCP, or of the authentication under way (RXJ-, RFC 1661 §4.3), ends
// the link saying what was rejected: with LCP open, the data path goes
// down and an LCP Terminate-Request goes out (§4.1, RXJ- in Opened:
// tld, irc, str), and the peer's Terminate-Ack ends the call with
// CALL_DISCONNECT; with LCP not open, the call ends so at once (tlf). A
// Code-Reject of an extension and a Protocol-Reject of anything else
// but IPv4 (RXJ+) leave it up, and so does a Protocol-Reject before LCP
// is open, which is discarded (§5.7); client and gateway.
func TestRejectReceivedRFC1661Section4_3(t *testing.T) {
	codeRej := func(code uint8) []byte {
		return ppp.Packet{Code: ppp.CodeRej, ID: 3, Data: ppp.Packet{Code: code, ID: 9}.Append(nil)}.Append(nil)
	}
	protoRej := func(proto uint16) []byte {
		return ppp.Packet{Code: ppp.ProtoRej, ID: 3, Data: binary.BigEndian.AppendUint16(nil, proto)}.Append(nil)
	}
	for _, server := range []bool{false, true} {
		for _, tc := range []struct {
			name      string
			proto     uint16
			packet    []byte
			authed    bool
			lcpClosed bool   // our LCP request not acknowledged yet
			ends      string // what the error names; "" when the link stays up
		}{
			{"LCP Code-Reject of Configure-Request", ppp.ProtoLCP, codeRej(ppp.ConfReq), true, false, "LCP code 1"},
			{"LCP Code-Reject of Terminate-Ack", ppp.ProtoLCP, codeRej(ppp.TermAck), true, false, "LCP code 6"},
			{"LCP Code-Reject of Configure-Request before LCP is open", ppp.ProtoLCP, codeRej(ppp.ConfReq), false, true, "LCP code 1"},
			{"LCP Code-Reject of Echo-Reply", ppp.ProtoLCP, codeRej(ppp.EchoReply), true, false, ""},
			{"LCP Code-Reject of Identification", ppp.ProtoLCP, codeRej(ppp.Identification), true, false, ""},
			{"IPCP Code-Reject of Configure-Ack", ppp.ProtoIPCP, codeRej(ppp.ConfAck), true, false, "IPCP code 2"},
			{"Protocol-Reject of IPCP", ppp.ProtoLCP, protoRej(ppp.ProtoIPCP), true, false, "protocol 0x8021"},
			{"Protocol-Reject of LCP", ppp.ProtoLCP, protoRej(ppp.ProtoLCP), true, false, "protocol 0xc021"},
			{"Protocol-Reject of IPv6CP", ppp.ProtoLCP, protoRej(ppp.ProtoIPv6CP), true, false, ""},
			{"Protocol-Reject of EAP after authentication", ppp.ProtoLCP, protoRej(ppp.ProtoEAP), true, false, ""},
			{"Protocol-Reject of EAP before authentication", ppp.ProtoLCP, protoRej(ppp.ProtoEAP), false, false, "protocol 0xc227"},
			{"Protocol-Reject of CHAP before authentication with EAP", ppp.ProtoLCP, protoRej(ppp.ProtoCHAP), false, false, ""},
			{"Protocol-Reject of LCP before LCP is open", ppp.ProtoLCP, protoRej(ppp.ProtoLCP), true, true, ""},
		} {
			t.Run(fmt.Sprintf("server=%v/%s", server, tc.name), func(t *testing.T) {
				x := openIPCP(t, server)
				x.l.lcpOurs, x.l.lcpPeers = !tc.lcpClosed, true
				x.l.client = &Client{cfg: ClientConfig{EAP: true}}
				if !tc.authed {
					// EAP-TLS under way.
					x.l.authed, x.l.eapSrv = false, new(eaptls.Server)
					x.l.up.Store(false)
				}
				err := x.l.handlePPP(tc.proto, tc.packet)
				sent, abort := x.conn.take(t, ppp.ProtoLCP)
				if tc.ends == "" {
					if err != nil || abort || x.conn.disconnected || x.l.up.Load() != tc.authed {
						t.Fatalf("err %v, CALL_ABORT %v, CALL_DISCONNECT %v, up %v; want the link as it was", err, abort, x.conn.disconnected, x.l.up.Load())
					}
					return
				}
				want := "the peer rejected " + tc.ends
				if tc.lcpClosed {
					if err == nil || !strings.Contains(err.Error(), want) || abort || !x.conn.disconnected || len(sent) != 0 {
						t.Fatalf("err %v, CALL_ABORT %v, CALL_DISCONNECT %v, LCP %+v; want the link ended at once, %s, with CALL_DISCONNECT alone", err, abort, x.conn.disconnected, sent, want)
					}
					return
				}
				if err != nil || abort || x.conn.disconnected || x.l.up.Load() || len(sent) != 1 || sent[0].Code != ppp.TermReq {
					t.Fatalf("err %v, CALL_ABORT %v, CALL_DISCONNECT %v, up %v, LCP %+v; want the data path down and a Terminate-Request", err, abort, x.conn.disconnected, x.l.up.Load(), sent)
				}
				// Stopping: the peer's own request is not answered, nor is
				// IPCP; its Terminate-Ack ends the call.
				if err := x.l.handlePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.ConfReq, ID: 50}.Append(nil)); err != nil {
					t.Fatal(err)
				}
				x.req.ID++
				if err := x.l.handlePPP(ppp.ProtoIPCP, x.req.Append(nil)); err != nil {
					t.Fatal(err)
				}
				if lcp, _ := x.conn.take(t, ppp.ProtoLCP); len(lcp) != 0 || x.l.up.Load() {
					t.Fatalf("while terminating: LCP %+v, up %v; want nothing, down", lcp, x.l.up.Load())
				}
				err = x.l.handlePPP(ppp.ProtoLCP, ppp.Packet{Code: ppp.TermAck, ID: sent[0].ID}.Append(nil))
				_, abort = x.conn.take(t, ppp.ProtoLCP)
				if err == nil || !strings.Contains(err.Error(), want) || abort || !x.conn.disconnected {
					t.Fatalf("the Terminate-Ack: err %v, CALL_ABORT %v, CALL_DISCONNECT %v; want the link ended, %s, with CALL_DISCONNECT", err, abort, x.conn.disconnected, want)
				}
			})
		}
	}
}

// TestRejectTerminatesLCPRFC1661Section4_1: a client whose LCP is open
// and that Code-Rejects the gateway's Configure-Request (RXJ-) gets an
// LCP Terminate-Request (RFC 1661 §4.1, Opened: tld, irc, str), and the
// call ends normally: on its Terminate-Ack, or after Max-Terminate (2)
// Terminate-Requests unanswered, the gateway sends CALL_DISCONNECT, not
// CALL_ABORT, and closes the connection (over TLS).
func TestRejectTerminatesLCPRFC1661Section4_1(t *testing.T) {
	for _, answer := range []bool{true, false} {
		t.Run(fmt.Sprintf("Terminate-Ack=%v", answer), func(t *testing.T) {
			r := newRegion(t, Config{})
			x := dialRaw(t, r.srv.Addr())
			x.openLCP()
			x.next(ppp.ProtoEAP) // LCP is open: the gateway authenticates
			x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.CodeRej, ID: 9, Data: ppp.Packet{Code: ppp.ConfReq, ID: 1}.Append(nil)})
			var buf [sstp.MaxPacket]byte
			terms := 0
			var controls []uint16
			for {
				x.c.SetReadDeadline(time.Now().Add(20 * time.Second))
				isControl, body, err := sstp.ReadPacket(x.r, &buf)
				if err != nil {
					if errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("the gateway did not end the call: %v", err)
					}
					break // the connection closed
				}
				if isControl {
					if c, err := sstp.ParseControl(body); err == nil {
						controls = append(controls, c.Type)
					}
					continue
				}
				if p, ok := packetOf(t, body, ppp.ProtoLCP); ok && p.Code == ppp.TermReq {
					terms++
					if answer {
						x.send(ppp.ProtoLCP, ppp.Packet{Code: ppp.TermAck, ID: p.ID})
					}
				}
			}
			want := 1
			if !answer {
				want = maxTerminate
			}
			if terms != want || !slices.Equal(controls, []uint16{sstp.MsgCallDisconnect}) {
				t.Errorf("the gateway sent %d Terminate-Requests and SSTP messages %v; want %d and CALL_DISCONNECT (%d) alone", terms, controls, want, sstp.MsgCallDisconnect)
			}
		})
	}
}

// TestRejectedNotSentAgainRFC1661Section4_3: what the peer rejects
// without ending the link (RXJ+) is not sent to it again (RFC 1661 §4.3:
// MUST stop sending it): after a Code-Reject of Echo-Reply its
// Echo-Requests go unanswered, after one of Protocol-Reject its packets
// of protocols we do not speak are dropped without one, and after a
// Protocol-Reject of IPv4 (§5.7) no IPv4 goes to it until it negotiates
// IPCP again; client and gateway.
func TestRejectedNotSentAgainRFC1661Section4_3(t *testing.T) {
	codeRej := func(code uint8) []byte {
		return ppp.Packet{Code: ppp.CodeRej, ID: 3, Data: ppp.Packet{Code: code, ID: 9}.Append(nil)}.Append(nil)
	}
	echo := ppp.Packet{Code: ppp.EchoReq, ID: 5, Data: []byte{0x0b, 0xad, 0xca, 0xfe}}.Append(nil)
	ipv6cp := ppp.Packet{Code: ppp.ConfReq, ID: 1}.Append(nil)
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			x.l.lcpOurs, x.l.lcpPeers = true, true
			answers := func(proto uint16, info []byte) []ppp.Packet {
				t.Helper()
				if err := x.l.handlePPP(proto, info); err != nil {
					t.Fatal(err)
				}
				got, _ := x.conn.take(t, ppp.ProtoLCP)
				return got
			}
			if got := answers(ppp.ProtoLCP, echo); len(got) != 1 || got[0].Code != ppp.EchoReply {
				t.Fatalf("an Echo-Request answered with %+v, want an Echo-Reply", got)
			}
			if got := answers(ppp.ProtoIPv6CP, ipv6cp); len(got) != 1 || got[0].Code != ppp.ProtoRej {
				t.Fatalf("IPv6CP answered with %+v, want a Protocol-Reject", got)
			}
			answers(ppp.ProtoLCP, codeRej(ppp.EchoReply))
			answers(ppp.ProtoLCP, codeRej(ppp.ProtoRej))
			if got := answers(ppp.ProtoLCP, echo); len(got) != 0 {
				t.Errorf("after a Code-Reject of Echo-Reply, an Echo-Request answered with %+v", got)
			}
			if got := answers(ppp.ProtoIPv6CP, ipv6cp); len(got) != 0 {
				t.Errorf("after a Code-Reject of Protocol-Reject, IPv6CP answered with %+v", got)
			}
			pkt := make([]byte, 20)
			pkt[0] = 0x45
			if err := x.l.SendIP(pkt); err != nil {
				t.Fatalf("SendIP before the Protocol-Reject of IPv4: %v", err)
			}
			answers(ppp.ProtoLCP, ppp.Packet{Code: ppp.ProtoRej, ID: 4, Data: append(binary.BigEndian.AppendUint16(nil, ppp.ProtoIPv4), pkt...)}.Append(nil))
			if err := x.l.SendIP(pkt); err == nil || x.l.up.Load() {
				t.Fatalf("after a Protocol-Reject of IPv4: SendIP %v, up %v; want refused, down", err, x.l.up.Load())
			}
			x.negotiate("IPCP again after the Protocol-Reject of IPv4", x.req.Data)
			if err := x.l.SendIP(pkt); err != nil {
				t.Errorf("SendIP once IPCP is open again: %v", err)
			}
		})
	}
}

// TestCodeRejectWhileStoppingRFC1661Section4_1: an LCP packet of an
// unknown Code gets its Code-Reject also while LCP terminates (RFC 1661
// §4.1: RUC in Stopping is scj; §5.6: MUST), and LCP goes on
// terminating: the peer's Terminate-Ack then ends the link; client and
// gateway.
func TestCodeRejectWhileStoppingRFC1661Section4_1(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			x.l.lcpOurs, x.l.lcpPeers = true, true
			why := errors.New("terminated by the test")
			if err := x.l.terminate(why); err != nil {
				t.Fatal(err)
			}
			term, _ := x.conn.take(t, ppp.ProtoLCP)
			if len(term) != 1 || term[0].Code != ppp.TermReq {
				t.Fatalf("terminate sent %+v, want a Terminate-Request", term)
			}
			sent := ppp.Packet{Code: 99, ID: 7}.Append(nil)
			if err := x.l.handleLCP(sent); err != nil {
				t.Fatalf("LCP code 99 while Stopping ended the link: %v", err)
			}
			if got, _ := x.conn.take(t, ppp.ProtoLCP); len(got) != 1 || got[0].Code != ppp.CodeRej || !bytes.Equal(got[0].Data, sent) {
				t.Errorf("LCP code 99 while Stopping answered with %+v, want a Code-Reject of % x", got, sent)
			}
			err := x.l.handleLCP(ppp.Packet{Code: ppp.TermAck, ID: term[0].ID}.Append(nil))
			if x.conn.take(t, ppp.ProtoLCP); err != why || !x.conn.disconnected {
				t.Errorf("the Terminate-Ack: err %v, CALL_DISCONNECT %v; want %v and CALL_DISCONNECT", err, x.conn.disconnected, why)
			}
		})
	}
}

// TestUnknownProtocolDiscardedUntilAuthenticatedRFC1661Section3_5: a
// packet of a protocol vnetgw does not speak (IPv6CP) that arrives while
// LCP is open but authentication has not ended is silently discarded
// (RFC 1661 §3.5: MUST), not Protocol-Rejected; once authenticated, the
// same packet gets its Protocol-Reject (§5.7); client and gateway.
func TestUnknownProtocolDiscardedUntilAuthenticatedRFC1661Section3_5(t *testing.T) {
	ipv6cp := ppp.Packet{Code: ppp.ConfReq, ID: 1}.Append(nil)
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			conn := &recorder{}
			l := newLink(server, conn, nil, testLogger(t))
			l.lcpOurs, l.lcpPeers = true, true
			if err := l.handlePPP(ppp.ProtoIPv6CP, ipv6cp); err != nil {
				t.Fatal(err)
			}
			if got, _ := conn.take(t, ppp.ProtoLCP); len(got) != 0 {
				t.Fatalf("IPv6CP during authentication answered with %+v; want it discarded", got)
			}
			l.authed = true
			if err := l.handlePPP(ppp.ProtoIPv6CP, ipv6cp); err != nil {
				t.Fatal(err)
			}
			if got, _ := conn.take(t, ppp.ProtoLCP); len(got) != 1 || got[0].Code != ppp.ProtoRej {
				t.Fatalf("IPv6CP once authenticated answered with %+v; want a Protocol-Reject", got)
			}
		})
	}
}
