package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// code returns the code of an *arm.Error, or "" for nil.
func code(err *arm.Error) string {
	if err == nil {
		return ""
	}
	return err.Code
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestParsePrefix(t *testing.T) {
	cases := []struct {
		name, in, want, code string
	}{
		{name: "IPv4", in: "10.1.0.0/16", want: "10.1.0.0/16"},
		{name: "IPv6", in: "fd00:1::/64", want: "fd00:1::/64"},
		{name: "surrounding spaces are trimmed", in: " 10.1.0.0/16 ", want: "10.1.0.0/16"},
		{name: "host bits set", in: "10.1.0.1/16", code: arm.CodeInvalidAddressPrefix},
		{name: "no length", in: "10.1.0.0", code: arm.CodeInvalidAddressPrefix},
		{name: "length too long", in: "10.0.0.0/33", code: arm.CodeInvalidAddressPrefix},
		{name: "empty", in: "", code: arm.CodeInvalidAddressPrefix},
		{name: "not an address", in: "ten/8", code: arm.CodeInvalidAddressPrefix},
		{name: "IPv4-mapped IPv6 (R35 would not see it)", in: "::ffff:10.0.0.0/104", code: arm.CodeInvalidAddressPrefix},
		{name: "IPv4-mapped IPv6, the whole space", in: "::ffff:0:0/96", code: arm.CodeInvalidAddressPrefix},
		{name: "IPv6 holding the IPv4-mapped space", in: "::/0", want: "::/0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePrefix("f", c.in)
			if code(err) != c.code {
				t.Fatalf("ParsePrefix(%q) error %v, want code %q", c.in, err, c.code)
			}
			if err != nil {
				if err.Target != "f" {
					t.Fatalf("target %q, want the field", err.Target)
				}
				return
			}
			if p.String() != c.want {
				t.Fatalf("ParsePrefix(%q) = %s, want %s", c.in, p, c.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want int
		code string
	}{
		{name: "none", in: nil, want: 0},
		{name: "disjoint", in: []string{"10.1.0.0/16", "10.2.0.0/16", "fd00::/64"}, want: 3},
		{name: "overlap within the list", in: []string{"10.1.0.0/16", "10.1.128.0/17"}, code: arm.CodeInvalidAddressPrefix},
		{name: "the same prefix twice", in: []string{"10.1.0.0/16", "10.1.0.0/16"}, code: arm.CodeInvalidAddressPrefix},
		{name: "one invalid", in: []string{"10.1.0.0/16", "bad"}, code: arm.CodeInvalidAddressPrefix},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, err := ParsePrefixes("f", c.in)
			if code(err) != c.code || (err == nil && len(ps) != c.want) {
				t.Fatalf("ParsePrefixes(%q) = %v, %v; want %d prefixes, code %q", c.in, ps, err, c.want, c.code)
			}
		})
	}
}

func TestOverlapAndCovered(t *testing.T) {
	overlap := []struct {
		name string
		a, b []netip.Prefix
		want bool
	}{
		{name: "disjoint", a: prefixes("10.1.0.0/16"), b: prefixes("10.2.0.0/16"), want: false},
		{name: "inside", a: prefixes("10.1.0.0/16"), b: prefixes("10.2.0.0/16", "10.1.7.0/24"), want: true},
		{name: "equal", a: prefixes("192.168.0.0/24"), b: prefixes("192.168.0.0/24"), want: true},
		{name: "families never overlap", a: prefixes("0.0.0.0/0"), b: prefixes("::/0"), want: false},
		{name: "an empty side", a: nil, b: prefixes("10.0.0.0/8"), want: false},
	}
	for _, c := range overlap {
		t.Run("Overlap/"+c.name, func(t *testing.T) {
			if _, _, got := Overlap(c.a, c.b); got != c.want {
				t.Fatalf("Overlap(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
			}
		})
	}
	covered := []struct {
		name  string
		p     string
		space []netip.Prefix
		want  bool
	}{
		{name: "inside", p: "10.1.2.0/24", space: prefixes("10.1.0.0/16"), want: true},
		{name: "the whole space", p: "10.1.0.0/16", space: prefixes("10.1.0.0/16"), want: true},
		{name: "larger than the space", p: "10.0.0.0/8", space: prefixes("10.1.0.0/16"), want: false},
		{name: "in the second prefix", p: "10.2.0.0/24", space: prefixes("10.1.0.0/16", "10.2.0.0/16"), want: true},
		{name: "straddling two prefixes", p: "10.0.0.0/15", space: prefixes("10.0.0.0/16", "10.1.0.0/16"), want: false},
		{name: "outside", p: "192.168.0.0/24", space: prefixes("10.0.0.0/8"), want: false},
	}
	for _, c := range covered {
		t.Run("Covered/"+c.name, func(t *testing.T) {
			if got := Covered(netip.MustParsePrefix(c.p), c.space); got != c.want {
				t.Fatalf("Covered(%s, %v) = %v, want %v", c.p, c.space, got, c.want)
			}
		})
	}
}

func TestR35NoOverlap(t *testing.T) {
	vnet := AddressSpace{Owner: "/vnet", Prefixes: prefixes("10.1.0.0/16")}
	cases := []struct {
		name   string
		spaces []AddressSpace
		code   string
	}{
		{name: "nothing joined", spaces: nil},
		{name: "VNet and a disjoint site", spaces: []AddressSpace{vnet, {Owner: "/site", Prefixes: prefixes("192.168.0.0/16")}}},
		{name: "a site overlapping the VNet (R43)", spaces: []AddressSpace{vnet, {Owner: "/site", Prefixes: prefixes("10.1.128.0/17")}}, code: arm.CodeAddressSpaceOverlap},
		{name: "two overlapping sites", spaces: []AddressSpace{vnet, {Owner: "/a", Prefixes: prefixes("192.168.0.0/16")}, {Owner: "/b", Prefixes: prefixes("192.168.7.0/24")}}, code: arm.CodeAddressSpaceOverlap},
		{name: "the same owner twice is one space", spaces: []AddressSpace{vnet, {Owner: "/VNET", Prefixes: prefixes("10.1.0.0/16")}}},
		{name: "a client pool overlapping a connected VNet (R16)", spaces: []AddressSpace{vnet, {Owner: "/gw/vpnClientAddressPool", Prefixes: prefixes("172.16.0.0/24")}, {Owner: "/vnet2", Prefixes: prefixes("172.16.0.0/16")}}, code: arm.CodeAddressSpaceOverlap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := R35NoOverlap("gw", c.spaces)
			if code(err) != c.code {
				t.Fatalf("R35NoOverlap = %v, want code %q", err, c.code)
			}
			if err != nil && !strings.Contains(err.Message, "R35") {
				t.Fatalf("message does not name the rule: %s", err.Message)
			}
		})
	}
}

func TestR23GatewaySubnet(t *testing.T) {
	cases := []struct {
		name     string
		subnet   string
		prefixes []netip.Prefix
		code     string
		warn     bool
	}{
		{name: "/27 is fine", subnet: "GatewaySubnet", prefixes: prefixes("10.1.255.0/27")},
		{name: "/28 is fine", subnet: "GatewaySubnet", prefixes: prefixes("10.1.255.0/28")},
		{name: "/29 is allowed with a warning", subnet: "GatewaySubnet", prefixes: prefixes("10.1.255.0/29"), warn: true},
		{name: "/30 is too small", subnet: "GatewaySubnet", prefixes: prefixes("10.1.255.0/30"), code: arm.CodeGatewaySubnetTooSmall},
		{name: "IPv6 /64 is fine", subnet: "GatewaySubnet", prefixes: prefixes("fd00::/64")},
		{name: "IPv6 /62 is fine", subnet: "GatewaySubnet", prefixes: prefixes("fd00::/62")},
		{name: "IPv6 /96 is too small", subnet: "GatewaySubnet", prefixes: prefixes("fd00::/96"), code: arm.CodeGatewaySubnetTooSmall},
		{name: "a second prefix that is too small", subnet: "GatewaySubnet", prefixes: prefixes("10.1.255.0/27", "10.1.254.0/30"), code: arm.CodeGatewaySubnetTooSmall},
		{name: "another name", subnet: "default", prefixes: prefixes("10.1.0.0/24"), code: arm.CodeGatewaySubnetName},
		{name: "another case", subnet: "gatewaysubnet", prefixes: prefixes("10.1.0.0/24"), code: arm.CodeGatewaySubnetName},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			warn, err := R23GatewaySubnet(c.subnet, c.prefixes)
			if code(err) != c.code || (warn != "") != c.warn {
				t.Fatalf("R23GatewaySubnet(%s, %v) = %q, %v; want code %q, warning %v", c.subnet, c.prefixes, warn, err, c.code, c.warn)
			}
		})
	}
}

