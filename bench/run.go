package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options say what a run measures and where it keeps its files.
type Options struct {
	// Runs is how often each test runs on each system; the report gives
	// the median, the minimum and the maximum.
	Runs int
	// Seconds is the length of each transfer.
	Seconds int
	// Streams are the TCP stream counts to test.
	Streams []int
	// Work is a directory for the systems' configurations and logs.
	Work string
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// Parts are the parts of the suite to run (Parts lists them); empty
	// means all.
	Parts []string
	// VNetGW is vnetgw's binary, for the IKE, scale and control parts.
	VNetGW string
	// DataPathPerf profiles the vnetgw system's two gateways with perf(1)
	// during one more TCP 1-stream A→B transfer after the throughput
	// part's runs, which is not counted.
	DataPathPerf bool
	IKE          IKEOptions
	Scale        ScaleOptions
	Control      ControlOptions
}

// The parts of the suite.
const (
	// PartThroughput is iperf3 through each System.
	PartThroughput = "throughput"
	// PartIKE is IKE SAs per second at one vnetgw gateway.
	PartIKE = "ike"
	// PartScale is many tunnels to one vnetgw gateway.
	PartScale = "scale"
	// PartControl is the API's latency and the time from PUT to Connected.
	PartControl = "control"
)

// Parts are the parts of the suite, in the order a run runs them.
var Parts = []string{PartThroughput, PartIKE, PartScale, PartControl}

// Selects reports whether the options select part.
func (o Options) Selects(part string) bool {
	return len(o.Parts) == 0 || slices.Contains(o.Parts, part)
}

// Status says whether a system was measured.
type Status string

// The states of a system in a run.
const (
	Measured     Status = "measured"
	NotAvailable Status = "not available yet"
	Failed       Status = "failed"
)

// SystemResult is what a run found for one system.
type SystemResult struct {
	Name, Detail string
	Status       Status
	// Reason says why a system was not measured.
	Reason string
	// Samples holds the successful transfers by test name.
	Samples map[string][]Sample
	// Failures lists the transfers that failed, with why.
	Failures []string
}

// Result is a whole run.
type Result struct {
	Start, End time.Time
	Options    Options
	Tests      []Test
	Systems    []*SystemResult
	// LoadBefore and LoadAfter are /proc/loadavg at the start and the end:
	// the machine may be shared.
	LoadBefore, LoadAfter string
	// The other parts' results; nil when a part did not run.
	IKE     *IKEResult
	Scale   *ScaleResult
	Control *ControlResult
	// DataPath is the data-path profile with Options.DataPathPerf; nil
	// without.
	DataPath *DataPathProfile
}

// DataPathProfile is where the vnetgw gateways' CPU went during one TCP
// transfer through their tunnel.
type DataPathProfile struct {
	// Test is the transfer; Seconds its length and Mbps its rate while
	// perf sampled.
	Test    Test
	Seconds int
	Mbps    float64
	// Top is the top of the profile, Path the file that holds all of it.
	Top  []string
	Path string
	// Err says why there is no profile.
	Err string
}

// settle is the pause between transfers, for sockets and queues to drain.
const settle = time.Second

