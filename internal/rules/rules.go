// Package rules holds the rules of the Azure VPN Gateway FAQ that can be
// decided from configuration alone, as pure functions named by the
// requirement they implement (R-ids of SPEC.md). Each returns an *arm.Error
// whose code names the broken rule, or nil.
package rules

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// GatewaySubnetName is the only name a gateway's subnet may have (R23).
const GatewaySubnetName = "GatewaySubnet"

// ParsePrefix parses a CIDR prefix and insists on its canonical form (no
// host bits set), as ARM does, and on IPv4 ranges written as IPv4.
func ParsePrefix(field, s string) (netip.Prefix, *arm.Error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, &arm.Error{Code: arm.CodeInvalidAddressPrefix, Target: field,
			Message: fmt.Sprintf("%s: %q is not a valid CIDR prefix", field, s)}
	}
	if p.Masked() != p {
		return netip.Prefix{}, &arm.Error{Code: arm.CodeInvalidAddressPrefix, Target: field,
			Message: fmt.Sprintf("%s: %s has host bits set; the prefix is %s", field, s, p.Masked())}
	}
	if p.Addr().Is4In6() {
		// RFC 4291 §2.5.5.2: it stands for IPv4 addresses, which the
		// overlap checks (R35), comparing IPv6 with IPv6 only, would
		// not hold against the IPv4 ranges it names.
		return netip.Prefix{}, &arm.Error{Code: arm.CodeInvalidAddressPrefix, Target: field,
			Message: fmt.Sprintf("%s: %s is an IPv4-mapped IPv6 prefix; give the IPv4 prefix %s", field, s, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96))}
	}
	return p, nil
}

// MaxPrefixes bounds a list of prefixes: the overlap checks compare
// each with every other, inside the region's write lock.
const MaxPrefixes = 1000

