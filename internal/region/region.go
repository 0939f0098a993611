// Package region holds the desired state of a vnetgw region: every resource
// of the API, kept in a store.Store and mirrored in memory, and the rules of
// the FAQ applied to each change before it is written.
//
// Writes are serialized and committed under a fence (see model.go), and the
// in-memory model follows the store through a watch, so that it sees every
// change whoever made it. A write returns after the model has caught up
// with it: a read after a write sees the write.
package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store"
)

// Config configures a Region.
type Config struct {
	Store store.Store
	// PublicIPPool is where gateways' public addresses come from.
	PublicIPPool Pool
	// Remotes finds gateways of other regions; nil means none are known.
	Remotes Remotes
	// MaxTxnOps bounds the ops of a transaction (etcd refuses more than
	// its --max-txn-ops, 128 by default): status is written in several,
	// a change that needs more in one is refused; 0: no bound.
	MaxTxnOps int
	// MaxTxnBytes bounds the bytes (keys and values) a transaction
	// writes (etcd refuses a request over its --max-request-bytes, 1.5
	// MiB by default); 0: no bound.
	MaxTxnBytes int
	Logger      *slog.Logger
}

// Region is the desired state of one region.
type Region struct {
	store store.Store
	pool  Pool
	log   *slog.Logger
	// maxOps and maxBytes are Config.MaxTxnOps and MaxTxnBytes.
	maxOps, maxBytes int

	// writeMu serializes writes made through this Region.
	writeMu sync.Mutex

	// mu guards m, advanced and changed. Lock order: writeMu before mu.
	mu       sync.RWMutex
	m        *model
	advanced chan struct{} // closed and replaced when m.rev grows
	// changed is closed and replaced when the desired state changes:
	// not at a change of observed status only, which every node's status
	// writes make all the time.
	changed chan struct{}

	remotes Remotes
	// remoteMu guards remoteCache, remoteGen, remoteUnused, remoteWhy, remoteMisfit and remoteRetry. It is taken
	// without, or inside, mu, never the other way round.
	remoteMu    sync.Mutex
	remoteCache map[string]*RemoteGateway // by lower-cased gateway id
	remoteGen   uint64                    // counts changes of remoteCache
	// remoteUnused are the gateways of remoteCache, by lower-cased id,
	// that no connection named at the last look (remoteInUse): those
	// still not named at the next go.
	remoteUnused map[string]bool
	// remoteWhy says, by lower-cased gateway id, why the last lookup of a
	// remote gateway found nothing, for the status of its connections.
	remoteWhy map[string]string
	// remoteMisfit says, by lower-cased gateway id, why the last answer
	// for a remote gateway was not taken (remoteFits), for the status of
	// its connections while what was known before is kept.
	remoteMisfit map[string]string
	// remoteRetry says, by lower-cased gateway id, when a remote gateway
	// the peer regions could not be asked for is asked again.
	remoteRetry map[string]remoteRetry

	cancel context.CancelFunc
	done   chan struct{} // closed when the follow loop has ended
	wg     sync.WaitGroup
}

// Outcome describes a successful write.
type Outcome struct {
	Created  bool
	Warnings []string
}

// Open loads the region's state from the store and starts following it.
func Open(ctx context.Context, cfg Config) (*Region, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Region{store: cfg.Store, pool: cfg.PublicIPPool, log: cfg.Logger, maxOps: cfg.MaxTxnOps, maxBytes: cfg.MaxTxnBytes, advanced: make(chan struct{}), changed: make(chan struct{}), done: make(chan struct{}),
		remotes: cfg.Remotes, remoteCache: map[string]*RemoteGateway{}, remoteUnused: map[string]bool{}, remoteWhy: map[string]string{}, remoteMisfit: map[string]string{}, remoteRetry: map[string]remoteRetry{}}
	if err := checkFormat(ctx, r.store); err != nil {
		return nil, err
	}
	m, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	r.m = m
	r.warnOutsidePool()
	fctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.follow(fctx)
	if r.remotes != nil {
		r.wg.Go(func() { r.refreshRemotes(fctx) })
	}
	return r, nil
}

// Close stops following the store; changes are refused after it
// (store.ErrClosed). It does not close the store.
func (r *Region) Close() error {
	r.cancel()
	<-r.done
	r.wg.Wait()
	return nil
}