func TestR23NamesAndInterfaces(t *testing.T) {
	names := []struct {
		name, code string
	}{
		{name: "GatewaySubnet"},
		{name: "default"},
		{name: "gatewaysubnet", code: arm.CodeGatewaySubnetName},
		{name: "GATEWAYSUBNET", code: arm.CodeGatewaySubnetName},
		{name: "GatewaySubnet2"},
	}
	for _, c := range names {
		t.Run("R23SubnetName/"+c.name, func(t *testing.T) {
			if got := code(R23SubnetName(c.name)); got != c.code {
				t.Fatalf("R23SubnetName(%q) code %q, want %q", c.name, got, c.code)
			}
		})
	}
	nics := []struct {
		subnet, code string
	}{
		{subnet: "default"},
		{subnet: "GatewaySubnet", code: arm.CodeNicInGatewaySubnet},
		{subnet: "gatewaysubnet", code: arm.CodeNicInGatewaySubnet},
	}
	for _, c := range nics {
		t.Run("R23NoInterface/"+c.subnet, func(t *testing.T) {
			if got := code(R23NoInterface(c.subnet)); got != c.code {
				t.Fatalf("R23NoInterface(%q) code %q, want %q", c.subnet, got, c.code)
			}
		})
	}
}

func TestR38SharedKey(t *testing.T) {
	cases := []struct {
		name, key, code string
	}{
		{name: "one character", key: "a"},
		{name: "128 letters and digits", key: strings.Repeat("aZ9", 42) + "xy"},
		{name: "empty", key: "", code: arm.CodeInvalidSharedKey},
		{name: "129 characters", key: strings.Repeat("a", 129), code: arm.CodeInvalidSharedKey},
		{name: "a dash", key: "abc-123", code: arm.CodeInvalidSharedKey},
		{name: "a space", key: "abc 123", code: arm.CodeInvalidSharedKey},
		{name: "a non-ASCII letter", key: "abcé", code: arm.CodeInvalidSharedKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := R38SharedKey(c.key)
			if code(err) != c.code {
				t.Fatalf("R38SharedKey(%q) = %v, want code %q", c.key, err, c.code)
			}
			if err != nil && len(c.key) > 1 && strings.Contains(err.Message, c.key) {
				t.Fatalf("the message echoes the key: %s", err.Message)
			}
		})
	}
}

