package p2s

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// recorder is a connection that keeps what a link writes and has nothing
// to read.
type recorder struct {
	discard
	mu  sync.Mutex
	out []byte
	// disconnected: take found a CALL_DISCONNECT.
	disconnected bool
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, p...)
	return len(p), nil
}

// take returns the PPP packets of proto written since the last take, and
// whether a CALL_ABORT was.
func (r *recorder) take(t *testing.T, proto uint16) (ps []ppp.Packet, abort bool) {
	t.Helper()
	r.mu.Lock()
	rd := bytes.NewReader(r.out)
	r.out = nil
	r.mu.Unlock()
	var buf [sstp.MaxPacket]byte
	for rd.Len() > 0 {
		isControl, body, err := sstp.ReadPacket(rd, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if isControl {
			c, err := sstp.ParseControl(body)
			abort = abort || err == nil && c.Type == sstp.MsgCallAbort
			r.disconnected = r.disconnected || err == nil && c.Type == sstp.MsgCallDisconnect
			continue
		}
		if p, ok := packetOf(t, body, proto); ok {
			p.Data = bytes.Clone(p.Data) // out of buf, which the next packet takes
			ps = append(ps, p)
		}
	}
	return ps, abort
}

// TestClientIPCPRefusedForeverGivesUp: vnetgw's client, whose IPCP
// requests a gateway Naks (with an address it never takes: here another
// each time) for ever, gives up after Max-Configure requests refused
// (RFC 1661 §4.6) and says so, rather than asking again for as long as
// the gateway answers; one that Rejects an option of each request has the
// client ask without it, and end when its address is rejected.
func TestClientIPCPRefusedForeverGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(req ppp.Packet, n int) ppp.Packet
		err    string
	}{
		{"Nak", func(req ppp.Packet, n int) ppp.Packet {
			a := netip.AddrFrom4([4]byte{172, 16, 201, byte(2 + n)})
			return ppp.Packet{Code: ppp.ConfNak, ID: req.ID, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: a.AsSlice()}})}
		}, "IPCP does not converge"},
		// A Reject carries options of the request (RFC 1661 §5.4): here
		// its last, the secondary DNS server, the primary, the address.
		{"Reject", func(req ppp.Packet, _ int) ppp.Packet {
			opts, err := ppp.ParseOptions(req.Data)
			if err != nil {
				t.Fatal(err)
			}
			return ppp.Packet{Code: ppp.ConfRej, ID: req.ID, Data: ppp.AppendOptions(nil, opts[len(opts)-1:])}
		}, "the gateway rejected IPCP option 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := &recorder{}
			l := newLink(false, conn, nil, testLogger(t))
			l.authed = true
			if err := l.sendIPCPRequest(); err != nil {
				t.Fatal(err)
			}
			requests := 0
			var err error
			for requests <= 3*maxConfigure && err == nil {
				reqs, _ := conn.take(t, ppp.ProtoIPCP)
				if len(reqs) != 1 || reqs[0].Code != ppp.ConfReq {
					t.Fatalf("after %d requests the client sent %+v, want one Configure-Request", requests, reqs)
				}
				requests++
				err = l.handleIPCP(tc.answer(reqs[0], requests).Append(nil))
			}
			if requests > maxConfigure {
				t.Errorf("the client sent %d IPCP requests to a gateway that refuses each, want at most %d", requests, maxConfigure)
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("the client ended with %v, want %q", err, tc.err)
			}
		})
	}
}

