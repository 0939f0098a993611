package p2s

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/sender"
)

// TestRefusedConnectionsLogged: a connection refused because 1,024 are
// authenticating in all is logged for that, not as too many from its
// address, and a burst of refused connections logs one line for each
// bound, the others counted in the next line, not one line each.
func TestRefusedConnectionsLogged(t *testing.T) {
	var log logbuf.Buffer
	r := newRegion(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	refused := func(from string) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
		c, err := d.Dial("tcp", r.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		var b [1]byte
		if _, err := c.Read(b[:]); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a connection from %s not closed at once: %v", from, err)
		}
	}
	n := &r.srv.negotiating
	set := func(total int, from string, by int) {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.total, n.by = total, map[netip.Prefix]int{}
		if from != "" {
			n.by[sender.Key(netip.MustParseAddr(from))] = by
		}
	}
	set(maxNegotiating, "", 0) // others authenticating, from elsewhere
	for range 3 {
		refused("127.112.0.1")
	}
	set(maxNegotiatingPerSource, "127.112.0.2", maxNegotiatingPerSource)
	for range 3 {
		refused("127.112.0.2")
	}
	set(0, "", 0)
	var inAll, fromSender int
	for line := range strings.Lines(log.String()) {
		switch {
		case strings.Contains(line, "connection refused: too many are authenticating in all") && strings.Contains(line, "from=127.112.0.1 "):
			inAll++
		case strings.Contains(line, "connection refused: too many from its address") && strings.Contains(line, "from=127.112.0.2 "):
			fromSender++
		case strings.Contains(line, "connection refused"):
			t.Errorf("logged %q", line)
		}
	}
	if inAll != 1 || fromSender != 1 {
		t.Errorf("three connections refused for each bound logged %d lines for the bound in all and %d for the one per address, want 1 each:\n%s", inAll, fromSender, log.String())
	}
}

// TestNoCallLoggedSparsely: connections that end before they ask for an
// SSTP call, as those who scan port 443 open them (closed at once, a
// TLS handshake that fails, an HTTP request that is not SSTP's), are
// logged once a minute at most, the others counted, not one line each;
// a client that asked for a call and is refused (a certificate of
// another root) is logged as before.
func TestNoCallLoggedSparsely(t *testing.T) {
	var log logbuf.Buffer
	r := newRegion(t, Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	scan := map[string]func(c net.Conn){
		"closed": func(net.Conn) {},
		"not TLS": func(c net.Conn) {
			c.Write([]byte("\x16\x03\x01\x00\x05hello"))
			c.Read(make([]byte, 1))
		},
		"not SSTP": func(c net.Conn) {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			tc.Write([]byte("GET / HTTP/1.1\r\nHost: gateway\r\n\r\n"))
			tc.Read(make([]byte, 1))
		},
	}
	n := 0
	for range 10 {
		for _, f := range scan {
			c, err := net.Dial("tcp", r.srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			f(c)
			c.Close()
			n++
		}
	}
	if _, _, err := r.dial(t, newPKI(t).client); err == nil {
		t.Fatal("a certificate of another root was taken")
	}
	for deadline := time.Now().Add(20 * time.Second); r.srv.negotiatingNow() > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still negotiating", r.srv.negotiatingNow())
		}
	}
	var noCall, refused int
	for line := range strings.Lines(log.String()) {
		switch {
		case strings.Contains(line, "ended before it asked for a call"):
			noCall++
		case strings.Contains(line, "refused or ended") && strings.Contains(line, "certificate"):
			refused++
		case strings.Contains(line, "refused or ended"):
			t.Errorf("logged %q", line)
		}
	}
	if noCall != 1 || refused != 1 {
		t.Errorf("%d connections that asked for no call logged %d lines, want 1; the refused client %d, want 1:\n%s", n, noCall, refused, log.String())
	}
}
