package region

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// Generic operations over every kind of resource. Puts are typed, one per
// kind, in the file of that kind.

// kindOps are what generic reads and deletes need to know about a kind.
type kindOps struct {
	// render returns what a GET shows of a stored document: a copy, with
	// secrets removed and derived fields filled in.
	render func(tx *txn, doc any) any
	// del stages the deletion of the resource, refusing it while in use.
	del func(r *Region, tx *txn, id arm.ID) error
	// tags returns a pointer to the document's tags in a copy of it.
	retag func(doc any, tags map[string]string) any
}

// opsFor returns the operations of a kind.
func opsFor(kind string) kindOps {
	switch kind {
	case arm.TypeResourceGroup:
		return kindOps{render: same, del: (*Region).delGroup,
			retag: func(d any, t map[string]string) any { c := *d.(*arm.ResourceGroup); c.Tags = t; return &c }}
	case arm.TypeVirtualNetwork:
		return kindOps{render: renderVirtualNetwork, del: (*Region).delVirtualNetwork,
			retag: func(d any, t map[string]string) any { c := *d.(*arm.VirtualNetwork); c.Tags = t; return &c }}
	case arm.TypePublicIPAddress:
		return kindOps{render: same, del: (*Region).delPublicIP,
			retag: func(d any, t map[string]string) any { c := *d.(*arm.PublicIPAddress); c.Tags = t; return &c }}
	case arm.TypeVirtualNetworkGateway:
		return kindOps{render: renderGateway, del: (*Region).delGateway,
			retag: func(d any, t map[string]string) any { c := *d.(*arm.VirtualNetworkGateway); c.Tags = t; return &c }}
	case arm.TypeLocalNetworkGateway:
		return kindOps{render: same, del: (*Region).delLocalGateway,
			retag: func(d any, t map[string]string) any { c := *d.(*arm.LocalNetworkGateway); c.Tags = t; return &c }}
	case arm.TypeConnection:
		return kindOps{render: renderConnection, del: (*Region).delConnection,
			retag: func(d any, t map[string]string) any { c := *d.(*arm.Connection); c.Tags = t; return &c }}
	case arm.TypeNetworkInterface:
		return kindOps{render: renderNetworkInterface, del: (*Region).delNetworkInterface,
			retag: func(d any, t map[string]string) any { c := *d.(*arm.NetworkInterface); c.Tags = t; return &c }}
	case arm.TypeRouteTable:
		return kindOps{render: renderRouteTable, del: (*Region).delRouteTable,
			retag: func(d any, t map[string]string) any { c := *d.(*arm.RouteTable); c.Tags = t; return &c }}
	}
	panic("region: unknown kind " + kind)
}

func same(_ *txn, doc any) any { return doc }

// kindOfID returns the kind of a top-level resource id, or "".
func kindOfID(id arm.ID) string {
	t := id.Type()
	for k := range kinds {
		if strings.EqualFold(k, t) {
			return k
		}
	}
	return ""
}

// Get returns the resource with the given id as a GET shows it.
func (r *Region) Get(id arm.ID) (any, error) {
	kind := kindOfID(id)
	var out any
	err := r.view(func(tx *txn) error {
		if kind != arm.TypeResourceGroup {
			if _, err := requireGroup(tx, id); err != nil {
				return err
			}
		}
		doc := tx.get(kind, id.Key())
		if doc == nil {
			if kind == arm.TypeResourceGroup {
				return arm.Errorf(arm.CodeResourceGroupNotFound, "resource group '%s' could not be found", id.ResourceGroup)
			}
			return notFound(id)
		}
		out = opsFor(kind).render(tx, doc)
		return nil
	})
	return out, err
}

// Page asks for part of a list, as ARM's nextLink pages it: the items
// whose keys (lower-cased ids) follow After ("": from the first), at most
// Max of them (0: all).
type Page struct {
	After string
	Max   int
	// Tagged, when set, keeps the resources whose tags it takes (a
	// resource group list's $filter by tag).
	Tagged func(tags map[string]string) bool
	// Where, when set, keeps the resources it takes (a list of every
	// type's $filter), by type, name and location.
	Where func(typ, name, location string) bool
}

// cut returns the part of keys, sorted, that p asks for, and the last key
// of that part when more follow it (else "").
func (p Page) cut(keys []string) ([]string, string) {
	if p.After != "" {
		i, found := slices.BinarySearch(keys, p.After)
		if found {
			i++
		}
		keys = keys[i:]
	}
	if p.Max > 0 && len(keys) > p.Max {
		return keys[:p.Max], keys[p.Max-1]
	}
	return keys, ""
}

