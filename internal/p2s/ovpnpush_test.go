package p2s

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestOpenVPNPushedWithoutRequest: a client whose IV_PROTO has the
// request-push bit (OpenVPN 2.5 and later) is pushed its configuration as
// soon as it authenticated, as OpenVPN's own server does (multi.c: the
// bit counts as a PUSH_REQUEST received), without waiting for its
// PUSH_REQUEST, which OpenVPN sends only a second or two later: the
// connection took that much longer than with OpenVPN's server. Its
// PUSH_REQUEST when it comes after is answered by the push it has: no
// second address, no second reply. A client without the bit is pushed on
// its PUSH_REQUEST, as before.
func TestOpenVPNPushedWithoutRequest(t *testing.T) {
	r := newRegion(t, Config{OpenVPN: true})
	cl := dialTestOVPN(t, r.srv.Addr())
	tc, err := cl.session(0, &r.pki.client, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var b [2048]byte
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := tc.Read(b[:])
	if err != nil || !strings.HasPrefix(string(b[:n]), "PUSH_REPLY,") {
		t.Fatalf("a client with IV_PROTO_REQUEST_PUSH got %q, %v before it sent PUSH_REQUEST; want its PUSH_REPLY", b[:n], err)
	}
	clients := r.srv.Clients()
	if len(clients) != 1 {
		t.Fatalf("the server lists %+v once it pushed, want the client", clients)
	}
	if got, err := push(tc, time.Second); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("PUSH_REQUEST after the push was answered %q, %v; want nothing more", got, err)
	}
	if again := r.srv.Clients(); len(again) != 1 || again[0].Addr != clients[0].Addr {
		t.Errorf("after its PUSH_REQUEST the server lists %+v, want the client at %v alone", again, clients[0].Addr)
	}

	old := dialTestOVPN(t, r.srv.Addr())
	old.peerInfo = "IV_PROTO=10\nIV_CIPHERS=AES-256-GCM\n"  // DATA_V2 and TLS key export alone
	bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS() // another client: not the first one's connection again
	tc, err = old.session(0, &bob, "", "")
	if err != nil {
		t.Fatal(err)
	}
	tc.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := tc.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a client without IV_PROTO_REQUEST_PUSH got %q, %v before its PUSH_REQUEST; want nothing", b[:n], err)
	}
	mustPush(t, tc, 5*time.Second, "for a client without IV_PROTO_REQUEST_PUSH")
}
