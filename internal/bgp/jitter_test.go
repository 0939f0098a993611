package bgp

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	wire "github.com/vnetgw/vnetgw/internal/wire/bgp"
)

// TestTimersJitteredRFC4271Section10: the waits between the speaker's
// dials to a peer and between its KEEPALIVEs are jittered, each a random
// 0.75 to 1 times its base (RFC 4271 §10), so that a gateway's many
// peers are not dialled or kept alive all at once; a KEEPALIVE still
// comes no sooner than a second after the one before (§4.4). Only the
// bounds a slow machine cannot break are checked: no wait shorter than
// 0.75 times, and one at least shorter than the whole base (the chance
// that eight random waits all fall in the top fifth of the range is
// 0.2⁸).
func TestTimersJitteredRFC4271Section10(t *testing.T) {
	t.Run("ConnectRetry", func(t *testing.T) {
		t.Parallel()
		a, b := netip.MustParseAddr("127.159.2.1"), netip.MustParseAddr("127.159.2.2")
		port := freePort(t, a, b) // nothing listens on b: the speaker's dials fail
		n := startNode(t, a.String(), port, 0)
		const retry = time.Second
		n.s.opts.ConnectRetry = retry
		dialed := make(chan time.Time, 100)
		dial := n.s.opts.Dial
		n.s.opts.Dial = func(ctx context.Context, local netip.Addr, dst netip.AddrPort) (net.Conn, error) {
			dialed <- time.Now()
			return dial(ctx, local, dst)
		}
		n.s.Reconfig(Config{AS: 65515, ID: a, Peers: []Peer{{Name: "b", Addr: b, AS: 65002}}})
		var gaps []time.Duration
		for last := <-dialed; len(gaps) < 8; {
			at := <-dialed
			gaps, last = append(gaps, at.Sub(last)), at
		}
		checkJittered(t, gaps, retry, retry*3/4)
	})
	t.Run("Keepalive", func(t *testing.T) {
		t.Parallel()
		a, b := netip.MustParseAddr("127.159.2.3"), netip.MustParseAddr("127.159.2.4")
		port := freePort(t, a)
		n := waitingNode(t, port, net.ListenConfig{}, Config{AS: 65515, ID: a, Peers: []Peer{{Name: "b", Addr: b, AS: 65002}}})
		c, err := net.DialTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(b, 0)), net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		p := &rawPeer{t: t, c: c}
		// Hold time 4 s: a KEEPALIVE every 4/3 s, jittered from 1 s.
		p.send(wire.TypeOpen, wire.Open{AS: 65002, HoldTime: 4, ID: b}.Append(nil))
		p.expect(wire.TypeOpen)
		p.send(wire.TypeKeepalive, nil)
		p.expect(wire.TypeKeepalive)
		last := time.Now()
		var gaps []time.Duration
		for len(gaps) < 9 {
			p.expect(wire.TypeKeepalive)
			p.send(wire.TypeKeepalive, nil) // its own hold timer
			now := time.Now()
			gaps, last = append(gaps, now.Sub(last)), now
		}
		// The first wait runs from the speaker's KEEPALIVE of the OPEN
		// exchange, a little before the session is established.
		checkJittered(t, gaps[1:], 4*time.Second/3, time.Second-50*time.Millisecond)
		if ps := n.s.Peers(); ps[0].State != "Established" {
			t.Errorf("peer %+v", ps[0])
		}
	})
}

// checkJittered checks waits jittered from base: none shorter than
// least, and not all of them base or longer.
func checkJittered(t *testing.T, gaps []time.Duration, base, least time.Duration) {
	t.Helper()
	if slices.Min(gaps) < least || slices.Min(gaps) >= base-base/20 {
		t.Errorf("waits %v with base %v: want each at least %v, and one at least shorter than %v", gaps, base, least, base-base/20)
	}
}
