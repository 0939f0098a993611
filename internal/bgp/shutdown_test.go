package bgp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestShutdownCommunicationShown: a peer that ends its session with a
// Cease, Administrative Shutdown, and a message for the operator (RFC
// 9003) has the message in the node's `BGP session down` line and in its
// status's last error, its control characters escaped: the line it holds
// stays one line.
func TestShutdownCommunicationShown(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.144.2.1"), netip.MustParseAddr("127.144.2.2")
	n, port := loggedRawSpeaker(t, a, b, 65002, &log, nil)
	waitDialFailed(t, n)
	p := dialRaw(t, n, b, port)
	p.expect(wire.TypeUpdate)
	msg := "maintenance until 05:00 UTC, ticket 4711\nlevel=INFO msg=forged"
	p.send(wire.TypeNotification, wire.Notification{Code: wire.CodeCease, Subcode: wire.SubAdminShutdown, Data: append([]byte{byte(len(msg))}, msg...)}.Append(nil))
	want := `shutdown communication "maintenance until 05:00 UTC, ticket 4711\nlevel=INFO msg=forged"`
	var down string
	for deadline := time.Now().Add(10 * time.Second); down == ""; time.Sleep(10 * time.Millisecond) {
		for line := range strings.Lines(log.String()) {
			if strings.Contains(line, "BGP session down") {
				down = line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session down logged:\n%s", log.String())
		}
	}
	if !strings.Contains(down, strings.ReplaceAll(strings.ReplaceAll(want, `\`, `\\`), `"`, `\"`)) {
		t.Errorf("the session's end logged without the peer's message:\n%s", log.String())
	}
	for line := range strings.Lines(log.String()) {
		if strings.HasPrefix(line, "level=INFO msg=forged") {
			t.Errorf("the peer's message logged as a line of its own:\n%s", log.String())
		}
	}
	if ps := n.s.Peers(); len(ps) != 1 || !strings.Contains(ps[0].LastError, want) {
		t.Errorf("the peer's status has not its message: %+v", ps)
	}
}
