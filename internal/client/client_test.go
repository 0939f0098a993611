package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/datadir"
)

func TestEndpointFile(t *testing.T) {
	cases := []struct {
		name, content string
		want          Endpoint
	}{
		{name: "the URL alone", content: "https://127.0.0.1:7443\n", want: Endpoint{URL: "https://127.0.0.1:7443"}},
		{name: "no final newline", content: "https://127.0.0.1:7443", want: Endpoint{URL: "https://127.0.0.1:7443"}},
		{name: "a user-provided certificate", content: "https://gw.example:7443\n" + UserCertLine + "\n", want: Endpoint{URL: "https://gw.example:7443", UserCert: true}},
		{name: "an unknown line is ignored", content: "https://127.0.0.1:7443\nsomething: else\n", want: Endpoint{URL: "https://127.0.0.1:7443"}},
		{name: "empty", content: "", want: Endpoint{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ParseEndpoint([]byte(c.content)); got != c.want {
				t.Fatalf("ParseEndpoint(%q) = %+v, want %+v", c.content, got, c.want)
			}
			if c.want.URL != "" {
				if got := ParseEndpoint(c.want.Marshal()); got != c.want {
					t.Fatalf("ParseEndpoint(Marshal(%+v)) = %+v", c.want, got)
				}
			}
		})
	}
}

// TestDiscover covers where each setting comes from: the environment
// first, then the data directory, whose ca.pem is not used when the
// endpoint file says the certificate was given with --tls-cert.
func TestDiscover(t *testing.T) {
	write := func(t *testing.T, dir string, files map[string]string) {
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	const url = "https://127.0.0.1:7443"
	cases := []struct {
		name    string
		files   map[string]string
		env     map[string]string
		want    Config // CAFile relative to the data directory
		wantErr string
	}{
		{name: "all from the data directory",
			files: map[string]string{datadir.Endpoint: url + "\n", datadir.Token: "tok\n", datadir.CA: "pem"},
			want:  Config{Endpoint: url, Token: "tok", TokenFrom: datadir.Token, CAFile: datadir.CA}},
		{name: "no ca.pem: the system roots",
			files: map[string]string{datadir.Endpoint: url + "\n", datadir.Token: "tok\n"},
			want:  Config{Endpoint: url, Token: "tok", TokenFrom: datadir.Token}},
		{name: "a user-provided certificate: not the stale ca.pem",
			files: map[string]string{datadir.Endpoint: url + "\n" + UserCertLine + "\n", datadir.Token: "tok\n", datadir.CA: "pem"},
			want:  Config{Endpoint: url, Token: "tok", TokenFrom: datadir.Token}},
		{name: "a user-provided certificate named by the endpoint file, endpoint from the environment",
			files: map[string]string{datadir.Endpoint: url + "\n" + UserCertLine + "\n", datadir.Token: "tok\n", datadir.CA: "pem"},
			env:   map[string]string{EnvEndpoint: "https://other:1"},
			want:  Config{Endpoint: "https://other:1", Token: "tok", TokenFrom: datadir.Token}},
		{name: "all from the environment, data directory empty",
			env:  map[string]string{EnvEndpoint: url, EnvToken: "envtok", EnvCA: "/ca.pem"},
			want: Config{Endpoint: url, Token: "envtok", TokenFrom: "$VNETGW_TOKEN", CAFile: "/ca.pem"}},
		{name: "the environment wins over the data directory",
			files: map[string]string{datadir.Endpoint: url + "\n", datadir.Token: "tok\n", datadir.CA: "pem"},
			env:   map[string]string{EnvToken: "envtok", EnvCA: "/other.pem"},
			want:  Config{Endpoint: url, Token: "envtok", TokenFrom: "$VNETGW_TOKEN", CAFile: "/other.pem"}},
		{name: "no endpoint anywhere", env: map[string]string{EnvToken: "envtok"}, wantErr: "vnetgw serve"},
		{name: "no token anywhere", env: map[string]string{EnvEndpoint: url}, wantErr: datadir.Token},
		{name: "an empty endpoint file", files: map[string]string{datadir.Endpoint: "\n", datadir.Token: "tok"}, wantErr: "empty"},
		// It was url's error: first path segment in URL cannot contain colon.
		{name: "an endpoint without https://", env: map[string]string{EnvEndpoint: "127.0.0.1:7443", EnvToken: "envtok"},
			wantErr: `$VNETGW_ENDPOINT "127.0.0.1:7443" is not a URL: want https://HOST:PORT`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{EnvEndpoint, EnvToken, EnvCA} {
				t.Setenv(k, c.env[k])
			}
			dir := t.TempDir()
			write(t, dir, c.files)
			got, err := Discover(dir)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Discover: %+v, %v; want an error saying %q", got, err, c.wantErr)
				}
				return
			}
			want := c.want
			for _, f := range []*string{&want.CAFile, &want.TokenFrom} {
				if *f != "" && !strings.HasPrefix(*f, "/") && !strings.HasPrefix(*f, "$") {
					*f = filepath.Join(dir, *f)
				}
			}
			if err != nil || got.Endpoint != want.Endpoint || got.Token != want.Token || got.TokenFrom != want.TokenFrom || got.CAFile != want.CAFile {
				t.Fatalf("Discover = %+v, %v; want %+v", got, err, want)
			}
		})
	}
}

