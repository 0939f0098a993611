package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/region"
)

// TestCaptureKeptWhenUploadFails: a stopped capture whose upload to the
// sasUrl fails (the storage refuses it, or no storage answers) is kept
// for download, at a URL the error names and the log does not; the SAS
// token shows nowhere, also when it holds characters an error would escape.
func TestCaptureKeptWhenUploadFails(t *testing.T) {
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // an expired SAS
	}))
	defer storage.Close()
	var log logbuf.Buffer
	e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}, log: &log})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	for _, sas := range []string{storage.URL + "/c?sv=1&sig=SECRET1", "http://127.0.0.1:1/c?sv=1&sig=SECRET2%22x%5C"} {
		e.must("POST", s.gw+"/startPacketCapture", nil)
		r := e.do("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": sas})
		if r.status < 400 || r.code() != "PacketCaptureUploadFailed" {
			t.Fatalf("stop with a failing sasUrl: %d %s", r.status, r.body)
		}
		if strings.Contains(string(r.body), "SECRET") || strings.Contains(log.String(), "SECRET") {
			t.Errorf("the SAS token shows in the answer or the log: %s", r.body)
		}
		u := regexp.MustCompile(`https?://[^ "]+/packetcapture/[0-9a-f]+\.pcap`).FindString(string(r.body))
		if u == "" {
			t.Fatalf("no download URL in %s", r.body)
		}
		// The URL is the capture's credential: the answer's alone.
		if name := u[strings.LastIndex(u, "/")+1:]; strings.Contains(log.String(), name) {
			t.Errorf("the log holds the kept capture's URL:\n%s", log.String())
		}
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(b) != "a capture's decrypted traffic" {
			t.Errorf("the kept capture: %d %q", res.StatusCode, b)
		}
	}
}

// TestCaptureGoesOnWhenDownloadsFull: when as many captures as are kept
// wait for download, a stop without a sasUrl is refused before the
// capture stops: it goes on, and a stop that uploads it still gets it.
func TestCaptureGoesOnWhenDownloadsFull(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got, _ = io.ReadAll(r.Body)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer storage.Close()
	e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	for range maxCaptures {
		e.must("POST", s.gw+"/startPacketCapture", nil)
		e.must("POST", s.gw+"/stopPacketCapture", nil)
	}
	e.must("POST", s.gw+"/startPacketCapture", nil)
	e.expect("POST", s.gw+"/stopPacketCapture", nil, http.StatusTooManyRequests, "TooManyRequests")
	var blob string
	if err := json.Unmarshal(e.must("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": storage.URL + "/c?sig=x"}).body, &blob); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if string(got) != "a capture's decrypted traffic" || !strings.HasPrefix(blob, storage.URL+"/c/") {
		t.Errorf("the capture after a refused stop: uploaded %q, blob %q", got, blob)
	}
}

// countingTransport counts the requests sent through it whose path ends
// in suffix.
type countingTransport struct {
	next   policy.Transporter
	suffix string
	n      atomic.Int32
}

func (c *countingTransport) Do(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(strings.ToLower(r.URL.Path), c.suffix) {
		c.n.Add(1)
	}
	return c.next.Do(r)
}

// TestRetryAfter: an answer that says "not now" (429 TooManyRequests, 503
// ServiceUnavailable) tells the client when to come again, as ARM's
// throttling does, and the Azure SDK's retry policy waits for it: told to
// wait longer than its MaxRetryDelay, it sends the request once; without
// Retry-After it sent it again at once, every retry within milliseconds.
func TestRetryAfter(t *testing.T) {
	e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}, tls: true})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	for range maxCaptures {
		e.must("POST", s.gw+"/startPacketCapture", nil)
		e.must("POST", s.gw+"/stopPacketCapture", nil)
	}
	e.must("POST", s.gw+"/startPacketCapture", nil)
	r := e.do("POST", s.gw+"/stopPacketCapture", nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "10" {
		t.Errorf("downloads full: %d, Retry-After %q; want 429 and 10", r.status, r.header.Get("Retry-After"))
	}

	opts := e.sdkOptions()
	count := &countingTransport{next: e.srv.Client(), suffix: "/stoppacketcapture"}
	opts.Transport = count
	opts.Retry = policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: time.Second}
	gws, err := armnetwork.NewVirtualNetworkGatewaysClient(subA, sdkToken{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = gws.BeginStopPacketCapture(context.Background(), "rg", "gw", armnetwork.VPNPacketCaptureStopParameters{}, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusTooManyRequests || count.n.Load() != 1 {
		t.Errorf("the SDK's stop with the downloads full: %v after %d requests; want 429 after one (Retry-After past MaxRetryDelay)", err, count.n.Load())
	}

	rec := httptest.NewRecorder()
	New(Config{}).fail(rec, httptest.NewRequest("PUT", "/", nil), arm.Errorf(arm.CodeServiceUnavailable, "the state store did not answer"))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("store unavailable: %d, Retry-After %q; want 503 and 5", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestCaptureUploadFollowsNoRedirect: a storage that answers the upload
// with a redirect does not have the capture sent where it points (Blob
// storage never redirects a Put Blob; the sasUrl is the only place the
// user named): the upload fails, naming the answer, and the capture is
// kept for download.
func TestCaptureUploadFollowsNoRedirect(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	defer other.Close()
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/stolen", code)
		}))
		e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}})
		s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		e.must("POST", s.gw+"/startPacketCapture", nil)
		r := e.do("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": storage.URL + "/c?sig=x"})
		storage.Close()
		if n := elsewhere.Load(); n != 0 {
			t.Errorf("a %d from the storage: %d requests sent where it pointed", code, n)
		}
		if r.status < 400 || r.code() != "PacketCaptureUploadFailed" || !strings.Contains(string(r.body), http.StatusText(code)) ||
			!strings.Contains(string(r.body), "/packetcapture/") {
			t.Errorf("a %d from the storage: %d %s", code, r.status, r.body)
		}
	}
}

