// Package client is a typed client of vnetgw's REST API, used by the CLI,
// the demo and end-to-end tests. It finds the endpoint, token and CA of a
// local vnetgw in its data directory, or takes them from the environment.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/datadir"
)

// Environment variables that override what the data directory says.
const (
	EnvEndpoint = "VNETGW_ENDPOINT"
	EnvToken    = "VNETGW_TOKEN"
	EnvCA       = "VNETGW_CA"
)

// Config says where and how to reach the API.
type Config struct {
	Endpoint string // https://host:port
	Token    string
	// TokenFrom says where Token came from ("$VNETGW_TOKEN" or a file),
	// for the message of a refused token.
	TokenFrom string
	CAFile    string // PEM; empty means the system roots
	// PeerDir is the data directory the rest was read from by
	// DiscoverDir: the client is another serve's (a region's --peer), and
	// its errors name that directory, not the CLI's --data-dir and
	// $VNETGW_*, which do not name a peer.
	PeerDir string
	// DialContext, when set, opens the connections to the endpoint
	// instead of a net.Dialer: tests use it to reach an API that listens
	// inside a network namespace.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Trace, when set, is told each request: its method and URL, the
	// answer's status and how long it took (az's --verbose); with
	// TraceHeaders their headers too (--debug), the Authorization
	// header's token left out. Bodies are not told: they may hold a
	// connection's shared key.
	Trace        io.Writer
	TraceHeaders bool
}

// Endpoint is what the endpoint file of a data directory says: the URL
// the API is served at (its first line) and whether the server's
// certificate was given with --tls-cert (a second line, UserCertLine). Such
// a certificate was not issued by the data directory's ca.pem, which a
// start without --tls-cert may have left behind; clients then verify it
// with the system roots or $VNETGW_CA.
type Endpoint struct {
	URL      string
	UserCert bool
}

// UserCertLine is the endpoint file's line that marks a certificate given
// with --tls-cert.
const UserCertLine = "tls: user-provided certificate, not issued by ca.pem"

// Marshal returns the content of an endpoint file.
func (e Endpoint) Marshal() []byte {
	s := e.URL + "\n"
	if e.UserCert {
		s += UserCertLine + "\n"
	}
	return []byte(s)
}

// ParseEndpoint reads the content of an endpoint file; a file of one line
// (the URL) is one that names no user-provided certificate.
func ParseEndpoint(b []byte) Endpoint {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	e := Endpoint{URL: strings.TrimSpace(lines[0])}
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == UserCertLine {
			e.UserCert = true
		}
	}
	return e
}

// Discover builds a Config from the environment ($VNETGW_ENDPOINT,
// $VNETGW_TOKEN, $VNETGW_CA), falling back to the files `vnetgw serve`
// writes in its data directory. The data directory's ca.pem is trusted
// unless $VNETGW_CA names another CA or the endpoint file says the server's
// certificate was given with --tls-cert (then the system roots are).
func Discover(dataDir string) (Config, error) {
	cfg := Config{Endpoint: os.Getenv(EnvEndpoint), Token: os.Getenv(EnvToken), CAFile: os.Getenv(EnvCA)}
	// Without a scheme the error was url's: first path segment in URL
	// cannot contain colon.
	if u, err := url.Parse(cfg.Endpoint); cfg.Endpoint != "" && (err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "") {
		return cfg, fmt.Errorf("$%s %q is not a URL: want https://HOST:PORT, as the endpoint file of serve's data directory says", EnvEndpoint, cfg.Endpoint)
	}
	if cfg.Token != "" {
		cfg.TokenFrom = "$" + EnvToken
	}
	return fromDir(cfg, dataDir, true)
}

// DiscoverDir builds a Config from the files of a data directory alone,
// as Discover does without the environment: that of another serve (a
// region's --peer), which $VNETGW_ENDPOINT and $VNETGW_TOKEN, naming the
// serve the CLI talks to, do not name.
func DiscoverDir(dataDir string) (Config, error) {
	return fromDir(Config{PeerDir: dataDir}, dataDir, false)
}

