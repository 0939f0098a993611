package cli

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
