package eaptls

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
)

// TestRevokedThumbprints: a revoked certificate's thumbprint counts as
// people copy it (openssl's colons, Windows' left-to-right mark, any
// case, spaces); what is no thumbprint revokes nothing and is reported,
// with no digits: a caller that kept them would hold a thumbprint too
// short or too long.
func TestRevokedThumbprints(t *testing.T) {
	cert := &x509.Certificate{Raw: []byte("a client certificate")}
	sum := sha1.Sum(cert.Raw)
	plain := hex.EncodeToString(sum[:])
	var colons []string
	for i := 0; i < len(plain); i += 2 {
		colons = append(colons, strings.ToUpper(plain[i:i+2]))
	}
	for _, as := range []string{plain, strings.ToUpper(plain), strings.Join(colons, ":"), "\u200e" + strings.Join(colons, " ")} {
		if !Revoked(cert, []string{as}) {
			t.Errorf("thumbprint written %q: not revoked", as)
		}
	}
	for _, bad := range []string{"A1B2C3", plain + "00", "zz" + plain[2:], plain[:38] + "é"} {
		if got, ok := Thumbprint(bad); ok || got != "" {
			t.Errorf("%q read as thumbprint %q, %v; want \"\", false", bad, got, ok)
		}
	}
}
