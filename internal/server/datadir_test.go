package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// TestOpenVPNKeys: a gateway's OpenVPN static key is the same every time
// it is asked for with the same data directory (a restart, another node
// with the same CA), whatever the case of its resourceGuid; another
// gateway, or another CA, gives another key; a gateway without a
// resourceGuid gets none.
func TestOpenVPNKeys(t *testing.T) {
	dir := t.TempDir()
	ca := openTestCA(t, dir)
	const guid = "0b6f3c9e-4d7a-4a51-9f0e-2c8d1e7b5a34"
	k1, err := openVPNKeys(ca)(guid)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := openVPNKeys(openTestCA(t, dir))(strings.ToUpper(guid))
	if err != nil || *k2 != *k1 {
		t.Fatalf("asked again: %v, the same key %v", err, k2 != nil && *k2 == *k1)
	}
	other, err := openVPNKeys(ca)("5e1d2c3b-0000-4a51-9f0e-2c8d1e7b5a34")
	if err != nil || *other == *k1 {
		t.Errorf("another gateway: %v, the same key %v", err, other != nil && *other == *k1)
	}
	elsewhere, err := openVPNKeys(openTestCA(t, t.TempDir()))(guid)
	if err != nil || *elsewhere == *k1 {
		t.Errorf("another CA: %v, the same key %v", err, elsewhere != nil && *elsewhere == *k1)
	}
	if _, err := openVPNKeys(ca)(""); err == nil {
		t.Error("a key for a gateway without a resourceGuid")
	}
}

var discard = slog.New(slog.DiscardHandler)

// caRemade returns the warnings in log (a JSONHandler's) that the data
// directory's CA was made again, and fails t when log holds the CA's
// key, found in dir.
func caRemade(t *testing.T, log *logbuf.Buffer, dir string) []map[string]any {
	t.Helper()
	text := log.String()
	key, _ := os.ReadFile(filepath.Join(dir, datadir.CAKey))
	for l := range strings.Lines(string(key)) {
		if l = strings.TrimSpace(l); l != "" && strings.Contains(text, l) {
			t.Errorf("the log holds the CA's key (%q):\n%s", l, text)
		}
	}
	lines, err := logbuf.JSONLines(text)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range lines {
		if l["level"] == "WARN" && l["ca"] != nil && l["reason"] != nil {
			out = append(out, l)
		}
	}
	return out
}

