package ikev2

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// TestClientEAPTLSRevokedDuringHandshake: a client certificate revoked
// (SetClients) while its EAP-TLS runs, after the TLS handshake checked
// it, is refused with AUTHENTICATION_FAILED when the client sends its
// AUTH: it gets no address and is not listed, and its connection ends.
// Before, the check at EAP start was the only one, and the connection,
// not yet admitted when the revocation came, stayed.
func TestClientEAPTLSRevokedDuringHandshake(t *testing.T) {
	pki := newPKI(t)
	carol := pkitest.Issue(t, "carol", false, pki.root)
	g := newP2SGateway(t, Config{})
	if err := g.m.SetClients(pki.clients(g.hooks, p2sPool, 10)); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(pki.root.Certificate)

	cl := newP2SClient(t, g, clientAt(1))
	cl.init()
	// RFC 7296 §2.16: an IKE_AUTH request without AUTH asks for EAP.
	ps := cl.request(wire.IKEAuth, slices.DeleteFunc(cl.auth(carol), func(p wire.Payload) bool {
		return p.Type() == wire.PayloadAUTH || p.Type() == wire.PayloadCERT
	}))
	p, ok := find[*wire.EAP](ps)
	if !ok {
		t.Fatalf("no EAP in the answer %v", ps)
	}
	first, err := ppp.ParseEAP(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	end, msk := cl.eapTLS(first, carol, roots)
	if end.Code != ppp.EAPSuccess {
		t.Fatalf("carol's EAP ended with code %d, want Success", end.Code)
	}

	sum := sha1.Sum(carol.Raw)
	revoked := pki.clients(g.hooks, p2sPool, 10)
	revoked.Revoked = []string{hex.EncodeToString(sum[:])}
	if err := g.m.SetClients(revoked); err != nil {
		t.Fatal(err)
	}

	signed, err := suite.SignedOctets(cl.s.PRF, cl.initReq, cl.nr, cl.keys.PI, dnOf(carol).payload(false).AppendBody(nil))
	if err != nil {
		t.Fatal(err)
	}
	mac, err := suite.PSKAuth(cl.s.PRF, msk, signed)
	if err != nil {
		t.Fatal(err)
	}
	ps = cl.request(wire.IKEAuth, []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: mac}})
	if notify(ps, wire.AuthenticationFailed) == nil || cpAddr(ps).IsValid() {
		t.Errorf("a certificate revoked during EAP-TLS was answered %v, want AUTHENTICATION_FAILED and no address", ps)
	}
	if c := g.m.Clients(); len(c) != 0 {
		t.Errorf("clients %+v, want none", c)
	}
	waitFor(t, 5*time.Second, "the revoked client's connection to end", func() bool { return g.clientConns() == 0 })
}
