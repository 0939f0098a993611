package p2s

import (
	"bytes"
	"slices"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestLCPMaxFailureRFC1661Section4_6: a peer that asks again and again for
// what we Nak has it Naked Max-Failure times, and then rejected as it sent
// it (RFC 1661 §4.6: further Configure-Naks are converted to
// Configure-Rejects): the gateway with an MRU of one octet, vnetgw's
// client with PAP where it has a password for MS-CHAPv2; the next request
// it takes is Acked, and the count starts over.
func TestLCPMaxFailureRFC1661Section4_6(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server bool
		opt    ppp.Option
	}{
		{"gateway", true, ppp.Option{Type: ppp.OptMRU, Value: []byte{5}}},
		{"client", false, ppp.Option{Type: ppp.OptAuthProto, Value: []byte{0xc0, 0x23}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := &recorder{}
			l := newLink(tc.server, conn, nil, testLogger(t))
			l.srv = &Server{}
			l.client = &Client{cfg: ClientConfig{User: "alice"}}
			req := ppp.AppendOptions(nil, []ppp.Option{tc.opt})
			answer := func(id uint8) ppp.Packet {
				t.Helper()
				if err := l.handleLCP(ppp.Packet{Code: ppp.ConfReq, ID: id, Data: req}.Append(nil)); err != nil {
					t.Fatal(err)
				}
				ps, _ := conn.take(t, ppp.ProtoLCP)
				ps = slices.DeleteFunc(ps, func(p ppp.Packet) bool { return p.Code == ppp.ConfReq }) // ours, after an Ack
				if len(ps) != 1 || ps[0].ID != id {
					t.Fatalf("request %d answered with %+v, want one answer", id, ps)
				}
				return ps[0]
			}
			for i := range maxFailure {
				if a := answer(uint8(1 + i)); a.Code != ppp.ConfNak {
					t.Fatalf("request %d answered with code %d, want a Nak", 1+i, a.Code)
				}
			}
			for i := range 2 {
				id := uint8(maxFailure + 1 + i)
				if a := answer(id); a.Code != ppp.ConfRej || !bytes.Equal(a.Data, req) {
					t.Fatalf("request %d, after %d Naks, answered with %+v; want a Reject of % x", id, maxFailure, a, req)
				}
			}
			req = nil
			if a := answer(20); a.Code != ppp.ConfAck {
				t.Fatalf("a request without the option answered with %+v, want an Ack", a)
			}
			req = ppp.AppendOptions(nil, []ppp.Option{tc.opt})
			if a := answer(21); a.Code != ppp.ConfNak {
				t.Fatalf("the option asked for again after an Ack answered with code %d, want a Nak", a.Code)
			}
		})
	}
}
