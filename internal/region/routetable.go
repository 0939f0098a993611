package region

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/rules"
)

// PutRouteTable creates or updates a route table: user-defined routes that
// the subnets naming it follow (R26), to a virtual appliance in the VNet
// (a network interface's address), to the VNet's gateway, within the VNet,
// or nowhere.
func (r *Region) PutRouteTable(ctx context.Context, id arm.ID, in *arm.RouteTable) (*arm.RouteTable, Outcome, error) {
	var out *arm.RouteTable
	var created bool
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		old := get[arm.RouteTable](tx, arm.TypeRouteTable, id)
		created = old == nil
		t := *in
		if err := stageRouteTable(tx, id, &t, old, ""); err != nil {
			return err
		}
		out = renderRouteTable(tx, &t).(*arm.RouteTable)
		return nil
	})
	return out, Outcome{Created: created}, err
}

// stageRouteTable checks and completes route table t (old is what it
// replaces, or nil) and puts it; the route named child, when not "", is
// the request's whole body (errors name its fields so).
func stageRouteTable(tx *txn, id arm.ID, t, old *arm.RouteTable, child string) error {
	if old != nil {
		id = storedID(id, old.ID)
	}
	if err := setIdentity(&t.Resource, id, t.Location); err != nil {
		return err
	}
	p := &t.Properties
	p.ProvisioningState, p.ResourceGUID, p.Subnets = arm.Succeeded, NewGUID(), nil
	if old != nil {
		p.ResourceGUID = old.Properties.ResourceGUID
		if err := keepLocation(&t.Resource, &old.Resource, id); err != nil {
			return err
		}
	}
	p.Routes = append([]arm.Route(nil), p.Routes...)
	names, prefixes := map[string]bool{}, map[netip.Prefix]string{}
	for i := range p.Routes {
		field := fmt.Sprintf("properties.routes[%d].", i)
		if child != "" && strings.EqualFold(p.Routes[i].Name, child) {
			field = ""
		}
		if err := stageRoute(id, field, &p.Routes[i], names, prefixes); err != nil {
			return err
		}
	}
	tx.put(arm.TypeRouteTable, id.Key(), t)
	return nil
}

// stageRoute checks and canonicalises a route of table id; field is where
// it is in the request, with a dot after it, or "" when it is the whole
// body (errors name it).
// names and prefixes are those of the table's routes before it.
func stageRoute(id arm.ID, field string, rt *arm.Route, names map[string]bool, prefixes map[netip.Prefix]string) error {
	if err := ValidName(rt.Name); err != nil {
		return err
	}
	if names[strings.ToLower(rt.Name)] {
		return arm.Errorf(arm.CodeInvalidParameter, "route name %q appears twice", rt.Name)
	}
	names[strings.ToLower(rt.Name)] = true
	rt.ID, rt.Type, rt.Etag = id.Child("routes", rt.Name).String(), arm.TypeRoute, ""
	p := &rt.Properties
	pre, err := rules.ParsePrefix(field+"properties.addressPrefix", p.AddressPrefix)
	if err != nil {
		return err
	}
	p.AddressPrefix = pre.String()
	if other, ok := prefixes[pre]; ok {
		// One route per prefix, as ARM: which would the VNet follow?
		return &arm.Error{Code: arm.CodeRouteConflict, Target: field + "properties.addressPrefix",
			Message: fmt.Sprintf("routes %s and %s have the same addressPrefix %s", other, rt.Name, pre)}
	}
	prefixes[pre] = rt.Name
	if err := canonical(&p.NextHopType, field+"properties.nextHopType", "", arm.NextHopVirtualAppliance, arm.NextHopGateway,
		arm.NextHopVnetLocal, arm.NextHopInternet, arm.NextHopNone); err != nil {
		return err
	}
	switch {
	case p.NextHopType == "":
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + "properties.nextHopType", Message: "a route needs its nextHopType"}
	case p.NextHopType == arm.NextHopVirtualAppliance && p.NextHopIPAddress == "":
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + "properties.nextHopIpAddress",
			Message: fmt.Sprintf("route %s to %s has nextHopType VirtualAppliance: it needs nextHopIpAddress, the appliance's address", rt.Name, pre)}
	case p.NextHopType == arm.NextHopVirtualAppliance:
		a, err := parseAddr(field+"properties.nextHopIpAddress", p.NextHopIPAddress)
		if err != nil {
			return err
		}
		if a.Is4() != pre.Addr().Is4() {
			return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + "properties.nextHopIpAddress",
				Message: fmt.Sprintf("next hop %s of route %s to %s: an appliance of the prefix's IP version is needed", a, rt.Name, pre)}
		}
		p.NextHopIPAddress = a.String()
	case p.NextHopIPAddress != "":
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + "properties.nextHopIpAddress",
			Message: "nextHopIpAddress is for a VirtualAppliance next hop only; this route's is " + p.NextHopType}
	}
	p.ProvisioningState = arm.Succeeded
	return nil
}

