// Package api serves vnetgw's ARM-shaped REST API: it authenticates the
// caller, routes ARM paths, decodes and validates the request shape, calls
// the region, and translates errors into ARM error envelopes (errors.go
// holds the one table from error code to HTTP status). It decides nothing
// about resources itself.
package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/devicecfg"
	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/pcap"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// MaxBodyBytes bounds a request body, as ARM does (4 MiB).
const MaxBodyBytes = 4 << 20

// API versions accepted per provider: any date version from these on.
const (
	MinNetworkAPIVersion   = "2024-05-01"
	MinResourcesAPIVersion = "2019-10-01"
	MinInsightsAPIVersion  = "2018-01-01"
)

var apiVersionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// Config configures the API handler.
type Config struct {
	Region *region.Region
	// Token is the bearer token every request must present.
	Token  string
	Logger *slog.Logger
	// Ports are the gateways' IKE ports, for device configurations.
	Ports devicecfg.Ports
	// DataPlane answers about and resets running tunnels; nil answers
	// as if none ran.
	DataPlane DataPlane
	// Elsewhere, when several nodes share the region, returns the API of
	// the node that runs a VNet (by lower-cased id) when that is another
	// node; requests about what runs there are forwarded to it. Transport
	// reaches the other nodes.
	Elsewhere func(vnet string) *url.URL
	Transport http.RoundTripper
	// Cluster, when several nodes share the region, lists and manages
	// them (clusterPath).
	Cluster Cluster
	// SSTPPort and GatewayCA (PEM: the CA of the gateways' certificates)
	// go into VPN client packages.
	SSTPPort  uint16
	GatewayCA []byte
	// OpenVPNKey gives a gateway's OpenVPN static key by its
	// resourceGuid, for the profile in its VPN client package.
	OpenVPNKey func(gatewayGUID string) (*openvpn.StaticKey, error)
	// Insights is the history of this node's tunnel counters, for Azure
	// Monitor's metrics queries; nil answers that none is kept.
	Insights *insights.History
	// InternetEgress says the data plane takes the VNets' hosts to the
	// Internet (serve --internet-egress), as their effective routes show.
	InternetEgress bool
	// Endpoint (https://HOST:PORT) is where absolute links (a list's
	// nextLink, a 202's Location) send a client whose Host header is none
	// of OwnHost's; "" gives them as paths.
	Endpoint string
	// OwnHost reports whether a host name or address is the API's own
	// (one its TLS certificate names), so that links may name it; nil
	// takes localhost, 127.0.0.1 and ::1.
	OwnHost func(host string) bool
}

// DataPlane is the running data plane as the API sees it.
type DataPlane interface {
	// IKESAs returns the IKE SAs of connection id, the newest first.
	IKESAs(id string) []arm.IKESA
	// ResetConnection ends the tunnel of connection id, telling the peer,
	// and starts it again: at the gateway instance whose public address
	// is vip, or at all when vip is the zero Addr; it reports whether a
	// gateway runs it.
	ResetConnection(id string, vip netip.Addr) bool
	// BGPPeers returns the BGP peers of gateway id, of all its instances.
	BGPPeers(id string) []arm.BGPPeerStatus
	// LearnedRoutes returns the routes gateway id knows: its own ranges
	// and what its BGP peers announced.
	LearnedRoutes(id string) []arm.GatewayRoute
	// AdvertisedRoutes returns what gateway id announces to the BGP peer
	// at addr.
	AdvertisedRoutes(id string, peer netip.Addr) []arm.GatewayRoute
	// LearnedPrefixes returns the prefixes gateway id learned over BGP
	// and routes, for the effective routes of its VNet's interfaces.
	LearnedPrefixes(id string) []netip.Prefix
	// VPNClients returns the point-to-site clients of gateway id.
	VPNClients(id string) []arm.VPNClientConnectionHealthDetail
	// DisconnectVPNClients ends the point-to-site connections of gateway
	// id with the given ids and returns how many were connected.
	DisconnectVPNClients(id string, ids []string) int
	// WriteMetrics writes the counters of what runs here in the
	// Prometheus text format.
	WriteMetrics(w io.Writer) error
	// StartPacketCapture starts capturing the inner packets of gateway or
	// connection id; StopPacketCapture ends it and returns the pcap file,
	// how many packets it holds and how many it missed (full).
	StartPacketCapture(id string, cfg pcap.Config) error
	StopPacketCapture(id string) (file []byte, captured, missed uint64, err error)
}

