package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/api"
	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/store/etcd/etcdtest"
)

// TestClusterOfTwoNodes runs one region on two serve processes that keep
// its state in one etcd (serve --etcd, over TLS with client certificates),
// without root: what is written on
// one node is read on the other; each VNet runs on one node, which the VNet
// shows (properties.node); a VNet-to-VNet tunnel comes up between the
// gateways wherever they run; and when a node is killed, the other runs
// its VNets and their tunnels come back.
func TestClusterOfTwoNodes(t *testing.T) {
	e := etcdtest.StartTLS(t)
	const subID = "c1c1c1c1-0000-0000-0000-00000000c1c1"
	// Claims are sticky from the start (--node-settle 0): a node that
	// comes back takes nothing back.
	args := func(name string) []string {
		return []string{"--etcd", e.Endpoint, "--etcd-ca", e.CAFile, "--etcd-cert", e.CertFile, "--etcd-key", e.KeyFile, "--node-name", name, "--node-ttl", "2s", "--node-settle", "0s", "--public-ip-pool", "127.41.0.0/24",
			"--ike-port", "15600", "--natt-port", "15601", "--sstp-port", "15643"}
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	if out, err := cli(t, dirA, append([]string{"serve", "--listen", "0.0.0.0:0"}, args("a")...)...); err == nil || !strings.Contains(out, "--advertise-url") {
		t.Fatalf("serve --etcd on every address without --advertise-url: %v\n%s", err, out)
	}
	nodes := map[string]*serve{"a": startServe(t, dirA, args("a")...)}
	// b shares a's identity: its CA and its admin token.
	for _, f := range []string{datadir.CA, datadir.CAKey, datadir.Token} {
		b, err := os.ReadFile(filepath.Join(dirA, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirB, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	nodes["b"] = startServe(t, dirB, args("b")...)
	ca, cb := nodes["a"].client(), nodes["b"].client()
	if nodes["a"].token() != nodes["b"].token() {
		t.Fatal("the nodes have different tokens")
	}
	ctx := context.Background()

	// A write acknowledged by one node is read on the other at once.
	for i := range 5 {
		rg := arm.ResourceGroupID(subID, fmt.Sprintf("rg-rw%d", i))
		if _, err := ca.Put(ctx, rg, arm.ResourceGroup{Location: "westeurope"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := cb.Get(ctx, rg, &arm.ResourceGroup{}); err != nil {
			t.Fatalf("node b right after node a created %s: %v", rg.ResourceGroup, err)
		}
	}

	// Half the region is made on each node.
	gw1 := buildRegion(t, ca, subID, "rg1", "westeurope", "10.1.0.0/16", "10.1.255.0/27", arm.RouteBased)
	gw2 := buildRegion(t, cb, subID, "rg2", "westeurope", "10.2.0.0/16", "10.2.255.0/27", arm.RouteBased)
	c12, c21 := arm.NetworkID(subID, "rg1", "connections", "one-to-two"), arm.NetworkID(subID, "rg2", "connections", "two-to-one")
	if _, err := cb.Put(ctx, c12, vnet2vnet("westeurope", gw1, gw2), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Put(ctx, c21, vnet2vnet("westeurope", gw2, gw1), nil); err != nil {
		t.Fatal(err)
	}
	vnets := []arm.ID{arm.NetworkID(subID, "rg1", "virtualNetworks", "vnet"), arm.NetworkID(subID, "rg2", "virtualNetworks", "vnet")}

	// where waits until both VNets run on a node of nodes (as both nodes
	// read it) and both connections are Connected with a tunnel set up
	// after since, and returns which node runs each VNet.
	// placed waits until the VNets run where want says (their nodes, in
	// order) and their tunnel came up since then; where, until they run
	// on any of nodes.
	var placed func(since time.Time, want func(on []string) bool) []string
	where := func(since time.Time, nodes ...string) []string {
		t.Helper()
		return placed(since, func(on []string) bool {
			return !slices.ContainsFunc(on, func(n string) bool { return !slices.Contains(nodes, n) })
		})
	}
	placed = func(since time.Time, want func(on []string) bool) []string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var on []string
			ok := true
			for _, c := range []*client.Client{ca, cb} {
				if c == nil {
					continue
				}
				on = on[:0]
				for _, id := range vnets {
					var v arm.VirtualNetwork
					if err := c.Get(ctx, id, &v); err != nil {
						ok = false
						break
					}
					on = append(on, v.Properties.Node)
				}
				ok = ok && len(on) == len(vnets) && want(on)
				for _, id := range []arm.ID{c12, c21} {
					var conn arm.Connection
					if err := c.Get(ctx, id, &conn); err != nil || conn.Properties.ConnectionStatus != "Connected" || len(conn.Properties.TunnelConnectionStatus) == 0 {
						ok = false
						continue
					}
					at, err := time.Parse(time.RFC3339, conn.Properties.TunnelConnectionStatus[0].LastConnectionEstablishedUTCTime)
					ok = ok && err == nil && !at.Before(since.Truncate(time.Second))
				}
			}
			if ok {
				return on
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s: VNets on %q, not as wanted, or not both connections Connected since %s", on, since.Format(time.RFC3339))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	on := where(time.Time{}, "a", "b")
	t.Logf("VNet 1 runs on node %s, VNet 2 on node %s; the tunnel between them is up", on[0], on[1])
	if out, err := cli(t, dirB, "--subscription", subID, "vnet", "list", "-o", "table"); err != nil || !strings.Contains(out, "Node") ||
		!strings.Contains(out, " "+on[0]+"\n") && !strings.Contains(out, " "+on[0]+" ") {
		t.Errorf("vnet list does not show where the VNets run (%v):\n%s", err, out)
	}

	// What only the running data plane knows, every node answers: the
	// node that does not run a gateway forwards the question.
	for name, c := range map[string]*client.Client{"a": ca, "b": cb} {
		for _, id := range []arm.ID{c12, c21} {
			var sas string
			if _, err := c.Do(ctx, "POST", id.String()+"/getikesas", nil, &sas); err != nil || !strings.Contains(sas, `"state":"established"`) {
				t.Errorf("node %s, getikesas of %s: %v %s", name, id.Name(), err, sas)
			}
		}
	}

	// The node that runs VNet 1 dies; the other runs both.
	dead, alive := on[0], map[string]string{"a": "b", "b": "a"}[on[0]]
	time.Sleep(1100 * time.Millisecond) // a new tunnel's time differs from the old one's
	killed := time.Now()
	nodes[dead].kill()
	if dead == "a" {
		ca = nil
	} else {
		cb = nil
	}
	where(killed, alive)
	t.Logf("node %s killed: node %s runs both VNets and their tunnel is up %s later (node TTL 2 s)", dead, alive, time.Since(killed).Round(100*time.Millisecond))

	// The dead node comes back and takes nothing back by itself (claims
	// stay), until an operator moves a VNet to it, drains the other, or
	// rebalances: each a planned handover, through the CLI.
	dirs := map[string]string{"a": dirA, "b": dirB}
	nodes[dead] = startServe(t, dirs[dead], args(dead)...)
	dir := dirs[alive] // the CLI talks to either node
	list := func() string {
		t.Helper()
		out, err := cli(t, dir, "cluster", "node", "list", "-o", "table")
		if err != nil {
			t.Fatalf("cluster node list: %v\n%s", err, out)
		}
		return out
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(list(), "\n"+dead+" "); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("node %s does not show in the list 10 s after its restart:\n%s", dead, list())
		}
	}
	if got := where(killed, alive); got[0] != alive || got[1] != alive {
		t.Fatalf("node %s came back and took a VNet: %q", dead, got)
	}
	t.Logf("after the restart:\n%s", list())
	if out, err := cli(t, dir, "cluster", "move-vnet", "--subscription", subID, "-g", "rg1", "-n", "vnet", "--node", "nope"); err == nil || !strings.Contains(out, "NodeNotFound") {
		t.Fatalf("move to a node that does not exist: %v\n%s", err, out)
	}
	time.Sleep(1100 * time.Millisecond)
	moved := time.Now()
	if out, err := cli(t, dir, "cluster", "move-vnet", "--subscription", subID, "-g", "rg1", "-n", "vnet", "--node", dead, "-o", "table"); err != nil || !strings.Contains(out, alive) {
		t.Fatalf("move-vnet: %v\n%s", err, out)
	}
	// The move's handover takes a moment: until then VNet 1 still runs
	// on the other node.
	if got := placed(moved, func(on []string) bool { return on[0] == dead && on[1] == alive }); got[0] != dead || got[1] != alive {
		t.Fatalf("after the move VNets run on %q, want VNet 1 on %s", got, dead)
	}
	t.Logf("VNet 1 moved to node %s: its tunnel is up there %s after move-vnet", dead, time.Since(moved).Round(100*time.Millisecond))

	// Drained, a node hands its VNets over and takes none.
	time.Sleep(1100 * time.Millisecond)
	drained := time.Now()
	if out, err := cli(t, dir, "cluster", "node", "drain", "-n", alive, "-o", "table"); err != nil || !strings.Contains(out, "true") {
		t.Fatalf("drain: %v\n%s", err, out)
	}
	if got := where(drained, dead); got[1] != dead {
		t.Fatalf("after the drain VNets run on %q", got)
	}
	t.Logf("node %s drained: both VNets and their tunnel up on node %s %s later", alive, dead, time.Since(drained).Round(100*time.Millisecond))
	if out, err := cli(t, dir, "cluster", "move-vnet", "--subscription", subID, "-g", "rg2", "-n", "vnet", "--node", alive); err == nil || !strings.Contains(out, "NodeDraining") {
		t.Fatalf("move to a draining node: %v\n%s", err, out)
	}
	if out, err := cli(t, dir, "cluster", "node", "resume", "-n", alive); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	time.Sleep(1100 * time.Millisecond)
	dry, err := cli(t, dir, "cluster", "rebalance", "--dry-run")
	if err != nil {
		t.Fatalf("rebalance --dry-run: %v\n%s", err, dry)
	}
	rebalanced := time.Now()
	out, err := cli(t, dir, "cluster", "rebalance")
	var moves []api.VirtualNetworkMove
	if err != nil || json.Unmarshal([]byte(out), &moves) != nil || out != dry {
		t.Fatalf("rebalance: %v\n%s\nthe dry run said:\n%s", err, out, dry)
	}
	t.Logf("rebalance: %+v", moves)
	if len(moves) == 0 {
		return // placement puts both VNets on node dead
	}
	got := where(rebalanced, "a", "b")
	for _, m := range moves {
		i := slices.IndexFunc(vnets, func(id arm.ID) bool { return strings.EqualFold(id.String(), m.VirtualNetworkID) })
		if i < 0 || got[i] != m.To {
			t.Fatalf("rebalance moved %s to %s, but VNets run on %q", m.VirtualNetworkID, m.To, got)
		}
	}
}
