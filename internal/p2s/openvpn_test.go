package p2s

import (
	"bufio"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/vpnclient"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// openVPNProfile returns the VPN client package's OpenVPN profile for a
// gateway at gw with the client's certificate and key pasted in, as the
// package's README says.
func openVPNProfile(t *testing.T, gw netip.Addr, ca []byte, key *openvpn.StaticKey, client *pkitest.Cert, dir string, tweak ...func(string) string) string {
	t.Helper()
	zipped, err := vpnclient.Settings{Gateway: "gateway", Addr: gw, Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"SSTP", "OpenVPN"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, CA: ca, OpenVPNKey: key.PEM()}.Zip()
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(dir, "pkg")
	if err := vpnclient.Extract(zipped, pkg); err != nil {
		t.Fatal(err)
	}
	profile, err := os.ReadFile(filepath.Join(pkg, vpnclient.FileOpenVPN))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := client.WritePEM(t, dir, "client")
	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(keyFile)
	conf := strings.NewReplacer(vpnclient.OpenVPNCertPlaceholder, strings.TrimSpace(string(certPEM)),
		vpnclient.OpenVPNKeyPlaceholder, strings.TrimSpace(string(keyPEM))).Replace(string(profile))
	for _, f := range tweak {
		conf = f(conf)
	}
	path := filepath.Join(dir, "client.ovpn")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openVPNClient starts a server (SSTP and OpenVPN) in a namespace and
// Debian's OpenVPN in another with the package's profile (tweaked), and
// waits until the client is connected.
func openVPNClient(t *testing.T, tweak ...func(string) string) (*Server, *netnstest.NS, *netnstest.Process) {
	t.Helper()
	srv, laptop, client := startOpenVPN(t, tweak...)
	if !openVPNConnected(client, 30*time.Second) {
		t.Fatalf("OpenVPN did not connect:\n%s", client.Output())
	}
	return srv, laptop, client
}

// openVPNConnected waits until the client says it is connected, at most
// timeout, or until it ends.
func openVPNConnected(client *netnstest.Process, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); !strings.Contains(client.Output(), "Initialization Sequence Completed"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) || client.Wait(0) {
			return false
		}
	}
	return true
}

// startOpenVPN is openVPNClient without the wait. The gateway has a
// static key of its own, which the profile carries.
func startOpenVPN(t *testing.T, tweak ...func(string) string) (*Server, *netnstest.NS, *netnstest.Process) {
	t.Helper()
	return startOpenVPNWith(t, nil, tweak...)
}

// startOpenVPNWith is startOpenVPN with the server's configuration
// changed by cfg.
func startOpenVPNWith(t *testing.T, cfg func(*Config), tweak ...func(string) string) (*Server, *netnstest.NS, *netnstest.Process) {
	t.Helper()
	netnstest.Require(t, "openvpn", "ip", "ping")
	gwNS, laptop := netnstest.New(t, "ovg"), netnstest.New(t, "ovc")
	netnstest.Link(t, gwNS, "192.0.2.1/24", laptop, "192.0.2.2/24")

	p := newPKI(t)
	gwCert := pkitest.Issue(t, "192.0.2.1", false, p.root, netip.MustParseAddr("192.0.2.1")).TLS()
	router := fabric.NewRouter()
	web, err := fabric.NewNetstackHost("web", netip.MustParseAddr("10.1.0.4"), 0, router)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Close() })
	pool := netip.MustParsePrefix("172.16.201.0/24")
	var key openvpn.StaticKey
	rand.Read(key[:])
	var srv *Server
	if err := gwNS.Do(func() (err error) {
		c := Config{Listen: netip.MustParseAddrPort("192.0.2.1:443"), Cert: gwCert, Roots: []*x509.Certificate{p.root.Certificate},
			Pool: pool, Router: router, Logger: testLogger(t), SSTP: true, OpenVPN: true, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
			OpenVPNKey: &key}
		if cfg != nil {
			cfg(&c)
		}
		srv, err = Start(c)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	router.SetRoutes([]fabric.Route{{Prefix: netip.MustParsePrefix("10.1.0.4/32"), Port: web}, {Prefix: pool, Port: srv}})

	dir := t.TempDir()
	alice := pkitest.Issue(t, "alice", false, p.root)
	conf := openVPNProfile(t, netip.MustParseAddr("192.0.2.1"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}), &key, alice, dir, tweak...)
	return srv, laptop, laptop.Start("openvpn", "--config", conf, "--verb", "3")
}

