package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ScaleOptions say what the scale part measures: tunnels from the load
// generator's peers to one vnetgw gateway, brought up from scratch, and
// traffic over many of them at once.
type ScaleOptions struct {
	// Tunnels are the tunnel counts, each brought up to a fresh gateway.
	Tunnels []int
	// Window is how many peers negotiate at a time.
	Window int
	// Flows are the numbers of tunnels that carry traffic at once, one
	// TCP stream each, measured with the largest of Tunnels up.
	Flows []int
}

// The memory goal: MemoryGoalTunnels tunnels on one node in less than
// MemoryGoal bytes resident.
const (
	MemoryGoal        = 1 << 30
	MemoryGoalTunnels = 10000
)

// ScaleResult is what the scale part found.
type ScaleResult struct {
	Options ScaleOptions
	// Sizes holds the samples per tunnel count, in the order of
	// Options.Tunnels.
	Sizes []ScaleSize
	// Spread holds the samples per flow count, in the order of
	// Options.Flows; Of is the number of tunnels up meanwhile.
	Spread []SpreadResult
	Of     int
	// Failures lists the runs that failed, with why.
	Failures []string
}

// ScaleSize is the runs of one tunnel count.
type ScaleSize struct {
	Tunnels int
	Samples []ScaleSample
}

// ScaleSample is one run: Tunnels brought up to a fresh gateway.
type ScaleSample struct {
	Tunnels int
	// Seconds is the time from the first IKE_SA_INIT to the last IKE SA
	// the gateway established.
	Seconds float64
	// Startup is the time the gateway took to start and configure its
	// connections.
	Startup time.Duration
	// RSSBefore is the gateway's resident memory with its connections
	// configured and none up, RSSAfter with all up, in bytes.
	RSSBefore, RSSAfter int64
	// Load is /proc/loadavg's 1-minute figure at the end of the run.
	Load float64
}

// RSSPerTunnel returns the gateway's whole resident memory with every
// tunnel up divided by the tunnels, in bytes: what a tunnel costs in all,
// its configured connection and the process's own share included.
func (s ScaleSample) RSSPerTunnel() float64 {
	if s.Tunnels == 0 {
		return 0
	}
	return float64(s.RSSAfter) / float64(s.Tunnels)
}

// GrowthPerTunnel returns the resident memory that bringing the tunnels up
// added, divided by the tunnels, in bytes: only part of RSSPerTunnel, as
// the configured connections were resident before.
func (s ScaleSample) GrowthPerTunnel() float64 {
	if s.Tunnels == 0 {
		return 0
	}
	return float64(s.RSSAfter-s.RSSBefore) / float64(s.Tunnels)
}

// SpreadResult is the runs of one flow count in one direction.
type SpreadResult struct {
	Flows int
	// Reverse sends from the hosts behind the gateway to those behind the
	// peers (iperf3 -R): the gateway seals, the peers open.
	Reverse bool
	Samples []SpreadSample
}

// Label names the direction of the traffic.
func (r SpreadResult) Label() string {
	if r.Reverse {
		return "gateway → peers"
	}
	return "peers → gateway"
}

// SpreadSample is one transfer over Flows tunnels at once.
type SpreadSample struct {
	// Mbps is the sum of the flows' receiver-side rates; MinFlow and
	// MaxFlow are the slowest and the fastest flow's.
	Mbps, MinFlow, MaxFlow float64
	// Retransmitted is the share of TCP segments the senders sent again,
	// in percent: what was lost on the way.
	Retransmitted float64
	// Load is /proc/loadavg's 1-minute figure at the end of the transfer.
	Load float64
}