// checkFormat refuses a store whose records are of a later Format than
// this vnetgw's, and marks one without a format as of this one (a store
// of the first vnetgw holds none: it is of format 1). Nodes that open one
// store at once mark it once.
func checkFormat(ctx context.Context, st store.Store) error {
	for {
		kv, err := st.Get(ctx, keyFormat)
		if errors.Is(err, store.ErrNotFound) {
			_, err = st.Txn(ctx, []store.Cond{{Key: keyFormat}}, []store.Op{store.Put(keyFormat, []byte(strconv.Itoa(Format)))})
			if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrOutcomeUnknown) && !errors.Is(err, store.ErrClosed) {
				continue // another node marked it first, or the answer was lost: read it
			}
			if err != nil {
				return fmt.Errorf("mark the state's format: %w", err)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the state's format: %w", err)
		}
		f, err := strconv.Atoi(string(kv.Value))
		if err != nil || f < 1 {
			return fmt.Errorf("the state's format, %q under %s, is not a version this vnetgw knows", kv.Value, keyFormat)
		}
		if f > Format {
			return fmt.Errorf("the state's records are of format %d, written by a later vnetgw; this one reads format %d and would lose what it cannot read: run the later vnetgw (or this one on a backup of the state from before it)", f, Format)
		}
		return nil
	}
}

// warnOutsidePool says which public addresses lie outside the pool, as
// when serve starts again with another --public-ip-pool: they are kept
// (a gateway's address does not change under it), and new ones come
// from the pool.
func (r *Region) warnOutsidePool() {
	if !r.pool.First.IsValid() {
		return
	}
	var outside []string
	for _, d := range r.m.docs[arm.TypePublicIPAddress] {
		p, ok := d.(*arm.PublicIPAddress)
		if !ok {
			continue
		}
		if a, err := netip.ParseAddr(p.Properties.IPAddress); err == nil && !r.pool.Contains(a) {
			outside = append(outside, p.ID+" "+a.String())
		}
	}
	if len(outside) > 0 {
		slices.Sort(outside)
		r.log.Warn("public IP addresses outside --public-ip-pool are kept; new ones come from the pool", "pool", r.pool.String(), "addresses", outside)
	}
}

func (r *Region) load(ctx context.Context) (*model, error) {
	kvs, rev, err := r.store.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	m := newModel()
	m.rev = rev
	for _, kv := range kvs {
		if err := m.applyKV(kv.Key, kv.Value, kv.ModRevision); err != nil {
			// One unreadable record must not take the region down.
			r.log.Error("skipping unreadable record", "key", kv.Key, "err", err)
		}
	}
	return m, nil
}

// follow applies the store's changes to the model until ctx ends.
func (r *Region) follow(ctx context.Context) {
	defer close(r.done)
	for ctx.Err() == nil {
		r.mu.RLock()
		from := r.m.rev
		r.mu.RUnlock()
		for resp := range r.store.Watch(ctx, "", from) {
			if resp.Err != nil {
				r.log.Warn("watch ended; reloading state", "err", resp.Err)
				r.reload(ctx)
				break
			}
			r.apply(resp)
		}
		if ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond) // the store closed under us or the watch failed
		}
	}
}

func (r *Region) reload(ctx context.Context) {
	m, err := r.load(ctx)
	if err != nil {
		r.log.Error("reload state", "err", err)
		return
	}
	r.mu.Lock()
	r.m = m
	r.bump()
	r.bumpDesired()
	r.mu.Unlock()
}

func (r *Region) apply(resp store.WatchResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	desired := false
	for _, e := range resp.Events {
		var v []byte
		if e.Type == store.EventPut {
			v = e.KV.Value
		}
		if err := r.m.applyKV(e.KV.Key, v, e.KV.ModRevision); err != nil {
			r.log.Error("skipping unreadable change", "key", e.KV.Key, "rev", resp.Revision, "err", err)
		}
		desired = desired || !strings.HasPrefix(e.KV.Key, prefixStatus)
	}
	r.m.rev = resp.Revision
	r.bump()
	if desired {
		r.bumpDesired()
	}
}

// bump wakes waiters for a revision; r.mu must be held for writing.
func (r *Region) bump() {
	close(r.advanced)
	r.advanced = make(chan struct{})
}

