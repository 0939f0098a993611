package eaptls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// tlsPKI returns a root, a server certificate ("gateway") and a client
// certificate ("alice") of it.
func tlsPKI(t testing.TB) (root *pkitest.Cert, server, client tls.Certificate) {
	root = pkitest.Issue(t, "EAP-TLS root", true, nil)
	return root, pkitest.Issue(t, "gateway", false, root).TLS(), pkitest.Issue(t, "alice", false, root).TLS()
}

// Two bridges, a TLS server and a TLS client, complete a handshake by
// passing flights, and derive the same MSK.
func TestTLSBridge(t *testing.T) {
	root, server, client := tlsPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
	srv := NewBridge(true, &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots, MaxVersion: tls.VersionTLS12})
	cli := NewBridge(false, &tls.Config{Certificates: []tls.Certificate{client}, RootCAs: roots, ServerName: "gateway", MaxVersion: tls.VersionTLS12})
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
