package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The report's sections for the IKE, scale and control-plane parts.

// mib formats bytes in MiB.
func mib(v float64) string { return decimals(1)(v / (1 << 20)) }

// kib formats bytes in KiB.
func kib(v float64) string { return decimals(1)(v / (1 << 10)) }

// mbit formats a rate in Mbit/s: whole ones from 100, else one decimal.
func mbit(v float64) string {
	if v >= 100 {
		return thousands(v)
	}
	return decimals(1)(v)
}

// msec formats a duration in milliseconds.
func msec(d float64) string { return decimals(1)(d / 1e6) }

// loads formats the 1-minute load averages of a figure's runs: one value,
// or the lowest and the highest.
func loads(v []float64) string {
	var ok []float64
	for _, x := range v {
		if x >= 0 {
			ok = append(ok, x)
		}
	}
	s := summarize(ok)
	switch {
	case s.n == 0:
		return "—"
	case s.min == s.max:
		return decimals(2)(s.min)
	}
	return decimals(2)(s.min) + "–" + decimals(2)(s.max)
}

// stats returns the summary of f over samples, and their loads.
func stats[T any](samples []T, f func(T) float64, load func(T) float64) (summary, []float64) {
	v := make([]float64, len(samples))
	l := make([]float64, len(samples))
	for i, s := range samples {
		v[i], l[i] = f(s), load(s)
	}
	return summarize(v), l
}