func TestR21KeyLength(t *testing.T) {
	for _, c := range []struct {
		n    int32
		code string
	}{{0, arm.CodeInvalidKeyLength}, {1, ""}, {32, ""}, {128, ""}, {129, arm.CodeInvalidKeyLength}, {-1, arm.CodeInvalidKeyLength}} {
		if got := code(R21KeyLength(c.n)); got != c.code {
			t.Errorf("R21KeyLength(%d) code %q, want %q", c.n, got, c.code)
		}
	}
}

func TestR41ASN(t *testing.T) {
	cases := []struct {
		asn     int64
		gateway bool
		code    string
	}{
		{asn: 65010},
		{asn: 64512},
		{asn: 4200000000},
		{asn: 65515, gateway: true},
		{asn: 65515, code: arm.CodeReservedASN},
		{asn: 8074, code: arm.CodeReservedASN},
		{asn: 8075, code: arm.CodeReservedASN},
		{asn: 12076, code: arm.CodeReservedASN},
		{asn: 65517, code: arm.CodeReservedASN},
		{asn: 65520, gateway: true, code: arm.CodeReservedASN},
		{asn: 23456, code: arm.CodeReservedASN},
		{asn: 64496, code: arm.CodeReservedASN},
		{asn: 64511, code: arm.CodeReservedASN},
		{asn: 65535, code: arm.CodeReservedASN},
		{asn: 65536, code: arm.CodeReservedASN},
		{asn: 131071, code: arm.CodeReservedASN},
		{asn: 131072},
		{asn: 4294967295, code: arm.CodeReservedASN},
		{asn: 0, code: arm.CodeInvalidASN},
		{asn: -1, code: arm.CodeInvalidASN},
		{asn: 4294967296, code: arm.CodeInvalidASN},
	}
	for _, c := range cases {
		if got := code(R41ASN(c.asn, c.gateway)); got != c.code {
			t.Errorf("R41ASN(%d, gateway=%v) code %q, want %q", c.asn, c.gateway, got, c.code)
		}
	}
}