// fromDir completes cfg with what data directory dataDir says; its
// errors tell of the environment when env, Discover's.
func fromDir(cfg Config, dataDir string, env bool) (Config, error) {
	hint, emptyHint := "", ""
	if env {
		hint, emptyHint = fmt.Sprintf(" set --data-dir or %s/%s", EnvEndpoint, EnvToken), fmt.Sprintf(" (set %s)", EnvEndpoint)
	}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dataDir, name))
		if err != nil {
			return nil, fmt.Errorf("no %s in data directory %s (is `vnetgw serve` running there?%s): %w", name, dataDir, hint, err)
		}
		return b, nil
	}
	// The endpoint file also says whether ca.pem applies; read it even when
	// $VNETGW_ENDPOINT names the endpoint, if it is there.
	epFile, epErr := read(datadir.Endpoint)
	ep := ParseEndpoint(epFile)
	if cfg.Endpoint == "" {
		if epErr != nil {
			return cfg, epErr
		}
		if ep.URL == "" {
			return cfg, fmt.Errorf("the endpoint file in data directory %s is empty%s", dataDir, emptyHint)
		}
		cfg.Endpoint = ep.URL
	}
	if cfg.Token == "" {
		b, err := read(datadir.Token)
		if err != nil {
			return cfg, err
		}
		cfg.Token, cfg.TokenFrom = strings.TrimSpace(string(b)), filepath.Join(dataDir, datadir.Token)
	}
	if cfg.CAFile == "" && !ep.UserCert {
		if p := filepath.Join(dataDir, datadir.CA); fileExists(p) {
			cfg.CAFile = p
		}
	}
	return cfg, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Client calls the API.
type Client struct {
	endpoint  string
	token     string
	tokenFrom string
	caFile    string // as Config's
	peerDir   string // as Config's
	http      *http.Client
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" || cfg.Token == "" {
		return nil, errors.New("client: endpoint and token are required")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	return &Client{
		endpoint:  strings.TrimSuffix(cfg.Endpoint, "/"),
		token:     cfg.Token,
		tokenFrom: cfg.TokenFrom,
		caFile:    cfg.CAFile,
		peerDir:   cfg.PeerDir,
		http:      &http.Client{Transport: traced(&http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, DialContext: cfg.DialContext}, cfg)},
	}, nil
}

// traced returns rt, telling cfg.Trace of each request when it is set.
func traced(rt http.RoundTripper, cfg Config) http.RoundTripper {
	if cfg.Trace == nil {
		return rt
	}
	return &tracer{rt: rt, w: cfg.Trace, headers: cfg.TraceHeaders}
}

// tracer tells w of each request rt carries (Config.Trace).
type tracer struct {
	rt      http.RoundTripper
	w       io.Writer
	headers bool
	mu      sync.Mutex
}