// TestGatewayIPCPMaxFailure: a client that asks again and again for
// another address than the one its place comes with, or for another DNS
// server than the VNet's, is Naked Max-Failure times, and then its option
// is rejected as it sent it (RFC 1661 §4.6). Without the address the
// gateway gives, the call ends; without the DNS server, the client goes on.
func TestGatewayIPCPMaxFailure(t *testing.T) {
	own := netip.MustParseAddr("172.16.201.2")
	other := []byte{10, 9, 9, 9}
	for _, tc := range []struct {
		name  string
		opts  []ppp.Option
		ends  bool
		after []ppp.Option // a request then Acked
	}{
		{"address", []ppp.Option{{Type: ppp.OptIPAddress, Value: other}}, true, nil},
		{"DNS", []ppp.Option{{Type: ppp.OptIPAddress, Value: own.AsSlice()}, {Type: ppp.OptPrimaryDNS, Value: other}}, false,
			[]ppp.Option{{Type: ppp.OptIPAddress, Value: own.AsSlice()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := &recorder{}
			l := newLink(true, conn, nil, testLogger(t))
			l.srv = &Server{}
			l.authed, l.peer = true, own
			l.dns = []netip.Addr{netip.MustParseAddr("10.1.0.53")}
			req := ppp.Packet{Code: ppp.ConfReq, Data: ppp.AppendOptions(nil, tc.opts)}
			naks := 0
			for {
				req.ID++
				err := l.handleIPCP(req.Append(nil))
				answers, abort := conn.take(t, ppp.ProtoIPCP)
				if len(answers) != 1 {
					t.Fatalf("request %d answered with %+v", req.ID, answers)
				}
				a := answers[0]
				if a.Code == ppp.ConfNak {
					if naks++; naks > 3*maxFailure {
						t.Fatalf("the gateway Naked %d requests for the same option, want a Reject after %d", naks, maxFailure)
					}
					continue
				}
				if a.Code != ppp.ConfRej || !bytes.Equal(a.Data, ppp.AppendOptions(nil, tc.opts[len(tc.opts)-1:])) {
					t.Fatalf("after %d Naks the gateway answered code %d % x, want a Reject of % x", naks, a.Code, a.Data, ppp.AppendOptions(nil, tc.opts[len(tc.opts)-1:]))
				}
				if naks != maxFailure {
					t.Errorf("the gateway Naked %d requests before its Reject, want %d", naks, maxFailure)
				}
				if tc.ends != (err != nil) || tc.ends != abort {
					t.Errorf("after the Reject: err %v, CALL_ABORT %v; want the call ended: %v", err, abort, tc.ends)
				}
				if err != nil && !strings.Contains(err.Error(), "IPCP does not converge") {
					t.Errorf("the call ended with %v, want IPCP's not converging", err)
				}
				break
			}
			if tc.after == nil {
				return
			}
			req.ID++
			req.Data = ppp.AppendOptions(nil, tc.after)
			if err := l.handleIPCP(req.Append(nil)); err != nil {
				t.Fatal(err)
			}
			if answers, _ := conn.take(t, ppp.ProtoIPCP); len(answers) != 1 || answers[0].Code != ppp.ConfAck {
				t.Errorf("a request without the rejected option answered with %+v, want an Ack", answers)
			}
		})
	}
}

// TestGatewayIPCPNaksMissingAddressRFC1332Section3_3: a client's IPCP
// request without the IP-Address option is Naked with the address the
// gateway gives it (RFC 1332 §3.3), not Acked: Acked, IPCP opened and
// the client never learned the address its packets must come from, so
// the call held a pool address and carried nothing. One that leaves it
// out after Max-Failure Naks ends the call.
func TestGatewayIPCPNaksMissingAddressRFC1332Section3_3(t *testing.T) {
	x, _ := startIPCP(t, true)
	x.request(nil)
	_, answer := x.answered()
	want := ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: x.l.peer.AsSlice()}})
	if answer.Code != ppp.ConfNak || !bytes.Equal(answer.Data, want) {
		t.Fatalf("a request without an address answered with code %d % x, want a Nak of % x", answer.Code, answer.Data, want)
	}
	for range maxFailure - 1 {
		x.request(nil)
		x.answered()
	}
	x.req.ID++
	x.req.Data = nil
	err := x.l.handleIPCP(x.req.Append(nil))
	if _, abort := x.conn.take(t, ppp.ProtoIPCP); err == nil || !abort {
		t.Fatalf("a request without an address after %d Naks: err %v, CALL_ABORT %v; want the call ended", maxFailure, err, abort)
	}
}

// TestIPCPAnswerToAnotherRequestRFC1661Section5_3: a Configure-Ack, Nak or
// Reject whose Identifier is not our last IPCP request's is discarded
// (RFC 1661 §5.2-5.4). vnetgw's client neither takes the address of a
// late Nak nor asks again for it, and neither side's IPCP opens on an Ack
// of an earlier request.
func TestIPCPAnswerToAnotherRequestRFC1661Section5_3(t *testing.T) {
	addr := func(a string) []byte {
		return ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: netip.MustParseAddr(a).AsSlice()}})
	}
	t.Run("client", func(t *testing.T) {
		conn := &recorder{}
		l := newLink(false, conn, nil, testLogger(t))
		l.authed, l.dnsRejected = true, [2]bool{true, true}
		if err := l.sendIPCPRequest(); err != nil {
			t.Fatal(err)
		}
		first, _ := conn.take(t, ppp.ProtoIPCP)
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfNak, ID: first[0].ID, Data: addr("172.16.201.2")}.Append(nil)); err != nil {
			t.Fatal(err)
		}
		second, _ := conn.take(t, ppp.ProtoIPCP)
		if len(second) != 1 || !bytes.Equal(second[0].Data, addr("172.16.201.2")) {
			t.Fatalf("after the Nak the client sent %+v, want a request for 172.16.201.2", second)
		}
		// The first request answered again, late: a Nak, a Reject, an Ack.
		for _, late := range []ppp.Packet{
			{Code: ppp.ConfNak, ID: first[0].ID, Data: addr("172.16.201.9")},
			{Code: ppp.ConfRej, ID: first[0].ID, Data: addr("0.0.0.0")},
			{Code: ppp.ConfAck, ID: first[0].ID, Data: first[0].Data},
		} {
			if err := l.handleIPCP(late.Append(nil)); err != nil {
				t.Fatalf("a late answer (code %d) to the first request ended the link: %v", late.Code, err)
			}
		}
		if sent, _ := conn.take(t, ppp.ProtoIPCP); len(sent) != 0 {
			t.Errorf("late answers to the first request made the client send %+v, want nothing", sent)
		}
		if l.local != netip.MustParseAddr("172.16.201.2") || l.ipcpOurs || l.ipcpTries != 1 {
			t.Errorf("after late answers: address %v, open %v, refused %d; want 172.16.201.2, not open, 1", l.local, l.ipcpOurs, l.ipcpTries)
		}
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: second[0].ID, Data: second[0].Data}.Append(nil)); err != nil || !l.ipcpOurs {
			t.Errorf("the Ack of the last request: err %v, open %v; want open", err, l.ipcpOurs)
		}
	})
	t.Run("gateway", func(t *testing.T) {
		l, _, req := gatewayIPCPRequest(t)
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: req.ID - 1, Data: req.Data}.Append(nil)); err != nil || l.ipcpOurs {
			t.Errorf("an Ack of another request than the gateway's last: err %v, open %v; want not open", err, l.ipcpOurs)
		}
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: req.ID, Data: req.Data}.Append(nil)); err != nil || !l.ipcpOurs {
			t.Errorf("the Ack of the gateway's request: err %v, open %v; want open", err, l.ipcpOurs)
		}
	})
}

