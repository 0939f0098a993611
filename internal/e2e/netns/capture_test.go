package netns

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// blobStore takes Put Blob requests, as an Azure storage container behind
// a SAS URL does, on the loopback of the region's namespace.
type blobStore struct {
	url   string
	mu    sync.Mutex
	blobs map[string][]byte // by path
	kinds map[string]string // x-ms-blob-type, by path
	query string            // of the last request
}

func newBlobStore(t *testing.T, r *region) *blobStore {
	t.Helper()
	b := &blobStore{blobs: map[string][]byte{}, kinds: map[string]string{}}
	var ln net.Listener
	if err := r.ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		b.mu.Lock()
		defer b.mu.Unlock()
		if req.Method != http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		b.blobs[req.URL.Path], b.kinds[req.URL.Path], b.query = body, req.Header.Get("x-ms-blob-type"), req.URL.RawQuery
		w.WriteHeader(http.StatusCreated)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	b.url = "http://" + ln.Addr().String()
	return b
}

// tcpdump reads a capture file and returns its lines.
func tcpdump(t *testing.T, file []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.pcap")
	if err := os.WriteFile(p, file, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tcpdump", "-nn", "-r", p).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	return string(out)
}

// TestPacketCapture: a gateway's packet capture (startPacketCapture and
// stopPacketCapture, through the CLI as az's vnet-gateway packet-capture)
// records the inner packets between a VNet host and a host behind
// strongSwan, both ways, as filtered; tcpdump reads the file, served by
// vnetgw or uploaded to a storage container's SAS URL. A connection's
// capture (vpn-connection packet-capture) records its tunnel's.
func TestPacketCapture(t *testing.T) {
	require(t)
	netnstest.Require(t, "tcpdump")
	e := newS2S(t)
	e.up(t)
	ping(t, e.host, e.site.host, 10*time.Second)
	gw := []string{"-g", "s2s", "-n", "hub-gw"}

	// ICMP only: a TCP connection to the site is not kept.
	if out, err := e.r.cli(append([]string{"vnet-gateway", "packet-capture", "start", "--filter-data", `{"Filters":[{"Protocol":[1]}]}`}, gw...)...); err != nil {
		t.Fatalf("packet-capture start: %v\n%s", err, out)
	}
	if out, err := e.r.cli(append([]string{"vnet-gateway", "packet-capture", "start"}, gw...)...); err == nil || !strings.Contains(out, "PacketCaptureAlreadyInProgress") {
		t.Fatalf("a second capture: %v\n%s", err, out)
	}
	e.host.Run("ping", "-c", "3", "-i", "0.2", e.site.host.String())
	e.site.lan.Run("ping", "-c", "2", "-i", "0.2", e.hostAddr.String())
	e.host.Try("bash", "-c", "echo > /dev/tcp/"+e.site.host.String()+"/9") // refused: a SYN and a RST cross the tunnel
	file := filepath.Join(t.TempDir(), "capture.pcap")
	out, err := e.r.cli(append([]string{"vnet-gateway", "packet-capture", "stop", "--output-file", file}, gw...)...)
	if err != nil {
		t.Fatalf("packet-capture stop: %v\n%s", err, out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dump := tcpdump(t, b)
	t.Logf("capture (%s):\n%s", strings.TrimSpace(out), dump)
	for _, want := range []string{
		e.hostAddr.String() + " > " + e.site.host.String() + ": ICMP echo request",
		e.site.host.String() + " > " + e.hostAddr.String() + ": ICMP echo reply",
		e.site.host.String() + " > " + e.hostAddr.String() + ": ICMP echo request",
	} {
		if strings.Count(dump, want) < 2 {
			t.Errorf("the capture holds fewer than 2 of %q", want)
		}
	}
	if strings.Contains(dump, "Flags [") {
		t.Errorf("the ICMP-only capture holds TCP") // the second capture shows it crossed
	}
	// A stop sent again (as the Azure SDKs send one whose answer was
	// lost) answers the capture the first one stopped.
	if again, err := e.r.cli(append([]string{"vnet-gateway", "packet-capture", "stop"}, gw...)...); err != nil || strings.TrimSpace(again) != strings.TrimSpace(out) {
		t.Fatalf("a stop sent again: %v\n%s\nwant the first's answer: %s", err, again, out)
	}

	// Uploaded into a storage container by its SAS URL; the answer names
	// the blob without the token.
	store := newBlobStore(t, e.r)
	if out, err := e.r.cli(append([]string{"vnet-gateway", "packet-capture", "start"}, gw...)...); err != nil {
		t.Fatalf("packet-capture start: %v\n%s", err, out)
	}
	e.host.Run("ping", "-c", "2", "-i", "0.2", e.site.host.String())
	e.host.Try("bash", "-c", "echo > /dev/tcp/"+e.site.host.String()+"/9")
	out, err = e.r.cli(append([]string{"vnet-gateway", "packet-capture", "stop", "--sas-url", store.url + "/captures?sv=2024&sig=SECRETSIG"}, gw...)...)
	if err != nil || strings.Contains(out, "SECRETSIG") || !strings.Contains(out, store.url+"/captures/hub-gw-") {
		t.Fatalf("packet-capture stop --sas-url: %v\n%s", err, out)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if len(store.blobs) != 1 || store.query != "sv=2024&sig=SECRETSIG" {
		t.Fatalf("the store got %d blobs, the last with query %q", len(store.blobs), store.query)
	}
	for path, blob := range store.blobs {
		if store.kinds[path] != "BlockBlob" || !strings.HasSuffix(path, ".pcap") {
			t.Errorf("blob %s of type %q", path, store.kinds[path])
		}
		// Unfiltered, it holds the TCP connection the first one left out.
		if dump := tcpdump(t, blob); strings.Count(dump, "ICMP echo") < 4 || !strings.Contains(dump, ".9: Flags [S]") {
			t.Errorf("the uploaded capture:\n%s", dump)
		}
	}
	if log := e.r.proc.Output(); strings.Contains(log, "SECRETSIG") {
		t.Error("the SAS token is in serve's log")
	}

	// A connection's own capture: the packets through its tunnel, as the
	// ESP engine opens and seals them.
	conn := []string{"-g", "s2s", "-n", "hub-to-branch"}
	if out, err := e.r.cli(append([]string{"vpn-connection", "packet-capture", "start"}, conn...)...); err != nil {
		t.Fatalf("vpn-connection packet-capture start: %v\n%s", err, out)
	}
	e.site.lan.Run("ping", "-c", "2", "-i", "0.2", e.hostAddr.String())
	file = filepath.Join(t.TempDir(), "conn.pcap")
	if out, err := e.r.cli(append([]string{"vpn-connection", "packet-capture", "stop", "--output-file", file}, conn...)...); err != nil {
		t.Fatalf("vpn-connection packet-capture stop: %v\n%s", err, out)
	}
	if b, err = os.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	dump = tcpdump(t, b)
	if strings.Count(dump, e.site.host.String()+" > "+e.hostAddr.String()+": ICMP echo request") < 2 ||
		strings.Count(dump, e.hostAddr.String()+" > "+e.site.host.String()+": ICMP echo reply") < 2 {
		t.Errorf("the connection's capture:\n%s", dump)
	}
}
