package region

import (
	"context"
	"errors"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// TestIndexFollowsWrites: the index that finds a gateway's and a site's
// connections follows every write, whoever reads it: a connection made
// is in use at both its ends (a gateway or a site with a connection
// cannot be deleted) and counts towards its gateway's limits (R34: no
// second one to the site); deleted, it is in use nowhere, and a group
// delete, which stages every delete in one write, finds each connection
// before it deletes its gateway.
func TestIndexFollowsWrites(t *testing.T) {
	const sub = "eeeeeeee-0000-0000-0000-0000000000f1"
	ctx, must := context.Background(), mustPut(t)
	reg, _ := openRegion(t, Config{})
	gw := putGateway(t, reg, sub, func(p *arm.VirtualNetworkGatewayProperties) {
		p.GatewayType, p.VPNType, p.SKU = arm.GatewayTypeVpn, arm.RouteBased, &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	})
	site := arm.NetworkID(sub, "rg", "localNetworkGateways", "site")
	l := &arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	l.Properties.GatewayIPAddress = "192.0.2.1"
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"192.168.0.0/16"}}
	must(reg.PutLocalGateway(ctx, site, l))
	conn := func(name string) (*arm.Connection, Outcome, error) {
		c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
		c.Properties.ConnectionType = arm.ConnectionIPsec
		c.Properties.VirtualNetworkGateway1, c.Properties.LocalNetworkGateway2 = arm.Ref(gw.String()), arm.Ref(site.String())
		return reg.PutConnection(ctx, arm.NetworkID(sub, "rg", "connections", name), c)
	}
	code := func(err error) string {
		var ae *arm.Error
		if errors.As(err, &ae) {
			return ae.Code
		}
		return ""
	}
	must(conn("c1"))
	if n := len(reg.Snapshot().ConnectionsOf(gw.String())); n != 1 {
		t.Fatalf("the gateway has %d connections, want 1", n)
	}
	if _, _, err := conn("c2"); code(err) != arm.CodeDuplicateConnection {
		t.Errorf("a second connection to the site: %v, want %s", err, arm.CodeDuplicateConnection)
	}
	for _, id := range []arm.ID{gw, site} {
		if _, err := reg.Delete(ctx, id); code(err) != arm.CodeInUseGateway && code(err) != arm.CodeInUseLocalGateway {
			t.Errorf("delete %s, which a connection uses: %v", id.Name(), err)
		}
	}
	if _, err := reg.Delete(ctx, arm.NetworkID(sub, "rg", "connections", "c1")); err != nil {
		t.Fatal(err)
	}
	if n := len(reg.Snapshot().ConnectionsOf(gw.String())); n != 0 {
		t.Fatalf("the gateway has %d connections after the delete, want 0", n)
	}
	must(conn("c2")) // the site is free again
	if _, err := reg.Delete(ctx, arm.ResourceGroupID(sub, "rg")); err != nil {
		t.Fatalf("delete the group: %v", err)
	}
	if n := len(reg.Snapshot().ConnectionsOf(gw.String())); n != 0 {
		t.Errorf("the gateway has %d connections after its group went, want 0", n)
	}
}
