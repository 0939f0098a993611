package netnstest

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNamespacesAndLinks(t *testing.T) {
	Require(t, "ip", "ping")
	a, b := New(t, "a"), New(t, "b")
	Link(t, a, "10.99.0.1/24", b, "10.99.0.2/24")
	if out := a.Run("ping", "-c1", "-W2", "10.99.0.2"); !strings.Contains(out, "1 received") {
		t.Fatalf("ping across the link:\n%s", out)
	}
	// A socket opened inside Do belongs to the namespace.
	var ln net.Listener
	if err := b.Do(func() (err error) { ln, err = net.Listen("tcp", "10.99.0.2:7777"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	if out := a.Run("bash", "-c", "exec 3<>/dev/tcp/10.99.0.2/7777; cat <&3"); out != "hello" {
		t.Fatalf("read %q through the namespace socket", out)
	}
}

// TestCharonBetweenTwoNamespaces checks the strongSwan recipe itself: two
// charons with userspace ESP establish a tunnel.
func TestCharonBetweenTwoNamespaces(t *testing.T) {
	RequireStrongSwan(t)
	a, b := New(t, "swa"), New(t, "swb")
	Link(t, a, "10.98.0.1/24", b, "10.98.0.2/24")
	// charon routes the tunnel from an address inside its local selector.
	a.Run("ip", "addr", "add", "10.1.0.1/32", "dev", "lo")
	b.Run("ip", "addr", "add", "10.2.0.1/32", "dev", "lo")
	cfg := CharonConfig{Local: "10.98.0.1", Remote: "10.98.0.2", PSK: "test-psk-0123456789",
		IKEProposal: "aes256gcm16-prfsha256-ecp256", ESPProposal: "aes256gcm16", LocalTS: "10.1.0.0/16", RemoteTS: "10.2.0.0/16"}
	ca := StartCharon(t, a, cfg)
	cfg.Local, cfg.Remote, cfg.LocalTS, cfg.RemoteTS = cfg.Remote, cfg.Local, cfg.RemoteTS, cfg.LocalTS
	cb := StartCharon(t, b, cfg)
	if out, err := ca.Initiate(); err != nil {
		t.Fatalf("initiate: %v\n%s", err, out)
	}
	if _, err := cb.WaitSAs(10*time.Second, "ESTABLISHED", "INSTALLED"); err != nil {
		t.Fatal(err)
	}
	if out, err := a.Try("ping", "-c2", "-W2", "-I", "10.1.0.1", "10.2.0.1"); err != nil {
		t.Fatalf("ping through the tunnel: %v\n%s", err, out)
	}
	if out, err := cb.Swanctl("--list-sas"); err != nil || !regexp.MustCompile(`[1-9][0-9]* packets`).MatchString(out) {
		t.Fatalf("no traffic counted (%v):\n%s", err, out)
	}
}