// noDataPlane is the DataPlane of an API without one.
type noDataPlane struct{}

func (noDataPlane) IKESAs(string) []arm.IKESA                               { return nil }
func (noDataPlane) ResetConnection(string, netip.Addr) bool                 { return false }
func (noDataPlane) BGPPeers(string) []arm.BGPPeerStatus                     { return nil }
func (noDataPlane) LearnedRoutes(string) []arm.GatewayRoute                 { return nil }
func (noDataPlane) AdvertisedRoutes(string, netip.Addr) []arm.GatewayRoute  { return nil }
func (noDataPlane) LearnedPrefixes(string) []netip.Prefix                   { return nil }
func (noDataPlane) VPNClients(string) []arm.VPNClientConnectionHealthDetail { return nil }
func (noDataPlane) DisconnectVPNClients(string, []string) int               { return 0 }
func (noDataPlane) WriteMetrics(io.Writer) error                            { return nil }
func (noDataPlane) StartPacketCapture(string, pcap.Config) error            { return errNotRunning }
func (noDataPlane) StopPacketCapture(string) ([]byte, uint64, uint64, error) {
	return nil, 0, 0, errNotRunning
}

// errNotRunning answers what only a running gateway can do.
var errNotRunning = arm.Errorf(arm.CodeGatewayNotReady, "the gateway does not run on this node")

// Handler is the API's http.Handler.
type Handler struct {
	region     *region.Region
	put        map[string]putFunc
	tokenHash  [sha256.Size]byte
	log        *slog.Logger
	ports      devicecfg.Ports
	dp         DataPlane
	elsewhere  func(vnet string) *url.URL
	cluster    Cluster
	proxy      *httputil.ReverseProxy
	sstpPort   uint16
	gatewayCA  []byte
	openVPNKey func(string) (*openvpn.StaticKey, error)
	packages   *downloads
	captures   *downloads
	// uploads holds a token for each capture being uploaded to a
	// sasUrl: at most maxCaptures at once, each holding its file.
	uploads chan struct{}
	// capturesAt are the captures other nodes keep for download whose
	// URLs this node handed out (relayCaptures): by name, the API of the
	// node that keeps it.
	capturesAt expiring[*url.URL]
	// answered are the answers to this node's latest starts and stops
	// of packet captures, for the same request sent again.
	answered captureAnswers
	insights *insights.History
	internet bool
	stats    requestStats
	// pageSize is how many items a list answers at most (PageSize).
	pageSize int
	endpoint string
	ownHost  func(string) bool
}

var _ http.Handler = (*Handler)(nil)

