package p2s

import (
	"bytes"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestCHAPChallengeRepeatedRFC1994Section4_1: vnetgw's client answers a
// gateway's MS-CHAPv2 Challenge repeated under the same Identifier (a
// retransmission, RFC 1994 §4.1: a new Challenge has another) with its
// first Response again, not one of a new peer challenge: the gateway's
// Success proves the Response it checked, the first, and the client that
// had moved on to another refused the gateway as not knowing the
// password. A new Challenge gets a new Response.
func TestCHAPChallengeRepeatedRFC1994Section4_1(t *testing.T) {
	conn := &recorder{}
	l := newLink(false, conn, nil, testLogger(t))
	l.client = &Client{cfg: ClientConfig{User: "alice", Password: "correct horse battery staple"}}
	answer := func(id uint8, value byte) ppp.Packet {
		t.Helper()
		ch := ppp.Packet{Code: ppp.CHAPChallenge, ID: id, Data: ppp.CHAPValue{Value: bytes.Repeat([]byte{value}, 16), Name: []byte("hub-gw")}.Append(nil)}
		if err := l.handleCHAP(ch.Append(nil)); err != nil {
			t.Fatal(err)
		}
		ps, _ := conn.take(t, ppp.ProtoCHAP)
		if len(ps) != 1 || ps[0].Code != ppp.CHAPResponse || ps[0].ID != id {
			t.Fatalf("Challenge %d answered with %+v; want a Response", id, ps)
		}
		return ps[0]
	}
	first := answer(3, 0xaa)
	if again := answer(3, 0xaa); !bytes.Equal(again.Data, first.Data) {
		t.Errorf("the repeated Challenge answered with another Response:\n% x\nwant the first\n% x", again.Data, first.Data)
	}
	if next := answer(4, 0xbb); bytes.Equal(next.Data, first.Data) {
		t.Error("a new Challenge answered with the first Response")
	}
}
