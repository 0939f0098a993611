package tunnel

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vnetgw/vnetgw/internal/esp"
)

// Status is a snapshot of an engine's counters. Each counter is read
// atomically, not all at one instant.
type Status struct {
	// Tunnels are sorted by name.
	Tunnels []TunnelStatus
	Drops   Drops
}

// Drops counts what the engine dropped before it knew the tunnel, and
// batches that failed.
type Drops struct {
	// NotIP counts outbound packets that are not IPv4 or IPv6.
	NotIP uint64
	// NoRoute counts outbound packets that no tunnel routes.
	NoRoute uint64
	// Short counts inbound ESP packets shorter than the ESP header.
	Short uint64
	// UnknownSPI counts inbound ESP packets for no SA of the engine.
	UnknownSPI uint64
	// SendErrors, InnerReadErrors and InnerWriteErrors count failed
	// batches (not packets) on the outer and inner sides.
	SendErrors, InnerReadErrors, InnerWriteErrors uint64
}

// TunnelStatus is one tunnel's counters. Bytes count inner packets.
type TunnelStatus struct {
	Name        string
	PolicyBased bool
	// PacketsIn and BytesIn count what came in and went to the inner
	// side; PacketsOut and BytesOut what was sealed and sent. What
	// failed on the way counts in Drops (InnerWrite, Send) instead.
	PacketsIn, BytesIn, PacketsOut, BytesOut uint64
	// LastInbound is when the last inbound packet went to the inner
	// side, as PacketsIn counts it; zero if none.
	LastInbound time.Time
	Drops       TunnelDrops
	// NATFlows counts the flows its dynamic NAT maps hold.
	NATFlows int
	// Children are oldest first: the last is the one a route-based
	// tunnel sends with.
	Children []ChildStatus
}

// TunnelDrops counts a tunnel's dropped packets by reason.
type TunnelDrops struct {
	// NoSA counts outbound packets without a child; NoSelector those of a
	// policy-based tunnel with children, none of whose selectors hold
	// them (Azure's egress TS mismatch; a child for them is asked for).
	NoSA, NoSelector uint64
	// Seal counts outbound packets the SA refused; its esp.Stats say why.
	Seal uint64
	// Open counts inbound packets the SA refused, the sum of Replay,
	// Integrity (the ICV did not verify: wrong keys), Padding, Length and
	// Expired (past the SA's hard lifetime), which say why. They are the
	// tunnel's, kept across rekeys, where a child's esp.Stats go with it.
	Open                                        uint64
	Replay, Integrity, Padding, Length, Expired uint64
	// TooBig counts outbound packets longer than the tunnel's MTU, IPv6
	// or IPv4 with Don't Fragment, dropped and answered with ICMP
	// Fragmentation Needed or Packet Too Big (RFC 4301 §8.2.1).
	TooBig uint64
	// Send counts outbound packets sealed but not sent: the outer side
	// has no endpoint for them, or the kernel refused them (a firewall's
	// EPERM, no route). The outbound SA counted them as sealed.
	Send uint64
	// InnerWrite counts inbound packets that opened but that the inner
	// side did not take: a batch whose Write failed counts whole, as
	// the inner side does not say which of its packets went through.
	InnerWrite uint64
	// Dummy counts dummy packets (RFC 4303 §2.6).
	Dummy uint64
	// Malformed counts inbound packets that opened but hold no IP packet
	// of the version the Next Header says.
	Malformed uint64
	// Selector counts inbound packets outside their SA's traffic
	// selectors (RFC 4301 §5.2).
	Selector uint64
	// ECN counts inbound packets that a router on the way marked
	// Congestion Experienced although the packet inside is not
	// ECN-capable (RFC 6040 §4.2: dropped, as the router would have
	// dropped it had it seen the inner header).
	ECN uint64
	// NATNoFlow counts packets for the External side of a dynamic NAT
	// map that no flow of its Internal side expects (dynamic NAT lets
	// only that side start); NATFull new flows that found no free
	// address and port.
	NATNoFlow, NATFull uint64
}

