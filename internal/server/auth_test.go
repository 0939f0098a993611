package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestBearerTokenSameOverHTTP2: an Authorization header with spaces
// before or after its value is answered over HTTP/2 as over HTTP/1.1,
// whose parser drops them (RFC 9110 section 5.5): the token was taken over
// HTTP/1.1 and refused with 401 over HTTP/2, which the API offers first,
// so that the same client was let in or not by the protocol it got.
func TestBearerTokenSameOverHTTP2(t *testing.T) {
	dir := t.TempDir()
	s, err := New(context.Background(), Config{DataDir: dir, Listen: "127.97.0.1:0", PublicIPPool: "127.97.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	defer run(t, s)()
	token, err := os.ReadFile(s.TokenFile())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(s.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	clients := map[string]*http.Client{
		"HTTP/1.1": {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}},
		"HTTP/2.0": {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}},
	}
	tok := strings.TrimSpace(string(token))
	for _, header := range []string{"Bearer " + tok, "Bearer " + tok + " ", "Bearer " + tok + "\t", " Bearer " + tok} {
		for proto, c := range clients {
			req, err := http.NewRequest(http.MethodGet, s.URL+"/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups?api-version=2021-04-01", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", header)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.Proto != proto {
				t.Fatalf("asked for %s, got %s", proto, res.Proto)
			}
			if res.StatusCode != http.StatusOK {
				t.Errorf("%s, Authorization %q: %d, want 200", proto, strings.ReplaceAll(header, tok, "<token>"), res.StatusCode)
			}
		}
	}
}