func metOrNot(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

func failures(b *bytes.Buffer, list []string) {
	if len(list) == 0 {
		return
	}
	b.WriteString("Failed:\n\n")
	for _, f := range list {
		fmt.Fprintf(b, "- %s\n", cell(f))
	}
	b.WriteString("\n")
}

// ikeGoal returns the median rate with the goal's group, if measured.
func (r *IKEResult) ikeGoal() (summary, bool) {
	for _, g := range r.Groups {
		if g.Group.Name == goalGroup && len(g.Samples) > 0 {
			s, _ := stats(g.Samples, func(s IKESample) float64 { return s.Rate }, func(s IKESample) float64 { return s.Load })
			return s, true
		}
	}
	return summary{}, false
}

// memoryFigure is the gateway's resident memory with a count of tunnels
// up, medians of the runs.
type memoryFigure struct {
	tunnels int
	// rss is VmRSS with every tunnel up; perTunnel is rss ÷ tunnels, what a
	// tunnel costs in all; growth ÷ tunnels is the part of perTunnel that
	// bringing the tunnels up added (the configured connections were
	// resident before).
	rss, perTunnel, growth float64
}

// memoryGoal returns the figure the goal rests on and the resident memory
// it means for MemoryGoalTunnels: the fewest tunnels measured from
// MemoryGoalTunnels up, whose rss is the goal's or more; without such a
// count, the most tunnels measured, projected at its perTunnel, which
// carries the process's fixed share too, so that the projection errs high.
func (r *ScaleResult) memoryGoal() (m memoryFigure, atGoal float64, projected, ok bool) {
	var best *ScaleSize
	for i := range r.Sizes {
		sz := &r.Sizes[i]
		if len(sz.Samples) == 0 {
			continue
		}
		switch {
		case best == nil:
			best = sz
		case best.Tunnels < MemoryGoalTunnels:
			if sz.Tunnels > best.Tunnels {
				best = sz
			}
		case sz.Tunnels >= MemoryGoalTunnels && sz.Tunnels < best.Tunnels:
			best = sz
		}
	}
	if best == nil {
		return memoryFigure{}, 0, false, false
	}
	m = memoryOf(*best)
	if best.Tunnels >= MemoryGoalTunnels {
		return m, m.rss, false, true
	}
	return m, m.perTunnel * MemoryGoalTunnels, true, true
}

// memoryOf returns the memory figure of a tunnel count that has samples.
func memoryOf(sz ScaleSize) memoryFigure {
	none := func(ScaleSample) float64 { return 0 }
	after, _ := stats(sz.Samples, func(s ScaleSample) float64 { return float64(s.RSSAfter) }, none)
	per, _ := stats(sz.Samples, ScaleSample.RSSPerTunnel, none)
	growth, _ := stats(sz.Samples, ScaleSample.GrowthPerTunnel, none)
	return memoryFigure{tunnels: sz.Tunnels, rss: after.median, perTunnel: per.median, growth: growth.median}
}

// connectGoal returns the slowest median of the connection kinds, through
// the API and in the data plane; why says what the run lacks for it. Every
// kind needs a figure: one whose every run failed would otherwise leave
// the goal to the others.
func (r *ControlResult) connectGoal() (api, dataPlane time.Duration, why string) {
	if len(r.Connects) == 0 {
		return 0, 0, "no connection made"
	}
	for _, k := range r.Connects {
		if len(k.Samples) == 0 {
			return 0, 0, fmt.Sprintf("%s: every run failed", k.Short)
		}
		a, _ := stats(k.Samples, func(s ConnectSample) float64 { return float64(s.API) }, func(ConnectSample) float64 { return 0 })
		d, _ := stats(k.Samples, func(s ConnectSample) float64 { return float64(s.DataPlane) }, func(ConnectSample) float64 { return 0 })
		api, dataPlane = max(api, time.Duration(a.median)), max(dataPlane, time.Duration(d.median))
	}
	return api, dataPlane, ""
}

// The throughput goals: vnetgw's TCP throughput through one tunnel at
// least wireguard-go's (stretch 1.5 times), and at least 5 times
// strongSwan's with userspace ESP.
const (
	wireGuardGoal    = 1.0
	wireGuardStretch = 1.5
	swanGoal         = 5.0
)

// The tests the throughput goals rest on, both directions each: one TCP
// stream; and the small packets shown beside the strongSwan goal.
var (
	tcpGoalTests = []string{"tcp-1", "tcp-1-rev"}
	udpGoalTests = []string{"udp-64", "udp-64-rev"}
)

// versus is goalSystem's medians of a figure against another system's, one
// per test.
type versus struct {
	labels       []string
	ours, theirs []float64
	// lo and hi are the lowest and the highest ratio ours ÷ theirs.
	lo, hi float64
}

// versus compares goalSystem with the system other in f over tests; why
// says what the run lacks for it.
func (r *Result) versus(other string, f figure, tests []string) (v versus, why string) {
	var sys [2]*SystemResult
	for i, name := range []string{goalSystem, other} {
		if sys[i], why = r.measured(name); why != "" {
			return v, why
		}
	}
	for i, name := range tests {
		t, ok := r.test(name)
		if !ok {
			return v, fmt.Sprintf("the run has no test %s", name)
		}
		a, b := sys[0].stat(name, f), sys[1].stat(name, f)
		for j, st := range []summary{a, b} {
			if st.n == 0 || st.median <= 0 {
				return v, fmt.Sprintf("%s has no figure for %s", sys[j].Name, t.Label())
			}
		}
		ratio := a.median / b.median
		if i == 0 {
			v.lo, v.hi = ratio, ratio
		}
		v.labels = append(v.labels, t.Label())
		v.ours, v.theirs = append(v.ours, a.median), append(v.theirs, b.median)
		v.lo, v.hi = min(v.lo, ratio), max(v.hi, ratio)
	}
	return v, ""
}

// measured returns the named system if it was measured, or says why not.
func (r *Result) measured(name string) (*SystemResult, string) {
	for _, s := range r.Systems {
		if s.Name == name {
			if s.Status != Measured {
				return nil, fmt.Sprintf("%s %s", name, s.Status)
			}
			return s, ""
		}
	}
	return nil, fmt.Sprintf("no %s in this run", name)
}

// test returns the run's test of that name.
func (r *Result) test(name string) (Test, bool) {
	for _, t := range r.Tests {
		if t.Name == name {
			return t, true
		}
	}
	return Test{}, false
}

// figures writes the comparison: "A→B / B→A: ours vs other theirs".
func (v versus) figures(other, unit string, format func(float64) string) string {
	join := func(x []float64) string {
		s := make([]string, len(x))
		for i, f := range x {
			s[i] = format(f)
		}
		return strings.Join(s, " / ")
	}
	dirs := make([]string, len(v.labels))
	for i, l := range v.labels {
		dirs[i] = l[strings.LastIndex(l, " ")+1:]
	}
	return fmt.Sprintf("%s: %s %s, %s %s: %s", strings.Join(dirs, " / "), join(v.ours), unit, other, join(v.theirs), v.ratios())
}

// ratios is the range of the ratios: "1.70–1.71×", or one value.
func (v versus) ratios() string {
	lo, hi := decimals(2)(v.lo), decimals(2)(v.hi)
	if lo == hi {
		return lo + "×"
	}
	return lo + "–" + hi + "×"
}

// writeThroughputGoals writes the goals of the throughput through one
// tunnel, from the run's medians of one TCP stream each way.
func writeThroughputGoals(b *bytes.Buffer, res *Result) {
	goal := fmt.Sprintf("Throughput through one tunnel at least that of %s (stretch: %s×)", Baseline, decimals(1)(wireGuardStretch))
	if v, why := res.versus(Baseline, throughput, tcpGoalTests); why != "" {
		fmt.Fprintf(b, "| %s | not measured (%s) | |\n", goal, why)
	} else {
		stretch := fmt.Sprintf("stretch %s× %s", decimals(1)(wireGuardStretch), metOrNot(v.lo >= wireGuardStretch))
		fmt.Fprintf(b, "| %s | %s, TCP 1 stream, %s | %s; %s |\n", goal, goalSystem, v.figures(Baseline, "Mbit/s", thousands),
			metOrNot(v.lo >= wireGuardGoal), stretch)
	}
	goal = fmt.Sprintf("Throughput through one tunnel at least %s× strongSwan's with userspace ESP", decimals(0)(swanGoal))
	v, why := res.versus(swanSystem, throughput, tcpGoalTests)
	if why != "" {
		fmt.Fprintf(b, "| %s | not measured (%s) | |\n", goal, why)
		return
	}
	small := "UDP 64 B not measured"
	if u, why := res.versus(swanSystem, packetRate, udpGoalTests); why != "" {
		small += " (" + why + ")"
	} else {
		small = fmt.Sprintf("UDP 64 B, %s", u.figures(swanSystem, "kpps", decimals(1)))
		if u.lo < swanGoal {
			small += fmt.Sprintf(", below %s×", decimals(0)(swanGoal))
		}
	}
	fmt.Fprintf(b, "| %s | %s, TCP 1 stream, %s; the goal rests on this TCP figure. Small packets: %s | %s on TCP 1 stream |\n",
		goal, goalSystem, v.figures(swanSystem, "Mbit/s", thousands), small, metOrNot(v.lo >= swanGoal))
}

// writeDataPathProfile writes the top of the vnetgw gateways' profile
// during one TCP transfer, or why there is none.
func writeDataPathProfile(b *bytes.Buffer, p *DataPathProfile) {
	b.WriteString("### What limits the throughput through one tunnel\n\n")
	if p.Err != "" {
		fmt.Fprintf(b, "No profile of the %s gateways (`-dp-perf`): %s.\n\n", goalSystem, p.Err)
		return
	}
	fmt.Fprintf(b, "The functions that took the most CPU samples of the two %s gateway processes (both ends of the tunnel, every thread), "+
		"their own time only ([.] user, [k] kernel), in percent of those processes' samples, during one more %s transfer of %d s "+
		"that is not counted above; it moved %s Mbit/s while sampled (`perf record -g -F %s`; all of it in %s). "+
		"iperf3 and the kernel's work outside the gateways' processes are not in it.\n\n```\n%s\n```\n\n",
		goalSystem, p.Test.Label(), p.Seconds, mbit(p.Mbps), perfRate, p.Path, strings.Join(p.Top, "\n"))
}

// writeGoals writes the goals of the parts that ran, each met or not.
func writeGoals(b *bytes.Buffer, res *Result) {
	tput := res.Options.Selects(PartThroughput)
	if !tput && res.IKE == nil && res.Scale == nil && res.Control == nil {
		return
	}
	b.WriteString("## Goals\n\n| goal | figure | |\n| --- | --- | --- |\n")
	if tput {
		writeThroughputGoals(b, res)
	}
	if res.IKE != nil {
		if s, ok := res.IKE.ikeGoal(); ok {
			fmt.Fprintf(b, "| ≥ %s IKE SAs per second with ECP-256 at one gateway | %s per second (median of %d) | %s |\n",
				thousands(IKEGoal), thousands(s.median), s.n, metOrNot(s.median >= IKEGoal))
		} else {
			fmt.Fprintf(b, "| ≥ %s IKE SAs per second with ECP-256 at one gateway | not measured | |\n", thousands(IKEGoal))
		}
	}
	if res.Scale != nil {
		goal := fmt.Sprintf("%s tunnels on one node in under %s GiB of resident memory", thousands(MemoryGoalTunnels), decimals(0)(MemoryGoal/(1<<30)))
		switch m, atGoal, projected, ok := res.Scale.memoryGoal(); {
		case !ok:
			fmt.Fprintf(b, "| %s | not measured | |\n", goal)
		case projected:
			fmt.Fprintf(b, "| %s | %s MiB projected: %s KiB per tunnel in all (VmRSS ÷ tunnels, median) with %s tunnels, times %s "+
				"(it holds the process's fixed share too, so it errs high; `-scale-tunnels …,%d` measures it) | %s, projected |\n",
				goal, mib(atGoal), kib(m.perTunnel), thousands(float64(m.tunnels)), thousands(MemoryGoalTunnels), MemoryGoalTunnels,
				metOrNot(atGoal < MemoryGoal))
		default:
			fmt.Fprintf(b, "| %s | %s MiB VmRSS with %s tunnels up (median): %s KiB per tunnel in all (VmRSS ÷ tunnels), "+
				"of which %s KiB came as the tunnels came up | %s |\n",
				goal, mib(m.rss), thousands(float64(m.tunnels)), kib(m.perTunnel), kib(m.growth), metOrNot(atGoal < MemoryGoal))
		}
	}
	if res.Control != nil {
		goal := fmt.Sprintf("Connected within %s s of the connection's PUT", strconv.FormatFloat(ConnectGoal.Seconds(), 'f', -1, 64))
		if api, dp, why := res.Control.connectGoal(); why == "" {
			fmt.Fprintf(b, "| %s, as the API shows it | %s ms (slowest median) | %s |\n", goal, msec(float64(api)), metOrNot(api <= ConnectGoal))
			fmt.Fprintf(b, "| %s, in the data plane | %s ms (slowest median) | %s |\n", goal, msec(float64(dp)), metOrNot(dp <= ConnectGoal))
		} else {
			fmt.Fprintf(b, "| %s | not measured (%s) | |\n", goal, why)
		}
	}
	b.WriteString("\n")
	if res.DataPath != nil {
		writeDataPathProfile(b, res.DataPath)
	}
}

func writeIKE(b *bytes.Buffer, r *IKEResult) {
	o := r.Options
	fmt.Fprintf(b, "## IKE handshakes per second\n\n"+
		"Full IKE SAs (IKE_SA_INIT and IKE_AUTH with one child SA) per second at one vnetgw gateway, from %s peers of vnetgw's own initiator, "+
		"%d negotiating at a time: the median of the runs, higher is better.\n\n", thousands(float64(o.Tunnels)), o.Window)
	b.WriteString("| group | IKE SAs per run | IKE SAs/s, median | min | max | gateway CPU per IKE SA, ms | load (1 min) |\n" +
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, g := range r.Groups {
		rate, l := stats(g.Samples, func(s IKESample) float64 { return s.Rate }, func(s IKESample) float64 { return s.Load })
		cpu, _ := stats(g.Samples, IKESample.CPUPerSA, func(IKESample) float64 { return 0 })
		if rate.n == 0 {
			fmt.Fprintf(b, "| %s | %s | — | — | — | — | every run failed |\n", g.Group.Label, thousands(float64(o.Tunnels)))
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", g.Group.Label, thousands(float64(o.Tunnels)),
			thousands(rate.median), thousands(rate.min), thousands(rate.max), decimals(2)(cpu.median), loads(l))
	}
	b.WriteString("\n")
	if o.SwanConns > 0 {
		fmt.Fprintf(b, "### strongSwan check\n\nOne strongSwan charon initiating %d connections at once to the vnetgw gateway (ECP-256), "+
			"from loading them to the last IKE SA the gateway established. The figures are the vnetgw gateway's, answering strongSwan, "+
			"not a handshake rate of strongSwan's own: the check is that an independent initiator gets every tunnel up.\n\n", o.SwanConns)
		b.WriteString("| initiator → responder | connections | seconds until all established, median | min | max | IKE SAs/s at the gateway, median | load (1 min) |\n" +
			"| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		sec, l := stats(r.Swan, func(s SwanSample) float64 { return s.Seconds }, func(s SwanSample) float64 { return s.Load })
		rate, _ := stats(r.Swan, func(s SwanSample) float64 { return s.Rate }, func(SwanSample) float64 { return 0 })
		if sec.n == 0 {
			fmt.Fprintf(b, "| "+swanCheckLabel+" | %d | — | — | — | — | every run failed |\n\n", o.SwanConns)
		} else {
			fmt.Fprintf(b, "| "+swanCheckLabel+" | %d | %s | %s | %s | %s | %s |\n\n", o.SwanConns,
				decimals(2)(sec.median), decimals(2)(sec.min), decimals(2)(sec.max), thousands(rate.median), loads(l))
		}
	}
	if len(r.Profile) > 0 {
		fmt.Fprintf(b, "### Where the gateway's CPU goes\n\nThe functions that took the most CPU samples of the gateway process, their own time only, "+
			"while the tunnels of one more ECP-256 run (not counted above) came up (`perf record -g -F %s`; all of it in %s):\n\n```\n%s\n```\n\n",
			perfRate, r.ProfilePath, strings.Join(r.Profile, "\n"))
	}
	failures(b, r.Failures)
}

// swanCheckLabel names who initiates and who answers in the strongSwan
// check.
const swanCheckLabel = "strongSwan charon → vnetgw gateway"

func writeScale(b *bytes.Buffer, r *ScaleResult) {
	fmt.Fprintf(b, "## Scale: many tunnels to one gateway\n\n"+
		"Each count of tunnels is brought up from scratch to a fresh gateway, %d peers negotiating at a time (IKE %s, ESP %s). "+
		"VmRSS is the gateway process's resident memory with its connections configured and none up (before) and with all up (after). "+
		"Per tunnel in all is VmRSS after divided by the tunnels: what a tunnel costs, its configured connection and its share of the process included, "+
		"and what the memory goal counts. Growth per tunnel is after minus before divided by the tunnels: only what bringing them up added. Gateway start is the time from starting the gateway to its having configured "+
		"every connection (and routed its host into the TUN device).\n\n", r.Options.Window, ikeProposal, espProposal)
	b.WriteString("| tunnels | setup, s, median | min | max | IKE SAs/s, median | gateway start, s | VmRSS before, MiB | VmRSS after, MiB | " +
		"per tunnel in all (after ÷ tunnels), KiB | growth per tunnel ((after − before) ÷ tunnels), KiB | load (1 min) |\n" +
		"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, sz := range r.Sizes {
		sec, l := stats(sz.Samples, func(s ScaleSample) float64 { return s.Seconds }, func(s ScaleSample) float64 { return s.Load })
		if sec.n == 0 {
			fmt.Fprintf(b, "| %s | — | — | — | — | — | — | — | — | — | every run failed |\n", thousands(float64(sz.Tunnels)))
			continue
		}
		rate, _ := stats(sz.Samples, func(s ScaleSample) float64 { return float64(s.Tunnels) / s.Seconds }, func(ScaleSample) float64 { return 0 })
		before, _ := stats(sz.Samples, func(s ScaleSample) float64 { return float64(s.RSSBefore) }, func(ScaleSample) float64 { return 0 })
		m := memoryOf(sz)
		start, _ := stats(sz.Samples, func(s ScaleSample) float64 { return s.Startup.Seconds() }, func(ScaleSample) float64 { return 0 })
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", thousands(float64(sz.Tunnels)),
			decimals(2)(sec.median), decimals(2)(sec.min), decimals(2)(sec.max), thousands(rate.median), decimals(2)(start.median),
			mib(before.median), mib(m.rss), kib(m.perTunnel), kib(m.growth), loads(l))
	}
	b.WriteString("\n")
	if len(r.Spread) > 0 {
		fmt.Fprintf(b, "### Traffic over many tunnels\n\nWith %s tunnels up, one TCP stream through each of the first k tunnels, all at once, "+
			"from the hosts behind the peers to those behind the gateway and back; Mbit/s of payload, the sum of the streams (median of the runs), "+
			"the slowest and fastest stream of the median run, and the share of TCP segments the senders had to send again.\n\n",
			thousands(float64(r.Of)))
		b.WriteString("| tunnels with traffic | direction | Mbit/s, sum, median | min | max | slowest stream | fastest stream | retransmitted, % | load (1 min) |\n" +
			"| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, sp := range r.Spread {
			sum, l := stats(sp.Samples, func(s SpreadSample) float64 { return s.Mbps }, func(s SpreadSample) float64 { return s.Load })
			if sum.n == 0 {
				fmt.Fprintf(b, "| %d | %s | — | — | — | — | — | — | every run failed |\n", sp.Flows, sp.Label())
				continue
			}
			med := medianSample(sp.Samples, func(s SpreadSample) float64 { return s.Mbps })
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", sp.Flows, sp.Label(), thousands(sum.median), thousands(sum.min), thousands(sum.max),
				mbit(med.MinFlow), mbit(med.MaxFlow), decimals(2)(med.Retransmitted), loads(l))
		}
		b.WriteString("\n")
	}
	failures(b, r.Failures)
}

// medianSample returns the sample whose f is the median (the lower middle
// one of an even count).
func medianSample[T any](samples []T, f func(T) float64) T {
	best, rank := samples[0], -1
	for _, s := range samples {
		below := 0
		for _, o := range samples {
			if f(o) < f(s) {
				below++
			}
		}
		if below <= (len(samples)-1)/2 && below > rank {
			best, rank = s, below
		}
	}
	return best
}

func writeControl(b *bytes.Buffer, r *ControlResult) {
	b.WriteString("## Control plane\n\n" +
		"Against a real `vnetgw serve` (HTTPS with its data directory's CA, bearer token, bbolt fsynced on every write) in a namespace of its own.\n\n")
	if len(r.GatewayPUT) > 0 || len(r.ConnectionPUT) > 0 {
		b.WriteString("### PUT latency\n\n| request | PUTs | p50, ms | p99, ms | max, ms | load (1 min) |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, row := range []struct {
			name string
			d    []time.Duration
		}{
			{"gateway PUT (create: a route-based VpnGw5, its public IP allocated)", r.GatewayPUT},
			{"connection PUT (create: site-to-site, every rule checked)", r.ConnectionPUT},
		} {
			if len(row.d) == 0 {
				continue
			}
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", row.name, len(row.d), msec(float64(percentile(row.d, 50))),
				msec(float64(percentile(row.d, 99))), msec(float64(percentile(row.d, 100))), loads([]float64{r.PUTLoad}))
		}
		b.WriteString("\n")
	}
	b.WriteString("### From PUT to Connected\n\nThe time from a connection's PUT to Connected: as a user sees it (a GET of the connection polled every 50 ms shows " +
		"`connectionStatus` Connected) and as the data plane sees it (the gateway installs the child SA, from serve's log). " +
		"The reconcile loop writes the status back at once after a change of the desired state, then every 100 ms for 15 s, then every 2 s.\n\n")
	b.WriteString("| connection | runs | API, ms, median | min | max | data plane, ms, median | min | max | load (1 min) |\n" +
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, k := range r.Connects {
		api, l := stats(k.Samples, func(s ConnectSample) float64 { return float64(s.API) }, func(s ConnectSample) float64 { return s.Load })
		if api.n == 0 {
			fmt.Fprintf(b, "| %s | 0 | — | — | — | — | — | — | every run failed |\n", k.Name)
			continue
		}
		dp, _ := stats(k.Samples, func(s ConnectSample) float64 { return float64(s.DataPlane) }, func(ConnectSample) float64 { return 0 })
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", k.Name, api.n, msec(api.median), msec(api.min), msec(api.max),
			msec(dp.median), msec(dp.min), msec(dp.max), loads(l))
	}
	b.WriteString("\n")
	if len(r.Transfers) > 0 {
		b.WriteString("### Host to host through one tunnel\n\niperf3 TCP, one stream, between hosts behind tunnels that the API made: " +
			"the VNet hosts are network interfaces attached as TUN devices (`properties.attachment`) in namespaces of their own. " +
			"CPU per GB counts serve, which holds both VNets and their gateways.\n\n" +
			"| transfer | runs | Mbit/s, median | min | max | serve CPU per GB, s | load (1 min) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, t := range r.Transfers {
			m, _ := stats(t.Samples, func(s Sample) float64 { return s.Mbps }, func(Sample) float64 { return 0 })
			if m.n == 0 {
				fmt.Fprintf(b, "| %s | 0 | — | — | — | — | every run failed |\n", t.Name)
				continue
			}
			c, _ := stats(t.Samples, Sample.CPUPerGB, func(Sample) float64 { return 0 })
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s |\n", t.Name, m.n, thousands(m.median), thousands(m.min), thousands(m.max),
				decimals(2)(c.median), loads(t.Loads))
		}
		b.WriteString("\n")
	}
	failures(b, r.Failures)
}

