package p2s

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// testPKI is a root, a server certificate and a client certificate.
type testPKI struct {
	root       *x509.Certificate
	rootKey    *ecdsa.PrivateKey
	server     tls.Certificate
	client     tls.Certificate
	serverLeaf *x509.Certificate
}

func newCert(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ca bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, DNSNames: []string{cn}}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func newPKI(t testing.TB) *testPKI {
	p := &testPKI{}
	p.root, p.rootKey = newCert(t, "P2S root", nil, nil, true)
	sc, sk := newCert(t, "gateway", p.root, p.rootKey, false)
	cc, ck := newCert(t, "alice", p.root, p.rootKey, false)
	p.server = tls.Certificate{Certificate: [][]byte{sc.Raw}, PrivateKey: sk, Leaf: sc}
	p.client = tls.Certificate{Certificate: [][]byte{cc.Raw}, PrivateKey: ck, Leaf: cc}
	p.serverLeaf = sc
	return p
}

// Two bridges, a TLS server and a TLS client, complete a handshake by
// passing flights, and derive the same MSK.
func TestTLSBridge(t *testing.T) {
	p := newPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(p.root)
	srv := newTLSBridge(true, &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots, MaxVersion: tls.VersionTLS12})
	cli := newTLSBridge(false, &tls.Config{Certificates: []tls.Certificate{p.client}, RootCAs: roots, ServerName: "gateway", MaxVersion: tls.VersionTLS12})
	var toServer []byte
	cliDone, srvDone := false, false
	for range 10 {
		out, done, err := cli.exchange(toServer, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cliDone = done
		if srvDone {
			break
		}
		back, done, err := srv.exchange(out, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		srvDone, toServer = done, back
		if srvDone && cliDone {
			break
		}
	}
	if !srvDone || !cliDone {
		t.Fatalf("handshake not done: server %v client %v", srvDone, cliDone)
	}
	a, err1 := srv.msk()
	b, err2 := cli.msk()
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) || len(a) != 64 {
		t.Fatalf("MSK: %v %v equal=%v", err1, err2, bytes.Equal(a, b))
	}
}