// openTestCA is openCA for a test.
func openTestCA(t *testing.T, dir string) *dataCA {
	t.Helper()
	ca, err := openCA(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestCAKeptOrRefused: the data directory's CA is made once and loaded
// after; one cut short (a copy that did not finish) is an error, not
// silently replaced (clients trust it, and the gateways' OpenVPN keys
// come from its key).
func TestCAKeptOrRefused(t *testing.T) {
	dir := t.TempDir()
	ca, _, err := ensureCA(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := ensureCA(dir, discard)
	if err != nil || !again.Equal(ca) {
		t.Fatalf("loaded again: %v, the same %v", err, err == nil && again.Equal(ca))
	}
	caPath := filepath.Join(dir, datadir.CA)
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caPath, pem[:len(pem)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ensureCA(dir, discard); err == nil {
		t.Error("a CA cut short was taken or replaced")
	}
	if got, _ := os.ReadFile(caPath); len(got) != len(pem)/2 {
		t.Error("the CA cut short was overwritten")
	}
}

// TestCAKeyWithoutCertificate: a first start cut short between the CA's
// two writes (its key, then its certificate) leaves ca-key.pem without
// ca.pem, and the next start makes the certificate for that key and
// serves, with --tls-cert or without: it refused to ("one of ca.pem and
// ca-key.pem without the other") until the key was removed by hand. The
// key is kept, not replaced: what came from it (the gateways' OpenVPN
// keys, the API's certificate it signed, a client's trust in a CA of its
// name and key) stays good. The files of --tls-cert and --tls-key are
// left as they are. A certificate without its key is still refused.
// The certificate made again is logged, a warning naming its file, as
// the first one is not: it was made without a word.
func TestCAKeyWithoutCertificate(t *testing.T) {
	const guid = "0b6f3c9e-4d7a-4a51-9f0e-2c8d1e7b5a34"
	for i, tc := range []struct {
		name     string
		remove   string // the file of the pair the crash left out
		userCert bool
	}{
		{"key without certificate", datadir.CA, false},
		{"key without certificate, --tls-cert", datadir.CA, true},
		{"certificate without key", datadir.CAKey, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A data directory a serve started with (its CA issued the
			// API's certificate, and a gateway's OpenVPN key came from it),
			// then one of the CA's files gone: the state a start cut short
			// leaves, and more.
			dir := t.TempDir()
			var first, second logbuf.Buffer
			cfg := Config{DataDir: dir, Listen: fmt.Sprintf("127.96.0.%d:0", 5+i), PublicIPPool: fmt.Sprintf("127.96.%d.0/24", 5+i),
				Logger: slog.New(slog.NewJSONHandler(&first, nil))}
			s, err := New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			s.close()
			if w := caRemade(t, &first, dir); len(w) != 0 {
				t.Errorf("the first CA was logged as made again: %v", w)
			}
			ovpn, err := openVPNKeys(openTestCA(t, dir))(guid)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, tc.remove)); err != nil {
				t.Fatal(err)
			}
			kept := map[string][]byte{}
			for _, name := range []string{datadir.CA, datadir.CAKey, datadir.Cert, datadir.Key} {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
					kept[filepath.Join(dir, name)] = b
				}
			}
			if tc.userCert {
				user := pkitest.Issue(t, "api", false, pkitest.Issue(t, "the user's CA", true, nil), netip.MustParseAddr("127.96.0.1"))
				cfg.TLSCert, cfg.TLSKey = user.WritePEM(t, t.TempDir(), "api")
				for _, f := range []string{cfg.TLSCert, cfg.TLSKey} {
					b, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					kept[f] = b
				}
			}
			cfg.Logger = slog.New(slog.NewJSONHandler(&second, nil))
			s, err = New(context.Background(), cfg)
			w := caRemade(t, &second, dir)
			if tc.remove == datadir.CAKey && len(w) != 0 || tc.remove == datadir.CA && (len(w) != 1 ||
				w[0]["ca"] != filepath.Join(dir, datadir.CA) || w[0]["reason"] != "missing while "+filepath.Join(dir, datadir.CAKey)+" was there" ||
				!strings.Contains(w[0]["msg"].(string), "made again from its key")) {
				t.Errorf("the CA certificate made again was logged as %v, want one warning naming %s", w, filepath.Join(dir, datadir.CA))
			}
			if tc.remove == datadir.CAKey {
				if err == nil {
					s.close()
					t.Fatal("serve started with a CA certificate whose key is gone")
				}
				if _, err := os.Stat(filepath.Join(dir, datadir.CAKey)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a key was made for the CA certificate: %v", err)
				}
			} else {
				if err != nil {
					t.Fatalf("serve does not start after a start cut short between the CA's key and its certificate: %v", err)
				}
				s.close()
			}
			for f, b := range kept {
				if got, err := os.ReadFile(f); err != nil || !bytes.Equal(got, b) {
					t.Errorf("%s was changed or removed (%v)", f, err)
				}
			}
			if tc.remove == datadir.CAKey {
				return
			}
			pair, err := tls.LoadX509KeyPair(filepath.Join(dir, datadir.CA), filepath.Join(dir, datadir.CAKey))
			if err != nil {
				t.Fatalf("the data directory's CA does not load: %v", err)
			}
			api, err := tls.LoadX509KeyPair(filepath.Join(dir, datadir.Cert), filepath.Join(dir, datadir.Key))
			if err != nil || api.Leaf.CheckSignatureFrom(pair.Leaf) != nil {
				t.Errorf("the API's certificate does not load, or the CA made again does not verify it: %v", err)
			}
			if again, err := openVPNKeys(openTestCA(t, dir))(guid); err != nil || *again != *ovpn {
				t.Errorf("a gateway's OpenVPN key changed: %v", err)
			}
		})
	}
}

// TestMetricsDefaults: a Server made without the CLI's flags (as the demo
// makes one) samples every minute, keeps six hours and writes the
// history every 15 minutes, not at every sample.
func TestMetricsDefaults(t *testing.T) {
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", PublicIPPool: "127.23.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if c := s.cfg; c.MetricsInterval != time.Minute || c.MetricsRetention != 6*time.Hour || c.MetricsSave != 15*time.Minute {
		t.Errorf("metrics every %s, kept %s, written every %s; want 1m, 6h, 15m", c.MetricsInterval, c.MetricsRetention, c.MetricsSave)
	}
}

// TestAPICertificateRenewedWhileServing: the API's certificate, issued by
// the data directory's CA for a year, is issued again when it comes
// within a day of its end while serve runs, not only at a start: a serve
// that ran for a year served an expired certificate, and every client
// failed. Here the certificate found at start has a day and 8 s left.
func TestAPICertificateRenewedWhileServing(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, err := ensureCA(dir, discard)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	host := netip.MustParseAddr("127.96.0.1")
	ends := time.Now().Add(24*time.Hour + 8*time.Second)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: ends,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, host.AsSlice()}}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, datadir.Cert), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, datadir.Key), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), Config{DataDir: dir, Listen: host.String() + ":0", PublicIPPool: "127.96.1.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	served := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", s.listener.Addr().String(), &tls.Config{RootCAs: roots, ServerName: host.String()})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	if c := served(); c.SerialNumber.Cmp(big.NewInt(1)) != 0 {
		t.Fatalf("serve started more than 8 s after the certificate was made and issued another (until %s): the test tests nothing", c.NotAfter)
	}
	time.Sleep(time.Until(ends.Add(-24*time.Hour + 100*time.Millisecond)))
	c := served()
	if c.SerialNumber.Cmp(big.NewInt(1)) == 0 || c.NotAfter.Before(time.Now().AddDate(0, 11, 0)) {
		t.Fatalf("a day before its end, the API serves a certificate until %s (serial %s), not a new one", c.NotAfter, c.SerialNumber)
	}
	if b, err := os.ReadFile(filepath.Join(dir, datadir.Cert)); err != nil || bytes.Contains(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) {
		t.Errorf("%s still holds the old certificate (%v): a restart would serve it", datadir.Cert, err)
	}
}