func (t *tracer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.rt.RoundTrip(req)
	var b strings.Builder
	fmt.Fprintf(&b, "INFO: %s %s", req.Method, req.URL.Redacted())
	if err != nil {
		fmt.Fprintf(&b, ": %v", err)
	} else {
		fmt.Fprintf(&b, ": %s", resp.Status)
	}
	fmt.Fprintf(&b, " (%v)\n", time.Since(start).Round(time.Millisecond))
	if t.headers {
		writeHeaders(&b, "request", req.Header)
		if err == nil {
			writeHeaders(&b, "response", resp.Header)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	io.WriteString(t.w, b.String())
	return resp, err
}

// CloseIdleConnections closes those of the transport it traces
// (http.Client.CloseIdleConnections asks its transport).
func (t *tracer) CloseIdleConnections() {
	if c, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// writeHeaders writes h as debug lines, the Authorization header's
// credentials left out.
func writeHeaders(b *strings.Builder, which string, h http.Header) {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			if strings.EqualFold(k, "Authorization") {
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " (left out)"
			}
			fmt.Fprintf(b, "DEBUG: %s header %s: %s\n", which, k, v)
		}
	}
}

// How long a request waits: for the answer to begin (its status and
// headers: connecting, sending the request, the API's work; longer for a
// request whose context says so, WithAnswerWait), and then for each next
// piece of its body. A download that keeps coming is not cut, however
// long it takes (a packet capture of 500 MiB on a slow link); one that
// stops is. Variables for the tests.
var (
	AnswerTimeout = 2 * time.Minute
	IdleTimeout   = 2 * time.Minute
)

type answerWaitKey struct{}

// WithAnswerWait returns ctx whose requests wait d longer than
// AnswerTimeout for their answer to begin: the API's work on them has a
// bound of its own, d (a stopPacketCapture's upload to a sasUrl).
func WithAnswerWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, answerWaitKey{}, d)
}

// Why send ended a request.
var (
	errNoAnswer = errors.New("no answer")
	errStalled  = errors.New("the answer stopped coming")
)

// send sends req with the client's timeouts: it fails when the answer
// has not begun within AnswerTimeout (and its context's WithAnswerWait),
// and the answer's body fails to read when nothing of it came for
// IdleTimeout. The body must be closed.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	answer, idle := AnswerTimeout, IdleTimeout
	if d, ok := req.Context().Value(answerWaitKey{}).(time.Duration); ok && d > 0 {
		answer += d
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	t := time.AfterFunc(answer, func() { cancel(fmt.Errorf("%w within %v", errNoAnswer, answer)) })
	res, err := c.http.Do(req.WithContext(ctx))
	t.Stop()
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errNoAnswer) {
			err = fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), cause)
		}
		cancel(nil)
		return nil, err
	}
	res.Body = &idleBody{body: res.Body, ctx: ctx, cancel: cancel, idle: idle,
		timer: time.AfterFunc(idle, func() { cancel(fmt.Errorf("%w: nothing for %v", errStalled, idle)) })}
	return res, nil
}

// idleBody is the body of an answer that is ended (its context
// cancelled) when nothing of it comes for idle.
type idleBody struct {
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	idle   time.Duration
	timer  *time.Timer // cancels ctx; reset by each read that gets bytes
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(b.ctx); errors.Is(cause, errStalled) {
			err = cause
		}
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}

