package dataplane

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/ike/ikev2"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/wire/openvpn"
)

// DefaultSSTPPort is SSTP's port: HTTPS (R13).
const DefaultSSTPPort = 443

// configureP2S starts, restarts or stops the instance's point-to-site
// server (SSTP and OpenVPN) and its IKEv2 clients. A change of the root
// or revoked certificates, the RADIUS servers, the routes, the DNS
// servers or the client limits (a root rotated, a site connected, the
// VNet's DNS servers or the SKU changed) is applied to the running server
// (p2s.Server.Update): it disconnects the clients a revocation names or
// whose root was removed, and no other; the connected clients keep the
// routes and DNS servers they were given until they connect again. A
// change of the pool, the protocols or how clients authenticate (with
// RADIUS or not) restarts it, its clients disconnected in the
// background.
func (e *Engine) configureP2S(g *gw) {
	want := g.cfg.P2S
	sstp := tcpPart(want)
	if g.p2s != nil && sstp != nil && sameServer(sstp, g.p2sCfg) && g.p2s.Update(p2s.Settings{Roots: parseRoots(sstp.Roots), Revoked: sstp.Revoked,
		Radius: sstp.Radius, Routes: sstp.Routes, DNS: sstp.DNS, MaxClients: sstp.MaxClients, OpenVPNMaxClients: sstp.OpenVPNMaxClients}) {
		g.p2sCfg = sstp
	}
	if g.p2s != nil && (sstp == nil || !reflect.DeepEqual(*sstp, *g.p2sCfg)) {
		// Its SSTP clients are disconnected in the background (each may
		// take seconds to answer, while e.mu is held); its address is
		// free for the new server at once.
		old := g.p2s
		old.Shutdown()
		e.closing.Go(old.Close)
		g.p2s, g.p2sCfg = nil, nil
	}
	e.configureIKEv2Clients(g)
	if sstp == nil || g.p2s != nil {
		return
	}
	e.startP2S(g, sstp)
}

// startP2S starts g's server of SSTP and OpenVPN clients, sstp.
func (e *Engine) startP2S(g *gw, sstp *GatewayP2S) {
	cert, err := e.gatewayCert(g)
	if err != nil {
		e.p2sFailed(g, err)
		return
	}
	port := e.opts.SSTPPort
	if port == 0 {
		port = DefaultSSTPPort
	}
	var ovpnKey *openvpn.StaticKey
	if sstp.OpenVPN && e.opts.OpenVPNKey != nil {
		if ovpnKey, err = e.opts.OpenVPNKey(sstp.GatewayGUID); err != nil {
			e.p2sFailed(g, err)
			return
		}
	}
	s, err := p2s.Start(p2s.Config{Logger: e.log.With("gateway", g.cfg.key(), "p2s", "tcp"), Listen: netip.AddrPortFrom(g.cfg.PublicAddr, port),
		Cert: cert, Roots: parseRoots(sstp.Roots), Revoked: sstp.Revoked, Pool: sstp.TCPPool, MaxClients: sstp.MaxClients, DNS: sstp.DNS, Router: g.toVNet,
		SSTP: sstp.SSTP, OpenVPN: sstp.OpenVPN, OpenVPNMaxClients: sstp.OpenVPNMaxClients, OpenVPNKey: ovpnKey, Routes: sstp.Routes,
		Radius: sstp.Radius, RadiusOnly: sstp.RadiusOnly, NASIdentifier: g.cfg.ID[strings.LastIndex(g.cfg.ID, "/")+1:], RadiusDial: e.radiusDial(g),
		RadiusFailover: &g.radiusFailover, RadiusAccounting: !e.opts.NoRadiusAccounting, Seats: &g.seats})
	if err != nil {
		e.p2sFailed(g, err)
		return
	}
	s.SetCapture(e.captures[g.cfg.ID]) // a gateway's capture takes in its clients' packets
	g.p2s, g.p2sCfg, g.p2sFailedAt, g.p2sLogged = s, sstp, time.Time{}, ""
	e.log.Info("point-to-site server started", "gateway", g.cfg.key(), "listen", s.Addr(), "pool", sstp.TCPPool, "sstp", sstp.SSTP, "openvpn", sstp.OpenVPN)
}

