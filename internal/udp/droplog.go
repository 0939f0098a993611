package udp

import (
	"context"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// dropReason is why an endpoint dropped a datagram, or (readErrors) a
// read failed.
type dropReason uint8

const (
	malformed  dropReason = iota // see Drops.Malformed
	noHandler                    // see Drops.NoHandler
	readErrors                   // see Drops.ReadErrors; counts reads, not datagrams
	truncated                    // see Drops.Truncated; counted by the Conn
	dropCount
)

// dropNames name the reasons as the metrics label them.
var dropNames = [dropCount]string{"malformed", "no_handler", "read_error", "truncated"}

// dropped counts a drop of the endpoint's and keeps where it came from (or
// the read's error) for LogDrops. Only the endpoint's read loop calls it;
// it allocates nothing.
func (ep *endpoint) dropped(r dropReason, from netip.AddrPort, err error) {
	ep.drops[r].Add(1)
	ep.lastMu.Lock()
	ep.last[r] = from
	if err != nil {
		ep.lastErr = err
	}
	ep.lastMu.Unlock()
}

// count returns the endpoint's drops for r so far.
func (ep *endpoint) count(r dropReason) uint64 {
	switch r {
	case truncated:
		return ep.conn.Truncated()
	case malformed:
		// A raw ESP socket's are counted by its Conn.
		return ep.drops[malformed].Load() + ep.conn.Malformed()
	}
	return ep.drops[r].Load()
}

// LogDrops logs the datagrams the endpoints dropped, and their failed
// reads, since the lines before: a line per endpoint and reason once a
// minute at most (sparselog.Every) with their count, the address the last
// came from where the Transport saw it (not for those the socket drops,
// truncated and malformed on a raw ESP endpoint), and the last read's
// error. now is the time of the lines' limit. The owner calls it every
// few seconds; the read loops only count. Close logs what is left.
func (t *Transport) LogDrops(now time.Time) {
	t.logLines(slices.Collect(maps.Values(*t.eps.Load())), now, false)
}

// logLines logs the lines of eps due at now or, when closed (the
// endpoints are closed and their read loops done), those of every reason
// with drops not yet logged, whatever the minute's limit says: the last
// ones.
func (t *Transport) logLines(eps []*endpoint, now time.Time, closed bool) {
	slices.SortFunc(eps, func(a, b *endpoint) int { return a.conn.LocalAddr().Compare(b.conn.LocalAddr()) })
	t.logMu.Lock()
	defer t.logMu.Unlock()
	ctx := context.Background()
	var attrs []slog.Attr
	for _, ep := range eps {
		for r := range dropCount {
			n, log := ep.lines[r].Take(ep.count(r), now, closed)
			if !log {
				continue
			}
			ep.lastMu.Lock()
			from, err := ep.last[r], ep.lastErr
			ep.lastMu.Unlock()
			attrs = append(attrs[:0], slog.String("local", ep.conn.LocalAddr().String()), slog.String("reason", dropNames[r]), slog.Int("count", n))
			msg, level := "datagrams dropped", slog.LevelWarn
			switch {
			case r == readErrors:
				msg = "udp reads failed"
				attrs = append(attrs, slog.Any("err", err))
			case from.IsValid():
				attrs = append(attrs, slog.String("peer", from.String()))
			}
			if r == noHandler {
				level = slog.LevelInfo // ESP before its tunnel engine is there
			}
			t.log.LogAttrs(ctx, level, msg, attrs...)
		}
	}
}
