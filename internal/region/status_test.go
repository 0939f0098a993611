package region

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// TestConnectionStatusReasonIsShown pins that GET of a connection says why
// it is not connected (connectionStatusReason), such as a policy-based
// tunnel removed for idleness (R8), and says nothing once it is Connected
// but which of its prefix pairs are not up (R18); a PUT cannot set it.
func TestConnectionStatusReasonIsShown(t *testing.T) {
	ctx := context.Background()
	reg, _ := openRegion(t, Config{})

	const sub, rg, loc = "dddddddd-0000-0000-0000-0000000000r8", "rg", "westeurope"
	must := mustPut(t)
	gw := putGateway(t, reg, sub, func(p *arm.VirtualNetworkGatewayProperties) {
		p.VPNType = arm.PolicyBased
		p.SKU = &arm.VirtualNetworkGatewaySKU{Name: "Basic"}
	})
	site := arm.NetworkID(sub, rg, "localNetworkGateways", "site")
	l := &arm.LocalNetworkGateway{Resource: arm.Resource{Location: loc}}
	l.Properties.GatewayIPAddress = "127.0.0.50"
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"192.168.0.0/16"}}
	must(reg.PutLocalGateway(ctx, site, l))
	conn := arm.NetworkID(sub, rg, "connections", "c")
	c := &arm.Connection{Resource: arm.Resource{Location: loc}}
	c.Properties.ConnectionType = arm.ConnectionIPsec
	c.Properties.VirtualNetworkGateway1 = arm.Ref(gw.String())
	c.Properties.LocalNetworkGateway2 = arm.Ref(site.String())
	c.Properties.ConnectionStatusReason = "a client cannot set this"
	must(reg.PutConnection(ctx, conn, c))
	if got, err := reg.Get(conn); err != nil || got.(*arm.Connection).Properties.ConnectionStatusReason != "" {
		t.Fatalf("a PUT set the reason: %v %+v", err, got)
	}

	for _, tc := range []struct {
		name       string
		st         ConnectionStatus
		wantReason string
	}{
		{"not connected says why", ConnectionStatus{ConnectionStatus: NotConnected, Reason: "removed for idleness (R8)"}, "removed for idleness (R8)"},
		{"connected says nothing", ConnectionStatus{ConnectionStatus: Connected}, ""},
		{"connected with a prefix pair down says which", ConnectionStatus{ConnectionStatus: Connected, Reason: "1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.3.0.0/16"},
			"1 of 2 prefix pairs not up: 10.1.0.0/16 <-> 10.3.0.0/16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(tc.st)
			if err := reg.PutStatuses(ctx, map[string][]byte{conn.Key(): b}); err != nil {
				t.Fatal(err)
			}
			got, err := reg.Get(conn)
			if err != nil {
				t.Fatal(err)
			}
			p := got.(*arm.Connection).Properties
			if p.ConnectionStatus != tc.st.ConnectionStatus || p.ConnectionStatusReason != tc.wantReason {
				t.Fatalf("GET shows %q (%q), want %q (%q)", p.ConnectionStatus, p.ConnectionStatusReason, tc.st.ConnectionStatus, tc.wantReason)
			}
		})
	}
}

// With MaxTxnOps (etcd's limit), statuses are written in transactions of
// that many ops at most, and every one of them is written.
func TestStatusesInBoundedTransactions(t *testing.T) {
	ctx := context.Background()
	reg, st := openRegion(t, Config{MaxTxnOps: 2})
	before, _ := st.Revision(ctx)
	statuses := map[string][]byte{}
	for i := range 5 {
		statuses[fmt.Sprintf("/subscriptions/s/resourcegroups/rg/providers/microsoft.network/connections/c%d", i)] = []byte(`{"connectionStatus":"Connected"}`)
	}
	if err := reg.PutStatuses(ctx, statuses); err != nil {
		t.Fatal(err)
	}
	if after, _ := st.Revision(ctx); after-before != 3 {
		t.Errorf("5 statuses took %d transactions, want 3 of at most 2", after-before)
	}
	for id := range statuses {
		if _, err := st.Get(ctx, prefixStatus+id); err != nil {
			t.Errorf("status of %s: %v", id, err)
		}
	}
}

// TestRemoveStatusAlreadyGone: the removal of a status that is gone
// already (the resource's delete took it, or another pass did) returns
// once its revision is seen, as the reconcile loop's next status write
// waits for it, and not at the next write by anyone else.
func TestRemoveStatusAlreadyGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, _ := openRegion(t, Config{})
	gone := map[string][]byte{"/subscriptions/s/resourcegroups/rg/providers/microsoft.network/connections/gone": nil}
	if err := reg.PutStatuses(ctx, gone); err != nil {
		t.Fatalf("removing a status already gone: %v", err)
	}
}

