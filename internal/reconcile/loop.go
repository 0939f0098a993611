package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
)

// Run applies the region's desired state to the engine now and after every
// change, and writes the observed state back every StatusInterval, until
// ctx ends.
func Run(ctx context.Context, reg *region.Region, eng *dataplane.Engine, log *slog.Logger) {
	tick := time.NewTicker(StatusInterval)
	defer tick.Stop()
	lastRev, lastGen := int64(-1), uint64(0)
	for {
		changed := reg.Changed() // before the snapshot, so no change is missed
		snap := reg.Snapshot()
		if snap.Rev != lastRev || snap.RemoteGen != lastGen {
			lastRev, lastGen = snap.Rev, snap.RemoteGen
			did, err := eng.Reconfig(Build(snap))
			switch {
			case errors.Is(err, dataplane.ErrClosed):
				return
			case err != nil:
				log.Error("reconfigure data plane", "rev", snap.Rev, "err", err)
			case did:
				log.Info("data plane reconfigured", "rev", snap.Rev)
			}
		}
		if err := reg.PutStatuses(ctx, statusUpdates(snap, eng.Status())); err != nil && ctx.Err() == nil {
			log.Warn("write status", "err", err)
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}