// pipePeer runs a link over net.Pipe with LCP open and authenticated,
// its IPCP request sent, and hands the test the IPCP requests it sends
// and the error the link ends with.
func pipePeer(t *testing.T, server bool) (l *link, peer net.Conn, reqs <-chan ppp.Packet, ended <-chan error) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	l = newLink(server, a, bufio.NewReader(a), testLogger(t))
	l.srv = &Server{}
	l.lcpOurs, l.lcpPeers, l.authed, l.ipcpPeers = true, true, true, true
	l.local = netip.MustParseAddr("172.16.201.1")
	if server {
		l.peer = netip.MustParseAddr("172.16.201.2") // the client's, given at admission
	}
	l.dnsRejected = [2]bool{true, true}
	l.bound.Store(true)
	rc, ec := make(chan ppp.Packet, 64), make(chan error, 1)
	go func() {
		defer close(rc)
		var buf [sstp.MaxPacket]byte
		r := bufio.NewReader(b)
		for {
			isControl, body, err := sstp.ReadPacket(r, &buf)
			if err != nil {
				return
			}
			if isControl {
				continue
			}
			if proto, info, err := ppp.ParseFrame(body); err == nil && proto == ppp.ProtoIPCP {
				if p, err := ppp.ParsePacket(info); err == nil && p.Code == ppp.ConfReq {
					p.Data = bytes.Clone(p.Data) // out of buf, which the next packet takes
					rc <- p
				}
			}
		}
	}()
	go func() {
		err := l.sendIPCPRequest()
		if err == nil {
			err = l.run(func(sstp.Control, []byte) error { return nil })
		}
		a.Close() // as Dial and the server close the connection
		ec <- err
	}()
	return l, b, rc, ec
}

// TestIPCPRestartTimerRFC1661Section4_6: our IPCP request is sent again
// on the Restart timer (3 s) until it is acknowledged (RFC 1661 §4.6),
// under its Identifier: vnetgw's client whose first request the gateway
// ignores connects on the second; a peer that never answers ends the
// link after Max-Configure retransmissions, the gateway with CALL_ABORT,
// rather than waiting for ever.
func TestIPCPRestartTimerRFC1661Section4_6(t *testing.T) {
	t.Run("answered late", func(t *testing.T) {
		t.Parallel()
		l, peer, reqs, ended := pipePeer(t, false)
		up := make(chan struct{})
		l.upHook = func() { close(up) }
		first := <-reqs
		var second ppp.Packet
		select {
		case second = <-reqs:
		case err := <-ended:
			t.Fatalf("the link ended waiting for the gateway's answer: %v", err)
		case <-time.After(restartTimer + 30*time.Second):
			t.Fatal("the client did not send its unanswered IPCP request again")
		}
		if second.ID != first.ID || !bytes.Equal(second.Data, first.Data) {
			t.Errorf("the request sent again is %+v, want the first %+v", second, first)
		}
		peer.Write(sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfAck, ID: second.ID, Data: second.Data}.Append(nil))))
		select {
		case <-up:
		case err := <-ended:
			t.Fatalf("the link ended: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("the client's link is not up after the Ack of its request sent again")
		}
	})
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("silent server=%v", server), func(t *testing.T) {
			t.Parallel()
			_, _, reqs, ended := pipePeer(t, server)
			var err error
			select {
			case err = <-ended:
			case <-time.After(time.Duration(maxConfigure+1)*restartTimer + time.Minute):
				t.Fatal("the link still waits for an answer to its IPCP request")
			}
			if err == nil || !strings.Contains(err.Error(), "does not answer IPCP") {
				t.Errorf("the link ended with %v, want IPCP unanswered", err)
			}
			n := 0
			for p := range reqs {
				if n++; p.ID != 1 {
					t.Errorf("request %d has Identifier %d, want the first's, 1", n, p.ID)
				}
			}
			if n != maxConfigure {
				t.Errorf("%d IPCP requests sent, want %d (Max-Configure, RFC 1661 §4.6)", n, maxConfigure)
			}
		})
	}
}

// TestIPCPTerminateWhileNegotiatingRFC1661Section4_1: the peer's IPCP
// Terminate-Request before IPCP is open is acknowledged, and IPCP goes
// back to Req-Sent (RFC 1661 §4.1: RTR in Req-Sent, Ack-Rcvd and
// Ack-Sent is sta, to Req-Sent), not to Stopped: our request goes out
// again on the Restart timer (and the link ends after Max-Configure, as
// TestIPCPRestartTimerRFC1661Section4_6's), and the link comes up once
// the peer's next request and ours are acknowledged; client and gateway.
func TestIPCPTerminateWhileNegotiatingRFC1661Section4_1(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			t.Parallel()
			l, peer, reqs, ended := pipePeer(t, server)
			send := func(p ppp.Packet) {
				peer.Write(sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoIPCP, p.Append(nil))))
			}
			<-reqs
			send(ppp.Packet{Code: ppp.TermReq, ID: 5})
			var again ppp.Packet
			select {
			case again = <-reqs:
			case err := <-ended:
				t.Fatalf("the link ended after the peer's Terminate-Request: %v", err)
			case <-time.After(restartTimer + 10*time.Second):
				t.Fatal("after the peer's Terminate-Request the link did not send its IPCP request again")
			}
			req := ppp.Packet{Code: ppp.ConfReq, ID: 6}
			if server {
				req.Data = ipcpAddr(l.peer.String()) // the client's own (RFC 1332 §3.3)
			}
			send(req)
			send(ppp.Packet{Code: ppp.ConfAck, ID: again.ID, Data: again.Data})
			for deadline := time.Now().Add(10 * time.Second); !l.up.Load(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the link is not up after the peer's request and the Ack of ours")
				}
			}
		})
	}
}

