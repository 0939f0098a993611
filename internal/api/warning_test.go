package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/region"
)

// quotedWarning is a Warning header of vnetgw's: warn-code, warn-agent and
// a warn-text that is a quoted-string (RFC 7234 section 5.5, RFC 7230
// section 3.2.6).
var quotedWarning = regexp.MustCompile(`^199 vnetgw "(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"$`)

// TestWarningQuoted: a warning whose text holds a quote or a backslash
// comes as a Warning header that is one quoted-string, which vnetgw's
// client (the CLI) reads back as the text; unescaped, the quote ended the
// warn-text early, and a client read what followed as garbage.
func TestWarningQuoted(t *testing.T) {
	const text = `the prefix "10.1.255.0/29" is small; see C:\docs\gw and a "quote\"`
	h := New(Config{Token: testToken})
	h.put[arm.TypeRouteTable] = func(context.Context, *http.Request, arm.ID) (any, region.Outcome, error) {
		return obj{"name": "t"}, region.Outcome{Created: true, Warnings: []string{text, "line\r\nbreak"}}, nil
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c, err := client.New(client.Config{Endpoint: srv.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Put(context.Background(), arm.NetworkID(subA, "rg", "routeTables", "t"), obj{"location": loc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 2 || res.Warnings[0] != text || res.Warnings[1] != "line  break" {
		t.Errorf("the client read the warnings %q, want %q and %q", res.Warnings, text, "line  break")
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+netPath(subA, "rg", "routeTables", "t")+"?api-version=2024-05-01", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, v := range rec.Header().Values("Warning") {
		if !quotedWarning.MatchString(v) {
			t.Errorf("Warning %q is not 199 vnetgw and a quoted-string", v)
		}
	}
}