// p2sFailed notes that g's point-to-site server did not start, for Retry
// to try again, and logs why: at Error once, at Debug when a retry fails
// alike.
func (e *Engine) p2sFailed(g *gw, err error) {
	g.p2sFailedAt = time.Now()
	if err.Error() == g.p2sLogged {
		e.log.Debug("point-to-site not started", "gateway", g.cfg.key(), "err", err)
		return
	}
	g.p2sLogged = err.Error()
	e.log.Error("point-to-site not started", "gateway", g.cfg.key(), "err", err)
}

// p2sDue tells whether Retry is to start g's point-to-site server again:
// g runs and is to serve SSTP or OpenVPN, and its server failed to start
// RetryInterval ago or more.
func (g *gw) p2sDue(now time.Time) bool {
	return g.gw != nil && g.p2s == nil && tcpPart(g.cfg.P2S) != nil && !g.p2sFailedAt.IsZero() && now.Sub(g.p2sFailedAt) >= RetryInterval
}

// tcpPart returns what of p the server of SSTP and OpenVPN clients runs
// with, or nil when p serves neither.
func tcpPart(p *GatewayP2S) *GatewayP2S {
	if p == nil || !p.TCPPool.IsValid() || !p.SSTP && !p.OpenVPN {
		return nil
	}
	t := &GatewayP2S{Pool: p.Pool, TCPPool: p.TCPPool, SSTP: p.SSTP, OpenVPN: p.OpenVPN, Roots: p.Roots, Revoked: p.Revoked,
		MaxClients: p.MaxClients, DNS: p.DNS, Radius: p.Radius, RadiusOnly: p.RadiusOnly}
	if p.OpenVPN {
		t.OpenVPNMaxClients, t.Routes, t.GatewayGUID = p.OpenVPNMaxClients, p.Routes, p.GatewayGUID
	}
	return t
}

// sameServer reports whether a and b differ in no more than what
// p2s.Server.Update changes: their root and revoked certificates, RADIUS
// servers, routes, DNS servers and client limits.
func sameServer(a, b *GatewayP2S) bool {
	live := func(p GatewayP2S) GatewayP2S {
		p.Roots, p.Revoked, p.Radius, p.Routes, p.DNS, p.MaxClients, p.OpenVPNMaxClients = nil, nil, nil, nil, nil, 0, 0
		return p
	}
	return reflect.DeepEqual(live(*a), live(*b))
}

// configureIKEv2Clients hands the gateway what its IKEv2 clients need, or
// stops serving them.
func (e *Engine) configureIKEv2Clients(g *gw) {
	want := g.cfg.P2S
	if want == nil || !want.IKEv2Pool.IsValid() {
		if g.ikev2Clients {
			if err := g.gw.SetClients(nil); err != nil {
				e.log.Error("stopping point-to-site over IKEv2", "gateway", g.cfg.key(), "err", err)
			}
			g.ikev2Clients = false
		}
		return
	}
	cert, err := e.gatewayCert(g)
	if err != nil {
		e.log.Error("point-to-site over IKEv2 not started", "gateway", g.cfg.key(), "err", err)
		return
	}
	cl := &ikev2.Clients{Cert: cert, Roots: parseRoots(want.Roots), Revoked: want.Revoked, Pool: want.IKEv2Pool,
		Routes: want.Routes, MaxClients: want.IKEv2MaxClients, Seats: &g.seats, DNS: want.DNS,
		Radius: want.Radius, RadiusOnly: want.RadiusOnly, NASIdentifier: g.cfg.ID[strings.LastIndex(g.cfg.ID, "/")+1:], RadiusDial: e.radiusDial(g),
		RadiusFailover: &g.radiusFailover, RadiusAccounting: !e.opts.NoRadiusAccounting}
	if cl.IKEProposals, cl.ESPProposals, err = parseProposals(want.IKEProposals, want.ESPProposals); err != nil {
		e.log.Error("point-to-site over IKEv2 not started", "gateway", g.cfg.key(), "err", err)
		return
	}
	if err := g.gw.SetClients(cl); err != nil {
		e.log.Error("point-to-site over IKEv2 not started", "gateway", g.cfg.key(), "err", err)
		return
	}
	if !g.ikev2Clients {
		e.log.Info("point-to-site over IKEv2 started", "gateway", g.cfg.key(), "pool", want.IKEv2Pool)
	}
	g.ikev2Clients = true
}

