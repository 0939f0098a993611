package dataplane

import (
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
)

// checkIdle, every quarter of PolicyIdleTimeout (5 s at most), removes
// the tunnels of policy-based gateways that carried no traffic for
// PolicyIdleTimeout (R8). The first packet in either direction brings
// such a tunnel back: an outbound one makes the ESP engine ask the IKE
// daemon for SAs (the packet itself is dropped, as IKE takes a round trip
// or two), an inbound one follows the peer's own negotiation.
func (e *Engine) checkIdle(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.gateways {
		if g.gw == nil || !g.cfg.PolicyBased {
			continue
		}
		// Only the connections the gateway has now are kept: one deleted
		// and made again starts its idle time afresh.
		seen := make(map[string]activity, len(g.activity))
		for _, st := range g.gw.Status() {
			a := g.activity[st.Name]
			if bytes := st.BytesIn + st.BytesOut; bytes != a.bytes || st.State != gateway.Connected || a.since.IsZero() {
				seen[st.Name] = activity{bytes: bytes, since: now}
				continue
			}
			if now.Sub(a.since) >= e.opts.PolicyIdleTimeout {
				e.log.Info("removing idle policy-based tunnel (R8)", "conn", st.Name, "idle", now.Sub(a.since).Round(time.Second))
				g.gw.Idle(st.Name)
				a.since = now
			}
			seen[st.Name] = a
		}
		g.activity = seen
	}
}

// activity is when a connection's byte counters last moved.
type activity struct {
	bytes uint64
	since time.Time
}
