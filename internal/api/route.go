package api

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// route is a parsed request path.
type route struct {
	// kind is the resource type addressed (arm.Type...).
	kind string
	// id is the resource addressed, or the scope of a list (a subscription
	// or resource group id).
	id   arm.ID
	list bool
	// sub is a sub-path of a resource: "sharedkey", "sharedkey/reset",
	// "effectiveRouteTable", "connectionsTo", "vpndeviceconfigurationscript",
	// "supportedvpndevices", "getikesas", "resetconnection", "reset",
	// "checkipaddressavailability", "usages", "connections",
	// "getbgppeerstatus", "getlearnedroutes", "getadvertisedroutes",
	// "getvpnclientconnectionhealth", "listradiussecrets", "startpacketcapture",
	// "getvpnclientipsecparameters", "setvpnclientipsecparameters",
	// "stoppacketcapture", "metrics", "metricdefinitions" (Azure Monitor's,
	// under providers/Microsoft.Insights); or the operation of an
	// operation result.
	sub string
}

// kindOperationResult is the kind of .../locations/{l}/operationResults/{id},
// where the pollers of the SDKs ask whether an operation answered with 202
// is done.
const kindOperationResult = "operationResults"

// kindResources is the kind of Microsoft.Resources' lists of every type
// (GET /subscriptions/{s}[/resourceGroups/{g}]/resources).
const kindResources = "Microsoft.Resources/resources"

func (rt route) namespace() string {
	switch {
	case rt.kind == arm.TypeResourceGroup || rt.kind == kindResources:
		return "Microsoft.Resources"
	case rt.sub == "metrics" || rt.sub == "metricdefinitions":
		return namespaceInsights
	}
	return arm.NamespaceNetwork
}

// namespaceInsights is Azure Monitor's, whose metrics of gateways and
// connections are served.
const namespaceInsights = "Microsoft.Insights"

// networkTypes are the top-level Microsoft.Network types served, by their
// lower-case path segment.
var networkTypes = map[string]string{
	"virtualnetworks":        arm.TypeVirtualNetwork,
	"publicipaddresses":      arm.TypePublicIPAddress,
	"virtualnetworkgateways": arm.TypeVirtualNetworkGateway,
	"localnetworkgateways":   arm.TypeLocalNetworkGateway,
	"connections":            arm.TypeConnection,
	"networkinterfaces":      arm.TypeNetworkInterface,
	"routetables":            arm.TypeRouteTable,
}

var groupNameRE = regexp.MustCompile(`^[-\w._()]{1,90}$`)

// subscriptionRE is a subscription id: a GUID, as ARM takes none else.
// Ids are keys in lower case: one of letters that fold (K, the Kelvin
// sign) would meet another subscription's.
var subscriptionRE = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// notFoundPath names the types served: a path with a type mistyped
// (virtualNetwork) was answered "no resource type is served" alone.
func notFoundPath(path string) error {
	return arm.Errorf(arm.CodeInvalidResourceType, "no resource type is served at %s; vnetgw serves /subscriptions/{id}/resourceGroups[/{name}], /subscriptions/{id}[/resourceGroups/{name}]/resources and, under /subscriptions/{id}/resourceGroups/{name}/providers/Microsoft.Network/, %s", path, servedTypes)
}

