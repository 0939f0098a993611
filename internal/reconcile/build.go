// Package reconcile turns the desired state of a region into a data-plane
// configuration, applies it whenever the desired state changes, and writes
// what the data plane observes back as status. Status flows only that way:
// the data plane never changes the desired state.
package reconcile

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/bgp"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/region"
	"github.com/vnetgw/vnetgw/internal/rules"
	"github.com/vnetgw/vnetgw/internal/tunnel"
)

// Build computes the data-plane configuration of the VNets in owned
// (lower-cased ids; nil: every VNet) of a snapshot, and of their
// gateways. It is a pure function of the snapshot: a node builds what it
// runs, not the whole region.
func Build(s *region.Snapshot, owned map[string]bool) dataplane.Config {
	var cfg dataplane.Config
	runs := func(vnet string) bool { return owned == nil || owned[vnet] }
	hosts := map[string][]dataplane.Host{}
	for _, n := range s.NetworkInterfaces() {
		if len(n.Properties.IPConfigurations) == 0 {
			continue
		}
		c := n.Properties.PrimaryIPConfiguration()
		sid, err := arm.ParseID(c.Properties.Subnet.RefID())
		addr, aerr := netip.ParseAddr(c.Properties.PrivateIPAddress)
		if err != nil || aerr != nil {
			continue
		}
		h := dataplane.Host{ID: strings.ToLower(n.ID), Name: n.Name, Subnet: sid.Key(), Addr: addr, Kind: dataplane.HostNetstack}
		if a := n.Properties.Attachment; a != nil && a.Kind == region.AttachTUN {
			h.Kind, h.NetNS = dataplane.HostTUN, a.NetNS
		}
		vid := sid.Parent().Key()
		hosts[vid] = append(hosts[vid], h)
	}
	for _, v := range s.VirtualNetworks() {
		if !runs(strings.ToLower(v.ID)) {
			continue
		}
		dv := dataplane.VNet{ID: strings.ToLower(v.ID), Hosts: hosts[strings.ToLower(v.ID)]}
		if v.Properties.AddressSpace != nil {
			dv.Prefixes = parsePrefixes(v.Properties.AddressSpace.AddressPrefixes)
		}
		for _, r := range s.VNetRoutes(v.ID) {
			dv.Routes = append(dv.Routes, dataplane.Route{Prefix: r.Prefix, Gateway: strings.ToLower(r.Gateway)})
		}
		for _, sn := range v.Properties.Subnets {
			sid, _ := arm.ParseID(sn.ID)
			if ps := parsePrefixes(sn.Prefixes()); len(ps) > 0 {
				if dv.Subnets == nil {
					dv.Subnets = map[string][]netip.Prefix{}
				}
				dv.Subnets[sid.Key()] = ps
			}
			t := s.RouteTable(sn.Properties.RouteTable.RefID())
			if t == nil {
				continue
			}
			if dv.UserRoutes == nil {
				dv.UserRoutes = map[string][]dataplane.UserRoute{}
			}
			urs := []dataplane.UserRoute{} // a table without routes still has the subnet's own
			for _, r := range t.Properties.Routes {
				p, err := netip.ParsePrefix(r.Properties.AddressPrefix)
				if err != nil {
					continue
				}
				a, _ := netip.ParseAddr(r.Properties.NextHopIPAddress)
				urs = append(urs, dataplane.UserRoute{Prefix: p.Masked(), NextHop: r.Properties.NextHopType, Appliance: a})
			}
			dv.UserRoutes[sid.Key()] = urs
			if t.Properties.DisableBGPRoutePropagation {
				if dv.NoGatewayRoutes == nil {
					dv.NoGatewayRoutes = map[string]bool{}
				}
				dv.NoGatewayRoutes[sid.Key()] = true
			}
		}
		cfg.VNets = append(cfg.VNets, dv)
	}
	for _, g := range s.Gateways() {
		if g.Properties.GatewayType != arm.GatewayTypeVpn {
			continue // ExpressRoute gateways are modelled, not realised (R4)
		}
		v := s.VNetOf(g)
		if v == nil || !runs(strings.ToLower(v.ID)) {
			continue
		}
		pubs := s.PublicAddrs(g)
		if len(pubs) == 0 || len(pubs) != len(g.Properties.IPConfigurations) {
			continue
		}
		dg := dataplane.Gateway{ID: strings.ToLower(g.ID), VNet: strings.ToLower(v.ID), PublicAddr: pubs[0],
			PolicyBased: g.Properties.VPNType == arm.PolicyBased, NoReplayCheck: g.Properties.DisableIPSecReplayProtection}
		if sid, err := arm.ParseID(g.Properties.IPConfigurations[0].Properties.Subnet.RefID()); err == nil {
			dg.Subnet = sid.Key()
		}
		privateAddr := func(i int) netip.Addr {
			a, _ := netip.ParseAddr(g.Properties.IPConfigurations[i].Properties.PrivateIPAddress)
			return a
		}
		dg.PrivateAddr = privateAddr(0)
		var local []netip.Prefix
		if v.Properties.AddressSpace != nil {
			local = parsePrefixes(v.Properties.AddressSpace.AddressPrefixes)
		}
		routes := map[string][]region.GatewayRoute{}
		for _, r := range s.VNetRoutes(v.ID) {
			if strings.EqualFold(r.Gateway, g.ID) {
				routes[strings.ToLower(r.Connection)] = append(routes[strings.ToLower(r.Connection)], r)
			}
		}
		dg.P2S = pointToSite(g, s.ClientRoutes(g, v))
		if dg.P2S != nil && v.Properties.DHCPOptions != nil {
			for _, d := range v.Properties.DHCPOptions.DNSServers {
				if a, err := netip.ParseAddr(d); err == nil {
					dg.P2S.DNS = append(dg.P2S.DNS, a.Unmap())
				}
			}
		}
		bgpAddrs, custom := bgpAddrs(g), customAPIPA(g)
		// The VNet's ranges and the point-to-site pool, as Azure advertises
		// them (R41, R33).
		networks := slices.Clone(local)
		if dg.P2S != nil {
			networks = append(networks, dg.P2S.Pool)
		}
		ipconfig := func(i int) string { return strings.ToLower(g.Properties.IPConfigurations[i].ID) }
		// The ranges of the sites connected (their local network
		// gateways' address space, as the VNet sees them), which the
		// gateway advertises over BGP too, as Azure's does: with BGP or
		// without, a site's ranges reach the other sites' and VNets'
		// speakers (transit, R37).
		var static []region.GatewayRoute
		for _, c := range s.ConnectionsOf(g.ID) {
			if r, ok := s.RemoteOf(c); ok && c.Properties.ConnectionType == arm.ConnectionIPsec {
				for _, sr := range region.SiteRanges(g, c, r.Prefixes) {
					static = append(static, region.GatewayRoute{Prefix: sr.Prefix, Connection: strings.ToLower(c.ID), IPConfiguration: sr.IPConfiguration})
				}
			}
		}
		var sites []siteConn
		var v2v []instanced // VNet-to-VNet connections to or from an active-active gateway
		var peers []dataplane.BGPPeer
		for _, c := range s.ConnectionsOf(g.ID) {
			r, ok := s.RemoteOf(c)
			if !ok {
				continue
			}
			dc := connection(c, g, r, local)
			dc.Routes = routesAt(routes[dc.ID], ipconfig(0))
			var peer *dataplane.BGPPeer
			if c.Properties.EnableBGP && r.BGPAddr.IsValid() && r.BGPAS > 0 {
				peer = &dataplane.BGPPeer{Connection: dc.ID, Addr: r.BGPAddr, AS: uint32(r.BGPAS)}
			}
			if c.Properties.ConnectionType == arm.ConnectionIPsec {
				sc := siteConn{conn: dc, routes: routes[dc.ID], ingress: s.IngressNAT(c), egress: s.EgressNAT(c), peer: peer, apipa: map[string]netip.Addr{}}
				for _, x := range c.Properties.GatewayCustomBgpIPAddresses {
					if a, err := netip.ParseAddr(x.CustomBgpIPAddress); err == nil {
						sc.apipa[strings.ToLower(x.IPConfigurationID)] = a
					}
				}
				sites = append(sites, sc)
				var p []dataplane.BGPPeer
				dc, p = sc.atInstance(ipconfig(0), networks, otherSites(static, dc.ID, ipconfig(0)))
				dc, p = apipaSession(dc, p, custom[0], sc.apipa[ipconfig(0)])
				peers = append(peers, p...)
			}
			// VNet to VNet, each instance peers with each instance of
			// the other gateway (Azure's full mesh of sessions between
			// active-active gateways): its learned routes stay when an
			// instance at either end goes.
			var v2vPeers []dataplane.BGPPeer
			if peer != nil && c.Properties.ConnectionType != arm.ConnectionIPsec {
				for _, a := range r.BGPAddrs {
					p := *peer
					p.Addr = a
					p.Networks = withSites(networks, otherSites(static, dc.ID, ipconfig(0)))
					v2vPeers = append(v2vPeers, p)
				}
				peers = append(peers, v2vPeers...)
			}
			mesh := c.Properties.ConnectionType == arm.ConnectionVnet2Vnet && (len(r.InstanceAddrs) > 1 || len(pubs) > 1) && len(r.InstanceAddrs) > 0
			if mesh {
				v2v = append(v2v, instanced{dc, r.InstanceAddrs, v2vPeers})
				dg.Connections = append(dg.Connections, meshTunnels(dc, r.InstanceAddrs, 0)...)
			} else {
				dg.Connections = append(dg.Connections, dc)
			}
		}
		if len(bgpAddrs) > 0 {
			dg.BGP = &dataplane.GatewayBGP{AS: uint32(g.Properties.BGPSettings.ASN), Addr: bgpAddrs[0], Networks: networks, Peers: peers, APIPA: custom[0]}
		}
		cfg.Gateways = append(cfg.Gateways, dg)
		// The other instances of an active-active gateway: the same
		// site-to-site connections from their own addresses, and the
		// VNet-to-VNet connections to or from an active-active gateway as
		// Azure's full mesh: every instance has a tunnel to every instance
		// of the other gateway (meshTunnels).
		for i := 1; i < len(pubs); i++ {
			di := dg
			di.Instance, di.PublicAddr, di.PrivateAddr, di.P2S, di.Connections = i, pubs[i], privateAddr(i), nil, nil
			var instancePeers []dataplane.BGPPeer
			for _, sc := range sites {
				dc, p := sc.atInstance(ipconfig(i), networks, otherSites(static, sc.conn.ID, ipconfig(i)))
				dc, p = apipaSession(dc, p, custom[i], sc.apipa[ipconfig(i)])
				di.Connections = append(di.Connections, dc)
				instancePeers = append(instancePeers, p...)
			}
			for _, c := range v2v {
				di.Connections = append(di.Connections, meshTunnels(c.conn, c.addrs, i)...)
				for _, p := range c.peers {
					p.Networks = withSites(networks, otherSites(static, c.conn.ID, ipconfig(i)))
					instancePeers = append(instancePeers, p)
				}
			}
			if dg.BGP != nil && i < len(bgpAddrs) {
				b := *dg.BGP
				b.Addr, b.Peers, b.APIPA = bgpAddrs[i], instancePeers, custom[i]
				di.BGP = &b
			} else {
				di.BGP = nil
			}
			cfg.Gateways = append(cfg.Gateways, di)
		}
	}
	return cfg
}