// ParsePrefixes parses a list of prefixes and refuses overlaps within it.
func ParsePrefixes(field string, ss []string) ([]netip.Prefix, *arm.Error) {
	if len(ss) > MaxPrefixes {
		return nil, &arm.Error{Code: arm.CodeInvalidParameter, Target: field,
			Message: fmt.Sprintf("%s: %d prefixes; at most %d in one list", field, len(ss), MaxPrefixes)}
	}
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := ParsePrefix(field, s)
		if err != nil {
			return nil, err
		}
		for _, q := range out {
			if q.Overlaps(p) {
				return nil, &arm.Error{Code: arm.CodeInvalidAddressPrefix, Target: field,
					Message: fmt.Sprintf("%s: %s overlaps %s in the same list", field, p, q)}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// Overlap finds the first pair of overlapping prefixes between a and b.
func Overlap(a, b []netip.Prefix) (netip.Prefix, netip.Prefix, bool) {
	for _, p := range a {
		for _, q := range b {
			if p.Overlaps(q) {
				return p, q, true
			}
		}
	}
	return netip.Prefix{}, netip.Prefix{}, false
}

// Covered reports whether p lies entirely inside one of space.
func Covered(p netip.Prefix, space []netip.Prefix) bool {
	for _, s := range space {
		if s.Bits() <= p.Bits() && s.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// AddressSpace is one named address space taking part in a gateway's
// routing domain: its own VNet, a local site, or a connected VNet.
type AddressSpace struct {
	Owner    string // resource id, for messages and de-duplication
	Prefixes []netip.Prefix
}

// R35NoOverlap checks that the address spaces joined at one gateway do not
// overlap (R35; R43 for local ranges against the VNet's ranges). Spaces with
// the same owner are the same space and are not compared.
func R35NoOverlap(gateway string, spaces []AddressSpace) *arm.Error {
	for i := range spaces {
		for j := i + 1; j < len(spaces); j++ {
			a, b := spaces[i], spaces[j]
			if arm.Equal(a.Owner, b.Owner) {
				continue
			}
			if p, q, ok := Overlap(a.Prefixes, b.Prefixes); ok {
				return arm.Errorf(arm.CodeAddressSpaceOverlap,
					"address spaces joined at gateway %s overlap: %s of %s and %s of %s (R35)", gateway, p, a.Owner, q, b.Owner)
			}
		}
	}
	return nil
}

// GatewaySubnetSize returns the smallest allowed and the recommended size of
// a GatewaySubnet, as prefix lengths for IPv4.
const (
	GatewaySubnetMaxBits         = 29 // at least /29 (R23)
	GatewaySubnetRecommendedBits = 28 // /28 or larger recommended (R23)
	// GatewaySubnetMaxBits6 bounds an IPv6 prefix of a dual-stack
	// GatewaySubnet: Azure's IPv6 subnets are /64.
	GatewaySubnetMaxBits6 = 64
)

// R23GatewaySubnet checks a subnet used for, or named as, the gateway
// subnet: the exact name and at least a /29. It returns a warning when the
// subnet is smaller than the recommended /28.
func R23GatewaySubnet(name string, prefixes []netip.Prefix) (warning string, err *arm.Error) {
	if name != GatewaySubnetName {
		return "", arm.Errorf(arm.CodeGatewaySubnetName,
			"the gateway's subnet is named %q; it must be named exactly %s (R23)", name, GatewaySubnetName)
	}
	for _, p := range prefixes {
		max := GatewaySubnetMaxBits
		if p.Addr().Is6() {
			max = GatewaySubnetMaxBits6
		}
		if p.Bits() > max {
			return "", arm.Errorf(arm.CodeGatewaySubnetTooSmall,
				"GatewaySubnet %s is smaller than /%d; it must be /%d or larger (R23)", p, max, max)
		}
		if p.Addr().Is4() && p.Bits() > GatewaySubnetRecommendedBits {
			warning = fmt.Sprintf("GatewaySubnet %s is smaller than the recommended /%d (R23)", p, GatewaySubnetRecommendedBits)
		}
	}
	return warning, nil
}

// R23SubnetName refuses a subnet whose name is GatewaySubnet in another
// spelling: only the exact name makes a gateway subnet, and a near miss is
// almost always a mistake.
func R23SubnetName(name string) *arm.Error {
	if strings.EqualFold(name, GatewaySubnetName) && name != GatewaySubnetName {
		return arm.Errorf(arm.CodeGatewaySubnetName,
			"subnet %q: the gateway subnet must be named exactly %s (R23)", name, GatewaySubnetName)
	}
	return nil
}

// R23NoInterface refuses a network interface in the gateway subnet.
func R23NoInterface(subnetName string) *arm.Error {
	if strings.EqualFold(subnetName, GatewaySubnetName) {
		return arm.Errorf(arm.CodeNicInGatewaySubnet,
			"a network interface cannot be placed in %s: nothing but gateways may be deployed there (R23)", GatewaySubnetName)
	}
	return nil
}

// Shared keys (R21, R38).
const (
	SharedKeyMaxLen = 128
	// DefaultSharedKeyLen is the length of a generated key.
	DefaultSharedKeyLen = 32
)

// R38SharedKey checks a pre-shared key set by a user: 1 to 128 ASCII
// letters and digits.
func R38SharedKey(key string) *arm.Error {
	if len(key) < 1 || len(key) > SharedKeyMaxLen {
		return arm.Errorf(arm.CodeInvalidSharedKey,
			"the shared key must be 1 to %d characters long; it is %d (R38)", SharedKeyMaxLen, len(key))
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			// Never echo the key, not even one character of it.
			return arm.Errorf(arm.CodeInvalidSharedKey,
				"the shared key may hold only letters A-Z, a-z and digits 0-9; character %d is not one (R38)", i+1)
		}
	}
	return nil
}

// R21KeyLength checks the keyLength of a shared key reset.
func R21KeyLength(n int32) *arm.Error {
	if n < 1 || n > SharedKeyMaxLen {
		return arm.Errorf(arm.CodeInvalidKeyLength, "keyLength must be between 1 and %d; it is %d (R21)", SharedKeyMaxLen, n)
	}
	return nil
}

// R41 ASNs. Azure reserves 8074, 8075 and 12076 (public) and 65515 and
// 65517-65520 (private); IANA reserves 0, 23456 (AS_TRANS), 64496-64511 and
// 65536-65551 (documentation), 65535, 65552-131071 and 4294967295.
const DefaultGatewayASN = 65515

// R41ASN checks a BGP ASN. A gateway may keep the default 65515, which Azure
// itself gives every gateway; a local site may not use it.
func R41ASN(asn int64, gateway bool) *arm.Error {
	if asn < 1 || asn > 4294967295 {
		return arm.Errorf(arm.CodeInvalidASN, "BGP ASN %d is out of range 1-4294967294 (R41)", asn)
	}
	if gateway && asn == DefaultGatewayASN {
		return nil
	}
	reserved := func(lo, hi int64) bool { return lo <= asn && asn <= hi }
	switch {
	case asn == 8074, asn == 8075, asn == 12076, asn == 65515, reserved(65517, 65520):
		return arm.Errorf(arm.CodeReservedASN, "BGP ASN %d is reserved by Azure and cannot be used (R41)", asn)
	case asn == 23456, reserved(64496, 64511), asn == 65535, reserved(65536, 131071), asn == 4294967295:
		return arm.Errorf(arm.CodeReservedASN, "BGP ASN %d is reserved by IANA and cannot be used (R41)", asn)
	}
	return nil
}

// SKU describes the limits of a gateway SKU (R32).
type SKU struct {
	Name string
	// Family is what a gateway of the SKU may be resized to: another SKU
	// of its family (Basic is one of its own; Standard and HighPerformance
	// are the legacy family; VpnGw1-5 one, their AZ variants another).
	Family string
	// Tunnels is the number of site-to-site and VNet-to-VNet tunnels of a
	// route-based gateway. A policy-based gateway holds one (R28MultiSite).
	Tunnels int
	// P2S is the number of point-to-site clients per protocol (they count
	// apart from tunnels, R32, R11); a protocol that is absent is not
	// supported on the SKU.
	P2S map[string]int
	BGP bool
	// NAT tells whether the SKU takes NAT rules (VpnGw2 and up).
	NAT bool
}

// Point-to-site protocols.
const (
	ProtocolSSTP    = "SSTP"
	ProtocolIKEv2   = "IkeV2"
	ProtocolOpenVPN = "OpenVPN"
)

// MaxSSTPClients is how many SSTP clients one gateway holds at once,
// whatever its SKU (R11, R32).
const MaxSSTPClients = 128

func vpnGw(name string, tunnels, p2s int) SKU {
	return SKU{Name: name, Family: "VpnGw", Tunnels: tunnels, BGP: true,
		P2S: map[string]int{ProtocolSSTP: MaxSSTPClients, ProtocolIKEv2: p2s, ProtocolOpenVPN: p2s}}
}

// skus is the limits table of VPN gateway SKUs: the FAQ's (Basic, Standard,
// HighPerformance) and the current public table for VpnGw1-5 and their AZ
// variants (R32). SSTP is limited to 128 clients on every SKU (R11).
var skus = func() map[string]SKU {
	m := map[string]SKU{
		"basic":           {Name: "Basic", Family: "Basic", Tunnels: 10, P2S: map[string]int{ProtocolSSTP: MaxSSTPClients}},
		"standard":        {Name: "Standard", Family: "legacy", Tunnels: 10, BGP: true, P2S: map[string]int{ProtocolSSTP: MaxSSTPClients}},
		"highperformance": {Name: "HighPerformance", Family: "legacy", Tunnels: 30, BGP: true, P2S: map[string]int{ProtocolSSTP: MaxSSTPClients}},
	}
	for _, s := range []SKU{vpnGw("VpnGw1", 30, 250), vpnGw("VpnGw2", 30, 500), vpnGw("VpnGw3", 30, 1000),
		vpnGw("VpnGw4", 100, 5000), vpnGw("VpnGw5", 100, 10000)} {
		s.NAT = s.Name != "VpnGw1"
		m[strings.ToLower(s.Name)] = s
		az := s
		az.Name += "AZ"
		az.Family += "AZ"
		m[strings.ToLower(az.Name)] = az
	}
	return m
}()

// expressRouteSKUs are the SKUs of ExpressRoute gateways (R4, R6: modelled
// for coexistence only).
var expressRouteSKUs = []string{"Standard", "HighPerformance", "UltraPerformance", "ErGw1AZ", "ErGw2AZ", "ErGw3AZ", "ErGwScale"}

// LookupSKU returns the limits of a VPN gateway SKU by name, any case.
func LookupSKU(name string) (SKU, bool) {
	s, ok := skus[strings.ToLower(name)]
	return s, ok
}

// VPNSKUNames lists the VPN gateway SKUs, for messages and the CLI.
func VPNSKUNames() []string {
	var out []string
	for _, s := range skus {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}

// ExpressRouteSKU returns the canonical name of an ExpressRoute gateway SKU.
func ExpressRouteSKU(name string) (string, bool) {
	for _, s := range expressRouteSKUs {
		if strings.EqualFold(s, name) {
			return s, true
		}
	}
	return "", false
}

// DeviceAddr tells whether a can be the address of an on-premises VPN
// device: unicast, not the unspecified one (a tunnel to another would
// stay Connecting for good).
func DeviceAddr(a netip.Addr) bool {
	a = a.Unmap()
	return !a.IsUnspecified() && !a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// Resize checks that a gateway of SKU from may become one of SKU to: a
// gateway is resized within its SKU family only; to another, a new
// gateway is made.
func Resize(gateway string, from, to SKU) *arm.Error {
	if from.Family == to.Family {
		return nil
	}
	return arm.Errorf(arm.CodeSKUResize,
		"gateway %s is %s, of the %s SKU family, and cannot be resized to %s: a gateway is resized within its SKU family only (%s); for another, delete it and create it again",
		gateway, from.Name, from.Family, to.Name, strings.Join(family(from.Family), ", "))
}

// family lists the SKUs of family f, in order.
func family(f string) []string {
	var out []string
	for _, s := range skus {
		if s.Family == f {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// R32TunnelLimit checks that a gateway of the given SKU can hold n
// site-to-site and VNet-to-VNet tunnels.
func R32TunnelLimit(sku SKU, n int) *arm.Error {
	if n > sku.Tunnels {
		return arm.Errorf(arm.CodeTunnelLimit,
			"a %s gateway holds at most %d site-to-site and VNet-to-VNet tunnels; this would make %d (R32)", sku.Name, sku.Tunnels, n)
	}
	return nil
}

// MaxPrefixPairs bounds the prefix pairs of a connection that negotiates
// them (R18: on a policy-based gateway, with usePolicyBasedTrafficSelectors
// or trafficSelectorPolicies, and over IKEv1, whose quick mode names one
// range a side). Each pair is a child SA of its own, negotiated one after
// another and rekeyed on its own; the product of two lists of up to
// MaxPrefixes each would be a million. 256 is as many child SAs as the
// peer may have under one IKE SA (those not replaced by a rekey), and as
// many quick modes as an ISAKMP SA holds in flight (a device that starts
// every pair at once). Azure states no limit.
const MaxPrefixPairs = 256

// R18PrefixPairs checks that a connection negotiates at most
// MaxPrefixPairs prefix pairs; n is how many it would.
func R18PrefixPairs(n int) *arm.Error {
	if n > MaxPrefixPairs {
		return arm.Errorf(arm.CodePrefixPairLimit,
			"the connection would negotiate %d prefix pairs (each VNet range with each site range of its IP version, or each traffic selector policy's local ranges with its remote ranges of theirs), a child SA each; at most %d (R18): aggregate the ranges, or use a route-based connection's any-to-any selectors", n, MaxPrefixPairs)
	}
	return nil
}

// MaxNATRules is how many NAT rules, ingress and egress together, one
// gateway holds.
const MaxNATRules = 100

// NATRules checks that a gateway of the given SKU can hold n NAT rules: NAT
// is for VpnGw2 and up (and their AZ variants), at most MaxNATRules.
func NATRules(sku SKU, n int) *arm.Error {
	switch {
	case n == 0:
		return nil
	case !sku.NAT:
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.natRules",
			Message: "NAT rules need a VpnGw2 gateway or larger (VpnGw2-5, VpnGw2AZ-5AZ); this one is " + sku.Name}
	case n > MaxNATRules:
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.natRules",
			Message: fmt.Sprintf("a gateway holds at most %d NAT rules, ingress and egress together; this would make %d", MaxNATRules, n)}
	}
	return nil
}

// R32ClientProtocols checks that the SKU supports each point-to-site
// protocol and returns the canonical protocol names.
func R32ClientProtocols(sku SKU, protocols []string) ([]string, *arm.Error) {
	var out []string
	for _, p := range protocols {
		canon := canonicalProtocol(p)
		if canon == "" {
			return nil, arm.Errorf(arm.CodeInvalidParameter, "unknown point-to-site protocol %q; use SSTP, IkeV2 or OpenVPN", p)
		}
		if _, ok := sku.P2S[canon]; !ok {
			return nil, arm.Errorf(arm.CodeP2SProtocolNotOnSKU, "the %s SKU does not support point-to-site protocol %s (R32)", sku.Name, canon)
		}
		out = append(out, canon)
	}
	return out, nil
}

// Point-to-site authentication types (vpnAuthenticationTypes).
const (
	AuthCertificate = "Certificate"
	AuthRadius      = "Radius"
	AuthAAD         = "AAD"
)

// P2SAuthentication checks how point-to-site clients authenticate and
// returns the canonical names: certificates chained to the uploaded roots
// (R12), none given meaning that, and RADIUS (user name and password).
// Azure AD is refused by name, so that a gateway never looks as if it
// checked what it does not.
func P2SAuthentication(types []string) ([]string, *arm.Error) {
	if len(types) == 0 {
		return []string{AuthCertificate}, nil
	}
	var out []string
	for _, t := range types {
		var canon string
		switch {
		case strings.EqualFold(t, AuthCertificate):
			canon = AuthCertificate
		case strings.EqualFold(t, AuthRadius):
			canon = AuthRadius
		case strings.EqualFold(t, AuthAAD):
			return nil, &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration.vpnAuthenticationTypes",
				Message: "point-to-site authentication AAD (Azure AD) is not there in vnetgw: clients authenticate with certificates of the uploaded roots (Certificate) or with RADIUS (Radius)"}
		default:
			return nil, &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration.vpnAuthenticationTypes",
				Message: fmt.Sprintf("unknown point-to-site authentication type %q; use Certificate or Radius", t)}
		}
		if !slices.Contains(out, canon) {
			out = append(out, canon)
		}
	}
	return out, nil
}

// canonicalProtocol returns the canonical name of a point-to-site
// protocol given in any case, or "".
func canonicalProtocol(p string) string {
	for _, known := range []string{ProtocolSSTP, ProtocolIKEv2, ProtocolOpenVPN} {
		if strings.EqualFold(p, known) {
			return known
		}
	}
	return ""
}

// Point-to-site client limits (R11, R32). They cannot be decided from
// configuration: a client address pool smaller than the limit is allowed,
// as in Azure, and ARM has no property of a gateway that shows the limit.
// They apply when clients connect: the SSTP server of a gateway admits
// R32ClientLimit clients (internal/p2s, from reconcile).

// R32ClientLimit returns how many point-to-site clients may be connected at
// once over protocol (any case) to a gateway of the SKU: SSTP 128 on every
// SKU; IKEv2 and OpenVPN one limit per SKU (VpnGw1 250, VpnGw2 500, VpnGw3
// 1000, VpnGw4 5000, VpnGw5 10000, the AZ SKUs alike), counted for the
// two together (the data plane counts a gateway instance's clients of
// both in one count). It is 0 where
// the SKU lacks the protocol (Basic,
// Standard and HighPerformance have SSTP only).
func R32ClientLimit(sku SKU, protocol string) int {
	return sku.P2S[canonicalProtocol(protocol)]
}

// SplitPool splits the client address pool of a gateway that serves both
// IKEv2 clients and SSTP or OpenVPN clients (which share TCP 443), as
// Azure splits it with SSTP: the lower half for SSTP and OpenVPN, the
// upper half for IKEv2.
func SplitPool(pool netip.Prefix) (sstp, ikev2 netip.Prefix) {
	pool = pool.Masked()
	if !pool.Addr().Is4() || pool.Bits() >= 32 {
		return pool, netip.Prefix{} // client pools are IPv4
	}
	b := pool.Addr().As4()
	upper := binary.BigEndian.Uint32(b[:]) | 1<<(31-pool.Bits())
	return netip.PrefixFrom(pool.Addr(), pool.Bits()+1), netip.PrefixFrom(netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, upper))), pool.Bits()+1)
}

// P2SPool checks that a client address pool (R10) leaves each protocol's
// clients addresses: IKEv2's part of the pool and that of SSTP and
// OpenVPN (all of it, or half each when IKEv2 is with one of those) must
// be an IPv4 /30 or larger, as a part's first address is the gateway's
// and its last is not given out.
func P2SPool(pool netip.Prefix, protocols []string) *arm.Error {
	ikev2 := slices.Contains(protocols, ProtocolIKEv2)
	tcp := slices.Contains(protocols, ProtocolSSTP) || slices.Contains(protocols, ProtocolOpenVPN)
	tcpPart, ikev2Part := pool, pool
	if ikev2 && tcp {
		tcpPart, ikev2Part = SplitPool(pool)
	}
	small := func(p netip.Prefix) bool { return !p.IsValid() || !p.Addr().Is4() || p.Bits() > 30 }
	switch {
	case ikev2 && small(ikev2Part):
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration.vpnClientAddressPool",
			Message: fmt.Sprintf("the client address pool %s is too small for IKEv2 clients: their part of it (the upper half with SSTP or OpenVPN) must be an IPv4 /30 or larger", pool)}
	case tcp && small(tcpPart):
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnClientConfiguration.vpnClientAddressPool",
			Message: fmt.Sprintf("the client address pool %s is too small for SSTP and OpenVPN clients: their part of it (the lower half with IKEv2) must be an IPv4 /30 or larger", pool)}
	}
	return nil
}