// bumpDesired wakes waiters for a change of the desired state (Changed);
// r.mu must be held for writing.
func (r *Region) bumpDesired() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// waitRev waits until the model has seen revision rev.
func (r *Region) waitRev(ctx context.Context, rev int64) error {
	for {
		r.mu.RLock()
		cur, ch := r.m.rev, r.advanced
		r.mu.RUnlock()
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.done:
			return store.ErrClosed
		}
	}
}

// seen waits, no longer than Sync does, until the model has seen
// revision rev, which a write made here committed: a read after the write
// sees it. The store's changes not coming (its watch cut off while writes
// go through) is an error that says the write was made.
func (r *Region) seen(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithTimeoutCause(ctx, SyncTimeout, errSyncTimeout)
	defer cancel()
	err := r.waitRev(wctx, rev)
	if err != nil && errors.Is(context.Cause(wctx), errSyncTimeout) {
		return fmt.Errorf("the change was made (the state store committed it at revision %d), but this node has not seen it come back from the store within %s", rev, SyncTimeout)
	}
	return err
}

// view runs fn on a consistent read-only view of the model.
func (r *Region) view(fn func(tx *txn) error) error {
	remotes := r.remoteView()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return fn(newTxn(r.m, remotes))
}

// maxAttempts bounds how often a write is retried after losing a race to a
// writer elsewhere.
const maxAttempts = 10

// conflictPause is what a write that lost a race waits at most before it
// tries again, doubled after each loss up to maxConflictPause; the wait is
// random, so that writers on two nodes that keep committing do not keep
// taking turns to lose (one node's write lost 10 races in a row as 32
// were made on two at once).
const (
	conflictPause    = time.Millisecond
	maxConflictPause = 64 * time.Millisecond
)

// stage runs fn on a transaction over the model as it is now, and returns
// it with the fence it is to be committed under. The model stays locked
// for reading only while fn runs, panics included: one request's panic
// (recovered by net/http) would otherwise leave every later write and
// the store's changes waiting for good.
func (r *Region) stage(ctx context.Context, fn func(tx *txn) error) (tx *txn, fence int64, base []string, err error) {
	remotes := r.remoteView()
	r.mu.RLock()
	defer r.mu.RUnlock()
	tx = newTxn(r.m, remotes)
	if err = checkPrecondition(ctx, tx); err == nil {
		err = fn(tx)
	}
	return tx, r.m.fenceRev, r.m.fenceIDs, err
}