// TestCaptureSASURLWithoutHost: a sasUrl with a port but no host name
// ("http://:8080/c") is refused as no storage container's URL, the
// capture going on: Go's client dials it on the node itself.
func TestCaptureSASURLWithoutHost(t *testing.T) {
	var reached atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	defer local.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(local.URL, "http://"), ":")
	e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("POST", s.gw+"/startPacketCapture", nil)
	r := e.do("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": "http://:" + port + "/c?sig=x"})
	if r.status != http.StatusBadRequest || r.code() != "InvalidParameter" || !strings.Contains(string(r.body), "sasUrl") || reached.Load() != 0 {
		t.Errorf("a sasUrl without a host: %d %s, %d requests on the node", r.status, r.body, reached.Load())
	}
	e.must("POST", s.gw+"/stopPacketCapture", nil) // the capture went on
}

// A stopPacketCapture whose upload to the sasUrl fails, sent by the Azure
// SDK with its default retry policy (azcore retries 408, 429, 500, 502,
// 503 and 504 for every method), is sent once, and the SDK's error is the
// failed upload's, naming where the capture is kept: the capture was
// stopped, and a stop sent again has none to stop. The failed upload was
// 502 Bad Gateway: the SDK sent the stop again, was refused (409
// NoPacketCapture, no capture running), and returned that, so that the
// URL of the kept capture never reached the user.
func TestSDKStopCaptureUploadFailsOnce(t *testing.T) {
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // an expired SAS
	}))
	defer storage.Close()
	e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}, tls: true})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("POST", s.gw+"/startPacketCapture", nil)
	opts := e.sdkOptions()
	count := &countingTransport{next: e.srv.Client(), suffix: "/stoppacketcapture"}
	opts.Transport = count
	opts.Retry = policy.RetryOptions{} // the SDK's default policy
	gws, err := armnetwork.NewVirtualNetworkGatewaysClient(subA, sdkToken{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = gws.BeginStopPacketCapture(ctx, "rg", "gw", armnetwork.VPNPacketCaptureStopParameters{SasURL: to.Ptr(storage.URL + "/c?sig=x")}, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != "PacketCaptureUploadFailed" || !strings.Contains(err.Error(), "/packetcapture/") || count.n.Load() != 1 {
		t.Errorf("the SDK's stop with a failing upload: %v, after %d requests; want PacketCaptureUploadFailed naming the kept capture's URL, after one", err, count.n.Load())
	}
}

// answerLostTransport sends each request and, for the first of each path
// that ends in one of suffixes, loses the answer: the request was made,
// and the sender gets an error instead (the connection cut as the answer
// came), which the Azure SDK's retry policy sends again. It is both the
// SDK's transport and a node's to the others.
type answerLostTransport struct {
	next     func(*http.Request) (*http.Response, error)
	suffixes []string
	mu       sync.Mutex // guards lost
	lost     map[string]bool
}

func (c *answerLostTransport) Do(r *http.Request) (*http.Response, error) {
	res, err := c.next(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.suffixes {
		if path := strings.ToLower(r.URL.Path); err == nil && strings.HasSuffix(path, s) && !c.lost[s] {
			c.lost[s] = true
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return nil, errors.New("read: connection reset by peer")
		}
	}
	return res, err
}

func (c *answerLostTransport) RoundTrip(r *http.Request) (*http.Response, error) { return c.Do(r) }

// A packet capture's start and stop, each sent by the Azure SDK with its
// default retry policy and its first answer lost on the way (the
// connection cut) to the SDK, or from the node that runs the gateway to
// the node the SDK asked (answered 502 NodeUnreachable), are answered as
// made: the start as started, the stop with the URL of the capture it
// stopped, which serves it. The SDK sends each again after a lost answer
// or a 502 (for every method), and the start was refused as a capture
// ran (409 PacketCaptureAlreadyInProgress), and the stop as none ran (409
// PacketCaptureNotInProgress), the capture's URL lost with the first
// answer.
func TestSDKCaptureAnswerLost(t *testing.T) {
	for _, between := range []bool{false, true} {
		name := "to the SDK"
		if between {
			name = "between nodes"
		}
		t.Run(name, func(t *testing.T) {
			suffixes := []string{"/startpacketcapture", "/stoppacketcapture"}
			dp := &captureDP{running: map[string]bool{}}
			o := envOptions{dp: dp, tls: true}
			var reg *region.Region
			var other *url.URL
			var lossy *answerLostTransport
			if between {
				lossy = &answerLostTransport{next: http.DefaultTransport.RoundTrip, suffixes: suffixes, lost: map[string]bool{}}
				o = envOptions{reg: &reg, tls: true, elsewhere: func(string) *url.URL { return other }, transport: lossy}
			}
			e := newEnv(t, o)
			if between {
				b := httptest.NewUnstartedServer(nil)
				b.Listener = listenLoopback(t)
				b.Config.Handler = New(Config{Region: reg, Token: testToken, DataPlane: dp,
					Endpoint: "http://" + b.Listener.Addr().String(), OwnHost: func(string) bool { return true }})
				b.Start()
				t.Cleanup(b.Close)
				other, _ = url.Parse(b.URL)
			}
			e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
			opts := e.sdkOptions()
			if !between {
				lossy = &answerLostTransport{next: e.srv.Client().Do, suffixes: suffixes, lost: map[string]bool{}}
				opts.Transport = lossy
			}
			opts.Retry = policy.RetryOptions{} // the SDK's default policy
			captureAnswerLost(t, e, opts, lossy)
		})
	}
}

// captureAnswerLost starts and stops a capture of gateway gw with the
// SDK's options opts, the first answer to each lost by lossy, and wants
// both made and the capture served at the stop's URL; then again, the
// stop with a sasUrl, and wants the capture uploaded once and the blob's
// URL answered.
func captureAnswerLost(t *testing.T, e *env, opts *azarm.ClientOptions, lossy *answerLostTransport) {
	t.Helper()
	var uploads atomic.Int32
	storage := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uploads.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	storage.Listener = listenLoopback(t)
	storage.Start()
	defer storage.Close()
	gws, err := armnetwork.NewVirtualNetworkGatewaysClient(subA, sdkToken{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start, err := gws.BeginStartPacketCapture(ctx, "rg", "gw", &armnetwork.VirtualNetworkGatewaysClientBeginStartPacketCaptureOptions{
		Parameters: &armnetwork.VPNPacketCaptureStartParameters{FilterData: to.Ptr(`{"MaxFileSize": 10}`)}})
	if err == nil {
		_, err = start.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Errorf("the SDK's start, its first answer lost: %v", err)
	}
	stop, err := gws.BeginStopPacketCapture(ctx, "rg", "gw", armnetwork.VPNPacketCaptureStopParameters{}, nil)
	var res armnetwork.VirtualNetworkGatewaysClientStopPacketCaptureResponse
	if err == nil {
		res, err = stop.PollUntilDone(ctx, nil)
	}
	if err != nil || res.Value == nil {
		t.Fatalf("the SDK's stop, its first answer lost: %v", err)
	}
	got, err := e.srv.Client().Get(*res.Value)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if got.StatusCode != http.StatusOK || string(b) != "a capture's decrypted traffic" {
		t.Errorf("the capture at the stop's URL %s: %d %q", *res.Value, got.StatusCode, b)
	}

	lossy.mu.Lock()
	clear(lossy.lost)
	lossy.mu.Unlock()
	start, err = gws.BeginStartPacketCapture(ctx, "rg", "gw", nil)
	if err == nil {
		_, err = start.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Errorf("the SDK's second start, its first answer lost: %v", err)
	}
	stop, err = gws.BeginStopPacketCapture(ctx, "rg", "gw", armnetwork.VPNPacketCaptureStopParameters{SasURL: to.Ptr(storage.URL + "/c?sig=x")}, nil)
	if err == nil {
		res, err = stop.PollUntilDone(ctx, nil)
	}
	if err != nil || res.Value == nil || !strings.HasPrefix(*res.Value, storage.URL+"/c/gw-") || uploads.Load() != 1 {
		t.Errorf("the SDK's stop to a sasUrl, its first answer lost: %v, answered %v after %d uploads; want the blob's URL after one", err, res.Value, uploads.Load())
	}
	// A start with another filter while a capture runs is no start sent
	// again: refused.
	gw := netPath(subA, "rg", "virtualNetworkGateways", "gw")
	if r := e.do("POST", gw+"/startPacketCapture", obj{"filterData": `{"MaxFileSize": 10}`}); r.status != http.StatusOK {
		t.Errorf("a start after the stop: %d %s", r.status, r.body)
	}
	if r := e.do("POST", gw+"/startPacketCapture", obj{"filterData": `{"MaxFileSize": 20}`}); r.code() != "PacketCaptureAlreadyInProgress" {
		t.Errorf("a start with another filter while a capture runs: %d %s; want PacketCaptureAlreadyInProgress", r.status, r.body)
	}
}

// TestStopSentAgainDuringUpload: a stop sent again while the first one's
// upload still goes on (its client gave up waiting: a proxy's timeout, a
// connection reset) waits for that upload and is answered as the first:
// the blob's URL, uploaded once, whether the upload works or fails (then
// with the same error, naming where the capture is kept). It was refused
// with 409 PacketCaptureNotInProgress, and the blob's URL was lost.
func TestStopSentAgainDuringUpload(t *testing.T) {
	for _, status := range []int{http.StatusCreated, http.StatusForbidden} {
		arrived, release := make(chan struct{}, 2), make(chan struct{})
		var uploads atomic.Int32
		storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			uploads.Add(1)
			arrived <- struct{}{}
			<-release // a slow storage account
			w.WriteHeader(status)
		}))
		t.Cleanup(storage.Close)
		free := sync.OnceFunc(func() { close(release) })
		t.Cleanup(free) // before the storage closes, also on failure
		e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}})
		s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		e.must("POST", s.gw+"/startPacketCapture", nil)
		sas := storage.URL + "/c?sig=x"
		first := make(chan resp, 1)
		go func() { first <- e.do("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": sas}) }()
		<-arrived
		again := make(chan resp, 1)
		go func() { again <- e.do("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": sas}) }()
		// The stop sent again waits for the upload.
		select {
		case r := <-again:
			t.Fatalf("storage answering %d: the stop sent again answered during the upload: %d %s", status, r.status, r.body)
		case <-time.After(200 * time.Millisecond):
		}
		free()
		r1, r2 := <-first, <-again
		if r1.status != r2.status || string(r1.body) != string(r2.body) || status == http.StatusCreated && r1.status != http.StatusOK {
			t.Errorf("storage answering %d: first stop %d %s, the same sent again %d %s", status, r1.status, r1.body, r2.status, r2.body)
		}
		if n := uploads.Load(); n != 1 {
			t.Errorf("storage answering %d: %d uploads, want 1", status, n)
		}
	}
}

