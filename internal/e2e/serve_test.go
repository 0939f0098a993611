package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/sigtest"
)

// waitPrinted waits until serve has printed n lines and returns them.
func waitPrinted(t *testing.T, s *serve, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := s.printed()
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed %d lines, want %d: %q", len(lines), n, lines)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestServeFirstStart checks what the first start of serve makes in a data
// directory that does not exist yet, what it prints, and that a second
// start keeps the token and the CA (R27: the token and certificate that
// clients find by themselves).
func TestServeFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := startServe(t, dir)
	path := func(name string) string { return filepath.Join(dir, name) }

	lines := waitPrinted(t, s, 3)
	want := []string{
		"vnetgw serving " + s.url,
		"  admin token: " + path(datadir.Token),
		"  CA:          " + path(datadir.CA),
	}
	if !slices.Equal(lines[:3], want) {
		t.Fatalf("serve printed\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if !regexp.MustCompile(`^https://127\.0\.0\.1:\d+$`).MatchString(s.url) {
		t.Fatalf("URL %q", s.url)
	}

	if m := mode(t, dir); m != 0o700 {
		t.Errorf("data directory mode %04o, want 0700", m)
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{
		{datadir.Token, 0o600},
		{datadir.CAKey, 0o600},
		{datadir.Key, 0o600},
		{datadir.CA, 0o644},
		{datadir.Cert, 0o644},
		{datadir.State, 0o600},
		{datadir.Endpoint, 0o644},
	} {
		if m := mode(t, path(f.name)); m != f.mode {
			t.Errorf("%s has mode %04o, want %04o", f.name, m, f.mode)
		}
	}
	token := s.token()
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(token) {
		t.Errorf("admin token %q is not 32 random bytes in base64url", token)
	}
	if ep, _ := os.ReadFile(path(datadir.Endpoint)); string(ep) != s.url+"\n" {
		t.Errorf("endpoint file %q, want the URL alone", ep)
	}

	// The CA printed verifies the server, and the token authenticates.
	cfg, err := client.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CAFile != path(datadir.CA) || cfg.Endpoint != s.url || cfg.Token != token {
		t.Fatalf("discovered %+v", cfg)
	}
	c := s.client()
	var l arm.List[arm.ResourceGroup]
	if _, err := c.Do(context.Background(), "GET", "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups", nil, &l); err != nil {
		t.Fatalf("a request with the discovered configuration: %v", err)
	}

	// A second serve on the directory is refused before it writes in it
	// (another --listen host would have meant another server.pem).
	pem, _ := os.ReadFile(path(datadir.Cert))
	out, err := exec.Command(binary, "serve", "--data-dir", dir, "--listen", "127.0.0.2:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another vnetgw serve") {
		t.Errorf("a second serve on the data directory: %v\n%s", err, out)
	}
	if pem2, _ := os.ReadFile(path(datadir.Cert)); string(pem2) != string(pem) {
		t.Error("the refused second serve wrote server.pem")
	}
	if ep, _ := os.ReadFile(path(datadir.Endpoint)); string(ep) != s.url+"\n" {
		t.Errorf("after a refused second serve, the endpoint file says %q", ep)
	}

	ca, _ := os.ReadFile(path(datadir.CA))
	s.stop()
	s2 := startServe(t, dir)
	if s2.token() != token {
		t.Error("a second start made a new admin token")
	}
	if ca2, _ := os.ReadFile(path(datadir.CA)); string(ca2) != string(ca) {
		t.Error("a second start made a new CA")
	}
}

// TestServeTightensSecretModes: the data directory's secret files (the
// keys, the admin token, the state with its pre-shared keys) that others
// may read are made 0600 at start, each with a warning, and keep what
// they hold.
func TestServeTightensSecretModes(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir).stop()
	tokenFile := filepath.Join(dir, datadir.Token)
	if err := os.WriteFile(tokenFile, []byte("aTokenOthersCouldRead\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := []string{datadir.CAKey, datadir.Key, datadir.Token, datadir.State}
	for _, name := range secrets {
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startServe(t, dir)
	log := s.log()
	for _, name := range secrets {
		path := filepath.Join(dir, name)
		if m := mode(t, path); m != 0o600 {
			t.Errorf("%s has mode %04o after start, want 0600", name, m)
		}
		if !strings.Contains(log, path) {
			t.Errorf("no warning names %s", name)
		}
	}
	if !strings.Contains(log, "readable by others") || !strings.Contains(log, "0644") {
		t.Fatalf("no warning about the files' modes:\n%s", log)
	}
	if s.token() != "aTokenOthersCouldRead" {
		t.Fatalf("the token changed to %q", s.token())
	}
	if _, err := s.client().Do(context.Background(), "GET", "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups", nil, nil); err != nil {
		t.Fatalf("the kept token is refused: %v", err)
	}
}

// userCert writes a self-signed certificate for 127.0.0.1 and its key, as
// an operator would bring with --tls-cert and --tls-key.
func userCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "operator's certificate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	certFile, keyFile = filepath.Join(d, "cert.pem"), filepath.Join(d, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestServeWithUserCertificate: with --tls-cert, serve prints no CA path,
// and a ca.pem left by an earlier start is not what clients trust: they
// verify the certificate with the system roots, or with $VNETGW_CA. A
// start without --tls-cert brings the data directory's CA back.
func TestServeWithUserCertificate(t *testing.T) {
	dir := t.TempDir()
	startServe(t, dir).stop() // leaves ca.pem behind
	caFile := filepath.Join(dir, datadir.CA)
	certFile, keyFile := userCert(t)

	s := startServe(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	lines := waitPrinted(t, s, 3)
	for _, l := range lines {
		if strings.Contains(l, "CA:") || strings.Contains(l, datadir.CA) {
			t.Fatalf("serve with --tls-cert printed a CA it did not use:\n%s", strings.Join(lines, "\n"))
		}
	}
	if !strings.Contains(lines[2], "--tls-cert") || !strings.Contains(lines[2], "VNETGW_CA") {
		t.Fatalf("serve does not say how clients verify its certificate:\n%s", strings.Join(lines, "\n"))
	}
	if _, err := os.Stat(caFile); err != nil {
		t.Fatalf("the data directory's CA was removed: %v", err)
	}
	cfg, err := client.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CAFile != "" || cfg.Endpoint != s.url {
		t.Fatalf("discovered %+v: want the endpoint and no CA file (the system roots)", cfg)
	}

	// The CLI, from the data directory alone, does not trust the stale CA:
	// the operator's certificate is in no system root store.
	_, stderr, err := cliEnv(t, nil, "--data-dir", dir, "group", "list")
	if err == nil || !strings.Contains(stderr, "certificate") {
		t.Fatalf("the CLI accepted a certificate it cannot verify: err=%v\n%s", err, stderr)
	}
	// With $VNETGW_CA it does.
	out, stderr, err := cliEnv(t, []string{client.EnvCA + "=" + certFile}, "--data-dir", dir, "group", "create", "-n", "g", "-l", "westeurope")
	if err != nil {
		t.Fatalf("the CLI with %s: %v\n%s%s", client.EnvCA, err, out, stderr)
	}

	s.stop()
	s = startServe(t, dir)
	if lines := waitPrinted(t, s, 3); lines[2] != "  CA:          "+caFile {
		t.Fatalf("serve without --tls-cert printed\n%s", strings.Join(lines, "\n"))
	}
	if cfg, err := client.Discover(dir); err != nil || cfg.CAFile != caFile {
		t.Fatalf("after a start without --tls-cert: %+v, %v; want ca.pem again", cfg, err)
	}
	if out, stderr, err := cliEnv(t, nil, "--data-dir", dir, "group", "show", "-n", "g"); err != nil {
		t.Fatalf("the CLI from the data directory: %v\n%s%s", err, out, stderr)
	}
}

// TestServeSecondSignalEndsAtOnce: a second SIGTERM while serve stops
// (here it waits for a request whose body comes no further, up to 10 s)
// ends the process at once, by the signal, as a user who presses Ctrl-C
// again expects; it was caught and ignored, and serve went on waiting.
func TestServeSecondSignalEndsAtOnce(t *testing.T) {
	s := startServe(t, t.TempDir(), "--public-ip-pool", "127.98.1.0/24")
	host := strings.TrimPrefix(s.url, "https://")
	c, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The server answers 100 Continue once the handler reads the body:
	// then the request is in flight, and the stop waits for it.
	fmt.Fprintf(c, "PUT /subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/slow?api-version=2024-05-01 HTTP/1.1\r\nHost: x\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", s.token())
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("the slow request is not being read: %q, %v\n%s", line, err, s.log())
	}
	fmt.Fprint(c, "{")
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitRefusing(t, host)
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve has not ended 60 s after a second SIGTERM:\n%s", s.log())
	}
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("after a second SIGTERM serve ended with %v, not by the signal:\n%s", s.cmd.ProcessState, s.log())
	}
}

// TestServeStopsInOrder: SIGTERM stops serve step by step, a line of log
// each: the API takes no new connection but answers the request in flight
// (its body completed after the signal), then the data plane stops
// (telling the gateways' peers), then the store closes, then "stopped",
// and serve exits 0. Before, the log said "stopping" and "stopped" and
// nothing between: a stop that hung did not say at which step.
func TestServeStopsInOrder(t *testing.T) {
	s := startServe(t, t.TempDir(), "--public-ip-pool", "127.183.1.0/24")
	host := strings.TrimPrefix(s.url, "https://")
	c, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"location":"westeurope"}`
	fmt.Fprintf(c, "PUT /subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/inflight?api-version=2024-05-01 HTTP/1.1\r\nHost: x\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", s.token(), len(body))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("the request is not being read: %q, %v\n%s", line, err, s.log())
	}
	br.ReadString('\n') // the blank line after 100 Continue
	fmt.Fprint(c, body[:1])
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitRefusing(t, host)
	fmt.Fprint(c, body[1:])
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM got no answer: %v\n%s", err, s.log())
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("the request in flight at SIGTERM: %s, want 201 Created", res.Status)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve has not stopped 30 s after SIGTERM:\n%s", s.log())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve exited %d after SIGTERM:\n%s", code, s.log())
	}
	log := s.log()
	at := 0
	for _, step := range []string{
		`msg="stopping; a second SIGINT, SIGTERM or SIGHUP ends serve at once`,
		`msg="API stopped: it took no new requests, and answered those in flight"`,
		`msg="data plane stopped: the gateways told their IKE and BGP peers"`,
		`msg="store closed"`,
		`msg=stopped `,
	} {
		i := strings.Index(log[at:], step)
		if i < 0 {
			t.Fatalf("no %s after the steps before it in serve's log:\n%s", step, log)
		}
		at += i + len(step)
	}
}

// TestServeHangupStopsCleanly: SIGHUP (the terminal serve runs in goes
// away) stops serve as SIGTERM does, telling its peers and closing the
// store, and exits 0; it ended the process at once, by the signal.
func TestServeHangupStopsCleanly(t *testing.T) {
	sigtest.HangupAtDefault()
	s := startServe(t, t.TempDir(), "--public-ip-pool", "127.98.2.0/24")
	s.cmd.Process.Signal(syscall.SIGHUP)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve has not stopped 30 s after SIGHUP:\n%s", s.log())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(s.log(), "stopped") {
		t.Errorf("after SIGHUP serve ended with %v, not by a clean stop:\n%s", s.cmd.ProcessState, s.log())
	}
}