// unreachable says what a refused connection to the endpoint means: no
// serve runs there (the endpoint file of a serve that stopped stays). The
// error was Go's alone: Get "https://...?api-version=...": dial tcp ...:
// connect: connection refused.
// A certificate of another CA than the one trusted says which CA to
// trust: the error was Go's alone, x509: certificate signed by unknown
// authority (with $VNETGW_ENDPOINT and without $VNETGW_CA, say). A
// peer's client (PeerDir) names the peer's data directory instead.
func (c *Client) unreachable(err error) error {
	var unknownCA x509.UnknownAuthorityError
	switch {
	case c.peerDir != "" && errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing answers at %s: is the `vnetgw serve` of data directory %s running? (%w)", c.endpoint, c.peerDir, err)
	case c.peerDir != "" && errors.As(err, &unknownCA):
		if c.caFile == "" {
			return fmt.Errorf("the certificate of %s is not issued by a CA the system trusts (data directory %s holds no ca.pem, or its endpoint file says the certificate was given with --tls-cert, so the system's CAs are trusted): %w", c.endpoint, c.peerDir, err)
		}
		return fmt.Errorf("the certificate of %s is not issued by the CA of %s: is it the ca.pem of the vnetgw serve there, and not a copy from before that serve's CA was made again? (%w)", c.endpoint, c.caFile, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("nothing answers at %s: is `vnetgw serve` running (with this --data-dir, or $VNETGW_ENDPOINT)? (%w)", c.endpoint, err)
	case errors.As(err, &unknownCA):
		trusted := "a CA the system trusts"
		if c.caFile != "" {
			trusted = "the CA of " + c.caFile
		}
		return fmt.Errorf("the certificate of %s is not issued by %s (for the CLI: set $%s to the ca.pem in the data directory of the vnetgw serve there): %w", c.endpoint, trusted, EnvCA, err)
	}
	return err
}

// CloseIdleConnections closes the client's kept-alive connections that
// carry no request; a client that is no longer used should be told.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// Error is an error answered by the API.
type Error struct {
	Status  int
	Code    string
	Message string
	// Hint says what the client knows about the failure, or is "": for a
	// refused token, where the token came from.
	Hint string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Response is what a call returns beside its decoded body.
type Response struct {
	Status   int
	Warnings []string
	Bytes    int // the answer's length
}

// Do sends one request. path may hold a query, to which the api-version
// is added. in, when not nil, is sent as JSON; out, when not nil, receives
// the JSON answer.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (Response, error) {
	version := arm.NetworkAPIVersion
	if !strings.Contains(strings.ToLower(path), "/providers/") {
		version = arm.ResourcesAPIVersion
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	u := c.endpoint + path + sep + "api-version=" + url.QueryEscape(version)
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return Response{}, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if etag, ok := ctx.Value(ifMatchKey{}).(string); ok && etag != "" {
		req.Header.Set("If-Match", etag)
	}
	resp, err := c.send(req)
	if err != nil {
		return Response{}, c.unreachable(err)
	}
	defer resp.Body.Close()
	b, err := readAnswer(resp.Body, method+" "+path)
	if err != nil {
		return Response{}, err
	}
	r := Response{Status: resp.StatusCode, Bytes: len(b)}
	for _, w := range resp.Header.Values("Warning") {
		r.Warnings = append(r.Warnings, warnText(w))
	}
	if resp.StatusCode >= 400 {
		return r, c.errorOf(resp.StatusCode, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return r, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return r, nil
}

// maxAnswer bounds an answer of the API that Do and Metrics take.
const maxAnswer = 64 << 20

// readAnswer reads the answer to request what (its method and path): an
// answer of over maxAnswer bytes is an error saying so, not its first
// bytes, which would read as the whole answer (metrics) or fail to decode
// as JSON, saying nothing of why.
func readAnswer(body io.Reader, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("read answer of %s: %w", what, err)
	}
	if len(b) > maxAnswer {
		return nil, fmt.Errorf("the answer of %s is over %d MiB, the most taken: not read", what, maxAnswer>>20)
	}
	return b, nil
}

// warnText is the text of a Warning header, 199 vnetgw "text": its
// quoted-string unquoted (RFC 7230 section 3.2.6: a backslash escapes the
// character after it). A header of another form is taken whole.
func warnText(v string) string {
	i := strings.IndexByte(v, '"')
	if i < 0 {
		return v
	}
	var b strings.Builder
	for j := i + 1; j < len(v); j++ {
		switch c := v[j]; {
		case c == '\\' && j+1 < len(v):
			j++
			b.WriteByte(v[j])
		case c == '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

type ifMatchKey struct{}

// WithIfMatch returns ctx whose writes happen only while the resource's
// etag is etag (If-Match); otherwise they fail with PreconditionFailed.
func WithIfMatch(ctx context.Context, etag string) context.Context {
	return context.WithValue(ctx, ifMatchKey{}, etag)
}

// Modify reads resource id into a T, lets change alter it and writes it
// back while the resource is as read (If-Match: its etag, etagOf), and
// returns what the API answered. When another writer came in between, it
// reads again and changes that, a few times: no write undoes another.
func Modify[T any](ctx context.Context, c *Client, id arm.ID, etagOf func(*T) string, change func(*T) error) (*T, Response, error) {
	for try := 0; ; try++ {
		var v T
		if err := c.Get(ctx, id, &v); err != nil {
			return nil, Response{}, err
		}
		if err := change(&v); err != nil {
			return nil, Response{}, err
		}
		var out T
		r, err := c.Put(WithIfMatch(ctx, etagOf(&v)), id, v, &out)
		if IsPreconditionFailed(err) && try < 4 {
			continue
		}
		if err != nil {
			return nil, r, err
		}
		return &out, r, nil
	}
}

// maxErrorMessage bounds the message of an error answer that is no ARM
// error, maxARMMessage that of an ARM error.
const (
	maxErrorMessage = 1024
	maxARMMessage   = 64 << 10
)

// errorOf is the error of an answer with status >= 400 and body b.
func (c *Client) errorOf(status int, b []byte) *Error {
	e := &Error{Status: status, Code: http.StatusText(status), Message: strings.TrimSpace(string(b))}
	var env arm.ErrorResponse
	limit := maxErrorMessage
	if json.Unmarshal(b, &env) == nil && env.Error != nil {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		limit = maxARMMessage
	}
	if len(e.Message) > limit {
		// Enough of it to tell what answered (a proxy's page, say), not
		// all of it in every log line and error that shows it.
		e.Message = strings.ToValidUTF8(e.Message[:limit], "") + " …"
	}
	if status == http.StatusUnauthorized {
		from := c.tokenFrom
		if from == "" {
			from = "the client's configuration"
		}
		e.Hint = fmt.Sprintf("%s refused the token from %s: is it the admin-token of the vnetgw serve there?", c.endpoint, from)
	}
	return e
}

// Metrics returns the node's counters in the Prometheus text format
// (GET /metrics).
func (c *Client) Metrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"/metrics", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.send(req)
	if err != nil {
		return "", c.unreachable(err)
	}
	defer res.Body.Close()
	b, err := readAnswer(res.Body, "GET /metrics")
	if err != nil {
		return "", err
	}
	if res.StatusCode >= 400 {
		return "", c.errorOf(res.StatusCode, b)
	}
	return string(b), nil
}

// Put creates or updates the resource id.
func (c *Client) Put(ctx context.Context, id arm.ID, in, out any) (Response, error) {
	return c.Do(ctx, http.MethodPut, escapePath(id.String()), in, out)
}

// Get reads the resource id.
func (c *Client) Get(ctx context.Context, id arm.ID, out any) error {
	_, err := c.Do(ctx, http.MethodGet, escapePath(id.String()), nil, out)
	return err
}

// Delete deletes the resource id.
func (c *Client) Delete(ctx context.Context, id arm.ID) error {
	_, err := c.Do(ctx, http.MethodDelete, escapePath(id.String()), nil, nil)
	return err
}

// DeviceScript returns the configuration of the on-premises device at the
// far end of the site-to-site connection conn; it holds the connection's
// shared key.
func (c *Client) DeviceScript(ctx context.Context, conn arm.ID, p arm.VPNDeviceScriptParameters) (string, error) {
	var s string
	_, err := c.Do(ctx, http.MethodPost, escapePath(conn.String()+"/vpndeviceconfigurationscript"), p, &s)
	return s, err
}

// VPNClientPackage asks for gateway gw's VPN client configuration package
// with parameters p and returns its URL and, downloaded from there
// (without the token: the URL is the credential), the zip.
func (c *Client) VPNClientPackage(ctx context.Context, gw arm.ID, p arm.VPNClientParameters) (string, []byte, error) {
	var u string
	if _, err := c.Do(ctx, http.MethodPost, escapePath(gw.String()+"/generatevpnclientpackage"), p, &u); err != nil {
		return "", nil, err
	}
	b, err := c.Download(ctx, u, 16<<20)
	return u, b, err
}

// Download gets a file the API serves by an unguessable URL (a VPN client
// package, a packet capture), without the token: the URL is the
// credential, and no error of Download's shows it. A file of over max
// bytes is an error saying so, not the first max bytes: cut short, it
// would be saved as if whole.
func (c *Client) Download(ctx context.Context, u string, max int64) ([]byte, error) {
	b, err := c.download(ctx, u, max)
	if err != nil {
		return nil, &downloadError{err: err, url: u}
	}
	return b, nil
}

func (c *Client) download(ctx context.Context, u string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.send(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		// The API's refusal says why (an expired URL, a busy node): its
		// code and message, not the bare status.
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxARMMessage))
		return nil, c.errorOf(res.StatusCode, b)
	}
	if res.ContentLength > max {
		return nil, fmt.Errorf("a file of %d bytes, over the %d taken: not downloaded", res.ContentLength, max)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("a file of over %d bytes, the most taken: not downloaded", max)
	}
	return b, nil
}

// downloadError is an error of Download's, which says "download" where
// the error it wraps (Go's transport's, say) gives the URL.
type downloadError struct {
	err error
	url string
}

func (e *downloadError) Error() string {
	msg := e.err.Error()
	if u, err := url.Parse(e.url); err == nil {
		msg = strings.ReplaceAll(msg, u.String(), "the download URL")
	}
	return "download: " + strings.ReplaceAll(msg, e.url, "the download URL")
}

func (e *downloadError) Unwrap() error { return e.err }

// The most pages, and bytes in all, that List takes: an API (or a peer
// region) that keeps giving a nextLink would otherwise have it pile up
// answers until the caller's deadline. Variables for the tests.
var (
	maxListPages = 1000      // a million resources at the API's 1000 a page
	maxListBytes = 256 << 20 // what pages of 1000 resources hold at 2 KiB each, 128 times
)

// List lists the resources at path (a collection path such as
// /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks,
// which may end in a query, such as ?$filter=...), every page of it, up to
// maxListPages pages and maxListBytes in all. A page's nextLink is followed
// on the client's own endpoint, with only its path and $skipToken beside
// path's own query: the token goes nowhere else.
func List[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	out := []T{}
	size := 0
	path, rawQuery, _ := strings.Cut(path, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("list %s: the query %q: %w", path, rawQuery, err)
	}
	next := escapePath(path)
	if len(query) > 0 {
		next += "?" + query.Encode()
	}
	for pages := 1; ; pages++ {
		var l arm.List[T]
		r, err := c.Do(ctx, http.MethodGet, next, nil, &l)
		if err != nil {
			return nil, err
		}
		out = append(out, l.Value...)
		if l.NextLink == "" {
			return out, nil
		}
		if size += r.Bytes; size > maxListBytes {
			return nil, fmt.Errorf("list %s: the answer is over %d MiB in %d pages and there are more (nextLink): not taken", path, maxListBytes>>20, pages)
		}
		if pages >= maxListPages {
			return nil, fmt.Errorf("list %s: the answer is over %d pages (the API keeps giving a nextLink): not taken", path, maxListPages)
		}
		u, err := url.Parse(l.NextLink)
		if err != nil || u.Query().Get("$skipToken") == "" {
			return nil, fmt.Errorf("list %s: the nextLink %q has no $skipToken", path, l.NextLink)
		}
		// The page after goes on with the same $filter: without it, it
		// would hold what the filter left out.
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("$skipToken", u.Query().Get("$skipToken"))
		next = u.EscapedPath() + "?" + q.Encode()
	}
}

// escapePath escapes each segment of an ARM path.
func escapePath(p string) string {
	seg := strings.Split(p, "/")
	for i, s := range seg {
		seg[i] = url.PathEscape(s)
	}
	return strings.Join(seg, "/")
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsPreconditionFailed reports whether err is the API's answer to a
// write whose If-Match no longer held: another writer came in between.
func IsPreconditionFailed(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == arm.CodePreconditionFailed
}
