package bgp

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestPeerClosedLogged: a peer that closes the connection without a
// NOTIFICATION has the node's log say so, not "EOF": before its OPEN (as
// BIRD and FRR do with a connection from an address that is no neighbour
// of theirs) with the address and AS it is to have configured, and once
// the session is up, in the session down line; a session the speaker
// ends with a Cease is logged with it.
func TestPeerClosedLogged(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.159.5.1"), netip.MustParseAddr("127.159.5.2")
	n, port := loggedRawSpeaker(t, a, b, 65002, &log, nil)
	c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
	if err != nil {
		t.Fatal(err)
	}
	(&rawPeer{t: t, c: c}).expect(wire.TypeOpen)
	c.Close()
	waitLog(t, &log, "BGP session not established", "the peer closed the connection before its OPEN: does it have 127.159.5.1 of AS 65515 as a neighbour?")
	p := dialRaw(t, n, b, port)
	p.expect(wire.TypeUpdate) // all it is sent read: a FIN, not a reset
	p.c.Close()
	waitLog(t, &log, "BGP session down", `err="the peer closed the connection: EOF"`)
	// A session the speaker ends is logged as its own end, not as the
	// peer's close that follows its Cease.
	waitDown(t, n)
	p = dialRaw(t, n, b, port)
	p.expect(wire.TypeUpdate) // established: the speaker sends its network
	n.s.Reconfig(Config{AS: 65515, ID: a})
	p.expect(wire.TypeNotification)
	p.c.Close()
	waitLog(t, &log, "BGP session down", `err="this speaker ended the session: cease, subcode 3 (peer de-configured)"`)
}

// waitLog waits until a line of log holds both msg and part.
func waitLog(t *testing.T, log *logbuf.Buffer, msg, part string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for line := range strings.Lines(log.String()) {
			if strings.Contains(line, msg) && strings.Contains(line, part) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line %q with %q in the log:\n%s", msg, part, log.String())
		}
	}
}