// siteConn is a site-to-site connection, before its NAT rules, with them
// and with its BGP peer (nil without BGP).
type siteConn struct {
	conn            dataplane.Connection
	routes          []region.GatewayRoute // the VNet's to it, of every instance
	ingress, egress []rules.NATMapping
	peer            *dataplane.BGPPeer
	// apipa is the custom APIPA address the connection chose for its BGP
	// session, by IP configuration id (lower case).
	apipa map[string]netip.Addr
}

// atInstance returns the connection and its BGP peer at the gateway
// instance of IP configuration ipconfig (lower case), with the NAT rules
// that apply there: those of that IP configuration and those of none. The
// site sees the VNet's ranges through the EgressSnat rules: its selectors,
// its device script and what BGP announces to it (networks, and the
// other sites' ranges there, others) name those; what it announces is
// learned through the IngressSnat rules.
func (sc siteConn) atInstance(ipconfig string, networks, others []netip.Prefix) (dataplane.Connection, []dataplane.BGPPeer) {
	ingress, egress := rules.AtIPConfiguration(sc.ingress, ipconfig), rules.AtIPConfiguration(sc.egress, ipconfig)
	dc := sc.conn
	dc.Routes = routesAt(sc.routes, ipconfig)
	dc.NAT = nil
	for _, m := range ingress {
		dc.NAT = append(dc.NAT, tunnel.NAT{Internal: m.Internal, External: m.External, Dynamic: m.Dynamic})
	}
	if len(egress) > 0 {
		dc.LocalPrefixes = rules.TranslateSpace(dc.LocalPrefixes, egress)
		for _, m := range egress {
			dc.NAT = append(dc.NAT, tunnel.NAT{Internal: m.Internal, External: m.External, Egress: true, Dynamic: m.Dynamic})
		}
	}
	if sc.peer == nil {
		return dc, nil
	}
	peer := *sc.peer
	for _, m := range ingress {
		peer.Import = append(peer.Import, bgp.Mapping{From: m.Internal, To: m.External})
	}
	if len(egress) > 0 || len(others) > 0 {
		peer.Networks = rules.TranslateSpace(append(slices.Clip(networks), others...), egress)
	}
	return dc, []dataplane.BGPPeer{peer}
}

