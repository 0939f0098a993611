package region

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/rules"
	"github.com/vnetgw/vnetgw/internal/sparselog"
)

// A VNet-to-VNet connection may name a gateway of another region, which
// lives in another vnetgw process with its own state (R1, R31). The region
// resolves such gateways through Remotes (internal/federation asks the peer
// regions' APIs) and keeps what it learned in a cache, refreshed while the
// connections need it, so that the rules (R28, R35) and the data plane see
// the remote gateway's type, public address and address space.

// RemoteGateway is a gateway of another region as that region shows it.
type RemoteGateway struct {
	Gateway    arm.VirtualNetworkGateway
	PublicAddr netip.Addr
	// InstanceAddrs are the public addresses of all its instances (two
	// when active-active), the first being PublicAddr.
	InstanceAddrs []netip.Addr
	VNetID        string
	VNetPrefixes  []string
}

// check refuses what a peer region answered for gateway id when it is
// not a gateway's answer this region may route by: another gateway than
// the one asked for, a VNet address space that does not parse, overlaps
// itself or holds a /0 (it would take every address of the VNets it
// meets), or a BGP peering address outside that space (it becomes a
// host route into the tunnel). A peer region is another process,
// another operator's perhaps: what it says is checked as a PUT's body is.
func (rg *RemoteGateway) check(id string) error {
	if !arm.Equal(rg.Gateway.ID, id) {
		return fmt.Errorf("the peer region answered for %s with gateway %q", id, rg.Gateway.ID)
	}
	ps, err := rules.ParsePrefixes("the address space of its virtual network", rg.VNetPrefixes)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.Bits() == 0 {
			return fmt.Errorf("the address space of its virtual network holds %s", p)
		}
	}
	if b := rg.Gateway.Properties.BGPSettings; rg.Gateway.Properties.EnableBGP && b != nil {
		if err := rules.R41ASN(b.ASN, true); err != nil {
			return err
		}
	}
	var r Remote
	r.bgpOfGateway(&rg.Gateway)
	for _, a := range r.BGPAddrs {
		if !slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) }) {
			return fmt.Errorf("its BGP peering address %s is outside its virtual network's address space", a)
		}
	}
	return nil
}

// ErrNoRemote says no peer region has the gateway.
var ErrNoRemote = errors.New("no peer region has this gateway")

// whyNoRemote is the status reason of a connection whose remote gateway
// no peer region has.
const whyNoRemote = "no peer region has the remote gateway: it was deleted there, or its region is no longer a --peer"

// PeerError is the failure of one peer region to answer, named by the
// peer (its --peer directory), so that the region says once a minute per
// peer that it does not answer.
type PeerError struct {
	Peer string
	Err  error
}

func (e *PeerError) Error() string { return "peer " + e.Peer + ": " + e.Err.Error() }

func (e *PeerError) Unwrap() error { return e.Err }

// peerErrors returns the PeerErrors in err (one, or several joined); an
// error of none is one of an unnamed peer.
func peerErrors(err error) []*PeerError {
	var out []*PeerError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *PeerError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, e := range e.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	if len(out) == 0 {
		out = append(out, &PeerError{Err: err})
	}
	return out
}

// Remotes finds gateways in other regions, and the connections of other
// regions that end at a gateway of this one.
type Remotes interface {
	// Gateway returns the gateway id from the peer region that has it, or
	// an error wrapping ErrNoRemote when none has it.
	Gateway(ctx context.Context, id string) (*RemoteGateway, error)
	// ConnectionsTo returns the connections of every peer region whose
	// remote end is gateway id, as each peer's Region.ConnectionsTo
	// answers; an error when a peer could not be asked.
	ConnectionsTo(ctx context.Context, id string) ([]ConnectionTo, error)
}

