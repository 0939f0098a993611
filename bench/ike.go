package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// IKEOptions say what the IKE part measures: full IKE SAs (IKE_SA_INIT and
// IKE_AUTH with one child SA, RFC 7296 §1.2) per second at one vnetgw
// gateway, per Diffie-Hellman group, from the load generator's peers; and
// as an independent check, strongSwan initiating many connections to it
// at once.
type IKEOptions struct {
	// Groups are the Diffie-Hellman groups, by their names in IKEGroups.
	Groups []string
	// Tunnels is the number of IKE SAs per run.
	Tunnels int
	// Window is how many peers negotiate at a time.
	Window int
	// SwanConns is the number of connections strongSwan initiates at once;
	// 0 skips the check.
	SwanConns int
	// Perf profiles the gateway with perf(1) in one more run of the goal's
	// group (ECP-256), which is not counted.
	Perf bool
}

// IKEGroup is a Diffie-Hellman group the IKE part can measure.
type IKEGroup struct {
	// Name is the group's name in strongSwan's proposal syntax.
	Name string
	// Label names it for people: "ECP-256 (19)".
	Label string
}

// IKEGroups are the groups the IKE part knows, in the report's order: the
// NIST curves and Curve25519 of RFC 5903 and RFC 8031, and the 2048-bit
// MODP group of RFC 3526.
var IKEGroups = []IKEGroup{
	{"ecp256", "ECP-256 (19)"},
	{"x25519", "X25519 (31)"},
	{"modp2048", "MODP-2048 (14)"},
	{"ecp384", "ECP-384 (20)"},
}

// ikeProposalFor is the IKE proposal with group g: the same cipher and PRF
// for every group, so that only the key exchange differs.
func ikeProposalFor(g string) string { return "aes256gcm16-prfsha256-" + g }

// IKEGoal is the rate the IKE part is measured against: IKE SAs per second
// with goalGroup (ECP-256) on the 2-core development machine.
const IKEGoal = 2000

// goalGroup is the group of IKEGoal, and of the strongSwan check.
const goalGroup = "ecp256"

// IKEResult is what the IKE part found.
type IKEResult struct {
	Options IKEOptions
	// Groups holds the samples per group, in the order of Options.Groups.
	Groups []IKEGroupResult
	// Swan holds the strongSwan check's samples; none without the check.
	Swan []SwanSample
	// Failures lists the runs that failed, with why.
	Failures []string
	// Profile is the top of the gateway's profile with Options.Perf, and
	// ProfilePath the file that holds all of it.
	Profile     []string
	ProfilePath string
}

// IKEGroupResult is the runs of one group.
type IKEGroupResult struct {
	Group   IKEGroup
	Samples []IKESample
}

// IKESample is one run: Tunnels IKE SAs from scratch.
type IKESample struct {
	Tunnels int
	// Seconds is the time from the first IKE_SA_INIT to the last IKE SA
	// the gateway established; Rate is Tunnels / Seconds.
	Seconds, Rate float64
	// GatewayCPU is the CPU time of the gateway process in that time.
	GatewayCPU time.Duration
	// Load is /proc/loadavg's 1-minute figure at the end of the run.
	Load float64
}

// CPUPerSA returns the gateway's CPU time per IKE SA in milliseconds.
func (s IKESample) CPUPerSA() float64 {
	if s.Tunnels == 0 {
		return 0
	}
	return s.GatewayCPU.Seconds() * 1000 / float64(s.Tunnels)
}

// runIKE runs the IKE part: each round measures every group, then the
// strongSwan check, so that a passing load spreads over all of them.
func runIKE(ctx context.Context, o Options, dir string, log *slog.Logger) (*IKEResult, error) {
	ikeo := o.IKE
	res := &IKEResult{Options: ikeo}
	for _, name := range ikeo.Groups {
		g, ok := ikeGroup(name)
		if !ok {
			return nil, fmt.Errorf("ike: unknown group %q", name)
		}
		res.Groups = append(res.Groups, IKEGroupResult{Group: g})
	}
	pn, err := newPeerNet(ctx, "ike")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := pn.Close(); err != nil {
			log.Warn("teardown", "part", PartIKE, "err", err)
		}
	}()
	var swan *swanCheck
	if ikeo.SwanConns > 0 {
		if swan, err = newSwanCheck(ctx, pn, filepath.Join(dir, "strongswan"), ikeo.SwanConns); err != nil {
			res.Failures = append(res.Failures, fmt.Sprintf("strongSwan check: %v", err))
			log.Warn("strongSwan check not available", "err", err)
		}
	}
	if ikeo.Perf {
		runDir := filepath.Join(dir, goalGroup+"-profiled")
		perf := filepath.Join(runDir, "gateway.perf")
		_, profile, err := ikeRun(ctx, o, pn, runDir, goalGroup, perf)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			res.Failures = append(res.Failures, fmt.Sprintf("gateway profile: %v", err))
			log.Warn("gateway profile failed", "err", err)
		} else {
			res.Profile, res.ProfilePath = profile, perf+".txt"
		}
	}
	for run := 1; run <= o.Runs; run++ {
		for i := range res.Groups {
			gr := &res.Groups[i]
			s, _, err := ikeRun(ctx, o, pn, filepath.Join(dir, fmt.Sprintf("%s-%d", gr.Group.Name, run)), gr.Group.Name, "")
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				res.Failures = append(res.Failures, fmt.Sprintf("%s run %d: %v", gr.Group.Label, run, err))
				log.Warn("IKE run failed", "group", gr.Group.Name, "run", run, "err", err)
				continue
			}
			gr.Samples = append(gr.Samples, s)
			log.Info("measured", "part", PartIKE, "group", gr.Group.Name, "run", run, "ike_sas", s.Tunnels,
				"per_s", round(s.Rate), "gateway_cpu_ms_per_sa", round(s.CPUPerSA()), "load", s.Load)
		}
		if swan == nil {
			continue
		}
		s, err := swan.run(ctx, o.VNetGW, filepath.Join(dir, fmt.Sprintf("strongswan-%d", run)))
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			res.Failures = append(res.Failures, fmt.Sprintf("strongSwan check run %d: %v", run, err))
			log.Warn("strongSwan check failed", "run", run, "err", err)
			continue
		}
		res.Swan = append(res.Swan, s)
		log.Info("measured", "part", PartIKE, "check", "strongswan", "run", run, "conns", s.Conns,
			"seconds", round(s.Seconds), "per_s", round(s.Rate), "load", s.Load)
	}
	return res, nil
}

func ikeGroup(name string) (IKEGroup, bool) {
	for _, g := range IKEGroups {
		if g.Name == name {
			return g, true
		}
	}
	return IKEGroup{}, false
}

// ikeRun measures one run of one group with a fresh gateway, profiling it
// into perf if that is not empty.
func ikeRun(ctx context.Context, o Options, pn *peerNet, dir, group, perf string) (IKESample, []string, error) {
	t, err := bringUpTunnels(ctx, o.VNetGW, dir, pn, tunnelSpec{
		N: o.IKE.Tunnels, Window: o.IKE.Window, IKE: ikeProposalFor(group), ESP: espProposal, Perf: perf,
	})
	defer func() {
		if t != nil {
			t.close()
		}
	}()
	if err != nil {
		return IKESample{}, nil, err
	}
	return IKESample{Tunnels: t.N, Seconds: t.Seconds(), Rate: t.Rate(), GatewayCPU: t.CPU, Load: load1()}, t.Profile, nil
}
