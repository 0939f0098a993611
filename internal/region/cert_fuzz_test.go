package region

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// FuzzCertificateData reads a root certificate's publicCertData as a
// user uploads it: base64 DER, with or without PEM armour. Whatever it
// decodes reads back the same from plain base64 and from PEM, and a
// certificate accepted as a root is a CA or self-signed.
func FuzzCertificateData(f *testing.F) {
	root := pkitest.Issue(f, "root", true, nil)
	self := pkitest.Issue(f, "self", false, nil)
	leaf := pkitest.Issue(f, "leaf", false, root)
	for _, c := range []*pkitest.Cert{root, self, leaf} {
		b64 := base64.StdEncoding.EncodeToString(c.Raw)
		f.Add(b64)
		f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
		f.Add(strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})), "\n", "\r\n"))
		f.Add(b64[:len(b64)/2])
	}
	f.Add("")
	f.Add("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
	f.Fuzz(func(t *testing.T, data string) {
		der, err := CertificateDER(data)
		if err == nil {
			for _, again := range []string{base64.StdEncoding.EncodeToString(der), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))} {
				if d, err := CertificateDER(again); err != nil || !bytes.Equal(d, der) {
					t.Fatalf("%q decodes to % x, %v; want % x", again, d, err, der)
				}
			}
		}
		if checkCertificate(data) != nil {
			return
		}
		if err != nil {
			t.Fatalf("%q accepted as a root, but CertificateDER fails: %v", data, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("%q accepted as a root, but does not parse: %v", data, err)
		}
		if !c.IsCA && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
			t.Fatalf("%s accepted as a root: neither a CA nor self-signed", c.Subject)
		}
	})
}

// TestCertificateDataRoots: a CA and a self-signed certificate are taken
// as roots, in base64 and in PEM; a certificate a CA issued, and what is
// not base64 or not a certificate, are not.
func TestCertificateDataRoots(t *testing.T) {
	root := pkitest.Issue(t, "root", true, nil)
	self := pkitest.Issue(t, "self", false, nil)
	leaf := pkitest.Issue(t, "leaf", false, root)
	b64 := func(c *pkitest.Cert) string { return base64.StdEncoding.EncodeToString(c.Raw) }
	armoured := func(c *pkitest.Cert) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	for _, tc := range []struct {
		name, data string
		ok         bool
	}{
		{"CA", b64(root), true},
		{"CA in PEM", armoured(root), true},
		{"self-signed", b64(self), true},
		{"self-signed in PEM with CRLF", strings.ReplaceAll(armoured(self), "\n", "\r\n"), true},
		{"issued by a CA", b64(leaf), false},
		{"cut short", b64(root)[:100], false},
		{"not base64", "not a certificate!", false},
		{"base64 of no certificate", base64.StdEncoding.EncodeToString([]byte("hello")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkCertificate(tc.data); (err == nil) != tc.ok {
				t.Errorf("checkCertificate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