// New returns the API handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DataPlane == nil {
		cfg.DataPlane = noDataPlane{}
	}
	h := &Handler{region: cfg.Region, tokenHash: sha256.Sum256([]byte(cfg.Token)), log: cfg.Logger, ports: cfg.Ports, dp: cfg.DataPlane,
		elsewhere: cfg.Elsewhere, cluster: cfg.Cluster, sstpPort: cfg.SSTPPort, gatewayCA: cfg.GatewayCA, openVPNKey: cfg.OpenVPNKey, packages: newDownloads("VPN client packages", packagePath, ".zip", maxPackages, "application/zip", "vpnclientconfiguration.zip"),
		captures: newDownloads("packet captures", capturePath, ".pcap", maxCaptures, "application/vnd.tcpdump.pcap", "capture.pcap"), uploads: make(chan struct{}, maxCaptures), insights: cfg.Insights, internet: cfg.InternetEgress,
		pageSize: PageSize, endpoint: cfg.Endpoint, ownHost: cfg.OwnHost}
	if h.ownHost == nil {
		h.ownHost = loopbackHost
	}
	if h.elsewhere != nil {
		h.proxy = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(pr.In.Context().Value(forwardTo{}).(forward).to)
				pr.Out.Header.Set(headerForwarded, "1")
				// The other node logs the request under the same correlation id.
				pr.Out.Header.Set("X-Ms-Correlation-Request-Id", pr.In.Context().Value(correlation{}).(string))
			},
			// The answer keeps this node's ids, which its log names.
			ModifyResponse: func(res *http.Response) error {
				f := res.Request.Context().Value(forwardTo{}).(forward)
				if !f.began() {
					return context.Cause(res.Request.Context())
				}
				for _, k := range []string{"X-Ms-Request-Id", "X-Ms-Correlation-Request-Id", "X-Ms-Client-Request-Id"} {
					res.Header.Del(k)
				}
				// A 202's Location (an operation result, which every node
				// answers) names the node the client called, which may
				// be the only one it reaches (a load balancer's), not
				// the node that ran the request.
				if loc, err := url.Parse(res.Header.Get("Location")); err == nil && loc.Host != "" && loc.Host == res.Request.URL.Host {
					res.Header.Set("Location", f.base+loc.RequestURI())
				}
				if f.capture {
					return h.relayCaptures(res, f)
				}
				return nil
			},
			Transport: cfg.Transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				// The client's body over the limit (read as it was sent
				// on) is the client's error, 413, not the other node's.
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					h.fail(w, r, mbe)
					return
				}
				if cause := context.Cause(r.Context()); errors.Is(cause, errNoAnswer) {
					err = cause
				}
				h.fail(w, r, arm.Errorf(arm.CodeNodeUnreachable, "the node that runs this resource could not be asked: %v", err))
			},
		}
	}
	h.put = map[string]putFunc{
		arm.TypeResourceGroup:         bindPut(h.region.PutGroup),
		arm.TypeVirtualNetwork:        bindPut(h.region.PutVirtualNetwork),
		arm.TypeSubnet:                bindPut(h.region.PutSubnet),
		arm.TypePublicIPAddress:       bindPut(h.region.PutPublicIP),
		arm.TypeVirtualNetworkGateway: bindPut(h.region.PutGateway),
		arm.TypeLocalNetworkGateway:   bindPut(h.region.PutLocalGateway),
		arm.TypeConnection:            bindPut(h.region.PutConnection),
		arm.TypeNetworkInterface:      bindPut(h.region.PutNetworkInterface),
		arm.TypeRouteTable:            bindPut(h.region.PutRouteTable),
		arm.TypeNatRule:               bindPut(h.region.PutNatRule),
		arm.TypeRoute:                 bindPut(h.region.PutRoute),
	}
	return h
}

// authorized compares the presented bearer token with the configured one
// in constant time (hashing first, so that not even the length leaks). The
// scheme matches in any case and may be followed by several spaces
// (RFC 7235 section 2.1). Spaces and tabs around the value are not part of
// it, over HTTP/2 too, whose server keeps them where HTTP/1.1's drops them.
func (h *Handler) authorized(r *http.Request) bool {
	// RFC 9110 section 5.5: such whitespace MUST be excluded before the value is evaluated.
	scheme, tok, ok := strings.Cut(strings.Trim(r.Header.Get("Authorization"), " \t"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	tok = strings.TrimLeft(tok, " ")
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], h.tokenHash[:]) == 1
}

