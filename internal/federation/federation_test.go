package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/region"
)

const peerSub = "ffff0000-0000-0000-0000-00000000000f"

// fakePeer is another region's API with one gateway, counting the
// connections made to it and the requests with another token than its
// own.
type fakePeer struct {
	srv     *httptest.Server
	dir     string
	conns   atomic.Int64
	refused atomic.Int64
}

func newFakePeer(t *testing.T) *fakePeer {
	t.Helper()
	gw := arm.NetworkID(peerSub, "rg", "virtualNetworkGateways", "gw")
	vnet := arm.NetworkID(peerSub, "rg", "virtualNetworks", "vnet")
	pip := arm.NetworkID(peerSub, "rg", "publicIPAddresses", "pip")
	p := &fakePeer{dir: t.TempDir()}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer peer-token" {
			p.refused.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var body any
		switch strings.ToLower(r.URL.Path) {
		case gw.Key():
			g := arm.VirtualNetworkGateway{Resource: arm.Resource{ID: gw.String(), Location: "eastus"}}
			g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
				Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
			body = g
		case pip.Key():
			body = arm.PublicIPAddress{Properties: arm.PublicIPAddressProperties{IPAddress: "198.18.0.1"}}
		case vnet.Key():
			v := arm.VirtualNetwork{Resource: arm.Resource{ID: vnet.String()}}
			v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.2.0.0/16"}}
			body = v
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(body)
	}))
	p.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.conns.Add(1)
		}
	}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	for name, content := range map[string][]byte{datadir.Endpoint: []byte(p.srv.URL + "\n"), datadir.Token: []byte("peer-token\n"), datadir.CA: ca} {
		if err := os.WriteFile(filepath.Join(p.dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestLookupsReuseConnections pins a leak: every lookup (one per remote
// gateway every region.RemoteRefresh) made a new client whose kept-alive
// connection stayed open at both ends.
func TestLookupsReuseConnections(t *testing.T) {
	p := newFakePeer(t)
	peers := New([]string{p.dir})
	id := arm.NetworkID(peerSub, "rg", "virtualNetworkGateways", "gw").String()
	for range 5 {
		rg, err := peers.Gateway(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rg.PublicAddr.String() != "198.18.0.1" || len(rg.VNetPrefixes) != 1 {
			t.Fatalf("looked up %+v", rg)
		}
	}
	if n := p.conns.Load(); n != 1 {
		t.Fatalf("5 lookups opened %d connections to the peer, want 1", n)
	}

	// A peer that moved (a new endpoint after a restart) gets a new client.
	q := newFakePeer(t)
	for _, name := range []string{datadir.Endpoint, datadir.CA} {
		b, err := os.ReadFile(filepath.Join(q.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := peers.Gateway(context.Background(), id); err != nil {
		t.Fatalf("after the peer moved: %v", err)
	}
	if n := q.conns.Load(); n != 1 {
		t.Fatalf("the moved peer got %d connections, want 1", n)
	}
}

// TestUnknownGateway: a gateway no peer has is region.ErrNoRemote.
func TestUnknownGateway(t *testing.T) {
	p := newFakePeer(t)
	_, err := New([]string{p.dir}).Gateway(context.Background(), arm.NetworkID(peerSub, "rg", "virtualNetworkGateways", "ghost").String())
	if !errors.Is(err, region.ErrNoRemote) {
		t.Fatalf("want region.ErrNoRemote, got %v", err)
	}
}

// FuzzPeerAnswers: whatever another region's API answers (its gateway, the
// gateway's public IP and VNet, its connections to one of ours), with any
// status, is parsed without a panic, and a failure is an error, not a
// partial answer.
func FuzzPeerAnswers(f *testing.F) {
	gw := arm.NetworkID(peerSub, "rg", "virtualNetworkGateways", "gw")
	for _, seed := range []string{
		`{"id":"` + gw.String() + `","properties":{"ipConfigurations":[{"properties":{"subnet":{"id":"` + arm.NetworkID(peerSub, "rg", "virtualNetworks", "v").Child("subnets", "GatewaySubnet").String() + `"},"publicIPAddress":{"id":"` + arm.NetworkID(peerSub, "rg", "publicIPAddresses", "p").String() + `"}}}]}}`,
		`{"properties":{"ipAddress":"198.18.0.1","addressSpace":{"addressPrefixes":["10.2.0.0/16"]}}}`,
		`{"value":[{"connection":"c","gateway":"g","addressSpaces":[{"owner":"o","addressPrefixes":["10.0.0.0/8"]}]}]}`,
		`{"value":[null,{}]}`, `[]`, `null`, `{"error":{"code":"X","message":"y"}}`, "",
	} {
		f.Add(uint8(200), []byte(seed))
	}
	var answer atomic.Pointer[[]byte]
	var status atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		w.Write(*answer.Load())
	}))
	defer srv.Close()
	dir := f.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for name, content := range map[string][]byte{datadir.Endpoint: []byte(srv.URL + "\n"), datadir.Token: []byte("peer-token\n"), datadir.CA: ca} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			f.Fatal(err)
		}
	}
	peers := New([]string{dir})
	f.Fuzz(func(t *testing.T, code uint8, body []byte) {
		answer.Store(&body)
		status.Store(int32(200 + int(code)%300)) // 2xx to 4xx
		if rg, err := peers.Gateway(context.Background(), gw.String()); err == nil && rg == nil {
			t.Fatal("no gateway and no error")
		}
		if cs, err := peers.ConnectionsTo(context.Background(), gw.String()); err != nil && len(cs) != 0 {
			t.Fatalf("an error and %d connections", len(cs))
		}
	})
}

// silentPeer is another region whose API takes connections and never
// answers (its serve hung, or stopped in a debugger), until the test ends.
func silentPeer(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
		// Never an answer: returning would send 200 with no body, which
		// reads as an empty list.
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(func() {
		close(stop)
		srv.Close()
	})
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for name, content := range map[string][]byte{datadir.Endpoint: []byte(srv.URL + "\n"), datadir.Token: []byte("peer-token\n"), datadir.CA: ca} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSilentPeerHoldsNoOther: a peer region that does not answer, named
// first, does not keep the gateways of the others from being found. The
// peers were asked in turn under one deadline: the silent one held all of
// it, and the gateway of the peer after it was "could not be asked", so
// that a connection to it was refused and a known one never refreshed.
func TestSilentPeerHoldsNoOther(t *testing.T) {
	p := newFakePeer(t)
	peers := New([]string{silentPeer(t), p.dir})
	id := arm.NetworkID(peerSub, "rg", "virtualNetworkGateways", "gw").String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rg, err := peers.Gateway(ctx, id)
	if err != nil {
		t.Fatalf("the gateway of the peer that answers: %v", err)
	}
	if rg.PublicAddr.String() != "198.18.0.1" {
		t.Fatalf("looked up %+v", rg)
	}

	// Every peer must answer for ConnectionsTo: the silent one is named
	// in the error once the deadline passes, and nothing is answered.
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cs, err := peers.ConnectionsTo(ctx, id)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || len(cs) != 0 {
		t.Fatalf("ConnectionsTo with a silent peer: %d connections, error %v", len(cs), err)
	}
}

// TestPeerNotTheEnvironment: a peer is asked at the endpoint, with the
// token and CA, of its data directory, also when this serve runs with
// $VNETGW_ENDPOINT, $VNETGW_TOKEN and $VNETGW_CA set (for the CLI, in the
// operator's shell): they name this region's API. They were taken for
// every peer's: this region asked itself, or sent its own token to the
// peer.
func TestPeerNotTheEnvironment(t *testing.T) {
	p := newFakePeer(t)
	var asked atomic.Int64
	self := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer self.Close()
	selfCA := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(selfCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: self.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	id := arm.NetworkID(peerSub, "rg", "virtualNetworkGateways", "gw").String()
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"the token", map[string]string{client.EnvToken: "this-regions-token"}},
		{"endpoint, token and CA", map[string]string{client.EnvEndpoint: self.URL, client.EnvToken: "this-regions-token", client.EnvCA: selfCA}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			rg, err := New([]string{p.dir}).Gateway(context.Background(), id)
			if err != nil || rg.PublicAddr.String() != "198.18.0.1" {
				t.Fatalf("the peer's gateway: %+v, %v", rg, err)
			}
			if n, m := p.refused.Load(), asked.Load(); n != 0 || m != 0 {
				t.Fatalf("the peer got %d requests with another token, this region's API %d requests", n, m)
			}
		})
	}
}

// TestPeerFailureNamesItsDirectory: a peer region that cannot be reached
// (its serve stopped, its endpoint file left behind) or whose certificate
// is not of the CA in its directory (a copy of ca.pem from before its CA
// was made again) is told of by its data directory, which is all that
// names a peer. The errors, shown in the connections' status reason, in
// the refusal of a write and in the log, were the CLI's: is `vnetgw
// serve` running (with this --data-dir, or $VNETGW_ENDPOINT)?, and set
// $VNETGW_CA, which serve does not read for a peer.
func TestPeerFailureNamesItsDirectory(t *testing.T) {
	id := arm.NetworkID(peerSub, "rg", "virtualNetworkGateways", "gw").String()
	check := func(t *testing.T, dir string, want ...string) {
		t.Helper()
		_, err := New([]string{dir}).Gateway(context.Background(), id)
		if err == nil {
			t.Fatal("the peer's gateway was found")
		}
		for _, cli := range []string{"$VNETGW", "--data-dir", "for the CLI"} {
			if strings.Contains(err.Error(), cli) {
				t.Errorf("the error names %s, the CLI's, not the peer's: %v", cli, err)
			}
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("the error does not say %q: %v", w, err)
			}
		}
	}
	t.Run("stopped", func(t *testing.T) {
		p := newFakePeer(t)
		p.srv.Close()
		check(t, p.dir, "nothing answers at "+p.srv.URL, "is the `vnetgw serve` of data directory "+p.dir+" running?")
	})
	t.Run("another CA", func(t *testing.T) {
		p := newFakePeer(t)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vnetgw CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.dir, datadir.CA), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		ca := filepath.Join(p.dir, datadir.CA)
		check(t, p.dir, "the certificate of "+p.srv.URL+" is not issued by the CA of "+ca, "is it the ca.pem of the vnetgw serve there")
	})
}

