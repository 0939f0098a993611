package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perfRecord is `perf record` sampling processes' stacks: Linux's
// profiler, which reads a Go binary's symbols and frame pointers as they
// are, so that a gateway needs no profiling hook.
type perfRecord struct {
	cmd     *exec.Cmd
	out     string
	done    chan error
	stopped bool
}

// perfRate is the sampling frequency in Hz.
const perfRate = "999"

// startPerf starts sampling the processes pids, all their threads, into
// the file out.
func startPerf(out string, pids ...int) (*perfRecord, error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil, fmt.Errorf("%w: the profile needs perf (Debian: apt-get install linux-perf; bench/run.sh installs it for -ike-perf, -dp-perf and -perf): %v",
			ErrNotAvailable, err)
	}
	if len(pids) == 0 {
		return nil, errors.New("perf: no process to profile")
	}
	list := make([]string, len(pids))
	for i, pid := range pids {
		list[i] = strconv.Itoa(pid)
	}
	cmd := exec.Command("perf", "record", "-q", "-F", perfRate, "-g", "-p", strings.Join(list, ","), "-o", out)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start perf: %w", err)
	}
	p := &perfRecord{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// stop ends the sampling (perf writes its file on SIGINT) and waits for
// it, killing it after ten seconds. It is safe to call more than once.
func (p *perfRecord) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// report stops the sampling and writes the functions that took the most
// samples, their own time only, to the profile's name plus ".txt".
func (p *perfRecord) report(ctx context.Context) ([]string, error) {
	p.stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "perf", "report", "-i", p.out, "--stdio", "--no-children",
		"--sort", "symbol", "-g", "none", "--percent-limit", "0.5").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return nil, fmt.Errorf("perf report: %w", err)
	}
	return perfTop(out, perfTopLines), os.WriteFile(p.out+".txt", out, 0o644)
}

// perfTopLines is how many functions of a profile the report shows.
const perfTopLines = 15

// perfTop returns the first n lines of perf report's table: a percentage,
// the kind of code ([.] user, [k] kernel) and the function.
func perfTop(out []byte, n int) []string {
	var top []string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasSuffix(f[0], "%") || !strings.HasPrefix(f[1], "[") {
			continue
		}
		if top = append(top, strings.Join(f[:3], " ")); len(top) == n {
			break
		}
	}
	return top
}
