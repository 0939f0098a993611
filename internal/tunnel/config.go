package tunnel

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ErrNoChanges is what Reconfig returns when the configuration is the one
// in force.
var ErrNoChanges = errors.New("tunnel: no changes")

// Config is the set of tunnels an engine carries.
type Config struct {
	Tunnels []Tunnel
	// Drop are prefixes whose packets no tunnel takes but by a route of
	// its own at least as long: a point-to-site pool, whose addresses are
	// their clients' tunnels' alone, not the wider route of another
	// tunnel (a default site's 0.0.0.0/0). They are dropped as having no
	// route.
	Drop []netip.Prefix
}

// Tunnel is one connection of a gateway.
type Tunnel struct {
	// Name identifies the tunnel; ipsec.Child.Tunnel refers to it.
	Name string
	// Routes are the destination prefixes sent into the tunnel; across all
	// tunnels the longest prefix wins. A prefix belongs to one tunnel, and
	// may also be a route of Standby tunnels.
	Routes []netip.Prefix
	// Standby tunnels carry their routes only while the tunnel a route
	// belongs to has no child SA (the tunnels of an active-active gateway
	// instance to the other instances of an active-active peer); of
	// several, the first by name that has one.
	Standby bool
	// PolicyBased chooses the outbound SA by the children's traffic
	// selectors, source and destination, instead of taking the newest
	// child (route-based, selectors any-to-any). A packet that no child
	// covers makes the engine call Events.Acquire.
	PolicyBased bool
	// NAT translates the far side's addresses: what comes out of the
	// tunnel has its source moved from Internal to External, what goes
	// in its destination from External to Internal. Routes hold the
	// External spaces.
	NAT []NAT
}

func (t Tunnel) equal(u Tunnel) bool {
	return t.Name == u.Name && t.PolicyBased == u.PolicyBased && t.Standby == u.Standby && slices.Equal(t.Routes, u.Routes) && slices.Equal(t.NAT, u.NAT)
}

// validate checks names and prefixes and returns the tunnels by name.
func (c Config) validate() (map[string]Tunnel, error) {
	byName := make(map[string]Tunnel, len(c.Tunnels))
	owner := make(map[netip.Prefix]string)
	for _, t := range c.Tunnels {
		if t.Name == "" {
			return nil, errors.New("tunnel: config: tunnel without a name")
		}
		if _, dup := byName[t.Name]; dup {
			return nil, fmt.Errorf("tunnel: config: tunnel %q twice", t.Name)
		}
		byName[t.Name] = t
		for _, p := range t.Routes {
			if !p.IsValid() {
				return nil, fmt.Errorf("tunnel: config: tunnel %q: invalid route", t.Name)
			}
			p = p.Masked()
			if t.Standby {
				continue
			}
			if o, dup := owner[p]; dup {
				return nil, fmt.Errorf("tunnel: config: route %v in tunnels %q and %q", p, o, t.Name)
			}
			owner[p] = t.Name
		}
	}
	return byName, nil
}

func (c Config) equal(d Config) bool {
	return slices.EqualFunc(c.Tunnels, d.Tunnels, Tunnel.equal) && slices.Equal(c.Drop, d.Drop)
}
