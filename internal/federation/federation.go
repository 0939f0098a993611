// Package federation lets a region find gateways of other regions: each
// peer is another vnetgw serve, reached through its API with the endpoint,
// token and CA found in a copy of (or the path to) its data directory.
package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/region"
)

// Peers are the other regions.
type Peers struct {
	dirs []string

	mu      sync.Mutex          // guards clients and reading
	clients map[string]peerConn // by data directory
	reading map[string]*dirRead // the read of a data directory under way
}

// dirRead is a read of a peer's data directory: done is closed once c or
// err is set.
type dirRead struct {
	done chan struct{}
	c    *client.Client
	err  error
}

// peerConn is the client of one peer, kept so that lookups reuse its
// connections, with what it was made from.
type peerConn struct {
	endpoint, token string
	ca              []byte
	c               *client.Client
}

var _ region.Remotes = (*Peers)(nil)

// New returns the peers whose data directories are dirs. A directory is
// read at every lookup, so a peer may start after this region (and may
// move to another endpoint, token or CA).
func New(dirs []string) *Peers {
	return &Peers{dirs: dirs, clients: map[string]peerConn{}, reading: map[string]*dirRead{}}
}

// Gateway implements region.Remotes: it asks each peer for the gateway,
// then for its public address and its VNet's address space.
func (p *Peers) Gateway(ctx context.Context, id string) (*region.RemoteGateway, error) {
	gid, err := arm.ParseID(id)
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex // guards found
		found *region.RemoteGateway
	)
	err = p.each(ctx, func(ctx context.Context, c *client.Client) (bool, error) {
		rg, err := lookup(ctx, c, gid)
		if errors.Is(err, region.ErrNoRemote) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		mu.Lock()
		defer mu.Unlock()
		if found == nil {
			found = rg
		}
		return true, nil
	})
	switch {
	case found != nil:
		return found, nil
	case err != nil:
		return nil, err
	}
	return nil, fmt.Errorf("%s: %w", id, region.ErrNoRemote)
}

