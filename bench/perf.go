package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// perfRecord is `perf record` sampling one process's stacks: Linux's
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

// startPerf starts sampling process pid into the file out.
func startPerf(pid int, out string) (*perfRecord, error) {
	if _, err := exec.LookPath("perf"); err != nil {
		return nil, fmt.Errorf("%w: the gateway profile needs perf (apt-get install linux-perf): %v", ErrNotAvailable, err)
	}
	cmd := exec.Command("perf", "record", "-q", "-F", perfRate, "-g", "-p", fmt.Sprint(pid), "-o", out)
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