const ikeMethod = `- IKE: namespaces G (the gateway) and L (the peers) joined by a veth pair. The gateway is ` + "`vnetgw dev gateway`" + ` with one ResponderOnly connection per peer (PSK, AES-256-GCM, PRF HMAC-SHA-256 and the group measured; ESP AES-256-GCM; one route each into its TUN device), logging at its default level. The peers are vnetgw's own IKEv2 initiator (internal/ike/ikev2), one Manager per peer on an address of its own in 10.128.0.0/15 (local in L through one AnyIP route, as 127.0.0.0/8 is on lo), in the benchmark process, with a data plane that only records the child SA. A window of peers negotiates at a time; a new one starts when one is up. The rate is the IKE SAs divided by the time from the first IKE_SA_INIT to the last "IKE SA established" line of the gateway's log (it logs when it has verified IKE_AUTH and installed the child SA, before it answers). Gateway CPU is utime+stime of its process over the run.
- strongSwan check: charon (kernel-libipsec) in a third namespace with one address per connection, one connection each with start_action = start, loaded with one ` + "`swanctl --load-all`" + `: the time from that command to the gateway's last "IKE SA established"; at the end, ` + "`swanctl --list-sas`" + ` must show every IKE SA established and every child SA installed.
`

const scaleMethod = `- Scale: the IKE part's namespaces, gateway and peers, with IKE ` + ikeProposal + `. VmRSS is read from /proc/<pid>/status of the gateway one second after it configured its connections and one second after the last tunnel came up. Traffic: the peers that carry it share vnetgw's own ESP data path in the benchmark process (internal/udp, internal/tunnel and a TUN device in L), so that both ends of each tunnel are vnetgw; host i behind the peers (10.100.0.0/16) reaches host i behind the gateway (10.200.0.0/16) through tunnel i, both AnyIP ranges. The streams are the benchmark process's own TCP connections (a sink in G listening on every host address, one connection per stream from its host address in L), not iperf3: iperf3 needs a server and a client process per stream, and at 100 streams those 200 processes took the 2 cores (load 11) and the figure measured them. All connections are made first, then every sender writes 128 KiB at a time at once; the received payload is counted after the first tenth of -seconds, over the rest. A stream that ends early or moves nothing while counted fails the run. Retransmitted is RetransSegs over OutSegs of the sending namespace's /proc/net/snmp.
`

const controlMethod = `- Control plane: ` + "`vnetgw serve --public-interface wan --public-ip-pool " + cpPool + "`" + ` in namespace C; the client is internal/client, dialling into C. PUT latency is the time of the PUT request alone (its VNet, public IP and local network gateway are made before, untimed). Connected: VNet-to-VNet is two connections (a→b, b→a) PUT one after the other, timed from the first; site-to-site goes from gateway a (VNet 10.1.0.0/16) to a charon (kernel-libipsec) in namespace W answering for 10.3.0.0/16. Each run deletes its connections; the runs of the kinds are interleaved. Host to host: then a network interface in a subnet of each VNet, attached as a TUN device in a namespace of its own, and three connections (a → site, a ↔ b) made through the API; iperf3 runs between the hosts as in the throughput part (one stream, -runs times of -seconds each way); the site's host is charon's namespace, on 10.3.0.1.
`
