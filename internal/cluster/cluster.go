// Package cluster lets several `vnetgw serve` nodes share one region
// through etcd and decides which node runs which virtual network.
//
// The unit of placement is a VNet: its router, its hosts and its gateway
// (whose private side is the VNet's router) run together on one node. A
// node is a member while its etcd lease lives: it holds the key
// nodes/NAME, and a claims/VNET key for each VNet it runs, all on that
// lease. An unclaimed VNet is claimed by the live node that rendezvous
// hashing picks (so that VNets spread over the nodes), or by any node once
// it has stayed unclaimed for two lease times. Claims are sticky, except
// those of a node in its first settle time after it joins, which go to the
// node rendezvous hashing picks as nodes join (so that nodes started
// together spread the VNets between them): a node that comes back does not
// take its VNets back from a node that has run for longer, until an
// operator moves a
// VNet (a moves/VNET key names the node it goes to), rebalances (moves
// what rendezvous hashing would place elsewhere) or drains a node (a
// drain/NAME key: it takes no VNet and hands its own over). A handover is
// planned: the running node stops the VNet, then releases its claim, and
// the named node claims it at once. When a node dies its lease
// ends after its TTL, its claims go with it, and the other nodes claim its
// VNets and start them: the standby takes the gateway's public address and
// brings its tunnels up again. A node cut off from etcd stops running
// every VNet once its lease has gone unrenewed for two thirds of its TTL, before
// etcd can end it (never two nodes at once), and joins again when it can.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vnetgw/vnetgw/internal/store"
)

// Key prefixes under the cluster's prefix.
//
// moves/VNET and drain/NAME are on the named node's lease, so that they go
// when it dies; alike/NAME, the node's Options.Alike, is on that node's
// lease, as nodes/NAME is.
const (
	prefixNodes  = "nodes/"
	prefixClaims = "claims/"
	prefixMoves  = "moves/"
	prefixDrain  = "drain/"
	prefixAlike  = "alike/"
)

var (
	// ErrNameInUse means a live node already has this node's name.
	ErrNameInUse = errors.New("node name in use")
	// ErrNoSuchNode means no live node has the name.
	ErrNoSuchNode = errors.New("no live node of that name")
	// ErrDraining means the node is being drained and takes no VNet.
	ErrDraining = errors.New("the node is draining")
	// ErrUnlike means a live node was given another Options.Alike.
	ErrUnlike = errors.New("node set unlike the live nodes")
	// ErrUnavailable means etcd did not take an operator's change of the
	// cluster (a move, a drain, a resume) within WriteTimeout, or
	// answered that it takes none now (no leader, unreachable): it may
	// or may not have been applied.
	ErrUnavailable = errors.New("etcd, the cluster's store, did not answer")
)

// WriteTimeout bounds how long an operator's change of the cluster waits
// for etcd: a paused or unreachable etcd held the request until the
// caller gave up. A variable for the tests.
var WriteTimeout = 10 * time.Second

var errWriteTimeout = errors.New("cluster write timeout")

// write runs f, one write to etcd, within WriteTimeout; etcd not
// answering, or answering that it cannot now, is ErrUnavailable.
func write(ctx context.Context, f func(ctx context.Context) error) error {
	wctx, cancel := context.WithTimeoutCause(ctx, WriteTimeout, errWriteTimeout)
	defer cancel()
	err := f(wctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(context.Cause(wctx), errWriteTimeout):
		return fmt.Errorf("%w within %s (%w)", ErrUnavailable, WriteTimeout, err)
	case ctx.Err() == nil && unavailable(err):
		return fmt.Errorf("%w (%w)", ErrUnavailable, err)
	}
	return err
}

// unavailable tells whether err means etcd takes no write now: the way
// to it lost, no leader, overloaded.
func unavailable(err error) bool {
	for _, e := range []error{rpctypes.ErrNoLeader, rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToConnectionLost,
		rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrLeaderChanged, rpctypes.ErrTooManyRequests} {
		if errors.Is(err, e) {
			return true
		}
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	case codes.Unknown:
		// A member that knows it has no leader passes its proposal's
		// own deadline on, as gRPC's Unknown.
		return status.Convert(err).Message() == context.DeadlineExceeded.Error()
	}
	return false
}

// Options configure a node.
type Options struct {
	// Prefix is where the cluster's keys are, such as "/vnetgw/cluster/".
	Prefix string
	// Name names the node; unique among the live nodes.
	Name string
	// TTL is the lease time: how long after its death (or its loss of
	// etcd) a node's VNets wait before another node takes them.
	TTL time.Duration
	// Settle is how long after it joins the node hands a VNet it runs
	// over to the node rendezvous hashing picks, when one joins: nodes that
	// start together spread their VNets. 0: claims are sticky at once.
	Settle time.Duration
	// Info is stored with the node's key (its API URL), for operators.
	Info string
	// Alike is what every node must be given the same (the gateways'
	// ports: a VNet runs on one node and then another, and its peers
	// and clients know one port). Join refuses a node whose Alike is not
	// a live node's; "" is not compared.
	Alike  string
	Logger *slog.Logger
}