// gatewayCert returns the certificate the gateway presents to
// point-to-site clients, issued for its public address when first needed
// (and again by renewCerts before it expires).
func (e *Engine) gatewayCert(g *gw) (tls.Certificate, error) {
	if len(g.cert.Certificate) > 0 {
		return g.cert, nil
	}
	if e.opts.GatewayCert == nil {
		return tls.Certificate{}, errors.New("no certificate issuer")
	}
	cert, err := e.opts.GatewayCert(g.cfg.PublicAddr)
	if err != nil {
		return tls.Certificate{}, err
	}
	g.cert = cert
	return cert, nil
}

// parseRoots parses the root certificates; those that do not parse (the
// API accepts none such) are left out.
func parseRoots(ders [][]byte) []*x509.Certificate {
	var roots []*x509.Certificate
	for _, der := range ders {
		if c, err := x509.ParseCertificate(der); err == nil {
			roots = append(roots, c)
		}
	}
	return roots
}

// p2sServers returns what serves gateway id's point-to-site clients, by
// instance: its SSTP servers and the gateways whose IKE daemons serve
// IKEv2 clients. They are asked outside the engine's lock.
func (e *Engine) p2sServers(id string) (servers []*p2s.Server, gws []*gateway.Gateway) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		g := e.gateways[key]
		if g.cfg.ID != id {
			continue
		}
		if g.p2s != nil {
			servers = append(servers, g.p2s)
		}
		if g.ikev2Clients {
			gws = append(gws, g.gw)
		}
	}
	return servers, gws
}

// P2SConnection names a point-to-site client's connection: its protocol
// (ProtocolSSTP, ProtocolOpenVPN or ProtocolIKEv2) and its address.
type P2SConnection struct {
	Protocol string
	Addr     netip.Addr
}

// DisconnectP2S ends the point-to-site connections conns of gateway id
// and returns how many were connected. A client at the address of one
// with another protocol is not ended.
func (e *Engine) DisconnectP2S(id string, conns []P2SConnection) int {
	servers, gws := e.p2sServers(id)
	n := 0
	for _, c := range conns {
		for _, s := range servers {
			if s.Disconnect(c.Protocol, c.Addr) {
				n++
			}
		}
		if c.Protocol != ProtocolIKEv2 {
			continue
		}
		for _, g := range gws {
			if g.DisconnectClient(c.Addr) {
				n++
			}
		}
	}
	return n
}

// P2SClients returns the point-to-site clients of gateway id (a client's
// IKE loop may take a while to answer: see p2sServers).
func (e *Engine) P2SClients(id string) []p2s.ClientStatus {
	servers, gws := e.p2sServers(id)
	var out []p2s.ClientStatus
	for _, s := range servers {
		out = append(out, s.Clients()...)
	}
	for _, g := range gws {
		for _, c := range g.Clients() {
			out = append(out, p2s.ClientStatus{Protocol: ProtocolIKEv2, Addr: c.Addr, Remote: c.Remote, Identity: c.Subject, Since: c.Since,
				BytesIn: c.BytesIn, BytesOut: c.BytesOut, PacketsIn: c.PacketsIn, PacketsOut: c.PacketsOut, Peak: c.Peak})
		}
	}
	return out
}
