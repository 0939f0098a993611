package cli

import (
	"crypto/tls"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// vpn-client show-health -o table shows each client's peak rate,
// maxBandwidth (bytes per second) and maxPacketsPerSecond, as the API
// answers them.
func TestShowHealthTableShowsPeaks(t *testing.T) {
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/virtualNetworkGateways/gw/getVpnClientConnectionHealth") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"value":[{"vpnConnectionId":"SSTP_172.16.201.2","vpnConnectionDuration":12,"vpnConnectionTime":"2026-01-02T03:04:05Z",` +
			`"publicIpAddress":"127.213.0.9:50000","privateIpAddress":"172.16.201.2","vpnUserName":"alice","ingressBytesTransferred":200000,` +
			`"egressBytesTransferred":100000,"ingressPacketsTransferred":400,"egressPacketsTransferred":200,"maxBandwidth":150000,"maxPacketsPerSecond":300}]}`))
	}))
	l, err := net.Listen("tcp", "127.213.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	root := pkitest.Issue(t, "API CA", true, nil)
	api.Listener = l
	api.TLS = &tls.Config{Certificates: []tls.Certificate{pkitest.Issue(t, "api", false, root, netip.MustParseAddr("127.213.0.2")).TLS()}}
	api.StartTLS()
	defer api.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VNETGW_DATA_DIR", t.TempDir())
	t.Setenv("VNETGW_ENDPOINT", api.URL)
	t.Setenv("VNETGW_TOKEN", "test")
	t.Setenv("VNETGW_CA", ca)
	t.Setenv("VNETGW_SUBSCRIPTION", "")
	out := must(t, "vnet-gateway", "vpn-client", "show-health", "-g", "rg", "-n", "gw", "-o", "table")
	if !regexp.MustCompile(`MaxBandwidth\s+MaxPacketsPerSecond\n[- ]+\nSSTP_172\.16\.201\.2\s.*\s200000\s+100000\s+150000\s+300\n`).MatchString(out) {
		t.Errorf("show-health -o table:\n%s", out)
	}
}
