// Command bench runs vnetgw's benchmark suite: it sets up each system in
// network namespaces, measures it with iperf3 and writes a Markdown report
// and a PNG chart. bench/run.sh installs what it needs and runs it; see
// bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/vnetgw/vnetgw/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		runs    = flag.Int("runs", 3, "runs of each test on each system, and of each measurement of the other parts; the report gives median, min and max")
		seconds = flag.Int("seconds", 10, "length of each transfer in seconds")
		quick   = flag.Bool("quick", false, "check the harness: 1 run, 3 s, 1 TCP stream, and each other part in seconds (flags given explicitly are kept); results go to -work/quick unless -out is given")
		systems = flag.String("systems", "", "comma-separated systems for the throughput part (default all): "+strings.Join(names(), ", "))
		parts   = flag.String("parts", "", "comma-separated parts to run (default all): "+strings.Join(bench.Parts, ", "))
		skip    = flag.String("skip", "", "comma-separated parts not to run")
		out     = flag.String("out", "bench/results", "directory for <date>.md and, after a run of every part on every system, latest.md and latest.png")
		work    = flag.String("work", "bench/work", "directory for binaries, configurations and logs (not committed)")
		wg      = flag.String("wireguard-go", "", "wireguard-go binary (default <work>/bin/wireguard)")
		vnetgw  = flag.String("vnetgw", "", "vnetgw binary (default <work>/bin/vnetgw)")
		command = flag.String("command", "", "command line to print in the report (default this program's)")

		ikeGroups  = flag.String("ike-groups", "ecp256,x25519,modp2048,ecp384", "ike part: Diffie-Hellman groups to measure")
		ikeTunnels = flag.Int("ike-tunnels", 2000, "ike part: IKE SAs per run (-quick: 300)")
		ikeWindow  = flag.Int("ike-window", 32, "ike and scale parts: peers negotiating at a time (the gateway asks for cookies from 32 half-open IKE SAs)")
		ikePerf    = flag.Bool("ike-perf", false, "ike part: profile the gateway with perf(1) in one more ECP-256 run, not counted; the report shows the top functions")
		dpPerf     = flag.Bool("dp-perf", false, "throughput part: profile both gateways of the vnetgw system with perf(1) during one more TCP 1-stream A→B transfer, not counted; the report shows the top functions under the throughput goals")
		allPerf    = flag.Bool("perf", false, "both -ike-perf and -dp-perf")
		swanConns  = flag.Int("swan-conns", 200, "ike part: connections strongSwan initiates at once in its check; 0 skips it (-quick: 50)")
		scaleN     = flag.String("scale-tunnels", "100,1000,10000", "scale part: tunnel counts, each to a fresh gateway (-quick: 100)")
		scaleFlows = flag.String("scale-flows", "1,10,100", "scale part: tunnels carrying a TCP stream at once, with the most tunnels up (-quick: 1,10)")
		puts       = flag.Int("api-puts", 100, "control part: gateway PUTs and connection PUTs timed (-quick: 20)")
		connects   = flag.Int("connects", 5, "control part: connections of each kind timed from PUT to Connected (-quick: 2)")
	)
	flag.Parse()
	if *allPerf {
		*ikePerf, *dpPerf = true, true
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if os.Geteuid() != 0 {
		log.Error("the benchmarks need root: they build network namespaces")
		return 1
	}
	if *quick {
		quickDefaults(flag.CommandLine)
	}
	partList, err := selectParts(*parts, *skip)
	if err != nil {
		log.Error("choosing parts", "err", err)
		return 2
	}
	tunnels, err := ints(*scaleN)
	if err != nil {
		log.Error("-scale-tunnels", "err", err)
		return 2
	}
	flows, err := ints(*scaleFlows)
	if err != nil {
		log.Error("-scale-flows", "err", err)
		return 2
	}
	opts := bench.Options{Runs: *runs, Seconds: *seconds, Streams: []int{1, 4}, Work: *work, Log: log, Parts: partList, DataPathPerf: *dpPerf,
		IKE:     bench.IKEOptions{Groups: strings.Split(*ikeGroups, ","), Tunnels: *ikeTunnels, Window: *ikeWindow, SwanConns: *swanConns, Perf: *ikePerf},
		Scale:   bench.ScaleOptions{Tunnels: tunnels, Window: *ikeWindow, Flows: flows},
		Control: bench.ControlOptions{PUTs: *puts, Connects: *connects},
	}
	if *quick {
		opts.Streams = []int{1}
		if !isSet(flag.CommandLine, "out") {
			*out = filepath.Join(*work, "quick")
		}
	}
	bins := bench.Binaries{WireGuardGo: *wg, VNetGW: *vnetgw}
	if bins.WireGuardGo == "" {
		bins.WireGuardGo = filepath.Join(*work, "bin", "wireguard")
	}
	if bins.VNetGW == "" {
		bins.VNetGW = filepath.Join(*work, "bin", "vnetgw")
	}
	opts.VNetGW = bins.VNetGW
	selected, err := pick(bench.Systems(bins), *systems)
	if err != nil {
		log.Error("choosing systems", "err", err)
		return 2
	}
	if *command == "" {
		*command = "go run ./bench/cmd/bench " + shellQuote(os.Args[1:])
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	machine := bench.Describe(ctx, bins.WireGuardGo)
	res, err := bench.Run(ctx, selected, opts)
	if errors.Is(err, context.Canceled) {
		log.Error("interrupted; everything the run made is removed")
		return 130
	}
	if err != nil {
		log.Error("benchmark", "err", err)
		return 1
	}
	// A run of some parts or systems does not replace the latest full
	// one, which the READMEs quote: its figures are in its dated file.
	complete := len(partList) == len(bench.Parts) && len(selected) == len(bench.Systems(bins))
	paths, err := write(*out, res, machine, *command, complete)
	if err != nil {
		log.Error("writing results", "err", err)
		return 1
	}
	log.Info("results written", "files", strings.Join(paths, " "))
	if !complete {
		log.Info("latest.md and latest.png are kept: they hold the latest run of every part on every system")
	}
	return 0
}

// write writes <date>.md into dir and, for a complete run (every part
// on every system), latest.md and latest.png.
func write(dir string, res *bench.Result, m bench.Machine, command string, complete bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	files := []struct {
		name  string
		write func(f *os.File) error
	}{
		{res.Start.Format("2006-01-02T1504Z") + ".md", func(f *os.File) error { return bench.WriteMarkdown(f, res, m, command, "") }},
		{"latest.md", func(f *os.File) error { return bench.WriteMarkdown(f, res, m, command, "latest.png") }},
		{"latest.png", func(f *os.File) error { return bench.WriteChart(f, res, m) }},
	}
	if !complete {
		files = files[:1]
	}
	var paths []string
	for _, file := range files {
		p := filepath.Join(dir, file.name)
		f, err := os.Create(p)
		if err != nil {
			return paths, err
		}
		err = file.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("%s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func names() []string {
	var n []string
	for _, s := range bench.Systems(bench.Binaries{}) {
		n = append(n, s.Name())
	}
	return n
}

// pick returns the systems named in the comma-separated list, all of them
// for an empty list, in the suite's order.
func pick(all []bench.System, list string) ([]bench.System, error) {
	if list == "" {
		return all, nil
	}
	want := strings.Split(list, ",")
	for _, w := range want {
		if !slices.Contains(names(), w) {
			return nil, fmt.Errorf("unknown system %q (known: %s)", w, strings.Join(names(), ", "))
		}
	}
	var out []bench.System
	for _, s := range all {
		if slices.Contains(want, s.Name()) {
			out = append(out, s)
		}
	}
	return out, nil
}

// selectParts returns the parts named in list (all for an empty list)
// less those in skip.
func selectParts(list, skip string) ([]string, error) {
	want := bench.Parts
	if list != "" {
		want = strings.Split(list, ",")
	}
	var no []string
	if skip != "" {
		no = strings.Split(skip, ",")
	}
	var out []string
	for _, p := range slices.Concat(want, no) {
		if !slices.Contains(bench.Parts, p) {
			return nil, fmt.Errorf("unknown part %q (known: %s)", p, strings.Join(bench.Parts, ", "))
		}
	}
	for _, p := range want {
		if !slices.Contains(no, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no part left to run")
	}
	return out, nil
}

// ints parses a comma-separated list of positive integers.
func ints(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// quickDefaults gives the flags of fs that the command line left alone the
// values of -quick: one run of 3 s, every part in seconds.
func quickDefaults(fs *flag.FlagSet) {
	for name, v := range map[string]string{"runs": "1", "seconds": "3", "ike-tunnels": "300", "swan-conns": "50", "scale-tunnels": "100",
		"scale-flows": "1,10", "api-puts": "20", "connects": "2"} {
		if !isSet(fs, name) {
			fs.Set(name, v)
		}
	}
}

// isSet reports whether the command line set the flag name of fs.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

var plain = regexp.MustCompile(`^[A-Za-z0-9_./=:,@+-]+$`)

// shellQuote joins args as a shell would need them.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if plain.MatchString(a) {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.TrimSpace(strings.Join(q, " "))
}