// TestR32SKUs pins the limits table: tunnels per SKU, BGP, and the
// point-to-site protocols each SKU supports.
func TestR32SKUs(t *testing.T) {
	cases := []struct {
		name      string
		canonical string
		tunnels   int
		bgp       bool
		protocols []string
	}{
		{name: "basic", canonical: "Basic", tunnels: 10, protocols: []string{ProtocolSSTP}},
		{name: "Standard", canonical: "Standard", tunnels: 10, bgp: true, protocols: []string{ProtocolSSTP}},
		{name: "HIGHPERFORMANCE", canonical: "HighPerformance", tunnels: 30, bgp: true, protocols: []string{ProtocolSSTP}},
		{name: "VpnGw1", canonical: "VpnGw1", tunnels: 30, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "vpngw2", canonical: "VpnGw2", tunnels: 30, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "VpnGw3", canonical: "VpnGw3", tunnels: 30, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "VpnGw4", canonical: "VpnGw4", tunnels: 100, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "VpnGw5", canonical: "VpnGw5", tunnels: 100, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "vpngw1az", canonical: "VpnGw1AZ", tunnels: 30, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "VpnGw2AZ", canonical: "VpnGw2AZ", tunnels: 30, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "VpnGw3AZ", canonical: "VpnGw3AZ", tunnels: 30, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "VpnGw4AZ", canonical: "VpnGw4AZ", tunnels: 100, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
		{name: "VpnGw5AZ", canonical: "VpnGw5AZ", tunnels: 100, bgp: true, protocols: []string{ProtocolIKEv2, ProtocolOpenVPN, ProtocolSSTP}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, ok := LookupSKU(c.name)
			if !ok {
				t.Fatalf("LookupSKU(%q) found nothing", c.name)
			}
			var protocols []string
			for p := range s.P2S {
				protocols = append(protocols, p)
			}
			slices.Sort(protocols)
			if s.Name != c.canonical || s.Tunnels != c.tunnels || s.BGP != c.bgp || !slices.Equal(protocols, c.protocols) {
				t.Fatalf("LookupSKU(%q) = %+v, want %s with %d tunnels, BGP %v, protocols %v", c.name, s, c.canonical, c.tunnels, c.bgp, c.protocols)
			}
		})
	}
	for _, name := range []string{"VpnGw6", "", "ErGw1AZ", "UltraPerformance"} {
		if s, ok := LookupSKU(name); ok {
			t.Errorf("LookupSKU(%q) = %+v, want no VPN SKU", name, s)
		}
	}
	if names := VPNSKUNames(); len(names) != len(cases) || !slices.IsSorted(names) {
		t.Errorf("VPNSKUNames() = %v, want the %d SKUs sorted", names, len(cases))
	}
}