// TestIPCPRestartTimerInAckRcvdRFC1661Section4_1: a peer that
// acknowledges our IPCP request and sends none of its own that can be
// acknowledged (its one request here Rejected) leaves IPCP in Ack-Rcvd,
// where the Restart timer still runs: our request goes out again, under
// a new Identifier since the last was answered (RFC 1661 §4.1, TO+ in
// Ack-Rcvd: scr, to Req-Sent; §5.1), and after Max-Configure requests
// the link ends saying why (TO-: tlf), the gateway's with CALL_ABORT,
// rather than waiting for ever; client and gateway.
func TestIPCPRestartTimerInAckRcvdRFC1661Section4_1(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			t.Parallel()
			_, peer, reqs, ended := pipePeer(t, server)
			send := func(p ppp.Packet) {
				peer.Write(sstp.AppendData(nil, ppp.AppendFrame(nil, ppp.ProtoIPCP, p.Append(nil))))
			}
			ids := map[uint8]bool{}
			n := 0
			for {
				var req ppp.Packet
				var ok bool
				select {
				case req, ok = <-reqs:
				case <-time.After(restartTimer + 30*time.Second):
					t.Fatalf("after %d IPCP requests Acked the link neither sent another nor ended", n)
				}
				if !ok {
					break
				}
				if n++; ids[req.ID] {
					t.Errorf("request %d under Identifier %d again, after its Ack; want a new one (RFC 1661 §5.1)", n, req.ID)
				}
				ids[req.ID] = true
				if n == 1 {
					// The peer's request, of an option neither side
					// takes: Rejected, so that IPCP is not open.
					send(ppp.Packet{Code: ppp.ConfReq, ID: 1, Data: []byte{0x82, 2}})
				}
				send(ppp.Packet{Code: ppp.ConfAck, ID: req.ID, Data: req.Data})
			}
			if n != maxConfigure {
				t.Errorf("%d IPCP requests sent to a peer that Acks each and sends none acceptable, want %d", n, maxConfigure)
			}
			if err := <-ended; err == nil || !strings.Contains(err.Error(), "IPCP does not open: the peer acknowledged our request but sent none") {
				t.Errorf("the link ended with %v, want IPCP not opening", err)
			}
		})
	}
}

// TestIPCPAnswerWithOtherOptionsRFC1661Section5_2: a Configure-Ack whose
// options are not exactly those of our last IPCP request (RFC 1661 §5.2),
// or a Configure-Reject whose options are not some of them, unmodified
// and in order (§5.4), is invalid and discarded, on both sides: neither
// opens IPCP on an Ack of another address, and vnetgw's client neither
// ends its link on a Reject of an address it did not ask for nor asks
// again.
func TestIPCPAnswerWithOtherOptionsRFC1661Section5_2(t *testing.T) {
	opt := func(typ uint8, a string) ppp.Option {
		return ppp.Option{Type: typ, Value: netip.MustParseAddr(a).AsSlice()}
	}
	zero := "0.0.0.0"
	t.Run("client", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			answer ppp.Packet
		}{
			{"Ack of another address", ppp.Packet{Code: ppp.ConfAck, Data: ppp.AppendOptions(nil, []ppp.Option{opt(ppp.OptIPAddress, "172.16.201.9"), opt(ppp.OptPrimaryDNS, zero), opt(ppp.OptSecondaryDNS, zero)})}},
			{"Ack reordered", ppp.Packet{Code: ppp.ConfAck, Data: ppp.AppendOptions(nil, []ppp.Option{opt(ppp.OptPrimaryDNS, zero), opt(ppp.OptIPAddress, zero), opt(ppp.OptSecondaryDNS, zero)})}},
			{"Ack of fewer options", ppp.Packet{Code: ppp.ConfAck, Data: ppp.AppendOptions(nil, []ppp.Option{opt(ppp.OptIPAddress, zero)})}},
			{"Reject of another address", ppp.Packet{Code: ppp.ConfRej, Data: ppp.AppendOptions(nil, []ppp.Option{opt(ppp.OptIPAddress, "10.0.0.1")})}},
			{"Reject of an option not asked for", ppp.Packet{Code: ppp.ConfRej, Data: ppp.AppendOptions(nil, []ppp.Option{opt(0x82, zero)})}},
			{"Reject reordered", ppp.Packet{Code: ppp.ConfRej, Data: ppp.AppendOptions(nil, []ppp.Option{opt(ppp.OptSecondaryDNS, zero), opt(ppp.OptPrimaryDNS, zero)})}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				conn := &recorder{}
				l := newLink(false, conn, nil, testLogger(t))
				l.authed = true
				if err := l.sendIPCPRequest(); err != nil {
					t.Fatal(err)
				}
				req, _ := conn.take(t, ppp.ProtoIPCP)
				tc.answer.ID = req[0].ID
				if err := l.handleIPCP(tc.answer.Append(nil)); err != nil {
					t.Fatalf("the invalid answer ended the link: %v", err)
				}
				if sent, _ := conn.take(t, ppp.ProtoIPCP); len(sent) != 0 {
					t.Errorf("the invalid answer made the client send %+v, want nothing", sent)
				}
				if l.ipcpOurs || l.local.IsValid() || l.dnsRejected != [2]bool{} || l.ipcpTries != 0 {
					t.Errorf("after the invalid answer: open %v, address %v, DNS rejected %v, refused %d; want nothing changed", l.ipcpOurs, l.local, l.dnsRejected, l.ipcpTries)
				}
				if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: req[0].ID, Data: req[0].Data}.Append(nil)); err != nil || !l.ipcpOurs {
					t.Errorf("the Ack of the request as sent: err %v, open %v; want open", err, l.ipcpOurs)
				}
			})
		}
	})
	t.Run("gateway", func(t *testing.T) {
		l, _, req := gatewayIPCPRequest(t)
		other := ppp.AppendOptions(nil, []ppp.Option{opt(ppp.OptIPAddress, "172.16.201.9")})
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: req.ID, Data: other}.Append(nil)); err != nil || l.ipcpOurs {
			t.Errorf("an Ack of another address than the gateway's: err %v, open %v; want not open", err, l.ipcpOurs)
		}
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: req.ID, Data: req.Data}.Append(nil)); err != nil || !l.ipcpOurs {
			t.Errorf("the Ack of the gateway's request: err %v, open %v; want open", err, l.ipcpOurs)
		}
	})
}