// runScale runs the scale part: each round brings up every tunnel count in
// turn, and with the largest up, runs traffic over each number of flows.
func runScale(ctx context.Context, o Options, dir string, log *slog.Logger) (*ScaleResult, error) {
	so := o.Scale
	res := &ScaleResult{Options: so}
	largest := slices.Max(so.Tunnels)
	for _, n := range so.Tunnels {
		if n < 1 || n > maxPeers {
			return nil, fmt.Errorf("scale: %d tunnels, want 1 to %d", n, maxPeers)
		}
		res.Sizes = append(res.Sizes, ScaleSize{Tunnels: n})
	}
	traffic := 0
	for _, k := range so.Flows {
		if k < 1 || k > largest {
			return nil, fmt.Errorf("scale: traffic over %d tunnels, want 1 to %d (the most tunnels up)", k, largest)
		}
		res.Spread = append(res.Spread, SpreadResult{Flows: k}, SpreadResult{Flows: k, Reverse: true})
		traffic = max(traffic, k)
	}
	res.Of = largest
	pn, err := newPeerNet(ctx, "scale")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := pn.Close(); err != nil {
			log.Warn("teardown", "part", PartScale, "err", err)
		}
	}()
	for run := 1; run <= o.Runs; run++ {
		for i := range res.Sizes {
			sz := &res.Sizes[i]
			spec := tunnelSpec{N: sz.Tunnels, Window: so.Window, IKE: ikeProposal, ESP: espProposal}
			if sz.Tunnels == largest {
				spec.Traffic = traffic
			}
			err := scaleRun(ctx, o, pn, filepath.Join(dir, fmt.Sprintf("%d-%d", sz.Tunnels, run)), spec, func(t *tunnels) {
				s := ScaleSample{Tunnels: t.N, Seconds: t.Seconds(), Startup: t.Startup, RSSBefore: t.RSSBefore, RSSAfter: t.RSSAfter, Load: load1()}
				sz.Samples = append(sz.Samples, s)
				log.Info("measured", "part", PartScale, "tunnels", t.N, "run", run, "setup_s", round(s.Seconds), "gateway_start_s", round(s.Startup.Seconds()),
					"rss_mib", round(float64(s.RSSAfter)/(1<<20)), "kib_per_tunnel", round(s.RSSPerTunnel()/1024), "kib_growth_per_tunnel", round(s.GrowthPerTunnel()/1024), "load", s.Load)
				if spec.Traffic == 0 {
					return
				}
				for j := range res.Spread {
					sp := &res.Spread[j]
					time.Sleep(settle)
					ss, err := measureSpread(ctx, pn, sp.Flows, o.Seconds, sp.Reverse)
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						res.Failures = append(res.Failures, fmt.Sprintf("traffic over %d tunnels, %s, run %d: %v", sp.Flows, sp.Label(), run, err))
						log.Warn("transfer failed", "part", PartScale, "flows", sp.Flows, "reverse", sp.Reverse, "run", run, "err", err)
						continue
					}
					sp.Samples = append(sp.Samples, ss)
					log.Info("measured", "part", PartScale, "flows", sp.Flows, "reverse", sp.Reverse, "of", t.N, "run", run, "mbps", round(ss.Mbps),
						"min_flow", round(ss.MinFlow), "max_flow", round(ss.MaxFlow), "retransmitted_pct", round(ss.Retransmitted), "load", ss.Load)
				}
			})
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				res.Failures = append(res.Failures, fmt.Sprintf("%d tunnels run %d: %v", sz.Tunnels, run, err))
				log.Warn("scale run failed", "tunnels", sz.Tunnels, "run", run, "err", err)
			}
		}
	}
	return res, nil
}

// scaleRun brings the tunnels of spec up to a fresh gateway, hands them to
// measure and takes them down.
func scaleRun(ctx context.Context, o Options, pn *peerNet, dir string, spec tunnelSpec, measure func(*tunnels)) error {
	t, err := bringUpTunnels(ctx, o.VNetGW, dir, pn, spec)
	defer func() {
		if t != nil {
			t.close()
		}
	}()
	if err != nil {
		return err
	}
	measure(t)
	return nil
}

// spreadPort is the TCP port of the traffic over many tunnels.
const spreadPort = 5201

// spreadChunk is what each sender writes at a time.
const spreadChunk = 128 << 10

// measureSpread runs one TCP stream through each of the first k tunnels
// at once: stream i from host i behind the peers to host i behind the
// gateway, the data flowing the other way with reverse. The streams are
// this process's own (a sink listening on every host address behind the
// gateway, AnyIP, and one connection per stream from its host address
// behind the peers): iperf3 needs a server and a client process per
// stream, and at 100 streams those processes took the 2 cores. All k
// connections are made first, then every sender writes at once; after a
// tenth of the time for slow start, the bytes each receiver reads are
// counted over the rest of it.
func measureSpread(ctx context.Context, pn *peerNet, k, seconds int, reverse bool) (SpreadSample, error) {
	var ln net.Listener
	if err := pn.GW.Do(func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", spreadPort))
		return err
	}); err != nil {
		return SpreadSample{}, fmt.Errorf("traffic sink: %w", err)
	}
	defer ln.Close()
	// An accept after its dial succeeded cannot wait long.
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute))
	var peers, gws []net.Conn
	defer func() {
		for _, c := range slices.Concat(peers, gws) {
			c.Close()
		}
	}()
	for i := range k {
		err := pn.Peers.Do(func() error {
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(peerHost(i), 0))}
			c, err := d.DialContext(ctx, "tcp4", netip.AddrPortFrom(gwHost(i), spreadPort).String())
			if err == nil {
				peers = append(peers, c)
			}
			return err
		})
		if err != nil {
			return SpreadSample{}, fmt.Errorf("stream %d: %w", i, err)
		}
		c, err := ln.Accept()
		if err != nil {
			return SpreadSample{}, fmt.Errorf("stream %d: %w", i, err)
		}
		gws = append(gws, c)
	}
	senders, receivers, sender := peers, gws, pn.Peers
	if reverse {
		senders, receivers, sender = gws, peers, pn.GW
	}
	tcp0, err := tcpCounters(ctx, sender)
	if err != nil {
		return SpreadSample{}, err
	}
	flows, err := spreadTransfer(ctx, senders, receivers, time.Duration(seconds)*time.Second)
	if err != nil {
		return SpreadSample{}, err
	}
	tcp1, err := tcpCounters(ctx, sender)
	if err != nil {
		return SpreadSample{}, err
	}
	ss := SpreadSample{Load: load1()}
	if out := tcp1.out - tcp0.out; out > 0 {
		ss.Retransmitted = 100 * float64(tcp1.retrans-tcp0.retrans) / float64(out)
	}
	for i, mbps := range flows {
		if i == 0 || mbps < ss.MinFlow {
			ss.MinFlow = mbps
		}
		ss.MaxFlow = max(ss.MaxFlow, mbps)
		ss.Mbps += mbps
	}
	return ss, nil
}

