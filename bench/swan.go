package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/strongswan"
)

// The strongSwan check: one charon (Debian's has no load-tester plugin)
// with one connection per address of its own, all loaded at once with
// start_action = start, so that it initiates every one of them together
// towards one vnetgw gateway; the figure is the time from loading them to
// the last IKE SA the gateway established.

// SwanSample is one run of the strongSwan check.
type SwanSample struct {
	// Conns is the number of connections charon initiated.
	Conns int
	// Seconds is the time from loading them to the last IKE SA the gateway
	// established; Rate is Conns / Seconds.
	Seconds, Rate float64
	// Load is /proc/loadavg's 1-minute figure at the end of the run.
	Load float64
}

// swanCheck is charon's namespace, with its addresses, in a peerNet.
type swanCheck struct {
	pn    *peerNet
	addrs []netip.Addr
}

// newSwanCheck adds charon's namespace with n addresses to pn.
func newSwanCheck(ctx context.Context, pn *peerNet, dir string, n int) (*swanCheck, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addrs, err := pn.addSwan(ctx, dir, n)
	if err != nil {
		return nil, err
	}
	return &swanCheck{pn: pn, addrs: addrs}, nil
}

// run measures one run with a fresh gateway and a fresh charon.
func (c *swanCheck) run(ctx context.Context, binary, dir string) (SwanSample, error) {
	gw, err := startPeerGateway(ctx, binary, filepath.Join(dir, "gateway"), c.pn.GW, c.addrs, ikeProposalFor(goalGroup), espProposal)
	defer gw.stop()
	if err != nil {
		return SwanSample{}, err
	}
	ch, err := launchCharon(ctx, filepath.Join(dir, "charon"), c.pn.Swan)
	if ch != nil {
		defer ch.proc.Stop()
	}
	if err != nil {
		return SwanSample{}, err
	}
	// Each connection carries its own IKE address (an address of charon's
	// namespace) to host i behind the gateway (not the gateway's IKE
	// address), as launchCharon says kernel-libipsec needs.
	conns := make([]strongswan.Conn, len(c.addrs))
	for i, a := range c.addrs {
		conns[i] = strongswan.Conn{Name: fmt.Sprintf("c%d", i), Local: a.String(), Remote: pnGateway.Addr().String(),
			LocalTS: netip.PrefixFrom(a, 32).String(), RemoteTS: netip.PrefixFrom(gwHost(i), 32).String(),
			IKE: ikeProposalFor(goalGroup), ESP: espProposal, StartAction: "start"}
	}
	conf := filepath.Join(ch.dir, "swanctl.conf")
	if err := strongswan.WriteSwanctl(conf, conns, []strongswan.Secret{{PSK: benchPSK}}); err != nil {
		return SwanSample{}, err
	}
	if err := sleep(ctx, settleGateway); err != nil {
		return SwanSample{}, err
	}
	n := len(c.addrs)
	start := time.Now()
	if _, err := ch.swanctl(ctx, "--load-all", "--file", conf); err != nil {
		return SwanSample{}, err
	}
	var est map[string]time.Time
	d := time.Minute + time.Duration(n)*50*time.Millisecond
	err = waitFor(ctx, d, func() bool {
		est, err = gw.established()
		return err == nil && len(est) == n
	})
	if err != nil {
		return SwanSample{}, fmt.Errorf("the gateway established %d of %d IKE SAs with strongSwan in %s (logs in %s): %w", len(est), n, d, dir, err)
	}
	var done time.Time
	for _, at := range est {
		done = later(done, at)
	}
	// charon's view: every IKE SA established, every child SA installed.
	var ike, child int
	err = waitFor(ctx, 10*time.Second, func() bool {
		out, err := ch.swanctl(ctx, "--list-sas", "--raw")
		ike, child = strings.Count(out, "state=ESTABLISHED"), strings.Count(out, "state=INSTALLED")
		return err == nil && ike == n && child == n
	})
	if err != nil {
		return SwanSample{}, fmt.Errorf("charon has %d IKE SAs established and %d child SAs installed of %d (logs in %s)", ike, child, n, dir)
	}
	s := SwanSample{Conns: n, Seconds: done.Sub(start).Seconds(), Load: load1()}
	if s.Seconds > 0 {
		s.Rate = float64(n) / s.Seconds
	}
	return s, nil
}