// update runs fn on a transaction over the model and commits what it staged.
// fn decides from the view it is given; if another writer committed in the
// meantime the store refuses the commit and fn runs again on fresh state.
func (r *Region) update(ctx context.Context, fn func(tx *txn) error) ([]string, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	select {
	case <-r.done:
		// Closed: a change would go to the store unseen by the region.
		return nil, store.ErrClosed
	default:
	}
	for attempt := range maxAttempts {
		// Decide on state no older than the last committed write,
		// whoever made it (another node on etcd): a resource created
		// there a moment ago exists here too.
		if err := r.Sync(ctx); err != nil {
			return nil, err
		}
		tx, fence, base, err := r.stage(ctx, fn)
		if err != nil {
			return nil, err
		}
		ops, err := tx.ops()
		if err != nil {
			return nil, err
		}
		if len(ops) == 0 {
			return tx.warnings, nil
		}
		if r.maxOps > 0 && len(ops)+1 > r.maxOps {
			// Refused, clearly, rather than by the store.
			return nil, arm.Errorf(arm.CodeWriteTooLarge,
				"this change writes %d records at once, more than the store takes in one transaction (%d, within etcd's --max-txn-ops); make it in smaller steps (a resource group: delete some of its resources first)", len(ops)+1, r.maxOps)
		}
		if n := opBytes(ops); r.maxBytes > 0 && n > r.maxBytes {
			return nil, tooLarge(n, r.maxBytes)
		}
		ids := append(slices.Clone(base[max(0, len(base)-(maxFenceIDs-1)):]), fmt.Sprintf("%016x", rand.Uint64()))
		ops = append(ops, store.Put(keyFence, []byte(strings.Join(ids, " "))))
		conds := []store.Cond{{Key: keyFence, ModRevision: fence}}
		rev, err := r.store.Txn(ctx, conds, ops)
		if errors.Is(err, store.ErrOutcomeUnknown) && !errors.Is(err, store.ErrClosed) {
			// Answered as what it was, not as unknown: an error has
			// a client (the Azure SDKs, for a POST too) send it again.
			if rev, err = r.settle(ctx, conds, ops, base, err); err == nil && rev == 0 {
				continue // not made, and never will be: decide again
			}
		}
		if errors.Is(err, store.ErrConflict) {
			// Another writer moved the fence: Sync, decide again, after
			// a pause (a context that ends meanwhile ends the Sync).
			pause := time.NewTimer(rand.N(min(conflictPause<<attempt, maxConflictPause)))
			select {
			case <-ctx.Done():
			case <-pause.C:
			}
			pause.Stop()
			continue
		}
		if errors.Is(err, store.ErrTooLarge) {
			// Over a limit of the store's that the region does not know
			// (etcd's --max-txn-ops or --max-request-bytes set lower):
			// its reason says which.
			return nil, arm.Errorf(arm.CodeWriteTooLarge, "this change writes %d records, %d bytes, at once: more than the store takes in one transaction (%v); make it in smaller steps (a resource group: delete some of its resources first), or its resources smaller (fewer or shorter tags, subnets, prefixes)", len(ops), opBytes(ops), err)
		}
		if errors.Is(err, store.ErrUnavailable) {
			// 503, retried by clients: the store refused it, nothing was written.
			return nil, arm.Errorf(arm.CodeServiceUnavailable, "%v; try again later", err)
		}
		if errors.Is(err, store.ErrOutcomeUnknown) {
			return nil, arm.Errorf(arm.CodeWriteOutcomeUnknown, "the state store lost the answer to this change (%v): it may or may not have been applied; GET the resource to see which before trying again", err)
		}
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		// The change is made, and answered so even when this node has
		// not seen it come back (its watch cut off, the region closing):
		// an error, 503 above all, has a client (the Azure SDKs retry a
		// POST too) make it twice. A read here waits for it in Sync.
		if err := r.seen(ctx, rev); err != nil && ctx.Err() == nil {
			r.log.Warn("a change made, but not seen back from the store yet", "rev", rev, "err", err)
		}
		return tx.warnings, nil
	}
	// 503, retried by clients: every attempt was refused, nothing was written.
	return nil, arm.Errorf(arm.CodeServiceUnavailable, "the change lost %d races in a row against other writers of the state; try again", maxAttempts)
}

// maxFenceIDs is how many ids of the latest changes the fence holds: a
// change whose answer was lost is told committed or not while fewer
// changes have followed it.
const maxFenceIDs = 32

// settle finds out whether the change that wrote ops under conds, whose
// answer the store lost (lost, store.ErrOutcomeUnknown), was committed:
// it returns the revision it committed at (or a later one), 0 when it
// was not and never will be (its condition no longer holds), or lost when
// the store does not tell within SyncTimeout, or the fence does not reach
// back to it (more than maxFenceIDs-1 changes followed it, or one that
// wrote no ids). The fence before the change held the ids base;
// ops write the fence with the change's own id last. While the fence is
// still as it was, the change may be on its way: it is sent again, and
// commits once at most, its condition the same.
func (r *Region) settle(ctx context.Context, conds []store.Cond, ops []store.Op, base []string, lost error) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, SyncTimeout)
	defer cancel()
	written := strings.Fields(string(ops[len(ops)-1].Value))
	id := written[len(written)-1]
	for pause := conflictPause; ; pause = min(2*pause, maxConflictPause) {
		f, err := r.store.Get(ctx, keyFence)
		if errors.Is(err, store.ErrNotFound) {
			f, err = store.KeyValue{}, nil
		}
		if err == nil && f.ModRevision != conds[0].ModRevision {
			ids := strings.Fields(string(f.Value))
			switch {
			case slices.Contains(ids, id):
				r.log.Info("a change whose answer the store lost was made", "rev", f.ModRevision, "lost", lost)
				return f.ModRevision, nil
			case len(base) > 0 && slices.Contains(ids, base[len(base)-1]):
				// Another change was the next after the one this was
				// decided on. (Without base, the fence written before
				// ids were, that cannot be told: a change that writes
				// none may have come after this one.)
				r.log.Info("a change whose answer the store lost was not made; deciding it again", "lost", lost)
				return 0, nil
			}
			return 0, lost
		}
		if err == nil {
			var rev int64
			if rev, err = r.store.Txn(ctx, conds, ops); err == nil {
				r.log.Info("a change whose answer the store lost was not made yet; sent again, made", "rev", rev, "lost", lost)
				return rev, nil
			}
			// Refused: the fence moved since, by the first sending or
			// another change: read it again.
		}
		if errors.Is(err, store.ErrClosed) && !errors.Is(err, store.ErrOutcomeUnknown) {
			return 0, lost
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, lost
		case <-t.C:
		}
	}
}