// spreadTransfer has each sender write to the receiver of the same index,
// all at once, for total, and returns each stream's rate in Mbit/s: the
// bytes its receiver read after the first tenth of total, over the rest.
// It closes the connections when done. A stream that ends before that, or
// moves nothing while measured, fails the transfer: its figure would be a
// broken tunnel's, not a rate.
func spreadTransfer(ctx context.Context, senders, receivers []net.Conn, total time.Duration) ([]float64, error) {
	k := len(senders)
	got := make([]atomic.Int64, k)
	// broke holds the first error of each stream before the end; ending
	// is set before the connections are closed, which ends the rest.
	broke := make([]error, k)
	var ending atomic.Bool
	var mu sync.Mutex // guards broke
	fail := func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if !ending.Load() && broke[i] == nil {
			broke[i] = err
		}
	}
	var wg sync.WaitGroup
	for i := range k {
		wg.Add(2)
		go func() {
			defer wg.Done()
			buf := make([]byte, spreadChunk)
			for {
				if _, err := senders[i].Write(buf); err != nil {
					fail(i, fmt.Errorf("send: %w", err))
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			buf := make([]byte, spreadChunk)
			for {
				n, err := receivers[i].Read(buf)
				got[i].Add(int64(n))
				if err != nil {
					fail(i, fmt.Errorf("receive: %w", err))
					return
				}
			}
		}()
	}
	werr := sleep(ctx, total/10)
	before := make([]int64, k)
	for i := range got {
		before[i] = got[i].Load()
	}
	t0 := time.Now()
	if werr == nil {
		werr = sleep(ctx, total-total/10)
	}
	d := time.Since(t0)
	after := make([]int64, k)
	for i := range got {
		after[i] = got[i].Load()
	}
	ending.Store(true)
	for _, c := range slices.Concat(senders, receivers) {
		c.Close()
	}
	wg.Wait()
	if werr != nil {
		return nil, werr
	}
	mbps := make([]float64, k)
	for i := range k {
		if broke[i] != nil {
			return nil, fmt.Errorf("stream %d ended before the transfer did: %w", i, broke[i])
		}
		if after[i] == before[i] {
			return nil, fmt.Errorf("stream %d moved nothing in %s", i, d.Round(time.Millisecond))
		}
		mbps[i] = float64(after[i]-before[i]) * 8 / d.Seconds() / 1e6
	}
	return mbps, nil
}

// tcpStats are a namespace's TCP segment counters.
type tcpStats struct{ out, retrans int64 }

// tcpCounters reads the TCP counters of namespace ns.
func tcpCounters(ctx context.Context, ns *Namespace) (tcpStats, error) {
	out, err := ns.Run(ctx, "cat", "/proc/net/snmp")
	if err != nil {
		return tcpStats{}, err
	}
	return parseSNMP([]byte(out))
}

// parseSNMP reads OutSegs and RetransSegs from the text of /proc/net/snmp:
// for each protocol a line of names and a line of values, both starting
// with "Tcp:".
func parseSNMP(b []byte) (tcpStats, error) {
	var names []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if len(f) != len(names) {
			return tcpStats{}, fmt.Errorf("snmp: %d Tcp names, %d values", len(names), len(f))
		}
		var s tcpStats
		found := 0
		for i, n := range names {
			var dst *int64
			switch n {
			case "OutSegs":
				dst = &s.out
			case "RetransSegs":
				dst = &s.retrans
			default:
				continue
			}
			v, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil || v < 0 {
				return tcpStats{}, fmt.Errorf("snmp: Tcp %s %q", n, f[i])
			}
			*dst = v
			found++
		}
		if found != 2 {
			return tcpStats{}, errors.New("snmp: no Tcp OutSegs and RetransSegs")
		}
		return s, nil
	}
	return tcpStats{}, errors.New("snmp: no Tcp lines")
}