// TestDataDirOthersMayWriteRefused: serve refuses a data directory that
// others may write to, by its mode or as its owner, before it writes
// there: anyone could put an admin-token of theirs in it (taken as the
// token), or a CA and an endpoint file (the CLI would send the token
// there). One that others may only read is taken.
func TestDataDirOthersMayWriteRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		owner int // another user's uid (root only); 0: this one's
		ok    bool
	}{
		{"owner only", 0o700, 0, true},
		{"others read", 0o755, 0, true},
		{"group writes", 0o770, 0, false},
		{"everyone writes", 0o777, 0, false},
		{"another user's", 0o755, 65534, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.owner != 0 {
				if os.Geteuid() != 0 {
					t.Skip("needs root, to give the directory to another user")
				}
				if err := os.Chown(dir, tc.owner, tc.owner); err != nil {
					t.Fatal(err)
				}
			}
			s, err := New(context.Background(), Config{DataDir: dir, Listen: "127.96.0.2:0", PublicIPPool: "127.96.2.0/24"})
			if err == nil {
				s.close()
			}
			switch {
			case tc.ok && err != nil:
				t.Fatalf("mode %04o refused: %v", tc.mode, err)
			case !tc.ok && err == nil:
				t.Fatalf("mode %04o, which others may write to, taken", tc.mode)
			case !tc.ok && !strings.Contains(err.Error(), "may write"):
				t.Errorf("the refusal does not say why: %v", err)
			}
			if entries, _ := os.ReadDir(dir); !tc.ok && len(entries) > 0 {
				t.Errorf("refused, but %d files were written there first (%s, ...)", len(entries), entries[0].Name())
			}
		})
	}
}

// TestStopCutsOffSlowRequests: a request still running 10 s after serve
// is told to stop (here its body comes no further) has its connection
// closed before the store closes, and serve ends without an error; Run
// returned "context deadline exceeded", so that serve exited as failed
// after a SIGTERM, with the request still reading from a closed store.
func TestStopCutsOffSlowRequests(t *testing.T) {
	dir := t.TempDir()
	s, err := New(context.Background(), Config{DataDir: dir, Listen: "127.96.0.3:0", PublicIPPool: "127.96.3.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	// The request is under way once the API has it (not only its
	// headers read: a request read while serve stops is not served).
	started := make(chan struct{}, 1)
	api := s.http.Handler
	s.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		api.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	token, err := os.ReadFile(s.TokenFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", s.listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT /subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/slow?api-version=2024-05-01 HTTP/1.1\r\nHost: x\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", strings.TrimSpace(string(token)))
	<-started
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("serve stopped with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve has not stopped 60 s after it was told to")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 512)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the slow request's connection is open after serve stopped: read %d bytes, %v", n, err)
	}
}