// Run runs the parts o selects: first the throughput of each system (see
// runThroughput), then the IKE, scale and control-plane parts, which start
// vnetgw's own processes. A system or part that is not available or fails
// is reported as such and the others go on. Run removes everything it
// made before it returns, also when ctx is cancelled.
func Run(ctx context.Context, systems []System, o Options) (*Result, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
		o.Log = log
	}
	if o.Runs < 1 || o.Seconds < 1 || (o.Selects(PartThroughput) && len(o.Streams) == 0) {
		return nil, fmt.Errorf("options: need runs ≥ 1, seconds ≥ 1 and a stream count (got %d, %d, %v)", o.Runs, o.Seconds, o.Streams)
	}
	for _, p := range o.Parts {
		if !slices.Contains(Parts, p) {
			return nil, fmt.Errorf("options: unknown part %q (known: %s)", p, strings.Join(Parts, ", "))
		}
	}
	// Nothing to measure would give figures of zero, or runs that wait for
	// peers that never start until they time out.
	if o.Selects(PartIKE) && (o.IKE.Tunnels < 1 || o.IKE.Window < 1) {
		return nil, fmt.Errorf("options: the ike part needs IKE SAs ≥ 1 and a window ≥ 1 (got %d, %d)", o.IKE.Tunnels, o.IKE.Window)
	}
	if o.Selects(PartScale) && (len(o.Scale.Tunnels) == 0 || o.Scale.Window < 1) {
		return nil, fmt.Errorf("options: the scale part needs a tunnel count and a window ≥ 1 (got %v, %d)", o.Scale.Tunnels, o.Scale.Window)
	}
	if o.Selects(PartControl) && o.Control.Connects < 1 {
		return nil, fmt.Errorf("options: the control part needs connections ≥ 1 (got %d)", o.Control.Connects)
	}
	if err := Sweep(); err != nil {
		log.Warn("removing what earlier runs left", "err", err)
	}
	res := &Result{Start: time.Now().UTC(), Options: o, LoadBefore: loadAvg()}
	dir := filepath.Join(o.Work, "runs", res.Start.Format("20060102T150405Z"))
	if o.DataPathPerf {
		res.DataPath = &DataPathProfile{Test: Plan([]int{1})[0], Seconds: o.Seconds, Err: "the throughput part did not run"}
	}
	if o.Selects(PartThroughput) {
		res.Tests = Plan(o.Streams)
		if err := runThroughput(ctx, systems, o, res, dir, log); err != nil {
			return nil, err
		}
	}
	vnetgw := func() error { return nil }
	if o.Selects(PartIKE) || o.Selects(PartScale) || o.Selects(PartControl) {
		err := vnetgwAvailable(ctx, o.VNetGW)
		vnetgw = func() error { return err }
	}
	type part struct {
		name string
		run  func(dir string) error
	}
	for _, p := range []part{
		{PartIKE, func(dir string) (err error) { res.IKE, err = runIKE(ctx, o, dir, log); return }},
		{PartScale, func(dir string) (err error) { res.Scale, err = runScale(ctx, o, dir, log); return }},
		{PartControl, func(dir string) (err error) { res.Control, err = runControl(ctx, o, dir, log); return }},
	} {
		if !o.Selects(p.name) {
			continue
		}
		log.Info("running", "part", p.name)
		err := vnetgw()
		if err == nil {
			err = p.run(filepath.Join(dir, p.name))
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			log.Warn("part failed", "part", p.name, "err", err)
			failed := []string{firstLine(err.Error())}
			switch p.name {
			case PartIKE:
				res.IKE = &IKEResult{Options: o.IKE, Failures: failed}
			case PartScale:
				res.Scale = &ScaleResult{Options: o.Scale, Failures: failed}
			case PartControl:
				res.Control = &ControlResult{Options: o.Control, Failures: failed}
			}
		}
	}
	res.End, res.LoadAfter = time.Now().UTC(), loadAvg()
	return res, nil
}