func TestExpressRouteSKU(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{{"standard", "Standard", true}, {"ergw3az", "ErGw3AZ", true}, {"UltraPerformance", "UltraPerformance", true}, {"VpnGw1", "", false}, {"", "", false}} {
		if got, ok := ExpressRouteSKU(c.in); got != c.want || ok != c.ok {
			t.Errorf("ExpressRouteSKU(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestR32TunnelLimit(t *testing.T) {
	cases := []struct {
		sku  string
		n    int
		code string
	}{
		{sku: "Basic", n: 10},
		{sku: "Basic", n: 11, code: arm.CodeTunnelLimit},
		{sku: "Standard", n: 11, code: arm.CodeTunnelLimit},
		{sku: "HighPerformance", n: 30},
		{sku: "HighPerformance", n: 31, code: arm.CodeTunnelLimit},
		{sku: "VpnGw3", n: 31, code: arm.CodeTunnelLimit},
		{sku: "VpnGw3AZ", n: 30},
		{sku: "VpnGw4", n: 100},
		{sku: "VpnGw5AZ", n: 101, code: arm.CodeTunnelLimit},
	}
	for _, c := range cases {
		s, _ := LookupSKU(c.sku)
		if got := code(R32TunnelLimit(s, c.n)); got != c.code {
			t.Errorf("R32TunnelLimit(%s, %d) code %q, want %q", c.sku, c.n, got, c.code)
		}
	}
}

func TestR32ClientProtocols(t *testing.T) {
	cases := []struct {
		name, sku string
		in, want  []string
		code      string
	}{
		{name: "SSTP on Basic", sku: "Basic", in: []string{"sstp"}, want: []string{ProtocolSSTP}},
		{name: "IKEv2 on Basic", sku: "Basic", in: []string{"IkeV2"}, code: arm.CodeP2SProtocolNotOnSKU},
		{name: "OpenVPN on Standard", sku: "Standard", in: []string{"OpenVPN"}, code: arm.CodeP2SProtocolNotOnSKU},
		{name: "all three on VpnGw2, names canonicalised", sku: "VpnGw2", in: []string{"SSTP", "ikev2", "openvpn"}, want: []string{ProtocolSSTP, ProtocolIKEv2, ProtocolOpenVPN}},
		{name: "an unknown protocol", sku: "VpnGw1", in: []string{"PPTP"}, code: arm.CodeInvalidParameter},
		{name: "none", sku: "VpnGw1", in: nil, want: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := LookupSKU(c.sku)
			got, err := R32ClientProtocols(s, c.in)
			if code(err) != c.code || !slices.Equal(got, c.want) {
				t.Fatalf("R32ClientProtocols(%s, %v) = %v, %v; want %v, code %q", c.sku, c.in, got, err, c.want, c.code)
			}
		})
	}
}

// TestP2SAuthentication: clients authenticate with certificates (none
// named means that) or RADIUS; Azure AD is refused, as is an unknown
// type.
func TestP2SAuthentication(t *testing.T) {
	for _, c := range []struct {
		in, want []string
		code     string
	}{
		{in: nil, want: []string{AuthCertificate}},
		{in: []string{"certificate", "Certificate"}, want: []string{AuthCertificate}},
		{in: []string{"Certificate", "radius"}, want: []string{AuthCertificate, AuthRadius}},
		{in: []string{"AAD"}, code: arm.CodeInvalidParameter},
		{in: []string{"Kerberos"}, code: arm.CodeInvalidParameter},
	} {
		got, err := P2SAuthentication(c.in)
		if code(err) != c.code || !slices.Equal(got, c.want) {
			t.Errorf("P2SAuthentication(%v) = %v, %v; want %v, code %q", c.in, got, err, c.want, c.code)
		}
	}
}

// TestR32ClientLimits covers the point-to-site limits per SKU and protocol:
// SSTP 128 on every SKU (R11), IKEv2 and OpenVPN one shared limit per SKU.
func TestR32ClientLimits(t *testing.T) {
	cases := []struct {
		sku                 string
		sstp, ikev2, openvp int
		maxAll              int // with all three enabled (SSTP's, and IKEv2's shared with OpenVPN)
	}{
		{sku: "Basic", sstp: 128, maxAll: 128},
		{sku: "Standard", sstp: 128, maxAll: 128},
		{sku: "HighPerformance", sstp: 128, maxAll: 128},
		{sku: "VpnGw1", sstp: 128, ikev2: 250, openvp: 250, maxAll: 128 + 250},
		{sku: "VpnGw2", sstp: 128, ikev2: 500, openvp: 500, maxAll: 128 + 500},
		{sku: "VpnGw3", sstp: 128, ikev2: 1000, openvp: 1000, maxAll: 128 + 1000},
		{sku: "VpnGw4", sstp: 128, ikev2: 5000, openvp: 5000, maxAll: 128 + 5000},
		{sku: "VpnGw5", sstp: 128, ikev2: 10000, openvp: 10000, maxAll: 128 + 10000},
		{sku: "VpnGw1AZ", sstp: 128, ikev2: 250, openvp: 250, maxAll: 128 + 250},
		{sku: "VpnGw2AZ", sstp: 128, ikev2: 500, openvp: 500, maxAll: 128 + 500},
		{sku: "VpnGw3AZ", sstp: 128, ikev2: 1000, openvp: 1000, maxAll: 128 + 1000},
		{sku: "VpnGw4AZ", sstp: 128, ikev2: 5000, openvp: 5000, maxAll: 128 + 5000},
		{sku: "VpnGw5AZ", sstp: 128, ikev2: 10000, openvp: 10000, maxAll: 128 + 10000},
	}
	for _, c := range cases {
		t.Run(c.sku, func(t *testing.T) {
			s, ok := LookupSKU(c.sku)
			if !ok {
				t.Fatalf("no SKU %s", c.sku)
			}
			for p, want := range map[string]int{"sstp": c.sstp, "IKEV2": c.ikev2, ProtocolOpenVPN: c.openvp, "PPTP": 0} {
				if got := R32ClientLimit(s, p); got != want {
					t.Errorf("R32ClientLimit(%s, %s) = %d, want %d", c.sku, p, got, want)
				}
			}
			if got := R32ClientLimit(s, ProtocolSSTP) + max(R32ClientLimit(s, ProtocolIKEv2), R32ClientLimit(s, ProtocolOpenVPN)); got != c.maxAll {
				t.Errorf("%s with every protocol: %d clients, want %d", c.sku, got, c.maxAll)
			}
		})
	}
}

func TestR12R15R28(t *testing.T) {
	for _, c := range []struct {
		n    int
		code string
	}{{0, ""}, {20, ""}, {21, arm.CodeTooManyRootCerts}} {
		if got := code(R12RootCertificates(c.n)); got != c.code {
			t.Errorf("R12RootCertificates(%d) code %q, want %q", c.n, got, c.code)
		}
	}
	for _, c := range []struct {
		vpnType, code string
	}{{arm.RouteBased, ""}, {arm.PolicyBased, arm.CodeP2SOnPolicyBased}} {
		if got := code(R15PointToSite(c.vpnType)); got != c.code {
			t.Errorf("R15PointToSite(%s) code %q, want %q", c.vpnType, got, c.code)
		}
	}
	for _, c := range []struct {
		a, b, code string
	}{
		{arm.RouteBased, arm.RouteBased, ""},
		{arm.RouteBased, arm.PolicyBased, arm.CodeVnet2VnetPolicyBased},
		{arm.PolicyBased, arm.RouteBased, arm.CodeVnet2VnetPolicyBased},
		{arm.PolicyBased, arm.PolicyBased, arm.CodeVnet2VnetPolicyBased},
	} {
		if got := code(R28Vnet2Vnet(c.a, c.b)); got != c.code {
			t.Errorf("R28Vnet2Vnet(%s, %s) code %q, want %q", c.a, c.b, got, c.code)
		}
	}
	for _, c := range []struct {
		vpnType  string
		existing int
		code     string
	}{
		{arm.PolicyBased, 0, ""},
		{arm.PolicyBased, 1, arm.CodeMultiSitePolicyBased},
		{arm.RouteBased, 1, ""},
		{arm.RouteBased, 29, ""},
	} {
		if got := code(R28MultiSite(c.vpnType, c.existing)); got != c.code {
			t.Errorf("R28MultiSite(%s, %d) code %q, want %q", c.vpnType, c.existing, got, c.code)
		}
	}
}

func TestTranslateNAT(t *testing.T) {
	m := []NATMapping{{Internal: netip.MustParsePrefix("10.77.0.0/23"), External: netip.MustParsePrefix("172.31.2.0/23")}}
	got := TranslatePrefixes([]netip.Prefix{netip.MustParsePrefix("10.77.1.0/24"), netip.MustParsePrefix("10.77.0.0/23"), netip.MustParsePrefix("192.168.9.0/24")}, m)
	if want := "[172.31.3.0/24 172.31.2.0/23 192.168.9.0/24]"; fmt.Sprint(got) != want {
		t.Errorf("TranslatePrefixes = %v, want %s", got, want)
	}
	if a := TranslateAddr(netip.MustParseAddr("10.77.1.200"), m[0].Internal, m[0].External); a != netip.MustParseAddr("172.31.3.200") {
		t.Errorf("TranslateAddr = %v", a)
	}
}

func TestTranslateSpace(t *testing.T) {
	m := []NATMapping{{Internal: netip.MustParsePrefix("10.1.0.0/24"), External: netip.MustParsePrefix("100.65.0.0/24")}}
	got := TranslateSpace([]netip.Prefix{netip.MustParsePrefix("10.1.0.0/22"), netip.MustParsePrefix("10.2.0.0/16")}, m)
	if want := "[100.65.0.0/24 10.1.2.0/23 10.1.1.0/24 10.2.0.0/16]"; fmt.Sprint(got) != want {
		t.Errorf("TranslateSpace = %v, want %s", got, want)
	}
}

// TestSplitPool covers the pool of a gateway with SSTP and IKEv2 clients,
// split as Azure does: the lower half for SSTP, the upper half for IKEv2.
func TestSplitPool(t *testing.T) {
	cases := []struct {
		pool, sstp, ikev2 string // "" for an invalid half
	}{
		{"172.16.201.0/24", "172.16.201.0/25", "172.16.201.128/25"},
		{"10.0.0.0/8", "10.0.0.0/9", "10.128.0.0/9"},
		{"192.168.77.8/29", "192.168.77.8/30", "192.168.77.12/30"},
		{"172.16.201.77/24", "172.16.201.0/25", "172.16.201.128/25"}, // host bits set
		{"0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1"},
		{"10.1.1.6/31", "10.1.1.6/32", "10.1.1.7/32"},
		{"10.1.1.7/32", "10.1.1.7/32", ""},
		{"fd00:9::/64", "fd00:9::/64", ""},
	}
	for _, c := range cases {
		sstp, ikev2 := SplitPool(netip.MustParsePrefix(c.pool))
		if sstp.String() != c.sstp || ikev2.IsValid() != (c.ikev2 != "") || ikev2.IsValid() && ikev2.String() != c.ikev2 {
			t.Errorf("SplitPool(%s) = %v, %v; want %s, %q", c.pool, sstp, ikev2, c.sstp, c.ikev2)
		}
	}
}

// TestP2SPool covers the size of a client address pool (R10): IKEv2
// clients' part of it (all of it, or its upper half with SSTP or OpenVPN)
// and SSTP's and OpenVPN's (all, or the lower half) must be IPv4 /30 or
// larger.
func TestP2SPool(t *testing.T) {
	both := []string{ProtocolSSTP, ProtocolIKEv2}
	cases := []struct {
		name, pool string
		protocols  []string
		code       string
	}{
		{"/30 split with SSTP", "172.16.201.0/30", both, arm.CodeInvalidParameter},
		{"/31 for IKEv2 alone", "172.16.201.0/31", []string{ProtocolIKEv2}, arm.CodeInvalidParameter},
		{"/32 for IKEv2 alone", "172.16.201.1/32", []string{ProtocolIKEv2}, arm.CodeInvalidParameter},
		{"IPv6 for IKEv2", "fd00:9::/64", []string{ProtocolIKEv2}, arm.CodeInvalidParameter},
		{"/30 for IKEv2 alone", "172.16.201.0/30", []string{ProtocolIKEv2}, ""},
		{"/29 split with SSTP", "172.16.201.0/29", both, ""},
		{"/29 split, IKEv2 first", "172.16.201.0/29", []string{ProtocolIKEv2, ProtocolSSTP}, ""},
		{"/24 split with SSTP", "172.16.201.0/24", both, ""},
		{"/32 for SSTP alone", "172.16.201.1/32", []string{ProtocolSSTP}, arm.CodeInvalidParameter},
		{"/30 for SSTP alone", "172.16.201.0/30", []string{ProtocolSSTP}, ""},
		{"/32 for OpenVPN", "172.16.201.1/32", []string{ProtocolOpenVPN}, arm.CodeInvalidParameter},
		{"IPv6 for OpenVPN", "fd00:9::/64", []string{ProtocolOpenVPN}, arm.CodeInvalidParameter},
		{"/30 split between OpenVPN and IKEv2", "172.16.201.0/30", []string{ProtocolOpenVPN, ProtocolIKEv2}, arm.CodeInvalidParameter},
		{"/29 split between OpenVPN and IKEv2", "172.16.201.0/29", []string{ProtocolOpenVPN, ProtocolIKEv2}, ""},
		{"all three in a /28", "172.16.201.0/28", []string{ProtocolSSTP, ProtocolOpenVPN, ProtocolIKEv2}, ""},
		{"no protocol", "172.16.201.1/32", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := P2SPool(netip.MustParsePrefix(c.pool), c.protocols)
			if code(err) != c.code {
				t.Fatalf("P2SPool(%s, %v) = %v, want code %q", c.pool, c.protocols, err, c.code)
			}
			if err != nil && (err.Target != "properties.vpnClientConfiguration.vpnClientAddressPool" || !strings.Contains(err.Message, c.pool)) {
				t.Errorf("error %+v: want the pool's target and the pool in the message", err)
			}
		})
	}
}

// vpnGatewayGeneration is one of Azure's enum, any case, and the SKU's
// ("Gateway SKUs by generation"); any value was stored (Gen9 too).
func TestVPNGatewayGeneration(t *testing.T) {
	for _, tc := range []struct {
		name, gen, typ, sku string
		want                string // canonical; "" with an error
		err                 bool
	}{
		{"none given", "", "Vpn", "VpnGw1", "Generation1", false},
		{"none given, VpnGw4", "", "Vpn", "VpnGw4AZ", "Generation2", false},
		{"none given, ExpressRoute", "", "ExpressRoute", "Standard", "", false},
		{"Generation1 of VpnGw1", "Generation1", "Vpn", "VpnGw1", "Generation1", false},
		{"any case", "generation2", "Vpn", "VpnGw2", "Generation2", false},
		{"Generation2 of VpnGw5AZ", "Generation2", "Vpn", "VpnGw5AZ", "Generation2", false},
		{"Generation1 of VpnGw3AZ", "Generation1", "Vpn", "VpnGw3AZ", "Generation1", false},
		{"None of ExpressRoute", "None", "ExpressRoute", "ErGw1AZ", "None", false},
		{"unknown", "Gen9", "Vpn", "VpnGw1", "", true},
		{"Generation2 of VpnGw1", "Generation2", "Vpn", "VpnGw1", "", true},
		{"Generation2 of Basic", "Generation2", "Vpn", "Basic", "", true},
		{"Generation1 of VpnGw4", "Generation1", "Vpn", "VpnGw4", "", true},
		{"Generation1 of ExpressRoute", "Generation1", "ExpressRoute", "Standard", "", true},
	} {
		got, err := VPNGatewayGeneration(tc.gen, tc.typ, tc.sku)
		if got != tc.want || (err != nil) != tc.err || err != nil && (err.Code != "InvalidParameter" || err.Target != "properties.vpnGatewayGeneration") {
			t.Errorf("%s: %q, %v; want %q, error %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}