// TestLongErrorAnswer: an error answer that is no ARM error (a proxy's
// page) is cut to a kilobyte in the error; an ARM error's message is kept.
func TestLongErrorAnswer(t *testing.T) {
	page := strings.Repeat("<p>bad gateway</p>", 1<<16)
	arm := `{"error":{"code":"Conflict","message":"` + strings.Repeat("x", 4000) + `"}}`
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/arm") {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, arm)
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, page)
	}))
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Endpoint: srv.URL, Token: "t", CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), "GET", "/page", nil, nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadGateway || len(e.Message) > 1100 || !strings.HasPrefix(e.Message, "<p>bad gateway</p>") {
		t.Errorf("a 1 MiB error page: %d bytes of message (%v)", len(e.Message), err)
	}
	_, err = c.Do(context.Background(), "GET", "/arm", nil, nil)
	if !errors.As(err, &e) || e.Code != "Conflict" || len(e.Message) != 4000 {
		t.Errorf("an ARM error of 4000 bytes: %v", err)
	}
}

// A request to an endpoint where no serve listens (a stopped serve leaves
// its endpoint file) says so, not Go's dial error alone.
func TestNoServeAtEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(Config{Endpoint: url, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), http.MethodGet, "/subscriptions", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "nothing answers at "+url+": is `vnetgw serve` running") {
		t.Errorf("Do: %v, want an error that asks whether vnetgw serve runs", err)
	}
	if _, err := c.Metrics(context.Background()); err == nil || !strings.Contains(err.Error(), "is `vnetgw serve` running") {
		t.Errorf("Metrics: %v, want an error that asks whether vnetgw serve runs", err)
	}
}

// A server whose certificate the client does not trust (an endpoint from
// $VNETGW_ENDPOINT without $VNETGW_CA, or a CA of another serve) is
// refused saying which CA was trusted and to set $VNETGW_CA; the error was
// Go's alone: x509: certificate signed by unknown authority.
func TestCertificateOfAnotherCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	// Another serve's CA.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vnetgw CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(otherCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ caFile, trusted string }{
		{"", "a CA the system trusts"},
		{otherCA, "the CA of " + otherCA},
	} {
		c, err := New(Config{Endpoint: srv.URL, Token: "tok", CAFile: tc.caFile})
		if err != nil {
			t.Fatal(err)
		}
		want := "the certificate of " + srv.URL + " is not issued by " + tc.trusted + " (for the CLI: set $VNETGW_CA to the ca.pem in the data directory of the vnetgw serve there)"
		if _, err := c.Do(context.Background(), http.MethodGet, "/subscriptions", nil, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Do: %v, want %q", err, want)
		}
		if _, err := c.Metrics(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Metrics: %v, want %q", err, want)
		}
	}
}

