package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/logbuf"
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