// otherSites returns the ranges of the sites connected (static) that the
// gateway's instance of IP configuration ipconfig advertises over BGP to
// the peers of connection conn: those of every site but conn's own, which
// is never sent its ranges back.
func otherSites(static []region.GatewayRoute, conn, ipconfig string) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range static {
		if r.Connection != conn && (r.IPConfiguration == "" || r.IPConfiguration == ipconfig) && !slices.Contains(out, r.Prefix) {
			out = append(out, r.Prefix)
		}
	}
	return out
}

// withSites returns what a peer is sent, networks and the other sites'
// ranges, or nil (the gateway's networks) when there are none of these.
func withSites(networks, others []netip.Prefix) []netip.Prefix {
	if len(others) == 0 {
		return nil
	}
	return append(slices.Clip(networks), others...)
}

// routesAt returns the prefixes of routes that the instance of IP
// configuration ipconfig carries.
func routesAt(routes []region.GatewayRoute, ipconfig string) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range routes {
		if r.IPConfiguration == "" || r.IPConfiguration == ipconfig {
			out = append(out, r.Prefix)
		}
	}
	return out
}

// instanced is a connection to a gateway with several instances, at
// their addresses.
type instanced struct {
	conn  dataplane.Connection
	addrs []netip.Addr
	peers []dataplane.BGPPeer // its BGP sessions, at every instance
}