// TestListEndlessNextLink: an API (or a peer region) whose pages keep
// giving a nextLink is asked for maxListPages pages, or pages up to
// maxListBytes, then List says so: it followed them until the caller's
// deadline, piling up every answer (here the server ends them at twice
// the bound).
func TestListEndlessNextLink(t *testing.T) {
	for _, tc := range []struct {
		name, item, want string
		pages            int // asked at most
	}{
		{"empty pages", "", "over 1000 pages", 1000},
		{"full pages", `"` + strings.Repeat("x", 1<<20) + `"`, "over 8 MiB in 8 pages", 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldBytes := maxListBytes
			maxListBytes = 8 << 20
			t.Cleanup(func() { maxListBytes = oldBytes })
			var asked atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := asked.Add(1)
				if n > int64(2*tc.pages) { // not for ever: the old List had no end
					fmt.Fprint(w, `{"value":[]}`)
					return
				}
				fmt.Fprintf(w, `{"value":[%s],"nextLink":"http://%s%s?$skipToken=%d"}`, tc.item, r.Host, r.URL.Path, n)
			}))
			defer srv.Close()
			c, err := New(Config{Endpoint: srv.URL, Token: "tok"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			out, err := List[string](ctx, c, "/subscriptions/s/resourceGroups")
			if err == nil || !strings.Contains(err.Error(), tc.want) || out != nil {
				t.Fatalf("List of endless pages: %d items, %v; want an error saying %q", len(out), err, tc.want)
			}
			if n := asked.Load(); n > int64(tc.pages) {
				t.Errorf("%d pages asked, want %d at most", n, tc.pages)
			}
		})
	}
}

// TestDownloadLongerThanMax: a file longer than Download takes is an
// error naming its size, with a Content-Length or without (chunked), not
// its first bytes, which the CLI would save as if they were the whole
// capture; a file as long as the most taken comes whole.
func TestDownloadLongerThanMax(t *testing.T) {
	file := strings.Repeat("pcap", 25) // 100 bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, file[:50])
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		io.WriteString(w, file[50:])
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		max  int64
		want string // in the error; "" for the file whole
	}{
		{"/whole", 99, "a file of 100 bytes, over the 99 taken"},
		{"/chunked", 99, "a file of over 99 bytes"},
		{"/whole", 100, ""},
		{"/chunked", 100, ""},
	} {
		b, err := c.Download(context.Background(), srv.URL+tc.path, tc.max)
		switch {
		case tc.want == "" && (err != nil || string(b) != file):
			t.Errorf("%s, at most %d bytes: %d bytes, %v; want the file whole", tc.path, tc.max, len(b), err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || b != nil):
			t.Errorf("%s, at most %d bytes: %d bytes, %v; want an error saying %q", tc.path, tc.max, len(b), err, tc.want)
		}
	}
}