// List returns the resources of a kind within a scope (a subscription id
// or a resource group id) in the order of their keys, the part that page
// asks for, and the key of its last one when more follow. The order is
// the keys', so that a page goes on from where the one before ended while
// resources are written beside.
func (r *Region) List(kind string, scope arm.ID, page Page) ([]any, string, error) {
	out := []any{}
	var next string
	prefix := scope.Key() + "/"
	err := r.view(func(tx *txn) error {
		if err := requireScope(tx, scope); err != nil {
			return err
		}
		var keys []string
		for _, k := range tx.keys(kind) {
			if strings.HasPrefix(k, prefix) && (page.Tagged == nil || page.Tagged(tagsOf(tx.get(kind, k)))) {
				keys = append(keys, k)
			}
		}
		keys, next = page.cut(keys)
		for _, k := range keys {
			out = append(out, opsFor(kind).render(tx, tx.get(kind, k)))
		}
		return nil
	})
	return out, next, err
}

// requireScope refuses a list within a resource group that does not
// exist; a subscription holds nothing until something is put in it, and
// lists empty, as ARM's does.
func requireScope(tx *txn, scope arm.ID) error {
	if scope.ResourceGroup == "" {
		return nil
	}
	_, err := requireGroup(tx, scope)
	return err
}

// ListResources lists what Microsoft.Resources' "Resources - List" shows:
// the top-level resources of every type within a scope (a subscription id
// or a resource group id), in the order of their keys, the part that page
// asks for, and the key of its last one when more follow. Subnets, routes
// and NAT rules are parts of their parents and not listed, as in ARM.
func (r *Region) ListResources(scope arm.ID, page Page) ([]arm.GenericResource, string, error) {
	out := []arm.GenericResource{}
	var next string
	prefix := scope.Key() + "/"
	err := r.view(func(tx *txn) error {
		if err := requireScope(tx, scope); err != nil {
			return err
		}
		var keys []string
		docs := map[string]any{}
		for kind := range kinds {
			if kind == arm.TypeResourceGroup {
				continue
			}
			for _, k := range tx.keys(kind) {
				if !strings.HasPrefix(k, prefix) {
					continue
				}
				doc := tx.get(kind, k)
				res := resourceOf(doc)
				if page.Where != nil && !page.Where(kind, res.Name, res.Location) || page.Tagged != nil && !page.Tagged(res.Tags) {
					continue
				}
				keys = append(keys, k)
				docs[k] = doc
			}
		}
		// Every kind's keys in one order, that of the ids, in which a
		// page goes on after the key its $skipToken names.
		slices.Sort(keys)
		keys, next = page.cut(keys)
		for _, k := range keys {
			out = append(out, genericOf(docs[k]))
		}
		return nil
	})
	return out, next, err
}

// genericOf is a resource document as a list of every type shows it.
func genericOf(doc any) arm.GenericResource {
	res := resourceOf(doc)
	g := arm.GenericResource{ID: res.ID, Name: res.Name, Type: res.Type, Location: res.Location, Tags: res.Tags}
	if ip, ok := doc.(*arm.PublicIPAddress); ok {
		g.SKU = ip.SKU
	}
	return g
}

