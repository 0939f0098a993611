package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vnetgw/vnetgw/internal/atomicfile"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// secretFiles are the data directory's files that only the owner may
// read: keys, the token, and the state (it holds pre-shared keys).
var secretFiles = []string{datadir.CAKey, datadir.Key, datadir.Token, datadir.State}

// guardDataDir refuses a data directory that others may write to (by its
// mode, or as its owner: one made beforehand in /tmp by another user): they
// could put their own admin-token, CA or endpoint file there, which serve
// and the CLI would take (and the CLI send the token to their endpoint).
// One that others may only read is taken: every secret in it is 0600.
func guardDataDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("data directory %s belongs to user %d, not to this serve's (%d): its owner may write to it, and put their own admin token, CA or endpoint there; give a --data-dir of this user's", dir, st.Uid, os.Geteuid())
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("data directory %s has mode %04o: others may write to it, and put their own admin token, CA or endpoint there; make it owner-only (chmod 700 %s), or give another --data-dir", dir, perm, dir)
	}
	return nil
}

// guardSecrets makes each of the data directory's secret files that
// others may read (a looser mode than 0600) 0600, with a warning naming
// it: what it holds may have been read. A file that cannot be made 0600
// is an error: serve does not run on secrets others can read.
func guardSecrets(dir string, log *slog.Logger) error {
	for _, name := range secretFiles {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		if perm&0o077 == 0 {
			continue
		}
		if err := os.Chmod(path, perm&0o700); err != nil {
			return fmt.Errorf("%s has mode %04o, readable by others, and cannot be made owner-only: %w", path, perm, err)
		}
		log.Warn("a secret file of the data directory was readable by others; it is owner-only now. If someone else may have read it, replace what it holds (a new token: delete admin-token and restart)",
			"file", path, "mode", fmt.Sprintf("%04o", perm))
	}
	return nil
}

// ensureToken returns the admin token, creating it (32 random bytes,
// base64url, mode 0600) on first start.
func ensureToken(dir string) (string, error) {
	path := filepath.Join(dir, datadir.Token)
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if tok == "" || len(b) > 4096 {
			return "", fmt.Errorf("admin token file %s is empty or too long; delete it to have a new one made", path)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := base64.RawURLEncoding.EncodeToString(raw)
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	return tok, nil
}

// ensureTLS returns what serves the API's certificate for hosts (the API
// server's tls.Config.GetCertificate) and whether the user gave it: the one
// given by flags, read again when its files change, or one issued by a CA
// kept in the data directory (both made on first start; the server
// certificate is made again when it comes near its end or does not name
// every host). A certificate given by flags leaves the data directory's CA
// alone: it stays for a later start without flags, and the endpoint file
// tells clients not to use it.
func ensureTLS(ca *dataCA, certFile, keyFile string, hosts []string, log *slog.Logger) (servedCert, bool, error) {
	if certFile != "" { // and keyFile: Config.check
		f := &fileCert{certFile: certFile, keyFile: keyFile, log: log, every: fileCertCheck, checked: time.Now()}
		f.seen, _ = f.stat() // unseen: read again at the first look
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, false, fmt.Errorf("load TLS certificate: %w", err)
		}
		f.cert = &c
		return f, true, nil
	}
	c, err := issueTLS(ca, hosts)
	if err != nil {
		return nil, false, err
	}
	return &apiCert{ca: ca, hosts: hosts, log: log, cert: &c}, false, nil
}

// servedCert is the API's certificate as it is now: the one a handshake
// gets, and the host names it holds.
type servedCert interface {
	get(*tls.ClientHelloInfo) (*tls.Certificate, error)
	names(host string) bool
}

// fileCertCheck is how often, at most, the files of --tls-cert and
// --tls-key are looked at again, at a handshake.
const fileCertCheck = 5 * time.Second