// TestCaptureBlobsDoNotOverwrite: two captures of a gateway stopped
// within a second, to one container, are two blobs; their names were the
// gateway's and the second, so the second upload overwrote the first.
func TestCaptureBlobsDoNotOverwrite(t *testing.T) {
	var mu sync.Mutex
	paths := map[string]int{}
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths[r.URL.Path]++
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer storage.Close()
	e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	var blobs []string
	for range 2 {
		e.must("POST", s.gw+"/startPacketCapture", nil)
		var blob string
		if err := json.Unmarshal(e.must("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": storage.URL + "/c?sig=x"}).body, &blob); err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, blob)
	}
	mu.Lock()
	defer mu.Unlock()
	if blobs[0] == blobs[1] || len(paths) != 2 {
		t.Errorf("two captures stopped at once went to blobs %q, uploads %v; want two blobs", blobs, paths)
	}
}

// TestStopSentAgainWhenDownloadsFull: a stop sent again (its answer was
// lost) after it took the last place for download is answered as the
// first was, with the URL of the capture it stopped, also once its upload
// to a sasUrl failed and the capture took that place. It was refused with
// 429 TooManyRequests, the places being full of its own capture, and the
// capture's URL was lost with the first answer.
func TestStopSentAgainWhenDownloadsFull(t *testing.T) {
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // an expired SAS
	}))
	defer storage.Close()
	for _, sas := range []string{"", storage.URL + "/c?sig=x"} {
		e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}})
		s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
		for range maxCaptures - 1 {
			e.must("POST", s.gw+"/startPacketCapture", nil)
			e.must("POST", s.gw+"/stopPacketCapture", nil)
		}
		e.must("POST", s.gw+"/startPacketCapture", nil)
		var body any
		if sas != "" {
			body = obj{"sasUrl": sas}
		}
		first := e.do("POST", s.gw+"/stopPacketCapture", body)
		if first.status != http.StatusOK && first.code() != "PacketCaptureUploadFailed" {
			t.Fatalf("sasUrl %q: the stop that takes the last place: %d %s", sas, first.status, first.body)
		}
		again := e.do("POST", s.gw+"/stopPacketCapture", body)
		if again.status != first.status || string(again.body) != string(first.body) {
			t.Errorf("sasUrl %q: the stop %d %s, the same sent again %d %s; want the same answer", sas, first.status, first.body, again.status, again.body)
		}
	}
}

