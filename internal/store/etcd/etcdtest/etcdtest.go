// Package etcdtest runs a real single-member etcd for tests, on loopback
// ports of its own and in the test's temporary directory. Without the etcd
// binary a test skips, unless VNETGW_REQUIRE_INTEROP=1 (as in CI), where it
// fails.
package etcdtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/vnetgw/vnetgw/internal/logbuf"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/store/etcd"
)

// Etcd is a running etcd member.
type Etcd struct {
	// Endpoint is its client URL.
	Endpoint string
	// With StartTLS: the CA of etcd's certificate, and a client
	// certificate and key it accepts (PEM files).
	CAFile, CertFile, KeyFile string
	tls                       *tls.Config
	cmd                       *exec.Cmd
	out                       *logbuf.Buffer
	done                      chan struct{}
}

// Start starts etcd and waits until it answers; it stops when t ends.
func Start(t testing.TB) *Etcd {
	t.Helper()
	return start(t, false)
}

// StartTLS is Start with HTTPS and client certificates: etcd accepts only
// clients with a certificate its CA issued (Etcd.CertFile).
func StartTLS(t testing.TB) *Etcd {
	t.Helper()
	return start(t, true)
}

// StartWith is Start with more of etcd's flags, such as
// --quota-backend-bytes.
func StartWith(t testing.TB, flags ...string) *Etcd {
	t.Helper()
	return start(t, false, flags...)
}

func start(t testing.TB, withTLS bool, flags ...string) *Etcd {
	t.Helper()
	// The ports were free a moment ago: another test's process may
	// have taken one since, and etcd exits; it starts again on others.
	for try := 1; ; try++ {
		e, ok := startOnce(t, withTLS, flags...)
		switch {
		case ok:
			return e
		case try == 3:
			t.Fatalf("etcd %s exited, %d times on ports taken: %s", e.Endpoint, try, e.out.String())
		}
	}
}

// startOnce is start on ports that were free a moment ago; ok is false
// when etcd exited finding one taken.
func startOnce(t testing.TB, withTLS bool, flags ...string) (e *Etcd, ok bool) {
	t.Helper()
	bin := etcdBinary(t)
	loop := netip.MustParseAddr("127.0.0.1")
	client, peer := freePortOn(t, loop), freePortOn(t, loop)
	e = &Etcd{Endpoint: "http://" + client}
	dir := t.TempDir()
	args := []string{"--name", "test", "--data-dir", filepath.Join(dir, "data"),
		"--listen-peer-urls", "http://" + peer, "--initial-advertise-peer-urls", "http://" + peer,
		"--initial-cluster", "test=http://" + peer, "--logger", "zap", "--log-level", "warn"}
	if withTLS {
		e.Endpoint = "https://" + client
		ca := pkitest.Issue(t, "etcd test CA", true, nil)
		server := pkitest.Issue(t, "localhost", false, ca, netip.MustParseAddr("127.0.0.1"))
		cl := pkitest.Issue(t, "vnetgw", false, ca)
		e.CAFile, _ = ca.WritePEM(t, dir, "ca")
		serverCert, serverKey := server.WritePEM(t, dir, "server")
		e.CertFile, e.KeyFile = cl.WritePEM(t, dir, "client")
		args = append(args, "--cert-file", serverCert, "--key-file", serverKey, "--trusted-ca-file", e.CAFile, "--client-cert-auth")
		var err error
		if e.tls, err = etcd.TLSConfig(e.CAFile, e.CertFile, e.KeyFile); err != nil {
			t.Fatal(err)
		}
	}
	args = append(args, "--listen-client-urls", e.Endpoint, "--advertise-client-urls", e.Endpoint)
	args = append(args, flags...)
	e.launch(t, bin, args...)
	if err := e.answer(time.Now().Add(20 * time.Second)); err != nil {
		if errors.Is(err, errExited) && strings.Contains(e.out.String(), "address already in use") {
			return e, false
		}
		t.Fatal(err)
	}
	return e, true
}

// etcdBinary returns the path of etcd's binary; without one the test
// skips, or fails under VNETGW_REQUIRE_INTEROP=1.
func etcdBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		msg := "needs etcd (install with scripts/install-deps.sh)"
		if os.Getenv(netnstest.EnvRequireInterop) == "1" {
			t.Fatalf("%s=1: %s", netnstest.EnvRequireInterop, msg)
		}
		t.Skip(msg)
	}
	return bin
}

// launch starts e's process, bin with args, its output kept for Log; it
// is killed when t ends.
func (e *Etcd) launch(t testing.TB, bin string, args ...string) {
	t.Helper()
	e.out, e.done = &logbuf.Buffer{}, make(chan struct{})
	e.cmd = exec.Command(bin, args...)
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	cmd, done := e.cmd, e.done // this launch's, not a later one's
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
}

// errExited says that etcd's process ended.
var errExited = errors.New("exited")