// responseWriter remembers the status for the request log, and whether
// the answer began.
type responseWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *responseWriter) WriteHeader(s int) {
	w.status, w.wrote = s, true
	w.ResponseWriter.WriteHeader(s)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// requestIDRE is a request id a client may send that the API takes and
// logs: ARM's are GUIDs; this keeps to a short token.
var requestIDRE = regexp.MustCompile(`^[-A-Za-z0-9._:]{1,128}$`)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// ARM's request ids: one of the API's own per answer, the caller's
	// correlation id (or a new one), and its client request id, which
	// comes back when asked for. The resource provider contract says the
	// correlation and client request ids must be logged.
	id, corr, client := region.NewGUID(), r.Header.Get("X-Ms-Correlation-Request-Id"), r.Header.Get("X-Ms-Client-Request-Id")
	if !requestIDRE.MatchString(corr) {
		corr = region.NewGUID()
	}
	if !requestIDRE.MatchString(client) {
		client = ""
	}
	w.Header().Set("X-Ms-Request-Id", id)
	w.Header().Set("X-Ms-Correlation-Request-Id", corr)
	if client != "" && strings.EqualFold(r.Header.Get("X-Ms-Return-Client-Request-Id"), "true") {
		w.Header().Set("X-Ms-Client-Request-Id", client)
	}
	rw := &responseWriter{ResponseWriter: w, status: http.StatusOK}
	h.serveRecovering(rw, r.WithContext(context.WithValue(r.Context(), correlation{}, corr)))
	h.stats.add(r.Method, rw.status, time.Since(start))
	// Never the body: it may hold a shared key.
	attrs := []any{"method", r.Method, "path", loggedPath(r), "status", rw.status, "duration", time.Since(start).Round(time.Microsecond),
		"request_id", id, "correlation_id", corr}
	if client != "" {
		attrs = append(attrs, "client_request_id", client)
	}
	h.log.Info("request", attrs...)
}

// serveRecovering is serve, whose panic answers 500 with ARM's envelope
// (if the answer had not begun) and is logged with its stack, where
// net/http would end the connection with no answer and log it apart.
func (h *Handler) serveRecovering(w *responseWriter, r *http.Request) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p) // the proxy's: it cuts the answer short on purpose
		}
		h.log.Error("request panicked", "method", r.Method, "path", loggedPath(r), "panic", downloadNameRE.ReplaceAllString(fmt.Sprint(p), "$1…"), "stack", string(debug.Stack()))
		if w.wrote {
			return
		}
		ae, status := toARM(errPanicked)
		writeJSON(w, status, arm.ErrorResponse{Error: ae})
	}()
	h.serve(w, r)
}

// errPanicked is a request's panic, as its answer tells it.
var errPanicked = errors.New("panicked")

// loggedPath is the path of r as logs and errors show it: without a
// download's name, which is its credential.
func loggedPath(r *http.Request) string {
	for _, p := range []string{packagePath, capturePath} {
		if strings.HasPrefix(r.URL.Path, p) {
			return p + "…"
		}
	}
	return r.URL.Path
}

