package gateway_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
)

// TestReconfigEachDaemon: a configuration one IKE daemon refuses (an
// IKEv2 connection without a pre-shared key; an IKEv1 one whose first
// retransmission waits beyond ikev2.MaxRetransmitTimeout) is reported,
// and the other daemon's connections are added and removed all the same:
// a refusal of the IKEv2 daemon's returned before the IKEv1 daemon was
// reconfigured. The data path carries the tunnels of the peers the
// daemons have, no other: a refusing daemon's peer that the configuration
// dropped keeps its tunnel (its traffic was black-holed while IKE showed
// it), and a refused new peer gets none. The peers only answer, so
// nothing is sent. Loopback only:
// 127.94.0.1, with peers from 127.94.0.2.
func TestReconfigEachDaemon(t *testing.T) {
	gw, err := gateway.Start(gateway.Options{Local: netip.MustParseAddr("127.94.0.1"), IKEPort: 50500, NATTPort: 54500,
		Inner: tuntest.NewSink(64), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	n := byte(1)
	conn := func(name string, ikev1 bool, psk string) gateway.Connection {
		n++ // a peer and a route of its own
		return gateway.Connection{IKEv1: ikev1, Peer: ikev2.PeerConfig{Name: name, Mode: ikev2.ModeResponderOnly,
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 94, 0, n}), 500), PSK: ikev2.PSK(psk)},
			Routes: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 94, n, 0}), 24)}}
	}
	names := func() []string {
		var out []string
		for _, c := range gw.Status() {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return out
	}
	slowV1 := conn("v1-slow", true, "Key2026")
	slowV1.Peer.RetransmitTimeout = ikev2.MaxRetransmitTimeout + time.Second
	for _, step := range []struct {
		name    string
		conns   []gateway.Connection
		refused string // in the error, "" for none
		want    []string
	}{
		{"both", []gateway.Connection{conn("v1-a", true, "Key2026"), conn("v2-a", false, "Key2026")}, "", []string{"v1-a", "v2-a"}},
		{"IKEv2 refused", []gateway.Connection{conn("v1-b", true, "Key2026"), conn("v2-a", false, "")}, "IKE:", []string{"v1-b", "v2-a"}},
		{"IKEv1 refused", []gateway.Connection{slowV1, conn("v2-b", false, "Key2026")}, "IKEv1:", []string{"v1-b", "v2-b"}},
	} {
		err := gw.Reconfig(step.conns)
		switch {
		case step.refused == "" && err != nil:
			t.Errorf("%s: %v", step.name, err)
		case step.refused != "" && (err == nil || !strings.Contains(err.Error(), step.refused)):
			t.Errorf("%s: Reconfig: %v, want the refusal (%q)", step.name, err, step.refused)
		}
		if got := names(); !slices.Equal(got, step.want) {
			t.Errorf("%s: connections %v, want %v", step.name, got, step.want)
		}
		var tunnels []string
		for _, ts := range gw.Engine().TunnelStatus("v1-a", "v1-b", "v1-slow", "v2-a", "v2-b") {
			tunnels = append(tunnels, ts.Name)
		}
		slices.Sort(tunnels)
		if !slices.Equal(tunnels, step.want) {
			t.Errorf("%s: the data path's tunnels %v, want those of the daemons' peers %v", step.name, tunnels, step.want)
		}
	}
}
