package p2s

import (
	"bytes"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// recorder is a connection that keeps what a link writes and has nothing
// to read.
type recorder struct {
	discard
	mu  sync.Mutex
	out []byte
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
			if c, err := sstp.ParseControl(body); err == nil && c.Type == sstp.MsgCallAbort {
				abort = true
			}
			continue
		}
		got, info, err := ppp.ParseFrame(body)
		if err != nil || got != proto {
			continue
		}
		p, err := ppp.ParsePacket(info)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps, abort
}

// TestClientIPCPRefusedForeverGivesUp: vnetgw's client, whose IPCP
// requests a gateway Naks (with an address it never takes: here another
// each time) or Rejects (a DNS server option again and again) for ever,
// gives up after Max-Configure requests refused (RFC 1661 §4.6) and says
// so, rather than asking again for as long as the gateway answers.
func TestClientIPCPRefusedForeverGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(req ppp.Packet, n int) ppp.Packet
	}{
		{"Nak", func(req ppp.Packet, n int) ppp.Packet {
			a := netip.AddrFrom4([4]byte{172, 16, 201, byte(2 + n)})
			return ppp.Packet{Code: ppp.ConfNak, ID: req.ID, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptIPAddress, Value: a.AsSlice()}})}
		}},
		{"Reject", func(req ppp.Packet, _ int) ppp.Packet {
			return ppp.Packet{Code: ppp.ConfRej, ID: req.ID, Data: ppp.AppendOptions(nil, []ppp.Option{{Type: ppp.OptPrimaryDNS, Value: []byte{0, 0, 0, 0}}})}
		}},
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
			if requests > maxConfigure+1 {
				t.Errorf("the client sent %d IPCP requests to a gateway that refuses each, want at most %d", requests, maxConfigure+1)
			}
			if err == nil || !strings.Contains(err.Error(), "IPCP does not converge") {
				t.Errorf("the client ended with %v, want IPCP's not converging", err)
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
		conn := &recorder{}
		l := newLink(true, conn, nil, testLogger(t))
		l.srv = &Server{}
		l.authed, l.local = true, netip.MustParseAddr("172.16.201.1")
		if err := l.sendIPCPRequest(); err != nil {
			t.Fatal(err)
		}
		req, _ := conn.take(t, ppp.ProtoIPCP)
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: req[0].ID - 1, Data: req[0].Data}.Append(nil)); err != nil || l.ipcpOurs {
			t.Errorf("an Ack of another request than the gateway's last: err %v, open %v; want not open", err, l.ipcpOurs)
		}
		if err := l.handleIPCP(ppp.Packet{Code: ppp.ConfAck, ID: req[0].ID, Data: req[0].Data}.Append(nil)); err != nil || !l.ipcpOurs {
			t.Errorf("the Ack of the gateway's request: err %v, open %v; want open", err, l.ipcpOurs)
		}
	})
}