// Delete deletes a resource. It reports whether the resource existed;
// deleting what does not exist succeeds, as in ARM, unless its resource
// group does not exist either (404 ResourceGroupNotFound, as ARM answers).
//
// A VPN gateway (alone or in its resource group) may be the remote end of
// another region's connection, which only that region knows of, and that
// region may be making one now, outside this region's fence. Each side
// makes its intent visible before it asks the other: this delete first
// commits the gateways as provisioningState Deleting (a GET shows it, as
// ARM's does; the data plane keeps serving them meanwhile), then asks the
// peers for connections that end at them, then deletes them only if they
// are still as it marked them. A connection of another region to a gateway
// here is committed there before that region looks the gateway up again
// (PutConnection's confirmRemote), and refused and taken back if it is
// gone or Deleting. Both asks read the other region's state after a Sync
// (the API's GET), so of the two commits, the one made first is seen by
// the other side's ask: if the connection was committed before this
// delete asked, the delete sees it and is refused; else the mark was
// committed before the connection, so before that region's lookup, which
// sees the gateway Deleting or gone. One of the two is refused (both may
// be); never both made.
func (r *Region) Delete(ctx context.Context, id arm.ID) (bool, error) {
	kind := kindOfID(id)
	if r.remotes == nil || kind != arm.TypeVirtualNetworkGateway && kind != arm.TypeResourceGroup {
		return r.remove(ctx, id, nil, nil)
	}
	var marks map[string]string
	for range maxAttempts {
		prev := marks
		var err error
		if marks, err = r.markDeleting(ctx, id); err != nil {
			if len(prev) > 0 {
				// Refused now (or the store failed): the gateways the
				// last round marked go back as they were.
				r.unmarkDeleting(ctx, prev)
			}
			return false, err
		}
		if len(marks) == 0 {
			// No VPN gateway goes: nothing to ask, no mark to keep.
			existed, err := r.remove(ctx, id, nil, nil)
			if errors.Is(err, errMarkMoved) {
				continue // a VPN gateway came in meanwhile
			}
			return existed, err
		}
		dctx := ctx
		if kind == arm.TypeVirtualNetworkGateway {
			// The mark gave the gateway a new etag: a precondition on
			// it was checked as it was made, and the delete deletes it
			// only as marked.
			dctx = withoutPrecondition(ctx)
		}
		gws := slices.Sorted(maps.Keys(marks)) // in order: the asks, and the error naming them
		inbound, err := r.inboundConnections(ctx, gws)
		if err != nil {
			r.unmarkDeleting(ctx, marks)
			return false, arm.Errorf(arm.CodeInUseGateway,
				"%s cannot be deleted now: the peer regions could not be asked whether a connection there ends at gateway %s: %v", id.Name(), gws, err)
		}
		existed, err := r.remove(dctx, id, inbound, marks)
		switch {
		case errors.Is(err, errMarkMoved):
			continue // changed since it was marked: mark and ask again
		case err != nil:
			r.unmarkDeleting(ctx, marks)
		}
		return existed, err
	}
	// 503, retried by clients: nothing was deleted.
	r.unmarkDeleting(ctx, marks)
	return false, arm.Errorf(arm.CodeServiceUnavailable, "%s changed %d times in a row while it was being deleted; try again", id.Name(), maxAttempts)
}

// errMarkMoved says the VPN gateways a delete would delete are not those
// it marked Deleting, as it marked them.
var errMarkMoved = errors.New("the gateways changed since they were marked Deleting")

// doomedGateways returns the VPN gateways that deleting id deletes: the
// gateway id, or those of resource group id.
func doomedGateways(tx *txn, kind string, id arm.ID) []*arm.VirtualNetworkGateway {
	var out []*arm.VirtualNetworkGateway
	for _, g := range list[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway) {
		k := strings.ToLower(g.ID)
		if g.Properties.GatewayType == arm.GatewayTypeVpn &&
			(kind == arm.TypeVirtualNetworkGateway && k == id.Key() || kind == arm.TypeResourceGroup && strings.HasPrefix(k, id.Key()+"/")) {
			out = append(out, g)
		}
	}
	return out
}

// markDeleting commits, for a delete of id, the VPN gateways it deletes
// as provisioningState Deleting, each with a new etag (one already
// Deleting, by a delete that did not finish, is left as it is), and
// returns their etags by id. It refuses, marking nothing, a delete that
// this region's state refuses already.
func (r *Region) markDeleting(ctx context.Context, id arm.ID) (map[string]string, error) {
	kind := kindOfID(id)
	var marks map[string]string
	_, err := r.update(ctx, func(tx *txn) error {
		marks = map[string]string{}
		if _, err := requireGroup(tx, id); err != nil || tx.get(kind, id.Key()) == nil {
			return err // a delete of nothing: remove answers it
		}
		if err := opsFor(kind).del(r, newTxn(tx.m, tx.remotes), id); err != nil {
			return err // refused here, without asking
		}
		for _, g := range doomedGateways(tx, kind, id) {
			if g.Properties.ProvisioningState != arm.Deleting {
				ng := *g
				ng.Properties.ProvisioningState, ng.Etag = arm.Deleting, newEtag()
				tx.put(arm.TypeVirtualNetworkGateway, refKey(g.ID), &ng)
				g = &ng
			}
			marks[g.ID] = g.Etag
		}
		return nil
	})
	return marks, err
}

