package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
}

// settle is the pause between transfers, for sockets and queues to drain.
const settle = time.Second

// Run sets up every system in a topology of its own, then measures: each
// round runs every test on every system in turn, so that a passing load on
// the machine spreads over all systems rather than hitting one. A system
// that is not available or fails to set up is reported as such and the
// others go on. Run removes everything it made before it returns, also when
// ctx is cancelled.
func Run(ctx context.Context, systems []System, o Options) (*Result, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Runs < 1 || o.Seconds < 1 || len(o.Streams) == 0 {
		return nil, fmt.Errorf("options: need runs ≥ 1, seconds ≥ 1 and a stream count (got %d, %d, %v)", o.Runs, o.Seconds, o.Streams)
	}
	if err := Sweep(); err != nil {
		log.Warn("removing what earlier runs left", "err", err)
	}
	res := &Result{Start: time.Now().UTC(), Options: o, Tests: Plan(o.Streams), LoadBefore: loadAvg()}
	dir := filepath.Join(o.Work, "runs", res.Start.Format("20060102T150405Z"))

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
			return nil, fmt.Errorf("work directory: %w", err)
		}
		topo, err := NewTopology(ctx, fmt.Sprint(i))
		if err != nil {
			return nil, err
		}
		lives = append(lives, live{sys, topo, sr})
		log.Info("setting up", "system", sys.Name())
		err = sys.Setup(ctx, sysDir, topo.A, topo.B)
		if err == nil {
			err = topo.WaitTraffic(ctx, 30*time.Second)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
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
					return nil, ctx.Err()
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
	res.End, res.LoadAfter = time.Now().UTC(), loadAvg()
	return res, nil
}

func round(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
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