// ChildStatus is one child SA pair's counters.
type ChildStatus struct {
	InSPI, OutSPI uint32
	Local, Remote netip.AddrPort
	// LastInbound is when the last inbound packet opened (it
	// authenticated and is no replay), whether or not its padding was
	// right, it was within the selectors, a dummy or taken by the inner
	// side: the peer is alive and seals with the child (a standby child is
	// ready); zero if none.
	LastInbound time.Time
	// SelectorDrops counts packets that opened but were outside the
	// selectors.
	SelectorDrops uint64
	In, Out       esp.Stats
}

// Drops returns what the engine dropped before it knew the tunnel.
func (e *Engine) Drops() Drops {
	return Drops{
		NotIP:            e.drops.notIP.Load(),
		NoRoute:          e.drops.noRoute.Load(),
		Short:            e.drops.short.Load(),
		UnknownSPI:       e.drops.unknownSPI.Load(),
		SendErrors:       e.drops.sendErrors.Load(),
		InnerReadErrors:  e.drops.innerReads.Load(),
		InnerWriteErrors: e.drops.innerWrites.Load(),
	}
}

// Status returns a snapshot of the engine's counters.
func (e *Engine) Status() Status {
	e.mu.Lock()
	tunnels := make([]*tunnel, 0, len(e.tunnels))
	for _, t := range e.tunnels {
		tunnels = append(tunnels, t)
	}
	e.mu.Unlock()
	slices.SortFunc(tunnels, func(a, b *tunnel) int { return strings.Compare(a.name, b.name) })
	s := Status{Drops: e.Drops()}
	for _, t := range tunnels {
		s.Tunnels = append(s.Tunnels, t.status())
	}
	return s
}

// TunnelStatus returns the counters of the tunnels called names (those
// the engine has), without the work of a whole Status.
func (e *Engine) TunnelStatus(names ...string) []TunnelStatus {
	e.mu.Lock()
	tunnels := make([]*tunnel, 0, len(names))
	for _, n := range names {
		if t := e.tunnels[n]; t != nil {
			tunnels = append(tunnels, t)
		}
	}
	e.mu.Unlock()
	out := make([]TunnelStatus, 0, len(tunnels))
	for _, t := range tunnels {
		out = append(out, t.status())
	}
	return out
}

// status returns the tunnel's counters.
func (t *tunnel) status() TunnelStatus {
	d := func(r dropReason) uint64 { return t.drops[r].Load() }
	ts := TunnelStatus{
		Name:        t.name,
		PolicyBased: t.policy.Load(),
		PacketsIn:   t.packetsIn.Load(),
		BytesIn:     t.bytesIn.Load(),
		PacketsOut:  t.packetsOut.Load(),
		BytesOut:    t.bytesOut.Load(),
		LastInbound: unixTime(t.lastIn.Load()),
		Drops: TunnelDrops{
			NoSA:       d(dropNoSA),
			NoSelector: d(dropNoSelector),
			Seal:       d(dropSeal),
			Open:       d(dropReplay) + d(dropIntegrity) + d(dropPadding) + d(dropLength) + d(dropExpired),
			Replay:     d(dropReplay),
			Integrity:  d(dropIntegrity),
			Padding:    d(dropPadding),
			Length:     d(dropLength),
			Expired:    d(dropExpired),
			TooBig:     d(dropTooBig),
			Send:       d(dropSend),
			InnerWrite: d(dropInnerWrite),
			Dummy:      d(dropDummy),
			Malformed:  d(dropMalformed),
			Selector:   d(dropSelector),
			ECN:        d(dropECN),
			NATNoFlow:  d(dropNATNoFlow),
			NATFull:    d(dropNATFull),
		},
		NATFlows: t.nat.Load().Flows(time.Now().Unix()),
	}
	for _, c := range *t.children.Load() {
		ends := c.ends.Load()
		ts.Children = append(ts.Children, ChildStatus{
			InSPI:         c.in.SPI(),
			OutSPI:        c.out.SPI(),
			Local:         ends.local,
			Remote:        ends.remote,
			LastInbound:   unixTime(c.lastIn.Load()),
			SelectorDrops: c.selectorDrops.Load(),
			In:            c.in.Stats(),
			Out:           c.out.Stats(),
		})
	}
	return ts
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
