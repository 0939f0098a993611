package p2s

import (
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