// runThroughput sets up every system in a topology of its own, then
// measures: each round runs every test on every system in turn, so that a
// passing load on the machine spreads over all systems rather than hitting
// one.
func runThroughput(ctx context.Context, systems []System, o Options, res *Result, dir string, log *slog.Logger) error {
	type live struct {
		sys  System
		topo *Topology
		res  *SystemResult
	}
	var lives []live
	defer func() {
		for _, l := range lives {
			if err := l.sys.Teardown(); err != nil {
				log.Warn("teardown", "system", l.sys.Name(), "err", err)
			}
			if err := l.topo.Close(); err != nil {
				log.Warn("teardown", "system", l.sys.Name(), "err", err)
			}
		}
	}()
	for i, sys := range systems {
		sr := &SystemResult{Name: sys.Name(), Detail: sys.Detail(), Samples: map[string][]Sample{}}
		res.Systems = append(res.Systems, sr)
		sysDir := filepath.Join(dir, sys.Name())
		if err := os.MkdirAll(sysDir, 0o755); err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		topo, err := NewTopology(ctx, fmt.Sprint(i))
		if err != nil {
			return err
		}
		lives = append(lives, live{sys, topo, sr})
		log.Info("setting up", "system", sys.Name())
		err = sys.Setup(ctx, sysDir, topo.A, topo.B)
		if err == nil {
			err = topo.WaitTraffic(ctx, 30*time.Second)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, ErrNotAvailable):
			sr.Status, sr.Reason = NotAvailable, strings.TrimPrefix(err.Error(), ErrNotAvailable.Error()+": ")
		case err != nil:
			sr.Status, sr.Reason = Failed, fmt.Sprintf("%s (logs in %s)", firstLine(err.Error()), sysDir)
		default:
			sr.Status = Measured
		}
		if err != nil {
			log.Warn("not measured", "system", sys.Name(), "status", sr.Status, "err", err)
			lives = lives[:len(lives)-1]
			if err := errors.Join(sys.Teardown(), topo.Close()); err != nil {
				log.Warn("teardown", "system", sys.Name(), "err", err)
			}
		}
	}

	for run := 1; run <= o.Runs; run++ {
		for _, test := range res.Tests {
			for _, l := range lives {
				if l.res.Status != Measured {
					continue
				}
				time.Sleep(settle)
				s, err := measure(ctx, l.topo, test, o.Seconds, l.sys.Pids())
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err != nil {
					l.res.Failures = append(l.res.Failures, fmt.Sprintf("%s run %d: %v", test.Name, run, err))
					log.Warn("transfer failed", "system", l.sys.Name(), "test", test.Name, "run", run, "err", err)
					continue
				}
				l.res.Samples[test.Name] = append(l.res.Samples[test.Name], s)
				log.Info("measured", "system", l.sys.Name(), "test", test.Name, "run", run,
					"mbps", round(s.Mbps), "kpps", round(s.PPS/1e3), "loss_pct", round(s.LossPercent), "cpu_s_per_gb", round(s.CPUPerGB()))
			}
		}
	}
	if res.DataPath == nil {
		return nil
	}
	p := res.DataPath
	p.Err = fmt.Sprintf("the %s system was not measured in this run", goalSystem)
	for _, l := range lives {
		if l.sys.Name() != goalSystem || l.res.Status != Measured {
			continue
		}
		err := profileDataPath(ctx, l.topo, l.sys.Pids(), filepath.Join(dir, goalSystem, "datapath.perf"), p, log)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.Err = ""
		if err != nil {
			p.Err = firstLine(err.Error())
			log.Warn("data-path profile failed", "system", goalSystem, "err", err)
		}
	}
	return nil
}

// profileDataPath runs p.Test once more between the topology's hosts while
// perf samples the gateway processes pids into out, and keeps the top of
// the profile in p.
func profileDataPath(ctx context.Context, topo *Topology, pids []int, out string, p *DataPathProfile, log *slog.Logger) error {
	time.Sleep(settle)
	prof, err := startPerf(out, pids...)
	if err != nil {
		return err
	}
	defer prof.stop()
	s, err := measure(ctx, topo, p.Test, p.Seconds, pids)
	if err != nil {
		return fmt.Errorf("profiled transfer: %w", err)
	}
	top, err := prof.report(ctx)
	if err != nil {
		return err
	}
	if len(top) == 0 {
		return fmt.Errorf("perf report lists no function (all of it in %s.txt)", out)
	}
	p.Mbps, p.Top, p.Path = s.Mbps, top, out+".txt"
	log.Info("profiled", "system", goalSystem, "test", p.Test.Name, "mbps", round(s.Mbps), "profile", p.Path)
	return nil
}

func round(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// load1 returns the 1-minute load average, or -1 if it cannot be read.
func load1() float64 {
	f := strings.Fields(loadAvg())
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
