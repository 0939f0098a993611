package fabric

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// A router's drops are logged off the data path. A packet it drops is
// counted, as always, and leaves its source and destination address (a
// malformed one its length: its addresses may be anything) in the
// router's scratch for its reason, as does a packet or flow that its way
// to the Internet (Egress) refuses, for no_route. LogDrops, which the
// router's owner calls every few seconds, turns the counters into lines:
// one per reason, once a minute at most (sparselog), with the count since
// the line before and what the last packet left; LogRest, as the VNet
// goes, what no line counted yet.

// dropReason is why a router dropped a packet.
type dropReason uint8

const (
	dropNoRoute dropReason = iota
	dropTTL
	dropMalformed
	// dropLink is what a host sends to its own link (multicast, IPv6
	// link-local, broadcast: neighbor discovery, mDNS), which no router
	// forwards: the metrics count it as no_route, the log at Debug only,
	// as hosts send it all the time and nothing is wrong.
	dropLink
	dropCount
)

// dropNames name the reasons as the metrics label them, but for dropLink.
var dropNames = [dropCount]string{"no_route", "ttl_expired", "malformed", "link_local"}

// lastDrop is what a line says of the last packet dropped for a reason.
type lastDrop struct {
	src, dst netip.Addr
	size     int
}

// addrsOf returns the source and destination address of pkt, an IPv4 or
// IPv6 packet that a router routed (its header is there), or none. It
// allocates nothing.
func addrsOf(pkt []byte) lastDrop {
	if len(pkt) >= 20 && pkt[0]>>4 == 4 || len(pkt) >= 40 && pkt[0]>>4 == 6 {
		return lastDrop{src: source(pkt), dst: destination(pkt)}
	}
	return lastDrop{}
}

// dropped keeps what a line says of a packet from src to dst of size
// bytes, dropped for reason, which the caller counts after: a count that
// LogDrops reads has the addresses of its last packet with it. It
// allocates nothing.
func (r *Router) dropped(reason dropReason, src, dst netip.Addr, size int) {
	r.lastMu.Lock()
	r.last[reason] = lastDrop{src: src, dst: dst, size: size}
	r.lastMu.Unlock()
}

// counter returns the count of reason: for no_route, with what the way
// to the Internet refused, as the metrics count it.
func (r *Router) counter(reason dropReason) uint64 {
	switch reason {
	case dropNoRoute:
		n := r.stats.noRoute.Load()
		if eg := r.egress.Load(); eg != nil {
			n += eg.stats.refused.Load()
		}
		return n
	case dropTTL:
		return r.stats.ttl.Load()
	case dropLink:
		return r.stats.link.Load()
	}
	return r.stats.malformed.Load()
}

// LogDrops logs into log (which names the VNet) the packets the router
// dropped since the lines before: a line "packets dropped" per reason
// (no_route, with what its way to the Internet refused; ttl_expired;
// malformed) once a minute at most (sparselog.Every), with their count
// and the source and destination address of the last one (a malformed
// one's length). now is the time of
// the lines' limit. The owner calls it every few seconds; Forward only
// counts and keeps the addresses.
func (r *Router) LogDrops(now time.Time, log *slog.Logger) { r.logLines(now, false, log) }

// LogRest logs into log the packets the router dropped that no line
// counted yet, whatever the minute's limit says: the last lines, for its
// owner to call as the VNet goes.
func (r *Router) LogRest(log *slog.Logger) { r.logLines(time.Time{}, true, log) }

// logLines logs the lines due at now or, when rest, a line for every
// reason with drops not yet logged.
func (r *Router) logLines(now time.Time, rest bool, log *slog.Logger) {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	var attrs [5]slog.Attr
	for reason := range dropCount {
		n, due := r.lines[reason].Take(r.counter(reason), now, rest)
		if !due {
			continue
		}
		r.lastMu.Lock()
		d := r.last[reason]
		r.lastMu.Unlock()
		a := append(attrs[:0], slog.String("reason", dropNames[reason]), slog.Int("count", n))
		level := slog.LevelInfo
		switch reason {
		case dropLink:
			level = slog.LevelDebug
		case dropMalformed:
			level = slog.LevelWarn
		}
		if reason == dropMalformed {
			a = append(a, slog.Int("len", d.size))
		} else {
			a = append(a, slog.String("src", d.src.String()), slog.String("dst", d.dst.String()))
		}
		log.LogAttrs(context.Background(), level, "packets dropped", a...)
	}
}