// TestUserCertificateReadAgain: the certificate of --tls-cert and
// --tls-key is read again when its files change while serve runs (here
// as certbot renews one: the symbolic links of its live/ directory point
// at new files), and new connections get it; it was read once at start,
// so that a renewed certificate took a restart, and the old one expired
// meanwhile. A pair that does not load (the certificate replaced, its
// key not yet) is logged, and the old certificate serves on.
func TestUserCertificateReadAgain(t *testing.T) {
	files := t.TempDir()
	root := pkitest.Issue(t, "the user's CA", true, nil)
	host := netip.MustParseAddr("127.91.0.2")
	first, second := pkitest.Issue(t, "api1", false, root, host), pkitest.Issue(t, "api2", false, root, host)
	cert1, key1 := first.WritePEM(t, files, "cert1")
	cert2, key2 := second.WritePEM(t, files, "cert2")
	live := filepath.Join(files, "live")
	if err := os.Mkdir(live, 0o700); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(live, "cert.pem"), filepath.Join(live, "key.pem")
	point := func(link, to string) {
		t.Helper()
		if err := os.Symlink(to, link+".new"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(link+".new", link); err != nil {
			t.Fatal(err)
		}
	}
	point(certFile, cert1)
	point(keyFile, key1)
	var logged lockedBuffer
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), Listen: host.String() + ":0", PublicIPPool: "127.91.1.0/24",
		TLSCert: certFile, TLSKey: keyFile, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(root.Certificate)
	served := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", s.listener.Addr().String(), &tls.Config{RootCAs: roots, ServerName: host.String()})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	// until makes handshakes until ok, for a minute at most.
	until := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("a minute on, %s; the log:\n%s", what, logged.String())
			}
		}
	}
	if c := served(); !c.Equal(first.Certificate) {
		t.Fatalf("serve started with %s, want the certificate of --tls-cert", c.Subject)
	}
	point(certFile, cert2)
	until("the certificate without its key is not logged", func() bool {
		served()
		return strings.Contains(logged.String(), "do not load")
	})
	if c := served(); !c.Equal(first.Certificate) {
		t.Fatalf("with the new certificate and the old key, the API serves %s, want the old certificate", c.Subject)
	}
	point(keyFile, key2)
	until("the API serves the old certificate", func() bool { return served().Equal(second.Certificate) })
}

// lockedBuffer is a log's output that a test reads while it is written.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCAEndingWarned: serve warns at start when the data directory's CA
// ends within a year, naming the file and the day: at its end every
// client's trust in the API's and the gateways' certificates ends, and
// nothing said so before. A new CA (ten years) is not warned of.
func TestCAEndingWarned(t *testing.T) {
	const warning = "the data directory's CA ends within a year"
	start := func(dir string) string {
		t.Helper()
		var logged lockedBuffer
		s, err := New(context.Background(), Config{DataDir: dir, Listen: "127.91.0.4:0", PublicIPPool: "127.91.4.0/24",
			Logger: slog.New(slog.NewTextHandler(&logged, nil))})
		if err != nil {
			t.Fatal(err)
		}
		s.close()
		return logged.String()
	}
	if log := start(t.TempDir()); strings.Contains(log, warning) {
		t.Errorf("a new CA is warned of:\n%s", log)
	}
	dir := t.TempDir()
	ends := time.Now().Add(30 * 24 * time.Hour)
	writeCA(t, dir, ends)
	log := start(dir)
	if !strings.Contains(log, warning) || !strings.Contains(log, ends.UTC().Format("2006-01-02")) || !strings.Contains(log, filepath.Join(dir, datadir.CA)) {
		t.Errorf("a CA that ends in 30 days is not warned of with its file and day (%s):\n%s", ends.UTC().Format("2006-01-02"), log)
	}
}

// writeCA writes a CA in the data directory dir, as serve makes one but
// ending at ends, and returns it.
func writeCA(t *testing.T, dir string, ends time.Time) *pkitest.Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vnetgw local CA"}, NotBefore: ends.AddDate(-10, 0, 0), NotAfter: ends,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, datadir.CAKey), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, datadir.CA), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pkitest.Cert{Certificate: c, Key: key}
}

