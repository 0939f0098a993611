package region

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store"
)

// Connection states, as ARM spells them.
const (
	Connected    = "Connected"
	Connecting   = "Connecting"
	NotConnected = "NotConnected"
)

// ConnectionStatus is the observed state of a connection. The reconcile
// loop writes it; GET of the connection shows it. It is kept apart from the
// desired state: writing it never conflicts with a configuration change.
type ConnectionStatus struct {
	ConnectionStatus string                       `json:"connectionStatus"`
	IngressBytes     int64                        `json:"ingressBytes"`
	EgressBytes      int64                        `json:"egressBytes"`
	Tunnels          []arm.TunnelConnectionHealth `json:"tunnels,omitempty"`
	InterRegion      bool                         `json:"interRegion"`
	// Reason says why a connection is not connected, or, when it is,
	// which of its prefix pairs are not up, for people.
	Reason string `json:"reason,omitempty"`
	// Epoch names the data plane engine whose counters the bytes were
	// last taken from, and Base what the connection and each tunnel (by
	// name) had carried before that engine started: the bytes shown are
	// Base and the engine's counters, so they go on across a restart of
	// serve or a move of the VNet to another node (R39).
	Epoch string       `json:"epoch,omitempty"`
	Base  *CounterBase `json:"base,omitempty"`
	// GUID is the resourceGuid of the connection it was written for:
	// a connection deleted and made again under its id (a new
	// resourceGuid) is another, and shows nothing of the first's
	// status.
	GUID string `json:"guid,omitempty"`
}

// Of reports whether the status is of the connection with resourceGuid
// guid. One written before GUID was stored is taken as of the
// connection that has its id.
func (s *ConnectionStatus) Of(guid string) bool { return s.GUID == "" || s.GUID == guid }

// CounterBase is what a connection carried under engines before the
// current one, in all and by tunnel name.
type CounterBase struct {
	Ingress int64               `json:"ingress"`
	Egress  int64               `json:"egress"`
	Tunnels map[string][2]int64 `json:"tunnels,omitempty"` // ingress, egress
}

// VNetStatus is the observed state of a VNet's router.
type VNetStatus struct {
	Forwarded        uint64 `json:"forwarded"`
	DroppedNoRoute   uint64 `json:"droppedNoRoute"`
	DroppedTTL       uint64 `json:"droppedTTLExpired"`
	DroppedMalformed uint64 `json:"droppedMalformed"`
	// DroppedUndeliverable counts packets a TUN host's device did not take.
	DroppedUndeliverable uint64 `json:"droppedUndeliverable"`
	// Node is the node that runs the VNet (serve --etcd).
	Node string `json:"node,omitempty"`
}

// Host states, as the attachment of a network interface shows them.
const (
	HostRunning = "Running"
	HostFailed  = "Failed"
)

// HostStatus is the observed state of the host behind a network interface.
type HostStatus struct {
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// statusOf decodes the stored status of a resource, or returns nil.
func statusOf[T any](tx *txn, id string) *T {
	raw := tx.m.status[strings.ToLower(id)]
	if raw == nil {
		return nil
	}
	v := new(T)
	if json.Unmarshal(raw, v) != nil {
		return nil
	}
	return v
}

// PutStatuses writes observed states (a *ConnectionStatus, *VNetStatus or *HostStatus,
// as JSON) by resource id; nil removes one. They are written in one
// transaction, or in several of up to Config.MaxTxnOps: statuses need not
// change together. Each transaction holds conds (a cluster node's claim
// of the VNet the statuses are of): when one does not, it writes nothing
// and PutStatuses returns store.ErrConflict.
func (r *Region) PutStatuses(ctx context.Context, statuses map[string][]byte, conds ...store.Cond) error {
	if len(statuses) == 0 {
		return nil
	}
	var ops []store.Op
	for id, st := range statuses {
		key := prefixStatus + strings.ToLower(id)
		if st == nil {
			ops = append(ops, store.Delete(key))
			continue
		}
		ops = append(ops, store.Put(key, st))
	}
	var rev int64
	size := len(ops)
	if r.maxOps > 0 {
		size = r.maxOps
	}
	for part := range slices.Chunk(ops, size) {
		var err error
		if rev, err = r.store.Txn(ctx, conds, part); err != nil {
			return fmt.Errorf("write status: %w", err)
		}
	}
	return r.seen(ctx, rev)
}

// SeenStatuses waits, no longer than Sync does, until the model holds
// every observed status as the store holds it now. A node that took over
// a VNet counts its connections' bytes on from the last status the node
// before wrote (R39), which comes to this node's model through the watch,
// maybe later than the claim that let it take the VNet over: that node
// wrote it before it released the claim, so the store has it now.
func (r *Region) SeenStatuses(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, SyncTimeout, errSyncTimeout)
	defer cancel()
	kvs, _, err := r.store.List(ctx, prefixStatus)
	if err != nil {
		return fmt.Errorf("read the status: %w", err)
	}
	var rev int64
	for _, kv := range kvs {
		rev = max(rev, kv.ModRevision)
	}
	if err := r.waitRev(ctx, rev); err != nil {
		if c := context.Cause(ctx); c != nil {
			err = c
		}
		return fmt.Errorf("wait for the status of revision %d: %w", rev, err)
	}
	return nil
}
