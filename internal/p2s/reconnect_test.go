package p2s

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/radius"
)

// TestReconnectReplacesStaleConnection: a client that connects again
// while its stale connection still holds the pool's last address, or the
// gateway's last place (R11) (a laptop after sleep: its old connection
// ends only when the gateway's hello timer does, 2 minutes) takes that
// connection's place and address: the same certificate over SSTP, the same RADIUS user over
// OpenVPN. Another client is not let in in its place, and with room in
// the pool a client's two connections (two devices) both stay.
func TestReconnectReplacesStaleConnection(t *testing.T) {
	full := netip.MustParsePrefix("172.16.201.0/30") // one client address: .2
	t.Run("SSTP certificate", func(t *testing.T) {
		r := newRegion(t, Config{Pool: full})
		stale, _, err := r.dial(t, r.pki.client)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := r.dial(t, r.pki.client)
		if err != nil {
			t.Fatalf("the client connecting again: %v", err)
		}
		if again.Addr() != stale.Addr() {
			t.Errorf("the client connecting again got %v, its stale connection had %v", again.Addr(), stale.Addr())
		}
		select {
		case <-stale.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the stale connection stayed")
		}
		if cs := r.srv.Clients(); len(cs) != 1 || cs[0].Addr != again.Addr() {
			t.Errorf("clients %+v, want the new connection alone", cs)
		}
		bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS()
		if _, _, err := r.dial(t, bob); err == nil {
			t.Error("another client took the place of a connected one")
		}
		select {
		case err := <-again.Done():
			t.Fatalf("another client's connection ended the client's: %v", err)
		default:
		}
	})
	t.Run("SSTP certificate, gateway at MaxClients", func(t *testing.T) {
		// The pool has room; the gateway's limit (R11) is what is full:
		// the client is let authenticate, then takes its stale
		// connection's place.
		r := newRegion(t, Config{MaxClients: 1, Listen: netip.MustParseAddrPort("127.191.0.1:0")})
		stale, _, err := r.dial(t, r.pki.client)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := r.dial(t, r.pki.client)
		if err != nil {
			t.Fatalf("the client connecting again to a full gateway: %v", err)
		}
		select {
		case <-stale.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the stale connection stayed")
		}
		if cs := r.srv.Clients(); len(cs) != 1 || cs[0].Addr != again.Addr() {
			t.Errorf("clients %+v, want the new connection alone", cs)
		}
		// Another client is refused after it authenticated, told why
		// ([MS-SSTP] §2.2.13: a CALL_ABORT SHOULD say).
		bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS()
		want := "CALL_ABORT: VALUE_NOT_SUPPORTED of ENCAPSULATED_PROTOCOL_ID"
		if _, _, err := r.dial(t, bob); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("another client, the gateway full: %v; want it refused with %q", err, want)
		}
		select {
		case err := <-again.Done():
			t.Fatalf("another client's connection ended the client's: %v", err)
		default:
		}
	})
	t.Run("SSTP two devices", func(t *testing.T) {
		r := newRegion(t, Config{Pool: netip.MustParsePrefix("172.16.201.0/29")})
		one, _, err1 := r.dial(t, r.pki.client)
		two, _, err2 := r.dial(t, r.pki.client)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if n := len(r.srv.Clients()); n != 2 || one.Addr() == two.Addr() {
			t.Fatalf("%d clients listed at %v and %v, want two", n, one.Addr(), two.Addr())
		}
	})
	t.Run("OpenVPN RADIUS user", func(t *testing.T) {
		secret := []byte("s3cret")
		rad := fakeRadius(t, secret, 0, true)
		r := newRegion(t, Config{OpenVPN: true, Pool: full, Radius: []radius.Server{{Addr: rad, Secret: secret}}, RadiusOnly: true})
		connect := func(user string) (*testOVPN, string) {
			t.Helper()
			cl := dialTestOVPN(t, r.srv.Addr())
			t.Cleanup(func() { cl.c.Close() })
			tc, err := cl.session(0, nil, user, "pw")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := push(tc, 30*time.Second)
			return cl, got
		}
		stale, m := connect("bob")
		if !strings.HasPrefix(m, "PUSH_REPLY,") {
			t.Fatalf("bob was answered %q", m)
		}
		if _, m := connect("bob"); !strings.HasPrefix(m, "PUSH_REPLY,") {
			t.Fatalf("bob connecting again was answered %q", m)
		}
		select {
		case <-stale.done:
		case <-time.After(30 * time.Second):
			t.Fatal("bob's stale connection stayed")
		}
		if _, m := connect("carol"); !strings.HasPrefix(m, "AUTH_FAILED") {
			t.Errorf("carol, with bob connected and the pool full, was answered %q", m)
		}
	})
}
