package dataplane

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// A neighbour that knew a gateway's address at a dead node's MAC learns
// the new node's MAC from the announcement.
func TestAnnounceMovesTheNeighboursEntry(t *testing.T) {
	netnstest.Require(t, "ip")
	a, b := netnstest.New(t, "ga"), netnstest.New(t, "gb")
	aIf, bIf := netnstest.Link(t, a, "10.9.0.1/24", b, "10.9.0.2/24")
	const gw = "10.9.0.5"
	a.Run("ip", "addr", "add", gw+"/32", "dev", aIf)
	b.Run("ip", "neigh", "replace", gw, "lladdr", "02:00:00:00:00:01", "dev", bIf, "nud", "reachable")
	time.Sleep(1100 * time.Millisecond) // past the entry's locktime (1 s)
	var mac string
	if err := a.Do(func() error {
		ifc, err := net.InterfaceByName(aIf)
		if err != nil {
			return err
		}
		mac = ifc.HardwareAddr.String()
		return announce(aIf, netip.MustParseAddr(gw))
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		out := b.Run("ip", "neigh", "show", gw, "dev", bIf)
		if strings.Contains(out, mac) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the neighbour still has %q, want %s", out, mac)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Loopback has no link-layer address: nothing to announce, no error.
func TestAnnounceOnLoopbackIsANoOp(t *testing.T) {
	if err := announce("lo", netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
}
