package p2s

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// testPKI is a root, a server certificate and a client certificate.
type testPKI struct {
	root           *pkitest.Cert
	server, client tls.Certificate
}

func newPKI(t testing.TB) *testPKI {
	root := pkitest.Issue(t, "P2S root", true, nil)
	return &testPKI{root: root, server: pkitest.Issue(t, "gateway", false, root).TLS(), client: pkitest.Issue(t, "alice", false, root).TLS()}
}

// region is a VNet router with one built-in host and an SSTP server whose
// pool routes to it.
type region struct {
	router *fabric.Router
	web    netip.Addr
	srv    *Server
	pki    *testPKI
	roots  *x509.CertPool
}

func newRegion(t *testing.T, cfg Config) *region {
	t.Helper()
	r := &region{router: fabric.NewRouter(), web: netip.MustParseAddr("10.1.0.4"), pki: newPKI(t)}
	web, err := fabric.NewNetstackHost("web", r.web, 0, r.router)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Close() })
	if !cfg.Listen.IsValid() {
		cfg.Listen = netip.MustParseAddrPort("127.0.0.1:0")
	}
	cfg.Cert, cfg.Router = r.pki.server, r.router
	if !cfg.Pool.IsValid() {
		cfg.Pool = netip.MustParsePrefix("172.16.201.0/24")
	}
	if cfg.Roots == nil {
		cfg.Roots = []*x509.Certificate{r.pki.root.Certificate}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if !cfg.OpenVPN {
		cfg.SSTP = true
	}
	if r.srv, err = Start(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.srv.Close)
	r.router.SetRoutes([]fabric.Route{{Prefix: netip.PrefixFrom(r.web, 32), Port: web}, {Prefix: cfg.Pool, Port: r.srv}})
	r.roots = x509.NewCertPool()
	r.roots.AddCert(r.pki.root.Certificate)
	return r
}