// answer waits until e answers a client, and says why not if e exits or
// has not answered by deadline.
func (e *Etcd) answer(deadline time.Time) error {
	for {
		cli, err := etcd.Dial([]string{e.Endpoint}, e.tls, time.Second)
		if err == nil {
			cli.Close()
			return nil
		}
		select {
		case <-e.done:
			return fmt.Errorf("etcd %s %w: %s", e.Endpoint, errExited, e.out.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd %s did not answer in time: %v\n%s", e.Endpoint, err, e.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartIn starts etcd in the namespace ns, on host (one of its addresses)
// at the ports 2379 and 2380, and waits until it answers there; it stops
// when t ends. Clients in the namespaces that reach host use Endpoint.
func StartIn(t testing.TB, ns *netnstest.NS, host string) *Etcd {
	t.Helper()
	netnstest.Require(t, "etcd", "etcdctl")
	client, peer := "http://"+net.JoinHostPort(host, "2379"), "http://"+net.JoinHostPort(host, "2380")
	p := ns.Start("etcd", "--name", "test", "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer, "--logger", "zap", "--log-level", "warn")
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := ns.Try("etcdctl", "--dial-timeout", "1s", "--endpoints", client, "endpoint", "health")
		if err == nil {
			return &Etcd{Endpoint: client}
		}
		if p.Wait(0) || time.Now().After(deadline) {
			t.Fatalf("etcd in %s does not answer: %v: %s\n%s", ns.Name, err, out, p.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Client returns a client of e, closed when t ends.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := etcd.Dial([]string{e.Endpoint}, e.tls, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Pause stops the member's process (SIGSTOP): it holds its connections
// open and answers nothing, as a member that hangs or a host that lost
// power does, until Resume; it is resumed when t ends.
func (e *Etcd) Pause(t testing.TB) {
	t.Helper()
	if err := e.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pause etcd: %v", err)
	}
	t.Cleanup(e.Resume)
}

// Resume lets a paused member go on (SIGCONT).
func (e *Etcd) Resume() { e.cmd.Process.Signal(syscall.SIGCONT) }

// StartCluster starts n members of one etcd cluster on the loopback
// addresses host+1, host+2, ... (127.x.y.1 and on, from host, a /24's
// address ending in 0) and waits until each answers; they stop when t
// ends. As start, it starts them again on other ports when a member
// exits finding one taken (CI, 2026-12-07: another package's process took
// a port between its probe and etcd's bind).
func StartCluster(t testing.TB, host netip.Addr, n int) []*Etcd {
	t.Helper()
	for try := 1; ; try++ {
		members, taken := startClusterOnce(t, host, n)
		switch {
		case taken == nil:
			return members
		case try == 3:
			t.Fatalf("etcd %s exited, %d times on ports taken: %s", taken.Endpoint, try, taken.out.String())
		}
		for _, m := range members {
			m.cmd.Process.Kill()
		}
	}
}

// startClusterOnce is StartCluster on ports that were free a moment ago;
// taken is a member that exited finding one taken, if one did.
func startClusterOnce(t testing.TB, host netip.Addr, n int) (members []*Etcd, taken *Etcd) {
	t.Helper()
	bin := etcdBinary(t)
	names, clients, peers := make([]string, n), make([]string, n), make([]string, n)
	var cluster []string
	for i := range n {
		a := host
		for range i + 1 {
			a = a.Next()
		}
		names[i] = fmt.Sprintf("m%d", i)
		clients[i], peers[i] = freePortOn(t, a), freePortOn(t, a)
		cluster = append(cluster, names[i]+"=http://"+peers[i])
	}
	dir := t.TempDir()
	members = make([]*Etcd, n)
	for i := range n {
		e := &Etcd{Endpoint: "http://" + clients[i]}
		e.launch(t, bin, "--name", names[i], "--data-dir", filepath.Join(dir, names[i]),
			"--listen-peer-urls", "http://"+peers[i], "--initial-advertise-peer-urls", "http://"+peers[i],
			"--initial-cluster", strings.Join(cluster, ","), "--initial-cluster-token", "etcdtest",
			"--listen-client-urls", e.Endpoint, "--advertise-client-urls", e.Endpoint, "--logger", "zap", "--log-level", "warn")
		members[i] = e
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, e := range members {
		if err := e.answer(deadline); err != nil {
			if errors.Is(err, errExited) && strings.Contains(e.out.String(), "address already in use") {
				return members, e
			}
			t.Fatal(err)
		}
	}
	return members, nil
}

// Follower returns a member of members that is not their leader.
func Follower(t testing.TB, members []*Etcd) *Etcd {
	t.Helper()
	for _, m := range members {
		st, err := m.Client(t).Status(context.Background(), m.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if st.Header.MemberId != st.Leader {
			return m
		}
	}
	t.Fatal("no member is a follower")
	return nil
}

// LoseQuorum pauses every member of members but keep, and waits until
// keep reports that it has no leader (an election timeout later).
func LoseQuorum(t testing.TB, members []*Etcd, keep *Etcd) {
	t.Helper()
	for _, m := range members {
		if m != keep {
			m.Pause(t)
		}
	}
	cli := keep.Client(t)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st, err := cli.Status(context.Background(), keep.Endpoint)
		if err == nil && st.Leader == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still has a leader 30 s after the others paused: %v, %v", keep.Endpoint, st, err)
		}
	}
}

// freePortOn returns an address on host whose TCP port was free a moment
// ago.
func freePortOn(t testing.TB, host netip.Addr) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
