package p2s

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/seat"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// TestOpenVPNGatewayFullTold: a client a full gateway refuses (R32: its
// most OpenVPN clients connected) is told AUTH_FAILED,TEMP with the
// reason (a refusal for now: OpenVPN 2.6 connects again later), and so is
// one the exhausted pool has no address for; the connection stays up after it for the client to take it in (and
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
	if n, err := tc.Read(b[:]); err != nil || !strings.HasPrefix(string(b[:n]), "AUTH_FAILED,TEMP:1 point-to-site clients are connected over IKEv2 and OpenVPN") {
		t.Fatalf("the second client was answered %q, %v; want AUTH_FAILED,TEMP with the reason", b[:n], err)
	}
	cl.mu.Lock()
	ks := cl.ks[0]
	pid := ks.nextOut
	ks.nextOut++
	cl.mu.Unlock()
	cl.send(openvpn.Control{Opcode: openvpn.ControlV1, SessionID: cl.sid, PacketID: pid, Payload: []byte{0x15, 3, 3, 0, 2, 1, 0}})
	cl.mu.Lock()
	for !ks.acked[pid] {
		select {
		case <-cl.done:
			cl.mu.Unlock()
			t.Fatal("the gateway closed the connection at once after AUTH_FAILED: the client's next packet went unacknowledged")
		default:
		}
		cl.cond.Wait()
	}
	cl.mu.Unlock()

	small := newRegion(t, Config{OpenVPN: true, Pool: netip.MustParsePrefix("172.16.201.0/30")}) // one client's address
	first, err = dialTestOVPN(t, small.srv.Addr()).session(0, &small.pki.client, "", "")
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, first, 20*time.Second, "for the first client of the small pool")
	carol := pkitest.Issue(t, "carol", false, small.pki.root).TLS()
	if tc, err = dialTestOVPN(t, small.srv.Addr()).session(0, &carol, "", ""); err != nil {
		t.Fatal(err)
	}
	tc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := tc.Read(b[:]); err != nil || !strings.HasPrefix(string(b[:n]), "AUTH_FAILED,TEMP:the client address pool is exhausted") {
		t.Errorf("a client the pool has no address for was answered %q, %v; want AUTH_FAILED,TEMP with the reason", b[:n], err)
	}
}

// TestOpenVPNGatewayFullRetried: Debian's OpenVPN 2.6 refused by a full
// gateway (R32: its one IKEv2/OpenVPN seat taken, as by an IKEv2 client)
// is told AUTH_FAILED,TEMP with the reason, which it takes as a refusal
// for now: it keeps running and connects again, and gets in once the
// seat is free. Told a plain AUTH_FAILED it exited for good, as for a
// wrong password, and its user had to start it again.
func TestOpenVPNGatewayFullRetried(t *testing.T) {
	var seats seat.Count
	seats.Take(1, 0)
	srv, _, client := startOpenVPNWith(t, func(c *Config) { c.OpenVPNMaxClients, c.Seats = 1, &seats })
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(client.Output(), "AUTH_FAILED"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("OpenVPN was not refused by the full gateway:\n%s", client.Output())
		}
	}
	if client.Wait(2 * time.Second) {
		t.Fatalf("OpenVPN gave up on the full gateway:\n%s", client.Output())
	}
	if out := client.Output(); !strings.Contains(out, "AUTH_FAILED,TEMP:1 point-to-site clients are connected over IKEv2 and OpenVPN") {
		t.Errorf("OpenVPN was not told the refusal is for now, with the reason:\n%s", out)
	}
	seats.Give()
	if !openVPNConnected(client, 30*time.Second) {
		t.Fatalf("OpenVPN did not connect once the seat was free:\n%s", client.Output())
	}
	if clients := srv.Clients(); len(clients) != 1 || clients[0].Protocol != ProtocolOpenVPN {
		t.Errorf("the server lists %+v, want the OpenVPN client", clients)
	}
}