// unmarkDeleting puts back as Succeeded the gateways a delete marked
// Deleting and did not delete, those still as it marked them. It is done
// also when the client has gone: else the gateways would stay Deleting
// (and be refused as the remote end of new connections of other regions)
// until deleted or written again.
func (r *Region) unmarkDeleting(ctx context.Context, marks map[string]string) {
	ctx, cancel := context.WithTimeout(withoutPrecondition(context.WithoutCancel(ctx)), SyncTimeout)
	defer cancel()
	_, err := r.update(ctx, func(tx *txn) error {
		for gid, etag := range marks {
			if g := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, gid); g != nil && g.Etag == etag {
				ng := *g
				ng.Properties.ProvisioningState, ng.Etag = arm.Succeeded, newEtag()
				tx.put(arm.TypeVirtualNetworkGateway, refKey(g.ID), &ng)
			}
		}
		return nil
	})
	if err != nil {
		r.log.Warn("a delete refused left its gateways Deleting", "gateways", slices.Collect(maps.Keys(marks)), "err", err)
	}
}

// remove deletes id, with inbound the connections of other regions that
// end at its gateways, when it deletes only the VPN gateways marks holds,
// each with the etag it holds (errMarkMoved if not).
func (r *Region) remove(ctx context.Context, id arm.ID, inbound map[string][]ConnectionTo, marks map[string]string) (bool, error) {
	kind := kindOfID(id)
	existed := false
	_, err := r.update(ctx, func(tx *txn) error {
		tx.inbound = inbound
		// ARM answers 404 ResourceGroupNotFound for a resource in a group
		// that does not exist, and for that group itself.
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		existed = tx.get(kind, id.Key()) != nil
		if !existed {
			return nil
		}
		if r.remotes != nil {
			doomed := doomedGateways(tx, kind, id)
			if len(doomed) != len(marks) || slices.ContainsFunc(doomed, func(g *arm.VirtualNetworkGateway) bool { return marks[g.ID] != g.Etag }) {
				return errMarkMoved
			}
		}
		return opsFor(kind).del(r, tx, id)
	})
	return existed, err
}

// Patch is what ARM's PATCH of a resource changes: what it gives; a nil
// field stays as it is.
type Patch struct {
	Tags *map[string]string
	// ManagedBy is a resource group's ("" removes it).
	ManagedBy *string
}

// Update applies a PATCH to a resource; one that changes nothing still
// gives it a new etag.
func (r *Region) Update(ctx context.Context, id arm.ID, p Patch) (any, error) {
	kind := kindOfID(id)
	tags := p.Tags
	if tags != nil {
		if err := checkTags(*tags); err != nil {
			return nil, err
		}
	}
	var out any
	_, err := r.update(ctx, func(tx *txn) error {
		// A missing group is ResourceGroupNotFound, also when it is the
		// resource PATCHed.
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		doc := tx.get(kind, id.Key())
		if doc == nil {
			return notFound(id)
		}
		t := tagsOf(doc)
		if tags != nil {
			t = *tags
		}
		c := opsFor(kind).retag(doc, t)
		if g, ok := c.(*arm.ResourceGroup); ok && p.ManagedBy != nil {
			g.ManagedBy = *p.ManagedBy
		}
		if g, ok := c.(*arm.VirtualNetworkGateway); ok {
			// Written again, as a PUT does: a delete's Deleting mark
			// goes, which that delete, finding the gateway changed,
			// makes again, or, refused, would no longer find to take
			// back.
			g.Properties.ProvisioningState = arm.Succeeded
		}
		if res := resourceOf(c); res != nil {
			res.Etag = newEtag()
		}
		tx.put(kind, id.Key(), c)
		out = opsFor(kind).render(tx, c)
		return nil
	})
	return out, err
}

// tagsOf returns the tags of a resource group or network resource
// document.
func tagsOf(doc any) map[string]string {
	if g, ok := doc.(*arm.ResourceGroup); ok {
		return g.Tags
	}
	return resourceOf(doc).Tags
}

// resourceID returns the id of a network resource document.
func resourceID(doc any) string {
	if res := resourceOf(doc); res != nil {
		return res.ID
	}
	return ""
}

// resourceOf returns the common fields of a network resource document.
func resourceOf(doc any) *arm.Resource {
	switch d := doc.(type) {
	case *arm.VirtualNetwork:
		return &d.Resource
	case *arm.PublicIPAddress:
		return &d.Resource
	case *arm.VirtualNetworkGateway:
		return &d.Resource
	case *arm.LocalNetworkGateway:
		return &d.Resource
	case *arm.Connection:
		return &d.Resource
	case *arm.NetworkInterface:
		return &d.Resource
	case *arm.RouteTable:
		return &d.Resource
	}
	return nil
}