// fileCert serves the API's certificate of --tls-cert and --tls-key, and
// reads the files again when they change (replaced by a renewal, such as
// certbot's), so that new connections get the new certificate without a
// restart. A pair that does not load (a key that is not the
// certificate's, say, while one of the two is still being replaced) is
// logged, and the old certificate serves until the files change again.
type fileCert struct {
	certFile, keyFile string
	log               *slog.Logger
	every             time.Duration

	mu      sync.Mutex // guards the fields below
	cert    *tls.Certificate
	seen    [2]os.FileInfo // the two files as last read (nil: unknown)
	statErr string         // why they could not be looked at, as last logged
	checked time.Time      // when they were last looked at
}

// get is the API server's tls.Config.GetCertificate.
func (f *fileCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); now.Sub(f.checked) >= f.every {
		f.checked = now
		f.reload()
	}
	return f.cert, nil
}

// names reports whether the API's certificate names host.
func (f *fileCert) names(host string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert.Leaf != nil && f.cert.Leaf.VerifyHostname(host) == nil
}

// reload reads the files again when either changed since they were last
// read. f.mu is held.
func (f *fileCert) reload() {
	seen, err := f.stat()
	if err != nil {
		if err.Error() != f.statErr {
			f.statErr = err.Error()
			f.log.Warn("the API keeps its certificate: --tls-cert or --tls-key cannot be looked at", "err", err)
		}
		return
	}
	f.statErr = ""
	if sameFile(seen[0], f.seen[0]) && sameFile(seen[1], f.seen[1]) {
		return
	}
	f.seen = seen
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		f.log.Error("the API keeps the certificate it had: the changed --tls-cert and --tls-key do not load", "cert", f.certFile, "key", f.keyFile, "err", err)
		return
	}
	f.cert = &c
	f.log.Info("the API's certificate was read again", "cert", f.certFile, "until", c.Leaf.NotAfter.Format(time.RFC3339))
}

// stat looks at the two files (through symbolic links, as certbot's
// live/ directory has them).
func (f *fileCert) stat() ([2]os.FileInfo, error) {
	var seen [2]os.FileInfo
	for i, name := range []string{f.certFile, f.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return seen, err
		}
		seen[i] = fi
	}
	return seen, nil
}

