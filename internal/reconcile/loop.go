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
)

// Run applies the region's desired state to the engine now and after every
// change of it, and writes the observed state back, until ctx ends: at
// once after a change of the desired state, then every FastStatusInterval
// for FastStatusPeriod, so that a tunnel that comes up shows Connected
// within a fraction of a second, and otherwise every StatusInterval. Its
// own status writes change the store too but do not wake it: under
// traffic the counters always differ, and it would write without pause.
//
// With a placement (several nodes sharing the region), the node runs, and
// writes the status of, only the VNets placed on it; nil runs them all.
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
	// Status goes to the store from a goroutine of its own: a store that
	// does not answer (etcd cut off) holds up no placement, and a node
	// that fenced itself stops its VNets at once. A status not yet
	// written when a newer one comes is not written.
	statuses := make(chan map[string][]byte, 1)
	wctx, cancelWrites := context.WithCancel(context.Background())
	written := make(chan struct{})
	go func() {
		writeStatuses(wctx, reg, statuses, log)
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
	hand := func(s map[string][]byte) {
		select {
		case <-statuses: // superseded
		default:
		}
		statuses <- s
	}
	var placed <-chan struct{}
	var fastUntil time.Time
	due := true // the status is to be read and written on this pass
	for {
		changed := reg.Changed() // before the snapshot, so no change is missed
		snap := reg.Snapshot()
		var owned map[string]bool
		node := ""
		if place != nil {
			node = place.Name()
			placed = place.Changed()
			owned = place.Place(ctx, vnetIDs(snap))
		}
		if snap.ConfigRev != lastRev || snap.RemoteGen != lastGen || !maps.Equal(owned, lastOwned) {
			lastRev, lastGen, lastOwned, due = snap.ConfigRev, snap.RemoteGen, owned, true
			did, err := eng.Reconfig(only(Build(snap), owned))
			switch {
			case errors.Is(err, dataplane.ErrClosed):
				return
			case err != nil:
				log.Error("reconfigure data plane", "rev", snap.Rev, "err", err)
			case did:
				log.Info("data plane reconfigured", "rev", snap.Rev)
				fastUntil = time.Now().Add(FastStatusPeriod)
			}
		}
		if due && eng.Retry() {
			fastUntil = time.Now().Add(FastStatusPeriod)
		}
		if due {
			hand(statusUpdates(snap, eng.Status(), owned, node))
			wait := StatusInterval
			if time.Now().Before(fastUntil) {
				wait = FastStatusInterval
			}
			timer.Reset(wait)
		}
		select {
		case <-changed:
			due = false
		case <-placed:
			due = false
		case <-timer.C:
			due = true
		case <-ctx.Done():
			hand(statusUpdates(reg.Snapshot(), stopping(eng.Status()), lastOwned, node))
			return
		}
	}
}

// LastStatusWait is how long Run waits at its end for the status to be
// written.
const LastStatusWait = 5 * time.Second

// stopping is what the data plane will show once it has stopped: every
// connection NotConnected, with what it carried until now.
func stopping(observed dataplane.Status) dataplane.Status {
	conns := make(map[string]dataplane.ConnectionStatus, len(observed.Connections))
	for key, c := range observed.Connections {
		c.State, c.Reason = dataplane.NotConnected, reasonStopped
		c.Tunnels = slices.Clone(c.Tunnels)
		for i := range c.Tunnels {
			c.Tunnels[i].State, c.Tunnels[i].Reason = dataplane.NotConnected, reasonStopped
		}
		conns[key] = c
	}
	observed.Connections = conns
	return observed
}

const reasonStopped = "serve stopped on the node that runs this connection's gateway; the tunnel is set up again when it starts"

// writeStatuses writes each status the loop hands it, until statuses is
// closed; ctx ends a write under way.
func writeStatuses(ctx context.Context, reg *region.Region, statuses <-chan map[string][]byte, log *slog.Logger) {
	for s := range statuses {
		if err := reg.PutStatuses(ctx, s); err != nil && ctx.Err() == nil {
			log.Warn("write status", "err", err)
		}
	}
}

// Placement decides which VNets this node runs (cluster.Node).
type Placement interface {
	// Place claims what this node should run among vnets (every VNet's
	// lower-cased id) and returns what it runs.
	Place(ctx context.Context, vnets []string) map[string]bool
	// Changed is closed at the next change of the placement.
	Changed() <-chan struct{}
	// Name names this node.
	Name() string
}

func vnetIDs(s *region.Snapshot) []string {
	var out []string
	for _, v := range s.VirtualNetworks() {
		out = append(out, strings.ToLower(v.ID))
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