// Node is this process as a member of the cluster.
type Node struct {
	cli  *clientv3.Client
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	lease    clientv3.LeaseID // 0 while not a member
	joinedAt time.Time        // when it last became a member
	fenced   bool             // etcd has not renewed the lease for two thirds of its TTL
	// fenceAt is when the node fences itself unless etcd renews the
	// lease before: two thirds of the lease's TTL after the last renewal.
	fenceAt  time.Time
	nodes    map[string]member // live nodes, by name
	claims   map[string]string // VNet id → the node that runs it
	claimRev map[string]int64  // VNet id → its claim's create revision
	// claimAt is, by VNet id, the revision of the last change to its
	// claim this node knows of: this node's own claims and releases are
	// known before its watch shows them, and the watch's older events
	// of that claim, or a read of the cluster older than them, are not
	// taken over them.
	claimAt  map[string]int64
	moves    map[string]string    // VNet id → the node it is to move to
	drained  map[string]bool      // nodes being drained
	waiting  map[string]time.Time // unclaimed VNets → since when
	leaving  map[string]bool      // VNets this node runs no more and is to release
	changed  chan struct{}        // closed and replaced on every change
	cancel   context.CancelFunc
	done     chan struct{}
	joinedCh chan error // the first join's outcome, for Join

	// unrevoked is the lease of the last membership when its revoke
	// failed (etcd cut off): etcd may keep it (it gives every lease its
	// TTL again when it restarts or elects a leader), with this node's
	// name and claims on it. Only run's goroutine uses it.
	unrevoked clientv3.LeaseID

	// movedIn are the VNets this node claimed as moved to it (an
	// operator's move, a rebalance): its settle time hands them over no
	// more, the move's key being gone once it claimed them.
	movedIn map[string]bool
}

// member is a live node as the cluster's keys describe it.
type member struct {
	info  string
	lease clientv3.LeaseID
}

// Join makes this process a member: it registers the node and follows the
// cluster's nodes and claims until Close. It fails when the name is taken
// by a live node; the lease that holds the name is waited for first, as
// long as it has left (this node's previous run, killed, renews it no
// more).
func Join(ctx context.Context, cli *clientv3.Client, o Options) (*Node, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TTL < time.Second {
		return nil, fmt.Errorf("node TTL %s: at least 1s", o.TTL)
	}
	if o.Name == "" || strings.Contains(o.Name, "/") {
		return nil, fmt.Errorf("node name %q: not empty, without '/'", o.Name)
	}
	rctx, cancel := context.WithCancel(context.Background())
	n := &Node{cli: cli, opts: o, log: o.Logger, nodes: map[string]member{}, claims: map[string]string{}, claimRev: map[string]int64{}, claimAt: map[string]int64{}, moves: map[string]string{},
		drained: map[string]bool{}, waiting: map[string]time.Time{}, leaving: map[string]bool{}, movedIn: map[string]bool{}, changed: make(chan struct{}), cancel: cancel, done: make(chan struct{}), joinedCh: make(chan error, 1)}
	go n.run(rctx)
	select {
	case err := <-n.joinedCh:
		if err != nil {
			n.Close()
			return nil, err
		}
		return n, nil
	case <-ctx.Done():
		n.Close()
		return nil, ctx.Err()
	}
}

// Close leaves the cluster: the node's lease is revoked, so that the other
// nodes take its VNets at once. Stop running them before.
func (n *Node) Close() {
	n.cancel()
	<-n.done
}

// Name returns the node's name.
func (n *Node) Name() string { return n.opts.Name }

// Changed returns a channel closed at the next change of the cluster: a
// node joins or leaves, a VNet is claimed or released, this node loses or
// regains its membership.
func (n *Node) Changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