// ConnectionsTo implements region.Remotes: it asks every peer for its
// connections whose remote end is gateway id
// (.../virtualNetworkGateways/{n}/connectionsTo). Every peer must answer:
// one that cannot be asked is an error, so that a rule is never decided on
// half of what the regions know.
func (p *Peers) ConnectionsTo(ctx context.Context, id string) ([]region.ConnectionTo, error) {
	gid, err := arm.ParseID(id)
	if err != nil {
		return nil, err
	}
	var (
		mu  sync.Mutex // guards out
		out []region.ConnectionTo
	)
	err = p.each(ctx, func(ctx context.Context, c *client.Client) (bool, error) {
		cs, err := client.List[region.ConnectionTo](ctx, c, gid.String()+"/connectionsTo")
		if err == nil {
			mu.Lock()
			out = append(out, cs...)
			mu.Unlock()
		}
		return false, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// each calls ask with the client of every peer, all at once, until one
// reports done: then the others' asks are cancelled. It returns the errors
// of the peers that could not be asked or whose ask failed, each named by
// its directory, or nil once one is done. The peers are asked together so
// that one that does not answer (its host gone, a firewall dropping the
// connection) takes none of the others' time: asked in turn, it held the
// whole deadline and the peers after it were never asked.
func (p *Peers) each(ctx context.Context, ask func(context.Context, *client.Client) (done bool, err error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(p.dirs))
	var done atomic.Bool
	var wg sync.WaitGroup
	for i, dir := range p.dirs {
		wg.Go(func() {
			c, err := p.client(ctx, dir)
			if err == nil {
				var ok bool
				if ok, err = ask(ctx, c); ok {
					done.Store(true)
					cancel()
					return
				}
			}
			if err != nil {
				errs[i] = &region.PeerError{Peer: dir, Err: err}
			}
		})
	}
	wg.Wait()
	if done.Load() {
		return nil
	}
	return errors.Join(errs...)
}

// client returns the client of the peer in dir, as its directory says
// now (readDir), waiting for the read until ctx ends. A file system read
// takes no deadline: that of a directory that does not answer (a network
// file system whose server is gone) would hold the lookup for ever, and
// with it a write, a delete or the refresh of every remote gateway. Such a
// read is left to end by itself, and the lookups meanwhile wait for it
// rather than start one more each.
func (p *Peers) client(ctx context.Context, dir string) (*client.Client, error) {
	p.mu.Lock()
	rd := p.reading[dir]
	if rd == nil {
		rd = &dirRead{done: make(chan struct{})}
		p.reading[dir] = rd
		go func() {
			defer close(rd.done)
			rd.c, rd.err = p.readDir(dir)
			p.mu.Lock()
			delete(p.reading, dir)
			p.mu.Unlock()
		}()
	}
	p.mu.Unlock()
	select {
	case <-rd.done:
		return rd.c, rd.err
	case <-ctx.Done():
		return nil, fmt.Errorf("its data directory was not read in time (a network file system that does not answer?): %w", context.Cause(ctx))
	}
}

// readDir returns the client of the peer in dir: the one made before while
// the directory names the same endpoint, token and CA, else a new one (the
// old one's idle connections are closed). A client per lookup would leave
// a kept-alive connection behind at every refresh. One readDir of a
// directory runs at a time (client), and p.mu is not held while it reads.
func (p *Peers) readDir(dir string) (*client.Client, error) {
	cfg, err := client.DiscoverDir(dir) // not $VNETGW_*: they name this region's API
	if err != nil {
		return nil, err
	}
	var ca []byte
	if cfg.CAFile != "" {
		if ca, err = os.ReadFile(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
	}
	p.mu.Lock()
	old, ok := p.clients[dir]
	p.mu.Unlock()
	if ok && old.endpoint == cfg.Endpoint && old.token == cfg.Token && bytes.Equal(old.ca, ca) {
		return old.c, nil
	}
	c, err := client.New(cfg) // which reads the CA again
	if err != nil {
		return nil, err
	}
	if ok {
		old.c.CloseIdleConnections()
	}
	p.mu.Lock()
	p.clients[dir] = peerConn{endpoint: cfg.Endpoint, token: cfg.Token, ca: ca, c: c}
	p.mu.Unlock()
	return c, nil
}

func lookup(ctx context.Context, c *client.Client, gid arm.ID) (*region.RemoteGateway, error) {
	rg := &region.RemoteGateway{}
	if err := c.Get(ctx, gid, &rg.Gateway); err != nil {
		if client.IsNotFound(err) {
			return nil, region.ErrNoRemote
		}
		return nil, err
	}
	if len(rg.Gateway.Properties.IPConfigurations) == 0 {
		return rg, nil
	}
	for _, ipc := range rg.Gateway.Properties.IPConfigurations {
		pid, err := arm.ParseID(ipc.Properties.PublicIPAddress.RefID())
		if err != nil {
			break
		}
		var pip arm.PublicIPAddress
		if err := c.Get(ctx, pid, &pip); err != nil {
			return nil, fmt.Errorf("public IP of %s: %w", gid.Name(), err)
		}
		a, err := netip.ParseAddr(pip.Properties.IPAddress)
		if err != nil {
			break
		}
		rg.InstanceAddrs = append(rg.InstanceAddrs, a)
	}
	if len(rg.InstanceAddrs) > 0 {
		rg.PublicAddr = rg.InstanceAddrs[0]
	}
	ipc := rg.Gateway.Properties.IPConfigurations[0].Properties
	if sid, err := arm.ParseID(ipc.Subnet.RefID()); err == nil {
		var v arm.VirtualNetwork
		if err := c.Get(ctx, sid.Parent(), &v); err != nil {
			return nil, fmt.Errorf("virtual network of %s: %w", gid.Name(), err)
		}
		rg.VNetID = v.ID
		if v.Properties.AddressSpace != nil {
			rg.VNetPrefixes = v.Properties.AddressSpace.AddressPrefixes
		}
	}
	return rg, nil
}
