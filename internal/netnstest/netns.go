// Package netnstest builds network namespaces, veth links and real peers
// (strongSwan) for tests, and tears them down when the test ends, also when
// it fails. Every name it makes is unique to the test process.
//
// Tests that need it call Require first: without root or the named tools
// they skip with a message, unless VNETGW_REQUIRE_INTEROP=1 (as in CI),
// where a missing prerequisite fails the test.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netns"
)

// EnvRequireInterop makes missing prerequisites fail instead of skip.
const EnvRequireInterop = "VNETGW_REQUIRE_INTEROP"

// Require skips or fails t unless it runs as root and every tool is on
// PATH (or is an absolute path that exists).
func Require(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if filepath.IsAbs(tool) {
			if _, err := os.Stat(tool); err != nil {
				missing = append(missing, tool)
			}
			continue
		}
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("needs %s (install with scripts/install-deps.sh, run as root)", strings.Join(missing, ", "))
	if os.Getenv(EnvRequireInterop) == "1" {
		t.Fatalf("%s=1: %s", EnvRequireInterop, msg)
	}
	t.Skip(msg)
}

var seq atomic.Int64

// uniqueName returns prefix-<pid>-<n>, at most 15 characters where it can
// (interface names are limited to 15).
func uniqueName(prefix string) string {
	n := seq.Add(1)
	return fmt.Sprintf("%s%d-%d", prefix, os.Getpid()%100000, n)
}

// NS is a network namespace made by a test.
type NS struct {
	Name string
	t    testing.TB
}

// New makes a namespace with loopback up; it is deleted, with every process
// still in it, when the test ends.
func New(t testing.TB, prefix string) *NS {
	t.Helper()
	ns := &NS{Name: uniqueName("vt" + prefix), t: t}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(ns.destroy)
	ns.Run("ip", "link", "set", "lo", "up")
	return ns
}

func (ns *NS) destroy() {
	// Kill what still runs in the namespace, then delete it.
	out, _ := exec.Command("ip", "netns", "pids", ns.Name).Output()
	for _, p := range strings.Fields(string(out)) {
		exec.Command("kill", "-9", p).Run()
	}
	for range 50 {
		if err := exec.Command("ip", "netns", "del", ns.Name).Run(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ns.t.Errorf("could not delete namespace %s", ns.Name)
}

// Cmd returns a command that runs in the namespace.
func (ns *NS) Cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Run runs a command in the namespace and fails the test if it fails.
func (ns *NS) Run(name string, args ...string) string {
	ns.t.Helper()
	out, err := ns.Cmd(name, args...).CombinedOutput()
	if err != nil {
		ns.t.Fatalf("in %s: %s %s: %v\n%s", ns.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Try runs a command in the namespace and returns its output and error.
func (ns *NS) Try(name string, args ...string) (string, error) {
	out, err := ns.Cmd(name, args...).CombinedOutput()
	return string(out), err
}

// Process is a background command in a namespace.
type Process struct {
	Cmd    *exec.Cmd
	out    *logbuf.Buffer
	exited chan struct{}
}

// Start starts a background command in the namespace; it is killed when the
// test ends.
func (ns *NS) Start(name string, args ...string) *Process {
	ns.t.Helper()
	p := &Process{Cmd: ns.Cmd(name, args...), out: &logbuf.Buffer{}, exited: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = p.out, p.out
	if err := p.Cmd.Start(); err != nil {
		ns.t.Fatalf("in %s: start %s: %v", ns.Name, name, err)
	}
	go func() {
		p.Cmd.Wait()
		close(p.exited)
	}()
	ns.t.Cleanup(func() { p.Kill() })
	return p
}

// Output returns what the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Kill kills the process and waits for it.
func (p *Process) Kill() {
	p.Cmd.Process.Kill()
	<-p.exited
}

// Wait waits up to d for the process to exit and reports whether it did.
func (p *Process) Wait(d time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// Link joins two namespaces with a veth pair. Addresses are CIDR
// ("10.0.0.1/24"); an empty one is left unset.
func Link(t testing.TB, a *NS, aAddr string, b *NS, bAddr string) (aIf, bIf string) {
	t.Helper()
	aIf, bIf = uniqueName("va"), uniqueName("vb")
	if out, err := exec.Command("ip", "link", "add", aIf, "netns", a.Name, "type", "veth", "peer", "name", bIf, "netns", b.Name).CombinedOutput(); err != nil {
		t.Fatalf("veth %s-%s: %v: %s", aIf, bIf, err, out)
	}
	for _, side := range []struct {
		ns        *NS
		ifc, addr string
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		if side.addr != "" {
			side.ns.Run("ip", "addr", "add", side.addr, "dev", side.ifc)
		}
		side.ns.Run("ip", "link", "set", side.ifc, "up")
	}
	return aIf, bIf
}

// WaitListening waits up to 10 s until a TCP socket listens on addr
// ("10.2.0.2:5201") in the namespace: a server started with Start
// listens some time later, longer on a busy machine.
func (ns *NS) WaitListening(addr string) {
	ns.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if out, _ := ns.Try("ss", "-ltnH"); strings.Contains(out, addr+" ") {
			return
		}
		if time.Now().After(deadline) {
			ns.t.Fatalf("in %s: nothing listens on %s", ns.Name, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Forward turns on IPv4 forwarding in the namespace.
func (ns *NS) Forward() { ns.Run("sysctl", "-qw", "net.ipv4.ip_forward=1") }

// Do runs fn on an OS thread that has entered the namespace (netns.Do).
// Sockets and TUN devices that fn opens belong to the namespace and stay
// there; the goroutines fn starts do not run in it.
func (ns *NS) Do(fn func() error) error { return netns.Do(netns.Path(ns.Name), fn) }