// MaxRootCertificates is how many point-to-site root certificates a gateway
// holds (R12).
const MaxRootCertificates = 20

// R12RootCertificates checks the number of root certificates.
func R12RootCertificates(n int) *arm.Error {
	if n > MaxRootCertificates {
		return arm.Errorf(arm.CodeTooManyRootCerts, "a gateway holds at most %d point-to-site root certificates; %d were given (R12)", MaxRootCertificates, n)
	}
	return nil
}

// R15PointToSite refuses point-to-site configuration on a policy-based
// gateway.
func R15PointToSite(vpnType string) *arm.Error {
	if vpnType == arm.PolicyBased {
		return arm.Errorf(arm.CodeP2SOnPolicyBased,
			"point-to-site needs a route-based gateway; this gateway is policy-based (R15)")
	}
	return nil
}

// R28Vnet2Vnet refuses a VNet-to-VNet connection unless both gateways are
// route-based (R28, R29).
func R28Vnet2Vnet(vpnType1, vpnType2 string) *arm.Error {
	if vpnType1 != arm.RouteBased || vpnType2 != arm.RouteBased {
		return arm.Errorf(arm.CodeVnet2VnetPolicyBased,
			"VNet-to-VNet needs route-based gateways on both ends; they are %s and %s (R28, R29)", vpnType1, vpnType2)
	}
	return nil
}

