// Package dataplane realises a region's desired state: VNet routers with
// their hosts, gateways on public addresses with their tunnels. The control
// plane hands it a whole Config; Reconfig applies the difference and says
// whether anything changed; Status reports what is observed. The control
// plane and the data plane meet only here: nothing below imports the API,
// the store or the rules.
package dataplane

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/vnetgw/vnetgw/internal/bgp"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/tunnel"
)

// Config is the whole desired data plane.
type Config struct {
	VNets    []VNet
	Gateways []Gateway
	// Lost are the VNets, by ID, that this node ran and may no longer
	// (cluster.Node fenced itself, or another node took them over):
	// their gateways that the Reconfig stops remove their public
	// addresses and close their sockets at once, before the stop waits
	// for any peer, since another node may add the same address now.
	Lost map[string]bool
}

// VNet is a virtual network: a router and the hosts attached to it.
type VNet struct {
	ID       string
	Prefixes []netip.Prefix
	// Subnets are the prefixes of the VNet's subnets, by subnet ID: the
	// router's ICMP errors come from its address in the sender's subnet.
	Subnets map[string][]netip.Prefix
	Hosts   []Host
	// Routes are the routes of the VNet beyond its own hosts: connected
	// ranges and, with forced tunneling, 0.0.0.0/0, each to a gateway.
	Routes []Route
	// UserRoutes are the user-defined routes (R26) of the subnets that
	// have a route table, by subnet ID.
	UserRoutes map[string][]UserRoute
	// NoGatewayRoutes are the subnets, by ID, whose route table does not
	// propagate the gateways' routes (disableBgpRoutePropagation): their
	// hosts reach connected ranges, learned routes and point-to-site
	// clients only through a user route to VirtualNetworkGateway.
	NoGatewayRoutes map[string]bool
}

// UserRoute is a user-defined route: a prefix to a next hop.
type UserRoute struct {
	Prefix netip.Prefix
	// NextHop is VirtualAppliance (the host at Appliance), VirtualNetworkGateway
	// (the VNet's VPN gateway), VnetLocal (the VNet's own routing),
	// Internet (the node's way out, Options.Internet; dropped without it)
	// or None (dropped).
	NextHop   string
	Appliance netip.Addr
}

// Host is a network interface of a VNet.
type Host struct {
	ID   string
	Name string
	// Subnet is the ID of its subnet, whose user-defined routes its
	// packets follow.
	Subnet string
	Addr   netip.Addr
	// Kind is "netstack" (a built-in host) or "tun" (a TUN device in the
	// network namespace NetNS).
	Kind  string
	NetNS string
}

// Host kinds.
const (
	HostNetstack = "netstack"
	HostTUN      = "tun"
)

// Route sends a prefix of a VNet to a gateway (by gateway ID).
type Route struct {
	Prefix  netip.Prefix
	Gateway string
}

// Gateway is one instance of a VPN gateway: a public address where it
// speaks IKE and ESP, the VNet it serves, and its connections.
// An active-active gateway has two instances, 0 and 1, with the same ID and
// connections: each runs its own tunnel of every connection, and the VNet
// sends through instance 0's while it is up, else through instance 1's.
type Gateway struct {
	ID       string
	Instance int
	VNet     string
	// Subnet is the ID of its GatewaySubnet, whose user-defined routes
	// what arrives through its tunnels and from its point-to-site
	// clients follows (R26).
	Subnet     string
	PublicAddr netip.Addr
	// PrivateAddr is the instance's address in the GatewaySubnet (its IP
	// configuration's privateIPAddress), which it asks RADIUS servers
	// from when its VNet reaches them.
	PrivateAddr netip.Addr
	PolicyBased bool
	// NoReplayCheck turns ESP anti-replay off on its tunnels' inbound
	// child SAs (disableIPSecReplayProtection).
	NoReplayCheck bool
	Connections   []Connection
	// BGP, when set, runs the instance's BGP speaker (R41).
	BGP *GatewayBGP
	// P2S, when set, serves point-to-site clients on the instance.
	P2S *GatewayP2S
}

// GatewayP2S is a gateway's point-to-site configuration (R10–R14): a
// server for SSTP and OpenVPN clients on its public address (TCP 443),
// IKEv2 clients (R4), or both, whose clients authenticate with
// certificates that chain to Roots (DER).
type GatewayP2S struct {
	// Pool is the whole client address pool, which the gateway's sites
	// and VNets reach (R33).
	Pool netip.Prefix
	// TCPPool is the part of Pool SSTP and OpenVPN clients get addresses
	// from, IKEv2Pool IKEv2 clients'; a part that is not valid is not
	// served. SSTP and OpenVPN say which of the TCP protocols are.
	TCPPool, IKEv2Pool netip.Prefix
	SSTP, OpenVPN      bool
	Roots              [][]byte
	Revoked            []string // SHA-1 thumbprints, hex
	// Radius are the RADIUS servers that check OpenVPN clients' user
	// names and passwords, SSTP clients' MS-CHAPv2 and IKEv2 clients'
	// EAP, in the order they are
	// asked; RadiusOnly says clients authenticate that way only, without
	// certificates.
	Radius     []radius.Server
	RadiusOnly bool
	// MaxClients, OpenVPNMaxClients and IKEv2MaxClients bound the SSTP,
	// OpenVPN and IKEv2 clients connected at once; the OpenVPN and IKEv2
	// clients are counted together (R32: the SKU's one limit for both).
	MaxClients, OpenVPNMaxClients, IKEv2MaxClients int
	// Routes are what IKEv2 and OpenVPN clients reach: the selectors of
	// their child SAs, the routes they are pushed (SSTP clients route
	// what the VPN client package says).
	Routes []netip.Prefix
	// IKEProposals and ESPProposals are IKEv2 clients' custom policy, in
	// strongSwan's syntax; empty means the defaults.
	IKEProposals, ESPProposals []string
	// DNS are the DNS servers clients are given: the VNet's
	// (dhcpOptions.dnsServers).
	DNS []netip.Addr
	// GatewayGUID is the gateway's resourceGuid, which its OpenVPN
	// static key is Options.OpenVPNKey's of.
	GatewayGUID string
}

