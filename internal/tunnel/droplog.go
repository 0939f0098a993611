package tunnel

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Drops are logged off the data path. A packet that is dropped is counted,
// as always; an inbound ESP packet also leaves its SPI, sequence number and
// endpoints in the scratch of its tunnel and reason (under Engine.inMu,
// which HandleESP holds anyway), an outbound one the SPI and sequence
// number of the SA that refused it. LogDrops, which the engine's owner
// calls every few seconds, turns the counters into lines: one per tunnel
// and reason, and per reason for drops before a tunnel is known, once a
// minute at most (sparselog), each with the count since the line before
// and what the last packet left.
//
// RFC 4303 §4 (and §3.4.2, §3.4.3, §3.4.4, §3.3.3) makes a packet of no
// SA, one that fails the anti-replay or the integrity check, and an
// outbound sequence number that would overflow auditable events whose
// entry SHOULD name the SPI, the addresses and the sequence number.

// dropNames name the reasons as the metrics label them.
var dropNames = [dropCount]string{
	dropNoSA:       "no_sa",
	dropNoSelector: "no_selector",
	dropSeal:       "seal",
	dropSend:       "send",
	dropReplay:     "replay",
	dropIntegrity:  "integrity",
	dropPadding:    "padding",
	dropLength:     "length",
	dropExpired:    "expired",
	dropDummy:      "dummy",
	dropMalformed:  "malformed",
	dropSelector:   "selector",
	dropECN:        "ecn",
	dropInnerWrite: "inner_write",
	dropNATNoFlow:  "nat_no_flow",
	dropNATFull:    "nat_full",
	dropTooBig:     "too_big",
}

// espDropCount is the number of reasons that drop an inbound ESP packet
// of a known SA, dropReplay to dropECN, whose last packet a line
// describes.
const espDropCount = dropECN - dropReplay + 1

// espDrop is what a line says of the last ESP packet dropped for a reason.
type espDrop struct {
	spi, seq    uint32 // the packet's own (its sequence number's low 32 bits)
	peer, local netip.AddrPort
}

func (d espDrop) attrs(attrs []slog.Attr) []slog.Attr {
	return append(attrs, slog.String("spi", fmt.Sprintf("0x%08x", d.spi)), slog.Uint64("seq", uint64(d.seq)),
		slog.String("peer", d.peer.String()), slog.String("local", d.local.String()))
}

// logTunnel logs t's lines due at now or, when gone (t is removed), those
// of every reason with drops not yet logged, whatever the minute's limit
// says: the last ones. attrs is scratch, returned for the next call.
// e.logMu is held.
func (e *Engine) logTunnel(t *tunnel, now time.Time, gone bool, attrs []slog.Attr) []slog.Attr {
	for r := dropNone + 1; r < dropCount; r++ {
		n, log := t.lines[r].Take(t.drops[r].Load(), now, gone)
		if !log {
			continue
		}
		attrs = append(attrs[:0], slog.String("conn", t.name), slog.String("reason", dropNames[r]), slog.Int("count", n))
		switch {
		case r >= dropReplay && r <= dropECN:
			e.inMu.Lock()
			d := t.lastESP[r-dropReplay]
			e.inMu.Unlock()
			attrs = d.attrs(attrs)
		case r == dropSeal:
			attrs = append(attrs, slog.String("spi", fmt.Sprintf("0x%08x", t.lastSealSPI.Load())), slog.Uint64("seq", t.lastSealSeq.Load()))
		}
		e.log.LogAttrs(context.Background(), dropLevel(r), "packets dropped", attrs...)
	}
	return attrs
}

// logGone logs the drops of removed tunnels not yet logged (logTunnel),
// which LogDrops no longer sees, and when closed (the engine closes) those
// before a tunnel is known too. e.mu is not held.
func (e *Engine) logGone(gone []*tunnel, closed bool) {
	if len(gone) == 0 && !closed {
		return
	}
	slices.SortFunc(gone, func(a, b *tunnel) int { return strings.Compare(a.name, b.name) })
	e.logMu.Lock()
	defer e.logMu.Unlock()
	var attrs []slog.Attr
	for _, t := range gone {
		attrs = e.logTunnel(t, time.Time{}, true, attrs) // no limit: the last lines
	}
	if closed {
		e.logEngine(time.Time{}, true, attrs)
	}
}

// dropLevel is the level of a line: Warn for what the peer sent wrong
// (an audited event among them) or an SA that can seal no more, Info for
// what this side had no way for.
func dropLevel(r dropReason) slog.Level {
	switch r {
	case dropSeal, dropReplay, dropIntegrity, dropPadding, dropLength, dropExpired, dropMalformed, dropSelector:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// engineDropReason is why the engine dropped a packet before it knew the
// tunnel.
type engineDropReason uint8

const (
	engineDropNotIP engineDropReason = iota
	engineDropNoRoute
	engineDropShort
	engineDropUnknownSPI
	engineDropCount
)

var engineDropNames = [engineDropCount]string{"not_ip", "no_route", "short", "unknown_spi"}

// counter returns the counter of r.
func (d *engineDrops) counter(r engineDropReason) *atomic.Uint64 {
	return [engineDropCount]*atomic.Uint64{&d.notIP, &d.noRoute, &d.short, &d.unknownSPI}[r]
}

// LogDrops logs the packets dropped since the lines before: a line per
// tunnel and reason, and per reason for the drops before a tunnel is
// known, once a minute at most (sparselog.Every), with their count and,
// for an inbound ESP packet, the SPI, sequence number, peer and local
// address of the last one; for an outbound SA that refused to seal, its
// SPI and sequence number. now is the time of the lines' limit. The owner
// calls it every few seconds; it takes no lock of the data path longer
// than to copy what the last packets left.
func (e *Engine) LogDrops(now time.Time) {
	e.mu.Lock()
	tunnels := make([]*tunnel, 0, len(e.tunnels))
	for _, t := range e.tunnels {
		tunnels = append(tunnels, t)
	}
	e.mu.Unlock()
	slices.SortFunc(tunnels, func(a, b *tunnel) int { return strings.Compare(a.name, b.name) })

	e.logMu.Lock()
	defer e.logMu.Unlock()
	var attrs []slog.Attr
	for _, t := range tunnels {
		attrs = e.logTunnel(t, now, false, attrs)
	}
	e.logEngine(now, false, attrs)
}

// logEngine logs the lines of the drops before a tunnel is known due at
// now or, when closed, those of every reason with drops not yet logged,
// whatever the minute's limit says: the last ones. attrs is scratch.
// e.logMu is held.
func (e *Engine) logEngine(now time.Time, closed bool, attrs []slog.Attr) {
	ctx := context.Background()
	for r := range engineDropCount {
		n, log := e.lines[r].Take(e.drops.counter(r).Load(), now, closed)
		if !log {
			continue
		}
		attrs = append(attrs[:0], slog.String("reason", engineDropNames[r]), slog.Int("count", n))
		level := slog.LevelInfo
		switch r {
		case engineDropShort:
			level = slog.LevelWarn
			e.inMu.Lock()
			d := e.lastShort
			e.inMu.Unlock()
			attrs = append(attrs, slog.String("peer", d.peer.String()), slog.String("local", d.local.String()))
		case engineDropUnknownSPI:
			// RFC 4303 §3.4.2: a packet of no SA is an auditable event.
			level = slog.LevelWarn
			e.inMu.Lock()
			d := e.lastUnknown
			e.inMu.Unlock()
			attrs = d.attrs(attrs)
		}
		e.log.LogAttrs(ctx, level, "packets dropped", attrs...)
	}
}
