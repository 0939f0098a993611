package p2s

import (
	"bytes"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestClientEAPDuplicateRFC3748Section4_1: vnetgw's client answers a
// duplicate of the EAP request it last answered with its response again,
// unchanged, without processing the request a second time (RFC 3748
// §4.1: MUST): a gateway that repeats its EAP-TLS Start gets the same
// ClientHello, not a new TLS handshake that leaves its first one
// answered by another; the next request is answered anew.
func TestClientEAPDuplicateRFC3748Section4_1(t *testing.T) {
	pki := newPKI(t)
	conn := &recorder{}
	l := newLink(false, conn, nil, testLogger(t))
	l.client = &Client{cfg: ClientConfig{Cert: pki.client, ServerName: "gateway"}}
	t.Cleanup(func() {
		if l.eapCli != nil && l.eapCli.Bridge != nil {
			l.eapCli.Bridge.Close()
		}
	})
	answer := func(req ppp.EAP) ppp.Packet {
		t.Helper()
		if err := l.handleEAP(req.Append(nil)); err != nil {
			t.Fatal(err)
		}
		ps, _ := conn.take(t, ppp.ProtoEAP)
		if len(ps) != 1 || ps[0].Code != ppp.EAPResponse || ps[0].ID != req.ID {
			t.Fatalf("request %d answered with %+v; want one response", req.ID, ps)
		}
		return ps[0]
	}
	start := ppp.EAP{Code: ppp.EAPRequest, ID: 7, Type: ppp.TypeTLS, Data: ppp.TLSData{Flags: ppp.FlagStart}.Append(nil)}
	first := answer(start)
	bridge := l.eapCli.Bridge
	if again := answer(start); !bytes.Equal(again.Data, first.Data) || l.eapCli.Bridge != bridge {
		t.Errorf("the repeated EAP-TLS Start answered with another response (%d octets, the first %d), new handshake %v; want the first again", len(again.Data), len(first.Data), l.eapCli.Bridge != bridge)
	}
	identity := ppp.EAP{Code: ppp.EAPRequest, ID: 8, Type: ppp.TypeIdentity}
	if got := answer(identity); !bytes.Equal(got.Data, append([]byte{ppp.TypeIdentity}, "alice"...)) {
		t.Errorf("the next request answered with % x; want its own response", got.Data)
	}
}