// GatewayBGP is a gateway instance's BGP speaker: it listens and connects
// from its peering address in the GatewaySubnet, advertises the VNet's
// ranges and installs what the peers announce as routes into their
// tunnels. Learned ranges inside the VNet's own, or that a connection's
// static ranges already hold, are not installed.
type GatewayBGP struct {
	AS       uint32
	Addr     netip.Addr
	Networks []netip.Prefix
	Peers    []BGPPeer
	// APIPA are the instance's custom APIPA addresses, which it peers
	// from with APIPA peers (BGPPeer.Local).
	APIPA []netip.Addr
}

// BGPPeer is the BGP speaker at the far end of a connection.
type BGPPeer struct {
	Connection string
	Addr       netip.Addr
	AS         uint32
	// Networks, when not nil, are what the peer is sent instead of the
	// gateway's networks, and Import moves what it announces: the ranges
	// through the connection's NAT rules (BGP route translation).
	Networks []netip.Prefix
	Import   []bgp.Mapping
	// Local is the address the gateway peers from: one of its APIPA
	// addresses, or zero for its own (GatewayBGP.Addr).
	Local netip.Addr
}

// key names the instance among the engine's gateways.
func (g Gateway) key() string {
	if g.Instance == 0 {
		return g.ID
	}
	return fmt.Sprintf("%s#%d", g.ID, g.Instance)
}

// Connection is one tunnel of a gateway.
type Connection struct {
	ID string
	// Name is the connection's name as its resource has it (ID is lower
	// case), for the metrics history.
	Name string
	// Remote is the peer's public address; unset when RemoteFQDN, the
	// name of an on-premises device, is to be looked up for it.
	Remote     netip.Addr
	RemoteFQDN string
	// Tunnel, when set, makes this one of the connection's standby tunnels
	// at the gateway instance and names it: a tunnel to another instance
	// of an active-active peer, which carries the routes while the
	// connection's own tunnel has no child SA.
	Tunnel string
	// LocalPrefixes and RemotePrefixes are the ranges on either side; a
	// policy-based gateway negotiates one child SA per pair of them (R18),
	// a route-based one any-to-any selectors (R19).
	LocalPrefixes, RemotePrefixes []netip.Prefix
	// PolicySelectors negotiates one child SA per pair of local and remote
	// prefixes on a route-based gateway (usePolicyBasedTrafficSelectors),
	// for a policy-based device at the other end.
	PolicySelectors bool
	// Selectors, when set, replace LocalPrefixes and RemotePrefixes in the
	// pairs of a policy-based gateway or of PolicySelectors
	// (trafficSelectorPolicies): one child SA per pair of each.
	Selectors []SelectorPolicy
	// Routes are the destinations the gateway sends into this tunnel: the
	// remote ranges, and 0.0.0.0/0 for the default site of forced
	// tunneling (R25).
	Routes []netip.Prefix
	PSK    Secret
	// Mode is Default, InitiatorOnly or ResponderOnly.
	Mode string
	// IKEProposals and ESPProposals are in strongSwan's syntax; empty means
	// the defaults.
	IKEProposals, ESPProposals []string
	DPDTimeout                 time.Duration
	IKELifetime, ChildLifetime time.Duration
	// ChildLifetimeKB is the child SAs' lifetime in kilobytes; 0 means
	// Azure's default (102,400,000 KB), or none with NoChildByteLimit (a
	// custom policy's saDataSizeKilobytes of 0).
	ChildLifetimeKB  uint64
	NoChildByteLimit bool
	// InterRegion marks traffic that is charged (R39).
	InterRegion bool
	// IKEv1 negotiates the tunnel with IKEv1 instead of IKEv2 (R4).
	IKEv1 bool
	// NAT translates the site's addresses as they enter (VPN NAT,
	// IngressSnat): Routes hold the translated spaces, RemotePrefixes and
	// the selectors the site's own.
	NAT []tunnel.NAT
}

// Seen returns address a of the VNet (vnet) or of the site as the far
// side of c sees it, the space its traffic selectors name, through c's
// Static NAT rules: a VNet address after its EgressSnat rule, the site's
// own address before its IngressSnat rule (a's host part kept).
func (c Connection) Seen(a netip.Addr, vnet bool) netip.Addr {
	for _, n := range c.NAT {
		from, to := n.External, n.Internal
		if vnet {
			from, to = n.Internal, n.External
		}
		if n.Egress != vnet || n.Dynamic || !a.Is4() || !from.Contains(a) || from.Bits() != to.Bits() {
			continue
		}
		x, f, t := a.As4(), from.Masked().Addr().As4(), to.Masked().Addr().As4()
		for i := range x {
			x[i] = t[i] | (x[i] ^ f[i])
		}
		return netip.AddrFrom4(x)
	}
	return a
}

// SelectorPolicy is one custom traffic selector policy: the ranges on
// either side.
type SelectorPolicy struct{ Local, Remote []netip.Prefix }

// Secret is a pre-shared key. It never prints itself.
type Secret []byte

func (Secret) String() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// tunnelName names the connection's tunnel at its gateway instance: the
// connection's id, and the standby tunnel's name after it.
func (c Connection) tunnelName() string {
	if c.Tunnel == "" {
		return c.ID
	}
	return c.ID + "#" + c.Tunnel
}