// ConnectionTo is a connection whose remote end (virtualNetworkGateway2)
// is a given gateway, with the address spaces that meet at the
// connection's own gateway (R35). Only the region that holds a connection
// knows it: the region of the gateway it ends at asks its peers for these
// before it deletes the gateway (a gateway in use is not deleted) or
// changes the address space of the gateway's VNet (R35 across regions).
type ConnectionTo struct {
	Connection    string         `json:"connection"` // its id
	Gateway       string         `json:"gateway"`    // its virtualNetworkGateway1
	AddressSpaces []AddressSpace `json:"addressSpaces"`
}

// AddressSpace is one address space joined at a gateway: a VNet, a site
// or a client address pool.
type AddressSpace struct {
	Owner           string   `json:"owner"` // resource id
	AddressPrefixes []string `json:"addressPrefixes"`
}

// ConnectionsTo returns the connections of this region whose remote end is
// gateway id (of this region or another), each with the address spaces
// joined at its own gateway. Peer regions ask this through the API
// (.../virtualNetworkGateways/{n}/connectionsTo).
func (r *Region) ConnectionsTo(id string) []ConnectionTo {
	out := []ConnectionTo{}
	r.view(func(tx *txn) error {
		for _, c := range linked[arm.Connection](tx, arm.TypeConnection, link{gateway2, refKey(id)}) {
			g1 := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, c.Properties.VirtualNetworkGateway1.RefID())
			if g1 == nil {
				continue
			}
			ct := ConnectionTo{Connection: c.ID, Gateway: g1.ID, AddressSpaces: []AddressSpace{}}
			for _, s := range gatewayDomain(tx, g1) {
				as := AddressSpace{Owner: s.Owner}
				for _, p := range s.Prefixes {
					as.AddressPrefixes = append(as.AddressPrefixes, p.String())
				}
				ct.AddressSpaces = append(ct.AddressSpaces, as)
			}
			out = append(out, ct)
		}
		return nil
	})
	return out
}

