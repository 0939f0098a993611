package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"maps"
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
	go writeStatuses(ctx, reg, statuses, log)
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
			select {
			case <-statuses: // superseded
			default:
			}
			statuses <- statusUpdates(snap, eng.Status(), owned, node)
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
			return
		}
	}
}

// writeStatuses writes each status the loop hands it, until ctx ends.
func writeStatuses(ctx context.Context, reg *region.Region, statuses <-chan map[string][]byte, log *slog.Logger) {
	for {
		select {
		case s := <-statuses:
			if err := reg.PutStatuses(ctx, s); err != nil && ctx.Err() == nil {
				log.Warn("write status", "err", err)
			}
		case <-ctx.Done():
			return
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
