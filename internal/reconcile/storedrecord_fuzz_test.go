package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/store"
	"github.com/vnetgw/vnetgw/internal/store/bolt"
)

// FuzzStoredRecord reads back a record of the state store that a damaged
// database, a hand edit or another version of vnetgw left: one resource
// of a region with a BGP gateway, a site, a VNet-to-VNet connection, a NAT
// rule and a host (or the observed status of a connection or a gateway)
// is replaced by arbitrary bytes. Whatever they are, the region takes
// them or skips them, and neither its reads (what the API answers: every
// resource, the lists, a gateway's connections, a VNet's usage, a host's
// effective routes, point-to-site) nor the data plane's configuration
// built from it panic.
func FuzzStoredRecord(f *testing.F) {
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(f.TempDir(), "state.db"), bolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	pool, _ := region.ParsePool("127.10.0.0/24")
	reg, err := region.Open(ctx, region.Config{Store: st, PublicIPPool: pool})
	if err != nil {
		f.Fatal(err)
	}
	defer reg.Close()
	must := func(_ any, _ region.Outcome, err error) {
		f.Helper()
		if err != nil {
			f.Fatal(err)
		}
	}
	must(reg.PutGroup(ctx, arm.ResourceGroupID(sub, "aa"), &arm.ResourceGroup{Location: "westeurope"}))
	var gws []arm.ID
	for i, name := range []string{"hub", "spoke"} {
		space := fmt.Sprintf("10.%d.0.0/16", i+1)
		v := arm.NetworkID(sub, "aa", "virtualNetworks", name)
		vn := &arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
		vn.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{space}}
		vn.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("10.%d.255.0/27", i+1)}},
			{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("10.%d.1.0/24", i+1)}}}
		must(reg.PutVirtualNetwork(ctx, v, vn))
		pip := arm.NetworkID(sub, "aa", "publicIPAddresses", name+"-ip")
		must(reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}))
		id := arm.NetworkID(sub, "aa", "virtualNetworkGateways", name+"-gw")
		g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
		g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
		g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw2"}
		g.Properties.EnableBGP, g.Properties.BGPSettings = true, &arm.BGPSettings{ASN: int64(65010 + 10*i)}
		g.Properties.EnableBGPRouteTranslationForNat = true
		g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip0",
			Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{Subnet: arm.Ref(v.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
		must(reg.PutGateway(ctx, id, g))
		gws = append(gws, id)
	}
	hub := gws[0]
	must(reg.PutNatRule(ctx, hub.Child("natRules", "vnet"), &arm.VirtualNetworkGatewayNatRule{Properties: arm.VirtualNetworkGatewayNatRuleProperties{
		Type: arm.NatRuleStatic, Mode: arm.NatRuleEgressSnat,
		InternalMappings: []arm.VPNNatRuleMapping{{AddressSpace: "10.1.0.0/16"}}, ExternalMappings: []arm.VPNNatRuleMapping{{AddressSpace: "100.65.0.0/16"}}}}))
	lgw := arm.NetworkID(sub, "aa", "localNetworkGateways", "site")
	l := &arm.LocalNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	l.Properties.GatewayIPAddress = "127.0.0.70"
	l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"192.168.1.0/24"}}
	l.Properties.BGPSettings = &arm.BGPSettings{ASN: 65020, BGPPeeringAddress: "192.168.1.1"}
	must(reg.PutLocalGateway(ctx, lgw, l))
	site := arm.NetworkID(sub, "aa", "connections", "site")
	c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	c.Properties.ConnectionType, c.Properties.EnableBGP = arm.ConnectionIPsec, true
	c.Properties.VirtualNetworkGateway1, c.Properties.LocalNetworkGateway2 = arm.Ref(hub.String()), arm.Ref(lgw.String())
	c.Properties.EgressNatRules = []arm.SubResource{{ID: hub.Child("natRules", "vnet").String()}}
	must(reg.PutConnection(ctx, site, c))
	for name, ends := range map[string][2]arm.ID{"there": {gws[0], gws[1]}, "back": {gws[1], gws[0]}} {
		c := &arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
		c.Properties.ConnectionType = arm.ConnectionVnet2Vnet
		c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(ends[0].String()), arm.Ref(ends[1].String())
		must(reg.PutConnection(ctx, arm.NetworkID(sub, "aa", "connections", name), c))
	}
	nic := arm.NetworkID(sub, "aa", "networkInterfaces", "host")
	n := &arm.NetworkInterface{Resource: arm.Resource{Location: "westeurope"}}
	n.Properties.IPConfigurations = []arm.NetworkInterfaceIPConfiguration{{Name: "ipconfig1", Properties: arm.NetworkInterfaceIPConfigurationProperties{
		Subnet: arm.Ref(arm.NetworkID(sub, "aa", "virtualNetworks", "hub").Child("subnets", "default").String())}}}
	must(reg.PutNetworkInterface(ctx, nic, n))

	// The records as stored, and a status of the site's connection and of
	// the hub's gateway, which the reconciler writes.
	kvs, _, err := st.List(ctx, "res/")
	if err != nil {
		f.Fatal(err)
	}
	keys := map[string][]byte{}
	var order []string
	for _, kv := range kvs {
		keys[kv.Key], order = kv.Value, append(order, kv.Key)
	}
	for _, id := range []arm.ID{site, hub} {
		key := "status/" + strings.ToLower(id.String())
		if _, ok := keys[key]; !ok {
			keys[key], order = nil, append(order, key)
		}
	}
	// An input changes one value of one record (path names it, its
	// objects' keys and its lists' indexes between slashes; "" the whole
	// record), or, bytes that are not JSON, puts them as the record. Its
	// values write the ids of the region short: <n> is what they begin
	// with. An input is small, so that the n²/2 cuts with which the
	// fuzzer minimizes each that finds new coverage (see maxFuzzBody in
	// package api) are few, and most are records that decode, which reach
	// further than a refusal.
	long := arm.NetworkID(sub, "aa", "x", "y").String()
	long = long[:strings.Index(long, "x/y")]
	expand := strings.NewReplacer("<n>", long)
	var ids []arm.ID
	index := map[string]uint8{}
	for i, k := range order {
		if id, err := arm.ParseID(strings.TrimPrefix(k, "res/")); err == nil {
			ids = append(ids, id)
		}
		index[k] = uint8(i)
	}
	res := func(id arm.ID) uint8 { return index["res/"+strings.ToLower(id.String())] }
	status := func(id arm.ID) uint8 { return index["status/"+strings.ToLower(id.String())] }
	hubVNet := arm.NetworkID(sub, "aa", "virtualNetworks", "hub")
	for _, s := range []struct {
		which       uint8
		path, value string
	}{
		{res(hub), "properties/ipConfigurations", `[]`},
		{res(hub), "properties/ipConfigurations/0/properties/subnet/id", `"<n>virtualNetworks/hub/subnets/nope"`},
		{res(hub), "properties/ipConfigurations/0/properties/publicIPAddress", `null`},
		{res(hub), "properties/bgpSettings", `null`},
		{res(hub), "properties/bgpSettings/bgpPeeringAddresses/0/defaultBgpIpAddresses", `["x"]`},
		{res(hub), "properties/natRules/0/properties/internalMappings", `[{"addressSpace":"::/0"}]`},
		{res(hub), "properties/activeActive", `true`},
		{res(hub), "properties/sku", `null`},
		{res(hub), "properties/vpnClientConfiguration", `{"vpnClientAddressPool":{"addressPrefixes":["172.16.0.0/24"]},"vpnClientProtocols":["SSTP"]}`},
		{res(hubVNet), "properties/addressSpace/addressPrefixes", `["0.0.0.0/0"]`},
		{res(hubVNet), "properties/subnets/1/properties/addressPrefix", `"10.1.1.0/33"`},
		{res(hubVNet), "properties/subnets", `[null]`},
		{res(nic), "properties/ipConfigurations/0/properties/privateIPAddress", `"::1"`},
		{res(lgw), "properties/bgpSettings/bgpPeeringAddress", `"a,,192.168.1.1"`},
		{res(lgw), "properties/localNetworkAddressSpace", `null`},
		{res(site), "properties/localNetworkGateway2", `null`},
		{res(site), "properties/egressNatRules/0/id", `"<n>"`},
		{res(site), "properties/ipsecPolicies", `[{}]`},
		{res(site), "properties/trafficSelectorPolicies", `[{"localAddressRanges":["x"],"remoteAddressRanges":[]}]`},
		{status(site), "", `{"connectionStatus":"Connected","ingressBytes":-1,"tunnels":[{"tunnel":"x","ingressBytesTransferred":1}],"base":{"x":5}}`},
		{status(hub), "", `{"state":"Succeeded","instances":[{"node":"a"}]}`},
		{res(hub), "", `null`},
		{res(hub), "", `{"id":`},
	} {
		f.Add(s.which, s.path, []byte(s.value))
	}
	f.Add(uint8(0), "", make([]byte, maxFuzzRecord+1))

	// write puts the record and the fence, unchanged, in one transaction:
	// Sync then waits for the region to have read the record.
	fence, err := st.Get(ctx, "meta/fence")
	if err != nil {
		f.Fatal(err)
	}
	write := func(t *testing.T, key string, value []byte) {
		op := store.Delete(key)
		if value != nil {
			op = store.Put(key, value)
		}
		if _, err := st.Txn(ctx, nil, []store.Op{op, store.Put("meta/fence", fence.Value)}); err != nil {
			t.Fatal(err)
		}
		if err := reg.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	scope := arm.ResourceGroupID(sub, "aa")
	f.Fuzz(func(t *testing.T, which uint8, path string, value []byte) {
		key := order[int(which)%len(order)]
		if len(path)+len(value) > maxFuzzRecord {
			return
		}
		record := []byte(expand.Replace(string(value)))
		if json.Valid(record) {
			var doc, v any
			if keys[key] != nil {
				if err := json.Unmarshal(keys[key], &doc); err != nil {
					t.Fatal(err)
				}
			}
			json.Unmarshal(record, &v)
			var err error
			if record, err = json.Marshal(set(doc, strings.Split(path, "/"), v, path == "")); err != nil {
				t.Fatal(err)
			}
		} else if path != "" || len(value) == 0 {
			return // bytes that are no JSON are the whole record; a put of nothing is none
		}
		write(t, key, record)
		defer write(t, key, keys[key])
		for _, id := range ids {
			reg.Get(id)
			reg.VNetOf(id.Type(), id)
		}
		for _, kind := range []string{arm.TypeVirtualNetwork, arm.TypePublicIPAddress, arm.TypeVirtualNetworkGateway, arm.TypeLocalNetworkGateway,
			arm.TypeConnection, arm.TypeNetworkInterface} {
			reg.List(kind, scope, region.Page{Max: 1000})
		}
		reg.ListResources(arm.ID{}, region.Page{Max: 1000})
		for _, g := range gws {
			reg.GatewayConnections(g, region.Page{Max: 1000})
			reg.ListNatRules(g, region.Page{Max: 1000})
			reg.PointToSiteOf(g)
			reg.RadiusSecrets(g)
		}
		for _, v := range []string{"hub", "spoke"} {
			reg.VNetUsages(arm.NetworkID(sub, "aa", "virtualNetworks", v), region.Page{Max: 1000})
			reg.ListSubnets(arm.NetworkID(sub, "aa", "virtualNetworks", v), region.Page{Max: 1000})
		}
		reg.EffectiveRoutes(nic, true, nil)
		Build(reg.Snapshot(), nil)
		reg.GetNatRule(hub.Child("natRules", "vnet"))
	})
}

// maxFuzzRecord bounds the fuzzed bytes of FuzzStoredRecord, as
// maxFuzzBody does package api's.
const maxFuzzRecord = 256

// set sets the value at path in a decoded JSON document, making the
// objects on the way; whole sets the whole document.
func set(doc any, path []string, v any, whole bool) any {
	if whole || len(path) == 0 {
		return v
	}
	switch d := doc.(type) {
	case map[string]any:
		d[path[0]] = set(d[path[0]], path[1:], v, false)
		return d
	case []any:
		if i, err := strconv.Atoi(path[0]); err == nil && i >= 0 && i < len(d) {
			d[i] = set(d[i], path[1:], v, false)
			return d
		} else if err == nil && i == len(d) {
			return append(d, set(nil, path[1:], v, false))
		}
	}
	return map[string]any{path[0]: set(nil, path[1:], v, false)}
}
