package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vnetgw/vnetgw/internal/netns"
)

// commandTimeout bounds every short external command (ip, sysctl, swanctl).
const commandTimeout = 30 * time.Second

// namePrefix starts the name of every namespace the suite makes; the
// process id after it lets a later run remove what a killed run left.
const namePrefix = "vbench"

// run runs a command in the host namespace and returns its combined output.
// It gives up after commandTimeout.
func run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Namespace is a network namespace made by the suite.
type Namespace struct {
	// Name is the namespace's name under /run/netns.
	Name string
}

// newNamespace makes a namespace with loopback up.
func newNamespace(ctx context.Context, name string) (*Namespace, error) {
	if _, err := run(ctx, "ip", "netns", "add", name); err != nil {
		return nil, err
	}
	ns := &Namespace{Name: name}
	if _, err := ns.Run(ctx, "ip", "link", "set", "lo", "up"); err != nil {
		return ns, err
	}
	return ns, nil
}

// Run runs a command in the namespace and returns its combined output. It
// gives up after 30 seconds.
func (ns *Namespace) Run(ctx context.Context, args ...string) (string, error) {
	return run(ctx, append([]string{"ip", "netns", "exec", ns.Name}, args...)...)
}

// Start starts a long-running command in the namespace, with its output in
// the file logPath. `ip netns exec` replaces itself with the command, so the
// process id is the command's own.
func (ns *Namespace) Start(logPath string, args ...string) (*Process, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", args[0], ns.Name, err)
	}
	defer log.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group: a Ctrl-C at the terminal reaches the suite,
	// which stops its processes in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", args[0], ns.Name, err)
	}
	p := &Process{cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Path is the namespace's file, for setns(2) and tun.Config.NetNS.
func (ns *Namespace) Path() string { return filepath.Join("/run/netns", ns.Name) }

// Do runs fn on an OS thread that has entered the namespace (netns.Do):
// the sockets fn opens belong to the namespace and stay there, wherever
// they are used from.
func (ns *Namespace) Do(fn func() error) error { return netns.Do(ns.Path(), fn) }

// delete kills what still runs in the namespace and deletes it.
func (ns *Namespace) delete() error {
	ctx := context.Background()
	if out, err := run(ctx, "ip", "netns", "pids", ns.Name); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	var err error
	for range 50 {
		if _, err = run(ctx, "ip", "netns", "del", ns.Name); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("delete namespace: %w", err)
}

// Process is a long-running command in a namespace.
type Process struct {
	// Log is the file that holds the process's output.
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop asks the process to end (SIGTERM), kills it after five seconds, and
// waits for it. It is safe to call more than once.
func (p *Process) Stop() {
	if p.Exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// exitError describes how a process that should still run ended: its
// command line (after `ip netns exec NS`) and the end of its log.
func (p *Process) exitError() error {
	<-p.done
	b, _ := os.ReadFile(p.Log)
	return fmt.Errorf("%s exited (%v): %s", strings.Join(p.cmd.Args[4:], " "), p.err, tail(string(b), 20))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pollInterval is how often waitFor checks its condition.
const pollInterval = 50 * time.Millisecond

// waitFor polls cond every pollInterval until it is true, ctx ends or d
// passes.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

var staleName = regexp.MustCompile(`^` + namePrefix + `([0-9]+)-`)

// Sweep removes what earlier runs of the suite left behind when they were
// killed: namespaces named vbench<pid>-… whose process is gone, with
// everything running in them, and wireguard-go control sockets of the
// suite that nothing serves any more. It never touches anything else.
func Sweep() error {
	var errs []error
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sweep: %w", err)
	}
	for _, e := range entries {
		m := staleName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); err == nil {
			continue // that run is still going
		}
		ns := &Namespace{Name: e.Name()}
		if err := ns.delete(); err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: %w", e.Name(), err))
		}
	}
	socks, _ := filepath.Glob(filepath.Join(wireGuardSocketDir, wireGuardPrefix+"*.sock"))
	for _, s := range socks {
		c, err := net.DialTimeout("unix", s, time.Second)
		if err == nil {
			c.Close()
			continue
		}
		if err := os.Remove(s); err != nil {
			errs = append(errs, fmt.Errorf("sweep: %w", err))
		}
	}
	return errors.Join(errs...)
}
