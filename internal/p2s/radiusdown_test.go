package p2s

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/radius/radiustest"
)

// TestRadiusDownIsNoRefusal: when no RADIUS server answers, the gateway
// has no verdict on a client's password and does not say it refused it.
// An SSTP client (MS-CHAPv2, or EAP relayed) has its call aborted without
// a Failure, so that vnetgw p2s connect --reconnect, which gives up on
// refused credentials, tries again; an OpenVPN client is not told
// AUTH_FAILED, after which it stops for good, and connects again.
func TestRadiusDownIsNoRefusal(t *testing.T) {
	oldTries, oldTimeout, oldWait := radius.Tries, radius.Timeout, radius.Wait
	radius.Tries, radius.Timeout, radius.Wait = 1, 200*time.Millisecond, 500*time.Millisecond
	t.Cleanup(func() { radius.Tries, radius.Timeout, radius.Wait = oldTries, oldTimeout, oldWait })
	servers := []radius.Server{{Addr: radiustest.Silent(t, "127.0.0.1:0"), Secret: []byte("s")}}
	for name, eap := range map[string]bool{"MS-CHAPv2": false, "EAP": true} {
		t.Run("SSTP "+name, func(t *testing.T) {
			r := newRegion(t, Config{Radius: servers, RadiusOnly: true})
			_, _, err := r.dial(t, tls.Certificate{}, withPassword("alice", "pw"), func(c *ClientConfig) { c.EAP = eap })
			if err == nil || errors.Is(err, ErrRefused) {
				t.Errorf("with no RADIUS server answering: %v, want an error that is no refusal", err)
			}
		})
	}
	t.Run("OpenVPN", func(t *testing.T) {
		r := newRegion(t, Config{OpenVPN: true, Radius: servers, RadiusOnly: true})
		cl := dialTestOVPN(t, r.srv.Addr())
		tc, err := cl.session(0, nil, "alice", "pw")
		if err != nil {
			t.Fatal(err)
		}
		var b [2048]byte
		if n, err := tc.Read(b[:]); err == nil {
			t.Errorf("with no RADIUS server answering the client was told %q", b[:n])
		}
	})
}