// opBytes is what ops write: their keys and values.
func opBytes(ops []store.Op) int {
	n := 0
	for _, op := range ops {
		n += len(op.Key) + len(op.Value)
	}
	return n
}

// tooLarge refuses a change of n bytes that the store does not take in
// one transaction (of at most limit bytes, when known).
func tooLarge(n, limit int) error {
	within := ""
	if limit > 0 {
		within = fmt.Sprintf(" (%d)", limit)
	}
	return arm.Errorf(arm.CodeWriteTooLarge, "this change writes %d bytes at once, more than the store takes in one transaction%s; make its resources smaller (fewer or shorter tags, subnets, prefixes)", n, within)
}

// Sync waits until the model has seen every write of desired state that
// was committed before the call, by any writer: the fence's revision. (Not
// the store's revision: in a shared etcd, writes this region never sees
// advance that too.) Observed status is not fenced, and may lag.
//
// It gives up after SyncTimeout, as unavailable: the store (etcd without
// a leader, a member cut off) does not answer or its changes do not come.
func (r *Region) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, SyncTimeout, errSyncTimeout)
	defer cancel()
	f, err := r.store.Get(ctx, keyFence)
	if err == nil {
		err = r.waitRev(ctx, f.ModRevision)
	}
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound):
		return nil
	case errors.Is(context.Cause(ctx), errSyncTimeout):
		// 503, retried by clients: a write syncs before it writes anything.
		return arm.Errorf(arm.CodeServiceUnavailable, "the state store did not answer, or its changes did not come, within %s; try again", SyncTimeout)
	case errors.Is(err, store.ErrUnavailable):
		// 503, retried by clients: a write syncs before it writes anything.
		return arm.Errorf(arm.CodeServiceUnavailable, "the state store cannot answer now (%v); try again", err)
	}
	return fmt.Errorf("read the state: %w", err)
}

// SyncTimeout bounds how long Sync waits for the store.
var SyncTimeout = 10 * time.Second

var errSyncTimeout = errors.New("the state store is not reachable")

// Helpers shared by the resource files.

// normalizeLocation folds a location as ARM does: "West Europe" and
// "westeurope" are the same region.
func normalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(l, " ", ""))
}

func notFound(id arm.ID) *arm.Error {
	// Types and names in turn, as in the id: a subnet is
	// Microsoft.Network/virtualNetworks/hub/subnets/default.
	path := id.Namespace
	for i := range id.Types {
		path += "/" + id.Types[i] + "/" + id.Names[i]
	}
	return arm.Errorf(arm.CodeResourceNotFound, "the resource '%s' under resource group '%s' was not found", path, id.ResourceGroup)
}

// parentNotFound is the error of a write or a delete of a child resource
// (a subnet, a route, a NAT rule) under parent, which does not exist: ARM's
// ParentResourceNotFound, which SDK callers tell from a missing resource.
func parentNotFound(parent arm.ID) *arm.Error {
	return arm.Errorf(arm.CodeParentResourceNotFound, "Can not perform requested operation on nested resource. Parent resource '%s' not found.", parent.Name())
}

// requireGroup checks that the resource group of id exists.
func requireGroup(tx *txn, id arm.ID) (*arm.ResourceGroup, error) {
	g := get[arm.ResourceGroup](tx, arm.TypeResourceGroup, arm.ResourceGroupID(id.Subscription, id.ResourceGroup))
	if g == nil {
		return nil, arm.Errorf(arm.CodeResourceGroupNotFound, "resource group '%s' could not be found", id.ResourceGroup)
	}
	return g, nil
}