// dial connects a client with cert and gives it a built-in host on its
// address.
func (r *region) dial(t *testing.T, cert tls.Certificate, tweak ...func(*ClientConfig)) (*Client, *fabric.NetstackHost, error) {
	t.Helper()
	var host atomic.Pointer[fabric.NetstackHost]
	cfg := ClientConfig{Server: r.srv.Addr(), ServerName: "gateway", RootCAs: r.roots, Cert: cert, Logger: testLogger(t),
		OnIP: func(p []byte) {
			if h := host.Load(); h != nil {
				h.Deliver(p)
			}
		}}
	for _, f := range tweak {
		f(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { c.Close() })
	h, err := fabric.NewNetstackEndpoint("client", c.Addr(), 0, c)
	if err != nil {
		t.Fatal(err)
	}
	host.Store(h)
	t.Cleanup(func() { h.Close() })
	return c, h, nil
}

// A client with a certificate of the uploaded root gets an address of the
// pool and reaches a host in the VNet (ping and HTTP); the gateway lists
// it by its certificate's name.
func TestClientReachesVNet(t *testing.T) {
	r := newRegion(t, Config{})
	c, h, err := r.dial(t, r.pki.client)
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddr("172.16.201.2"); c.Addr() != want || c.Gateway() != netip.MustParseAddr("172.16.201.1") {
		t.Fatalf("client %v, gateway %v; want %v and 172.16.201.1", c.Addr(), c.Gateway(), want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Ping(ctx, r.web); err != nil {
		t.Fatal(err)
	}
	body, err := h.HTTPGet(ctx, r.web)
	if err != nil || !strings.Contains(body, "hello from web") {
		t.Fatalf("HTTP from the client: %q %v", body, err)
	}
	cs := r.srv.Clients()
	if len(cs) != 1 || cs[0].Identity != "alice" || cs[0].Addr != c.Addr() || cs[0].BytesIn == 0 || cs[0].BytesOut == 0 {
		t.Fatalf("clients: %+v", cs)
	}
	if dns := c.DNS(); len(dns) != 0 {
		t.Errorf("a gateway without DNS servers gave %v", dns)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// Refusals: a certificate of another root (R12), a revoked one, a wrong
// crypto binding, and a client past the limit (R11). None gets an address;
// the gateway goes on serving.
func TestClientRefusals(t *testing.T) {
	r := newRegion(t, Config{MaxClients: 2})
	stranger := newPKI(t)
	if _, _, err := r.dial(t, stranger.client); err == nil || !strings.Contains(err.Error(), "refused the client certificate") {
		t.Errorf("a certificate of another root: %v", err)
	}
	if _, _, err := r.dial(t, r.pki.client, func(c *ClientConfig) { c.breakBinding = true }); err == nil {
		t.Error("a wrong crypto binding was taken")
	} else if cs := r.srv.Clients(); len(cs) != 0 {
		t.Errorf("after a wrong binding the gateway lists %+v", cs)
	}
	c1, _, err1 := r.dial(t, r.pki.client)
	c2, _, err2 := r.dial(t, r.pki.client)
	if err1 != nil || err2 != nil || c1.Addr() == c2.Addr() {
		t.Fatalf("two clients: %v %v, addresses %v %v", err1, err2, c1, c2)
	}
	// Another certificate: the same one would take its oldest
	// connection's place (TestReconnectReplacesStaleConnection).
	bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS()
	if _, _, err := r.dial(t, bob); err == nil || !strings.Contains(err.Error(), "CALL_ABORT: VALUE_NOT_SUPPORTED") {
		t.Errorf("a third client past MaxClients 2: %v", err)
	}
	c1.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.srv.Clients()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after a client closed: %+v", r.srv.Clients())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := r.dial(t, r.pki.client); err != nil {
		t.Errorf("a client in the freed place: %v", err)
	}

	revoked := newRegion(t, Config{})
	thumb := sha1.Sum(revoked.pki.client.Leaf.Raw)
	st := revoked.srv.settings().Settings
	st.Revoked = []string{strings.ToUpper(hex.EncodeToString(thumb[:]))}
	revoked.srv.Update(st)
	if _, _, err := revoked.dial(t, revoked.pki.client); err == nil {
		t.Error("a revoked certificate was taken")
	}
}

// An idle client stays connected: after the hello time of silence each side
// asks the other for an echo and gets it ([MS-SSTP] §3.1.2.2).
func TestIdleClientStays(t *testing.T) {
	r := newRegion(t, Config{Hello: 200 * time.Millisecond})
	c, h, err := r.dial(t, r.pki.client, func(c *ClientConfig) { c.Hello = 300 * time.Millisecond })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.Done():
		t.Fatalf("the idle connection ended: %v", err)
	case <-time.After(2 * time.Second):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.Ping(ctx, r.web); err != nil {
		t.Fatalf("after 2 s idle: %v", err)
	}
}

// R11: 128 clients at once, the SSTP limit of every SKU (the default); the
// 129th is refused, and takes the place of one that leaves.
func TestR11At128Clients(t *testing.T) {
	if testing.Short() {
		t.Skip("128 TLS and EAP-TLS handshakes")
	}
	r := newRegion(t, Config{})
	var clients []*Client
	for i := range 128 {
		c, _, err := r.dial(t, r.pki.client)
		if err != nil {
			t.Fatalf("client %d of 128: %v", i+1, err)
		}
		clients = append(clients, c)
	}
	if n := len(r.srv.Clients()); n != 128 {
		t.Fatalf("the server lists %d clients, want 128", n)
	}
	// Another certificate: the same one would take its oldest
	// connection's place (TestReconnectReplacesStaleConnection).
	bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS()
	if _, _, err := r.dial(t, bob); err == nil || !strings.Contains(err.Error(), "CALL_ABORT: VALUE_NOT_SUPPORTED") {
		t.Fatalf("the 129th client: %v, want a CALL_ABORT (R11)", err)
	}
	clients[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.srv.Clients()) != 127 {
		if time.Now().After(deadline) {
			t.Fatalf("after one left the server lists %d", len(r.srv.Clients()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := r.dial(t, bob); err != nil {
		t.Fatalf("a client in the freed place: %v", err)
	}
}

// A client that does not read (its TCP window shut) does not hold up the
// VNet's router: SendIP queues without blocking and, the queue full, drops
// and counts.
func TestStalledClientDoesNotBlock(t *testing.T) {
	near, far := net.Pipe() // writes block until the far end reads: it never does
	defer near.Close()
	defer far.Close()
	l := newLink(true, near, bufio.NewReader(near), testLogger(t))
	l.up.Store(true)
	quit := make(chan struct{})
	defer close(quit)
	go l.writer(quit)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pkt := make([]byte, 1400)
		for range 2 * sendQueue {
			l.SendIP(pkt)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("SendIP blocked on a client that does not read")
	}
	if l.dropped.Load() == 0 {
		t.Fatalf("no packet dropped for a client that does not read (%d queued)", l.packetsOut.Load())
	}
}

// The gateway ends a client (the API's disconnect): the client is told,
// it leaves the list, and its address is free again. An id of another
// protocol at its address (OpenVPN_ADDR: a client that left, whose
// address an SSTP client got since) ends nothing.
func TestServerDisconnectsAClient(t *testing.T) {
	r := newRegion(t, Config{})
	c, _, err := r.dial(t, r.pki.client)
	if err != nil {
		t.Fatal(err)
	}
	if r.srv.Disconnect(ProtocolOpenVPN, c.Addr()) {
		t.Fatalf("Disconnect(OpenVPN, %s) ended the SSTP client there", c.Addr())
	}
	if !r.srv.Disconnect(ProtocolSSTP, c.Addr()) {
		t.Fatalf("Disconnect(%s) found no client; the server lists %+v", c.Addr(), r.srv.Clients())
	}
	select {
	case err := <-c.Done():
		if err == nil || !strings.Contains(err.Error(), "the gateway disconnected") {
			t.Fatalf("the client ended with %v, want the gateway's disconnect", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client is still connected 5 s after Disconnect")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(r.srv.Clients()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the server still lists %+v", r.srv.Clients())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.srv.Disconnect(ProtocolSSTP, c.Addr()) {
		t.Fatal("a second Disconnect of the same client found it")
	}
}

// The API's disconnect of a client that does not read (its TCP window
// shut, the writer stuck on it) returns at once, and the connection
// closes within a second or so: it waited for the writer's write, and
// then for its own, 10 s each, per client asked for.
func TestDisconnectStalledClient(t *testing.T) {
	near, far := net.Pipe() // writes block until the far end reads: it never does
	defer far.Close()
	l := newLink(true, near, bufio.NewReader(near), testLogger(t))
	l.up.Store(true)
	quit := make(chan struct{})
	defer close(quit)
	go l.writer(quit)
	l.SendIP(make([]byte, 1400))
	for len(l.sendq) > 0 { // the writer has it, and blocks on it
		time.Sleep(10 * time.Millisecond)
	}
	returned := make(chan struct{})
	go func() { l.disconnect(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("disconnecting a client that does not read blocked for 5 s")
	}
	closed := make(chan struct{})
	go func() {
		for {
			if err := near.SetReadDeadline(time.Time{}); err != nil { // closed
				close(closed)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection of a disconnected client that does not read is still open 5 s later")
	}
}

// The client asks for DNS servers (RFC 1877) and gets the VNet's: the
// first two IPv4 ones, as primary and secondary; with one, the secondary
// option is rejected and the client goes on without it.
func TestClientGetsDNSServers(t *testing.T) {
	for _, tc := range []struct {
		dns, want []netip.Addr
	}{
		{[]netip.Addr{netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("10.1.0.53"), netip.MustParseAddr("10.1.0.54"), netip.MustParseAddr("10.1.0.55")},
			[]netip.Addr{netip.MustParseAddr("10.1.0.53"), netip.MustParseAddr("10.1.0.54")}},
		{[]netip.Addr{netip.MustParseAddr("10.1.0.53")}, []netip.Addr{netip.MustParseAddr("10.1.0.53")}},
	} {
		r := newRegion(t, Config{DNS: tc.dns})
		c, h, err := r.dial(t, r.pki.client)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.DNS(); !slices.Equal(got, tc.want) {
			t.Errorf("DNS servers %v given %v, want %v", tc.dns, got, tc.want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := h.Ping(ctx, r.web); err != nil {
			t.Errorf("after IPCP with DNS servers: %v", err)
		}
		cancel()
	}
}

// The gateway's certificate issued again (SetCert) is what the next
// handshake presents, and what its crypto binding names: a client
// connects with it. The connected client stays, and reaches the VNet.
func TestSetCertNextHandshakes(t *testing.T) {
	r := newRegion(t, Config{})
	c, h, err := r.dial(t, r.pki.client)
	if err != nil {
		t.Fatal(err)
	}
	renewed := pkitest.Issue(t, "gateway", false, r.pki.root)
	r.srv.SetCert(renewed.TLS())
	tc, err := tls.Dial("tcp", r.srv.Addr().String(), &tls.Config{RootCAs: r.roots, ServerName: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	got := tc.ConnectionState().PeerCertificates[0]
	tc.Close()
	if !got.Equal(renewed.Certificate) {
		t.Fatalf("a handshake after SetCert got the certificate of serial %v, want the new one (%v)", got.SerialNumber, renewed.SerialNumber)
	}
	if _, _, err := r.dial(t, pkitest.Issue(t, "bob", false, r.pki.root).TLS()); err != nil {
		t.Fatalf("a client on the new certificate: %v", err)
	}
	select {
	case err := <-c.Done():
		t.Fatalf("the connected client was disconnected: %v", err)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Ping(ctx, r.web); err != nil {
		t.Fatalf("the connected client after SetCert: %v", err)
	}
}

// A call the gateway aborts (here for a wrong crypto binding, after the
// client authenticated and was given an address) gives its place among
// MaxClients back before the CALL_ABORT goes: the client that calls again
// the moment it reads the abort finds the room it had. The place was given
// back only after the abort had gone, so that a client calling again at
// once was now and then refused on a gateway that was not full. The
// aborted call is another certificate's: the same one's would make room
// itself (reserve).
func TestAbortedCallRoomAtOnce(t *testing.T) {
	r := newRegion(t, Config{MaxClients: 1})
	bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS()
	for i := range 50 {
		if _, _, err := r.dial(t, bob, func(c *ClientConfig) { c.breakBinding = true }); err == nil {
			t.Fatal("a wrong crypto binding was taken")
		}
		c, _, err := r.dial(t, r.pki.client)
		if err != nil {
			t.Fatalf("call %d, right after an aborted one: %v", i, err)
		}
		c.Close()
		for deadline := time.Now().Add(5 * time.Second); len(r.srv.Clients()) != 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after a client closed: %+v", r.srv.Clients())
			}
		}
	}
}