func (n *Node) bump() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// Place claims, among vnets (lower-cased ids: every VNet of the region),
// the unclaimed ones this node should run, lets go of its claims of VNets
// that are gone, and returns the VNets this node runs. Without membership
// it runs none.
//
// A VNet this node is to hand over (moved elsewhere, or this node is
// draining), or one gone, is left out of the answer first; a later call, once the
// caller has stopped it, releases the claim, so that the node it goes to
// starts it only then. stopping are the VNets the caller is still
// stopping (a gateway's stop in the background holds its public address
// and its IKE sockets): their claims are kept until a call without them.
// One goroutine calls Place.
func (n *Node) Place(ctx context.Context, vnets []string, stopping map[string]bool) map[string]bool {
	n.mu.Lock()
	lease, fenceAt := n.lease, n.fenceAt
	if lease == 0 || n.fencedLocked() {
		n.mu.Unlock()
		return map[string]bool{}
	}
	me := n.opts.Name
	want := map[string]bool{}
	var claim, release, done []string
	now := time.Now()
	for _, v := range vnets {
		want[v] = true
		switch owner := n.claims[v]; {
		case owner == me:
			delete(n.waiting, v)
			if n.moves[v] == me {
				// A move to where it runs (asked for from a view a
				// moment behind) is done: kept, it would bring the VNet
				// back here after it left (a drain, then a resume).
				done = append(done, v)
			}
			switch {
			case !n.handOverLocked(v):
				delete(n.leaving, v)
			case n.leaving[v] && !stopping[v]:
				release = append(release, v)
			case n.leaving[v]: // the caller calls again once it has stopped
			default:
				n.leaving[v] = true
				n.bump() // call again once the caller has stopped it
			}
		case owner != "":
			delete(n.waiting, v)
		default:
			since, ok := n.waiting[v]
			if !ok {
				since = now
				n.waiting[v] = now
			}
			if n.chooseLocked(v, "") == me || (now.Sub(since) > 2*n.opts.TTL && !n.drained[me]) {
				claim = append(claim, v)
			}
		}
	}
	// A VNet that is gone (deleted) is let go as one handed over: the
	// caller, told first that it runs it no more, stops its gateway in
	// the background, and the claim goes once that stop has ended; a VNet
	// of the same id made again would otherwise start on another node
	// while this one still holds its public address.
	for v, owner := range n.claims {
		switch {
		case owner != me || want[v] || stopping[v]:
		case n.leaving[v]:
			release = append(release, v)
		default:
			n.leaving[v] = true
			n.bump() // call again once the caller has stopped it
		}
	}
	for v := range n.waiting {
		if !want[v] {
			delete(n.waiting, v)
		}
	}
	for v := range n.claimAt {
		if n.claims[v] == "" && !want[v] {
			delete(n.claimAt, v)
		}
	}
	for v := range n.leaving {
		if n.claims[v] != me {
			delete(n.leaving, v)
		}
	}
	for v := range n.movedIn {
		if n.claims[v] != me {
			delete(n.movedIn, v)
		}
	}
	moved := map[string]bool{}
	for _, v := range claim {
		moved[v] = n.moves[v] == me
	}
	// A VNet gone in the middle of a move takes its move along: kept on
	// the lease of the node it was to go to, it would place a VNet made
	// again under the same id there.
	goneMoved := map[string]bool{}
	for _, v := range release {
		goneMoved[v] = !want[v] && n.moves[v] != ""
	}
	n.mu.Unlock()

	// The writes wait for etcd no longer than a quarter of the TTL, nor
	// past the moment the node fences itself: the caller must come back
	// by then to learn that it did (member), and stop what it runs
	// before etcd can end the lease.
	deadline := time.Now().Add(n.opts.TTL / 4)
	if fenceAt.Before(deadline) {
		deadline = fenceAt
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	// The claims, and then the releases, go together, each one round
	// trip: one after another, a takeover of many VNets from a distant
	// etcd took as many round trips, and those past the timeout waited
	// for later calls.
	together(claim, func(v string) {
		key := n.opts.Prefix + prefixClaims + v
		resp, err := n.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, me, clientv3.WithLease(lease))).Commit()
		if err != nil {
			n.log.Warn("claim a VNet", "vnet", v, "err", err)
			return
		}
		if !resp.Succeeded {
			return
		}
		n.log.Info("running a VNet", "vnet", v)
		n.setClaim(v, me, resp.Header.Revision)
		if moved[v] {
			n.mu.Lock()
			n.movedIn[v] = true
			n.mu.Unlock()
			n.finishMove(ctx, v)
		}
	})
	together(done, func(v string) { n.finishMove(ctx, v) })
	together(release, func(v string) {
		key := n.opts.Prefix + prefixClaims + v
		ops := []clientv3.Op{clientv3.OpDelete(key)}
		if goneMoved[v] {
			ops = append(ops, clientv3.OpDelete(n.opts.Prefix+prefixMoves+v))
		}
		resp, err := n.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(key), "=", me)).Then(ops...).Commit()
		switch {
		case err != nil:
			n.log.Warn("release a VNet", "vnet", v, "err", err)
			return
		case !resp.Succeeded:
			return
		}
		// Released: this node runs it no more, also if it is to stay
		// (the move undone) before the watch shows the release.
		n.setClaim(v, "", resp.Header.Revision)
		if want[v] {
			n.log.Info("handed a VNet over", "vnet", v)
		}
	})
	n.mu.Lock()
	defer n.mu.Unlock()
	owned := map[string]bool{}
	if n.lease != lease || n.fencedLocked() {
		return owned
	}
	for v, owner := range n.claims {
		if owner == me && want[v] && !n.leaving[v] {
			owned[v] = true
		}
	}
	return owned
}