// TestOpenVPNInterop: OpenVPN 2.6 (Debian's), configured by the VPN client
// package's profile with a certificate of the uploaded root, connects over
// TCP to the port SSTP is served on too, gets an address of the pool and
// the VNet's route pushed, and pings a host in the VNet through the
// AES-256-GCM data channel keyed from TLS. The server lists it; a
// disconnect through the server ends the client (HALT: it does not come
// back by itself, R14).
func TestOpenVPNInterop(t *testing.T) {
	srv, laptop, client := openVPNClient(t)
	pool := srv.cfg.Pool
	if out, err := laptop.Try("ping", "-c", "3", "-W", "2", "10.1.0.4"); err != nil {
		t.Fatalf("ping through OpenVPN: %v\n%s\nclient:\n%s", err, out, client.Output())
	}
	clients := srv.Clients()
	if len(clients) != 1 || clients[0].Protocol != ProtocolOpenVPN || clients[0].Identity != "alice" || !pool.Contains(clients[0].Addr) || clients[0].PacketsIn < 3 {
		t.Fatalf("the server lists %+v, want alice over OpenVPN with an address of %v and her pings", clients, pool)
	}
	if o := onlyOpenVPNSession(t, srv); o.wrap == nil || o.wrap.Mode() != openvpn.TLSCrypt {
		t.Errorf("the session wraps with %v, want tls-crypt as the profile has it", o.wrap)
	}
	if !srv.Disconnect(ProtocolOpenVPN, clients[0].Addr) {
		t.Fatal("Disconnect found no client")
	}
	if !client.Wait(10 * time.Second) {
		t.Errorf("OpenVPN still runs after the server's HALT:\n%s", client.Output())
	}
}