// TestGatewayIPCPRequestRefused: a client that Naks the gateway's IPCP
// request, its address, is asked again for the same (the gateway's
// address is fixed, RFC 1332 §3.3), and after Max-Configure requests
// refused (RFC 1661 §4.6) the call ends with CALL_ABORT and says why; a
// client that Rejects the address option gets a request without it
// (RFC 1661 §5.4) and IPCP opens on its Ack. Neither waits for the
// Restart timer to give up.
func TestGatewayIPCPRequestRefused(t *testing.T) {
	own := ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: []byte{172, 16, 201, 1}}})
	t.Run("Nak", func(t *testing.T) {
		l, conn, req := gatewayIPCPRequest(t)
		requests := 1
		for {
			nak := ppp.Packet{Code: ppp.ConfNak, ID: req.ID, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: []byte{10, 0, 0, 1}}})}
			err := l.handleIPCP(nak.Append(nil))
			sent, abort := conn.take(t, ppp.ProtoIPCP)
			if err != nil {
				if !abort || len(sent) != 0 || !strings.Contains(err.Error(), "IPCP does not converge") {
					t.Errorf("the call ended with %v, CALL_ABORT %v, after it sent %+v; want IPCP's not converging, CALL_ABORT, nothing sent", err, abort, sent)
				}
				break
			}
			if len(sent) != 1 || sent[0].Code != ppp.ConfReq || !bytes.Equal(sent[0].Data, own) || sent[0].ID == req.ID {
				t.Fatalf("after %d requests Naked the gateway sent %+v, want a new request for its address % x", requests, sent, own)
			}
			if requests++; requests > 3*maxConfigure {
				t.Fatalf("the gateway sent %d requests to a client that Naks each", requests)
			}
			req = sent[0]
		}
		if requests != maxConfigure {
			t.Errorf("the gateway sent %d requests to a client that Naks each, want %d", requests, maxConfigure)
		}
	})
	t.Run("Reject", func(t *testing.T) {
		l, conn, req := gatewayIPCPRequest(t)
		// Not a Reject of the gateway's request (RFC 1661 §5.4): discarded.
		other := ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: []byte{10, 0, 0, 1}}})
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfRej, ID: req.ID, Data: other}.Append(nil)); err != nil || l.addrRejected {
			t.Fatalf("a Reject of another address than the gateway's: err %v, address rejected %v; want it discarded", err, l.addrRejected)
		}
		if sent, _ := conn.take(t, ppp.ProtoIPCP); len(sent) != 0 {
			t.Fatalf("a Reject of another address than the gateway's made it send %+v, want nothing", sent)
		}
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfRej, ID: req.ID, Data: own}.Append(nil)); err != nil {
			t.Fatalf("the Reject of the gateway's address ended the call: %v", err)
		}
		sent, _ := conn.take(t, ppp.ProtoIPCP)
		if len(sent) != 1 || sent[0].Code != ppp.ConfReq || len(sent[0].Data) != 0 || sent[0].ID == req.ID {
			t.Fatalf("after the Reject of its address the gateway sent %+v, want a new request without options", sent)
		}
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: sent[0].ID}.Append(nil)); err != nil || !l.ipcpOurs {
			t.Errorf("the Ack of the request without the address: err %v, open %v; want open", err, l.ipcpOurs)
		}
	})
}

// ipcpPeer negotiates IPCP with a link as its peer: vnetgw's client asks
// for the address the gateway gave it (172.16.201.2) and the gateway
// names its own (172.16.201.1).
type ipcpPeer struct {
	t    *testing.T
	l    *link
	conn *recorder
	req  ppp.Packet // the peer's request; its Identifier the last sent
}