// finishMove deletes the move of vnet to this node, which runs it now.
func (n *Node) finishMove(ctx context.Context, vnet string) {
	mkey := n.opts.Prefix + prefixMoves + vnet
	if _, err := n.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(mkey), "=", n.opts.Name)).Then(clientv3.OpDelete(mkey)).Commit(); err != nil {
		n.log.Warn("finish moving a VNet", "vnet", vnet, "err", err)
	}
}

// maxWrites bounds the writes to etcd that together has under way.
const maxWrites = 64

// together calls f for each of vnets, up to maxWrites at once, and
// returns when every call has.
func together(vnets []string, f func(vnet string)) {
	sem := make(chan struct{}, maxWrites)
	var wg sync.WaitGroup
	for _, v := range vnets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(v)
		})
	}
	wg.Wait()
}

// loadLocked takes what the cluster holds (kvs, its whole prefix, read
// at revision rev) as it is now, but for the claims this node made or
// released after rev; n.mu is held.
func (n *Node) loadLocked(kvs []*mvccpb.KeyValue, rev int64) {
	type claim struct {
		owner       string
		created, at int64
	}
	newer := map[string]claim{}
	for v, at := range n.claimAt {
		if at > rev {
			newer[v] = claim{n.claims[v], n.claimRev[v], at}
		}
	}
	n.nodes, n.claims, n.claimRev, n.claimAt, n.moves, n.drained = map[string]member{}, map[string]string{}, map[string]int64{}, map[string]int64{}, map[string]string{}, map[string]bool{}
	for _, kv := range kvs {
		n.applyLocked(kv, true)
	}
	for v, c := range newer {
		n.claimAt[v] = c.at
		if c.owner == "" {
			delete(n.claims, v)
			delete(n.claimRev, v)
		} else {
			n.claims[v], n.claimRev[v] = c.owner, c.created
		}
	}
}

// handOverLocked reports whether this node, which runs vnet, is to hand
// it over: it was moved to another live node, this node is draining and a
// node that is not takes it, or this node is settling and rendezvous
// hashing picks another for a VNet not moved to it. n.mu is held.
func (n *Node) handOverLocked(vnet string) bool {
	to := n.chooseLocked(vnet, "")
	if to == n.opts.Name {
		return false
	}
	settling := time.Since(n.joinedAt) < n.opts.Settle && !n.drained[to] && !n.movedIn[vnet]
	return n.moves[vnet] == to || (n.drained[n.opts.Name] && !n.drained[to]) || settling
}

// chooseLocked returns the node vnet belongs on, leaving out node without
// (the one that runs it, for its standby; "" for none): the live node it
// was moved to unless that one is draining, or the one rendezvous hashing
// picks among the nodes that are not draining (among all when all are).
// n.mu is held.
func (n *Node) chooseLocked(vnet, without string) string {
	if to := n.moves[vnet]; to != "" && to != without && !n.drained[to] {
		if _, ok := n.nodes[to]; ok {
			return to
		}
	}
	if best := n.pick(vnet, true, without); best != "" {
		return best
	}
	return n.pick(vnet, false, without)
}

// Elsewhere returns the Info of the live node that runs vnet when that is
// another node, or "".
func (n *Node) Elsewhere(vnet string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if owner := n.claims[vnet]; owner != "" && owner != n.opts.Name {
		return n.nodes[owner].info
	}
	return ""
}

// NodeStatus is a live node as this node sees the cluster.
type NodeStatus struct {
	Name string
	// Info is what the node registered (its API URL).
	Info string
	// Draining: the node takes no VNet and hands its own over.
	Draining bool
	// VNets are the VNets the node runs (lower-cased ids), sorted.
	VNets []string
	// Standby are the VNets the node would take over if the node that
	// runs them died, sorted.
	Standby []string
}