// openRegion opens a region as cfg says on a new bbolt store; both close
// when t ends.
func openRegion(t testing.TB, cfg Config) (*Region, *bolt.Store) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Store = st
	cfg.PublicIPPool, _ = ParsePool("127.10.0.0/24")
	reg, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg, st
}

// mustPut returns a function that fails t on the error of a region's
// Put.
func mustPut(t testing.TB) func(any, Outcome, error) {
	return func(_ any, _ Outcome, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// putGateway puts, in a new resource group "rg" of subscription sub in
// westeurope, a VNet "v" (10.1.0.0/16 with the GatewaySubnet
// 10.1.255.0/27), a public address "pip" and a gateway "gw" on them whose
// other properties set gives, and returns the gateway's ID.
func putGateway(t testing.TB, reg *Region, sub string, set func(p *arm.VirtualNetworkGatewayProperties)) arm.ID {
	t.Helper()
	ctx, must := context.Background(), mustPut(t)
	const rg, loc = "rg", "westeurope"
	must(reg.PutGroup(ctx, arm.ResourceGroupID(sub, rg), &arm.ResourceGroup{Location: loc}))
	vnet := arm.NetworkID(sub, rg, "virtualNetworks", "v")
	v := &arm.VirtualNetwork{Resource: arm.Resource{Location: loc}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"10.1.0.0/16"}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: "10.1.255.0/27"}}}
	must(reg.PutVirtualNetwork(ctx, vnet, v))
	pip := arm.NetworkID(sub, rg, "publicIPAddresses", "pip")
	must(reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: loc}}))
	gw := arm.NetworkID(sub, rg, "virtualNetworkGateways", "gw")
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
	set(&g.Properties)
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	must(reg.PutGateway(ctx, gw, g))
	return gw
}

// TestWriteTooLarge: a change that needs more records in one transaction
// than the store takes (etcd's --max-txn-ops) is refused with
// WriteTooLarge, and changes nothing; in smaller steps it is made.
func TestWriteTooLarge(t *testing.T) {
	ctx := context.Background()
	reg, _ := openRegion(t, Config{MaxTxnOps: 10})
	const sub = "eeeeeeee-0000-0000-0000-0000000000e7"
	g := arm.ResourceGroupID(sub, "rg")
	if _, _, err := reg.PutGroup(ctx, g, &arm.ResourceGroup{Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	site := func(i int) arm.ID { return arm.NetworkID(sub, "rg", "localNetworkGateways", fmt.Sprintf("site%d", i)) }
	for i := range 12 {
		l := &arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
		l.Properties.GatewayIPAddress = fmt.Sprintf("192.0.2.%d", i+1)
		l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{fmt.Sprintf("10.%d.0.0/16", i)}}
		if _, _, err := reg.PutLocalGateway(ctx, site(i), l); err != nil {
			t.Fatal(err)
		}
	}
	var ae *arm.Error
	if _, err := reg.Delete(ctx, g); !errors.As(err, &ae) || ae.Code != arm.CodeWriteTooLarge {
		t.Fatalf("deleting a group of 12 resources, 10 records a transaction: %v", err)
	}
	if _, err := reg.Get(site(0)); err != nil {
		t.Fatalf("the refused delete took a resource: %v", err)
	}
	for i := range 6 {
		if _, err := reg.Delete(ctx, site(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.Delete(ctx, g); err != nil {
		t.Errorf("the group of 6 resources: %v", err)
	}
}

// TestStatusWritesDoNotWakeTheLoop: a status write (every node makes
// them all the time under traffic) does not close Changed, which wakes
// every node's reconcile loop to copy the whole model; a change of the
// desired state does.
func TestStatusWritesDoNotWakeTheLoop(t *testing.T) {
	ctx := context.Background()
	reg, _ := openRegion(t, Config{})
	id := arm.ResourceGroupID("dddddddd-0000-0000-0000-0000000000c1", "rg")
	changed := reg.Changed()
	if err := reg.PutStatuses(ctx, map[string][]byte{id.Key(): []byte(`{"forwarded":1}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
		t.Fatal("a status write closed Changed")
	default:
	}
	if _, _, err := reg.PutGroup(ctx, id, &arm.ResourceGroup{Location: "westeurope"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("a change of the desired state did not close Changed")
	}
}
