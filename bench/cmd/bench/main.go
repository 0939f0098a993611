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
	"strings"
	"syscall"

	"github.com/vnetgw/vnetgw/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		runs    = flag.Int("runs", 3, "runs of each test on each system; the report gives median, min and max")
		seconds = flag.Int("seconds", 10, "length of each transfer in seconds")
		quick   = flag.Bool("quick", false, "check the harness: 1 run, 3 s, 1 TCP stream (overrides -runs and -seconds); results go to -work/quick unless -out is given")
		systems = flag.String("systems", "", "comma-separated systems to run (default all): "+strings.Join(names(), ", "))
		out     = flag.String("out", "bench/results", "directory for <date>.md, latest.md and latest.png")
		work    = flag.String("work", "bench/work", "directory for binaries, configurations and logs (not committed)")
		wg      = flag.String("wireguard-go", "", "wireguard-go binary (default <work>/bin/wireguard)")
		vnetgw  = flag.String("vnetgw", "", "vnetgw binary (default <work>/bin/vnetgw)")
		command = flag.String("command", "", "command line to print in the report (default this program's)")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if os.Geteuid() != 0 {
		log.Error("the benchmarks need root: they build network namespaces")
		return 1
	}
	opts := bench.Options{Runs: *runs, Seconds: *seconds, Streams: []int{1, 4}, Work: *work, Log: log}
	if *quick {
		opts.Runs, opts.Seconds, opts.Streams = 1, 3, []int{1}
		if !isSet("out") {
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
	paths, err := write(*out, res, machine, *command)
	if err != nil {
		log.Error("writing results", "err", err)
		return 1
	}
	log.Info("results written", "files", strings.Join(paths, " "))
	return 0
}

// write writes <date>.md, latest.md and latest.png into dir.
func write(dir string, res *bench.Result, m bench.Machine, command string) ([]string, error) {
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

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
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