// Nodes returns the live nodes, by name.
func (n *Node) Nodes() []NodeStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	byName := make(map[string]*NodeStatus, len(n.nodes))
	for name, m := range n.nodes {
		byName[name] = &NodeStatus{Name: name, Info: m.info, Draining: n.drained[name]}
	}
	// One pass over the claims: each VNet's node and its standby.
	for v, owner := range n.claims {
		if st := byName[owner]; st != nil {
			st.VNets = append(st.VNets, v)
		}
		if st := byName[n.chooseLocked(v, owner)]; st != nil {
			st.Standby = append(st.Standby, v)
		}
	}
	out := make([]NodeStatus, 0, len(byName))
	for _, st := range byName {
		slices.Sort(st.VNets)
		slices.Sort(st.Standby)
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b NodeStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Move asks for vnet (a lower-cased id) to run on node to: the node that
// runs it stops it and hands it over, and to starts it. It is done when
// Nodes shows it on to; a move to the node that runs it calls off one asked
// for before. The request goes if to dies first.
func (n *Node) Move(ctx context.Context, vnet, to string) error {
	n.mu.Lock()
	m, ok := n.nodes[to]
	draining, owner := n.drained[to], n.claims[vnet]
	n.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("%w: %q", ErrNoSuchNode, to)
	case draining:
		return fmt.Errorf("%w: %q", ErrDraining, to)
	case owner == to:
		// Where it runs: a move to elsewhere asked for before is off.
		return write(ctx, func(ctx context.Context) error {
			_, err := n.cli.Delete(ctx, n.opts.Prefix+prefixMoves+vnet)
			return err
		})
	}
	return n.onNodesLease(ctx, to, m.lease, clientv3.OpPut(n.opts.Prefix+prefixMoves+vnet, to, clientv3.WithLease(m.lease)))
}

// Drain sets whether node name is draining. A draining node claims no
// VNet and hands the VNets it runs over to the nodes that are not
// draining, one by one as they take them; the flag goes with the node's
// lease, so that a node that starts again is not draining.
func (n *Node) Drain(ctx context.Context, name string, on bool) error {
	n.mu.Lock()
	m, ok := n.nodes[name]
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoSuchNode, name)
	}
	op := clientv3.OpDelete(n.opts.Prefix + prefixDrain + name)
	if on {
		op = clientv3.OpPut(n.opts.Prefix+prefixDrain+name, "", clientv3.WithLease(m.lease))
	}
	return n.onNodesLease(ctx, name, m.lease, op)
}

// onNodesLease writes op if node name still holds lease.
func (n *Node) onNodesLease(ctx context.Context, name string, lease clientv3.LeaseID, op clientv3.Op) error {
	var resp *clientv3.TxnResponse
	err := write(ctx, func(ctx context.Context) (err error) {
		resp, err = n.cli.Txn(ctx).If(clientv3.Compare(clientv3.LeaseValue(n.opts.Prefix+prefixNodes+name), "=", lease)).Then(op).Commit()
		return err
	})
	switch {
	case err != nil:
		return err
	case !resp.Succeeded:
		return fmt.Errorf("%w: %q (it left the cluster)", ErrNoSuchNode, name)
	}
	return nil
}

// Moved is one VNet that Rebalance moves.
type Moved struct {
	VNet, From, To string
}

// Rebalance moves every VNet that runs on another node than rendezvous
// hashing picks among the nodes that are not draining, as if every VNet
// were placed anew: after nodes joined, or a node came back. Each moved
// VNet stops for a moment (its tunnels come up again on the other node).
// With dryRun it only says what it would move.
func (n *Node) Rebalance(ctx context.Context, dryRun bool) ([]Moved, error) {
	n.mu.Lock()
	var moves []Moved
	for v, owner := range n.claims {
		if to := n.pick(v, true, ""); to != "" && to != owner {
			moves = append(moves, Moved{VNet: v, From: owner, To: to})
		}
	}
	n.mu.Unlock()
	slices.SortFunc(moves, func(a, b Moved) int { return strings.Compare(a.VNet, b.VNet) })
	if dryRun {
		return moves, nil
	}
	var done []Moved
	for _, m := range moves {
		if err := n.Move(ctx, m.VNet, m.To); err != nil {
			return done, fmt.Errorf("move %s to %s: %w", m.VNet, m.To, err)
		}
		done = append(done, m)
	}
	return done, nil
}

// pick returns the live node that rendezvous hashing gives vnet to: the
// one with the highest hash of (node, vnet), other than without; with
// notDraining, among the nodes that are not draining. n.mu is held.
func (n *Node) pick(vnet string, notDraining bool, without string) string {
	best, bestScore := "", uint64(0)
	for node := range n.nodes {
		if node == without || notDraining && n.drained[node] {
			continue
		}
		h := sha256.Sum256([]byte(node + "\x00" + vnet))
		if s := binary.BigEndian.Uint64(h[:8]); best == "" || s > bestScore || (s == bestScore && node < best) {
			best, bestScore = node, s
		}
	}
	return best
}