// TestCAReplacedOnce: the data directory's CA, when it has expired, is
// replaced once, however many callers need it at the same time (gateways'
// certificates and OpenVPN keys, the API's certificate), and every caller
// gets the one that stays: each replaced it, and the key of one run was
// left with the certificate of another, a pair with which serve did not
// start again (and certificates were issued by CAs no file held). One
// that has not expired is kept. The replacement is logged once, a
// warning naming the file and that it had expired: it was made without
// a word, and clients must trust the new one.
func TestCAReplacedOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ends    time.Duration // from now
		replace bool
	}{
		{"expired", -time.Hour, true},
		{"valid", time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := writeCA(t, dir, time.Now().Add(tc.ends))
			// Not loaded yet: its first callers find it expired together,
			// as callers do when it expires while serve runs.
			var log logbuf.Buffer
			ca := &dataCA{dir: dir, log: slog.New(slog.NewJSONHandler(&log, nil))}
			gatewayCert, openVPNKey := gatewayCerts(ca), openVPNKeys(ca)
			const guid = "0b6f3c9e-4d7a-4a51-9f0e-2c8d1e7b5a34"
			const callers = 12
			issued := make([]*x509.Certificate, callers) // gateways' and the API's certificates
			keys := make([]*openvpn.StaticKey, callers)
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					switch i % 4 {
					case 0:
						var c tls.Certificate
						if c, errs[i] = issueTLS(ca, nil); errs[i] == nil {
							issued[i] = c.Leaf
						}
					case 1, 2:
						var c tls.Certificate
						if c, errs[i] = gatewayCert(netip.AddrFrom4([4]byte{127, 96, 5, byte(i)})); errs[i] == nil {
							issued[i] = c.Leaf
						}
					case 3:
						keys[i], errs[i] = openVPNKey(guid)
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			pair, err := tls.LoadX509KeyPair(filepath.Join(dir, datadir.CA), filepath.Join(dir, datadir.CAKey))
			if err != nil {
				t.Fatalf("the data directory's CA does not load: %v", err)
			}
			stays := pair.Leaf
			switch {
			case tc.replace && (stays.Equal(old.Certificate) || !time.Now().Before(stays.NotAfter)):
				t.Fatalf("the expired CA was not replaced: %s until %s", stays.Subject, stays.NotAfter)
			case !tc.replace && !stays.Equal(old.Certificate):
				t.Fatalf("the valid CA was replaced by one until %s", stays.NotAfter)
			}
			w := caRemade(t, &log, dir)
			if tc.replace && (len(w) != 1 || w[0]["ca"] != filepath.Join(dir, datadir.CA) ||
				w[0]["reason"] != "expired at "+old.NotAfter.Format(time.RFC3339) || w[0]["until"] != stays.NotAfter.Format(time.RFC3339)) ||
				!tc.replace && len(w) != 0 {
				t.Errorf("the replacement was logged as %v, want %v", w, tc.replace)
			}
			want, err := openVPNKeys(openTestCA(t, dir))(guid) // as after a restart
			if err != nil {
				t.Fatal(err)
			}
			for i := range callers {
				if c := issued[i]; c != nil && c.CheckSignatureFrom(stays) != nil {
					t.Errorf("caller %d got a certificate (%s) of a CA that is not the data directory's", i, c.Subject)
				}
				if k := keys[i]; k != nil && *k != *want {
					t.Errorf("caller %d got an OpenVPN key of a CA key that is not the data directory's", i)
				}
			}
		})
	}
}

// TestCAReplacementCutShort: a replacement of the expired CA that was
// cut short between its two writes (a crash, a power loss) leaves the new
// key with the expired certificate; the CA is replaced again, and serve
// starts: it refused to, the pair not being one. A key that is not the
// certificate's while the certificate is valid is still refused, the
// files left as they are.
func TestCAReplacementCutShort(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ends    time.Duration // from now
		replace bool
	}{
		{"expired", -time.Hour, true},
		{"valid", time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := writeCA(t, dir, time.Now().Add(tc.ends))
			// The key of another CA, as a replacement writes it first.
			other := t.TempDir()
			writeCA(t, other, time.Now().AddDate(10, 0, 0))
			if err := os.Rename(filepath.Join(other, datadir.CAKey), filepath.Join(dir, datadir.CAKey)); err != nil {
				t.Fatal(err)
			}
			keyPEM, err := os.ReadFile(filepath.Join(dir, datadir.CAKey))
			if err != nil {
				t.Fatal(err)
			}
			var log logbuf.Buffer
			ca, _, err := ensureCA(dir, slog.New(slog.NewJSONHandler(&log, nil)))
			w := caRemade(t, &log, dir)
			if tc.replace && (len(w) != 1 || w[0]["reason"] != "expired, with the key of a replacement cut short") || !tc.replace && len(w) != 0 {
				t.Errorf("the replacement was logged as %v, want %v", w, tc.replace)
			}
			if !tc.replace {
				if err == nil {
					t.Fatal("a valid CA with a key not its own was taken or replaced")
				}
				if pair, err := tls.LoadX509KeyPair(filepath.Join(dir, datadir.CA), filepath.Join(dir, datadir.CAKey)); err == nil {
					t.Errorf("the files were changed into a pair (until %s)", pair.Leaf.NotAfter)
				}
				if b, _ := os.ReadFile(filepath.Join(dir, datadir.CAKey)); !bytes.Equal(b, keyPEM) {
					t.Error("the key was overwritten")
				}
				return
			}
			if err != nil {
				t.Fatalf("the expired CA with the key of its replacement: %v", err)
			}
			if ca.Equal(old.Certificate) || !time.Now().Before(ca.NotAfter) {
				t.Fatalf("the expired CA was not replaced: until %s", ca.NotAfter)
			}
			s, err := New(context.Background(), Config{DataDir: dir, Listen: "127.96.0.4:0", PublicIPPool: "127.96.4.0/24"})
			if err != nil {
				t.Fatalf("serve does not start: %v", err)
			}
			s.close()
		})
	}
}

