package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
)

// Run applies the region's desired state to the engine now and after every
// change of it, and writes the observed state back, until ctx ends: at
// once after a change of the desired state, then every FastStatusInterval
// for FastStatusPeriod, so that a tunnel that comes up shows Connected
// within a fraction of a second, and otherwise every StatusInterval. The
// fast passes write only the statuses whose state changed; counters (which
// under traffic always differ) go every StatusInterval. Status writes,
// this node's or another's, change the store too but do not wake it
// (region.Changed): under traffic it would write without pause.
//
// With a placement (several nodes sharing the region), the node runs, and
// writes the status of, only the VNets placed on it; nil runs them all.
// Each VNet's status is written only while the node's claim of it holds
// in the store (Placement.Fence): a node that lost the VNet and does not
// know it yet (cut off, its view of the cluster behind) is refused, does
// not write over the status of the node that took the VNet over, and
// stops the VNet at once. A VNet lost so, or to the node fencing itself
// (cut off from etcd), is stopped before anything else is built, and the
// node builds the configuration of the VNets it runs only: in a large
// region, building all of them took longer than the lease leaves. A VNet
// handed over (moved, drained, rebalanced) has its status written a last
// time under its claim, with what its connections carried until it
// stopped, before the claim is released: the node that takes it over
// counts on from there (R39), and writes the VNet's statuses only once its
// view of the store holds that last one (Region.SeenStatuses: one read of
// every status, per takeover).
//
// When ctx ends, the status is written a last time, before the data plane
// stops: what the connections carried until now (their bytes go on from
// there at the next start) and NotConnected, as they are once it has
// stopped. Run returns when no status write is under way, so that the
// store may close; a store that takes longer than LastStatusWait loses
// the last one.
func Run(ctx context.Context, reg *region.Region, eng *dataplane.Engine, place Placement, log *slog.Logger) {
	timer := time.NewTimer(StatusInterval)
	defer timer.Stop()
	lastRev, lastGen := int64(-1), uint64(0)
	var lastOwned map[string]bool
	var lastFences map[string]store.Cond
	var lastCfg dataplane.Config    // the configuration the engine runs
	var lastGUIDs map[string]string // the resourceGuid of each connection it runs, by id
	// Status goes to the store from a goroutine of its own: a store that
	// does not answer (etcd cut off) holds up no placement, and a node
	// that fenced itself stops its VNets at once. A status not yet
	// written when a newer one comes is replaced by it, except the
	// VNets the newer one leaves out: a VNet handed over keeps its last.
	statuses := make(chan statusWrite, 1)
	// wrote takes the seq of each statusWrite once the store answered
	// it; seq counts those handed.
	wrote := make(chan uint64, 1)
	var seq uint64
	// The claims the store refused a status write under: their VNets run
	// here no more. A refusal the loop has not taken yet is dropped, and
	// made again by the next write.
	refusedCh := make(chan store.Cond, 16)
	refused := map[store.Cond]bool{}
	wctx, cancelWrites := context.WithCancel(context.Background())
	written := make(chan struct{})
	go func() {
		writeStatuses(wctx, reg, statuses, refusedCh, wrote, log)
		close(written)
	}()
	defer func() {
		close(statuses)
		t := time.NewTimer(LastStatusWait)
		select {
		case <-written:
		case <-t.C:
			log.Warn("the last status was not written: the store did not answer", "waited", LastStatusWait)
		}
		t.Stop()
		cancelWrites()
		<-written
	}()
	hand := func(s statusWrite) {
		seq++
		s.seq = seq
		select {
		case old := <-statuses: // superseded
			fences := maps.Clone(s.fences) // s's may be the loop's
			if fences == nil {
				fences = map[string]store.Cond{}
			}
			for v, w := range old.byVNet {
				if _, ok := s.byVNet[v]; ok || v == "" {
					continue
				}
				s.byVNet[v] = w
				if c, ok := old.fences[v]; ok {
					fences[v] = c
				}
			}
			s.fences = fences
		default:
		}
		statuses <- s
	}
	// final are the VNets handed over whose last status is on its way to
	// the store, with the seq of its write: their claims are kept until
	// it is written.
	final := map[string]uint64{}
	// caught are the VNets placed here whose statuses the region's model
	// has caught up with (Region.SeenStatuses) since: a VNet taken over
	// counts its connections' bytes on from the last status the node
	// before wrote, which may reach the model later than the claim did.
	// Only their statuses are written. catching are the VNets of the
	// catch-up under way, which answers on caughtUp.
	caught := map[string]bool{}
	var catching map[string]bool
	caughtUp := make(chan error, 1)
	// writable is what of owned has its statuses written: all of it
	// without a placement (nil), else what caught up.
	writable := func(owned map[string]bool) map[string]bool {
		if place == nil {
			return owned
		}
		w := map[string]bool{}
		for v := range owned {
			if caught[v] {
				w[v] = true
			}
		}
		return w
	}
	var fastUntil, countersAt time.Time
	// reconfig hands cfg to the engine; false when the engine is closed.
	reconfig := func(cfg dataplane.Config, rev int64) bool {
		did, err := eng.Reconfig(cfg)
		switch {
		case errors.Is(err, dataplane.ErrClosed):
			return false
		case err != nil:
			log.Error("reconfigure data plane", "rev", rev, "err", err)
		case did:
			log.Info("data plane reconfigured", "rev", rev)
			fastUntil = time.Now().Add(FastStatusPeriod)
		}
		lastCfg = cfg
		return true
	}
	// stopLost stops at once the VNets of those the engine runs that
	// another node may start now (lost), before anything else: a
	// Build of a new configuration may take long.
	stopLost := func(lost map[string]bool, rev int64) bool {
		if len(lost) == 0 {
			return true
		}
		keep := map[string]bool{}
		for v := range lastOwned {
			if !lost[v] {
				keep[v] = true
			}
		}
		cfg := only(lastCfg, keep)
		cfg.Lost = lost
		lastOwned = keep
		return reconfig(cfg, rev)
	}
	var placed <-chan struct{}
	due := true // the status is to be read and written on this pass
	for {
		changed := reg.Changed() // before the snapshot, so no change is missed
		snap := reg.Snapshot()
		var owned map[string]bool
		var fences map[string]store.Cond
		node := ""
		// A stop in the background that ends wakes the loop: a gateway
		// that waits for it to free its address starts (Retry).
		leaving, stopped := eng.Stopping()
		for v := range final {
			leaving[v] = true
		}
		if place != nil {
			node = place.Name()
			placed = place.Changed()
			// A VNet handed over is released only once its stop in the
			// background has ended: the node it goes to adds the same
			// public address and binds the same sockets.
			owned, fences, refused = fenced(place, place.Place(ctx, vnetIDs(snap), leaving), refused)
			if !stopLost(lost(place, lastOwned, owned, refused), snap.Rev) {
				return
			}
		}
		if snap.ConfigRev != lastRev || snap.RemoteGen != lastGen || !maps.Equal(owned, lastOwned) {
			cfg := Build(snap, owned)
			if place != nil {
				// A claim lost while it was built (the node fenced
				// itself, cut off from etcd) is not started again.
				owned, fences, refused = fenced(place, owned, refused)
				cfg = only(cfg, owned)
				cfg.Lost = lost(place, lastOwned, owned, refused)
				if out, outFences := handedOver(place, lastOwned, owned, refused); len(out) > 0 {
					// Read before they stop: the engine shows no more
					// of them after.
					hand(statusUpdates(snap, stopping(eng.Status(), reasonMoved), writable(out), outFences, node, true))
					for v := range out {
						final[v] = seq
					}
				}
			}
			lastRev, lastGen, lastOwned, lastFences, due = snap.ConfigRev, snap.RemoteGen, owned, fences, true
			// A connection deleted and made again since the last build
			// (both seen at once) is another: it leaves the data plane
			// first, its tunnel, IKE SAs and counters with it, and starts
			// anew, as one made under a new id does.
			guids := connectionGUIDs(snap)
			if again := remade(lastGUIDs, guids); len(again) > 0 && !reconfig(without(cfg, again), snap.Rev) {
				return
			}
			lastGUIDs = guids
			if !reconfig(cfg, snap.Rev) {
				return
			}
		}
		if due && eng.Retry() {
			fastUntil = time.Now().Add(FastStatusPeriod)
		}
		if due && place != nil {
			for v := range caught {
				if !owned[v] {
					delete(caught, v) // taken over again later, it catches up again
				}
			}
			if behind := maps.Clone(owned); catching == nil {
				maps.DeleteFunc(behind, func(v string, _ bool) bool { return caught[v] })
				if len(behind) > 0 {
					catching = behind
					go func() { caughtUp <- reg.SeenStatuses(ctx) }()
				}
			}
		}
		if due {
			// Counters go every StatusInterval, the fast passes
			// between write what changed state only.
			now := time.Now()
			counters := !now.Before(countersAt)
			if counters {
				countersAt = now.Add(StatusInterval)
			}
			hand(statusUpdates(snap, eng.Status(), writable(owned), fences, node, counters))
			wait := StatusInterval
			if time.Now().Before(fastUntil) {
				wait = FastStatusInterval
			}
			timer.Reset(wait)
		}
		var answered <-chan uint64 // only while a handed-over VNet's claim waits for it
		if len(final) > 0 {
			answered = wrote
		}
		select {
		case <-changed:
			due = false
		case <-placed:
			due = false
		case <-stopped:
			due = true
		case n := <-answered:
			// A handed-over VNet's last status written: its claim
			// goes at the next Place.
			due = false
			for v, at := range final {
				if at <= n {
					delete(final, v)
				}
			}
		case c := <-refusedCh:
			refused[c], due = true, false
			gone := map[string]bool{}
			for v, f := range lastFences {
				if f == c && lastOwned[v] {
					gone[v] = true
				}
			}
			if len(gone) > 0 {
				log.Warn("another node took a VNet over (a status write under this node's claim was refused); stopping it here", "claim", c.Key)
			}
			if !stopLost(gone, lastRev) {
				return
			}
		case err := <-caughtUp:
			// On a pass of its own, with a snapshot taken after it: the
			// statuses of the VNets it is for are written now. Failed
			// (the store does not answer), it is tried again at the next
			// pass, and they wait.
			due = err == nil
			if err != nil {
				log.Warn("the stored status of VNets placed here could not be read; theirs is written once it is", "vnets", len(catching), "err", err)
			}
			for v := range catching {
				if err == nil && owned[v] {
					caught[v] = true
				}
			}
			catching = nil
		case <-timer.C:
			due = true
		case <-ctx.Done():
			hand(statusUpdates(reg.Snapshot(), stopping(eng.Status(), reasonStopped), writable(lastOwned), lastFences, node, true))
			return
		}
	}
}