// trimmed returns prefixes as they are stored: without the spaces around
// them that rules.ParsePrefix lets pass (a line of a file written with
// CRLF ends in \r), which the data plane, reading them again, would not
// take (the VNet's range or a site's gone from routes and traffic
// selectors). A new slice: ss may be the model's.
func trimmed(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.TrimSpace(s)
	}
	return out
}

// storedID is the id a resource was created with (stored), for a write
// of it through id: ids compare without case, and a resource keeps the
// case of its first, as ARM's do.
func storedID(id arm.ID, stored string) arm.ID {
	if s, err := arm.ParseID(stored); err == nil {
		return s
	}
	return id
}

// checkTags applies Azure's limits on tags: at most 50, names of at most
// 512 characters without <>%&\?/, values of at most 256.
func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return arm.Errorf(arm.CodeInvalidTag, "%d tags; at most 50", len(tags))
	}
	for k, v := range tags {
		switch {
		case k == "" || utf8.RuneCountInString(k) > 512 || strings.ContainsAny(k, `<>%&\?/`):
			return arm.Errorf(arm.CodeInvalidTag, "tag name %.40q: 1 to 512 characters, none of <>%%&\\?/", k)
		case utf8.RuneCountInString(v) > 256:
			return arm.Errorf(arm.CodeInvalidTag, "the value of tag %.40q is longer than 256 characters", k)
		}
	}
	return nil
}

// setIdentity fills the identity fields of a resource being written.
func setIdentity(res *arm.Resource, id arm.ID, location string) error {
	if err := checkTags(res.Tags); err != nil {
		return err
	}
	if e := res.ExtendedLocation; e != nil && (e.Name != "" || e.Type != "") {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "extendedLocation",
			Message: fmt.Sprintf("extendedLocation %s is not available: vnetgw places a resource in its location, not in an edge zone", e.Name)}
	}
	res.ExtendedLocation = nil
	res.ID, res.Name, res.Type = id.String(), id.Name(), id.Type()
	if location == "" {
		return arm.Errorf(arm.CodeLocationRequired, "the location property is required for %s '%s'", id.Type(), id.Name())
	}
	res.Location = normalizeLocation(location)
	res.Etag = newEtag()
	return nil
}

// keepLocation refuses a PUT that gives res, an existing resource whose
// stored copy is old, another location, as ARM does: 409
// InvalidResourceLocation (a resource cannot move; its name is taken
// where it is).
func keepLocation(res, old *arm.Resource, id arm.ID) error {
	if res.Location == old.Location {
		return nil
	}
	return arm.Errorf(arm.CodeInvalidLocation, "The resource '%s' already exists in location '%s' in resource group '%s'. A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
		old.Name, old.Location, id.ResourceGroup, res.Location)
}

// ref resolves a reference to a resource of the given kind, refusing
// malformed ids and missing resources.
func ref[T any](tx *txn, kind, field, refID string) (*T, arm.ID, error) {
	if refID == "" {
		return nil, arm.ID{}, &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: field + " is required"}
	}
	id, err := arm.ParseID(refID)
	if err != nil || !strings.EqualFold(id.Type(), kind) {
		return nil, arm.ID{}, &arm.Error{Code: arm.CodeLinkedInvalidID, Target: field,
			Message: fmt.Sprintf("%s: %q is not the id of a %s", field, refID, kind)}
	}
	d := get[T](tx, kind, id)
	if d == nil {
		return nil, arm.ID{}, &arm.Error{Code: arm.CodeInvalidReference, Target: field,
			Message: fmt.Sprintf("%s: resource %s was not found", field, refID)}
	}
	return d, id, nil
}

// parseAddr parses an IP address field.
func parseAddr(field, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: fmt.Sprintf("%s: %q is not an IP address", field, s)}
	case a.Zone() != "":
		return netip.Addr{}, &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: fmt.Sprintf("%s: %q has a zone, which no address here takes", field, s)}
	case a.Is4In6():
		// Written so it would never equal the IPv4 address it means.
		return netip.Addr{}, &arm.Error{Code: arm.CodeInvalidParameter, Target: field, Message: fmt.Sprintf("%s: write %q as the IPv4 address %s", field, s, a.Unmap())}
	}
	return a, nil
}
