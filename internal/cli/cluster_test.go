package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// A node that joins a cluster with other gateway ports than a live
// node's (--ike-port, --natt-port, --sstp-port) is refused, naming both:
// a VNet runs on one node and then another (a failover, a move), and its
// sites and point-to-site clients, told one port by the device script or
// VPN client package of whichever node they asked, reached no gateway
// after a move, or before one when the node they asked did not run it.
// It joined, and each node wrote its own ports into what it handed out.
// So is one with another --public-ip-pool (a public IP address's pool
// depended on the node that took its PUT). A node with the same ports
// and pool joins.
func TestClusterNodesHaveTheSamePorts(t *testing.T) {
	e := etcdtest.Start(t)
	node := func(name, ikePort string) []string {
		return []string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--etcd", e.Endpoint, "--node-name", name, "--node-ttl", "2s",
			"--public-ip-pool", "127.42.0.0/24", "--ike-port", ikePort, "--natt-port", "4501", "--sstp-port", "1443"}
	}
	serveInBackground(t, node("a", "1500")...)

	args := node("b", "1501")
	want := `error: node set unlike the live nodes: this node has --ike-port 1501 --natt-port 4501 --sstp-port 1443 --internet-egress=false --public-ip-pool 127.42.0.1-127.42.0.254, live node "a" has --ike-port 1500 --natt-port 4501 --sstp-port 1443 --internet-egress=false --public-ip-pool 127.42.0.1-127.42.0.254: give every node the same`
	if code, out, errOut := serveUntilServing(t, args...); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("vnetgw %s beside a node with --ike-port 1500: exit %d, want 1 and %s\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
	args = append(node("b", "1500"), "--internet-egress")
	want = `error: node set unlike the live nodes: this node has --ike-port 1500 --natt-port 4501 --sstp-port 1443 --internet-egress=true --public-ip-pool 127.42.0.1-127.42.0.254, live node "a" has --ike-port 1500 --natt-port 4501 --sstp-port 1443 --internet-egress=false --public-ip-pool 127.42.0.1-127.42.0.254: give every node the same`
	if code, out, errOut := serveUntilServing(t, args...); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("vnetgw %s beside a node without --internet-egress: exit %d, want 1 and %s\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
	args = append(node("b", "1500"), "--public-ip-pool", "127.42.1.0/24")
	want = `error: node set unlike the live nodes: this node has --ike-port 1500 --natt-port 4501 --sstp-port 1443 --internet-egress=false --public-ip-pool 127.42.1.1-127.42.1.254, live node "a" has --ike-port 1500 --natt-port 4501 --sstp-port 1443 --internet-egress=false --public-ip-pool 127.42.0.1-127.42.0.254: give every node the same`
	if code, out, errOut := serveUntilServing(t, args...); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("vnetgw %s beside a node of another pool: exit %d, want 1 and %s\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
	// The same pool written as a range is the same pool.
	args = append(node("b", "1500"), "--public-ip-pool", "127.42.0.1-127.42.0.254")
	if code, out, errOut := serveUntilServing(t, args...); code != 0 {
		t.Errorf("vnetgw %s beside a node of the same ports: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
}

// serveInBackground runs a serve command line until the test ends, and
// returns once it serves.
func serveInBackground(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	serving, ended := make(chan struct{}), make(chan struct{})
	out, errOut := &syncWriter{cancel: func() { close(serving) }}, &syncWriter{}
	code := 0
	go func() {
		defer close(ended)
		code = Execute(ctx, args, out, errOut)
	}()
	t.Cleanup(func() {
		cancel()
		<-ended
	})
	select {
	case <-serving:
	case <-ended:
		t.Fatalf("vnetgw %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
}