// bigCaptureDP is captureDP whose captures are size bytes each.
type bigCaptureDP struct {
	captureDP
	size int
}

func (d *bigCaptureDP) StopPacketCapture(id string) ([]byte, uint64, uint64, error) {
	if _, _, _, err := d.captureDP.StopPacketCapture(id); err != nil {
		return nil, 0, 0, err
	}
	return bytes.Repeat([]byte{0xa5}, d.size), 1, 0, nil
}

// TestCaptureUploadsBoundMemory: the captures being uploaded to a slow
// storage are bounded, as the captures that run and those kept for
// download are: a stop with a sasUrl while maxCaptures uploads go on is
// refused with 429 TooManyRequests before the capture stops (it goes on,
// and is uploaded by a stop once one of them ends). Each upload held its
// file in memory for up to pcap.UploadTimeout, and a gateway's capture
// could be started and stopped again at once, so that a slow storage
// account had the node hold as many files as the user stopped, past the
// bound the README gives.
func TestCaptureUploadsBoundMemory(t *testing.T) {
	const size = 8 << 20
	arrived, release := make(chan struct{}, 4*maxCaptures), make(chan struct{})
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release // a slow storage account: it reads nothing yet
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(storage.Close)
	free := sync.OnceFunc(func() { close(release) })
	e := newEnv(t, envOptions{dp: &bigCaptureDP{captureDP: captureDP{running: map[string]bool{}}, size: size}})
	t.Cleanup(free) // before the storage and the API close, also on failure
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	sas := obj{"sasUrl": storage.URL + "/c?sig=x"}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	answers := make(chan resp, 2*maxCaptures+1)
	uploading, again := 0, make(chan resp, 1)
	for i := range 2 * maxCaptures {
		if i == maxCaptures {
			// The last stop sent again (its answer lost) waits
			// for its upload, as any does, though the uploads are
			// full.
			go func() { again <- e.do("POST", s.gw+"/stopPacketCapture", sas) }()
			select {
			case r := <-again:
				t.Fatalf("the last stop sent again with %d uploads going on: %d %s; want it to wait for its upload", uploading, r.status, r.body)
			case <-time.After(200 * time.Millisecond):
			}
		}
		e.must("POST", s.gw+"/startPacketCapture", nil)
		go func() { answers <- e.do("POST", s.gw+"/stopPacketCapture", sas) }()
		select {
		case <-arrived:
			uploading++
		case r := <-answers:
			if r.status != http.StatusTooManyRequests || r.code() != "TooManyRequests" {
				t.Fatalf("a stop with %d uploads going on: %d %s; want 429 TooManyRequests", uploading, r.status, r.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a stop with a sasUrl neither uploaded nor answered")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); uploading > maxCaptures || held > (maxCaptures+1)*size {
		t.Errorf("%d captures of %d MiB uploading at once, the heap %d MiB larger; want at most %d uploading", uploading, size>>20, held>>20, maxCaptures)
	}
	free()
	for range uploading {
		if r := <-answers; r.status != http.StatusOK {
			t.Errorf("an upload once the storage reads: %d %s", r.status, r.body)
		}
	}
	if r := <-again; r.status != http.StatusOK {
		t.Errorf("the last stop sent again once its upload ended: %d %s", r.status, r.body)
	}
	// The capture whose stop was refused went on: a stop uploads it.
	go func() { answers <- e.do("POST", s.gw+"/stopPacketCapture", sas) }()
	if r := <-answers; r.status != http.StatusOK {
		t.Errorf("the stop of the capture that went on: %d %s", r.status, r.body)
	}
}