// setClaim records a claim this node made (owner), or released (""), at
// revision rev, before the watch reports it; unless the watch has shown a
// later change of the claim already.
func (n *Node) setClaim(vnet, owner string, rev int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if rev < n.claimAt[vnet] {
		return
	}
	n.claimAt[vnet] = rev
	if owner == "" {
		delete(n.claimRev, vnet)
	} else {
		n.claimRev[vnet] = rev
		delete(n.waiting, vnet)
	}
	if n.claims[vnet] != owner {
		if owner == "" {
			delete(n.claims, vnet)
		} else {
			n.claims[vnet] = owner
		}
		n.bump()
	}
}

// Fence returns the condition under which this node's writes for vnet
// (its status) may go to the store: its claim of vnet, as this node knows
// it, is still in etcd. A node that lost the claim and does not know it
// yet (cut off, or its watch behind) is refused, so that it does not
// write over the status of the node that took the VNet. It reports false
// when this node does not run vnet.
func (n *Node) Fence(vnet string) (store.Cond, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	rev := n.claimRev[vnet]
	if n.lease == 0 || n.fencedLocked() || n.claims[vnet] != n.opts.Name || rev == 0 {
		return store.Cond{}, false
	}
	return store.Cond{Key: n.opts.Prefix + prefixClaims + vnet, CreateRevision: rev, Global: true}, true
}

// fencedLocked tells whether the node has fenced itself, or is due to:
// member notices it only at its next tick, up to a tenth of the TTL
// later. n.mu is held.
func (n *Node) fencedLocked() bool {
	return n.fenced || !time.Now().Before(n.fenceAt)
}

// run keeps the node a member until ctx ends: join, follow, and join again
// after a lost lease.
func (n *Node) run(ctx context.Context) {
	defer close(n.done)
	first := true
	var heldUntil time.Time // when the lease that holds the node's name ends at the latest
	for ctx.Err() == nil {
		joined := false
		err := n.member(ctx, first, func() {
			joined = true
			if first {
				n.joinedCh <- nil
			}
		})
		if first && !joined && errors.Is(err, ErrNameInUse) {
			// This node's previous run, stopped without leaving (killed,
			// crashed), holds the name until its lease ends: wait for
			// that, as long as the lease has left. A live node renews
			// its lease, and is refused after the wait.
			if heldUntil.IsZero() {
				left := n.nameHeldFor(ctx)
				// etcd gives whole seconds left, and ends a lease up
				// to half a second after its time.
				heldUntil = time.Now().Add(left + 2*time.Second)
				n.log.Info("a node of this name is registered in etcd; waiting for its lease to end (this node's previous run?)", "node", n.opts.Name, "lease_left", left)
			}
			if time.Now().Before(heldUntil) {
				select {
				case <-time.After(250 * time.Millisecond):
				case <-ctx.Done():
				}
				continue
			}
		}
		if first && !joined {
			n.joinedCh <- err
			return
		}
		first = false
		if ctx.Err() != nil {
			return
		}
		n.log.Warn("lost membership of the cluster; running no VNet until it is back", "err", err)
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
}

// nameHeldFor returns how long the lease that holds the node's name has
// left, as etcd tells (this node's TTL when it does not).
func (n *Node) nameHeldFor(ctx context.Context) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, n.opts.TTL)
	defer cancel()
	get, err := n.cli.Get(ctx, n.opts.Prefix+prefixNodes+n.opts.Name)
	if err != nil || len(get.Kvs) == 0 {
		return n.opts.TTL
	}
	ttl, err := n.cli.TimeToLive(ctx, clientv3.LeaseID(get.Kvs[0].Lease))
	if err != nil || ttl.TTL < 0 {
		return n.opts.TTL
	}
	return time.Duration(ttl.TTL) * time.Second
}