// servedTypes lists the segments of networkTypes as ARM spells them.
var servedTypes = func() string {
	var names []string
	for _, t := range networkTypes {
		names = append(names, strings.TrimPrefix(t, arm.NamespaceNetwork+"/"))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}()

// parseRoute parses an ARM request path. Fixed segments match in any case,
// as in ARM; names keep the case they were given.
func parseRoute(escaped string) (route, error) {
	if strings.Trim(escaped, "/") == "" {
		return route{}, notFoundPath(escaped) // it was "/ has an invalid segment"
	}
	raw := strings.Split(strings.Trim(escaped, "/"), "/")
	seg := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || strings.ContainsAny(u, "/\x00") {
			return route{}, arm.Errorf(arm.CodeInvalidResourceName, "the request path %s has an invalid segment", escaped)
		}
		seg[i] = u
	}
	is := func(i int, word string) bool { return i < len(seg) && strings.EqualFold(seg[i], word) }
	if len(seg) < 3 || !is(0, "subscriptions") {
		return route{}, notFoundPath(escaped)
	}
	sub := seg[1]
	if !subscriptionRE.MatchString(sub) {
		return route{}, arm.Errorf(arm.CodeInvalidSubscriptionID, "the subscription identifier %q is malformed: a GUID such as 00000000-0000-0000-0000-000000000000", sub)
	}
	// /subscriptions/{s}/providers/Microsoft.Network/{type}
	if is(2, "providers") {
		if len(seg) == 8 && is(3, arm.NamespaceNetwork) && is(4, "locations") && is(6, "operationResults") {
			return route{kind: kindOperationResult, id: arm.ID{Subscription: sub}, sub: seg[7]}, nil
		}
		if len(seg) != 5 || !is(3, arm.NamespaceNetwork) || networkTypes[strings.ToLower(seg[4])] == "" {
			return route{}, notFoundPath(escaped)
		}
		return route{kind: networkTypes[strings.ToLower(seg[4])], id: arm.ID{Subscription: sub}, list: true}, nil
	}
	if len(seg) == 3 && is(2, "resources") {
		return route{kind: kindResources, id: arm.ID{Subscription: sub}, list: true}, nil
	}
	if !is(2, "resourceGroups") {
		return route{}, notFoundPath(escaped)
	}
	if len(seg) == 3 {
		return route{kind: arm.TypeResourceGroup, id: arm.ID{Subscription: sub}, list: true}, nil
	}
	rg := seg[3]
	if !groupNameRE.MatchString(rg) || strings.HasSuffix(rg, ".") {
		return route{}, arm.Errorf(arm.CodeInvalidResourceName,
			"resource group name %q is invalid: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending in a period", rg)
	}
	if len(seg) == 4 {
		return route{kind: arm.TypeResourceGroup, id: arm.ResourceGroupID(sub, rg)}, nil
	}
	if len(seg) == 5 && is(4, "resources") {
		return route{kind: kindResources, id: arm.ResourceGroupID(sub, rg), list: true}, nil
	}
	if len(seg) < 7 || !is(4, "providers") || !is(5, arm.NamespaceNetwork) || networkTypes[strings.ToLower(seg[6])] == "" {
		return route{}, notFoundPath(escaped)
	}
	kind := networkTypes[strings.ToLower(seg[6])]
	typ := kind[len(arm.NamespaceNetwork)+1:]
	if len(seg) == 7 {
		return route{kind: kind, id: arm.ResourceGroupID(sub, rg), list: true}, nil
	}
	id := arm.NetworkID(sub, rg, typ, seg[7])
	rest := seg[8:]
	switch {
	case len(rest) == 0:
		return route{kind: kind, id: id}, nil
	case kind == arm.TypeVirtualNetwork && is(8, "subnets") && len(rest) == 1:
		return route{kind: arm.TypeSubnet, id: id, list: true}, nil
	case kind == arm.TypeVirtualNetwork && is(8, "subnets") && len(rest) == 2:
		return route{kind: arm.TypeSubnet, id: id.Child("subnets", seg[9])}, nil
	case kind == arm.TypeRouteTable && is(8, "routes") && len(rest) == 1:
		return route{kind: arm.TypeRoute, id: id, list: true}, nil
	case kind == arm.TypeRouteTable && is(8, "routes") && len(rest) == 2:
		return route{kind: arm.TypeRoute, id: id.Child("routes", seg[9])}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "natRules") && len(rest) == 1:
		return route{kind: arm.TypeNatRule, id: id, list: true}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "natRules") && len(rest) == 2:
		return route{kind: arm.TypeNatRule, id: id.Child("natRules", seg[9])}, nil
	case (kind == arm.TypeVirtualNetworkGateway || kind == arm.TypeConnection) && is(8, "providers") && is(9, namespaceInsights) &&
		(is(10, "metrics") || is(10, "metricDefinitions")) && len(rest) == 3:
		return route{kind: kind, id: id, sub: strings.ToLower(seg[10])}, nil
	case kind == arm.TypeConnection && is(8, "sharedkey") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "sharedkey"}, nil
	case kind == arm.TypeConnection && is(8, "sharedkey") && is(9, "reset") && len(rest) == 2:
		return route{kind: kind, id: id, sub: "sharedkey/reset"}, nil
	case kind == arm.TypeNetworkInterface && is(8, "effectiveRouteTable") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "effectiveRouteTable"}, nil
	case kind == arm.TypeConnection && is(8, "vpndeviceconfigurationscript") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "vpndeviceconfigurationscript"}, nil
	case kind == arm.TypeConnection && (is(8, "getikesas") || is(8, "resetconnection")) && len(rest) == 1:
		return route{kind: kind, id: id, sub: strings.ToLower(seg[8])}, nil
	case kind == arm.TypeVirtualNetwork && (is(8, "CheckIPAddressAvailability") || is(8, "usages")) && len(rest) == 1:
		return route{kind: kind, id: id, sub: strings.ToLower(seg[8])}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "connections") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "connections"}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "listRadiusSecrets") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "listradiussecrets"}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "getVpnClientConnectionHealth") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "getvpnclientconnectionhealth"}, nil
	case kind == arm.TypeVirtualNetworkGateway && (is(8, "generatevpnclientpackage") || is(8, "generatevpnprofile")) && len(rest) == 1:
		return route{kind: kind, id: id, sub: "generatevpnclientpackage"}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "getvpnprofilepackageurl") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "getvpnprofilepackageurl"}, nil
	case kind == arm.TypeVirtualNetworkGateway && (is(8, "getvpnclientipsecparameters") || is(8, "setvpnclientipsecparameters")) && len(rest) == 1:
		return route{kind: kind, id: id, sub: strings.ToLower(seg[8])}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "disconnectVirtualNetworkGatewayVpnConnections") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "disconnectvirtualnetworkgatewayvpnconnections"}, nil
	case kind == arm.TypeVirtualNetworkGateway && (is(8, "getBgpPeerStatus") || is(8, "getLearnedRoutes") || is(8, "getAdvertisedRoutes")) && len(rest) == 1:
		return route{kind: kind, id: id, sub: strings.ToLower(seg[8])}, nil
	case (kind == arm.TypeVirtualNetworkGateway || kind == arm.TypeConnection) && (is(8, "startPacketCapture") || is(8, "stopPacketCapture")) && len(rest) == 1:
		return route{kind: kind, id: id, sub: strings.ToLower(seg[8])}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "reset") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "reset"}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "supportedvpndevices") && len(rest) == 1:
		return route{kind: kind, id: id, sub: "supportedvpndevices"}, nil
	case kind == arm.TypeVirtualNetworkGateway && is(8, "connectionsTo") && len(rest) == 1:
		// vnetgw's federation: this region's connections that end at a
		// gateway, usually of another region (region.ConnectionTo).
		return route{kind: kind, id: id, sub: "connectionsTo"}, nil
	}
	return route{}, notFoundPath(escaped)
}