// openIPCP returns a link, bound, whose IPCP is open both ways.
func openIPCP(t *testing.T, server bool) *ipcpPeer {
	t.Helper()
	x, first := startIPCP(t, server)
	x.request(x.req.Data)
	if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: first.ID, Data: first.Data}.Append(nil)); err != nil || !x.l.up.Load() {
		t.Fatalf("the first negotiation: err %v, up %v; want up", err, x.l.up.Load())
	}
	x.conn.take(t, ppp.ProtoIPCP)
	return x
}

// startIPCP returns a link, bound, that has sent its first IPCP request,
// and that request.
func startIPCP(t *testing.T, server bool) (*ipcpPeer, ppp.Packet) {
	t.Helper()
	x := &ipcpPeer{t: t, conn: &recorder{}}
	l := newLink(server, x.conn, nil, testLogger(t))
	l.srv = &Server{}
	l.authed, l.dnsRejected = true, [2]bool{true, true}
	l.bound.Store(true)
	x.l, x.req = l, ppp.Packet{Code: ppp.ConfReq, Data: ipcpAddr("172.16.201.1")}
	if server {
		l.local, l.peer = netip.MustParseAddr("172.16.201.1"), netip.MustParseAddr("172.16.201.2")
		x.req.Data = ipcpAddr("172.16.201.2")
	} else {
		l.local = netip.MustParseAddr("172.16.201.2")
	}
	if err := l.sendIPCPRequest(); err != nil {
		t.Fatal(err)
	}
	first, _ := x.conn.take(t, ppp.ProtoIPCP)
	return x, first[0]
}

func ipcpAddr(a string) []byte {
	return ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: netip.MustParseAddr(a).AsSlice()}})
}

// request has the peer send a Configure-Request of opts.
func (x *ipcpPeer) request(opts []byte) {
	x.t.Helper()
	x.req.ID++
	x.req.Data = opts
	if err := x.l.handleIPCP(x.req.Append(nil)); err != nil {
		x.t.Fatal(err)
	}
}

// answered returns our request and the answer to the peer's last, among
// what the link sent since the last take; our request's Code is 0 when
// none went out.
func (x *ipcpPeer) answered() (ours, answer ppp.Packet) {
	x.t.Helper()
	sent, abort := x.conn.take(x.t, ppp.ProtoIPCP)
	if abort {
		x.t.Fatalf("the link aborted the call after sending %+v", sent)
	}
	for _, p := range sent {
		switch {
		case p.Code == ppp.ConfReq:
			ours = p
		case p.ID == x.req.ID:
			answer = p
		}
	}
	return ours, answer
}

// ackedAgain checks, after our request, ours, was acknowledged and IPCP
// taken back from Ack-Rcvd to Req-Sent without a request sent, that the
// Ack of ours again is discarded, and that the request that goes on the
// Restart timer has a new Identifier (RFC 1661 §5.1), whose Ack brings
// the link up.
func (x *ipcpPeer) ackedAgain(ours ppp.Packet) {
	x.t.Helper()
	if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil || x.l.up.Load() {
		x.t.Fatalf("the Ack of our request, answered already, again: err %v, up %v; want it discarded", err, x.l.up.Load())
	}
	l := x.l
	if err := l.restartTimeout("IPCP", &l.ipcpOurs, &l.ipcpTries, l.sendIPCPRequest, l.writeIPCPRequest); err != nil {
		x.t.Fatal(err)
	}
	again, _ := x.answered()
	if again.Code != ppp.ConfReq || again.ID == ours.ID {
		x.t.Fatalf("on the Restart timer the link sent %+v; want its request under a new Identifier (its last, %d, was answered)", again, ours.ID)
	}
	if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: again.ID, Data: again.Data}.Append(nil)); err != nil || !l.up.Load() {
		x.t.Fatalf("the Ack of our new request: err %v, up %v; want up", err, l.up.Load())
	}
}

// negotiate has the peer send its request of opts and Ack ours: the
// link must answer with an Ack and its own request, be down until the
// Ack of its request, and up after it.
func (x *ipcpPeer) negotiate(what string, opts []byte) {
	x.t.Helper()
	x.request(opts)
	ours, answer := x.answered()
	if ours.Code != ppp.ConfReq || answer.Code != ppp.ConfAck {
		x.t.Fatalf("%s: the peer's request answered with code %d, our request %+v; want an Ack and our request", what, answer.Code, ours)
	}
	if x.l.up.Load() {
		x.t.Fatalf("%s: the link is up before our request was Acked", what)
	}
	if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil {
		x.t.Fatal(err)
	}
	if !x.l.up.Load() {
		x.t.Fatalf("%s: the link is not up after both requests were Acked", what)
	}
}

// TestIPCPRestartAfterTerminateRFC1661Section4_1: after the peer's IPCP
// Terminate-Request (Stopped), its next Configure-Request is answered and
// ours goes out again (RFC 1661 §4.1, Stopped, RCR: irc, scr, sca), so
// that the link comes up again on the Ack of ours, on both sides.
func TestIPCPRestartAfterTerminateRFC1661Section4_1(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			if err := x.l.handleIPCP(ppp.Packet{Code: ppp.TermReq, ID: 77}.Append(nil)); err != nil {
				t.Fatal(err)
			}
			if sent, _ := x.conn.take(t, ppp.ProtoIPCP); len(sent) != 1 || sent[0].Code != ppp.TermAck || x.l.up.Load() {
				t.Fatalf("the peer's Terminate-Request answered with %+v, up %v; want a Terminate-Ack, down", sent, x.l.up.Load())
			}
			x.negotiate("after the peer's Terminate-Request", x.req.Data)
		})
	}
}

