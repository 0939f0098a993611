package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/logbuf"
)

// TestCaptureKeptWhenUploadFails: a stopped capture whose upload to the
// sasUrl fails (the storage refuses it, or no storage answers) is kept
// for download, at a URL the error names; the SAS token shows nowhere,
// also when it holds characters an error would escape.
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