// LastStatusWait is how long Run waits at its end for the status to be
// written.
const LastStatusWait = 5 * time.Second

// stopping is what the data plane will show once it has stopped: every
// connection NotConnected for reason, with what it carried until now.
func stopping(observed dataplane.Status, reason string) dataplane.Status {
	conns := make(map[string]dataplane.ConnectionStatus, len(observed.Connections))
	for key, c := range observed.Connections {
		c.State, c.Reason = dataplane.NotConnected, reason
		c.Tunnels = slices.Clone(c.Tunnels)
		for i := range c.Tunnels {
			c.Tunnels[i].State, c.Tunnels[i].Reason = dataplane.NotConnected, reason
		}
		conns[key] = c
	}
	observed.Connections = conns
	return observed
}

const (
	reasonStopped = "serve stopped on the node that runs this connection's gateway; the tunnel is set up again when it starts"
	reasonMoved   = "the gateway's VNet moves to another node; the tunnel is set up again when it starts there"
)

// fencesPerTxn is how many VNets' statuses go in one transaction, each
// with the condition of its claim (etcd takes up to 128 conditions).
const fencesPerTxn = 32

// writeStatuses writes each status the loop hands it, until statuses is
// closed, sends on refused the fence of each VNet whose write the store
// refused, and on wrote the seq of each write the store answered (the
// latest only, when the loop has not taken the one before); ctx ends a
// write under way.
//
// The statuses of up to fencesPerTxn VNets go in one transaction under
// all their fences, as one write without fences did; when it is refused,
// each VNet's goes alone, to learn which claim was lost.
func writeStatuses(ctx context.Context, reg *region.Region, statuses <-chan statusWrite, refused chan<- store.Cond, wrote chan uint64, log *slog.Logger) {
	put := func(vnets []string, s statusWrite) error {
		all := map[string][]byte{}
		var conds []store.Cond
		for _, v := range vnets {
			maps.Copy(all, s.byVNet[v])
			if c, ok := s.fences[v]; ok {
				conds = append(conds, c)
			}
		}
		err := reg.PutStatuses(ctx, all, conds...)
		if err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrConflict) {
			log.Warn("write status", "err", err)
		}
		return err
	}
	for s := range statuses {
		for vnets := range slices.Chunk(slices.Sorted(maps.Keys(s.byVNet)), fencesPerTxn) {
			if !errors.Is(put(vnets, s), store.ErrConflict) {
				continue
			}
			for _, v := range vnets {
				if errors.Is(put([]string{v}, s), store.ErrConflict) {
					select {
					case refused <- s.fences[v]:
					default:
					}
				}
			}
		}
		select {
		case <-wrote: // not taken yet: this one says more
		default:
		}
		wrote <- s.seq
	}
}

