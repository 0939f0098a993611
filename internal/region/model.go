package region

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store"
)

// Store layout. Every resource is one key, "res/" + its lower-cased id;
// subnets live inline in their virtual network. The fence is rewritten by
// every configuration change, so that a change committed elsewhere (another
// node on the same etcd) makes a concurrent one retry on fresh state. It
// holds the ids of the latest changes (fenceIDs), so that a change whose
// answer the store lost can be told committed or not (Region.settle).
const (
	prefixResource = "res/"
	prefixStatus   = "status/"
	keyFence       = "meta/fence"
	keyCursor      = "meta/publicip-cursor"
	keyFormat      = "meta/format"
)

// Format is the version of the region's records, the keys above and
// their encoding, that this vnetgw reads and writes, kept in the store
// under keyFormat (a store without it is of format 1, the first), in
// etcd as in bbolt (whose file has a format of its own, store/bolt's).
// A vnetgw refuses records of a later format rather than skip those it
// cannot read and then write over them; one that changes them raises it
// and converts older records as it opens the store.
const Format = 1

// kinds maps each resource type to a decoder of its stored form.
var kinds = map[string]func([]byte) (any, error){
	arm.TypeResourceGroup:         decoder[arm.ResourceGroup],
	arm.TypeVirtualNetwork:        decoder[arm.VirtualNetwork],
	arm.TypePublicIPAddress:       decoder[arm.PublicIPAddress],
	arm.TypeVirtualNetworkGateway: decoder[arm.VirtualNetworkGateway],
	arm.TypeLocalNetworkGateway:   decoder[arm.LocalNetworkGateway],
	arm.TypeConnection:            decoder[arm.Connection],
	arm.TypeNetworkInterface:      decoder[arm.NetworkInterface],
	arm.TypeRouteTable:            decoder[arm.RouteTable],
}

func decoder[T any](b []byte) (any, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, err
	}
	return v, nil
}

