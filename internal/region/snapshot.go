package region

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/rules"
)

// Snapshot is the desired state at one revision, for the reconcile loop.
// Its documents must not be modified.
type Snapshot struct {
	Rev int64
	// ConfigRev is the revision of the last change of desired state (not
	// of observed status).
	ConfigRev int64
	// RemoteGen counts changes of what is known about other regions'
	// gateways; with Rev it tells whether anything changed.
	RemoteGen uint64
	tx        *txn
	remoteWhy map[string]string
	misfit    map[string]string
	// routesMu guards routes: each VNet's VNetRoutes, by refKey of its
	// id, computed once (Build asks for them by VNet and by gateway).
	routesMu sync.Mutex
	routes   map[string][]GatewayRoute
}

// RemoteReason says why gateway id of another region is not known, as
// its last lookup found: "" when it was found, or not asked yet.
func (s *Snapshot) RemoteReason(id string) string {
	return s.remoteWhy[strings.ToLower(id)]
}

// RemoteMisfit says why the last answer of the region of gateway id was
// not taken, what was known of it kept: "" when it was taken.
func (s *Snapshot) RemoteMisfit(id string) string {
	return s.misfit[strings.ToLower(id)]
}

// Snapshot returns the current desired state.
func (r *Region) Snapshot() *Snapshot {
	r.remoteMu.Lock()
	remotes, gen, why, misfit := maps.Clone(r.remoteCache), r.remoteGen, maps.Clone(r.remoteWhy), maps.Clone(r.remoteMisfit)
	r.remoteMu.Unlock()
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := &model{rev: r.m.rev, docs: map[string]map[string]any{}, status: maps.Clone(r.m.status)}
	for k, d := range r.m.docs {
		m.docs[k] = maps.Clone(d)
	}
	return &Snapshot{Rev: m.rev, ConfigRev: r.m.fenceRev, RemoteGen: gen, tx: newTxn(m, remotes), remoteWhy: why, misfit: misfit}
}

// Changed returns a channel that is closed when the desired state changes
// after this call, or what is known of other regions' gateways; not when
// only observed status does.
func (r *Region) Changed() <-chan struct{} {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.changed
}

// Connections returns every connection.
func (s *Snapshot) Connections() []*arm.Connection {
	return list[arm.Connection](s.tx, arm.TypeConnection)
}

// StatusKeys returns the id keys of resources that have a stored status.
func (s *Snapshot) StatusKeys() []string {
	return slices.Sorted(maps.Keys(s.tx.m.status))
}

// Gateway returns a gateway by id, or nil.
func (s *Snapshot) Gateway(id string) *arm.VirtualNetworkGateway {
	return getByRef[arm.VirtualNetworkGateway](s.tx, arm.TypeVirtualNetworkGateway, id)
}

// Status returns the stored observed state of a resource as JSON, or nil.
func (s *Snapshot) Status(id string) []byte {
	return s.tx.m.status[strings.ToLower(id)]
}

// VirtualNetworks returns every virtual network.
func (s *Snapshot) VirtualNetworks() []*arm.VirtualNetwork {
	return list[arm.VirtualNetwork](s.tx, arm.TypeVirtualNetwork)
}

// NetworkInterfaces returns every network interface.
func (s *Snapshot) NetworkInterfaces() []*arm.NetworkInterface {
	return list[arm.NetworkInterface](s.tx, arm.TypeNetworkInterface)
}

// Gateways returns every virtual network gateway.
func (s *Snapshot) Gateways() []*arm.VirtualNetworkGateway {
	return list[arm.VirtualNetworkGateway](s.tx, arm.TypeVirtualNetworkGateway)
}

// ConnectionsOf returns the connections of which gateway gw is the first.
func (s *Snapshot) ConnectionsOf(gw string) []*arm.Connection {
	id, err := arm.ParseID(gw)
	if err != nil {
		return nil
	}
	return connectionsOf(s.tx, id)
}

// VNetOf returns the virtual network of a gateway.
func (s *Snapshot) VNetOf(g *arm.VirtualNetworkGateway) *arm.VirtualNetwork {
	return vnetOfGateway(s.tx, g)
}

// RouteTable returns the route table with the given id, or nil.
func (s *Snapshot) RouteTable(id string) *arm.RouteTable {
	return getByRef[arm.RouteTable](s.tx, arm.TypeRouteTable, id)
}

// PublicAddr returns the public address of a gateway's first IP
// configuration, when it has one.
func (s *Snapshot) PublicAddr(g *arm.VirtualNetworkGateway) (netip.Addr, bool) {
	if as := s.PublicAddrs(g); len(as) > 0 {
		return as[0], true
	}
	return netip.Addr{}, false
}