// meshTunnels are the tunnels of VNet-to-VNet connection c at instance i of
// its gateway, to the other gateway's instances at addrs: one to the
// instance of the same index (or the first, when the other has fewer) that
// carries the traffic, and a standby tunnel to each of the others that
// carries it while that one is down.
func meshTunnels(c dataplane.Connection, addrs []netip.Addr, i int) []dataplane.Connection {
	own := i
	if own >= len(addrs) {
		own = 0
	}
	out := make([]dataplane.Connection, 0, len(addrs))
	for j, a := range addrs {
		t := c
		t.Remote = a
		if j != own {
			t.Tunnel = strconv.Itoa(j)
		}
		out = append(out, t)
	}
	return out
}

// pointToSite is the point-to-site configuration of a gateway with a
// client pool (R10–R14), on its first instance. SSTP and OpenVPN share
// TCP 443 and a part of the pool; with IKEv2 too, they get the lower
// half and IKEv2 the upper, as Azure splits the pool when SSTP is among
// several protocols (vnetgw splits it for OpenVPN and IKEv2 too: two
// servers hand out the addresses). IKEv2 and OpenVPN clients reach the
// IPv4 ones of routes (Snapshot.ClientRoutes).
func pointToSite(g *arm.VirtualNetworkGateway, routes []netip.Prefix) *dataplane.GatewayP2S {
	c := g.Properties.VPNClientConfiguration
	if c == nil || c.VPNClientAddressPool == nil {
		return nil
	}
	has := func(proto string) bool {
		return slices.ContainsFunc(c.VPNClientProtocols, func(p string) bool { return strings.EqualFold(p, proto) })
	}
	sstp, ikev2, openvpn := has(rules.ProtocolSSTP), has(rules.ProtocolIKEv2), has(rules.ProtocolOpenVPN)
	pool := parsePrefixes(c.VPNClientAddressPool.AddressPrefixes)
	if len(pool) == 0 || !pool[0].Addr().Is4() || !sstp && !ikev2 && !openvpn {
		return nil
	}
	p := &dataplane.GatewayP2S{Pool: pool[0].Masked(), SSTP: sstp, OpenVPN: openvpn, GatewayGUID: g.Properties.ResourceGUID,
		MaxClients: rules.MaxSSTPClients, OpenVPNMaxClients: rules.MaxSSTPClients, IKEv2MaxClients: rules.MaxSSTPClients}
	if sku, ok := skuOf(g); ok {
		p.MaxClients = rules.R32ClientLimit(sku, rules.ProtocolSSTP)
		p.OpenVPNMaxClients, p.IKEv2MaxClients = rules.R32ClientLimit(sku, rules.ProtocolOpenVPN), rules.R32ClientLimit(sku, rules.ProtocolIKEv2)
	}
	switch tcp := sstp || openvpn; {
	case tcp && ikev2:
		p.TCPPool, p.IKEv2Pool = rules.SplitPool(p.Pool)
	case tcp:
		p.TCPPool = p.Pool
	default:
		p.IKEv2Pool = p.Pool
	}
	if ikev2 || openvpn {
		for _, r := range routes {
			if r.Addr().Is4() {
				p.Routes = append(p.Routes, r) // clients get IPv4 addresses
			}
		}
	}
	for _, r := range c.VPNClientRootCertificates {
		if der, err := region.CertificateDER(r.Properties.PublicCertData); err == nil {
			p.Roots = append(p.Roots, der)
		}
	}
	for _, r := range c.VPNClientRevokedCertificates {
		p.Revoked = append(p.Revoked, r.Properties.Thumbprint)
	}
	for _, pol := range c.VPNClientIPsecPolicies {
		p.IKEProposals, p.ESPProposals = []string{IKEProposal(pol)}, []string{ESPProposal(pol)}
	}
	if slices.Contains(c.VPNAuthenticationTypes, rules.AuthRadius) {
		p.Radius, p.RadiusOnly = radiusServers(c), !slices.Contains(c.VPNAuthenticationTypes, rules.AuthCertificate)
	}
	return p
}