// kindOf returns the resource type of an id key, canonically spelled.
func kindOf(key string) (string, error) {
	id, err := arm.ParseID(key)
	if err != nil {
		return "", err
	}
	t := id.Type()
	for k := range kinds {
		if strings.EqualFold(k, t) {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown resource type %s", t)
}

// model is the decoded desired state at one store revision. It is changed
// only by Region.apply; everything else reads it under Region.mu.
type model struct {
	rev      int64
	fenceRev int64
	// fenceIDs are the ids of the latest changes, the last one's last,
	// as the fence holds them.
	fenceIDs []string
	cursor   netip.Addr
	docs     map[string]map[string]any // kind → id key → *arm.T
	// status is the observed state of resources, by id key, as stored
	// (JSON of a ConnectionStatus or a VNetStatus).
	status map[string][]byte
	// idxMu guards idx, which readers build under Region.mu's read
	// lock; applyKV, under its write lock, keeps it up to date.
	idxMu sync.Mutex
	idx   index // nil until first asked for
}

// link names what a resource is found by in an index: a connection by
// each gateway and site it joins, a gateway by its VNet.
type link struct {
	role role
	id   string // the lower-cased id of the other end (refKey)
}

type role uint8

const (
	gateway1 role = iota // a connection's virtualNetworkGateway1
	gateway2             // a connection's virtualNetworkGateway2
	site                 // a connection's localNetworkGateway2
	inVNet               // a gateway's VNet
)

// index finds the connections of a gateway or a site, and the gateways
// of a VNet, without reading every resource (a region of 10,000
// connections read them all for each gateway): the id keys of those of
// each link, sorted.
type index map[link][]string

// refKey is how an index spells a reference: as arm.Equal compares it.
func refKey(ref string) string {
	return strings.ToLower(strings.TrimSuffix(ref, "/"))
}

// linksOf returns what doc is found by in an index: nothing, but for a
// connection or a gateway.
func linksOf(doc any) []link {
	switch d := doc.(type) {
	case *arm.Connection:
		var out []link
		for _, l := range []link{{gateway1, d.Properties.VirtualNetworkGateway1.RefID()}, {gateway2, d.Properties.VirtualNetworkGateway2.RefID()}, {site, d.Properties.LocalNetworkGateway2.RefID()}} {
			if l.id != "" {
				out = append(out, link{l.role, refKey(l.id)})
			}
		}
		return out
	case *arm.VirtualNetworkGateway:
		var out []link
		for _, c := range d.Properties.IPConfigurations {
			if sid, err := arm.ParseID(c.Properties.Subnet.RefID()); err == nil {
				if l := (link{inVNet, refKey(sid.Parent().String())}); !slices.Contains(out, l) {
					out = append(out, l)
				}
			}
		}
		return out
	}
	return nil
}

// index returns the model's index, built on first use.
func (m *model) index() index {
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	if m.idx == nil {
		m.idx = index{}
		for _, kind := range []string{arm.TypeConnection, arm.TypeVirtualNetworkGateway} {
			for key, d := range m.docs[kind] {
				for _, l := range linksOf(d) {
					m.idx[l] = append(m.idx[l], key)
				}
			}
		}
		for _, keys := range m.idx {
			slices.Sort(keys)
		}
	}
	return m.idx
}

// reindex moves key from the links of old to those of doc in the index,
// if it has been built.
func (m *model) reindex(key string, old, doc any) {
	m.idxMu.Lock()
	defer m.idxMu.Unlock()
	if m.idx == nil {
		return
	}
	for _, l := range linksOf(old) {
		if i, ok := slices.BinarySearch(m.idx[l], key); ok {
			m.idx[l] = slices.Delete(m.idx[l], i, i+1)
		}
		if len(m.idx[l]) == 0 {
			delete(m.idx, l)
		}
	}
	for _, l := range linksOf(doc) {
		if i, ok := slices.BinarySearch(m.idx[l], key); !ok {
			m.idx[l] = slices.Insert(m.idx[l], i, key)
		}
	}
}

func newModel() *model {
	m := &model{docs: map[string]map[string]any{}, status: map[string][]byte{}}
	for k := range kinds {
		m.docs[k] = map[string]any{}
	}
	return m
}

// applyKV sets or (when value is nil) removes one stored key.
func (m *model) applyKV(key string, value []byte, modRev int64) error {
	switch {
	case key == keyFence:
		m.fenceRev, m.fenceIDs = modRev, strings.Fields(string(value))
		if value == nil {
			m.fenceRev = 0
		}
	case key == keyCursor:
		m.cursor = netip.Addr{}
		if value != nil {
			a, err := netip.ParseAddr(string(value))
			if err != nil {
				return fmt.Errorf("public IP cursor: %w", err)
			}
			m.cursor = a
		}
	case strings.HasPrefix(key, prefixStatus):
		id := strings.TrimPrefix(key, prefixStatus)
		if value == nil {
			delete(m.status, id)
			return nil
		}
		m.status[id] = value
	case strings.HasPrefix(key, prefixResource):
		id := strings.TrimPrefix(key, prefixResource)
		kind, err := kindOf(id)
		if err != nil {
			return err
		}
		old := m.docs[kind][id]
		if value == nil {
			m.reindex(id, old, nil)
			delete(m.docs[kind], id)
			return nil
		}
		doc, err := kinds[kind](value)
		if err != nil {
			return fmt.Errorf("decode %s: %w", id, err)
		}
		m.reindex(id, old, doc)
		m.docs[kind][id] = doc
	}
	return nil
}

// change is a staged write of a transaction; a nil doc deletes.
type change struct {
	kind string
	doc  any
}

// txn is a view of the model with staged changes laid over it. Reads see
// the staged changes; nothing reaches the model until the store commits.
type txn struct {
	m       *model
	changes map[string]change // id key → staged change
	order   []string          // id keys in the order first staged
	cursor  *netip.Addr
	// warnings are returned to the caller with a successful result.
	warnings []string
	// remotes are the known gateways of other regions (read only).
	remotes map[string]*RemoteGateway
	// inbound are the connections of other regions that end at local
	// gateways, by lower-cased gateway id, as the peers answered for this
	// write (nil when the write did not ask them).
	inbound map[string][]ConnectionTo
	// staged indexes the staged documents, as the model's index does
	// the model's.
	staged index
}

func newTxn(m *model, remotes map[string]*RemoteGateway) *txn {
	return &txn{m: m, changes: map[string]change{}, remotes: remotes, staged: index{}}
}

// remoteGateway returns a gateway of another region named by id, if known
// and not a local one.
func (tx *txn) remoteGateway(id string) *RemoteGateway {
	if id == "" || getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id) != nil {
		return nil
	}
	return tx.remotes[strings.ToLower(id)]
}

func (tx *txn) get(kind, key string) any {
	if c, ok := tx.changes[key]; ok {
		return c.doc
	}
	return tx.m.docs[kind][key]
}

func (tx *txn) put(kind, key string, doc any) {
	old, ok := tx.changes[key]
	if !ok {
		tx.order = append(tx.order, key)
	}
	for _, l := range linksOf(old.doc) {
		tx.staged[l] = slices.DeleteFunc(tx.staged[l], func(k string) bool { return k == key })
	}
	for _, l := range linksOf(doc) {
		tx.staged[l] = append(tx.staged[l], key)
	}
	tx.changes[key] = change{kind: kind, doc: doc}
}

// linked returns the resources of kind found by any of links, as staged,
// once each, in id order.
func linked[T any](tx *txn, kind string, links ...link) []*T {
	idx := tx.m.index()
	var keys []string
	for _, l := range links {
		for _, key := range idx[l] {
			if _, staged := tx.changes[key]; !staged {
				keys = append(keys, key)
			}
		}
		keys = append(keys, tx.staged[l]...)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	out := make([]*T, 0, len(keys))
	for _, key := range keys {
		if d, ok := tx.get(kind, key).(*T); ok {
			out = append(out, d)
		}
	}
	return out
}

func (tx *txn) del(kind, key string) { tx.put(kind, key, nil) }

// keys returns the id keys of every resource of a kind, sorted.
func (tx *txn) keys(kind string) []string {
	var out []string
	for k := range tx.m.docs[kind] {
		if _, staged := tx.changes[k]; !staged {
			out = append(out, k)
		}
	}
	for k, c := range tx.changes {
		if c.kind == kind && c.doc != nil {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (tx *txn) publicIPCursor() netip.Addr {
	if tx.cursor != nil {
		return *tx.cursor
	}
	return tx.m.cursor
}

func (tx *txn) warn(w string) {
	if w != "" {
		tx.warnings = append(tx.warnings, w)
	}
}

// ops turns the staged changes into store operations.
func (tx *txn) ops() ([]store.Op, error) {
	var ops []store.Op
	for _, key := range tx.order {
		c := tx.changes[key]
		if c.doc == nil {
			ops = append(ops, store.Delete(prefixResource+key))
			continue
		}
		b, err := json.Marshal(c.doc)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", key, err)
		}
		ops = append(ops, store.Put(prefixResource+key, b))
	}
	if tx.cursor != nil {
		ops = append(ops, store.Put(keyCursor, []byte(tx.cursor.String())))
	}
	return ops, nil
}

// Typed access.

func get[T any](tx *txn, kind string, id arm.ID) *T {
	d, _ := tx.get(kind, id.Key()).(*T)
	return d
}

func list[T any](tx *txn, kind string) []*T {
	keys := tx.keys(kind)
	out := make([]*T, 0, len(keys))
	for _, k := range keys {
		if d, ok := tx.get(kind, k).(*T); ok {
			out = append(out, d)
		}
	}
	return out
}

// existing returns resource id of a kind, or the error a GET of it answers:
// its resource group or itself not found.
func existing[T any](tx *txn, kind string, id arm.ID) (*T, error) {
	if _, err := requireGroup(tx, id); err != nil {
		return nil, err
	}
	d := get[T](tx, kind, id)
	if d == nil {
		return nil, notFound(id)
	}
	return d, nil
}

func getByRef[T any](tx *txn, kind, ref string) *T {
	id, err := arm.ParseID(ref)
	if err != nil {
		return nil
	}
	return get[T](tx, kind, id)
}
