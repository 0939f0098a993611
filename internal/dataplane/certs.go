package dataplane

import (
	"crypto/tls"
	"crypto/x509"
	"time"
)

// certCheck is how often the gateways' certificates are checked for
// renewal.
const certCheck = time.Minute

// renewCerts, every certCheck, issues a gateway's certificate again once
// two thirds of its life have passed, so that a gateway that runs for
// longer than its certificate's year goes on being trusted by the
// point-to-site clients that connect: the handshakes that begin then
// present the new one, and the connected clients stay. The wall clock
// decides (a node that slept renews at its first look after waking).
func (e *Engine) renewCerts(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.opts.GatewayCert == nil {
		return
	}
	for _, g := range e.gateways {
		if len(g.cert.Certificate) == 0 || now.Before(renewAt(g.cert)) {
			continue
		}
		cert, err := e.opts.GatewayCert(g.cfg.PublicAddr)
		if err != nil {
			// The old one serves; the next look tries again.
			e.log.Error("issue the gateway's certificate again", "gateway", g.cfg.key(), "err", err)
			continue
		}
		g.cert = cert
		if g.p2s != nil {
			g.p2s.SetCert(cert)
		}
		if g.ikev2Clients {
			e.configureIKEv2Clients(g)
		}
		e.log.Info("the gateway's certificate was issued again", "gateway", g.cfg.key(), "renew_at", renewAt(cert).Format(time.RFC3339))
	}
}

// renewAt is when two thirds of c's life have passed; the zero time
// (renew now) when it does not parse.
func renewAt(c tls.Certificate) time.Time {
	leaf := leafOf(c)
	if leaf == nil {
		return time.Time{}
	}
	return leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) * 2 / 3)
}

// leafOf returns c's leaf certificate, or nil when it has none that
// parses.
func leafOf(c tls.Certificate) *x509.Certificate {
	if c.Leaf != nil {
		return c.Leaf
	}
	if len(c.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}
