package p2s

import (
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestClientEAPNotificationRFC3748Section5_2: vnetgw's client answers an
// EAP-Request/Notification (a gateway's, or a RADIUS server's it relays)
// with a Notification Response of no data, with a certificate (EAP-TLS)
// or a password (EAP-MSCHAPv2) alike, and goes on with its method: RFC
// 3748 §5.2 says the peer MUST answer so, and MUST NOT send a Nak.
func TestClientEAPNotificationRFC3748Section5_2(t *testing.T) {
	pki := newPKI(t)
	for name, cfg := range map[string]ClientConfig{
		"certificate": {Cert: pki.client, ServerName: "gateway"},
		"password":    {User: "alice", Password: "correct horse battery staple", EAP: true},
	} {
		t.Run(name, func(t *testing.T) {
			conn := &recorder{}
			l := newLink(false, conn, nil, testLogger(t))
			l.client = &Client{cfg: cfg}
			t.Cleanup(func() {
				if l.eapCli != nil && l.eapCli.Bridge != nil {
					l.eapCli.Bridge.Close()
				}
			})
			answer := func(req ppp.EAP) ppp.EAP {
				t.Helper()
				if err := l.handleEAP(req.Append(nil)); err != nil {
					t.Fatal(err)
				}
				ps, _ := conn.take(t, ppp.ProtoEAP)
				if len(ps) != 1 {
					t.Fatalf("request %d answered with %d packets; want one response", req.ID, len(ps))
				}
				m, err := ppp.ParseEAP(ps[0].Append(nil))
				if err != nil || m.Code != ppp.EAPResponse || m.ID != req.ID {
					t.Fatalf("request %d answered with %+v (%v); want its response", req.ID, m, err)
				}
				return m
			}
			got := answer(ppp.EAP{Code: ppp.EAPRequest, ID: 4, Type: ppp.TypeNotification, Data: []byte("Your password expires in 3 days")})
			if got.Type != ppp.TypeNotification || len(got.Data) != 0 {
				t.Errorf("the Notification answered with type %d and %d octets of data; want a Notification Response (type %d) of none", got.Type, len(got.Data), ppp.TypeNotification)
			}
			// The method goes on: the identity is asked and given.
			if got := answer(ppp.EAP{Code: ppp.EAPRequest, ID: 5, Type: ppp.TypeIdentity}); got.Type != ppp.TypeIdentity {
				t.Errorf("the Identity request after the Notification answered with type %d", got.Type)
			}
		})
	}
}