// fenced returns, of owned, the VNets whose claim place holds (as far as
// it knows) and the store did not refuse a write under, with their
// fences, and of refused the claims that are still those of VNets in
// owned.
func fenced(place Placement, owned map[string]bool, refused map[store.Cond]bool) (map[string]bool, map[string]store.Cond, map[store.Cond]bool) {
	fences := make(map[string]store.Cond, len(owned))
	still := map[store.Cond]bool{}
	for v := range owned {
		c, ok := place.Fence(v)
		switch {
		case !ok:
			delete(owned, v)
		case refused[c]:
			still[c] = true
			delete(owned, v)
		default:
			fences[v] = c
		}
	}
	return owned, fences, still
}

// handedOver returns, of the VNets the node ran (ran) and runs no more,
// those whose claim it still holds and the store did not refuse a write
// under, with their fences: handed over (or deleted), they may have their
// status written a last time.
func handedOver(place Placement, ran, owned map[string]bool, refused map[store.Cond]bool) (map[string]bool, map[string]store.Cond) {
	out, fences := map[string]bool{}, map[string]store.Cond{}
	for v := range ran {
		if owned[v] {
			continue
		}
		if c, ok := place.Fence(v); ok && !refused[c] {
			out[v], fences[v] = true, c
		}
	}
	return out, fences
}

