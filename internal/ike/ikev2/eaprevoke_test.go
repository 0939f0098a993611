package ikev2

import (
	"crypto/sha1"
	"encoding/hex"
	"testing"
	"time"

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
	g := pki.gateway(t)
	roots := pki.roots()

	cl := newP2SClient(t, g, clientAt(1))
	cl.init()
	_, first := cl.beginEAP(carol)
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

	ps := cl.macAuth(carol, msk)
	if notify(ps, wire.AuthenticationFailed) == nil || cpAddr(ps).IsValid() {
		t.Errorf("a certificate revoked during EAP-TLS was answered %v, want AUTHENTICATION_FAILED and no address", ps)
	}
	if c := g.m.Clients(); len(c) != 0 {
		t.Errorf("clients %+v, want none", c)
	}
	waitFor(t, 5*time.Second, "the revoked client's connection to end", func() bool { return g.clientConns() == 0 })
}
