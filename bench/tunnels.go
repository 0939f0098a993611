package bench

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// tunnels is a gateway in a peerNet with the load generator's peers up: the
// measuring unit of the IKE and scale parts.
type tunnels struct {
	gw *peerGateway
	lg *loadGen

	// N is the number of tunnels.
	N int
	// Startup is the time from starting the gateway to its having
	// configured every connection.
	Startup time.Duration
	// Start is when the first peer initiated; Done when the gateway logged
	// the last IKE SA as established (IKE_AUTH done, child SA installed:
	// it logs before it answers).
	Start, Done time.Time
	// CPU is the gateway's CPU time from Start until every peer was up.
	CPU time.Duration
	// RSSBefore is the gateway's resident memory with its connections
	// configured and no tunnel up, RSSAfter with every tunnel up.
	RSSBefore, RSSAfter int64
	// Profile is the top of the gateway's profile, with tunnelSpec.Perf.
	Profile []string
}

// tunnelSpec says what tunnels to bring up.
type tunnelSpec struct {
	// N tunnels, of which Traffic carry traffic through the load
	// generator's ESP engine; Window peers negotiate at a time.
	N, Traffic, Window int
	IKE, ESP           string
	// Perf, when not empty, is where `perf record` writes a profile of the
	// gateway while the tunnels come up; `perf report` writes its top
	// functions to Perf+".txt".
	Perf string
}

// settleGateway is the pause after a gateway starts and after its tunnels
// are up, before its memory is read: for its start-up work and the last
// messages to be done.
const settleGateway = time.Second

// bringUpTunnels starts a gateway for s.N peers in pn and brings every
// peer's tunnel up. The returned tunnels, also on error, must be closed.
func bringUpTunnels(ctx context.Context, binary, dir string, pn *peerNet, s tunnelSpec) (*tunnels, error) {
	t := &tunnels{N: s.N}
	// One socket per peer (two for a traffic peer), and some to spare.
	if err := raiseFileLimit(uint64(s.N+s.Traffic) + 4096); err != nil {
		return t, err
	}
	remotes := make([]netip.Addr, s.N)
	for i := range remotes {
		remotes[i] = peerAddr(i)
	}
	var err error
	start := time.Now()
	if t.gw, err = startPeerGateway(ctx, binary, dir, pn.GW, remotes, s.IKE, s.ESP); err != nil {
		return t, err
	}
	t.Startup = time.Since(start)
	if t.lg, err = newLoadGen(pn, loadGenConfig{Peers: s.N, Traffic: s.Traffic, Gateway: pnGateway.Addr(), IKE: s.IKE, ESP: s.ESP}); err != nil {
		return t, err
	}
	if err := sleep(ctx, settleGateway); err != nil {
		return t, err
	}
	if t.RSSBefore, err = t.gw.rss(); err != nil {
		return t, err
	}
	var prof *perfRecord
	if s.Perf != "" {
		if prof, err = startPerf(s.Perf, t.gw.proc.Pid()); err != nil {
			return t, err
		}
		defer prof.stop()
	}
	cpu0, err := t.gw.cpu()
	if err != nil {
		return t, err
	}
	b, err := t.lg.run(ctx, s.Window, time.Minute+time.Duration(s.N)*5*time.Millisecond)
	t.Start = b.Start
	if err != nil {
		return t, fmt.Errorf("%w (gateway log: %s)", err, t.gw.proc.Log)
	}
	cpu1, err := t.gw.cpu()
	if err != nil {
		return t, err
	}
	if prof != nil {
		if t.Profile, err = prof.report(ctx); err != nil {
			return t, err
		}
	}
	t.CPU = cpu1 - cpu0
	est, err := t.gw.established()
	if err != nil {
		return t, err
	}
	if len(est) != s.N {
		return t, fmt.Errorf("the gateway logged %d IKE SAs established, the peers have %d (log: %s)", len(est), s.N, t.gw.proc.Log)
	}
	for _, at := range est {
		t.Done = later(t.Done, at)
	}
	if err := sleep(ctx, settleGateway); err != nil {
		return t, err
	}
	t.RSSAfter, err = t.gw.rss()
	return t, err
}

// Seconds is the time from the first initiation to the last IKE SA at the
// gateway.
func (t *tunnels) Seconds() float64 { return t.Done.Sub(t.Start).Seconds() }

// Rate is the IKE SAs the gateway established per second.
func (t *tunnels) Rate() float64 {
	if s := t.Seconds(); s > 0 {
		return float64(t.N) / s
	}
	return 0
}

// close stops the gateway (it deletes its IKE SAs, telling the peers),
// then the peers.
func (t *tunnels) close() error {
	t.gw.stop()
	if t.lg != nil {
		return t.lg.close()
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// raiseFileLimit raises this process's limit of open files to at least n.
// Beyond the hard limit that takes CAP_SYS_RESOURCE.
func raiseFileLimit(n uint64) error {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("open file limit: %w", err)
	}
	if l.Cur >= n {
		return nil
	}
	want := unix.Rlimit{Cur: n, Max: max(l.Max, n)}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
		return fmt.Errorf("%d open files needed, the limit is %d (hard %d) and raising it failed: %w", n, l.Cur, l.Max, err)
	}
	return nil
}