// lost returns, of the VNets the node ran (ran) and runs no more, those
// whose claim it no longer holds, or under which the store refused a
// write: another node may start them now. A VNet handed over or deleted
// is not among them: its claim is kept until it has stopped.
func lost(place Placement, ran, owned map[string]bool, refused map[store.Cond]bool) map[string]bool {
	out := map[string]bool{}
	for v := range ran {
		if owned[v] {
			continue
		}
		if c, ok := place.Fence(v); !ok || refused[c] {
			out[v] = true
		}
	}
	return out
}

// Placement decides which VNets this node runs (cluster.Node).
type Placement interface {
	// Place claims what this node should run among vnets (every VNet's
	// lower-cased id) and returns what it runs; it keeps its claims of
	// those in stopping, which this node is still stopping.
	Place(ctx context.Context, vnets []string, stopping map[string]bool) map[string]bool
	// Changed is closed at the next change of the placement.
	Changed() <-chan struct{}
	// Name names this node.
	Name() string
	// Fence returns the condition under which a status write of vnet
	// may go to the store: this node's claim of it holds there. It
	// reports false when this node does not run vnet.
	Fence(vnet string) (store.Cond, bool)
}

func vnetIDs(s *region.Snapshot) []string {
	var out []string
	for _, v := range s.VirtualNetworks() {
		out = append(out, strings.ToLower(v.ID))
	}
	return out
}

// connectionGUIDs returns the resourceGuid of each connection of s, by
// lower-cased id.
func connectionGUIDs(s *region.Snapshot) map[string]string {
	out := map[string]string{}
	for _, c := range s.Connections() {
		out[strings.ToLower(c.ID)] = c.Properties.ResourceGUID
	}
	return out
}

// remade returns the connections of now that were in before under
// another resourceGuid: deleted and made again under their id.
func remade(before, now map[string]string) map[string]bool {
	out := map[string]bool{}
	for id, guid := range now {
		if old, ok := before[id]; ok && old != guid {
			out[id] = true
		}
	}
	return out
}

// without returns cfg without the connections in conns, and their BGP
// peers.
func without(cfg dataplane.Config, conns map[string]bool) dataplane.Config {
	out := cfg
	out.Gateways = make([]dataplane.Gateway, len(cfg.Gateways))
	for i, g := range cfg.Gateways {
		g.Connections = slices.DeleteFunc(slices.Clone(g.Connections), func(c dataplane.Connection) bool { return conns[c.ID] })
		if g.BGP != nil {
			b := *g.BGP
			b.Peers = slices.DeleteFunc(slices.Clone(b.Peers), func(p dataplane.BGPPeer) bool { return conns[p.Connection] })
			g.BGP = &b
		}
		out.Gateways[i] = g
	}
	return out
}

// only keeps the VNets of cfg in owned, and their gateways; nil owned
// keeps everything.
func only(cfg dataplane.Config, owned map[string]bool) dataplane.Config {
	if owned == nil {
		return cfg
	}
	var out dataplane.Config
	for _, v := range cfg.VNets {
		if owned[v.ID] {
			out.VNets = append(out.VNets, v)
		}
	}
	for _, g := range cfg.Gateways {
		if owned[g.VNet] {
			out.Gateways = append(out.Gateways, g)
		}
	}
	return out
}
