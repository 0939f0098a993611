package eaptls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// testPKI is a root, a server certificate and a client certificate.
type testPKI struct {
	root           *pkitest.Cert
	server, client tls.Certificate
}

func newPKI(t testing.TB) *testPKI {
	root := pkitest.Issue(t, "P2S root", true, nil)
	return &testPKI{root: root, server: pkitest.Issue(t, "gateway", false, root).TLS(), client: pkitest.Issue(t, "alice", false, root).TLS()}
}

// Two bridges, a TLS server and a TLS client, complete a handshake by
// passing flights, and derive the same MSK.
func TestTLSBridge(t *testing.T) {
	p := newPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(p.root.Certificate)
	srv := NewBridge(true, &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots, MaxVersion: tls.VersionTLS12})
	cli := NewBridge(false, &tls.Config{Certificates: []tls.Certificate{p.client}, RootCAs: roots, ServerName: "gateway", MaxVersion: tls.VersionTLS12})
	var toServer []byte
	cliDone, srvDone := false, false
	for range 10 {
		out, done, err := cli.Exchange(toServer, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		cliDone = done
		if srvDone {
			break
		}
		back, done, err := srv.Exchange(out, 5*time.Second)
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
	a, err1 := srv.MSK()
	b, err2 := cli.MSK()
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) || len(a) != 64 {
		t.Fatalf("MSK: %v %v equal=%v", err1, err2, bytes.Equal(a, b))
	}
}