// R28MultiSite refuses a second site-to-site connection on a policy-based
// gateway: multi-site needs a route-based gateway.
func R28MultiSite(vpnType string, existing int) *arm.Error {
	if vpnType == arm.PolicyBased && existing >= 1 {
		return arm.Errorf(arm.CodeMultiSitePolicyBased,
			"a policy-based gateway holds one site-to-site connection; multi-site needs a route-based gateway (R28)")
	}
	return nil
}

// VPN gateway generations (vpnGatewayGeneration): None is for a gateway
// that is not a VPN gateway.
const (
	GenerationNone = "None"
	Generation1    = "Generation1"
	Generation2    = "Generation2"
)

// VPNGatewayGeneration checks a gateway's vpnGatewayGeneration against
// Azure's enum (None, Generation1, Generation2; any case) and its SKU as
// Azure pairs them (VPN Gateway's "Gateway SKUs by generation"): None
// alone for an ExpressRoute gateway; Generation2 for VpnGw2-5(AZ),
// Generation1 for the others but VpnGw4-5(AZ). It returns the canonical
// spelling, or for "" the SKU's: Generation2 for VpnGw4-5(AZ), else
// Generation1 ("" on an ExpressRoute gateway).
func VPNGatewayGeneration(gen, gatewayType, sku string) (string, *arm.Error) {
	gen2Only := slices.ContainsFunc([]string{"VpnGw4", "VpnGw5", "VpnGw4AZ", "VpnGw5AZ"}, func(n string) bool { return strings.EqualFold(n, sku) })
	switch {
	case gen != "":
	case !strings.EqualFold(gatewayType, "Vpn"):
		return "", nil
	case gen2Only:
		return Generation2, nil
	default:
		return Generation1, nil
	}
	bad := func(msg string) (string, *arm.Error) {
		return "", &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.vpnGatewayGeneration", Message: msg}
	}
	generations := []string{GenerationNone, Generation1, Generation2}
	i := slices.IndexFunc(generations, func(g string) bool { return strings.EqualFold(g, gen) })
	if i < 0 {
		return bad(fmt.Sprintf("vpnGatewayGeneration %q is unknown; use None, Generation1 or Generation2", gen))
	}
	gen = generations[i]
	of := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, sku) })
	}
	switch {
	case !strings.EqualFold(gatewayType, "Vpn") && gen != GenerationNone:
		return bad(fmt.Sprintf("vpnGatewayGeneration is None on a gateway of type %s; it is %s", gatewayType, gen))
	case gen == Generation2 && !of("VpnGw2", "VpnGw3", "VpnGw4", "VpnGw5", "VpnGw2AZ", "VpnGw3AZ", "VpnGw4AZ", "VpnGw5AZ"):
		return bad(fmt.Sprintf("SKU %s is not of Generation2, which has VpnGw2-5 and VpnGw2AZ-5AZ", sku))
	case gen == Generation1 && gen2Only:
		return bad(fmt.Sprintf("SKU %s is of Generation2 alone; Generation1 has Basic, VpnGw1-3 and VpnGw1AZ-3AZ", sku))
	}
	return gen, nil
}