// inboundConnections asks the peer regions for their connections that end
// at the given local gateways. It is called before a write, outside the
// region's locks; the write decides with what it returns (tx.inbound).
// The gateways are asked remoteAsks at once, so that a write that touches
// many (a resource group's delete) waits for a slow peer once, not once
// per gateway; the first failure refuses the write and ends the others.
func (r *Region) inboundConnections(ctx context.Context, gateways []string) (map[string][]ConnectionTo, error) {
	if r.remotes == nil || len(gateways) == 0 {
		return nil, nil
	}
	// A peer that does not answer must not hold the write for the
	// client's whole timeout.
	ctx, cancel := context.WithTimeout(ctx, 2*RemoteRefresh)
	defer cancel()
	var (
		mu    sync.Mutex // guards out and first
		out   = map[string][]ConnectionTo{}
		first error
	)
	asking := make(chan struct{}, remoteAsks)
	var wg sync.WaitGroup
	for _, id := range gateways {
		asking <- struct{}{}
		wg.Go(func() {
			defer func() { <-asking }()
			cs, err := r.remotes.ConnectionsTo(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out[strings.ToLower(id)] = cs
			case first == nil:
				first = err
				cancel()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// localVPNGateways returns the ids of the VPN gateways that pick selects.
func (r *Region) localVPNGateways(pick func(tx *txn) []*arm.VirtualNetworkGateway) []string {
	var ids []string
	r.view(func(tx *txn) error {
		for _, g := range pick(tx) {
			if g.Properties.GatewayType == arm.GatewayTypeVpn {
				ids = append(ids, g.ID)
			}
		}
		return nil
	})
	return ids
}

// r35Inbound checks R35 at the gateways of other regions whose connections
// end at g: each joins g's VNet, as it is staged now, to the address spaces
// of its own gateway, which include g's VNet as that region last saw it.
func r35Inbound(tx *txn, g *arm.VirtualNetworkGateway) error {
	v := vnetOfGateway(tx, g)
	if v == nil || v.Properties.AddressSpace == nil {
		return nil
	}
	own, err := rules.ParsePrefixes("", v.Properties.AddressSpace.AddressPrefixes)
	if err != nil {
		return nil // refused elsewhere
	}
	for _, c := range tx.inbound[strings.ToLower(g.ID)] {
		spaces := []rules.AddressSpace{{Owner: v.ID, Prefixes: own}}
		for _, s := range c.AddressSpaces {
			if arm.Equal(s.Owner, v.ID) {
				continue // replaced by the VNet as it is now
			}
			if ps, err := rules.ParsePrefixes("", s.AddressPrefixes); err == nil {
				spaces = append(spaces, rules.AddressSpace{Owner: s.Owner, Prefixes: ps})
			}
		}
		if err := rules.R35NoOverlap(c.Gateway+" (another region's, connected to "+g.Name+" by "+c.Connection+")", spaces); err != nil {
			return err
		}
	}
	return nil
}

// RemoteRefresh is how often remote gateways in use are looked up again.
const RemoteRefresh = 5 * time.Second

// A remote gateway the peer regions could not be asked for (one that has
// it does not answer) is asked again after 10 s, 20 s, 40 s, then every
// remoteBackoffMax, not every RemoteRefresh; a write that finds it, or a
// refresh that does, ends the wait. A refresh asks remoteAsks at once, as
// a write asks for the connections that end at its gateways.
const (
	remoteBackoffMax = time.Minute
	remoteAsks       = 8
)

// remoteRetry is when a remote gateway that could not be asked for is
// asked again, after fails failures in a row.
type remoteRetry struct {
	fails int
	at    time.Time
}

// remoteView returns a copy of the cache for a transaction.
func (r *Region) remoteView() map[string]*RemoteGateway {
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	return maps.Clone(r.remoteCache)
}

// isRemote tells whether gateway id is one the peer regions are asked
// for: peers are set, and it is not a local gateway.
func (r *Region) isRemote(id string) bool {
	if r.remotes == nil || id == "" {
		return false
	}
	local := false
	r.view(func(tx *txn) error {
		local = getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id) != nil
		return nil
	})
	return !local
}

// resolveRemote makes sure the cache holds gateway id when it is not a
// local gateway, asking the peers. It is called before a write, outside
// the region's locks.
func (r *Region) resolveRemote(ctx context.Context, id string) error {
	if !r.isRemote(id) {
		return nil
	}
	// A peer that does not answer must not hold the write for the
	// client's whole timeout, nor for ever when it sets none.
	ctx, cancel := context.WithTimeout(ctx, 2*RemoteRefresh)
	defer cancel()
	rg, err := r.remotes.Gateway(ctx, id)
	switch {
	case errors.Is(err, ErrNoRemote):
		// The write reports the missing reference, not found in the
		// cache either: gone since it was cached. The connections made
		// to it say so, and their tunnels go now, as at the refresh.
		r.setRemoteWhy(id, whyNoRemote)
		r.setRemoteMisfit(id, "")
		if r.setRemote(id, nil) {
			r.mu.Lock()
			r.bumpDesired()
			r.mu.Unlock()
		}
		return nil
	case err != nil:
		return &arm.Error{Code: arm.CodeInvalidReference, Target: "properties.virtualNetworkGateway2",
			Message: fmt.Sprintf("properties.virtualNetworkGateway2: the peer regions could not be asked for %s: %v", id, err)}
	}
	if err := rg.check(id); err != nil {
		return &arm.Error{Code: arm.CodeInvalidReference, Target: "properties.virtualNetworkGateway2",
			Message: fmt.Sprintf("properties.virtualNetworkGateway2: %s: %v", id, err)}
	}
	r.remoteMu.Lock()
	delete(r.remoteRetry, strings.ToLower(id)) // its peer answers again
	r.remoteMu.Unlock()
	misfit, err := r.takeRemote(ctx, id, rg)
	if err != nil {
		return err
	}
	if misfit != nil {
		// Refused as the refresh refuses it: the connections made to it
		// here go on with what they were made with.
		code := arm.CodeInvalidReference
		var ae *arm.Error
		if errors.As(misfit, &ae) {
			code = ae.Code
		}
		return arm.Errorf(code, "remote gateway %s, as its region has it now, does not fit the connections made to it here: %v", id, misfit)
	}
	return nil
}

// takeRemote takes rg, a peer region's answer for gateway id, into the
// cache if it differs from what is known, unless remoteFits refuses it
// (misfit says why); taken, it wakes the reconcile loop. It holds writeMu
// meanwhile and decides on the model synced with the store, so that no
// write of this node decides on the cache as it was and commits after
// the check: R35 would hold with the one and with the other, but not with
// both. (A write on another node decides on that node's cache.) err says
// that the store did not answer.
func (r *Region) takeRemote(ctx context.Context, id string, rg *RemoteGateway) (misfit, err error) {
	if r.knownAs(id, rg) {
		return nil, nil
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.Sync(ctx); err != nil {
		return nil, err
	}
	if misfit := r.remoteFits(id, rg); misfit != nil {
		return misfit, nil
	}
	if r.setRemote(id, rg) {
		r.mu.Lock()
		r.bumpDesired()
		r.mu.Unlock()
	}
	return nil, nil
}

// remoteFits tells whether rg, a peer region's new answer for gateway
// id, may replace what is known: it passes check, and R35 holds with it
// at every gateway of this region connected to it (its VNet's address
// space may have changed since the connection was made), as R18 does for
// each connection to it, and R41 for each with enableBgp (remoteBGPFits).
func (r *Region) remoteFits(id string, rg *RemoteGateway) error {
	if err := rg.check(id); err != nil {
		return err
	}
	return r.view(func(tx *txn) error {
		tx.remotes[strings.ToLower(id)] = rg // the view's copy
		for _, c := range linked[arm.Connection](tx, arm.TypeConnection, link{gateway2, refKey(id)}) {
			if g := getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, c.Properties.VirtualNetworkGateway1.RefID()); g != nil {
				if err := rules.R35NoOverlap(g.Name, gatewayDomain(tx, g)); err != nil {
					return err
				}
				if err := rules.R18PrefixPairs(prefixPairs(tx, c, g)); err != nil {
					err.Message = "connection " + c.Name + ": " + err.Message
					return err
				}
				if err := remoteBGPFits(c, g, &rg.Gateway); err != nil {
					err.Message = "connection " + c.Name + ": " + err.Message
					return err
				}
			}
		}
		return nil
	})
}

// remoteBGPFits checks R41 for connection c of gateway g1 to g2, a
// gateway of another region, as stageConnection does for one of this
// region: with enableBgp, BGP is on at g2 too, and the two ASNs differ
// (the gateway peers over external BGP only).
func remoteBGPFits(c *arm.Connection, g1, g2 *arm.VirtualNetworkGateway) *arm.Error {
	if !c.Properties.EnableBGP {
		return nil
	}
	if !g2.Properties.EnableBGP {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableBgp", Message: "enableBgp needs BGP enabled on gateway " + g2.Name + " (R41)"}
	}
	if b, b2 := g1.Properties.BGPSettings, g2.Properties.BGPSettings; b != nil && b2 != nil && b.ASN == b2.ASN {
		return &arm.Error{Code: arm.CodeInvalidParameter, Target: "properties.enableBgp",
			Message: fmt.Sprintf("both ends of a BGP connection have ASN %d; the gateway peers over external BGP, so they must differ (R41)", b.ASN)}
	}
	return nil
}

// setRemote makes rg (nil: none) what is known of gateway id, and tells
// whether that changed it.
func (r *Region) setRemote(id string, rg *RemoteGateway) bool {
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	key := strings.ToLower(id)
	old := r.remoteCache[key]
	if sameRemote(old, rg) {
		return false
	}
	if rg == nil {
		delete(r.remoteCache, key)
	} else {
		r.remoteCache[key] = rg
	}
	r.remoteGen++
	return true
}

// knownAs tells whether rg is what is known of gateway id.
func (r *Region) knownAs(id string, rg *RemoteGateway) bool {
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	return sameRemote(r.remoteCache[strings.ToLower(id)], rg)
}

// sameRemote tells whether a and b (nil: none) are the same answer for a
// remote gateway, as far as this region uses it.
func sameRemote(a, b *RemoteGateway) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.PublicAddr == b.PublicAddr && a.Gateway.Etag == b.Gateway.Etag && slices.Equal(a.VNetPrefixes, b.VNetPrefixes)
}

// setRemoteWhy keeps why gateway id could not be looked up ("": it was).
func (r *Region) setRemoteWhy(id, why string) { r.keepReason(r.remoteWhy, id, why) }

// setRemoteMisfit keeps why the last answer for gateway id was not
// taken ("": it was, or there was none).
func (r *Region) setRemoteMisfit(id, why string) { r.keepReason(r.remoteMisfit, id, why) }

// keepReason sets why in reasons (remoteWhy or remoteMisfit) for gateway
// id, or forgets it when why is "".
func (r *Region) keepReason(reasons map[string]string, id, why string) {
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	if why == "" {
		delete(reasons, strings.ToLower(id))
		return
	}
	reasons[strings.ToLower(id)] = why
}

// refreshRemotes looks up every remote gateway that a connection names,
// at once and again every RemoteRefresh, until ctx ends; a change (a new
// public address, R20) wakes the reconcile loop. The gateways are asked remoteAsks at once, so that
// those no answering peer has (each waits RemoteRefresh for the silent
// one) take one wait, not one each; one that could not be asked waits
// longer and longer (remoteRetry), up to remoteBackoffMax, before it is
// asked again. That a peer does not answer is logged once a minute per
// peer, with the failures counted since; that a gateway's new answer is
// not taken, once a minute per gateway while it lasts, with the answers
// refused since.
func (r *Region) refreshRemotes(ctx context.Context) {
	t := time.NewTicker(RemoteRefresh)
	defer t.Stop()
	unanswered := map[string]*sparselog.Log{} // by peer
	misfits := map[string]*sparselog.Log{}    // by lower-cased gateway id
	for first := true; ; first = false {
		// The first round at once: a region that starts with connections
		// to them (serve restarted) has their tunnels back with the others.
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		ids := r.remoteInUse()
		maps.DeleteFunc(misfits, func(k string, _ *sparselog.Log) bool {
			return !slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, k) })
		})
		now := time.Now()
		r.remoteMu.Lock()
		ask := slices.DeleteFunc(ids, func(id string) bool { return now.Before(r.remoteRetry[strings.ToLower(id)].at) })
		r.remoteMu.Unlock()
		answers := r.askRemotes(ctx, ask)
		if ctx.Err() != nil {
			return
		}
		changed := false
		for i, id := range ask {
			rg, err := answers[i].rg, answers[i].err
			key := strings.ToLower(id)
			r.remoteMu.Lock()
			if err != nil && !errors.Is(err, ErrNoRemote) {
				f := r.remoteRetry[key].fails + 1
				r.remoteRetry[key] = remoteRetry{fails: f, at: time.Now().Add(min(RemoteRefresh<<min(f, 4), remoteBackoffMax))}
			} else {
				delete(r.remoteRetry, key)
			}
			r.remoteMu.Unlock()
			switch {
			case errors.Is(err, ErrNoRemote):
				delete(misfits, key)
				r.setRemoteWhy(id, whyNoRemote)
				r.setRemoteMisfit(id, "")
				changed = r.setRemote(id, nil) || changed
			case err != nil:
				r.setRemoteWhy(id, "the peer regions could not be asked for the remote gateway: "+err.Error())
				for _, pe := range peerErrors(err) {
					l := unanswered[pe.Peer]
					if l == nil {
						l = &sparselog.Log{}
						unanswered[pe.Peer] = l
					}
					l.Count(1)
					if n, log := l.Due(); log {
						r.log.Warn("peer region unreachable; keeping what is known of its gateways", "peer", pe.Peer, "failures", n, "gateway", id, "err", pe.Err)
					}
				}
			default:
				misfit, err := r.takeRemote(ctx, id, rg) // which wakes the reconcile loop
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					// The store did not answer: kept, and asked again at
					// the next refresh; the store's trouble is told where
					// it is met.
					continue
				}
				if misfit != nil {
					// Shown while nothing is known of it (RemoteReason):
					// not why it was not known before.
					why := "the remote gateway, as its region has it now, does not fit the connections made to it here: " + misfit.Error()
					r.setRemoteWhy(id, why)
					// Shown while what was known is kept, too: a
					// connection with BGP to it is Connected, its
					// session down (R41).
					r.setRemoteMisfit(id, why+"; what was known of it is kept")
					l := misfits[key]
					if l == nil {
						l = &sparselog.Log{}
						misfits[key] = l
					}
					l.Count(1)
					if n, log := l.Due(); log {
						r.log.Warn("peer region's gateway changed to what its connections here cannot take; keeping what is known", "gateway", id, "refused", n, "err", misfit)
					}
					continue
				}
				delete(misfits, key) // a new misfit is logged at once
				r.setRemoteWhy(id, "")
				r.setRemoteMisfit(id, "")
			}
		}
		if changed {
			r.mu.Lock()
			r.bumpDesired()
			r.mu.Unlock()
		}
	}
}