// renderRouteTable adds the subnets that use the table, and its etag to
// its routes, which carry it.
func renderRouteTable(tx *txn, doc any) any {
	t := *doc.(*arm.RouteTable)
	t.Properties.Routes = slices.Clone(t.Properties.Routes)
	for i := range t.Properties.Routes {
		t.Properties.Routes[i].Etag = t.Etag
	}
	t.Properties.Subnets = nil
	for _, s := range routeTableUsers(tx, t.ID) {
		t.Properties.Subnets = append(t.Properties.Subnets, arm.SubResource{ID: s})
	}
	return &t
}

// routeTableUsers returns the ids of the subnets that name route table id.
func routeTableUsers(tx *txn, id string) []string {
	var out []string
	for _, v := range list[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork) {
		for _, s := range v.Properties.Subnets {
			if arm.Equal(s.Properties.RouteTable.RefID(), id) {
				out = append(out, s.ID)
			}
		}
	}
	return out
}

func (r *Region) delRouteTable(tx *txn, id arm.ID) error {
	if users := routeTableUsers(tx, id.String()); len(users) > 0 {
		return arm.Errorf(arm.CodeInUseRouteTable, "route table %s is used by subnet %s; take it off the subnet first", id.Name(), users[0])
	}
	tx.del(arm.TypeRouteTable, id.Key())
	return nil
}

// Routes as child resources (routeTables/{t}/routes/{r}, the SDKs'
// RoutesClient): each a change of its table.

// PutRoute creates or replaces one route of a route table.
func (r *Region) PutRoute(ctx context.Context, id arm.ID, in *arm.Route) (*arm.Route, Outcome, error) {
	var out *arm.Route
	var created bool
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err
		}
		tid := id.Parent()
		old := get[arm.RouteTable](tx, arm.TypeRouteTable, tid)
		if old == nil {
			return parentNotFound(tid)
		}
		rt := *in
		rt.Name = id.Name()
		t := *old
		t.Properties.Routes, created = putChild(old.Properties.Routes, rt, func(x *arm.Route) *string { return &x.Name })
		if err := stageRouteTable(tx, tid, &t, old, rt.Name); err != nil {
			return err
		}
		out = routeOf(renderRouteTable(tx, &t).(*arm.RouteTable), rt.Name)
		return nil
	})
	return out, Outcome{Created: created}, err
}

// routeOf returns table t's route name, or nil.
func routeOf(t *arm.RouteTable, name string) *arm.Route {
	for i := range t.Properties.Routes {
		if strings.EqualFold(t.Properties.Routes[i].Name, name) {
			return &t.Properties.Routes[i]
		}
	}
	return nil
}

// GetRoute returns one route of a route table.
func (r *Region) GetRoute(id arm.ID) (*arm.Route, error) {
	return child(r, id, routesOf, func(x arm.Route) string { return x.Name })
}

// ListRoutes returns the routes of a route table, as List pages.
func (r *Region) ListRoutes(table arm.ID, page Page) ([]any, string, error) {
	return children(r, table, "routes", routesOf, func(x arm.Route) string { return x.Name }, page)
}

func routesOf(t *arm.RouteTable) []arm.Route { return t.Properties.Routes }

// DeleteRoute deletes one route of a route table.
func (r *Region) DeleteRoute(ctx context.Context, id arm.ID) (bool, error) {
	existed := false
	_, err := r.update(ctx, func(tx *txn) error {
		if _, err := requireGroup(tx, id); err != nil {
			return err // as ARM: 404 ResourceGroupNotFound, not 204
		}
		old := get[arm.RouteTable](tx, arm.TypeRouteTable, id.Parent())
		if old == nil {
			return parentNotFound(id.Parent()) // as ARM: 404, not 204
		}
		if routeOf(old, id.Name()) == nil {
			return nil
		}
		existed = true
		t := *old
		t.Properties.Routes = slices.DeleteFunc(slices.Clone(old.Properties.Routes), func(x arm.Route) bool { return strings.EqualFold(x.Name, id.Name()) })
		return stageRouteTable(tx, id.Parent(), &t, old, "")
	})
	return existed, err
}