// TestIPCPTerminateAckOutOfTurnRFC1661Section4_1: an IPCP Terminate-Ack
// that answers nothing the link sent (RFC 1661 §4.1, RTA) takes IPCP
// back to Req-Sent from Opened, the data path down and a new request
// out at once (tld, scr), and from Ack-Rcvd, the Ack of our request
// forgotten; in both IPCP opens again only once the peer's next request
// and ours are acknowledged; client and gateway.
func TestIPCPTerminateAckOutOfTurnRFC1661Section4_1(t *testing.T) {
	for _, server := range []bool{false, true} {
		for _, state := range []string{"Opened", "Ack-Rcvd"} {
			t.Run(fmt.Sprintf("%s server=%v", state, server), func(t *testing.T) {
				x, ours := startIPCP(t, server)
				if state == "Opened" {
					x.request(x.req.Data)
				}
				if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil {
					t.Fatal(err)
				}
				x.conn.take(t, ppp.ProtoIPCP)
				if x.l.up.Load() != (state == "Opened") {
					t.Fatalf("before the Terminate-Ack: up %v", x.l.up.Load())
				}
				if err := x.l.handleIPCP(ppp.Packet{Code: ppp.TermAck, ID: 9}.Append(nil)); err != nil {
					t.Fatalf("the Terminate-Ack ended the link: %v", err)
				}
				if x.l.up.Load() {
					t.Fatal("the link is up after the Terminate-Ack")
				}
				if again, _ := x.answered(); state == "Opened" {
					if again.Code != ppp.ConfReq || again.ID == ours.ID {
						t.Fatalf("after the Terminate-Ack in Opened the link sent %+v; want a new Configure-Request (its last was Identifier %d)", again, ours.ID)
					}
					ours = again
				} else if again.Code != 0 {
					t.Fatalf("after the Terminate-Ack in Ack-Rcvd the link sent %+v; want nothing before the Restart timer", again)
				}
				x.request(x.req.Data)
				if _, answer := x.answered(); answer.Code != ppp.ConfAck {
					t.Fatalf("the peer's request after the Terminate-Ack answered with %+v, want an Ack", answer)
				}
				if x.l.up.Load() {
					t.Fatal("the link is up after the Terminate-Ack before our request was Acked again")
				}
				if state == "Ack-Rcvd" {
					x.ackedAgain(ours)
					return
				}
				if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil || !x.l.up.Load() {
					t.Fatalf("the Ack of our request: err %v, up %v; want up", err, x.l.up.Load())
				}
			})
		}
	}
}

// TestIPCPCodeRejectInAckRcvdRFC1661Section4_1: an IPCP Code-Reject in
// Ack-Rcvd of a code IPCP can do without (none of 1 to 7) takes IPCP
// back to Req-Sent (RFC 1661 §4.1, RXJ+): the peer's next request
// acknowledged does not bring the link up, the Ack of our request does;
// client and gateway.
func TestIPCPCodeRejectInAckRcvdRFC1661Section4_1(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x, ours := startIPCP(t, server)
			if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil {
				t.Fatal(err)
			}
			if err := x.l.handleIPCP(ppp.Packet{Code: ppp.CodeRej, ID: 3, Data: ppp.Packet{Code: 8, ID: 9}.Append(nil)}.Append(nil)); err != nil {
				t.Fatalf("the Code-Reject of code 8 ended the link: %v", err)
			}
			x.request(x.req.Data)
			if _, answer := x.answered(); answer.Code != ppp.ConfAck || x.l.up.Load() {
				t.Fatalf("the peer's request after the Code-Reject answered with %+v, up %v; want an Ack, not up", answer, x.l.up.Load())
			}
			x.ackedAgain(ours)
		})
	}
}

// TestIPCPRenegotiationRFC1661Section4_1: a Configure-Request from the
// peer while IPCP is open takes it down, and our request goes out again
// with the answer to the peer's (RFC 1661 §4.1, Opened, RCR: tld, scr,
// sca/scn), so that a peer that renegotiates without terminating first
// gets our request and the link comes up again, on both sides. The
// gateway keeps the client's address and the call: a client that asks
// for another address is Naked and the link stays down until it asks
// for its own again.
func TestIPCPRenegotiationRFC1661Section4_1(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			x.negotiate("a request while open", x.req.Data)
			x.negotiate("a second request while open", x.req.Data)
		})
	}
	// The client asks for another address while open (RCR- in Opened),
	// or after its own was Acked again (RCR- in Ack-Sent, RFC 1661 §4.1:
	// to Req-Sent): the link is up only once it asks for its own again.
	for _, tc := range []struct {
		name string
		asks []string
	}{
		{"open", []string{"10.9.9.9"}},
		{"Ack-Sent", []string{"172.16.201.2", "10.9.9.9"}},
	} {
		t.Run("gateway, another address, "+tc.name, func(t *testing.T) {
			x := openIPCP(t, true)
			own := x.req.Data
			var ours, answer ppp.Packet
			for _, a := range tc.asks {
				x.request(ipcpAddr(a))
				req, ans := x.answered()
				if req.Code == ppp.ConfReq {
					ours = req
				}
				answer = ans
			}
			if ours.Code != ppp.ConfReq || answer.Code != ppp.ConfNak || !bytes.Equal(answer.Data, own) {
				t.Fatalf("a request for another address answered with %+v, our request %+v; want a Nak of % x and our request", answer, ours, own)
			}
			if err := x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil {
				t.Fatal(err)
			}
			if x.l.up.Load() {
				t.Fatal("the link is up while the client's request for another address was Naked")
			}
			x.request(own)
			if _, answer := x.answered(); answer.Code != ppp.ConfAck || !x.l.up.Load() {
				t.Fatalf("the client's request for its own address answered with %+v, up %v; want an Ack, up", answer, x.l.up.Load())
			}
			if x.l.peer != netip.MustParseAddr("172.16.201.2") {
				t.Errorf("after the renegotiation the client's address is %v, want 172.16.201.2", x.l.peer)
			}
		})
	}
}

