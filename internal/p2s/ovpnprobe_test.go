package p2s

import (
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// TestOpenVPNProbesLoggedSparsely: connections to a gateway with OpenVPN
// that end at their first packet (a plaintext probe, a hard reset without
// the gateway's static key, a packet too long, one closed before a whole
// packet came) are logged once a minute at most, the first one's reason
// in the line, not one line each.
func TestOpenVPNProbesLoggedSparsely(t *testing.T) {
	var log logbuf.Buffer
	var key openvpn.StaticKey
	rand.Read(key[:])
	r := newRegion(t, Config{OpenVPN: true, OpenVPNKey: &key, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	reset := openvpn.Control{Opcode: openvpn.ControlHardResetClientV2, SessionID: 42}
	plainReset := reset.Append(make([]byte, 2))
	binary.BigEndian.PutUint16(plainReset, uint16(len(plainReset)-2))
	probes := []struct {
		name string
		send []byte
	}{
		{"a hard reset without the key", plainReset},
		{"an HTTP request", []byte("GET / HTTP/1.1\r\nHost: gateway\r\n\r\n")},
		{"half a packet", []byte{0, 40, 0x38}},
	}
	// Each connection's end is logged, or counted, once the gateway no
	// longer counts it as negotiating.
	settled := func() {
		for deadline := time.Now().Add(20 * time.Second); r.srv.negotiatingNow() > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d connections still negotiating", r.srv.negotiatingNow())
			}
		}
	}
	n := 0
	for i := range 5 {
		for _, p := range probes {
			c, err := net.Dial("tcp", r.srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write(p.send)
			if p.name == "half a packet" {
				c.(*net.TCPConn).CloseWrite()
			}
			c.Read(make([]byte, 1)) // the gateway closes it
			c.Close()
			n++
			if i == 0 && n == 1 {
				settled() // the first one is the first one logged
			}
		}
	}
	settled()
	var lines []string
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "refused or ended") || strings.Contains(line, "ended before it asked") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d probes logged %d lines, want 1:\n%s", n, len(lines), log.String())
	}
	if !strings.Contains(lines[0], "does not carry the gateway's key") {
		t.Errorf("the line does not give the first probe's reason: %s", lines[0])
	}
}

// TestOpenVPNRefusalLoggedOnce: an OpenVPN client refused (a
// certificate of another root) is logged on one line, which says it is
// an OpenVPN client and why, not on two.
func TestOpenVPNRefusalLoggedOnce(t *testing.T) {
	var log logbuf.Buffer
	r := newRegion(t, Config{OpenVPN: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	stranger := newPKI(t).client
	cl := dialTestOVPN(t, r.srv.Addr())
	defer cl.c.Close()
	if _, err := cl.session(0, &stranger, "", ""); err == nil {
		t.Fatal("a certificate of another root was taken")
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), "refused or ended"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged:\n%s", log.String())
		}
	}
	n := 0
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "refused") {
			n++
			if !strings.Contains(line, "OpenVPN client refused") || !strings.Contains(line, "certificate") {
				t.Errorf("the refusal does not say it is an OpenVPN client's, and why: %s", line)
			}
		}
	}
	if n != 1 {
		t.Errorf("the refusal is logged on %d lines, want 1:\n%s", n, log.String())
	}
}

// TestOpenVPNRefusalReasonLoggedWhenClientLeaves: a client told
// AUTH_FAILED leaves at once, as OpenVPN does (auth-retry none): the
// refusal is logged with its reason (the RADIUS server's reject), not as
// the end of the connection.
func TestOpenVPNRefusalReasonLoggedWhenClientLeaves(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 0, false)
	var log logbuf.Buffer
	r := newRegion(t, Config{OpenVPN: true, Radius: []radius.Server{{Addr: rad, Secret: secret}}, RadiusOnly: true,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	cl := dialTestOVPN(t, r.srv.Addr())
	tc, err := cl.session(0, nil, "bob", "wrong")
	if err != nil {
		t.Fatal(err)
	}
	var b [2048]byte
	tc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := tc.Read(b[:]); err != nil || !strings.HasPrefix(string(b[:n]), "AUTH_FAILED") {
		t.Fatalf("a wrong password was answered %q, %v", b[:n], err)
	}
	cl.c.Close()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), "refused or ended"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged:\n%s", log.String())
		}
	}
	if out := log.String(); !strings.Contains(out, `rejected user \"bob\"`) {
		t.Errorf("the refusal is logged without its reason:\n%s", out)
	}
}

// TestOpenVPNTimeoutsSaid: a client whose handshake does not end within
// the hand-window (60 s), and one that goes silent once connected
// (ping-restart, 60 s), are logged as such, not as a read that timed
// out; the silent one's address is free again.
func TestOpenVPNTimeoutsSaid(t *testing.T) {
	secret := []byte("s3cret")
	rad := fakeRadius(t, secret, 0, true)
	var log logbuf.Buffer
	r := newRegion(t, Config{OpenVPN: true, Radius: []radius.Server{{Addr: rad, Secret: secret}}, RadiusOnly: true,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	// One stops after its hard reset; the other once connected.
	stalled := dialTestOVPN(t, r.srv.Addr())
	defer stalled.c.Close()
	silent := dialTestOVPN(t, r.srv.Addr())
	defer silent.c.Close()
	tc, err := silent.session(0, nil, "bob", "pw")
	if err != nil {
		t.Fatal(err)
	}
	mustPush(t, tc, 20*time.Second, "once connected")
	untilTrue(t, "the connected client listed", func() bool { return len(r.srv.Clients()) == 1 })
	for _, cl := range []*testOVPN{stalled, silent} {
		select {
		case <-cl.done:
		case <-time.After(3 * ovpnPingRestart):
			t.Fatal("a silent client's connection stays")
		}
	}
	untilTrue(t, "the silent client's address free", func() bool { return len(r.srv.Clients()) == 0 })
	for deadline := time.Now().Add(20 * time.Second); strings.Count(log.String(), "refused or ended") < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the ends are not logged:\n%s", log.String())
		}
	}
	out := log.String()
	if !strings.Contains(out, "handshake took longer than the hand-window (1m0s)") || !strings.Contains(out, "silent for 1m0s (ping-restart)") || strings.Contains(out, "i/o timeout") {
		t.Errorf("the timeouts are not said:\n%s", out)
	}
}

// TestOpenVPNClientLeavingLoggedOnce: a connected client that stops
// (openvpn ended by its user: over TCP it closes the connection, with no
// exit notification) is logged as disconnected, on one line, not also as
// "refused or ended" with EOF.
func TestOpenVPNClientLeavingLoggedOnce(t *testing.T) {
	var log logbuf.Buffer
	srv, _, client := startOpenVPNWith(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&log, nil)) })
	if !openVPNConnected(client, 30*time.Second) {
		t.Fatalf("OpenVPN did not connect:\n%s", client.Output())
	}
	client.Cmd.Process.Signal(syscall.SIGTERM)
	if !client.Wait(10 * time.Second) {
		t.Fatalf("OpenVPN still runs 10 s after SIGTERM:\n%s", client.Output())
	}
	untilTrue(t, "the client gone", func() bool { return len(srv.Clients()) == 0 })
	srv.Close() // the connection's end logged
	out := log.String()
	if n := strings.Count(out, "point-to-site client disconnected"); n != 1 {
		t.Errorf("the client's end is logged as a disconnection %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "refused or ended") {
		t.Errorf("a client that left is logged as refused or ended:\n%s", out)
	}
}