// member registers the node on a new lease, calls joined, and follows the
// cluster until the lease is lost or ctx ends.
//
// The node fences itself: when etcd has not renewed its lease for two
// thirds of the lease's TTL it runs no VNet until a renewal comes, so that
// it has stopped before etcd can end the lease and another node take its
// VNets over. A renewal counts from when the node asked for it (renew),
// the grant from before it was asked for: etcd renewed the lease then or
// later.
func (n *Node) member(ctx context.Context, first bool, joined func()) error {
	if n.unrevoked != 0 {
		// Its name and claims go now, not a TTL after etcd came back:
		// until then this node would be refused its name, and the VNets
		// it claimed would run on no node.
		rctx, cancel := context.WithTimeout(ctx, n.opts.TTL)
		_, err := n.cli.Revoke(rctx, n.unrevoked)
		cancel()
		if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return fmt.Errorf("revoke the previous lease: %w", err)
		}
		n.unrevoked = 0
	}
	granting := time.Now()
	gctx, cancelGrant := context.WithTimeout(ctx, n.opts.TTL)
	grant, err := n.cli.Grant(gctx, int64((n.opts.TTL+time.Second-1)/time.Second))
	cancelGrant()
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	lease, ttl := grant.ID, time.Duration(grant.TTL)*time.Second
	kctx, stopKeepAlive := context.WithCancel(ctx)
	var helpers sync.WaitGroup // the renewals and the reads of the cluster again
	defer func() {
		stopKeepAlive()
		helpers.Wait()
		n.mu.Lock()
		n.lease, n.fenced = 0, false
		n.bump()
		n.mu.Unlock()
		// Revoke, so that other nodes need not wait for the TTL; a lease
		// that has ended already makes this fail, which is fine. When
		// etcd does not answer, the next join revokes it first.
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if _, err := n.cli.Revoke(rctx, lease); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			n.unrevoked = lease
		}
		cancel()
	}()
	renewals := make(chan renewal, 8)
	helpers.Go(func() { n.renew(kctx, &helpers, lease, ttl, renewals) })
	renewed := granting
	key := n.opts.Prefix + prefixNodes + n.opts.Name
	// The lease may have ended by the time an answer takes longer than
	// its TTL; meanwhile renew's goroutines would pile up unread.
	jctx, cancelJoin := context.WithTimeout(ctx, ttl)
	defer cancelJoin()
	ops := []clientv3.Op{clientv3.OpPut(key, n.opts.Info, clientv3.WithLease(lease))}
	if n.opts.Alike != "" {
		ops = append(ops, clientv3.OpPut(n.opts.Prefix+prefixAlike+n.opts.Name, n.opts.Alike, clientv3.WithLease(lease)))
	}
	resp, err := n.cli.Txn(jctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	if !resp.Succeeded {
		if first {
			return fmt.Errorf("%w: a live node is registered as %q in etcd: another serve, whose lease etcd renews", ErrNameInUse, n.opts.Name)
		}
		return fmt.Errorf("%w: %q", ErrNameInUse, n.opts.Name)
	}
	get, err := n.cli.Get(jctx, n.opts.Prefix, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("read the cluster: %w", err)
	}
	cancelJoin()
	// Of two nodes that join at once, the one registered last reads the
	// other's registration and is refused; the lease's revoke takes its
	// own.
	for _, kv := range get.Kvs {
		name, ok := strings.CutPrefix(strings.TrimPrefix(string(kv.Key), n.opts.Prefix), prefixAlike)
		if ok && n.opts.Alike != "" && name != n.opts.Name && string(kv.Value) != n.opts.Alike {
			return fmt.Errorf("%w: this node has %s, live node %q has %s: give every node the same", ErrUnlike, n.opts.Alike, name, kv.Value)
		}
	}
	n.mu.Lock()
	n.loadLocked(get.Kvs, get.Header.Revision)
	n.lease, n.joinedAt, n.fenceAt = lease, time.Now(), renewed.Add(2*ttl/3)
	n.bump()
	n.mu.Unlock()
	joined()
	n.log.Info("joined the cluster", "node", n.opts.Name, "nodes", len(n.nodes), "ttl", ttl)
	fence := time.NewTicker(ttl / 10)
	defer fence.Stop()
	// Progress notifications keep the revision the watch resumes from
	// after a reconnect recent, also while the cluster is quiet.
	watch := func(rev int64) (clientv3.WatchChan, context.CancelFunc) {
		wctx, cancel := context.WithCancel(ctx)
		return n.cli.Watch(wctx, n.opts.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev), clientv3.WithProgressNotify()), cancel
	}
	wch, stopWatch := watch(get.Header.Revision + 1)
	defer func() { stopWatch() }()
	var reread <-chan *clientv3.GetResponse // while the cluster is read again
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-renewals:
			if errors.Is(r.err, rpctypes.ErrLeaseNotFound) {
				return errors.New("the lease ended (etcd unreachable for longer than the TTL?)")
			}
			if r.err != nil || r.sent.Before(renewed) {
				continue
			}
			renewed = r.sent
			n.mu.Lock()
			was := n.fencedLocked()
			n.fenceAt = renewed.Add(2 * ttl / 3)
			if was && time.Now().Before(n.fenceAt) {
				n.fenced = false
				n.bump()
				n.log.Info("etcd renews the lease again; running VNets again")
			}
			n.mu.Unlock()
		case <-fence.C:
			if time.Since(renewed) > ttl {
				return errors.New("the lease ended: etcd has not renewed it for its TTL")
			}
			if time.Since(renewed) > 2*ttl/3 {
				n.mu.Lock()
				if !n.fenced {
					n.fenced = true
					n.bump()
					n.log.Warn("etcd has not renewed the lease for two thirds of its TTL; running no VNet, so that another node may take them over", "since", time.Since(renewed).Round(time.Millisecond))
				}
				n.mu.Unlock()
			}
		case resp, ok := <-wch:
			if !ok {
				return errors.New("watch ended")
			}
			if err := resp.Err(); err != nil {
				// The watch cannot go on (after a reconnect, its revision
				// was compacted): the node stays a member, reads the
				// cluster again, until a read succeeds, and watches from
				// there. Leaving would revoke the lease, and another node
				// would start at once the VNets this one has not stopped
				// yet; meanwhile the lease, renewed or not, decides, and
				// no other node can take a VNet that this one claims.
				stopWatch()
				wch = nil
				n.log.Info("reading the cluster again", "watch", err)
				reread = n.reread(kctx, &helpers, ttl/3)
				continue
			}
			n.mu.Lock()
			for _, e := range resp.Events {
				n.applyLocked(e.Kv, e.Type == clientv3.EventTypePut)
			}
			n.bump()
			n.mu.Unlock()
		case get := <-reread:
			reread = nil
			n.mu.Lock()
			n.loadLocked(get.Kvs, get.Header.Revision)
			n.bump()
			n.mu.Unlock()
			wch, stopWatch = watch(get.Header.Revision + 1)
		}
	}
}

