// Package arm holds the shapes of Azure Resource Manager that vnetgw speaks:
// resource ids, the Microsoft.Network and Microsoft.Resources resource types
// with their JSON field names (api-version 2024-05-01), and the error
// envelope. It has no logic beyond parsing and formatting.
package arm

import (
	"fmt"
	"strings"
)

// Resource types, as ARM spells them.
const (
	TypeResourceGroup         = "Microsoft.Resources/resourceGroups"
	TypeVirtualNetwork        = "Microsoft.Network/virtualNetworks"
	TypeSubnet                = "Microsoft.Network/virtualNetworks/subnets"
	TypePublicIPAddress       = "Microsoft.Network/publicIPAddresses"
	TypeVirtualNetworkGateway = "Microsoft.Network/virtualNetworkGateways"
	TypeLocalNetworkGateway   = "Microsoft.Network/localNetworkGateways"
	TypeConnection            = "Microsoft.Network/connections"
	TypeNetworkInterface      = "Microsoft.Network/networkInterfaces"
	TypeRouteTable            = "Microsoft.Network/routeTables"
	TypeRoute                 = "Microsoft.Network/routeTables/routes"
	TypeNatRule               = "Microsoft.Network/virtualNetworkGateways/natRules"
)

// The API versions vnetgw implements; its own client sends these.
const (
	NetworkAPIVersion   = "2024-05-01"
	ResourcesAPIVersion = "2021-04-01"
)

// NamespaceNetwork is the resource provider of every network resource.
const NamespaceNetwork = "Microsoft.Network"

// canonical spells the type segments of ids the way ARM returns them.
var canonical = map[string]string{
	"virtualnetworks":        "virtualNetworks",
	"subnets":                "subnets",
	"publicipaddresses":      "publicIPAddresses",
	"virtualnetworkgateways": "virtualNetworkGateways",
	"localnetworkgateways":   "localNetworkGateways",
	"connections":            "connections",
	"networkinterfaces":      "networkInterfaces",
	"ipconfigurations":       "ipConfigurations",
}

// ID is a parsed ARM resource id:
// /subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}[/{type}/{name}...].
// ARM compares ids case-insensitively; Key gives the form to compare.
type ID struct {
	Subscription  string
	ResourceGroup string // empty for a subscription id
	Namespace     string // empty for a resource group id
	Types         []string
	Names         []string
}

// ParseID parses an ARM resource id.
func ParseID(s string) (ID, error) {
	bad := func(why string) (ID, error) {
		return ID{}, fmt.Errorf("invalid resource id %q: %s", s, why)
	}
	if !strings.HasPrefix(s, "/") {
		return bad("it must start with /subscriptions/")
	}
	seg := strings.Split(strings.TrimSuffix(s[1:], "/"), "/")
	for _, p := range seg {
		if p == "" {
			return bad("empty segment")
		}
	}
	if len(seg) < 2 || !strings.EqualFold(seg[0], "subscriptions") {
		return bad("it must start with /subscriptions/{subscriptionId}")
	}
	id := ID{Subscription: seg[1]}
	seg = seg[2:]
	if len(seg) == 0 {
		return id, nil
	}
	if len(seg) < 2 || !strings.EqualFold(seg[0], "resourceGroups") {
		return bad("expected resourceGroups/{name}")
	}
	id.ResourceGroup = seg[1]
	seg = seg[2:]
	if len(seg) == 0 {
		return id, nil
	}
	if len(seg) < 4 || !strings.EqualFold(seg[0], "providers") || len(seg)%2 != 0 {
		return bad("expected providers/{namespace}/{type}/{name}")
	}
	id.Namespace = seg[1]
	for i := 2; i < len(seg); i += 2 {
		t := seg[i]
		if c, ok := canonical[strings.ToLower(t)]; ok {
			t = c
		}
		id.Types = append(id.Types, t)
		id.Names = append(id.Names, seg[i+1])
	}
	if strings.EqualFold(id.Namespace, NamespaceNetwork) {
		id.Namespace = NamespaceNetwork
	}
	return id, nil
}

// ResourceGroupID returns the id of a resource group.
func ResourceGroupID(sub, rg string) ID { return ID{Subscription: sub, ResourceGroup: rg} }

// NetworkID returns the id of a Microsoft.Network resource; typesAndNames
// alternate type and name, e.g. "virtualNetworks", "v1", "subnets", "s".
func NetworkID(sub, rg string, typesAndNames ...string) ID {
	id := ID{Subscription: sub, ResourceGroup: rg, Namespace: NamespaceNetwork}
	for i := 0; i+1 < len(typesAndNames); i += 2 {
		id.Types = append(id.Types, typesAndNames[i])
		id.Names = append(id.Names, typesAndNames[i+1])
	}
	return id
}

// String formats the id as ARM does.
func (id ID) String() string {
	var b strings.Builder
	b.WriteString("/subscriptions/")
	b.WriteString(id.Subscription)
	if id.ResourceGroup == "" {
		return b.String()
	}
	b.WriteString("/resourceGroups/")
	b.WriteString(id.ResourceGroup)
	if id.Namespace == "" {
		return b.String()
	}
	b.WriteString("/providers/")
	b.WriteString(id.Namespace)
	for i := range id.Types {
		b.WriteString("/")
		b.WriteString(id.Types[i])
		b.WriteString("/")
		b.WriteString(id.Names[i])
	}
	return b.String()
}

// Key is the case-folded form of the id, for comparing and indexing.
func (id ID) Key() string { return strings.ToLower(id.String()) }

// Type returns the resource type, such as Microsoft.Network/virtualNetworks
// or, for a resource group, Microsoft.Resources/resourceGroups.
func (id ID) Type() string {
	switch {
	case id.ResourceGroup == "":
		return "Microsoft.Resources/subscriptions"
	case id.Namespace == "":
		return TypeResourceGroup
	}
	return id.Namespace + "/" + strings.Join(id.Types, "/")
}

// Name returns the last name of the id.
func (id ID) Name() string {
	switch {
	case len(id.Names) > 0:
		return id.Names[len(id.Names)-1]
	case id.ResourceGroup != "":
		return id.ResourceGroup
	}
	return id.Subscription
}

// Parent returns the id of the enclosing resource (the resource group of a
// top-level resource).
func (id ID) Parent() ID {
	p := id
	if n := len(id.Types); n > 1 {
		p.Types, p.Names = id.Types[:n-1], id.Names[:n-1]
		return p
	}
	if len(id.Types) == 1 {
		return ResourceGroupID(id.Subscription, id.ResourceGroup)
	}
	if id.ResourceGroup != "" {
		return ID{Subscription: id.Subscription}
	}
	return id
}

// Child returns the id of a child resource.
func (id ID) Child(typ, name string) ID {
	c := id
	c.Types = append(append([]string(nil), id.Types...), typ)
	c.Names = append(append([]string(nil), id.Names...), name)
	return c
}

// Equal reports whether two id strings name the same resource, comparing
// case-insensitively as ARM does.
func Equal(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
}