// PublicAddrs returns the public addresses of a gateway's IP
// configurations, in their order: one per instance (two when active-active).
func (s *Snapshot) PublicAddrs(g *arm.VirtualNetworkGateway) []netip.Addr {
	var out []netip.Addr
	for _, c := range g.Properties.IPConfigurations {
		if p := getByRef[arm.PublicIPAddress](s.tx, arm.TypePublicIPAddress, c.Properties.PublicIPAddress.RefID()); p != nil {
			if a, err := netip.ParseAddr(p.Properties.IPAddress); err == nil {
				out = append(out, a)
			}
		}
	}
	return out
}

// Remote describes the far end of a connection.
type Remote struct {
	// Addr is the peer's public address: the local network gateway's
	// gatewayIpAddress, or the public address of the remote gateway.
	// FQDN is the name of a local network gateway given by one instead;
	// the data plane looks it up.
	Addr     netip.Addr
	FQDN     string
	Prefixes []netip.Prefix
	Location string
	// InstanceAddrs are the public addresses of every instance of a
	// remote gateway, the first being Addr: two for an active-active one.
	// Nil for a site.
	InstanceAddrs []netip.Addr
	// Gateway is the remote gateway of a VNet-to-VNet connection.
	Gateway *arm.VirtualNetworkGateway
	// BGPAS and BGPAddr are the peer's BGP speaker, when it has one (R41):
	// the local network gateway's bgpSettings, or the remote gateway's
	// with BGP enabled (its first peering address). BGPAddrs are a remote
	// gateway's speakers, one per instance, the first being BGPAddr.
	BGPAS    int64
	BGPAddr  netip.Addr
	BGPAddrs []netip.Addr
}

// bgpOfGateway sets r's BGP speaker from gateway g's settings.
func (r *Remote) bgpOfGateway(g *arm.VirtualNetworkGateway) {
	if b := g.Properties.BGPSettings; g.Properties.EnableBGP && b != nil {
		r.BGPAS = b.ASN
		for _, x := range strings.Split(b.BGPPeeringAddress, ",") {
			if a, err := netip.ParseAddr(strings.TrimSpace(x)); err == nil {
				r.BGPAddrs = append(r.BGPAddrs, a)
			}
		}
		if len(r.BGPAddrs) > 0 {
			r.BGPAddr = r.BGPAddrs[0]
		}
	}
}

// RemoteOf resolves the far end of a connection: false when it has no
// address yet (a remote gateway without its public address).
func (s *Snapshot) RemoteOf(c *arm.Connection) (Remote, bool) {
	p := &c.Properties
	if l := getByRef[arm.LocalNetworkGateway](s.tx, arm.TypeLocalNetworkGateway, p.LocalNetworkGateway2.RefID()); l != nil {
		r := Remote{Location: l.Location}
		r.Addr, _ = netip.ParseAddr(l.Properties.GatewayIPAddress)
		if !r.Addr.IsValid() {
			r.FQDN = l.Properties.FQDN
		}
		if sp := l.Properties.LocalNetworkAddressSpace; sp != nil {
			r.Prefixes = prefixes(sp.AddressPrefixes)
		}
		if b := l.Properties.BGPSettings; b != nil {
			r.BGPAS = b.ASN
			r.BGPAddr, _ = netip.ParseAddr(b.BGPPeeringAddress)
		}
		return r, r.Addr.IsValid() || r.FQDN != ""
	}
	if g := getByRef[arm.VirtualNetworkGateway](s.tx, arm.TypeVirtualNetworkGateway, p.VirtualNetworkGateway2.RefID()); g != nil {
		r := Remote{Location: g.Location, Gateway: g}
		r.Addr, _ = s.PublicAddr(g)
		if addrs := s.PublicAddrs(g); len(addrs) == len(g.Properties.IPConfigurations) {
			r.InstanceAddrs = addrs
		}
		if v := vnetOfGateway(s.tx, g); v != nil && v.Properties.AddressSpace != nil {
			r.Prefixes = prefixes(v.Properties.AddressSpace.AddressPrefixes)
		}
		r.bgpOfGateway(g)
		return r, r.Addr.IsValid()
	}
	if rg := s.tx.remoteGateway(p.VirtualNetworkGateway2.RefID()); rg != nil {
		r := Remote{Addr: rg.PublicAddr, Prefixes: prefixes(rg.VNetPrefixes), Location: rg.Gateway.Location, Gateway: &rg.Gateway}
		if len(rg.InstanceAddrs) == len(rg.Gateway.Properties.IPConfigurations) {
			r.InstanceAddrs = rg.InstanceAddrs
		}
		r.bgpOfGateway(&rg.Gateway)
		return r, r.Addr.IsValid()
	}
	return Remote{}, false
}

func prefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// GatewayRoute is a range a VNet sends to its gateway.
type GatewayRoute struct {
	Prefix     netip.Prefix
	Gateway    string // gateway id
	Connection string // connection id; empty for forced tunneling
	// IPConfiguration is the lower-case id of the gateway's IP
	// configuration whose instance carries the range (an instance's NAT
	// rule shows the site there); "" for every instance.
	IPConfiguration string
}

// VNetRoutes returns the ranges a VNet routes to its VPN gateway (R24,
// R43): every connected site's and VNet's ranges, and 0.0.0.0/0 when
// forced tunneling names a default site the gateway is connected to (R25).
func (s *Snapshot) VNetRoutes(vnetID string) []GatewayRoute {
	s.routesMu.Lock()
	defer s.routesMu.Unlock()
	k := refKey(vnetID)
	out, ok := s.routes[k]
	if !ok {
		out = s.vnetRoutes(vnetID)
		if s.routes == nil {
			s.routes = map[string][]GatewayRoute{}
		}
		s.routes[k] = out
	}
	return slices.Clone(out)
}

func (s *Snapshot) vnetRoutes(vnetID string) []GatewayRoute {
	var out []GatewayRoute
	for _, g := range gatewaysInVNet(s.tx, vnetID) {
		if g.Properties.GatewayType != arm.GatewayTypeVpn {
			continue
		}
		for _, c := range s.ConnectionsOf(g.ID) {
			r, ok := s.RemoteOf(c)
			if !ok {
				continue
			}
			for _, sr := range SiteRanges(g, c, r.Prefixes) {
				out = append(out, GatewayRoute{Prefix: sr.Prefix, Gateway: g.ID, Connection: c.ID, IPConfiguration: sr.IPConfiguration})
			}
			// The peer's BGP speaker is reached through the tunnel, also
			// when the site's ranges leave it out (R41): its host route.
			if c.Properties.EnableBGP && r.BGPAddr.IsValid() && !slices.ContainsFunc(r.Prefixes, func(p netip.Prefix) bool { return p.Contains(r.BGPAddr) }) {
				out = append(out, GatewayRoute{Prefix: netip.PrefixFrom(r.BGPAddr, r.BGPAddr.BitLen()), Gateway: g.ID, Connection: c.ID})
			}
			if ds := g.Properties.GatewayDefaultSite.RefID(); ds != "" && arm.Equal(ds, c.Properties.LocalNetworkGateway2.RefID()) {
				out = append(out, GatewayRoute{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Gateway: g.ID, Connection: c.ID})
			}
		}
	}
	slices.SortFunc(out, func(a, b GatewayRoute) int { return strings.Compare(a.Prefix.String(), b.Prefix.String()) })
	return out
}

// IngressNAT returns the static IngressSnat mappings connection c uses:
// its site's addresses as the VNet sees them; EgressNAT its EgressSnat
// ones: the VNet's addresses as the site sees them.
func (s *Snapshot) IngressNAT(c *arm.Connection) []rules.NATMapping {
	return ingressNAT(getByRef[arm.VirtualNetworkGateway](s.tx, arm.TypeVirtualNetworkGateway, c.Properties.VirtualNetworkGateway1.RefID()), c)
}

func (s *Snapshot) EgressNAT(c *arm.Connection) []rules.NATMapping {
	return egressNAT(getByRef[arm.VirtualNetworkGateway](s.tx, arm.TypeVirtualNetworkGateway, c.Properties.VirtualNetworkGateway1.RefID()), c)
}

// VNetOf returns the lower-cased id of the VNet that runs resource id of
// kind (a gateway, a connection, by its first gateway, or a network
// interface), or "" when there is none.
func (r *Region) VNetOf(kind string, id arm.ID) string {
	var out string
	r.view(func(tx *txn) error {
		var g *arm.VirtualNetworkGateway
		switch kind {
		case arm.TypeVirtualNetworkGateway:
			g = get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id)
		case arm.TypeConnection:
			if c := get[arm.Connection](tx, arm.TypeConnection, id); c != nil {
				g = getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, c.Properties.VirtualNetworkGateway1.RefID())
			}
		case arm.TypeNetworkInterface:
			if n := get[arm.NetworkInterface](tx, arm.TypeNetworkInterface, id); n != nil && len(n.Properties.IPConfigurations) > 0 {
				if sid, err := arm.ParseID(n.Properties.PrimaryIPConfiguration().Properties.Subnet.RefID()); err == nil {
					out = sid.Parent().Key()
				}
			}
		}
		if g != nil {
			if v := vnetOfGateway(tx, g); v != nil {
				out = strings.ToLower(v.ID)
			}
		}
		return nil
	})
	return out
}