// TestLeftoverTemporaryFilesRemoved: the hidden temporary files a serve
// killed (kill -9, a power loss) while writing a data directory's file
// left there are removed at the next start, with a line in the log each;
// one that is not a minute old yet, and files of other names or patterns,
// are left. They stayed for ever, each maybe a private key or a metrics
// history of megabytes.
func TestLeftoverTemporaryFilesRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const random = "ABCDEFGHIJKLMNOPQRSTUVWXY2"
	old := time.Now().Add(-time.Hour)
	files := map[string]bool{ // name: removed
		"." + datadir.CAKey + "." + random:          true,
		"." + datadir.MetricsHistory + "." + random: true,
		"." + datadir.Token + "." + random:          false, // new
		"." + datadir.Token + ".notours":            false,
		".notes." + random:                          false,
		"." + datadir.Endpoint + "." + random + "x": false,
	}
	for name := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != "."+datadir.Token+"."+random {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	var log logbuf.Buffer
	s, err := New(context.Background(), Config{DataDir: dir, Listen: "127.164.0.1:0", PublicIPPool: "127.164.1.0/24",
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.close()
	for name, removed := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		switch {
		case removed && err == nil:
			t.Errorf("%s left", name)
		case !removed && err != nil:
			t.Errorf("%s: %v, want it left", name, err)
		case removed && !strings.Contains(log.String(), "file="+filepath.Join(dir, name)):
			t.Errorf("no log line for %s:\n%s", name, log.String())
		}
	}
}

// TestDamagedMetricsHistoryKeptAfterCrash: a metrics history cut short (by
// a crash of an older vnetgw, a disk that filled) is set aside at start,
// and the series read before the damage are written again at once, so that
// a serve killed before its first save (kill -9, a crash loop) leaves them
// for the next start. They were kept in memory alone: the next start found
// no metrics history, and the connections' metrics up to the damage were
// gone.
func TestDamagedMetricsHistoryKeptAfterCrash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	h := insights.New(time.Minute, 6*time.Hour)
	start := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for i := range 10 {
		h.Record(start.Add(time.Duration(i)*time.Minute), map[string]insights.Counters{
			"a": {Ingress: uint64(i) * 1000}, "b": {Ingress: uint64(i) * 1000}})
	}
	var buf bytes.Buffer
	if err := h.Save(&buf); err != nil {
		t.Fatal(err)
	}
	// Cut in b's samples: a's are whole.
	path := filepath.Join(dir, datadir.MetricsHistory)
	if err := os.WriteFile(path, buf.Bytes()[:buf.Len()-100], 0o600); err != nil {
		t.Fatal(err)
	}
	has := func(s *Server, id string) bool {
		for _, b := range s.insights.Buckets(id, start, start.Add(10*time.Minute), 10*time.Minute) {
			if b.Has && b.Ingress > 0 {
				return true
			}
		}
		return false
	}
	var log logbuf.Buffer
	cfg := Config{DataDir: dir, Listen: "127.0.0.1:0", PublicIPPool: "127.166.1.0/24", Logger: slog.New(slog.NewTextHandler(&log, nil))}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !has(s, "a") {
		t.Errorf("a's samples, before the damage, not read:\n%s", log.String())
	}
	if _, err := os.Stat(path + ".bad"); err != nil {
		t.Errorf("the damaged file not set aside: %v", err)
	}
	s.close() // no save, as after a kill -9
	s, err = New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if !has(s, "a") {
		t.Errorf("a's samples, read from the damaged file at the start before, gone after a crash:\n%s", log.String())
	}
}
