package bgp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestMalformedUpdatesLoggedOnce: a peer that sends many UPDATEs with a
// malformed attribute (RFC 7606 treat-as-withdraw: the session stays)
// has them logged once a minute at most, the others counted in the next
// line, not one line each: it does not fill the node's log. Each is
// still counted in the peer's status.
func TestMalformedUpdatesLoggedOnce(t *testing.T) {
	var log logbuf.Buffer
	a, b := netip.MustParseAddr("127.144.6.1"), netip.MustParseAddr("127.144.6.2")
	n, port := loggedRawSpeaker(t, a, b, 65002, &log, nil)
	p := dialRaw(t, n, b, port)
	bad := mustAppend(wire.Update{Origin: wire.OriginIGP, ASPath: []wire.Segment{{ASNs: []uint32{65002}}}, NextHop: b, NLRI: pfxs("192.168.3.0/24")}.Append(nil, true))
	bad[7] = 9 // ORIGIN 9
	for range 200 {
		p.send(wire.TypeUpdate, bad)
	}
	for deadline := time.Now().Add(10 * time.Second); n.s.Peers()[0].MalformedUpdates != 200; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("malformed UPDATEs not counted: %+v", n.s.Peers())
		}
	}
	if got := strings.Count(log.String(), "malformed attribute"); got != 1 {
		t.Errorf("200 malformed UPDATEs logged %d times", got)
	}
	if ps := n.s.Peers(); ps[0].State != "Established" {
		t.Errorf("the session after malformed UPDATEs: %+v", ps[0])
	}
}
