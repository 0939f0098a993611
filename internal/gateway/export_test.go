package gateway

// HoldClients holds the lock of the gateway's tunnels and point-to-site
// clients until release is called, as a long reconfiguration holds it.
func (g *Gateway) HoldClients() (release func()) {
	g.mu.Lock()
	return g.mu.Unlock
}
