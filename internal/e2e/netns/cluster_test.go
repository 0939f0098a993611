package netns

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// shareIdentity copies the CA and admin token of one node's data
// directory into another's before its first start, as the README says.
func shareIdentity(t *testing.T, from, to string) {
	t.Helper()
	for _, f := range []string{datadir.CA, datadir.CAKey, datadir.Token} {
		b, err := os.ReadFile(filepath.Join(from, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClusterFailover runs one region on two serve nodes that share their
// state through etcd (SPEC "Scale-out"). The nodes, strongSwan and etcd sit
// on one Ethernet segment, as machines in a rack do:
//
//	node a (100.64.0.11) ─┐
//	node b (100.64.0.12) ─┼─ br0 (etcd at 100.64.0.1) ─ strongSwan (100.64.0.2) ─ LAN host
//	                      │
//	gateways' public addresses (100.64.0.128/28) go on the node that runs them
//
// The VNet, its TUN host and its gateway run on node a. When node a dies
// (kill -9 and its link down), node b takes the VNet over after a's lease
// ends: it adds the gateway's address to its own interface, announces it
// by gratuitous ARP, starts the host's device and brings the tunnel up
// again, and strongSwan replaces its stale SAs (INITIAL_CONTACT). When b
// then stops cleanly, a (back by then) takes over at once, without waiting
// for a lease to end. Last, with b back, a is drained: a planned handover.
func TestClusterFailover(t *testing.T) {
	require(t)
	netnstest.Require(t, "etcd", "etcdctl")
	lan := netnstest.New(t, "sw")
	lan.Run("ip", "link", "add", "br0", "type", "bridge")
	lan.Run("ip", "addr", "add", "100.64.0.1/24", "dev", "br0")
	lan.Run("ip", "link", "set", "br0", "up")
	attach := func(ns *netnstest.NS, addr string) string {
		ifc, port := netnstest.Link(t, ns, addr, lan, "")
		lan.Run("ip", "link", "set", port, "master", "br0")
		return ifc
	}
	et := etcdtest.StartIn(t, lan, "100.64.0.1")

	const clusterPool = "100.64.0.128/28"
	var first string // data directory of the first node, whose identity the others share
	node := func(name, addr string) *region {
		ns := netnstest.New(t, "n"+name)
		ifc := attach(ns, addr)
		dir := t.TempDir()
		if first == "" {
			first = dir
		} else {
			shareIdentity(t, first, dir)
		}
		// The API on every address of the node's namespace; the other node
		// reaches it at the advertised one. Claims are sticky from the
		// start (--node-settle 0): the VNet stays on a when b joins.
		return newRegion(t, regionOptions{pool: clusterPool, ns: ns, dir: dir, listen: "0.0.0.0:7443", args: []string{"--public-interface", ifc,
			"--etcd", et.Endpoint, "--node-name", name, "--node-ttl", "2s", "--node-settle", "0s", "--advertise-url", "https://" + strings.TrimSuffix(addr, "/24") + ":7443"}})
	}
	a := node("a", "100.64.0.11/24")
	aIf := hostIf(t, a.ns, netip.MustParseAddr("100.64.0.11"))

	// The site: strongSwan on the segment, a host on its LAN.
	s := &site{t: t, gw: netnstest.New(t, "s"), lan: netnstest.New(t, "l"),
		addr: netip.MustParseAddr("100.64.0.2"), host: netip.MustParseAddr("192.168.1.2"), lanTS: "192.168.1.0/24"}
	attach(s.gw, "100.64.0.2/24")
	netnstest.Link(t, s.lan, "192.168.1.2/24", s.gw, "192.168.1.1/24")
	s.lan.Run("ip", "route", "add", "default", "via", "192.168.1.1")
	s.gw.Forward()

	vnet := a.vnet("cluster", "westeurope", "hub", []string{"10.1.0.0/16"}, "10.1.255.0/27")
	gw, gwAddr := a.gateway(vnet, "hub-gw", arm.RouteBased)
	host, hostAddr := a.tunHost(vnet, "web")
	lgw := a.localGateway("cluster", "westeurope", "branch", s.addr, s.lanTS)
	s.charon(gwAddr, s2sKey, s.lanTS, "10.1.0.0/16")
	conn := a.connection(gw, lgw, "hub-to-branch", s2sKey)
	a.waitConnection(conn, 30*time.Second, "Connected", connected)
	ping(t, host, s.host, 10*time.Second)
	if out := a.ns.Run("ip", "-o", "addr", "show", "dev", aIf); !strings.Contains(out, " "+gwAddr.String()+"/") {
		t.Fatalf("the gateway's address is not on node a's interface:\n%s", out)
	}

	// b joins: the state is the same there, and the VNet stays on a.
	b := node("b", "100.64.0.12/24")
	var c arm.Connection
	b.get(conn, &c)
	if c.Properties.ConnectionStatus != "Connected" {
		t.Fatalf("node b reads the connection as %q", c.Properties.ConnectionStatus)
	}
	if out := b.ns.Run("ip", "-o", "addr", "show"); strings.Contains(out, " "+gwAddr.String()+"/") {
		t.Fatalf("node b took the gateway's address while a runs it:\n%s", out)
	}

	// a dies.
	start := time.Now()
	a.kill()
	a.ns.Run("ip", "link", "set", aIf, "down")
	ping(t, host, s.host, 30*time.Second)
	took := time.Since(start)
	ping(t, s.lan, hostAddr, 10*time.Second)
	b.waitConnection(conn, 10*time.Second, "Connected, as node b sees it", connected)
	if sas := s.ch.SAs(); strings.Count(sas, "ESTABLISHED") != 1 {
		t.Errorf("strongSwan holds stale IKE SAs after the failover:\n%s", sas)
	}
	t.Logf("node a killed: traffic flows through node b %s later (node TTL 2 s)", took.Round(100*time.Millisecond))

	// a comes back; the VNet stays on b (claims are sticky) until b stops
	// cleanly, when a takes it without waiting for b's lease.
	a.ns.Run("ip", "link", "set", aIf, "up")
	a.start()
	b.proc.Cmd.Process.Signal(syscall.SIGTERM)
	start = time.Now()
	if !b.proc.Wait(20 * time.Second) {
		t.Fatal("node b did not stop within 20 s of SIGTERM")
	}
	ping(t, host, s.host, 30*time.Second)
	took = time.Since(start)
	a.waitConnection(conn, 10*time.Second, "Connected, as node a sees it", connected)
	t.Logf("node b stopped cleanly: traffic flows through node a %s later", took.Round(100*time.Millisecond))

	// b comes back; draining a (planned maintenance) hands the VNet over:
	// a stops it and gives up the address, then b starts it at once.
	b.start()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, err := a.cli("cluster", "node", "list", "-o", "table")
		if err == nil && strings.Contains(out, "\nb ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b is not in the cluster 10 s after its start: %v\n%s", err, out)
		}
	}
	start = time.Now()
	if out, err := a.cli("cluster", "node", "drain", "-n", "a"); err != nil {
		t.Fatalf("drain: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(b.ns.Run("ip", "-o", "addr", "show"), " "+gwAddr.String()+"/"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("node b does not hold the gateway's address 10 s after a was drained")
		}
	}
	ping(t, host, s.host, 30*time.Second)
	took = time.Since(start)
	if out := a.ns.Run("ip", "-o", "addr", "show", "dev", aIf); strings.Contains(out, " "+gwAddr.String()+"/") {
		t.Fatalf("drained node a still holds the gateway's address:\n%s", out)
	}
	b.waitConnection(conn, 10*time.Second, "Connected, as node b sees it", connected)
	if sas := s.ch.SAs(); strings.Count(sas, "ESTABLISHED") != 1 {
		t.Errorf("strongSwan holds stale IKE SAs after the handover:\n%s", sas)
	}
	t.Logf("node a drained: traffic flows through node b %s later", took.Round(100*time.Millisecond))
	// Node a forwards what only b's data plane knows to b's advertised URL.
	if out, err := a.cli("vpn-connection", "list-ike-sas", "-g", "cluster", "-n", "hub-to-branch"); err != nil || !strings.Contains(out, "established") {
		t.Errorf("node a, asked for the IKE SAs b runs: %v\n%s", err, out)
	}
}
