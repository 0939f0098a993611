package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/insights"
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

// syncBuffer is a log both the server and the test use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestDownloadURLNotLogged: a download's URL is its credential (a packet
// capture, a VPN client package): the request log does not hold it.
func TestDownloadURLNotLogged(t *testing.T) {
	var log syncBuffer
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

// TestMetricsOddSubscription: a metrics query on a resource whose path
// has letters that grow when lower-cased answers, with the resource's id.
func TestMetricsOddSubscription(t *testing.T) {
	e := newEnv(t, envOptions{insights: insights.New(time.Minute, 6*time.Hour)})
	raw := strings.Repeat("Ⱥ", 40) // U+023A: 2 bytes, lower-cased 3
	sub := url.PathEscape(raw)
	e.must("PUT", rgPath(sub, "rg"), group(loc))
	e.must("PUT", netPath(sub, "rg", "virtualNetworks", "vnet"), vnet(loc, []string{"10.1.0.0/16"}, subnet("GatewaySubnet", "10.1.255.0/27")))
	e.must("PUT", netPath(sub, "rg", "publicIPAddresses", "pip"), publicIP(loc, "Dynamic"))
	e.must("PUT", netPath(sub, "rg", "virtualNetworkGateways", "gw"), gateway(loc, netPath(raw, "rg", "virtualNetworks", "vnet")+"/subnets/GatewaySubnet", netPath(raw, "rg", "publicIPAddresses", "pip"), "RouteBased", "VpnGw1"))
	req := httptest.NewRequest("GET", netPath(sub, "rg", "virtualNetworkGateways", "gw")+"/providers/Microsoft.Insights/metrics?api-version=2018-01-01", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	e.srv.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), raw+"/resourceGroups/rg/providers/Microsoft.Network/virtualNetworkGateways/gw/") {
		t.Errorf("%d %.300s", rec.Code, rec.Body)
	}
}
