package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/pcap"
)

// captureDP is a data plane whose packet captures are started and then
// stopped once, giving a file.
type captureDP struct {
	noDataPlane
	mu      sync.Mutex
	running map[string]bool
}

func (d *captureDP) StartPacketCapture(id string, _ pcap.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running[strings.ToLower(id)] {
		return arm.Errorf(arm.CodePacketCaptureRunning, "a packet capture runs here already")
	}
	d.running[strings.ToLower(id)] = true
	return nil
}

func (d *captureDP) StopPacketCapture(id string) ([]byte, uint64, uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running[strings.ToLower(id)] {
		return nil, 0, 0, arm.Errorf(arm.CodeNoPacketCapture, "no packet capture runs")
	}
	delete(d.running, strings.ToLower(id))
	return []byte("a capture's decrypted traffic"), 1, 0, nil
}

// TestDownloadURLNotLogged: a download's URL is its credential (a packet
// capture, a VPN client package): the log does not hold it, at any level,
// also when a request to it is refused (another method than GET).
func TestDownloadURLNotLogged(t *testing.T) {
	var log logbuf.Buffer
	e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}, log: &log})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("POST", s.gw+"/startPacketCapture", nil)
	var u string
	if err := json.Unmarshal(e.must("POST", s.gw+"/stopPacketCapture", nil).body, &u); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, method := range []string{http.MethodPost, http.MethodHead} {
		req, _ := http.NewRequest(method, u, nil)
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s of the download: %v, %v", method, res, err)
		} else {
			res.Body.Close()
		}
	}
	pu, _ := url.Parse(u)
	if res.StatusCode != http.StatusOK || !strings.Contains(log.String(), "path=/packetcapture/") {
		t.Fatalf("the download: %d; log:\n%s", res.StatusCode, log.String())
	}
	if strings.Contains(log.String(), pu.Path) {
		t.Errorf("the log holds the capture's URL:\n%s", log.String())
	}
}

// TestSASURLWithUserRefused: a sasUrl with a user and password is
// refused (a storage SAS URL has none, and an upload error would show
// them half hidden).
func TestSASURLWithUserRefused(t *testing.T) {
	e := newEnv(t, envOptions{dp: &captureDP{running: map[string]bool{}}})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	e.must("POST", s.gw+"/startPacketCapture", nil)
	e.expect("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": "http://u:p@127.0.0.1:1/c?sv=1&sig=SECRETSIG"}, http.StatusBadRequest, "InvalidParameter")
}

// TestSubscriptionIDs: a subscription id is a GUID, in any case; other
// ids are refused before they reach the store: ones of letters that grow
// when lower-cased (which cut a metrics path wrong), that fold onto
// another's (the Kelvin sign onto "k": one subscription wrote over
// another's resources) or longer than a key may be.
func TestSubscriptionIDs(t *testing.T) {
	e := newEnv(t)
	for _, sub := range []string{strings.Repeat("Ⱥ", 40), "\u212Aeep", "keep", strings.Repeat("a", 33<<10), "11111111-1111-1111-1111-11111111111"} {
		e.expect("PUT", rgPath(url.PathEscape(sub), "rg"), group(loc), http.StatusBadRequest, "InvalidSubscriptionId")
	}
	e.must("PUT", rgPath(strings.ToUpper("abcdef00-1111-2222-3333-444444444444"), "rg"), group(loc))
}