// TestOpenVPNPushReplies: the client's configuration fits PUSH_REPLY
// messages of less than 1,024 bytes, continued (push-continuation 2) up
// to the last (1) when the routes are many; a default route is pushed as
// redirect-gateway def1, which keeps the way to the gateway.
func TestOpenVPNPushReplies(t *testing.T) {
	var routes []netip.Prefix
	for i := range 100 {
		routes = append(routes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
	}
	routes = append(routes, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("fd00::/64"))
	s := &Server{cfg: Config{Pool: netip.MustParsePrefix("172.16.201.0/25")}}
	s.live.Store(newSettings(Settings{Routes: routes, DNS: []netip.Addr{netip.MustParseAddr("10.1.0.53")}}, nil))
	o := &ovpnSession{srv: s, addr: netip.MustParseAddr("172.16.201.2"), peerID: 7}
	msgs := o.pushReplies()
	if len(msgs) < 2 {
		t.Fatalf("%d messages for 100 routes", len(msgs))
	}
	all := ""
	for i, m := range msgs {
		want := ",push-continuation 2"
		if i == len(msgs)-1 {
			want = ",push-continuation 1"
		}
		if len(m) >= 1024 || !strings.HasPrefix(m, "PUSH_REPLY,") || !strings.HasSuffix(m, want) {
			t.Errorf("message %d (%d bytes): %.60q...%q", i, len(m), m, m[max(0, len(m)-30):])
		}
		all += m
	}
	for _, opt := range []string{",ifconfig 172.16.201.2 255.255.255.128,", ",route 10.99.0.0 255.255.0.0,", ",redirect-gateway def1,", ",dhcp-option DNS 10.1.0.53,",
		",peer-id 7,", ",cipher AES-256-GCM,", ",key-derivation tls-ekm,", ",route-gateway 172.16.201.1,"} {
		if !strings.Contains(all, opt) {
			t.Errorf("the push lacks %q", opt)
		}
	}
	if strings.Contains(all, "fd00") || strings.Contains(all, "route 0.0.0.0") {
		t.Errorf("the push names an IPv6 route or 0.0.0.0/0 as a route")
	}
	bare := &Server{cfg: Config{Pool: s.cfg.Pool}}
	bare.live.Store(newSettings(Settings{}, nil))
	if one := (&ovpnSession{srv: bare, addr: o.addr}).pushReplies(); len(one) != 1 || strings.Contains(one[0], "push-continuation") {
		t.Errorf("a short push: %q", one)
	}
}

// TestOpenVPNRenegotiation: a client that renegotiates its keys (here
// every 2 s, reneg-sec; an hour by OpenVPN's default) gets a new TLS
// session and new data channel keys in a new key state each time, and
// its traffic goes on through them, also when it sent nothing with some
// of them (a ping every 2.5 s): the gateway does not go on sending with
// keys the client has dropped.
func TestOpenVPNRenegotiation(t *testing.T) {
	srv, laptop, client := openVPNClient(t, func(conf string) string { return conf + "reneg-sec 2\n" })
	for i := range 4 {
		time.Sleep(2500 * time.Millisecond)
		if out, err := laptop.Try("ping", "-c", "1", "-W", "2", "10.1.0.4"); err != nil {
			t.Fatalf("ping after %d renegotiations: %v\n%s\nclient:\n%s", i+1, err, out, client.Output())
		}
	}
	if n := strings.Count(client.Output(), "TLS: soft reset"); n < 3 {
		t.Errorf("OpenVPN renegotiated %d times in 10 s, want 3 or more:\n%s", n, client.Output())
	}
	if strings.Contains(client.Output(), "keys are out of sync") {
		t.Errorf("the gateway sent with keys the client no longer had:\n%s", client.Output())
	}
	c := srv.Clients()
	if len(c) != 1 || c[0].PacketsIn < 4 {
		t.Fatalf("the server lists %+v, want the one client with its pings", c)
	}
	if k := onlyOpenVPNSession(t, srv).send.Load(); k == nil || k.keyID < 2 {
		t.Errorf("the server sends with the keys of key state %v after the renegotiations, not the newest", k)
	}
	if client.Wait(0) {
		t.Errorf("OpenVPN ended:\n%s", client.Output())
	}
}

// TestOpenVPNRenegotiationAuthNocache: a client whose user name and
// password a RADIUS server checked, with auth-nocache (it forgets the
// password once used) and its password asked for through its management
// interface (as a GUI asks its user), renegotiates (here every 2 s,
// reneg-sec) without asking for the password again: the gateway pushes
// it an auth-token, which it sends instead. Without one it asked its user
// at every renegotiation, an hour apart by default, its tunnel stopped
// meanwhile. The RADIUS server is asked once: renegotiations are of the
// connection the client authenticated.
func TestOpenVPNRenegotiationAuthNocache(t *testing.T) {
	secret := []byte("s3cret")
	var asked atomic.Int32
	rad := fakeRadius(t, secret, 0, true, &asked)
	mgmt := filepath.Join(t.TempDir(), "mgmt.sock")
	srv, laptop, client := startOpenVPNWith(t, func(c *Config) {
		c.Radius, c.RadiusOnly = []radius.Server{{Addr: rad, Secret: secret}}, true
	}, func(conf string) string {
		i, j := strings.Index(conf, "\n<cert>\n"), strings.Index(conf, "</key>\n")
		conf = conf[:i+1] + conf[j+len("</key>\n"):]
		return conf + "auth-user-pass\nauth-nocache\nreneg-sec 2\nmanagement " + mgmt + " unix\nmanagement-query-passwords\n"
	})
	var m net.Conn
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		if m, err = net.Dial("unix", mgmt); err == nil {
			break
		}
		if time.Now().After(deadline) || client.Wait(0) {
			t.Fatalf("OpenVPN's management interface: %v\n%s", err, client.Output())
		}
	}
	defer m.Close()
	queries := make(chan struct{}, 8)
	go func() {
		r := bufio.NewScanner(m)
		for r.Scan() {
			if strings.HasPrefix(r.Text(), ">PASSWORD:Need 'Auth'") {
				queries <- struct{}{}
			}
		}
	}()
	select {
	case <-queries:
	case <-time.After(20 * time.Second):
		t.Fatalf("OpenVPN did not ask for the password:\n%s", client.Output())
	}
	fmt.Fprintf(m, "username \"Auth\" alice\npassword \"Auth\" \"correct horse\"\n")
	if !openVPNConnected(client, 30*time.Second) {
		t.Fatalf("OpenVPN did not connect:\n%s", client.Output())
	}
	for deadline := time.Now().Add(30 * time.Second); strings.Count(client.Output(), "TLS: soft reset") < 3; time.Sleep(100 * time.Millisecond) {
		select {
		case <-queries:
			t.Fatalf("OpenVPN asked for the password again as it renegotiated:\n%s", client.Output())
		default:
		}
		if time.Now().After(deadline) || client.Wait(0) {
			t.Fatalf("OpenVPN did not renegotiate three times in 30 s:\n%s", client.Output())
		}
	}
	// The client logs its soft reset as it starts it: the server sends
	// with the new keys once the exchange is over, a moment later.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		k := onlyOpenVPNSession(t, srv).send.Load()
		if k != nil && k.keyID >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server sends with the keys of key state %v 10 s after the client's third renegotiation began", k)
		}
	}
	if out, err := laptop.Try("ping", "-c", "1", "-W", "5", "10.1.0.4"); err != nil {
		t.Fatalf("ping after the renegotiations: %v\n%s\nclient:\n%s", err, out, client.Output())
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the RADIUS server was asked %d times, want once", n)
	}
}

