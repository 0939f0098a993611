package p2s

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/radius"
)

// radiusFixture is a FreeRADIUS server in a namespace that knows alice,
// and the gateway's settings to reach it from another namespace.
func radiusFixture(t *testing.T) Config {
	t.Helper()
	cfg, _ := radiusFixtureReplying(t, nil)
	return cfg
}

// radiusFixtureReplying is radiusFixture whose server replies to alice's
// acceptance with the items replies names too; it returns the server.
func radiusFixtureReplying(t *testing.T, replies []string) (Config, *netnstest.FreeRADIUS) {
	t.Helper()
	netnstest.RequireFreeRADIUS(t)
	radNS, nas := netnstest.New(t, "rad"), netnstest.New(t, "nas")
	netnstest.Link(t, radNS, "192.0.2.1/24", nas, "192.0.2.2/24")
	fr := netnstest.StartFreeRADIUSReplying(t, radNS, "gw-shared-s3cret", map[string]string{"alice": "correct horse battery staple"}, map[string][]string{"alice": replies})
	return Config{
		Radius:        []radius.Server{{Addr: netip.MustParseAddrPort("192.0.2.1:1812"), Secret: []byte("gw-shared-s3cret")}},
		NASIdentifier: "hub-gw",
		// The gateway is in nas's namespace as far as RADIUS goes; the
		// test's goroutines run in the host's.
		RadiusDial: dialIn(nas),
	}, fr
}

// dialIn dials from namespace ns.
func dialIn(ns *netnstest.NS) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (c net.Conn, err error) {
		err = ns.Do(func() (err error) {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, address)
			return err
		})
		return c, err
	}
}

// connectAlice connects a client with alice's password (tweaked by
// tweak): reachAsAlice.
func connectAlice(t *testing.T, r *region, tweak func(*ClientConfig)) {
	t.Helper()
	reachAsAlice(t, r, tls.Certificate{}, withPassword("alice", "correct horse battery staple"), tweak)
}

// reachAsAlice connects a client with cert and tweaks, pings the VNet's
// host through it, checks that the gateway lists it as alice, and
// disconnects it, waiting until the gateway lists it no more.
func reachAsAlice(t *testing.T, r *region, cert tls.Certificate, tweaks ...func(*ClientConfig)) {
	t.Helper()
	c, h, err := r.dial(t, cert, tweaks...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.Ping(ctx, r.web); err != nil {
		t.Fatal(err)
	}
	if id := waitIdentity(t, r.srv); id != "alice" {
		t.Errorf("the gateway lists the client as %q", id)
	}
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); len(r.srv.Clients()) > 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

func withPassword(user, password string) func(*ClientConfig) {
	return func(c *ClientConfig) { c.User, c.Password = user, password }
}

// waitIdentity waits until the gateway lists one client, and returns its
// identity.
func waitIdentity(t *testing.T, s *Server) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cs := s.Clients(); len(cs) == 1 {
			return cs[0].Identity
		}
	}
	t.Fatalf("the gateway lists %+v", s.Clients())
	return ""
}

// TestSSTPRadiusMSCHAPv2: on a gateway whose point-to-site clients
// authenticate with RADIUS, an SSTP client with alice's user name and
// password authenticates in MS-CHAPv2, which FreeRADIUS checks for the
// gateway; the keys FreeRADIUS gives the gateway and those the client
// derives bind the call (the crypto binding checks out), and the client
// reaches the VNet. A wrong password is refused; a certificate goes to
// the RADIUS server in EAP-TLS, which does not know it.
func TestSSTPRadiusMSCHAPv2(t *testing.T) {
	cfg := radiusFixture(t)
	cfg.RadiusOnly = true
	r := newRegion(t, cfg)
	connectAlice(t, r, func(*ClientConfig) {})

	if _, _, err := r.dial(t, tls.Certificate{}, withPassword("alice", "Tr0ub4dor&3")); err == nil || !strings.Contains(err.Error(), `refused user "alice"`) {
		t.Errorf("a wrong password: %v", err)
	}
	// A client with a certificate names EAP and gets it, relayed: the
	// RADIUS server runs EAP-TLS with its own certificate, which is not
	// the gateway's, and the client refuses it (or the server the
	// client's).
	if _, _, err := r.dial(t, r.pki.client); err == nil || len(r.srv.Clients()) != 0 {
		t.Errorf("a certificate where RADIUS alone authenticates: %v, %+v", err, r.srv.Clients())
	}
}

