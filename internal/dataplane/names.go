package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vnetgw/vnetgw/internal/rules"
)

// DefaultResolveInterval is how often the names of on-premises devices
// (local network gateways given by fqdn) are looked up again, so that a
// device whose dynamic address changed is followed.
const DefaultResolveInterval = time.Minute

// resolveTimeout bounds one lookup.
const resolveTimeout = 5 * time.Second

// maxLookups is how many names are looked up at once.
const maxLookups = 16

// nameKey is a name looked up for one address family: that of the
// gateways whose connections use it.
type nameKey struct {
	fqdn string
	v6   bool
}

// resolved is what the last lookup of a name gave: addr is the address in
// use (kept from an earlier lookup when the last one failed), err why the
// last lookup failed.
type resolved struct {
	addr netip.Addr
	err  error
}

// wantedNames returns the names the connections of the configured
// gateways are given by. e.mu is held.
func (e *Engine) wantedNames() map[nameKey]bool {
	want := map[nameKey]bool{}
	for _, g := range e.cfg.Gateways {
		for _, c := range g.Connections {
			if !c.Remote.IsValid() && c.RemoteFQDN != "" {
				want[nameKey{c.RemoteFQDN, g.PublicAddr.Is6()}] = true
			}
		}
	}
	return want
}

// resolvedAddr returns the address name stands for, for a gateway of the
// given family. e.mu is held.
func (e *Engine) resolvedAddr(fqdn string, v6 bool) (netip.Addr, error) {
	r, ok := e.names[nameKey{fqdn, v6}]
	switch {
	case !ok:
		return netip.Addr{}, fmt.Errorf("the peer's fqdn %s is not resolved yet", fqdn)
	case !r.addr.IsValid():
		return netip.Addr{}, fmt.Errorf("the peer's fqdn %s does not resolve: %v", fqdn, r.err)
	}
	return r.addr, nil
}

// kickNames makes watchNames look the names up now.
func (e *Engine) kickNames() {
	select {
	case e.namesKick <- struct{}{}:
	default:
	}
}

// watchNames looks up the names of on-premises devices when a new one is
// configured and every ResolveInterval, and hands the gateways whose peers
// moved their connections again.
func (e *Engine) watchNames() {
	t := time.NewTicker(e.opts.ResolveInterval)
	defer t.Stop()
	// A lookup in flight ends with the engine.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-e.stop
		cancel()
	}()
	for {
		select {
		case <-e.stop:
			return
		case <-e.namesKick:
		case <-t.C:
		}
		e.resolveNames(ctx)
	}
}

// resolveNames looks up the names of on-premises devices once and hands
// the gateways whose peers moved their connections again.
func (e *Engine) resolveNames(ctx context.Context) {
	e.mu.Lock()
	want := e.wantedNames()
	inUse := map[nameKey]netip.Addr{}
	for k := range want {
		inUse[k] = e.names[k].addr
	}
	e.mu.Unlock()
	// Look up without the lock: a slow name server must not hold up
	// the data plane; and several at once, up to maxLookups: names of
	// a zone whose name servers do not answer each took resolveTimeout
	// in turn, and the others waited for all of them.
	var (
		mu   sync.Mutex
		got  = map[nameKey]resolved{}
		wg   sync.WaitGroup
		free = make(chan struct{}, maxLookups)
	)
	for k := range want {
		free <- struct{}{}
		wg.Go(func() {
			defer func() { <-free }()
			r := e.lookup(ctx, k, inUse[k])
			mu.Lock()
			got[k] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	moved := map[string]bool{}
	for k, r := range got {
		old, ok := e.names[k]
		if !r.addr.IsValid() && ok {
			r.addr = old.addr // a failed lookup keeps the tunnel where it is
			got[k] = r
		}
		if !ok || r.addr != old.addr || (r.err == nil) != (old.err == nil) {
			moved[k.fqdn] = true
			if r.err != nil {
				e.log.Warn("peer name lookup failed", "fqdn", k.fqdn, "err", r.err, "using", r.addr)
			} else {
				e.log.Info("peer name resolved", "fqdn", k.fqdn, "addr", r.addr)
			}
		}
	}
	e.names = got
	for _, g := range e.gateways {
		// A gateway that does not run is handed its connections, with
		// the names as they are then, when it starts (configureGateway).
		if g.gw != nil && slices.ContainsFunc(g.cfg.Connections, func(c Connection) bool { return moved[c.RemoteFQDN] }) {
			e.installConnections(g)
		}
	}
}

// lookup resolves one name to an address of the family: inUse, the
// address the tunnel uses now, while the name still stands for it (a name
// of several addresses, which a name server may give in another order at
// each lookup, does not move the tunnel from one to another), else its
// first.
func (e *Engine) lookup(ctx context.Context, k nameKey, inUse netip.Addr) resolved {
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	network := "ip4"
	if k.v6 {
		network = "ip6"
	}
	addrs, err := e.opts.Resolver.LookupNetIP(ctx, network, k.fqdn)
	if err != nil {
		return resolved{err: err}
	}
	if len(addrs) == 0 {
		return resolved{err: &net.DNSError{Err: "no " + network + " address", Name: k.fqdn, IsNotFound: true}}
	}
	addrs = slices.DeleteFunc(addrs, func(a netip.Addr) bool { return !rules.DeviceAddr(a) })
	if len(addrs) == 0 {
		return resolved{err: &net.DNSError{Err: "no unicast " + network + " address (only unspecified, multicast or broadcast ones)", Name: k.fqdn, IsNotFound: true}}
	}
	for _, a := range addrs {
		if a.Unmap() == inUse {
			return resolved{addr: inUse}
		}
	}
	return resolved{addr: addrs[0].Unmap()}
}
