package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/datadir"
)

// TestNextLinkNamesServeHosts: serve hands the API its certificate's names,
// so that a list's nextLink names the host a client came by when the
// certificate names it (the --listen address here), and serve's endpoint
// (the --advertise-url) for a Host header of any other name.
func TestNextLinkNamesServeHosts(t *testing.T) {
	const listen, advertise = "127.96.0.5:18510", "https://localhost:18511"
	s := startServe(t, t.TempDir(), "--listen", listen, "--advertise-url", advertise, "--public-ip-pool", "127.96.1.0/24")
	c := s.client()
	for _, g := range []string{"a", "b"} {
		if _, err := c.Put(t.Context(), arm.ResourceGroupID(sdkSubA, g), arm.ResourceGroup{Location: "westeurope"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	pem, err := os.ReadFile(filepath.Join(s.dataDir, datadir.CA))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "127.96.0.5"}}}
	defer hc.CloseIdleConnections()
	for _, c := range []struct{ host, want string }{
		{listen, "https://" + listen + "/"},
		{"attacker.example:18510", advertise + "/"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", "https://"+listen+"/subscriptions/"+sdkSubA+"/resourcegroups?api-version=2021-04-01&%24top=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = c.host
		req.Header.Set("Authorization", "Bearer "+s.token())
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var l arm.List[arm.ResourceGroup]
		err = json.NewDecoder(res.Body).Decode(&l)
		res.Body.Close()
		if err != nil || !strings.HasPrefix(l.NextLink, c.want) {
			t.Errorf("Host %s: %d, nextLink %q, %v; want one that starts with %s", c.host, res.StatusCode, l.NextLink, err, c.want)
		}
	}
}