// PointToSite is what a point-to-site client of a gateway needs to know
// (its VPN client package).
type PointToSite struct {
	Name      string     // the gateway's, as stored (a request may name it in other case)
	Addr      netip.Addr // the gateway's public address (its first)
	Pool      netip.Prefix
	Protocols []string       // SSTP, IkeV2, OpenVPN, as configured
	Auth      []string       // Certificate, Radius (vpnAuthenticationTypes)
	Routes    []netip.Prefix // the VNet's ranges and what its gateways route
	GUID      string         // the gateway's resourceGuid
	// Policy is the custom IPsec/IKE policy of IKEv2 clients, all that
	// the gateway offers them (nil: none, its defaults).
	Policy *arm.IPsecPolicy
}

// PointToSiteOf returns what a client of gateway id needs, or an error
// when the gateway is missing or has no point-to-site configuration with
// SSTP or IKEv2.
func (r *Region) PointToSiteOf(id arm.ID) (PointToSite, error) {
	s := r.Snapshot()
	g := s.Gateway(id.String())
	if g == nil {
		return PointToSite{}, notFound(id)
	}
	p := PointToSite{Name: g.Name, GUID: g.Properties.ResourceGUID}
	c := g.Properties.VPNClientConfiguration
	if c != nil && c.VPNClientAddressPool != nil && len(c.VPNClientAddressPool.AddressPrefixes) > 0 {
		for _, proto := range []string{rules.ProtocolSSTP, rules.ProtocolIKEv2, rules.ProtocolOpenVPN} {
			if slices.ContainsFunc(c.VPNClientProtocols, func(p string) bool { return strings.EqualFold(p, proto) }) {
				p.Protocols = append(p.Protocols, proto)
			}
		}
		p.Pool, _ = netip.ParsePrefix(c.VPNClientAddressPool.AddressPrefixes[0])
		p.Auth = c.VPNAuthenticationTypes
		if len(c.VPNClientIPsecPolicies) > 0 {
			pol := c.VPNClientIPsecPolicies[0]
			p.Policy = &pol
		}
	}
	if !p.Pool.IsValid() || len(p.Protocols) == 0 {
		return PointToSite{}, arm.Errorf(arm.CodeNoPointToSite,
			"virtual network gateway %s has no point-to-site configuration (properties.vpnClientConfiguration: an address pool and the protocols, SSTP, IkeV2 or OpenVPN)", g.Name)
	}
	if pubs := s.PublicAddrs(g); len(pubs) > 0 {
		p.Addr = pubs[0]
	}
	v := s.VNetOf(g)
	if v == nil || !p.Addr.IsValid() {
		return PointToSite{}, arm.Errorf(arm.CodeNoPointToSite, "virtual network gateway %s has no public address or virtual network yet", g.Name)
	}
	// The package routes no default route: a client keeps its own.
	p.Routes = slices.DeleteFunc(s.ClientRoutes(g, v), func(q netip.Prefix) bool { return q.Bits() == 0 })
	return p, nil
}

// ClientRoutes are the ranges gateway g's point-to-site clients reach
// through it, without repeats: its VNet v's, what the VNet's gateways
// route (its sites' and connected VNets' ranges), and g's customRoutes,
// of which alone a default route is kept (the VNet's default routes are
// forced tunneling's, not the clients'). The VPN client package routes
// them; IKEv2 clients' child SAs name them.
func (s *Snapshot) ClientRoutes(g *arm.VirtualNetworkGateway, v *arm.VirtualNetwork) []netip.Prefix {
	var out []netip.Prefix
	seen := map[netip.Prefix]bool{}
	add := func(q netip.Prefix, defaultRoute bool) {
		if q = q.Masked(); q.IsValid() && (q.Bits() > 0 || defaultRoute) && !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	if v.Properties.AddressSpace != nil {
		for _, a := range v.Properties.AddressSpace.AddressPrefixes {
			q, _ := netip.ParsePrefix(a)
			add(q, false)
		}
	}
	for _, rt := range s.VNetRoutes(v.ID) {
		add(rt.Prefix, false)
	}
	if cr := g.Properties.CustomRoutes; cr != nil {
		for _, a := range cr.AddressPrefixes {
			q, _ := netip.ParsePrefix(a)
			add(q, true)
		}
	}
	return out
}
