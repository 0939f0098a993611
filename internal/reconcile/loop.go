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
// change of it, and writes the observed state back, until ctx ends: at
// once after a change of the desired state, then every FastStatusInterval
// for FastStatusPeriod, so that a tunnel that comes up shows Connected
// within a fraction of a second, and otherwise every StatusInterval. Its
// own status writes change the store too but do not wake it: under
// traffic the counters always differ, and it would write without pause.
func Run(ctx context.Context, reg *region.Region, eng *dataplane.Engine, log *slog.Logger) {
	timer := time.NewTimer(StatusInterval)
	defer timer.Stop()
	lastRev, lastGen := int64(-1), uint64(0)
	var fastUntil time.Time
	due := true // the status is to be read and written on this pass
	for {
		changed := reg.Changed() // before the snapshot, so no change is missed
		snap := reg.Snapshot()
		if snap.ConfigRev != lastRev || snap.RemoteGen != lastGen {
			lastRev, lastGen, due = snap.ConfigRev, snap.RemoteGen, true
			did, err := eng.Reconfig(Build(snap))
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
			if err := reg.PutStatuses(ctx, statusUpdates(snap, eng.Status())); err != nil && ctx.Err() == nil {
				log.Warn("write status", "err", err)
			}
			wait := StatusInterval
			if time.Now().Before(fastUntil) {
				wait = FastStatusInterval
			}
			timer.Reset(wait)
		}
		select {
		case <-changed:
			due = false
		case <-timer.C:
			due = true
		case <-ctx.Done():
			return
		}
	}
}
