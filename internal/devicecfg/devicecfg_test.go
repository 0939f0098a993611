package devicecfg

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	esptunnel "github.com/vnetgw/vnetgw/internal/tunnel"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// bgpSite returns the connection c to the site branch and a gateway whose BGP speaker (AS 65515, 10.1.255.30) peers with the site's at peer.
func bgpSite(peer string) (*arm.Connection, dataplane.Gateway) {
	conn := &arm.Connection{Resource: arm.Resource{Name: "c"}}
	conn.Properties.LocalNetworkGateway2 = arm.Ref("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/localNetworkGateways/branch")
	g := dataplane.Gateway{ID: "gw", PublicAddr: netip.MustParseAddr("198.51.100.1"),
		BGP: &dataplane.GatewayBGP{AS: 65515, Addr: netip.MustParseAddr("10.1.255.30"),
			Peers: []dataplane.BGPPeer{{Connection: "c", Addr: netip.MustParseAddr(peer), AS: 65010}}}}
	return conn, g
}

// TestWrite covers what the API tests do not reach: ports other than 500
// and 4500, IPv6 ends, InitiatorOnly, a key that swanctl.conf could not
// hold, and the devices refused.
func TestWrite(t *testing.T) {
	conn := &arm.Connection{Resource: arm.Resource{Name: "c6"}}
	conn.Properties.LocalNetworkGateway2 = arm.Ref("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/localNetworkGateways/branch")
	g := dataplane.Gateway{ID: "/subscriptions/s/resourcegroups/g/providers/microsoft.network/virtualnetworkgateways/gw", PublicAddr: netip.MustParseAddr("2001:db8::1")}
	c := dataplane.Connection{ID: "c6", Remote: netip.MustParseAddr("2001:db8:ffff::2"), PSK: dataplane.Secret("abc123"), Mode: arm.ModeInitiatorOnly,
		LocalPrefixes: prefixes("fd00:1::/48"), RemotePrefixes: prefixes("fd00:2::/48")}
	g.Connections = []dataplane.Connection{c}
	got, err := write(conn, []instance{{g, c}}, Ports{IKE: 1500, NATT: 14500})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"remote_port = 14500", "after NAT traversal, 14500", "local_addrs = 2001:db8:ffff::2", "remote_addrs = 2001:db8::1",
		"local_ts = fd00:2::/48", "remote_ts = fd00:1::/48", "start_action = none", "connectionMode InitiatorOnly"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	c.PSK = dataplane.Secret(`a"b`)
	if _, err := write(conn, []instance{{g, c}}, Ports{}); err == nil {
		t.Error("a key with a quote was written")
	}
	for _, p := range []arm.VPNDeviceScriptParameters{{Vendor: "Cisco"}, {DeviceFamily: "ipsec.conf"}, {FirmwareVersion: "5.8.2"}} {
		if err := supported(p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	for _, p := range []arm.VPNDeviceScriptParameters{{}, {Vendor: "STRONGSWAN", DeviceFamily: "Swanctl", FirmwareVersion: "5.9.8"}, {FirmwareVersion: "6.0.1"}} {
		if err := supported(p); err != nil {
			t.Errorf("%+v refused: %v", p, err)
		}
	}
}

// The device's child joins the site to the gateway's point-to-site pool as
// well as to its VNet (R33); an IKEv1 connection gets version 1 and a child
// per pair.
func TestWritePoolAndIKEv1(t *testing.T) {
	conn := &arm.Connection{Resource: arm.Resource{Name: "c"}}
	conn.Properties.LocalNetworkGateway2 = arm.Ref("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/localNetworkGateways/branch")
	g := dataplane.Gateway{ID: "gw", PublicAddr: netip.MustParseAddr("198.51.100.1"), P2S: &dataplane.GatewayP2S{Pool: netip.MustParsePrefix("172.16.201.0/24")}}
	c := dataplane.Connection{ID: "c", Remote: netip.MustParseAddr("203.0.113.2"), PSK: dataplane.Secret("abc123"),
		LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("192.168.1.0/24", "192.168.2.0/24")}
	g.Connections = []dataplane.Connection{c}
	got, err := write(conn, []instance{{g, c}}, Ports{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "remote_ts = 10.1.0.0/16, 172.16.201.0/24") || !strings.Contains(got, "version = 2") {
		t.Errorf("route-based IKEv2 with a pool:\n%s", got)
	}
	c.IKEv1 = true
	if got, err = write(conn, []instance{{g, c}}, Ports{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "version = 1") || strings.Count(got, "local_ts = ") != 2 || !strings.Contains(got, "local_ts = 192.168.2.0/24") ||
		!strings.Contains(got, "aes256-aes128-sha256-sha1-sha384-modp2048-ecp256-ecp384") {
		t.Errorf("IKEv1:\n%s", got)
	}
}

// A dual-stack site of a policy-based gateway gets a child per pair of
// one IP version, as the gateway negotiates them (RFC 7296 §2.9: it has
// no IPv4 range paired with an IPv6 one, which carries nothing).
func TestWritePolicyBasedDualStack(t *testing.T) {
	conn := &arm.Connection{Resource: arm.Resource{Name: "c"}}
	conn.Properties.LocalNetworkGateway2 = arm.Ref("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/localNetworkGateways/branch")
	g := dataplane.Gateway{ID: "gw", PublicAddr: netip.MustParseAddr("198.51.100.1"), PolicyBased: true}
	c := dataplane.Connection{ID: "c", Remote: netip.MustParseAddr("203.0.113.2"), PSK: dataplane.Secret("abc123"),
		LocalPrefixes: prefixes("10.1.0.0/16", "fd00:1::/64"), RemotePrefixes: prefixes("192.168.1.0/24", "fd00:2::/64")}
	g.Connections = []dataplane.Connection{c}
	got, err := write(conn, []instance{{g, c}}, Ports{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, "local_ts = ") != 2 || !strings.Contains(got, "local_ts = 192.168.1.0/24\n        remote_ts = 10.1.0.0/16") ||
		!strings.Contains(got, "local_ts = fd00:2::/64\n        remote_ts = fd00:1::/64") {
		t.Errorf("want two children, 192.168.1.0/24 to 10.1.0.0/16 and fd00:2::/64 to fd00:1::/64:\n%s", got)
	}
}

// A device known by name (a local network gateway with fqdn) is written
// without an address of its own: it takes whatever it has, and names
// itself by its name, which the gateway takes (behind a NAT it named its
// private address, which the gateway refused).
func TestWriteDeviceByName(t *testing.T) {
	conn := &arm.Connection{Resource: arm.Resource{Name: "c"}}
	conn.Properties.LocalNetworkGateway2 = arm.Ref("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/localNetworkGateways/branch")
	g := dataplane.Gateway{ID: "gw", PublicAddr: netip.MustParseAddr("198.51.100.1")}
	c := dataplane.Connection{ID: "c", RemoteFQDN: "branch.example.com", PSK: dataplane.Secret("abc123"),
		LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("192.168.1.0/24")}
	g.Connections = []dataplane.Connection{c}
	got, err := write(conn, []instance{{g, c}}, Ports{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "local network gateway branch at branch.example.com.") || !strings.Contains(got, "local_addrs = %any") ||
		strings.Contains(got, "invalid") || !strings.Contains(got, "id = branch.example.com\n") ||
		!strings.Contains(got, "id-device = branch.example.com\n") || !strings.Contains(got, "id-gateway-0 = 198.51.100.1") {
		t.Errorf("a device known by name:\n%s", got)
	}
}

// A BGP site behind NAT rules: its speaker, whose bgpPeeringAddress is
// the address after its IngressSnat rule (172.31.1.1), is 192.168.1.1 to
// the device, and the gateway's speaker (10.1.255.30) is the address after
// the EgressSnat rule (100.65.255.30): the selectors name the addresses
// the device sees, which its ranges already hold, and no other.
func TestWriteBGPBehindNAT(t *testing.T) {
	conn, g := bgpSite("172.31.1.1")
	c := dataplane.Connection{ID: "c", Remote: netip.MustParseAddr("203.0.113.2"), PSK: dataplane.Secret("abc123"),
		LocalPrefixes: prefixes("100.65.0.0/16"), RemotePrefixes: prefixes("192.168.1.0/24"), Routes: prefixes("172.31.1.0/24"),
		NAT: []esptunnel.NAT{{Internal: netip.MustParsePrefix("192.168.1.0/24"), External: netip.MustParsePrefix("172.31.1.0/24")},
			{Internal: netip.MustParsePrefix("10.1.0.0/16"), External: netip.MustParsePrefix("100.65.0.0/16"), Egress: true}}}
	g.Connections = []dataplane.Connection{c}
	got, err := write(conn, []instance{{g, c}}, Ports{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "local_ts = 192.168.1.0/24\n") || !strings.Contains(got, "remote_ts = 100.65.0.0/16\n") {
		t.Errorf("the selectors of a BGP site behind NAT rules name addresses it does not see:\n%s", got)
	}
	// Over IKEv1 the pair of ranges holds the session: no child of its own.
	c.IKEv1 = true
	if got, err = write(conn, []instance{{g, c}}, Ports{}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, "local_ts = ") != 1 || !strings.Contains(got, "local_ts = 192.168.1.0/24\n") || !strings.Contains(got, "remote_ts = 100.65.0.0/16\n") {
		t.Errorf("IKEv1, a BGP site behind NAT rules:\n%s", got)
	}
}

// An IKEv1 site that names no ranges, only its BGP speaker: the gateway
// proposes any-to-any and takes the device's narrowing, to its first
// child, which holds the session's ends as the device sees them (its
// speaker before the IngressSnat rule, the gateway's after the
// EgressSnat one), not the device's outer address (local_ts = dynamic),
// which left the session out of the tunnel.
func TestWriteBGPOnlyIKEv1(t *testing.T) {
	conn, g := bgpSite("192.168.1.1")
	c := dataplane.Connection{ID: "c", Remote: netip.MustParseAddr("203.0.113.2"), PSK: dataplane.Secret("abc123"), IKEv1: true,
		LocalPrefixes: prefixes("10.2.0.0/16", "10.1.0.0/16")}
	g.Connections = []dataplane.Connection{c}
	got, err := write(conn, []instance{{g, c}}, Ports{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "dynamic") || !strings.Contains(got, "net-1 {\n        local_ts = 192.168.1.1/32\n        remote_ts = 10.1.0.0/16\n") ||
		!strings.Contains(got, "net-2 {\n        local_ts = 192.168.1.1/32\n        remote_ts = 10.2.0.0/16\n") {
		t.Errorf("a BGP-only site over IKEv1, its first child from its speaker to the VNet range of the gateway's:\n%s", got)
	}
	// APIPA addresses: the session's ends alone come first.
	g.BGP.Peers[0].Addr, g.BGP.Peers[0].Local = netip.MustParseAddr("169.254.21.1"), netip.MustParseAddr("169.254.21.2")
	if got, err = write(conn, []instance{{g, c}}, Ports{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "net-1 {\n        local_ts = 169.254.21.1/32\n        remote_ts = 169.254.21.2/32\n") {
		t.Errorf("a BGP-only site over IKEv1 with APIPA addresses:\n%s", got)
	}
	// Behind NAT rules: the speaker at 172.31.1.1 is 192.168.1.1 to the
	// device, the gateway's 10.1.255.30 is 100.65.255.30.
	g.BGP.Peers[0].Addr, g.BGP.Peers[0].Local = netip.MustParseAddr("172.31.1.1"), netip.Addr{}
	c.LocalPrefixes = prefixes("100.65.0.0/16")
	c.NAT = []esptunnel.NAT{{Internal: netip.MustParsePrefix("192.168.1.0/24"), External: netip.MustParsePrefix("172.31.1.0/24")},
		{Internal: netip.MustParsePrefix("10.1.0.0/16"), External: netip.MustParsePrefix("100.65.0.0/16"), Egress: true}}
	if got, err = write(conn, []instance{{g, c}}, Ports{}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, "local_ts = ") != 1 || !strings.Contains(got, "local_ts = 192.168.1.1/32\n        remote_ts = 100.65.0.0/16\n") {
		t.Errorf("a BGP-only site over IKEv1 behind NAT rules:\n%s", got)
	}
}

// A site that names no ranges, only its BGP speaker, behind NAT rules,
// over IKEv2: the device's selectors hold its speaker as it sees itself
// (192.168.1.1, 172.31.1.1 after the IngressSnat rule); they held nothing
// (local_ts empty), and the session never came up.
func TestWriteBGPOnlyBehindNAT(t *testing.T) {
	conn, g := bgpSite("172.31.1.1")
	c := dataplane.Connection{ID: "c", Remote: netip.MustParseAddr("203.0.113.2"), PSK: dataplane.Secret("abc123"),
		LocalPrefixes: prefixes("100.65.0.0/16"),
		NAT: []esptunnel.NAT{{Internal: netip.MustParsePrefix("192.168.1.0/24"), External: netip.MustParsePrefix("172.31.1.0/24")},
			{Internal: netip.MustParsePrefix("10.1.0.0/16"), External: netip.MustParsePrefix("100.65.0.0/16"), Egress: true}}}
	g.Connections = []dataplane.Connection{c}
	got, err := write(conn, []instance{{g, c}}, Ports{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "local_ts = 192.168.1.1/32\n        remote_ts = 100.65.0.0/16\n") {
		t.Errorf("a BGP-only site behind NAT rules over IKEv2, its speaker not in its selectors:\n%s", got)
	}
}

// An IKEv1 site whose BGP speaker (10.77.0.1, 172.31.1.1 after its
// IngressSnat rule) is inside its rule but outside its ranges: the
// session has a child SA of its own, between the gateway's BGP address
// and the speaker at its own address (the selectors' space), as the
// gateway proposes it (dataplane.IKEv1Children); an end behind a NAT
// rule was taken as held, and no child carried the session.
func TestWriteBGPSpeakerOutsideRangesBehindNAT(t *testing.T) {
	conn, g := bgpSite("172.31.1.1")
	c := dataplane.Connection{ID: "c", Remote: netip.MustParseAddr("203.0.113.2"), PSK: dataplane.Secret("abc123"), IKEv1: true,
		LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("10.77.0.128/25"),
		NAT: []esptunnel.NAT{{Internal: netip.MustParsePrefix("10.77.0.0/24"), External: netip.MustParsePrefix("172.31.1.0/24")}}}
	g.Connections = []dataplane.Connection{c}
	got, err := write(conn, []instance{{g, c}}, Ports{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, "local_ts = ") != 2 || !strings.Contains(got, "local_ts = 10.77.0.128/25\n        remote_ts = 10.1.0.0/16\n") ||
		!strings.Contains(got, "local_ts = 10.77.0.1/32\n        remote_ts = 10.1.255.30/32\n") {
		t.Errorf("IKEv1, a BGP speaker outside the site's ranges behind its IngressSnat rule, want a child for the session:\n%s", got)
	}
	// The IKEv2 device's selectors hold the speaker too.
	c.IKEv1 = false
	if got, err = write(conn, []instance{{g, c}}, Ports{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "local_ts = 10.77.0.128/25, 10.77.0.1/32\n") {
		t.Errorf("IKEv2, a BGP speaker outside the site's ranges behind its IngressSnat rule:\n%s", got)
	}
}

// Two connections to one device whose names differ only in a character
// that swanctl.conf's section names cannot hold ("to.branch" and
// "to_branch") get scripts of sections and files of their own: each is
// installed as conf.d/NAME.conf, and one name would have the second
// overwrite the first. A name that needs nothing replaced is kept.
func TestWriteNamesApart(t *testing.T) {
	g := dataplane.Gateway{ID: "gw", PublicAddr: netip.MustParseAddr("198.51.100.1")}
	c := dataplane.Connection{ID: "c", Remote: netip.MustParseAddr("203.0.113.2"), PSK: dataplane.Secret("abc123"),
		LocalPrefixes: prefixes("10.1.0.0/16"), RemotePrefixes: prefixes("192.168.1.0/24")}
	g.Connections = []dataplane.Connection{c}
	installs := map[string]string{}
	for _, name := range []string{"to_branch", "to.branch"} {
		conn := &arm.Connection{Resource: arm.Resource{Name: name, ID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/connections/" + name}}
		conn.Properties.LocalNetworkGateway2 = arm.Ref("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/localNetworkGateways/branch")
		got, err := write(conn, []instance{{g, c}}, Ports{})
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(got, "Install it as ")
		install, _, _ := strings.Cut(rest, " ")
		if other, ok := installs[install]; ok {
			t.Errorf("connections %s and %s are both installed as %s", other, name, install)
		}
		installs[install] = name
		if name == "to_branch" && (install != "/etc/swanctl/conf.d/g-to_branch.conf" || !strings.Contains(got, "\n  g-to_branch {\n")) {
			t.Errorf("connection to_branch's name changed:\n%s", got)
		}
	}
}
