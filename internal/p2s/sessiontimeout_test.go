package p2s

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/radius"
)

// TestRadiusSessionTimeout: a client whose RADIUS server (FreeRADIUS)
// accepts it with a Session-Timeout of 2 s is disconnected once its
// session has lasted that long (RFC 2865 §5.27), over SSTP with
// MS-CHAPv2 and with EAP, and over OpenVPN with its password; the gateway
// lists it no more, and its RADIUS accounting's Stop says why. It had
// reached the VNet until then.
func TestRadiusSessionTimeout(t *testing.T) {
	const limit = 2 * time.Second
	cfg, fr := radiusFixtureReplying(t, []string{"Session-Timeout = 2"})
	cfg.RadiusOnly, cfg.RadiusAccounting = true, true
	r := newRegion(t, cfg)
	for name, eap := range map[string]bool{"SSTP MS-CHAPv2": false, "SSTP EAP": true} {
		t.Run(name, func(t *testing.T) {
			start, before := time.Now(), len(fr.Accounting(t))
			c, h, err := r.dial(t, tls.Certificate{}, withPassword("alice", "correct horse battery staple"), func(c *ClientConfig) { c.EAP = eap })
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), limit/2)
			defer cancel()
			if _, err := h.Ping(ctx, r.web); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { <-c.Done(); close(done) }()
			waitEnded(t, r, start, done, limit, "its Session-Timeout")
			if _, stop := fr.Session(t, before, c.Addr().String()); stop["Acct-Terminate-Cause"] != "Session-Timeout" {
				t.Errorf("accounting's Stop gives Acct-Terminate-Cause %s, want Session-Timeout", stop["Acct-Terminate-Cause"])
			}
		})
	}
	t.Run("OpenVPN", func(t *testing.T) {
		cfg.OpenVPN = true
		r := newRegion(t, cfg)
		start := time.Now()
		cl := dialTestOVPN(t, r.srv.Addr())
		tc, err := cl.session(0, nil, "alice", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		mustPush(t, tc, limit/2, "once connected")
		waitEnded(t, r, start, cl.done, limit, "its Session-Timeout")
	})
}

// TestRadiusIdleTimeout: a client whose RADIUS server (FreeRADIUS)
// accepts it with an Idle-Timeout of 2 s stays connected while it sends
// (an SSTP client pinging the VNet for 5 s), and is disconnected once it
// has sent nothing for that long, at most twice that (RFC 2865 §5.28),
// its RADIUS accounting's Stop saying why; so is an OpenVPN client that
// sends nothing.
func TestRadiusIdleTimeout(t *testing.T) {
	const idle = 2 * time.Second
	cfg, fr := radiusFixtureReplying(t, []string{"Idle-Timeout = 2"})
	cfg.RadiusOnly, cfg.RadiusAccounting = true, true
	t.Run("SSTP", func(t *testing.T) {
		r := newRegion(t, cfg)
		before := len(fr.Accounting(t))
		c, h, err := r.dial(t, tls.Certificate{}, withPassword("alice", "correct horse battery staple"))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { <-c.Done(); close(done) }()
		var last time.Time
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := h.Ping(ctx, r.web)
			cancel()
			if err != nil {
				t.Fatalf("a client that sends was disconnected, its Idle-Timeout %v: %v", idle, err)
			}
			last = time.Now()
		}
		waitEnded(t, r, last, done, idle, "its Idle-Timeout after it last sent")
		if _, stop := fr.Session(t, before, c.Addr().String()); stop["Acct-Terminate-Cause"] != "Idle-Timeout" {
			t.Errorf("accounting's Stop gives Acct-Terminate-Cause %s, want Idle-Timeout", stop["Acct-Terminate-Cause"])
		}
	})
	t.Run("OpenVPN", func(t *testing.T) {
		cfg := cfg
		cfg.OpenVPN = true
		r := newRegion(t, cfg)
		cl := dialTestOVPN(t, r.srv.Addr())
		tc, err := cl.session(0, nil, "alice", "correct horse battery staple")
		if err != nil {
			t.Fatal(err)
		}
		mustPush(t, tc, idle/2, "once connected")
		waitEnded(t, r, time.Now(), cl.done, idle, "its Idle-Timeout after it last sent")
	})
}

// waitEnded waits for done, the end of the one client of r, which its
// limit (what) ends: not before half of it after since, within twice it
// and 10 s; then the gateway lists it no more.
func waitEnded(t *testing.T, r *region, since time.Time, done <-chan struct{}, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-done:
		if took := time.Since(since); took < limit/2 {
			t.Errorf("the session ended after %v, before %s of %v", took, what, limit)
		}
	case <-time.After(2*limit + 10*time.Second):
		t.Fatalf("the session goes on %v after %s of %v", 2*limit+10*time.Second, what, limit)
	}
	for deadline := time.Now().Add(5 * time.Second); len(r.srv.Clients()) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway still lists %+v", r.srv.Clients())
		}
	}
}

// TestOpenVPNRenegotiationRenewsLimits: an OpenVPN client that
// renegotiates with its password has the RADIUS server asked again, and
// the limits of its new Access-Accept replace the session's, from then:
// a Session-Timeout set at the server meanwhile ends the session that
// long after the renegotiation; one removed meanwhile no longer ends it.
func TestOpenVPNRenegotiationRenewsLimits(t *testing.T) {
	const limit = 2 * time.Second
	timeout := radius.Attr{Type: radius.AttrSessionTimeout, Value: binary.BigEndian.AppendUint32(nil, uint32(limit/time.Second))}
	secret := []byte("s3cret")
	// connect runs a client whose first Access-Accept has first, and
	// the next ones then, renegotiates after a second with its
	// password, and returns it and when that was.
	connect := func(t *testing.T, first, then []radius.Attr) (*testOVPN, *region, time.Time) {
		var asked atomic.Int32
		rad := fakeRadiusAnswering(t, secret, 0, func() (byte, []radius.Attr) {
			if asked.Load() == 1 {
				return radius.CodeAccessAccept, first
			}
			return radius.CodeAccessAccept, then
		}, &asked)
		r := ovpnRadiusRegion(t, rad, secret)
		cl := connectOVPN(t, r.srv.Addr(), "bob", "pw")
		time.Sleep(limit / 2)
		reneg := time.Now()
		renegotiate(t, cl, onlyOpenVPNSession(t, r.srv), "bob", "pw")
		if n := asked.Load(); n != 2 {
			t.Fatalf("the RADIUS server was asked %d times, want twice (at the connection and the renegotiation)", n)
		}
		return cl, r, reneg
	}
	t.Run("set meanwhile", func(t *testing.T) {
		cl, r, reneg := connect(t, nil, []radius.Attr{timeout})
		waitEnded(t, r, reneg, cl.done, limit, "the Session-Timeout of its renegotiation's Access-Accept")
	})
	t.Run("removed meanwhile", func(t *testing.T) {
		cl, r, reneg := connect(t, []radius.Attr{timeout}, nil)
		select {
		case <-cl.done:
			t.Fatalf("the session ended %v after a renegotiation whose Access-Accept has no Session-Timeout", time.Since(reneg))
		case <-time.After(2 * limit):
		}
		if c := r.srv.Clients(); len(c) != 1 {
			t.Errorf("clients %+v, want bob's", c)
		}
	})
}
