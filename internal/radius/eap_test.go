package radius

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestEAPSuccessAgain: a client that sends its last EAP response again
// after the server accepted it (our Success lost, which is not sent
// again, RFC 3748 §4.2) gets Success again with the same MSK, and the
// server, whose conversation is over, is not asked again.
func TestEAPSuccessAgain(t *testing.T) {
	shortTries(t, 3, 10*time.Second, 60*time.Second)
	secret := []byte("s3cret")
	var asked atomic.Int32
	addr := serve(t, "127.133.0.4", func(req Packet) []byte {
		asked.Add(1)
		eap, _ := req.Find(AttrEAPMessage)
		success := ppp.EAP{Code: ppp.EAPSuccess, ID: eap[1]}
		attrs := append(mschapAccept(req.Authenticator, secret)[1:], Attr{AttrEAPMessage, success.Append(nil)})
		return answerWith(CodeAccessAccept, req.ID, req.Authenticator, secret, true, attrs)
	})
	s := Server{Addr: addr, Secret: secret}
	a := NewEAPAuthenticator(context.Background(), []Server{s}, Request{})
	identity := ppp.EAP{Code: ppp.EAPResponse, ID: a.Start().ID, Type: ppp.TypeIdentity, Data: []byte("alice")}
	next, msk, ok, err := a.Handle(identity)
	if err != nil || !ok || next.Code != ppp.EAPSuccess || len(msk) != 32 {
		t.Fatalf("the server's Accept: %+v, MSK of %d bytes, %v, %v", next, len(msk), ok, err)
	}
	again, msk2, ok, err := a.Handle(identity)
	if err != nil || !ok || again.Code != ppp.EAPSuccess || again.ID != identity.ID || !bytes.Equal(msk, msk2) {
		t.Errorf("the response again: %+v, MSK %x (was %x), %v, %v", again, msk2, msk, ok, err)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the server was asked %d times", n)
	}
}