// gatewayIPCPRequest returns a gateway's link that has sent its IPCP
// request (its own address, 172.16.201.1), what it sent, and the request.
func gatewayIPCPRequest(t *testing.T) (*link, *recorder, ppp.Packet) {
	t.Helper()
	conn := &recorder{}
	l := newLink(true, conn, nil, testLogger(t))
	l.srv = &Server{}
	l.authed, l.local = true, netip.MustParseAddr("172.16.201.1")
	if err := l.sendIPCPRequest(); err != nil {
		t.Fatal(err)
	}
	req, _ := conn.take(t, ppp.ProtoIPCP)
	return l, conn, req[0]
}

// TestIPCPRenegotiationBounded: a peer that renegotiates IPCP in a loop
// (each time taking the link's data path down) is bounded as one that
// renegotiates LCP is: logged once a minute at most, with how many
// times, and its link ended after maxRenegotiations in a minute, saying
// so, the gateway's with CALL_ABORT.
func TestIPCPRenegotiationBounded(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			var log logbuf.Buffer
			x.l.log = slog.New(slog.NewTextHandler(io.MultiWriter(&log, testWriter{t}), nil))
			var err error
			n := 0
			for ; n <= maxRenegotiations; n++ {
				x.req.ID++
				if err = x.l.handleIPCP(x.req.Append(nil)); err != nil {
					break
				}
				ours, answer := x.answered()
				if ours.Code != ppp.ConfReq || answer.Code != ppp.ConfAck {
					t.Fatalf("renegotiation %d: our request %+v, the answer %+v; want our request and an Ack", n+1, ours, answer)
				}
				if err = x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil || !x.l.up.Load() {
					t.Fatalf("renegotiation %d: err %v, up %v; want up again", n+1, err, x.l.up.Load())
				}
			}
			if n != maxRenegotiations || err == nil || !strings.Contains(err.Error(), "renegotiates IPCP too often") {
				t.Errorf("%d renegotiations went through, then %v; want %d, then the link ended, too often", n, err, maxRenegotiations)
			}
			if _, abort := x.conn.take(t, ppp.ProtoIPCP); abort != server {
				t.Errorf("CALL_ABORT %v, want %v", abort, server)
			}
			if lines := strings.Count(log.String(), "the peer renegotiates IPCP:"); lines != 1 {
				t.Errorf("%d renegotiations logged %d lines, want 1:\n%s", n, lines, log.String())
			}
		})
	}
}

// TestIPCPTerminateLoopBounded: a peer that terminates IPCP and starts
// it over in a loop (Terminate-Request, Configure-Request, ...: each
// time the link's data path goes down) is bounded as one that sends
// Configure-Requests while IPCP is open: its link ends after
// maxRenegotiations restarts in a minute, saying so, the gateway's with
// CALL_ABORT.
func TestIPCPTerminateLoopBounded(t *testing.T) {
	for _, server := range []bool{false, true} {
		t.Run(fmt.Sprintf("server=%v", server), func(t *testing.T) {
			x := openIPCP(t, server)
			var err error
			n := 0
			for ; n <= maxRenegotiations; n++ {
				if err = x.l.handleIPCP(ppp.Packet{Code: ppp.TermReq, ID: uint8(100 + n)}.Append(nil)); err != nil {
					break
				}
				if x.l.up.Load() {
					t.Fatalf("restart %d: the link is up after the peer's Terminate-Request", n+1)
				}
				x.req.ID++
				if err = x.l.handleIPCP(x.req.Append(nil)); err != nil {
					break
				}
				ours, answer := x.answered()
				if ours.Code != ppp.ConfReq || answer.Code != ppp.ConfAck {
					t.Fatalf("restart %d: our request %+v, the answer %+v; want our request and an Ack", n+1, ours, answer)
				}
				if err = x.l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: ours.ID, Data: ours.Data}.Append(nil)); err != nil || !x.l.up.Load() {
					t.Fatalf("restart %d: err %v, up %v; want up again", n+1, err, x.l.up.Load())
				}
			}
			if n != maxRenegotiations || err == nil || !strings.Contains(err.Error(), "renegotiates IPCP too often") {
				t.Errorf("%d restarts went through, then %v; want %d, then the link ended, too often", n, err, maxRenegotiations)
			}
			if _, abort := x.conn.take(t, ppp.ProtoIPCP); abort != server {
				t.Errorf("CALL_ABORT %v, want %v", abort, server)
			}
		})
	}
}
