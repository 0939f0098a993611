package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"

	"github.com/vnetgw/vnetgw/internal/region"
)

// TestForwardedLocation: the 202 of a reset that this node forwarded to
// the node that runs the connection has a Location on this node, the one
// the client called (behind a load balancer, the only one it may reach),
// which answers it as any node does; it named the other node, so that the
// SDK's poller asked a node it may not reach (here: one that has stopped,
// and one without TLS, to which the SDK sends no token).
func TestForwardedLocation(t *testing.T) {
	var reg *region.Region
	var other *url.URL
	e := newEnv(t, envOptions{reg: &reg, tls: true, elsewhere: func(string) *url.URL { return other }})
	b := httptest.NewServer(New(Config{Region: reg, Token: testToken}))
	defer b.Close()
	other, _ = url.Parse(b.URL)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	conn := netPath(subA, "rg", "connections", "c")
	e.must("PUT", conn, s2s(loc, s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")))

	r := e.do("POST", conn+"/resetconnection", nil)
	if r.status != http.StatusAccepted || !strings.HasPrefix(r.header.Get("Location"), e.srv.URL+"/subscriptions/"+subA+"/providers/Microsoft.Network/locations/") {
		t.Errorf("a forwarded reset: %d, Location %q; want 202 and a Location on %s", r.status, r.header.Get("Location"), e.srv.URL)
	}

	net, err := armnetwork.NewClientFactory(subA, sdkToken{}, e.sdkOptions())
	if err != nil {
		t.Fatal(err)
	}
	p, err := net.NewVirtualNetworkGatewayConnectionsClient().BeginResetConnection(context.Background(), "rg", "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Close() // the client reaches this node alone
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Second}); err != nil {
		t.Errorf("the SDK's poller of a forwarded reset: %v", err)
	}
}

// TestForwardedCaptureDownload: a packet capture that this node stopped
// by forwarding stopPacketCapture to the node that runs the gateway is
// downloaded from this node, the one the client called (behind a load
// balancer, the only one it may reach), which forwards the download to
// the node that keeps it: without a sasUrl, and when the upload to the
// sasUrl failed. The URL named the other node.
func TestForwardedCaptureDownload(t *testing.T) {
	storage := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // an expired SAS
	}))
	storage.Listener = listenLoopback(t)
	storage.Start()
	defer storage.Close()
	var reg *region.Region
	var other *url.URL
	e := newEnv(t, envOptions{reg: &reg, elsewhere: func(string) *url.URL { return other }})
	b := httptest.NewUnstartedServer(nil)
	b.Listener = listenLoopback(t)
	b.Config.Handler = New(Config{Region: reg, Token: testToken, DataPlane: &captureDP{running: map[string]bool{}},
		Endpoint: "http://" + b.Listener.Addr().String(), OwnHost: func(string) bool { return true }})
	b.Start()
	defer b.Close()
	other, _ = url.Parse(b.URL)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	for _, body := range []any{nil, obj{"sasUrl": storage.URL + "/c?sig=x"}} {
		e.must("POST", s.gw+"/startPacketCapture", nil)
		r := e.do("POST", s.gw+"/stopPacketCapture", body)
		u := regexp.MustCompile(`https?://[^ "]+/packetcapture/[0-9a-f]+\.pcap`).FindString(string(r.body))
		if !strings.HasPrefix(u, e.srv.URL+"/packetcapture/") {
			t.Errorf("stop (%v) forwarded to the node that runs the gateway: %d %s; want the capture's URL on %s", body, r.status, r.body, e.srv.URL)
			continue
		}
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(got) != "a capture's decrypted traffic" || res.Header.Get("Content-Type") != "application/vnd.tcpdump.pcap" {
			t.Errorf("the capture kept on the other node, from this one: %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), got)
		}
	}
}