// sameFile reports whether a and b are the same file, not changed since:
// the same inode, modification time and size.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// issueTLS returns the server certificate the data directory's CA issued
// for hosts (and loopback), issuing one when there is none fit for use;
// its files are in the CA's data directory.
func issueTLS(dc *dataCA, hosts []string) (tls.Certificate, error) {
	ca, caKey, err := dc.get()
	if err != nil {
		return tls.Certificate{}, err
	}
	certPath, keyPath := filepath.Join(dc.dir, datadir.Cert), filepath.Join(dc.dir, datadir.Key)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && c.Leaf != nil &&
		time.Now().Add(renewBefore).Before(c.Leaf.NotAfter) && !slices.ContainsFunc(hosts, func(h string) bool { return c.Leaf.VerifyHostname(h) != nil }) &&
		c.Leaf.CheckSignatureFrom(ca) == nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "vnetgw"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, host := range hosts {
		if ip := net.ParseIP(host); ip != nil {
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if host != "" && !slices.Contains(tmpl.DNSNames, host) {
			tmpl.DNSNames = append(tmpl.DNSNames, host)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// renewBefore is how long before its end the API's certificate is
// issued again.
const renewBefore = 24 * time.Hour

// apiCert serves the API's certificate that the data directory's CA
// issued, and issues it again when it comes within renewBefore of its
// end, so that a serve that runs for longer than the certificate's year
// goes on answering its clients.
type apiCert struct {
	ca    *dataCA
	hosts []string
	log   *slog.Logger

	mu   sync.Mutex // guards cert; taken before ca.mu
	cert *tls.Certificate
}

// get is the API server's tls.Config.GetCertificate.
func (a *apiCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if leaf := a.cert.Leaf; leaf == nil || time.Now().Add(renewBefore).Before(leaf.NotAfter) {
		return a.cert, nil
	}
	c, err := issueTLS(a.ca, a.hosts)
	if err != nil {
		// The old one serves until its end; the next handshake tries again.
		a.log.Error("issue the API's certificate again", "err", err)
		return a.cert, nil
	}
	a.log.Info("the API's certificate was issued again", "file", filepath.Join(a.ca.dir, datadir.Cert), "until", c.Leaf.NotAfter.Format(time.RFC3339))
	a.cert = &c
	return a.cert, nil
}

// names reports whether the API's certificate names host.
func (a *apiCert) names(host string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cert.Leaf != nil && a.cert.Leaf.VerifyHostname(host) == nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// caWarnBefore is how long before the data directory's CA ends serve
// warns at start that it does.
const caWarnBefore = 365 * 24 * time.Hour

// dataCA is the data directory's CA as serve uses it: loaded (or made)
// once, when the server is built, and replaced when it has expired by one
// caller alone, which the others wait for. Each caller (the API's
// certificate, each gateway's, each OpenVPN key) loaded it itself, and
// callers that found it expired at the same time each replaced it: one's
// key was left with another's certificate, a pair serve did not start
// with again, and some had issued certificates of a CA no file held.
type dataCA struct {
	dir string
	log *slog.Logger // says when the CA is made again (ensureCA)

	mu   sync.Mutex // guards cert and key, and ca.pem and ca-key.pem while one is replaced
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// openCA loads or makes the data directory's CA (ensureCA).
func openCA(dir string, log *slog.Logger) (*dataCA, error) {
	c := &dataCA{dir: dir, log: log}
	if _, _, err := c.get(); err != nil {
		return nil, err
	}
	return c, nil
}

// get returns the CA and its key, replaced first when it has expired.
func (c *dataCA) get() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || !time.Now().Before(c.cert.NotAfter) {
		cert, key, err := ensureCA(c.dir, c.log)
		if err != nil {
			return nil, nil, err
		}
		c.cert, c.key = cert, key
	}
	return c.cert, c.key, nil
}

// ensureCA loads or makes the data directory's certificate authority: a
// new one when there is none, or it expired (whatever ca-key.pem holds
// then: no client trusts it any more, and its key's OpenVPN keys change
// with it anyway). A key without its certificate, which a first start
// cut short between the two writes leaves, gets its certificate: the
// key is kept, and with it what came from it (the OpenVPN keys, the
// certificates it signed, a client's trust in a CA of its name and key).
// One that does not load (cut short, another kind of key), or a
// certificate without its key, is an error, not replaced: clients trust
// it, and the gateways' OpenVPN keys derive from its key. Serve calls it
// through a dataCA only, one caller at a time. A certificate made again,
// which clients must be given, is logged as a warning with its file and
// why; a first one is not.
func ensureCA(dir string, log *slog.Logger) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	caPath, keyPath := filepath.Join(dir, datadir.CA), filepath.Join(dir, datadir.CAKey)
	pair, err := tls.LoadX509KeyPair(caPath, keyPath)
	var replaced string // why an expired CA is replaced
	switch {
	case err == nil && time.Now().Before(pair.Leaf.NotAfter):
		k, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("%s: the CA's key is no ECDSA key", keyPath)
		}
		return pair.Leaf, k, nil
	case err == nil:
		replaced = "expired at " + pair.Leaf.NotAfter.Format(time.RFC3339)
	case expired(caPath):
		// A replacement cut short between its two writes (the new key,
		// then its certificate) left the new key with the expired
		// certificate, no pair: replaced again.
		replaced = "expired, with the key of a replacement cut short"
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("the data directory's CA (%s, %s): %w", caPath, keyPath, err)
	default:
		_, caErr := os.Stat(caPath)
		keyPEM, keyErr := os.ReadFile(keyPath)
		switch {
		case errors.Is(caErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
			// Neither: a new one, below.
		case errors.Is(caErr, fs.ErrNotExist) && keyErr == nil:
			key, err := parseCAKey(keyPEM)
			if err != nil {
				return nil, nil, fmt.Errorf("%s without %s: %w", keyPath, caPath, err)
			}
			cert, key, err := writeCACert(caPath, key)
			if err == nil {
				log.Warn("the data directory's CA certificate was made again from its key, which is kept: clients given the CA from now on get this certificate, of the same name and key",
					"ca", caPath, "reason", "missing while "+keyPath+" was there", "until", cert.NotAfter.Format(time.RFC3339))
			}
			return cert, key, err
		case caErr == nil && errors.Is(keyErr, fs.ErrNotExist):
			return nil, nil, fmt.Errorf("the data directory has %s without %s, its key", caPath, keyPath)
		default:
			return nil, nil, fmt.Errorf("the data directory's CA (%s, %s): %w", caPath, keyPath, err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	// The key first: a crash before its certificate is written leaves an
	// expired certificate (replaced again, above), or none (made for the
	// key, above), never a valid one whose key is another's.
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	cert, key, err := writeCACert(caPath, key)
	if err == nil && replaced != "" {
		log.Warn("the data directory's CA was replaced by one of a new key: clients must trust its new certificate, and the gateways' OpenVPN keys change with it",
			"ca", caPath, "reason", replaced, "until", cert.NotAfter.Format(time.RFC3339))
	}
	return cert, key, err
}

// parseCAKey parses ca-key.pem as ensureCA writes it: an EC private key
// in PEM.
func parseCAKey(b []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "EC PRIVATE KEY" {
		return nil, errors.New("no EC private key in PEM")
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

// writeCACert makes the CA's certificate, self-signed by key, and writes
// it to path.
func writeCACert(path string, key *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "vnetgw local CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make CA: %w", err)
	}
	if err := atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// expired reports whether path holds a certificate that has expired (its
// first, the one tls.LoadX509KeyPair takes).
func expired(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			return err == nil && !time.Now().Before(c.NotAfter)
		}
	}
	return false
}

// gatewayCerts returns what issues a gateway's certificate for its public
// address, signed by the data directory's CA, for point-to-site clients
// (R13): they trust ca.pem, as they trust the API's certificate. The
// certificates live in memory only; a gateway gets a new one when it
// starts.
func gatewayCerts(dc *dataCA) func(netip.Addr) (tls.Certificate, error) {
	return func(a netip.Addr) (tls.Certificate, error) {
		ca, caKey, err := dc.get()
		if err != nil {
			return tls.Certificate{}, err
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{CommonName: a.String()},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			// "IP security IKE intermediate" (1.3.6.1.5.5.8.2.2), which
			// macOS and Windows IKEv2 clients look for in a gateway's.
			UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 8, 2, 2}},
			IPAddresses:        []net.IP{a.AsSlice()},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("issue gateway certificate: %w", err)
		}
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			return tls.Certificate{}, err
		}
		return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
	}
}

// openVPNKeys returns what gives a gateway its OpenVPN static key (its
// clients' tls-crypt key), by the gateway's resourceGuid: derived from
// the data directory's CA key (HKDF-SHA256), so that every node with
// that CA (a cluster's nodes share it) and every restart gives a gateway
// the same key without storing it, and a new gateway gets another.
func openVPNKeys(ca *dataCA) func(gatewayGUID string) (*openvpn.StaticKey, error) {
	return func(guid string) (*openvpn.StaticKey, error) {
		if guid == "" {
			return nil, errors.New("OpenVPN static key of a gateway without a resourceGuid")
		}
		_, caKey, err := ca.get()
		if err != nil {
			return nil, err
		}
		secret, err := x509.MarshalECPrivateKey(caKey)
		if err != nil {
			return nil, err
		}
		b, err := hkdf.Key(sha256.New, secret, nil, "vnetgw OpenVPN static key "+strings.ToLower(guid), openvpn.StaticKeyLen)
		if err != nil {
			return nil, err
		}
		return (*openvpn.StaticKey)(b), nil
	}
}