// reread reads the cluster with a timeout of its own for each try, again
// after a pause when a try fails, until one succeeds, which it sends, or
// ctx ends.
func (n *Node) reread(ctx context.Context, wg *sync.WaitGroup, timeout time.Duration) <-chan *clientv3.GetResponse {
	out := make(chan *clientv3.GetResponse, 1)
	wg.Go(func() {
		for {
			rctx, cancel := context.WithTimeout(ctx, timeout)
			get, err := n.cli.Get(rctx, n.opts.Prefix, clientv3.WithPrefix())
			cancel()
			if err == nil {
				out <- get
				return
			}
			if ctx.Err() != nil {
				return
			}
			n.log.Warn("reading the cluster again", "err", err)
			select {
			case <-time.After(timeout / 4):
			case <-ctx.Done():
				return
			}
		}
	})
	return out
}

// renewal is the outcome of one renewal of the lease and when it was
// asked for.
type renewal struct {
	sent time.Time
	err  error
}

// renew asks etcd to renew lease every quarter of its TTL, without waiting
// for the answer to the last request, and sends out each outcome with the
// time it was asked for, until ctx ends. etcd renewed the lease at that
// time or later; the time the answer came would not do (etcd's
// KeepAlive gives only that): an answer held up on the way (a congested
// link, a process that did not get to read it) would have the node count
// on a lease that etcd may have ended, and another node run its VNets.
func (n *Node) renew(ctx context.Context, wg *sync.WaitGroup, lease clientv3.LeaseID, ttl time.Duration, out chan<- renewal) {
	t := time.NewTicker(ttl / 4)
	defer t.Stop()
	for {
		sent := time.Now()
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, ttl)
			_, err := n.cli.KeepAliveOnce(rctx, lease)
			cancel()
			select {
			case out <- renewal{sent, err}:
			case <-ctx.Done():
			}
		})
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// applyLocked applies one key of the cluster, put or deleted; n.mu is
// held.
func (n *Node) applyLocked(kv *mvccpb.KeyValue, put bool) {
	value, lease := string(kv.Value), clientv3.LeaseID(kv.Lease)
	rest := strings.TrimPrefix(string(kv.Key), n.opts.Prefix)
	switch {
	case strings.HasPrefix(rest, prefixNodes):
		name := strings.TrimPrefix(rest, prefixNodes)
		if put {
			n.nodes[name] = member{info: value, lease: lease}
		} else {
			delete(n.nodes, name)
		}
	case strings.HasPrefix(rest, prefixMoves):
		if vnet := strings.TrimPrefix(rest, prefixMoves); put {
			n.moves[vnet] = value
		} else {
			delete(n.moves, vnet)
		}
	case strings.HasPrefix(rest, prefixDrain):
		if name := strings.TrimPrefix(rest, prefixDrain); put {
			n.drained[name] = true
		} else {
			delete(n.drained, name)
		}
	case strings.HasPrefix(rest, prefixClaims):
		vnet := strings.TrimPrefix(rest, prefixClaims)
		if kv.ModRevision < n.claimAt[vnet] {
			return // older than this node's own claim or release
		}
		n.claimAt[vnet] = kv.ModRevision
		if put {
			n.claims[vnet], n.claimRev[vnet] = value, kv.CreateRevision
			delete(n.waiting, vnet)
		} else {
			delete(n.claims, vnet)
			delete(n.claimRev, vnet)
		}
	}
}
