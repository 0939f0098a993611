package bgp

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/logbuf"
)

// TestPeerAddressTwiceLogged: two peers configured at one address (two
// sites given the same BGP peering address) cannot both have a session,
// the peer's connections being told apart by their address alone. The
// first keeps its session and the node's log says, as an error, which
// has none; a configuration that adds the second does not take the
// session from the first.
func TestPeerAddressTwiceLogged(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.159.7.1"), netip.MustParseAddr("127.159.7.2")
	port := freePort(t, a, b)
	s := New(Options{Port: port, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	defer s.Close()
	s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "site-one", Addr: b, AS: 65002}}})
	s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "site-one", Addr: b, AS: 65002}, {Name: "site-two", Addr: b, AS: 65003}}})
	if ps := s.Peers(); len(ps) != 1 || ps[0].Name != "site-one" || ps[0].AS != 65002 {
		t.Errorf("peers %+v, want site-one's alone", ps)
	}
	var lines []string
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "configured for two peers") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], "peer=127.159.7.2 session=site-one without=site-two") {
		t.Errorf("logged %q, want one error naming both peers:\n%s", lines, log.String())
	}
}