// listenLoopback listens at a free port of a loopback address of its
// own (127.168.0.1), apart from the tests' other servers.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.168.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestForwardedBodyTooLarge: a request this node forwards to the node
// that runs what it is about, whose body is over the 4 MiB limit, is
// refused with 413 RequestEntityTooLarge, as one this node answers
// itself is; it was 502 NodeUnreachable, "could not be asked: http:
// request body too large", which the Azure SDKs send again, 4 MiB each
// time, and which says the other node is down when it is not.
func TestForwardedBodyTooLarge(t *testing.T) {
	var reg *region.Region
	var other *url.URL
	e := newEnv(t, envOptions{reg: &reg, elsewhere: func(string) *url.URL { return other }})
	b := httptest.NewServer(New(Config{Region: reg, Token: testToken}))
	defer b.Close()
	other, _ = url.Parse(b.URL)
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	big := `{"vpnConnectionIds":["` + strings.Repeat("a", MaxBodyBytes) + `"]}`
	if r := e.do("POST", s.gw+"/disconnectVirtualNetworkGatewayVpnConnections", big); r.status != http.StatusRequestEntityTooLarge || r.code() != "RequestEntityTooLarge" {
		t.Errorf("a forwarded request with a body over 4 MiB: %d %s; want 413 RequestEntityTooLarge", r.status, r.body)
	}
}

// TestForwardToNodeThatDoesNotAnswer: a request this node forwards to
// the node that runs what it is about, which takes the connection and
// never answers (its process stopped, its API stuck, a way to it that
// drops everything once connected), is answered 502 NodeUnreachable once
// forwardAnswerTimeout has passed; it waited for ever, and so did the
// client (the Azure SDKs have no timeout of their own). A forwarded
// stopPacketCapture whose upload to the sasUrl takes longer than that
// is still answered with its blob: the other node's own bound is the
// upload's (pcap.UploadTimeout).
func TestForwardToNodeThatDoesNotAnswer(t *testing.T) {
	old := forwardAnswerTimeout
	forwardAnswerTimeout = time.Second
	t.Cleanup(func() { forwardAnswerTimeout = old })
	stuck := listenLoopback(t) // the kernel takes connections; nothing reads them
	defer stuck.Close()
	var reg *region.Region
	var other *url.URL
	e := newEnv(t, envOptions{reg: &reg, elsewhere: func(string) *url.URL { return other }})
	s := e.site(subA, "rg", loc, "10.1.0.0/16", "RouteBased", "VpnGw1")
	conn := netPath(subA, "rg", "connections", "c")
	e.must("PUT", conn, s2s(loc, s.gw, e.lng(s, "branch", "203.0.113.10", "192.168.1.0/24")))
	other = &url.URL{Scheme: "http", Host: stuck.Addr().String()}

	answered := func(method, path string, body any) (resp, time.Duration) {
		t.Helper()
		start := time.Now()
		done := make(chan resp, 1)
		go func() { done <- e.do(method, path, body) }()
		select {
		case r := <-done:
			return r, time.Since(start)
		case <-time.After(15 * time.Second):
			t.Fatalf("%s %s forwarded to a node that does not answer: no answer after 15 s", method, path)
			return resp{}, 0
		}
	}
	for _, op := range []string{conn + "/getikesas", s.gw + "/getVpnClientConnectionHealth"} {
		r, took := answered("POST", op, nil)
		if r.status != http.StatusBadGateway || r.code() != "NodeUnreachable" || !strings.Contains(string(r.body), "did not answer within 1s") || took > 5*time.Second {
			t.Errorf("POST %s forwarded to a node that does not answer: %d %s after %v; want 502 NodeUnreachable after about 1 s", op, r.status, r.body, took)
		}
	}

	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(3 * forwardAnswerTimeout) // a large capture on a slow link
		w.WriteHeader(http.StatusCreated)
	}))
	defer storage.Close()
	b := httptest.NewUnstartedServer(nil)
	b.Listener = listenLoopback(t)
	b.Config.Handler = New(Config{Region: reg, Token: testToken, DataPlane: &captureDP{running: map[string]bool{}}})
	b.Start()
	defer b.Close()
	other, _ = url.Parse(b.URL)
	e.must("POST", s.gw+"/startPacketCapture", nil)
	r, _ := answered("POST", s.gw+"/stopPacketCapture", obj{"sasUrl": storage.URL + "/c?sig=x"})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), storage.URL+"/c/") {
		t.Errorf("a forwarded stop whose upload takes 3 s: %d %s; want 200 and the blob's URL", r.status, r.body)
	}
}
