package p2s

import (
	"strings"
	"testing"
	"time"
)

// TestOpenVPNHaltDuringRenegotiation: a client disconnected through the
// server while it renegotiates (here every 2 s, reneg-sec) stops and does
// not come back by itself (R14), as one disconnected between
// renegotiations does: OpenVPN 2.6 reads control messages only from its
// newest key state, which is the one being negotiated, so HALT must go
// there (after our key method message), not on the keys data is still
// sent with.
func TestOpenVPNHaltDuringRenegotiation(t *testing.T) {
	srv, _, client := openVPNClient(t, func(conf string) string { return conf + "reneg-sec 2\n" })
	o := onlyOpenVPNSession(t, srv)
	addr := srv.Clients()[0].Addr
	// The disconnect comes once the client's soft reset started a key
	// state whose handshake runs.
	renegotiating := func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.pending != nil && o.pending.keyID != 0 && o.send.Load() != nil && o.send.Load().keyID != o.pending.keyID
	}
	for deadline := time.Now().Add(15 * time.Second); !renegotiating(); time.Sleep(200 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no renegotiation in 15 s:\n%s", client.Output())
		}
	}
	if !srv.Disconnect(ProtocolOpenVPN, addr) {
		t.Fatal("Disconnect found no client")
	}
	if !client.Wait(10 * time.Second) {
		t.Fatalf("OpenVPN still runs 10 s after the server's HALT during a renegotiation:\n%s", client.Output())
	}
	if out := client.Output(); strings.Count(out, "Initialization Sequence Completed") != 1 || !strings.Contains(out, "server-pushed-halt") {
		t.Errorf("OpenVPN was not told HALT, or connected again:\n%s", out)
	}
}
