package radius

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strings"
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

// TestAcceptForAnotherServiceRefused: an Access-Accept that grants
// another service than the Framed one asked for (Service-Type
// Administrative: a NAS administrator's login, as a server answers for
// the accounts that manage its routers and switches) is taken as an
// Access-Reject (RFC 2865 §5.6, §1.1), for a password, an MS-CHAP-V2
// response and EAP alike: the user gets no tunnel, and the error says
// why. One for Framed, or with no Service-Type, is an acceptance.
func TestAcceptForAnotherServiceRefused(t *testing.T) {
	shortTries(t, 1, 2*time.Second, 2*time.Second)
	secret := []byte("s3cret")
	for _, tc := range []struct {
		name    string
		service []byte // the Access-Accept's Service-Type; nil: none
		accept  bool
	}{
		{"Framed", []byte{0, 0, 0, 2}, true},
		{"none", nil, true},
		{"Administrative", []byte{0, 0, 0, 6}, false},
		{"NAS Prompt", []byte{0, 0, 0, 7}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var extra []Attr
			if tc.service != nil {
				extra = append(extra, Attr{AttrServiceType, tc.service})
			}
			servers := accepting(t, secret, extra...)
			refused := func(what string, accepted bool, err error) {
				t.Helper()
				switch {
				case tc.accept && (!accepted || err != nil):
					t.Errorf("%s: an Access-Accept for Service-Type %v not taken: %v", what, tc.service, err)
				case !tc.accept && accepted:
					t.Errorf("%s: an Access-Accept for Service-Type %v taken as an acceptance", what, tc.service)
				case !tc.accept && (err == nil || errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), "Service-Type")):
					t.Errorf("%s: refused, but the error does not say it was for its Service-Type: %v", what, err)
				}
			}
			a, err := Authenticate(context.Background(), servers, Request{User: "alice", Password: "pw"})
			refused("PAP", a.Accept, err)
			m, err := AuthenticateMSCHAPv2(context.Background(), servers, Request{User: "alice"}, MSCHAPv2{Ident: 7})
			refused("MS-CHAP-V2", m.Accept, err)
			auth := NewEAPAuthenticator(context.Background(), servers, Request{})
			next, msk, _, err := auth.Handle(ppp.EAP{Code: ppp.EAPResponse, ID: auth.Start().ID, Type: ppp.TypeIdentity, Data: []byte("alice")})
			refused("EAP", next.Code == ppp.EAPSuccess || msk != nil, err)
		})
	}
}

// TestGrantRead: an Access-Accept's Session-Timeout and Idle-Timeout
// (RFC 2865 §5.27, §5.28) are how long the session may last and be idle,
// for a password, an MS-CHAP-V2 response and EAP alike; none, or 0, is no
// limit; one that is no 4-octet number is taken as an Access-Reject that
// says why. Its Framed-IP-Address (§5.8) is the client's address, but
// for the values that leave it to the user or the NAS; one that is no
// 4-octet address is taken as an Access-Reject too. Its Class attributes
// are kept, in order, for accounting (§5.25), and its
// Acct-Interim-Interval (RFC 2869 §5.16), at least MinInterim; one the
// gateway cannot read asks for no Interim-Update.
func TestGrantRead(t *testing.T) {
	shortTries(t, 1, 2*time.Second, 2*time.Second)
	secret := []byte("s3cret")
	u32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		name   string
		attrs  []Attr // the Access-Accept's
		want   Grant
		accept bool
	}{
		{"none", nil, Grant{}, true},
		{"an hour", []Attr{{AttrSessionTimeout, u32(3600)}}, Grant{Limits: Limits{Session: time.Hour}}, true},
		{"zero", []Attr{{AttrSessionTimeout, u32(0)}}, Grant{}, true},
		{"three octets", []Attr{{AttrSessionTimeout, []byte{0, 0x0e, 0x10}}}, Grant{}, false},
		{"idle ten minutes", []Attr{{AttrIdleTimeout, u32(600)}}, Grant{Limits: Limits{Idle: 10 * time.Minute}}, true},
		{"idle of five octets", []Attr{{AttrIdleTimeout, []byte{0, 0, 0, 0x02, 0x58}}}, Grant{}, false},
		{"an address", []Attr{{AttrFramedIPAddress, []byte{172, 16, 201, 77}}}, Grant{Addr: netip.MustParseAddr("172.16.201.77")}, true},
		{"the user's choice", []Attr{{AttrFramedIPAddress, []byte{255, 255, 255, 255}}}, Grant{}, true},
		{"the NAS's choice", []Attr{{AttrFramedIPAddress, []byte{255, 255, 255, 254}}}, Grant{}, true},
		{"an address of three octets", []Attr{{AttrFramedIPAddress, []byte{172, 16, 201}}}, Grant{}, false},
		{"two classes", []Attr{{AttrClass, []byte("a")}, {AttrClass, []byte("b")}}, Grant{Class: [][]byte{[]byte("a"), []byte("b")}}, true},
		{"interim of two minutes", []Attr{{AttrAcctInterimInterval, u32(120)}}, Grant{Interim: 2 * time.Minute}, true},
		{"interim of ten seconds", []Attr{{AttrAcctInterimInterval, u32(10)}}, Grant{Interim: MinInterim}, true},
		{"interim of three octets", []Attr{{AttrAcctInterimInterval, []byte{0, 0, 120}}}, Grant{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			servers := accepting(t, secret, tc.attrs...)
			check := func(what string, accepted bool, g Grant, err error) {
				t.Helper()
				switch {
				case tc.accept && (!accepted || err != nil || !reflect.DeepEqual(g, tc.want)):
					t.Errorf("%s: accepted %v, grant %+v, %v; want accepted, grant %+v", what, accepted, g, err, tc.want)
				case !tc.accept && (accepted || err == nil || !strings.Contains(err.Error(), "taken as an Access-Reject")):
					t.Errorf("%s: accepted %v, %v; want refused for what it cannot read", what, accepted, err)
				}
			}
			a, err := Authenticate(context.Background(), servers, Request{User: "alice", Password: "pw"})
			check("PAP", a.Accept, a.Grant, err)
			m, err := AuthenticateMSCHAPv2(context.Background(), servers, Request{User: "alice"}, MSCHAPv2{Ident: 7})
			check("MS-CHAP-V2", m.Accept, m.Grant, err)
			auth := NewEAPAuthenticator(context.Background(), servers, Request{})
			next, msk, _, err := auth.Handle(ppp.EAP{Code: ppp.EAPResponse, ID: auth.Start().ID, Type: ppp.TypeIdentity, Data: []byte("alice")})
			check("EAP", next.Code == ppp.EAPSuccess && msk != nil, auth.Grant(), err)
		})
	}
}

// accepting starts a server that accepts every request, a password, an
// MS-CHAP-V2 response (its MS-CHAP2-Success and MPPE keys) or EAP (EAP
// Success and MPPE keys), with the attributes extra too.
func accepting(t *testing.T, secret []byte, extra ...Attr) []Server {
	t.Helper()
	addr := serve(t, "127.0.0.1", func(req Packet) []byte {
		attrs := mschapAccept(req.Authenticator, secret)
		if eap, ok := req.Find(AttrEAPMessage); ok {
			attrs = append(attrs[1:], Attr{AttrEAPMessage, ppp.EAP{Code: ppp.EAPSuccess, ID: eap[1]}.Append(nil)})
		}
		return answerWith(CodeAccessAccept, req.ID, req.Authenticator, secret, true, append(attrs, extra...))
	})
	return []Server{{Addr: addr, Secret: secret}}
}