// TestSSTPCertificateOrPassword: a gateway that takes certificates and
// RADIUS asks for EAP-TLS; a client with a password names MS-CHAPv2
// instead (an LCP Configure-Nak) and gets it, a client with a
// certificate gets EAP-TLS.
func TestSSTPCertificateOrPassword(t *testing.T) {
	r := newRegion(t, radiusFixture(t))
	t.Run("password", func(t *testing.T) { connectAlice(t, r, func(*ClientConfig) {}) })
	t.Run("certificate", func(t *testing.T) { reachAsAlice(t, r, r.pki.client) })
}

// TestSSTPRadiusEAP: a client that authenticates with its password in
// EAP (EAP-MSCHAPv2, as Windows may be set up to) has its EAP relayed to
// FreeRADIUS (RFC 3579): on a gateway with RADIUS alone, which asks for
// MS-CHAPv2 and takes EAP when the client names it, and on one with
// certificates too, when the client declines EAP-TLS after its identity.
// The MSK FreeRADIUS gives keys the binding; a wrong password is refused.
func TestSSTPRadiusEAP(t *testing.T) {
	fixture := radiusFixture(t)
	for name, radiusOnly := range map[string]bool{"RADIUS alone": true, "certificates and RADIUS": false} {
		t.Run(name, func(t *testing.T) {
			cfg := fixture
			cfg.RadiusOnly = radiusOnly
			r := newRegion(t, cfg)
			eap := func(c *ClientConfig) { c.EAP = true }
			connectAlice(t, r, eap)
			if _, _, err := r.dial(t, tls.Certificate{}, withPassword("alice", "Tr0ub4dor&3"), eap); !errors.Is(err, ErrRefused) {
				t.Errorf("a wrong password: %v", err)
			}
		})
	}
}

// slowConn is a RADIUS server's socket whose answers come delay after
// the first request: a server that waits that long for the user's second
// factor. Reads before then time out as their deadline says.
type slowConn struct {
	net.Conn
	delay           time.Duration
	mu              sync.Mutex
	first, deadline time.Time
}

func (c *slowConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.first.IsZero() {
		c.first = time.Now()
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *slowConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *slowConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	until, deadline := c.first.Add(c.delay), c.deadline
	c.mu.Unlock()
	if !deadline.IsZero() && deadline.Before(until) {
		time.Sleep(time.Until(deadline))
		return 0, os.ErrDeadlineExceeded
	}
	time.Sleep(time.Until(until))
	return c.Conn.Read(b)
}

// TestSSTPSlowSecondFactor: vnetgw's client with a password connects
// through a gateway whose RADIUS server answers 11 s after it is asked
// (a user approving a second factor on the phone, which Azure's MFA
// allows 60 s): the client's CALL_CONNECTED goes out when the gateway's
// MS-CHAPv2 Success comes, however long after the client's last write
// that is, and the client reaches the VNet.
func TestSSTPSlowSecondFactor(t *testing.T) {
	cfg := radiusFixture(t)
	cfg.RadiusOnly = true
	dial := cfg.RadiusDial
	cfg.RadiusDial = func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := dial(ctx, network, address)
		if err != nil {
			return nil, err
		}
		return &slowConn{Conn: c, delay: 11 * time.Second}, nil
	}
	r := newRegion(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Dial(ctx, ClientConfig{Server: r.srv.Addr(), ServerName: "gateway", RootCAs: r.roots, User: "alice", Password: "correct horse battery staple", Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Dial with a second factor that takes 11 s: %v", err)
	}
	defer c.Close()
	if id := waitIdentity(t, r.srv); id != "alice" {
		t.Errorf("the gateway lists the client as %q", id)
	}
}
