package region

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

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
)

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
		if value == nil {
			delete(m.docs[kind], id)
			return nil
		}
		doc, err := kinds[kind](value)
		if err != nil {
			return fmt.Errorf("decode %s: %w", id, err)
		}
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
}

func newTxn(m *model, remotes map[string]*RemoteGateway) *txn {
	return &txn{m: m, changes: map[string]change{}, remotes: remotes}
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
	if _, ok := tx.changes[key]; !ok {
		tx.order = append(tx.order, key)
	}
	tx.changes[key] = change{kind: kind, doc: doc}
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