// hungDir is a peer's data directory whose files do not answer, as on a
// network file system whose server is gone (a hard NFS mount): its
// endpoint file is a named pipe that no one writes, whose open waits as
// such a read does, for ever. The reads left waiting end with the test.
func hungDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, datadir.Endpoint)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A writer that comes and goes ends the reads waiting (fails
		// when none waits).
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	return dir
}

// TestPeerDirectoryThatDoesNotAnswer: a peer whose data directory does not
// answer (a network file system whose server is gone) holds a lookup no
// longer than its deadline, and not the other peers' answers. The
// directory was read without a deadline: the lookup waited for ever, and
// with it a write that names a remote gateway (its client waiting too),
// a gateway's delete, and the refresh of every remote gateway, that of
// the peers that answer too. Each lookup left a read behind.
func TestPeerDirectoryThatDoesNotAnswer(t *testing.T) {
	p := newFakePeer(t)
	hung := hungDir(t)
	id := arm.NetworkID(peerSub, "rg", "virtualNetworkGateways", "gw").String()
	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() {
			defer close(done)
			f()
		}()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no answer after 15 s", what)
		}
	}

	peers := New([]string{hung, p.dir})
	var rg *region.RemoteGateway
	var err error
	within("the gateway of the peer that answers", func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rg, err = peers.Gateway(ctx, id)
	})
	if err != nil || rg.PublicAddr.String() != "198.18.0.1" {
		t.Fatalf("the gateway of the peer that answers: %+v, %v", rg, err)
	}

	var cs []region.ConnectionTo
	within("ConnectionsTo", func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		cs, err = peers.ConnectionsTo(ctx, id)
	})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "peer "+hung+":") || len(cs) != 0 {
		t.Fatalf("ConnectionsTo with a peer whose directory does not answer: %d connections, error %v", len(cs), err)
	}

	// The lookups of a refresh every few seconds, each with its deadline:
	// one read of the directory waits, not one more each time (each
	// holds a thread, blocked in the kernel).
	alone := New([]string{hung})
	before := runtime.NumGoroutine()
	within("50 lookups", func() {
		for range 50 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, err = alone.Gateway(ctx, id)
			cancel()
			if err == nil {
				return
			}
		}
	})
	if err == nil {
		t.Fatal("a gateway found at a peer whose directory does not answer")
	}
	if n := runtime.NumGoroutine() - before; n > 10 {
		t.Fatalf("50 lookups left %d more goroutines", n)
	}
}