// TestDownloadRefusedSaysWhy: a download the API refuses (a VPN client
// package or capture whose URL expired, a node with too many waiting)
// fails with the API's error code and message, as every other call does,
// and without the URL, which is the file's credential. It said only the
// URL and the HTTP status.
func TestDownloadRefusedSaysWhy(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As the API's downloads answer (api.downloads.serve, toARM).
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/big/0123456789abcdef.zip":
			w.Header().Set("Content-Length", "2097152")
			w.Write(make([]byte, 2<<20))
		case "/cut/0123456789abcdef.zip":
			w.Header().Set("Content-Length", "1000")
			w.Write(make([]byte, 10)) // and the connection closes
		case "/busy.pcap":
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"code":"ServiceUnavailable","message":"the state store did not answer; try again"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"ResourceNotFound","message":"none of the VPN client packages at this URL: it expired (after an hour) or never was"}}`)
		}
	}))
	l, err := net.Listen("tcp", "127.173.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		status     int
		code, msg  string
	}{
		{"expired", "/vpnclientpackages/0123456789abcdef.zip", http.StatusNotFound, "ResourceNotFound", "it expired (after an hour)"},
		{"unavailable", "/busy.pcap", http.StatusServiceUnavailable, "ServiceUnavailable", "did not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := c.Download(context.Background(), srv.URL+tc.path, 1<<20)
			var ae *Error
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Code != tc.code || !strings.Contains(ae.Message, tc.msg) || b != nil {
				t.Fatalf("a refused download: %d bytes, %v; want the API's %s (HTTP %d) saying %q", len(b), err, tc.code, tc.status, tc.msg)
			}
			if strings.Contains(err.Error(), tc.path) {
				t.Errorf("the error shows the download's URL, its credential: %v", err)
			}
		})
	}
	// Nor does a download that fails otherwise show the URL: too large,
	// cut short, or from a node that is not there.
	gone, err := net.Listen("tcp", "127.173.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	for _, u := range []string{srv.URL + "/big/0123456789abcdef.zip", srv.URL + "/cut/0123456789abcdef.zip", "https://" + gone.Addr().String() + "/vpnclientpackages/0123456789abcdef.zip"} {
		if b, err := c.Download(context.Background(), u, 1<<20); err == nil || b != nil || strings.Contains(err.Error(), "0123456789abcdef") || !strings.HasPrefix(err.Error(), "download: ") {
			t.Errorf("download of %s: %d bytes, %v; want an error without the URL", u, len(b), err)
		}
	}
}

// TestAnswerOverMax: an answer of over 64 MiB is an error saying so, for
// Do and for Metrics, not its first 64 MiB: metrics cut short read as if
// whole, JSON cut short failed to decode saying nothing of why. An answer
// of 64 MiB exactly is taken whole.
func TestAnswerOverMax(t *testing.T) {
	const limit = 64 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := limit
		if r.URL.Query().Get("over") != "" || r.URL.Path == "/metrics" {
			n++
		}
		if r.URL.Path == "/metrics" {
			io.WriteString(w, strings.Repeat("#", n))
			return
		}
		io.WriteString(w, `"`+strings.Repeat("x", n-2)+`"`)
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if _, err := c.Do(context.Background(), http.MethodGet, "/subscriptions", nil, &s); err != nil || len(s) != limit-2 {
		t.Errorf("an answer of 64 MiB: %d bytes, %v; want it whole", len(s), err)
	}
	if _, err := c.Do(context.Background(), http.MethodGet, "/subscriptions?over=1", nil, &s); err == nil || !strings.Contains(err.Error(), "is over 64 MiB") {
		t.Errorf("an answer of over 64 MiB: %v; want an error saying it is over 64 MiB", err)
	}
	if m, err := c.Metrics(context.Background()); err == nil || !strings.Contains(err.Error(), "GET /metrics is over 64 MiB") {
		t.Errorf("metrics of over 64 MiB: %d bytes, %v; want an error saying they are over 64 MiB", len(m), err)
	}
}

// setTimeouts sets the client's answer and idle timeouts for one test.
func setTimeouts(t *testing.T, answer, idle time.Duration) {
	oldAnswer, oldIdle := AnswerTimeout, IdleTimeout
	AnswerTimeout, IdleTimeout = answer, idle
	t.Cleanup(func() { AnswerTimeout, IdleTimeout = oldAnswer, oldIdle })
}

// TestLongDownloadNotCut: a download that keeps coming is taken whole
// however long it takes, here more than twice the time the answer may
// pause (a 500 MiB packet capture on a slow link): the client's overall
// timeout cut it, whatever was still coming.
func TestLongDownloadNotCut(t *testing.T) {
	setTimeouts(t, 2*time.Second, 2*time.Second)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for start := time.Now(); time.Since(start) < 4500*time.Millisecond; time.Sleep(50 * time.Millisecond) {
			io.WriteString(w, strings.Repeat("p", 1024))
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, "end")
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Download(context.Background(), srv.URL+"/capture", 1<<30)
	if err != nil || !strings.HasSuffix(string(b), "end") {
		t.Fatalf("a download that kept coming for 4.5 s: %d bytes, %v; want it whole", len(b), err)
	}
}

// TestAnswerThatStops: an answer that does not begin, or whose body stops
// coming, fails once its time is up, saying which; the server here would
// wait for ever.
func TestAnswerThatStops(t *testing.T) {
	setTimeouts(t, 300*time.Millisecond, 300*time.Millisecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/half" {
			io.WriteString(w, "half a file")
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), http.MethodGet, "/subscriptions", nil, nil); err == nil || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("an answer that does not begin: %v; want an error saying no answer came within 300ms", err)
	}
	if _, err := c.Download(context.Background(), srv.URL+"/half", 1<<20); err == nil || !strings.Contains(err.Error(), "the answer stopped coming: nothing for 300ms") {
		t.Errorf("a download that stops: %v; want an error saying it stopped coming", err)
	}
}