// remoteInUse returns the remote gateways that connections name, once
// each, and forgets what is kept of the others (why they are not known,
// when they are asked again), and what is known of them once they were
// named by none at its last call too: a connection being written names
// the gateway its write looked up (resolveRemote) once committed, which
// a call that looked before may not see.
func (r *Region) remoteInUse() []string {
	var ids []string
	inUse := map[string]bool{} // by lower-cased id
	r.view(func(tx *txn) error {
		for _, c := range list[arm.Connection](tx, arm.TypeConnection) {
			g2 := c.Properties.VirtualNetworkGateway2.RefID()
			if g2 != "" && !inUse[strings.ToLower(g2)] && getByRef[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, g2) == nil {
				inUse[strings.ToLower(g2)] = true
				ids = append(ids, g2)
			}
		}
		return nil
	})
	r.remoteMu.Lock()
	defer r.remoteMu.Unlock()
	maps.DeleteFunc(r.remoteWhy, func(k, _ string) bool { return !inUse[k] })
	maps.DeleteFunc(r.remoteMisfit, func(k, _ string) bool { return !inUse[k] })
	maps.DeleteFunc(r.remoteRetry, func(k string, _ remoteRetry) bool { return !inUse[k] })
	unused := map[string]bool{}
	for k := range r.remoteCache {
		switch {
		case inUse[k]:
		case r.remoteUnused[k]:
			delete(r.remoteCache, k)
			r.remoteGen++
		default:
			unused[k] = true
		}
	}
	r.remoteUnused = unused
	return ids
}

// remoteAnswer is a peer regions' answer for a remote gateway.
type remoteAnswer struct {
	rg  *RemoteGateway
	err error
}

// askRemotes asks the peer regions for each of ids, remoteAsks at once,
// each for RemoteRefresh at most.
func (r *Region) askRemotes(ctx context.Context, ids []string) []remoteAnswer {
	out := make([]remoteAnswer, len(ids))
	asking := make(chan struct{}, remoteAsks)
	var wg sync.WaitGroup
	for i, id := range ids {
		asking <- struct{}{}
		wg.Go(func() {
			defer func() { <-asking }()
			ctx, cancel := context.WithTimeout(ctx, RemoteRefresh)
			defer cancel()
			out[i].rg, out[i].err = r.remotes.Gateway(ctx, id)
		})
	}
	wg.Wait()
	return out
}
