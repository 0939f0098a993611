package dataplane

import (
	"crypto/x509"
	"maps"
	"net/netip"
	"reflect"
	"slices"

	"github.com/vnetgw/vnetgw/internal/p2s"
)

// DefaultSSTPPort is SSTP's port: HTTPS (R13).
const DefaultSSTPPort = 443

// configureP2S starts, restarts or stops the instance's point-to-site
// server.
func (e *Engine) configureP2S(g *gw) {
	want := g.cfg.P2S
	if g.p2s != nil && (want == nil || !reflect.DeepEqual(*want, *g.p2sCfg)) {
		g.p2s.Close()
		g.p2s, g.p2sCfg = nil, nil
	}
	if want == nil || g.p2s != nil {
		return
	}
	if e.opts.GatewayCert == nil {
		e.log.Error("point-to-site not started: no certificate issuer", "gateway", g.cfg.key())
		return
	}
	cert, err := e.opts.GatewayCert(g.cfg.PublicAddr)
	if err != nil {
		e.log.Error("point-to-site not started", "gateway", g.cfg.key(), "err", err)
		return
	}
	var roots []*x509.Certificate
	for _, der := range want.Roots {
		if c, err := x509.ParseCertificate(der); err == nil {
			roots = append(roots, c)
		}
	}
	port := e.opts.SSTPPort
	if port == 0 {
		port = DefaultSSTPPort
	}
	s, err := p2s.Start(p2s.Config{Logger: e.log.With("gateway", g.cfg.key(), "p2s", "sstp"), Listen: netip.AddrPortFrom(g.cfg.PublicAddr, port),
		Cert: cert, Roots: roots, Revoked: want.Revoked, Pool: want.Pool, MaxClients: want.MaxClients, Router: e.vnets[g.cfg.VNet].router.Ingress(g.cfg.Subnet)})
	if err != nil {
		e.log.Error("point-to-site not started", "gateway", g.cfg.key(), "err", err)
		return
	}
	s.SetCapture(e.captures[g.cfg.ID]) // a gateway's capture takes in its clients' packets
	c := *want
	g.p2s, g.p2sCfg = s, &c
	e.log.Info("point-to-site server started", "gateway", g.cfg.key(), "listen", s.Addr(), "pool", want.Pool)
}

// DisconnectP2S ends the point-to-site clients of gateway id at addrs and
// returns how many were connected.
func (e *Engine) DisconnectP2S(id string, addrs []netip.Addr) int {
	e.mu.Lock()
	var servers []*p2s.Server
	for _, g := range e.gateways {
		if g.cfg.ID == id && g.p2s != nil {
			servers = append(servers, g.p2s)
		}
	}
	e.mu.Unlock()
	n := 0
	for _, s := range servers {
		for _, a := range addrs {
			if s.Disconnect(a) {
				n++
			}
		}
	}
	return n
}

// P2SClients returns the point-to-site clients of gateway id.
func (e *Engine) P2SClients(id string) []p2s.ClientStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []p2s.ClientStatus
	for _, key := range slices.Sorted(maps.Keys(e.gateways)) {
		if g := e.gateways[key]; g.cfg.ID == id && g.p2s != nil {
			out = append(out, g.p2s.Clients()...)
		}
	}
	return out
}
