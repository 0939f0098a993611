package p2s

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/vnetgw/vnetgw/internal/mschap"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestCHAPResponseRepeatedRFC1994Section4_1: a client that repeats its
// MS-CHAPv2 Response after the gateway's Success (which it may not have
// seen) gets the Success again, the same (RFC 1994 §4.1: MUST return the
// same reply Code), rather than nothing until its call times out.
func TestCHAPResponseRepeatedRFC1994Section4_1(t *testing.T) {
	cfg := radiusFixture(t)
	cfg.RadiusOnly = true
	r := newRegion(t, cfg)
	x := dialRaw(t, r.srv.Addr())
	x.openLCP()
	challenge := x.next(ppp.ProtoCHAP)
	v, err := ppp.ParseCHAPValue(challenge.Data)
	if err != nil || challenge.Code != ppp.CHAPChallenge || len(v.Value) != 16 {
		t.Fatalf("the gateway's first CHAP packet: %+v (%v); want a Challenge of 16 octets", challenge, err)
	}
	var peerChallenge [16]byte
	rand.Read(peerChallenge[:])
	resp := ppp.MSCHAPv2Response{PeerChallenge: peerChallenge, NTResponse: mschap.NTResponse([16]byte(v.Value), peerChallenge, "alice", "correct horse battery staple")}
	response := ppp.Packet{Code: ppp.CHAPResponse, ID: challenge.ID, Data: ppp.CHAPValue{Value: resp.Append(nil), Name: []byte("alice")}.Append(nil)}
	x.send(ppp.ProtoCHAP, response)
	first := x.next(ppp.ProtoCHAP)
	if first.Code != ppp.CHAPSuccess {
		t.Fatalf("alice's Response answered with code %d, want Success", first.Code)
	}
	x.send(ppp.ProtoCHAP, response)
	if again := x.next(ppp.ProtoCHAP); again.Code != ppp.CHAPSuccess || again.ID != challenge.ID || !bytes.Equal(again.Data, first.Data) {
		t.Errorf("the repeated Response answered with %+v; want the Success again, %+v", again, first)
	}
}
