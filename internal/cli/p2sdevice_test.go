package cli

import (
	"context"
	"crypto/x509"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestP2SConnectDeviceGone (root): p2s connect whose TUN device goes
// ends the call (CALL_DISCONNECT: the gateway lets the address go) and
// says so, exit 1: the device deleted (ip link del), or its namespace
// (ip netns del); with --reconnect it connects again, on a new device,
// once the namespace is there. The client stayed connected with no
// device, holding its address at the gateway, for as long as it ran.
func TestP2SConnectDeviceGone(t *testing.T) {
	netnstest.Require(t, "ip")
	root := pkitest.Issue(t, "p2s root", true, nil)
	dir := t.TempDir()
	ca, _ := root.WritePEM(t, dir, "ca")
	cert, key := pkitest.Issue(t, "alice", false, root).WritePEM(t, dir, "alice")
	srv, err := p2s.Start(p2s.Config{Listen: netip.MustParseAddrPort("127.0.0.1:0"), Cert: pkitest.Issue(t, "gateway", false, root).TLS(),
		Roots: []*x509.Certificate{root.Certificate}, Pool: netip.MustParsePrefix("172.16.201.0/24"), SSTP: true, Router: fabric.NewRouter()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	// connect starts the client, its device in ns, and waits until it is
	// connected; it returns the device's name.
	connect := func(ns *netnstest.NS, extra ...string) (dev string, out, errb *logbuf.Buffer, code chan int, cancel func()) {
		t.Helper()
		// The deadline is for the old code, which stayed connected.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, errb, code = &logbuf.Buffer{}, &logbuf.Buffer{}, make(chan int, 1)
		args := append([]string{"p2s", "connect", "--gateway", srv.Addr().String(), "--server-name", "gateway", "--ca", ca, "--cert", cert, "--key", key,
			"--proxy", "none", "--netns", ns.Name, "--route", "10.1.0.0/16"}, extra...)
		go func() { code <- Execute(ctx, args, out, errb) }()
		for !strings.Contains(out.String(), " in "+ns.Name) {
			select {
			case c := <-code:
				t.Fatalf("p2s connect ended, exit %d:\n%s%s", c, out.String(), errb.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
		s := out.String()
		return strings.Fields(s[strings.Index(s, " on ")+len(" on "):])[0], out, errb, code, cancel
	}
	gone := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); len(srv.Clients()) > 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("%s: the gateway still lists the client: %+v", what, srv.Clients())
				return
			}
		}
	}

	t.Run("device deleted", func(t *testing.T) {
		ns := netnstest.New(t, "p2sdev")
		dev, out, errb, code, cancel := connect(ns)
		defer cancel()
		ns.Run("ip", "link", "del", dev)
		if c := <-code; c != 1 || !strings.Contains(errb.String(), `error: the TUN device is gone, the call ends: its device `+dev+` in network namespace "`+ns.Name+`" was deleted`) {
			t.Errorf("p2s connect with its device deleted: exit %d, want 1 and an error naming %s:\n%s%s", c, dev, out.String(), errb.String())
		}
		gone("device deleted")
	})

	t.Run("namespace deleted, --reconnect", func(t *testing.T) {
		ns := netnstest.New(t, "p2sns")
		_, out, errb, code, cancel := connect(ns, "--reconnect")
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns del: %v: %s", err, out)
		}
		noticed := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if noticed = strings.Contains(errb.String(), `the TUN device is gone, the call ends: network namespace "`+ns.Name+`"`); noticed {
				break
			}
		}
		// Made again (the test's cleanup deletes it).
		if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v: %s", err, out)
		}
		if !noticed {
			cancel()
			t.Fatalf("p2s connect did not end the call 10 s after its namespace was deleted:\n%s%s", out.String(), errb.String())
		}
		for deadline := time.Now().Add(10 * time.Second); strings.Count(out.String(), "connected to") < 2; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("p2s connect --reconnect did not connect again in the namespace made again:\n%s%s", out.String(), errb.String())
			}
		}
		s := out.String()
		s = s[strings.LastIndex(s, " on ")+len(" on "):]
		if dev := strings.Fields(s)[0]; !strings.Contains(ns.Run("ip", "link", "show"), dev+":") {
			t.Errorf("no device %s in the namespace made again:\n%s", dev, ns.Run("ip", "link", "show"))
		}
		if n := len(srv.Clients()); n != 1 {
			t.Errorf("the gateway lists %d clients, want the one connected again", n)
		}
		cancel()
		if c := <-code; c != 0 {
			t.Errorf("exit %d after the interrupt, want 0:\n%s%s", c, out.String(), errb.String())
		}
		gone("interrupted")
	})
}
