// Package insights keeps the history of the tunnel counters of what a node
// runs, sampled at an interval, and answers Azure Monitor's metrics
// queries (Microsoft.Insights/metrics) from it: the bytes through each
// connection, and bandwidths over the gateway and its connections.
package insights

import (
	"sync"
	"time"
)

// Counters are a connection's cumulative counters of inner packets and
// their bytes, both ways, as the data plane counts them since its tunnels
// started.
type Counters struct {
	Ingress, Egress               uint64
	IngressPackets, EgressPackets uint64
}

// History holds samples of each connection's counters for a retention
// period, at most as many as fit in it at the sampling interval.
type History struct {
	every time.Duration
	max   int // samples per connection

	mu     sync.Mutex
	series map[string][]sample // by connection id (lower case), oldest first
}

// sample is 40 bytes: a node with 10,000 tunnels keeps 6 hours at one a
// minute in 144 MB.
type sample struct {
	t int64 // unix seconds
	c Counters
}

// New returns an empty history sampled every every and kept for
// retention.
func New(every, retention time.Duration) *History {
	return &History{every: every, max: max(int(retention/every), 2), series: map[string][]sample{}}
}

// Every is the sampling interval.
func (h *History) Every() time.Duration { return h.every }

// Record adds the counters of the connections the node runs at t. A
// connection it no longer runs keeps its history until that ages out.
func (h *History) Record(t time.Time, byConn map[string]Counters) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, c := range byConn {
		s := h.series[id]
		if len(s) == 0 {
			// A connection seen first: its counters started at zero with
			// its tunnels, since the last sample.
			s = append(s, sample{t.Unix(), Counters{}})
		}
		s = append(s, sample{t.Unix(), c})
		if len(s) > h.max {
			s = append(s[:0:0], s[len(s)-h.max:]...)
		}
		h.series[id] = s
	}
	for id, s := range h.series {
		if t.Sub(time.Unix(s[len(s)-1].t, 0)) > time.Duration(h.max)*h.every {
			delete(h.series, id)
		}
	}
}

// Bucket is what a connection carried in [Start, Start+interval): Has is
// false when no sample lies before and in it to tell.
type Bucket struct {
	Start time.Time
	Counters
	Has bool
}

// Buckets returns connection id's traffic in the intervals from from to
// to. A bucket's traffic is what the counters grew between the last sample
// before it and its last sample; counters that went down (the tunnel
// started again) count from zero.
func (h *History) Buckets(id string, from, to time.Time, interval time.Duration) []Bucket {
	h.mu.Lock()
	s := h.series[id]
	h.mu.Unlock()
	var out []Bucket
	for start := from; start.Before(to); start = start.Add(interval) {
		b := Bucket{Start: start}
		lo, hi := start.Unix(), start.Add(interval).Unix()
		var prev *sample
		for i := range s {
			cur := &s[i]
			if cur.t >= hi {
				break
			}
			if prev != nil && cur.t >= lo {
				b.Has = true
				b.Ingress += grown(prev.c.Ingress, cur.c.Ingress)
				b.Egress += grown(prev.c.Egress, cur.c.Egress)
				b.IngressPackets += grown(prev.c.IngressPackets, cur.c.IngressPackets)
				b.EgressPackets += grown(prev.c.EgressPackets, cur.c.EgressPackets)
			}
			prev = cur
		}
		out = append(out, b)
	}
	return out
}

// grown is how much a counter grew from a to b; one that went down started
// again from zero.
func grown(a, b uint64) uint64 {
	if b < a {
		return b
	}
	return b - a
}
