package p2s

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestTLSAlertBeforeEAPFailureRFC5216Section2_1_3: a client certificate
// the gateway refuses (of another root, revoked) gets the gateway's TLS
// alert in an EAP-TLS request before the EAP Failure (RFC 5216 §2.1.3:
// SHOULD, so that the client can tell why), which vnetgw's client
// answers (MUST) and then says in its error, still a refusal (ErrRefused:
// --reconnect does not try again with it).
func TestTLSAlertBeforeEAPFailureRFC5216Section2_1_3(t *testing.T) {
	r := newRegion(t, Config{})
	thumb := sha1.Sum(r.pki.client.Leaf.Raw)
	st := r.srv.settings().Settings
	st.Revoked = []string{strings.ToUpper(hex.EncodeToString(thumb[:]))}
	r.srv.Update(st)
	for _, tc := range []struct {
		name  string
		pki   *testPKI
		alert string
	}{
		{"another root", newPKI(t), "unknown certificate authority"},
		{"revoked", r.pki, "bad certificate"},
	} {
		_, _, err := r.dial(t, tc.pki.client)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "TLS alert: tls: "+tc.alert) {
			t.Errorf("a certificate of %s: %v; want the gateway's refusal with its TLS alert, %s", tc.name, err, tc.alert)
		}
	}
}

// TestCertificateOfAnUnrelatedRoot: a client certificate whose root has
// another name than every root of the gateway is not sent (crypto/tls
// sends only one that chains to a CA of the CertificateRequest, RFC 5246
// §7.4.4), and the gateway ends the handshake with handshake_failure; the
// client's error said only "tls: handshake failure". It says that the
// certificate chains to none of the gateway's roots, and names them.
func TestCertificateOfAnUnrelatedRoot(t *testing.T) {
	r := newRegion(t, Config{})
	other := pkitest.Issue(t, "Contoso unrelated root", true, nil)
	_, _, err := r.dial(t, pkitest.Issue(t, "mallory", false, other).TLS())
	want := "chains to none of the gateway's root certificates (it takes those issued by CN=P2S root), so it was not sent"
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), want) {
		t.Errorf("a certificate of an unrelated root: %v; want the refusal saying %q", err, want)
	}
}
