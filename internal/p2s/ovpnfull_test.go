package p2s

import (
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// TestOpenVPNGatewayFullTold: a client a full gateway refuses (R32: its
// most OpenVPN clients connected) is told AUTH_FAILED with the reason,
// and the connection stays up after it for the client to take it in (and
// acknowledge it) as after any other refusal, not closed under it: a
// control packet the client sends after reading it is acknowledged.
func TestOpenVPNGatewayFullTold(t *testing.T) {
	r := newRegion(t, Config{OpenVPN: true, OpenVPNMaxClients: 1})
	first, err := dialTestOVPN(t, r.srv.Addr()).session(0, &r.pki.client, "", "")
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, first, 20*time.Second, "for the first client")
	cl := dialTestOVPN(t, r.srv.Addr())
	defer cl.c.Close()
	bob := pkitest.Issue(t, "bob", false, r.pki.root).TLS() // another client: not alice's connection again
	tc, err := cl.session(0, &bob, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var b [2048]byte
	tc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := tc.Read(b[:]); err != nil || !strings.HasPrefix(string(b[:n]), "AUTH_FAILED,1 point-to-site clients are connected over IKEv2 and OpenVPN") {
		t.Fatalf("the second client was answered %q, %v; want AUTH_FAILED with the reason", b[:n], err)
	}
	cl.mu.Lock()
	ks := cl.ks[0]
	pid := ks.nextOut
	ks.nextOut++
	cl.mu.Unlock()
	cl.send(openvpn.Control{Opcode: openvpn.ControlV1, SessionID: cl.sid, PacketID: pid, Payload: []byte{0x15, 3, 3, 0, 2, 1, 0}})
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for !ks.acked[pid] {
		select {
		case <-cl.done:
			t.Fatal("the gateway closed the connection at once after AUTH_FAILED: the client's next packet went unacknowledged")
		default:
		}
		cl.cond.Wait()
	}
}
