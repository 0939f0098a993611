package region

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// A VNet-to-VNet connection may name a gateway of another region, which
// lives in another vnetgw process with its own state (R1, R31). The region
// resolves such gateways through Remotes (internal/federation asks the peer
// regions' APIs) and keeps what it learned in a cache, refreshed while the
// connections need it, so that the rules (R28, R35) and the data plane see
// the remote gateway's type, public address and address space.

// RemoteGateway is a gateway of another region as that region shows it.
type RemoteGateway struct {
	Gateway      arm.VirtualNetworkGateway
	PublicAddr   netip.Addr
	VNetID       string
	VNetPrefixes []string
}

// ErrNoRemote says no peer region has the gateway.
var ErrNoRemote = errors.New("no peer region has this gateway")

// Remotes finds gateways in other regions.
type Remotes interface {
	// Gateway returns the gateway id from the peer region that has it, or
	// an error wrapping ErrNoRemote when none has it.
	Gateway(ctx context.Context, id string) (*RemoteGateway, error)
}

// RemoteRefresh is how often remote gateways in use are looked up again.
const RemoteRefresh = 5 * time.Second

// remoteView returns a copy of the cache for a transaction.
func (r *Region) remoteView() map[string]*RemoteGateway {
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	return maps.Clone(r.remoteCache)
}

// resolveRemote makes sure the cache holds gateway id when it is not a
// local gateway, asking the peers. It is called before a write, outside
// the region's locks.
func (r *Region) resolveRemote(ctx context.Context, id string) error {
	if r.remotes == nil || id == "" {
		return nil
	}
	local := false
	r.view(func(tx *txn) error {
		local = getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id) != nil
		return nil
	})
	if local {
		return nil
	}
	rg, err := r.remotes.Gateway(ctx, id)
	switch {
	case errors.Is(err, ErrNoRemote):
		return nil // the write reports the missing reference
	case err != nil:
		return &arm.Error{Code: arm.CodeInvalidReference, Target: "properties.virtualNetworkGateway2",
			Message: fmt.Sprintf("properties.virtualNetworkGateway2: the peer regions could not be asked for %s: %v", id, err)}
	}
	r.setRemote(id, rg)
	return nil
}

func (r *Region) setRemote(id string, rg *RemoteGateway) bool {
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	key := strings.ToLower(id)
	old := r.remoteCache[key]
	if old != nil && rg != nil && old.PublicAddr == rg.PublicAddr && old.Gateway.Etag == rg.Gateway.Etag &&
		strings.Join(old.VNetPrefixes, ",") == strings.Join(rg.VNetPrefixes, ",") {
		return false
	}
	if rg == nil {
		if old == nil {
			return false
		}
		delete(r.remoteCache, key)
	} else {
		r.remoteCache[key] = rg
	}
	r.remoteGen++
	return true
}

// refreshRemotes looks up again every remote gateway that a connection
// names, until ctx ends; a change (a new public address, R20) wakes the
// reconcile loop.
func (r *Region) refreshRemotes(ctx context.Context) {
	t := time.NewTicker(RemoteRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var ids []string
		r.view(func(tx *txn) error {
			for _, c := range list[arm.Connection](tx, arm.TypeConnection) {
				g2 := c.Properties.VirtualNetworkGateway2.RefID()
				if g2 != "" && getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, g2) == nil {
					ids = append(ids, g2)
				}
			}
			return nil
		})
		changed := false
		for _, id := range ids {
			rctx, cancel := context.WithTimeout(ctx, RemoteRefresh)
			rg, err := r.remotes.Gateway(rctx, id)
			cancel()
			switch {
			case errors.Is(err, ErrNoRemote):
				changed = r.setRemote(id, nil) || changed
			case err != nil:
				r.log.Warn("peer region unreachable; keeping what is known", "gateway", id, "err", err)
			default:
				changed = r.setRemote(id, rg) || changed
			}
		}
		if changed {
			r.mu.Lock()
			r.bump()
			r.mu.Unlock()
		}
	}
}