// radiusServers are a configuration's RADIUS servers in the order they
// are asked: the highest radiusServerScore first.
func radiusServers(c *arm.VPNClientConfiguration) []radius.Server {
	servers := slices.Clone(c.RadiusServers)
	if c.RadiusServerAddress != "" {
		servers = append(servers, arm.RadiusServer{RadiusServerAddress: c.RadiusServerAddress, RadiusServerSecret: c.RadiusServerSecret})
	}
	slices.SortStableFunc(servers, func(a, b arm.RadiusServer) int { return cmp.Compare(b.RadiusServerScore, a.RadiusServerScore) })
	var out []radius.Server
	for _, s := range servers {
		if a, err := netip.ParseAddr(s.RadiusServerAddress); err == nil {
			out = append(out, radius.Server{Addr: netip.AddrPortFrom(a, 1812), Secret: []byte(s.RadiusServerSecret)})
		}
	}
	return out
}

func skuOf(g *arm.VirtualNetworkGateway) (rules.SKU, bool) {
	if g.Properties.SKU == nil {
		return rules.SKU{}, false
	}
	return rules.LookupSKU(g.Properties.SKU.Name)
}

// bgpAddrs returns the BGP peering addresses of a gateway with BGP
// enabled, one per instance.
func bgpAddrs(g *arm.VirtualNetworkGateway) []netip.Addr {
	b := g.Properties.BGPSettings
	if !g.Properties.EnableBGP || b == nil || b.ASN <= 0 {
		return nil
	}
	var out []netip.Addr
	for _, s := range strings.Split(b.BGPPeeringAddress, ",") {
		if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// customAPIPA returns the custom APIPA BGP addresses of each IP
// configuration (instance) of gateway g.
func customAPIPA(g *arm.VirtualNetworkGateway) [][]netip.Addr {
	out := make([][]netip.Addr, len(g.Properties.IPConfigurations))
	for i, c := range g.Properties.IPConfigurations {
		for _, s := range rules.CustomBGPAddresses(g.Properties.BGPSettings, c.ID) {
			if a, err := netip.ParseAddr(s); err == nil {
				out[i] = append(out[i], a)
			}
		}
	}
	return out
}

// apipaSession makes the BGP session of site connection dc with a peer at
// an APIPA address (169.254.0.0/16) go from one of the instance's custom
// APIPA addresses, as Azure's does: the one the connection chose, if the
// instance has it, else the first; the session's local address, and the
// connection's traffic selectors hold it.
func apipaSession(dc dataplane.Connection, peers []dataplane.BGPPeer, custom []netip.Addr, chosen netip.Addr) (dataplane.Connection, []dataplane.BGPPeer) {
	if len(custom) == 0 || len(peers) != 1 || !rules.APIPA.Contains(peers[0].Addr) {
		return dc, peers
	}
	local := custom[0]
	if slices.Contains(custom, chosen) {
		local = chosen
	}
	peers = slices.Clone(peers)
	peers[0].Local = local
	dc.LocalPrefixes = append(slices.Clip(dc.LocalPrefixes), netip.PrefixFrom(local, 32))
	return dc, peers
}

func parsePrefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// interRegion tells whether a connection's traffic crosses regions (R39):
// a VNet-to-VNet connection between gateways of two locations. A site is
// in no region (its resource's location is only where it is filed).
func interRegion(r region.Remote, g *arm.VirtualNetworkGateway) bool {
	return r.Gateway != nil && !strings.EqualFold(r.Location, g.Location)
}

// connection builds one tunnel's configuration.
func connection(c *arm.Connection, g *arm.VirtualNetworkGateway, r region.Remote, local []netip.Prefix) dataplane.Connection {
	p := &c.Properties
	dc := dataplane.Connection{
		ID:             strings.ToLower(c.ID),
		Name:           c.Name,
		Remote:         r.Addr,
		RemoteFQDN:     r.FQDN,
		LocalPrefixes:  local,
		RemotePrefixes: r.Prefixes,
		PSK:            dataplane.Secret(p.SharedKey),
		Mode:           p.ConnectionMode,
		DPDTimeout:     time.Duration(p.DPDTimeoutSeconds) * time.Second,
		// R18 for a policy-based device behind a route-based gateway.
		PolicySelectors: p.UsePolicyBasedTrafficSelectors,
		InterRegion:     interRegion(r, g),
		IKEv1:           p.ConnectionProtocol == arm.IKEv1,
	}
	for _, ts := range p.TrafficSelectorPolicies {
		dc.Selectors = append(dc.Selectors, dataplane.SelectorPolicy{Local: parsePrefixes(ts.LocalAddressRanges), Remote: parsePrefixes(ts.RemoteAddressRanges)})
	}
	if len(p.IPsecPolicies) == 1 {
		pol := p.IPsecPolicies[0]
		dc.IKEProposals = []string{IKEProposal(pol)}
		dc.ESPProposals = []string{ESPProposal(pol)}
		dc.ChildLifetime = time.Duration(pol.SALifeTimeSeconds) * time.Second
		dc.ChildLifetimeKB = uint64(pol.SADataSizeKilobytes)
		dc.NoChildByteLimit = pol.SADataSizeKilobytes == 0
	}
	return dc
}

// Azure's algorithm names in strongSwan's proposal syntax.
var (
	encryption = map[string]string{"AES128": "aes128", "AES192": "aes192", "AES256": "aes256",
		"GCMAES128": "aes128gcm16", "GCMAES192": "aes192gcm16", "GCMAES256": "aes256gcm16", "DES3": "3des", "DES": "des"}
	integrity = map[string]string{"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384"}
	dhGroup   = map[string]string{"DHGroup1": "modp768", "DHGroup2": "modp1024", "DHGroup14": "modp2048", "DHGroup2048": "modp2048",
		"DHGroup24": "modp2048s256", "ECP256": "ecp256", "ECP384": "ecp384",
		"PFS1": "modp768", "PFS2": "modp1024", "PFS14": "modp2048", "PFS2048": "modp2048", "PFS24": "modp2048s256"}
)

// IKEProposal writes a custom policy's IKE algorithms as a strongSwan
// proposal. A hash as the integrity of a GCM cipher is the PRF; with GCM as
// both the PRF is HMAC-SHA2-256, as Azure uses.
func IKEProposal(p arm.IPsecPolicy) string {
	enc := encryption[p.IKEEncryption]
	prf := "prfsha256"
	if i, ok := integrity[p.IKEIntegrity]; ok {
		prf = i // strongSwan takes the PRF from the integrity algorithm
		if strings.HasPrefix(p.IKEEncryption, "GCM") {
			prf = "prf" + i
		}
	}
	parts := []string{enc, prf}
	if g, ok := dhGroup[p.DHGroup]; ok {
		parts = append(parts, g)
	}
	return strings.Join(parts, "-")
}

// ESPProposal writes a custom policy's ESP algorithms, with the PFS group,
// as a strongSwan proposal.
func ESPProposal(p arm.IPsecPolicy) string {
	parts := []string{encryption[p.IPsecEncryption]}
	if i, ok := integrity[p.IPsecIntegrity]; ok && !strings.HasPrefix(p.IPsecEncryption, "GCM") {
		parts = append(parts, i)
	}
	pfs := p.PFSGroup
	if pfs == "PFSMM" {
		pfs = p.DHGroup // the main mode's (IKE SA's) group, as Windows' IPSEC_PFS_MM
	}
	if g, ok := dhGroup[pfs]; ok {
		parts = append(parts, g)
	}
	return strings.Join(parts, "-")
}