// Resource groups.

// PutGroup creates or updates a resource group.
func (r *Region) PutGroup(ctx context.Context, id arm.ID, in *arm.ResourceGroup) (*arm.ResourceGroup, Outcome, error) {
	var out *arm.ResourceGroup
	var created bool
	_, err := r.update(ctx, func(tx *txn) error {
		old := get[arm.ResourceGroup](tx, arm.TypeResourceGroup, id)
		created = old == nil
		g := *in
		if old != nil {
			id = storedID(id, old.ID)
		}
		g.ID, g.Name, g.Type = id.String(), id.Name(), arm.TypeResourceGroup
		if err := checkTags(g.Tags); err != nil {
			return err
		}
		if g.Location == "" {
			return arm.Errorf(arm.CodeLocationRequired, "the location property is required for resource group '%s'", id.ResourceGroup)
		}
		g.Location = normalizeLocation(g.Location)
		if old != nil {
			if g.Location != old.Location {
				// As ARM: 409 InvalidResourceGroupLocation.
				return arm.Errorf(arm.CodeInvalidGroupLocation, "Invalid resource group location '%s'. The Resource group already exists in location '%s'.", g.Location, old.Location)
			}
		}
		g.Properties = arm.ResourceGroupProperties{ProvisioningState: arm.Succeeded}
		tx.put(arm.TypeResourceGroup, id.Key(), &g)
		out = &g
		return nil
	})
	return out, Outcome{Created: created}, err
}

// deleteOrder is the order in which a resource group's resources go, so
// that nothing is deleted while something in the group still uses it.
var deleteOrder = []string{arm.TypeConnection, arm.TypeNetworkInterface, arm.TypeVirtualNetworkGateway,
	arm.TypePublicIPAddress, arm.TypeLocalNetworkGateway, arm.TypeVirtualNetwork, arm.TypeRouteTable}

// delGroup deletes a resource group and everything in it, all or nothing:
// if something outside the group uses a resource inside, nothing is deleted.
func (r *Region) delGroup(tx *txn, id arm.ID) error {
	prefix := id.Key() + "/"
	for _, kind := range deleteOrder {
		for _, k := range tx.keys(kind) {
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			rid, err := arm.ParseID(resourceID(tx.get(kind, k)))
			if err != nil {
				return err
			}
			if err := opsFor(kind).del(r, tx, rid); err != nil {
				if e, ok := err.(*arm.Error); ok {
					return arm.Errorf(arm.CodeInUseResourceGroup, "resource group '%s' cannot be deleted: %s", id.ResourceGroup, e.Message)
				}
				return err
			}
		}
	}
	tx.del(arm.TypeResourceGroup, id.Key())
	return nil
}

// Child resources (subnets, NAT rules, routes) live in their parent's
// document; items picks them from it as a GET of the parent shows it.

// child returns the child resource id of its parent, by name as ARM
// compares names.
func child[P, C any](r *Region, id arm.ID, items func(*P) []C, name func(C) string) (*C, error) {
	doc, err := r.Get(id.Parent())
	if err != nil {
		return nil, err
	}
	for _, c := range items(doc.(*P)) {
		if strings.EqualFold(name(c), id.Name()) {
			return &c, nil
		}
	}
	return nil, notFound(id)
}

// children lists parent's child resources of type typ (subnets, say) in
// the order of their keys, the part that page asks for, and the key of its
// last one when more follow (as List).
func children[P, C any](r *Region, parent arm.ID, typ string, items func(*P) []C, name func(C) string, page Page) ([]any, string, error) {
	doc, err := r.Get(parent)
	if err != nil {
		return nil, "", err
	}
	byKey := map[string]C{}
	var keys []string
	for _, c := range items(doc.(*P)) {
		k := parent.Child(typ, name(c)).Key()
		byKey[k] = c
		keys = append(keys, k)
	}
	slices.Sort(keys)
	keys, next := page.cut(keys)
	out := []any{}
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out, next, nil
}

// putChild returns a copy of items with c in place of the item of the same
// name (in any case; the stored name's case stays, as ARM keeps it), or
// with c added at the end, and whether c was added.
func putChild[C any](items []C, c C, name func(*C) *string) ([]C, bool) {
	out := slices.Clone(items)
	i := slices.IndexFunc(out, func(x C) bool { return strings.EqualFold(*name(&x), *name(&c)) })
	if i < 0 {
		return append(out, c), true
	}
	*name(&c) = *name(&out[i])
	out[i] = c
	return out, false
}