// downloadNameRE finds the names of downloads in the text of an error (a
// failed upload's names where the capture is kept instead), for the log.
var downloadNameRE = regexp.MustCompile("(" + regexp.QuoteMeta(packagePath) + "|" + regexp.QuoteMeta(capturePath) + `)[^\s"';,)]+`)

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if name, ok := strings.CutPrefix(r.URL.Path, packagePath); ok {
		// The URL is the credential, as Azure's SAS URL is.
		h.packages.serve(h, w, r, name)
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, capturePath); ok {
		if to, ok := h.capturesAt.get(name); ok && r.Header.Get(headerForwarded) == "" {
			h.forward(w, r, forward{to: to, base: h.base(r)}, 0)
			return
		}
		h.captures.serve(h, w, r, name)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vnetgw"`)
		h.fail(w, r, arm.Errorf(arm.CodeAuthenticationFailed, "authentication failed: send the admin token as 'Authorization: Bearer <token>'"))
		return
	}
	if r.URL.Path == metricsPath {
		h.serveMetrics(w, r)
		return
	}
	if rest, ok := cutPrefixFold(r.URL.Path, clusterPath); ok {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		h.serveCluster(w, r, rest)
		return
	}
	rt, err := parseRoute(r.URL.EscapedPath())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := checkAPIVersion(r.URL.Query().Get("api-version"), rt.namespace()); err != nil {
		h.fail(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	// A read sees every write acknowledged before it, also one another
	// node made (writes sync by themselves); so does a POST that reads
	// (ARM makes effectiveRouteTable, a device script, a package a POST),
	// and the resource a POST is about. Before the live requests are
	// sent to the node that runs them: it is known by that state too.
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodPost {
		if err := h.region.Sync(r.Context()); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if to := h.runsElsewhere(r, rt); to != nil {
		f := forward{to: to, base: h.base(r), capture: rt.sub == "stoppacketcapture"}
		var wait time.Duration
		if f.capture {
			// The other node answers once the capture is uploaded to
			// the sasUrl, or that upload gave up.
			wait = pcap.UploadTimeout
		}
		h.forward(w, r, f, wait)
		return
	}
	h.dispatch(w, r, rt)
}

// metricsPath is where Prometheus scrapes the counters of what this node
// runs, with the admin token (authorization: credentials_file).
const metricsPath = "/metrics"

func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.fail(w, r, methodNotAllowed(r, http.MethodGet, http.MethodHead))
		return
	}
	var b bytes.Buffer
	if err := h.dp.WriteMetrics(&b); err != nil {
		h.fail(w, r, err)
		return
	}
	h.stats.write(&b)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(b.Bytes())
}

// cutPrefixFold is strings.CutPrefix, ignoring case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// headerForwarded marks a request one node forwarded to another, which
// answers it itself: never a second hop.
const headerForwarded = "X-Vnetgw-Forwarded"

// forwardTo carries the forward of a request to another node, in its
// context.
type forwardTo struct{}

// forward is where a request goes (the URL of the node that runs what it
// is about) and the base of the links in its answer (this node's, as the
// client came by it).
type forward struct {
	to   *url.URL
	base string
	// capture: a stopPacketCapture, whose answer may name a capture
	// kept for download there.
	capture bool
	// began stops the clock of the answer's beginning: false if it had
	// run out.
	began func() bool
}

// forwardAnswerTimeout is how long a node waits for the answer of a
// request it forwarded to begin, beyond the other node's own bound of
// its work: more than that node's wait for the store (region.SyncTimeout,
// then 503), far more than the live requests take.
var forwardAnswerTimeout = 30 * time.Second

// errNoAnswer: the node a request was forwarded to took it and did not
// answer (its process stopped or stuck, the way to it cut once connected).
var errNoAnswer = errors.New("it did not answer")

// forward sends r to the node f.to and answers what that node answers.
// Its answer must begin within forwardAnswerTimeout and wait, or r is
// answered 502 NodeUnreachable: the client (the Azure SDKs have no
// timeout) is not left waiting for ever. Once begun, the answer's body
// (a capture's download) takes as long as it takes.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, f forward, wait time.Duration) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	d := forwardAnswerTimeout + wait
	f.began = time.AfterFunc(d, func() { cancel(fmt.Errorf("%w within %s", errNoAnswer, d)) }).Stop
	defer f.began()
	h.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, forwardTo{}, f)))
}

// correlation carries a request's correlation id, in its context.
type correlation struct{}

// live are the requests that only the data plane running a resource can
// answer.
var live = map[string]bool{
	"effectiveRouteTable": true, "getikesas": true, "resetconnection": true, "reset": true,
	"getvpnclientconnectionhealth": true, "metrics": true, "startpacketcapture": true, "stoppacketcapture": true, "disconnectvirtualnetworkgatewayvpnconnections": true, "getbgppeerstatus": true, "getlearnedroutes": true, "getadvertisedroutes": true,
}