// TestOpenVPNStaticKey: the profile's tls-crypt connects (the other
// interop tests use it); so does tls-auth with the same key, as Azure's
// profiles have it (key-direction 1) or without a key direction, with
// any digest. A client without the gateway's key, or with another, is
// refused at its first packet, which is counted: no TLS begins.
func TestOpenVPNStaticKey(t *testing.T) {
	tlsAuth := func(extra string) func(string) string {
		return func(conf string) string {
			conf = strings.ReplaceAll(conf, "tls-crypt>", "tls-auth>")
			return strings.Replace(conf, "<tls-auth>", extra+"<tls-auth>", 1)
		}
	}
	otherKey := func(conf string) string {
		var k openvpn.StaticKey
		rand.Read(k[:])
		i, j := strings.Index(conf, "<tls-crypt>\n"), strings.Index(conf, "</tls-crypt>")
		return conf[:i] + "<tls-crypt>\n" + string(k.PEM()) + conf[j:]
	}
	noKey := func(conf string) string {
		i, j := strings.Index(conf, "<tls-crypt>"), strings.Index(conf, "</tls-crypt>")
		return conf[:i] + conf[j+len("</tls-crypt>"):]
	}
	for _, tc := range []struct {
		name    string
		tweak   func(string) string
		connect bool
		mode    openvpn.WrapMode
	}{
		{"tls-auth as Azure's profile", tlsAuth("key-direction 1\nauth SHA256\n"), true, openvpn.TLSAuthSHA256},
		{"tls-auth without key-direction", tlsAuth(""), true, openvpn.TLSAuthSHA1},
		{"tls-auth SHA512", tlsAuth("key-direction 1\nauth SHA512\n"), true, openvpn.TLSAuthSHA512},
		{"without the key", noKey, false, 0},
		{"another key", otherKey, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, laptop, client := startOpenVPN(t, tc.tweak)
			if !tc.connect {
				if openVPNConnected(client, 5*time.Second) {
					t.Fatalf("connected:\n%s", client.Output())
				}
				if control, _ := srv.OpenVPNDrops(); control == 0 {
					t.Errorf("no control packet counted as dropped:\n%s", client.Output())
				}
				if strings.Contains(client.Output(), "TLS: Initial packet from") {
					t.Errorf("the client heard from the server:\n%s", client.Output())
				}
				return
			}
			if !openVPNConnected(client, 30*time.Second) {
				t.Fatalf("OpenVPN did not connect:\n%s", client.Output())
			}
			if out, err := laptop.Try("ping", "-c", "2", "-W", "2", "10.1.0.4"); err != nil {
				t.Fatalf("ping: %v\n%s", err, out)
			}
			if o := onlyOpenVPNSession(t, srv); o.wrap == nil || o.wrap.Mode() != tc.mode {
				t.Errorf("the session wraps with %v, want %v", o.wrap, tc.mode)
			}
		})
	}
}

// onlyOpenVPNSession returns the server's one OpenVPN client.
func onlyOpenVPNSession(t *testing.T, srv *Server) *ovpnSession {
	t.Helper()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.clients) != 1 {
		t.Fatalf("%d clients, want 1", len(srv.clients))
	}
	for _, c := range srv.clients {
		return c.(*ovpnSession)
	}
	return nil
}

// TestOpenVPNNoSharedCipherTold: a client without AES-256-GCM in its
// data-ciphers (CHACHA20-POLY1305 alone) is told AUTH_FAILED with the
// reason, as OpenVPN's own server tells it, and stops: not a connection
// closed without a word, which it tries again every few seconds for ever.
func TestOpenVPNNoSharedCipherTold(t *testing.T) {
	_, _, client := startOpenVPN(t, func(conf string) string {
		return strings.Replace(conf, "data-ciphers AES-256-GCM", "data-ciphers CHACHA20-POLY1305", 1)
	})
	if !client.Wait(30 * time.Second) {
		t.Fatalf("the client still tries after 30 s:\n%s", client.Output())
	}
	if out := client.Output(); !strings.Contains(out, "AUTH_FAILED,data channel cipher negotiation failed (no shared cipher)") {
		t.Errorf("the client was not told why:\n%s", out)
	}
}
