package reconcile

import (
	"context"
	"errors"
	"log/slog"

	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/region"
)

// Run applies the region's desired state to the engine now and after every
// change, until ctx ends.
func Run(ctx context.Context, reg *region.Region, eng *dataplane.Engine, log *slog.Logger) {
	for {
		changed := reg.Changed() // before the snapshot, so no change is missed
		snap := reg.Snapshot()
		did, err := eng.Reconfig(Build(snap))
		switch {
		case errors.Is(err, dataplane.ErrClosed):
			return
		case err != nil:
			log.Error("reconfigure data plane", "rev", snap.Rev, "err", err)
		case did:
			log.Info("data plane reconfigured", "rev", snap.Rev)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