// runsElsewhere returns the API of the node that runs what a live request
// is about, when that is another node.
func (h *Handler) runsElsewhere(r *http.Request, rt route) *url.URL {
	if h.elsewhere == nil || !live[rt.sub] || r.Header.Get(headerForwarded) != "" {
		return nil
	}
	v := h.region.VNetOf(rt.kind, rt.id)
	if v == "" {
		return nil
	}
	return h.elsewhere(v)
}

func checkAPIVersion(v, namespace string) error {
	min := MinNetworkAPIVersion
	switch namespace {
	case namespaceInsights:
		min = MinInsightsAPIVersion
	case arm.NamespaceNetwork:
	default:
		min = MinResourcesAPIVersion
	}
	switch {
	case v == "":
		return arm.Errorf(arm.CodeMissingAPIVersion, "the api-version query parameter (?api-version=) is required for all requests; %s supports %s and later", namespace, min)
	case !apiVersionRE.MatchString(v) || v < min:
		return arm.Errorf(arm.CodeInvalidAPIVersion, "the api-version '%s' is invalid; %s supports %s and later", v, namespace, min)
	}
	return nil
}

// fail writes an ARM error envelope.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae, status := toARM(err)
	if status >= 500 {
		h.log.Error("request failed", "method", r.Method, "path", loggedPath(r), "err", downloadNameRE.ReplaceAllString(err.Error(), "$1…"))
	} else {
		h.log.Debug("request refused", "method", r.Method, "path", loggedPath(r), "code", ae.Code, "message", downloadNameRE.ReplaceAllString(ae.Message, "$1…"))
	}
	if s := retryAfter[status]; s != "" {
		w.Header().Set("Retry-After", s)
	}
	var na *notAllowed
	if errors.As(err, &na) {
		// RFC 9110 section 15.5.6: a 405 MUST have an Allow header.
		w.Header().Set("Allow", na.allow)
	}
	writeJSON(w, status, arm.ErrorResponse{Error: ae})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"encoding the response failed"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// decode reads a JSON request body into a new T. Fields that T does not
// know are ignored, as ARM ignores them.
func decode[T any](r *http.Request) (*T, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	return decodeBody[T](b)
}

// decodeOptional is decode for the operations whose body may be left
// out: without one (Content-Length 0) it is a zero T.
func decodeOptional[T any](r *http.Request) (*T, error) {
	if r.ContentLength == 0 {
		return new(T), nil
	}
	return decode[T](r)
}

// decodeBody is decode on bytes; the fuzz targets call it.
func decodeBody[T any](b []byte) (*T, error) {
	v := new(T)
	switch strings.TrimSpace(string(b)) {
	case "":
		return nil, arm.Errorf(arm.CodeInvalidRequestContent, "the request body is empty; it must be a JSON object")
	case "null":
		// json.Unmarshal takes null into a struct as nothing at all.
		return nil, arm.Errorf(arm.CodeInvalidRequestContent, "the request body is null; it must be a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, arm.Errorf(arm.CodeInvalidRequestFormat, "the request body is not valid JSON for this resource: %v", jsonError(err))
	}
	return v, nil
}

// jsonKind names the JSON value that decodes into a value of type t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer (in range)"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another JSON value"
}

// jsonError describes a decoding error without quoting the input.
func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		// The path names the Go structs embedded on the way
		// (Resource.location), which JSON does not have.
		path := slices.DeleteFunc(strings.Split(te.Field, "."), func(f string) bool { return f == "" || unicode.IsUpper(rune(f[0])) })
		what := "the body"
		if len(path) > 0 {
			what = "property " + strings.Join(path, ".")
		}
		got, _, _ := strings.Cut(te.Value, " ") // "number 1e99": not the number
		return what + " must be " + jsonKind(te.Type) + ", not " + got
	case errors.As(err, &se):
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	return "malformed JSON"
}
