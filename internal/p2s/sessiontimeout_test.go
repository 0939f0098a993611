package p2s

import (
	"context"
	"crypto/tls"
	"testing"
	"time"
)

// TestRadiusSessionTimeout: a client whose RADIUS server (FreeRADIUS)
// accepts it with a Session-Timeout of 2 s is disconnected once its
// session has lasted that long (RFC 2865 §5.27), over SSTP with
// MS-CHAPv2 and with EAP, and over OpenVPN with its password; the gateway
// lists it no more. It had reached the VNet until then.
func TestRadiusSessionTimeout(t *testing.T) {
	const limit = 2 * time.Second
	cfg := radiusFixtureReplying(t, []string{"Session-Timeout = 2"})
	cfg.RadiusOnly = true
	ended := func(t *testing.T, r *region, start time.Time, done <-chan struct{}) {
		t.Helper()
		select {
		case <-done:
			if took := time.Since(start); took < limit/2 {
				t.Errorf("the session ended after %v, before its Session-Timeout of %v", took, limit)
			}
		case <-time.After(limit + 10*time.Second):
			t.Fatalf("the session goes on %v after its Session-Timeout of %v", limit+10*time.Second, limit)
		}
		for deadline := time.Now().Add(5 * time.Second); len(r.srv.Clients()) > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the gateway still lists %+v", r.srv.Clients())
			}
		}
	}
	r := newRegion(t, cfg)
	for name, eap := range map[string]bool{"SSTP MS-CHAPv2": false, "SSTP EAP": true} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
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
			ended(t, r, start, done)
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
		ended(t, r, start, cl.done)
	})
}
