package cli

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/pcap"
)

// packet-capture stop --sas-url waits for the API's answer as long as the
// API may take to upload the capture: the storage here answers the
// upload only after the client's usual wait is over, well within the
// upload's bound, and the command prints the blob's URL. It gave up
// after its usual wait ("no answer within ...") while the upload went
// on, and the user was not told where the capture went.
func TestCaptureStopWaitsForUpload(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	must(t, "vnet-gateway", "packet-capture", "start", "-g", "rg", "-n", "gw")

	oldAnswer, oldUpload := client.AnswerTimeout, pcap.UploadTimeout
	client.AnswerTimeout, pcap.UploadTimeout = time.Second, time.Minute
	t.Cleanup(func() { client.AnswerTimeout, pcap.UploadTimeout = oldAnswer, oldUpload })

	l, err := net.Listen("tcp", "127.161.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	storage := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		// Longer than the client's usual wait, which began before.
		time.Sleep(2 * client.AnswerTimeout)
		w.WriteHeader(http.StatusCreated)
	}))
	storage.Listener.Close()
	storage.Listener = l
	storage.Start()
	defer storage.Close()

	code, out, errOut := vnetgw(t, "vnet-gateway", "packet-capture", "stop", "-g", "rg", "-n", "gw", "--sas-url", storage.URL+"/captures?sig=secret", "-o", "tsv")
	want := storage.URL + "/captures/gw-"
	if code != 0 || !strings.HasPrefix(out, want) || strings.Contains(out, "sig=") {
		t.Fatalf("stop --sas-url with a slow storage: exit %d, %q %s; want the blob's URL %s...", code, out, errOut, want)
	}
}

// packet-capture start and stop take az's --ids, full ids of gateways (or
// connections), each started or stopped in turn; stop of several prints
// where each capture is, a list with -o json. start takes az's --filter
// for --filter-data, and both az's --no-wait. All were unknown flags. --output-file saves one
// capture, and --ids with the names is refused, before anything is done.
func TestCaptureIDs(t *testing.T) {
	gws := twoGateways(t, "127.218.2.0/24")

	must(t, append([]string{"vnet-gateway", "packet-capture", "start", "--filter", `{"MaxPacketBufferSize":120}`, "--ids"}, gws...)...)
	var urls []string
	mustJSON(t, &urls, append([]string{"vnet-gateway", "packet-capture", "stop", "-o", "json", "--ids"}, gws...)...)
	if len(urls) != 2 || urls[0] == "" || urls[0] == urls[1] {
		t.Errorf("packet-capture stop --ids of two gateways: %q, want where each capture is", urls)
	}

	must(t, "vnet-gateway", "packet-capture", "start", "--ids", gws[0], "--no-wait")
	for _, c := range []struct {
		args []string
		want string
	}{
		{append([]string{"vnet-gateway", "packet-capture", "stop", "--output-file", filepath.Join(t.TempDir(), "x.pcap"), "--ids"}, gws...), "--output-file saves one capture"},
		{[]string{"vnet-gateway", "packet-capture", "stop", "--ids", gws[0], "-n", "gw"}, "without --resource-group/-g and --name/-n"},
		{[]string{"vpn-connection", "packet-capture", "start", "--ids", gws[0]}, "is not a Microsoft.Network/connections id: it names a "},
	} {
		if code, out, errOut := vnetgw(t, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("vnetgw %s: exit %d, %s%s; want exit 2 and an error with %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
	file := filepath.Join(t.TempDir(), "gw.pcap")
	must(t, "vnet-gateway", "packet-capture", "stop", "--ids", gws[0], "--output-file", file)
	if b, err := os.ReadFile(file); err != nil || len(b) < 24 {
		t.Errorf("packet-capture stop --ids %s --output-file: %d bytes, %v; want the capture", gws[0], len(b), err)
	}

	var conn arm.Connection
	mustJSON(t, &conn, "vpn-connection", "show", "-g", "rg", "-n", "conn")
	must(t, "vpn-connection", "packet-capture", "start", "--ids", conn.ID)
	if out := must(t, "vpn-connection", "packet-capture", "stop", "--ids", conn.ID, "-o", "tsv"); strings.Count(out, "\n") != 1 {
		t.Errorf("vpn-connection packet-capture stop --ids of one, -o tsv: %q, want its URL", out)
	}
}

// twoGateways starts a region with the public addresses of pool, makes
// p2sGateway's gateway gw and connection conn, and a second gateway gw2 in
// VNet hub2, and returns the full ids of gw and gw2.
func twoGateways(t *testing.T, pool string) []string {
	t.Helper()
	startRegionIn(t, pool)
	p2sGateway(t)
	must(t, "vnet", "create", "-g", "rg", "-n", "hub2", "--address-prefixes", "10.2.0.0/16", "--subnet-name", "GatewaySubnet", "--subnet-prefixes", "10.2.255.0/27")
	must(t, "public-ip", "create", "-g", "rg", "-n", "gw2-ip")
	must(t, "vnet-gateway", "create", "-g", "rg", "-n", "gw2", "--vnet", "hub2", "--public-ip-addresses", "gw2-ip")
	var gws []string
	for _, n := range []string{"gw", "gw2"} {
		var gw arm.VirtualNetworkGateway
		mustJSON(t, &gw, "vnet-gateway", "show", "-g", "rg", "-n", n)
		gws = append(gws, gw.ID)
	}
	return gws
}

// TestCaptureOutputToPipe: stop --output-file to what is no file, as
// /dev/stdout piped into tcpdump -r - is, writes the capture as it is; a
// file made beside it was renamed over it (a named pipe replaced, its
// reader left waiting), or could not be made (/dev/stdout).
func TestCaptureOutputToPipe(t *testing.T) {
	startRegion(t)
	p2sGateway(t)
	pipe := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	read := make(chan []byte, 1)
	go func() {
		b, _ := os.ReadFile(pipe)
		read <- b
	}()
	must(t, "vnet-gateway", "packet-capture", "start", "-g", "rg", "-n", "gw")
	must(t, "vnet-gateway", "packet-capture", "stop", "-g", "rg", "-n", "gw", "--output-file", pipe)
	select {
	case b := <-read:
		if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
			t.Errorf("packet-capture stop --output-file to a named pipe: %d bytes, want the capture", len(b))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("packet-capture stop --output-file to a named pipe: nothing came")
	}
}
