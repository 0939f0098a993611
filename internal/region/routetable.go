package region

import (
	"context"
	"fmt"
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
		if err := setIdentity(&t.Resource, id, t.Location); err != nil {
			return err
		}
		p := &t.Properties
		p.ProvisioningState, p.ResourceGUID, p.Subnets = arm.Succeeded, newGUID(), nil
		if old != nil {
			t.Name, p.ResourceGUID = old.Name, old.Properties.ResourceGUID
			if old.Location != t.Location {
				return arm.Errorf(arm.CodeInvalidParameter, "route table %s is in %s; its location cannot change", old.Name, old.Location)
			}
		}
		p.Routes = append([]arm.Route(nil), p.Routes...)
		names := map[string]bool{}
		for i := range p.Routes {
			if err := stageRoute(id, i, &p.Routes[i], names); err != nil {
				return err
			}
		}
		tx.put(arm.TypeRouteTable, id.Key(), &t)
		out = renderRouteTable(tx, &t).(*arm.RouteTable)
		return nil
	})
	return out, Outcome{Created: created}, err
}

// stageRoute checks and canonicalises route i of table id.
func stageRoute(id arm.ID, i int, rt *arm.Route, names map[string]bool) error {
	field := fmt.Sprintf("properties.routes[%d]", i)
	if err := ValidName(rt.Name); err != nil {
		return err
	}
	if names[strings.ToLower(rt.Name)] {
		return arm.Errorf(arm.CodeInvalidParameter, "route name %q appears twice", rt.Name)
	}
	names[strings.ToLower(rt.Name)] = true
	rt.ID, rt.Type = id.Child("routes", rt.Name).String(), arm.TypeRouteTable+"/routes"
	p := &rt.Properties
	pre, err := rules.ParsePrefix(field+".properties.addressPrefix", p.AddressPrefix)
	if err != nil {
		return err
	}
	p.AddressPrefix = pre.String()
	if err := canonical(&p.NextHopType, field+".properties.nextHopType", "", arm.NextHopVirtualAppliance, arm.NextHopGateway,
		arm.NextHopVnetLocal, arm.NextHopInternet, arm.NextHopNone); err != nil {
		return err
	}
	switch {
	case p.NextHopType == "":
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.nextHopType", Message: "a route needs its nextHopType"}
	case p.NextHopType == arm.NextHopVirtualAppliance:
		a, err := parseAddr(field+".properties.nextHopIpAddress", p.NextHopIPAddress)
		if err != nil {
			return err
		}
		p.NextHopIPAddress = a.String()
	case p.NextHopIPAddress != "":
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: field + ".properties.nextHopIpAddress",
			Message: "nextHopIpAddress is for a VirtualAppliance next hop only; this route's is " + p.NextHopType}
	}
	p.ProvisioningState = arm.Succeeded
	return nil
}

// renderRouteTable adds the subnets that use the table.
func renderRouteTable(tx *txn, doc any) any {
	t := *doc.(*arm.RouteTable)
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
